"""Rigid registration of a second series (MR, PET) onto a fixed one (usually CT).

SimpleITK: Mattes mutual information (intensity relationships differ between modalities, so a
statistical metric rather than squared differences), an Euler 3D transform (3 rotations,
3 translations) rotating about the fixed image's centre, regular-step gradient
descent with scales estimated from physical shifts, and a 3-level pyramid (shrink 4, 2, 1 with
smoothing 2, 1, 0 voxels) to avoid local optima.

Initialisation: series of one patient in DICOM patient coordinates (same scanner session, or
PET/CT) are already roughly aligned, so the default starts from the identity. Aligning the
geometric centres ("geometry") is wrong when one series is cropped differently, as the STS_001
MR is (it moved a correctly placed MR by ~10 cm); use "geometry" or "moments" only for series
from unrelated sessions whose coordinates do not overlap.

The transform maps points of the fixed image to points of the moving image (ITK convention),
which is what resampling the moving image onto the fixed grid needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from imaging.dicom.processing import resample_to_reference
from imaging.dicom.volume import Volume


@dataclass
class RegistrationResult:
    transform: Any  # SimpleITK.Euler3DTransform, fixed -> moving points (LPS mm)
    resampled: Volume  # the moving image on the fixed grid
    metric_value: float  # final Mattes MI (more negative is better)
    rotation_deg: tuple[float, float, float]  # Euler angles about x, y, z
    translation_mm: tuple[float, float, float]
    stop_condition: str


def register_rigid(
    fixed: Volume,
    moving: Volume,
    *,
    histogram_bins: int = 50,
    sampling_fraction: float = 0.25,
    iterations: int = 200,
    shrink_factors: tuple[int, ...] = (4, 2, 1),
    smoothing_sigmas: tuple[float, ...] = (2.0, 1.0, 0.0),
    seed: int = 20261124,
    initial: Literal["identity", "geometry", "moments"] = "identity",
) -> RegistrationResult:
    """Register ``moving`` onto ``fixed`` rigidly; see the module docstring for the method."""
    import SimpleITK as sitk

    fixed_image = sitk.Cast(fixed.to_sitk(), sitk.sitkFloat32)
    moving_image = sitk.Cast(moving.to_sitk(), sitk.sitkFloat32)
    if initial == "identity":
        start = sitk.Euler3DTransform()
        centre_index = [(n - 1) / 2 for n in fixed_image.GetSize()]
        start.SetCenter(fixed_image.TransformContinuousIndexToPhysicalPoint(centre_index))
    elif initial in ("geometry", "moments"):
        start = sitk.CenteredTransformInitializer(
            fixed_image,
            moving_image,
            sitk.Euler3DTransform(),
            sitk.CenteredTransformInitializerFilter.GEOMETRY
            if initial == "geometry"
            else sitk.CenteredTransformInitializerFilter.MOMENTS,
        )
    else:
        raise ValueError(f"initial must be identity, geometry or moments, not {initial!r}")
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=histogram_bins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(sampling_fraction, seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0,
        minStep=1e-4,
        numberOfIterations=iterations,
        relaxationFactor=0.5,
        gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(shrinkFactors=list(shrink_factors))
    method.SetSmoothingSigmasPerLevel(smoothingSigmas=list(smoothing_sigmas))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetInitialTransform(start, inPlace=False)
    final = method.Execute(fixed_image, moving_image)
    # Execute wraps the result in a composite transform; flatten to the Euler transform.
    if isinstance(final, sitk.CompositeTransform):
        final = final.GetNthTransform(0) if final.GetNumberOfTransforms() == 1 else final
    euler = sitk.Euler3DTransform(final) if final.GetName() == "Euler3DTransform" else final
    params = np.asarray(euler.GetParameters(), dtype=float)
    resampled = resample_to_reference(moving, fixed, "linear", transform=euler)
    return RegistrationResult(
        transform=euler,
        resampled=resampled,
        metric_value=float(method.GetMetricValue()),
        rotation_deg=tuple(float(v) for v in np.degrees(params[:3])),  # type: ignore[arg-type]
        translation_mm=tuple(float(v) for v in params[3:6]),  # type: ignore[arg-type]
        stop_condition=method.GetOptimizerStopConditionDescription(),
    )
