"""The exceptions aecrypt raises: one base class, one subclass per kind of bad input.

Every message says what is wrong and what to do about it, so a notebook or the command
line can print ``str(error)`` as a single helpful line. Every error a user can cause is
an ``AecryptError``; the command line and the study's workflow print it as one line. Each
class names its ``kind`` in a few words, so a batch's summary can count failures by kind.
"""

from __future__ import annotations


class AecryptError(Exception):
    """Base class of every error aecrypt raises on purpose."""

    kind = "other"


class PayloadFormatError(AecryptError, ValueError):
    """The bytes are not a readable aecrypt payload (truncated, bad magic, unknown version)."""

    kind = "not a readable payload"


class UnauthenticatedPayloadError(AecryptError):
    """A payload uses a scheme without integrity (paper, ecb, cbc, ctr) and was not explicitly allowed."""


class WrongKeyOrTamperedError(AecryptError):
    """Authentication failed: the key is wrong or the payload was altered."""

    kind = "wrong key or altered"


class KeyFileError(AecryptError):
    """A key file is missing, has the wrong length, or would be overwritten."""


class ImageReadError(AecryptError):
    """An image file is missing, corrupt, or in an unsupported format."""

    kind = "unreadable"


class ImageSizeError(ImageReadError):
    """An image too small for the model's stride, or larger than decrypt could restore."""

    kind = "wrong size"


class UnsupportedImageError(ImageReadError):
    """An image aecrypt reads but cannot encrypt faithfully (its frames, values, compression or dimensions)."""

    kind = "unsupported"


class DatasetError(AecryptError):
    """A dataset folder or labels file is missing, empty, or inconsistent."""


class InputError(AecryptError):
    """A file or folder named on the command line is missing or holds nothing to work on."""

    kind = "unusable input"


class OutputError(AecryptError):
    """An output cannot be written: it exists, clashes with another, would replace an input, or its folder is not writable."""

    kind = "not written"


class BatchFailedError(AecryptError):
    """Some inputs of a batch failed (each reported on its own line); the others were processed."""


class FidelityError(AecryptError):
    """The decoder would reconstruct an image below the fidelity asked for (``--min-ssim``)."""

    kind = "below --min-ssim"


class ModelFileError(AecryptError):
    """A model file is missing, not an aecrypt model, or does not fit the payload."""

    kind = "model mismatch"


class ManifestMismatchError(AecryptError):
    """A run's data parameters contradict the manifest saved with the trained model."""


class ParameterError(AecryptError, ValueError):
    """A parameter name or value is not accepted (unknown profile, misspelt name, wrong type, ...)."""


class NotebookFailedError(AecryptError):
    """A notebook raised an exception while the study ran."""


class CodecUnavailableError(AecryptError):
    """An image codec the study asks for is not in the installed imagecodecs build (or imagecodecs is missing)."""


class FigureDataError(AecryptError):
    """A run's saved figure data is missing or was saved by an older aecrypt in another layout."""


class WorkflowError(AecryptError):
    """The study's workflow could not run: another run holds its lock, or Snakemake itself failed."""
