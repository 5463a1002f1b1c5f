"""Pure clinical validation: code lists (ICD-O-3, TNM 8th, Charlson, LOINC labs, biomarkers,
CTCAE v5.0) and the record checks the services, forms, API and importers apply.

No Django import here: callers pass plain mappings of model field names to Python values and get
back a list of `Issue`s. Entry points are in `record.py`.
"""
