"""multihead gateway: TF Serving-compatible REST and gRPC front for multi-head models."""
