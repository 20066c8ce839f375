"""Tests of greengrasssdk's IPC client as lambdalet ships it
(runtimes/python/greengrass/greengrass_ipc_python_sdk/ipc_client.py) against a local HTTP/1.1
server: connections are kept alive, and a kept connection the server has closed is replaced
without losing the call.

    python3 -m unittest discover -s runtimes/tests
"""

import http.server
import os
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python", "greengrass"))

from greengrass_ipc_python_sdk.ipc_client import IPCClient, IPCException  # noqa: E402


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.server.connections += 1

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append((self.path, self.headers.get("X-Amz-Invocation-Type"), body))
        status = 404 if body == b"missing" else 200
        reply = b'{"message": "Function not found"}' if status == 404 else b"echo:" + body
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.send_header("x-amzn-requestid", "req-{}".format(len(self.server.requests)))
        self.end_headers()
        self.wfile.write(reply)
        if self.server.close_after_reply:
            # Close without saying so, as an idle timeout does between two requests.
            self.close_connection = True

    def log_message(self, *args):
        pass


class IPCClientTests(unittest.TestCase):
    def setUp(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.connections = 0
        self.server.requests = []
        self.server.close_after_reply = False
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        os.environ["LAMBDALET_GREENGRASS_ENDPOINT"] = "127.0.0.1:{}".format(self.server.server_address[1])
        self.client = IPCClient(auth_token="token")

    def tearDown(self):
        kept = getattr(self.client._local, "connection", None)
        if kept is not None:
            kept.close()
        self.server.shutdown()
        self.server.server_close()

    def test_calls_share_one_kept_alive_connection(self):
        ids = [self.client.post_work("arn:f", "m{}".format(i), None) for i in range(5)]
        self.assertEqual(self.server.connections, 1)
        self.assertEqual(ids, ["req-{}".format(i) for i in range(1, 6)])
        self.assertEqual(self.client.get_work_result("arn:f", "req-3").payload, b"echo:m2")

    def test_a_connection_the_server_closed_is_replaced_without_losing_the_call(self):
        self.server.close_after_reply = True
        for i in range(3):
            self.client.post_work("arn:f", "n{}".format(i), None, invocation_type="Event")
        self.assertEqual([r[2] for r in self.server.requests], [b"n0", b"n1", b"n2"])
        self.assertEqual(self.server.connections, 3)

    def test_errors_raise_with_the_daemons_message(self):
        with self.assertRaisesRegex(IPCException, "HTTP Error 404:Function not found"):
            self.client.post_work("arn:f", "missing", None)
        # The connection stays usable after an error status.
        self.client.post_work("arn:f", "after", None)
        self.assertEqual(self.server.connections, 1)

    def test_unreachable_daemon(self):
        self.server.shutdown()
        self.server.server_close()
        self.client._local.connection = None
        with self.assertRaisesRegex(IPCException, "cannot reach lambdalet"):
            self.client.post_work("arn:f", "x", None)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


if __name__ == "__main__":
    unittest.main()
