"""The ``aecrypt`` command line: reproduce the study, or encrypt real image files with a key.

Every error is one line on stderr and a non-zero exit status, never a traceback; control
characters in it (a file name's, a header field's) are printed escaped.
"""

from __future__ import annotations

import sys

from aecrypt.cli.parser import build_parser
from aecrypt.errors import AecryptError
from aecrypt.terminal import escaped, escaped_lines

EXIT_ERROR = 1
#: The commands whose every error is one line: a line break in one (from a file name) is printed escaped.
ONE_LINE_COMMANDS = frozenset({"keygen", "encrypt", "decrypt", "seal", "unseal", "inspect"})
#: The status a shell gives a command stopped by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Entry point: run one sub-command; an aecrypt error becomes one line and exit status 1."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except AecryptError as exc:
        message = str(exc) or type(exc).__name__
        first, *rest = [escaped(message)] if args.command in ONE_LINE_COMMANDS else escaped_lines(message)
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
