"""Static files that Python packages ship, served from our own origin (no CDN).

``vendor/plotly.min.js`` is the plotly.js bundle inside the pinned ``plotly`` package, so the
browser library always matches the Python one that builds the figures. ``collectstatic`` copies
it like any other static file; runserver and WhiteNoise's finder mode serve it in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PACKAGE_FILES: dict[str, Path] = {
    "vendor/plotly.min.js": Path(plotly.__file__).parent / "package_data" / "plotly.min.js",
}


class PackageDataFinder(BaseFinder):
    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        source = PACKAGE_FILES.get(path)
        if source is None or not source.is_file():
            return [] if find_all else None
        return [str(source)] if find_all else str(source)

    def list(self, ignore_patterns: Any) -> Any:
        for name, source in PACKAGE_FILES.items():
            storage = FileSystemStorage(location=str(source.parent))
            storage.prefix = str(Path(name).parent)  # type: ignore[attr-defined]
            yield source.name, storage
