"""The `stereo` room: a dual camera, one shared vision model called on both pictures.

model.py (architecture), config.py (defaults, test preset), data.py (synthetic stereo
pairs), loader.py (CSV of picture pairs), demo.py (the demo requests, with two small
pictures). Trained on request, not among the default models.
"""

from __future__ import annotations

from training.models.stereo import data, demo, loader, model
from training.models.stereo.config import TEST_PRESET, StereoConfig
from training.room import Room

ROOM = Room(
    name="stereo", description=model.DESCRIPTION, inputs=model.INPUTS, heads=model.HEADS,
    config=StereoConfig, test_preset=TEST_PRESET, build=model.build_model,
    sources={"synthetic": data.stereo}, loader=loader.LOADER, examples=demo.requests,
)
