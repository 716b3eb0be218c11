"""The gateway's gRPC API: `multihead.v1.Gateway` (proto/multihead/v1/gateway.proto),
the standard health service and reflection, over the same `InferenceService` as REST.

`server.serve(settings, service)` starts it (one server per gunicorn worker on a
shared port); `servicer` holds the RPC methods, `codec` converts
`multihead.v1.Tensor` ⇄ numpy and `status` maps gateway errors to gRPC codes.
"""
