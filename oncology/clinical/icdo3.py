"""ICD-O-3 topography and morphology codes for the common solid tumours.

Source: WHO International Classification of Diseases for Oncology, 3rd edition, first revision
(ICD-O-3.1, 2013) and the ICD-O-3.2 update (2019/2020) where the lung adenocarcinoma subtypes and
serous carcinoma codes changed. Names follow ICD-O-3 wording (British spelling). The lists are a
curated subset: a code outside them is reported as unknown so that typos ("C43.4" for "C34.1")
do not slip through; add codes here when a new tumour type is recorded.

Topography subdivisions that ICD-O-3 does not define (C34.4-C34.7, C50.7) are deliberately
absent.
"""

from __future__ import annotations

import re
from typing import Literal

from oncology.clinical.issues import Issue

SiteGroup = Literal["lung", "breast", "colorectal", "liver"]

TOPOGRAPHY_RE = re.compile(r"^C\d\d\.\d$")
MORPHOLOGY_RE = re.compile(r"^\d{4}/[0-3]$")

TOPOGRAPHY: dict[str, str] = {
    # Head and neck
    "C01.9": "Base of tongue, NOS",
    "C02.9": "Tongue, NOS",
    "C03.9": "Gum, NOS",
    "C04.9": "Floor of mouth, NOS",
    "C05.0": "Hard palate",
    "C06.9": "Mouth, NOS",
    "C07.9": "Parotid gland",
    "C09.9": "Tonsil, NOS",
    "C10.9": "Oropharynx, NOS",
    "C11.9": "Nasopharynx, NOS",
    "C13.9": "Hypopharynx, NOS",
    "C30.0": "Nasal cavity",
    "C31.0": "Maxillary sinus",
    "C32.0": "Glottis",
    "C32.1": "Supraglottis",
    "C32.2": "Subglottis",
    "C32.9": "Larynx, NOS",
    # Digestive organs
    "C15.0": "Cervical oesophagus",
    "C15.1": "Thoracic oesophagus",
    "C15.2": "Abdominal oesophagus",
    "C15.3": "Upper third of oesophagus",
    "C15.4": "Middle third of oesophagus",
    "C15.5": "Lower third of oesophagus",
    "C15.8": "Overlapping lesion of oesophagus",
    "C15.9": "Oesophagus, NOS",
    "C16.0": "Cardia, NOS",
    "C16.1": "Fundus of stomach",
    "C16.2": "Body of stomach",
    "C16.3": "Gastric antrum",
    "C16.4": "Pylorus",
    "C16.5": "Lesser curvature of stomach, NOS",
    "C16.6": "Greater curvature of stomach, NOS",
    "C16.8": "Overlapping lesion of stomach",
    "C16.9": "Stomach, NOS",
    "C17.0": "Duodenum",
    "C17.1": "Jejunum",
    "C17.2": "Ileum",
    "C17.9": "Small intestine, NOS",
    "C18.0": "Caecum",
    "C18.1": "Appendix",
    "C18.2": "Ascending colon",
    "C18.3": "Hepatic flexure of colon",
    "C18.4": "Transverse colon",
    "C18.5": "Splenic flexure of colon",
    "C18.6": "Descending colon",
    "C18.7": "Sigmoid colon",
    "C18.8": "Overlapping lesion of colon",
    "C18.9": "Colon, NOS",
    "C19.9": "Rectosigmoid junction",
    "C20.9": "Rectum, NOS",
    "C21.0": "Anus, NOS",
    "C21.1": "Anal canal",
    "C22.0": "Liver",
    "C22.1": "Intrahepatic bile duct",
    "C23.9": "Gallbladder",
    "C24.0": "Extrahepatic bile duct",
    "C24.1": "Ampulla of Vater",
    "C25.0": "Head of pancreas",
    "C25.1": "Body of pancreas",
    "C25.2": "Tail of pancreas",
    "C25.3": "Pancreatic duct",
    "C25.4": "Islets of Langerhans",
    "C25.7": "Other specified parts of pancreas",
    "C25.8": "Overlapping lesion of pancreas",
    "C25.9": "Pancreas, NOS",
    # Respiratory and intrathoracic organs
    "C33.9": "Trachea",
    "C34.0": "Main bronchus",
    "C34.1": "Upper lobe, lung",
    "C34.2": "Middle lobe, lung",
    "C34.3": "Lower lobe, lung",
    "C34.8": "Overlapping lesion of lung",
    "C34.9": "Lung, NOS",
    "C37.9": "Thymus",
    "C38.4": "Pleura, NOS",
    # Bone, soft tissue, skin
    "C41.9": "Bone, NOS",
    "C44.0": "Skin of lip, NOS",
    "C44.1": "Eyelid",
    "C44.2": "External ear",
    "C44.3": "Skin of other and unspecified parts of face",
    "C44.4": "Skin of scalp and neck",
    "C44.5": "Skin of trunk",
    "C44.6": "Skin of upper limb and shoulder",
    "C44.7": "Skin of lower limb and hip",
    "C44.8": "Overlapping lesion of skin",
    "C44.9": "Skin, NOS",
    "C48.0": "Retroperitoneum",
    "C48.2": "Peritoneum, NOS",
    "C49.9": "Connective, subcutaneous and other soft tissues, NOS",
    # Breast
    "C50.0": "Nipple",
    "C50.1": "Central portion of breast",
    "C50.2": "Upper-inner quadrant of breast",
    "C50.3": "Lower-inner quadrant of breast",
    "C50.4": "Upper-outer quadrant of breast",
    "C50.5": "Lower-outer quadrant of breast",
    "C50.6": "Axillary tail of breast",
    "C50.8": "Overlapping lesion of breast",
    "C50.9": "Breast, NOS",
    # Female genital organs
    "C51.9": "Vulva, NOS",
    "C53.0": "Endocervix",
    "C53.1": "Exocervix",
    "C53.8": "Overlapping lesion of cervix uteri",
    "C53.9": "Cervix uteri",
    "C54.1": "Endometrium",
    "C54.9": "Corpus uteri",
    "C55.9": "Uterus, NOS",
    "C56.9": "Ovary",
    "C57.0": "Fallopian tube",
    # Male genital organs
    "C61.9": "Prostate gland",
    "C62.9": "Testis, NOS",
    # Urinary tract
    "C64.9": "Kidney, NOS",
    "C65.9": "Renal pelvis",
    "C66.9": "Ureter",
    "C67.0": "Trigone of bladder",
    "C67.2": "Lateral wall of bladder",
    "C67.4": "Posterior wall of bladder",
    "C67.8": "Overlapping lesion of bladder",
    "C67.9": "Bladder, NOS",
    # Brain, endocrine, unknown
    "C71.9": "Brain, NOS",
    "C73.9": "Thyroid gland",
    "C74.9": "Adrenal gland, NOS",
    "C80.9": "Unknown primary site",
}

