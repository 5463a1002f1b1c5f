"""Which engine features PyRadiomics defines the same way, under which name.

Pure data (no PyRadiomics import): the cross-check test (tests/imaging/
test_radiomics_pyradiomics.py) and benchmarks/radiomics.py read it. Keys are engine feature keys
(:attr:`FeatureValue.key`); values are PyRadiomics feature names without the image-type prefix
(``original_``). Definitions compared against the PyRadiomics 3.1 documentation
(https://pyradiomics.readthedocs.io/en/latest/features.html) and the IBSI reference manual
(Zwanenburg et al., arXiv:1612.07003).

Aggregation: PyRadiomics computes one GLCM / GLRLM per direction (13 in 3D) and averages the
features over directions (``weightingNorm`` unset), which is IBSI's "3D, averaged"
(``3d_averaged``); GLSZM, GLDM and NGTDM use one 3D matrix (``3d``). PyRadiomics' GLDM with
``gldm_a = 0`` and distance 1 is IBSI's NGLDM with coarseness 0 and Chebyshev distance 1.

PyRadiomics drops grey levels absent from the ROI from its matrices but keeps the true grey level
values, so the features agree with IBSI whenever the grey levels are numbered the same way, which
fixed bin number discretisation guarantees (both number bins 1..N from the ROI minimum).
"""

from __future__ import annotations

from collections.abc import Callable

# PyRadiomics feature -> engine value after a documented definitional transform.
Transform = Callable[[float], float]

SHAPE: dict[str, str] = {
    "morph_volume": "shape_MeshVolume",
    "morph_approximate_volume": "shape_VoxelVolume",
    "morph_surface_area": "shape_SurfaceArea",
    "morph_surface_to_volume_ratio": "shape_SurfaceVolumeRatio",
    "morph_sphericity": "shape_Sphericity",
    "morph_maximum_3d_diameter": "shape_Maximum3DDiameter",
    "morph_major_axis_length": "shape_MajorAxisLength",
    "morph_minor_axis_length": "shape_MinorAxisLength",
    "morph_least_axis_length": "shape_LeastAxisLength",
    "morph_elongation": "shape_Elongation",
    "morph_flatness": "shape_Flatness",
}

FIRST_ORDER: dict[str, str] = {
    "stat_mean": "firstorder_Mean",
    "stat_variance": "firstorder_Variance",
    "stat_skewness": "firstorder_Skewness",
    "stat_kurtosis": "firstorder_Kurtosis",  # PyRadiomics reports kurtosis, IBSI excess: -3
    "stat_median": "firstorder_Median",
    "stat_minimum": "firstorder_Minimum",
    "stat_p10": "firstorder_10Percentile",
    "stat_p90": "firstorder_90Percentile",
    "stat_maximum": "firstorder_Maximum",
    "stat_interquartile_range": "firstorder_InterquartileRange",
    "stat_range": "firstorder_Range",
    "stat_mean_absolute_deviation": "firstorder_MeanAbsoluteDeviation",
    "stat_robust_mean_absolute_deviation": "firstorder_RobustMeanAbsoluteDeviation",
    "stat_energy": "firstorder_Energy",  # equal only with voxelArrayShift = 0 (CT default)
    "stat_root_mean_square": "firstorder_RootMeanSquared",
    # PyRadiomics' Entropy and Uniformity use the discretised intensities: IBSI's intensity
    # histogram entropy and uniformity (its log2(p + eps) differs by < 1e-15).
    "ih_entropy": "firstorder_Entropy",
    "ih_uniformity": "firstorder_Uniformity",
}

GLCM: dict[str, str] = {
    "cm_joint_max": "glcm_MaximumProbability",
    "cm_joint_average": "glcm_JointAverage",
    "cm_joint_variance": "glcm_SumSquares",
    "cm_joint_entropy": "glcm_JointEntropy",
    "cm_difference_average": "glcm_DifferenceAverage",
    "cm_difference_variance": "glcm_DifferenceVariance",
    "cm_difference_entropy": "glcm_DifferenceEntropy",
    "cm_sum_average": "glcm_SumAverage",
    "cm_sum_entropy": "glcm_SumEntropy",
    "cm_angular_second_moment": "glcm_JointEnergy",
    "cm_contrast": "glcm_Contrast",
    "cm_dissimilarity": "glcm_DifferenceAverage",
    "cm_inverse_difference": "glcm_Id",
    "cm_normalised_inverse_difference": "glcm_Idn",
    "cm_inverse_difference_moment": "glcm_Idm",
    "cm_normalised_inverse_difference_moment": "glcm_Idmn",
    "cm_inverse_variance": "glcm_InverseVariance",
    "cm_correlation": "glcm_Correlation",
    "cm_autocorrelation": "glcm_Autocorrelation",
    "cm_cluster_tendency": "glcm_ClusterTendency",
    # IBSI's sum variance equals cluster tendency; PyRadiomics dropped SumVariance for that reason.
    "cm_sum_variance": "glcm_ClusterTendency",
    "cm_cluster_shade": "glcm_ClusterShade",
    "cm_cluster_prominence": "glcm_ClusterProminence",
    "cm_information_correlation_1": "glcm_Imc1",
    "cm_information_correlation_2": "glcm_Imc2",
}

