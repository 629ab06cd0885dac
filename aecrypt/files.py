"""Reading and writing files safely, defined once for every layer.

Writes go through a temporary file created with ``tempfile`` in the target's folder and
renamed into place, so an interrupted run never leaves a half-written file; the
temporary file is removed on any error. Its name (``.NAME.PID.XXXXXXXX.tmp``) says which
process made it, so a later run finds what a killed one left (``remove_leftovers``). Reads of untrusted files are bounded and refuse
anything that is not a regular file *before* a blocking read (a FIFO would hang).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

#: Suffix of the temporary files the writers below create: neither an image's nor a
#: payload's, so a file left behind by a killed run is never taken for an input later.
TEMP_SUFFIX = ".tmp"
#: How much of the target's name a temporary file's name repeats (file names have a length limit).
TEMP_PREFIX_CHARS = 100
#: Bytes read at a time when hashing a file.
HASH_CHUNK = 1 << 20


class NotRegularFileError(OSError):
    """A path that is a FIFO, device, socket or folder where a regular file was expected."""


class FileTooLargeError(OSError):
    """A file larger than the bound its reader allows."""


#: A temporary file of ours: ``.NAME.PID.XXXXXXXX.tmp`` (``mkstemp``'s eight random characters), then perhaps the target's suffix.
_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.(?P<pid>[0-9]{1,10})\.[a-z0-9_]{8}\.tmp(?:\.[^.]*)?")


def temp_name_for(target: Path) -> str:
    """The prefix of the temporary files written for ``target`` (``.NAME.PID.``), so a later run can find leftovers."""
    return f".{target.name[:TEMP_PREFIX_CHARS]}.{os.getpid()}."


def remove_leftovers(folder: str | Path, name: str | None = None) -> tuple[list[Path], list[Path]]:
    """Remove the temporary files that killed runs left in ``folder`` (for target ``name`` only, if given).

    Returns (removed, kept): a file whose process is still running is kept, as it is being
    written. Only regular files named as ``temp_name_for`` names them are touched.
    """
    removed, kept = [], []
    try:
        entries = sorted(Path(folder).iterdir())
    except OSError:
        return removed, kept
    for path in entries:
        match = _TEMP_NAME.fullmatch(path.name)
        if not match or (name is not None and match["name"] != name[:TEMP_PREFIX_CHARS]) or path.is_symlink() or not path.is_file():
            continue
        if _running(int(match["pid"])):
            kept.append(path)
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed, kept


def _running(pid: int) -> bool:
    """Whether a process of that id exists (this one included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # another user's process: leave its file alone
    return True


def _umask() -> int:
    """The process's umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _mode_for_new_file(private: bool) -> int:
    """0600 for private files (keys, plaintext), else what ``open`` gives under the user's umask."""
    return 0o600 if private else 0o666 & ~_umask()


@contextmanager
def atomic_path(target: str | Path, private: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` if the block succeeds.

    The file ends with the user's umask (0644 under umask 022), or 0600 with ``private``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # the target's own suffix last: writers such as numpy's savez add theirs to a name without it
    fd, tmp = tempfile.mkstemp(prefix=temp_name_for(target), suffix=TEMP_SUFFIX + target.suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _mode_for_new_file(private))
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextmanager
def atomic_file(target: str | Path, replace: bool = True, private: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes ``target`` if the block succeeds; removed on any error.

    The file is created exclusively, under a random name ending in ``TEMP_SUFFIX``, in
    ``target``'s folder (``tempfile.mkstemp``), and is written through its descriptor,
    never reopened by name. On success it takes mode 0600 (``private``, the default: keys,
    payloads, decrypted images) or the user's umask, and is renamed onto ``target``: a
    symlink planted there is replaced, never followed. With ``replace=False`` anything
    already at ``target`` raises ``FileExistsError`` and is left as it is.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_name_for(target), suffix=TEMP_SUFFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), _mode_for_new_file(private))
            os.fsync(handle.fileno())
        _publish(tmp, target, replace)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _publish(tmp: str, target: Path, replace: bool) -> None:
    """Move a finished temporary file to ``target``: rename over what is there, or link beside it."""
    if replace:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target, follow_symlinks=False)  # atomic: FileExistsError if anything is there
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: check, then rename
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target)) from None
        os.replace(tmp, target)


def write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically, with the user's umask."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


@contextmanager
def open_regular(path: str | Path, limit: int | None = None) -> Iterator[BinaryIO]:
    """Open a regular file for reading without ever blocking on a FIFO or device.

    The path is opened non-blocking and checked with ``fstat`` before any read; a FIFO,
    device, socket or folder raises ``NotRegularFileError`` and one larger than ``limit``
    bytes ``FileTooLargeError`` (both ``OSError``s with a ``strerror`` in words).
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise NotRegularFileError(errno.EISDIR, "a folder, not a file", str(path)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO, device or socket"
            raise NotRegularFileError(errno.EINVAL, f"{kind}, not a regular file", str(path))
        if limit is not None and info.st_size > limit:
            raise FileTooLargeError(errno.EFBIG, f"{info.st_size} bytes, more than the {limit} this reader takes", str(path))
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_bounded(path: str | Path, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit`` of them (see ``open_regular`` for what is refused)."""
    with open_regular(path, limit) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # the file grew after fstat
        raise FileTooLargeError(errno.EFBIG, f"more than the {limit} bytes this reader takes", str(path))
    return data


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a regular file in hex, read in chunks."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