MORPHOLOGY: dict[str, str] = {
    # In situ (behaviour /2): needed for Tis / stage 0
    "8010/2": "Carcinoma in situ, NOS",
    "8070/2": "Squamous cell carcinoma in situ, NOS",
    "8140/2": "Adenocarcinoma in situ, NOS",
    "8500/2": "Intraductal carcinoma, noninfiltrating, NOS (DCIS)",
    "8520/2": "Lobular carcinoma in situ, NOS",
    # Malignant, primary site (behaviour /3)
    "8000/3": "Neoplasm, malignant",
    "8010/3": "Carcinoma, NOS",
    "8012/3": "Large cell carcinoma, NOS",
    "8013/3": "Large cell neuroendocrine carcinoma",
    "8020/3": "Carcinoma, undifferentiated, NOS",
    "8041/3": "Small cell carcinoma, NOS",
    "8045/3": "Combined small cell carcinoma",
    "8046/3": "Non-small cell carcinoma",
    "8070/3": "Squamous cell carcinoma, NOS",
    "8071/3": "Squamous cell carcinoma, keratinizing, NOS",
    "8072/3": "Squamous cell carcinoma, large cell, nonkeratinizing, NOS",
    "8083/3": "Basaloid squamous cell carcinoma",
    "8090/3": "Basal cell carcinoma, NOS",
    "8120/3": "Urothelial carcinoma, NOS",
    "8130/3": "Papillary urothelial carcinoma",
    "8140/3": "Adenocarcinoma, NOS",
    "8144/3": "Adenocarcinoma, intestinal type",
    "8145/3": "Carcinoma, diffuse type",
    "8160/3": "Cholangiocarcinoma",
    "8170/3": "Hepatocellular carcinoma, NOS",
    "8171/3": "Hepatocellular carcinoma, fibrolamellar",
    "8180/3": "Combined hepatocellular carcinoma and cholangiocarcinoma",
    "8200/3": "Adenoid cystic carcinoma",
    "8211/3": "Tubular adenocarcinoma",
    "8230/3": "Solid carcinoma, NOS",
    "8240/3": "Neuroendocrine tumour, grade 1 (carcinoid tumour, NOS)",
    "8246/3": "Neuroendocrine carcinoma, NOS",
    "8249/3": "Neuroendocrine tumour, grade 2 (atypical carcinoid tumour)",
    "8250/3": "Lepidic adenocarcinoma",
    "8253/3": "Invasive mucinous adenocarcinoma",
    "8260/3": "Papillary adenocarcinoma, NOS",
    "8265/3": "Micropapillary adenocarcinoma",
    "8310/3": "Clear cell adenocarcinoma, NOS",
    "8312/3": "Renal cell carcinoma, NOS",
    "8317/3": "Renal cell carcinoma, chromophobe type",
    "8330/3": "Follicular adenocarcinoma, NOS",
    "8340/3": "Papillary carcinoma, follicular variant",
    "8345/3": "Medullary carcinoma with amyloid stroma",
    "8380/3": "Endometrioid adenocarcinoma, NOS",
    "8441/3": "Serous carcinoma, NOS",
    "8460/3": "Low-grade serous carcinoma",
    "8461/3": "High-grade serous carcinoma",
    "8480/3": "Mucinous adenocarcinoma",
    "8490/3": "Signet ring cell carcinoma",
    "8500/3": "Infiltrating duct carcinoma, NOS",
    "8510/3": "Medullary carcinoma, NOS",
    "8520/3": "Lobular carcinoma, NOS",
    "8522/3": "Infiltrating duct and lobular carcinoma",
    "8530/3": "Inflammatory carcinoma",
    "8550/3": "Acinar cell carcinoma",
    "8551/3": "Acinar adenocarcinoma",
    "8560/3": "Adenosquamous carcinoma",
    "8575/3": "Metaplastic carcinoma, NOS",
    "8720/3": "Malignant melanoma, NOS",
    "8721/3": "Nodular melanoma",
    "8742/3": "Lentigo maligna melanoma",
    "8743/3": "Superficial spreading melanoma",
    "8744/3": "Acral lentiginous melanoma, malignant",
    "8800/3": "Sarcoma, NOS",
    "8890/3": "Leiomyosarcoma, NOS",
    "8936/3": "Gastrointestinal stromal sarcoma",
    "9050/3": "Mesothelioma, malignant",
    "9440/3": "Glioblastoma, NOS",
}

