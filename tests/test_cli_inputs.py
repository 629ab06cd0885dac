"""Bad inputs through the real command line: one line naming the file, nothing written, inputs unchanged.

Every case runs ``aecrypt`` in a fresh process in its own folder and compares the SHA-256
of every file there (and of the models and key) before and after: a refused run leaves
no output, no temporary file and no changed input behind.
"""

import hashlib
import os
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

from aecrypt.cipher import MAGIC, encrypt_features, generate_key, save_key
from aecrypt.model import build_autoencoder, save_model

SIZE = 16  # image side of the tiny models; their feature maps are 8x8x3
FEATURES = (SIZE // 2, SIZE // 2, 3)
KILL_PAYLOADS = 300


def aecrypt(*args, cwd=None, timeout=300):
    """Run the command line in a fresh process, as a user would."""
    return subprocess.run([sys.executable, "-m", "aecrypt.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


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


def payload(m, path, seed=0):
    """A valid payload of random 8x8x3 features under the study key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = bytes.fromhex((m / "study.key").read_text())
    path.write_bytes(encrypt_features(np.random.default_rng(seed).normal(size=FEATURES).astype(np.float32), key))
    return path


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


REFUSED = [
    clash_between_folders, clash_between_payload_names, existing_payload_without_force, existing_image_without_force,
    original_scans_even_with_force, input_even_with_force, key_open_to_others, key_from_dev_zero,
    key_of_32_hex_characters, payload_from_dev_zero, inspect_dev_zero, output_is_a_file, output_not_writable,
    image_of_20000_squared_pixels, decoder_with_five_channels, flat_decoder, tampered_payload,
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.__name__)
def test_bad_input_is_one_line_and_changes_nothing(case, m, tmp_path):
    args, names = case(tmp_path, m)
    before = snapshot(tmp_path, m)
    assert_failed(aecrypt(*args, cwd=tmp_path), names)
    assert snapshot(tmp_path, m) == before  # no output, no temporary file, every input as it was


# ------------------------------------------------------------------ batches go on


def test_encrypt_batch_reports_each_bad_image_and_writes_the_rest(m, tmp_path):
    image(tmp_path / "scans" / "a.png")
    (tmp_path / "scans" / "b.png").write_bytes(b"not an image")
    huge_png(tmp_path / "scans" / "c.png")
    image(tmp_path / "scans" / "d.png")
    (tmp_path / "scans" / "e.png").write_bytes((tmp_path / "scans" / "d.png").read_bytes()[:60])  # truncated
    image(tmp_path / "scans" / "sub" / "f.jpg")
    before = snapshot(tmp_path, m)
    result = aecrypt(*encrypt(m, "scans", "-o", "sealed"), cwd=tmp_path)
    assert_failed(result, ["scans/b.png", "scans/c.png", "scans/e.png"], summary=True)
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
    process = subprocess.Popen([sys.executable, "-m", "aecrypt.cli", *map(str, decrypt(m, "sealed", "-o", "opened"))],
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
