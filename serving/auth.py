"""Bearer API keys: the one check of a credential, whatever transport carried it.

REST reads `Authorization: Bearer <key>` (serving/rest/auth.py), gRPC the
`authorization` metadata (serving/grpc/server.py); both ask `ApiKeys.problem`, so the
rule and the sentence are the same on every protocol.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable


class ApiKeys:
    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = tuple(k.encode() for k in keys)

    def __bool__(self) -> bool:
        return bool(self._keys)

    def problem(self, credential: str | bytes | None, where: str) -> str:
        """"" when `credential` ("Bearer <key>") names a valid key, else why not, naming
        `where` ("the Authorization header")."""
        if isinstance(credential, bytes):
            credential = credential.decode("latin-1")
        scheme, _, token = (credential or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return f"{where} must be 'Bearer <api key>'"
        given = token.strip().encode()
        # compare against every key, so timing says nothing about which matched
        if not any([hmac.compare_digest(given, k) for k in self._keys]):
            return f"the API key in {where} is not valid"
        return ""
