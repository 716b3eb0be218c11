"""The `headline` room: multi-input and multi-output together (the functional API guide).

model.py (architecture), config.py (defaults, test preset), data.py (synthetic
headlines), loader.py (JSONL).
"""

from __future__ import annotations

from training.models.headline import data, loader, model
from training.models.headline.config import TEST_PRESET, HeadlineConfig
from training.room import Example, Room

ROOM = Room(
    name="headline", description=model.DESCRIPTION, inputs=model.INPUTS, heads=model.HEADS,
    config=HeadlineConfig, test_preset=TEST_PRESET, build=model.build_model,
    sources={"synthetic": data.headline}, loader=loader.LOADER, default=True,
    examples=(
        Example("tfserving", "/v1/models/{name}:predict", {"instances": [{
            "headline": "shocking secret revealed after the election",
            "aux": [0.5, 0.1, 0.3, 0.9, 0.2]}], "heads": ["main_output"]}),
    ),
)
