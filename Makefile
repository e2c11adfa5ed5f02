# ShiftClipper: `make demo` runs the main job on the sample clip; `make test` runs the whole suite.
# Both set everything up first (idempotent): a .venv with every service's dependencies.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
MODEL ?= $(SHARED)/models/yolov8n_int8.tflite
SAMPLE ?= $(SHARED)/media/nhl_closeup_CHI_practice_tiktok_11s.mp4
PYTEST_ARGS ?=

.PHONY: setup demo test test-quick lint format bench clean

setup: $(VENV)/.installed

# torch is pinned to the build this machine serves from disk; ultralytics needs torchvision beside it.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[dev]'
	# Debian tools the tests use: Chromium for the browser test (driven by Playwright, never
	# `playwright install`); docker-compose and shellcheck to validate the deployment files.
	missing=$$(for tool in chromium docker-compose shellcheck; do command -v $$tool >/dev/null || echo $$tool; done); \
	[ -z "$$missing" ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
		|| echo "warning: could not install $$missing; the tests that need them will be skipped"
	touch $@

demo: setup
	SHIFTCLIPPER_MODEL_PATH=$(MODEL) $(BIN)/shiftclipper clip $(SAMPLE) --number 19 --color red \
		--camera broadcast --out out/demo --data-dir .shiftclipper

test: setup lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

test-quick: setup
	$(BIN)/pytest -q -m "not slow" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# its own cache: one left by a partial run (`mypy services/tracker`) made this one report a missing
	# `shiftclipper_common.metrics` that a clean run does not
	$(BIN)/mypy --cache-dir .mypy_cache/lint libs services

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .shiftclipper out .pytest_cache .mypy_cache .ruff_cache
