"""`mh-client`: the SDK from the shell.

    mh-client similarity "How old are you?" "What is your age?"
    mh-client profile posts.txt            # one post per line; "-" reads stdin
    mh-client answer "The cat sat on the mat." "Where did the cat sit?"
    mh-client predict profiler '{"posts": ["I love hiking"]}' --heads age
    mh-client models
    mh-client metadata profiler

`--url` (default $MULTIHEAD_URL or http://127.0.0.1:8000; grpc://host:9000 for
gRPC), `--json` for machine-readable output. On failure the server's message is
printed to stderr and the exit status is 1 (2 for a usage error).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _codec
from ._client import Client
from ._errors import InvalidInput, MultiheadError
from ._ops import DEFAULT_RETRIES, DEFAULT_TIMEOUT, DEFAULT_URL


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mh-client", description="Call the multihead gateway.")
    p.add_argument("--url", default=os.environ.get("MULTIHEAD_URL") or DEFAULT_URL,
                   help="gateway URL: http(s)://host:port or grpc(s)://host:port "
                        "(env MULTIHEAD_URL; default %(default)s)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per attempt")
    p.add_argument("--retries", type=int, default=DEFAULT_RETRIES,
                   help="retries on overload/unavailable")
    p.add_argument("--api-key", default=os.environ.get("MULTIHEAD_API_KEY"),
                   help="bearer token (env MULTIHEAD_API_KEY)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("similarity", help="similarity of two sentences (0..1)")
    s.add_argument("left")
    s.add_argument("right")
    s = sub.add_parser("profile", help="age, income and gender of the author of a posts file")
    s.add_argument("file", help="text file with one post per line ('-' for stdin)")
    s = sub.add_parser("answer", help="answer a question about a text")
    s.add_argument("text")
    s.add_argument("question")
    s.add_argument("--top-k", type=int, default=5)
    s = sub.add_parser("predict", help="run a model on named inputs given as JSON")
    s.add_argument("model")
    s.add_argument("inputs", help='JSON object of input name -> batch, or @file.json')
    s.add_argument("--heads", help="comma-separated heads to keep")
    s.add_argument("--version", type=int)
    s.add_argument("--label")
    s.add_argument("--signature")
    sub.add_parser("models", help="list the served models")
    s = sub.add_parser("metadata", help="a model's signatures and heads")
    s.add_argument("model")
    s.add_argument("--version", type=int)
    s.add_argument("--label")
    return p


def _plain(value: Any) -> Any:
    """Results as JSON-ready values."""
    if isinstance(value, np.ndarray):
        return _codec.to_json(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _read_posts(path: str) -> list[str]:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise InvalidInput(f"cannot read posts file {path!r}: {exc.strerror}") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


def _read_inputs(arg: str) -> Any:
    try:
        if arg.startswith("@"):
            with open(arg[1:], encoding="utf-8") as f:
                return json.load(f)
        return json.loads(arg)
    except OSError as exc:
        raise InvalidInput(f"cannot read inputs file {arg[1:]!r}: {exc.strerror}") from exc
    except ValueError as exc:
        raise InvalidInput(f"inputs must be a JSON object of input name -> values: {exc}") \
            from exc


def _run(args: argparse.Namespace, mh: Client) -> tuple[Any, str]:
    """(JSON-ready result, human-readable text) for one command."""
    if args.command == "similarity":
        score = mh.similarity(args.left, args.right)
        return {"score": score}, f"{score:.4f}"
    if args.command == "profile":
        p = mh.profile(_read_posts(args.file))
        return _plain(p), (f"age:    {p.age:.1f} years\n"
                           f"income: {p.income.label} ({p.income.probability:.2f})\n"
                           f"gender: {p.gender.label} ({p.gender.probability:.2f})")
    if args.command == "answer":
        a = mh.answer(args.text, args.question, top_k=args.top_k)
        return _plain(a), "\n".join(f"{x.answer}\t{x.score:.4f}" for x in a.answers)
    if args.command == "predict":
        heads = [h for h in args.heads.split(",") if h] if args.heads else None
        out = _plain(mh.predict(args.model, _read_inputs(args.inputs), heads=heads,
                                version=args.version, label=args.label,
                                signature=args.signature))
        return out, json.dumps(out, indent=2)
    if args.command == "models":
        models = mh.models()
        lines = [f"{m.name}\tversions={','.join(str(v.version) for v in m.versions)}"
                 f"\tinputs={','.join(m.inputs)}\theads={','.join(h.name for h in m.heads)}"
                 for m in models]
        return _plain(models), "\n".join(lines)
    md = mh.metadata(args.model, version=args.version, label=args.label)
    out = _plain(md)
    return out, json.dumps(out, indent=2)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `mh-client`; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        with Client(args.url, timeout=args.timeout, retries=args.retries,
                    api_key=args.api_key) as mh:
            result, text = _run(args, mh)
    except MultiheadError as exc:
        if args.json:
            print(json.dumps({"error": exc.message, "code": exc.code}), file=sys.stderr)
        else:
            print(f"mh-client: error: {exc.message} ({exc.code})", file=sys.stderr)
        return 1
    print(json.dumps(result) if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
