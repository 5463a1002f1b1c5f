"""The curated actionability knowledge base: load ``knowledge/actionability.json``, validate it.

Validation is strict and names the entry at fault: an unknown key, a level that is not an OncoKB
therapeutic level, an ESCAT tier that does not exist, a tumour type outside the shipped OncoTree,
an entry without sources, a point-mutation hotspot given for one genome build only. The file is
data that a curator edits; a typo must fail loudly at load time, never match silently.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from .hgvs import HgvsError, parse_protein_change
from .oncotree import UnknownOncoTreeCode, load_oncotree

KNOWLEDGE_BASE_PATH = Path(__file__).parent / "knowledge" / "actionability.json"
BUILDS = ("GRCh37", "GRCh38")

# OncoKB Therapeutic Levels of Evidence v2 (oncokb.org/levels): sensitive then resistance.
LEVELS = ("1", "2", "3A", "3B", "4", "R1", "R2")
RESISTANCE_LEVELS = frozenset({"R1", "R2"})
# ESCAT (Mateo et al., Ann Oncol 2018; PMID 30137196).
ESCAT_TIERS = (
    "I-A",
    "I-B",
    "I-C",
    "II-A",
    "II-B",
    "III-A",
    "III-B",
    "IV",
    "IV-A",
    "IV-B",
    "V",
    "X",
)
ALTERATION_KINDS = (
    "mutation",  # listed protein changes (+ hotspots per build)
    "codon",  # any missense change at the listed codons (+ hotspots per build)
    "exon_deletion",  # in-frame deletion within an exon (codon range + genomic range per build)
    "exon_insertion",  # in-frame insertion within an exon
    "exon_skipping",  # splice-site variants that skip the exon (MET exon 14)
    "loss_of_function",  # truncating, canonical splice site, homozygous deletion
    "amplification",
    "deletion",  # homozygous deletion (copy-number call)
    "fusion",
    "msi_high",
    "tmb_high",
)
SOURCE_KINDS = ("FDA label", "EMA label", "guideline", "PMID", "OncoKB", "other")

_TOP_KEYS = {"version", "released", "title", "disclaimer", "entries"}
_ENTRY_KEYS = {"id", "gene", "alteration", "tumour_types", "level", "escat", "drugs", "sources"}
_ENTRY_OPTIONAL = {"note"}
_ALTERATION_KEYS: dict[str, tuple[set[str], set[str]]] = {  # kind -> (required, optional)
    "mutation": ({"protein_changes"}, {"hotspots"}),
    "codon": ({"codons"}, {"hotspots"}),
    "exon_deletion": ({"exon", "codon_range", "ranges"}, set()),
    "exon_insertion": ({"exon", "codon_range", "ranges"}, set()),
    "exon_skipping": ({"exon", "ranges"}, {"splice_window"}),
    "loss_of_function": (set(), {"excluded_protein_changes"}),
    "amplification": (set(), set()),
    "deletion": (set(), set()),
    "fusion": ({"partners"}, set()),
    "msi_high": (set(), set()),
    "tmb_high": ({"threshold_mut_per_mb"}, set()),
}
_SOURCE_KEYS = {"kind", "citation"}
_SOURCE_OPTIONAL = {"pmid", "url"}
_VERSION = re.compile(r"^\d{4}\.\d{1,2}\.\d+$")
_ID = re.compile(r"^[A-Z0-9][A-Z0-9_-]*$")
_GENE = re.compile(r"^[A-Z0-9][A-Z0-9-]*$")
_ALLELE = re.compile(r"^[ACGT]+$")
_CHROM = re.compile(r"^([1-9]|1\d|2[0-2]|X|Y|MT)$")


class KnowledgeBaseError(ValueError):
    """The knowledge-base file is malformed; the message names the entry and the reason."""


@dataclass(frozen=True)
class Hotspot:
    chrom: str
    pos: int
    ref: str
    alt: str
    protein_change: str


@dataclass(frozen=True)
class GenomicRange:
    chrom: str
    start: int
    end: int  # inclusive, 1-based


@dataclass(frozen=True)
class Source:
    kind: str
    citation: str
    pmid: str = ""
    url: str = ""


@dataclass(frozen=True)
class Alteration:
    kind: str
    protein_changes: tuple[str, ...] = ()  # 1-letter, normalised
    excluded_protein_changes: tuple[str, ...] = ()  # benign truncations a LoF rule ignores
    codons: tuple[int, ...] = ()
    codon_range: tuple[int, int] | None = None
    exon: int | None = None
    hotspots: dict[str, tuple[Hotspot, ...]] | None = None  # build -> hotspots
    ranges: dict[str, GenomicRange] | None = None  # build -> range
    splice_window: int = 25
    partners: tuple[str, ...] = ()  # fusion partners; empty = any partner
    threshold_mut_per_mb: float | None = None


@dataclass(frozen=True)
class KbEntry:
    id: str
    gene: str
    alteration: Alteration
    tumour_types: tuple[str, ...]
    level: str
    escat: str | None
    drugs: tuple[str, ...]
    sources: tuple[Source, ...]
    note: str = ""

    @property
    def is_resistance(self) -> bool:
        return self.level in RESISTANCE_LEVELS

    @property
    def label(self) -> str:
        """A human label for the alteration: "EGFR exon 19 deletion", "KRAS G12C"."""
        alt = self.alteration
        if alt.kind == "mutation":
            return f"{self.gene} {'/'.join(alt.protein_changes[:3])}" + (
                " (and others)" if len(alt.protein_changes) > 3 else ""
            )
        if alt.kind == "codon":
            return f"{self.gene} codon {', '.join(str(c) for c in alt.codons)} mutation"
        if alt.kind == "exon_deletion":
            return f"{self.gene} exon {alt.exon} deletion"
        if alt.kind == "exon_insertion":
            return f"{self.gene} exon {alt.exon} insertion"
        if alt.kind == "exon_skipping":
            return f"{self.gene} exon {alt.exon} skipping"
        if alt.kind == "loss_of_function":
            return f"{self.gene} loss of function"
        if alt.kind == "fusion":
            return f"{self.gene} fusion"
        if alt.kind == "msi_high":
            return "MSI-H"
        if alt.kind == "tmb_high":
            return "TMB-high"
        return f"{self.gene} {alt.kind}"


@dataclass(frozen=True, eq=False)  # identity equality: hashable for the gene index cache
class KnowledgeBase:
    version: str
    released: date
    title: str
    disclaimer: str
    entries: tuple[KbEntry, ...]
    sha256: str  # of the file's bytes: provenance for every annotation made with it
    path: str

    def entry(self, entry_id: str) -> KbEntry:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(entry_id)

    def entries_for_gene(self, gene: str) -> tuple[KbEntry, ...]:
        return _gene_index(self).get(gene.upper(), ())


@lru_cache(maxsize=8)
def _gene_index(kb: KnowledgeBase) -> dict[str, tuple[KbEntry, ...]]:
    index: dict[str, list[KbEntry]] = {}
    for entry in kb.entries:
        index.setdefault(entry.gene, []).append(entry)
    return {gene: tuple(items) for gene, items in index.items()}


def load_knowledge_base(path: str | Path | None = None) -> KnowledgeBase:
    """Load and validate the knowledge base (the shipped file when ``path`` is None).

    Raises :class:`KnowledgeBaseError` naming the entry and the problem.
    """
    resolved = Path(path) if path is not None else KNOWLEDGE_BASE_PATH
    return _load_cached(str(resolved.resolve()), resolved.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load_cached(path: str, _mtime_ns: int) -> KnowledgeBase:
    data = Path(path).read_bytes()
    try:
        raw = json.loads(data)
    except json.JSONDecodeError as exc:
        raise KnowledgeBaseError(f"{Path(path).name}: not valid JSON (line {exc.lineno})") from exc
    return parse_knowledge_base(raw, sha256=hashlib.sha256(data).hexdigest(), path=path)


def parse_knowledge_base(raw: Any, *, sha256: str = "", path: str = "") -> KnowledgeBase:
    """Validate an already-decoded knowledge base (used by the loader and by tests)."""
    if not isinstance(raw, dict):
        raise KnowledgeBaseError("the knowledge base must be a JSON object")
    _keys("knowledge base", raw, _TOP_KEYS, set())
    version = raw["version"]
    if not isinstance(version, str) or not _VERSION.match(version):
        raise KnowledgeBaseError(f"version {version!r} is not YYYY.MINOR.PATCH")
    try:
        released = date.fromisoformat(raw["released"])
    except (TypeError, ValueError) as exc:
        raise KnowledgeBaseError("released must be an ISO date (YYYY-MM-DD)") from exc
    if not isinstance(raw["entries"], list) or not raw["entries"]:
        raise KnowledgeBaseError("entries must be a non-empty list")
    entries = []
    seen: set[str] = set()
    for position, item in enumerate(raw["entries"], start=1):
        entry = _entry(item, position)
        if entry.id in seen:
            raise KnowledgeBaseError(f"entry {entry.id}: duplicate id")
        seen.add(entry.id)
        entries.append(entry)
    return KnowledgeBase(
        version=version,
        released=released,
        title=str(raw["title"]),
        disclaimer=str(raw["disclaimer"]),
        entries=tuple(entries),
        sha256=sha256,
        path=path,
    )


def _keys(where: str, obj: Any, required: set[str], optional: set[str]) -> None:
    if not isinstance(obj, dict):
        raise KnowledgeBaseError(f"{where}: must be an object")
    unknown = set(obj) - required - optional
    if unknown:
        raise KnowledgeBaseError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    missing = required - set(obj)
    if missing:
        raise KnowledgeBaseError(f"{where}: missing key(s) {', '.join(sorted(missing))}")


def _entry(item: Any, position: int) -> KbEntry:
    entry_id = item.get("id") if isinstance(item, dict) else None
    where = f"entry {entry_id}" if isinstance(entry_id, str) else f"entry #{position}"
    _keys(where, item, _ENTRY_KEYS, _ENTRY_OPTIONAL)

    def fail(reason: str) -> KnowledgeBaseError:
        return KnowledgeBaseError(f"{where}: {reason}")

    if not isinstance(entry_id, str) or not _ID.match(entry_id):
        raise fail("id must be upper-case letters, digits, '-' or '_'")
    level = item["level"]
    if level not in LEVELS:
        raise fail(f"level {level!r} is not one of {', '.join(LEVELS)}")
    escat = item["escat"]
    if escat is None:
        if level not in RESISTANCE_LEVELS:
            raise fail("escat may be null only for resistance (R1/R2) entries")
    elif escat not in ESCAT_TIERS:
        raise fail(f"escat {escat!r} is not an ESCAT tier")
    sources = item["sources"]
    if not isinstance(sources, list) or not sources:
        raise fail("at least one source is required")
    parsed_sources = tuple(_source(s, where, i) for i, s in enumerate(sources, start=1))
    drugs = item["drugs"]
    if not isinstance(drugs, list) or not drugs or not all(isinstance(d, str) and d for d in drugs):
        raise fail("drugs must be a non-empty list of names")
    tumour_types = item["tumour_types"]
    if not isinstance(tumour_types, list) or not tumour_types:
        raise fail("tumour_types must be a non-empty list of OncoTree codes")
    tree = load_oncotree()
    for code in tumour_types:
        try:
            if tree.node(code).code != code:
                raise fail(f"tumour type {code!r} must be written as {tree.node(code).code}")
        except UnknownOncoTreeCode as exc:
            raise fail(f"tumour type {code!r} is not in the OncoTree subset") from exc
    gene = item["gene"]
    alteration = _alteration(item["alteration"], where)
    biomarker = alteration.kind in ("msi_high", "tmb_high")
    if biomarker and gene != "":
        raise fail('a tumour-level biomarker (MSI-H, TMB-high) has gene ""')
    if not biomarker and (not isinstance(gene, str) or not _GENE.match(gene)):
        raise fail(f"gene {gene!r} is not an HGNC-style symbol")
    note = item.get("note", "")
    if not isinstance(note, str):
        raise fail("note must be text")
    return KbEntry(
        id=entry_id,
        gene=gene,
        alteration=alteration,
        tumour_types=tuple(tumour_types),
        level=level,
        escat=escat,
        drugs=tuple(drugs),
        sources=parsed_sources,
        note=note,
    )


def _source(obj: Any, where: str, index: int) -> Source:
    _keys(f"{where}: source {index}", obj, _SOURCE_KEYS, _SOURCE_OPTIONAL)
    if obj["kind"] not in SOURCE_KINDS:
        raise KnowledgeBaseError(f"{where}: source {index} kind {obj['kind']!r} is not known")
    if not isinstance(obj["citation"], str) or len(obj["citation"].strip()) < 10:
        raise KnowledgeBaseError(f"{where}: source {index} needs a citation")
    pmid = str(obj.get("pmid", ""))
    if pmid and not pmid.isdigit():
        raise KnowledgeBaseError(f"{where}: source {index} pmid must be digits")
    if obj["kind"] == "PMID" and not pmid:
        raise KnowledgeBaseError(f"{where}: source {index} of kind PMID needs a pmid")
    return Source(kind=obj["kind"], citation=obj["citation"], pmid=pmid, url=obj.get("url", ""))


def _alteration(obj: Any, where: str) -> Alteration:
    if not isinstance(obj, dict) or obj.get("kind") not in ALTERATION_KINDS:
        kind = obj.get("kind") if isinstance(obj, dict) else None
        raise KnowledgeBaseError(f"{where}: alteration kind {kind!r} is not known")
    kind = obj["kind"]
    required, optional = _ALTERATION_KEYS[kind]
    _keys(f"{where}: alteration", obj, required | {"kind"}, optional)

    def fail(reason: str) -> KnowledgeBaseError:
        return KnowledgeBaseError(f"{where}: {reason}")

    protein_changes: tuple[str, ...] = ()
    if kind == "mutation":
        if not obj["protein_changes"]:
            raise fail("a mutation lists at least one protein change")
        try:
            protein_changes = tuple(
                parse_protein_change(pc).one_letter for pc in obj["protein_changes"]
            )
        except HgvsError as exc:
            raise fail(f"protein change: {exc}") from exc
    excluded: tuple[str, ...] = ()
    try:
        excluded = tuple(
            parse_protein_change(pc).one_letter for pc in obj.get("excluded_protein_changes", [])
        )
    except HgvsError as exc:
        raise fail(f"excluded protein change: {exc}") from exc
    codons: tuple[int, ...] = ()
    if kind == "codon":
        codons = tuple(obj["codons"])
        if not codons or not all(isinstance(c, int) and c > 0 for c in codons):
            raise fail("codons must be positive integers")
    hotspots = None
    if "hotspots" in obj:
        hotspots = _hotspots(obj["hotspots"], fail)
        if kind == "mutation":
            for build, spots in hotspots.items():
                for spot in spots:
                    if spot.protein_change not in protein_changes:
                        raise fail(f"{build} hotspot {spot.protein_change} is not listed")
        if kind == "codon":
            for build, spots in hotspots.items():
                for spot in spots:
                    if parse_protein_change(spot.protein_change).position not in codons:
                        raise fail(f"{build} hotspot {spot.protein_change} is not at a codon")
    ranges = None
    if "ranges" in obj:
        ranges = _ranges(obj["ranges"], fail)
    codon_range = None
    if "codon_range" in obj:
        first, last = obj["codon_range"]
        if not (isinstance(first, int) and isinstance(last, int) and 0 < first <= last):
            raise fail("codon_range must be [first, last]")
        codon_range = (first, last)
    partners: tuple[str, ...] = ()
    if kind == "fusion":
        partners = tuple(p.upper() for p in obj["partners"])
    threshold = None
    if kind == "tmb_high":
        threshold = float(obj["threshold_mut_per_mb"])
        if threshold <= 0:
            raise fail("threshold_mut_per_mb must be positive")
    return Alteration(
        kind=kind,
        protein_changes=protein_changes,
        excluded_protein_changes=excluded,
        codons=codons,
        codon_range=codon_range,
        exon=obj.get("exon"),
        hotspots=hotspots,
        ranges=ranges,
        splice_window=int(obj.get("splice_window", 25)),
        partners=partners,
        threshold_mut_per_mb=threshold,
    )


def _hotspots(obj: Any, fail: Any) -> dict[str, tuple[Hotspot, ...]]:
    if not isinstance(obj, dict) or set(obj) != set(BUILDS):
        raise fail("hotspots are given for both GRCh37 and GRCh38")
    result: dict[str, tuple[Hotspot, ...]] = {}
    for build in BUILDS:
        spots = []
        for spot in obj[build]:
            try:
                _keys(
                    f"{build} hotspot",
                    spot,
                    {"chrom", "pos", "ref", "alt", "protein_change"},
                    set(),
                )
            except KnowledgeBaseError as exc:
                raise fail(str(exc)) from exc
            if not _CHROM.match(str(spot["chrom"])):
                raise fail(f"{build} hotspot chromosome {spot['chrom']!r} (no 'chr' prefix)")
            if not isinstance(spot["pos"], int) or spot["pos"] < 1:
                raise fail(f"{build} hotspot position must be a positive integer")
            if not (_ALLELE.match(spot["ref"]) and _ALLELE.match(spot["alt"])):
                raise fail(f"{build} hotspot alleles must be A/C/G/T")
            spots.append(
                Hotspot(
                    chrom=spot["chrom"],
                    pos=spot["pos"],
                    ref=spot["ref"],
                    alt=spot["alt"],
                    protein_change=parse_protein_change(spot["protein_change"]).one_letter,
                )
            )
        result[build] = tuple(spots)
    names = {b: sorted(s.protein_change for s in result[b]) for b in BUILDS}
    if names["GRCh37"] != names["GRCh38"]:
        raise fail("hotspots differ between GRCh37 and GRCh38")
    return result


def _ranges(obj: Any, fail: Any) -> dict[str, GenomicRange]:
    if not isinstance(obj, dict) or set(obj) != set(BUILDS):
        raise fail("ranges are given for both GRCh37 and GRCh38")
    result = {}
    for build in BUILDS:
        try:
            _keys(f"{build} range", obj[build], {"chrom", "start", "end"}, set())
        except KnowledgeBaseError as exc:
            raise fail(str(exc)) from exc
        item = obj[build]
        if not _CHROM.match(str(item["chrom"])):
            raise fail(f"{build} range chromosome {item['chrom']!r}")
        if not (isinstance(item["start"], int) and isinstance(item["end"], int)):
            raise fail(f"{build} range bounds must be integers")
        if not 0 < item["start"] <= item["end"]:
            raise fail(f"{build} range start must not exceed its end")
        if (item["end"] - item["start"]) != (obj["GRCh37"]["end"] - obj["GRCh37"]["start"]):
            raise fail("the GRCh37 and GRCh38 ranges differ in length")
        result[build] = GenomicRange(chrom=item["chrom"], start=item["start"], end=item["end"])
    return result
