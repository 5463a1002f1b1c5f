"""The explicit registry of feature families, in IBSI reference-manual order."""

from __future__ import annotations

from imaging.radiomics import (
    glcm,
    gldzm,
    glrlm,
    glszm,
    histogram,
    ivh,
    local_intensity,
    morphology,
    ngldm,
    ngtdm,
    statistics,
)
from imaging.radiomics.registry import Family

FAMILIES: dict[str, Family] = {
    f.key: f
    for f in (
        morphology.FAMILY,
        local_intensity.FAMILY,
        statistics.FAMILY,
        histogram.FAMILY,
        ivh.FAMILY,
        glcm.FAMILY,
        glrlm.FAMILY,
        glszm.FAMILY,
        gldzm.FAMILY,
        ngtdm.FAMILY,
        ngldm.FAMILY,
    )
}
