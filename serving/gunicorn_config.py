"""The gateway's gunicorn configuration, from the one `Settings` object.

`options(settings)` is every gunicorn setting and hook the gateway runs with: `python -m
serving` applies it to its application (serving/server.py), and serving/gunicorn.conf.py
applies it for a plain `gunicorn -c serving/gunicorn.conf.py 'serving.rest:create_app()'`
(there the environment is the only source of settings). The hooks close over the
settings, so nothing reads the environment again after start-up.

Threaded workers, no preload: loading a SavedModel in the master hangs every forked
worker, so each worker builds its app after fork, then `post_worker_init` starts its
backend and its own gRPC server on the shared gRPC port (grpc sets SO_REUSEPORT on
Linux, so every worker binds the same port and the kernel spreads connections). Metrics
use prometheus_client's multiprocess mode: PROMETHEUS_MULTIPROC_DIR is set before Python
starts (serving/__main__.py sees to it) and `child_exit` marks dead workers.

Lifecycle (serving/lifecycle.py): a worker accepts HTTP connections and binds its gRPC
server only once its models are loaded (or the load failed or timed out: then readiness
says why), and a HUP reload stops old workers only once the new ones serve.
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Any

from serving import lifecycle, logs
from serving.config import Settings

WORKER_CLASS = "serving.gunicorn_worker.GatewayWorker"  # reads whole requests on an event loop
GRACEFUL_TIMEOUT_S = 15
GRPC_GRACE_S = 5  # in-flight RPCs of a stopping worker get this long to finish
KEEPALIVE_S = 5

log = logging.getLogger("serving.gunicorn")


def options(settings: Settings) -> dict[str, Any]:
    """gunicorn's settings (by gunicorn's names) and hooks for `settings`."""

    def on_starting(server: Any) -> None:
        # Counts from a previous run in the same directory would be summed in.
        prom_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if prom_dir:
            os.makedirs(prom_dir, exist_ok=True)
            for path in glob.glob(os.path.join(prom_dir, "*.db")):
                os.remove(path)
        else:
            server.log.warning("PROMETHEUS_MULTIPROC_DIR is not set: /metrics shows one "
                               "worker's counts only")
        gap = lifecycle.reload_gap(server.cfg.workers)
        if gap:
            server.log.info(gap)
        lifecycle.open_board(server.cfg.worker_tmp_dir)
        # A little longer than a worker waits for its own load, after which it serves anyway.
        lifecycle.hold_old_workers(server, settings.load_timeout_s + 10)

    return {
        "bind": [f"{settings.host}:{settings.http_port}"],
        "workers": settings.workers,
        "threads": settings.threads,
        "worker_connections": settings.worker_connections,
        "worker_class": WORKER_CLASS,
        "preload_app": False,
        # One listening socket, opened by the master and shared by every worker:
        # connections wait in its backlog until a worker that has loaded its models
        # accepts them. With reuse_port each worker would get its own socket and the
        # kernel would queue some connections at a worker that is still loading.
        "reuse_port": False,
        "proc_name": "multihead-gateway",
        # A worker busy in a long model call still heartbeats (gthread), so this only
        # catches a wedged worker; keep it above the request deadline.
        "timeout": int(settings.request_timeout_s) + 30,
        "graceful_timeout": GRACEFUL_TIMEOUT_S,
        "keepalive": KEEPALIVE_S,
        "loglevel": settings.log_level.lower(),
        # The master's and the workers' lines in one shape, the access log's too
        # (serving/logs.py); gunicorn's own access log stays off: the gateway writes its own.
        "logconfig_dict": logs.logconfig(settings),
        "logger_class": logs.GunicornLogger,
        "on_starting": on_starting,
        "post_worker_init": post_worker_init,
        "worker_exit": worker_exit,
        "on_exit": on_exit,
        "child_exit": child_exit,
    }


def post_worker_init(worker: Any) -> None:
    app = worker.wsgi
    settings: Settings = app.config["MULTIHEAD_SETTINGS"]
    service = app.extensions["multihead"]
    service.start()
    # This hook runs before the worker's accept loop: until it returns, this worker takes
    # no connection and its gRPC server is not bound (serving/lifecycle.py).
    ready = lifecycle.wait_for_initial_load(worker, service, settings.load_timeout_s)
    if not worker.alive:
        return  # told to stop while loading: it never serves
    if not ready:
        log.warning("worker %s serves before its models are ready: %s", worker.pid,
                    "; ".join(service.readiness()) or "the initial load timed out")
    from serving.grpc.server import serve

    worker.multihead_grpc = serve(settings, service)
    lifecycle.mark_started(worker.pid)
    log.info("worker %s: serving; gRPC on %s:%s", worker.pid, settings.host,
             settings.grpc_port)


def worker_exit(server: Any, worker: Any) -> None:
    grpc_server = getattr(worker, "multihead_grpc", None)
    if grpc_server is not None:
        # After the HTTP side drained (the gRPC server took new calls meanwhile, so a call
        # that was connecting at SIGTERM is answered too): in-flight RPCs finish, new ones
        # go to the other workers.
        grpc_server.stop(grace=GRPC_GRACE_S).wait(GRPC_GRACE_S + 5)
    wsgi = getattr(worker, "wsgi", None)
    if wsgi is not None and "multihead" in getattr(wsgi, "extensions", {}):
        wsgi.extensions["multihead"].stop()


def on_exit(server: Any) -> None:
    started = lifecycle.board()
    if started is not None:
        started.remove()


def child_exit(server: Any, worker: Any) -> None:
    started = lifecycle.board()
    if started is not None:
        started.forget(worker.pid)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
