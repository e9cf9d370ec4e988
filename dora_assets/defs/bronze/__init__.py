"""Bronze: landing files -> bronze.raw_events / bronze.quarantine (append-only)."""
