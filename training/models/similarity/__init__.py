"""The `similarity` room: a Siamese model, one shared encoder applied to both texts.

model.py (architecture), config.py (defaults, test preset), data.py (the ~200-word
synthetic task), loader.py (Quora / STS-B CSV); the default trains on WordNet pairs of
everyday English (training/data/wordnet_pairs.py, the "wordnet" source).
"""

from __future__ import annotations

from training.data import wordnet_pairs
from training.models.similarity import data, loader, model
from training.models.similarity.config import TEST_PRESET, SimilarityConfig
from training.room import Example, Room

ROOM = Room(
    name="similarity", description=model.DESCRIPTION, inputs=model.INPUTS, heads=model.HEADS,
    config=SimilarityConfig, test_preset=TEST_PRESET, build=model.build_model,
    sources={"synthetic": data.similarity, "wordnet": wordnet_pairs.similarity},
    loader=loader.LOADER, default=True, initialize=model.initialize,
    complete_vocabulary=model.complete_vocabulary,
    examples=(
        Example("tfserving", "/v1/models/{name}:predict", {"inputs": {
            "left": ["how do i learn python quickly", "where can i buy a cheap laptop"],
            "right": ["what is the best way to study python", "how do i fix a broken bike"]}}),
        Example("multihead", "/v1/similarity", {"pairs": [[
            "how can i learn piano fast", "what is the best way to master piano"]]}),
    ),
)
