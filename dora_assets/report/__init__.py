"""The static DORA dashboard (gold/dora_dashboard): one self-contained HTML page."""
