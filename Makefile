# Every check CI runs is behind `make test`. Each target prints what to do when it fails.
SHELL := /bin/bash
PY ?= python
NBS := $(shell find nbs -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' -not -path '*/_proc/*' | sort)

.PHONY: test quick lint check-clean check-export check-colab i18n nbtest pytest docs bench lab help

help:
	@echo "make test          all checks CI runs (lint, clean, export, set-up cells, Korean edition, nbdev-test, docs, pytest)"
	@echo "make quick         the fast inner loop (< 2 min): lint, clean/export checks, pytest without slow and browser tests,"
	@echo "                   and nbdev-test of one notebook: make quick NB=nbs/03_sgd.ipynb"
	@echo "make lint          ruff: pyflakes and import order (notebooks, tools, tests, bench)"
	@echo "make check-colab   every lesson and solution starts with the Colab set-up cell (tools/colab_setup.py --check)"
	@echo "make i18n          the Korean edition is complete and in step with the English notebooks (tools/i18n.py check)"
	@echo "make check-clean   notebooks are clean (nbdev-clean changes nothing)"
	@echo "make check-export  package is in sync with the notebooks (nbdev-export changes nothing)"
	@echo "make nbtest        run every notebook as a test (nbdev-test)"
	@echo "make pytest        run the pytest suite"
	@echo "make docs          build the docs website offline into _docs/"
	@echo "make bench         run the benchmarks (prints ratios)"
	@echo "make lab           JupyterLab on the notebooks (works as root, as in classroom containers)"

test: lint check-clean check-export check-colab i18n nbtest docs pytest

NB ?= nbs/00_tensors.ipynb
quick: lint check-clean check-export
	$(PY) -m pytest -q -m "not slow and not browser" tests
	nbdev-test $(NB)

lint:
	@ruff check . cifar_tutorial/_nbdev_procs.py || { echo "FAIL: ruff found problems. 'ruff check --fix .' fixes most; fix notebooks, not cifar_tutorial/*.py, then nbdev-export."; exit 1; }

check-colab:
	@$(PY) tools/colab_setup.py --check

i18n:
	@$(PY) tools/i18n.py check --require-all

check-clean:
	@before=$$(md5sum $(NBS)); nbdev-clean; after=$$(md5sum $(NBS)); \
	if [ "$$before" != "$$after" ]; then echo "FAIL: nbdev-clean changed notebooks. Run 'nbdev-clean', review and commit."; \
	  diff <(echo "$$before") <(echo "$$after"); exit 1; fi; echo "ok: notebooks are clean"

check-export:
	@sums() { find cifar_tutorial -name '*.py' | sort | xargs md5sum; md5sum pyproject.toml; }; \
	before=$$(sums); nbdev-export; after=$$(sums); \
	if [ "$$before" != "$$after" ]; then echo "FAIL: nbdev-export changed the package. Run 'nbdev-export', review and commit."; \
	  diff <(echo "$$before") <(echo "$$after"); exit 1; fi; echo "ok: package is in sync with the notebooks"

nbtest:
	nbdev-test --n-workers 2 --timing

pytest:
	$(PY) -m pytest -q tests

# Offline build of the website (nbdev-proc-nbs + smalldocs --strict, maths as MathML) into _docs/, by the
# contributor tool tools/docs_build.py; pytest's browser test then checks it. With CI set, a missing smalldocs fails.
docs:
	@if ! $(PY) -c "import smalldocs" 2>/dev/null; then \
	  if [ -n "$$CI" ]; then echo "FAIL: the offline docs build needs smalldocs (Python 3.11+, pip install -e '.[dev]'); CI never skips it"; exit 1; fi; \
	  echo "skipped: the offline docs build needs smalldocs (Python 3.11+)"; exit 0; fi; \
	$(PY) tools/docs_build.py build --final || { echo "FAIL: the docs site did not build. Fix what is listed above (a broken link names its page), then 'make docs'."; exit 1; }

# JupyterLab on nbs/, as root too (classroom containers), without the build files in the file browser.
lab:
	jupyter lab nbs $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) \
	  --ContentsManager.hide_globs='["__pycache__", "*.pyc", ".ipynb_checkpoints", "nbdev.yml", "sidebar.yml", "_proc", ".notest"]'

# Real CIFAR-10 by default (./data); pass e.g. BENCH_ARGS="--dataset cifar10 --root /path --no-verify".
BENCH_ARGS ?=
bench:
	$(PY) bench/loader_bench.py $(BENCH_ARGS)
	$(PY) bench/train_bench.py $(BENCH_ARGS)
	$(PY) bench/recipe_bench.py $(BENCH_ARGS)
