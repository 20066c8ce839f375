#!/usr/bin/env bash
# `make dist`: the daemon for each board, stripped, with its debug info kept beside it, and the
# Debian packages.
#
#   scripts/dist.sh [TARGET[:minimal]...]
#
# TARGET defaults to every board lambdalet is built for:
#   x86_64-unknown-linux-gnu        the host (PCs, x86_64 gateways)
#   aarch64-unknown-linux-gnu       64-bit Raspberry Pi OS, most arm64 gateways
#   armv7-unknown-linux-gnueabihf   32-bit Raspberry Pi OS (Pi 2 and later), armhf boards
#   x86_64-unknown-linux-musl       static: any x86_64 Linux, whatever its C library
#   aarch64-unknown-linux-musl      static: any arm64 Linux
#   x86_64-unknown-linux-gnu:minimal  without the embedded MQTT broker, S3 endpoint and web
#                                   console (`--no-default-features`), to show what they cost
#
# Each is built with the `dist` profile (see Cargo.toml) and written as
# dist/lambdalet-<target>[-minimal], with its debug info in the same name plus .debug (linked
# by a .gnu_debuglink section, so gdb and perf find it). Each binary must start (--version,
# then `serve` until it listens; the arm ones under qemu-user), and a musl one must be static.
# The full gnu builds are packaged as dist/lambdalet_<version>_<amd64|arm64|armhf>.deb with
# cargo-deb ([package.metadata.deb] in crates/lambdalet/Cargo.toml).
#
# Installs what is missing: the Rust targets (rustup), Debian's cross compilers and binutils,
# musl-tools, musl-dev:arm64 (the arm64 architecture is added to dpkg for it: Debian has no
# musl cross compiler, and its arm64 musl package brings the headers, the C library and an
# aarch64-linux-musl-gcc wrapper around the gnu cross compiler), qemu-user-static (apt), and
# cargo-deb (cargo install). About 12 minutes per target on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(
  x86_64-unknown-linux-gnu
  aarch64-unknown-linux-gnu
  armv7-unknown-linux-gnueabihf
  x86_64-unknown-linux-musl
  aarch64-unknown-linux-musl
  x86_64-unknown-linux-gnu:minimal
)

# Per target: binutils prefix, Debian packages for the compiler and linker, qemu command that
# runs its binaries here (empty: natively), Debian architecture of its .deb (empty: none).
target_info() {
  case "$1" in
    x86_64-unknown-linux-gnu)
      prefix= apt_pkgs=(binutils gcc) run=() deb_arch=amd64 ;;
    aarch64-unknown-linux-gnu)
      prefix=aarch64-linux-gnu- apt_pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
      run=(qemu-aarch64-static -L /usr/aarch64-linux-gnu) deb_arch=arm64 ;;
    armv7-unknown-linux-gnueabihf)
      prefix=arm-linux-gnueabihf- apt_pkgs=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)
      run=(qemu-arm-static -L /usr/arm-linux-gnueabihf) deb_arch=armhf ;;
    x86_64-unknown-linux-musl)
      prefix= apt_pkgs=(musl-tools) run=() deb_arch= ;;
    aarch64-unknown-linux-musl)
      # The C code (SQLite, ring) is compiled by aarch64-linux-musl-gcc (musl-dev:arm64), which
      # the cc crate picks by name; the linker (.cargo/config.toml) takes Rust's own musl
      # start files and C library, so the binary needs nothing from the board.
      prefix=aarch64-linux-gnu- apt_pkgs=(gcc-aarch64-linux-gnu musl-dev:arm64)
      run=(qemu-aarch64-static) deb_arch= ;;
    *)
      echo "scripts/dist.sh: unknown target $1; known: x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu, armv7-unknown-linux-gnueabihf, x86_64-unknown-linux-musl, aarch64-unknown-linux-musl (each optionally :minimal)" >&2
      exit 2 ;;
  esac
}

