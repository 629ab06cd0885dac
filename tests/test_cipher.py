"""Payload round trips, tamper and truncation rejection, and key handling."""

import hashlib
import os
import stat
import struct

import numpy as np
import pytest
from Crypto.Cipher import AES
from hypothesis import given, settings
from hypothesis import strategies as st

from aecrypt.method.header import MAGIC, MAX_METADATA_BYTES, MAX_PAYLOAD_BYTES, PAYLOAD_VERSION, read_header
from aecrypt.method.keys import KEY_BYTES, generate_key, load_key, paper_subkeys, save_key
from aecrypt.method.payload import (
    FEATURE_DTYPES,
    ciphertext_bytes,
    decrypt_features,
    decrypt_file,
    decrypt_payload,
    encrypt_features,
    encrypt_file,
    encrypt_image,
    looks_like_payload,
    read_payload,
)
from aecrypt.method.schemes import SCHEMES
from aecrypt.errors import AecryptError, KeyFileError, ParameterError, PayloadFormatError, UnauthenticatedPayloadError, WrongKeyOrTamperedError


@pytest.fixture
def features(rng):
    return rng.normal(0.0, 2.0, size=(12, 12, 3)).astype(np.float32)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_float32_round_trip_is_bit_exact(features, key, scheme):
    payload = encrypt_features(features, key, scheme=scheme)
    out = decrypt_features(payload, key, allow_unauthenticated=True)
    assert out.dtype == np.float32
    assert out.tobytes() == features.tobytes()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_float16_round_trip_within_half_precision(features, key, scheme):
    out = decrypt_features(encrypt_features(features, key, scheme, "float16"), key, allow_unauthenticated=True)
    # float16 keeps 11 significant bits: relative error at most 2**-11 for normal values.
    np.testing.assert_allclose(out, features, rtol=2**-11, atol=6.1e-5)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_uint8_quantised_round_trip_within_half_a_step(features, key, scheme):
    payload = encrypt_features(features, key, scheme, "uint8")
    out = decrypt_features(payload, key, allow_unauthenticated=True)
    step = (features.max(axis=(0, 1)) - features.min(axis=(0, 1))) / 255.0
    assert np.all(np.abs(out - features) <= step / 2 + 1e-6)
    assert read_header(payload).body_bytes <= features.size + 16


@pytest.mark.parametrize("scheme", SCHEMES)
def test_raw_image_round_trip(rng, key, scheme):
    image = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    out = decrypt_features(encrypt_image(image, key, scheme), key, allow_unauthenticated=True)
    assert out.dtype == np.uint8 and np.array_equal(out, image)


def test_payload_sizes_show_the_arithmetic(key):
    # 112x112x3 float32 features are exactly as many bytes as a 224x224x3 uint8 image.
    feats = np.zeros((112, 112, 3), np.float32)
    image = np.zeros((224, 224, 3), np.uint8)
    assert read_header(encrypt_features(feats, key)).body_bytes == 150_528
    assert read_header(encrypt_image(image, key)).body_bytes == 150_528


def test_paper_scheme_is_length_preserving_and_deterministic(features, key):
    a = encrypt_features(features, key, scheme="paper")
    b = encrypt_features(features, key, scheme="paper")
    assert len(ciphertext_bytes(a)) == features.nbytes
    assert a == b  # no nonce: the same plaintext gives the same ciphertext


@pytest.mark.parametrize("shape", [(48, 48, 3), (7, 5), (3,), (1, 1, 1)])
@pytest.mark.parametrize("scheme", ["paper", "paper-blocks"])
def test_both_readings_of_the_paper_scheme_round_trip_and_keep_the_length(scheme, shape, key, rng):
    feats = rng.normal(size=shape).astype(np.float32)
    payload = encrypt_features(feats, key, scheme=scheme)
    assert len(ciphertext_bytes(payload)) == feats.nbytes
    assert np.array_equal(decrypt_features(payload, key, allow_unauthenticated=True), feats)


