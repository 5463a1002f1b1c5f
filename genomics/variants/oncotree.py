"""OncoTree tumour types: a shipped subset of the hierarchy and the ICD-O-3 bridge to it.

Knowledge-base entries name the tumour type they apply to; an entry applies to that node and
everything below it ("listed for NSCLC" applies to a LUAD; "TISSUE" is tumour-agnostic).
The subset lives in ``knowledge/oncotree.json``; see ``knowledge/README.md`` to extend it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ONCOTREE_PATH = Path(__file__).parent / "knowledge" / "oncotree.json"
ROOT = "TISSUE"


class UnknownOncoTreeCode(ValueError):
    """A tumour-type code that is not in the shipped OncoTree subset."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"unknown OncoTree code {code[:32]!r}")


@dataclass(frozen=True)
class OncoTreeNode:
    code: str
    name: str
    parent: str | None


@dataclass(frozen=True)
class OncoTree:
    version: str
    nodes: dict[str, OncoTreeNode]

    def node(self, code: str) -> OncoTreeNode:
        key = code.strip().upper()
        if key not in self.nodes:
            raise UnknownOncoTreeCode(code)
        return self.nodes[key]

    def lineage(self, code: str) -> tuple[str, ...]:
        """The code and its ancestors up to the root: LUAD -> (LUAD, NSCLC, LUNG, TISSUE)."""
        chain = []
        node: OncoTreeNode | None = self.node(code)
        while node is not None:
            chain.append(node.code)
            node = self.nodes[node.parent] if node.parent else None
        return tuple(chain)

    def is_descendant(self, code: str, ancestor: str) -> bool:
        """True when ``code`` is ``ancestor`` or lies below it. Both must be known codes."""
        return self.node(ancestor).code in self.lineage(code)


def _load(path: Path) -> OncoTree:
    raw = json.loads(path.read_text(encoding="utf-8"))
    nodes: dict[str, OncoTreeNode] = {}
    for item in raw["nodes"]:
        code = item["code"]
        if code in nodes:
            raise ValueError(f"{path.name}: duplicate OncoTree code {code}")
        nodes[code] = OncoTreeNode(code=code, name=item["name"], parent=item["parent"])
    for node in nodes.values():
        if node.parent is None and node.code != ROOT:
            raise ValueError(f"{path.name}: {node.code} has no parent")
        if node.parent is not None and node.parent not in nodes:
            raise ValueError(f"{path.name}: {node.code} has unknown parent {node.parent}")
    tree = OncoTree(version=raw["version"], nodes=nodes)
    for code in nodes:  # a cycle would make lineage() loop forever
        if len(tree.lineage(code)) > len(nodes):
            raise ValueError(f"{path.name}: cycle at {code}")
    return tree


@lru_cache(maxsize=4)
def load_oncotree(path: Path | None = None) -> OncoTree:
    return _load(path or ONCOTREE_PATH)


def oncotree_node(code: str) -> OncoTreeNode:
    """The node for ``code`` (case-insensitive); raises :class:`UnknownOncoTreeCode`."""
    return load_oncotree().node(code)


def is_descendant(code: str, ancestor: str) -> bool:
    """True when tumour type ``code`` is ``ancestor`` or below it (LUAD under NSCLC)."""
    return load_oncotree().is_descendant(code, ancestor)


def lineage(code: str) -> tuple[str, ...]:
    return load_oncotree().lineage(code)


