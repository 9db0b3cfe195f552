# Developer entry points. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# Where the tests find their servers; an exported value in your environment wins.
export TEST_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/postgres
export TEST_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/%2f
export TEST_REDIS_URL ?= redis://127.0.0.1:6379

# nextest profile (.config/nextest.toml): `ci` when CI=true, else `default`.
NEXTEST_PROFILE ?= $(if $(filter true,$(CI)),ci,default)

.PHONY: help up down bootstrap test lint bench

help: ## List the targets
	@printf 'Targets:\n'
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN { FS = ":.*## " } { printf "  make %-10s %s\n", $$1, $$2 }'

up: ## Start PostgreSQL/Redis/RabbitMQ if needed, build, run every service (logs: .local/logs/)
	@deploy/local/up.sh

down: ## Stop the services `make up` started, and the servers it started
	@deploy/local/down.sh

bootstrap: ## Install/start PostgreSQL, Redis and RabbitMQ on 127.0.0.1 when missing
	@deploy/local/bootstrap.sh

test: bootstrap ## Run every test of the workspace (doc tests, then nextest when installed)
	@if cargo nextest --version >/dev/null 2>&1; then \
		cargo test --workspace --doc --quiet; \
		cargo nextest run --workspace --no-fail-fast --profile $(NEXTEST_PROFILE); \
	else \
		echo "cargo-nextest is not installed: running cargo test (cargo install cargo-nextest --locked)"; \
		cargo test --workspace --no-fail-fast; \
	fi

lint: ## cargo fmt --check and cargo clippy -D warnings
	@cargo fmt --version >/dev/null 2>&1 || { \
		echo "error: rustfmt is missing from the toolchain: rustup component add rustfmt" >&2; exit 1; }
	@cargo clippy --version >/dev/null 2>&1 || { \
		echo "error: clippy is missing from the toolchain: rustup component add clippy" >&2; exit 1; }
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench: ## Load benchmarks (bench/run.sh)
	@if [[ -x bench/run.sh ]]; then bench/run.sh; \
	elif [[ -f bench/run.sh ]]; then bash bench/run.sh; \
	else echo "no benchmarks yet: bench/run.sh does not exist"; fi
