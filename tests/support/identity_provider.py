"""A tiny identity provider for tests: its JWKS served over HTTP on 127.0.0.1, its keys
rotated on demand, and access tokens signed as a real provider signs them (RS256/ES256).

No server of the platform is needed (a thread's `http.server`), so both trees use it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://id.example.test/realms/crm"
AUDIENCE = "crm-api"


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private: Any

    @classmethod
    def new(cls, kid: str, algorithm: str = "RS256") -> SigningKey:
        private = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if algorithm == "RS256"
            else ec.generate_private_key(ec.SECP256R1())
        )
        return cls(kid, algorithm, private)

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        key: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**key, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


@dataclass
class LocalProvider:
    """The provider's state: the keys it publishes and how often its JWKS was fetched."""

    keys: list[SigningKey] = field(default_factory=list)
    fetches: int = 0
    url: str = ""

    def publish(self, *keys: SigningKey) -> None:
        """From now on the JWKS holds exactly these keys (a rotation drops the old)."""
        self.keys = list(keys)

    def token(
        self,
        key: SigningKey,
        *,
        subject: str = "alice@example.test",
        role: object = "sales",
        role_claim: str = "role",
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        ttl: timedelta = timedelta(minutes=5),
        now: datetime | None = None,
    ) -> str:
        issued = now or datetime.now(UTC)
        claims = {
            "sub": subject,
            role_claim: role,  # e.g. "roles": ["sales"], as some providers put it
            "iss": issuer,
            "aud": audience,
            "iat": int(issued.timestamp()),
            "exp": int((issued + ttl).timestamp()),
        }
        return jwt.encode(claims, key.private, algorithm=key.algorithm, headers={"kid": key.kid})


@contextmanager
def served_provider(*keys: SigningKey) -> Iterator[LocalProvider]:
    """The provider's JWKS at `provider.url` until the block ends."""
    provider = LocalProvider(list(keys))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.fetches += 1
            body = json.dumps({"keys": [k.jwk() for k in provider.keys]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.url = f"http://127.0.0.1:{server.server_port}/protocol/openid-connect/certs"
    thread = threading.Thread(target=server.serve_forever, name="test-jwks", daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
