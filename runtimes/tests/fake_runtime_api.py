"""A small in-process fake of the Lambda Runtime API (2018-06-01) for tests.

Threaded HTTP/1.1 server with keep-alive.  Tests push events into a queue;
``GET /runtime/invocation/next`` blocks until one is available.  Every
``/response``, ``/error`` and ``/init/error`` POST is recorded.  A hook
(``on_result``) runs when a result arrives, *before* the 202 is sent, so a
test can check what the runtime had already written to its log pipe.

Knobs for robustness tests:
  * ``chunked=True``   - answer ``next`` with ``Transfer-Encoding: chunked``
  * ``close_after_response=True`` - send ``Connection: close`` and close the
    connection after every answer (the client must reconnect)
  * ``early_reject=True`` - answer an oversized ``/response`` with 413 from its
    Content-Length alone and close without reading the body (the client may
    see the 413, or EPIPE / ECONNRESET while still sending)
"""

import json
import socket
import socketserver
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler

API_PREFIX = "/2018-06-01"
MAX_PAYLOAD_SIZE = 6 * 1024 * 1024 + 100  # RIE's MaxPayloadSize


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def handle_error(self, request, client_address):
        # A runtime killed mid-connection is routine in tests; stay quiet.
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            socketserver.TCPServer.handle_error(self, request, client_address)


