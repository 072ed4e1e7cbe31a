# The two commands: `make docs` builds the example project's docs, `make test` runs the tests.
# Each creates or updates .venv by itself (torch is pinned to the CPU wheel by constraints.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Material prints a multi-line banner about MkDocs 2.0 on every build
export NO_MKDOCS_2_WARNING := 1

.PHONY: docs test venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html example_project/docs example_project/docs/_build/html
	$(BIN)/mkdocs build --strict -q -f example_project/mkdocs.yml
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf example_project/docs/_build example_project/site example_project/.model-diagram-cache \
	       example_project/docs/.model-diagram-cache
