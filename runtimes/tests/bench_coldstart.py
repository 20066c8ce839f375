"""Cold-start benchmark for the Python bootstrap (not part of the unit tests).

    python3 runtimes/tests/bench_coldstart.py [--python PATH] [--node PATH] [-n 30]

Compares, per interpreter, the median wall time of
  * baseline:  `python3 -c 'import app'` (spawn -> exit), and
  * bootstrap: spawn `python3 -u bootstrap.py` with an event already queued
               -> first response received by the (fake) Runtime API,
for a trivial handler module.  The target is bootstrap <= 1.2x baseline.
With --node it reports the same pair for bootstrap.js vs `node -e 'require("./index.js")'`.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fake_runtime_api import FakeRuntimeAPI  # noqa: E402

RUNTIMES = os.path.dirname(HERE)


def median_ms(samples):
    return statistics.median(samples) * 1000.0


def bench_baseline(cmd, code_dir, n):
    env = {"PATH": os.environ.get("PATH", "")}
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=code_dir, env=env, check=True, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - t0)
    return out


def bench_bootstrap(cmd, code_dir, handler, n):
    out = []
    for _ in range(n):
        api = FakeRuntimeAPI().start()
        try:
            rid = api.push({"hello": "world"})
            env = {
                "PATH": os.environ.get("PATH", ""),
                "AWS_LAMBDA_RUNTIME_API": api.address,
                "_HANDLER": handler,
                "LAMBDA_TASK_ROOT": code_dir,
                "AWS_LAMBDA_FUNCTION_NAME": "bench",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                "TZ": "UTC",
            }
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=code_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            rec = api.wait_result(rid, 30)
            out.append(time.perf_counter() - t0)
            assert rec["kind"] == "response", rec
            proc.kill()
            proc.wait()
        finally:
            api.stop()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", action="append", help="interpreter(s) to bench (default: this one)")
    ap.add_argument("--node", help="also bench the Node bootstrap with this node binary")
    ap.add_argument("-n", type=int, default=30)
    args = ap.parse_args()

    code_dir = tempfile.mkdtemp(prefix="lambdalet-bench-")
    try:
        with open(os.path.join(code_dir, "app.py"), "w") as f:
            f.write("def handler(event, context):\n    return {'ok': True, 'event': event}\n")
        with open(os.path.join(code_dir, "index.js"), "w") as f:
            f.write("exports.handler = async (event) => ({ ok: true, event });\n")

        for py in args.python or [sys.executable]:
            base = bench_baseline([py, "-c", "import app"], code_dir, args.n)
            boot = bench_bootstrap([py, "-u", os.path.join(RUNTIMES, "python", "bootstrap.py")], code_dir, "app.handler", args.n)
            b, s = median_ms(base), median_ms(boot)
            print("python %-45s baseline %7.2f ms  bootstrap->first response %7.2f ms  ratio %.2fx" % (py, b, s, s / b))
        if args.node:
            base = bench_baseline([args.node, "-e", "require('./index.js')"], code_dir, args.n)
            boot = bench_bootstrap([args.node, os.path.join(RUNTIMES, "node", "bootstrap.js")], code_dir, "index.handler", args.n)
            b, s = median_ms(base), median_ms(boot)
            print("node   %-45s baseline %7.2f ms  bootstrap->first response %7.2f ms  ratio %.2fx" % (args.node, b, s, s / b))
    finally:
        shutil.rmtree(code_dir, True)


if __name__ == "__main__":
    main()
