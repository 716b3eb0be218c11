"""Generate the Python gRPC stubs of the project's own .proto files (proto/).

    python scripts/gen_proto.py            # every protocol room's stubs, into the room's _gen/
    python scripts/gen_proto.py DIR ...    # the gateway API's stubs into DIR (the SDK's)

A protocol room declares the protos it serves in `GRPC_PROTOS` in its `__init__.py`
(serving/protocols/); this script reads that literal without importing the room, so it
runs where only grpcio-tools is installed (the gateway image's build stage).
grpcio-tools writes `from multihead.v1 import gateway_pb2`; the import is made relative
so the stubs live inside whichever package generates them.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
ROOMS = ROOT / "serving" / "protocols"
GATEWAY_PROTOS = ("multihead/v1/gateway.proto",)


def room_protos(rooms: Path = ROOMS) -> dict[Path, tuple[str, ...]]:
    """Each room's stub folder (`<room>/_gen`) -> the protos its `GRPC_PROTOS` names."""
    found = {}
    for init in sorted(rooms.glob("*/__init__.py")):
        for node in ast.parse(init.read_text()).body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "GRPC_PROTOS" for t in node.targets):
                found[init.parent / "_gen"] = tuple(ast.literal_eval(node.value))
    return found


def generate(out_dir: Path, protos: tuple[str, ...] = GATEWAY_PROTOS,
             proto_root: Path = PROTO_ROOT) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / ".staging"
    staging.mkdir(exist_ok=True)
    for proto in protos:
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
    targets = {Path(d): GATEWAY_PROTOS for d in sys.argv[1:]} or room_protos()
    for target, protos in targets.items():
        generate(target, protos)
        print(f"generated gRPC stubs in {target}")
