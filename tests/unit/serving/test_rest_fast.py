"""The fast path (serving/rest/fast.py) answers TF Serving's :predict as the Flask route does.

Each request goes to the app twice: through its WSGI entry (the fast path answers) and
straight to Flask's `wsgi_app` (the room's Flask route answers). Status, headers that
matter and body must be the same, for a good request and for each kind of refusal.
"""

from __future__ import annotations

import io
import json
import sys

import pytest
from flask import Flask

from serving.rest import create_app
from tests.unit.serving.conftest import install, settings_for

pytestmark = pytest.mark.timeout(120)
KEY = "s3cret"


def _environ(path: str, body: bytes, method: str = "POST", **headers: str) -> dict:
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "RAW_URI": path, "QUERY_STRING": "",
           "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
           "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
           "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body))}
    env.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return env


def _call(wsgi, app: Flask, path: str, body: bytes, **headers: str) -> tuple:  # noqa: ANN001
    got: dict = {}

    def start_response(status: str, header_list: list, exc_info: object = None) -> None:
        got["status"] = status
        got["headers"] = {k.lower(): v for k, v in header_list
                          if k.lower() in ("content-type", "www-authenticate")}

    chunks = wsgi(app, _environ(path, body, **headers), start_response) if wsgi is not None \
        else app(_environ(path, body, **headers), start_response)
    payload = b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    return got["status"], got["headers"], json.loads(payload)


@pytest.mark.parametrize("api_keys", [(), (KEY,)])
def test_fast_predict_answers_as_the_flask_route(exports, make_service, tmp_path,
                                                 api_keys) -> None:  # noqa: ANN001
    repo = str(tmp_path)
    install(exports["half_plus_two"], repo, "half_plus_two", 1)
    service = make_service(repo)
    settings = settings_for(repo, api_keys=api_keys, max_request_bytes=1000)
    app = create_app(settings, service)
    auth = {"authorization": f"Bearer {KEY}"} if api_keys else {}
    path = "/v1/models/half_plus_two:predict"
    cases = [
        (path, b'{"instances": [1.0, 2.0, 5.0]}', auth),
        ("/V1/Models/half_plus_two/versions/1:PREDICT", b'{"inputs": {"x": [1.0]}}', auth),
        (path, b'{"instances": [1.0, 2.0', auth),                    # not JSON: 400
        (path, b'{"instances": ["a"]}', auth),                       # wrong type: 400
        ("/v1/models/nope:predict", b'{"instances": [1.0]}', auth),  # unknown: 404
        (path, b'{"instances": [' + b"1.0," * 400 + b'1.0]}', auth),  # over 1000 bytes: 413
    ]
    if api_keys:
        cases.append((path, b'{"instances": [1.0]}', {}))                        # 401
        cases.append((path, b'{"instances": [1.0]}', {"authorization": "Bearer no"}))
    statuses = []
    for where, body, headers in cases:
        fast = _call(None, app, where, body, **headers)
        flask = _call(Flask.wsgi_app, app, where, body, **headers)  # the Flask route only
        assert fast == flask, (where, body[:40])
        statuses.append(int(fast[0].split()[0]))
    assert statuses[:6] == [200, 200, 400, 400, 404, 413]
    assert statuses[6:] == ([401, 401] if api_keys else [])
    assert _call(None, app, path, cases[0][1], **auth)[2] == {"predictions": [2.5, 3.0, 4.5]}
