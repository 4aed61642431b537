"""Help in the shape command-line users know: `Usage: edgebert verify [OPTIONS] BUNDLES...`, `--threads INTEGER`.

typer 0.2x prints arguments as `{bundles}...` and types as Python annotations (`<list[Path]>`); this command class
renders usage and the option list the way click (and most CLIs) do instead.
"""
from __future__ import annotations

from typing import Any

from typer.core import TyperCommand


def _argument_name(param: Any) -> str:
    name = (param.metavar or param.name or "").upper()
    if param.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name if param.required else f"[{name}]"


def _type_name(param: Any) -> str:
    if param.metavar:
        return param.metavar
    bare = param.bare_type()  # typer's own name of the annotation: int, float, Path, str, list[Path]
    bare = bare[5:-1] if bare.startswith("list[") else bare
    return {"int": "INTEGER", "float": "FLOAT", "Path": "PATH", "bool": "BOOLEAN"}.get(bare, "TEXT")


def _default(param: Any, ctx: Any) -> str:
    empty = param.default is None or param.default is False or param.default in ((), [], "")
    if not (param.show_default or ctx.show_default) or empty:
        return ""
    if isinstance(param.show_default, str):
        return f"  [default: {param.show_default}]"
    value = param.default() if callable(param.default) else param.default
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return f"  [default: {value}]"


def _option_record(param: Any, ctx: Any) -> tuple[str, str]:
    names = ", ".join(param.opts)
    if param.is_flag and param.secondary_opts:
        names += " / " + ", ".join(param.secondary_opts)
    elif not param.is_flag:
        names += f" {_type_name(param)}" + ("..." if param.multiple else "")
    help_text = (param.help or "") + ("  [required]" if param.required else "")
    return names, help_text + _default(param, ctx)


class Command(TyperCommand):
    """A typer command whose usage line and option list read like click's."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        return pieces + [_argument_name(p) for p in self.get_params(ctx) if p.param_type_name == "argument"]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        params = [p for p in self.get_params(ctx) if not getattr(p, "hidden", False)]
        args = [(_argument_name(p).strip("[]"), p.help or "") for p in params if p.param_type_name == "argument"]
        opts = [_option_record(p, ctx) for p in params if p.param_type_name == "option"]
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)
