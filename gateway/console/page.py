"""The console's page as served: `static/index.html` with its URLs versioned, an import
map, a preload link for every module the first screen imports, and the deployment's
settings inline.

Why each part (the first screen's time on a loaded 2-core machine, bench/NOTES.md):
- versioned URLs (`AssetStore.url`) let the browser keep every file for a year;
- ES modules import each other by relative path (`./ui.js`), which the browser resolves
  to the plain URL; the import map sends each plain URL to its versioned one, so a
  module is fetched once, under the URL it was preloaded and cached as;
- without preload links the browser finds the imports of a module only once it has
  fetched it: one round trip per level of the import graph. The links are derived here
  from the graph of static imports of the page's module scripts, so a new import is
  preloaded without anyone editing the page (links already in the page are replaced);
- the settings (`/console/config.json`) written into the page save a round trip
  between the modules and the first query (`js/config.js` reads them).
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any, Final

from gateway.console.assets import AssetStore

CONFIG_ELEMENT: Final = "console-config"
# `import … from "x"`, `export … from "x"` and `import "x"`; dynamic `import("x")` is
# not a first-screen dependency and is left to load on demand.
STATIC_IMPORT: Final = re.compile(r"""(?:\bfrom|^\s*import)\s*["']([^"']+)["']""", re.M)
PRELOAD_LINK: Final = re.compile(r'[ \t]*<link rel="modulepreload"[^>]*>[ \t]*\n?')
STATIC_URL: Final = re.compile(r'\b(src|href)="(/static/)([^"?#]+)"')
MODULE_SCRIPT: Final = re.compile(r'<script type="module"[^>]*\bsrc="/static/([^"?#]+)"')


def imports_of(store: AssetStore, name: str) -> list[str]:
    """The files `name` imports statically, as store keys, in source order."""
    source = store.assets[name].body.decode("utf-8")
    folder = name.rpartition("/")[0]
    found = []
    for specifier in STATIC_IMPORT.findall(source):
        if not specifier.startswith("."):
            continue  # the console's modules import only by relative path (a unit test)
        parts: list[str] = folder.split("/") if folder else []
        for piece in specifier.split("/"):
            if piece == "..":
                parts.pop()
            elif piece != ".":
                parts.append(piece)
        found.append("/".join(parts))
    return found


def module_graph(store: AssetStore, entries: list[str]) -> list[str]:
    """Every module reachable from `entries` by static imports, breadth first from the
    first entry's, so the modules the browser needs first come first."""
    seen = list(entries)
    queue = deque(entries)
    while queue:
        for target in imports_of(store, queue.popleft()):
            if target not in seen and target in store.assets:
                seen.append(target)
                queue.append(target)
    return seen


def import_map(store: AssetStore) -> str:
    imports = {store.plain_url(name): store.url(name) for name in store.scripts()}
    return json.dumps({"imports": imports}, indent=1)


def inline_json(value: Any) -> str:
    """JSON safe inside a <script> element (no `</script>` can close it early)."""
    return json.dumps(value).replace("<", "\\u003c")


def render_page(template: str, store: AssetStore, config: dict[str, Any]) -> str:
    """The page the browser gets (see the module docstring)."""

    def versioned(match: re.Match[str]) -> str:
        attribute, prefix, name = match.groups()
        url = store.url(name) if name in store.assets else prefix + name
        return f'{attribute}="{url}"'

    page = STATIC_URL.sub(versioned, PRELOAD_LINK.sub("", template))
    # The page's module scripts in page order (js/first-query.js, then js/main.js).
    entries = [name for name in MODULE_SCRIPT.findall(template) if name in store.assets]
    head = [
        f'<script type="application/json" id="{CONFIG_ELEMENT}">{inline_json(config)}</script>',
        f'<script type="importmap">\n{import_map(store)}\n</script>',
        *(
            f'<link rel="modulepreload" href="{store.url(m)}">'
            for m in module_graph(store, entries)
        ),
    ]
    # Before the first stylesheet or script: an import map must precede every module load.
    first = re.search(r"<(?:link|script)\b", page)
    at = first.start() if first else page.index("</head>")
    return page[:at] + "\n".join(head) + "\n" + page[at:]
