"""TensorFlow Serving's own API, served by the gateway so TF Serving's clients work unchanged.

gRPC (`grpc.py`): `tensorflow.serving.PredictionService` (Predict, GetModelMetadata;
Classify, Regress and MultiInference answer UNIMPLEMENTED) and
`tensorflow.serving.ModelService` (GetModelStatus; HandleReloadConfigRequest, model
management behind an admin key), on the gateway's one gRPC port; REST (`rest.py`,
`codec.py`): TF Serving's REST API, `/v1/models/NAME[/versions/V | /labels/L][:predict |
/metadata]`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Blueprint

    from serving.config import Settings
    from serving.core.service import InferenceService
    from serving.rest.fast import FastRoute

PREDICTION_SERVICE = "tensorflow.serving.PredictionService"
MODEL_SERVICE = "tensorflow.serving.ModelService"
# Both need an API key when MULTIHEAD_API_KEYS is set (serving/grpc/server.py); reloading
# the model config needs an admin key (MULTIHEAD_ADMIN_KEYS), closed without one.
GRPC_AUTH_SERVICES = (PREDICTION_SERVICE, MODEL_SERVICE)
GRPC_ADMIN_METHODS = (f"/{MODEL_SERVICE}/HandleReloadConfigRequest",)


def rest_blueprint(settings: Settings) -> Blueprint:
    from serving.protocols.tfserving.rest import blueprint

    return blueprint()


def rest_fast_routes(settings: Settings) -> list[FastRoute]:
    from serving.protocols.tfserving.rest import fast_routes

    return fast_routes()


def add_grpc_services(server: Any, settings: Settings, service: InferenceService) -> list[str]:
    """Register PredictionService and ModelService; returns their full names (reflection)."""
    # Imported here, in the worker that runs the gRPC server: tensorflow-serving-api pulls
    # in TensorFlow, which the REST app (mounted in gunicorn's master too) must not import.
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

    from serving.protocols.tfserving.grpc import ModelServicer, PredictionServicer

    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(settings, service), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        ModelServicer(settings, service), server)
    return [PREDICTION_SERVICE, MODEL_SERVICE]
