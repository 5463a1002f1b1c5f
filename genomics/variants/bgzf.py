"""Reading a report's bytes: a path, raw bytes or a binary file; plain text or gzip/BGZF.

BGZF (the blocked gzip that bgzip and htslib write) is a series of ordinary gzip members, so it
is read member by member with zlib; plain single-member gzip is the same case with one member.
The decompressed size is capped while decompressing, so a small compressed "bomb" cannot exhaust
memory. A stream that stops inside a member is a truncated file: the error names the line the
text had reached.
"""

from __future__ import annotations

import os
import zlib
from typing import BinaryIO

from .model import GenomicsParseError

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024  # decompressed text; whole files are held in memory
_CHUNK = 64 * 1024  # one BGZF block holds at most 64 KiB of compressed data


def source_name(source: Source) -> str:
    """A short name for messages: the file's base name, never its content."""
    if isinstance(source, str | os.PathLike):
        return os.path.basename(os.fspath(source))
    name = getattr(source, "name", "")
    return os.path.basename(name) if isinstance(name, str) else ""


def read_raw(source: Source, *, max_bytes: int) -> bytes:
    """The bytes as stored (still compressed if they are), at most `max_bytes` of them."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | os.PathLike):
        try:
            with open(source, "rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise GenomicsParseError(f"cannot read the file ({exc.strerror})") from exc
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1)
        if not isinstance(data, bytes | bytearray):
            raise GenomicsParseError("the file must be opened in binary mode")
        data = bytes(data)
    else:
        raise GenomicsParseError(f"unsupported source type {type(source).__name__}")
    if len(data) > max_bytes:
        # for plain text, say how far the limit reached; a compressed offset means nothing
        line = None if is_gzip(data) else data.count(b"\n", 0, max_bytes) + 1
        raise GenomicsParseError(f"file larger than the {max_bytes:,}-byte limit", line=line)
    return data


def is_gzip(data: bytes) -> bool:
    return data[:2] == GZIP_MAGIC


def gunzip_members(data: bytes, *, max_bytes: int) -> bytes:
    """Decompress every gzip member in turn (BGZF or plain gzip), capped at `max_bytes`."""
    out = bytearray()
    view = memoryview(data)
    pos = 0
    size = len(data)
    while pos < size:
        if view[pos : pos + 2] != GZIP_MAGIC:
            raise GenomicsParseError(
                "data after the last gzip member is not gzip", line=out.count(b"\n") + 1
            )
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while not member.eof:
            if pos >= size:
                raise GenomicsParseError(
                    "truncated bgzip: the stream ends inside a compressed block",
                    line=out.count(b"\n") + 1,
                )
            chunk = view[pos : pos + _CHUNK]
            pos += len(chunk)
            try:
                out += member.decompress(chunk)
            except zlib.error as exc:
                raise GenomicsParseError("corrupt gzip data", line=out.count(b"\n") + 1) from exc
            if len(out) > max_bytes:
                raise GenomicsParseError(
                    f"decompressed text larger than the {max_bytes:,}-byte limit",
                    line=out.count(b"\n") + 1,
                )
        pos -= len(member.unused_data)
    return bytes(out)


def read_text(source: Source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The whole text of a report, decompressed and decoded (UTF-8; ASCII is a subset)."""
    data = read_raw(source, max_bytes=max_bytes)
    if is_gzip(data):
        data = gunzip_members(data, max_bytes=max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GenomicsParseError(
            "not UTF-8 text", line=data.count(b"\n", 0, exc.start) + 1
        ) from exc


def split_lines(text: str, *, max_line_length: int) -> list[str]:
    """Lines without their terminators (LF or CRLF); trailing empty lines dropped.

    Every line is checked against the length cap here, once, so the parsers need not."""
    lines = text.split("\n")
    while lines and lines[-1] in ("", "\r"):
        lines.pop()
    if "\r" in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if max(map(len, lines), default=0) > max_line_length:
        for number, line in enumerate(lines, start=1):
            if len(line) > max_line_length:
                raise GenomicsParseError(
                    f"line longer than the {max_line_length:,}-character limit", line=number
                )
    return lines
