"""Text bound for a terminal: untrusted strings (file names, payload header fields read
before they are authenticated) with every control character escaped, so that a name
cannot move the cursor, change colours, reorder the line or start a new one."""

from __future__ import annotations

import re

#: C0 and C1 controls, DEL, Unicode line and paragraph separators, bidirectional marks and
#: overrides, and lone surrogates (what Python makes of a file name that is not UTF-8).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    """One unsafe character as a Python-style escape (\\n, \\x1b, \\u202e)."""
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escaped(text: object) -> str:
    """``text`` as one printable line: each control character written as an escape (\\n, \\x1b)."""
    return _UNSAFE.sub(_escape, str(text))


def escaped_lines(text: object) -> list[str]:
    """``text``'s lines, each escaped (for messages whose own lines are meant, such as a list of options)."""
    return [escaped(line) for line in str(text).split("\n")]
