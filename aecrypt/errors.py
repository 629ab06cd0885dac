"""The exceptions aecrypt raises: one base class, one subclass per kind of bad input.

Every message says what is wrong and what to do about it, so a notebook or the command
line can print ``str(error)`` as a single helpful line. Every error a user can cause is
an ``AecryptError``; the command line and the study's workflow print it as one line.
"""

from __future__ import annotations


class AecryptError(Exception):
    """Base class of every error aecrypt raises on purpose."""


class PayloadFormatError(AecryptError, ValueError):
    """The bytes are not a readable aecrypt payload (truncated, bad magic, unknown version)."""


class UnauthenticatedPayloadError(AecryptError):
    """A payload uses a scheme without integrity (paper, ecb, cbc, ctr) and was not explicitly allowed."""


class WrongKeyOrTamperedError(AecryptError):
    """Authentication failed: the key is wrong or the payload was altered."""


class KeyFileError(AecryptError):
    """A key file is missing, has the wrong length, or would be overwritten."""


class ImageReadError(AecryptError):
    """An image file is missing, corrupt, or in an unsupported format."""


class DatasetError(AecryptError):
    """A dataset folder or labels file is missing, empty, or inconsistent."""


class InputError(AecryptError):
    """A file or folder named on the command line is missing or holds nothing to work on."""


class OutputError(AecryptError):
    """An output cannot be written: it exists, clashes with another, would replace an input, or its folder is not writable."""


class BatchFailedError(AecryptError):
    """Some inputs of a batch failed (each reported on its own line); the others were processed."""


class FidelityError(AecryptError):
    """The decoder would reconstruct an image below the fidelity asked for (``--min-ssim``)."""


class ModelFileError(AecryptError):
    """A model file is missing, not an aecrypt model, or does not fit the payload."""


class ManifestMismatchError(AecryptError):
    """A run's data parameters contradict the manifest saved with the trained model."""


class ParameterError(AecryptError, ValueError):
    """A parameter name or value is not accepted (unknown profile, misspelt name, wrong type, ...)."""


class NotebookFailedError(AecryptError):
    """A notebook raised an exception while the study ran."""


class WorkflowError(AecryptError):
    """The study's workflow could not run: another run holds its lock, or Snakemake itself failed."""
