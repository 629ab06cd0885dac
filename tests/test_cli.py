"""The aecrypt command line on real files: round trip, and one-line errors with non-zero status."""

import os
import stat
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from aecrypt.cli import parser
from aecrypt.method.model import build_autoencoder, save_model
from aecrypt.study.profiles import PROFILES
from clirun import aecrypt, aecrypt_process


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A key, a 16x16 encoder/decoder pair and three image files (PNG, JPEG, 16-bit TIFF)."""
    root = tmp_path_factory.mktemp("cli")
    _, encoder, decoder = build_autoencoder(image_size=16)
    save_model(encoder, root / "encoder.keras")
    save_model(decoder, root / "decoder.keras")
    rng = np.random.default_rng(0)
    images = root / "scans"
    images.mkdir()
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(images / "a.png")
    Image.fromarray(rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)).save(images / "b.jpg")
    Image.fromarray(rng.integers(0, 65536, (16, 16), dtype=np.uint16)).save(images / "c.tif")
    assert aecrypt("keygen", root / "study.key").returncode == 0
    return root


def _one_line_error(result):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aecrypt: error: ") and "Traceback" not in result.stderr
    return lines[0]


def test_keygen_is_private_and_refuses_to_overwrite(workspace):
    key = workspace / "study.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    before = key.read_bytes()
    message = _one_line_error(aecrypt("keygen", key))
    assert "already exists" in message and key.read_bytes() == before


def test_round_trip_on_a_folder(workspace):
    w = workspace
    enc = aecrypt("encrypt", w / "scans", "--encoder", w / "encoder.keras", "--key", w / "study.key", "-o", w / "sealed")
    assert enc.returncode == 0, enc.stderr
    assert "images/s" in enc.stdout
    payloads = sorted((w / "sealed").glob("*.aecrypt"))
    assert [p.name for p in payloads] == ["a.png.aecrypt", "b.jpg.aecrypt", "c.tif.aecrypt"]
    info = aecrypt("inspect", payloads[0])
    # the 20x20 image is encoded at its own size (issue 30): features 10x10x3, not the model's 8x8x3
    assert info.returncode == 0 and "scheme gcm" in info.stdout and "shape 10x10x3" in info.stdout
    dec = aecrypt("decrypt", w / "sealed", "--decoder", w / "decoder.keras", "--key", w / "study.key", "-o", w / "opened")
    assert dec.returncode == 0, dec.stderr
    # back at each original's size (the model works at 16x16), grey where the original was grey
    assert np.asarray(Image.open(w / "opened" / "a.png")).shape == (20, 20, 3)
    assert np.asarray(Image.open(w / "opened" / "b.jpg")).shape == (16, 24, 3)
    assert np.asarray(Image.open(w / "opened" / "c.tif")).shape == (16, 16)
    assert "a.png: lossy reconstruction, fidelity not measured" in dec.stdout
    assert enc.stderr.count("fidelity not measured") == 1 and len(enc.stderr.strip().splitlines()) == 1


def test_tampered_payload(workspace):
    w = workspace
    aecrypt("encrypt", w / "scans" / "a.png", "--encoder", w / "encoder.keras", "--key", w / "study.key", "-o", w / "t")
    payload = w / "t" / "a.png.aecrypt"
    data = bytearray(payload.read_bytes())
    data[-20] ^= 0x01
    payload.write_bytes(bytes(data))
    message = _one_line_error(aecrypt("decrypt", payload, "--decoder", w / "decoder.keras", "--key", w / "study.key", "-o", w / "t2"))
    assert "key is wrong or the payload was altered" in message
    assert not (w / "t2" / "a.png").exists()


def test_wrong_key(workspace):
    w = workspace
    aecrypt("keygen", w / "other.key")
    aecrypt("encrypt", w / "scans" / "b.jpg", "--encoder", w / "encoder.keras", "--key", w / "study.key", "-o", w / "wk")
    # in a fresh process, as a user meets it: TensorFlow's start-up adds nothing to the one line
    message = _one_line_error(aecrypt_process("decrypt", w / "wk", "--decoder", w / "decoder.keras", "--key", w / "other.key", "-o", w / "wk2"))
    assert "key is wrong" in message


def test_missing_key_unreadable_image_and_mismatched_model(workspace, tmp_path):
    w = workspace
    assert "no such key file" in _one_line_error(
        aecrypt("encrypt", w / "scans" / "a.png", "--encoder", w / "encoder.keras", "--key", tmp_path / "nope.key", "-o", tmp_path))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"garbage")
    assert "cannot read this image" in _one_line_error(
        aecrypt("encrypt", broken, "--encoder", w / "encoder.keras", "--key", w / "study.key", "-o", tmp_path / "o"))
    _, _, big_decoder = build_autoencoder(image_size=32)
    save_model(big_decoder, tmp_path / "big.keras")
    aecrypt("encrypt", w / "scans" / "a.png", "--encoder", w / "encoder.keras", "--key", w / "study.key", "-o", tmp_path / "m")
    assert "decoder takes" in _one_line_error(
        aecrypt("decrypt", tmp_path / "m", "--decoder", tmp_path / "big.keras", "--key", w / "study.key", "-o", tmp_path / "m2"))
    assert "aecrypt encoder, but a decoder is needed" in _one_line_error(
        aecrypt("decrypt", tmp_path / "m", "--decoder", w / "encoder.keras", "--key", w / "study.key", "-o", tmp_path / "m3"))


def test_inspect_rejects_a_non_payload(tmp_path):
    junk = tmp_path / "junk.aecrypt"
    junk.write_bytes(b"hello world, not a payload")
    assert "not an aecrypt payload" in _one_line_error(aecrypt("inspect", junk))


def test_help_reads_well():
    result = aecrypt("--help")
    assert result.returncode == 0
    for command in ("keygen", "encrypt", "decrypt", "inspect", "reproduce"):
        assert command in result.stdout
    assert "--encoder" in aecrypt("encrypt", "--help").stdout


def test_profile_choices_are_the_study_profiles():
    for command in ("reproduce", "figures"):
        for profile in PROFILES:
            assert parser.build_parser().parse_args([command, "--profile", profile]).profile == profile
        refused = aecrypt(command, "--profile", "nonesuch")
        assert refused.returncode == 2 and all(repr(profile) in refused.stderr for profile in PROFILES)


def test_python_m_aecrypt_cli_runs_the_command_line():
    done = subprocess.run([sys.executable, "-m", "aecrypt.cli", "inspect", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "usage: aecrypt inspect" in done.stdout, done.stderr


def test_the_in_process_runner_stops_waiting_at_its_timeout(monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(parser, "cmd_keygen", lambda args: release.wait(60))  # a command that hangs until released
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            aecrypt("keygen", "never-written.key", timeout=0.5)
    finally:
        release.set()


def test_reproduce_rejects_unknown_parameter():
    message = _one_line_error_multiline(aecrypt("reproduce", "--profile", "smoke", "-p", "epohcs", "3"))
    assert "unknown parameter(s) epohcs" in message


def _one_line_error_multiline(result):
    """Errors that list options may add lines after the first; the first still says what is wrong."""
    assert result.returncode != 0 and "Traceback" not in result.stderr
    return result.stderr.splitlines()[0]


def test_the_committed_model_encrypts_a_brain_slice_with_no_model_named(workspace, tmp_path, mni_slice):
    # A fresh clone can encrypt right away: no --encoder or --decoder means the committed
    # default model, and its loss is measured. An MNI152 slice at its native 233x197 runs
    # through the model at that size (issue 30: no resize round trip) and passes the default
    # --min-ssim with no --allow-lossy; the header records SSIM >= 0.95.
    from aecrypt.method.header import read_header
    from aecrypt.method.metrics import ssim

    grey = mni_slice
    assert grey.shape == (233, 197)
    scans = tmp_path / "scans"
    scans.mkdir()
    Image.fromarray(grey).save(scans / "axial-120.png")
    key = workspace / "study.key"
    done = aecrypt("encrypt", scans, "--key", key, "-o", tmp_path / "sealed")
    assert done.returncode == 0, done.stderr
    header = read_header((tmp_path / "sealed" / "axial-120.png.aecrypt").read_bytes())
    assert header.metadata["ssim"] >= 0.95 and header.shape == (117, 99, 3)
    assert (header.metadata["height"], header.metadata["width"]) == (233, 197)
    back = aecrypt("decrypt", tmp_path / "sealed", "--key", key, "-o", tmp_path / "back")
    assert back.returncode == 0, back.stderr
    restored = np.asarray(Image.open(tmp_path / "back" / "axial-120.png"), np.float64)
    assert restored.shape == grey.shape  # the original size and grey mode, restored
    assert ssim(grey.astype(np.float64), restored, data_range=255) == pytest.approx(header.metadata["ssim"], abs=1e-3)