GLRLM: dict[str, str] = {
    "rlm_short_runs_emphasis": "glrlm_ShortRunEmphasis",
    "rlm_long_runs_emphasis": "glrlm_LongRunEmphasis",
    "rlm_low_grey_level_run_emphasis": "glrlm_LowGrayLevelRunEmphasis",
    "rlm_high_grey_level_run_emphasis": "glrlm_HighGrayLevelRunEmphasis",
    "rlm_short_run_low_grey_level_emphasis": "glrlm_ShortRunLowGrayLevelEmphasis",
    "rlm_short_run_high_grey_level_emphasis": "glrlm_ShortRunHighGrayLevelEmphasis",
    "rlm_long_run_low_grey_level_emphasis": "glrlm_LongRunLowGrayLevelEmphasis",
    "rlm_long_run_high_grey_level_emphasis": "glrlm_LongRunHighGrayLevelEmphasis",
    "rlm_grey_level_non_uniformity": "glrlm_GrayLevelNonUniformity",
    "rlm_grey_level_non_uniformity_normalised": "glrlm_GrayLevelNonUniformityNormalized",
    "rlm_run_length_non_uniformity": "glrlm_RunLengthNonUniformity",
    "rlm_run_length_non_uniformity_normalised": "glrlm_RunLengthNonUniformityNormalized",
    "rlm_run_percentage": "glrlm_RunPercentage",
    "rlm_grey_level_variance": "glrlm_GrayLevelVariance",
    "rlm_run_length_variance": "glrlm_RunVariance",
    "rlm_run_entropy": "glrlm_RunEntropy",
}

GLSZM: dict[str, str] = {
    "szm_small_zone_emphasis": "glszm_SmallAreaEmphasis",
    "szm_large_zone_emphasis": "glszm_LargeAreaEmphasis",
    "szm_low_grey_level_zone_emphasis": "glszm_LowGrayLevelZoneEmphasis",
    "szm_high_grey_level_zone_emphasis": "glszm_HighGrayLevelZoneEmphasis",
    "szm_small_zone_low_grey_level_emphasis": "glszm_SmallAreaLowGrayLevelEmphasis",
    "szm_small_zone_high_grey_level_emphasis": "glszm_SmallAreaHighGrayLevelEmphasis",
    "szm_large_zone_low_grey_level_emphasis": "glszm_LargeAreaLowGrayLevelEmphasis",
    "szm_large_zone_high_grey_level_emphasis": "glszm_LargeAreaHighGrayLevelEmphasis",
    "szm_grey_level_non_uniformity": "glszm_GrayLevelNonUniformity",
    "szm_grey_level_non_uniformity_normalised": "glszm_GrayLevelNonUniformityNormalized",
    "szm_zone_size_non_uniformity": "glszm_SizeZoneNonUniformity",
    "szm_zone_size_non_uniformity_normalised": "glszm_SizeZoneNonUniformityNormalized",
    "szm_zone_percentage": "glszm_ZonePercentage",
    "szm_grey_level_variance": "glszm_GrayLevelVariance",
    "szm_zone_size_variance": "glszm_ZoneVariance",
    "szm_zone_size_entropy": "glszm_ZoneEntropy",
}

NGTDM: dict[str, str] = {
    "ngt_coarseness": "ngtdm_Coarseness",
    "ngt_contrast": "ngtdm_Contrast",
    "ngt_busyness": "ngtdm_Busyness",
    "ngt_complexity": "ngtdm_Complexity",
    "ngt_strength": "ngtdm_Strength",
}

