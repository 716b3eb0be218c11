"""The gateway's protocol code in the pytest process, for what does not depend on the
process it runs in: request decoding, field messages, error shapes, OpenAPI.

`InProcessGateway` builds one `InferenceService` from the same settings as the session's
gunicorn gateways (tests/integration/conftest.py `GATEWAY_ENV`), serves REST through the
real Flask app (`create_app(settings, service)`) and its test client, with no socket,
and gRPC through the real server (`serving.grpc.server.serve`) on a free loopback port.
With the `tfserving` backend it talks to the TF Serving stand-in, itself in this process
(tests/fakes/tfserving_fake.py `InProcessTFServing`).

What depends on the transport (gunicorn's parser, chunked bodies, slow clients, worker
lifecycle) stays in the subprocess tests.
"""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Any

import grpc

from tests.processes import free_port

READY_TIMEOUT_S = 180.0


class AppResponse:
    """A test-client response read as httpx's (`status_code`, `headers`, `content`,
    `text`, `json()`), so that a test reads answers the same way from either side."""

    def __init__(self, response: Any) -> None:
        self.status_code: int = response.status_code
        self.headers = response.headers
        self.content: bytes = response.get_data()

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class AppClient:
    """The app's Flask test client behind the few `httpx.Client` methods tests call."""

    def __init__(self, app: Any) -> None:
        self._client = app.test_client()

    def request(self, method: str, path: str, *, content: bytes | None = None,
                json: Any = None, headers: dict[str, str] | None = None) -> AppResponse:
        headers = dict(headers or {})
        if json is not None:
            content = jsonlib.dumps(json).encode()
            headers.setdefault("Content-Type", "application/json")
        return AppResponse(self._client.open(path, method=method, data=content,
                                             headers=headers))

    def get(self, path: str, **kw: Any) -> AppResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> AppResponse:
        return self.request("POST", path, **kw)


class InProcessGateway:
    """`.client` (the app's test client, httpx-like), `.grpc_target`, `.channel()`,
    `.service`, `.backend`; `close()` stops everything it started."""

    def __init__(self, backend: str, model_dir: Path, model_config: Path | None,
                 env: dict[str, str], **overrides: Any) -> None:
        from serving.config import Settings
        from serving.grpc.server import serve
        from serving.rest import build_service, create_app
        from tests.fakes.tfserving_fake import InProcessTFServing

        self.backend = backend
        self.tfserving: InProcessTFServing | None = None
        environ = {**env, "MULTIHEAD_MODEL_DIR": str(model_dir), "MULTIHEAD_HOST": "127.0.0.1",
                   "MULTIHEAD_GRPC_PORT": str(free_port()), "MULTIHEAD_BACKEND": backend}
        if model_config is not None:
            environ["MULTIHEAD_MODEL_CONFIG"] = str(model_config)
        if backend == "tfserving":
            self.tfserving = InProcessTFServing(model_dir, model_config=model_config).start()
            environ["MULTIHEAD_TFSERVING_ADDR"] = self.tfserving.address
        self.settings = Settings.from_env(environ, **overrides)
        self.service = build_service(self.settings)
        self.service.start()
        self._server = None
        try:
            assert self.service.wait_ready(READY_TIMEOUT_S), self.service.readiness()
            self.app = create_app(self.settings, self.service)
            self.client = AppClient(self.app)
            self._server = serve(self.settings, self.service)
        except BaseException:
            self.close()
            raise
        self.grpc_target = f"127.0.0.1:{self._server.port}"

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.grpc_target)

    def close(self) -> None:
        if self._server is not None:
            self._server.stop(grace=0).wait(10)
        self.service.stop()
        if self.tfserving is not None:
            self.tfserving.stop()
