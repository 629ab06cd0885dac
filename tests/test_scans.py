"""Real scans end to end through the command line (issue 30): DICOM files that pydicom and
pydicom-data ship, and NIfTI volumes that nibabel ships, with the committed model."""

import gzip
import shutil
from pathlib import Path

import nibabel
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from aecrypt.data.nifti import WRITTEN_BY
from aecrypt.method.header import read_header
from aecrypt.method.keys import generate_key, save_key
from aecrypt.method.metrics import ssim
from clirun import aecrypt
from test_cli_inputs import assert_failed, snapshot

NIBABEL_DATA = Path(nibabel.__file__).parent / "tests" / "data"
#: Header fields a decrypted DICOM keeps from the original.
KEPT_FIELDS = ("PatientName", "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "Modality", "Rows", "Columns",
               "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "PhotometricInterpretation", "SamplesPerPixel")


@pytest.fixture
def key(tmp_path):
    """A fresh key file in the test's folder."""
    save_key(generate_key(), tmp_path / "k.key")
    return tmp_path / "k.key"


def _round_trip(tmp_path, key, name, source, *extra):
    """Copy a file into scans/, encrypt it with the committed model (lossy allowed), decrypt it; (payload, output)."""
    (tmp_path / "scans").mkdir(exist_ok=True)
    shutil.copy(source, tmp_path / "scans" / name)
    done = aecrypt("encrypt", "scans", "--key", key, "-o", "sealed", "--allow-lossy", *extra, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    opened = aecrypt("decrypt", "sealed", "--key", key, "-o", "opened", cwd=tmp_path)
    assert opened.returncode == 0, opened.stderr
    return tmp_path / "sealed" / f"{name}.aecrypt", tmp_path / "opened" / name


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "emri_small.dcm"])
def test_a_dicom_comes_back_a_valid_lossy_marked_dicom_with_its_header(tmp_path, key, name):
    original = dcmread(get_testdata_file(name))
    payload, output = _round_trip(tmp_path, key, name, get_testdata_file(name))
    for field in ("PatientName", "StudyInstanceUID", "SOPInstanceUID"):  # the header travels encrypted
        assert not str(original.get(field, "")) or str(original.get(field)).encode() not in payload.read_bytes()
    metadata = read_header(payload.read_bytes()).metadata
    back = dcmread(output)
    assert all(back.get(field) == original.get(field) for field in KEPT_FIELDS)
    assert back.SOPInstanceUID != original.SOPInstanceUID and back.file_meta.MediaStorageSOPInstanceUID == back.SOPInstanceUID
    assert back.LossyImageCompression == "01" and back.LossyImageCompressionMethod == "AECRYPT_AE"
    assert float(back.LossyImageCompressionRatio) > 0
    stored, written = original.pixel_array.astype(np.float64), back.pixel_array.astype(np.float64)
    assert back.pixel_array.dtype == original.pixel_array.dtype and written.shape == stored.shape  # every frame
    frames = stored.reshape(-1, *stored.shape[-2:]), written.reshape(-1, *stored.shape[-2:])
    data_range = stored.max() - stored.min()
    measured = np.mean([ssim(a, b, data_range) for a, b in zip(*frames)])
    assert metadata["ssim"] == pytest.approx(measured, abs=1e-3)  # the stated fidelity is the file's
    slope = float(original.get("RescaleSlope", 1))
    assert metadata["mean_error"] == pytest.approx(np.abs(stored - written).mean() * slope, rel=1e-3)
    assert metadata["units"] == ("HU" if original.Modality == "CT" else "stored units")


def test_earlier_lossy_ratios_and_methods_are_kept_and_ours_appended(tmp_path, key):
    earlier = dcmread(get_testdata_file("MR_small.dcm"))
    earlier.LossyImageCompression = "01"
    earlier.LossyImageCompressionRatio = "10"
    earlier.LossyImageCompressionMethod = "ISO_10918_1"
    earlier.save_as(tmp_path / "earlier.dcm")
    _, output = _round_trip(tmp_path, key, "mr.dcm", tmp_path / "earlier.dcm")
    back = dcmread(output)
    assert list(back.LossyImageCompressionMethod) == ["ISO_10918_1", "AECRYPT_AE"]
    assert len(back.LossyImageCompressionRatio) == 2 and float(back.LossyImageCompressionRatio[0]) == 10


