"""The one-line error funnel of the `dora-assets` command.

A command that fails for any reason prints one line, ``dora-assets COMMAND: error: REASON``, on
stderr and exits non-zero, never with a traceback (``DORA_DEBUG=1`` prints one first). Exit status
2: nothing could run until the operator fixes something (the config, the Dagster instance's storage,
a damaged warehouse, a command line that parses but cannot be carried out); exit status 1: a run or
an ERROR check failed. Usage errors (an unknown command or option, a value of the wrong type) are
click's: its usage message and exit status 2.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from dora_assets.config import ConfigError


class CommandError(Exception):
    """A failure with a one-line explanation for the user; exit status 2."""


class FunnelledCommand(click.Command):
    """A click command whose failures go through the funnel: ``invoke`` is the one place that turns
    any exception a command raises into a one-line reason and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            if os.environ.get("DORA_DEBUG"):
                traceback.print_exc()
            click.echo(f"{ctx.command_path}: error: {one_line(error)}", err=True)
            ctx.exit(2 if operator_must_fix(error) else 1)


class FunnelledGroup(click.Group):
    """A click group whose commands, and the commands of its subgroups, are ``FunnelledCommand``s;
    its help lists them in the order they were declared (the order of the workflow), not sorted."""

    command_class = FunnelledCommand
    group_class = type  # subgroups are FunnelledGroups too

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


def operator_must_fix(error: BaseException) -> bool:
    """True for exit status 2: nothing could run until the operator fixes something (the config,
    the instance's storage, a damaged warehouse, a command that cannot be carried out). False for
    exit status 1: a run or an ERROR check failed."""
    kinds: tuple[type, ...] = (ConfigError, CommandError)
    for module, name in (
        ("dora_assets.instance", "InstanceStorageError"),
        ("dora_assets.resources", "WarehouseDamagedError"),
    ):
        if module in sys.modules:
            kinds += (getattr(sys.modules[module], name),)
    return isinstance(error, kinds)


def one_line(error: BaseException) -> str:
    """The error's message on one line of at most 600 characters (its type's name when it has none)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 600 else text[:597] + "..."
