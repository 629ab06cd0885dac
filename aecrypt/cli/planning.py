"""Output planning for the batch commands: each input file paired with the output it becomes.

Inputs are expanded (folders recursively) and named under ``-o`` with their sub-folders
kept; two inputs that map to one output, an output that is an input, and an existing
output without ``--force`` (or one ``--force`` may not replace) are refused before
anything is written. The batch loop reports each failed input as one line naming it and
goes on with the others.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from aecrypt.errors import AecryptError, BatchFailedError, InputError, OutputError
from aecrypt.files import TEMP_SUFFIX
from aecrypt.method.header import read_header
from aecrypt.method.payload import read_payload

PAYLOAD_SUFFIX = ".aecrypt"
#: The image type ``decrypt`` writes when neither the payload's name nor its header says (x.aecrypt -> x.png).
DEFAULT_IMAGE_SUFFIX = ".png"
#: A stored file extension is used in an output name only if it looks like one (no path separators).
_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,16}")


@dataclass(frozen=True)
class Job:
    """One input file of a batch and the output it becomes (None for ``inspect``)."""

    source: Path
    target: Path | None = None


# ------------------------------------------------------------------- the inputs


def _expand(paths: list[str], in_folder: Callable[[Path], list[Path]], nothing: str) -> list[tuple[Path, Path]]:
    """Each input file with its name relative to the folder argument it was found in (a file: its name)."""
    found: list[tuple[Path, Path]] = []
    for item in map(Path, paths):
        if item.is_dir():
            found += [(path, path.relative_to(item)) for path in in_folder(item)]
        elif item.exists():
            found.append((item, Path(item.name)))
        else:
            raise InputError(f"{item}: no such file or folder")
    if not found:
        raise InputError(nothing)
    return found


def images_in(paths: list[str]) -> list[tuple[Path, Path]]:
    """Expand files and folders (recursively) into image files with their relative names."""
    from aecrypt.data.folders import find_images  # the data wing loads SciPy: not for keygen, unseal or inspect
    from aecrypt.data.images import IMAGE_SUFFIXES

    return _expand(paths, find_images, f"no images given (supported: {', '.join(IMAGE_SUFFIXES)})")


def payloads_in(paths: list[str]) -> list[tuple[Path, Path]]:
    """Expand files and folders (recursively) into payload files (``*.aecrypt`` inside folders)."""
    def in_folder(folder: Path) -> list[Path]:
        """Payload files anywhere under a folder, sorted."""
        return sorted(path for path in folder.rglob(f"*{PAYLOAD_SUFFIX}") if path.is_file())

    return _expand(paths, in_folder, f"no payloads given (files ending in {PAYLOAD_SUFFIX})")


# ------------------------------------------------------------------ their names


def payload_name(source: Path, image: Path) -> Path:
    """Where an image's payload goes, relative to -o: a/x.png -> a/x.png.aecrypt."""
    return image.with_name(image.name + PAYLOAD_SUFFIX)


def image_name(source: Path, payload: Path) -> Path:
    """Where a payload's image goes, relative to -o: a/x.png.aecrypt -> a/x.png; a/x.aecrypt -> a/x + the stored extension (or .png)."""
    from aecrypt.data.images import IMAGE_SUFFIXES  # the data wing loads SciPy: not for keygen, unseal or inspect

    name = payload.name.removesuffix(PAYLOAD_SUFFIX)
    if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
        stored = stored_metadata(source).get("suffix", "")
        name += stored if stored.lower() in IMAGE_SUFFIXES else DEFAULT_IMAGE_SUFFIX
    return payload.with_name(name)


def file_name(source: Path, payload: Path) -> Path:
    """Where a sealed file goes, relative to -o: a/x.dcm.aecrypt -> a/x.dcm; a/x.aecrypt -> a/x + the stored extension."""
    name = payload.name.removesuffix(PAYLOAD_SUFFIX)
    stored = stored_metadata(source).get("suffix", "")
    if Path(name).suffix.lower() != stored.lower():
        name += stored
    return payload.with_name(name)


def stored_metadata(payload: Path) -> dict:
    """A payload's header metadata, read without the key, for naming its output ({} if unreadable).

    It is not yet authenticated here, so a stored extension is used only if it is a plain one.
    """
    try:
        metadata = dict(read_header(read_payload(payload)).metadata)
    except AecryptError:
        return {}
    suffix = metadata.get("suffix")
    if not (isinstance(suffix, str) and _SAFE_SUFFIX.fullmatch(suffix)):
        metadata.pop("suffix", None)
    return metadata


# ------------------------------------------------------------------- the plan


def _entry(path: Path) -> Path:
    """The directory entry a path names: its folder resolved, its last part (a symlink) kept."""
    return Path(os.path.realpath(path.parent)) / path.name


