"""The paper's convolutional autoencoder (Table 2), split into encoder and decoder halves.

Section 3.4 of the paper gives the sender the encoder and the receiver the decoder, so
the two halves are separate Keras models that share weights with the full autoencoder
and are saved and loaded separately in the ``.keras`` format.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Literal

import keras
from keras import layers

from aecrypt.errors import ModelFileError, ParameterError
from aecrypt.files import atomic_path
from aecrypt.paper import PAPER_IMAGE_SIZE

#: Section 4: mean squared error loss (and the 'adamax' optimiser, in training.py).
PAPER_LOSS = "mse"
#: Keras's default Adamax learning rate, which the paper (using defaults) trained with.
DEFAULT_LEARNING_RATE = 0.001

ENCODER_NAME = "aecrypt_encoder"
DECODER_NAME = "aecrypt_decoder"
AUTOENCODER_NAME = "aecrypt_autoencoder"

#: ``bottleneck`` value for the deployed variant: no Dense display layer. Section 4: "we
#: intentionally add dense layer (3) to the autoencoder so that we can present it to the
#: reader as an image, but in real-life applications, this last layer will not be
#: applied." The encoder then ends at its third Conv2D (32 channels).
DEPLOYED_BOTTLENECK = 0

#: Channels of the images aecrypt reads and writes: grey or colour.
IMAGE_CHANNELS = (1, 3)

UpsamplePosition = Literal["table2", "prose"]
#: Numeric precisions a model can be built in. "mixed_bfloat16" computes the convolutions
#: in bfloat16 (AVX512_BF16 on recent x86 CPUs) and keeps weights, the feature map and the
#: output in float32, so payloads and images are the same types either way.
PRECISIONS = ("float32", "mixed_bfloat16")
DEFAULT_PRECISION = "float32"
#: "auto" picks mixed_bfloat16 where the CPU computes bfloat16 natively (benchmarks/bench.py:
#: 1.6x faster training, test SSIM within 0.002 of float32), float32 elsewhere.
AUTO_PRECISION = "auto"
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")

#: A saved .keras file is a zip; every entry gets this date (the earliest a zip can hold) and
#: these Unix permissions, so re-saving unchanged weights gives the same bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ZIP_ENTRY_MODE = 0o644
ZIP_UNIX = 3  # the zip "made by" system, fixed: Python records the platform it runs on
#: The zip entry in which Keras records its version and the time of saving; the time is dropped.
KERAS_METADATA = "metadata.json"
SAVE_DATE_KEY = "date_saved"


def native_bfloat16() -> bool:
    """Whether this CPU has bfloat16 arithmetic (AVX512_BF16 or AMX), read from /proc/cpuinfo."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:  # not Linux: assume no, float32 is always correct
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_precision(precision: str) -> str:
    """A precision from ``PRECISIONS``, with ``"auto"`` decided by the CPU."""
    if precision == AUTO_PRECISION:
        return "mixed_bfloat16" if native_bfloat16() else "float32"
    if precision not in PRECISIONS:
        raise ParameterError(f"precision must be one of {', '.join(PRECISIONS)} or 'auto', not {precision!r}")
    return precision


