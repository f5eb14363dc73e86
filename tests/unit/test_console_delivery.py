"""How the console's files reach the browser (issue 17, "first screen within 1 s"): every
file cached for a year under a URL carrying its digest, text gzipped, 304 when
unchanged, and a page that preloads every module its scripts import (derived here from
the import graph, independently of the server's own walk), maps every plain module URL
to its versioned one, and carries its settings inline. Timing is the bench's business
(`crm bench console`); these fail when a part of the delivery breaks."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from gateway.console import STATIC_DIR, console_routes
from gateway.console.assets import IMMUTABLE, AssetStore, accepts_gzip
from gateway.console.page import imports_of, inline_json

ORIGIN = "http://console.test"
IMPORTED = re.compile(r"""(?:^|[\s;}])(?:import|export)\b[^"'();]*?["']([^"']+)["']""", re.M)
MODULE_SCRIPT = re.compile(r'<script type="module"[^>]*src="([^"]+)"')
PRELOADS = re.compile(r'<link rel="modulepreload" href="([^"]+)">')


def digest(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:16]


def versioned(name: str) -> str:
    return f"/static/{name}?v={digest(name)}"


def static_imports(name: str) -> list[str]:
    """The files `name` imports statically (import/export ... from, bare import)."""
    source = (STATIC_DIR / name).read_text()
    folder = (STATIC_DIR / name).parent
    return [
        (folder / spec).resolve().relative_to(STATIC_DIR.resolve()).as_posix()
        for spec in IMPORTED.findall(source)
        if spec.startswith(".")
    ]


def first_screen_modules(page: str) -> set[str]:
    """Every module the page's module scripts reach by static imports."""
    todo = [url.split("?")[0].removeprefix("/static/") for url in MODULE_SCRIPT.findall(page)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(static_imports(name))
    return seen


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=console_routes("Europe/Berlin"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http:
        yield http


async def test_versioned_files_are_immutable_others_revalidate(
    client: httpx.AsyncClient,
) -> None:
    fresh = await client.get(versioned("js/api.js"))
    assert fresh.headers["cache-control"] == IMMUTABLE
    assert fresh.headers["etag"] == f'"{digest("js/api.js")}"'
    plain = await client.get("/static/js/api.js")
    assert plain.headers["cache-control"] == "no-cache"
    stale = await client.get("/static/js/api.js?v=0123456789abcdef")  # an older release's
    assert stale.headers["cache-control"] == "no-cache"
    assert plain.content == stale.content == (STATIC_DIR / "js/api.js").read_bytes()


@pytest.mark.parametrize("name", ["js/main.js", "console.css", "vendor/graphiql-3.8.3.min.js"])
async def test_text_files_are_gzipped_for_a_browser_that_accepts_it(
    client: httpx.AsyncClient, name: str
) -> None:
    raw = (STATIC_DIR / name).read_bytes()
    packed = await client.get(versioned(name), headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert int(packed.headers["content-length"]) < len(raw) / 2
    assert packed.content == raw  # httpx decoded it
    plain = await client.get(versioned(name), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == raw


def test_accept_encoding_is_read_with_its_weights() -> None:
    assert accepts_gzip("gzip, deflate, br") and accepts_gzip("br;q=1.0, gzip;q=0.5")
    assert accepts_gzip("*") and not accepts_gzip("gzip;q=0") and not accepts_gzip("br")
    assert not accepts_gzip("") and not accepts_gzip("identity")


async def test_an_unchanged_file_or_page_answers_304(client: httpx.AsyncClient) -> None:
    script = await client.get(versioned("js/main.js"))
    again = await client.get(
        versioned("js/main.js"), headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    page = await client.get("/")
    assert page.headers["cache-control"] == "no-cache"
    revisit = await client.get("/", headers={"If-None-Match": page.headers["etag"]})
    assert revisit.status_code == 304


async def test_the_page_preloads_every_module_its_scripts_import(
    client: httpx.AsyncClient,
) -> None:
    """A module without a preload link is fetched only once its importer has arrived:
    a round trip per level of the graph. A new import is preloaded, or this fails."""
    page = (await client.get("/")).text
    modules = first_screen_modules(page)
    assert {"js/main.js", "js/first-query.js", "js/screens/customers.js"} <= modules
    assert "vendor/htm-preact-3.1.1.mjs" in modules
    assert set(PRELOADS.findall(page)) == {versioned(name) for name in modules}


async def test_the_first_screen_waits_for_no_other_screen(client: httpx.AsyncClient) -> None:
    """Other screens load on first use (`js/lazy.js`): a static import of one from the
    first screen's modules puts its code, and its own imports, in front of the list."""
    page = (await client.get("/")).text
    screens = {name for name in first_screen_modules(page) if name.startswith("js/screens/")}
    assert screens == {"js/screens/customers.js", "js/screens/customers-query.js"}


async def test_every_script_is_mapped_to_its_versioned_url(client: httpx.AsyncClient) -> None:
    """Modules import each other by relative (plain) URL; the import map sends each to the
    URL it was preloaded and cached under, so nothing is fetched twice."""
    page = (await client.get("/")).text
    found = re.search(r'<script type="importmap">(.*?)</script>', page, re.S)
    assert found
    imports = json.loads(found.group(1))["imports"]
    scripts = [p.relative_to(STATIC_DIR).as_posix() for p in STATIC_DIR.rglob("*.*js")]
    assert scripts and imports == {f"/static/{name}": versioned(name) for name in scripts}
    # A map read after a module started loading is ignored by the browser.
    assert page.index('type="importmap"') < page.index('rel="modulepreload"')
    assert page.index('type="importmap"') < page.index('<link rel="stylesheet"')


async def test_every_file_the_page_names_is_versioned(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert urls and all(
        url == versioned(url.split("?")[0].removeprefix("/static/")) for url in urls
    )


async def test_the_settings_are_in_the_page(client: httpx.AsyncClient) -> None:
    """`js/config.js` reads them there: no round trip before the first query."""
    page = (await client.get("/")).text
    found = re.search(r'<script type="application/json" id="console-config">(.*?)</script>', page)
    assert found
    assert json.loads(found.group(1)) == {"timeZone": "Europe/Berlin", "graphqlPath": "/graphql"}
    assert "</script>" not in inline_json({"x": "</script><script>alert(1)"})


def test_the_graph_walk_knows_every_form_of_static_import(tmp_path: Path) -> None:
    (tmp_path / "js" / "sub").mkdir(parents=True)
    (tmp_path / "js" / "main.js").write_text(
        'import { a,\n  b } from "./a.js";\nimport "./side.js";\nexport * from "./sub/c.js";\n'
        'import d from "../d.mjs";\nconst later = () => import("./lazy.js");\n'
    )
    store = AssetStore(tmp_path, "/static")
    assert imports_of(store, "js/main.js") == ["js/a.js", "js/side.js", "js/sub/c.js", "d.mjs"]


def test_gzip_is_computed_once_not_per_request() -> None:
    store = AssetStore(STATIC_DIR, "/static")
    asset = store.assets["js/main.js"]
    assert asset.gzipped and gzip.decompress(asset.gzipped) == asset.body
