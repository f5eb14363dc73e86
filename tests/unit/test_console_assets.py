"""The console and GraphiQL load nothing from outside the gateway, every file they name
ships in the package, and the vendored files are the ones the README records."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from gateway.console import STATIC_DIR, console_routes
from gateway.graphiql import graphiql_html

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = STATIC_DIR.parent
URL_ATTRIBUTE = re.compile(r'(?:src|href)="([^"]+)"')
IMPORT = re.compile(r'(?:from|import)\s+"([^"]+)"')


def local_file(url: str) -> Path:
    assert url.startswith("/static/"), f"{url} is not served by the gateway"
    return STATIC_DIR / url.removeprefix("/static/")


@pytest.mark.parametrize(
    "page", [(STATIC_DIR / "index.html").read_text(), graphiql_html()], ids=["console", "graphiql"]
)
def test_pages_name_only_files_the_gateway_serves(page: str) -> None:
    urls = URL_ATTRIBUTE.findall(page)
    assert urls, "the page names no script or stylesheet"
    for url in urls:
        assert local_file(url).is_file(), url
    assert "http://" not in page and "https://" not in page


def test_every_module_import_resolves_to_a_shipped_file() -> None:
    modules = list((STATIC_DIR / "js").rglob("*.js"))
    assert len(modules) > 10
    for module in modules:
        for target in IMPORT.findall(module.read_text()):
            assert target.startswith("."), f"{module.name} imports {target} from outside"
            assert (module.parent / target).resolve().is_file(), f"{module.name}: {target}"


def test_vendored_files_match_the_recorded_digests() -> None:
    vendor = STATIC_DIR / "vendor"
    recorded = dict(
        (name, digest)
        for digest, name in re.findall(
            r"^([0-9a-f]{64})  (\S+)$", (vendor / "README.md").read_text(), re.M
        )
    )
    shipped = {p.name for p in vendor.iterdir() if p.suffix in (".js", ".mjs", ".css")}
    assert set(recorded) == shipped
    for name, digest in recorded.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name


def test_package_data_covers_every_static_file() -> None:
    """A non-editable install ships exactly what pyproject's package-data names."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["gateway.console"]
    covered = {path for pattern in patterns for path in PACKAGE.glob(pattern) if path.is_file()}
    files = {path for path in STATIC_DIR.rglob("*") if path.is_file()}
    assert files - covered == set()


async def test_routes_serve_the_page_the_config_and_the_files() -> None:
    app = Starlette(routes=console_routes("Europe/Berlin"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        page = await client.get("/")
        assert page.status_code == 200 and 'src="/static/js/main.js?v=' in page.text
        config = (await client.get("/console/config.json")).json()
        assert config == {"timeZone": "Europe/Berlin", "graphqlPath": "/graphql"}
        script = await client.get("/static/vendor/graphiql-3.8.3.min.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert (await client.get("/static/../__init__.py")).status_code == 404


async def test_the_time_zone_defaults_to_shanghai() -> None:
    app = Starlette(routes=console_routes(None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        config = (await client.get("/console/config.json")).json()
    assert config["timeZone"] == "Asia/Shanghai"
