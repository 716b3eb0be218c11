"""gunicorn settings of the framework floor: the gateway's own, less its hooks
(tests/bench/floor_app.py `gateway_settings`); bind comes from BENCH_FLOOR_BIND."""

from __future__ import annotations

import os

from tests.bench.floor_app import gateway_settings

globals().update(gateway_settings())
bind = [os.environ["BENCH_FLOOR_BIND"]]
proc_name = "multihead-bench-floor"
