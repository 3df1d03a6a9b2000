# make demo: creates .venv where missing and runs `mlqa gate` on the credit example.
# make test: creates .venv (and installs Debian's chromium) where missing, runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.mlqa-installed

.PHONY: demo test env browser bench clean docs

env: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements/constraints.txt -e '.[dev]'
	@touch $@

browser:
	@bash scripts/ensure-chromium.sh

demo: $(STAMP)
	@$(BIN)/mlqa gate examples/credit/mlqa.yaml --stage production --out mlqa-out/credit; \
	  code=$$?; \
	  if [ $$code -gt 1 ]; then exit $$code; fi; \
	  echo "decision: mlqa-out/credit/decision.json (exit code $$code: 0 promote, 1 block)"; \
	  echo "reports:  mlqa-out/credit/{results.json,decision.json,summary.md,report.html,junit.xml}"

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -p no:randomly

docs: $(STAMP)
	$(BIN)/mlqa checks --format md > docs/checks.md

bench: $(STAMP)
	$(BIN)/python bench/import_overhead.py
	$(BIN)/python bench/gate_vs_deepchecks.py

clean:
	rm -rf $(VENV) mlqa-out bench/.envs
