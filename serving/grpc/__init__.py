"""The gRPC transport: one server per gunicorn worker on the shared gRPC port, hosting
every mounted protocol's services (serving/protocols/*: `multihead.v1.Gateway`,
`tensorflow.serving.PredictionService` / `ModelService`, `inference.GRPCInferenceService`),
the standard health service and reflection.

`server.serve(settings, service)` starts it; `status` maps gateway errors to gRPC codes
in one place; `decode` turns undecodable request bytes into INVALID_ARGUMENT.
"""
