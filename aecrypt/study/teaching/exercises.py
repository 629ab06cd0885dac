"""The "Try it" exercises' expected outcomes and runtimes, read from the committed run and its
solutions run, never typed: each notebook's last cell prints its own, and the teacher's
page (``make book``) gives them all with the worked answers.

An exercise whose parameter the study already varies (the split and guard gap, the batch,
the training seed) is answered from the study's own tables; one that trains another model
from its solutions variant (``aecrypt.study.teaching.solutions``). ``ANSWERS`` maps each
exercise, by notebook and number, to the function that states its outcome.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from aecrypt.progress import enabled as under_runner
from aecrypt.study.teaching.committed import CommittedRun, NotCommittedError, duration
from aecrypt.study.teaching.lectures import Item, Lecture, read_lecture
from aecrypt.study.runs import MAIN_RUN, notebook_path

#: Bytes of one float32 feature value, and the channels of the model's input (Table 2).
FLOAT32_BYTES, INPUT_CHANNELS = 4, 3
#: The further training seed the seed exercises compare with the first.
OTHER_SEED = 1


@dataclass(frozen=True)
class Answer:
    """How an exercise's outcome is known: the notebooks it runs (after any it needs first),
    the variant or seed they run for, and the function that states the outcome."""

    runs: tuple[str, ...]
    outcome: Callable[[CommittedRun], list[str]]
    variant: str = MAIN_RUN
    seed: int | None = None

    def runtime(self, run: CommittedRun) -> str:
        """How long the exercise takes, from the committed times of the notebooks it runs."""
        times = [run.seconds(n, self.seed, self.variant) for n in self.runs]
        steps = " + ".join(f"{n[:2]} {duration(t)}" for n, t in zip(self.runs, times)) if len(times) > 1 else ""
        return f"about {duration(sum(times))}" + (f" ({steps})" if steps else "") + f" on {run.machine(self.variant)}"


# ------------------------------------------------------------------ reading tables


def _row(table: pd.DataFrame, column: str, value: str, prefix: bool = False) -> pd.Series:
    """The first row whose ``column`` equals (or starts with) ``value``."""
    rows = table[table[column].astype(str).str.startswith(value) if prefix else table[column].astype(str) == value]
    if rows.empty:
        raise NotCommittedError(f"no row {value!r} in the table's column {column!r}")
    return rows.iloc[0]


def _test_quality(run: CommittedRun, seed: int = 0, variant: str = MAIN_RUN) -> str:
    """Test SSIM and MSE of a model, as a sentence part."""
    row = _row(run.table("table_reconstruction", seed, variant), "images", "test", prefix=True)
    return f"test SSIM {row['ssim']:.3f}, MSE {row['mse']:.5f}"


def _seed_spread(run: CommittedRun) -> str:
    """Test SSIM across the committed training seeds, mean ± sd."""
    row = _row(run.table("table_seeds_reconstruction", None), "images", "test", prefix=True)
    return f"{row['ssim_mean']:.3f} ± {row['ssim_std']:.3f} over {int(row['seeds'])} seeds"


def _feature_bytes(run: CommittedRun, variant: str = MAIN_RUN) -> tuple[str, int]:
    """A model's feature map per image, as its shape in words and its bytes."""
    params = run.parameters("02_train_autoencoder", 0, variant)
    side = params["image_size"] // 2 ** params["pooling_stages"]
    channels = params["bottleneck"] or run.parameters("02_train_autoencoder")["bottleneck"]
    return f"{side}×{side}×{channels}", side * side * channels * FLOAT32_BYTES


# ------------------------------------------------------------------ 01: the split


def _leakage_row(run: CommittedRun, split: str) -> str:
    """One split's leakage, from the table by gap, as a sentence part."""
    row = _row(run.table("table_leakage_by_gap", None), "split", split)
    return (f"{100 * row['near_duplicates']:.0f} % of test images near-duplicates, median nearest-training SSIM "
            f"{row['median_ssim']:.3f}, largest {row['max_ssim']:.3f}")


def _this_split(run: CommittedRun) -> str:
    """The split the committed run used, by name."""
    table = run.table("table_leakage_by_gap", None)
    return str(table[table["this_run"].astype(str) == "True"].iloc[0]["split"])


def other_split(split: str) -> Callable[[CommittedRun], list[str]]:
    """01.1 and 01.2: another split's leakage, which the study measured beside its own."""
    def outcome(run: CommittedRun) -> list[str]:
        return [f"`{split}` row of `table_leakage_by_gap`: {_leakage_row(run, split)};",
                f"against the committed `{_this_split(run)}`: {_leakage_row(run, _this_split(run))}."]
    return outcome


