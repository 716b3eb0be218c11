"""Bearer keys: the one check of a credential, whatever transport carried it.

REST reads `Authorization: Bearer <key>` (serving/rest/auth.py), gRPC the
`authorization` metadata (serving/grpc/server.py); both ask `ApiKeys.check`, so the
rules and the sentences are the same on every protocol:

| call | no key configured | no / malformed credential | unknown key | API key | admin key |
| --- | --- | --- | --- | --- | --- |
| inference (not open) | passes | 401 | 401 | passes | passes |
| management | 403 (closed) | 401 | 401 | 403 | passes |

"No key configured" means no API key for inference calls and no admin key for management
calls: management is closed unless `MULTIHEAD_ADMIN_KEYS` is set, and an inference key
never opens it (401 is UNAUTHENTICATED, 403 PERMISSION_DENIED). Logs name a caller by
`key_id`, a fingerprint of the key, never by the key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from serving.errors import PermissionDenied, Unauthenticated

ANONYMOUS = "anonymous"


def key_id(credential: str | bytes | None) -> str:
    """Who presented `credential`, for logs: `key:` and the first 12 hex digits of the
    key's SHA-256 (`echo -n KEY | sha256sum | cut -c1-12` gives the same), or ANONYMOUS."""
    token = _token(credential)
    if not token:
        return ANONYMOUS
    return "key:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def _token(credential: str | bytes | None) -> str:
    if isinstance(credential, bytes):
        credential = credential.decode("latin-1")
    scheme, _, token = (credential or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class ApiKeys:
    """The inference keys (`api_keys`) and the admin keys (`admin_keys`)."""

    def __init__(self, keys: Iterable[str], admin_keys: Iterable[str] = ()) -> None:
        self._admin = tuple(k.encode() for k in admin_keys)
        self._keys = tuple(k.encode() for k in keys)

    def __bool__(self) -> bool:
        """Whether inference calls need a key."""
        return bool(self._keys)

    def check(self, credential: str | bytes | None, where: str,
              management: bool = False) -> None:
        """Raise Unauthenticated or PermissionDenied unless `credential` ("Bearer <key>",
        read from `where`, e.g. "the Authorization header") opens this kind of call."""
        if management and not self._admin:
            raise PermissionDenied("Model management is closed on this gateway: it has no "
                                   "admin key (MULTIHEAD_ADMIN_KEYS).")
        if not management and not self._keys:
            return
        token = _token(credential)
        if not token:
            kind = "admin key" if management else "api key"
            raise Unauthenticated(f"{where} must be 'Bearer <{kind}>'")
        given = token.encode()
        if _matches(given, self._admin):
            return
        if _matches(given, self._keys):
            if management:
                raise PermissionDenied(f"the key in {where} is an API key; model management "
                                       "needs an admin key (MULTIHEAD_ADMIN_KEYS)")
            return
        raise Unauthenticated(f"the API key in {where} is not valid")


def _matches(given: bytes, keys: tuple[bytes, ...]) -> bool:
    # compare against every key, so timing says nothing about which matched
    return any([hmac.compare_digest(given, k) for k in keys])
