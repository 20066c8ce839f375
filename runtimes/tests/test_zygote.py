"""The Python bootstrap's zygote mode (LAMBDALET_ZYGOTE_FD), driven the way the daemon drives
it: Init once, then a fork per sandbox with its own channel (framed Runtime API), output and
gate, and what must differ between sandboxes differs.

    python3 -m unittest discover -s runtimes/tests
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIMES = os.path.dirname(HERE)
PYTHON = os.environ.get("LAMBDALET_TEST_PYTHON") or sys.executable

APP = textwrap.dedent(
    """
    import os
    import random
    import threading

    COUNT = 0
    IMPORTED_IN = os.getpid()
    if os.environ.get("START_THREAD"):
        threading.Thread(target=lambda: __import__("time").sleep(30), daemon=True).start()
    if os.environ.get("OPEN_SOCKET"):
        KEPT = __import__("socket").socket()
    if os.environ.get("FAIL_IMPORT"):
        raise RuntimeError("broken at import")


    def handler(event, context):
        global COUNT
        COUNT += 1
        print("printed by", context.aws_request_id)
        return {
            "count": COUNT,
            "rand": random.random(),
            "pid": os.getpid(),
            "imported_in": IMPORTED_IN,
            "per_sandbox": os.environ.get("PER_SANDBOX"),
            "fd_env": os.environ.get("LAMBDALET_RUNTIME_FD"),
            "request_id": context.aws_request_id,
        }
    """
)


def frame(fields, body=b""):
    header = "\0".join(fields).encode()
    return len(header).to_bytes(4, "little") + len(body).to_bytes(4, "little") + header + body


def read_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("closed")
        out += chunk
    return out


def read_frame(sock):
    lengths = read_exact(sock, 8)
    h = int.from_bytes(lengths[:4], "little")
    b = int.from_bytes(lengths[4:], "little")
    return read_exact(sock, h).decode().split("\0"), read_exact(sock, b)


class Zygote(object):
    def __init__(self, code_dir, extra_env=None, first_channel=None, container=None):
        self.runtime_dir = tempfile.mkdtemp(prefix="lambdalet-zygote-rt-")
        shutil.copy(os.path.join(RUNTIMES, "python", "bootstrap.py"), self.runtime_dir)
        self.ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "_HANDLER": "app.handler",
            "LAMBDA_TASK_ROOT": code_dir,
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",
            "AWS_LAMBDA_FUNCTION_NAME": "zygote-test",
            "LAMBDALET_ZYGOTE_FD": str(theirs.fileno()),
        }
        env.update(extra_env or {})
        self.proc = subprocess.Popen(
            [PYTHON, "-u", os.path.join(self.runtime_dir, "bootstrap.py")],
            cwd=code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self.ctl.settimeout(10)
        # The daemon's first message, with the first sandbox's channel when it has one.
        init = {"op": "init"}
        if container is not None:
            init["container"] = container
        init = json.dumps(init).encode()
        if first_channel is None:
            self.ctl.send(init)
        else:
            fd = first_channel.fileno().to_bytes(4, sys.byteorder)
            self.ctl.sendmsg([init], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fd)])

    def recv(self):
        return json.loads(self.ctl.recv(1 << 20))

    def fork(self, sandbox_id, env, joins=()):
        """A new sandbox: its channel (our end), its output (our end) and its gate (our end);
        `joins` stand for the cgroup files it writes "0" to."""
        ours, theirs = socket.socketpair()
        out_r, out_w = os.pipe()
        gate_r, gate_w = os.pipe()
        msg = json.dumps({"op": "fork", "id": sandbox_id, "env": env}).encode()
        fds = bytes()
        for fd in (theirs.fileno(), out_w, gate_r) + tuple(joins):
            fds += fd.to_bytes(4, sys.byteorder)
        self.ctl.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
        theirs.close()
        os.close(out_w)
        os.close(gate_r)
        forked = self.recv()
        assert forked["op"] == "forked" and forked["id"] == sandbox_id, forked
        ours.settimeout(10)
        return forked["pid"], ours, out_r, gate_w

    def close(self):
        self.ctl.close()
        self.proc.stdout.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)


def invoke(channel, request_id):
    fields, _ = read_frame(channel)
    assert fields == ["next"], fields
    event = frame(["event", request_id, str(int(time.time() * 1000) + 60000), "arn", "", "", "", "application/json"], b"{}")
    channel.sendall(event)
    fields, body = read_frame(channel)
    assert fields[:2] == ["response", request_id], fields
    return json.loads(body)


class ZygoteTest(unittest.TestCase):
    def setUp(self):
        self.code = tempfile.mkdtemp(prefix="lambdalet-zygote-code-")
        with open(os.path.join(self.code, "app.py"), "w") as f:
            f.write(APP)

    def tearDown(self):
        shutil.rmtree(self.code, ignore_errors=True)

    def test_forked_sandboxes_share_the_import_and_nothing_per_sandbox(self):
        z = Zygote(self.code)
        try:
            ready = z.recv()
            self.assertEqual(ready["op"], "ready", ready)
            self.assertGreater(ready["initMs"], 0)
            answers = []
            for n in range(2):
                env = {"PER_SANDBOX": "sandbox-%d" % n, "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",
                       "LAMBDALET_RUNTIME_FD": "3"}
                pid, channel, out, gate = z.fork("s%d" % n, env)
                self.assertNotEqual(pid, z.proc.pid)
                os.write(gate, b"g")
                first = invoke(channel, "req-%d-a" % n)
                second = invoke(channel, "req-%d-b" % n)
                answers.append((pid, first, second, channel, out))
            (pid0, a0, b0, ch0, out0), (pid1, a1, b1, ch1, out1) = answers
            # Init ran once, in the zygote; each sandbox counts from there on its own.
            self.assertEqual(a0["imported_in"], z.proc.pid)
            self.assertEqual((a0["count"], b0["count"], a1["count"], b1["count"]), (1, 2, 1, 2))
            self.assertEqual((a0["pid"], a1["pid"]), (pid0, pid1))
            self.assertNotEqual(a0["rand"], a1["rand"], "each sandbox's random generator is seeded anew")
            self.assertEqual((a0["per_sandbox"], a1["per_sandbox"]), ("sandbox-0", "sandbox-1"))
            self.assertIsNone(a0["fd_env"], "the channel's variable is not the handler's")
            # Each sandbox's output goes to its own pipe.
            os.kill(pid0, 9)
            text = os.read(out0, 65536).decode()
            self.assertIn("printed by req-0-a", text)
            self.assertNotIn("req-1", text)
            exited = z.recv()
            self.assertEqual(exited, {"op": "exited", "pid": pid0, "code": None, "signal": 9})
            ch0.close()
            os.kill(pid1, 9)
            self.assertEqual(z.recv()["pid"], pid1)
            ch1.close()
            for fd in (out0, out1):
                os.close(fd)
        finally:
            z.close()

    def test_a_child_waits_for_its_gate(self):
        z = Zygote(self.code)
        try:
            self.assertEqual(z.recv()["op"], "ready")
            pid, channel, out, gate = z.fork("gated", {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9"})
            channel.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                channel.recv(1)
            os.write(gate, b"g")
            channel.settimeout(10)
            self.assertEqual(read_frame(channel)[0], ["next"])
            os.kill(pid, 9)
            channel.close()
            os.close(out)
            os.close(gate)
        finally:
            z.close()

    def test_a_child_forked_ahead_takes_the_request(self):
        z = Zygote(self.code)
        try:
            self.assertEqual(z.recv()["op"], "ready")

            def children(besides=()):
                """The zygote's children but `besides`, once it has one."""
                deadline = time.time() + 5
                while time.time() < deadline:
                    with open("/proc/%d/task/%d/children" % (z.proc.pid, z.proc.pid)) as f:
                        found = [int(p) for p in f.read().split() if int(p) not in besides]
                    if found:
                        return found
                    time.sleep(0.01)
                return []

            ahead = children()
            self.assertEqual(len(ahead), 1, "one child waits before any request")
            pid, channel, out, gate = z.fork("ahead", {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9"})
            self.assertEqual(pid, ahead[0], "the request went to the child forked ahead")
            os.write(gate, b"g")
            self.assertEqual(invoke(channel, "req-ahead")["count"], 1)
            following = children(besides=(pid,))
            self.assertEqual(len(following), 1, "the next one is forked at once")
            os.kill(pid, 9)
            channel.close()
            os.close(out)
            os.close(gate)
        finally:
            z.close()

    def test_a_child_joins_its_cgroups_before_its_gate(self):
        z = Zygote(self.code)
        try:
            self.assertEqual(z.recv()["op"], "ready")
            joins = [os.pipe() for _ in range(2)]
            pid, channel, out, gate = z.fork("joined", {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9"},
                                             joins=[w for _, w in joins])
            for r, w in joins:
                os.close(w)
                self.assertEqual(os.read(r, 8), b"0", "the child wrote its own pid (0)")
                self.assertEqual(os.read(r, 8), b"", "and closed the file")
                os.close(r)
            os.write(gate, b"g")
            self.assertEqual(read_frame(channel)[0], ["next"])
            os.kill(pid, 9)
            channel.close()
            os.close(out)
            os.close(gate)
        finally:
            z.close()

    def test_a_container_zygote_refuses_when_a_fork_cannot_make_its_namespaces(self):
        # unshare(2) refuses flags it does not know (EINVAL): the first child forked ahead
        # cannot make its sandbox, so the zygote says so instead of ready.
        z = Zygote(self.code, container={"unshare": 1, "tmpBytes": 1 << 20, "shmBytes": 1 << 20,
                                         "proc": "/nonexistent", "masked": [], "readOnly": [],
                                         "filter": ""})
        try:
            msg = z.recv()
            self.assertEqual(msg["op"], "refused", msg)
            self.assertIn("a fork cannot make its own sandbox", msg["why"])
            self.assertIn("unshare", msg["why"])
            self.assertEqual(z.proc.wait(timeout=10), 0)
        finally:
            z.close()

    def test_threads_started_at_import_make_it_refuse(self):
        z = Zygote(self.code, {"START_THREAD": "1"})
        try:
            msg = z.recv()
            self.assertEqual(msg["op"], "refused", msg)
            self.assertIn("1 threads", msg["why"])
            self.assertEqual(z.proc.wait(timeout=5), 0)
        finally:
            z.close()

    def test_an_import_error_is_reported_and_ends_it(self):
        z = Zygote(self.code, {"FAIL_IMPORT": "1"})
        try:
            msg = z.recv()
            self.assertEqual(msg["op"], "init-error", msg)
            self.assertEqual(msg["error"]["errorType"], "RuntimeError")
            self.assertEqual(msg["error"]["errorMessage"], "broken at import")
            self.assertEqual(z.proc.wait(timeout=5), 1)
        finally:
            z.close()

    def test_an_import_error_goes_to_the_first_sandbox_as_its_init_error(self):
        ours, theirs = socket.socketpair()
        z = Zygote(self.code, {"FAIL_IMPORT": "1"}, first_channel=theirs)
        theirs.close()
        try:
            ours.settimeout(0.3)
            self.assertEqual(z.recv()["op"], "init-error")
            with self.assertRaises(socket.timeout):
                ours.recv(1)  # not before the daemon has the output
            z.ctl.send(json.dumps({"op": "logged"}).encode())
            ours.settimeout(10)
            fields, body = read_frame(ours)
            self.assertEqual(fields[:2], ["init-error", "RuntimeError"])
            self.assertEqual(json.loads(body)["errorMessage"], "broken at import")
            self.assertEqual(z.proc.wait(timeout=5), 1)
        finally:
            ours.close()
            z.close()

    def test_a_channel_for_the_first_sandbox_is_closed_after_init(self):
        ours, theirs = socket.socketpair()
        z = Zygote(self.code, first_channel=theirs)
        theirs.close()
        try:
            self.assertEqual(z.recv()["op"], "ready")
            ours.settimeout(10)
            self.assertEqual(ours.recv(1), b"", "the zygote keeps no runtime channel")
        finally:
            ours.close()
            z.close()

    def test_a_socket_opened_at_import_makes_it_refuse(self):
        z = Zygote(self.code, {"OPEN_SOCKET": "1"})
        try:
            msg = z.recv()
            self.assertEqual(msg["op"], "refused", msg)
            self.assertIn("socket:", msg["why"])
            self.assertEqual(z.proc.wait(timeout=5), 0)
        finally:
            z.close()


if __name__ == "__main__":
    unittest.main()


class ContainerSpareMessagesTest(unittest.TestCase):
    """A container spare's pid (from the process that made its namespaces) and its readiness
    (from its init) may come in either order; the zygote must take the pid from whichever
    message has it, not assume the first."""

    @classmethod
    def setUpClass(cls):
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "lambdalet_bootstrap_spare", os.path.join(RUNTIMES, "python", "bootstrap.py"))
        cls.bs = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cls.bs)

    def said(self, *messages, close=False, timeout=2):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            for m in messages:
                theirs.send(json.dumps(m).encode())
            if close:
                theirs.close()
            return self.bs._contained_spare_said(ours, timeout=timeout)
        finally:
            ours.close()
            if not close:
                theirs.close()

    def test_pid_then_ready(self):
        self.assertEqual(self.said({"pid": 41}, {"ready": True}), (41, {"ready": True}))

    def test_ready_then_pid(self):
        self.assertEqual(self.said({"ready": True}, {"pid": 42}), (42, {"ready": True}))

    def test_an_error_before_any_pid(self):
        pid, said = self.said({"error": "unshare: EPERM"})
        self.assertIsNone(pid)
        self.assertEqual(said, {"error": "unshare: EPERM"})

    def test_an_error_from_the_init_after_the_pid(self):
        self.assertEqual(self.said({"pid": 43}, {"error": "mount: EPERM"}), (43, {"error": "mount: EPERM"}))

    def test_ready_without_a_pid_times_out_as_an_error(self):
        started = time.monotonic()
        pid, said = self.said({"ready": True}, timeout=0.2)
        self.assertIsNone(pid)
        self.assertIn("error", said)
        self.assertLess(time.monotonic() - started, 2)

    def test_the_spare_gone_is_an_error(self):
        pid, said = self.said({"pid": 44}, close=True)
        self.assertEqual(pid, 44)
        self.assertIn("error", said)
