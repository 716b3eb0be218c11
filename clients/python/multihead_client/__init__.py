"""multihead-client: the Python SDK for the multihead gateway."""
