"""Build hook: generate the gRPC stubs of proto/multihead/v1/gateway.proto into
multihead_client/_proto while the wheel is built, so `pip install ./clients/python`
works from the checkout with nothing but pip (grpcio-tools is a build requirement).

The stubs' own version checks (protobuf gencode version, GRPC_GENERATED_VERSION)
need runtimes at least as new as the generator, so the runtime floors for grpcio
and protobuf are taken from the generator that ran. This mirrors
scripts/gen_proto.py, which the repository's `make proto` uses; it is repeated here
because an sdist carries neither scripts/ nor ../../proto (it gets a proto/ copy).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
PROTO = "multihead/v1/gateway.proto"
# The checkout's proto/ first; an unpacked sdist has its own copy beside setup.py.
PROTO_ROOTS = (HERE.parent.parent / "proto", HERE / "proto")
PACKAGE_PROTO = HERE / "multihead_client" / "_proto"
BASE_DEPENDENCIES = ["numpy>=1.26,<3", "httpx>=0.27,<1"]


def proto_root() -> Path | None:
    return next((r for r in PROTO_ROOTS if (r / PROTO).is_file()), None)


def generate(root: Path, out_dir: Path) -> None:
    """Run protoc (grpcio-tools) and make the stubs' imports relative."""
    from grpc_tools import protoc

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        args = ["protoc", f"-I{root}", f"-I{Path(protoc.__file__).parent / '_proto'}",
                f"--python_out={staging}", f"--grpc_python_out={staging}",
                f"--pyi_out={staging}", str(root / PROTO)]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {root / PROTO}")
        for path in (Path(staging) / Path(PROTO).parent).glob("*_pb2*.py*"):
            text = re.sub(r"^from multihead\.v1 import (\w+)", r"from . import \1",
                          path.read_text(), flags=re.M)
            (out_dir / path.name).write_text(text)
    init = out_dir / "__init__.py"
    if not init.exists():
        init.write_text('"""Generated gRPC stubs; not edited by hand."""\n')


def dependencies() -> list[str]:
    """numpy, httpx, and grpcio/protobuf no older than the stub generator."""
    try:
        tools = version("grpcio-tools")
    except PackageNotFoundError:  # metadata queried without the build requirements
        return [*BASE_DEPENDENCIES, "grpcio>=1.70,<2", "protobuf>=5.29,<8"]
    gencode = "5.29.0"
    root = proto_root()
    if root is not None:
        with tempfile.TemporaryDirectory() as out:
            generate(root, Path(out))
            found = re.search(r"Protobuf Python Version: ([\d.]+)",
                              (Path(out) / "gateway_pb2.py").read_text())
            gencode = found.group(1) if found else gencode
    return [*BASE_DEPENDENCIES, f"grpcio>={tools},<2", f"protobuf>={gencode},<8"]


class BuildPy(build_py):
    """build_py, then the stubs into the build tree (in-tree for editable installs)."""

    def run(self) -> None:
        super().run()
        root = proto_root()
        if self.editable_mode:
            # The checkout's stubs are (re)made by `make proto` with the venv's own
            # grpcio-tools; only fill them in when missing.
            if root is not None and not (PACKAGE_PROTO / "gateway_pb2.py").exists():
                generate(root, PACKAGE_PROTO)
            return
        target = Path(self.build_lib) / "multihead_client" / "_proto"
        if root is not None:
            generate(root, target)
        elif not (target / "gateway_pb2.py").exists():
            raise SystemExit(f"cannot find {PROTO} in {' or '.join(map(str, PROTO_ROOTS))}")


class Sdist(sdist):
    """sdist that carries proto/ so the wheel can be built from it alone."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        root = proto_root()
        if root is not None and root != HERE / "proto":
            shutil.copytree(root / "multihead", Path(base_dir) / "proto" / "multihead",
                            dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist}, install_requires=dependencies())
