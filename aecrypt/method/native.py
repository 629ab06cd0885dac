"""The encoder and decoder at an image's own size: no resize round trip.

Table 2's layers are all convolutions, pooling, upsampling and a Dense layer on the
channels, so the trained weights work at any height and width. ``native_model`` builds a
copy of a saved encoder or decoder whose input takes any height and width and copies
the weights into it. An image is padded at the bottom and right to a multiple of the
model's stride (by repeating its edge pixels) and the reconstruction is cropped back.

Large images go through in tiles, so memory stays bounded by the tile, not the image.
Seams are avoided, not blended: each tile is run with a margin of real neighbouring
pixels at least as wide as the model's receptive radius (``receptive_radius``) on every
side, and only its centre is kept. Every kept output pixel has then seen exactly the
inputs it sees in a run on the whole image, so the tiled result equals the untiled one up
to floating-point rounding (``tests/test_native.py`` checks it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import tensorflow as tf

from aecrypt.errors import ModelFileError
from aecrypt.method.model import DECODER_NAME, ENCODER_NAME, keras
from aecrypt.method.pixels import from_unit, set_channels, to_unit

#: Tiles are at most this many pixels of the full-resolution image on a side (plus margins):
#: the encoder's widest layer (64 float32 channels) then needs about 70 MB per tile.
TILE_SIDE = 512
#: Layers that act on each pixel's channels alone: they widen no receptive field.
_POINTWISE = (keras.layers.InputLayer, keras.layers.Dense, keras.layers.Activation, keras.layers.Dropout,
              keras.layers.ReLU, keras.layers.Rescaling)


@dataclass(frozen=True)
class NativeModel:
    """A free-size copy of an encoder or decoder, with the geometry tiling needs."""

    model: keras.Model
    call: tf.types.experimental.ConcreteFunction
    scale: Fraction  # output side per input side: 1/2 for the paper's encoder, 2 for its decoder
    align: int  # tiles start at multiples of this many input pixels (the encoder's stride)
    margin: int  # input pixels of real neighbours around each tile (>= the receptive radius)
    in_channels: int
    out_channels: int

    @property
    def stride(self) -> int:
        """The image pixels per feature pixel along a side (2 for Table 2's one max-pool)."""
        return int(max(self.scale, 1 / self.scale))


def native_model(model: keras.Model) -> NativeModel:
    """A copy of a saved encoder or decoder that runs at any height and width, with its weights."""
    fixed_in, fixed_out = model.input_shape, model.output_shape
    if len(fixed_in) != 4 or len(fixed_out) != 4 or not all(isinstance(n, int) for n in (*fixed_in[1:], *fixed_out[1:])):
        raise ModelFileError(f"model {model.name!r} maps {fixed_in} to {fixed_out}; aecrypt runs models on "
                             "(height, width, channels) arrays")
    scale = Fraction(fixed_out[1], fixed_in[1])
    if scale != Fraction(fixed_out[2], fixed_in[2]) or scale.numerator != 1 and scale.denominator != 1:
        raise ModelFileError(f"model {model.name!r} maps {fixed_in[1:3]} to {fixed_out[1:3]}, not by a whole stride; "
                             "use an encoder or decoder that notebooks/02_train_autoencoder.ipynb saves")
    free = _free_size_copy(model)
    align = scale.denominator  # the encoder's pooling grid; 1 for the decoder
    radius = receptive_radius(free)
    margin = align * (math.ceil(radius / align) + 1)
    signature = tf.TensorSpec([None, None, None, fixed_in[-1]], tf.float32)
    call = tf.function(lambda x: free(x, training=False), input_signature=[signature]).get_concrete_function()
    return NativeModel(free, call, scale, align, margin, fixed_in[-1], fixed_out[-1])


def _free_size_copy(model: keras.Model) -> keras.Model:
    """The model rebuilt from its configuration with a free input height and width, weights copied."""
    config = model.get_config()
    inputs = [layer for layer in config.get("layers", []) if layer["class_name"] == "InputLayer"]
    if len(inputs) != 1:
        raise ModelFileError(f"model {model.name!r} is not a one-input functional model; it cannot run at other image sizes")
    shape = inputs[0]["config"]["batch_shape"]
    inputs[0]["config"]["batch_shape"] = [None, None, None, shape[-1]]
    try:
        free = keras.Model.from_config(config)
        free.set_weights(model.get_weights())
    except Exception as exc:  # keras raises many types for a graph that needs a fixed size (Flatten, Reshape)
        raise ModelFileError(f"model {model.name!r} cannot run at other image sizes ({type(exc).__name__}); "
                             "use an encoder or decoder that notebooks/02_train_autoencoder.ipynb saves") from None
    return free


def receptive_radius(model: keras.Model) -> float:
    """How far (in input pixels) an output pixel's inputs may lie from it: an upper bound from the layers."""
    radius, jump = 0.0, 1.0  # jump: input pixels per pixel of the current layer
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            if tuple(layer.strides) != (1, 1):
                raise ModelFileError(f"layer {layer.name!r} has strides {layer.strides}; aecrypt tiles only unit-stride convolutions")
            radius += max(k * d for k, d in zip(layer.kernel_size, layer.dilation_rate)) * jump
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            radius += max(layer.pool_size) * jump
            jump *= max(layer.strides)
        elif isinstance(layer, keras.layers.UpSampling2D):
            radius += jump  # bilinear upsampling reads one neighbour; nearest reads none
            jump /= max(layer.size)
        elif not isinstance(layer, _POINTWISE):
            raise ModelFileError(f"layer {layer.name!r} ({type(layer).__name__}) is not one aecrypt can run at any size")
    return radius


def run_native(native: NativeModel, x: np.ndarray, tile_side: int = TILE_SIDE) -> np.ndarray:
    """The model on one HxWxC array at its own size, in tiles of ``tile_side`` full-resolution pixels."""
    tile = max(native.align, int(tile_side / max(native.scale, 1)) // native.align * native.align)
    height, width = x.shape[:2]
    if height % native.align or width % native.align:
        raise ModelFileError(f"an input of {height}x{width} is not a multiple of the model's stride {native.align}; pad it first")
    if height <= tile and width <= tile:
        return _call(native, x)
    out = np.empty((_scaled(height, native), _scaled(width, native), native.out_channels), np.float32)
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            rows = max(0, top - native.margin), min(height, bottom + native.margin)
            cols = max(0, left - native.margin), min(width, right + native.margin)
            y = _call(native, x[rows[0] : rows[1], cols[0] : cols[1]])
            out[_scaled(top, native) : _scaled(bottom, native), _scaled(left, native) : _scaled(right, native)] = y[
                _scaled(top - rows[0], native) : _scaled(bottom - rows[0], native),
                _scaled(left - cols[0], native) : _scaled(right - cols[0], native)]
    return out


def _call(native: NativeModel, x: np.ndarray) -> np.ndarray:
    """One run of the free-size model on one HxWxC array (channels set to what it takes)."""
    x = set_channels(np.asarray(x, np.float32), native.in_channels)
    return native.call(tf.constant(x[None]))[0].numpy()


def _scaled(pixels: int, native: NativeModel) -> int:
    """A length in input pixels as output pixels (exact: tiles start on the stride's grid)."""
    return int(pixels * native.scale)


def padded_side(side: int, stride: int) -> int:
    """A side rounded up to a multiple of the stride."""
    return -(-side // stride) * stride


def encode_native(encoder: NativeModel, image: np.ndarray, tile_side: int = TILE_SIDE) -> np.ndarray:
    """The feature map of one HxWxC image in [0, 1] at its own size (padded to the stride by its edge pixels)."""
    if encoder.model.name != ENCODER_NAME or encoder.scale >= 1:
        raise ModelFileError(f"model {encoder.model.name!r} is not an encoder that reduces the image")
    height, width = image.shape[:2]
    pad = ((0, padded_side(height, encoder.stride) - height), (0, padded_side(width, encoder.stride) - width), (0, 0))
    return run_native(encoder, np.pad(np.asarray(image, np.float32), pad, mode="edge"), tile_side)


def decode_native(decoder: NativeModel, features: np.ndarray, height: int, width: int, tile_side: int = TILE_SIDE) -> np.ndarray:
    """The image a feature map decodes to, cropped to height x width, in [0, 1]."""
    if decoder.model.name != DECODER_NAME or decoder.scale <= 1:
        raise ModelFileError(f"model {decoder.model.name!r} is not a decoder that enlarges its features")
    image = run_native(decoder, features, tile_side)
    return np.clip(image[:height, :width], 0.0, 1.0)


def encode_frames(encoder: NativeModel, frames: np.ndarray, window: tuple[float, float], tile_side: int = TILE_SIDE) -> np.ndarray:
    """The feature maps (N, h, w, c) of frames (N, H, W, C) of stored values, each shown to the model through ``window``."""
    return np.stack([encode_native(encoder, to_unit(frame, window), tile_side) for frame in frames])


def decode_frames(decoder: NativeModel, features: np.ndarray, metadata: dict, tile_side: int = TILE_SIDE) -> np.ndarray:
    """Frames (N, H, W, C) of stored values decoded from feature maps (N, h, w, c): the size, channels, value
    type and window that ``metadata`` records (what decrypt writes)."""
    height, width, channels = metadata["height"], metadata["width"], metadata["channels"]
    window, dtype = tuple(metadata["window"]), metadata["dtype"]
    out = np.empty((len(features), height, width, channels), np.dtype(dtype))
    for index, feature_map in enumerate(features):
        image = decode_native(decoder, feature_map, height, width, tile_side)
        out[index] = from_unit(set_channels(image, channels), window, dtype)
    return out
