"""Issue 32's command-line findings, each turned into a refusal or a correct result: payloads that
name their model, fidelity in the original's own units, image edges that are one line in a batch
that goes on, no hangs or leftovers, seal of any file, and terminal hygiene."""

import os
import re
import resource
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from aecrypt.cli.parser import EXAMPLE
from aecrypt.method.header import read_header
from aecrypt.method.keys import generate_key, save_key
from aecrypt.method.metrics import ssim
from aecrypt.method.model import build_autoencoder, save_model
from aecrypt.method.payload import encrypt_features
from clirun import aecrypt
from test_cli_inputs import FIFO_TIMEOUT, assert_failed, huge_png, image, snapshot, temp_files

SIZE = 16  # the tiny models' image side


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    """Two tiny untrained model pairs of the same shape (so only their weights tell them apart) and a key."""
    root = tmp_path_factory.mktemp("edges")
    for name in ("a", "b"):
        _, encoder, decoder = build_autoencoder(image_size=SIZE)
        save_model(encoder, root / f"{name}-encoder.keras")
        save_model(decoder, root / f"{name}-decoder.keras")
    save_key(generate_key(), root / "study.key")
    return root


def encrypt(m, *args, pair="a"):
    """``aecrypt encrypt`` arguments with pair ``pair``'s encoder and decoder and the key."""
    return ["encrypt", *args, "--encoder", m / f"{pair}-encoder.keras", "--decoder", m / f"{pair}-decoder.keras",
            "--key", m / "study.key", "--allow-lossy"]


def decrypt(m, *args, pair="a"):
    """``aecrypt decrypt`` arguments with pair ``pair``'s decoder and the key."""
    return ["decrypt", *args, "--decoder", m / f"{pair}-decoder.keras", "--key", m / "study.key"]


# ----------------------------------------------------------- a payload names its model


def test_decrypting_with_another_decoder_is_refused_unless_told(m, tmp_path):
    image(tmp_path / "scans" / "x.png")
    assert aecrypt(*encrypt(m, "scans", "-o", "sealed"), cwd=tmp_path).returncode == 0
    metadata = read_header((tmp_path / "sealed" / "x.png.aecrypt").read_bytes()).metadata
    assert len(metadata["encoder"]) == len(metadata["decoder"]) == 64  # SHA-256 of each model's weights
    before = snapshot(tmp_path, m)
    refused = aecrypt(*decrypt(m, "sealed", "-o", "opened", pair="b"), cwd=tmp_path)
    assert_failed(refused, [("sealed/x.png.aecrypt", "encrypted for the decoder", "--any-decoder")])
    assert snapshot(tmp_path, m) == before
    anyway = aecrypt(*decrypt(m, "sealed", "-o", "opened", pair="b"), "--any-decoder", cwd=tmp_path)
    assert anyway.returncode == 0, anyway.stderr
    assert "other than the sender's" in anyway.stdout and "does not hold" in anyway.stdout
    right = aecrypt(*decrypt(m, "sealed", "-o", "opened-right"), cwd=tmp_path)
    assert right.returncode == 0 and "does not hold" not in right.stdout, right.stderr


# ------------------------------------------------------- fidelity in the original's units


