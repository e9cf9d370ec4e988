"""The `dora-assets` command line (CONTRACT section 5), on click.

``main`` is the console script. The commands are in ``commands``, the types of their options in
``params``, what they print in ``output``, the one-line error funnel in ``errors`` and the
supervision of `dagster dev` in ``dev``. Every command fails with a one-line reason and a non-zero
exit, never a traceback (set DORA_DEBUG=1 to see one).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from dora_assets.cli.commands import dora_assets_cli
from dora_assets.instance import apply_run_creation_env

PROG = "dora-assets"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: this process's arguments) and return its exit status:
    the command's own (0, or 1 when a run or an ERROR check failed), 2 for a usage error or a failure
    the operator must fix first, 130 when interrupted."""
    # Before any run is created here or by `dora-assets dev`'s webserver and daemon (they inherit it).
    apply_run_creation_env()
    try:
        code = dora_assets_cli.main(args=None if argv is None else list(argv), prog_name=PROG, standalone_mode=False)
    except click.ClickException as error:  # a usage error: click's usage message, exit 2
        error.show()
        return error.exit_code
    except click.Abort:  # Ctrl-C (click turns KeyboardInterrupt into Abort)
        click.echo("interrupted", err=True)
        return 130
    return 0 if code is None else code


__all__ = ["PROG", "dora_assets_cli", "main"]