def test_the_flattened_reading_uses_all_256_keys_and_the_row_reading_one_per_row(key):
    # all-zero features: equal plaintext blocks, so each distinct ciphertext block is one key at work
    feats = np.zeros((48, 48, 3), np.float32)  # 48 rows of 576 bytes; 1,728 blocks of 16 bytes
    blocks = {}
    for scheme in ("paper", "paper-blocks"):
        body = ciphertext_bytes(encrypt_features(feats, key, scheme=scheme))
        blocks[scheme] = np.frombuffer(body, np.uint8).reshape(-1, 16)
    distinct = {scheme: len({b.tobytes() for b in rows}) for scheme, rows in blocks.items()}
    assert distinct == {"paper": 48, "paper-blocks": 256}
    cycled = blocks["paper-blocks"]
    assert np.array_equal(cycled[0], cycled[256]) and not np.array_equal(cycled[0], cycled[1])  # keys cycle every 256 blocks


def test_gcm_uses_a_fresh_nonce(features, key):
    a, b = encrypt_features(features, key), encrypt_features(features, key)
    assert read_header(a).nonce != read_header(b).nonce and a != b


def test_paper_scheme_uses_256_distinct_subkeys(key):
    subkeys = paper_subkeys(key)
    assert len(subkeys) == 256 and len(set(subkeys)) == 256
    assert all(len(k) == KEY_BYTES for k in subkeys)


def test_wrong_key_is_rejected(features, key):
    payload = encrypt_features(features, key)
    with pytest.raises(WrongKeyOrTamperedError, match="key is wrong"):
        decrypt_features(payload, generate_key())


def test_unauthenticated_scheme_needs_explicit_consent(features, key):
    payload = encrypt_features(features, key, scheme="paper")
    with pytest.raises(UnauthenticatedPayloadError, match="unauthenticated"):
        decrypt_features(payload, key)


def test_flipping_any_byte_of_a_gcm_payload_is_rejected(key):
    small = np.arange(6, dtype=np.float32).reshape(2, 3, 1)
    payload = encrypt_features(small, key)
    for position in range(len(payload)):
        for flip in (0x01, 0x80, 0xFF):
            tampered = bytearray(payload)
            tampered[position] ^= flip
            with pytest.raises((WrongKeyOrTamperedError, PayloadFormatError)):
                decrypt_features(bytes(tampered), key)


def test_every_truncation_is_rejected(key):
    payload = encrypt_features(np.ones((2, 3, 2), np.float32), key)
    for length in range(len(payload)):
        with pytest.raises((PayloadFormatError, WrongKeyOrTamperedError)):
            decrypt_features(payload[:length], key)


def test_extra_bytes_are_rejected(features, key):
    with pytest.raises(PayloadFormatError, match="longer"):
        decrypt_features(encrypt_features(features, key) + b"\x00", key)


def test_bad_magic_and_version(features, key):
    payload = encrypt_features(features, key)
    with pytest.raises(PayloadFormatError, match="magic"):
        read_header(b"XXXX" + payload[4:])
    with pytest.raises(PayloadFormatError, match="version 9"):
        read_header(payload[:4] + bytes([9]) + payload[5:])


def test_unknown_scheme_code(features, key):
    payload = encrypt_features(features, key)
    with pytest.raises(PayloadFormatError, match="unknown scheme"):
        read_header(payload[:5] + bytes([77]) + payload[6:])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_aecrypt_errors(data):
    key = b"k" * KEY_BYTES
    with pytest.raises(AecryptError):
        decrypt_features(data, key, allow_unauthenticated=False)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=120))
def test_arbitrary_bytes_after_a_valid_prefix_raise_only_aecrypt_errors(tail):
    key = b"k" * KEY_BYTES
    prefix = encrypt_features(np.ones((2, 2, 1), np.float32), key)[:10]
    try:
        decrypt_features(prefix + tail, key, allow_unauthenticated=True)
    except AecryptError:
        pass


def test_non_float_features_are_refused(key):
    with pytest.raises(ValueError, match="encrypt_image"):
        encrypt_features(np.zeros((2, 2), np.uint8), key)


