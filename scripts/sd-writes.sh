#!/usr/bin/env bash
# What lambdalet asks of a flash card (issue 15): fsync calls and bytes written per
# invocation, synchronous and asynchronous, counted with strace and /proc/<pid>/io.
#
#   scripts/sd-writes.sh [N]                              (N invocations of each kind, default 200)
#   BASELINE=/tmp/base/target/release/lambdalet scripts/sd-writes.sh 200
#
# Measures $BIN (else target/release/lambdalet if built, else target/debug/lambdalet) and, with
# BASELINE, that build too in the same run, then prints both and their ratio. The baseline of
# docs/benchmarks.md is the build before the async queue's flushes were halved:
#   git worktree add /tmp/base 802c957 && (cd /tmp/base && cargo build --release -p lambdalet)
# Process sandboxes, so only the daemon's own writes are counted.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
bin=${BIN:-target/release/lambdalet}
[ -x "$bin" ] || bin=target/debug/lambdalet
[ -x "$bin" ] || cargo build -q -p lambdalet
command -v strace >/dev/null || { apt-get update -qq && apt-get install -y -qq strace; }

# One build: prints "sync-fsync sync-KB async-fsync async-KB" per invocation.
run() {
  local bin=$1 work port tracer url pid
  work=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  strace -f -qq -e trace=fsync,fdatasync -o "$work/trace" "$bin" serve --data-dir "$work/data" \
    --listen "127.0.0.1:$port" --mqtt-listen off --s3-listen off --url-listen off --sandbox process \
    >"$work/log" 2>&1 &
  tracer=$!
  url="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -sf -o /dev/null "$url/2015-03-31/functions" && break; sleep 0.1; done
  LAMBDALET_ENDPOINT=$url "$bin" deploy examples/hello-python --name h --handler app.handler >/dev/null 2>&1
  pid=$(pgrep -P "$tracer" | head -1)
  counts() { echo "$(grep -c . "$work/trace") $(awk '/^write_bytes/{print $2}' "/proc/$pid/io")"; }
  local out=()
  for header in "" "X-Amz-Invocation-Type: Event"; do
    read -r f0 b0 < <(counts)
    for _ in $(seq "$n"); do
      curl -s -o /dev/null -X POST ${header:+-H "$header"} -d '{}' "$url/2015-03-31/functions/h/invocations"
    done
    sleep 3
    read -r f1 b1 < <(counts)
    out+=("$(awk -v n="$n" -v f="$((f1 - f0))" -v b="$((b1 - b0))" 'BEGIN{printf "%.2f %.1f", f/n, b/n/1024}')")
  done
  # The daemon first (killing strace alone would only detach it), then strace.
  pkill -TERM -P "$tracer" 2>/dev/null || true
  wait "$tracer" 2>/dev/null || true
  rm -rf "$work"
  echo "${out[*]}"
}

ours=$(run "$bin")
echo "$n invocations of each kind, one client, one at a time"
if [ -n "${BASELINE:-}" ]; then
  base=$(run "$BASELINE")
  printf '%-30s %14s %14s %8s\n' "" "baseline" "ours" "ratio"
  set -- $base $ours
  awk -v b1="$1" -v b2="$2" -v b3="$3" -v b4="$4" -v o1="$5" -v o2="$6" -v o3="$7" -v o4="$8" 'BEGIN{
    printf "%-30s %14.2f %14.2f %7.2fx\n", "sync: fsync/invocation", b1, o1, (b1 > 0 ? o1 / b1 : 0)
    printf "%-30s %14.1f %14.1f %7.2fx\n", "sync: KB written/invocation", b2, o2, (b2 > 0 ? o2 / b2 : 0)
    printf "%-30s %14.2f %14.2f %7.2fx\n", "async: fsync/invocation", b3, o3, (b3 > 0 ? o3 / b3 : 0)
    printf "%-30s %14.1f %14.1f %7.2fx\n", "async: KB written/invocation", b4, o4, (b4 > 0 ? o4 / b4 : 0)
  }'
  echo "baseline: $BASELINE; ours: $bin"
else
  set -- $ours
  printf '%s\n  sync:  fsync/invocation %s, KB written/invocation %s\n  async: fsync/invocation %s, KB written/invocation %s\n' "$bin" "$1" "$2" "$3" "$4"
  echo "(BASELINE=path/to/another/lambdalet measures it too and prints the ratio)"
fi
