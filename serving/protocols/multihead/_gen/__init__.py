"""Generated gRPC stubs (scripts/gen_proto.py); not edited by hand."""
