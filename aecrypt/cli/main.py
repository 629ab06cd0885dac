"""The ``aecrypt`` command line: reproduce the study, or encrypt real image files with a key.

Every error is one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import sys

from aecrypt.cli.parser import build_parser
from aecrypt.errors import AecryptError

EXIT_ERROR = 1
#: The status a shell gives a command stopped by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Entry point: run one sub-command; an aecrypt error becomes one line and exit status 1."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except AecryptError as exc:
        first, *rest = str(exc).splitlines() or [type(exc).__name__]
        print(f"aecrypt: error: {first}", file=sys.stderr)
        for line in rest:
            print(line, file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("aecrypt: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
