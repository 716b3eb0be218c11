"""`python -m serving [flags]`: run the whole gateway (REST and gRPC) in the foreground.

`python -m serving demo --model-dir models` does the same on 127.0.0.1:8000 and
prints a ready-to-paste curl for each model in the repository. Every flag is
also a `MULTIHEAD_*` environment variable (see `--help`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from serving.backends.repository import read_card, version_dirs
from serving.config import Settings

PROM_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Set when this module created the metrics directory itself, so it removes it on exit.
_OWNED_ENV = "MULTIHEAD_OWNS_PROMETHEUS_DIR"
DEMO_URL = "http://127.0.0.1:8000"

def demo_requests(model_dir: str, name: str) -> list[tuple[str, dict]]:
    """(path, body) of each REST demo request the newest version's model card holds.

    The export writes the model's room's demo requests into the card (`examples`:
    protocol, path, body), so a new model brings its own; the README's curl block is the
    default models' lines.
    """
    versions = version_dirs(os.path.join(model_dir, name))
    card = read_card(versions[max(versions)]) if versions else None
    examples = card.raw.get("examples") if card is not None else None
    return [(e["path"], e["body"]) for e in examples or []
            if isinstance(e, dict) and isinstance(e.get("path"), str)
            and isinstance(e.get("body"), dict)]


def curl_lines(base_url: str, model_dir: str, models: list[str]) -> list[str]:
    """One curl per demo request of each model (its metadata for a model without any)."""
    lines: list[str] = []
    for name in models:
        examples = demo_requests(model_dir, name)
        for path, body in examples:
            lines.append(f"curl -s -X POST {base_url}{path} -d '{json.dumps(body)}'")
        if not examples:
            lines.append(f"curl -s {base_url}/v1/models/{name}/metadata")
    if models:
        lines.append(f"curl -s {base_url}/v1/models/{models[0]}/metadata")
    return lines


def repository_models(model_dir: str) -> list[str]:
    """Names under model_dir that hold at least one integer version directory."""
    root = Path(model_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and any(v.is_dir() and v.name.isdigit() for v in p.iterdir()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m serving",
        description="Run the multihead gateway (REST and gRPC) under gunicorn in the "
                    "foreground. Every flag can also be set as an environment variable.")
    parser.add_argument("command", nargs="?", choices=["serve", "demo"], default="serve",
                        help="serve (default), or demo: serve on 127.0.0.1:8000 and print "
                             "a curl example per model")
    Settings.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_args(args)
    except ValueError as exc:  # a MULTIHEAD_* variable that does not parse
        parser.error(str(exc))
    if settings.problem():
        parser.error(settings.problem())
    from serving.backends.factory import BACKENDS

    if settings.backend not in BACKENDS:
        parser.error(f"--backend must be one of {', '.join(BACKENDS)}; got {settings.backend!r}")
    from serving import protocols

    try:
        protocols.chosen(settings.protocols)
    except ValueError as exc:  # before any worker starts, not in each of them
        parser.error(str(exc))
    if args.command == "demo":
        settings = settings.replace(host="127.0.0.1", http_port=8000)
        if not repository_models(settings.model_dir):
            print(f"no models in {settings.model_dir}/; run `make models` first",
                  file=sys.stderr)
            return 2

    if not os.environ.get(PROM_ENV):
        # prometheus_client picks its multiprocess value class at import time, in
        # every process, so the variable must exist before Python starts: re-exec.
        env = dict(os.environ, **{PROM_ENV: tempfile.mkdtemp(prefix="multihead-metrics-"),
                                  _OWNED_ENV: "1"})
        os.execve(sys.executable, [sys.executable, "-m", "serving", *argv], env)

    from serving import tfnoise
    from serving.server import run

    if tfnoise.wanted(settings.log_level):
        tfnoise.filter_stderr()
    if args.command == "demo":
        _announce_demo(settings)
    master = os.getpid()
    try:
        run(settings)
    finally:
        # Workers are forked inside run() and leave it by SystemExit through this block
        # too (on every reload, max_requests or scale-down): only the master that made
        # the directory removes it, else the next worker cannot start.
        if os.environ.get(_OWNED_ENV) == "1" and os.getpid() == master:
            shutil.rmtree(os.environ[PROM_ENV], ignore_errors=True)
    return 0


def _announce_demo(settings: Settings) -> None:
    models = repository_models(settings.model_dir)
    print(f"multihead gateway starting on {DEMO_URL} (gRPC on {settings.host}:"
          f"{settings.grpc_port}) with models: {', '.join(models)}\n"
          "Try, once it reports ready:\n", flush=True)
    if settings.ui:
        print(f"  playground: {DEMO_URL}/   API docs: {DEMO_URL}/docs\n", flush=True)
    for line in curl_lines(DEMO_URL, settings.model_dir, models):
        print(f"  {line}\n", flush=True)

    def wait_ready() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(DEMO_URL + "/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        page = f"; playground: {DEMO_URL}/" if settings.ui else ""
                        print(f"gateway ready: {DEMO_URL}{page} (Ctrl-C stops it)", flush=True)
                        return
            except OSError:
                pass
            time.sleep(0.5)

    threading.Thread(target=wait_ready, name="demo-ready", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
