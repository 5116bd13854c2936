# The README's two commands: `make run` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOTLINE := $(BIN)/hotline

MODEL := classifier/build/model.pkl
GAZETTEER := integrations/geocoding/build/gazetteer.pkl
CORPUS := $(wildcard classifier/data/train/*.jsonl classifier/data/heldout/*.jsonl)
CLASSIFIER_CODE := $(wildcard classifier/*.py)
LEXICON := classifier/data/lexicon/lexicon.tsv

.PHONY: run test install model gazetteer lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The classifier is built from the corpus and the field lexicon by a deterministic step (same corpus and
# lexicon, same model).
$(MODEL): $(VENV)/.installed $(CORPUS) $(LEXICON) $(CLASSIFIER_CODE)
	$(HOTLINE) train --output $@

model: $(MODEL)

# The offline gazetteer: ward names and old-to-new mappings shipped in the package, ward boundaries
# read from the shared admin-units data (they are not redistributed here); deterministic.
$(GAZETTEER): $(VENV)/.installed $(wildcard integrations/geocoding/*.py integrations/geocoding/data/*)
	$(BIN)/python -m integrations.geocoding.build --out $@

gazetteer: $(GAZETTEER)

run: install model gazetteer
	$(HOTLINE) migrate
	$(HOTLINE) demo
	$(HOTLINE) serve

test: install model gazetteer
	$(BIN)/python -m pytest

# ruff, and the import contracts of pyproject.toml ([tool.importlinter]): the layers stay layers.
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo

bench: install model
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/classifier.py
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/geocode.py

clean:
	rm -rf $(VENV) var classifier/build integrations/geocoding/build
