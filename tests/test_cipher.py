"""Payload round trips, tamper and truncation rejection, and key handling."""

import os
import stat

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aecrypt.cipher import (
    KEY_BYTES,
    MAGIC,
    MAX_PAYLOAD_BYTES,
    SCHEMES,
    ciphertext_bytes,
    decrypt_features,
    derive_key,
    encrypt_features,
    encrypt_image,
    generate_key,
    load_key,
    looks_like_payload,
    paper_subkeys,
    read_header,
    read_payload,
    save_key,
)
from aecrypt.errors import AecryptError, KeyFileError, PayloadFormatError, UnauthenticatedPayloadError, WrongKeyOrTamperedError


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
    with pytest.raises(KeyFileError, match="longer than"):
        load_key("/dev/zero")
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


def test_derive_key_is_deterministic_and_salted():
    salt = b"s" * 16
    assert derive_key("correct horse", salt) == derive_key("correct horse", salt)
    assert derive_key("correct horse", salt) != derive_key("correct horse", b"t" * 16)
    assert len(derive_key("x", salt)) == KEY_BYTES


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
