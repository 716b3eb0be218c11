"""The `profiler` room: one text in, three heads out (age, income band, gender).

model.py (architecture), config.py (defaults, test preset), data.py (synthetic authors),
loader.py (JSONL).
"""

from __future__ import annotations

from training.models.profiler import data, loader, model
from training.models.profiler.config import TEST_PRESET, ProfilerConfig
from training.room import Example, Room

ROOM = Room(
    name="profiler", description=model.DESCRIPTION, inputs=model.INPUTS, heads=model.HEADS,
    config=ProfilerConfig, test_preset=TEST_PRESET, build=model.build_model,
    sources={"synthetic": data.profiler}, loader=loader.LOADER, default=True,
    examples=(
        Example("tfserving", "/v1/models/{name}:predict", {"instances": [
            "my toddler starts daycare today\nthe mortgage payment is due again",
            "exam week on campus\nmy roommate found a cheap thrift store"]}),
        Example("multihead", "/v1/profile", {"authors": [[
            "retirement party at the golf club", "the grandchild loves my greenhouse"]]}),
    ),
)
