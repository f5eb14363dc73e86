"""The console's static files, served from memory: versioned, compressed, cached.

Every file under `static/` is read once when the gateway builds its routes. A file's URL
may carry its content digest (`/static/js/api.js?v=<digest>`, see `AssetStore.url`): such
a response is cached for a year as immutable, so a warm visit asks for nothing but the
page. A release that changes a file changes its digest, hence its URL; the page that
names the URLs is revalidated on every visit (`no-cache` + ETag, 304 when unchanged).
A URL without the digest, or with another one (a page of an older release during a
rolling deploy), is answered with the current bytes, `no-cache` and an ETag.

Text files are gzipped once (level 9, not per request) and sent gzipped to a browser that
accepts it; large ones (GraphiQL's 3.5 MB) on first request, in a worker thread, so the
gateway's start does not wait for them. No `stat`, `open` or thread hop per request for
the console's own files: on a loaded machine every hop waits for a CPU, and the first
screen fetches ~25 files.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

IMMUTABLE: Final = "public, max-age=31536000, immutable"
REVALIDATE: Final = "no-cache"
DIGEST_LENGTH: Final = 16
COMPRESSIBLE: Final = frozenset({".js", ".mjs", ".css", ".html", ".json", ".svg", ".map"})
# Above this size, gzip on first request (in a thread) instead of at start.
EAGER_GZIP_BYTES: Final = 256 * 1024
MEDIA_TYPES: Final = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css"}


def media_type(path: Path) -> str:
    known = MEDIA_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    kind = known or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether `Accept-Encoding` allows gzip (`gzip` or `*`, not with `q=0`)."""
    for part in accept_encoding.split(","):
        coding, *params = [piece.strip() for piece in part.split(";")]
        if coding.lower() in ("gzip", "*"):
            quality = next((p[2:] for p in params if p.startswith("q=")), "1")
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False


def mounted_path(scope: Scope) -> str:
    """The request's path below the mount point (as starlette's StaticFiles finds it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


@dataclass
class Asset:
    """One file: its bytes, its gzip (when smaller), type and content digest."""

    body: bytes
    media_type: str
    digest: str
    compressible: bool
    gzipped: bytes | None = field(default=None, repr=False)

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'

    def compress(self) -> None:
        if self.compressible and self.gzipped is None:
            packed = gzip.compress(self.body, compresslevel=9, mtime=0)
            self.gzipped = packed if len(packed) < len(self.body) else b""


def read_asset(path: Path) -> Asset:
    body = path.read_bytes()
    asset = Asset(
        body=body,
        media_type=media_type(path),
        digest=hashlib.sha256(body).hexdigest()[:DIGEST_LENGTH],
        compressible=path.suffix in COMPRESSIBLE,
    )
    if len(body) <= EAGER_GZIP_BYTES:
        asset.compress()
    return asset


class AssetStore:
    """The files under `root`, keyed by their path relative to it ("js/api.js")."""

    def __init__(self, root: Path, prefix: str) -> None:
        self.root = root
        self.prefix = prefix.rstrip("/")
        self.assets: dict[str, Asset] = {
            path.relative_to(root).as_posix(): read_asset(path)
            for path in sorted(root.rglob("*"))
            if path.is_file()
        }

    def url(self, name: str) -> str:
        """The versioned URL of `name` (cached as immutable by browsers)."""
        return f"{self.prefix}/{name}?v={self.assets[name].digest}"

    def plain_url(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def scripts(self) -> list[str]:
        """Every script file: the import map names them all, so a module may import any
        of them (`api.js` imports the UMD graphql-ws on first use)."""
        return [name for name in self.assets if name.endswith((".js", ".mjs"))]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app mounted at `prefix`."""
        request = Request(scope, receive)
        response = await self.respond(request)
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(status_code=405, headers={"Allow": "GET, HEAD"})
        asset = self.assets.get(mounted_path(request.scope).lstrip("/"))
        if asset is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        versioned = request.query_params.get("v") == asset.digest
        headers = {
            "Cache-Control": IMMUTABLE if versioned else REVALIDATE,
            "ETag": asset.etag,
        }
        if asset.compressible:
            headers["Vary"] = "Accept-Encoding"
        if asset.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = asset.body
        if asset.compressible and accepts_gzip(request.headers.get("accept-encoding", "")):
            if asset.gzipped is None:
                await anyio.to_thread.run_sync(asset.compress)
            if asset.gzipped:
                body = asset.gzipped
                headers["Content-Encoding"] = "gzip"
        return Response(body, headers=headers, media_type=asset.media_type)