def test_seal_and_unseal_keep_a_dicom_bit_exact(tmp_path, key):
    source = Path(get_testdata_file("CT_small.dcm"))
    (tmp_path / "scans").mkdir()
    shutil.copy(source, tmp_path / "scans" / "ct")  # a DICOM with no suffix, as scanners name them
    assert aecrypt("seal", "scans", "--key", key, "-o", "sealed", cwd=tmp_path).returncode == 0
    assert aecrypt("unseal", "sealed", "--key", key, "-o", "back", cwd=tmp_path).returncode == 0
    assert (tmp_path / "back" / "ct").read_bytes() == source.read_bytes()


@pytest.mark.parametrize("name, axis", [("anatomical.nii", 2), ("anatomical.nii", 0), ("standard.nii.gz", 2)])
def test_a_nifti_volume_comes_back_with_its_affine_and_header(tmp_path, key, name, axis):
    source = NIBABEL_DATA / name
    payload, output = _round_trip(tmp_path, key, name, source, "--axis", str(axis))
    before, after = nibabel.load(source), nibabel.load(output)
    assert np.array_equal(after.affine, before.affine) and after.shape == before.shape
    assert after.get_data_dtype() == before.get_data_dtype()
    changed = [field for field in before.header
               if not np.array_equal(before.header[field], after.header[field], equal_nan=before.header[field].dtype.kind == "f")]
    assert changed == ["descrip"] and after.header["descrip"].tobytes().rstrip(b"\0") == WRITTEN_BY
    metadata = read_header(payload.read_bytes()).metadata
    assert metadata["frames"] == before.shape[axis] and metadata["axis"] == axis
    stored, written = (np.moveaxis(np.asanyarray(image.dataobj).astype(np.float64), axis, 0) for image in (before, after))
    measured = np.mean([ssim(a, b, stored.max() - stored.min()) for a, b in zip(stored, written)])
    assert metadata["ssim"] == pytest.approx(measured, abs=1e-3)  # the stated fidelity, slice by slice
    if name.endswith(".gz"):
        assert len(gzip.decompress(output.read_bytes())) == len(gzip.decompress(source.read_bytes()))  # gzipped as it came


def _no_pixel_data(folder):
    shutil.copy(get_testdata_file("rtplan.dcm"), folder / "plan.dcm")
    return "plan.dcm", "no pixel data"


def _compressed_without_decoder(folder):
    shutil.copy(get_testdata_file("JPEG-LL.dcm"), folder / "lossless.dcm")
    return "lossless.dcm", "no decoder for it is installed"


def _four_d_nifti(folder):
    shutil.copy(NIBABEL_DATA / "example4d.nii.gz", folder / "bold.nii.gz")
    return "bold.nii.gz", "4-D NIfTI"


def _smaller_than_the_stride(folder):
    from PIL import Image

    Image.fromarray(np.zeros((1, 40), np.uint8)).save(folder / "line.png")
    return "line.png", "smaller than"


@pytest.mark.parametrize("case", [_no_pixel_data, _compressed_without_decoder, _four_d_nifti, _smaller_than_the_stride],
                         ids=lambda case: case.__name__.strip("_"))
def test_bad_scans_are_one_line_and_write_nothing(tmp_path, key, case):
    (tmp_path / "scans").mkdir()
    name, reason = case(tmp_path / "scans")
    before = snapshot(tmp_path)
    assert_failed(aecrypt("encrypt", "scans", "--key", key, "-o", "sealed", cwd=tmp_path), [(f"scans/{name}", reason)])
    assert snapshot(tmp_path) == before
