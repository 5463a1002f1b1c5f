"""Pure DICOM library: parsing, series to volume, de-identification, SEG/RTSTRUCT readers."""
