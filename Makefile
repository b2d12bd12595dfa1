# One command per job, the same locally and in CI. Each target installs what it needs.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

serve: install  ## start the API on the embedded defaults (builds the index if there is none)
	HF_HUB_OFFLINE=1 $(BIN)/lucy serve

lint: install
	$(BIN)/ruff check lucy tests bench
	$(BIN)/ruff format --check lucy tests bench

typecheck: install
	$(BIN)/mypy lucy

unit: install  ## installs the npm MCP reference servers the tests run (once, into .mcp-servers/)
	.ci/install-mcp-servers
	HF_HUB_OFFLINE=1 $(BIN)/pytest

test: lint typecheck unit  ## everything CI runs

bench: install  ## retrieval latency, build time, peak memory at 1k and 10k tools (torch beside onnx); first start; planner overhead; provider faults; cache replay
	HF_HUB_OFFLINE=1 $(BIN)/python bench/bench_retrieval.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/first_start.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/bench_planner.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/provider_faults.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/cache_replay.py

clean:
	rm -rf $(VENV) .lucy .mypy_cache .ruff_cache .pytest_cache .mcp-servers
