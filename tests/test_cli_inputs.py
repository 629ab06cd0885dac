"""Bad inputs through the real command line: one line naming the file, nothing written, inputs unchanged.

Every case runs ``aecrypt`` in a fresh process in its own folder and compares the SHA-256
of every file there (and of the models and key) before and after: a refused run leaves
no output, no temporary file and no changed input behind.
"""

import hashlib
import json
import os
import re
import signal
import stat
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers
from PIL import Image
from skimage import data as skdata
from skimage.transform import resize

from aecrypt.method.header import MAGIC, read_header
from aecrypt.method.keys import generate_key, save_key
from aecrypt.method.payload import encrypt_features
from aecrypt.method.metrics import ssim
from aecrypt.method.model import build_autoencoder, save_model
from clirun import aecrypt

SIZE = 16  # image side of the tiny models; their feature maps are 8x8x3
FEATURES = (SIZE // 2, SIZE // 2, 3)
KILL_PAYLOADS = 300


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    """Tiny untrained models (a good pair, a decoder with 5 channels, a flat one) and a private key."""
    root = tmp_path_factory.mktemp("models")
    _, encoder, decoder = build_autoencoder(image_size=SIZE)
    save_model(encoder, root / "encoder.keras")
    save_model(decoder, root / "decoder.keras")
    features = keras.Input(FEATURES)
    five = layers.Conv2DTranspose(5, 3, padding="same")(layers.UpSampling2D(2)(features))
    save_model(keras.Model(features, five, name="aecrypt_decoder"), root / "five.keras")
    save_model(keras.Model(features, layers.Flatten()(features), name="aecrypt_decoder"), root / "flat.keras")
    save_key(generate_key(), root / "study.key")
    return root


def encrypt(m, *args):
    """``aecrypt encrypt`` arguments with the good encoder and the key."""
    return ["encrypt", *args, "--encoder", m / "encoder.keras", "--key", m / "study.key"]


def decrypt(m, *args, decoder="decoder.keras"):
    """``aecrypt decrypt`` arguments with a decoder and the key."""
    return ["decrypt", *args, "--decoder", m / decoder, "--key", m / "study.key"]


def image(path, seed=0, shape=(20, 20, 3)):
    """A small random image file (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)).save(path)
    return path


def payload(m, path, seed=0, metadata=None):
    """A valid payload of random 8x8x3 features under the study key (with header metadata if given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = bytes.fromhex((m / "study.key").read_text())
    features = np.random.default_rng(seed).normal(size=FEATURES).astype(np.float32)
    path.write_bytes(encrypt_features(features, key, metadata=metadata))
    return path


def seal(m, *args):
    """``aecrypt seal`` arguments with the key."""
    return ["seal", *args, "--key", m / "study.key"]


def unseal(m, *args):
    """``aecrypt unseal`` arguments with the key."""
    return ["unseal", *args, "--key", m / "study.key"]


def photograph(path, size=(48, 40)):
    """A colour photograph far from grey brain slices (skimage's astronaut), as a PNG of size (height, width)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = resize(skdata.astronaut(), size, anti_aliasing=True, preserve_range=True).astype(np.uint8)
    Image.fromarray(picture).save(path)
    return path


def digest(path):
    """SHA-256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def huge_png(path, side=20000):
    """A PNG that claims side x side pixels (a few bytes on disk): Pillow's decompression-bomb check."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path


def snapshot(*roots):
    """SHA-256 of every file under the roots, the target of every symlink, and every folder."""
    state = {}
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if path.is_symlink():
                state[path] = "-> " + os.readlink(path)
            elif path.is_dir():
                state[path] = "folder"
            else:
                state[path] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def temp_files(root):
    """Files that look like a temporary output (any .tmp, or the old .NAME.tmp.EXT)."""
    return [p for p in Path(root).rglob("*") if p.suffix == ".tmp" or ".tmp." in p.name]


def assert_failed(result, names, summary=False):
    """Non-zero exit, no traceback, one stderr line per failed file naming it (and the summary line)."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(names) + summary, result.stderr
    assert all(line.startswith("aecrypt: error: ") for line in lines), result.stderr
    for line, name in zip(lines, names):
        for part in [name] if isinstance(name, str) else name:
            assert str(part) in line, (part, line)
    if summary:
        assert f"{len(names)} of " in lines[-1] and "named above" in lines[-1], lines[-1]
    return lines


# ------------------------------------------------------------- the regression corpus
# Each case builds its inputs in a fresh folder and returns (arguments, names the one line must hold).


def clash_between_folders(case, m):
    image(case / "c1" / "x.png", 1)
    image(case / "c2" / "x.png", 2)
    return encrypt(m, "c1", "c2", "-o", "sealed"), [("c1/x.png", "c2/x.png", "sealed/x.png.aecrypt")]


def clash_between_payload_names(case, m):
    payload(m, case / "sealed" / "x.png.aecrypt", 1)
    payload(m, case / "sealed" / "x.aecrypt", 2)
    return decrypt(m, "sealed", "-o", "opened"), [("sealed/x.aecrypt", "sealed/x.png.aecrypt", "opened/x.png")]


def existing_payload_without_force(case, m):
    image(case / "scans" / "x.png")
    payload(m, case / "sealed" / "x.png.aecrypt")
    return encrypt(m, "scans", "-o", "sealed"), [("sealed/x.png.aecrypt", "--force")]


def existing_image_without_force(case, m):
    payload(m, case / "sealed" / "x.png.aecrypt")
    image(case / "opened" / "x.png")
    return decrypt(m, "sealed", "-o", "opened"), [("opened/x.png", "--force")]


def original_scans_even_with_force(case, m):
    image(case / "scans" / "x.png")
    payload(m, case / "sealed" / "x.png.aecrypt")
    return decrypt(m, "sealed", "-o", "scans", "--force"), [("scans/x.png", "original")]


def input_even_with_force(case, m):
    payload(m, case / "p" / "x.png")  # a payload saved under an image's name
    return decrypt(m, "p/x.png", "-o", "p", "--force"), [("p/x.png", "never overwrites its inputs")]


def key_open_to_others(case, m):
    image(case / "scans" / "x.png")
    (case / "shared.key").write_bytes((m / "study.key").read_bytes())
    (case / "shared.key").chmod(0o644)
    args = ["encrypt", "scans", "--encoder", m / "encoder.keras", "--key", "shared.key", "-o", "sealed"]
    return args, [("shared.key", "chmod 600 shared.key")]


def key_from_dev_zero(case, m):
    image(case / "scans" / "x.png")
    return ["encrypt", "scans", "--encoder", m / "encoder.keras", "--key", "/dev/zero", "-o", "sealed"], ["/dev/zero"]


def key_of_32_hex_characters(case, m):
    image(case / "scans" / "x.png")
    (case / "short.key").write_text(os.urandom(16).hex() + "\n")
    (case / "short.key").chmod(0o600)
    args = ["encrypt", "scans", "--encoder", m / "encoder.keras", "--key", "short.key", "-o", "sealed"]
    return args, [("short.key", "64 hex characters", "AES-256")]


def payload_from_dev_zero(case, m):
    return decrypt(m, "/dev/zero", "-o", "opened"), [("/dev/zero", "not an aecrypt payload")]


def inspect_dev_zero(case, m):
    return ["inspect", "/dev/zero"], [("/dev/zero", "not an aecrypt payload")]


def output_is_a_file(case, m):
    image(case / "scans" / "x.png")
    (case / "sealed").write_text("not a folder")
    return encrypt(m, "scans", "-o", "sealed"), [("sealed", "not a folder")]


def output_not_writable(case, m):
    image(case / "scans" / "x.png")
    return encrypt(m, "scans", "-o", "/proc/x"), [("/proc/x", "cannot write")]


def image_of_20000_squared_pixels(case, m):
    huge_png(case / "scans" / "huge.png")
    return encrypt(m, "scans", "-o", "sealed"), [("scans/huge.png", "downscale")]


def decoder_with_five_channels(case, m):
    payload(m, case / "sealed" / "x.png.aecrypt")
    return decrypt(m, "sealed", "-o", "opened", decoder="five.keras"), [("five.keras", "(16, 16, 5)", "(height, width, channels)")]


def flat_decoder(case, m):
    payload(m, case / "sealed" / "x.png.aecrypt")
    return decrypt(m, "sealed", "-o", "opened", decoder="flat.keras"), [("flat.keras", "(192,)", "(height, width, channels)")]


def tampered_payload(case, m):
    data = bytearray(payload(m, case / "sealed" / "x.png.aecrypt").read_bytes())
    data[-20] ^= 1
    (case / "sealed" / "x.png.aecrypt").write_bytes(bytes(data))
    return decrypt(m, "sealed", "-o", "opened"), [("sealed/x.png.aecrypt", "altered")]


def tampered_metadata(case, m):
    path = payload(m, case / "sealed" / "x.png.aecrypt", metadata={"height": 20, "width": 20, "ssim": 0.5012})
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"ssim":0.5012', b'"ssim":0.9912'))  # same length: the header still parses
    assert read_header(path.read_bytes()).metadata["ssim"] == 0.9912
    return decrypt(m, "sealed", "-o", "opened"), [("sealed/x.png.aecrypt", "altered")]


def header_reshaped_to_the_same_size(case, m):
    path = payload(m, case / "sealed" / "x.png.aecrypt")
    data = path.read_bytes()
    path.write_bytes(data[:8] + struct.pack(">3I", 4, 16, 3) + data[20:])  # 8x8x3 claimed as 4x16x3
    assert read_header(path.read_bytes()).shape == (4, 16, 3)
    return decrypt(m, "sealed", "-o", "opened"), [("sealed/x.png.aecrypt", "altered")]


def key_owned_by_another_user(case, m):
    if os.geteuid() != 0:
        pytest.skip("giving a key file to another user (chown) needs root; this run is not root")
    image(case / "scans" / "x.png")
    (case / "theirs.key").write_bytes((m / "study.key").read_bytes())
    (case / "theirs.key").chmod(0o600)
    os.chown(case / "theirs.key", 65534, 65534)  # nobody
    args = ["encrypt", "scans", "--encoder", m / "encoder.keras", "--key", "theirs.key", "-o", "sealed"]
    return args, [("theirs.key", "belongs to another user")]


def min_ssim_out_of_range(case, m):
    image(case / "scans" / "x.png")
    return encrypt(m, "scans", "-o", "sealed", "--min-ssim", "95"), [("--min-ssim", "between -1 and 1")]


def sealed_file_given_to_decrypt(case, m):
    image(case / "scans" / "x.png")
    assert aecrypt(*seal(m, "scans", "-o", "sealed"), cwd=case).returncode == 0
    return decrypt(m, "sealed", "-o", "opened"), [("sealed/x.png.aecrypt", "aecrypt unseal")]


def features_given_to_unseal(case, m):
    payload(m, case / "sealed" / "x.png.aecrypt")
    return unseal(m, "sealed", "-o", "opened"), [("sealed/x.png.aecrypt", "not a sealed file", "aecrypt decrypt")]


def tampered_sealed_file(case, m):
    image(case / "scans" / "x.png")
    assert aecrypt(*seal(m, "scans", "-o", "sealed"), cwd=case).returncode == 0
    data = bytearray((case / "sealed" / "x.png.aecrypt").read_bytes())
    data[-30] ^= 1
    (case / "sealed" / "x.png.aecrypt").write_bytes(bytes(data))
    return unseal(m, "sealed", "-o", "opened"), [("sealed/x.png.aecrypt", "altered")]


def existing_file_without_force_on_unseal(case, m):
    image(case / "scans" / "x.png")
    assert aecrypt(*seal(m, "scans", "-o", "sealed"), cwd=case).returncode == 0
    image(case / "opened" / "x.png", seed=1)
    return unseal(m, "sealed", "-o", "opened"), [("opened/x.png", "--force")]


def different_file_even_with_force_on_unseal(case, m):
    image(case / "scans" / "x.png")
    assert aecrypt(*seal(m, "scans", "-o", "sealed"), cwd=case).returncode == 0
    image(case / "opened" / "x.png", seed=1)  # another image of that name: perhaps an original
    return unseal(m, "sealed", "-o", "opened", "--force"), [("opened/x.png", "identical to the sealed file")]


REFUSED = [
    clash_between_folders, clash_between_payload_names, existing_payload_without_force, existing_image_without_force,
    original_scans_even_with_force, input_even_with_force, key_open_to_others, key_from_dev_zero,
    key_of_32_hex_characters, payload_from_dev_zero, inspect_dev_zero, output_is_a_file, output_not_writable,
    image_of_20000_squared_pixels, decoder_with_five_channels, flat_decoder, tampered_payload,
    tampered_metadata, header_reshaped_to_the_same_size, key_owned_by_another_user, min_ssim_out_of_range,
    sealed_file_given_to_decrypt, features_given_to_unseal, tampered_sealed_file, existing_file_without_force_on_unseal,
    different_file_even_with_force_on_unseal,
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.__name__)
def test_bad_input_is_one_line_and_changes_nothing(case, m, tmp_path):
    args, names = case(tmp_path, m)
    before = snapshot(tmp_path, m)
    assert_failed(aecrypt(*args, cwd=tmp_path), names)
    assert snapshot(tmp_path, m) == before  # no output, no temporary file, every input as it was


# ------------------------------------------------------------- FIFOs are never read

#: Seconds a refusal of a FIFO may take; reading one with no writer would block for ever.
FIFO_TIMEOUT = 60


def fifo_as_key_to_seal(case, m):
    image(case / "scans" / "x.png")
    return ["seal", "scans", "--key", "fifo", "-o", "sealed"], [("fifo", "key file", "not a regular file")]


def fifo_as_key_to_encrypt(case, m):
    image(case / "scans" / "x.png")
    return ["encrypt", "scans", "--encoder", m / "encoder.keras", "--key", "fifo", "-o", "sealed"], [("fifo", "not a regular file")]


def fifo_as_payload_to_inspect(case, m):
    return ["inspect", "fifo"], [("fifo", "not an aecrypt payload", "not a regular file")]


def fifo_as_payload_to_decrypt(case, m):
    return decrypt(m, "fifo", "-o", "opened"), [("fifo", "not an aecrypt payload", "not a regular file")]


def fifo_as_payload_to_unseal(case, m):
    return unseal(m, "fifo", "-o", "opened"), [("fifo", "not an aecrypt payload", "not a regular file")]


def fifo_as_file_to_seal(case, m):
    return seal(m, "fifo", "-o", "sealed"), [("fifo", "cannot read this file", "not a regular file")]


def fifo_as_manifest_beside_the_encoder(case, m):
    image(case / "scans" / "x.png")
    for name in ("encoder.keras", "decoder.keras"):
        (case / name).write_bytes((m / name).read_bytes())
    os.mkfifo(case / "manifest.json")
    return ["encrypt", "scans", "--encoder", "encoder.keras", "--key", m / "study.key", "-o", "sealed"], []


FIFOS = [fifo_as_key_to_seal, fifo_as_key_to_encrypt, fifo_as_payload_to_inspect, fifo_as_payload_to_decrypt,
         fifo_as_payload_to_unseal, fifo_as_file_to_seal, fifo_as_manifest_beside_the_encoder]


@pytest.mark.parametrize("case", FIFOS, ids=lambda case: case.__name__)
def test_a_fifo_is_refused_in_one_line_without_being_read(case, m, tmp_path):
    os.mkfifo(tmp_path / "fifo")  # no writer: a read would block for ever
    args, names = case(tmp_path, m)
    result = aecrypt(*args, cwd=tmp_path, timeout=FIFO_TIMEOUT)
    if names:
        assert_failed(result, names)
        assert not any((tmp_path / out).exists() for out in ("sealed", "opened"))
    else:  # a manifest that cannot be read says nothing about the model: encrypt goes on
        assert result.returncode == 0 and result.stderr.startswith("aecrypt: warning: fidelity not measured"), result.stderr


# ------------------------------------------------------------------ batches go on


def test_encrypt_batch_reports_each_bad_image_and_writes_the_rest(m, tmp_path):
    image(tmp_path / "scans" / "a.png")
    (tmp_path / "scans" / "b.png").write_bytes(b"not an image")
    huge_png(tmp_path / "scans" / "c.png")
    image(tmp_path / "scans" / "d.png")
    (tmp_path / "scans" / "e.png").write_bytes((tmp_path / "scans" / "d.png").read_bytes()[:60])  # truncated
    image(tmp_path / "scans" / "sub" / "f.jpg")
    before = snapshot(tmp_path, m)
    result = aecrypt(*encrypt(m, "scans", "-o", "sealed", "--decoder", m / "decoder.keras", "--allow-lossy"), cwd=tmp_path)
    assert_failed(result, ["scans/b.png", "scans/c.png", "scans/e.png"], summary=True)
    assert len(re.findall(r"reconstruction at SSIM -?[0-9.]+, PSNR [0-9.]+ dB", result.stdout)) == 3, result.stdout
    written = {path: digest for path, digest in snapshot(tmp_path, m).items() if path not in before}
    sealed = tmp_path / "sealed"
    assert sorted(written) == [sealed, sealed / "a.png.aecrypt", sealed / "d.png.aecrypt", sealed / "sub", sealed / "sub" / "f.jpg.aecrypt"]
    assert all(snapshot(tmp_path, m)[path] == digest for path, digest in before.items())
    assert not temp_files(tmp_path)


def test_decrypt_batch_reports_each_bad_payload_and_writes_the_rest(m, tmp_path):
    sealed = tmp_path / "sealed"
    payload(m, sealed / "a.png.aecrypt")
    data = bytearray(payload(m, sealed / "b.png.aecrypt").read_bytes())
    data[-1] ^= 1
    (sealed / "b.png.aecrypt").write_bytes(bytes(data))
    (sealed / "c.png.aecrypt").write_bytes(payload(m, sealed / "c.png.aecrypt").read_bytes()[:-10])
    (sealed / "d.aecrypt").write_bytes(b"hello")
    payload(m, sealed / "e.tif.aecrypt")
    before = snapshot(tmp_path, m)
    result = aecrypt(*decrypt(m, "sealed", "-o", "opened"), cwd=tmp_path)
    assert_failed(result, ["sealed/b.png.aecrypt", "sealed/c.png.aecrypt", "sealed/d.aecrypt"], summary=True)
    after = snapshot(tmp_path, m)
    opened = tmp_path / "opened"
    assert sorted(set(after) - set(before)) == [opened, opened / "a.png", opened / "e.tif"]
    assert all(after[path] == digest for path, digest in before.items())
    assert not temp_files(tmp_path)


def test_inspect_names_the_file_that_failed(m, tmp_path):
    good = payload(m, tmp_path / "good.png.aecrypt")
    (tmp_path / "junk.aecrypt").write_bytes(b"hello world, not a payload")
    result = aecrypt("inspect", good, tmp_path / "junk.aecrypt", tmp_path / "missing.aecrypt", "/dev/zero")
    assert_failed(result, [("junk.aecrypt", "not an aecrypt payload"), ("missing.aecrypt", "no such payload file"),
                           ("/dev/zero", "not an aecrypt payload")], summary=True)
    assert result.stdout.count("aecrypt payload v1") == 1 and str(good) in result.stdout


# ------------------------------------------------------------- names and modes


def test_outputs_mirror_the_input_folders_with_private_modes(m, tmp_path):
    image(tmp_path / "coll" / "a" / "x.png", 1)
    image(tmp_path / "coll" / "b" / "x.png", 2)
    image(tmp_path / "coll" / "x.jpg", 3)
    enc = aecrypt(*encrypt(m, "coll", "-o", "sealed"), cwd=tmp_path)
    assert enc.returncode == 0, enc.stderr
    sealed = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "sealed").rglob("*") if p.is_file())
    assert sealed == ["sealed/a/x.png.aecrypt", "sealed/b/x.png.aecrypt", "sealed/x.jpg.aecrypt"]
    assert all(stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600 for name in sealed)
    payload(m, tmp_path / "sealed" / "plain.aecrypt")  # no inner extension: becomes plain.png
    dec = aecrypt(*decrypt(m, "sealed", "-o", "opened"), cwd=tmp_path)
    assert dec.returncode == 0, dec.stderr
    opened = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "opened").rglob("*") if p.is_file())
    assert opened == ["opened/a/x.png", "opened/b/x.png", "opened/plain.png", "opened/x.jpg"]
    assert Image.open(tmp_path / "opened" / "x.jpg").format == "JPEG" and Image.open(tmp_path / "opened" / "a" / "x.png").format == "PNG"
    assert all(stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600 for name in opened)
    # --force replaces what aecrypt wrote before, and only that
    again = snapshot(tmp_path / "opened")
    assert aecrypt(*decrypt(m, "sealed", "-o", "opened", "--force"), cwd=tmp_path).returncode == 0
    assert snapshot(tmp_path / "opened").keys() == again.keys()
    assert aecrypt(*encrypt(m, "coll", "-o", "sealed", "--force"), cwd=tmp_path).returncode == 0
    assert not temp_files(tmp_path)


