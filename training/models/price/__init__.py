"""The `price` room: the multimodal model (metadata, description and a picture -> price).

model.py (architecture), config.py (defaults, test preset), data.py (synthetic listings
with coloured-shape pictures), loader.py (CSV of listings plus picture files). Trained on
request, not among the default models.
"""

from __future__ import annotations

from training.models.price import data, loader, model
from training.models.price.config import TEST_PRESET, PriceConfig
from training.room import Room

ROOM = Room(
    name="price", description=model.DESCRIPTION, inputs=model.INPUTS, heads=model.HEADS,
    config=PriceConfig, test_preset=TEST_PRESET, build=model.build_model,
    sources={"synthetic": data.price}, loader=loader.LOADER,
)
