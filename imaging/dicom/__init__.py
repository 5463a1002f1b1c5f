"""Pure DICOM library (no Django): series -> `Volume`, masks (RTSTRUCT, SEG, NIfTI), processing,
registration and measurements. Conventions are in `imaging.dicom.volume` and
docs/imaging-library.md.
"""

from imaging.dicom.masks import (
    MaskError,
    dice,
    mask_to_seg,
    nifti_to_mask,
    rtstruct_roi_names,
    rtstruct_to_mask,
    seg_to_mask,
)
from imaging.dicom.measure import (
    MaskMeasurement,
    MeasurementChange,
    measure_mask,
    measurement_change,
    recist_target_response,
)
from imaging.dicom.volume import (
    Volume,
    VolumeAssemblyError,
    read_series_dir,
    volume_from_datasets,
    volume_from_dir,
)

__all__ = [
    "MaskError",
    "MaskMeasurement",
    "MeasurementChange",
    "Volume",
    "VolumeAssemblyError",
    "dice",
    "mask_to_seg",
    "measure_mask",
    "measurement_change",
    "recist_target_response",
    "nifti_to_mask",
    "read_series_dir",
    "rtstruct_roi_names",
    "rtstruct_to_mask",
    "seg_to_mask",
    "volume_from_datasets",
    "volume_from_dir",
]
