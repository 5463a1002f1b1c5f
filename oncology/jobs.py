"""Job handlers of the clinical record (registered with core.jobs)."""
