"""Run the gateway under gunicorn from a `Settings` object (no command line parsing).

The gunicorn settings and hooks live in serving/gunicorn.conf.py; the settings
object given here wins over the environment for bind address, workers and
threads, and reaches each worker's app through `create_app(settings)`.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from serving.config import Settings

CONFIG_FILE = Path(__file__).with_name("gunicorn.conf.py")


class GatewayApplication(BaseApplication):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        namespace = runpy.run_path(str(CONFIG_FILE))
        for key, value in namespace.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)
        s = self.settings
        self.cfg.set("bind", [f"{s.host}:{s.http_port}"])
        self.cfg.set("workers", s.workers)
        self.cfg.set("threads", s.threads)
        self.cfg.set("loglevel", s.log_level.lower())
        self.cfg.set("timeout", int(s.request_timeout_s) + 30)

    def load(self) -> Any:
        # Runs in each worker after fork (no preload): models never load in the master.
        from serving.rest import create_app

        return create_app(self.settings)


def run(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT; returns after a graceful shutdown."""
    GatewayApplication(settings).run()
