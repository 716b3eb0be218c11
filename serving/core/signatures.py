"""The one rule for which signature of a version serves a request.

A named signature must exist (FAILED_PRECONDITION otherwise, as TF Serving answers an
unknown signature key, tensorflow_serving/servables/tensorflow/predict_util.cc). No name
means `serving_default`; a SavedModel that has none (a foreign export) is served by its
first signature in name order, the same one its metadata describes on every protocol.
"""

from __future__ import annotations

from serving.errors import FailedPrecondition, Unavailable, quote
from serving.types import DEFAULT_SIGNATURE, ModelVersion, SignatureSpec

__all__ = ["DEFAULT_SIGNATURE", "default_signature", "pick_signature"]


def default_signature(mv: ModelVersion) -> SignatureSpec:
    spec = mv.signatures.get(DEFAULT_SIGNATURE)
    if spec is not None:
        return spec
    if not mv.signatures:
        raise Unavailable(f"Model '{mv.name}' version {mv.version} has no signatures to serve.")
    return mv.signatures[min(mv.signatures)]


def pick_signature(mv: ModelVersion, name: str = "") -> SignatureSpec:
    if not name:
        return default_signature(mv)
    spec = mv.signatures.get(name)
    if spec is None:
        raise FailedPrecondition(
            f"Signature {quote(name)} not found in model '{mv.name}' version {mv.version}; "
            f"it has: {', '.join(sorted(mv.signatures)) or 'none'}.")
    return spec
