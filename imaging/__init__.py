"""Imaging: DICOM ingest (upload, STOW-RS, C-STORE, import_dicom), studies/series/instances, the
unmatched-study queue and the viewer (an installed Django app), on top of the pure libraries
imaging.dicom (volumes, masks, processing, de-identification) and imaging.radiomics (IBSI features).
"""
