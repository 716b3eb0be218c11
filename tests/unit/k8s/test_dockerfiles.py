"""The images' Dockerfiles, read without a Docker engine: base, user, entrypoint."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.lockfile import locked_versions

from .conftest import K8S, ROOT

pytestmark = pytest.mark.timeout(120)

IMAGES = K8S / "images"
TF_VERSION = importlib.metadata.version("tensorflow")
GUNICORN = "gunicorn -c serving/gunicorn.conf.py 'serving.rest:create_app()'"


@dataclass
class Stage:
    base: str
    alias: str = ""
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def last(self, keyword: str) -> str | None:
        values = [v for k, v in self.instructions if k == keyword]
        return values[-1] if values else None


def parse(path: Path) -> list[Stage]:
    """FROM stages with their instructions; ARG defaults substituted in FROM lines."""
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)",
                           lambda m: args[m.group(1) or m.group(2)], rest.split()[0])
            alias = rest.split()[2] if len(rest.split()) == 3 else ""
            stages.append(Stage(image, alias))
        else:
            stages[-1].instructions.append((keyword, rest))
    return stages


def exec_form(value: str | None) -> list[str]:
    assert value is not None and value.startswith("["), f"not exec form: {value}"
    return json.loads(value)


def assert_pinned(image: str) -> None:
    repository, _, tag = image.rpartition(":")
    assert repository and "/" not in tag, f"{image} has no tag"
    assert tag != "latest" and re.match(r"\d+\.\d+\.\d+", tag), f"{image} is not pinned"


def assert_non_root_user(stage: Stage) -> None:
    user = stage.last("USER")
    assert user is not None, "the final stage sets no USER (the base runs as root)"
    uid = user.split(":")[0]
    # Numeric, or Kubernetes' runAsNonRoot cannot verify it.
    assert uid.isdigit() and int(uid) > 0, f"USER {user}"


def test_gateway_image() -> None:
    stages = parse(IMAGES / "gateway.Dockerfile")
    final = stages[-1]
    assert_pinned(final.base)
    assert final.base.startswith("python:3.11.") and "slim" in final.base
    assert all(s.base == final.base for s in stages)
    assert_non_root_user(final)
    command = exec_form(final.last("ENTRYPOINT")) + exec_form(final.last("CMD"))
    assert command == shlex.split(GUNICORN)
    env = final.last("ENV") or ""
    assert "MULTIHEAD_BACKEND=tfserving" in env and "MULTIHEAD_HOST=0.0.0.0" in env
    # Only the tfserving backend's needs: no TensorFlow runtime in the image.
    runs = " ".join(v for k, v in final.instructions if k == "RUN")
    tfs_api = locked_versions()["tensorflow-serving-api"]
    assert f"pip install --no-deps tensorflow-serving-api=={tfs_api}" in runs
    assert not re.search(r"pip install[^&]*\btensorflow(-cpu|-gpu)?[=\s]", runs)


def test_gateway_entrypoint_is_the_documented_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert GUNICORN in readme, "README.md must document the gateway's gunicorn command"
    assert GUNICORN in (ROOT / "serving" / "gunicorn.conf.py").read_text()


def test_trainer_image() -> None:
    stages = parse(IMAGES / "trainer.Dockerfile")
    final = stages[-1]
    assert_pinned(final.base)
    assert final.base == f"tensorflow/tensorflow:{TF_VERSION}-gpu"
    assert_non_root_user(final)
    command = exec_form(final.last("ENTRYPOINT")) + exec_form(final.last("CMD"))
    assert command == ["python", "-m", "training", "all", "--model-dir", "/models",
                       "--out", "/runs"]


def test_image_requirements_are_the_lock_exported(tmp_path: Path) -> None:
    """The committed file is exactly what `make image-requirements` exports from uv.lock."""
    fresh = tmp_path / "gateway-requirements.txt"
    done = subprocess.run(["make", "-s", "image-requirements", f"IMAGE_REQUIREMENTS={fresh}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (IMAGES / "gateway-requirements.txt").read_text() == fresh.read_text(), (
        "k8s/images/gateway-requirements.txt differs from uv.lock: run make lock")


def test_image_pins_agree_with_the_lock() -> None:
    locked = locked_versions()
    for line in (IMAGES / "gateway-requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version == locked[name.lower()], name
    dockerfile = (IMAGES / "gateway.Dockerfile").read_text()
    pins = dict(re.findall(r"\b(grpcio-tools|tensorflow-serving-api|tensorflow-cpu)==([\w.]+)",
                           dockerfile))
    assert pins["grpcio-tools"] == locked["grpcio-tools"]
    assert pins["tensorflow-serving-api"] == locked["tensorflow-serving-api"]
    assert pins["tensorflow-cpu"] == locked["tensorflow"]


def _third_party_imports() -> dict[str, str]:
    """Top-level third-party module -> a file importing it, over serving/ at run time."""
    stdlib = set(sys.stdlib_module_names)
    found: dict[str, str] = {}
    for path in (ROOT / "serving").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        # embedded.py is the one module allowed TensorFlow; the image has no use for it.
        # (`training` is imported only by `tfserving_config --defaults`, a build step.)
        if rel.endswith("backends/embedded.py") or "/_gen/" in rel:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0
                     and node.module else [])
            for name in names:
                top = name.split(".")[0]
                if top not in stdlib and top not in ("serving", "training", "__future__"):
                    found.setdefault(top, rel)
    return found


def test_gateway_requirements_cover_every_run_time_import() -> None:
    listed = set()
    for line in (IMAGES / "gateway-requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name = line.split("==")[0]
            listed.add(name.lower())
            dist = importlib.metadata.distribution(name)
            listed.update(r.split()[0].split(";")[0].split("[")[0].split("<")[0]
                          .split(">")[0].split("=")[0].split("!")[0].lower()
                          for r in dist.requires or [] if "extra ==" not in r)
    listed.add("tensorflow-serving-api")
    providers = importlib.metadata.packages_distributions()
    for module, where in _third_party_imports().items():
        if module == "tensorflow":
            continue  # the protobuf modules tf_protos.py copies (next test)
        dists = {d.lower().replace("_", "-") for d in providers.get(module, [])}
        assert dists & {n.replace("_", "-") for n in listed}, (
            f"{where} imports {module} (from {dists or 'nowhere'}), which "
            "k8s/images/gateway-requirements.txt does not install")


def test_tfserving_backend_runs_on_tensorflows_protos_alone(tmp_path: Path) -> None:
    """What the gateway image does: TensorFlow's *_pb2 modules under a stub package."""
    site = Path(importlib.metadata.distribution("tensorflow").locate_file(""))
    done = subprocess.run([sys.executable, str(IMAGES / "tf_protos.py"), str(site),
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    probe = f"""
import sys
sys.path.insert(0, {str(tmp_path)!r})
import tensorflow
assert tensorflow.__file__.startswith({str(tmp_path)!r}), tensorflow.__file__
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2,
    model_service_pb2_grpc, predict_pb2, prediction_service_pb2_grpc)
request = predict_pb2.PredictRequest()
request.model_spec.name = "qa"
request.inputs["text"].string_val.append(b"hello")
assert request.inputs["text"].string_val == [b"hello"]
import serving.backends.tfserving
from serving.rest import create_app
loaded = sorted(m for m in sys.modules if m.startswith(("tensorflow.python", "keras")))
assert not loaded, loaded
try:
    tensorflow.constant
except AttributeError as exc:
    print("stub:", exc)
else:
    raise AssertionError("the stub must not pretend to be TensorFlow")
"""
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "embedded backend" in run.stdout


def test_build_contexts_are_small() -> None:
    for dockerfile in ("gateway.Dockerfile", "trainer.Dockerfile"):
        ignore = (IMAGES / f"{dockerfile}.dockerignore").read_text().splitlines()
        assert "*" in ignore, f"{dockerfile}.dockerignore should start from nothing"
        copied = [source for stage in parse(IMAGES / dockerfile)
                  for k, v in stage.instructions
                  if k == "COPY" and not v.startswith("--from")
                  for source in v.split()[:-1]]
        for source in copied:
            assert (ROOT / source).exists(), f"{dockerfile} copies {source}, which is missing"
            assert any(line.lstrip("!").rstrip("/") in (source.rstrip("/"),)
                       or source.startswith(line.lstrip("!").rstrip("/") + "/")
                       for line in ignore if line.startswith("!")), (
                f"{dockerfile} copies {source}, which its .dockerignore leaves out")
