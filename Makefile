# Two entry points, both self-contained on a fresh machine (Python 3.11 + pip):
#   make demo   set up .venv, make a signed sample, verify it and print the verdict
#   make test   set up .venv and run the whole test suite (fast and slow tests)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DEMO    = .verifier-demo

.PHONY: demo test setup clean

$(BIN)/verifier: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

setup: $(BIN)/verifier

demo: setup
	@test -f $(DEMO)/samples/mp4/signed.mp4 || $(BIN)/python -m fixtures.make_fixtures $(DEMO)/samples > /dev/null
	$(BIN)/verifier verify --data-dir $(DEMO)/data --trust-anchors $(DEMO)/samples/pki/root.pem $(DEMO)/samples/mp4/signed.mp4

test: setup
	$(BIN)/python -m pytest -m "slow or not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(DEMO)