class FakeRuntimeAPI(object):
    def __init__(self, chunked=False, close_after_response=False, early_reject=False):
        self.chunked = chunked
        self.close_after_response = close_after_response
        self.early_reject = early_reject
        self.on_result = None  # callable(record) run before answering a result POST
        self._cond = threading.Condition()
        self._events = []  # pending (request_id, body, headers)
        self._stopping = False
        self.results = {}  # request_id -> record
        self.init_errors = []  # records
        self.requests = []  # (method, path) in arrival order
        self.connections = 0  # TCP connections accepted
        self.current_id = None  # invocation handed out by the last `next`
        self.next_calls = 0
        self._server = None
        self._thread = None

    # -- lifecycle -----------------------------------------------------------

    def start(self):
        api = self

        class Handler(_Handler):
            fake = api

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self):
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def address(self):
        host, port = self._server.server_address[:2]
        return "%s:%d" % (host, port)

    # -- test-facing API -----------------------------------------------------

    def push(
        self,
        body,
        request_id=None,
        deadline_ms=None,
        timeout_s=30,
        arn="arn:aws:lambda:us-east-1:123456789012:function:test-fn",
        trace_id="Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
        client_context=None,
        cognito_identity=None,
        content_type="application/json",
        extra_headers=None,
    ):
        """Queue an event; return its request id.  ``body`` may be bytes, str or a
        JSON-able object (which is encoded)."""
        if not isinstance(body, (bytes, bytearray)):
            body = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
        request_id = request_id or str(uuid.uuid4())
        if deadline_ms is None:
            deadline_ms = int(time.time() * 1000) + int(timeout_s * 1000)
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", arn),
        ]
        if trace_id:
            headers.append(("Lambda-Runtime-Trace-Id", trace_id))
        if client_context is not None:
            headers.append(("Lambda-Runtime-Client-Context", client_context if isinstance(client_context, str) else json.dumps(client_context)))
        if cognito_identity is not None:
            headers.append(("Lambda-Runtime-Cognito-Identity", cognito_identity if isinstance(cognito_identity, str) else json.dumps(cognito_identity)))
        if content_type:
            headers.append(("Content-Type", content_type))
        headers.extend(extra_headers or [])
        with self._cond:
            self._events.append((request_id, bytes(body), headers))
            self._cond.notify_all()
        return request_id

    def wait_result(self, request_id, timeout=10.0):
        """Block until the runtime posted /response or /error for request_id."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while request_id not in self.results:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no result for %s within %.1fs" % (request_id, timeout))
                self._cond.wait(left)
            return self.results[request_id]

    def wait_init_error(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.init_errors:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no init error within %.1fs" % timeout)
                self._cond.wait(left)
            return self.init_errors[0]

    def wait_next_calls(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.next_calls < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("only %d next calls within %.1fs" % (self.next_calls, timeout))
                self._cond.wait(left)

    # -- used by the handler --------------------------------------------------

    def _take_event(self):
        with self._cond:
            self.next_calls += 1
            self._cond.notify_all()
            while not self._events:
                if self._stopping:
                    return None
                self._cond.wait(0.1)
            event = self._events.pop(0)
            self.current_id = event[0]
            return event

    def _record(self, kind, request_id, handler, body):
        record = {
            "kind": kind,
            "request_id": request_id,
            "body": body,
            "headers": {k.lower(): v for k, v in handler.headers.items()},
            "trailers": getattr(handler, "trailers", {}),
            "chunks": getattr(handler, "chunks", []),
            "time": time.time(),
            "log_at_arrival": None,
        }
        hook = self.on_result
        if hook is not None:
            try:
                hook(record)
            except Exception as e:  # pragma: no cover - test helper failure
                record["hook_error"] = repr(e)
        return record

    def _store(self, kind, request_id, record, status):
        record["status"] = status
        with self._cond:
            if kind == "init_error":
                self.init_errors.append(record)
            else:
                self.results.setdefault(request_id, record)
            self._cond.notify_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake = None  # set by subclass

    def setup(self):
        BaseHTTPRequestHandler.setup(self)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.fake._cond:
            self.fake.connections += 1

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    # -- helpers ---------------------------------------------------------------

    def _read_body(self):
        # A chunked body's trailers and the arrival time of each chunk are kept for
        # the streaming tests (``record["trailers"]``, ``record["chunks"]``).
        self.trailers = {}
        self.chunks = []
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        line = self.rfile.readline()
                        if line in (b"\r\n", b"\n", b""):
                            break
                        name, _, value = line.decode("latin-1").partition(":")
                        self.trailers[name.strip().lower()] = value.strip()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.chunks.append((time.time(), parts[-1]))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body=b"", headers=(), chunked=False):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
        self.send_response_only(status)
        for k, v in headers:
            self.send_header(k, v)
        close = self.fake.close_after_response
        if close:
            self.send_header("Connection", "close")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            out = []
            step = max(1, len(body) // 3 or 1)
            for i in range(0, len(body), step):
                piece = body[i : i + step]
                out.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
            out.append(b"0\r\n\r\n")
            self.wfile.write(b"".join(out))
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        self.wfile.flush()
        if close:
            self.close_connection = True

    # -- routes --------------------------------------------------------------

    def do_GET(self):
        fake = self.fake
        with fake._cond:
            fake.requests.append(("GET", self.path))
        if self.path == API_PREFIX + "/runtime/invocation/next":
            event = fake._take_event()
            if event is None:
                self.close_connection = True
                return
            _rid, body, headers = event
            self._send(200, body, headers, chunked=fake.chunked)
        elif self.path == API_PREFIX + "/ping":
            self._send(200, b"pong")
        else:
            self._send(404, {"errorType": "NotFound", "errorMessage": "no route %s" % self.path})

    def do_POST(self):
        fake = self.fake
        path = self.path
        if (
            fake.early_reject
            and path.endswith("/response")
            and int(self.headers.get("Content-Length") or 0) > MAX_PAYLOAD_SIZE
        ):
            request_id = path[len(API_PREFIX + "/runtime/invocation/") :].rpartition("/")[0]
            record = fake._record("too_large", request_id, self, b"")
            fake._store("too_large", request_id, record, 413)
            self.send_response_only(413)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            body = json.dumps({"errorMessage": "Exceeded maximum allowed payload size (%d bytes)." % MAX_PAYLOAD_SIZE,
                               "errorType": "RequestEntityTooLarge"}).encode()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return
        body = self._read_body()
        with fake._cond:
            fake.requests.append(("POST", path))
        prefix = API_PREFIX + "/runtime/invocation/"
        if path == API_PREFIX + "/runtime/init/error":
            record = fake._record("init_error", None, self, body)
            fake._store("init_error", None, record, 202)
            self._send(202, {"status": "OK"})
            return
        if path.startswith(prefix) and (path.endswith("/response") or path.endswith("/error")):
            rest = path[len(prefix) :]
            request_id, _, kind = rest.rpartition("/")
            if request_id != fake.current_id or request_id in fake.results:
                self._send(400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
                return
            if kind == "response" and len(body) > MAX_PAYLOAD_SIZE:
                record = fake._record("too_large", request_id, self, body)
                fake._store("too_large", request_id, record, 413)
                self._send(
                    413,
                    {
                        "errorMessage": "Exceeded maximum allowed payload size (%d bytes)." % MAX_PAYLOAD_SIZE,
                        "errorType": "RequestEntityTooLarge",
                    },
                )
                return
            record = fake._record(kind, request_id, self, body)
            fake._store(kind, request_id, record, 202)
            self._send(202, {"status": "OK"})
            return
        self._send(404, {"errorType": "NotFound", "errorMessage": "no route %s" % path})


if __name__ == "__main__":  # manual use: python3 fake_runtime_api.py
    api = FakeRuntimeAPI().start()
    print("AWS_LAMBDA_RUNTIME_API=%s" % api.address, flush=True)
    try:
        while True:
            line = input("event JSON> ")
            rid = api.push(line)
            print(api.wait_result(rid, timeout=3600))
    except (EOFError, KeyboardInterrupt):
        api.stop()
