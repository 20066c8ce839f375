#!/usr/bin/env bash
# lambdalet built for arm64 (aarch64-unknown-linux-gnu), run under qemu-user: the daemon
# starts, a function is deployed and invoked through it with its own CLI. `make test` runs this
# after building the binary (`cargo build --target aarch64-unknown-linux-gnu -p lambdalet`);
# .cargo/config.toml names the cross linker, scripts/test.sh installs it and qemu-user-static.
#
# Under qemu-user the kernel features of container sandboxes (namespaces, sock_diag) are not
# emulated, so the daemon runs its functions in process sandboxes here; the function's
# interpreter is the host's own python3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/aarch64-unknown-linux-gnu/debug/lambdalet}
Q=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)
D=$(mktemp -d)
P=
cleanup() {
  [ -n "$P" ] && kill "$P" 2>/dev/null && wait "$P" 2>/dev/null
  rm -rf "$D"
}
trap cleanup EXIT
fail() {
  echo "arm64 smoke test failed: $*" >&2
  echo "--- daemon log ---" >&2
  cat "$D/log" >&2 || true
  exit 1
}

file -L "$BIN" | grep -q 'ARM aarch64' || fail "$BIN is not an arm64 binary: $(file -L "$BIN")"
version=$("${Q[@]}" "$BIN" --version) || fail "the binary does not run under qemu"
echo "$version under $("${Q[0]}" --version | head -n1)"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export LAMBDALET_ENDPOINT="http://127.0.0.1:$PORT"
export XDG_CONFIG_HOME="$D/config"
"${Q[@]}" "$BIN" serve --data-dir "$D/data" --listen "127.0.0.1:$PORT" --s3-listen off \
  --url-listen off --mqtt-listen off --sandbox process > "$D/log" 2>&1 &
P=$!
for _ in $(seq 240); do
  grep -q 'listening on' "$D/log" && break
  kill -0 "$P" 2>/dev/null || fail "the daemon exited"
  sleep 0.25
done
grep -q 'listening on' "$D/log" || fail "the daemon did not listen within 60 s"

"${Q[@]}" "$BIN" deploy tests/fixtures/functions/py-basic --name arm64-smoke \
  --runtime python3.11 --handler app.handler > "$D/deploy" 2>&1 || fail "deploy: $(cat "$D/deploy")"
out=$("${Q[@]}" "$BIN" invoke arm64-smoke --payload '{"board": "arm64"}' 2>&1) ||
  fail "invoke: $out"
case "$out" in
  *'"board": "arm64"'*) ;;
  *) fail "the function did not echo its event: $out" ;;
esac
logs=$("${Q[@]}" "$BIN" logs arm64-smoke 2>&1) || fail "logs: $logs"
case "$logs" in
  *REPORT*) ;;
  *) fail "no REPORT line in the function's log: $logs" ;;
esac
echo "arm64: the daemon started, deployed and invoked a function under qemu"
