"""End-to-end tests of the sandbox runtime clients (runtimes/python/bootstrap.py,
runtimes/node/bootstrap.js) against the fake Runtime API.

    python3 -m unittest discover -s runtimes/tests

Each test writes a small function into a temp dir, launches the bootstrap the
way the daemon does (cwd = code dir, stdout+stderr on one pipe, Lambda env
vars) and drives it through fake_runtime_api.FakeRuntimeAPI.

Knobs: LAMBDALET_TEST_PYTHON (interpreter, default: the one running the tests),
LAMBDALET_TEST_NODE (default: `node` on PATH; Node tests skip without it).
"""

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fake_runtime_api import FakeRuntimeAPI  # noqa: E402

RUNTIMES = os.path.dirname(HERE)
SRC_PY_BOOTSTRAP = os.path.join(RUNTIMES, "python", "bootstrap.py")
SRC_NODE_BOOTSTRAP = os.path.join(RUNTIMES, "node", "bootstrap.js")
PYTHON = os.environ.get("LAMBDALET_TEST_PYTHON") or sys.executable
NODE = os.environ.get("LAMBDALET_TEST_NODE") or shutil.which("node")

# Like the daemon, run copies written to a runtime dir of their own (this also
# keeps the Python bootstrap's bytecode cache out of the source tree).
RUNTIME_DIR = None
PY_BOOTSTRAP = None
NODE_BOOTSTRAP = None


def copy_runtimes(dest):
    for src in (SRC_PY_BOOTSTRAP, SRC_NODE_BOOTSTRAP):
        sub = os.path.join(dest, os.path.basename(os.path.dirname(src)))
        os.makedirs(sub, exist_ok=True)
        shutil.copy2(src, sub)
    return os.path.join(dest, "python", "bootstrap.py"), os.path.join(dest, "node", "bootstrap.js")


def setUpModule():
    global RUNTIME_DIR, PY_BOOTSTRAP, NODE_BOOTSTRAP
    RUNTIME_DIR = tempfile.mkdtemp(prefix="lambdalet-runtimes-")
    PY_BOOTSTRAP, NODE_BOOTSTRAP = copy_runtimes(RUNTIME_DIR)


def tearDownModule():
    shutil.rmtree(RUNTIME_DIR, True)

