# aecrypt: every command a user needs. `make help` lists them.
# Works on a fresh machine with only Python 3.11: the first target that needs the
# virtualenv creates it.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PROFILE ?= default
# Jobs side by side (aecrypt reproduce --cores): the numbers are the same with any count.
CORES ?= 1
# Extra arguments for aecrypt reproduce, e.g. ARGS="--dry-run" or ARGS="--only 02,04 -p run_name quick -p aes_repeats 100".
ARGS ?=

# A marker file per install flavour, so installs rerun only when pyproject.toml changes.
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
STAMP_DOCS := $(VENV)/.installed-docs

.DEFAULT_GOAL := help
.PHONY: help reproduce smoke figures test lab bench kernel clean book solutions chromium

help: ## List the targets with one line each
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	@touch $@ $(STAMP_RUN) $(STAMP_DOCS)

$(STAMP_DOCS): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	@touch $@ $(STAMP_RUN)

kernel: $(STAMP_RUN) ## Register the project's Jupyter kernel ("aecrypt") for this virtualenv
	$(BIN)/python -m ipykernel install --sys-prefix --name aecrypt --display-name "Python (aecrypt)" >/dev/null

reproduce: kernel ## Set up and bring the study up to date (PROFILE=default, CORES=1): runs what is new or changed into results/
	$(BIN)/aecrypt reproduce --profile $(PROFILE) --cores $(CORES) $(ARGS)

smoke: kernel ## Run the whole study at smoke size (tiny images; a few minutes on 2 cores)
	$(BIN)/aecrypt reproduce --profile smoke --cores $(CORES) $(ARGS)

figures: $(STAMP_RUN) ## Redraw a run's figures from its saved data in seconds (PROFILE=default, STYLE=paper|slides|notebook)
	$(BIN)/aecrypt figures --profile $(PROFILE) $(if $(STYLE),--style $(STYLE))

test: $(STAMP_DEV) kernel chromium ## Set up and run the test suite (with the study site's test in headless Chromium)
	$(BIN)/python -m pytest

chromium: ## Install Debian's Chromium and its driver for the site's browser test (as root; nothing if present)
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium and chromium-driver for the site's browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "note: no /usr/bin/chromium here and not root: the site's browser test will be skipped (apt-get install chromium chromium-driver)"; fi

book: $(STAMP_DOCS) ## Build the study site offline into build/book/html/ (then open build/book/html/index.html)
	$(BIN)/python -m aecrypt.study.book

solutions: kernel ## Train and run the exercises' model variants (wide, pool2) into results/PROFILE/ for their expected outcomes
	$(BIN)/python -m aecrypt.study.teaching.solutions --profile $(PROFILE)

lab: kernel ## Open JupyterLab: notebooks/ to run, results/default/executed/ to read the committed run
	$(BIN)/jupyter lab --ServerApp.root_dir=.

bench: kernel ## Run the performance benchmark (with the 20,000-image scale part and the 1,000-slice encrypt throughput part) into results/bench/
	$(BIN)/python benchmarks/bench.py

clean: ## Remove caches, models trained by hand or at smoke size, scratch runs (keeps everything committed)
	rm -rf data/processed models/scratch models/smoke results/smoke results/scratch .pytest_cache .snakemake build/book
