"""The Python bootstrap's framed Runtime API client (FrameClient) against a socket pair: frames
that arrive whole, a byte at a time, several in one read, with bodies larger than one read,
and what it writes back."""

import importlib.util
import os
import socket
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BOOTSTRAP = os.path.join(HERE, "..", "python", "bootstrap.py")


def load_bootstrap():
    spec = importlib.util.spec_from_file_location("lambdalet_bootstrap_frames", BOOTSTRAP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BS = load_bootstrap()


def frame(fields, body=b""):
    header = "\0".join(fields).encode("utf-8")
    return len(header).to_bytes(4, "little") + len(body).to_bytes(4, "little") + header + body


def event(request_id, body, trace="Root=1-5759e988-bd862e3fe1be46a994272793"):
    return frame(
        ["event", request_id, "1700000000000", "arn:aws:lambda:us-east-1:1:function:f", trace,
         "", "", "application/json"],
        body,
    )


def read_frame(sock, buf):
    while True:
        if len(buf) >= 8:
            header_len = int.from_bytes(buf[0:4], "little")
            end = 8 + header_len + int.from_bytes(buf[4:8], "little")
            if len(buf) >= end:
                header, body = bytes(buf[8:8 + header_len]), bytes(buf[8 + header_len:end])
                del buf[:end]
                return header.split(b"\0"), body
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise EOFError("closed")
        buf += chunk


class FrameClientTests(unittest.TestCase):
    def setUp(self):
        self.daemon, runtime = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.daemon.settimeout(10)
        self.client = BS.FrameClient(runtime.detach())
        self.buf = bytearray()

    def tearDown(self):
        self.daemon.close()
        self.client.sock.close()

    def send_later(self, pieces):
        def run():
            for p in pieces:
                self.daemon.sendall(p)
        t = threading.Thread(target=run)
        t.start()
        return t

    def test_an_event_whole(self):
        self.daemon.sendall(event("r-1", b'{"a": 1}'))
        headers, body = self.client.next_invocation()
        self.assertEqual(read_frame(self.daemon, self.buf), ([b"next"], b""))
        self.assertEqual(body, b'{"a": 1}')
        self.assertEqual(headers["lambda-runtime-aws-request-id"], "r-1")
        self.assertEqual(headers["lambda-runtime-deadline-ms"], "1700000000000")
        self.assertEqual(headers["lambda-runtime-trace-id"], "Root=1-5759e988-bd862e3fe1be46a994272793")
        self.assertEqual(headers["content-type"], "application/json")
        self.assertNotIn("lambda-runtime-client-context", headers, "empty fields are left out")

    def test_an_event_a_byte_at_a_time(self):
        data = event("r-2", b'{"slow": true}')
        t = self.send_later([data[i:i + 1] for i in range(len(data))])
        headers, body = self.client.next_invocation()
        t.join()
        self.assertEqual(headers["lambda-runtime-aws-request-id"], "r-2")
        self.assertEqual(body, b'{"slow": true}')

    def test_two_events_in_one_read(self):
        self.daemon.sendall(event("r-3", b"[3]") + event("r-4", b"[4]"))
        self.client.next_sent = True  # (no `next` frame is expected of it here)
        first = self.client.next_invocation()
        self.client.next_sent = True
        second = self.client.next_invocation()
        self.assertEqual((first[0]["lambda-runtime-aws-request-id"], first[1]), ("r-3", b"[3]"))
        self.assertEqual((second[0]["lambda-runtime-aws-request-id"], second[1]), ("r-4", b"[4]"))

    def test_a_body_larger_than_a_read(self):
        big = b'"' + b"x" * (3 * 1024 * 1024) + b'"'
        data = event("r-5", big)
        t = self.send_later([data[i:i + 100000] for i in range(0, len(data), 100000)])
        headers, body = self.client.next_invocation()
        t.join()
        self.assertEqual(headers["lambda-runtime-aws-request-id"], "r-5")
        self.assertEqual(body, big)

    def test_a_refusal_is_an_error(self):
        self.daemon.sendall(frame(["refused", "403", "Runtime.InvalidState"], b"not now"))
        with self.assertRaises(RuntimeError) as caught:
            self.client.next_invocation()
        self.assertIn("403", str(caught.exception))
        self.assertIn("not now", str(caught.exception))

    def test_a_closed_channel_is_connection_lost(self):
        self.daemon.sendall(event("r-6", b"{}")[:5])
        self.daemon.shutdown(socket.SHUT_WR)
        with self.assertRaises(BS._ConnectionLost):
            self.client.next_invocation()

    def test_a_response_and_the_next_request_in_one_frame_pair(self):
        self.client.post_invocation_result("r-7", b'{"ok": true}', "application/json")
        self.assertEqual(read_frame(self.daemon, self.buf),
                         ([b"response", b"r-7", b"application/json"], b'{"ok": true}'))
        self.assertEqual(read_frame(self.daemon, self.buf), ([b"next"], b""))
        self.assertTrue(self.client.next_sent)

    def test_a_large_response_goes_out_whole(self):
        body = b"y" * 200000
        t = threading.Thread(target=self.client.post_invocation_result, args=("r-8", body, "text/plain"))
        t.start()
        fields, got = read_frame(self.daemon, self.buf)
        t.join()
        self.assertEqual(fields, [b"response", b"r-8", b"text/plain"])
        self.assertEqual(got, body)
        self.assertEqual(read_frame(self.daemon, self.buf), ([b"next"], b""))

    def test_fields_with_nul_or_line_breaks_are_cleaned(self):
        self.client.post_invocation_error("r-9", b"{}", "Bad\0Type\r\nX")
        fields, _ = read_frame(self.daemon, self.buf)
        self.assertEqual(fields, [b"error", b"r-9", b"Bad Type  X"])


if __name__ == "__main__":
    unittest.main()