# --- What the builds need -----------------------------------------------------------------
need_apt=()
for row in "${rows[@]}"; do
  t=${row%%:*}
  target_info "$t"
  rustup target list --installed | grep -qx "$t" || rustup target add "$t"
  for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need_apt+=("$p")
  done
  [ ${#run[@]} -eq 0 ] || command -v "${run[0]}" >/dev/null || need_apt+=(qemu-user-static)
done
command -v file >/dev/null || need_apt+=(file)
if [ ${#need_apt[@]} -gt 0 ]; then
  printf '\n==> installing %s (apt)\n' "${need_apt[*]}"
  case " ${need_apt[*]} " in
    *:arm64*) dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64 ;;
  esac
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
if ! cargo deb --version >/dev/null 2>&1; then
  printf '\n==> installing cargo-deb\n'
  cargo install cargo-deb --locked
fi

version=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="lambdalet"))')

# --- Checks of a built binary ---------------------------------------------------------------
fail() {
  echo "scripts/dist.sh: $*" >&2
  exit 1
}

# The binary starts: --version, then `serve` with process sandboxes until it listens, then
# SIGTERM. Under qemu-user the daemon finds no container support and says so; that is fine.
starts() {
  local bin=$1 d pid
  "${run[@]}" "$bin" --version >/dev/null || fail "$bin --version failed"
  d=$(mktemp -d)
  "${run[@]}" "$bin" serve --data-dir "$d/data" --listen 127.0.0.1:0 --s3-listen off \
    --url-listen off --mqtt-listen off --sandbox process >"$d/log" 2>&1 &
  pid=$!
  for _ in $(seq 240); do
    grep -q 'listening on' "$d/log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if ! grep -q 'listening on' "$d/log"; then
    kill "$pid" 2>/dev/null || true
    cat "$d/log" >&2
    fail "$bin serve did not start"
  fi
  kill -TERM "$pid"
  wait "$pid" || fail "$bin serve did not stop cleanly on SIGTERM: $(tail -n 5 "$d/log")"
  rm -rf "$d"
}

mb() { awk "BEGIN{printf \"%.1f\", $1/1048576}"; }

# --- The builds -----------------------------------------------------------------------------
mkdir -p dist
summary=()
for row in "${rows[@]}"; do
  t=${row%%:*}
  target_info "$t"
  flags=() suffix=
  case "$row" in
    *:minimal) flags=(--no-default-features) suffix=-minimal ;;
    *:*) fail "unknown variant in $row (only :minimal)" ;;
  esac
  printf '\n==> %s\n' "cargo build --profile dist --target $t -p lambdalet ${flags[*]}"
  cargo build --locked --profile dist --target "$t" -p lambdalet "${flags[@]}"
  built="${CARGO_TARGET_DIR:-target}/$t/dist/lambdalet"
  out="dist/lambdalet-$t$suffix"
  "${prefix}objcopy" --only-keep-debug "$built" "$out.debug"
  "${prefix}objcopy" --strip-all --add-gnu-debuglink="$out.debug" "$built" "$out"
  chmod 0755 "$out"

  case "$t" in
    *-musl)
      file -L "$out" | grep -Eq 'statically linked|static-pie linked' ||
        fail "$out is not static: $(file -L "$out")" ;;
  esac
  starts "$out"
  size=$(stat -c %s "$out")
  line="$out: $size bytes ($(mb "$size") MB), debug info $(mb "$(stat -c %s "$out.debug")") MB; $(file -L "$out" | cut -d, -f1-2 | cut -d: -f2-)"
  echo "$line"
  summary+=("$line")

  # The package, from the binary just built (cargo-deb strips it with the target's strip),
  # before a later row's build replaces it.
  if [ -n "$deb_arch" ] && [ -z "$suffix" ]; then
    deb="dist/lambdalet_${version}_${deb_arch}.deb"
    printf '\n==> %s\n' "cargo deb --no-build --target $t --profile dist -> $deb"
    cargo deb -p lambdalet --no-build --locked --target "$t" --profile dist \
      --strip --no-separate-debug-symbols --no-dbgsym --output "$deb"
    # Its Depends must cover the newest glibc symbol version the binary asks for.
    need=$("${prefix}objdump" -T "$out" | grep -o 'GLIBC_[0-9.]*' | cut -d_ -f2 | sort -uV | tail -n1)
    dep=$(dpkg-deb -f "$deb" Depends | sed -n 's/.*libc6 (>= \([0-9.]*\)).*/\1/p')
    dpkg --compare-versions "$need" le "$dep" ||
      fail "$out needs glibc $need, but $deb depends on libc6 (>= $dep): raise depends in crates/lambdalet/Cargo.toml"
    # The host's own package: installed, reinstalled, removed and purged in a throwaway root.
    if [ "$deb_arch" = "$(dpkg --print-architecture)" ] && [ "$(id -u)" = 0 ]; then
      scripts/deb-check.sh "$deb"
    fi
    line="$deb: $(stat -c %s "$deb") bytes ($(mb "$(stat -c %s "$deb")") MB)"
    echo "$line"
    summary+=("$line")
  fi
done

printf '\n==> built\n'
printf '%s\n' "${summary[@]}"
