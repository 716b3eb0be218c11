"""Transport-free pieces shared by Client and AsyncClient: argument checks (raised as
InvalidInput before anything is sent), the retry policy, and URL parsing."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ._codec import as_array
from ._errors import RETRYABLE, InvalidInput, MultiheadError

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 2
# gRPC connections a client spreads its calls over (_grpc.py says why)
DEFAULT_GRPC_CONNECTIONS = 4


@dataclass(frozen=True)
class Endpoint:
    """A parsed client URL: `transport` is "http" or "grpc"; `target` is the base URL
    (http) or host:port (grpc); `tls` for https/grpcs."""

    transport: str
    target: str
    tls: bool


def parse_url(url: str) -> Endpoint:
    """Pick the transport from the URL scheme (http, https, grpc, grpcs)."""
    if not isinstance(url, str) or "://" not in url:
        raise InvalidInput(f"url must look like http://host:port or grpc://host:port, got {url!r}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not parts.hostname:
        raise InvalidInput(f"url {url!r} has no host")
    if scheme in ("http", "https"):
        return Endpoint("http", url.rstrip("/"), scheme == "https")
    if scheme in ("grpc", "grpcs"):
        port = parts.port or (443 if scheme == "grpcs" else 9000)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return Endpoint("grpc", f"{host}:{port}", scheme == "grpcs")
    raise InvalidInput(f"url scheme {scheme!r} is not supported; use http, https, grpc or grpcs")


@dataclass(frozen=True)
class RetryPolicy:
    """Retry Overloaded/Unavailable up to `retries` times: the server's Retry-After when
    it sends one (capped at `max_delay`), else exponential backoff with full jitter."""

    retries: int = DEFAULT_RETRIES
    base_delay: float = 0.2
    max_delay: float = 30.0

    def delay(self, attempt: int, exc: MultiheadError) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None to give up."""
        if not isinstance(exc, RETRYABLE) or attempt >= self.retries:
            return None
        if exc.retry_after is not None:
            return min(exc.retry_after, self.max_delay)
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


def check_timeout(timeout: float | None, default: float) -> float:
    """The per-call timeout, or the client's default."""
    if timeout is None:
        return default
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise InvalidInput(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def check_text(field: str, value: Any) -> str:
    """A non-empty string, or InvalidInput naming the field."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInput(f"{field} must not be empty")
    return value


def check_pairs(pairs: Iterable[Sequence[str]]) -> list[tuple[str, str]]:
    """Sentence pairs as (left, right) tuples of non-empty strings."""
    if isinstance(pairs, str | bytes) or not isinstance(pairs, Iterable):
        raise InvalidInput("pairs must be a list of (left, right) sentence pairs")
    out = []
    for i, pair in enumerate(pairs):
        if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise InvalidInput(f"pairs[{i}] must be a (left, right) pair of strings")
        out.append((check_text(f"pairs[{i}][0]", pair[0]), check_text(f"pairs[{i}][1]", pair[1])))
    if not out:
        raise InvalidInput("pairs must hold at least one (left, right) pair")
    return out


def check_posts(field: str, posts: Iterable[str]) -> list[str]:
    """One author's posts: a non-empty list of strings."""
    if isinstance(posts, str | bytes) or not isinstance(posts, Iterable):
        raise InvalidInput(f"{field} must be a list of posts (strings), not a single string")
    out = [check_text(f"{field}[{i}]", p) for i, p in enumerate(posts)]
    if not out:
        raise InvalidInput(f"{field} must hold at least one post")
    return out


def check_authors(authors: Iterable[Iterable[str]]) -> list[list[str]]:
    """Several authors' posts."""
    if isinstance(authors, str | bytes) or not isinstance(authors, Iterable):
        raise InvalidInput("authors must be a list of lists of posts")
    out = [check_posts(f"authors[{i}]", a) for i, a in enumerate(authors)]
    if not out:
        raise InvalidInput("authors must hold at least one author")
    return out


def check_top_k(top_k: Any) -> int:
    """A positive int."""
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
        raise InvalidInput(f"top_k must be a positive integer, got {top_k!r}")
    return int(top_k)


TaskSpec = tuple[str | None, int | None, str | None]  # model, version, label


def check_task_spec(model: Any, version: Any, label: Any) -> TaskSpec:
    """A task call's optional model (the server's default when None), version, label."""
    if model is not None:
        check_text("model", model)
    version, label = check_version(version, label)
    return model, version, label


@dataclass(frozen=True)
class PredictArgs:
    """A checked predict call."""

    model: str
    inputs: dict[str, np.ndarray]
    heads: tuple[str, ...]
    version: int | None
    label: str | None
    signature: str
    python_inputs: frozenset[str] = frozenset()  # given as Python values, not numpy arrays


def check_predict(model: Any, inputs: Any, heads: Any, version: Any, label: Any,
                  signature: Any) -> PredictArgs:
    """Check predict's arguments and turn the inputs into arrays."""
    check_text("model", model)
    if not isinstance(inputs, Mapping) or not inputs:
        raise InvalidInput("inputs must be a non-empty dict of input name -> values")
    arrays = {}
    for name, value in inputs.items():
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"input names must be non-empty strings, got {name!r}")
        arrays[name] = as_array(name, value)
    if isinstance(heads, str):
        heads = [heads]
    head_list = tuple(check_text("heads[]", h) for h in (heads or ()))
    version, label = check_version(version, label)
    if signature is not None and not isinstance(signature, str):
        raise InvalidInput(f"signature must be a string, got {type(signature).__name__}")
    python_inputs = frozenset(k for k, v in inputs.items() if not isinstance(v, np.ndarray))
    return PredictArgs(model, arrays, head_list, version, label, signature or "",
                       python_inputs)


def check_version(version: Any, label: Any) -> tuple[int | None, str | None]:
    """At most one of a version number and a version label. A version is an int64 >= 0,
    as the gateway takes it on every protocol (0 names the directory `0`)."""
    if version is not None and (isinstance(version, bool)
                                or not isinstance(version, int | np.integer)
                                or not 0 <= version < 2**63):
        raise InvalidInput(f"version must be a non-negative integer, got {version!r}")
    if label is not None:
        check_text("label", label)
    if version is not None and label is not None:
        raise InvalidInput("give version or label, not both")
    return (None if version is None else int(version)), label
