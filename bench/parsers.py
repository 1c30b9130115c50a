"""Every parser that reads outside text, on adversarial inputs of growing size.

Prints, per parser and input shape, the time one parse takes at 1, 4, 16 and 64 KiB and
whether it is under the budget (50 ms for 64 KiB: a body at the size limit). A linear
parser grows 4x per row; a quadratic one 16x. Figures, not a test: the exit status is 0
whenever it ran. A case that takes more than --give-up seconds stops growing (the old
days pattern needed minutes at 64 KiB).

    .venv/bin/python bench/parsers.py [--sizes 1,4,16,64] [--give-up 5]

To measure another checkout's parsers (e.g. before a fix), run it with that checkout
first on the path: `PYTHONPATH=/path/to/checkout .venv/bin/python bench/parsers.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH

from bridge import commands, profiles, schedule_grammar
from bridge.errors import BridgeError
from bridge.hooks import body
from bridge.hooks.slack import plain_text

BUDGET = 0.050  # seconds for one parse of 64 KiB
KIB = 1024
Shape = Callable[[int], str]  # size in characters -> the input


def _fill(unit: str, tail: str = "", head: str = "") -> Shape:
    """`head`, then `unit` repeated to the size, then `tail`."""
    return lambda n: head + unit * max((n - len(head) - len(tail)) // len(unit), 0) + tail


CASES: list[tuple[str, Callable[[str], object], str, Shape]] = [
    ("days", schedule_grammar.parse_days, "mon<spaces>x", _fill(" ", "x", "mon")),
    ("days", schedule_grammar.parse_days, "mon<space-dash>", _fill(" -", "", "mon")),
    ("days", schedule_grammar.parse_days, "'to ' repeated", _fill("to ")),
    ("days", schedule_grammar.parse_days, "'mon,' repeated", _fill("mon,")),
    ("times", schedule_grammar.parse_times, "<digits>:00", _fill("1", ":00")),
    ("times", schedule_grammar.parse_times, "9:<zeros>pm", _fill("0", "pm", "9:")),
    ("times", schedule_grammar.parse_times, "'9am ' repeated", _fill("9am ")),
    ("times", schedule_grammar.parse_times, "<spaces>x", _fill(" ", "x")),
    ("profile ref", profiles.check_ref, "twitter:<a...> x", _fill("a", " x", "twitter:")),
    ("profile ref", profiles.check_ref, "<a...>:", _fill("a", ":")),
    ("chat command", commands.parse, "set @b <mon ...> 9am", _fill("mon ", "9am", "set @b ")),
    ("slack text", plain_text, "'<@U1|' repeated", _fill("<@U1|")),
    ("webhook text", body.parse_text, "'[' repeated", _fill("[")),
    ("webhook text", body.parse_text, "'{\"a\":' repeated", _fill('{"a":')),
]


def measure(parse: Callable[[str], object], value: str) -> float:
    """Seconds for one parse (its refusals are expected; anything else is reported)."""
    started = time.perf_counter()
    with contextlib.suppress(BridgeError, commands.UsageError):
        parse(value)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,16,64", help="input sizes in KiB")
    parser.add_argument("--give-up", type=float, default=5.0, help="stop growing a case after")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"budget: {BUDGET * 1000:.0f} ms for one parse of any input up to 64 KiB")
    header = f"{'parser':<13} {'input':<22}" + "".join(f"{f'{s} KiB':>12}" for s in sizes)
    print(header + "  within budget")
    failures = 0
    for name, parse, label, shape in CASES:
        cells, verdict = [], "yes"
        for size in sizes:
            if verdict == "gave up":
                cells.append(f"{'-':>12}")
                continue
            try:
                seconds = measure(parse, shape(size * KIB))
            except Exception as error:  # a crash is a finding: show it, keep going
                cells.append(f"{type(error).__name__[:11]:>12}")
                verdict = "CRASH"
                failures += 1
                continue
            cells.append(f"{seconds * 1000:>9.2f} ms")
            if seconds > BUDGET and verdict == "yes":
                verdict = "NO"
            if seconds > args.give_up:
                verdict = "gave up"
        print(f"{name:<13} {label:<22}" + "".join(cells) + f"  {verdict}")
    print(f"{failures} crashes" if failures else "no crashes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
