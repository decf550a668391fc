# ovn-inject: `make run` starts the stack on a sandbox OVN; `make test` runs the suite.
VENV    := .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBS    := ovn-central ovn-host openvswitch-switch openvswitch-common curl
PYTEST_ARGS ?= -n 2 --dist loadfile
TESTS   ?= tests
# The Debian releases `make test-releases` runs the suite on (their OVN: trixie 25.03, sid 26.03).
RELEASES ?= trixie sid
# sudo resets the environment: where the roots are kept must be passed explicitly.
ROOTS_ENV := $(if $(OVN_INJECT_ROOTS),OVN_INJECT_ROOTS='$(OVN_INJECT_ROOTS)')

.PHONY: deps debs venv test test-release test-releases release-roots unit run lint bench clean man

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
	$(BIN)/pytest $(PYTEST_ARGS) $(TESTS)

# The same suite on another Debian release's OVN, in a debootstrap root cached outside the checkout
# (.ci/release-root says where and how). RELEASE=trixie or RELEASE=sid.
test-release:
	@[ -n "$(RELEASE)" ] || { echo "usage: make test-release RELEASE=trixie|sid"; exit 2; }
	$(SUDO) env PYTEST_ARGS='$(PYTEST_ARGS)' TESTS='$(TESTS)' $(ROOTS_ENV) .ci/release-root test $(RELEASE)

# Every release in turn; the roots are built first, side by side (debootstrap mostly waits on I/O).
test-releases: release-roots
	@failed=""; for r in $(RELEASES); do \
	  $(MAKE) --no-print-directory test-release RELEASE=$$r || failed="$$failed $$r"; \
	done; \
	if [ -n "$$failed" ]; then echo "the suite failed on:$$failed"; exit 1; fi

release-roots:
	$(SUDO) .ci/release-root install-debootstrap
	@pids=""; for r in $(RELEASES); do $(SUDO) env $(ROOTS_ENV) .ci/release-root build $$r & pids="$$pids $$!"; done; \
	status=0; for p in $$pids; do wait $$p || status=1; done; exit $$status

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

# ovn-inject(8) from the click commands (tests/unit/test_cli_table.py checks it is current).
man: venv
	$(BIN)/python -m ovn_inject.cli.manpage > ovn_inject/data/ovn-inject.8
