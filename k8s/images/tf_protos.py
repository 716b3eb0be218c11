"""Copy TensorFlow's generated protobuf modules out of a TensorFlow install or wheel.

    python k8s/images/tf_protos.py tensorflow_cpu-2.21.0-....whl OUT
    python k8s/images/tf_protos.py .venv/lib/python3.11/site-packages OUT

The `tfserving` backend talks to TF Serving through `tensorflow-serving-api`,
whose generated modules import `tensorflow.core.framework.tensor_pb2` and a few
other `tensorflow.core` protos, and nothing else of TensorFlow. Installing
TensorFlow (about 1.9 GB, or 600 MB for tensorflow-cpu) for those is what the
gateway image avoids: the image build copies every `tensorflow/**/*_pb2.py`
(under 1 MB) into OUT/tensorflow/, with package `__init__.py` files, and the
top-level `tensorflow/__init__.py` is a stub, so importing `tensorflow.core...`
never loads the TensorFlow runtime. Anything that needs real TensorFlow (the
`embedded` backend) fails loudly with a sentence saying why.

Standard library only: it runs in the image's build stage before anything is
installed.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

STUB = '''"""Protobuf modules of TensorFlow only (k8s/images/tf_protos.py); not TensorFlow.

This image serves models through TF Serving (MULTIHEAD_BACKEND=tfserving) and
ships only the `tensorflow.core` protobuf modules that tensorflow-serving-api
imports. The `embedded` backend needs the real tensorflow package.
"""


def __getattr__(name):
    # AttributeError keeps `from tensorflow import core` working (the import system
    # falls back to the subpackage) while `tf.constant` and friends fail clearly.
    raise AttributeError(
        f"tensorflow.{name} is not available: this image ships only TensorFlow's "
        "protobuf modules for the tfserving backend; install tensorflow for the "
        "embedded backend")
'''


def _members(source: Path) -> dict[str, bytes]:
    """`tensorflow/...._pb2.py` relative path -> content, from a wheel or a directory."""
    if source.is_file():
        with zipfile.ZipFile(source) as wheel:
            return {name: wheel.read(name) for name in wheel.namelist()
                    if name.startswith("tensorflow/") and name.endswith("_pb2.py")}
    root = source / "tensorflow"
    if not root.is_dir():
        raise SystemExit(f"{source} holds no tensorflow/ package")
    return {path.relative_to(source).as_posix(): path.read_bytes()
            for path in root.rglob("*_pb2.py")}


def extract(source: Path, out: Path) -> int:
    members = _members(source)
    if not any(name.endswith("core/framework/tensor_pb2.py") for name in members):
        raise SystemExit(f"{source}: no tensorflow/core/framework/tensor_pb2.py in it")
    packages: set[Path] = set()
    for name, content in members.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        parent = Path(name).parent
        while parent != Path("."):
            packages.add(parent)
            parent = parent.parent
    for package in packages:
        init = out / package / "__init__.py"
        init.write_text(STUB if package == Path("tensorflow") else "")
    return len(members)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    count = extract(Path(argv[0]), Path(argv[1]))
    print(f"copied {count} TensorFlow protobuf modules into {argv[1]}/tensorflow")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
