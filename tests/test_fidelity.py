"""What decrypt writes, measured before encryption in the original's own units; and payloads of
earlier versions (features of the model's square input) restored to the original's size."""

import numpy as np
import pytest

from aecrypt.errors import PayloadFormatError
from aecrypt.method.fidelity import fidelity, restore_resized
from aecrypt.method.metrics import ssim, ssim_in_strips
from aecrypt.method.pixels import from_unit, to_unit


def test_restore_resized_undoes_pad_to_square_and_gives_grey_back_one_channel(rng):
    reconstruction = rng.random((16, 16, 3), dtype=np.float32)
    assert restore_resized(reconstruction, {}) is reconstruction  # no metadata: the model's size
    wide = restore_resized(reconstruction, {"height": 6, "width": 20, "channels": 3})
    assert wide.shape == (6, 20, 3) and wide.dtype == np.float32 and 0.0 <= wide.min() and wide.max() <= 1.0
    grey = np.repeat(reconstruction[..., :1], 3, axis=-1)
    assert restore_resized(grey, {"height": 9, "width": 5, "channels": 1}).shape == (9, 5, 1)


@pytest.mark.parametrize("size", [(0, 5), (5, None), ("5", 5), (10**6, 10**6)])
def test_restore_resized_refuses_a_size_no_image_has(rng, size):
    with pytest.raises(PayloadFormatError, match="not a valid image size"):
        restore_resized(rng.random((8, 8, 3)), {"height": size[0], "width": size[1]})


def test_a_16_bit_image_of_values_0_to_229_is_judged_over_its_own_range(rng):
    # The case: a 16-bit PNG of values 0..229 came back as 8 distinct values unrelated to
    # it, and SSIM over 0..65535 called that 0.971. Over its own range (229) the loss is plain.
    original = rng.integers(0, 230, (1, 40, 30, 1)).astype(np.uint16)
    eight_levels = rng.integers(0, 8, original.shape).astype(np.uint16)
    judged = fidelity(original, eight_levels, (0, 229))
    hidden = ssim(original[0].astype(float), eight_levels[0].astype(float), data_range=65535)
    assert hidden > 0.9 and judged["ssim"] < 0.1
    assert judged["ssim"] == pytest.approx(ssim(original[0].astype(float), eight_levels[0].astype(float), 229), abs=1e-4)
    assert fidelity(original, original, (0, 229)) == {"ssim": 1.0, "psnr": None}


def test_errors_are_given_in_the_scans_units(rng):
    stored = rng.integers(0, 2000, (2, 12, 10, 1)).astype(np.int16)
    off_by_four = stored + np.int16(4)
    measured = fidelity(stored, off_by_four, (0, 1999), units="HU", slope=2.0)
    assert measured["mean_error"] == measured["max_error"] == 8.0 and measured["units"] == "HU"
    assert {"ssim", "psnr", "ssim_worst"} <= set(measured) and measured["psnr"] == pytest.approx(10 * np.log10(1999**2 / 16), abs=0.01)


def test_ssim_in_strips_equals_ssim_on_the_whole_image(rng):
    a = rng.random((203, 61, 3))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    assert ssim_in_strips(a, b, strip_pixels=61 * 9) == pytest.approx(ssim(a, b), abs=1e-12)


@pytest.mark.parametrize("dtype, window", [("uint8", (0, 255)), ("uint16", (0, 229)), ("int16", (-1024, 3071)),
                                           ("float32", (0.0, 232.5)), ("bool", (0, 1))])
def test_stored_values_survive_the_trip_through_the_models_unit_range(rng, dtype, window):
    values = from_unit(rng.random((9, 7, 1)), window, dtype)
    assert values.dtype == np.dtype(dtype)
    back = from_unit(to_unit(values, window), window, dtype)
    tolerance = 1e-4 * (window[1] - window[0]) if dtype == "float32" else 0
    assert np.abs(back.astype(float) - values.astype(float)).max() <= tolerance
