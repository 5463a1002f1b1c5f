"""File importers of the clinical record. Each parses its format into canonical record
payloads (oncology/services/payload.py) and leaves writing to oncology.services.sync."""
