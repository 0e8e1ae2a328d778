# The two commands the README promises: `make book` and `make test`. Each sets up .venv first,
# and node_modules/ (the scripts, styles and fonts the site serves itself) where npm exists.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: book test setup clean

# A virtual environment activated in the caller's shell is not this one: IPython warns about
# the mismatch (the tests turn warnings into errors), so the recipes run without it.
unexport VIRTUAL_ENV

book: $(STAMP) $(NODE_STAMP)
	$(BIN)/python tools/build_book.py

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest

setup: $(STAMP) $(NODE_STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

# Without npm the book still builds; its pages then load these files from a CDN (the build says so).
# --ignore-scripts: no package here needs an install script.
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --ignore-scripts --no-audit --no-fund && touch $@; \
	else \
		echo "npm not found: skipping node_modules/; the site will load its scripts from a CDN"; \
	fi

clean:
	rm -rf _build
