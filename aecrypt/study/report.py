"""What a run leaves for a reader: REPORT.md, the claims decided per seed, and the spread across seeds.

Every number here is read back from result files a run wrote; nothing is typed by hand.
README.md's results block is ``aecrypt.study.readme``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from aecrypt import config
from aecrypt.config import RUNS_FOLDER
from aecrypt.paper import inconsistencies_markdown
from aecrypt.study.freshness import report_inputs
from aecrypt.study.provenance import RECORD_KEY, JobRecord, lane_records, seed_folders, seed_mismatch
from aecrypt.study.results import run_metadata, write_json, write_table, write_text
from aecrypt.study.runs import MAIN_RUN

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
    "table_rate_distortion": (("method", "setting"), ("bpp_mean", "psnr_db_mean", "ssim_mean", "ms_ssim_mean")),
    "table_bd_rate": (("method", "setting", "metric"), ("bd_rate_percent",)),
    "table_fair_hybrid": (("method", "setting"), ("psnr_db", "sealed_bytes_mean")),
}
SMOKE_BANNER = ("> **Smoke run: these numbers only check the plumbing** (tiny images, a handful of them, one "
                "epoch). Run `make reproduce` for the study's numbers.")
#: Profiles whose results are committed: every report redraws their slides (``slides/``) too.
SLIDE_PROFILES = ("default", "paper")


#: The learning-rate schedules (training.SCHEDULES) in words, for the report and README.
SCHEDULE_WORDS = {"constant": " at a constant learning rate", "cosine": " with the learning rate cosine-decayed over the epochs"}


def _schedule_words(training) -> str:
    """How the learning rate moved in a training record, as words ("" for a record from before schedules)."""
    schedule = training.get("learning_rate_schedule") if hasattr(training, "get") else None
    return SCHEDULE_WORDS.get(schedule, "") if isinstance(schedule, str) else ""


# -------------------------------------------------------------------- seeds


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


def seed_table_name(table: str) -> str:
    """The spread table of a seed-dependent table: ``table_reconstruction`` -> ``table_seeds_reconstruction``."""
    return f"table_seeds_{table.removeprefix('table_')}"


def write_seed_tables(out: Path, profile: str | None = None) -> list[str]:
    """Write ``table_seeds_<name>`` for every seed-dependent table; returns the names
    written. Seeds made by different code or parameters (``seed_mismatch``) are not
    averaged: then no spread table is written, and any earlier one is removed."""
    folders = seed_folders(out)
    mismatch = seed_mismatch(folders, profile)
    written = []
    for table, (keys, values) in SEED_TABLES.items():
        spread = None if mismatch else seed_spread(folders, table, keys, values)
        name = seed_table_name(table)
        if spread is None:
            for suffix in ("csv", "md", "tex"):
                (out / f"{name}.{suffix}").unlink(missing_ok=True)
            continue
        write_table(spread, name, out, caption=f"{table} across seeds {', '.join(map(str, folders))}: mean and standard deviation")
        written.append(name)
    return written


# -------------------------------------------------------------------- REPORT.md


def write_lane_report(plan, package: str) -> Path:
    """A lane's report (``write_report``); for a committed profile's main run also its
    slides, and for the project's own default run README's results block."""
    from aecrypt.study.readme import README_RUNS, update_readme  # README's block reads this module's tables

    report = write_report(plan.folder, plan.profile, plan.run_name, package)
    if plan.run_name == MAIN_RUN and plan.profile in SLIDE_PROFILES:
        write_slides(plan.folder)
    if plan.run_name == MAIN_RUN and plan.folder.parent == config.PROJ_ROOT / "results" and plan.profile in README_RUNS:
        update_readme()
    return report


def write_slides(out: Path) -> list[Path]:
    """Redraw the lane's figures and each seed's in the slides style, into their ``slides/``."""
    from aecrypt.study.figures.registry import FIGURES, has_data, redraw, redraw_all

    own = [path for name in FIGURES if has_data(name, out) for path in redraw(name, out, "slides").values()]
    return own + [path for folder in seed_folders(out).values() for path in redraw_all(folder, "slides")]


def write_report(out: Path, profile: str, run_name: str = MAIN_RUN, package: str | None = None) -> Path:
    """``REPORT.md`` of a lane (``results/<profile>[/<run_name>]``): every table, figure
    links, each job's commit, parameters and wall time, versions; and ``runs/study.json``."""
    records = lane_records(out)
    folders = seed_folders(out)
    mismatch = seed_mismatch(folders, profile)
    write_seed_tables(out, profile)
    verdicts = None if mismatch else write_verdicts(out)
    variants = None if mismatch else write_variant_table(out)
    draw_across_seeds(out, [] if mismatch else write_across_seeds(out))
    meta = run_metadata({"profile": profile, "run_name": run_name, "seeds": list(folders)})
    lines = [f"# aecrypt study report: `{profile}` profile" + (f", run `{run_name}`" if run_name != MAIN_RUN else ""), ""]
    if profile == "smoke":
        lines += [SMOKE_BANNER, ""]
    dirty = sorted({r.commit for r in records if r.commit.endswith("-dirty") or r.commit == "unknown"})
    if dirty:
        lines += [f"**Warning: some results were made from a working tree with uncommitted changes ({', '.join(f'`{c}`' for c in dirty)}); "
                  "their numbers may not come from any committed code.**", ""]
    lines += [
        "Generated by `aecrypt reproduce`; every number below comes from this run. The paper's",
        "numbers (Alslman et al., Electronics 2022) appear in rows or columns labelled as the paper's.",
        "",
    ]
    first = next(iter(folders.values()), out)
    lines += _training_lines(first)
    if len(folders) > 1:
        lines += [mismatch or f"Seeds {', '.join(map(str, folders))}: the `table_seeds_*` tables give the mean and "
                  "standard deviation across them.", ""]
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
    lines += _run_lines(records, meta, folders)
    times = {r.label: r.seconds for r in records if r.seconds is not None}
    stamp = {"package": package, "inputs": report_inputs(out)} if package else None
    write_json(out / RUNS_FOLDER / "study.json", {**meta, "seconds": times, "seeds": list(folders),
                                             **({RECORD_KEY: stamp} if stamp else {})})
    return write_text(out / "REPORT.md", "\n".join(lines) + "\n")


