"""Does the feature map show the image? Each feature channel, merely viewed (stretched to
[0, 1] and resized), against its own image and the other test images (notebook 06): the
paper's claim that the features "cannot be viewed as a representation of the original data".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from skimage.transform import resize

from aecrypt.method.metrics import ssim
from aecrypt.method.pixels import stretch


def feature_channel_views(features: np.ndarray, image_size: int) -> np.ndarray:
    """Each feature channel stretched to [0, 1] and resized to the image's size: (channels, H, W)."""
    views = []
    for c in range(features.shape[-1]):
        view = resize(stretch(np.asarray(features[..., c], np.float64)), (image_size, image_size), order=1, anti_aliasing=False)
        views.append(view)
    return np.stack(views)


def feature_similarity(images: np.ndarray, features: np.ndarray) -> pd.DataFrame:
    """How much each feature channel, simply viewed, resembles its own image, per channel.

    Columns: SSIM against the grey image (of the channel or its negative, the better);
    |Pearson r| with its own image and, for contrast, the mean |r| with the *other*
    images (which on MRI slices is already high: same background, same head); and
    ``identified``, the share of images whose feature channel correlates best with its own
    image among all of them, against ``chance`` = 1 / number of images.
    """
    greys = np.asarray(images, np.float64).mean(axis=-1)
    n, size = len(greys), greys.shape[1]
    flat_images = _standardise(greys.reshape(n, -1))
    rows = []
    for c in range(features.shape[-1]):
        views = np.stack([feature_channel_views(f[..., c : c + 1], size)[0] for f in features])
        r = _standardise(views.reshape(n, -1)) @ flat_images.T / flat_images.shape[1]  # r[i, j]: view i vs image j
        own = np.abs(np.diag(r))
        others = (np.abs(r).sum(axis=1) - own) / max(n - 1, 1)
        best_ssim = [max(ssim(greys[i], views[i]), ssim(greys[i], 1 - views[i])) for i in range(n)]
        rows.append({
            "channel": c, "ssim_mean": float(np.mean(best_ssim)), "ssim_std": float(np.std(best_ssim)),
            "abs_r_own_image": float(np.mean(own)), "abs_r_other_images": float(np.mean(others)) if n > 1 else float("nan"),
            "identified": float(np.mean(np.argmax(np.abs(r), axis=1) == np.arange(n))), "chance": 1.0 / n, "images": n,
        })
    return pd.DataFrame(rows)


def _standardise(rows: np.ndarray) -> np.ndarray:
    """Each row shifted to mean 0 and scaled to standard deviation 1 (constant rows stay 0)."""
    centred = rows - rows.mean(axis=1, keepdims=True)
    scale = centred.std(axis=1, keepdims=True)
    return centred / np.where(scale > 0, scale, 1.0)
