"""The shipped knowledge base: schema validation, sources, levels, and hotspot coordinates
checked against published references (not against the file itself)."""

from __future__ import annotations

import copy
import json

import pytest

from genomics.variants.knowledge import (
    ESCAT_TIERS,
    KNOWLEDGE_BASE_PATH,
    LEVELS,
    KnowledgeBaseError,
    load_knowledge_base,
    parse_knowledge_base,
)
from genomics.variants.oncotree import load_oncotree


@pytest.fixture(scope="module")
def raw():
    return json.loads(KNOWLEDGE_BASE_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


def test_the_shipped_knowledge_base_is_versioned_and_dated(kb):
    assert kb.version == "2026.11.0"
    assert kb.released.isoformat() == "2026-11-24"
    assert len(kb.sha256) == 64
    assert "not a substitute for OncoKB" in kb.disclaimer


def test_every_raw_entry_has_sources_and_a_valid_level(raw):
    # Checked on the raw JSON so that a bug in the loader cannot hide a bad entry.
    for entry in raw["entries"]:
        assert entry["sources"], entry["id"]
        assert all(s["citation"].strip() for s in entry["sources"]), entry["id"]
        assert entry["level"] in LEVELS, entry["id"]
        assert entry["escat"] in ESCAT_TIERS or (
            entry["escat"] is None and entry["level"] in ("R1", "R2")
        ), entry["id"]
        assert entry["drugs"], entry["id"]


def test_every_entry_tumour_type_is_a_shipped_oncotree_code(kb):
    tree = load_oncotree()
    for entry in kb.entries:
        for code in entry.tumour_types:
            assert tree.node(code).code == code


@pytest.mark.parametrize(
    ("gene", "kind", "tumour_type", "level", "drug"),
    [
        ("EGFR", "exon_deletion", "NSCLC", "1", "osimertinib"),
        ("EGFR", "exon_insertion", "NSCLC", "1", "amivantamab"),
        ("ALK", "fusion", "NSCLC", "1", "alectinib"),
        ("ROS1", "fusion", "NSCLC", "1", "crizotinib"),
        ("RET", "fusion", "NSCLC", "1", "selpercatinib"),
        ("NTRK1", "fusion", "TISSUE", "1", "larotrectinib"),
        ("NTRK2", "fusion", "TISSUE", "1", "larotrectinib"),
        ("NTRK3", "fusion", "TISSUE", "1", "larotrectinib"),
        ("MET", "exon_skipping", "NSCLC", "1", "capmatinib"),
        ("ERBB2", "amplification", "BRCA", "1", "trastuzumab"),
        ("ERBB2", "amplification", "EGC", "1", "trastuzumab deruxtecan"),
        ("ERBB2", "amplification", "COADREAD", "1", "tucatinib + trastuzumab"),
        ("ERBB2", "mutation", "NSCLC", "1", "trastuzumab deruxtecan"),
        ("BRCA1", "loss_of_function", "OVT", "1", "olaparib"),
        ("BRCA2", "loss_of_function", "PRAD", "1", "olaparib"),
        ("BRCA2", "loss_of_function", "PAAD", "1", "olaparib"),
        ("BRCA1", "loss_of_function", "BRCA", "1", "talazoparib"),
        ("PIK3CA", "mutation", "BRCA", "1", "alpelisib + fulvestrant"),
        ("KRAS", "codon", "COADREAD", "R1", "cetuximab"),
        ("NRAS", "codon", "COADREAD", "R1", "panitumumab"),
        ("IDH1", "codon", "CHOL", "1", "ivosidenib"),
        ("FGFR2", "fusion", "CHOL", "1", "pemigatinib"),
        ("", "msi_high", "TISSUE", "1", "pembrolizumab"),
        ("", "tmb_high", "TISSUE", "1", "pembrolizumab"),
    ],
)
def test_the_required_actionable_alterations_are_present(kb, gene, kind, tumour_type, level, drug):
    # The brief's list (issue 5), with levels from the FDA labels cited in each entry.
    matches = [
        e
        for e in kb.entries
        if e.gene == gene and e.alteration.kind == kind and tumour_type in e.tumour_types
    ]
    assert matches
    assert any(e.level == level and drug in e.drugs for e in matches)


@pytest.mark.parametrize(
    ("change", "tumour_type", "level", "drug"),
    [
        ("L858R", "NSCLC", "1", "osimertinib"),
        ("T790M", "NSCLC", "1", "osimertinib"),
        ("T790M", "NSCLC", "R1", "gefitinib"),
        ("G12C", "NSCLC", "1", "sotorasib"),
        ("G12C", "COADREAD", "1", "adagrasib + cetuximab"),
        ("V600E", "NSCLC", "1", "dabrafenib + trametinib"),
        ("V600E", "MEL", "1", "dabrafenib + trametinib"),
        ("V600E", "COADREAD", "1", "encorafenib + cetuximab"),
        ("H1047R", "BRCA", "1", "capivasertib + fulvestrant"),
    ],
)
def test_point_mutation_entries_carry_their_levels_and_drugs(kb, change, tumour_type, level, drug):
    assert any(
        change in e.alteration.protein_changes
        and tumour_type in e.tumour_types
        and e.level == level
        and drug in e.drugs
        for e in kb.entries
    )


def test_kras_g12c_has_different_regimens_in_nsclc_and_colorectal_cancer(kb):
    nsclc = kb.entry("KRAS-G12C-NSCLC")
    crc = kb.entry("KRAS-G12C-COADREAD")
    assert set(nsclc.drugs).isdisjoint(crc.drugs)  # monotherapy vs anti-EGFR combinations
    assert nsclc.escat != crc.escat


# Hotspot alleles, 1-based VCF positions on the forward strand, from outside this file:
# the issue brief (EGFR L858R, BRAF V600E, KRAS G12C) and public annotation records
# (COSMIC / CIViC / ClinVar as reproduced in public repositories: EGFR T790M
# 7:55249071 / 7:55181378; KRAS G12D 12:25398284 / 12:25245350; KRAS G13D 12:25398281 /
# 12:25245347; NRAS Q61R 1:115256529 / 1:114713908; NRAS Q61K 1:115256530 / 1:114713909;
# PIK3CA E542K 3:178936082 / 3:179218294; E545K 3:178936091 / 3:179218303; H1047R
# 3:178952085 / 3:179234297; IDH1 R132H 2:209113112 / 2:208248388; R132C 2:209113113
# GRCh37; ERBB2 S310F 17:37868208 / 17:39711955, L755S 17:37880220 / 17:39723967 as in
# cBioPortal's example queries).
REFERENCE_HOTSPOTS = [
    ("EGFR", "L858R", "GRCh37", "7", 55259515, "T", "G"),
    ("EGFR", "L858R", "GRCh38", "7", 55191822, "T", "G"),
    ("EGFR", "T790M", "GRCh37", "7", 55249071, "C", "T"),
    ("EGFR", "T790M", "GRCh38", "7", 55181378, "C", "T"),
    ("BRAF", "V600E", "GRCh37", "7", 140453136, "A", "T"),
    ("BRAF", "V600E", "GRCh38", "7", 140753336, "A", "T"),
    ("KRAS", "G12C", "GRCh37", "12", 25398285, "C", "A"),
    ("KRAS", "G12C", "GRCh38", "12", 25245351, "C", "A"),
    ("KRAS", "G12D", "GRCh37", "12", 25398284, "C", "T"),
    ("KRAS", "G12D", "GRCh38", "12", 25245350, "C", "T"),
    ("KRAS", "G13D", "GRCh37", "12", 25398281, "C", "T"),
    ("KRAS", "G13D", "GRCh38", "12", 25245347, "C", "T"),
    ("NRAS", "Q61R", "GRCh37", "1", 115256529, "T", "C"),
    ("NRAS", "Q61R", "GRCh38", "1", 114713908, "T", "C"),
    ("NRAS", "Q61K", "GRCh37", "1", 115256530, "G", "T"),
    ("NRAS", "Q61K", "GRCh38", "1", 114713909, "G", "T"),
    ("PIK3CA", "E542K", "GRCh37", "3", 178936082, "G", "A"),
    ("PIK3CA", "E542K", "GRCh38", "3", 179218294, "G", "A"),
    ("PIK3CA", "E545K", "GRCh37", "3", 178936091, "G", "A"),
    ("PIK3CA", "E545K", "GRCh38", "3", 179218303, "G", "A"),
    ("PIK3CA", "H1047R", "GRCh37", "3", 178952085, "A", "G"),
    ("PIK3CA", "H1047R", "GRCh38", "3", 179234297, "A", "G"),
    ("IDH1", "R132H", "GRCh37", "2", 209113112, "C", "T"),
    ("IDH1", "R132H", "GRCh38", "2", 208248388, "C", "T"),
    ("IDH1", "R132C", "GRCh37", "2", 209113113, "G", "A"),
    ("ERBB2", "S310F", "GRCh37", "17", 37868208, "C", "T"),
    ("ERBB2", "S310F", "GRCh38", "17", 39711955, "C", "T"),
    ("ERBB2", "L755S", "GRCh37", "17", 37880220, "T", "C"),
    ("ERBB2", "L755S", "GRCh38", "17", 39723967, "T", "C"),
]


@pytest.mark.parametrize(
    ("gene", "change", "build", "chrom", "pos", "ref", "alt"), REFERENCE_HOTSPOTS
)
def test_hotspot_coordinates_agree_with_published_positions(
    kb, gene, change, build, chrom, pos, ref, alt
):
    listed = {
        (s.chrom, s.pos, s.ref, s.alt)
        for e in kb.entries
        if e.gene == gene and e.alteration.hotspots
        for s in e.alteration.hotspots[build]
        if s.protein_change == change
    }
    assert listed == {(chrom, pos, ref, alt)}


# Exon boundaries (GRCh37 from the RefSeq/Ensembl canonical transcripts as used by public
# callers: EGFR exon 19 55242415-55242513, exon 20 55248986-55249171; MET exon 14
# 116411903-116412043 (GRCh37) and 116771849-116771989 (GRCh38, MANE)).
@pytest.mark.parametrize(
    ("entry_id", "build", "start", "end"),
    [
        ("EGFR-EX19DEL-NSCLC", "GRCh37", 55242415, 55242513),
        ("EGFR-EX20INS-NSCLC", "GRCh37", 55248986, 55249171),
        ("MET-EX14-NSCLC", "GRCh37", 116411903, 116412043),
        ("MET-EX14-NSCLC", "GRCh38", 116771849, 116771989),
    ],
)
def test_exon_ranges_agree_with_published_boundaries(kb, entry_id, build, start, end):
    region = kb.entry(entry_id).alteration.ranges[build]
    assert (region.start, region.end) == (start, end)


def test_hotspots_of_one_locus_lift_over_by_one_offset(kb):
    # Between GRCh37 and GRCh38 a small locus moves as a block: every hotspot of a gene must
    # shift by the same amount, so a single mistyped position stands out.
    for entry in kb.entries:
        hotspots = entry.alteration.hotspots
        if not hotspots:
            continue
        b38 = {s.protein_change: s for s in hotspots["GRCh38"]}
        offsets = set()
        for spot in hotspots["GRCh37"]:
            other = b38[spot.protein_change]
            assert (other.chrom, other.ref, other.alt) == (spot.chrom, spot.ref, spot.alt)
            offsets.add(other.pos - spot.pos)
        assert len(offsets) == 1, entry.id
    egfr = kb.entry("EGFR-EX19DEL-NSCLC").alteration.ranges
    assert egfr["GRCh38"].start - egfr["GRCh37"].start == 55191822 - 55259515


def test_codon_hotspot_alleles_lie_in_their_codon(kb):
    # KRAS codon 12 is c.34-36 on the minus strand: GRCh37 25398285 (c.34), 25398284 (c.35).
    kras = kb.entry("KRAS-RAS-COADREAD-R1").alteration.hotspots["GRCh37"]
    codon12 = {s.pos for s in kras if s.protein_change.startswith("G12")}
    assert codon12 == {25398285, 25398284}


# --- validation: a curator's typo fails loudly, naming the entry -------------------------


def _broken(raw, mutate):
    data = copy.deepcopy(raw)
    mutate(data)
    return data


def _entry(data, entry_id):
    return next(e for e in data["entries"] if e["id"] == entry_id)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: _entry(d, "EGFR-L858R-NSCLC").update(sources=[]), "at least one source"),
        (lambda d: _entry(d, "EGFR-L858R-NSCLC").pop("sources"), "missing key(s) sources"),
        (lambda d: _entry(d, "EGFR-L858R-NSCLC").update(level="1A"), "level '1A'"),
        (lambda d: _entry(d, "EGFR-L858R-NSCLC").update(level="5"), "level '5'"),
        (lambda d: _entry(d, "EGFR-L858R-NSCLC").update(escat="I-D"), "escat 'I-D'"),
        (lambda d: _entry(d, "EGFR-L858R-NSCLC").update(escat=None), "escat may be null"),
        (lambda d: _entry(d, "EGFR-L858R-NSCLC").update(levle="1"), "unknown key(s) levle"),
        (lambda d: _entry(d, "EGFR-L858R-NSCLC").update(tumour_types=["LUNGX"]), "LUNGX"),
        (lambda d: _entry(d, "EGFR-L858R-NSCLC").update(drugs=[]), "drugs"),
        (
            lambda d: _entry(d, "EGFR-L858R-NSCLC")["alteration"]["hotspots"].pop("GRCh38"),
            "both GRCh37 and GRCh38",
        ),
        (
            lambda d: _entry(d, "EGFR-L858R-NSCLC")["alteration"].update(protein_changes=["L858"]),
            "protein change",
        ),
        (
            lambda d: _entry(d, "EGFR-L858R-NSCLC")["alteration"].update(kind="mutant"),
            "alteration kind 'mutant'",
        ),
        (
            lambda d: _entry(d, "EGFR-L858R-NSCLC")["sources"][0].update(kind="blog"),
            "kind 'blog'",
        ),
        (
            lambda d: _entry(d, "EGFR-L858R-NSCLC")["alteration"].update(codons=[858]),
            "unknown key(s) codons",
        ),
        (
            lambda d: _entry(d, "EGFR-T790M-NSCLC")["sources"][1].pop("pmid"),
            "needs a pmid",
        ),
    ],
)
def test_a_malformed_entry_is_rejected_with_its_id(raw, mutate, message):
    data = _broken(raw, mutate)
    with pytest.raises(KnowledgeBaseError) as caught:
        parse_knowledge_base(data)
    assert message in str(caught.value)
    assert "entry EGFR-" in str(caught.value)


