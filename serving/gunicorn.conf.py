"""gunicorn configuration of the gateway (`python -m serving` loads it; so can
`gunicorn -c serving/gunicorn.conf.py 'serving.rest:create_app()'`).

Threaded workers, no preload: loading a SavedModel in the master hangs every
forked worker, so each worker builds its app after fork, then `post_worker_init`
starts its backend and its own gRPC server on the shared gRPC port (grpc sets
SO_REUSEPORT on Linux, so every worker binds the same port and the kernel
spreads connections). Metrics use prometheus_client's multiprocess mode:
PROMETHEUS_MULTIPROC_DIR is set before Python starts (serving/__main__.py sees
to it) and `child_exit` marks dead workers.
"""

from __future__ import annotations

import glob
import logging
import os

from serving.config import Settings

_settings = Settings.from_env()

bind = [f"{_settings.host}:{_settings.http_port}"]
workers = _settings.workers
threads = _settings.threads
worker_class = "serving.gunicorn_worker.GatewayWorker"  # gthread + JSON HTTP errors, read deadlines
preload_app = False
proc_name = "multihead-gateway"
# A worker busy in a long model call still heartbeats (gthread), so this only
# catches a wedged worker; keep it above the request deadline.
timeout = int(_settings.request_timeout_s) + 30
graceful_timeout = 15
keepalive = 5
loglevel = _settings.log_level.lower()

log = logging.getLogger("serving.gunicorn")


def on_starting(server) -> None:
    # Counts from a previous run in the same directory would be summed in.
    prom_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if prom_dir:
        os.makedirs(prom_dir, exist_ok=True)
        for path in glob.glob(os.path.join(prom_dir, "*.db")):
            os.remove(path)
    else:
        server.log.warning("PROMETHEUS_MULTIPROC_DIR is not set: /metrics shows one "
                           "worker's counts only")


def post_worker_init(worker) -> None:
    app = worker.wsgi
    settings: Settings = app.config["MULTIHEAD_SETTINGS"]
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
    service = app.extensions["multihead"]
    service.start()
    from serving.grpc.server import serve

    worker.multihead_grpc = serve(settings, service)
    log.info("worker %s: gRPC on %s:%s", worker.pid, settings.host, settings.grpc_port)


def worker_exit(server, worker) -> None:
    grpc_server = getattr(worker, "multihead_grpc", None)
    if grpc_server is not None:
        # Let in-flight RPCs finish, refuse new ones.
        grpc_server.stop(grace=5).wait(10)
    wsgi = getattr(worker, "wsgi", None)
    if wsgi is not None and "multihead" in getattr(wsgi, "extensions", {}):
        wsgi.extensions["multihead"].stop()


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
