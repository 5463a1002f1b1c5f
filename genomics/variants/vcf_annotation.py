"""Functional annotation that pipelines write into INFO: VEP's CSQ and SnpEff's ANN.

Both are declared by their header line, whose Description carries the field order:

- VEP: ``##INFO=<ID=CSQ,...,Description="... Format: Allele|Consequence|IMPACT|SYMBOL|...">``
  (https://www.ensembl.org/info/docs/tools/vep/vep_formats.html#vcfout). One comma-separated
  entry per allele x transcript. VEP writes indel alleles without the base that all alleles
  share (``CTT>C`` is allele ``-``), see `vep_alleles`.
- SnpEff: ``##INFO=<ID=ANN,...,Description="Functional annotations: 'Allele | Annotation |
  Annotation_Impact | Gene_Name | Gene_ID | Feature_Type | Feature_ID | Transcript_BioType |
  Rank | HGVS.c | HGVS.p | ...'">`` (the "VCF annotation format" standard,
  https://pcingola.github.io/SnpEff/adds/VCFannotationformat_v1.0.pdf). Allele is the ALT as
  written; entries come sorted most severe first.

Choosing one entry per ALT: VEP's ALLELE_NUM when present, else the Allele column; then the
entry flagged PICK=1, else CANONICAL=YES, else the first with a protein change, else the first.
For SnpEff, the first entry for the allele.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import GenomicsParseError


@dataclass(frozen=True)
class Annotation:
    gene: str = ""
    transcript: str = ""
    hgvs_c: str = ""
    hgvs_p: str = ""
    consequence: str = ""


NO_ANNOTATION = Annotation()


def field_names_from_description(description: str, marker: str) -> list[str]:
    """The '|'-separated names after `marker` ("Format:" for VEP, ":" for SnpEff)."""
    at = description.find(marker)
    if at == -1:
        return []
    text = description[at + len(marker) :].strip().strip("'\"").strip()
    return [name.strip().strip("'\"").strip() for name in text.split("|")]


def vep_alleles(ref: str, alts: list[str]) -> list[str]:
    """Each ALT as VEP names it in CSQ's Allele column.

    Follows VEP's VCF parser (Bio::EnsEMBL::VEP::Parser::VCF): when any ALT differs in length
    from REF (an indel record), and REF and every ALT (ignoring '*') share their first base,
    that base is dropped from all of them, and an allele left empty is written '-'. A single
    ALT drops the base when it matches REF's first base. SNVs and MNVs are left as they are.
    """
    if all(len(alt) == len(ref) for alt in alts):
        return list(alts)
    alleles = [ref, *(alt for alt in alts if alt != "*")]
    if len({allele[:1] for allele in alleles}) != 1:
        return list(alts)
    return [alt if alt == "*" else (alt[1:] or "-") for alt in alts]


def _clean_hgvs(value: str) -> str:
    """ "ENSP00000275493.2:p.Leu858Arg" -> "p.Leu858Arg"; VEP escapes '=' as %3D."""
    if ":" in value:
        value = value.split(":", 1)[1]
    return value.replace("%3D", "=")


class CsqReader:
    """Reads VEP CSQ values against the field order its header declared."""

    def __init__(self, names: list[str], line: int) -> None:
        if "Allele" not in names:
            raise GenomicsParseError("CSQ header declares no Allele field", line=line)
        self.width = len(names)
        position = {name: i for i, name in enumerate(names)}
        self._allele = position["Allele"]
        self._num = position.get("ALLELE_NUM")
        self._consequence = position.get("Consequence")
        self._symbol = position.get("SYMBOL")
        self._feature = position.get("Feature")
        self._hgvsc = position.get("HGVSc")
        self._hgvsp = position.get("HGVSp")
        self._canonical = position.get("CANONICAL")
        self._pick = position.get("PICK")

    def entries(self, value: str, line: int) -> list[list[str]]:
        entries = [entry.split("|") for entry in value.split(",")]
        for entry in entries:
            if len(entry) != self.width:
                raise GenomicsParseError(
                    f"a CSQ entry has {len(entry)} fields; its header declares {self.width}",
                    line=line,
                )
        return entries

    def pick(self, entries: list[list[str]], alt_index: int, vep_allele: str) -> Annotation:
        if self._num is not None and entries and entries[0][self._num]:
            wanted = str(alt_index + 1)
            candidates = [entry for entry in entries if entry[self._num] == wanted]
        else:
            candidates = [entry for entry in entries if entry[self._allele] == vep_allele]
        if not candidates:
            return NO_ANNOTATION
        best = min(candidates, key=self._rank)  # min() keeps the first of equal ranks
        return Annotation(
            gene=_get(best, self._symbol),
            transcript=_get(best, self._feature),
            hgvs_c=_clean_hgvs(_get(best, self._hgvsc)),
            hgvs_p=_clean_hgvs(_get(best, self._hgvsp)),
            consequence=_get(best, self._consequence).split("&", 1)[0],
        )

    def _rank(self, entry: list[str]) -> tuple[bool, bool, bool]:
        return (
            _get(entry, self._pick) != "1",
            _get(entry, self._canonical) != "YES",
            not _get(entry, self._hgvsp),
        )


class AnnReader:
    """Reads SnpEff ANN values (fixed field order of the ANN standard, checked at the header)."""

    def __init__(self, names: list[str], line: int) -> None:
        position = {name: i for i, name in enumerate(names)}
        needed = ("Allele", "Annotation", "Gene_Name", "Feature_ID", "HGVS.c", "HGVS.p")
        missing = [name for name in needed if name not in position]
        if missing:
            raise GenomicsParseError(f"ANN header does not declare {', '.join(missing)}", line=line)
        self.width = len(names)
        self._allele = position["Allele"]
        self._annotation = position["Annotation"]
        self._gene = position["Gene_Name"]
        self._feature = position["Feature_ID"]
        self._hgvsc = position["HGVS.c"]
        self._hgvsp = position["HGVS.p"]

    def entries(self, value: str, line: int) -> list[list[str]]:
        entries = [entry.split("|") for entry in value.split(",")]
        for entry in entries:
            if len(entry) < max(self._hgvsp, self._allele) + 1:
                raise GenomicsParseError(
                    f"an ANN entry has {len(entry)} fields; its header declares {self.width}",
                    line=line,
                )
        return entries

    def pick(self, entries: list[list[str]], alt: str) -> Annotation:
        for entry in entries:
            if entry[self._allele] == alt:
                return Annotation(
                    gene=entry[self._gene],
                    transcript=entry[self._feature],
                    hgvs_c=_clean_hgvs(entry[self._hgvsc]),
                    hgvs_p=_clean_hgvs(entry[self._hgvsp]),
                    consequence=entry[self._annotation].split("&", 1)[0],
                )
        return NO_ANNOTATION


def _get(entry: list[str], index: int | None) -> str:
    return entry[index] if index is not None else ""