# The four groups the TNM tables of tnm.py cover. Appendix (C18.1) is left out: AJCC 8th stages
# appendiceal carcinoma in its own chapter (chapter 19) with different M1 subcategories.
_SITE_GROUPS: dict[str, SiteGroup] = {
    **{f"C34.{d}": "lung" for d in "012389"},
    **{f"C50.{d}": "breast" for d in "012345689"},
    **{f"C18.{d}": "colorectal" for d in "023456789"},
    "C19.9": "colorectal",
    "C20.9": "colorectal",
    "C22.0": "liver",
    "C22.1": "liver",
}


def topography_name(code: str) -> str | None:
    return TOPOGRAPHY.get(code)


def morphology_name(code: str) -> str | None:
    return MORPHOLOGY.get(code)


def is_valid_topography(code: str) -> bool:
    return bool(TOPOGRAPHY_RE.match(code)) and code in TOPOGRAPHY


def is_valid_morphology(code: str) -> bool:
    return bool(MORPHOLOGY_RE.match(code)) and code in MORPHOLOGY


def site_group(topography: str) -> SiteGroup | None:
    return _SITE_GROUPS.get(topography)


def validate_topography(code: str, field: str = "primary_site") -> list[Issue]:
    if not TOPOGRAPHY_RE.match(code):
        return [Issue(field, "ICD-O-3 topography must look like 'C34.1' (C, 2 digits, dot, digit)")]
    if code not in TOPOGRAPHY:
        return [Issue(field, f"unknown ICD-O-3 topography code '{code}'")]
    return []