def build_autoencoder(
    image_size: int = PAPER_IMAGE_SIZE,
    channels: int = 3,
    bottleneck: int = 3,
    pooling_stages: int = 1,
    upsample_position: UpsamplePosition = "table2",
    filters: tuple[int, int, int] = (64, 64, 32),
    precision: str = DEFAULT_PRECISION,
) -> tuple[keras.Model, keras.Model, keras.Model]:
    """Build the paper's autoencoder and its encoder and decoder halves (shared weights).

    Default: Table 2, layer by layer, for 224x224x3 images::

        encoder  Conv2D 64 -> MaxPool 2x2 -> Conv2D 64 -> Conv2D 32 -> Dense 3 (linear)
        decoder  Dense 3 -> Conv2DTranspose 32 -> UpSampling 2x2 -> Conv2DTranspose 64
                 -> Conv2DTranspose 64 -> Conv2DTranspose 3 (sigmoid)

    The feature map (encoder output) is 112x112x3 signed floats: the encoder's Dense
    layer is linear, as the paper says the features are "positive and negative floating
    point values". All kernels are 3x3 with 'same' padding and ReLU unless stated.

    Table 2 and the prose of Section 3.2.2 disagree on where the decoder upsamples:
    Table 2 puts UpSampling right after the first Conv2DTranspose (32), the prose after
    the Conv2DTranspose 64 that follows it. ``upsample_position="table2"`` (default)
    follows the table; ``"prose"`` follows the text.

    Options the study needs: ``bottleneck`` is the width of the Dense layer (3 so the
    features can be drawn as an image; the paper notes a real system would drop it:
    ``DEPLOYED_BOTTLENECK`` (0) builds that deployed variant, whose encoder sends its third
    Conv2D's map, 32 channels, and whose decoder starts from it),
    ``pooling_stages`` adds max-pool/upsample pairs (the paper discusses a second
    max-pool), and ``channels`` is 1 for grayscale input. ``precision`` is one of
    ``PRECISIONS`` or ``"auto"``; the feature map and the output are float32 in all.
    """
    if image_size % (2**pooling_stages):
        raise ParameterError(f"image_size {image_size} must be divisible by 2**pooling_stages ({2**pooling_stages})")
    if bottleneck < 0:
        raise ParameterError(f"bottleneck must be 0 (no Dense layer: the deployed variant) or a width of at least 1, not {bottleneck}")
    if upsample_position not in ("table2", "prose"):
        raise ParameterError(f"upsample_position must be 'table2' or 'prose', not {upsample_position!r}")
    precision = resolve_precision(precision)
    f1, f2, f3 = filters
    conv = dict(kernel_size=3, padding="same", activation="relu", dtype=precision)
    exact = dict(dtype="float32")  # the feature map and the image stay float32

    image = keras.Input(shape=(image_size, image_size, channels), name="image")
    x = layers.Conv2D(f1, name="enc_conv1", **conv)(image)
    x = layers.MaxPooling2D(2, name="enc_pool1", dtype=precision)(x)
    for stage in range(2, pooling_stages + 1):
        x = layers.MaxPooling2D(2, name=f"enc_pool{stage}", dtype=precision)(x)
    x = layers.Conv2D(f2, name="enc_conv2", **conv)(x)
    x = layers.Conv2D(f3, name="enc_conv3", **conv)(x)
    if bottleneck == DEPLOYED_BOTTLENECK:  # no display layer: the third Conv2D's map, sent as float32
        features = layers.Activation("linear", name="enc_features", **exact)(x)
    else:
        features = layers.Dense(bottleneck, activation=None, name="enc_dense", **exact)(x)
    encoder = keras.Model(image, features, name=ENCODER_NAME)

    feature_size = image_size // 2**pooling_stages
    feature_in = keras.Input(shape=(feature_size, feature_size, bottleneck or f3), name="features")
    y = feature_in
    if bottleneck != DEPLOYED_BOTTLENECK:
        y = layers.Dense(bottleneck, activation=None, name="dec_dense", dtype=precision)(y)
    y = layers.Conv2DTranspose(f3, name="dec_convT1", **conv)(y)
    if upsample_position == "table2":
        y = _upsample(y, pooling_stages, precision)
    y = layers.Conv2DTranspose(f1, name="dec_convT2", **conv)(y)
    if upsample_position == "prose":
        y = _upsample(y, pooling_stages, precision)
    y = layers.Conv2DTranspose(f1, name="dec_convT3", **conv)(y)
    output = layers.Conv2DTranspose(channels, kernel_size=3, padding="same", activation="sigmoid", name="dec_output", **exact)(y)
    decoder = keras.Model(feature_in, output, name=DECODER_NAME)

    autoencoder = keras.Model(image, decoder(encoder(image)), name=AUTOENCODER_NAME)
    return autoencoder, encoder, decoder


def _upsample(x: keras.KerasTensor, stages: int, precision: str) -> keras.KerasTensor:
    """Undo ``stages`` max-pools with 2x2 nearest-neighbour upsampling."""
    for stage in range(1, stages + 1):
        x = layers.UpSampling2D(2, name=f"dec_upsample{stage}", dtype=precision)(x)
    return x


def model_flops(model: keras.Model) -> int:
    """Floating-point operations of one forward pass for one image (2 per multiply-add).

    Counts convolutions and dense layers, which are all but a fraction of a percent of
    the work; pooling, upsampling and activations are left out. A training step costs
    about three forward passes (forward, gradient of the input, gradient of the weights).
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += model_flops(layer)
        elif isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose, layers.Dense)):
            kernel = layer.kernel.shape  # (kh, kw, in, out) for Conv2D; (kh, kw, out, in) for transposed
            taps = int(_prod(kernel))
            out_shape = layer.output.shape[1:-1]  # spatial positions per image
            total += 2 * int(_prod(out_shape)) * taps
    return total


def _prod(values) -> int:
    """Product of a shape's entries."""
    result = 1
    for value in values:
        result *= int(value)
    return result


def model_precision(model: keras.Model) -> str:
    """The precision a model computes in: ``"mixed_bfloat16"`` if any layer does, else ``"float32"``."""
    names = set()
    for layer in model.layers:
        names.add(model_precision(layer) if isinstance(layer, keras.Model) else layer.dtype_policy.name)
    return "mixed_bfloat16" if "mixed_bfloat16" in names else "float32"