@pytest.mark.parametrize("kind", ["16-bit PNG of 0..229", "float TIFF of 0..232"])
def test_16_bit_and_float_images_come_back_in_their_own_units_with_a_truthful_fidelity(tmp_path, mni_slice, kind):
    # The committed model (no --encoder): the two images, made from a brain slice.
    if kind.startswith("16"):
        values, name = np.rint(mni_slice / 255 * 229).astype(np.uint16), "slice.png"
    else:
        values, name = (mni_slice / 255 * 232).astype(np.float32), "slice.tif"
    (tmp_path / "scans").mkdir()
    Image.fromarray(values).save(tmp_path / "scans" / name)
    save_key(generate_key(), tmp_path / "k.key")
    done = aecrypt("encrypt", "scans", "--key", "k.key", "-o", "sealed", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    metadata = read_header((tmp_path / "sealed" / f"{name}.aecrypt").read_bytes()).metadata
    assert aecrypt("decrypt", "sealed", "--key", "k.key", "-o", "opened", cwd=tmp_path).returncode == 0
    written = Image.open(tmp_path / "opened" / name)
    assert written.mode == Image.fromarray(values).mode  # I;16 or F: the original's bit depth
    back = np.asarray(written, np.float64)
    assert back.min() >= values.min() and back.max() <= values.max()  # the original's range, no clipping to [0, 1]
    truth = ssim(values.astype(np.float64), back, data_range=float(values.max() - values.min()))
    assert metadata["ssim"] == pytest.approx(truth, abs=1e-3) and truth >= 0.95  # restored faithfully, stated truthfully
    assert np.corrcoef(values.ravel(), back.ravel())[0, 1] > 0.99


# ---------------------------------------------------------------- image edges, one line each


def animated_png(path):
    """A two-frame PNG (APNG): frames aecrypt cannot write back as PNG."""
    frames = [Image.fromarray(np.full((20, 20), value, np.uint8)) for value in (10, 200)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return path


def test_every_image_edge_is_one_line_and_the_batch_goes_on_with_a_summary_by_kind(m, tmp_path):
    scans = tmp_path / "scans"
    image(scans / "tiny.png", shape=(1, 5, 3))
    huge_png(scans / "huge.png", side=10000)  # 10^8 pixels: was encrypted, and then never decrypted
    (scans / "bad.png").write_bytes(b"not an image")
    animated_png(scans / "anim.png")
    image(scans / "three.png", shape=(3, 3, 3))
    image(scans / "strip.png", shape=(3, 100000, 3))  # was a 37 GiB allocation; now 100000 x 4 pixels
    pages = [Image.fromarray(np.random.default_rng(i).integers(0, 256, (20, 24), np.uint8)) for i in range(3)]
    pages[0].save(scans / "pages.tif", save_all=True, append_images=pages[1:])
    before = snapshot(tmp_path, m)
    result = aecrypt(*encrypt(m, "scans", "-o", "sealed"), cwd=tmp_path)
    lines = assert_failed(result, [("scans/anim.png", "2 frames"), ("scans/bad.png", "cannot read this image"),
                                   ("scans/huge.png", "downscale"), ("scans/tiny.png", "smaller than")], summary=True)
    assert "4 of 7 image(s) failed (named above: 2 wrong size, 1 unsupported, 1 unreadable)" in lines[-1]
    written = sorted(p.relative_to(tmp_path).as_posix() for p in snapshot(tmp_path, m) if p not in before)
    assert written == ["sealed", "sealed/pages.tif.aecrypt", "sealed/strip.png.aecrypt", "sealed/three.png.aecrypt"]
    assert read_header((tmp_path / "sealed" / "pages.tif.aecrypt").read_bytes()).shape == (3, 10, 12, 3)
    opened = aecrypt(*decrypt(m, "sealed", "-o", "opened"), cwd=tmp_path)
    assert opened.returncode == 0, opened.stderr
    with Image.open(tmp_path / "opened" / "pages.tif") as tif:
        assert tif.n_frames == 3 and tif.size == (24, 20)  # every frame back
    assert Image.open(tmp_path / "opened" / "strip.png").size == (100000, 3)
    assert not temp_files(tmp_path)


def test_exif_orientation_is_applied_and_recorded(m, tmp_path):
    picture = Image.fromarray(np.random.default_rng(5).integers(0, 256, (20, 30, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: shown rotated a quarter turn
    picture.save(tmp_path / "photo.jpg", exif=exif)
    shown = ImageOps.exif_transpose(Image.open(tmp_path / "photo.jpg"))
    assert aecrypt(*encrypt(m, "photo.jpg", "-o", "sealed"), cwd=tmp_path).returncode == 0
    assert read_header((tmp_path / "sealed" / "photo.jpg.aecrypt").read_bytes()).metadata["orientation"] == 6
    assert aecrypt(*decrypt(m, "sealed", "-o", "opened"), cwd=tmp_path).returncode == 0
    back = Image.open(tmp_path / "opened" / "photo.jpg")
    assert back.size == shown.size == (20, 30) and back.getexif().get(0x0112) is None  # upright, as it was shown


def test_a_corrupt_exif_warning_is_one_line_naming_the_file(m, tmp_path):
    import struct

    broken_ifd = b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 5) + struct.pack("<HHII", 0x0131, 2, 3, 0)  # 5 entries, 1 there
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "x.jpg", exif=broken_ifd)
    result = aecrypt(*encrypt(m, "x.jpg", "-o", "sealed"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert re.fullmatch(r"aecrypt: warning: x\.jpg: Corrupt EXIF data\.  Expecting to read \d+ bytes but only got \d+\.", line), line


# ----------------------------------------------------------------- no hangs, no leftovers


def test_a_fifo_as_image_is_refused_without_being_read(m, tmp_path):
    os.mkfifo(tmp_path / "scan.png")
    result = aecrypt(*encrypt(m, "scan.png", "-o", "sealed"), cwd=tmp_path, timeout=FIFO_TIMEOUT)
    assert_failed(result, [("scan.png", "not a regular file")])
    assert not (tmp_path / "sealed").exists()


def _limited_file_size():
    """In the child: files may not grow past 10 bytes (a full disk, as far as a writer can tell)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (10, 10))


def test_keygen_on_a_full_disk_leaves_nothing_and_a_later_keygen_removes_a_killed_ones_leftover(tmp_path):
    command = [sys.executable, "-m", "aecrypt.cli", "keygen", "study.key"]
    full = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, preexec_fn=_limited_file_size, timeout=300)
    assert full.returncode == 1 and full.stderr.count("\n") == 1 and "cannot write the key file" in full.stderr, full.stderr
    assert list(tmp_path.iterdir()) == []  # no empty key, no temporary file
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    leftover = tmp_path / f".study.key.{dead}.abcd1234.tmp"  # what a keygen killed mid-write leaves
    leftover.write_text("0123" * 16)
    done = aecrypt("keygen", "study.key", cwd=tmp_path)
    assert done.returncode == 0 and f"removed {leftover.name}" in done.stderr.replace(str(tmp_path) + "/", ""), done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.key"]


def test_a_plaintext_leftover_of_an_unseal_killed_mid_write_is_removed_by_the_next_run(m, tmp_path):
    (tmp_path / "big.bin").write_bytes(os.urandom(96 << 20))
    assert aecrypt("seal", "big.bin", "--key", m / "study.key", "-o", "sealed", cwd=tmp_path).returncode == 0
    opened = tmp_path / "opened"
    process = subprocess.Popen([sys.executable, "-m", "aecrypt.cli", "unseal", "sealed", "--key", m / "study.key", "-o", "opened"],
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not (opened.is_dir() and [p for p in opened.glob(".big.bin.*.tmp") if p.stat().st_size]):
            assert process.poll() is None and time.monotonic() < deadline, "unseal ended before its temporary file was seen"
            time.sleep(0.0005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    (leftover,) = temp_files(opened)  # the plaintext, part written, under a temporary name
    again = aecrypt("unseal", "sealed", "--key", m / "study.key", "-o", "opened", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"removed opened/{leftover.name}, a temporary file an interrupted run left" in again.stderr
    assert not temp_files(tmp_path) and (opened / "big.bin").read_bytes() == (tmp_path / "big.bin").read_bytes()


# ------------------------------------------------------------------ seal any regular file


def test_seal_seals_every_regular_file_and_names_what_it_skipped(m, tmp_path):
    from pydicom.data import get_testdata_file

    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "ct.dcm").write_bytes(Path(get_testdata_file("CT_small.dcm")).read_bytes())
    (folder / "notes.txt").write_text("hello")
    (folder / "README").write_text("no suffix")
    (folder / "empty.txt").touch()
    os.mkfifo(folder / "pipe")
    (folder / "link.dcm").symlink_to(folder / "ct.dcm")
    result = aecrypt("seal", "study", "--key", m / "study.key", "-o", "sealed", cwd=tmp_path, timeout=FIFO_TIMEOUT)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "sealed 3 file(s)" in result.stdout
    for name, why in (("empty.txt", "empty"), ("link.dcm", "a symbolic link"), ("pipe", "not a regular file")):
        assert f"study/{name} ({why}" in result.stdout, result.stdout
    assert aecrypt("unseal", "sealed", "--key", m / "study.key", "-o", "back", cwd=tmp_path).returncode == 0
    for name in ("ct.dcm", "notes.txt", "README"):
        assert (tmp_path / "back" / name).read_bytes() == (folder / name).read_bytes()  # a DICOM bit-exact too


# ------------------------------------------------------------------------ messages


def test_a_file_name_with_control_characters_is_printed_escaped(m, tmp_path):
    name = "evil\n\x1b[31mname.png"
    (tmp_path / name).write_bytes(b"not an image")
    result = aecrypt(*encrypt(m, name, "-o", "sealed"), cwd=tmp_path)
    line = assert_failed(result, [r"evil\n\x1b[31mname.png"])[0]
    assert "\x1b" not in result.stderr and "cannot read this image" in line


def test_inspect_labels_unverified_fields_and_escapes_them(m, tmp_path):
    forged = {"height": 9, "width": 9, "mode": "\x1b[2J\nRGB", "ssim": 0.999}
    path = tmp_path / "x.png.aecrypt"
    path.write_bytes(encrypt_features(np.zeros((5, 5, 3), np.float32), generate_key(), metadata=forged))  # anyone's key
    shown = aecrypt("inspect", path)
    assert shown.returncode == 0 and "\x1b" not in shown.stdout and shown.stdout.count("\n") == 1
    assert "UNVERIFIED" in shown.stdout and r"\x1b[2J\nRGB" in shown.stdout and "SSIM 0.999" in shown.stdout
    checked = aecrypt("inspect", path, "--key", m / "study.key")  # the study key did not make it: refused
    assert_failed(checked, [("x.png.aecrypt", "key is wrong or the payload was altered")])


def test_a_file_blocking_an_output_folder_is_refused_without_offering_force(m, tmp_path):
    image(tmp_path / "scans" / "a" / "x.png")
    (tmp_path / "sealed").mkdir()
    (tmp_path / "sealed" / "a").write_text("a file where a folder goes")
    for extra in ([], ["--force"]):
        line = assert_failed(aecrypt(*encrypt(m, "scans", "-o", "sealed", *extra), cwd=tmp_path), ["sealed/a"])[0]
        assert "where a folder is needed" in line and "--force" not in line


def test_the_help_example_works_outside_the_repository_and_measures_fidelity(tmp_path, mni_slice):
    (tmp_path / "scans").mkdir()
    Image.fromarray(mni_slice).save(tmp_path / "scans" / "slice.png")
    commands = [shlex.split(command)[1:] for command in EXAMPLE.split("&&")]
    assert [command[0] for command in commands] == ["keygen", "encrypt", "decrypt"]
    for command in commands:
        done = aecrypt(*command, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    assert read_header((tmp_path / "sealed" / "slice.png.aecrypt").read_bytes()).metadata["ssim"] >= 0.95
    assert Image.open(tmp_path / "opened" / "slice.png").size == (197, 233)


def test_a_key_holders_header_with_a_huge_side_is_one_line(m, tmp_path):
    key = bytes.fromhex((m / "study.key").read_text())
    forged = {"layout": "native", "format": "image", "height": 10**6, "width": 10**6, "frames": 1, "channels": 1,
              "dtype": "uint8", "window": [0, 255], "suffix": ".png"}
    (tmp_path / "sealed").mkdir()
    (tmp_path / "sealed" / "x.png.aecrypt").write_bytes(encrypt_features(np.zeros((4, 4, 3), np.float32), key, metadata=forged))
    before = snapshot(tmp_path, m)
    assert_failed(aecrypt(*decrypt(m, "sealed", "-o", "opened"), cwd=tmp_path), [("x.png.aecrypt", "does not fit its features")])
    assert snapshot(tmp_path, m) == before
