#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls `make test`, which calls this).
# First installs what the tests need if it is missing: the AWS CLI, boto3 and Selenium (pip);
# curl, Node.js, Mosquitto and its clients, openssl, Chromium and its driver, the arm64 and
# armv7 cross compilers and qemu-user (apt); cargo-nextest and cargo-fuzz (cargo); the musl,
# arm64 and armv7 targets (rustup).
# Then: formatting, lints, the runtime bootstraps' own tests, a short fuzzing run of the IPC
# frame decoder, every Rust test including the integration tests against the real daemon, the
# arm64 build started, deploying and invoking a function under qemu-user, and the sandbox
# crate's unit tests for arm64 and armv7 under qemu-user.
# The container sandbox tests need root (as CI runs); elsewhere they print why they skip.
# (The tests fetch awsiotsdk, greengrasssdk, requests and prometheus-client from PyPI into target/test-cache on first
# use.)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v node >/dev/null || need_apt+=(nodejs)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)
command -v mosquitto_pub >/dev/null || need_apt+=(mosquitto-clients)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v openssl >/dev/null || need_apt+=(openssl)
# The sandbox tests run a daemon as an unprivileged user (setpriv) to see the fallback.
command -v setpriv >/dev/null || need_apt+=(util-linux)
# The image-function tests build a busybox image (a static busybox).
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q static || need_apt+=(busybox-static file)
# The console tests drive the web console in headless Chromium through Selenium (Debian's driver).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
# The arm64 build (Debian's cross compiler) and its smoke test under qemu-user; the armv7
# build of the sandbox crate's unit tests.
command -v aarch64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v arm-linux-gnueabihf-gcc >/dev/null || need_apt+=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)
command -v qemu-aarch64-static >/dev/null || need_apt+=(qemu-user-static)
command -v file >/dev/null || need_apt+=(file)
# The service tests: systemd's unit checker, and strace to see that nothing leaves the host.
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
command -v strace >/dev/null || need_apt+=(strace)
if [ ${#need_apt[@]} -gt 0 ]; then
  step "installing ${need_apt[*]} (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

need_pip=()
python3 -c 'import boto3' 2>/dev/null || need_pip+=(boto3)
command -v aws >/dev/null || need_pip+=(awscli)
python3 -c 'import selenium' 2>/dev/null || need_pip+=(selenium)
if [ ${#need_pip[@]} -gt 0 ]; then
  step "installing ${need_pip[*]} (pip)"
  python3 -m pip install --quiet --disable-pip-version-check "${need_pip[@]}"
  hash -r
fi

# The image-function tests build a static lambda_runtime binary for a FROM-scratch image.
if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  step "adding the aarch64-unknown-linux-gnu target (rustup)"
  rustup target add aarch64-unknown-linux-gnu
fi

if ! rustup target list --installed 2>/dev/null | grep -qx armv7-unknown-linux-gnueabihf; then
  step "adding the armv7-unknown-linux-gnueabihf target (rustup)"
  rustup target add armv7-unknown-linux-gnueabihf
fi

if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  step "adding the x86_64-unknown-linux-musl target (rustup)"
  rustup target add x86_64-unknown-linux-musl
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  step "installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy -p lambdalet --no-default-features (no embedded broker, S3 endpoint or console)"
cargo clippy -p lambdalet --no-default-features --locked -- -D warnings

step "runtime bootstrap tests (python3 -m unittest)"
python3 -m unittest discover -s runtimes/tests

# libFuzzer needs nightly compiler flags; RUSTC_BOOTSTRAP lets the stable compiler take them.
fuzz_seconds="${LAMBDALET_FUZZ_SECONDS:-20}"
step "fuzzing the Greengrass IPC frame decoder for ${fuzz_seconds}s (cargo fuzz)"
mkdir -p target
fuzz_log="$PWD/target/fuzz-eventstream_frame.log"
if ! (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run eventstream_frame -- \
  -max_total_time="$fuzz_seconds" -print_final_stats=1) >"$fuzz_log" 2>&1; then
  tail -n 60 "$fuzz_log"
  echo "fuzzing failed (a crash, or the target did not build): the input is in fuzz/artifacts/, see fuzz/README.md" >&2
  exit 1
fi
grep -E '^(Done|stat::number_of_executed_units)' "$fuzz_log" || tail -n 3 "$fuzz_log"

step "cargo nextest run (unit and integration tests)"
tests_rc=0
cargo nextest run --workspace --locked --no-fail-fast "$@" || tests_rc=$?

# Debug build (a release cross build belongs to `make dist`): a few minutes on 2 cores.
step "arm64: cargo build --target aarch64-unknown-linux-gnu, then a smoke test under qemu-user"
cargo build --locked --target aarch64-unknown-linux-gnu -p lambdalet
scripts/arm64-smoke.sh
step "arm64: the sandbox crate's unit tests (system calls, seccomp tables, layouts) under qemu-user"
scripts/arm-unit-tests.sh aarch64-unknown-linux-gnu
step "armv7: the sandbox crate's unit tests on 32-bit ARM (its numbers, 32-bit layouts) under qemu-user"
scripts/arm-unit-tests.sh armv7-unknown-linux-gnueabihf
exit "$tests_rc"
