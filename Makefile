# ovn-inject: `make run` starts the stack on a sandbox OVN; `make test` runs the suite.
VENV    := .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBS    := ovn-central ovn-host openvswitch-switch openvswitch-common
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: deps debs venv test unit run lint bench clean

deps: debs venv

debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

test: deps
	$(BIN)/pytest $(PYTEST_ARGS) tests

unit: venv
	$(BIN)/pytest tests/unit

run: deps
	$(BIN)/ovn-inject demo $(if $(RUN_ONCE),--once)

lint: venv
	$(BIN)/ruff check ovn_inject tests bench examples
	$(BIN)/ruff format --check ovn_inject tests bench examples
	$(BIN)/mypy
	$(BIN)/pytest -q tests/unit/test_layering.py

bench: deps
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	-[ -x $(BIN)/ovn-inject ] && $(BIN)/ovn-inject sandbox down >/dev/null 2>&1
	rm -rf $(VENV) .sandbox .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
