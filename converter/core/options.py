"""Parsing what users type on the command line, for the CLI and for the
options a target declares (targets.base.Target.options)."""

from __future__ import annotations

import click


def csv_choice(choices: tuple[str, ...], option: str):
    """A Click callback: a comma list of `choices`, each once, in the order given."""

    def parse(ctx, param, value: str | None) -> tuple[str, ...] | None:
        if value is None:  # an option whose default the plan picks per source
            return None
        items = tuple(item.strip() for item in value.split(",") if item.strip())
        bad = [item for item in items if item not in choices]
        if bad or not items:
            raise click.BadParameter(f"{', '.join(bad) or 'nothing'}; choose from {', '.join(choices)}",
                                     param_hint=option)
        return tuple(dict.fromkeys(items))

    return parse
