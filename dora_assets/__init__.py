"""dora-assets: raw engineering events in, trustworthy DORA metrics out.

``definitions.py`` is the code location: it loads the Dagster objects of ``defs/<layer>/``
(landing, bronze, silver, gold; ``ops`` for run health and alerts) and applies the cross-cutting
policy. The domain code they call lives outside ``defs/``: ``ingestion/`` (landing walk,
envelope, ingest, audit), ``extract/`` (GitHub API), ``receiver/``, ``demo/``, ``report/`` and
the CLI. The README's "The UI" section lists every asset (checked by a test).
"""

__version__ = "0.1.0"