def test_float16_overflow_is_refused(key):
    with pytest.raises(ValueError, match="float16"):
        encrypt_features(np.full((2, 2), 1e6, np.float32), key, dtype="float16")


def test_save_key_is_private_and_refuses_to_overwrite(tmp_path, key):
    path = save_key(key, tmp_path / "study.key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_key(path) == key
    with pytest.raises(KeyFileError, match="already exists"):
        save_key(generate_key(), path)
    assert load_key(path) == key


def test_load_key_checks_length(tmp_path):
    short = tmp_path / "short.key"
    short.write_text("abcd\n")
    short.chmod(0o600)  # key files must be private to their owner
    with pytest.raises(KeyFileError, match="32 bytes"):
        load_key(short)
    with pytest.raises(KeyFileError, match="no such key file"):
        load_key(tmp_path / "missing.key")


def test_load_key_accepts_raw_bytes(tmp_path, key):
    raw = tmp_path / "raw.key"
    raw.write_bytes(key)
    raw.chmod(0o600)
    assert load_key(raw) == key


def test_load_key_refuses_a_file_others_may_use(tmp_path, key):
    path = save_key(key, tmp_path / "study.key")
    for mode in (0o640, 0o604, 0o620, 0o602):
        path.chmod(mode)
        with pytest.raises(KeyFileError, match=f"run 'chmod 600 {path}'"):
            load_key(path)
    path.chmod(0o400)
    assert load_key(path) == key


def test_load_key_refuses_a_file_another_user_owns(tmp_path, key):
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user (chown) needs root; this run is not root")
    path = save_key(key, tmp_path / "study.key")
    os.chown(path, 65534, 65534)  # nobody
    with pytest.raises(KeyFileError, match="belongs to another user"):
        load_key(path)
    os.chown(path, os.geteuid(), os.getegid())
    assert load_key(path) == key


@pytest.mark.parametrize("content", [
    os.urandom(16).hex().encode(),  # a 128-bit key in hex: 32 bytes that could be read as raw
    os.urandom(16).hex().encode() + b"\n",
    os.urandom(32).hex().encode()[:-1] + b"\n",
    b"correct horse battery staple ok",  # 32 bytes of text
    os.urandom(32) + b"\n",
    os.urandom(31),
    b"",
    b"0x" + os.urandom(32).hex().encode(),
    b" ".join(os.urandom(32).hex().encode()[i : i + 2] for i in range(0, 64, 2)),
], ids=["hex-16", "hex-16-newline", "hex-63", "text-32", "raw-32-newline", "raw-31", "empty", "0x-prefix", "spaced-hex"])
def test_load_key_refuses_ambiguous_or_wrong_encodings(tmp_path, content):
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="64 hex characters"):
        load_key(path)


def test_load_key_reads_a_bounded_amount(tmp_path):
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_key("/dev/zero")  # a device is refused before any read
    big = tmp_path / "big.key"
    big.write_bytes(b"a" * 10_000)
    big.chmod(0o600)
    with pytest.raises(KeyFileError, match="longer than"):
        load_key(big)


def test_read_payload_is_bounded(tmp_path, features, key):
    good = tmp_path / "good.aecrypt"
    good.write_bytes(encrypt_features(features, key))
    assert read_payload(good) == good.read_bytes() and looks_like_payload(good)
    with pytest.raises(PayloadFormatError, match="not an aecrypt payload"):
        read_payload("/dev/zero")
    sparse = tmp_path / "sparse.aecrypt"
    with open(sparse, "wb") as handle:
        handle.write(MAGIC)
        handle.truncate(MAX_PAYLOAD_BYTES + 1)  # sparse: refused from its size, never read
    with pytest.raises(PayloadFormatError, match="larger than any payload"):
        read_payload(sparse)
    with pytest.raises(PayloadFormatError, match="no such payload file"):
        read_payload(tmp_path / "missing.aecrypt")
    with pytest.raises(PayloadFormatError, match="a folder"):
        read_payload(tmp_path)
    assert not looks_like_payload(tmp_path / "missing.aecrypt")


