"""Transport-free core: the one predict path (service.py), its typed calls (calls.py,
deadline.py, signatures.py), validation, batching and the typed tasks."""
