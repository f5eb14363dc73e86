"""Export the GraphQL schema the gateway serves to `schemas/schema.graphql`.

    python -m schemas.export_sdl          # rewrite the file
    python -m schemas.export_sdl --check  # exit 1 when the file and the code disagree

`tests/unit/test_gateway_sdl.py` runs the check, so a schema change in `gateway/` that
is not exported fails the build. Front-end clients generate their types from the file.
"""

from __future__ import annotations

import sys
from pathlib import Path

SDL_FILE = Path(__file__).parent / "schema.graphql"
HEADER = (
    "# The GraphQL schema served at /graphql, exported from gateway/schema by\n"
    "# `python -m schemas.export_sdl`. Do not edit: change the code and export again.\n\n"
)


def served_sdl() -> str:
    from gateway.schema import sdl

    return HEADER + sdl()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = served_sdl()
    if "--check" in args:
        current = SDL_FILE.read_text() if SDL_FILE.exists() else ""
        if current != text:
            print(f"{SDL_FILE} is out of date: run python -m schemas.export_sdl", file=sys.stderr)
            return 1
        return 0
    SDL_FILE.write_text(text)
    print(f"wrote {SDL_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