def test_bad_key_length_message_does_not_echo_the_key(features):
    secret = b"supersecret-but-too-short"
    with pytest.raises(KeyFileError) as info:
        encrypt_features(features, secret)
    assert "supersecret" not in str(info.value)


def test_seeded_keys_and_nonces_repeat_and_real_ones_do_not(features):
    # the study draws keys and nonces from its seed so that its tables repeat byte for byte
    a = encrypt_features(features, generate_key(np.random.default_rng(7)), rng=np.random.default_rng(8))
    b = encrypt_features(features, generate_key(np.random.default_rng(7)), rng=np.random.default_rng(8))
    assert a == b
    assert generate_key() != generate_key()
    key = generate_key()
    assert encrypt_features(features, key) != encrypt_features(features, key)  # fresh nonce each time


# ------------------------------------------------------------ metadata and files


def test_metadata_is_stored_in_the_header_and_authenticated(features, key):
    meta = {"height": 512, "width": 384, "mode": "L", "suffix": ".png", "ssim": 0.9712, "psnr": 31.5}
    payload = encrypt_features(features, key, metadata=meta)
    header = read_header(payload)
    assert header.version == PAYLOAD_VERSION == 2 and header.metadata == meta
    assert np.array_equal(decrypt_features(payload, key), features)
    plain = encrypt_features(features, key)  # no metadata: version 1, the size it always had
    assert read_header(plain).version == 1
    assert len(plain) == 4 + 4 + 4 * 3 + 2 + 1 + 12 + 9 + features.nbytes + 16
    start = payload.index(b'"ssim":0.9712')
    forged = payload[:start] + b'"ssim":0.9912' + payload[start + 13 :]  # same length: still parses
    assert read_header(forged).metadata["ssim"] == 0.9912
    with pytest.raises(WrongKeyOrTamperedError, match="altered"):
        decrypt_features(forged, key)


def test_metadata_must_be_a_small_json_object(features, key):
    with pytest.raises(ParameterError, match="dict"):
        encrypt_features(features, key, metadata=["not", "a", "dict"])
    with pytest.raises(ParameterError, match="finite"):
        encrypt_features(features, key, metadata={"psnr": float("inf")})
    with pytest.raises(ParameterError, match=f"{MAX_METADATA_BYTES} at most"):
        encrypt_features(features, key, metadata={"note": "x" * MAX_METADATA_BYTES})
    payload = encrypt_features(features, key, metadata={"a": 1})
    start = payload.index(b'{"a":1}')
    for junk in (b'[1,2,3]', b'{"a":1', b'NaN    '):
        broken = payload[:start] + junk.ljust(7) + payload[start + 7 :]
        with pytest.raises(PayloadFormatError, match="metadata"):
            read_header(broken)


def test_version_1_payloads_are_still_read(features, key):
    # a version-1 payload, built by hand as version 1 laid it out: no metadata block
    nonce = os.urandom(12)
    header = (struct.pack(">4sBBBB", MAGIC, 1, 1, 1, 3) + struct.pack(">3I", *features.shape) + struct.pack(">H", 0)
              + struct.pack(">B", 12) + nonce + struct.pack(">QB", features.nbytes, 16))
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=16)
    cipher.update(header)
    body, tag = cipher.encrypt_and_digest(features.tobytes())
    payload = header + body + tag
    assert read_header(payload).version == 1 and read_header(payload).metadata == {}
    assert np.array_equal(decrypt_features(payload, key), features)


def test_a_file_round_trips_bit_exact(key):
    data = os.urandom(1000) + b"\x89PNG\r\n"
    payload = encrypt_file(data, key, metadata={"suffix": ".png"})
    header = read_header(payload)
    assert header.dtype == "file" and header.shape == (len(data),) and header.authenticated
    assert decrypt_file(payload, key) == data
    with pytest.raises(WrongKeyOrTamperedError):
        decrypt_file(payload, generate_key())
    with pytest.raises(PayloadFormatError, match="not a sealed file"):
        decrypt_file(encrypt_features(np.ones((2, 2, 1), np.float32), key), key)
    with pytest.raises(ParameterError, match="empty"):
        encrypt_file(b"", key)