NGLDM: dict[str, str] = {
    "ngl_low_dependence_emphasis": "gldm_SmallDependenceEmphasis",
    "ngl_high_dependence_emphasis": "gldm_LargeDependenceEmphasis",
    "ngl_low_grey_level_count_emphasis": "gldm_LowGrayLevelEmphasis",
    "ngl_high_grey_level_count_emphasis": "gldm_HighGrayLevelEmphasis",
    "ngl_low_dependence_low_grey_level_emphasis": "gldm_SmallDependenceLowGrayLevelEmphasis",
    "ngl_low_dependence_high_grey_level_emphasis": "gldm_SmallDependenceHighGrayLevelEmphasis",
    "ngl_high_dependence_low_grey_level_emphasis": "gldm_LargeDependenceLowGrayLevelEmphasis",
    "ngl_high_dependence_high_grey_level_emphasis": "gldm_LargeDependenceHighGrayLevelEmphasis",
    "ngl_grey_level_non_uniformity": "gldm_GrayLevelNonUniformity",
    "ngl_dependence_count_non_uniformity": "gldm_DependenceNonUniformity",
    "ngl_dependence_count_non_uniformity_normalised": "gldm_DependenceNonUniformityNormalized",
    "ngl_grey_level_variance": "gldm_GrayLevelVariance",
    "ngl_dependence_count_variance": "gldm_DependenceVariance",
    "ngl_dependence_count_entropy": "gldm_DependenceEntropy",
}


def _aggregated(mapping: dict[str, str], aggregation: str) -> dict[str, str]:
    return {f"{key}_{aggregation}": name for key, name in mapping.items()}


# Engine key -> PyRadiomics name (no "original_" prefix), for the features both define alike.
FEATURES: dict[str, str] = {
    **SHAPE,
    **FIRST_ORDER,
    **_aggregated(GLCM, "3d_averaged"),
    **_aggregated(GLRLM, "3d_averaged"),
    **_aggregated(GLSZM, "3d"),
    **_aggregated(NGTDM, "3d"),
    **_aggregated(NGLDM, "3d"),
}

# Definitional offsets: engine value = transform(PyRadiomics value).
TRANSFORMS: dict[str, Transform] = {
    # PyRadiomics "Kurtosis" is the fourth standardised moment; IBSI IPH6 is excess kurtosis.
    "stat_kurtosis": lambda v: v - 3.0,
}

# Engine features and families PyRadiomics has no same-definition counterpart for, and why.
EXCLUDED: dict[str, str] = {
    "morph_* (other)": "compactness 1/2, spherical disproportion, asphericity, centre of mass "
    "shift, densities (AABB, AEE, convex hull), integrated intensity, Moran's I, Geary's C: "
    "absent from PyRadiomics (or deprecated there without a value)",
    "loc_*": "local and global intensity peak: absent from PyRadiomics",
    "stat_median_absolute_deviation": "absent from PyRadiomics",
    "stat_coefficient_of_variation": "absent from PyRadiomics",
    "stat_quartile_coefficient_of_dispersion": "absent from PyRadiomics",
    "firstorder_TotalEnergy": "Energy x voxel volume: no IBSI counterpart (IBSI energy N8CA has "
    "no voxel-volume scaling)",
    "firstorder_StandardDeviation": "not an IBSI feature (sqrt of variance ECT3)",
    "ih_* (other)": "PyRadiomics has no intensity-histogram family beyond Entropy and Uniformity",
    "ivh_*": "intensity-volume histogram: absent from PyRadiomics",
    "cm_*_3d_merged": "PyRadiomics averages GLCM features over directions (3d_averaged); "
    "3d_merged is compared through that aggregation only",
    "rlm_*_3d_merged": "as for GLCM: PyRadiomics averages over directions",
    "glcm_MCC": "maximal correlation coefficient: not an IBSI feature",
    "dzm_*": "GLDZM: PyRadiomics has no grey level distance zone matrix",
    "ngl_dependence_count_percentage_3d": "absent from PyRadiomics (always 1 for IBSI NGLDM)",
    "ngl_grey_level_non_uniformity_normalised_3d": "absent from PyRadiomics (its GLDM "
    "GrayLevelNonUniformityNormalized is deprecated and not computed)",
    "ngl_dependence_count_energy_3d": "absent from PyRadiomics",
    "shape_Maximum2DDiameter*": "per-plane diameters: not IBSI features",
}


def pyradiomics_value(key: str, results: dict[str, float], prefix: str = "original_") -> float:
    """The PyRadiomics value for engine feature ``key``, with its definitional transform."""
    value = float(results[prefix + FEATURES[key]])
    transform = TRANSFORMS.get(key)
    return transform(value) if transform else value
