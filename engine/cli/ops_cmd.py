"""``pixelmend ops``: every op with its parameters, as text or JSON."""

from __future__ import annotations

import argparse
import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from engine.cli.common import EXIT_OK, PROG, Parser

__all__ = ["cmd_ops", "ops_parser"]


def ops_parser(argv: Sequence[str] = ()) -> Parser:
    parser = Parser(prog=f"{PROG} ops", description="List every op with its parameters.")
    parser.add_argument("--json", action="store_true",
                        help="print the op descriptions as JSON (a list of objects)")
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


def _format_number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _format_spec(spec: Mapping[str, Any]) -> str:
    """One line for a parameter: ``name=default  kind, bounds. help``."""
    kind = spec["kind"]
    facts = [kind]
    low, high = spec.get("minimum"), spec.get("maximum")
    has_low = low is not None and not (isinstance(low, float) and math.isinf(low)) \
        and low > -(2**31)
    has_high = high is not None and not (isinstance(high, float) and math.isinf(high)) \
        and high < 2**31 - 1
    if has_low and has_high:
        facts.append(f"{_format_number(low)}…{_format_number(high)}")
    elif has_low:
        facts.append(f">= {_format_number(low)}")
    elif has_high:
        facts.append(f"<= {_format_number(high)}")
    if spec.get("odd"):
        facts.append("odd")
    if spec.get("choices"):
        facts.append("one of " + "|".join(spec["choices"]))
    default = spec["default"]
    default_text = str(default).lower() if isinstance(default, bool) else _format_number(default)
    head = f"{spec['name']}={default_text}"
    tail = f"({', '.join(facts)})"
    if spec.get("help"):
        tail += f" {spec['help']}"
    return f"{head:<22} {tail}"


def cmd_ops(args: argparse.Namespace) -> int:
    """Print every registered op, as text or as JSON."""
    from engine.ops import all_ops

    ops = all_ops()
    if args.json:
        print(json.dumps([op.describe() for op in ops], indent=2))
        return EXIT_OK
    category = None
    for op in ops:
        info = op.describe()
        if info["category"] != category:
            print(f"{info['category']}:" if category is None else f"\n{info['category']}:")
            category = info["category"]
        print(f"  {info['name']} — {info['title']}")
        if info["description"]:
            for line in textwrap.wrap(info["description"], 90):
                print(f"      {line}")
        mask = "needs a mask" if info["needs_mask"] else f"mask: {info['mask']}"
        print(f"      {mask}; devices: {', '.join(info['devices'])}")
        for spec in info["params"]:
            lines = textwrap.wrap(_format_spec(spec), 94, subsequent_indent=" " * 31)
            for line in lines:
                print(f"      --set {line}" if line is lines[0] else f"      {line}")
    print(f"\n{len(ops)} ops. Run one with: {PROG} run OP INPUT -o OUTPUT [--set NAME=VALUE]")
    return EXIT_OK


