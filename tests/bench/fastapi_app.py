"""The strong thirty-line baseline: FastAPI + uvicorn calling the loaded signature.

What a user writes instead of installing a model server: each uvicorn worker
loads every SavedModel once at start-up (`tf.saved_model.load(...)
.signatures["serving_default"]`), and `POST /v1/models/NAME:predict` takes the
same TF Serving row-format body as the gateway (`{"instances": [...]}`), builds
one tensor per input and answers `{"predictions": [...]}` with every head per
row (tests/bench/peers/signature_rows.py: the lines every peer shares). A plain `def`
route: FastAPI runs it in its thread pool, so concurrent requests overlap in TensorFlow
as they would in anyone's app.

`uvicorn tests.bench.fastapi_app:app --workers 2` with
`BENCH_FASTAPI_MODELS=name=export_dir,name=export_dir`.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException

from tests.bench.peers.signature_rows import predict_rows

MODELS: dict[str, Any] = {}


def load(spec: str) -> None:
    import tensorflow as tf

    for part in filter(None, spec.split(",")):
        name, _, path = part.partition("=")
        MODELS[name] = tf.saved_model.load(path).signatures["serving_default"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> Any:
    load(os.environ.get("BENCH_FASTAPI_MODELS", ""))  # in each worker, after it starts
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/models/{name}:predict")
def predict(name: str, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    if name not in MODELS:
        raise HTTPException(404, f"Model '{name}' not found.")
    return {"predictions": predict_rows(MODELS[name], body["instances"])}
