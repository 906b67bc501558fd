# stylelab: two commands for a fresh machine.
#   make book   execute every chapter (full mode) and build the HTML book in _build/html/
#   make test   everything CI runs: lint, unit tests, every chapter in quick mode, the book
#               build and its scan for error outputs, and the sliders in headless Chromium
# Both create .venv (python3 -m venv) and install the package into it the first time,
# and again only when pyproject.toml changes.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The bootstrap's stamp is named by pyproject.toml's hash: an edit there reinstalls.
STAMP := $(VENV)/.bootstrap-$(shell sha256sum pyproject.toml | cut -c1-16)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv book test chromium

help:
	@sed -n '2,4s/^# //p' Makefile

# The kernel that Jupyter lists as "Python (stylelab)" runs this venv's python.
$(STAMP):
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[book,dev,text]'
	$(BIN)/python -m ipykernel install --sys-prefix --name stylelab --display-name "Python (stylelab)"
	rm -f $(VENV)/.bootstrap-*
	touch $@

venv: $(STAMP)

book: venv
	$(BIN)/python -m stylelab.book build

# Debian's Chromium for the browser check (root here and in CI; sudo elsewhere).
chromium:
	command -v chromium >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -m "not browser"
	$(BIN)/python -m stylelab.book build --quick
	$(MAKE) --no-print-directory chromium
	STYLELAB_REQUIRE_BOOK=1 $(BIN)/pytest -m browser
