"""The hot REST routes answered in plain WSGI, in front of Flask.

Flask and werkzeug cost a predict more than the gateway's own code around the model call
(make profile at c=8: request and response objects, the URL map's matcher, the stream
wrappers, the context push and pop). A room may offer `rest_fast_routes(settings)`:
`FastRoute`s of a method, a regex over the raw path and a view that takes an `Exchange`
(serving/rest/context.py) and the match, and returns the JSON body. `FastPath` wraps the
Flask app's `wsgi_app` (Flask's own hook for middleware): a request that matches is
answered here, anything else goes to Flask unchanged. The rules stay in one place each:
the key check is the transport's `Gate`, the body is read by `read_body`, errors get the
same status, payload and headers as Flask's error handlers (serving/rest/errors.py), and
the request record (id, trace context, access line) is serving/rest/access.py's, and
the view is the one the room's Flask route calls too (tests/unit/serving/
test_rest_fast.py compares both answers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.http import HTTP_STATUS_CODES

from serving.config import Settings
from serving.core.service import InferenceService
from serving.errors import GatewayError
from serving.jsonio import dumps
from serving.request_context import HEADER
from serving.rest.access import close_record, leave, open_record
from serving.rest.auth import Gate
from serving.rest.context import Exchange, path_of
from serving.rest.errors import gateway_error, unexpected_error

# view(exchange, match) -> the answer's JSON body (200)
FastView = Callable[[Exchange, re.Match[str]], bytes]
_JSON = ("Content-Type", "application/json")


@dataclass(frozen=True)
class FastRoute:
    method: str
    pattern: re.Pattern[str]        # matched against the whole raw path
    view: FastView


class FastPath:
    """WSGI middleware: `routes` answered here, everything else by `app` (Flask's)."""

    def __init__(self, app: Callable[..., Any], service: InferenceService, settings: Settings,
                 gate: Gate, routes: Iterable[FastRoute]) -> None:
        self._app = app
        self._service = service
        self._settings = settings
        self._gate = gate
        self._routes: dict[str, tuple[FastRoute, ...]] = {}
        for route in routes:
            self._routes[route.method] = (*self._routes.get(route.method, ()), route)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        routes = self._routes.get(environ.get("REQUEST_METHOD", ""))
        if routes:
            path = path_of(environ)
            for route in routes:
                match = route.pattern.fullmatch(path)
                if match is not None:
                    return self._answer(route, match, environ, start_response)
        return self._app(environ, start_response)

    def _answer(self, route: FastRoute, match: re.Match[str], environ: dict[str, Any],
                start_response: Callable[..., Any]) -> list[bytes]:
        headers: dict[str, str] | None = None
        record = open_record(environ)
        try:
            self._gate.check(environ.get("PATH_INFO", ""), environ.get("HTTP_AUTHORIZATION"))
            status, body = 200, route.view(Exchange(self._service, self._settings, environ),
                                           match)
        except GatewayError as exc:
            status, payload, headers = gateway_error(exc, route.method,
                                                     environ.get("PATH_INFO", ""))
            body = dumps(payload)
        except Exception as exc:  # noqa: BLE001 - rendered as Flask's handler renders it
            status, payload, headers = unexpected_error(exc, route.method,
                                                        environ.get("PATH_INFO", ""))
            body = dumps(payload)
        try:
            close_record(record, self._settings.access_log, route.method,
                         environ.get("PATH_INFO", ""), status)
        finally:
            leave(environ)
        start_response(_STATUS[status] if status in _STATUS else _status_line(status),
                       [_JSON, ("Content-Length", str(len(body))), (HEADER, record.id),
                        *(headers or {}).items()])
        return [body]


def _status_line(status: int) -> str:
    """As werkzeug writes it (its responses are the Flask route's)."""
    return f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"


_STATUS = {s: _status_line(s) for s in (200, 400, 401, 404, 413, 429, 500, 503, 504)}
