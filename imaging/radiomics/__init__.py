"""IBSI-compliant radiomics engine: a pure library (numpy/scipy/scikit-image, no Django).

Public API::

    from imaging.radiomics import extract, load_image_and_mask, preset

    image, mask = load_image_and_mask("ct.nii.gz", "mask.nii.gz")   # or series dir + RTSTRUCT
    # image: any object with .array (z, y, x) and .spacing (z, y, x) mm, e.g. imaging.dicom.Volume
    result = extract(image, mask, preset("ibsi-A"))      # FeatureSet(values, provenance)
    for v in result.values:
        print(v.key, v.ibsi_code, v.value)

Families and their features are registered explicitly in :mod:`imaging.radiomics.families`.
``preset(...).replace(features=("morph_volume", "cm_contrast_3d_averaged"))`` computes only
the named features (keys as in :attr:`FeatureValue.key`; :func:`selection.all_keys` lists them).
"""

from imaging.radiomics.families import FAMILIES
from imaging.radiomics.image import Image, Roi, load_nifti
from imaging.radiomics.inputs import InputError, load_image_and_mask
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
    "InputError",
    "RadiomicsSettings",
    "Roi",
    "extract",
    "extract_features",
    "load_image_and_mask",
    "load_nifti",
    "preset",
]
