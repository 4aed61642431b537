"""The typer app and its root options; command modules register on it with `command()`."""
from __future__ import annotations

import logging

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Take a distilled BERT student to edge targets and prove what it gains over BERT-base.")
state = {"verbose": False}  # set by the root callback; read by the error boundary in main()


def command(name: str | None = None):  # noqa: ANN201 - typer's decorator
    """Register a command whose help reads like click's (see edgebert.cli.help)."""
    from edgebert.cli.help import Command

    return app.command(name, cls=Command)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks and library logs.")) -> None:
    state["verbose"] = verbose
    if verbose:
        logging.getLogger("edgebert").setLevel(logging.DEBUG)
    else:
        from edgebert.quiet import quiet_libraries

        quiet_libraries()


