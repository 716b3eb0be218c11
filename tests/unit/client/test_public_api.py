"""The public API: __all__ lists exactly the public names, each documented; the
exception tree is drawn in the module docstring; nothing imports TensorFlow."""

from __future__ import annotations

import inspect
import subprocess
import sys

import multihead_client as mh


def test_all_lists_every_public_name_and_nothing_else():
    public = {n for n in vars(mh) if not n.startswith("_") and n != "annotations"}
    submodules = {n for n in public if inspect.ismodule(getattr(mh, n))}
    assert set(mh.__all__) - {"__version__"} == public - submodules
    assert all(hasattr(mh, n) for n in mh.__all__)


def test_every_public_name_and_method_has_a_docstring():
    missing = []
    for name in mh.__all__:
        obj = getattr(mh, name)
        if name == "__version__":
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and callable(member) and not inspect.getdoc(member):
                    missing.append(f"{name}.{attr}")
    for cls in (mh.Client, mh.AsyncClient):  # inherited methods too
        for attr in dir(cls):
            if not attr.startswith("_") and callable(getattr(cls, attr)):
                if not inspect.getdoc(getattr(cls, attr)):
                    missing.append(f"{cls.__name__}.{attr}")
    assert missing == []


def test_sync_and_async_clients_have_the_same_methods():
    def methods(cls):
        return {n: inspect.signature(getattr(cls, n)) for n in dir(cls)
                if not n.startswith("_") and callable(getattr(cls, n))}

    sync, asynchronous = methods(mh.Client), methods(mh.AsyncClient)
    assert sync == asynchronous
    for name in asynchronous:
        assert inspect.iscoroutinefunction(getattr(mh.AsyncClient, name)), name


def test_module_docstring_draws_the_exception_tree():
    doc = mh.__doc__ or ""
    for name in mh.__all__:
        obj = getattr(mh, name)
        if inspect.isclass(obj) and issubclass(obj, mh.MultiheadError):
            assert name in doc, name


def test_importing_the_sdk_never_imports_tensorflow():
    code = ("import sys, multihead_client, multihead_client._grpc, multihead_client.cli; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "False"
