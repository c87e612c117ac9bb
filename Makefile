# The two commands: `make run` (Kafka + stores + worker + a live demo) and `make test` (everything, from a fresh clone).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FS := $(BIN)/fulfillsync
TEST_KAFKA_PORT ?= 19092
TEST_KAFKA_HOME := .fulfillsync/test-kafka
# Platform specs that may not be copied into the project; tests that need them say so when this is unset.
FULFILLSYNC_PLATFORM_SPECS ?= $(wildcard $(abspath ../shared/platform-specs))
export FULFILLSYNC_PLATFORM_SPECS
# The design notes beside the repository: a test checks that its configuration example matches them.
FULFILLSYNC_DESIGN_NOTES ?= $(wildcard $(abspath ../shared/DESIGN.md))
export FULFILLSYNC_DESIGN_NOTES
# The browser tests drive Debian's Chromium through Playwright; Playwright never downloads a browser of its own.
CHROMIUM ?= /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

# helm, for the chart's tests (tests/helm/): built from the Go module proxy into .fulfillsync/bin, once.
HELM_VERSION := v4.3.2
HELM_HOME := .fulfillsync/helm
HELM := .fulfillsync/bin/helm

.PHONY: install browser helm run stop test fuzz lint typecheck schemas bench bench-sync clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed

## Debian's Chromium for the browser tests, from the machine's package manager when it is missing (as root, or with
## sudo that asks no password). If it cannot be installed, the browser tests are skipped, saying why.
browser:
	@if [ -x "$(CHROMIUM)" ] || command -v chromium >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then as=; elif sudo -n true 2>/dev/null; then as="sudo -n"; \
	else echo "make browser: not root and no password-less sudo: Chromium not installed, browser tests will be skipped"; exit 0; fi; \
	if ! command -v apt-get >/dev/null; then echo "make browser: no apt-get here: install Chromium yourself"; exit 0; fi; \
	echo "make browser: installing Debian's chromium package"; \
	$$as apt-get update -qq && $$as env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
		|| echo "make browser: apt-get could not install chromium: browser tests will be skipped"

## helm $(HELM_VERSION) in .fulfillsync/bin (the chart's tests run it: helm lint, helm template). Skipped when that
## version is already there; otherwise `go install` from the Go module proxy (Go 1.26+ needed; a few minutes the
## first time), with Go's module and build caches kept under $(HELM_HOME) (writable, so `make clean` removes them).
## `go install` does not stamp the release version into the binary (it would say v4.3): -X does, as helm's own
## Makefile does for its releases.
helm:
	@if [ -x "$(HELM)" ] && [ "$$($(HELM) version --template '{{.Version}}' 2>/dev/null)" = "$(HELM_VERSION)" ]; then \
		exit 0; fi; \
	command -v go >/dev/null || { echo "make helm: no Go toolchain: install Go 1.26+ (it builds helm $(HELM_VERSION))"; exit 1; }; \
	echo "make helm: building helm $(HELM_VERSION) into $(HELM) (go install, from the Go module proxy)"; \
	mkdir -p .fulfillsync/bin && GOBIN="$(abspath .fulfillsync/bin)" GOMODCACHE="$(abspath $(HELM_HOME)/mod)" \
		GOCACHE="$(abspath $(HELM_HOME)/cache)" GOFLAGS=-modcacherw CGO_ENABLED=0 \
		go install -ldflags "-w -s -X helm.sh/helm/v4/internal/version.version=$(HELM_VERSION)" \
			helm.sh/helm/v4/cmd/helm@$(HELM_VERSION) || { echo "make helm: go install failed (above)"; exit 1; }; \
	[ "$$($(HELM) version --template '{{.Version}}')" = "$(HELM_VERSION)" ] || \
		{ echo "make helm: $(HELM) does not report version $(HELM_VERSION)"; exit 1; }

## Kafka on 127.0.0.1:9092, simulated stores of all four platforms, the worker on them, a scripted merchant activity
## and each order's story as it happens (README: What `make run` shows). Its configuration: .fulfillsync/demo/.
run: install
	$(FS) kafka start --reuse
	$(FS) --config config/local.yaml demo

## Stop the local broker that `make run` left running (the demo stops its worker and stores itself).
stop: install
	$(FS) kafka stop

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

## Lint, type-check, install Chromium if missing, start a throwaway broker on $(TEST_KAFKA_PORT), run every test, stop the broker.
test: lint typecheck browser helm
	rm -rf $(TEST_KAFKA_HOME)/data $(TEST_KAFKA_HOME)/broker.pid
	$(FS) kafka start --port $(TEST_KAFKA_PORT) --home $(TEST_KAFKA_HOME)
	KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$(TEST_KAFKA_PORT) $(BIN)/pytest; status=$$?; \
		$(FS) kafka stop --port $(TEST_KAFKA_PORT) --home $(TEST_KAFKA_HOME); exit $$status

## The property and fuzz tests with new examples on each run (`make test` draws the same ones every time; turn what
## this finds into an @example of the test). Needs no broker.
fuzz: install
	FULFILLSYNC_HYPOTHESIS_PROFILE=explore $(BIN)/pytest -q -m "not kafka" $$(grep -rl "@given" tests --include='*.py')

## Regenerate the committed JSON Schemas and the AsyncAPI document after changing a model in schemas/.
schemas: install
	$(BIN)/python -m schemas.generate

## The ledger throughput benchmark against the local broker (not part of `make test`).
bench: install
	$(FS) kafka start --reuse
	$(BIN)/python bench/ledger_throughput.py

## Seller fulfillment -> buyer order latency, webhook- and poll-driven (not part of `make test`; about 40 minutes).
## A smoke run: make bench-sync SYNC_ARGS="--orders 50"
bench-sync: install
	$(FS) kafka start --reuse
	$(BIN)/python bench/sync_latency.py $(SYNC_ARGS)

clean:
	rm -rf $(VENV) .fulfillsync .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
