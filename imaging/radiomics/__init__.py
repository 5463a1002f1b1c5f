"""IBSI-compliant radiomics engine: a pure library (numpy/scipy/scikit-image, no Django).

Public API::

    from imaging.radiomics import Image, extract, extract_features, load_nifti, preset

    image = load_nifti("ct.nii.gz")                      # or any object with .array/.spacing
    mask = load_nifti("mask.nii.gz").array > 0           # same grid, (z, y, x)
    result = extract(image, mask, preset("ibsi-A"))      # FeatureSet(values, provenance)
    for v in result.values:
        print(v.key, v.ibsi_code, v.value)

Families and their features are registered explicitly in :mod:`imaging.radiomics.families`.
"""

from imaging.radiomics.families import FAMILIES
from imaging.radiomics.image import Image, Roi, load_nifti
from imaging.radiomics.pipeline import extract, extract_features
from imaging.radiomics.provenance import ENGINE_VERSION, FeatureSet
from imaging.radiomics.registry import Feature, FeatureValue
from imaging.radiomics.settings import PRESETS, Discretisation, RadiomicsSettings, preset

__all__ = [
    "ENGINE_VERSION",
    "FAMILIES",
    "PRESETS",
    "Discretisation",
    "Feature",
    "FeatureSet",
    "FeatureValue",
    "Image",
    "RadiomicsSettings",
    "Roi",
    "extract",
    "extract_features",
    "load_nifti",
    "preset",
]
