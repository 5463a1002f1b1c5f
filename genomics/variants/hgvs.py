"""HGVS protein-change parsing and normalisation (3-letter <-> 1-letter).

Annotation pipelines write the same change several ways: VEP ``ENSP00000275493.2:p.Leu858Arg``,
MAF ``HGVSp_Short`` ``p.L858R``, predicted changes in parentheses ``p.(L858R)``, stops as ``*``,
``Ter`` or the legacy ``X``, and VEP URL-escapes ``=`` as ``%3D``. Everything is parsed to one
:class:`ProteinChange` whose ``one_letter`` form (``L858R``, ``E746_A750del``, ``Q61*``) is what
the knowledge base lists and what matching compares.

Reference: HGVS Nomenclature, protein sequence variants (varnomen.hgvs.org/recommendations/protein).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

THREE_TO_ONE: dict[str, str] = {
    "Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E",
    "Gly": "G", "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F",
    "Pro": "P", "Ser": "S", "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Sec": "U",
    "Pyl": "O", "Ter": "*", "Xaa": "X",
}  # fmt: skip
ONE_TO_THREE: dict[str, str] = {one: three for three, one in THREE_TO_ONE.items()}

ChangeKind = Literal[
    "missense",
    "nonsense",
    "synonymous",
    "frameshift",
    "deletion",
    "insertion",
    "duplication",
    "delins",
    "stop_lost",
    "start_lost",
    "unknown",
]


class HgvsError(ValueError):
    """A protein change that is not valid HGVS (or a legacy form of it)."""


@dataclass(frozen=True)
class ProteinChange:
    """One protein change. Amino acids are 1-letter codes, ``*`` for stop."""

    kind: ChangeKind
    ref: str = ""  # first affected residue
    position: int = 0
    end_ref: str = ""  # last affected residue of a range (del, dup, ins flank, delins)
    end_position: int = 0
    alt: str = ""  # substituted residue, inserted/replacing sequence, or frameshift's first
    fs_length: str = ""  # frameshift/extension length as written ("17", "?"), informational

    @property
    def last_position(self) -> int:
        return self.end_position or self.position

    @property
    def codons(self) -> range:
        return range(self.position, self.last_position + 1)

    @property
    def is_inframe_deletion(self) -> bool:
        """Residues removed without a frameshift: a deletion, or a delins that shortens."""
        if self.kind == "deletion":
            return True
        return self.kind == "delins" and len(self.alt) < len(self.codons)

    @property
    def is_inframe_insertion(self) -> bool:
        """Residues added without a frameshift: insertion, duplication, lengthening delins."""
        if self.kind in ("insertion", "duplication"):
            return True
        return self.kind == "delins" and len(self.alt) > len(self.codons)

    @property
    def is_truncating(self) -> bool:
        return self.kind in ("nonsense", "frameshift")

    @property
    def one_letter(self) -> str:
        """The short form the knowledge base uses, without ``p.``: ``L858R``."""
        return self._render(lambda aa: aa)

    @property
    def three_letter(self) -> str:
        """The HGVS 3-letter form with ``p.``: ``p.Leu858Arg``."""
        return "p." + self._render(lambda aa: "".join(ONE_TO_THREE.get(a, a) for a in aa))

    def _render(self, conv: Callable[[str], str]) -> str:
        if self.kind == "unknown":
            return "?"
        first = f"{conv(self.ref)}{self.position}"
        span = first + (f"_{conv(self.end_ref)}{self.end_position}" if self.end_position else "")
        stop = "*" if conv("*") == "*" else "Ter"
        if self.kind in ("missense", "nonsense"):
            return f"{first}{conv(self.alt)}"
        if self.kind == "synonymous":
            return f"{first}="
        if self.kind == "start_lost":
            return f"{first}?"
        if self.kind == "frameshift":
            tail = f"{stop}{self.fs_length}" if self.fs_length else ""
            return f"{first}{conv(self.alt)}fs{tail}"
        if self.kind == "stop_lost":
            return f"{first}{conv(self.alt)}ext{stop}{self.fs_length or '?'}"
        if self.kind in ("deletion", "duplication"):
            return span + ("del" if self.kind == "deletion" else "dup")
        if self.kind == "insertion":
            return f"{span}ins{conv(self.alt)}"
        return f"{span}delins{conv(self.alt)}"

    def __str__(self) -> str:
        return self.one_letter


# Only the known codes are swapped: a 1-letter form like "E23Vfs" must not read as "Vfs".
_THREE_LETTER = re.compile("|".join(THREE_TO_ONE))
_AA = r"[A-Z*]"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("synonymous", re.compile(rf"^({_AA})(\d+)=$")),
    ("start_lost", re.compile(r"^(M)(1)\?$")),
    ("substitution", re.compile(rf"^({_AA})(\d+)({_AA})$")),
    ("frameshift", re.compile(rf"^({_AA})(\d+)({_AA}?)fs(?:[*X](\d+|\?))?$")),
    ("stop_lost", re.compile(rf"^(\*)(\d+)({_AA})ext\*?(\d+|\?)?$")),
    ("delins", re.compile(rf"^({_AA})(\d+)(?:_({_AA})(\d+))?delins({_AA}+)$")),
    ("deletion", re.compile(rf"^({_AA})(\d+)(?:_({_AA})(\d+))?del$")),
    ("duplication", re.compile(rf"^({_AA})(\d+)(?:_({_AA})(\d+))?dup$")),
    ("insertion", re.compile(rf"^({_AA})(\d+)_({_AA})(\d+)ins({_AA}+|\d+)$")),
)


def _to_one_letter(body: str) -> str:
    return _THREE_LETTER.sub(lambda match: THREE_TO_ONE[match.group(0)], body)


def _strip(text: str) -> str:
    body = text.strip().replace("%3D", "=")
    if ":" in body:  # "ENSP00000275493.2:p.Leu858Arg"
        body = body.rsplit(":", 1)[1]
    if body.startswith("p."):
        body = body[2:]
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    return body


def parse_protein_change(text: str) -> ProteinChange:
    """Parse ``p.Leu858Arg``, ``p.L858R``, ``p.(L858R)``, ``L858R``, ``p.Q61*``, ``p.Gln61Ter``,
    ``p.Q61X``, ``p.E23Vfs*17``, ``p.Glu746_Ala750del``, ``p.A767_V769dup``,
    ``p.D770_N771insG``, ``p.L747_T751delinsP``, ``p.L858=``, ``p.M1?``, ``p.*1211Qext*?``.

    ``p.?``, ``p.0`` and ``p.=`` (no known or no protein change) give kind ``unknown``.
    Raises :class:`HgvsError` on anything else.
    """
    body = _strip(text)
    if body in ("?", "0", "0?", "=", ""):
        if not text.strip():
            raise HgvsError("empty protein change")
        return ProteinChange(kind="unknown")
    body = _to_one_letter(body)
    for name, pattern in _PATTERNS:
        match = pattern.match(body)
        if match is None:
            continue
        groups = match.groups()
        ref, pos = groups[0], int(groups[1])
        if pos < 1:
            raise HgvsError("protein position must be >= 1")
        if name == "synonymous":
            return ProteinChange(kind="synonymous", ref=ref, position=pos)
        if name == "start_lost":
            return ProteinChange(kind="start_lost", ref=ref, position=pos)
        if name == "substitution":
            alt = "*" if groups[2] == "X" else groups[2]  # legacy "X" for stop (p.Q61X)
            if alt == ref:
                return ProteinChange(kind="synonymous", ref=ref, position=pos)
            if ref == "*":
                return ProteinChange(kind="stop_lost", ref=ref, position=pos, alt=alt)
            if ref == "M" and pos == 1:
                return ProteinChange(kind="start_lost", ref=ref, position=pos, alt=alt)
            kind: ChangeKind = "nonsense" if alt == "*" else "missense"
            return ProteinChange(kind=kind, ref=ref, position=pos, alt=alt)
        if name == "frameshift":
            return ProteinChange(
                kind="frameshift", ref=ref, position=pos, alt=groups[2], fs_length=groups[3] or ""
            )
        if name == "stop_lost":
            return ProteinChange(
                kind="stop_lost", ref=ref, position=pos, alt=groups[2], fs_length=groups[3] or ""
            )
        end_ref = groups[2] or ""
        end_pos = int(groups[3]) if groups[3] else 0
        if end_pos and end_pos <= pos:
            raise HgvsError("range end must follow its start")
        alt = groups[4] if len(groups) > 4 and groups[4] else ""
        if name == "insertion" and alt.isdigit():
            alt = "X" * int(alt)  # "ins4": four unspecified residues
        if name == "insertion" and end_pos != pos + 1:
            raise HgvsError("an insertion lies between two adjacent residues")
        return ProteinChange(
            kind=name,  # type: ignore[arg-type]  # the pattern names are ChangeKind values
            ref=ref,
            position=pos,
            end_ref=end_ref,
            end_position=end_pos,
            alt=alt,
        )
    raise HgvsError(f"not an HGVS protein change: {text.strip()[:40]!r}")


def normalise_protein_change(text: str) -> str:
    """The 1-letter short form: ``p.Leu858Arg`` -> ``L858R``; raises :class:`HgvsError`."""
    return parse_protein_change(text).one_letter


def try_parse_protein_change(text: str) -> ProteinChange | None:
    """Like :func:`parse_protein_change`, but ``None`` for empty or unparseable text."""
    if not text or not text.strip():
        return None
    try:
        return parse_protein_change(text)
    except HgvsError:
        return None
