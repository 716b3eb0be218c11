"""The multimodal `price` export served by the gateway's app (in-process, the
`InProcessGateway` of tests/integration/inprocess.py: decoding pictures is no matter of
the transport): pictures as base64 PNG in TF Serving's row and columnar JSON, equal to an
in-process call of the SavedModel; and its diagram at /v1/models/price/diagram."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import numpy as np
import pytest

from tests.integration.conftest import GATEWAY_ENV
from tests.integration.inprocess import AppClient, InProcessGateway
from tests.price_support import sample_listings, trained_price


@pytest.fixture(scope="module")
def price_gateway() -> Iterator[AppClient]:
    gw = InProcessGateway("embedded", trained_price().model_dir, None, GATEWAY_ENV)
    try:
        yield gw.client
    finally:
        gw.close()


@pytest.fixture(scope="module")
def listings() -> dict:
    return sample_listings(3, seed=21)


@pytest.fixture(scope="module")
def in_process(listings) -> np.ndarray:
    """What tf.saved_model.load of the same export answers for the same PNG bytes."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(trained_price().export_dir))
    out = loaded.signatures["serving_default"](
        metadata=tf.constant(listings["metadata"]),
        description=tf.constant(listings["description"]),
        picture=tf.constant(listings["png"]))
    return out["price"].numpy()


def _b64(data: bytes) -> dict[str, str]:
    return {"b64": base64.b64encode(data).decode("ascii")}


def _prices(body: dict, key: str) -> np.ndarray:
    value = body[key]
    if isinstance(value, dict):  # columnar: {"outputs": {"price": [...]}}
        value = value["price"]
    if value and isinstance(value[0], dict):  # rows: [{"price": ...}, ...]
        value = [row["price"] for row in value]
    return np.asarray(value, dtype=np.float64)


def test_metadata_declares_the_picture_as_a_string(price_gateway) -> None:
    r = price_gateway.get("/v1/models/price/metadata")
    assert r.status_code == 200, r.text
    sig = r.json()["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["picture"]["dtype"] == "DT_STRING"
    assert set(sig["inputs"]) == {"metadata", "description", "picture"}
    assert set(sig["outputs"]) == {"price"}


def test_row_form_with_base64_png_equals_in_process(price_gateway, listings, in_process) -> None:
    instances = [{"metadata": m.tolist(), "description": d, "picture": _b64(p)}
                 for m, d, p in zip(listings["metadata"], listings["description"],
                                    listings["png"], strict=True)]
    r = price_gateway.post("/v1/models/price:predict", json={"instances": instances})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(_prices(r.json(), "predictions"), in_process, rtol=1e-5,
                               atol=1e-5)


def test_columnar_form_with_base64_png_equals_in_process(price_gateway, listings,
                                                         in_process) -> None:
    body = {"inputs": {"metadata": listings["metadata"].tolist(),
                       "description": listings["description"],
                       "picture": [_b64(p) for p in listings["png"]]}}
    r = price_gateway.post("/v1/models/price/versions/1:predict", json=body)
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(_prices(r.json(), "outputs"), in_process, rtol=1e-5, atol=1e-5)


def test_bytes_that_are_no_picture_are_a_400(price_gateway, listings) -> None:
    row = {"metadata": listings["metadata"][0].tolist(), "description": "silk coat",
           "picture": _b64(b"this is not a png")}
    r = price_gateway.post("/v1/models/price:predict", json={"instances": [row]})
    assert r.status_code == 400, r.text
    assert r.json()["error"]


def test_diagram_is_served_as_png(price_gateway) -> None:
    want = (trained_price().export_dir / "assets.extra" / "model.png").read_bytes()
    for path in ("/v1/models/price/diagram", "/v1/models/price/versions/1/diagram"):
        r = price_gateway.get(path)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:200]}"
        assert r.headers["content-type"] == "image/png"
        assert r.content == want
    r = price_gateway.get("/v1/models/price/versions/7/diagram")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    r = price_gateway.get("/v1/models/nosuchmodel/diagram")
    assert r.status_code == 404 and "nosuchmodel" in r.json()["error"]
