"""Writes to the clinical record, each audited: records.py (one patient or sub-record at a time,
behind the forms) and sync.py (whole records, idempotent and in bulk, behind the API and the
importers; payload.py is its wire format)."""
