"""Where the analytics files live: ``ROOT/<dataset>/`` folders and ``ROOT/analytics.duckdb``.

ROOT is ``DATA_DIR/analytics`` (so the catalog is `ops.config.Settings.analytics_path`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

CATALOG_NAME: Final = "analytics.duckdb"
COMPACT_NAME: Final = "compact.parquet"
PART_PREFIX: Final = "part-"
EMPTY_PART: Final = "part-00000000000000000000-empty.parquet"
"""A part that is never deleted, so the ``part-*`` glob always matches a file."""


@dataclass(frozen=True)
class AnalyticsLayout:
    root: Path

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> AnalyticsLayout:
        return cls(Path(data_dir) / "analytics")

    @classmethod
    def for_catalog(cls, catalog: Path) -> AnalyticsLayout:
        return cls(Path(catalog).parent)

    @property
    def catalog(self) -> Path:
        return self.root / CATALOG_NAME

    @property
    def docs_dir(self) -> Path:
        """Great Expectations data docs (`crm check`)."""
        return self.root / "quality-docs"

    @property
    def report_file(self) -> Path:
        """Default output of `crm report`."""
        return self.root / "report.html"

    def dataset(self, name: str) -> Path:
        return self.root / name

    def compact_file(self, name: str) -> Path:
        return self.dataset(name) / COMPACT_NAME

    def part_glob(self, name: str) -> str:
        return str(self.dataset(name) / f"{PART_PREFIX}*.parquet")
