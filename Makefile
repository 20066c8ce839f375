# The project's entry points. CI runs `make test` (through .ci/run).

.PHONY: up test bench build dist

## Run lambdalet with the example functions deployed (release build).
up:
	[ -f examples/remove-background/build/layer.zip ] || examples/remove-background/build-layer.sh || echo "the background-removal example's layer could not be built (it needs PyPI once); up runs without that example"
	cargo run --release -p lambdalet -- up

## Install what the tests need if missing, then run formatting, lints and every test.
test:
	./scripts/test.sh

## Measure lambdalet against its baselines (see docs/benchmarks.md); installs runc (the OCI
## baseline of the sandbox benchmarks) if missing.
bench:
	command -v runc >/dev/null || [ -x /usr/sbin/runc ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc)
	cargo build --release -p lambdalet -p hello-rust
	cargo run --release -p lambdalet-bench -- all

build:
	cargo build --workspace

## Stripped binaries for every board (x86_64, arm64, armv7; static musl builds for x86_64 and
## arm64) in dist/, their debug info beside them, and the .deb packages (see docs/arm.md).
dist:
	./scripts/dist.sh
