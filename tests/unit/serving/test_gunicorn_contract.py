"""Every gunicorn internal the gateway's worker and lifecycle code rely on still exists in
the installed gunicorn: a method it overrides or calls, or an attribute it reads. An
upgrade that renames one fails here instead of silently bypassing an override (the
gateway pins gunicorn to the minor version these are written for)."""

from __future__ import annotations

import importlib
import inspect
import re
import sys

import pytest

from serving import gunicorn_worker, lifecycle

CONTRACT = [(cls, name) for cls, names in gunicorn_worker.GUNICORN_INTERNALS.items()
            for name in names]
for dotted, names in lifecycle.GUNICORN_INTERNALS.items():
    module, _, cls_name = dotted.rpartition(".")
    CONTRACT += [(getattr(importlib.import_module(module), cls_name), n) for n in names]


def _defined(cls: type, name: str) -> bool:
    """A class attribute or method of `cls` (or a base), or an instance attribute that
    some class of its hierarchy assigns (`self.name = ...`)."""
    if hasattr(cls, name):
        return True
    assigns = re.compile(rf"\bself\.{re.escape(name)}\s*(:[^=]*)?=")
    return any(assigns.search(inspect.getsource(sys.modules[k.__module__]))
               for k in cls.__mro__ if k.__module__.startswith("gunicorn"))


@pytest.mark.parametrize("cls,name", CONTRACT,
                         ids=[f"{c.__name__}.{n}" for c, n in CONTRACT])
def test_internal_still_exists(cls: type, name: str) -> None:
    assert _defined(cls, name), f"gunicorn {cls.__module__}.{cls.__name__} has no {name}"


def test_every_override_is_in_the_contract() -> None:
    """A method the gateway's classes override must be listed, so the check above covers
    it."""
    listed = {(base, name) for base, name in CONTRACT}
    for ours in (gunicorn_worker.GatewayWorker, gunicorn_worker.GatewayConn):
        for name, value in vars(ours).items():
            if not callable(value) or name.startswith("__"):
                continue
            bases = [b for b in ours.__mro__[1:] if b.__module__.startswith("gunicorn")
                     and name in vars(b)]
            if bases:
                assert any((b, name) in listed for b in bases) or \
                    any((c, name) in listed for c in ours.__mro__[1:]), \
                    f"{ours.__name__}.{name} overrides gunicorn but is not in the contract"


def test_gunicorn_is_pinned_to_a_minor_version() -> None:
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml")
                            .read_text())
    pins = [d for d in project["project"]["dependencies"] if d.startswith("gunicorn")]
    assert pins and re.fullmatch(r"gunicorn==\d+\.\d+\.\*", pins[0]), pins
