"""The `qa` room: answer a question about a text (multi-input: two encoders).

model.py (architecture), config.py (defaults, test preset), data.py (synthetic snippets),
wordnet.py (snippets about real things, the default's "mixed" source), loader.py (JSONL).
"""

from __future__ import annotations

from training.models.qa import data, loader, model, wordnet
from training.models.qa.config import TEST_PRESET, QAConfig
from training.room import Example, Room

ROOM = Room(
    name="qa", description=model.DESCRIPTION, inputs=model.INPUTS, heads=model.HEADS,
    config=QAConfig, test_preset=TEST_PRESET, build=model.build_model,
    sources={"synthetic": data.qa, "mixed": wordnet.mixed}, loader=loader.LOADER,
    default=True,
    examples=(
        Example("tfserving", "/v1/models/{name}:predict", {"instances": [{
            "text": "anna has a dog named rex. ben lives in oslo. carl plays the piano.",
            "question": "where does ben live"}]}),
        Example("multihead", "/v1/answer", {
            "text": "anna has a dog named rex. carl plays the piano.",
            "question": "which instrument does carl play", "top_k": 3}),
    ),
)
