"""Generate the gateway's Python gRPC stubs from proto/ into a package directory.

    python scripts/gen_proto.py serving/grpc/_gen
    python scripts/gen_proto.py clients/python/multihead_client/_proto

grpcio-tools writes `from multihead.v1 import gateway_pb2`; the import is made
relative so the stubs live inside whichever package generates them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent.parent / "proto"
PROTOS = ["multihead/v1/gateway.proto"]


def generate(out_dir: Path, proto_root: Path = PROTO_ROOT) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / ".staging"
    staging.mkdir(exist_ok=True)
    for proto in PROTOS:
        args = ["protoc", f"-I{proto_root}", f"-I{Path(protoc.__file__).parent / '_proto'}",
                f"--python_out={staging}", f"--grpc_python_out={staging}",
                f"--pyi_out={staging}", str(proto_root / proto)]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {proto}")
        generated = staging / Path(proto).parent
        for path in generated.glob("*_pb2*.py*"):
            text = re.sub(r"^from multihead\.v1 import (\w+)", r"from . import \1",
                          path.read_text(), flags=re.M)
            (out_dir / path.name).write_text(text)
    init = out_dir / "__init__.py"
    if not init.exists():
        init.write_text('"""Generated gRPC stubs (scripts/gen_proto.py); not edited by hand."""\n')
    for path in sorted(staging.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    staging.rmdir()


if __name__ == "__main__":
    for target in sys.argv[1:] or ["serving/grpc/_gen"]:
        generate(Path(target))
        print(f"generated gRPC stubs in {target}")