# ------------------------------------------------------------------ symlinks


@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
def test_a_symlink_at_the_output_name_is_never_followed(m, tmp_path, command):
    victim = tmp_path / "elsewhere" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("precious")
    if command == "encrypt":
        image(tmp_path / "in" / "x.png")
        args, target = encrypt(m, "in", "-o", "out"), tmp_path / "out" / "x.png.aecrypt"
    else:
        payload(m, tmp_path / "in" / "x.png.aecrypt")
        args, target = decrypt(m, "in", "-o", "out"), tmp_path / "out" / "x.png"
    target.parent.mkdir()
    target.symlink_to(victim)
    old_temp_name = target.with_name(f".{target.name}.tmp{target.suffix}")  # the name write_image used to write through
    old_temp_name.symlink_to(victim)
    before = snapshot(tmp_path, m)
    assert_failed(aecrypt(*args, cwd=tmp_path), [(str(target.relative_to(tmp_path)), "--force")])
    assert snapshot(tmp_path, m) == before
    result = aecrypt(*args, "--force", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "precious" and old_temp_name.is_symlink()
    assert not target.is_symlink() and target.is_file() and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert (target.read_bytes()[:4] == MAGIC) == (command == "encrypt")
    assert temp_files(tmp_path / "out") == [old_temp_name]  # the planted link, and no temporary file of ours


# ------------------------------------------------------- a run killed half way


def test_encrypt_after_a_decrypt_killed_half_way(m, tmp_path):
    for index in range(KILL_PAYLOADS):
        payload(m, tmp_path / "sealed" / f"s{index:03d}.png.aecrypt", index)
    opened = tmp_path / "opened"
    process = subprocess.Popen([sys.executable, "-m", "aecrypt.cli.main", *map(str, decrypt(m, "sealed", "-o", "opened"))],
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not (opened.is_dir() and any(opened.glob("*.png"))):
            assert process.poll() is None and time.monotonic() < deadline, "decrypt ended before writing anything"
            time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    written = sorted(opened.glob("*.png"))
    assert 0 < len(written) < KILL_PAYLOADS  # killed half way
    # what a kill inside a write leaves: a partly written file under a temporary name
    (opened / f".{written[0].name}.k1ll3d.tmp").write_bytes(written[0].read_bytes()[:40])
    result = aecrypt(*encrypt(m, "opened", "-o", "resealed"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "resealed").glob("*.aecrypt"))) == len(written)


# ----------------------------------------------------- the loss, measured and stated


@pytest.fixture(scope="module")
def grey_model(m, tmp_path_factory):
    """The tiny models beside a manifest that says they were trained on grey MNI152 slices."""
    root = tmp_path_factory.mktemp("grey")
    for name in ("encoder.keras", "decoder.keras"):
        (root / name).write_bytes((m / name).read_bytes())
    (root / "manifest.json").write_text(json.dumps({"parameters": {"dataset": "mni152"}}))
    return root


def test_a_colour_photograph_is_refused_with_its_ssim_then_allowed_and_restored(m, grey_model, tmp_path):
    photograph(tmp_path / "photos" / "astronaut.png", size=(48, 40))
    args = ["encrypt", "photos", "--encoder", grey_model / "encoder.keras", "--decoder", grey_model / "decoder.keras",
            "--key", m / "study.key", "-o", "sealed"]
    before = snapshot(tmp_path, m)
    refused = aecrypt(*args, cwd=tmp_path)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    warning, error = refused.stderr.strip().splitlines()
    assert warning.startswith("aecrypt: warning: photos/astronaut.png: a colour image") and "grey mni152" in warning
    assert error.startswith("aecrypt: error: photos/astronaut.png: ") and "--allow-lossy" in error and "--min-ssim 0.95" in error
    measured = float(re.search(r"at SSIM (-?[0-9.]+)", error).group(1))
    assert measured < 0.95
    assert snapshot(tmp_path, m) == before  # nothing written

    lower = aecrypt(*args, "--min-ssim", f"{measured - 0.01:.3f}", "-o", "sealed-low", cwd=tmp_path)  # the threshold is what decides
    assert lower.returncode == 0, lower.stderr

    allowed = aecrypt(*args, "--allow-lossy", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert f"reconstruction at SSIM {measured:.3f}" in allowed.stdout
    sealed = tmp_path / "sealed" / "astronaut.png.aecrypt"
    meta = read_header(sealed.read_bytes()).metadata
    assert (meta["height"], meta["width"], meta["mode"], meta["suffix"]) == (48, 40, "RGB", ".png")
    assert f"{meta['ssim']:.3f}" == f"{measured:.3f}" and isinstance(meta["psnr"], float)
    assert "model_ssim" not in meta  # measured at the image's own size: there is no model size any more (issue 30)
    info = aecrypt("inspect", sealed)
    assert info.returncode == 0 and "original 48x40 RGB .png" in info.stdout and f"SSIM {measured:.3f}" in info.stdout

    opened = aecrypt(*decrypt(m, "sealed", "-o", "opened"), cwd=tmp_path)
    assert opened.returncode == 0, opened.stderr
    assert f"lossy reconstruction, SSIM {measured:.3f}" in opened.stdout and "at the original 48x40" in opened.stdout
    written = np.asarray(Image.open(tmp_path / "opened" / "astronaut.png"), np.float64) / 255
    assert written.shape == (48, 40, 3)
    original = np.asarray(Image.open(tmp_path / "photos" / "astronaut.png"), np.float64) / 255
    assert ssim(original, written) == pytest.approx(meta["ssim"], abs=1e-3)  # the stored SSIM is of what decrypt writes


def test_a_grey_image_comes_back_grey_at_its_size_and_without_a_colour_warning(m, grey_model, tmp_path):
    grey = (tmp_path / "scans" / "slice.png")
    grey.parent.mkdir()
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (30, 18), dtype=np.uint8), mode="L").save(grey)
    args = ["encrypt", "scans", "--encoder", grey_model / "encoder.keras", "--decoder", grey_model / "decoder.keras",
            "--key", m / "study.key", "-o", "sealed", "--allow-lossy"]
    result = aecrypt(*args, cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert read_header((tmp_path / "sealed" / "slice.png.aecrypt").read_bytes()).metadata["mode"] == "L"
    assert aecrypt(*decrypt(m, "sealed", "-o", "opened"), cwd=tmp_path).returncode == 0
    out = Image.open(tmp_path / "opened" / "slice.png")
    assert out.mode == "L" and out.size == (18, 30)


# ------------------------------------------------------------------ lossless mode


def test_seal_and_unseal_round_trip_bit_exact(m, tmp_path):
    photograph(tmp_path / "scans" / "a.png")
    image(tmp_path / "scans" / "sub" / "b.jpg", seed=2)
    tif = tmp_path / "scans" / "c.tif"
    Image.fromarray(np.random.default_rng(4).integers(0, 65536, (16, 16), dtype=np.uint16)).save(tif)
    originals = {p.relative_to(tmp_path / "scans"): digest(p) for p in (tmp_path / "scans").rglob("*") if p.is_file()}
    sealed = aecrypt(*seal(m, "scans", "-o", "sealed"), cwd=tmp_path)
    assert sealed.returncode == 0 and sealed.stderr == "", sealed.stderr
    assert "sealed 3 file(s)" in sealed.stdout
    info = aecrypt("inspect", tmp_path / "sealed" / "sub" / "b.jpg.aecrypt")
    assert info.returncode == 0 and "dtype file" in info.stdout and "sealed file (.jpg" in info.stdout and "lossless" in info.stdout
    (tmp_path / "sealed" / "a.png.aecrypt").rename(tmp_path / "sealed" / "a.aecrypt")  # a renamed payload keeps its extension
    result = aecrypt(*unseal(m, "sealed", "-o", "opened"), cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    opened = {p.relative_to(tmp_path / "opened"): p for p in (tmp_path / "opened").rglob("*") if p.is_file()}
    assert {name: digest(path) for name, path in opened.items()} == originals
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in opened.values())
    again = aecrypt(*unseal(m, "sealed", "-o", "opened", "--force"), cwd=tmp_path)  # identical files may be replaced
    assert again.returncode == 0, again.stderr
    assert {p.relative_to(tmp_path / "opened"): digest(p) for p in opened.values()} == originals
    assert not temp_files(tmp_path)
