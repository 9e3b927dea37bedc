"""Helpers shared by the commands: argument types, parsers, the entry point.

    from twolayer.cli.args import add_command, positive_float

    def add_parser(subparsers) -> None:                  # in each command's module
        p = add_command(subparsers, "fit", run_fit, "fit a line", __doc__)
        p.add_argument("--lr", type=positive_float, default=0.1, help="learning rate")

    def run_fit(args) -> int:
        ...
        return 0

``twolayer.cli.main`` gathers the commands and runs them through ``run_main``.

Every failure a user can cause (a bad flag, a missing file, a diverging run) ends
as one ``error: <message>`` line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

from twolayer.solver import DivergenceError

#: Exceptions that mean "the user asked for something that cannot be done", as
#: opposed to a bug: ``run_main`` reports these in one line instead of a traceback.
#: OSError covers missing files, permissions and full disks.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, DivergenceError)

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT


Number = TypeVar("Number", int, float)


def _number(
    text: str, convert: Callable[[str], Number], ok: Callable[[Number], bool], what: str
) -> Number:
    try:
        value = convert(text)
    except ValueError:
        value = None
    # float() accepts "nan" and "inf"; no setting here means anything with them.
    if value is None or not math.isfinite(value) or not ok(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number > 0."""
    return _number(text, int, lambda v: v > 0, "a positive integer")


def nonnegative_int(text: str) -> int:
    """argparse type: a whole number >= 0 (e.g. a seed)."""
    return _number(text, int, lambda v: v >= 0, "a whole number >= 0")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (rejects nan and inf)."""
    return _number(text, float, lambda v: v > 0, "a finite number > 0")


def nonnegative_float(text: str) -> float:
    """argparse type: a finite number >= 0 (rejects nan and inf)."""
    return _number(text, float, lambda v: v >= 0, "a finite number >= 0")


def probability(text: str) -> float:
    """argparse type: a number in [0, 1), such as a dropout rate."""
    return _number(text, float, lambda v: 0 <= v < 1, "a number in [0, 1)")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every flag's default and keeps the description's line breaks (for examples).

    A flag whose default is None says in its own help what None means, so
    "(default: None)" is not added.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one ``error:`` line, like ``run_main``'s."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see {self.prog} --help)\n")


def make_parser(description: str | None = None, **kwargs: Any) -> ArgumentParser:
    """A parser whose ``--help`` shows defaults; pass the script's ``__doc__``."""
    return ArgumentParser(description=description, formatter_class=HelpFormatter, **kwargs)


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int],
    summary: str,
    description: str | None,
) -> ArgumentParser:
    """Add subcommand ``name``: ``summary`` in the command list, ``description`` (the
    module's ``__doc__``) and every flag's default in its ``--help``; ``args.run`` runs it."""
    parser = subparsers.add_parser(
        name, help=summary, description=description, formatter_class=HelpFormatter
    )
    parser.set_defaults(run=run)
    return parser


def run_main(
    main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None
) -> int:
    """Run ``main(argv)`` and return its exit code, reporting user errors in one line.

    Exceptions in :data:`USER_ERRORS` print ``error: <message>`` on stderr and give
    2, and so does a MemoryError; Ctrl-C prints one line and gives 130. Anything else
    is a bug and keeps its traceback. A Python warning (a library's) is one
    ``warning:`` line, each once.
    """
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_lines()
            return main(argv) or 0
    except USER_ERRORS as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError as e:  # what no estimate foresaw: still a request too large
        print(f"error: not enough memory ({_one_line(e)}); use smaller sizes", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


# Matplotlib warns once per character its font lacks (CJK class names): one line says it.
_GLYPH = re.compile(r"Glyph \d+ .*missing from (current )?font")


def _warning_lines() -> Callable[..., None]:
    """A warnings.showwarning: ``warning: <message>`` on stderr, without the source
    line, each message once."""
    shown: set[str] = set()

    def show(message: Warning | str, *args: Any, **kwargs: Any) -> None:
        text = " ".join(str(message).split())
        if _GLYPH.search(text):
            text = "some names hold characters the plots' font lacks; they show as boxes"
        if text not in shown:
            shown.add(text)
            print(f"warning: {text}", file=sys.stderr)

    return show


def _one_line(e: BaseException) -> str:
    # OSError's str() leads with "[Errno 2]", which says nothing to a user.
    if isinstance(e, OSError) and e.strerror and e.filename is not None:
        return f"{e.strerror}: {e.filename}"
    return " ".join(str(e).split()) or type(e).__name__
