"""Cold-start benchmark for the bootstraps (not part of the unit tests).

    python3 runtimes/tests/bench_coldstart.py [--python PATH ...] [--node PATH] [-n 30]

Per interpreter, the median wall time of
  * baseline:  `python3 -c 'import app'` (spawn -> exit)   [node: `node -e "require('./index.js')"`]
  * bootstrap: spawn the bootstrap with an event waiting -> its response fully
    received by a minimal raw-socket Runtime API stub (the threaded fake API
    used by the tests adds milliseconds of its own, so it is not used here).
    One warm-up run first, so the Python bootstrap's bytecode cache exists;
    baseline and bootstrap runs are interleaved.
for a trivial handler.  The target for Python is bootstrap <= 1.2x baseline.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIMES = os.path.dirname(HERE)


def _read_request(conn, buf):
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += conn.recv(65536)
    return head, rest[:length], rest[length:]


def _stub(listener, done):
    """Serve one `next` and wait for the response; record when it is complete."""
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _head, _body, buf = _read_request(conn, b"")
    event = b'{"hello": "world"}'
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n"
        b"Lambda-Runtime-Deadline-Ms: %d\r\nLambda-Runtime-Invoked-Function-Arn: "
        b"arn:aws:lambda:us-east-1:123456789012:function:bench\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (int(time.time() * 1000) + 30000, len(event), event)
    )
    head, _body, _ = _read_request(conn, buf)
    done.append(time.perf_counter())
    done.append(head.split(b" ", 2)[1])
    conn.sendall(b'HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{"status":"OK"}\n')
    done.append(conn)


def bootstrap_once(cmd, code_dir, handler):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    done = []
    server = threading.Thread(target=_stub, args=(listener, done))
    server.start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % listener.getsockname()[1],
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": code_dir,
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "TZ": "UTC",
    }
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=code_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server.join(30)
    proc.kill()
    proc.wait()
    listener.close()
    if len(done) != 3 or not done[1].endswith(b"/response"):
        raise SystemExit("bootstrap did not answer: %r" % (done,))
    done[2].close()
    return done[0] - t0


def baseline_once(cmd, code_dir):
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=code_dir, env={"PATH": os.environ.get("PATH", "")}, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def bench(base_cmd, boot_cmd, code_dir, handler, n):
    """Interleaved runs, so load drift on the machine hits both sides alike."""
    bootstrap_once(boot_cmd, code_dir, handler)  # warm-up: writes the bytecode cache
    base, boot = [], []
    for _ in range(n):
        base.append(baseline_once(base_cmd, code_dir))
        boot.append(bootstrap_once(boot_cmd, code_dir, handler))
    return base, boot


def report(label, exe, base, boot):
    b = statistics.median(base) * 1000.0
    s = statistics.median(boot) * 1000.0
    print("%-6s %-42s baseline %7.2f ms   bootstrap->first response %7.2f ms   ratio %.2fx" % (label, exe, b, s, s / b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", action="append", help="interpreter(s) to bench (default: this one)")
    ap.add_argument("--node", help="also bench the Node bootstrap with this node binary")
    ap.add_argument("-n", type=int, default=30)
    args = ap.parse_args()

    code_dir = tempfile.mkdtemp(prefix="lambdalet-bench-")
    runtime_dir = os.path.join(code_dir, ".runtimes")  # a copy, as the daemon installs it
    try:
        for lang, name in (("python", "bootstrap.py"), ("node", "bootstrap.js")):
            os.makedirs(os.path.join(runtime_dir, lang))
            shutil.copy2(os.path.join(RUNTIMES, lang, name), os.path.join(runtime_dir, lang))
        with open(os.path.join(code_dir, "app.py"), "w") as f:
            f.write("def handler(event, context):\n    return {'ok': True, 'event': event}\n")
        with open(os.path.join(code_dir, "index.js"), "w") as f:
            f.write("exports.handler = async (event) => ({ ok: true, event });\n")

        for py in args.python or [sys.executable]:
            base, boot = bench(
                [py, "-c", "import app"],
                [py, "-u", os.path.join(runtime_dir, "python", "bootstrap.py")],
                code_dir, "app.handler", args.n,
            )
            report("python", py, base, boot)
        if args.node:
            base, boot = bench(
                [args.node, "-e", "require('./index.js')"],
                [args.node, os.path.join(runtime_dir, "node", "bootstrap.js")],
                code_dir, "index.handler", args.n,
            )
            report("node", args.node, base, boot)
    finally:
        shutil.rmtree(code_dir, True)


if __name__ == "__main__":
    main()
