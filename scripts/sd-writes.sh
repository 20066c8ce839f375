#!/usr/bin/env bash
# What lambdalet asks of a flash card (issue 15): fsync calls and bytes written per
# invocation, synchronous and asynchronous, counted with strace and /proc/<pid>/io.
#
#   scripts/sd-writes.sh [N]      (N invocations of each kind, default 200)
#
# Uses $BIN, else target/release/lambdalet if built, else target/debug/lambdalet; process sandboxes so
# only the daemon's own writes are counted.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
bin=${BIN:-target/release/lambdalet}
[ -x "$bin" ] || bin=target/debug/lambdalet
[ -x "$bin" ] || cargo build -q -p lambdalet
command -v strace >/dev/null || { apt-get update -qq && apt-get install -y -qq strace; }
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
strace -f -qq -e trace=fsync,fdatasync -o "$work/trace" "$bin" serve --data-dir "$work/data" \
  --listen "127.0.0.1:$port" --mqtt-listen off --s3-listen off --url-listen off --sandbox process \
  >"$work/log" 2>&1 &
tracer=$!
# The daemon first (killing strace alone would only detach it), then strace.
trap 'pkill -TERM -P $tracer 2>/dev/null; wait $tracer 2>/dev/null; rm -rf "$work"' EXIT
url="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf -o /dev/null "$url/2015-03-31/functions" && break; sleep 0.1; done
LAMBDALET_ENDPOINT=$url "$bin" deploy examples/hello-python --name h --handler app.handler >/dev/null 2>&1
pid=$(pgrep -P "$tracer" -f "lambdalet serve" | head -1)
counts() { echo "$(grep -c . "$work/trace") $(awk '/^write_bytes/{print $2}' "/proc/$pid/io")"; }
measure() { # label, extra curl header
  read -r f0 b0 < <(counts)
  for _ in $(seq "$n"); do
    curl -s -o /dev/null -X POST ${2:+-H "$2"} -d '{}' "$url/2015-03-31/functions/h/invocations"
  done
  sleep 3
  read -r f1 b1 < <(counts)
  awk -v l="$1" -v n="$n" -v f="$((f1 - f0))" -v b="$((b1 - b0))" \
    'BEGIN{printf "%-28s %5d  fsync/invocation %.2f  KB written/invocation %.1f\n", l, n, f/n, b/n/1024}'
}
echo "$bin, one client, one invocation at a time"
measure "synchronous (RequestResponse)" ""
measure "asynchronous (Event)" "X-Amz-Invocation-Type: Event"
ls -l "$work/data"/state.db* | awk '{printf "  %s %d KB\n", $NF, $5/1024}'