def validate_morphology(code: str, field: str = "morphology") -> list[Issue]:
    if not MORPHOLOGY_RE.match(code):
        return [
            Issue(field, "ICD-O-3 morphology must look like '8140/3' (4 digits, slash, behaviour)")
        ]
    if code not in MORPHOLOGY:
        return [Issue(field, f"unknown ICD-O-3 morphology code '{code}'")]
    return []


# Histologies that define their organ: recording them elsewhere is a coding error, not a rarity.
# Hepatocellular carcinoma arises from hepatocytes and cholangiocarcinoma from bile ducts
# (ICD-O-3 coding rule: 8170-8175 imply C22.0, 8160 implies C22.1/C24.x); renal cell carcinoma
# implies kidney (C64.9).
_ORGAN_DEFINING: dict[str, tuple[str, ...]] = {
    "8170/3": ("C22.0", "C22.1"),
    "8171/3": ("C22.0", "C22.1"),
    "8180/3": ("C22.0", "C22.1"),
    "8160/3": ("C22.0", "C22.1", "C23.9", "C24.0", "C24.1"),
    "8312/3": ("C64.9",),
    "8317/3": ("C64.9",),
}

# Histologies that are rare but reported at some sites of the four groups: a warning asks for a
# second look (primary small cell carcinoma of the breast exists in case series, for example).
_UNUSUAL_IN_GROUP: dict[SiteGroup, frozenset[str]] = {
    "breast": frozenset({"8041/3", "8045/3", "8250/3", "8253/3", "8144/3", "8720/3"}),
    "lung": frozenset({"8500/3", "8520/3", "8522/3", "8500/2", "8520/2", "8530/3"}),
    "colorectal": frozenset({"8500/3", "8520/3", "8522/3", "8500/2", "8520/2", "8250/3"}),
    "liver": frozenset(
        {"8500/3", "8520/3", "8522/3", "8041/3", "8070/3", "8250/3", "8253/3", "8530/3"}
    ),
}


def validate_morphology_for_site(
    topography: str, morphology: str, field: str = "morphology"
) -> list[Issue]:
    """Histology/site plausibility: errors for organ-defining histologies at another organ,
    warnings for rare combinations in the four staged groups. Unknown codes are not re-reported."""
    if topography not in TOPOGRAPHY or morphology not in MORPHOLOGY:
        return []
    sites = _ORGAN_DEFINING.get(morphology)
    if sites is not None and topography not in sites:
        return [
            Issue(
                field,
                f"{MORPHOLOGY[morphology].lower()} ({morphology}) cannot arise in "
                f"{TOPOGRAPHY[topography].lower()} ({topography})",
            )
        ]
    group = site_group(topography)
    if group is not None and morphology in _UNUSUAL_IN_GROUP[group]:
        return [
            Issue(
                field,
                f"{MORPHOLOGY[morphology].lower()} ({morphology}) is unusual for a {group} "
                f"primary ({topography}): check the site and histology codes",
                "warning",
            )
        ]
    return []
