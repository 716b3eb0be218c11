"""The gateway's log lines: one shape for the gunicorn master, its workers and the access log.

`log_format` (Settings) picks the shape of every line:

- `json` (the default): one JSON object per line, `{"time", "level", "logger", "pid",
  "id", "message"}`, plus the access fields on access lines and `error` (the traceback)
  when an exception is logged;
- `text`: `2026-01-02 03:04:05,678 [PID] LEVEL logger [id]: message`.

`id` is the request id of the request the logging thread serves (serving/request_context.py;
"" outside a request). `logconfig(settings)` is the `logging.config.dictConfig` document
gunicorn applies in its master (gunicorn's `logconfig_dict`), which the workers inherit
when they fork; `configure(settings)` applies the same document in a process gunicorn does
not run.

The access log (`access_log`, on by default) writes one line per request when the transport
answers it (serving/rest/access.py, serving/grpc/access.py): `time`, `id`, `protocol`,
`transport`, `method` (HTTP method and path, or the gRPC method), `model`, `version`,
`status` (the HTTP status, or the gRPC code name), `code` (the gRPC code name on both
transports), `latency_ms` and `batch_size` (examples in the model call the request rode in;
0 when none ran). gunicorn's own access line is off (`GunicornLogger`): it would log every
REST request a second time, without its id.
"""

from __future__ import annotations

import datetime as dt
import logging
import logging.config
from typing import Any

import orjson
from gunicorn import glogging

from serving.config import Settings
from serving.request_context import RequestRecord, current

LOG_FORMATS = ("json", "text")
ACCESS_LOGGER = "serving.access"
TEXT_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s [%(request_id)s]: %(message)s"
_access = logging.getLogger(ACCESS_LOGGER)


class RequestIdFilter(logging.Filter):
    """Stamps every record with the id of the request being served (`request_id`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            rec = current()
            record.request_id = rec.id if rec is not None else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module docstring for the fields)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "id": getattr(record, "request_id", ""),
            "message": record.getMessage(),
        }
        fields = getattr(record, "access", None)
        if fields:
            doc.update(fields)
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        elif record.stack_info:
            doc["error"] = record.stack_info
        return orjson.dumps(doc, default=str).decode()


def formatter(log_format: str) -> logging.Formatter:
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(LOG_FORMATS)}; "
                         f"got {log_format!r}")
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def logconfig(settings: Settings) -> dict[str, Any]:
    """The dictConfig document of every gateway process (gunicorn's `logconfig_dict`)."""
    formatter(settings.log_format)  # a wrong name fails here, before any process starts
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"gateway": {"()": "serving.logs.formatter",
                                   "log_format": settings.log_format}},
        "filters": {"request_id": {"()": "serving.logs.RequestIdFilter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "gateway",
                                 "filters": ["request_id"], "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            # gunicorn's own loggers propagate to the root's handler: the same shape.
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
            ACCESS_LOGGER: {"level": "INFO", "handlers": [], "propagate": True},
        },
    }


class GunicornLogger(glogging.Logger):
    """gunicorn's logger (its `logger_class`) less its access line. With `logconfig_dict`
    set, gunicorn takes its access log for wanted and, after every request, builds the
    line's atoms and logs an Apache-style copy of the gateway's own line, without the
    request id, whatever `access_log` says."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None


def configure(settings: Settings) -> None:
    logging.config.dictConfig(logconfig(settings))


def access(record: RequestRecord, method: str, status: int | str, code: str) -> None:
    """The request's access line (the transports call this when they answer)."""
    latency_ms = round(record.seconds() * 1000, 3)
    fields = {"protocol": record.protocol, "transport": record.transport, "method": method,
              "model": record.model, "version": record.version, "status": status,
              "code": code, "latency_ms": latency_ms, "batch_size": record.batch_size}
    message = (f"{method} {status} {latency_ms}ms protocol={record.protocol or '-'} "
               f"model={record.model or '-'} version={record.version or '-'} "
               f"batch={record.batch_size}")
    _access.info(message, extra={"access": fields, "request_id": record.id})
