"""`Client` and `AsyncClient`: the typed task calls and generic predict, over the
transport the URL's scheme picks, with timeouts, retries and client-side checks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from . import _ops
from ._errors import InvalidInput, MultiheadError, ServerError
from ._ops import DEFAULT_RETRIES, DEFAULT_TIMEOUT, PredictArgs, RetryPolicy
from ._types import Answer, ModelInfo, ModelMetadata, Profile

__all__ = ["AsyncClient", "Client"]


class _Base:
    """Construction and helpers shared by Client and AsyncClient."""

    _async = False

    def __init__(self, url: str = _ops.DEFAULT_URL, *, timeout: float = DEFAULT_TIMEOUT,
                 retries: int = DEFAULT_RETRIES, api_key: str | None = None,
                 verify: bool | str = True, sleep: Callable[[float], Any] | None = None,
                 grpc_connections: int = _ops.DEFAULT_GRPC_CONNECTIONS) -> None:
        self.url = url
        # How the client waits between retries: time.sleep (asyncio.sleep for AsyncClient)
        # unless a caller brings its own clock, as the SDK's tests do.
        self._sleep = sleep if sleep is not None else (asyncio.sleep if self._async
                                                       else time.sleep)
        self.endpoint = _ops.parse_url(url)
        self.timeout = _ops.check_timeout(timeout, DEFAULT_TIMEOUT)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInput(f"retries must be a non-negative integer, got {retries!r}")
        self.retry = RetryPolicy(retries=retries)
        if isinstance(grpc_connections, bool) or not isinstance(grpc_connections, int) \
                or grpc_connections < 1:
            raise InvalidInput(f"grpc_connections must be a positive integer, got "
                               f"{grpc_connections!r}")
        self._closed = False
        self._output_names: dict[tuple[Any, ...], str] = {}
        ep = self.endpoint
        if ep.transport == "http":
            from . import _http

            cls = _http.AsyncHttpTransport if self._async else _http.HttpTransport
            self._transport: Any = cls(ep.target, api_key=api_key, verify=verify,
                                       timeout=self.timeout)
        else:
            from . import _grpc

            cls = _grpc.AsyncGrpcTransport if self._async else _grpc.GrpcTransport
            self._transport = cls(ep.target, tls=ep.tls, api_key=api_key, verify=verify,
                                  connections=grpc_connections)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.url!r}, timeout={self.timeout:g}, "
                f"retries={self.retry.retries})")

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")

    @staticmethod
    def _bare_key(a: PredictArgs) -> tuple[Any, ...]:
        return (a.model, a.version, a.label, a.signature or "serving_default")

    @staticmethod
    def _only_output(md: ModelMetadata, a: PredictArgs) -> str:
        sig = md.signatures.get(a.signature or "serving_default")
        if sig is None or len(sig.outputs) != 1:
            raise ServerError(f"the server sent one unnamed output for {a.model!r} and its "
                              "metadata does not say which head it is")
        return next(iter(sig.outputs))


class Client(_Base):
    """Synchronous client for the multihead gateway.

    `Client("http://127.0.0.1:8000")` speaks REST, `Client("grpc://127.0.0.1:9000")`
    gRPC (`https://` / `grpcs://` for TLS; `verify` may name a CA bundle). `timeout`
    (seconds, default 5) bounds each attempt and can be overridden per call;
    Overloaded/Unavailable answers are retried `retries` times with jittered
    backoff, honouring Retry-After, waiting with `sleep` (default `time.sleep`).
    `api_key` is sent as a bearer token. Over gRPC the calls go round
    `grpc_connections` connections (default 4; each gateway worker serves the connections
    the kernel hands it, so one connection would reach one worker). Use it as a context
    manager, or call `close()` (idempotent).
    """

    def _run(self, op: str, *args: Any, timeout: float | None = None) -> Any:
        self._check_open()
        t = _ops.check_timeout(timeout, self.timeout)
        attempt = 0
        while True:
            try:
                return self._transport.call(op, *args, timeout=t)
            except MultiheadError as exc:
                delay = self.retry.delay(attempt, exc)
                if delay is None:
                    raise
            self._sleep(delay)
            attempt += 1

    def similarity(self, a: str, b: str, *, model: str | None = None,
                   version: int | None = None, label: str | None = None,
                   timeout: float | None = None) -> float:
        """Similarity of two sentences, 0..1 (`model`/`version`/`label` as in predict)."""
        pair = (_ops.check_text("a", a), _ops.check_text("b", b))
        return self.similarity_many([pair], model=model, version=version, label=label,
                                    timeout=timeout)[0]

    def similarity_many(self, pairs: Iterable[Sequence[str]], *, model: str | None = None,
                        version: int | None = None, label: str | None = None,
                        timeout: float | None = None) -> list[float]:
        """Similarity of each (left, right) pair, in order."""
        spec = _ops.check_task_spec(model, version, label)
        return self._run("similarity", spec, _ops.check_pairs(pairs), timeout=timeout)[0]

    def profile(self, posts: Iterable[str], *, model: str | None = None,
                version: int | None = None, label: str | None = None,
                timeout: float | None = None) -> Profile:
        """Profile (age in years, income band, gender) of one author from their posts."""
        spec = _ops.check_task_spec(model, version, label)
        return self._run("profile", spec, [_ops.check_posts("posts", posts)],
                         timeout=timeout)[0]

    def profile_many(self, authors: Iterable[Iterable[str]], *, model: str | None = None,
                     version: int | None = None, label: str | None = None,
                     timeout: float | None = None) -> list[Profile]:
        """Profiles of several authors, each given as a list of posts."""
        spec = _ops.check_task_spec(model, version, label)
        return self._run("profile", spec, _ops.check_authors(authors), timeout=timeout)

    def answer(self, text: str, question: str, top_k: int = 5, *, model: str | None = None,
               version: int | None = None, label: str | None = None,
               timeout: float | None = None) -> Answer:
        """The `top_k` most likely answer words to `question` about `text`."""
        spec = _ops.check_task_spec(model, version, label)
        return self._run("answer", spec, _ops.check_text("text", text),
                         _ops.check_text("question", question), _ops.check_top_k(top_k),
                         timeout=timeout)

    def predict(self, model: str, inputs: Mapping[str, Any], heads: Sequence[str] | None = None,
                version: int | None = None, label: str | None = None,
                signature: str | None = None, *,
                timeout: float | None = None) -> dict[str, np.ndarray]:
        """Run a model's signature on named inputs (batch first); one array per head.

        `heads` keeps only those outputs; `version` or `label` pick a version (newest
        AVAILABLE by default); `signature` defaults to serving_default.
        """
        a = _ops.check_predict(model, inputs, heads, version, label, signature)
        out = self._run("predict", a, timeout=timeout)
        if isinstance(out, dict):
            return out
        key = self._bare_key(a)
        if key not in self._output_names:
            md = self.metadata(a.model, version=a.version, label=a.label, timeout=timeout)
            self._output_names[key] = self._only_output(md, a)
        return {self._output_names[key]: out.array}

    def models(self, *, timeout: float | None = None) -> list[ModelInfo]:
        """Every served model with its versions, inputs and heads."""
        return self._run("models", timeout=timeout)

    def metadata(self, model: str, *, version: int | None = None, label: str | None = None,
                 timeout: float | None = None) -> ModelMetadata:
        """A model version's signatures (dtypes, shapes) and heads."""
        version, label = _ops.check_version(version, label)
        md = self._run("metadata", _ops.check_text("model", model), version, label,
                       timeout=timeout)
        if not md.heads:  # TF Serving's REST metadata has no heads: take them from the list
            for info in self.models(timeout=timeout):
                if info.name == model:
                    md = ModelMetadata(md.name, md.version, md.signatures, info.heads,
                                       md.model_card)
        return md

    def close(self) -> None:
        """Close connections; calling it again does nothing."""
        if not self._closed:
            self._closed = True
            self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(_Base):
    """Asynchronous client with the same methods as `Client` (coroutines), over
    `httpx.AsyncClient` or `grpc.aio`; `sleep`, if given, is a coroutine function
    (default `asyncio.sleep`). Use `async with`, or `await close()`."""

    _async = True

    async def _run(self, op: str, *args: Any, timeout: float | None = None) -> Any:
        self._check_open()
        t = _ops.check_timeout(timeout, self.timeout)
        attempt = 0
        while True:
            try:
                return await self._transport.call(op, *args, timeout=t)
            except MultiheadError as exc:
                delay = self.retry.delay(attempt, exc)
                if delay is None:
                    raise
            await self._sleep(delay)
            attempt += 1

    async def similarity(self, a: str, b: str, *, model: str | None = None,
                         version: int | None = None, label: str | None = None,
                         timeout: float | None = None) -> float:
        """Similarity of two sentences, 0..1 (`model`/`version`/`label` as in predict)."""
        pair = (_ops.check_text("a", a), _ops.check_text("b", b))
        return (await self.similarity_many([pair], model=model, version=version, label=label,
                                           timeout=timeout))[0]

    async def similarity_many(self, pairs: Iterable[Sequence[str]], *, model: str | None = None,
                              version: int | None = None, label: str | None = None,
                              timeout: float | None = None) -> list[float]:
        """Similarity of each (left, right) pair, in order."""
        spec = _ops.check_task_spec(model, version, label)
        return (await self._run("similarity", spec, _ops.check_pairs(pairs),
                                timeout=timeout))[0]

    async def profile(self, posts: Iterable[str], *, model: str | None = None,
                      version: int | None = None, label: str | None = None,
                      timeout: float | None = None) -> Profile:
        """Profile (age in years, income band, gender) of one author from their posts."""
        spec = _ops.check_task_spec(model, version, label)
        return (await self._run("profile", spec, [_ops.check_posts("posts", posts)],
                                timeout=timeout))[0]

    async def profile_many(self, authors: Iterable[Iterable[str]], *, model: str | None = None,
                           version: int | None = None, label: str | None = None,
                           timeout: float | None = None) -> list[Profile]:
        """Profiles of several authors, each given as a list of posts."""
        spec = _ops.check_task_spec(model, version, label)
        return await self._run("profile", spec, _ops.check_authors(authors), timeout=timeout)

    async def answer(self, text: str, question: str, top_k: int = 5, *,
                     model: str | None = None, version: int | None = None,
                     label: str | None = None, timeout: float | None = None) -> Answer:
        """The `top_k` most likely answer words to `question` about `text`."""
        spec = _ops.check_task_spec(model, version, label)
        return await self._run("answer", spec, _ops.check_text("text", text),
                               _ops.check_text("question", question),
                               _ops.check_top_k(top_k), timeout=timeout)

    async def predict(self, model: str, inputs: Mapping[str, Any],
                      heads: Sequence[str] | None = None, version: int | None = None,
                      label: str | None = None, signature: str | None = None, *,
                      timeout: float | None = None) -> dict[str, np.ndarray]:
        """Run a model's signature on named inputs; see `Client.predict`."""
        a = _ops.check_predict(model, inputs, heads, version, label, signature)
        out = await self._run("predict", a, timeout=timeout)
        if isinstance(out, dict):
            return out
        key = self._bare_key(a)
        if key not in self._output_names:
            md = await self.metadata(a.model, version=a.version, label=a.label, timeout=timeout)
            self._output_names[key] = self._only_output(md, a)
        return {self._output_names[key]: out.array}

    async def models(self, *, timeout: float | None = None) -> list[ModelInfo]:
        """Every served model with its versions, inputs and heads."""
        return await self._run("models", timeout=timeout)

    async def metadata(self, model: str, *, version: int | None = None,
                       label: str | None = None,
                       timeout: float | None = None) -> ModelMetadata:
        """A model version's signatures (dtypes, shapes) and heads."""
        version, label = _ops.check_version(version, label)
        md = await self._run("metadata", _ops.check_text("model", model), version, label,
                             timeout=timeout)
        if not md.heads:
            for info in await self.models(timeout=timeout):
                if info.name == model:
                    md = ModelMetadata(md.name, md.version, md.signatures, info.heads,
                                       md.model_card)
        return md

    async def close(self) -> None:
        """Close connections; calling it again does nothing."""
        if not self._closed:
            self._closed = True
            await self._transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
