"""The baseline: the plain Flask service users write first.

It rebuilds each run's Keras model from its weights, vectorizes the request's
text with a `TextVectorization` set to the run's vocabulary, and calls
`keras_model.predict` once per request, as the Keras tutorials do. It takes
the same `:predict` row-format body as the gateway (`{"instances": [...]}`)
and answers `{"predictions": [...]}` with one value per head, so the load
generator sends both the very same bytes.

Runs are given as `BENCH_NAIVE_RUNS=name=run_dir,name=run_dir`; gunicorn runs
`tests.bench.naive_app:create_app()` with the gateway's worker settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request


class NaiveModel:
    """One run's Keras model and vectorizer; `predict(instances)` -> row predictions."""

    def __init__(self, run_dir: str | Path) -> None:
        from training.export import load_run
        from training.models import room
        from training.text import make_vectorizer

        self.cfg, self.model, vocab = load_run(run_dir)
        self.vectorizer = make_vectorizer(len(vocab), vocabulary=vocab)
        r = room(self.cfg.model)
        self.inputs = list(r.inputs)
        self.text_inputs = r.inputs_of("text")

    def predict(self, instances: list[Any]) -> list[dict[str, Any]]:
        import numpy as np

        from training.train import predict

        if not instances:
            raise ValueError("instances must be a non-empty list")
        rows = [i if isinstance(i, dict) else {self.inputs[0]: i} for i in instances]
        columns = {}
        for name in self.inputs:
            values = [r[name] for r in rows]
            columns[name] = (np.array(values, dtype=object) if name in self.text_inputs
                             else np.array(values, dtype=np.float32))
        # keras_model.predict per request: the call the gateway replaces.
        heads = predict(self.model, self.cfg, self.vectorizer, columns, batch_size=32)
        out = []
        for i in range(len(rows)):
            row = {}
            for head, value in heads.items():
                row[head] = value[i].tolist()
                labels = self.cfg.labels.get(head)
                if labels:
                    v = value[i]
                    row[f"{head}_label"] = labels[int(np.argmax(v)) if np.ndim(v) else
                                                  int(v >= 0.5)]
            out.append(row)
        return out


def parse_runs(spec: str) -> dict[str, str]:
    runs = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, path = part.partition("=")
        if not name or not path:
            raise ValueError(f"BENCH_NAIVE_RUNS entries are name=run_dir, got {part!r}")
        runs[name] = path
    return runs


def create_app(runs: dict[str, str] | None = None) -> Flask:
    runs = parse_runs(os.environ.get("BENCH_NAIVE_RUNS", "")) if runs is None else runs
    models = {name: NaiveModel(path) for name, path in runs.items()}
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.post("/v1/models/<name>:predict")
    def predict(name: str) -> Any:
        if name not in models:
            return jsonify(error=f"Model '{name}' not found."), 404
        body = request.get_json()
        return jsonify(predictions=models[name].predict(body["instances"]))

    return app
