"""The `edgebert` command: one short module per command group, each parsing flags, calling the core and rendering.

main() is the single error boundary: the project's own errors become one line and their exit code (1 failure,
2 usage, 3 outputs beyond a gate, 130 interrupted); anything else one line too, with --verbose for the traceback.
"""
from __future__ import annotations

import sys
import traceback

import typer

from edgebert.cli import bench, bundle, diff, fit, report, serve, train, web  # noqa: F401 - each registers its commands
from edgebert.cli.app import app, state
from edgebert.cli.common import err
from edgebert.errors import EdgebertError, first_line

__all__ = ["app", "main", "bench", "bundle", "diff", "fit", "report", "serve", "train", "web"]


def _parser_exceptions() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """Usage/exit/abort exception types: typer >= 0.22 vendors click (typer._click), older typer uses click."""
    usage: list[type] = []
    exits: list[type] = [typer.Exit]
    aborts: list[type] = [typer.Abort]
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            mod = __import__(module, fromlist=["UsageError"])
        except ImportError:
            continue
        usage.append(mod.UsageError)
        exits.append(getattr(mod, "Exit", typer.Exit))
        aborts.append(getattr(mod, "Abort", typer.Abort))
    return tuple(usage), tuple(exits), tuple(aborts)


def main(argv: list[str] | None = None) -> None:
    """Entry point: the single place where errors become a one-line message and an exit code."""
    usage_errors, exits, aborts = _parser_exceptions()
    state["verbose"] = False
    try:
        code = app(args=sys.argv[1:] if argv is None else argv, prog_name="edgebert", standalone_mode=False)
    except exits as exc:
        code = exc.exit_code
    except usage_errors as exc:
        where = exc.ctx.command_path if exc.ctx else "edgebert"
        err.print(f"error: {exc.format_message()} (see `{where} --help`)", soft_wrap=True)
        code = 2
    except (KeyboardInterrupt, *aborts):
        err.print("error: interrupted")
        code = 130
    except EdgebertError as exc:
        if state["verbose"]:
            traceback.print_exc()
        err.print(f"error: {exc}", soft_wrap=True)
        code = exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the boundary: never a raw traceback unless --verbose
        if state["verbose"]:
            traceback.print_exc()
        err.print(f"error: unexpected {type(exc).__name__}: {first_line(exc)} (rerun with --verbose for the "
                  "traceback)", soft_wrap=True)
        code = 1
    sys.exit(code or 0)