def compile_autoencoder(
    autoencoder: keras.Model,
    learning_rate: float = DEFAULT_LEARNING_RATE,
) -> keras.Model:
    """Compile as in Section 4 (adamax, MSE), also tracking the Keras 'accuracy' the paper quotes.

    What that accuracy measures: for a model with MSE loss and a multi-channel output,
    Keras resolves ``"accuracy"`` to *categorical accuracy*, the fraction of pixels whose
    largest channel in the reconstruction is the same channel as in the original. For
    a colour image it says whether each pixel's dominant colour survived; for grey
    images replicated to three equal channels it is close to meaningless (every original
    pixel is a tie that argmax resolves to channel 0). It is not a reconstruction
    quality measure; SSIM, PSNR and MSE are. We report it only to compare with the
    paper's 83 %.
    """
    autoencoder.compile(
        optimizer=keras.optimizers.Adamax(learning_rate=learning_rate),
        loss=PAPER_LOSS,
        metrics=["accuracy"],
    )
    return autoencoder


def save_model(model: keras.Model, path: str | Path) -> Path:
    """Save an encoder or decoder as a ``.keras`` file, atomically (no half-written model), with
    the same bytes whenever the weights are the same (``reproducible_keras_file``)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: model files use the .keras format; name it '{path.stem}.keras'")
    with atomic_path(path) as tmp:
        model.save(tmp)
        reproducible_keras_file(tmp)
    return path


def reproducible_keras_file(path: Path) -> None:
    """Rewrite a saved .keras zip so its bytes depend on the model alone: entries sorted by name,
    each dated ``ZIP_DATE`` with fixed permissions, and no save date in Keras's metadata."""
    with zipfile.ZipFile(path) as archive:
        entries = sorted(((info, archive.read(info)) for info in archive.infolist()), key=lambda entry: entry[0].filename)
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in entries:
            if info.filename == KERAS_METADATA:
                metadata = json.loads(data)
                metadata.pop(SAVE_DATE_KEY, None)
                data = json.dumps(metadata).encode()
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type, fixed.create_system, fixed.external_attr = info.compress_type, ZIP_UNIX, ZIP_ENTRY_MODE << 16
            archive.writestr(fixed, data)


def load_model(path: str | Path, expected: str | None = None) -> keras.Model:
    """Load an aecrypt encoder or decoder; a file that is not one raises ``ModelFileError``.

    ``expected`` is ``"encoder"`` or ``"decoder"`` to also check which half it is.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file; train one with notebooks/02_train_autoencoder.ipynb")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # keras raises many types for a bad file; all mean the same to a user
        raise ModelFileError(
            f"{path}: not a readable .keras model ({type(exc).__name__}); "
            "use an encoder or decoder saved by aecrypt"
        ) from None
    names = {"encoder": ENCODER_NAME, "decoder": DECODER_NAME}
    if model.name not in names.values():
        raise ModelFileError(f"{path}: a Keras model named {model.name!r}, not an aecrypt encoder or decoder")
    if expected is not None and model.name != names[expected]:
        raise ModelFileError(f"{path}: this is an aecrypt {model.name.split('_')[1]}, but a {expected} is needed")
    return model


def weights_digest(model: keras.Model) -> str:
    """SHA-256 (hex) of a model's weights: each variable's path, shape, dtype and values, in order.

    It names a model by what it computes, not by its file: a payload records its encoder's
    and decoder's digests, so ``decrypt`` can tell the sender's decoder from another one.
    """
    digest = hashlib.sha256()
    for variable in model.weights:
        value = keras.ops.convert_to_numpy(variable)
        digest.update(f"{variable.path}|{value.shape}|{value.dtype.str}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def image_shape(decoder_or_encoder: keras.Model) -> tuple[int, ...]:
    """Shape of one image the model takes (encoder) or produces (decoder)."""
    model = decoder_or_encoder
    shape = model.input_shape if model.name == ENCODER_NAME else model.output_shape
    return tuple(shape[1:])


def checked_image_shape(model: keras.Model, path: str | Path) -> tuple[int, int, int]:
    """``image_shape``, or ``ModelFileError`` if it is not (height, width, 1 or 3 channels)."""
    shape = image_shape(model)
    if len(shape) != 3 or not all(isinstance(n, int) and n > 0 for n in shape) or shape[-1] not in IMAGE_CHANNELS:
        role, verb = ("encoder", "takes") if model.name == ENCODER_NAME else ("decoder", "produces")
        raise ModelFileError(
            f"{path}: this {role} {verb} arrays of shape {shape}, but aecrypt expects images of shape "
            f"(height, width, channels) with {' or '.join(map(str, IMAGE_CHANNELS))} channels; "
            f"use the {role} that notebooks/02_train_autoencoder.ipynb saves"
        )
    return shape
