"""A small FASTA reader for left-aligning indels: `fetch(chrom, start, end)`, 1-based inclusive.

With a samtools `.fai` index beside the FASTA, only the index is read up front and each fetch
seeks straight to its bases; without one, the file is scanned once to build the same index in
memory. Lines of a sequence must share one width (as samtools requires). Chromosome names match
with or without the "chr" prefix, and "M" / "MT" are the same.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from .model import GenomicsParseError


class ReferenceSequence(Protocol):
    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases start..end (1-based, inclusive), upper case; "" when start > end."""
        ...


def canonical_chrom(chrom: str) -> str:
    """ "chr7" -> "7", "chrM" / "M" -> "MT"; the form SmallVariant uses."""
    if chrom[:3].lower() == "chr":
        chrom = chrom[3:]
    if chrom in ("M", "m", "MT", "mt"):
        return "MT"
    return chrom


@dataclass(frozen=True)
class _IndexEntry:
    length: int
    offset: int
    line_bases: int
    line_width: int


class FastaReference:
    """A FASTA file opened by path; see the module docstring."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise GenomicsParseError("the reference FASTA file does not exist")
        fai = self.path + ".fai"
        self._index = self._read_fai(fai) if os.path.exists(fai) else self._scan()

    def fetch(self, chrom: str, start: int, end: int) -> str:
        entry = self._index.get(canonical_chrom(chrom))
        if entry is None:
            raise GenomicsParseError(f"reference has no sequence named {chrom!r}")
        if start < 1 or end > entry.length:
            raise GenomicsParseError(
                f"{chrom}:{start}-{end} lies outside the reference ({entry.length:,} bases)"
            )
        if start > end:
            return ""
        first = self._file_offset(entry, start - 1)
        last = self._file_offset(entry, end - 1)
        with open(self.path, "rb") as handle:
            handle.seek(first)
            raw = handle.read(last - first + 1)
        return raw.replace(b"\n", b"").replace(b"\r", b"").decode("ascii", "replace").upper()

    @staticmethod
    def _file_offset(entry: _IndexEntry, base: int) -> int:
        row, column = divmod(base, entry.line_bases)
        return entry.offset + row * entry.line_width + column

    @staticmethod
    def _read_fai(path: str) -> dict[str, _IndexEntry]:
        index: dict[str, _IndexEntry] = {}
        with open(path, encoding="ascii", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                fields = line.rstrip("\n").split("\t")
                if len(fields) < 5:
                    raise GenomicsParseError("malformed .fai index", line=number)
                try:
                    length, offset, bases, width = (int(value) for value in fields[1:5])
                except ValueError as exc:
                    raise GenomicsParseError("malformed .fai index", line=number) from exc
                index[canonical_chrom(fields[0])] = _IndexEntry(length, offset, bases, width)
        return index

    def _scan(self) -> dict[str, _IndexEntry]:
        index: dict[str, _IndexEntry] = {}
        name = ""
        length = offset = line_bases = line_width = 0
        short_line_seen = False
        position = 0
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.rstrip(b"\r\n")
                if line.startswith(b">"):
                    if name:
                        index[name] = _IndexEntry(length, offset, line_bases, line_width)
                    words = line[1:].split()
                    if not words:
                        raise GenomicsParseError("FASTA '>' line without a name", line=number)
                    name = canonical_chrom(words[0].decode("ascii", "replace"))
                    length = line_bases = line_width = 0
                    short_line_seen = False
                    offset = position + len(raw)
                elif line:
                    if not name:
                        raise GenomicsParseError("FASTA sequence before any '>' line", line=number)
                    if short_line_seen:
                        raise GenomicsParseError("FASTA lines of uneven width", line=number)
                    if line_bases == 0:
                        line_bases, line_width = len(line), len(raw)
                    elif len(line) > line_bases:
                        raise GenomicsParseError("FASTA lines of uneven width", line=number)
                    short_line_seen = len(line) < line_bases
                    length += len(line)
                position += len(raw)
        if name:
            index[name] = _IndexEntry(length, offset, line_bases, line_width)
        return index


class InMemoryReference:
    """Sequences given as strings: for tests and for callers that already hold the bases."""

    def __init__(self, sequences: dict[str, str]) -> None:
        self._sequences = {canonical_chrom(k): v.upper() for k, v in sequences.items()}

    def fetch(self, chrom: str, start: int, end: int) -> str:
        sequence = self._sequences.get(canonical_chrom(chrom))
        if sequence is None:
            raise GenomicsParseError(f"reference has no sequence named {chrom!r}")
        if start < 1 or end > len(sequence):
            raise GenomicsParseError(f"{chrom}:{start}-{end} lies outside the reference")
        return sequence[start - 1 : end]