def smaller_images(run: CommittedRun) -> list[str]:
    """01.3: memory of the training and test images at half the side (the counts stay)."""
    counts = run.table("table_dataset", None)
    size = run.parameters("01_data_prep", None)["image_size"]
    images = int(counts["train"].sum() + counts["test"].sum())
    mib = [images * side * side * INPUT_CHANNELS * FLOAT32_BYTES / 2**20 for side in (size, size // 2)]
    return [f"the same {int(counts['train'].sum())} training and {int(counts['test'].sum())} test images "
            f"(`table_dataset` unchanged), in {mib[1]:.1f} MiB instead of {mib[0]:.1f} MiB at {size}×{size} px."]


# ------------------------------------------------------------------ 02: other models


def other_model(variant: str) -> Callable[[CommittedRun], list[str]]:
    """02.1 and 02.2: a variant's test quality and feature bytes, against the main model's."""
    def outcome(run: CommittedRun) -> list[str]:
        (shape, size), (main_shape, main_size) = _feature_bytes(run, variant), _feature_bytes(run)
        return [f"`{variant}`: {_test_quality(run, variant=variant)}; the main model: {_test_quality(run)} "
                f"(test SSIM {_seed_spread(run)});",
                f"features per image {shape}, {size:,} bytes to encrypt, against {main_shape}, {main_size:,} bytes."]
    return outcome


def another_seed(run: CommittedRun) -> list[str]:
    """02.3: training seed 1 against seed 0, and the spread over all seeds."""
    return [f"seed {OTHER_SEED}: {_test_quality(run, OTHER_SEED)} (`seed-{OTHER_SEED}/table_reconstruction`); "
            f"seed 0: {_test_quality(run)};", f"test SSIM {_seed_spread(run)} (`table_seeds_reconstruction`)."]


# ------------------------------------------------------------------ 03: the journey


def another_image(run: CommittedRun) -> list[str]:
    """03.1: any test image round-trips exactly; how much its features show, over the test split."""
    table = run.table("table_feature_similarity")
    shape, size = _feature_bytes(run)
    return [f"bit for bit: True again; features {shape}, {size:,} bytes, as for every test image;",
            f"each feature channel correlates with its own image at |r| {table['abs_r_own_image'].min():.2f} to "
            f"{table['abs_r_own_image'].max():.2f} (with the other test images {table['abs_r_other_images'].min():.2f} to "
            f"{table['abs_r_other_images'].max():.2f}), and picks its image out of {int(table['images'].iloc[0])} in "
            f"{100 * table['identified'].min():.0f} to {100 * table['identified'].max():.0f} % of cases "
            "(`table_feature_similarity`, notebook 06): the outline shows."]


def pooled_journey(run: CommittedRun) -> list[str]:
    """03.2: the same journey through the two-stage model."""
    shape, size = _feature_bytes(run, "pool2")
    main_shape, main_size = _feature_bytes(run)
    run.parameters("03_encrypt_decrypt", 0, "pool2")  # the journey ran
    return [f"features {shape}, {size:,} bytes (the main model: {main_shape}, {main_size:,}); still bit for bit;",
            f"its decoder over the test split: {_test_quality(run, variant='pool2')} against {_test_quality(run)}: "
            "look for a blurrier panel (e)."]


# ------------------------------------------------------------------ 04: timing


def batch_of_one(run: CommittedRun) -> list[str]:
    """04.1: batched against one-image rows of the end-to-end table."""
    table = run.table("table_end_to_end")
    lines = []
    for side in ("sender", "receiver"):
        rows = table[table["side"] == side]
        one, batch = (rows[rows["method"].str.contains(words)].iloc[0] for words in ("1 image", "batch"))
        lines.append(f"{side}: {1e3 * one['total_s']:.2f} ms per image one at a time, {1e3 * batch['total_s']:.2f} ms in "
                     f"`{batch['method'].split('(')[1].rstrip(')')}`; with a batch of one, both rows read about "
                     f"{1e3 * one['total_s']:.2f} ms.")
    return lines


def pooled_timing(run: CommittedRun) -> list[str]:
    """04.2: AES on a quarter of the bytes, against the whole sender."""
    lines = []
    for variant in ("pool2", MAIN_RUN):
        table = run.table("table3_timing", 0, variant).set_index("method")
        raw = table.loc["AES-256-GCM, raw image", "encryption_s"]
        features = table.loc["AES-256-GCM, features float32", "encryption_s"]
        sender = table.loc["encoder + AES-256-GCM (whole sender)", "encryption_s"]
        lines.append(f"{'the main model' if variant == MAIN_RUN else f'`{variant}`'}: AES on the features {1e3 * features:.3f} ms against {1e3 * raw:.3f} ms on the raw image "
                     f"({int(table.loc['AES-256-GCM, features float32', 'bytes']):,} against "
                     f"{int(table.loc['AES-256-GCM, raw image', 'bytes']):,} bytes); the whole sender {1e3 * sender:.2f} ms")
    return [lines[0] + ";", lines[1] + "."]


# ------------------------------------------------------------------ 05: noise


def _pipeline_ssim(run: CommittedRun, seed: int = 0, variant: str = MAIN_RUN) -> str:
    """SSIM through the pipeline per noise kind (test images, scikit-image's defaults)."""
    table = run.table("table6_noise_robustness", seed, variant)
    rows = table[(table["data"] == "test") & (table["noise"] != "none")]
    return ", ".join(f"{r['noise']} {r['ssim_pipeline']:.3f}" for _, r in rows.iterrows())


def _median_ssim(run: CommittedRun, seed: int = 0, variant: str = MAIN_RUN) -> str:
    """SSIM of the 3x3 median filter per noise kind (test images)."""
    table = run.table("table6_noise_robustness_all", seed, variant)
    rows = table[(table["data"] == "test") & (table["method"] == "median 3x3") & (table["noise"] != "none")]
    return ", ".join(f"{r['noise']} {r['ssim_mean']:.3f}" for _, r in rows.iterrows())


def pooled_noise(run: CommittedRun) -> list[str]:
    """05.1: does the blurrier model remove more noise?"""
    return [f"SSIM through the `pool2` pipeline: {_pipeline_ssim(run, variant='pool2')};",
            f"through the main model's: {_pipeline_ssim(run)};",
            f"the median filter, the same for both: {_median_ssim(run)} (`table6_noise_robustness_all`)."]


def noise_seed(run: CommittedRun) -> list[str]:
    """05.2: the pipeline's SSIM under noise for seed 1 against seed 0 and the spread."""
    spread = run.table("table_seeds_table6_noise_robustness", None)
    rows = spread[(spread["data"] == "test") & (spread["noise"] != "none")]
    return [f"seed {OTHER_SEED}: {_pipeline_ssim(run, OTHER_SEED)}; seed 0: {_pipeline_ssim(run)};",
            "over every seed (`table_seeds_table6_noise_robustness`): "
            + ", ".join(f"{r['noise']} {r['ssim_pipeline_mean']:.3f} ± {r['ssim_pipeline_std']:.3f}" for _, r in rows.iterrows()) + "."]


# ------------------------------------------------------------------ 06: security


def _attacker(run: CommittedRun, seed: int = 0, variant: str = MAIN_RUN) -> str:
    """The real and the attacker's decoder on the test images, as a sentence part."""
    table = run.table("table_substitute_decoder", seed, variant)
    real, stolen = (_row(table, "decoder", name, prefix=True) for name in ("real", "substitute"))
    return f"the receiver's decoder SSIM {real['ssim']:.3f}, the attacker's {stolen['ssim']:.3f}"


def _resemblance(run: CommittedRun, variant: str = MAIN_RUN) -> str:
    """How often a feature channel picks out its own image, over the channels."""
    table = run.table("table_feature_similarity", 0, variant)
    return (f"{len(table)} channels pick out their own image in {100 * table['identified'].min():.0f} to "
            f"{100 * table['identified'].max():.0f} % of cases")


def attacker_seed(run: CommittedRun) -> list[str]:
    """06.1: the attacker for seed 1 against seed 0 and the spread."""
    row = _row(run.table("table_seeds_substitute_decoder", None), "decoder", "substitute", prefix=True)
    return [f"seed {OTHER_SEED}: {_attacker(run, OTHER_SEED)}; seed 0: {_attacker(run)};",
            f"the attacker over every seed: SSIM {row['ssim_mean']:.3f} ± {row['ssim_std']:.3f} (`table_seeds_substitute_decoder`)."]


def attacker_variant(variant: str) -> Callable[[CommittedRun], list[str]]:
    """06.2 and 06.3: the attacker and the feature channels of another model, against the main one's."""
    def outcome(run: CommittedRun) -> list[str]:
        blocks = run.table("table_cipher_statistics", 0, variant).set_index("data")["repeated_blocks"]
        main_blocks = run.table("table_cipher_statistics").set_index("data")["repeated_blocks"]
        return [f"`{variant}`: {_attacker(run, variant=variant)}; {_resemblance(run, variant)};",
                f"the main model: {_attacker(run)}; {_resemblance(run)};",
                f"repeated 16-byte blocks under plain ECB: {100 * blocks['ecb: feature map']:.0f} % of the feature map's "
                f"(the main model's {100 * main_blocks['ecb: feature map']:.0f} %)."]
    return outcome


#: Each exercise's answer, by notebook and exercise number (as its "Try it" list numbers it).
ANSWERS: dict[tuple[str, int], Answer] = {
    ("01_data_prep", 1): Answer(("01_data_prep",), other_split("random (old)")),
    ("01_data_prep", 2): Answer(("01_data_prep",), other_split("slabs, guard 0 mm")),
    ("01_data_prep", 3): Answer(("01_data_prep",), smaller_images),
    ("02_train_autoencoder", 1): Answer(("02_train_autoencoder",), other_model("wide"), "wide"),
    ("02_train_autoencoder", 2): Answer(("02_train_autoencoder",), other_model("pool2"), "pool2"),
    ("02_train_autoencoder", 3): Answer(("02_train_autoencoder",), another_seed, seed=OTHER_SEED),
    ("03_encrypt_decrypt", 1): Answer(("03_encrypt_decrypt",), another_image),
    ("03_encrypt_decrypt", 2): Answer(("02_train_autoencoder", "03_encrypt_decrypt"), pooled_journey, "pool2"),
    ("04_timing", 1): Answer(("04_timing",), batch_of_one),
    ("04_timing", 2): Answer(("02_train_autoencoder", "04_timing"), pooled_timing, "pool2"),
    ("05_noise_robustness", 1): Answer(("02_train_autoencoder", "05_noise_robustness"), pooled_noise, "pool2"),
    ("05_noise_robustness", 2): Answer(("02_train_autoencoder", "05_noise_robustness"), noise_seed, seed=OTHER_SEED),
    ("06_security_analysis", 1): Answer(("02_train_autoencoder", "06_security_analysis"), attacker_seed, seed=OTHER_SEED),
    ("06_security_analysis", 2): Answer(("02_train_autoencoder", "06_security_analysis"), attacker_variant("wide"), "wide"),
    ("06_security_analysis", 3): Answer(("02_train_autoencoder", "06_security_analysis"), attacker_variant("pool2"), "pool2"),
}


# ------------------------------------------------------------------ what is shown


def expected(notebook: str, number: int, run: CommittedRun) -> tuple[str, list[str]]:
    """An exercise's runtime and expected outcome, from the committed run; what is missing is said, not guessed."""
    answer = ANSWERS[(notebook, number)]
    try:
        runtime = answer.runtime(run)
    except NotCommittedError as error:
        runtime = f"not known yet: {error}"
    try:
        return runtime, answer.outcome(run)
    except NotCommittedError as error:
        return runtime, [f"not known yet: {error}."]


def exercise_markdown(lecture: Lecture, number: int, item: Item, run: CommittedRun, heading: str = "###",
                      full: bool = True) -> str:
    """One exercise as markdown: its title, runtime and expected outcome; ``full``: its text
    before them and its worked answer, collapsed, after them (the teacher's page)."""
    runtime, outcome = expected(lecture.stem, number, run)
    lines = [f"{heading} {number}. {item.title}", ""] + ([re.sub(r"^\*\*.+?\*\*\s*", "", item.text), ""] if full else [])
    if runtime.startswith("not known yet") and outcome[0].startswith("not known yet"):
        lines.append(f"**Runtime and expected outcome** {outcome[0]}")
    else:
        lines += [f"**Runs in** {runtime}.", "", "**Expected outcome:** " + " ".join(outcome)]
    if full and item.answer:
        lines += ["", "<details><summary>Worked answer</summary>", "", item.answer, "", "</details>"]
    return "\n".join(lines)


#: What the cell after "Try it" says under ``aecrypt reproduce``, which is making a new committed run.
ELSEWHERE = ("The expected outcome and runtime of each exercise are on the site's *Exercises* page (`make book`) "
             "and print here when you run this notebook yourself.")


def expected_markdown(notebook: str, run: CommittedRun | None = None) -> str:
    """Each exercise of a notebook with its runtime and expected outcome, read from the committed
    run; under ``aecrypt reproduce`` where to find them instead, since the committed files are
    then the old run's and the executed copy is committed with the new one."""
    if under_runner():
        return ELSEWHERE
    run = run or CommittedRun()
    lecture = read_lecture(notebook_path(notebook))
    try:
        commit = f", commit `{run.study()['git_commit']}`"
    except NotCommittedError:
        commit = " (no committed run found: `make reproduce` makes one)"
    parts = [f"Expected outcomes from the committed run (`results/{run.out.name}`{commit}):"]
    parts += [exercise_markdown(lecture, number, item, run, heading="####", full=False)
              for number, item in enumerate(lecture.exercises, start=1)]
    return "\n\n".join(parts)


def show_expected(notebook: str, run: CommittedRun | None = None) -> None:
    """The cell after a notebook's "Try it": ``expected_markdown``, shown as markdown."""
    from IPython.display import Markdown, display

    display(Markdown(expected_markdown(notebook, run)))
