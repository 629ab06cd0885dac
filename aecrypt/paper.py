"""The paper's reported numbers, named once, always shown beside ours and labelled as the paper's.

Source: Alslman et al., Electronics 11(23):3967, 2022 (``shared/paper``). The paper gives
SSIM and MSE with stray percent signs ("MSE was 0.0019% and the SSIM was 0.9528%"); the
values below are read as plain fractions, as its conclusion does ("error value of 0.0019").
"""

from __future__ import annotations

import pandas as pd

#: Section 4, "Analysis and Discussion": reconstruction quality without noise.
PAPER_SSIM = 0.9528
PAPER_MSE = 0.0019
#: Section 4: "The model achieved an accuracy of 83%" (Keras accuracy, see model.py).
PAPER_ACCURACY = 0.83
PAPER_EPOCHS = 60
#: Table 2: 224x224x3 images.
PAPER_IMAGE_SIZE = 224
#: Section 3.1: 200 images (5 classes of 50).
PAPER_IMAGES = 200
#: The paper's reconstruction row, for tables that put ours beside it.
PAPER_RECONSTRUCTION = {"images": "the paper (Section 4, its own test split)", "ssim": PAPER_SSIM, "mse": PAPER_MSE,
                        "keras_accuracy": PAPER_ACCURACY}

#: Table 3, seconds, "AES (without autoencoders)" vs "Proposed model (using autoencoders)".
PAPER_TABLE3 = pd.DataFrame(
    {
        "method": ["AES (without autoencoders)", "Proposed model (using autoencoders)"],
        "encryption_s": [0.05, 0.016],
        "decryption_s": [0.05, 0.017],
    }
)
#: Table 4: encryption-time enhancement over AES; Section 4 states 72 % for the proposed model.
PAPER_TABLE4 = pd.DataFrame(
    {
        "model": ["DeepEDN", "Proposed model (AE-Img-Crypto)"],
        "dl_model": ["Cycle-GAN", "Autoencoder"],
        "enhancement_over_aes_percent": [50, 75],
    }
)
PAPER_TIME_REDUCTION_TEXT = 0.72

#: Table 6 as printed (percent; "-" where the paper gives nothing).
PAPER_TABLE6 = pd.DataFrame(
    {
        "noise": ["none", "salt_pepper", "speckle", "poisson", "gaussian"],
        "ssim_noisy": [None, 0.93, 0.06, 0.79, 0.13],
        "ssim_pipeline": [0.9528, 0.94, 0.23, 0.90, 0.41],
        "mse_noisy": [None, 0.00, 0.87, 0.01, 0.30],
        "mse_pipeline": [0.0019, 0.00, 0.15, 0.00, 0.05],
    }
)

#: Where the paper contradicts itself, and the reading this study chose: (topic, what the
#: paper says, our choice). REPORT.md and README.md list them from here.
INCONSISTENCIES: tuple[tuple[str, str, str], ...] = (
    ("data set size", "Section 3.1: \"200 images … each class contains 50 images\" with five classes (250)",
     "the `paper` profile takes 200 images; `per_class` gives a balanced subset when asked"),
    ("time saved", "Table 3's times give 68 % (0.05 s against 0.016 s); Table 4 says 75 %; the text says 72 %",
     "Table 4 shows all three beside our measurement, labelled"),
    ("encoder depth", "\"four 2D-Conv layers\" in Section 3.2.1, of which three are listed (and three in Table 2)",
     "three, as listed and tabulated"),
    ("units", "\"the MSE was 0.0019% and the SSIM was 0.9528%\"; Table 6 in percent",
     "plain fractions, as the conclusion reads them (\"error value of 0.0019\")"),
    ("decoder upsampling", "Table 2 upsamples right after the first Conv2DTranspose (32); Section 3.2.2 after the 64 that follows",
     "Table 2 by default; `upsample_position=\"prose\"` builds the other"),
    ("row keys", "256 keys for \"the first 256 rows\", \"repeated until all features were encrypted\"; the feature map has 112 rows",
     "two readings, both ours (the paper names neither mode nor key derivation): `paper`, rows of the first axis (112 keys used at 224 px), "
     "and `paper-blocks`, 16-byte blocks of the flattened features, cycling through all 256; AES-ECB, HKDF-derived keys"),
    ("SSIM", "Eq. 1 is one formula over \"local means\", with no window given",
     "scikit-image's 7×7 windows, and the whole-image (global) SSIM beside it in the quality tables"),
)


def inconsistencies_markdown() -> str:
    """The paper's self-contradictions and our readings, as a Markdown table."""
    rows = ["| topic | the paper says | this study |", "| --- | --- | --- |"]
    return "\n".join(rows + [f"| {topic} | {says} | {ours} |" for topic, says, ours in INCONSISTENCIES])
