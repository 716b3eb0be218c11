"""Model management, transport-free: what the repository holds, and changes to what is
served (load, unload, a whole new model config), for every protocol that offers them
(OIP's repository extension, TF Serving's HandleReloadConfigRequest).

A change, whichever protocol asked for it, takes one path (`_change`):

    refuse unless MULTIHEAD_MODEL_CONTROL_MODE=explicit (Triton refuses load / unload
      while it polls its repository)
    -> lock the config file against other workers' changes (an flock beside it)
    -> read the effective config -> build the new one (the room's request)
    -> the backend accepts it or answers its runtime's error (TF Serving's label rule;
       the tfserving backend asks TF Serving itself) -> nothing has changed on an error
    -> write the file atomically -> apply it in this worker now
    -> wait until every worker has applied it (serving/applied.py), or the deadline:
       UNAVAILABLE naming the workers that had not
    -> a model the change loads that did not become available: TF Serving's UNKNOWN
    -> log who (a key id, never the key) and what; count it in
       `multihead_model_changes_total{action, protocol, code}`.

Requests in flight keep the version they resolved (the core resolves once per request),
so a label that moves never fails or mixes a request: each answer comes from the version
its label named when the request was resolved.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from serving.backends import repository
from serving.backends.base import Backend
from serving.backends.model_config import (
    DEFAULT_POLICY,
    ModelEntry,
    VersionPolicy,
    base_path_for,
    check_model_config_list,
    config_text,
    entries_from_proto,
    read_snapshot,
    write_model_config,
)
from serving.config import Settings
from serving.core.calls import Origin
from serving.errors import (
    GatewayError,
    InvalidInput,
    NotFound,
    Unavailable,
    Unimplemented,
    Unknown,
    quote,
)
from serving.metrics import Metrics

log = logging.getLogger("serving.management")
LOCK_POLL_S = 0.05

__all__ = ["Applied", "ModelManager", "Outcome", "RepositoryEntry", "SingleProcess",
           "VersionPolicy"]


class Board(Protocol):
    """What a change waits on: every worker's record of the config it applied."""

    def record(self, digest: str, problems: Mapping[str, Sequence[str]]) -> None: ...

    def wait(self, digest: str, deadline: float) -> Outcome: ...


@dataclass(frozen=True)
class RepositoryEntry:
    """One line of the repository index (Triton's RepositoryIndexResponse.ModelIndex)."""

    name: str
    version: str = ""
    state: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Applied:
    """What one worker applied last: the config's digest and its load problems."""

    digest: str
    problems: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """The workers' records once all applied `digest` (`missing` empty) or time ran out."""

    applied: Mapping[int, Applied]  # pid -> record, for the workers that applied it
    missing: tuple[int, ...] = ()   # workers that serve but had not applied it


class SingleProcess:
    """The board of a gateway that is one process: its own record only."""

    def __init__(self) -> None:
        self._last = Applied("")

    def record(self, digest: str, problems: Mapping[str, Sequence[str]]) -> None:
        self._last = Applied(digest, {k: list(v) for k, v in problems.items()})

    def wait(self, digest: str, deadline: float) -> Outcome:
        mine = self._last
        if mine.digest == digest:
            return Outcome({os.getpid(): mine})
        return Outcome({}, (os.getpid(),))


# TF Serving's version states as Triton's model states (Triton's ModelReadyState).
_TRITON_STATE = {"AVAILABLE": "READY", "START": "LOADING", "LOADING": "LOADING",
                 "UNLOADING": "UNLOADING", "END": "UNAVAILABLE", "UNKNOWN": "UNKNOWN"}


@dataclass(frozen=True)
class _Plan:
    """A change: the new entries, and the models that must be available once applied."""

    entries: Mapping[str, ModelEntry]
    awaited: frozenset[str] = frozenset()


