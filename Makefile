# costlake: the two commands a newcomer needs are `make demo` and `make test`. Both install what they need.
SHELL := bash
CARGO ?= cargo

.PHONY: help deps demo test lint bench clean-demo

help: ## This list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Install the embedded ClickHouse engine (libchdb.so, pinned, sha256-verified) and cargo-nextest
	@scripts/install-chdb.sh >/dev/null
	@command -v cargo-nextest >/dev/null || $(CARGO) install cargo-nextest --locked

demo: deps ## Run the whole pipeline on the built-in Scaleway simulator and print what it finds
	$(CARGO) run --bin costlake -- demo

test: deps ## Build and run every test suite (unit, conformance on both warehouses, end to end)
	@scripts/install-pyclients.sh >/dev/null
	@scripts/install-chromium.sh >/dev/null
	scripts/check-compose.sh
	$(CARGO) nextest run --workspace --no-fail-fast

lint: ## Formatting and clippy, as CI would like them
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: deps ## The speed goals, each beside its reference measured in the same run (about 15 min; BENCHMARKS.md has more)
	$(CARGO) build --release -p costlake -p costlake-bench
	./target/release/costlake-bench utilisation 1000
	./target/release/costlake-bench latency 1000

clean-demo: ## Remove the demo's lake and warehouse
	rm -rf costlake-data/demo
