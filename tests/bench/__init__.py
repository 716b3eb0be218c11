"""`make bench`: the gateway's cost against the model's own, side by side in one run.

limit.py (signature in-process), naive_app.py (Flask + keras predict), peers/ (the
FastAPI, KServe and LitServe peers' shared lines and their own environments), load.py
(wrk for REST, h2load for gRPC, each in its own process), procs.py (servers on
loopback, CPU and RSS from /proc), contenders.py (what is measured, in which order),
report.py (table, JSON, plot, ratios); __main__.py runs them all. Not part of
`make test`; its pieces are smoke-tested in tests/unit/bench/.
"""
