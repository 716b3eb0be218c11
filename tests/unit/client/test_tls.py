"""https:// and grpcs:// use TLS, verified against the CA bundle given as `verify`."""

from __future__ import annotations

import shutil
import subprocess

import multihead_client as mh
import pytest

from .conftest import ScriptedGRPC, ScriptedHTTP, ok_similarity


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


@pytest.mark.parametrize("kind", ["https", "grpcs"])
def test_tls_with_the_servers_ca(self_signed, kind):
    server = ScriptedHTTP(tls=self_signed) if kind == "https" else ScriptedGRPC(tls=self_signed)
    try:
        assert server.url.startswith(f"{kind}://")
        server.script.append(ok_similarity(server))
        with mh.Client(server.url, verify=self_signed[0]) as client:
            assert client.similarity("a", "b") == pytest.approx(0.75)
        # Without the CA the certificate is refused: no answer is trusted.
        server.script.append(ok_similarity(server))
        with mh.Client(server.url, retries=0, timeout=3) as client:
            with pytest.raises(mh.Unavailable):
                client.similarity("a", "b")
    finally:
        server.stop()
