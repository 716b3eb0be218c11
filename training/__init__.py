"""multihead's training side: models, data, training with callbacks, export.

`python -m training train|export|all` (training.cli); the model repository
layout it writes is docs/model-repository.md.
"""