def _training_lines(first: Path) -> list[str]:
    """One line on how the first seed's training went, from its table."""
    training = first / "table_training.csv"
    if not training.is_file():
        return []
    row = pd.read_csv(training).iloc[0]
    return [f"Training: {int(row['epochs_run'])} epochs ran ({row['stopped_because']}){_schedule_words(row)}; "
            f"best epoch {int(row['best_epoch'])}"
            + (f"; the best validation loss fell {100 * row['late_improvement']:.0f} % in the last quarter of the epochs"
               if "late_improvement" in row and pd.notna(row["late_improvement"]) else "") + ".", ""]


def _run_lines(records: list[JobRecord], meta: dict[str, Any], folders: dict[int, Path]) -> list[str]:
    """The Run section: each job's commit, parameters besides the profile's and wall time; the machine and versions."""
    lines = ["## Run", "", "Each job's commit, the parameters it was given besides the profile's, and its wall time "
             "(its resolved parameters are in `runs/`).", "",
             "| notebook | commit | parameters besides the profile's | wall time (s) |", "| --- | --- | --- | --- |"]
    for record in records:
        choices = record.choices
        given = "not recorded" if choices is None else ", ".join(f"`{k}={v!r}`" for k, v in choices.items()) or "none"
        seconds = "" if record.seconds is None else f"{record.seconds:.1f}"
        lines.append(f"| {record.label} | `{record.commit}` | {given} | {seconds} |")
    total = sum(r.seconds for r in records if r.seconds is not None)
    lines += [f"| **total** | | | **{total:.1f}** |", ""]
    lines += [f"- CPU: {meta['cpu']} ({meta['cpu_count']} logical cores)", f"- Python {meta['python']} on {meta['platform']}",
              f"- report written at {meta['time_utc']}",
              f"- seeds: {', '.join(map(str, folders)) if folders else 'none with a trained model'}", ""]
    lines += ["| package | version |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in meta["packages"].items()]
    return lines + ["", "Each notebook's resolved parameters are in [`runs/`](runs/); each seed's tables in `seed-<n>/`."]


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
