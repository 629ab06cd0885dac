"""What a run leaves for a reader: REPORT.md, the spread across seeds, and README's results block.

Every number here is read back from result files a run wrote; nothing is typed by hand.
``readme_block`` builds README.md's results table from the committed ``results/default``
files, and a test fails when README.md's block differs from what it builds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from aecrypt import config
from aecrypt.paper import inconsistencies_markdown
from aecrypt.study.results import run_metadata, write_json, write_table, write_text

SEED_FOLDER = re.compile(r"^seed-(\d+)$")
#: Tables whose numbers depend on the seed, with the columns that identify a row and the
#: columns averaged across seeds.
SEED_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "table_reconstruction": (("images",), ("ssim", "psnr_db", "mse")),
    "table6_noise_robustness": (("data", "noise"), ("ssim_noisy", "ssim_pipeline", "mse_noisy", "mse_pipeline")),
    "table_noise_sweep": (("noise", "method", "strength"), ("ssim_mean",)),
    "table_substitute_decoder": (("decoder",), ("ssim", "psnr_db")),
    "table_attack_curve": (("attacker_images",), ("trained_on", "ssim")),
    "table_training": ((), ("epochs_run", "best_epoch", "final_val_loss", "late_improvement")),
    "table6_matched": (("noise",), ("ssim_noisy", "ssim_pipeline", "mse_noisy", "mse_pipeline", "psnr_noisy", "psnr_pipeline",
                                    "foreground_ssim_noisy", "foreground_ssim_pipeline")),
    "table_feature_similarity": (("channel",), ("identified", "abs_r_own_image", "abs_r_other_images")),
}
SMOKE_BANNER = ("> **Smoke run: these numbers only check the plumbing** (tiny images, a handful of them, one "
                "epoch). Run `make reproduce` for the study's numbers.")


#: The learning-rate schedules (training.SCHEDULES) in words, for the report and README.
SCHEDULE_WORDS = {"constant": " at a constant learning rate", "cosine": " with the learning rate cosine-decayed over the epochs"}


def _schedule_words(training) -> str:
    """How the learning rate moved in a training record, as words ("" for a record from before schedules)."""
    schedule = training.get("learning_rate_schedule") if hasattr(training, "get") else None
    return SCHEDULE_WORDS.get(schedule, "") if isinstance(schedule, str) else ""


# -------------------------------------------------------------------- seeds




def seed_folders(out: Path) -> dict[int, Path]:
    """The result folders of one run by training seed (``seed-<n>/``, each with its trained model's record)."""
    folders = {}
    for child in sorted(out.glob("seed-*")):
        match = SEED_FOLDER.match(child.name)
        if match and (child / "runs" / "02_train_autoencoder.json").is_file():
            folders[int(match.group(1))] = child
    return dict(sorted(folders.items()))


def first_seed_folder(out: Path) -> Path:
    """The first training seed's folder: where the notebooks run once (03, 04) wrote."""
    folders = seed_folders(out)
    if not folders:
        from aecrypt.errors import AecryptError

        raise AecryptError(f"{out}: no seed-<n>/ folder with a trained model's record; run the study first (aecrypt reproduce)")
    return next(iter(folders.values()))


def seed_spread(folders: dict[int, Path], table: str, keys: tuple[str, ...], values: tuple[str, ...]) -> pd.DataFrame | None:
    """Mean, standard deviation and count across seeds of ``values`` per row ``keys``; None
    when fewer than two seeds wrote the table."""
    frames = [pd.read_csv(folder / f"{table}.csv").assign(seed=seed) for seed, folder in folders.items() if (folder / f"{table}.csv").is_file()]
    if len(frames) < 2:
        return None
    data = pd.concat(frames, ignore_index=True)
    if keys:  # the paper's own rows repeat in every seed's table; they are not ours to average
        data = data[~data[keys[0]].astype(str).str.startswith("the paper")]
    present = [v for v in values if v in data.columns]
    grouped = data.groupby(list(keys), sort=False)[present] if keys else data.assign(_all=0).groupby("_all")[present]
    spread = grouped.agg(["mean", "std"])
    spread.columns = [f"{value}_{stat}" for value, stat in spread.columns]
    spread = spread.reset_index().drop(columns=["_all"], errors="ignore")
    spread.insert(len(keys), "seeds", len(frames))
    return spread


def write_seed_tables(out: Path) -> list[str]:
    """Write ``table_seeds_<name>`` for every seed-dependent table; returns the names written."""
    folders = seed_folders(out)
    written = []
    for table, (keys, values) in SEED_TABLES.items():
        spread = seed_spread(folders, table, keys, values)
        if spread is not None:
            name = f"table_seeds_{table.removeprefix('table_')}"
            write_table(spread, name, out, caption=f"{table} across seeds {', '.join(map(str, folders))}: mean and standard deviation")
            written.append(name)
    return written


# -------------------------------------------------------------------- REPORT.md


def write_report(profile: str, seconds: dict[str, float], overrides: dict[str, Any], seeds: list[int] | None = None) -> Path:
    """``results/<profile>/REPORT.md``: every table, figure links, parameters, versions, times."""
    out = config.results_dir(profile)
    meta = run_metadata({"profile": profile, **overrides, "seeds": seeds})
    previous = out / "runs" / "study.json"
    times = dict(seconds)
    if previous.exists():  # a partial run (--only) keeps the other notebooks' times
        earlier = json.loads(previous.read_text()).get("seconds", {})
        times = dict(sorted({**{k: v for k, v in earlier.items() if k not in times}, **times}.items()))
    write_seed_tables(out)
    verdicts = write_verdicts(out)
    variants = write_variant_table(out)
    draw_across_seeds(out, write_across_seeds(out))
    lines = [f"# aecrypt study report: `{profile}` profile", ""]
    if profile == "smoke":
        lines += [SMOKE_BANNER, ""]
    if meta["git_commit"].endswith("-dirty") or meta["git_commit"] == "unknown":
        lines += [f"**Warning: this run was made from a working tree with uncommitted changes (`{meta['git_commit']}`); "
                  "its numbers may not come from any committed code.**", ""]
    lines += [
        "Generated by `aecrypt reproduce`; every number below comes from this run. The paper's",
        "numbers (Alslman et al., Electronics 2022) appear in rows or columns labelled as the paper's.",
        "",
    ]
    folders = seed_folders(out)
    first = next(iter(folders.values()), out)
    training = first / "table_training.csv"
    if training.is_file():
        row = pd.read_csv(training).iloc[0]
        lines += [f"Training: {int(row['epochs_run'])} epochs ran ({row['stopped_because']}){_schedule_words(row)}; "
                  f"best epoch {int(row['best_epoch'])}"
                  + (f"; the best validation loss fell {100 * row['late_improvement']:.0f} % in the last quarter of the epochs"
                     if "late_improvement" in row and pd.notna(row["late_improvement"]) else "") + ".", ""]
    if verdicts is not None:
        lines += ["## The paper's claims, decided per training seed", "",
                  "Each claim is decided in every training seed's folder by the rule given, then aggregated: each seed's value, "
                  "mean ± sd, the 95 % t-interval and how many seeds it holds in. Where seeds disagree, the verdict says so.", "",
                  (out / "table_verdicts.md").read_text().strip(), ""]
    if variants is not None:
        lines += ["## The deployed variant beside the Dense(3) model", "",
                  "Section 4: \"we intentionally add dense layer (3) to the autoencoder so that we can present it to the reader "
                  "as an image, but in real-life applications, this last layer will not be applied.\" The study's model keeps "
                  "the Dense(3) layer, as the paper's experiment did; the deployed variant drops it (its encoder sends the third "
                  "Conv2D's 32 channels). The same claims, put to both:", "", (out / "table_deployed_variant.md").read_text().strip(), ""]
    lines += ["## Tables", ""] + _tables_markdown(out, out)
    if first != out:
        lines += [f"## Tables of the first training seed (`{first.name}/`)", "",
                  "The other seeds' tables are in " + ", ".join(f"[`{f.name}/`]({f.name}/)" for f in folders.values() if f != first) + "."
                  if len(folders) > 1 else "", ""] + _tables_markdown(first, out)
    lines += ["## Where the paper contradicts itself", "", inconsistencies_markdown(), ""]
    lines += ["## Figures", ""] + _figures_markdown(out, out) + (_figures_markdown(first, out) if first != out else [])
    lines += ["## Run", "", "| notebook | wall time (s) |", "| --- | --- |"]
    lines += [f"| {name} | {t:.1f} |" for name, t in times.items()]
    lines += [f"| **total** | **{sum(times.values()):.1f}** |", ""]
    lines += [f"- CPU: {meta['cpu']} ({meta['cpu_count']} logical cores)", f"- Python {meta['python']} on {meta['platform']}",
              f"- git commit: `{meta['git_commit']}`", f"- run at {meta['time_utc']}", f"- overrides: `{overrides or 'none'}`",
              f"- seeds: {', '.join(map(str, seeds)) if seeds else 'one (the notebooks’ seed)'}", ""]
    lines += ["| package | version |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in meta["packages"].items()]
    lines += ["", "Each notebook's resolved parameters are in [`runs/`](runs/); each extra seed's tables in `seed-<n>/`."]
    write_json(out / "runs" / "study.json", {**meta, "seconds": times})
    return write_text(out / "REPORT.md", "\n".join(lines) + "\n")


def write_across_seeds(out: Path) -> list[str]:
    """Each training seed's rows of the tables the spread figures draw, stacked with a ``seed``
    column (``table_names.ACROSS_SEEDS``, CSV only); none with fewer than two seeds."""
    from aecrypt.study.table_names import ACROSS_SEEDS

    folders = seed_folders(out)
    written = []
    for table, name in ACROSS_SEEDS.items():
        frames = [pd.read_csv(f / f"{table}.csv").assign(seed=seed) for seed, f in folders.items() if (f / f"{table}.csv").is_file()]
        if len(frames) >= 2:
            write_table(pd.concat(frames, ignore_index=True), name, out, formats=("csv",))
            written.append(name)
    return written


#: The figures of the spread across seeds, each with the values its draw function needs beside its tables.
SEED_FIGURES = ("fig_seeds_training_loss", "fig_seeds_noise_methods", "fig_seeds_noise_sweep", "fig_seeds_attack_curve")


def draw_across_seeds(out: Path, written: list[str]) -> list[str]:
    """Draw every figure of the spread across seeds whose stacked tables were written."""
    from aecrypt.method.noise import NOISE_LABELS, STRENGTH_AXIS_LABELS
    from aecrypt.study.figures import registry

    values = {"fig_seeds_noise_methods": {"labels": NOISE_LABELS},
              "fig_seeds_noise_sweep": {"labels": NOISE_LABELS, "strength_labels": STRENGTH_AXIS_LABELS}}
    drawn = [name for name in SEED_FIGURES if set(registry.FIGURES[name].tables) <= set(written)]
    for name in drawn:
        registry.publish(name, out, **values.get(name, {}))
    return drawn


def write_variant_table(out: Path) -> Path | None:
    """``table_deployed_variant``: the claims put to the Dense(3) model and to the deployed variant
    (the named run ``verdicts.DEPLOYED_RUN``, when it has trained seeds); None without it."""
    from aecrypt.study.verdicts import DEPLOYED_RUN, variant_table

    main, deployed = seed_folders(out), seed_folders(out / DEPLOYED_RUN)
    if not main or not deployed:
        return None
    table = variant_table({"Dense(3), the paper's (for display)": main, "deployed (no Dense layer)": deployed})
    return write_table(table, "table_deployed_variant", out, caption="The paper's claims put to the Dense(3) model and the deployed variant")["csv"]


def write_verdicts(out: Path) -> Path | None:
    """``table_verdicts``: every claim decided in every seed's folder and aggregated (``aecrypt.study.verdicts``); None without seeds."""
    from aecrypt.study.verdicts import verdict_table

    folders = seed_folders(out)
    table = verdict_table(folders) if folders else None
    if table is None or table.empty:
        return None
    return write_table(table, "table_verdicts", out, caption=f"The paper's claims per training seed ({', '.join(map(str, folders))}) and aggregated")["csv"]


def _tables_markdown(folder: Path, out: Path) -> list[str]:
    """Each Markdown table of ``folder`` with a link to its CSV, relative to ``out``."""
    lines = []
    for table in sorted(folder.glob("*.md")):
        if table.name in ("REPORT.md", "table_verdicts.md", "table_deployed_variant.md"):
            continue
        link = table.with_suffix(".csv").relative_to(out)
        lines += [f"### `{table.stem}`", "", table.read_text().strip(), "", f"Data: [{link}]({link})", ""]
    return lines


def _figures_markdown(folder: Path, out: Path) -> list[str]:
    """Each figure of ``folder`` (PNG shown, PDF linked), relative to ``out``."""
    lines = []
    for figure in sorted(folder.glob("*.png")):
        png, pdf = figure.relative_to(out), figure.with_suffix(".pdf").relative_to(out)
        lines += [f"### `{png.with_suffix('')}`", "", f"![{figure.stem}]({png})", "", f"PDF: [{pdf}]({pdf})", ""]
    return lines