def test_duplicate_ids_are_rejected(raw):
    data = _broken(raw, lambda d: d["entries"].append(copy.deepcopy(d["entries"][0])))
    with pytest.raises(KnowledgeBaseError, match="duplicate id"):
        parse_knowledge_base(data)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(version="v1"), "YYYY.MINOR.PATCH"),
        (lambda d: d.update(released="24/11/2026"), "ISO date"),
        (lambda d: d.update(extra=1), "unknown key(s) extra"),
        (lambda d: d.update(entries=[]), "non-empty"),
    ],
)
def test_a_malformed_header_is_rejected(raw, mutate, message):
    with pytest.raises(KnowledgeBaseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_knowledge_base(_broken(raw, mutate))


def test_a_knowledge_base_file_elsewhere_can_be_loaded(tmp_path, raw):
    data = _broken(raw, lambda d: d.update(version="2027.1.0"))
    path = tmp_path / "kb.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert load_knowledge_base(path).version == "2027.1.0"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="not valid JSON"):
        load_knowledge_base(broken)


# Reference codons (NCBI RefSeq coding sequences of the MANE transcripts) and the gene's strand:
# each curated allele, complemented on the minus strand, must turn the codon into the listed
# amino acid at exactly one codon position whose reference base it names.
REFERENCE_CODONS = {
    ("EGFR", 858): ("CTG", "+"),
    ("EGFR", 790): ("ACG", "+"),
    ("BRAF", 600): ("GTG", "-"),
    ("KRAS", 12): ("GGT", "-"),
    ("KRAS", 13): ("GGC", "-"),
    ("KRAS", 61): ("CAA", "-"),
    ("KRAS", 146): ("GCA", "-"),
    ("NRAS", 12): ("GGT", "-"),
    ("NRAS", 13): ("GGT", "-"),
    ("NRAS", 61): ("CAA", "-"),
    ("PIK3CA", 542): ("GAA", "+"),
    ("PIK3CA", 545): ("GAG", "+"),
    ("PIK3CA", 1047): ("CAT", "+"),
    ("IDH1", 132): ("CGT", "-"),
    ("ERBB2", 310): ("TCT", "+"),
    ("ERBB2", 755): ("TTG", "+"),
}
_BASES = "TCAG"
_AMINO = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
GENETIC_CODE = {
    a + b + c: _AMINO[16 * i + 4 * j + k]
    for i, a in enumerate(_BASES)
    for j, b in enumerate(_BASES)
    for k, c in enumerate(_BASES)
}
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def test_every_curated_allele_translates_to_its_protein_change(kb):
    from genomics.variants.hgvs import parse_protein_change

    checked = 0
    codon_starts: dict[tuple[str, str, int], set[int]] = {}
    for entry in kb.entries:
        for build, spots in (entry.alteration.hotspots or {}).items():
            for spot in spots:
                change = parse_protein_change(spot.protein_change)
                codon, strand = REFERENCE_CODONS[(entry.gene, change.position)]
                assert GENETIC_CODE[codon] == change.ref, (entry.id, spot)
                ref, alt = spot.ref, spot.alt
                if strand == "-":
                    ref, alt = ref.translate(COMPLEMENT), alt.translate(COMPLEMENT)
                fits = [
                    i
                    for i in range(3)
                    if codon[i] == ref
                    and GENETIC_CODE[codon[:i] + alt + codon[i + 1 :]] == change.alt
                ]
                assert len(fits) == 1, (entry.id, build, spot)
                # where the codon's first coding base lies: the same for every allele of it
                first = spot.pos - fits[0] if strand == "+" else spot.pos + fits[0]
                codon_starts.setdefault((build, entry.gene, change.position), set()).add(first)
                checked += 1
    assert checked >= 60
    assert all(len(starts) == 1 for starts in codon_starts.values()), codon_starts
