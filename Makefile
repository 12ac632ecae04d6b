# PixelMend: `make run` starts the editor, `make test` runs the test suite.
# Both create the virtual environment on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The CPU build of torch: CI and laptops without a GPU must not pull multi-GB CUDA wheels.
TORCH_PIN ?= torch==2.13.0

.PHONY: run test lint bench package self-test check-package clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip wheel
	$(BIN)/python -m pip install "$(TORCH_PIN)"
	$(BIN)/python -m pip install -e ".[dev,cluster]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/pixelmend $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check engine desktop tests
	$(BIN)/lint-imports
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check engine desktop tests
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m pip install -e ".[bench]"
	$(BIN)/pixelmend bench classical --data ../shared/data/cbsd68

# The double-click app (packaging/README.md): dist/pixelmend/ and dist/PixelMend-*-linux-*.tar.gz.
package: $(STAMP)
	$(BIN)/python -m pip install --quiet "pyinstaller>=6.10" "pyinstaller-hooks-contrib>=2024.8"
	$(BIN)/python packaging/build.py

# Load every shipped model and run every op once on a small image, from the source tree.
self-test: $(STAMP)
	$(BIN)/python -m engine.cli.selftest

# The same self-test inside the built app, and the desktop entry's validity.
check-package:
	dist/pixelmend/pixelmend --self-test
	desktop-file-validate packaging/linux/io.pixelmend.PixelMend.desktop

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
