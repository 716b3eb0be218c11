"""TF Serving for tests: the protocol-faithful stand-in (`tfserving_fake`) and, with
the same handle interface (`.address`, `.port`, `.start()`, `.stop(kill=False)`,
context manager), the real `tensorflow_model_server` when it is on PATH
(`real_tfserving`; it is not installable on these machines).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.processes import free_port, stop_process

TFSERVING_BINARY = "tensorflow_model_server"
NO_BINARY_REASON = (f"{TFSERVING_BINARY} is not on PATH (not installable here); the "
                    "protocol-faithful stand-in covers the same tests")


class RealTFServing:
    """`tensorflow_model_server` on loopback over a model repository and config file."""

    def __init__(self, model_dir: str | os.PathLike[str], port: int = 0,
                 model_config: str | os.PathLike[str] | None = None,
                 startup_timeout_s: float = 180.0) -> None:
        binary = shutil.which(TFSERVING_BINARY)
        if binary is None:
            raise RuntimeError(NO_BINARY_REASON)
        self.binary, self.model_dir, self.port = binary, Path(model_dir), port
        self.model_config = Path(model_config) if model_config else self._default_config()
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    def _default_config(self) -> Path:
        """Every model directory, TF Serving's default version policy (latest 1)."""
        entries = "".join(
            f'  config {{ name: "{d.name}" base_path: "{d.resolve()}" '
            'model_platform: "tensorflow" }\n'
            for d in sorted(self.model_dir.iterdir()) if d.is_dir())
        path = Path(tempfile.mkstemp(prefix="tfserving-", suffix=".config")[1])
        path.write_text("model_config_list {\n" + entries + "}\n")
        return path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def prepare(self) -> RealTFServing:
        """Nothing to start ahead: the binary has no interpreter to boot (the stand-in's
        `prepare()` has)."""
        return self

    def start(self) -> RealTFServing:
        import grpc

        if not self.port:
            self.port = free_port()
        self.process = subprocess.Popen(
            [self.binary, f"--port={self.port}", "--rest_api_port=0",
             f"--model_config_file={self.model_config}", "--file_system_poll_wait_seconds=1",
             "--allow_version_labels_for_unavailable_models"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        # Its gRPC port opens once the configured models have loaded.
        with grpc.insecure_channel(self.address) as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=self.startup_timeout_s)
            except grpc.FutureTimeoutError:
                self.stop(kill=True)
                raise RuntimeError(f"{TFSERVING_BINARY} did not open {self.address}") from None
        return self

    def stop(self, kill: bool = False) -> None:
        process, self.process = self.process, None
        stop_process(process, kill=kill, grace_s=30)

    def __enter__(self) -> RealTFServing:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_real_tfserving(model_dir: str | os.PathLike[str], port: int = 0,
                         model_config: str | os.PathLike[str] | None = None) -> RealTFServing:
    return RealTFServing(model_dir, port, model_config).start()
