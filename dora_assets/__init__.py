"""dora-assets: raw engineering events in, trustworthy DORA metrics out.

Layers, each in its own sub-package:

- ``bronze``: landing files -> ``bronze.raw_events`` / ``bronze.quarantine`` (append-only).
- ``silver``: SQL over bronze -> changes, deployments, deployment_changes, incidents.
- ``gold``: SQL over silver -> ``gold.dora_monthly``.

``definitions.py`` composes them into one Dagster ``Definitions`` object.
"""

__version__ = "0.1.0"
