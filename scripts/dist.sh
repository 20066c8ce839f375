#!/usr/bin/env bash
# `make dist`: the daemon for each board, stripped, with its debug info kept beside it.
#
#   scripts/dist.sh [TARGET...]
#
# TARGET defaults to the host (x86_64-unknown-linux-gnu) and aarch64-unknown-linux-gnu (64-bit
# Raspberry Pi OS, most arm64 gateways). Each is built with the `dist` profile (LTO, one codegen
# unit: see Cargo.toml) and written as dist/lambdalet-<target>, with its debug info in
# dist/lambdalet-<target>.debug (linked by a .gnu_debuglink section, so gdb and perf find it).
# Installs the Rust target and Debian's cross binutils and compiler if missing.
# armv7 and the static musl builds are not done yet (issue 15).
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)

objcopy_for() {
  case "$1" in
    x86_64-unknown-linux-gnu) echo objcopy ;;
    aarch64-unknown-linux-gnu) echo aarch64-linux-gnu-objcopy ;;
    *)
      echo "scripts/dist.sh: $1 is not built yet: x86_64-unknown-linux-gnu and aarch64-unknown-linux-gnu are (armv7 and musl come with issue 15)" >&2
      exit 2
      ;;
  esac
}

for t in "${targets[@]}"; do
  objcopy=$(objcopy_for "$t")
  rustup target list --installed | grep -qx "$t" || rustup target add "$t"
  if ! command -v "$objcopy" >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  fi
done

mkdir -p dist
for t in "${targets[@]}"; do
  objcopy=$(objcopy_for "$t")
  printf '\n==> %s\n' "cargo build --profile dist --target $t"
  cargo build --locked --profile dist --target "$t" -p lambdalet
  built="target/$t/dist/lambdalet"
  out="dist/lambdalet-$t"
  "$objcopy" --only-keep-debug "$built" "$out.debug"
  "$objcopy" --strip-all --add-gnu-debuglink="$out.debug" "$built" "$out"
  chmod 0755 "$out"
  printf '%s: %s bytes (%s MB), debug info %s MB\n' "$out" "$(stat -c %s "$out")" \
    "$(awk "BEGIN{printf \"%.1f\", $(stat -c %s "$out")/1048576}")" \
    "$(awk "BEGIN{printf \"%.1f\", $(stat -c %s "$out.debug")/1048576}")"
done