SIX_MB = 6 * 1024 * 1024
TS_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class LogCollector(object):
    """Reads the runtime's stdout+stderr pipe.  snapshot() first drains whatever
    is already in the pipe, so it shows exactly what the runtime had written
    (not merely what a reader thread happened to pick up) at that moment."""

    def __init__(self, pipe):
        self.fd = pipe.fileno()
        os.set_blocking(self.fd, False)
        self.data = bytearray()
        self.eof = False
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run)
        self.thread.daemon = True
        self.thread.start()

    def _drain_locked(self):
        while not self.eof:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                self.eof = True
                return
            if not chunk:
                self.eof = True
                return
            self.data += chunk

    def _run(self):
        while not self.eof:
            try:
                select.select([self.fd], [], [], 0.05)
            except (OSError, ValueError):
                return
            with self.lock:
                self._drain_locked()

    def snapshot(self):
        with self.lock:
            self._drain_locked()
            return self.data.decode("utf-8", "replace")

    def wait_eof(self, timeout=5.0):
        self.thread.join(timeout)
        return self.snapshot()

    def wait_for(self, needle, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            text = self.snapshot()
            if needle in text:
                return text
            if time.monotonic() > deadline:
                raise AssertionError("%r not in log within %.1fs; log:\n%s" % (needle, timeout, text))
            time.sleep(0.01)


class Runtime(object):
    """One bootstrap process + its fake Runtime API."""

    def __init__(self, testcase, lang, files, handler, env=None, api=None, python_args=("-u",), bootstrap=None):
        self.tc = testcase
        bootstrap = bootstrap or (PY_BOOTSTRAP if lang == "python" else NODE_BOOTSTRAP)
        self.code_dir = tempfile.mkdtemp(prefix="lambdalet-rt-")
        testcase.addCleanup(shutil.rmtree, self.code_dir, True)
        for rel, content in files.items():
            full = os.path.join(self.code_dir, rel)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(full, mode) as f:
                f.write(content if isinstance(content, bytes) else textwrap.dedent(content))
        self.api = api or FakeRuntimeAPI()
        self.api.start()
        testcase.addCleanup(self.api.stop)
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": self.code_dir,
            "LAMBDA_RUNTIME_DIR": os.path.dirname(bootstrap),
            "AWS_LAMBDA_FUNCTION_NAME": "test-fn",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/test-fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11" if lang == "python" else "AWS_Lambda_nodejs20.x",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "TZ": "UTC",
        }
        full_env.update(env or {})
        if lang == "python":
            cmd = [PYTHON] + list(python_args) + [bootstrap]
        else:
            cmd = [NODE, bootstrap]
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.code_dir,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        testcase.addCleanup(self.kill)
        self.log = LogCollector(self.proc.stdout)
        self.api.on_result = self._on_result

    def _on_result(self, record):
        record["log_at_arrival"] = self.log.snapshot()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.wait_eof(2)
        self.proc.stdout.close()

    def invoke(self, event, timeout=10.0, **kw):
        rid = self.api.push(event, **kw)
        return self.api.wait_result(rid, timeout)

    def invoke_json(self, event, **kw):
        rec = self.invoke(event, **kw)
        self.tc.assertEqual(rec["kind"], "response", "expected a response, got %r\nlog:\n%s" % (rec, self.log.snapshot()))
        return json.loads(rec["body"])

    def wait_exit(self, timeout=10.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("runtime did not exit; log:\n%s" % self.log.snapshot())


def log_lines(text):
    """Records as the daemon sees them (one per newline)."""
    return [line for line in text.split("\n") if line]


# ==========================================================================
# Python
# ==========================================================================

PY_APP = """
import os
import sys

calls = 0

def handler(event, context):
    global calls
    calls += 1
    return {"calls": calls, "event": event}

def ctx(event, context):
    cc = context.client_context
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_context": None if cc is None else {
            "custom": cc.custom,
            "env": cc.env,
            "client": None if cc.client is None else {
                "installation_id": cc.client.installation_id,
                "app_title": cc.client.app_title,
                "app_version_name": cc.client.app_version_name,
                "app_version_code": cc.client.app_version_code,
                "app_package_name": cc.client.app_package_name,
            },
        },
        "remaining": context.get_remaining_time_in_millis(),
        "remaining_type": type(context.get_remaining_time_in_millis()).__name__,
    }

def env(event, context):
    return {
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "mine": os.environ.get("MY_SETTING"),
        "tz": os.environ.get("TZ"),
        "region": os.environ.get("AWS_REGION"),
        "cwd": os.getcwd(),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "sys_path0": sys.path[0],
    }

def echo(event, context):
    return event

def modules(event, context):
    return sorted(sys.modules)

class Boom(Exception):
    pass

def _inner(x):
    raise Boom("went wrong: %s" % x)

def fails(event, context):
    _inner(event.get("x"))

def returns_set(event, context):
    return {1, 2}

def returns_bytes(event, context):
    return b"\\x00raw\\xff"

def returns_decimal(event, context):
    from decimal import Decimal
    return {"int": Decimal("42"), "frac": Decimal("1.5"), "list": [Decimal("-3")]}

def returns_none(event, context):
    return None

def big(event, context):
    return "x" * event["n"]

def size(event, context):
    return {"len": len(event["blob"]), "type": type(event["blob"]).__name__}

def binary(event, context):
    if event == b"str":
        return "h\\u00e9llo"
    if event == b"obj":
        return {"type": type(event).__name__}
    return bytes(reversed(event))

def noisy(event, context):
    # No flush, and the process runs without -u: the bootstrap must flush.
    print("stdout-marker-" + context.aws_request_id)
    sys.stderr.write("stderr-marker-" + context.aws_request_id + "\\n")
    if event.get("fail"):
        raise ValueError("noisy failure")
    return "ok"
"""


class PythonBootstrapTests(unittest.TestCase):
    def start(self, handler, files=None, **kw):
        return Runtime(self, "python", files if files is not None else {"app.py": PY_APP}, handler, **kw)

    # -- basics, keep-alive, state -------------------------------------------

    def test_many_invocations_reuse_module_state_over_one_connection(self):
        rt = self.start("app.handler")
        for i in range(1, 41):
            out = rt.invoke_json({"i": i, "s": "h\u00e9\u4e16"})
            self.assertEqual(out, {"calls": i, "event": {"i": i, "s": "h\u00e9\u4e16"}})
        self.assertEqual(rt.api.connections, 1)
        self.assertEqual(rt.proc.poll(), None)

    def test_response_is_json_dumps_of_result(self):
        rt = self.start("app.echo")
        event = {"a": [1, 2.5, -3e-7, None, True, False], "u": "\u00fc\U0001f600", "big": 2 ** 70, "nested": {"k": {}}}
        rec = rt.invoke(event)
        self.assertEqual(rec["kind"], "response")
        self.assertEqual(rec["body"], json.dumps(event).encode())
        self.assertEqual(rec["headers"]["content-type"], "application/json")
        rec = rt.invoke(b'  "just a string"  ')
        self.assertEqual(rec["body"], b'"just a string"')

    def test_none_decimal_and_bytes_results(self):
        rt = self.start("app.returns_none")
        self.assertEqual(rt.invoke({})["body"], b"null")
        rt = self.start("app.returns_decimal")
        self.assertEqual(rt.invoke_json({}), {"int": 42, "frac": 1.5, "list": [-3]})
        # awslambdaric passes bytes through untouched even in JSON mode.
        rt = self.start("app.returns_bytes")
        rec = rt.invoke({})
        self.assertEqual((rec["kind"], rec["body"]), ("response", b"\x00raw\xff"))

    def test_nested_handler_path(self):
        rt = self.start(
            "src/pkg/mod.handler",
            files={"src/pkg/mod.py": "def handler(event, context):\n    return {'where': __name__}\n"},
        )
        self.assertEqual(rt.invoke_json({}), {"where": "src.pkg.mod"})

    # -- context and environment -----------------------------------------------

    def test_context_attributes(self):
        rt = self.start("app.ctx")
        cc = {
            "custom": {"k": "v"},
            "env": {"platform": "edge"},
            "client": {"installation_id": "inst", "app_title": "title", "app_version_code": "7"},
        }
        rec = rt.invoke({}, request_id="req-1234", timeout_s=5, client_context=cc,
                        cognito_identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"},
                        arn="arn:aws:lambda:eu-west-1:123456789012:function:test-fn:prod")
        out = json.loads(rec["body"])
        self.assertEqual(out["function_name"], "test-fn")
        self.assertEqual(out["function_version"], "$LATEST")
        self.assertEqual(out["invoked_function_arn"], "arn:aws:lambda:eu-west-1:123456789012:function:test-fn:prod")
        self.assertEqual(out["memory_limit_in_mb"], "256")
        self.assertEqual(out["aws_request_id"], "req-1234")
        self.assertEqual(out["log_group_name"], "/aws/lambda/test-fn")
        self.assertEqual(out["log_stream_name"], "2024/01/01/[$LATEST]0123456789abcdef")
        self.assertEqual(out["identity"], ["id-1", "pool-1"])
        self.assertEqual(
            out["client_context"],
            {
                "custom": {"k": "v"},
                "env": {"platform": "edge"},
                "client": {"installation_id": "inst", "app_title": "title", "app_version_name": None,
                           "app_version_code": "7", "app_package_name": None},
            },
        )
        self.assertEqual(out["remaining_type"], "int")
        self.assertTrue(3000 < out["remaining"] <= 5000, out["remaining"])

        out = rt.invoke_json({}, deadline_ms=int(time.time() * 1000) - 10000)
        self.assertEqual(out["remaining"], 0)
        self.assertEqual(out["identity"], [None, None])
        self.assertIsNone(out["client_context"])

    def test_env_vars_and_trace_id(self):
        rt = self.start("app.env", env={"MY_SETTING": "hello"})
        out = rt.invoke_json({}, trace_id="Root=1-abc;Parent=def;Sampled=1")
        self.assertEqual(out["trace"], "Root=1-abc;Parent=def;Sampled=1")
        self.assertEqual(out["mine"], "hello")
        self.assertEqual(out["tz"], "UTC")
        self.assertEqual(out["region"], "eu-west-1")
        self.assertEqual(os.path.realpath(out["cwd"]), os.path.realpath(rt.code_dir))
        self.assertEqual(out["sys_path0"], rt.code_dir)
        out = rt.invoke_json({}, trace_id=None)
        self.assertIsNone(out["trace"])

    def test_layers_come_after_the_code_and_the_last_layer_wins(self):
        version = "python%d.%d" % tuple(int(x) for x in subprocess.check_output(
            [PYTHON, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"]).split())
        layers = []
        for name, files in (
            ("first", {"python/shared.py": "WHO = 'first'\n", "python/only_first.py": "X = 1\n",
                       "python/lib/%s/site-packages/deep.py" % version: "WHERE = 'site-packages'\n"}),
            ("second", {"python/shared.py": "WHO = 'second'\n", "python/extra.pth": "extra\n",
                        "python/extra/by_pth.py": "OK = True\n"}),
        ):
            root = tempfile.mkdtemp(prefix="lambdalet-layer-%s-" % name)
            self.addCleanup(shutil.rmtree, root, True)
            for rel, content in files.items():
                full = os.path.join(root, rel)
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "w") as f:
                    f.write(content)
            layers.append(root)
        app = textwrap.dedent("""
            import sys
            def handler(event, context):
                import shared, only_first, deep, by_pth
                return {"who": shared.WHO, "deep": deep.WHERE, "pth": by_pth.OK, "path": sys.path[:6]}
        """)
        rt = self.start("app.handler", files={"app.py": app}, env={"LAMBDALET_LAYERS": ":".join(layers)})
        out = rt.invoke_json({})
        self.assertEqual((out["who"], out["deep"], out["pth"]), ("second", "site-packages", True))
        first, second = layers
        self.assertEqual(out["path"][:5], [
            rt.code_dir,
            second + "/python/lib/%s/site-packages" % version, second + "/python",
            first + "/python/lib/%s/site-packages" % version, first + "/python",
        ])
        # Without the variable the layers are where AWS has them, at /opt.
        rt = self.start("app.env")
        self.assertEqual(rt.invoke_json({})["sys_path0"], rt.code_dir)
        rt = self.start("app.path", files={"app.py": "import sys\ndef path(e, c):\n    return sys.path[:3]\n"})
        self.assertEqual(rt.invoke_json({})[1:], ["/opt/python/lib/%s/site-packages" % version, "/opt/python"])

    def test_bad_context_header(self):
        rt = self.start("app.ctx")
        rec = rt.invoke({}, client_context="{nope")
        body = json.loads(rec["body"])
        self.assertEqual(rec["kind"], "error")
        self.assertEqual(body["errorType"], "Runtime.LambdaContextUnmarshalError")
        self.assertTrue(body["errorMessage"].startswith("Unable to parse Client Context JSON: "), body)

    # -- init errors --------------------------------------------------------------

    def assert_init_error(self, handler, files, error_type, message, frames_from=None):
        rt = self.start(handler, files=files)
        rec = rt.api.wait_init_error()
        self.assertEqual(rt.wait_exit(), 1)
        body = json.loads(rec["body"])
        self.assertEqual(set(body), {"errorMessage", "errorType", "requestId", "stackTrace"})
        self.assertEqual(body["errorType"], error_type)
        self.assertEqual(rec["headers"]["lambda-runtime-function-error-type"], error_type)
        self.assertEqual(body["requestId"], "")
        if hasattr(message, "match"):
            self.assertRegex(body["errorMessage"], message)
        else:
            self.assertEqual(body["errorMessage"], message)
        self.assertIsInstance(body["stackTrace"], list)
        if frames_from:
            self.assertTrue(body["stackTrace"], body)
            for frame in body["stackTrace"]:
                self.assertIn(frames_from, frame)
        log = rt.log.wait_eof()
        self.assertIn("[ERROR] %s: %s" % (error_type, body["errorMessage"]), log)
        self.assertIn("Traceback (most recent call last):", log)
        self.assertEqual(rt.api.next_calls, 0, "must not ask for events after an init error")
        return body

    def test_init_error_malformed_handler(self):
        self.assert_init_error("app", {"app.py": PY_APP}, "Runtime.MalformedHandlerName",
                               "Bad handler 'app': not enough values to unpack (expected 2, got 1)")

    def test_init_error_missing_module(self):
        self.assert_init_error("nope.handler", {"app.py": PY_APP}, "Runtime.ImportModuleError",
                               "Unable to import module 'nope': No module named 'nope'")

    def test_init_error_missing_dependency(self):
        self.assert_init_error("app.handler", {"app.py": "import not_a_real_dependency_xyz\n"},
                               "Runtime.ImportModuleError",
                               "Unable to import module 'app': No module named 'not_a_real_dependency_xyz'")

    def test_init_error_syntax_error(self):
        body = self.assert_init_error("app.handler", {"app.py": "x = 1\ndef handler(:\n    pass\n"},
                                      "Runtime.UserCodeSyntaxError", re.compile(r"^Syntax error in module 'app': .+"))
        self.assertEqual(len(body["stackTrace"]), 1)
        self.assertRegex(body["stackTrace"][0], r'^  File ".*app\.py" Line 2\n    ')

    def test_init_error_exception_at_import(self):
        body = self.assert_init_error(
            "app.handler",
            {"app.py": "def setup():\n    raise KeyError('missing config')\nsetup()\n"},
            "KeyError", "'missing config'", frames_from="app.py")
        self.assertEqual(len(body["stackTrace"]), 2)
        self.assertTrue(body["stackTrace"][0].startswith('  File "'), body)
        self.assertTrue(body["stackTrace"][1].endswith("in setup\n    raise KeyError('missing config')\n"), body)

    def test_init_error_handler_not_found(self):
        self.assert_init_error("app.nothere", {"app.py": PY_APP}, "Runtime.HandlerNotFound",
                               "Handler 'nothere' missing on module 'app'")

    def test_init_error_builtin_module_conflict(self):
        self.assert_init_error("sys.handler", {"app.py": PY_APP}, "Runtime.BuiltInModuleConflict",
                               "Cannot use built-in module sys as a handler module")

    # -- invocation errors --------------------------------------------------------

    def test_handler_exception_shape_and_recovery(self):
        rt = self.start("app.fails")
        rec = rt.invoke({"x": 7}, request_id="rid-err-1")
        self.assertEqual(rec["kind"], "error")
        self.assertEqual(rec["headers"]["lambda-runtime-function-error-type"], "Boom")
        body = json.loads(rec["body"])
        self.assertEqual(list(body), ["errorMessage", "errorType", "requestId", "stackTrace"])
        self.assertEqual(body["errorMessage"], "went wrong: 7")
        self.assertEqual(body["errorType"], "Boom")
        self.assertEqual(body["requestId"], "rid-err-1")
        app_py = os.path.join(rt.code_dir, "app.py")
        lines = PY_APP.splitlines()
        fails_line = next(i for i, l in enumerate(lines, 1) if l.strip() == '_inner(event.get("x"))')
        inner_line = next(i for i, l in enumerate(lines, 1) if "raise Boom(" in l)
        # traceback.format_list() entries (3.11+ may append a caret line to each).
        expected = [
            '  File "%s", line %d, in fails\n    _inner(event.get("x"))\n' % (app_py, fails_line),
            '  File "%s", line %d, in _inner\n    raise Boom("went wrong: %%s" %% x)\n' % (app_py, inner_line),
        ]
        self.assertEqual(len(body["stackTrace"]), 2, body["stackTrace"])
        for frame, want in zip(body["stackTrace"], expected):
            self.assertTrue(frame.startswith(want), (frame, want))
        # Logged before the error was posted, as one record:
        log = rec["log_at_arrival"]
        record = [l for l in log_lines(log) if l.startswith("[ERROR] Boom: went wrong: 7")]
        self.assertEqual(len(record), 1, log)
        parts = record[0].split("\r")
        self.assertEqual(parts[1], "Traceback (most recent call last):")
        self.assertEqual(parts[2], "\u00a0\u00a0File \"%s\", line %d, in fails" % (app_py, fails_line))
        # Still alive:
        rt2_out = rt.invoke({"x": 8})
        self.assertEqual(json.loads(rt2_out["body"])["errorMessage"], "went wrong: 8")
        self.assertIsNone(rt.proc.poll())

    def test_marshal_error(self):
        rt = self.start("app.returns_set")
        rec = rt.invoke({})
        body = json.loads(rec["body"])
        self.assertEqual(rec["kind"], "error")
        self.assertEqual(body["errorType"], "Runtime.MarshalError")
        self.assertEqual(body["errorMessage"], "Unable to marshal response: Object of type set is not JSON serializable")
        self.assertEqual(body["stackTrace"], [])
        self.assertIn("[ERROR] Runtime.MarshalError: Unable to marshal response", rec["log_at_arrival"])
        self.assertEqual(rt.invoke({})["kind"], "error")  # still serving

    def test_unmarshal_error(self):
        rt = self.start("app.echo")
        rec = rt.invoke(b"{not json")
        body = json.loads(rec["body"])
        self.assertEqual(body["errorType"], "Runtime.UnmarshalError")
        try:
            json.loads("{not json")
        except ValueError as e:
            expected = "Unable to unmarshal input: %s" % e
        self.assertEqual(body["errorMessage"], expected)
        rec = rt.invoke(b"")
        body = json.loads(rec["body"])
        self.assertEqual(body["errorType"], "Runtime.UnmarshalError")
        self.assertEqual(body["errorMessage"], "Unable to unmarshal input: Expecting value: line 1 column 1 (char 0)")
        rec = rt.invoke(b'{"a": 1} trailing')
        self.assertEqual(json.loads(rec["body"])["errorType"], "Runtime.UnmarshalError")
        self.assertEqual(rt.invoke_json({"ok": True}), {"ok": True})

    # -- payload encodings --------------------------------------------------------

    def test_binary_mode_both_directions(self):
        rt = self.start("app.binary", env={"LAMBDALET_PAYLOAD_ENCODING": "binary"})
        payload = bytes(range(256)) + b"\xff\xfe not utf-8 \x80"
        rec = rt.invoke(payload, content_type="application/octet-stream")
        self.assertEqual(rec["kind"], "response")
        self.assertEqual(rec["body"], bytes(reversed(payload)))
        self.assertEqual(rec["headers"]["content-type"], "application/octet-stream")
        rec = rt.invoke(b"str")
        self.assertEqual(rec["body"], "h\u00e9llo".encode("utf-8"))
        rec = rt.invoke(b"obj")
        self.assertEqual(json.loads(rec["body"]), {"type": "bytes"})
        self.assertEqual(rec["headers"]["content-type"], "application/json")

    def test_large_event_and_oversized_response(self):
        rt = self.start("app.size")
        blob = "y" * (5 * 1024 * 1024)
        self.assertEqual(rt.invoke_json({"blob": blob}), {"len": len(blob), "type": "str"})
        rt = self.start("app.big")
        rec = rt.invoke({"n": SIX_MB + 1000})
        self.assertEqual((rec["kind"], rec["status"]), ("too_large", 413))
        self.assertEqual(rt.invoke({"n": 3})["body"], b'"xxx"')  # carries on after a 413
        # A server that refuses before reading the body and drops the connection.
        rt = self.start("app.big", api=FakeRuntimeAPI(early_reject=True))
        for _ in range(2):
            rec = rt.invoke({"n": SIX_MB + 1000})
            self.assertEqual((rec["kind"], rec["status"]), ("too_large", 413))
            self.assertEqual(rt.invoke({"n": 3})["body"], b'"xxx"')
        self.assertIsNone(rt.proc.poll())

    # -- logging ------------------------------------------------------------------

    def test_logging_handler_installed_like_aws(self):
        app = """
            import logging
            logger = logging.getLogger()
            logger.setLevel(logging.INFO)
            logging.basicConfig(level=logging.DEBUG, format="%(message)s")  # a no-op on AWS
            logger.info("loaded")

            def handler(event, context):
                logger.info("hello %s", event["n"])
                logging.getLogger("child").warning("careful\\nsecond line")
                logger.debug("not shown")
                return {"handlers": len(logging.getLogger().handlers), "level": logger.level}
        """
        rt = self.start("app.handler", files={"app.py": app})
        rec = rt.invoke({"n": 1}, request_id="req-log-1")
        out = json.loads(rec["body"])
        self.assertEqual(out, {"handlers": 1, "level": 20})
        log = rec["log_at_arrival"]
        self.assertRegex(log, r"(?m)^\[INFO\]\t%s\t\tloaded$" % TS_RE)
        self.assertRegex(log, r"(?m)^\[INFO\]\t%s\treq-log-1\thello 1$" % TS_RE)
        self.assertRegex(log, r"(?m)^\[WARNING\]\t%s\treq-log-1\tcareful\nsecond line$" % TS_RE)
        self.assertNotIn("not shown", log)

    def test_json_log_format_and_level(self):
        app = """
            import logging
            logger = logging.getLogger()

            def handler(event, context):
                logger.info("info skipped")
                logger.warning("hello %s", event["n"])
                try:
                    raise ValueError("bad")
                except ValueError:
                    logging.getLogger("child").exception("caught")
                print("plain")
                return {}
        """
        rt = self.start("app.handler", files={"app.py": app},
                        env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"})
        rec = rt.invoke({"n": 1}, request_id="req-json")
        lines = [l for l in rec["log_at_arrival"].splitlines() if l]
        self.assertNotIn("info skipped", rec["log_at_arrival"])
        first = json.loads(lines[0])
        self.assertEqual({k: first[k] for k in ("level", "message", "logger", "requestId")},
                         {"level": "WARNING", "message": "hello 1", "logger": "root", "requestId": "req-json"})
        self.assertRegex(first["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        second = json.loads(lines[1])
        self.assertEqual((second["logger"], second["errorType"], second["errorMessage"]), ("child", "ValueError", "bad"))
        self.assertIsInstance(second["stackTrace"], list)
        self.assertEqual(lines[2], "plain")

    def test_logging_imported_lazily_inside_handler(self):
        app = """
            import sys

            def handler(event, context):
                seen = "logging" in sys.modules
                import logging
                logging.getLogger("x").error("from handler")
                return {"logging_preloaded": seen}
        """
        rt = self.start("app.handler", files={"app.py": app})
        rec = rt.invoke({}, request_id="req-lazy")
        self.assertEqual(json.loads(rec["body"]), {"logging_preloaded": False})
        self.assertRegex(rec["log_at_arrival"], r"(?m)^\[ERROR\]\t%s\treq-lazy\tfrom handler$" % TS_RE)

    def test_bootstrap_imports_stay_light(self):
        baseline = subprocess.run(
            [PYTHON, "-u", "-c", "import sys, json; print(json.dumps(sorted(sys.modules)))"],
            stdout=subprocess.PIPE, check=True, env={"PATH": os.environ.get("PATH", "")},
        )
        before = set(json.loads(baseline.stdout))
        before.discard("json")
        rt = self.start("app.modules", files={"app.py": "import sys\n" + PY_APP})
        added = set(rt.invoke_json({})) - before
        added.discard("app")
        self.assertLessEqual(added, {"_socket", "_json", "json", "json.decoder", "json.scanner", "json.encoder"},
                             "bootstrap imported: %s" % sorted(added))
        heavy = {"logging", "traceback", "http", "http.client", "urllib", "typing", "dataclasses", "asyncio",
                 "socket", "selectors", "threading", "importlib.util"}
        self.assertFalse(added & heavy, sorted(added & heavy))
        if "re" not in before:
            self.assertNotIn("re", added)
            self.assertNotIn("json", added)

    # -- output ordering / process behaviour --------------------------------------

    def test_output_flushed_before_response(self):
        # Without -u, stdout to a pipe is block-buffered: only the bootstrap's
        # flush makes the lines visible before the response arrives.
        rt = self.start("app.noisy", python_args=())
        rec = rt.invoke({}, request_id="flush-1")
        self.assertEqual(rec["kind"], "response")
        self.assertIn("stdout-marker-flush-1\n", rec["log_at_arrival"])
        self.assertIn("stderr-marker-flush-1\n", rec["log_at_arrival"])
        rec = rt.invoke({"fail": True}, request_id="flush-2")
        self.assertEqual(rec["kind"], "error")
        self.assertIn("stdout-marker-flush-2\n", rec["log_at_arrival"])
        self.assertIn("[ERROR] ValueError: noisy failure", rec["log_at_arrival"])

    def test_chunked_responses_and_reconnects(self):
        rt = self.start("app.handler", api=FakeRuntimeAPI(chunked=True))
        for i in range(1, 6):
            self.assertEqual(rt.invoke_json({"i": i})["calls"], i)
        self.assertEqual(rt.api.connections, 1)
        rt = self.start("app.handler", api=FakeRuntimeAPI(chunked=True, close_after_response=True))
        for i in range(1, 6):
            self.assertEqual(rt.invoke_json({"i": "x" * 1000 * i})["calls"], i)
        self.assertGreaterEqual(rt.api.connections, 5)

    def test_sigterm_exits_promptly(self):
        rt = self.start("app.handler")
        rt.invoke_json({})
        rt.api.wait_next_calls(2)  # blocked in GET /next
        rt.proc.send_signal(signal.SIGTERM)
        self.assertEqual(rt.wait_exit(3), -signal.SIGTERM)

    # -- bytecode cache of the bootstrap itself ------------------------------------

    def test_bytecode_cache(self):
        runtime_dir = tempfile.mkdtemp(prefix="lambdalet-runtimes-")
        self.addCleanup(shutil.rmtree, runtime_dir, True)
        bootstrap, _ = copy_runtimes(runtime_dir)
        cache_dir = os.path.join(os.path.dirname(bootstrap), "__pycache__")

        def caches():
            return sorted(f for f in os.listdir(cache_dir) if f.endswith(".lambdalet.pyc")) if os.path.isdir(cache_dir) else []

        # PYTHONDONTWRITEBYTECODE: no cache written, still works.
        rt = self.start("app.handler", bootstrap=bootstrap, env={"PYTHONDONTWRITEBYTECODE": "1"})
        self.assertEqual(rt.invoke_json({})["calls"], 1)
        self.assertEqual(caches(), [])

        rt = self.start("app.handler", bootstrap=bootstrap)
        self.assertEqual(rt.invoke_json({})["calls"], 1)
        self.assertEqual(len(caches()), 1)
        cache = os.path.join(cache_dir, caches()[0])
        with open(cache, "rb") as f:
            good = f.read()
        self.assertTrue(good.startswith(b"lambdalet-bootstrap "))
        mtime = os.stat(cache).st_mtime_ns

        # A valid cache is reused as is.
        rt = self.start("app.fails", bootstrap=bootstrap)
        self.assertEqual(rt.invoke({})["kind"], "error")
        self.assertEqual(os.stat(cache).st_mtime_ns, mtime)

        # A corrupt cache (right header, garbage code) is replaced.
        header = good.split(b"\n", 1)[0] + b"\n"
        with open(cache, "wb") as f:
            f.write(header + b"garbage")
        rt = self.start("app.handler", bootstrap=bootstrap)
        self.assertEqual(rt.invoke_json({})["calls"], 1)
        with open(cache, "rb") as f:
            self.assertEqual(f.read(), good)

        # A cache others could have written is not trusted (and gets rewritten).
        with open(cache, "wb") as f:
            f.write(header + b"garbage")
        os.chmod(cache, 0o666)
        rt = self.start("app.handler", bootstrap=bootstrap)
        self.assertEqual(rt.invoke_json({})["calls"], 1)
        self.assertFalse(os.stat(cache).st_mode & 0o022)

    def test_bootstrap_code_keeps_file_line_numbers(self):
        with open(SRC_PY_BOOTSTRAP) as f:
            lines = f.read().splitlines()
        want = lines.index("def _get_handler(handler):") + 1
        probe = (
            "import importlib.util, sys\n"
            "spec = importlib.util.spec_from_file_location('bs', sys.argv[1])\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "print(m._get_handler.__code__.co_firstlineno, m._get_handler.__code__.co_filename)\n"
        )
        for _ in range(2):  # compiled, then from the cache
            out = subprocess.run([PYTHON, "-c", probe, PY_BOOTSTRAP], stdout=subprocess.PIPE, check=True,
                                 env={"PATH": os.environ.get("PATH", "")}).stdout.decode().split()
            self.assertEqual(out, [str(want), PY_BOOTSTRAP])


# ==========================================================================
# Node.js
# ==========================================================================

NODE_APP = r"""
let calls = 0;
console.log('module loaded');

exports.handler = async (event, context) => {
  calls += 1;
  return { calls, event };
};

exports.syncValue = (event) => ({ sync: event });

exports.noReturn = (event) => {};

exports.callbackWait = (event, context, callback) => {
  setTimeout(() => console.log('timer fired'), 300);
  callback(null, { style: 'callback' });
};

exports.callbackNoWait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => console.log('late timer fired'), 1500);
  callback(null, { style: 'nowait' });
};

exports.neverCalls = (event, context, callback) => {};

exports.neverSettles = async () => new Promise(() => {});

exports.legacy = (event, context) => {
  if (event.mode === 'succeed') context.succeed({ legacy: 'succeed' });
  else if (event.mode === 'fail') context.fail(new Error('legacy fail'));
  else if (event.mode === 'failEmpty') context.fail();
  else context.done(null, { legacy: 'done' });
};

exports.ctx = async (event, context) => ({
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  awsRequestId: context.awsRequestId,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  identity: context.identity === undefined ? 'undefined' : context.identity,
  clientContext: context.clientContext === undefined ? 'undefined' : context.clientContext,
  remaining: context.getRemainingTimeInMillis(),
  waits: context.callbackWaitsForEmptyEventLoop,
  env: {
    trace: process.env._X_AMZN_TRACE_ID === undefined ? 'unset' : process.env._X_AMZN_TRACE_ID,
    mine: process.env.MY_SETTING,
    tz: process.env.TZ,
    cwd: process.cwd(),
  },
});

class ValidationError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ValidationError';
  }
}

exports.throwsSync = (event) => {
  throw new ValidationError('sync bad input');
};
exports.rejects = async (event) => {
  throw new TypeError('async bad');
};
exports.callbackError = (event, context, callback) => callback(new Error('cb bad'));
exports.rejectsString = async () => { throw 'oops'; };
exports.rejectsObject = () => Promise.reject({ a: 1 });

exports.uncaught = (event) => new Promise((resolve) => {
  setTimeout(() => { throw new Error('async boom'); }, 10);
});
exports.unhandled = async (event) => {
  Promise.reject(new Error('nobody catches me'));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return 'unreachable';
};

exports.circular = async () => { const o = {}; o.self = o; return o; };
exports.bigint = async () => ({ n: 10n });
exports.undef = async () => undefined;

exports.binary = async (event) => {
  if (!Buffer.isBuffer(event)) return { notBuffer: typeof event };
  const s = event.toString('latin1');
  if (s === 'str') return 'h\u00e9llo';
  if (s === 'obj') return { isBuffer: true };
  return Buffer.from(event).reverse();
};

exports.size = async (event) => ({ len: event.blob.length });
exports.big = async (event) => 'x'.repeat(event.n);

exports.logs = async (event, context) => {
  console.log('log %s=%d', 'a', 1);
  console.info('info');
  console.warn('warn');
  console.error('error', { k: 'v' });
  console.debug('debug');
  console.trace('trace');
  console.log('multi\nline');
  return 'ok';
};

exports.noisy = async (event, context) => {
  console.log('console-marker-' + context.awsRequestId);
  process.stdout.write('stdout-marker-' + context.awsRequestId + '\n');
  process.stderr.write('stderr-marker-' + context.awsRequestId + '\n');
  return 'ok';
};

exports.nested = { deeper: { fn: async () => 'nested ok' } };
exports.notFn = 42;
"""


@unittest.skipUnless(NODE, "node not found")
class NodeBootstrapTests(unittest.TestCase):
    def start(self, handler, files=None, **kw):
        return Runtime(self, "node", files if files is not None else {"index.js": NODE_APP}, handler, **kw)

    # -- handler styles -------------------------------------------------------------

    def test_async_handler_module_state_and_keepalive(self):
        rt = self.start("index.handler")
        for i in range(1, 41):
            self.assertEqual(rt.invoke_json({"i": i, "s": "h\u00e9\u4e16"}), {"calls": i, "event": {"i": i, "s": "h\u00e9\u4e16"}})
        self.assertEqual(rt.api.connections, 1)
        self.assertIsNone(rt.proc.poll())

    def test_sync_handler_return_value(self):
        # nodejs16.x-22.x ignore a plain return value: the answer is null.
        rt = self.start("index.syncValue")
        self.assertEqual(rt.invoke({"a": 1})["body"], b"null")
        rt = self.start("index.noReturn")
        self.assertEqual(rt.invoke({})["body"], b"null")

    def test_callback_waits_for_empty_event_loop(self):
        rt = self.start("index.callbackWait")
        rec = rt.invoke({})
        self.assertEqual(json.loads(rec["body"]), {"style": "callback"})
        self.assertIn("\tINFO\ttimer fired", rec["log_at_arrival"])

    def test_callback_without_waiting(self):
        rt = self.start("index.callbackNoWait")
        start = time.monotonic()
        rec = rt.invoke({})
        self.assertLess(time.monotonic() - start, 1.2)
        self.assertEqual(json.loads(rec["body"]), {"style": "nowait"})
        self.assertNotIn("late timer fired", rec["log_at_arrival"])
        self.assertEqual(rt.invoke_json({}), {"style": "nowait"})

    def test_callback_never_called_and_promise_never_settled(self):
        rt = self.start("index.neverCalls")
        self.assertEqual(rt.invoke({})["body"], b"null")
        self.assertEqual(rt.invoke({})["body"], b"null")
        rt = self.start("index.neverSettles")
        rec = rt.invoke({})
        self.assertEqual(rec["kind"], "error")
        self.assertEqual(json.loads(rec["body"])["errorType"], "Runtime.NodeJsExit")
        self.assertEqual(rt.invoke({})["kind"], "error")

    def test_legacy_context_methods(self):
        rt = self.start("index.legacy")
        self.assertEqual(rt.invoke_json({"mode": "succeed"}), {"legacy": "succeed"})
        self.assertEqual(rt.invoke_json({"mode": "done"}), {"legacy": "done"})
        rec = rt.invoke({"mode": "fail"})
        self.assertEqual((rec["kind"], json.loads(rec["body"])["errorMessage"]), ("error", "legacy fail"))
        rec = rt.invoke({"mode": "failEmpty"})
        body = json.loads(rec["body"])
        self.assertEqual((body["errorType"], body["errorMessage"], body["trace"]), ("string", "handled", []))

    # -- module formats and handler paths ---------------------------------------------

    def test_commonjs_cjs_extension(self):
        rt = self.start("lib.handler", files={"lib.cjs": "exports.handler = async () => 'cjs ok';\n"})
        self.assertEqual(rt.invoke_json({}), "cjs ok")

    def test_esm_mjs(self):
        rt = self.start("index.handler", files={
            "index.mjs": "import { helper } from './helper.mjs';\nexport const handler = async (e) => helper(e);\n",
            "helper.mjs": "export const helper = (e) => ({ esm: true, e, meta: typeof import.meta.url });\n",
        })
        self.assertEqual(rt.invoke_json({"x": 1}), {"esm": True, "e": {"x": 1}, "meta": "string"})

    def test_esm_js_with_package_type_module(self):
        rt = self.start("app.handler", files={
            "package.json": json.dumps({"name": "fn", "type": "module"}),
            "app.js": "export async function handler(event, context) { return { esm: typeof require }; }\n",
        })
        self.assertEqual(rt.invoke_json({}), {"esm": "undefined"})

    def test_nested_paths_property_and_directory_index(self):
        rt = self.start("src/handlers/app.handler", files={"src/handlers/app.js": "exports.handler = async () => __filename;\n"})
        self.assertTrue(rt.invoke_json({}).endswith("/src/handlers/app.js"))
        rt = self.start("index.nested.deeper.fn")
        self.assertEqual(rt.invoke_json({}), "nested ok")
        rt = self.start("lib.handler", files={"lib/index.js": "exports.handler = async () => 'dir index';\n"})
        self.assertEqual(rt.invoke_json({}), "dir index")
        rt = self.start("src/esm/mod.handler", files={
            "src/esm/package.json": json.dumps({"type": "module"}),
            "src/esm/mod.js": "export const handler = async () => 'nested esm';\n",
        })
        self.assertEqual(rt.invoke_json({}), "nested esm")

    # -- context / env ----------------------------------------------------------------

    def test_context_and_env(self):
        rt = self.start("index.ctx", env={"MY_SETTING": "hello"})
        cc = {"client": {"installation_id": "inst"}, "custom": {"k": "v"}, "env": {"platform": "edge"}}
        rec = rt.invoke({}, request_id="req-ctx", timeout_s=5, client_context=cc,
                        cognito_identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"},
                        trace_id="Root=1-abc;Sampled=1")
        out = json.loads(rec["body"])
        self.assertEqual(out["functionName"], "test-fn")
        self.assertEqual(out["functionVersion"], "$LATEST")
        self.assertEqual(out["invokedFunctionArn"], "arn:aws:lambda:us-east-1:123456789012:function:test-fn")
        self.assertEqual(out["memoryLimitInMB"], "256")
        self.assertEqual(out["awsRequestId"], "req-ctx")
        self.assertEqual(out["logGroupName"], "/aws/lambda/test-fn")
        self.assertEqual(out["logStreamName"], "2024/01/01/[$LATEST]0123456789abcdef")
        self.assertEqual(out["identity"], {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"})
        self.assertEqual(out["clientContext"], cc)
        self.assertTrue(3000 < out["remaining"] <= 5000, out["remaining"])
        self.assertIs(out["waits"], True)
        self.assertEqual(out["env"]["trace"], "Root=1-abc;Sampled=1")
        self.assertEqual(out["env"]["mine"], "hello")
        self.assertEqual(out["env"]["tz"], "UTC")
        self.assertEqual(os.path.realpath(out["env"]["cwd"]), os.path.realpath(rt.code_dir))
        out = rt.invoke_json({}, trace_id=None)
        self.assertEqual(out["env"]["trace"], "unset")
        self.assertEqual(out["identity"], "undefined")
        self.assertEqual(out["clientContext"], "undefined")

    # -- init errors -------------------------------------------------------------------

    def assert_init_error(self, handler, files, error_type, message):
        rt = self.start(handler, files=files)
        rec = rt.api.wait_init_error()
        self.assertEqual(rt.wait_exit(), 1)
        body = json.loads(rec["body"])
        self.assertEqual(set(body), {"errorType", "errorMessage", "trace"})
        self.assertEqual(body["errorType"], error_type)
        self.assertEqual(rec["headers"]["lambda-runtime-function-error-type"], error_type)
        if hasattr(message, "match"):
            self.assertRegex(body["errorMessage"], message)
        else:
            self.assertEqual(body["errorMessage"], message)
        self.assertIsInstance(body["trace"], list)
        self.assertTrue(body["trace"][0].startswith(error_type), body["trace"])
        log = rt.log.wait_eof()
        self.assertRegex(log, r"(?m)^%s\tundefined\tERROR\tUncaught Exception \t\{" % TS_RE)
        logged = json.loads(re.search(r"Uncaught Exception \t(\{.*)", log).group(1))
        self.assertEqual(logged["errorType"], error_type)
        self.assertEqual(rt.api.next_calls, 0)
        return body

    def test_init_error_malformed_handler(self):
        self.assert_init_error("index", {"index.js": NODE_APP}, "Runtime.MalformedHandlerName", "Bad handler")
        self.assert_init_error("../up.handler", {"index.js": NODE_APP}, "Runtime.MalformedHandlerName",
                               "'../up.handler' is not a valid handler name. Use absolute paths when specifying "
                               "root directories in handler names.")

    def test_init_error_import_module_error(self):
        self.assert_init_error("missing.handler", {"index.js": NODE_APP}, "Runtime.ImportModuleError",
                               re.compile(r"^Error: Cannot find module 'missing'\nRequire stack:"))
        self.assert_init_error("index.handler", {"index.js": "require('not-a-real-dep-xyz');\n"},
                               "Runtime.ImportModuleError",
                               re.compile(r"^Error: Cannot find module 'not-a-real-dep-xyz'"))
        self.assert_init_error("index.handler", {"index.mjs": "import x from 'not-a-real-pkg-xyz';\nexport const handler = x;\n"},
                               "Runtime.ImportModuleError", re.compile(r"Cannot find package 'not-a-real-pkg-xyz'"))

    def test_init_error_syntax_error(self):
        self.assert_init_error("index.handler", {"index.js": "exports.handler = async () => {\n"},
                               "Runtime.UserCodeSyntaxError", re.compile(r"^SyntaxError: "))
        self.assert_init_error("index.handler", {"index.mjs": "export const handler = ;\n"},
                               "Runtime.UserCodeSyntaxError", re.compile(r"^SyntaxError: "))

    def test_init_error_handler_not_found(self):
        self.assert_init_error("index.nothere", {"index.js": NODE_APP}, "Runtime.HandlerNotFound",
                               "index.nothere is undefined or not exported")
        self.assert_init_error("index.notFn", {"index.js": NODE_APP}, "Runtime.HandlerNotFound",
                               "index.notFn is not a function")

    def test_init_error_thrown_at_load(self):
        self.assert_init_error("index.handler", {"index.js": "throw new RangeError('bad config');\n"},
                               "RangeError", "bad config")

    # -- invocation errors -------------------------------------------------------------

    def assert_invoke_error(self, rt, error_type, message, trace_prefix=None):
        rec = rt.invoke({})
        self.assertEqual(rec["kind"], "error", rec)
        body = json.loads(rec["body"])
        self.assertEqual(set(body), {"errorType", "errorMessage", "trace"})
        self.assertEqual((body["errorType"], body["errorMessage"]), (error_type, message))
        self.assertEqual(rec["headers"]["lambda-runtime-function-error-type"], error_type)
        if trace_prefix is not None:
            self.assertTrue(body["trace"] and body["trace"][0].startswith(trace_prefix), body["trace"])
        else:
            self.assertEqual(body["trace"], [])
        log_line = [l for l in log_lines(rec["log_at_arrival"]) if "\tERROR\tInvoke Error \t" in l]
        self.assertEqual(len(log_line), 1, rec["log_at_arrival"])
        self.assertRegex(log_line[0], r"^%s\t%s\tERROR\tInvoke Error \t\{" % (TS_RE, re.escape(rec["request_id"])))
        return rec, json.loads(log_line[0].split("\tInvoke Error \t", 1)[1])

    def test_handler_error_shapes(self):
        _rec, logged = self.assert_invoke_error(self.start("index.throwsSync"), "ValidationError", "sync bad input",
                                                "ValidationError: sync bad input")
        self.assertEqual(logged["errorType"], "ValidationError")
        self.assertEqual(logged["errorMessage"], "sync bad input")
        self.assertTrue(logged["stack"][0].startswith("ValidationError: sync bad input"))
        self.assertTrue(any("index.js" in l for l in logged["stack"]))
        self.assert_invoke_error(self.start("index.rejects"), "TypeError", "async bad", "TypeError: async bad")
        self.assert_invoke_error(self.start("index.callbackError"), "Error", "cb bad", "Error: cb bad")
        _rec, logged = self.assert_invoke_error(self.start("index.rejectsString"), "string", "oops")
        self.assertEqual(logged["errorType"], "Error")  # logged via intoError(), posted as AWS does
        self.assert_invoke_error(self.start("index.rejectsObject"), "object", "[object Object]")

    def test_runtime_survives_handler_errors(self):
        rt = self.start("index.rejects")
        for _ in range(5):
            self.assertEqual(rt.invoke({})["kind"], "error")
        self.assertEqual(rt.api.connections, 1)

    def test_uncaught_exception_during_invocation(self):
        rt = self.start("index.uncaught")
        rec = rt.invoke({})
        body = json.loads(rec["body"])
        self.assertEqual((rec["kind"], body["errorType"], body["errorMessage"]), ("error", "Error", "async boom"))
        self.assertEqual(rt.wait_exit(), 129)
        self.assertIn("\tERROR\tUncaught Exception \t{", rt.log.snapshot())

    def test_unhandled_rejection_during_invocation(self):
        rt = self.start("index.unhandled")
        rec = rt.invoke({})
        body = json.loads(rec["body"])
        self.assertEqual(body["errorType"], "Runtime.UnhandledPromiseRejection")
        self.assertEqual(body["errorMessage"], "Error: nobody catches me")
        self.assertEqual(rt.wait_exit(), 128)
        self.assertIn("\tERROR\tUnhandled Promise Rejection \t{", rt.log.snapshot())

    def test_marshal_and_unmarshal_errors(self):
        rt = self.start("index.circular")
        self.assert_invoke_error(rt, "Runtime.MarshalError", "Unable to stringify response body",
                                 "Runtime.MarshalError: Unable to stringify response body")
        self.assertEqual(rt.invoke({})["kind"], "error")  # still serving
        self.assert_invoke_error(self.start("index.bigint"), "Runtime.MarshalError",
                                 "Unable to stringify response body", "Runtime.MarshalError")
        rt = self.start("index.handler")
        rec = rt.invoke(b"{not json")
        body = json.loads(rec["body"])
        self.assertEqual((rec["kind"], body["errorType"]), ("error", "SyntaxError"))
        self.assertEqual(rt.invoke_json({"ok": 1}), {"calls": 1, "event": {"ok": 1}})

    def test_undefined_result_is_null(self):
        self.assertEqual(self.start("index.undef").invoke({})["body"], b"null")

    # -- payload encodings --------------------------------------------------------

    def test_binary_mode_both_directions(self):
        rt = self.start("index.binary", env={"LAMBDALET_PAYLOAD_ENCODING": "binary"})
        payload = bytes(range(256)) + b"\xff\xfe not utf-8 \x80"
        rec = rt.invoke(payload, content_type="application/octet-stream")
        self.assertEqual(rec["kind"], "response")
        self.assertEqual(rec["body"], bytes(reversed(payload)))
        self.assertEqual(rec["headers"]["content-type"], "application/octet-stream")
        rec = rt.invoke(b"str")
        self.assertEqual(rec["body"], "h\u00e9llo".encode("utf-8"))
        rec = rt.invoke(b"obj")
        self.assertEqual(json.loads(rec["body"]), {"isBuffer": True})
        self.assertEqual(rec["headers"]["content-type"], "application/json")

    def test_large_event_and_oversized_response(self):
        rt = self.start("index.size")
        blob = "y" * (5 * 1024 * 1024)
        self.assertEqual(rt.invoke_json({"blob": blob}), {"len": len(blob)})
        rt = self.start("index.big")
        rec = rt.invoke({"n": SIX_MB + 1000})
        self.assertEqual((rec["kind"], rec["status"]), ("too_large", 413))
        self.assertEqual(rt.invoke({"n": 3})["body"], b'"xxx"')
        rt = self.start("index.big", api=FakeRuntimeAPI(early_reject=True))
        for _ in range(2):
            rec = rt.invoke({"n": SIX_MB + 1000})
            self.assertEqual((rec["kind"], rec["status"]), ("too_large", 413))
            self.assertEqual(rt.invoke({"n": 3})["body"], b'"xxx"')
        self.assertIsNone(rt.proc.poll())

    # -- logging / output -------------------------------------------------------------

    def test_console_format(self):
        rt = self.start("index.logs")
        rec = rt.invoke({}, request_id="req-logs")
        lines = log_lines(rec["log_at_arrival"])
        self.assertRegex(lines[0], r"^%s\tundefined\tINFO\tmodule loaded$" % TS_RE)
        expected = [
            "INFO\tlog a=1",
            "INFO\tinfo",
            "WARN\twarn",
            "ERROR\terror { k: 'v' }",
            "DEBUG\tdebug",
            "TRACE\ttrace",
            "INFO\tmulti\rline",
        ]
        self.assertEqual(len(lines), 1 + len(expected), lines)
        for line, want in zip(lines[1:], expected):
            self.assertRegex(line, r"^%s\treq-logs\t%s$" % (TS_RE, re.escape(want)))

    def test_console_json_format(self):
        rt = self.start("index.logs", env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"})
        rec = rt.invoke({}, request_id="req-jlogs")
        records = [json.loads(l) for l in log_lines(rec["log_at_arrival"])]
        self.assertEqual([(r["level"], r["message"]) for r in records],
                         [("WARN", "warn"), ("ERROR", "error { k: 'v' }")])
        self.assertEqual({r["requestId"] for r in records}, {"req-jlogs"})
        self.assertTrue(all(r["timestamp"].endswith("Z") for r in records))

    def test_output_flushed_before_response(self):
        rt = self.start("index.noisy")
        for rid in ("flush-1", "flush-2"):
            rec = rt.invoke({}, request_id=rid)
            for marker in ("\tINFO\tconsole-marker-", "stdout-marker-", "stderr-marker-"):
                self.assertIn(marker + rid + "\n", rec["log_at_arrival"])

    def test_chunked_responses_and_reconnects(self):
        rt = self.start("index.handler", api=FakeRuntimeAPI(chunked=True))
        for i in range(1, 6):
            self.assertEqual(rt.invoke_json({"i": i})["calls"], i)
        self.assertEqual(rt.api.connections, 1)
        rt = self.start("index.handler", api=FakeRuntimeAPI(chunked=True, close_after_response=True))
        for i in range(1, 6):
            self.assertEqual(rt.invoke_json({"i": "x" * 1000 * i})["calls"], i)
        self.assertGreaterEqual(rt.api.connections, 5)

    def test_sigterm_exits_promptly(self):
        rt = self.start("index.handler")
        rt.invoke_json({})
        rt.api.wait_next_calls(2)
        rt.proc.send_signal(signal.SIGTERM)
        self.assertEqual(rt.wait_exit(3), -signal.SIGTERM)


if __name__ == "__main__":
    unittest.main()
