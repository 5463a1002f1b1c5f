"""Writes of the imaging app: DICOM ingest (one service behind every door), zip expansion and
the unmatched-study queue."""
