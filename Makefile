# make demo: creates .venv where missing and runs `mlqa gate` on the credit example.
# make test: creates .venv (and installs Debian's chromium) where missing, runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.mlqa-installed

DC_VENV := .venv-deepchecks

.PHONY: demo demo-serving test env browser bench clean docs deepchecks-env

env: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements/constraints.txt -e '.[dev]'
	@touch $@

browser:
	@bash scripts/ensure-chromium.sh

# deepchecks 0.19.1 cannot import on numpy 2 / scikit-learn >= 1.6: its own pinned environment
deepchecks-env: $(DC_VENV)/.installed

$(DC_VENV)/.installed: requirements/deepchecks.txt
	@test -x $(DC_VENV)/bin/python || $(PYTHON) -m venv $(DC_VENV)
	$(DC_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements/deepchecks.txt
	@touch $@

demo: $(STAMP)
	@$(BIN)/mlqa gate examples/credit/mlqa.yaml --stage production --out mlqa-out/credit; \
	  code=$$?; \
	  if [ $$code -gt 1 ]; then exit $$code; fi; \
	  echo "decision: mlqa-out/credit/decision.json (exit code $$code: 0 promote, 1 block)"; \
	  echo "reports:  mlqa-out/credit/{results.json,decision.json,summary.md,report.html,junit.xml}"

# the credit model served by `mlqa serve` on 127.0.0.1:8765, gated on latency, capacity,
# cost and endpoint security (examples/credit/serving.yaml)
demo-serving: $(STAMP)
	@$(BIN)/python examples/credit/serving_demo.py --out mlqa-out/credit-serving; \
	  code=$$?; \
	  if [ $$code -gt 1 ]; then exit $$code; fi; \
	  echo "decision: mlqa-out/credit-serving/decision.json (exit code $$code: 0 promote, 1 block)"

# two pytest lanes side by side (scripts/test_lanes.py); ARGS="-k ..." runs one plain session
test: $(STAMP) browser deepchecks-env
	$(BIN)/python scripts/test_lanes.py $(ARGS)

docs: $(STAMP)
	$(BIN)/mlqa checks --format md > docs/checks.md
	$(BIN)/python -m mlqa.schema > reports/mlqa.schema.json

bench: $(STAMP) deepchecks-env
	$(BIN)/python bench/import_overhead.py
	$(BIN)/python bench/gate_vs_deepchecks.py
	$(BIN)/python bench/load_vs_locust.py
	$(BIN)/python bench/stack_resilience.py
	$(BIN)/python bench/model_isolation.py
	$(BIN)/python bench/chaos_experiments.py
	$(BIN)/python bench/chaos_overhead.py

clean:
	rm -rf $(VENV) $(DC_VENV) mlqa-out
