#!/bin/bash
# System calls of the daemon per warm invocation, and the p50 a minimal client sees.
#
#   benches/scripts/syscalls-per-invoke.sh [LAMBDALET_BINARY] [INVOCATIONS]
#
# Starts the given lambdalet (default: target/release/lambdalet) on a free port with a
# temporary data directory, deploys a Python no-op, warms it up with 3 000 invocations from
# a minimal client (one kept-alive connection, a raw socket), then counts the daemon's system
# calls with `perf stat` over INVOCATIONS more (default 20 000) and prints them per invocation.
# Needs perf (linux-perf) with the syscalls tracepoints, and python3.11.
set -euo pipefail
B=${1:-target/release/lambdalet}
N=${2:-20000}
D=$(mktemp -d)
trap 'kill $P 2>/dev/null || true; wait $P 2>/dev/null || true; rm -rf "$D"' EXIT
mkdir -p "$D/code"
printf 'def handler(event, context):\n    return None\n' > "$D/code/app.py"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$B" serve --data-dir "$D/data" --listen "127.0.0.1:$PORT" --mqtt-listen off --s3-listen off \
    --url-listen off > "$D/log" 2>&1 &
P=$!
for _ in $(seq 100); do grep -q listening "$D/log" && break; sleep 0.1; done
LAMBDALET_ENDPOINT="http://127.0.0.1:$PORT" "$B" deploy "$D/code" --name noop \
    --runtime python3.11 --handler app.handler > /dev/null 2>&1
cat > "$D/load.py" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
req = b"POST /2015-03-31/functions/noop/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
ts = []
for _ in range(n):
    t = time.perf_counter_ns()
    s.sendall(req)
    d = s.recv(65536)
    while not d.endswith(b"null"):
        d += s.recv(65536)
    ts.append(time.perf_counter_ns() - t)
ts.sort()
print("client p50 %.1f us" % (ts[n // 2] / 1000))
PY
python3 "$D/load.py" "$PORT" 3000 > /dev/null
perf stat -x, -e 'raw_syscalls:sys_enter,syscalls:sys_enter_futex,syscalls:sys_enter_epoll_wait' \
    -p $P -o "$D/stat" &
S=$!
sleep 0.3
L=$(python3 "$D/load.py" "$PORT" "$N")
kill -INT $S
wait $S 2>/dev/null || true
awk -F, -v n="$N" -v l="$L" '/sys_enter/ {printf "%s %.2f per invocation\n", $3, $1 / n} END {print l}' "$D/stat"
