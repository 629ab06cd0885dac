"""Where the study's images come from: the MNI152 template's slices (and their positions),
the retina photograph, and other people's scans for an out-of-distribution test. Nothing
is downloaded: each ships inside an installed package (nilearn, scikit-image, pydicom-data,
nibabel)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from aecrypt.data.images import prepare_image
from aecrypt.data.windows import VIEWER_PERCENTILES
from aecrypt.errors import DatasetError
from aecrypt.method.pixels import stretch

#: A slice of the MNI152 volume is kept when at least this fraction of it is brain.
MIN_BRAIN_FRACTION = 0.10
BRAIN_THRESHOLD = 0.05
MNI_PLANES = ("sagittal", "coronal", "axial")  # slicing along volume axes 0, 1, 2


def mni152_volume() -> np.ndarray:
    """The MNI152 (ICBM 2009a) T1 template shipped in the nilearn wheel, 197x233x189 in [0, 1]."""
    from nilearn.datasets import load_mni152_template  # imported here: nilearn is slow to import

    volume = np.asarray(load_mni152_template(resolution=1).get_fdata(), dtype=np.float32)
    return volume / max(float(volume.max()), 1e-12)


def mni152_slices(min_brain_fraction: float = MIN_BRAIN_FRACTION) -> tuple[list[np.ndarray], list[str], list[str], np.ndarray]:
    """Sagittal, coronal and axial slices with enough brain in them.

    Returns slices, planes, names and each slice's position in mm along its plane's
    axis. The template is symmetric (ICBM 2009a *sym*), so a sagittal slice and its
    mirror across the midline are the same picture: sagittal positions are distances from
    the midline, and the slab split keeps a slice and its mirror on the same side.
    """
    volume = mni152_volume()
    slices, planes, names, positions = [], [], [], []
    for axis, plane in enumerate(MNI_PLANES):
        stack = np.moveaxis(volume, axis, 0)
        fraction = (stack > BRAIN_THRESHOLD).reshape(stack.shape[0], -1).mean(axis=1)
        midline = (stack.shape[0] - 1) / 2
        for index in np.flatnonzero(fraction >= min_brain_fraction):
            slices.append(np.rot90(stack[index]).copy())  # rotate so the head points up
            planes.append(plane)
            names.append(f"mni152/{plane}/{index:03d}")
            positions.append(abs(index - midline) if plane == "sagittal" else float(index))  # 1 mm voxels
    return slices, planes, names, np.array(positions, np.float64)


@functools.lru_cache(maxsize=1)
def mni152_positions() -> dict[str, tuple[str, float]]:
    """Each MNI152 slice's plane and position (mm, as the slab split measures it), by name."""
    _, planes, names, positions = mni152_slices()
    return {name: (plane, float(position)) for name, plane, position in zip(names, planes, positions)}


def retina_image(image_size: int, channels: int = 3) -> np.ndarray:
    """The fundus photograph that scikit-image ships (CC0), cropped to its field of view."""
    from skimage import data as skdata

    raw = skdata.retina().astype(np.float32) / 255.0
    return prepare_image(raw, image_size, channels, fundus_crop=True)


#: Real scans of other people that install with the project's dependencies, for an
#: out-of-distribution test of a model trained on the MNI152 template. (file, frame, group);
#: sources and licences in data/README.md.
OOD_DICOM = (
    ("emri_small.dcm", 0, "other heads"), ("emri_small.dcm", 3, "other heads"),
    ("emri_small.dcm", 6, "other heads"), ("emri_small.dcm", 9, "other heads"),
    ("CT_small.dcm", None, "other body parts"), ("MR_small.dcm", None, "other body parts"),
    ("MR2_UNCI.dcm", None, "other body parts"), ("RG1_UNCI.dcm", None, "other body parts"),
    ("RG3_UNCI.dcm", None, "other body parts"), ("MR-SIEMENS-DICOM-WithOverlays.dcm", None, "other body parts"),
    ("JPEG2000_UNC.dcm", None, "other body parts"), ("US1_UNCI.dcm", None, "other body parts"),
)
#: Axial slices of nibabel's example4d.nii.gz (a real subject's functional MRI), first volume.
OOD_NIFTI_SLICES = tuple(range(2, 22, 2))
#: Intensities are stretched between these percentiles, as a viewer's auto-window does (the study's scan folders too).
OOD_PERCENTILES = VIEWER_PERCENTILES
OOD_GROUPS = ("other heads", "other body parts")


def _stretch(array: np.ndarray) -> np.ndarray:
    """Grey float image in [0, 1], stretched between ``OOD_PERCENTILES`` (colour averaged)."""
    x = np.asarray(array, np.float64)
    if x.ndim == 3 and x.shape[-1] == 3:
        x = x.mean(axis=-1)
    return stretch(x, percentiles=OOD_PERCENTILES).astype(np.float32)


def load_ood_images(image_size: int, channels: int = 3) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Scans of other people (heads and other body parts) from pydicom's and nibabel's test
    data: images (N, S, S, C) in [0, 1], names, and each image's group."""
    import nibabel
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    raw, names, groups = [], [], []
    volume = nibabel.load(Path(nibabel.__file__).parent / "tests" / "data" / "example4d.nii.gz")
    data = np.asanyarray(volume.dataobj)[..., 0]
    for z in OOD_NIFTI_SLICES:
        raw.append(_stretch(np.rot90(data[:, :, z])))
        names.append(f"nibabel/example4d/axial/{z:02d}")
        groups.append("other heads")
    for name, frame, group in OOD_DICOM:
        path = get_testdata_file(name, download=False)
        if path is None:
            raise DatasetError(f"pydicom's test file {name} is not installed; install the project's dependencies (pydicom-data)")
        dataset = dcmread(path)
        pixels = dataset.pixel_array if frame is None else dataset.pixel_array[frame]
        if dataset.get("PhotometricInterpretation") == "MONOCHROME1":  # stored inverted (X-rays)
            pixels = pixels.max() - pixels
        raw.append(_stretch(pixels))
        names.append(f"pydicom/{name}" + (f"/frame{frame}" if frame is not None else ""))
        groups.append(group)
    images = np.stack([prepare_image(x, image_size, channels) for x in raw])
    return images, names, np.array(groups)