# ------------------------------------------------------------------ library edges


def test_a_1d_array_quantised_to_uint8_decrypts(key):
    values = np.linspace(-3.0, 5.0, 50).astype(np.float32)
    out = decrypt_features(encrypt_features(values, key, dtype="uint8"), key)
    assert out.shape == values.shape
    assert np.all(np.abs(out - values) <= (8.0 / 255) / 2 + 1e-6)


def test_float64_beyond_float32_is_refused_not_made_infinite(key):
    with pytest.raises(ParameterError, match="float32's range"):
        encrypt_features(np.array([[1.0, 1e39]]), key)
    with pytest.raises(ParameterError, match="float32's range"):
        encrypt_features(np.array([[1.0, -1e300]]), key, dtype="uint8")


def test_uint8_quantisation_of_a_huge_range_is_refused(key):
    wide = np.array([[3e38], [-3e38]], np.float32)
    with pytest.raises(ParameterError, match="uint8 quantisation"):
        encrypt_features(wide, key, dtype="uint8")
    edge = np.array([[3.4e38], [0.0]], np.float32)  # a range that just fits
    assert np.all(np.isfinite(decrypt_features(encrypt_features(edge, key, dtype="uint8"), key)))


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dtype", FEATURE_DTYPES)
def test_empty_arrays_are_refused(key, scheme, dtype):
    with pytest.raises(ParameterError, match="empty array"):
        encrypt_features(np.zeros((0, 3), np.float32), key, scheme=scheme, dtype=dtype)
    with pytest.raises(ParameterError, match="empty array"):
        encrypt_image(np.zeros((0, 3), np.uint8), key, scheme=scheme)


@pytest.mark.parametrize("scheme", ["ecb", "cbc"])
def test_a_wrong_key_on_padded_schemes_never_raises_a_raw_error(scheme):
    rng = np.random.default_rng(16)
    right = generate_key(rng)
    payload = encrypt_features(np.ones((2, 2, 1), np.float32), right, scheme=scheme)  # 16 bytes: a whole padding block
    for _ in range(2000):  # about 1 wrong key in 256 leaves a valid-looking padding
        try:
            decrypt_features(payload, generate_key(rng), allow_unauthenticated=True)
        except WrongKeyOrTamperedError:
            pass


def test_a_header_reshaped_to_the_same_size_is_tampering(key):
    payload = encrypt_features(np.ones((8, 8, 3), np.float32), key)
    position = 5 + 3  # magic, version, scheme, dtype, ndim; then the shape
    reshaped = payload[:position] + struct.pack(">3I", 4, 16, 3) + payload[position + 12 :]
    assert read_header(reshaped).shape == (4, 16, 3)
    with pytest.raises(WrongKeyOrTamperedError, match="altered"):
        decrypt_features(reshaped, key)


# Payloads written by aecrypt before the cipher was split into keys, schemes, header and
# payload modules (commit 8da7724): the format on disk must not change.
EARLIER_DIGESTS = {
    "gcm/float32": "90ddbca06e98b728", "gcm/float16": "37ae665a5c1e91bf", "gcm/uint8": "3a6ec52c2c41051f",
    "gcm/image": "518e908e2c33f074", "paper/float32": "9aa1f6011c7ae3af", "paper/float16": "1e6ceaf2f2fc3452",
    "paper/uint8": "d739a66085f30b60", "paper/image": "b2007d17ff2d1ee8", "ecb/float32": "9633e672f662db59",
    "ecb/float16": "9d96ad99586f7742", "ecb/uint8": "3062be2037274bad", "ecb/image": "2ac79ffcf0d0ed99",
    "cbc/float32": "7535939292a93587", "cbc/float16": "4aea1e4a458f3c5d", "cbc/uint8": "00b00d3f29547742",
    "cbc/image": "6ef03e6a0b8e61cb", "ctr/float32": "6d56032353ab1f3b", "ctr/float16": "899bc0f12013a90b",
    "ctr/uint8": "e1c7ef20bea56f68", "ctr/image": "c9cbc29ae446faa1", "paper-blocks/float32": "a84278971f3d8190",
    "paper-blocks/float16": "a9a44fcb5d94c2d6", "paper-blocks/uint8": "d9a7f515eb38e70a", "paper-blocks/image": "97ad85b4c08924fe",
}
EARLIER_FEATURES = bytes.fromhex(
    "414543520201010300000002000000030000000100000cffe42279f3bd068366a852c100167b22686569676874223a322c227769"
    "647468223a337d000000000000001810e21f95c682fc0b0dc44afd95db48406ea3b8e0dda8356113497c33201c567438007e4eb8"
    "3639b29f"
)
EARLIER_FILE = bytes.fromhex(
    "41454352020105010000001200000c2c63536af1852875b194b87a00117b22737566666978223a222e747874227d000000000000"
    "00121079c8b6468bb3b4c336a4b044a541622d66749eb41ccb502d755ad1a5b8ee2bbc120a"
)


