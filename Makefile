# The README's two commands: `make run` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOTLINE := $(BIN)/hotline

MODEL := classifier/build/model.pkl
CORPUS := $(wildcard classifier/data/train/*.jsonl classifier/data/heldout/*.jsonl)
CLASSIFIER_CODE := $(wildcard classifier/*.py)

.PHONY: run test install model lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The classifier is built from the corpus by a deterministic step (same corpus, same model).
$(MODEL): $(VENV)/.installed $(CORPUS) $(CLASSIFIER_CODE)
	$(HOTLINE) train --output $@

model: $(MODEL)

run: install model
	$(HOTLINE) migrate
	$(HOTLINE) demo
	$(HOTLINE) serve

test: install model
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

bench: install model
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/classifier.py

clean:
	rm -rf $(VENV) var classifier/build
