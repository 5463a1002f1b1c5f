"""The JSON parser every API view uses (settings.REST_FRAMEWORK DEFAULT_PARSER_CLASSES)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """JSON where pathologically nested input ("[[[[..." ten thousand deep) is a 400, not a
    RecursionError escaping as a 500. (An oversized body is refused before parsing: DRF reads
    request.body, whose size check core.api.errors turns into a 413.)"""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from exc
