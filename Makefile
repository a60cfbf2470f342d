# FlashFusion developer commands. Everything runs from the project's own
# virtualenv (.venv, Python 3.11), installed from the hash-pinned lock.
#
#   make run    set up, then run the demo (web, workers, WooCommerce emulator)
#   make test   set up, then run pytest (extra options: make test PYTEST_ARGS="-k login -x")
#   make setup  create .venv and install requirements.lock when it changed
#   make lock   regenerate requirements.lock from requirements.in

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV := .venv
PY := $(VENV)/bin/python
# Holds the sha256 of the requirements.lock last installed into .venv.
STAMP := $(VENV)/.requirements.lock.sha256
PYTEST_ARGS ?=

.PHONY: setup venv run test lock

# Create .venv with Python 3.11 when it is missing or broken.
venv:
	@if ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then \
	  if command -v python3.11 >/dev/null 2>&1; then python=python3.11; \
	  elif python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then python=python3; \
	  else echo "make: Python 3.11 is needed (python3.11, or python3 of version 3.11)." >&2; exit 1; fi; \
	  echo "Creating $(VENV) with $$($$python --version)"; \
	  rm -rf $(VENV); \
	  $$python -m venv $(VENV); \
	fi

# Install the lock into .venv, only when its content differs from the last install.
setup: venv
	@want=$$(sha256sum requirements.lock | cut -d' ' -f1); \
	if [ "$$(cat $(STAMP) 2>/dev/null)" != "$$want" ]; then \
	  echo "Installing requirements.lock into $(VENV)"; \
	  $(VENV)/bin/pip install --disable-pip-version-check --require-hashes -r requirements.lock; \
	  echo "$$want" > $(STAMP); \
	fi

run: setup
	bash scripts/run-demo

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lock: venv
	@if [ ! -x $(VENV)/bin/uv ]; then $(VENV)/bin/pip install --disable-pip-version-check uv; fi
	$(VENV)/bin/uv pip compile requirements.in -o requirements.lock --python-version 3.11 --generate-hashes
