"""Output planning for the batch commands: each input file paired with the output it becomes.

Inputs are expanded (folders recursively) and named under ``-o`` with their sub-folders
kept; two inputs that map to one output, an output that is an input, an output whose
folder is blocked by a file, and an existing output without ``--force`` (or one
``--force`` may not replace) are refused before anything is written. The batch loop
reports each failed input as one line naming it, goes on with the others, and ends with
a summary that counts the failures by kind. Every line is printed with its control
characters escaped (``aecrypt.terminal``): file names and header fields are untrusted.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from aecrypt.errors import AecryptError, BatchFailedError, InputError, OutputError
from aecrypt.files import TEMP_SUFFIX, remove_leftovers, temp_name_for
from aecrypt.method.header import read_header
from aecrypt.method.payload import read_payload
from aecrypt.terminal import escaped

PAYLOAD_SUFFIX = ".aecrypt"
#: The image type ``decrypt`` writes when neither the payload's name nor its header says (x.aecrypt -> x.png).
DEFAULT_IMAGE_SUFFIX = ".png"
#: What ``decrypt`` names a file of each type whose payload's name and header give no extension.
DEFAULT_SUFFIXES = {"image": DEFAULT_IMAGE_SUFFIX, "dicom": ".dcm", "nifti": ".nii.gz"}
#: A stored file extension is used in an output name only if it looks like one (no path separators).
_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,16}(\.gz)?")


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


def scans_in(paths: list[str]) -> list[tuple[Path, Path]]:
    """Expand files and folders (recursively) into image, DICOM and NIfTI files with their relative names."""
    from aecrypt.data.scans import SCAN_SUFFIXES, find_scans  # the data wing loads SciPy: not for keygen, unseal or inspect

    return _expand(paths, find_scans, f"no images given (supported: {', '.join(SCAN_SUFFIXES)}, and DICOM files with no suffix)")


def files_in(paths: list[str]) -> tuple[list[tuple[Path, Path]], list[tuple[Path, str]]]:
    """Expand files and folders (recursively) into every regular file, with the entries left out and why."""
    skipped: list[tuple[Path, str]] = []

    def in_folder(folder: Path) -> list[Path]:
        """Every regular, non-empty file under a folder, sorted; the rest noted in ``skipped``."""
        kept = []
        for path in sorted(folder.rglob("*")):
            reason = _not_sealable(path)
            if reason:
                skipped.append((path, reason))
            elif not path.is_dir():
                kept.append(path)
        return kept

    return _expand(paths, in_folder, "no files given"), skipped


def _not_sealable(path: Path) -> str:
    """Why a folder entry is not sealed ('' for a regular file with bytes in it, or a folder to go into)."""
    info = path.lstat()
    if stat.S_ISDIR(info.st_mode):
        return ""
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link; seal the file it points to"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file: a FIFO, device or socket"
    if info.st_size == 0:
        return "empty"
    if path.name.endswith(TEMP_SUFFIX):
        return "a temporary file"
    return ""


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
    """Where a payload's image goes, relative to -o: a/x.png.aecrypt -> a/x.png; a/x.aecrypt -> a/x + the stored
    extension (or the file type's usual one: .png, .dcm, .nii.gz); a suffix-less DICOM keeps its name."""
    from aecrypt.data.scans import SCAN_SUFFIXES, full_suffix  # the data wing loads SciPy: not for keygen, unseal or inspect

    name = payload.name.removesuffix(PAYLOAD_SUFFIX)
    metadata = stored_metadata(source)
    stored = metadata.get("suffix", "")
    if full_suffix(name).lower() in SCAN_SUFFIXES or ("suffix" in metadata and full_suffix(name).lower() == stored.lower()):
        return payload.with_name(name)
    if stored.lower() in SCAN_SUFFIXES:
        return payload.with_name(name + stored)
    return payload.with_name(name + DEFAULT_SUFFIXES.get(metadata.get("format"), DEFAULT_IMAGE_SUFFIX))


def file_name(source: Path, payload: Path) -> Path:
    """Where a sealed file goes, relative to -o: a/x.dcm.aecrypt -> a/x.dcm; a/x.aecrypt -> a/x + the stored extension."""
    name = payload.name.removesuffix(PAYLOAD_SUFFIX)
    stored = stored_metadata(source).get("suffix", "")
    if not name.lower().endswith(stored.lower()):
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
    if not (isinstance(suffix, str) and (suffix == "" or _SAFE_SUFFIX.fullmatch(suffix))):
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
    """Pair each input with its output under ``out``; refuse clashes, inputs and existing outputs up front.

    Temporary files that killed runs left beside the outputs are removed first, and named.
    """
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
    clear_leftovers(list(jobs.values()))  # before any refusal: a killed run's plaintext is never silently kept
    inputs = {Path(os.path.realpath(path)) for path, _ in sources} | {_entry(path) for path, _ in sources}
    inputs |= {Path(os.path.realpath(path)) for path in reads} | {_entry(Path(path)) for path in reads}
    for job in jobs.values():
        if _entry(job.target) in inputs:
            raise OutputError(
                f"{job.target}: is a file this command reads; aecrypt never overwrites its inputs, "
                "even with --force; choose another -o"
            )
    for job in jobs.values():
        _check_folders(job.target, out)
        if os.path.lexists(job.target):
            _check_replaceable(job.target, force, replaceable, what)
    return list(jobs.values())


def _check_folders(target: Path, out: Path) -> None:
    """Refuse an output whose sub-folder under -o is taken by something that is not a folder (--force cannot help)."""
    for folder in reversed(target.parents):
        if folder == out or out in folder.parents:
            if os.path.lexists(folder) and not folder.is_dir():
                raise OutputError(f"{folder}: is a file, where a folder is needed for {target}; "
                                  "move it away, or choose another -o")


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
            fd, probe = tempfile.mkstemp(dir=out, prefix=temp_name_for(out / "write-probe"), suffix=TEMP_SUFFIX)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise OutputError(f"{out}: cannot write into this folder ({exc.strerror}); choose another -o") from None
        yield
    finally:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()


@contextlib.contextmanager
def writing(target: Path, force: bool = False) -> Iterator[None]:
    """Turn a failed write of ``target`` into one ``OutputError`` naming it (nothing is left behind)."""
    try:
        yield
    except (FileExistsError, NotADirectoryError):
        blocked = next((folder for folder in target.parents if os.path.lexists(folder) and not folder.is_dir()), None)
        if blocked is not None:
            raise OutputError(f"{blocked}: a file appeared where a folder is needed for {target}; move it away, "
                              "or choose another -o") from None
        if force:
            raise OutputError(f"{target}: not written, something appeared there meanwhile that --force may not replace; "
                              "move it away, or choose another -o") from None
        raise OutputError(f"{target}: not written, something appeared there meanwhile; add --force to replace it, or choose another -o") from None
    except OSError as exc:
        raise OutputError(f"{target}: cannot write it ({exc.strerror or exc}); check the -o folder's space and permissions") from None


def clear_leftovers(jobs: list[Job]) -> None:
    """Remove the temporary files killed runs left beside this run's outputs, saying so (those of a running process are named and kept)."""
    for folder in sorted({job.target.parent for job in jobs if job.target is not None}):
        removed, kept = remove_leftovers(folder)
        for path in removed:
            warn(f"removed {path}, a temporary file an interrupted run left (it may have held decrypted data)")
        for path in kept:
            warn(f"{path}: a temporary file of a run still in progress; left alone")


def _named(path: Path, exc: AecryptError) -> AecryptError:
    """The error with the input's name in front (once), on one line."""
    message = str(exc) or type(exc).__name__
    prefix = f"{path}: "
    return type(exc)(message if message.startswith(prefix) else prefix + message)


def run_batch(jobs: list[Job], work: Callable[[Job], None], desc: str, progress: bool) -> Counter:
    """Run ``work`` on every job, reporting each failure as one line naming its file; the failures counted by kind.

    A single job's error is raised as it is, so that it is the only line. A library's
    warning (Pillow's "Corrupt EXIF data", pydicom's notes) becomes one warning line naming the file.
    """
    failed: Counter = Counter()
    for job in tqdm(jobs, desc=desc, unit="file", disable=not progress or len(jobs) < 2 or not sys.stderr.isatty()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                work(job)
            except AecryptError as exc:
                if len(jobs) == 1:
                    raise _named(job.source, exc) from None
                failed[exc.kind] += 1
                tqdm.write(f"aecrypt: error: {escaped(_named(job.source, exc))}", file=sys.stderr)
            finally:
                for message in dict.fromkeys(str(w.message).strip() for w in caught):
                    warn(f"{job.source}: {message}")
    return failed


def finish(verb: str, noun: str, jobs: list[Job], failed: Counter, out: Path, seconds: float, quiet: bool,
           skipped: list[tuple[Path, str]] = ()) -> None:
    """Print the run's summary, or raise ``BatchFailedError`` (its one summary line) if any input failed.

    The summary counts the failures by kind and names each file left out of a folder, with why.
    """
    count = sum(failed.values())
    done = len(jobs) - count
    left_out = f"; skipped {len(skipped)}: " + ", ".join(f"{path} ({why})" for path, why in skipped) if skipped else ""
    if count:
        kinds = ", ".join(f"{number} {kind}" for kind, number in failed.most_common())
        raise BatchFailedError(f"{count} of {len(jobs)} {noun}(s) failed (named above: {kinds}); "
                               f"{verb} the other {done} into {out}/{left_out}")
    if not quiet:
        print(escaped(f"{verb} {done} {noun}(s) into {out}/ in {seconds:.2f} s ({done / max(seconds, 1e-9):.1f} {noun}s/s)"
                      f"{left_out}"))


def warn(message: str) -> None:
    """Print one warning line on stderr (through tqdm, so a progress bar stays intact)."""
    tqdm.write(f"aecrypt: warning: {escaped(message)}", file=sys.stderr)


def say(message: str, quiet: bool) -> None:
    """Print one line on stdout unless --quiet (through tqdm, so a progress bar stays intact)."""
    if not quiet:
        tqdm.write(escaped(message), file=sys.stdout)
