#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls `make test`, which calls this).
# First installs what the tests need if it is missing: the AWS CLI and boto3 (pip), curl and
# Node.js (apt), cargo-nextest (cargo). Then: formatting, lints, the runtime bootstraps' own
# tests, and every Rust test including the integration tests against the real daemon.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v node >/dev/null || need_apt+=(nodejs)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)
if [ ${#need_apt[@]} -gt 0 ]; then
  step "installing ${need_apt[*]} (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

need_pip=()
python3 -c 'import boto3' 2>/dev/null || need_pip+=(boto3)
command -v aws >/dev/null || need_pip+=(awscli)
if [ ${#need_pip[@]} -gt 0 ]; then
  step "installing ${need_pip[*]} (pip)"
  python3 -m pip install --quiet --disable-pip-version-check "${need_pip[@]}"
  hash -r
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "runtime bootstrap tests (python3 -m unittest)"
python3 -m unittest discover -s runtimes/tests

step "cargo nextest run (unit and integration tests)"
cargo nextest run --workspace --locked --no-fail-fast "$@"