class ModelManager:
    def __init__(self, settings: Settings, backend: Backend, metrics: Metrics,
                 board: Board) -> None:
        self._settings = settings
        self._backend = backend
        self._metrics = metrics
        self._board = board
        backend.add_config_listener(board.record)

    @property
    def explicit(self) -> bool:
        return self._settings.model_control_mode == "explicit"

    # -- what the repository holds -----------------------------------------------------
    def index(self, ready_only: bool = False) -> list[RepositoryEntry]:
        """Every model and version the runtime knows, with Triton's state and reason, and
        the repository's models that are not loaded (name, UNAVAILABLE, "not loaded")."""
        entries: list[RepositoryEntry] = []
        served = set(self._backend.list_models())
        for name in sorted(served | set(self._repository_models())):
            why = "not loaded"
            try:
                statuses = self._backend.model_status(name)
            except (NotFound, Unavailable) as exc:  # unknown, or not scanned yet
                statuses = []
                why = why if isinstance(exc, NotFound) else exc.message
            if not statuses and not ready_only:
                entries.append(RepositoryEntry(name, "", "UNAVAILABLE", why))
            for status in sorted(statuses, key=lambda s: s.version):
                state = _TRITON_STATE.get(status.state, "UNKNOWN")
                if ready_only and state != "READY":
                    continue
                reason = status.error_message or (
                    "unloaded" if status.state == "END" else "")
                entries.append(RepositoryEntry(name, str(status.version), state, reason))
        return entries

    def _repository_models(self) -> list[str]:
        root = self._settings.model_dir
        return [n for n in repository.model_names(root)
                if repository.version_dirs(os.path.join(root, n))]

    # -- changes -----------------------------------------------------------------------
    def load(self, origin: Origin, who: str, name: str, policy: VersionPolicy | None = None,
             labels: Mapping[str, int] | None = None) -> None:
        """Load `name` (or reload it), with a new version policy and labels if given;
        returns once every worker serves it (Triton's load)."""
        def plan(current: Mapping[str, ModelEntry]) -> _Plan:
            check_model_name(name)
            if name not in current and not self._may_be_in_repository(name):
                raise NotFound(f"failed to load {quote(name)}: the model repository "
                               f"{self._settings.model_dir} holds no such model.")
            entry = current.get(name) or ModelEntry(
                name, base_path_for(name, current, self._settings.model_dir), DEFAULT_POLICY)
            if policy is not None:
                entry = replace(entry, policy=policy)
            if labels is not None:
                entry = replace(entry, version_labels=dict(labels))
            return _Plan({**current, name: entry}, frozenset({name}))

        what = f"load {quote(name)}" + (f", {policy.describe()}" if policy else "") + (
            f", labels {_labels_text(labels)}" if labels is not None else "")
        self._change(origin, who, "load", what, plan,
                     lambda bad: f"failed to load {quote(name)}: {bad[name]}")

    def unload(self, origin: Origin, who: str, name: str) -> None:
        """Stop serving `name` in every worker (Triton's unload); unloading a model that is
        not loaded changes nothing."""
        def plan(current: Mapping[str, ModelEntry]) -> _Plan:
            check_model_name(name)
            if name not in current and not self._may_be_in_repository(name):
                raise NotFound(f"failed to unload {quote(name)}: no such model.")
            return _Plan({n: e for n, e in current.items() if n != name})

        self._change(origin, who, "unload", f"unload {quote(name)}", plan, None)

    def reload_config(self, origin: Origin, who: str, config: Any) -> None:
        """Serve exactly what the `ModelServerConfig` lists (TF Serving's ReloadConfig):
        its checks and codes, and only models new to the config must become available."""
        def plan(current: Mapping[str, ModelEntry]) -> _Plan:
            check_model_config_list(config)
            new = entries_from_proto(config)
            return _Plan(new, frozenset(n for n in new if n not in current))

        def failed(bad: Mapping[str, str]) -> str:
            # server_core.cc WaitUntilModelsAvailable
            return (f"{len(bad)} model(s) did not become available: {{"
                    + "".join(f"{{name: {n} due to error: {p}}}, " for n, p in sorted(
                        bad.items())) + "}")

        self._change(origin, who, "reload_config", _config_summary(config), plan, failed)

    def _may_be_in_repository(self, name: str) -> bool:
        """False only when the gateway can read the repository and it lacks `name` (with
        the tfserving backend the repository may be TF Serving's alone: it decides)."""
        root = self._settings.model_dir
        return not os.path.isdir(root) or os.path.isdir(os.path.join(root, name))

    def _change(self, origin: Origin, who: str, action: str, what: str,
                plan: Callable[[Mapping[str, ModelEntry]], _Plan],
                failed: Callable[[Mapping[str, str]], str] | None) -> None:
        code = "OK"
        try:
            if not self.explicit:
                raise Unimplemented(
                    "explicit model load / unload is not allowed if polling is enabled: the "
                    "gateway runs in model control mode poll; start it with "
                    "MULTIHEAD_MODEL_CONTROL_MODE=explicit to manage models through the API.")
            path = self._settings.model_config
            with self._exclusive(path, origin):
                current = read_snapshot(path, missing_ok=True).entries
                change = plan(current)
                self._backend.reconfigure(current, change.entries,
                                          origin.deadline.check("before the change started"))
                try:
                    digest = write_model_config(path, config_text(change.entries))
                except OSError as exc:
                    raise GatewayError(f"The model config {path} cannot be written: "
                                       f"{exc.strerror}.") from None
                self._backend.apply_config()
                outcome = self._board.wait(digest, origin.deadline.at)
            if outcome.missing:
                raise Unavailable(
                    f"The new model config was written but gunicorn worker(s) "
                    f"{', '.join(map(str, outcome.missing))} had not applied it before the "
                    "deadline; they apply it at their next repository poll.")
            bad = _problems(outcome.applied, change.awaited)
            if bad and failed is not None:
                raise Unknown(failed(bad))
        except GatewayError as exc:
            code = exc.code
            raise
        except Exception:
            code = "INTERNAL"
            raise
        finally:
            self._metrics.record_model_change(action, origin.protocol, code)
            log.info("model management by %s over %s/%s: %s -> %s", who, origin.protocol,
                     origin.transport, what, code)

    @contextlib.contextmanager
    def _exclusive(self, path: str, origin: Origin) -> Iterator[None]:
        """One change at a time across every worker: an flock on `<config>.lock`."""
        try:
            fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise GatewayError(f"The model config lock {path}.lock cannot be opened: "
                               f"{exc.strerror}.") from None
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if origin.deadline.remaining() <= LOCK_POLL_S:
                        raise Unavailable("Another model management change is being applied; "
                                          "retry once it is done.") from None
                    time.sleep(LOCK_POLL_S)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def check_model_name(name: Any) -> None:
    """A model name the repository can hold as one directory."""
    if not isinstance(name, str) or not name or name.startswith(".") or "/" in name \
            or "\\" in name or "\x00" in name:
        raise InvalidInput(f"The model name {quote(name)} must be one non-empty directory "
                           "name of the model repository.")


def _problems(applied: Mapping[int, Applied], awaited: frozenset[str]) -> dict[str, str]:
    """Per awaited model, what went wrong where (worker pid: versions that failed)."""
    bad: dict[str, list[str]] = {}
    for pid, record in sorted(applied.items()):
        for name, problems in record.problems.items():
            if name in awaited:
                bad.setdefault(name, []).append(f"worker {pid}: " + "; ".join(problems))
    return {name: " | ".join(items) for name, items in bad.items()}


def _labels_text(labels: Mapping[str, int] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "none"


def _config_summary(config: Any) -> str:
    """What a ReloadConfigRequest asks for, in one log line."""
    if config.WhichOneof("config") != "model_config_list":
        return "reload config (not a model_config_list)"
    models = [f"{quote(m.name)} {m.model_version_policy.WhichOneof('policy_choice') or 'latest'}"
              + (f" labels {_labels_text(dict(m.version_labels))}" if m.version_labels else "")
              for m in config.model_config_list.config]
    return "reload config: " + ("; ".join(models) or "no models")
