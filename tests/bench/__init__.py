"""`make bench`: the gateway's cost against the model's own, side by side in one run.

limit.py (signature in-process), naive_app.py (Flask + keras predict), load.py
(wrk for REST, grpc_load.py for gRPC, each in its own process), procs.py
(servers on loopback, CPU and RSS from /proc), report.py (table, JSON, plot,
ratios); __main__.py runs them all. Not part of `make test`; its pieces are
smoke-tested in tests/unit/bench/.
"""