# ICD-O-3 bridge. Rules are tried in order; the first whose topography prefix and morphology
# set both match wins. Morphology codes from ICD-O-3.2 (WHO 2019): 8140 adenocarcinoma NOS,
# 8070-8072 squamous cell carcinoma, 8012 large cell carcinoma, 8046 non-small cell carcinoma,
# 8041 small cell carcinoma, 8500 invasive ductal (NST), 8520 lobular, 8480/8481 mucinous and
# mucin-producing adenocarcinoma, 8560 adenosquamous, 8170 hepatocellular, 8160
# cholangiocarcinoma, 8461 high-grade serous, 8460 low-grade serous, 8441 serous NOS,
# 8522 duct and lobular, 8720-8780 melanomas, 8744 acral lentiginous, 8490 signet ring,
# 8380 endometrioid, 8120 urothelial, 8260 papillary adenocarcinoma, 8050 papillary carcinoma NOS.
_MELANOMA = frozenset(str(m) for m in range(8720, 8791)) - {"8744"}
_ADENO = frozenset({"8140", "8144", "8145", "8210", "8211", "8255", "8260", "8480", "8481", "8490"})
_ICDO3_RULES: tuple[tuple[tuple[str, ...], frozenset[str], str], ...] = (
    (("C34",), frozenset({"8140", "8250", "8252", "8253", "8254", "8255", "8260", "8480", "8481",
                          "8550", "8551"}), "LUAD"),
    (("C34",), frozenset({"8070", "8071", "8072", "8083", "8052"}), "LUSC"),
    (("C34",), frozenset({"8012", "8013"}), "LCLC"),
    (("C34",), frozenset({"8560"}), "LUAS"),
    (("C34",), frozenset({"8041", "8042", "8043", "8044", "8045"}), "SCLC"),
    (("C34",), frozenset({"8046", "8010"}), "NSCLC"),
    (("C50",), frozenset({"8500", "8501", "8502", "8503", "8523"}), "IDC"),
    (("C50",), frozenset({"8520", "8524"}), "ILC"),
    (("C50",), frozenset({"8522"}), "MDLC"),  # duct and lobular
    (("C50",), frozenset({"8010", "8140", "8480", "8530", "8575"}), "BRCNOS"),
    (("C18",), _ADENO, "COAD"),
    (("C19",), _ADENO, "COADREAD"),  # rectosigmoid junction: OncoTree has no closer node
    (("C20",), _ADENO, "READ"),
    (("C22.0",), frozenset({"8170", "8171", "8172", "8173", "8174", "8175"}), "HCC"),
    (("C22.1", "C22.0"), frozenset({"8160"}), "IHCH"),
    (("C24.0",), frozenset({"8160", "8140"}), "EHCH"),
    (("C23",), frozenset({"8140", "8160"}), "GBC"),
    (("C25",), frozenset({"8140", "8500", "8480", "8560"}), "PAAD"),
    (("C56", "C57.0", "C48.1", "C48.2"), frozenset({"8461"}), "HGSOC"),
    (("C56", "C57.0", "C48.1", "C48.2"), frozenset({"8460"}), "LGSOC"),
    (("C56", "C57.0"), frozenset({"8441"}), "SOC"),
    (("C61",), frozenset({"8140", "8550"}), "PRAD"),
    (("C44",), frozenset({"8744"}), "ACRM"),
    (("C44",), _MELANOMA, "SKCM"),
    (("C16.0",), _ADENO, "GEJ"),  # cardia / gastro-oesophageal junction
    (("C16",), _ADENO, "STAD"),
    (("C15",), _ADENO, "ESCA"),
    (("C15",), frozenset({"8070", "8071", "8072"}), "ESCC"),
    (("C54", "C55"), frozenset({"8380", "8441", "8310", "8323"}), "UCEC"),
    (("C67",), frozenset({"8120", "8130"}), "BLCA"),
    (("C73",), frozenset({"8260", "8050", "8340", "8341", "8343", "8344"}), "THPA"),
)  # fmt: skip
_TOPOGRAPHY = re.compile(r"^C(\d{2})\.?(\d)?$")
_MORPHOLOGY = re.compile(r"^(\d{4})/?(\d)$")


def oncotree_from_icdo3(topography: str, morphology: str) -> str | None:
    """The OncoTree code for an ICD-O-3 site and malignant histology, or ``None``.

    ``topography`` like "C34.1" or "C341"; ``morphology`` like "8140/3" or "81403". Only
    behaviour /3 (malignant, primary site) maps: in-situ (/2) and benign codes give ``None``,
    as do combinations the subset does not cover.
    """
    topo = _TOPOGRAPHY.match(topography.strip().upper())
    morph = _MORPHOLOGY.match(morphology.strip())
    if topo is None or morph is None or morph.group(2) != "3":
        return None
    site = f"C{topo.group(1)}" + (f".{topo.group(2)}" if topo.group(2) else "")
    histology = morph.group(1)
    for prefixes, histologies, code in _ICDO3_RULES:
        if histology in histologies and any(site.startswith(p) for p in prefixes):
            return code
    return None
