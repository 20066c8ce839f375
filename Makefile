# The project's entry points. CI runs `make test` (through .ci/run).

.PHONY: up test bench build

## Run lambdalet with the example functions deployed (release build).
up:
	cargo run --release -p lambdalet -- up

## Install what the tests need if missing, then run formatting, lints and every test.
test:
	./scripts/test.sh

## Measure lambdalet against its baselines (see docs/benchmarks.md).
bench:
	cargo build --release -p lambdalet -p hello-rust
	cargo run --release -p lambdalet-bench -- all

build:
	cargo build --workspace
