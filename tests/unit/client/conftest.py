"""Small real servers on 127.0.0.1 that answer from a script: a threaded
http.server for REST and a grpc server implementing multihead.v1.Gateway.

Each script step is ("ok", payload[, headers]), ("error", status or gRPC code,
message[, headers or trailers[, code name]]), ("raw", status, bytes, content type)
(REST only) or ("hang",), which never answers until the server stops.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from multihead_client._proto import gateway_pb2 as pb
from multihead_client._proto import gateway_pb2_grpc as pb_grpc

_HTTP_CODE = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
              404: "NOT_FOUND", 413: "RESOURCE_EXHAUSTED", 429: "RESOURCE_EXHAUSTED",
              500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE",
              504: "DEADLINE_EXCEEDED"}


class ScriptedHTTP:
    """REST server answering each request with the next script step."""

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self.script: deque[tuple[Any, ...]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                server.requests.append({
                    "method": self.command, "path": self.path, "time": time.monotonic(),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(raw) if raw else None})
                step = server.script.popleft() if server.script else (
                    "error", 500, "script exhausted")
                if step[0] == "hang":
                    server.stopping.wait(30)
                    return
                if step[0] == "raw":  # ("raw", status, bytes, content type)
                    self._send(step[1], step[2], {"Content-Type": step[3]})
                    return
                if step[0] == "ok":
                    status, body = 200, step[1]
                else:
                    status = step[1]
                    code = step[4] if len(step) > 4 else _HTTP_CODE.get(status, "INTERNAL")
                    body = {"error": step[2], "code": code}
                headers = {"Content-Type": "application/json", **(step[3] if len(step) > 3
                                                                   else {})}
                if step[0] == "ok" and len(step) > 2:
                    headers.update(step[2])
                self._send(status, json.dumps(body).encode(), headers)

            def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        if tls is not None:  # (cert file, key file); the certificate names localhost
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.url = f"https://localhost:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class ScriptedGateway(pb_grpc.GatewayServicer):
    """multihead.v1.Gateway servicer answering each call with the next script step."""

    def __init__(self) -> None:
        self.script: deque[tuple[Any, ...]] = deque()
        self.calls: list[dict[str, Any]] = []
        self.stopping = threading.Event()

    def _handle(self, method: str, request: Any, context: grpc.ServicerContext) -> Any:
        self.calls.append({"method": method, "request": request, "time": time.monotonic(),
                           "metadata": dict(context.invocation_metadata()),
                           "peer": context.peer()})
        step = self.script.popleft() if self.script else (
            "error", grpc.StatusCode.INTERNAL, "script exhausted")
        if step[0] == "ok":
            return step[1]
        if step[0] == "hang":
            self.stopping.wait(30)
            context.abort(grpc.StatusCode.CANCELLED, "server stopped")
        if len(step) > 3:
            context.set_trailing_metadata(tuple(step[3].items()))
        context.abort(step[1], step[2])

    def Predict(self, request, context):  # noqa: N802 - gRPC method names
        return self._handle("Predict", request, context)

    def GetModelMetadata(self, request, context):  # noqa: N802
        return self._handle("GetModelMetadata", request, context)

    def ListModels(self, request, context):  # noqa: N802
        return self._handle("ListModels", request, context)

    def Similarity(self, request, context):  # noqa: N802
        return self._handle("Similarity", request, context)

    def Profile(self, request, context):  # noqa: N802
        return self._handle("Profile", request, context)

    def Answer(self, request, context):  # noqa: N802
        return self._handle("Answer", request, context)


class ScriptedGRPC:
    """A real grpc server on a free loopback port serving ScriptedGateway."""

    def __init__(self, max_receive: int | None = None,
                 tls: tuple[str, str] | None = None) -> None:
        self.servicer = ScriptedGateway()
        options = [("grpc.max_receive_message_length", max_receive)] if max_receive else []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)
        pb_grpc.add_GatewayServicer_to_server(self.servicer, self.server)
        if tls is None:
            port = self.server.add_insecure_port("127.0.0.1:0")
            self.url = f"grpc://127.0.0.1:{port}"
        else:
            cert, key = (open(path, "rb").read() for path in tls)
            creds = grpc.ssl_server_credentials([(key, cert)])
            port = self.server.add_secure_port("127.0.0.1:0", creds)
            self.url = f"grpcs://localhost:{port}"
        self.server.start()

    @property
    def script(self) -> deque[tuple[Any, ...]]:
        return self.servicer.script

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.servicer.calls

    def stop(self) -> None:
        self.servicer.stopping.set()
        self.server.stop(grace=0).wait(5)


@pytest.fixture
def http_server() -> Iterator[ScriptedHTTP]:
    server = ScriptedHTTP()
    yield server
    server.stop()


@pytest.fixture
def grpc_server() -> Iterator[ScriptedGRPC]:
    server = ScriptedGRPC()
    yield server
    server.stop()


@pytest.fixture(params=["http", "grpc"])
def server(request: pytest.FixtureRequest) -> Iterator[ScriptedHTTP | ScriptedGRPC]:
    """The same test on both transports."""
    srv: ScriptedHTTP | ScriptedGRPC = ScriptedHTTP() if request.param == "http" \
        else ScriptedGRPC()
    yield srv
    srv.stop()


# Canned successful answers, as each transport carries them.
SIMILARITY_OK = {
    "http": ("ok", {"scores": [0.75], "model_version": 3}),
    "grpc": ("ok", pb.SimilarityResponse(scores=[0.75], model_version=3)),
}


def ok_similarity(server: ScriptedHTTP | ScriptedGRPC) -> tuple[Any, ...]:
    return SIMILARITY_OK["http" if isinstance(server, ScriptedHTTP) else "grpc"]


def error_step(server: ScriptedHTTP | ScriptedGRPC, status: int, code: str, message: str,
               retry_after: str | None = None) -> tuple[Any, ...]:
    """One error answer in the server's own protocol (HTTP status or gRPC code)."""
    if isinstance(server, ScriptedHTTP):
        return ("error", status, message, {"Retry-After": retry_after} if retry_after else {},
                code)
    trailers = {"retry-after": retry_after} if retry_after else {}
    return ("error", getattr(grpc.StatusCode, code), message, trailers)
