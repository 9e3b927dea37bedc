"""List or clear twolayer's caches: decoded image folders and preprocessed images.

The caches live in $TWOLAYER_CACHE (default ~/.cache/twolayer) and together stay
within $TWOLAYER_CACHE_MAX (default 2GiB; a size such as 500MiB or 1.5G, 0 to keep only
the entry just written, off for no cap): after each write the least recently used
entries are removed. Every entry is rebuilt when next needed, so clearing only costs
time.

examples:
  twolayer cache list
  twolayer cache clear --older-than 30
  twolayer cache clear --kind images
"""

from __future__ import annotations

import argparse
import time

from twolayer.cache import (
    DEFAULT_MAX,
    KINDS,
    MAX_ENV,
    Cache,
    Entry,
    describe,
    format_size,
    open_cache,
)
from twolayer.cli.args import HelpFormatter, add_command, nonnegative_float

SECONDS_PER_DAY = 86400


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "cache", run_cache, "list or clear the caches", __doc__)
    actions = p.add_subparsers(
        title="actions", dest="action", metavar="{list,clear}", required=True
    )
    actions.add_parser(
        "list",
        help="each entry (most recently used first), the total and the cap",
        description="List every cache entry, most recently used first: its kind, size, "
        "when it was last used, what it holds and its file; then the total and the cap.",
        formatter_class=HelpFormatter,
    )
    clear = actions.add_parser(
        "clear",
        help="remove entries: all, or by age or kind",
        description="Remove cache entries: all of them, or those matching every option given.",
        formatter_class=HelpFormatter,
    )
    clear.add_argument(
        "--older-than",
        type=nonnegative_float,
        metavar="DAYS",
        help="only entries last used more than DAYS days ago (default: whatever their age)",
    )
    clear.add_argument(
        "--kind",
        choices=sorted(KINDS),
        help="only this kind: prep (preprocessed images) or images (decoded image "
        "folders) (default: both)",
    )


def run_cache(args: argparse.Namespace) -> int:
    return {"list": run_list, "clear": run_clear}[args.action](args)


def _entries(cache: Cache) -> list[Entry]:
    try:
        return cache.entries()
    except OSError as e:
        raise ValueError(
            f"cannot read the cache folder {cache.root} ({e.strerror or e}); fix its "
            "permissions, or set $TWOLAYER_CACHE to another folder"
        ) from None


def _cap(cache: Cache) -> str:
    if cache.max_bytes is None:
        return f"no cap ({MAX_ENV}=off)"
    origin = MAX_ENV if cache.max_bytes != DEFAULT_MAX else f"the default; set {MAX_ENV}"
    return f"a cap of {format_size(cache.max_bytes)} ({origin})"


def _total(entries: list[Entry]) -> str:
    n = len(entries)
    return f"{n} {'entry' if n == 1 else 'entries'}, {format_size(sum(e.size for e in entries))}"


def run_list(args: argparse.Namespace) -> int:
    cache = open_cache()
    entries = _entries(cache)
    print(f"cache folder {cache.root}")
    if entries:
        header = ("kind", "size", "last used", "what", "file")
        rows = [header] + [
            (
                e.kind,
                format_size(e.size),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_used)),
                describe(e),
                str(e.path.relative_to(cache.root)),
            )
            for e in entries
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
        for row in rows:
            print(
                "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True))
                + "  "
                + row[-1]
            )
    over = cache.max_bytes is not None and sum(e.size for e in entries) > cache.max_bytes
    note = "; over it, so the next entry written evicts the least recently used" if over else ""
    print(f"{_total(entries)} in all, {_cap(cache)}{note}")
    return 0


def run_clear(args: argparse.Namespace) -> int:
    cache = open_cache()
    _entries(cache)  # an unreadable folder is an error before anything is removed
    older = None if args.older_than is None else args.older_than * SECONDS_PER_DAY
    removed = cache.clear(args.kind, older)
    print(f"removed {_total(removed)}, from {cache.root}")
    print(f"{_total(_entries(cache))} left")
    return 0
