# kinefake: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= ../shared/data/faces
DEMO_INPUT ?= $(DATA)
DEMO_OUT ?= demo_out

.PHONY: install test test-all lint bench demo bases docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[gcp,dev]'
	$(BIN)/pip check
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/pytest -q -m "not slow" -n auto --dist loadfile tests

test-all: $(STAMP)
	$(BIN)/pytest -q -n auto --dist loadfile tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench --data $(DATA) --results bench/RESULTS.md

demo: $(STAMP)
	$(BIN)/kinefake generate --input $(DEMO_INPUT) --output $(DEMO_OUT) --max-clips-per-video 2 --overwrite
	$(BIN)/kinefake audit $(DEMO_OUT)

# Rewrite the generated part of docs/output.md from schemas/ (tests/test_docs.py fails when it is stale).
docs: $(STAMP)
	$(BIN)/python -c "import pathlib; from kinefake.pipelines.card import contract_document as c; \
	p = pathlib.Path('docs/output.md'); p.write_text(c(p.read_text()))"

# Rebuild the default motion-bases model shipped in the package from the shared clips.
bases: $(STAMP)
	$(BIN)/kinefake fit-bases --input $(DATA) --out synth/models/bases_default.safetensors --work-dir build/bases-landmarks
	$(BIN)/kinefake bases-preview --out build/bases_default.png

clean:
	rm -rf $(VENV) $(DEMO_OUT) build bench_out .pytest_cache .ruff_cache *.egg-info