def plan(
    sources: list[tuple[Path, Path]], out: Path, name: Callable[[Path, Path], Path], reads: list[str],
    force: bool, replaceable: Callable[[Path], bool], what: str,
) -> list[Job]:
    """Pair each input with its output under ``out``; refuse clashes, inputs and existing outputs up front."""
    if os.path.lexists(out) and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; -o takes a folder (new or existing)")
    jobs: dict[Path, Job] = {}
    for source, relative in sources:
        job = Job(source, out / name(source, relative))
        earlier = jobs.setdefault(_entry(job.target), job)
        if earlier.source != job.source and _entry(earlier.source) != _entry(job.source):
            raise OutputError(
                f"{earlier.source} and {job.source} would both be written to {job.target}; "
                "rename one of them, or give them in separate runs with different -o folders"
            )
    inputs = {Path(os.path.realpath(path)) for path, _ in sources} | {_entry(path) for path, _ in sources}
    inputs |= {Path(os.path.realpath(path)) for path in reads} | {_entry(Path(path)) for path in reads}
    for job in jobs.values():
        if _entry(job.target) in inputs:
            raise OutputError(
                f"{job.target}: is a file this command reads; aecrypt never overwrites its inputs, "
                "even with --force; choose another -o"
            )
    for job in jobs.values():
        if os.path.lexists(job.target):
            _check_replaceable(job.target, force, replaceable, what)
    return list(jobs.values())


def _check_replaceable(target: Path, force: bool, replaceable: Callable[[Path], bool], what: str) -> None:
    """Refuse an existing output unless --force is given and it is a symlink (replaced, not followed) or ``what``."""
    if not force:
        raise OutputError(f"{target}: already exists; add --force to replace it, or choose another -o")
    if not target.is_symlink() and not (target.is_file() and replaceable(target)):
        raise OutputError(
            f"{target}: exists and is not {what}, so it may be an original; --force replaces only files "
            "aecrypt wrote. Move it away, or choose another -o"
        )


# ------------------------------------------------------------------ the batch


@contextlib.contextmanager
def output_folder(out: Path) -> Iterator[None]:
    """Create the -o folder and check that it is writable; remove it again if this run made it and wrote nothing."""
    created = not os.path.lexists(out)
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=out, suffix=TEMP_SUFFIX)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise OutputError(f"{out}: cannot write into this folder ({exc.strerror}); choose another -o") from None
        yield
    finally:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()


@contextlib.contextmanager
def writing(target: Path) -> Iterator[None]:
    """Turn a failed write of ``target`` into one ``OutputError`` naming it (nothing is left behind)."""
    try:
        yield
    except FileExistsError:
        raise OutputError(f"{target}: not written, something appeared there meanwhile; add --force to replace it, or choose another -o") from None
    except OSError as exc:
        raise OutputError(f"{target}: cannot write it ({exc.strerror or exc}); check the -o folder's space and permissions") from None


def _named(path: Path, exc: AecryptError) -> AecryptError:
    """The error with the input's name in front (once), and only its first line."""
    message = (str(exc).splitlines() or [type(exc).__name__])[0]
    prefix = f"{path}: "
    return type(exc)(message if message.startswith(prefix) else prefix + message)


def run_batch(jobs: list[Job], work: Callable[[Job], None], desc: str, progress: bool) -> int:
    """Run ``work`` on every job, reporting each failure as one line naming its file; the number that failed.

    A single job's error is raised as it is, so that it is the only line.
    """
    failed = 0
    for job in tqdm(jobs, desc=desc, unit="file", disable=not progress or len(jobs) < 2 or not sys.stderr.isatty()):
        try:
            work(job)
        except AecryptError as exc:
            if len(jobs) == 1:
                raise _named(job.source, exc) from None
            failed += 1
            tqdm.write(f"aecrypt: error: {_named(job.source, exc)}", file=sys.stderr)
    return failed


def finish(verb: str, noun: str, jobs: list[Job], failed: int, out: Path, seconds: float, quiet: bool) -> None:
    """Print the run's summary, or raise ``BatchFailedError`` (its one summary line) if any input failed."""
    done = len(jobs) - failed
    if failed:
        raise BatchFailedError(f"{failed} of {len(jobs)} {noun}(s) failed (named above); {verb} the other {done} into {out}/")
    if not quiet:
        print(f"{verb} {done} {noun}(s) into {out}/ in {seconds:.2f} s ({done / max(seconds, 1e-9):.1f} {noun}s/s)")


def warn(message: str) -> None:
    """Print one warning line on stderr (through tqdm, so a progress bar stays intact)."""
    tqdm.write(f"aecrypt: warning: {message}", file=sys.stderr)


def say(message: str, quiet: bool) -> None:
    """Print one line on stdout unless --quiet (through tqdm, so a progress bar stays intact)."""
    if not quiet:
        tqdm.write(message, file=sys.stdout)