def test_every_scheme_writes_the_bytes_it_wrote_before():
    key = generate_key(np.random.default_rng(0))
    features = np.random.default_rng(2).normal(0, 2, size=(5, 6, 3)).astype(np.float32)
    image = np.random.default_rng(3).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    written = {}
    for scheme in SCHEMES:
        for dtype in FEATURE_DTYPES:
            payload = encrypt_features(features, key, scheme, dtype, rng=np.random.default_rng(1))
            written[f"{scheme}/{dtype}"] = payload
        written[f"{scheme}/image"] = encrypt_image(image, key, scheme, rng=np.random.default_rng(1), metadata={"height": 5})
    assert {name: hashlib.sha256(p).hexdigest()[:16] for name, p in written.items()} == EARLIER_DIGESTS
    assert np.array_equal(decrypt_features(written["paper/float32"], key, allow_unauthenticated=True), features)


def test_payloads_written_before_the_split_still_decrypt():
    key = generate_key(np.random.default_rng(0))
    header = read_header(EARLIER_FEATURES)
    assert (header.scheme, header.dtype, header.shape, header.metadata) == ("gcm", "float32", (2, 3, 1), {"height": 2, "width": 3})
    assert np.array_equal(decrypt_features(EARLIER_FEATURES, key), np.arange(6, dtype=np.float32).reshape(2, 3, 1) / 4)
    assert decrypt_file(EARLIER_FILE, key) == b"hello, sealed file"
    with pytest.raises(WrongKeyOrTamperedError):
        decrypt_features(EARLIER_FEATURES, generate_key(np.random.default_rng(1)))


# ------------------------------------------------------------------ private block


def test_a_private_block_travels_encrypted_and_authenticated(features, key):
    secret = b"(0010,0010) PatientName Doe^Jane" * 10
    payload = encrypt_features(features, key, metadata={"height": 4}, private=secret)
    header = read_header(payload)
    assert header.version == 3 and header.private_bytes == len(secret) and header.plaintext_bytes == features.nbytes
    assert b"Doe^Jane" not in payload  # encrypted, not in the clear header
    array, private = decrypt_payload(payload, key)
    assert np.array_equal(array, features) and private == secret
    assert np.array_equal(decrypt_features(payload, key), features)
    assert decrypt_payload(encrypt_features(features, key), key)[1] == b""  # none: version 1 as before
    with pytest.raises(WrongKeyOrTamperedError):
        decrypt_payload(payload[:-30] + bytes([payload[-30] ^ 1]) + payload[-29:], key)
    with pytest.raises(ParameterError, match="only in a gcm payload"):
        encrypt_features(features, key, scheme="ecb", private=secret)


def test_an_all_zero_key_file_is_refused(tmp_path):
    path = tmp_path / "zero.key"
    path.write_text("0" * 64 + "\n")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="all zeros"):
        load_key(path)
    path.write_bytes(bytes(32))
    with pytest.raises(KeyFileError, match="all zeros"):
        load_key(path)
    with pytest.raises(KeyFileError, match="all zeros"):
        save_key(bytes(32), tmp_path / "new.key")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zero.key"]
