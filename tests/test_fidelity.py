"""What decrypt writes, measured before encryption: restoring a reconstruction to the original's
size and channels, and SSIM/PSNR of what the receiver gets."""

import numpy as np
import pytest

from aecrypt.errors import ModelFileError, PayloadFormatError
from aecrypt.method.fidelity import image_metrics, measure_fidelity, restore_image
from aecrypt.method.pipeline import encode


def test_restore_undoes_pad_to_square_and_gives_grey_back_one_channel(rng):
    reconstruction = rng.random((16, 16, 3), dtype=np.float32)
    assert restore_image(reconstruction, {}) is reconstruction  # no metadata: the model's size
    wide = restore_image(reconstruction, {"height": 6, "width": 20, "channels": 3})
    assert wide.shape == (6, 20, 3) and wide.dtype == np.float32 and 0.0 <= wide.min() and wide.max() <= 1.0
    grey = np.repeat(reconstruction[..., :1], 3, axis=-1)
    assert restore_image(grey, {"height": 9, "width": 5, "channels": 1}).shape == (9, 5, 1)


@pytest.mark.parametrize("size", [(0, 5), (5, None), ("5", 5), (10**6, 10**6)])
def test_restore_refuses_a_size_no_image_has(rng, size):
    with pytest.raises(PayloadFormatError, match="not a valid image size"):
        restore_image(rng.random((8, 8, 3)), {"height": size[0], "width": size[1]})


def test_image_metrics_are_rounded_and_infinite_psnr_is_none(rng):
    image = rng.random((12, 12, 3))
    assert image_metrics(image, image, "model_") == {"model_ssim": 1.0, "model_psnr": None}
    noisy = image_metrics(image, np.clip(image + rng.normal(0, 0.1, image.shape), 0, 1))
    assert 0 < noisy["ssim"] < 1 and 10 < noisy["psnr"] < 30 and noisy["ssim"] == round(noisy["ssim"], 4)


def test_fidelity_measures_what_decrypt_writes_at_the_original_size(tiny_models, rng, key):
    _, encoder, decoder = tiny_models
    original = rng.random((20, 12, 3)).astype(np.float32)
    image = rng.random((16, 16, 3)).astype(np.float32)
    features = encode(encoder, image[None])[0]
    metadata = {"height": 20, "width": 12, "channels": 3}
    measured = measure_fidelity(decoder, original, image, features, key, "uint8", metadata)
    assert set(measured) == {"ssim", "psnr", "model_ssim", "model_psnr"}
    assert -1 <= measured["ssim"] <= 1 and -1 <= measured["model_ssim"] <= 1 and measured["psnr"] > 0
    with pytest.raises(ModelFileError, match="decoder trained with this encoder"):
        measure_fidelity(decoder, original, image[:8, :8], features, key, "float32", metadata)
