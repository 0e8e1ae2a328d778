# The two commands the README promises: `make book` and `make test`. Each sets up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test setup clean

book: $(STAMP)
	$(BIN)/python tools/build_book.py

test: $(STAMP)
	$(BIN)/python -m pytest

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

clean:
	rm -rf _build
