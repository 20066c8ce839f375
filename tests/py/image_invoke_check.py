"""Runs a Lambda container image once, without lambdalet or Docker, as Lambda would: its layers
unpacked into a root, the root read-only with a writable /tmp, /proc and a few /dev nodes,
ENTRYPOINT + CMD started in WORKDIR with the config's Env, as a uid and gid that are not in the
image's /etc/passwd, and a one-shot Runtime API at $AWS_LAMBDA_RUNTIME_API that hands out one
S3 event and records what the function posts back.

    python3 tests/py/image_invoke_check.py IMAGE.tar [--s3 fake|none] [--uid 2000123]

--s3 fake (the default) also serves a path-style S3 on 127.0.0.1 (AWS_ENDPOINT_URL_S3) with one
PNG at images/uploads/photo.png and keeps what is PUT: the remove-background example then runs
end to end and the check wants a `/response` and an RGBA PNG written under processed/. --s3 none
points S3 at a closed port: the check wants an `/error` naming the failed S3 call, which proves
the interpreter, awslambdaric, the libraries and the handler all loaded.

Needs root (mount namespace, chroot) and util-linux's unshare. Prints the outcome as JSON and
exits 0 when it is the expected one.
"""

import argparse
import gzip
import http.server
import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
import zlib

REQUEST_ID = "8f5c1f1e-0000-4000-8000-000000000001"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:remove-background-image"


def unpack(image_tar, root):
    """Applies the image's layers in order into `root`; returns the image config."""
    with tarfile.open(image_tar) as outer:
        def blob(digest):
            return outer.extractfile("blobs/sha256/" + digest.split(":")[1]).read()

        names = outer.getnames()
        if "index.json" in names:
            index = json.loads(outer.extractfile("index.json").read())
            manifest = json.loads(blob(index["manifests"][0]["digest"]))
            config = json.loads(blob(manifest["config"]["digest"]))
            layers = [blob(layer["digest"]) for layer in manifest["layers"]]
        else:  # docker save
            manifest = json.loads(outer.extractfile("manifest.json").read())[0]
            config = json.loads(outer.extractfile(manifest["Config"]).read())
            layers = [outer.extractfile(name).read() for name in manifest["Layers"]]
    for data in layers:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        with tarfile.open(fileobj=io.BytesIO(data)) as layer:
            kwargs = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
            layer.extractall(root, numeric_owner=True, **kwargs)
    return config


def png_rgb(width, height, pixel):
    """A PNG (colour type 2) of pixel(x, y) -> (r, g, b), standard library only."""
    raw = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def png_alpha(data):
    """The alpha plane of an 8-bit RGBA, non-interlaced PNG as rows of ints."""
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, colour, interlace) != (8, 6, 0):
                raise ValueError(f"not 8-bit RGBA: depth {depth}, colour type {colour}")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, bpp, stride = zlib.decompress(idat), 4, width * 4
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(list(line[3::4]))
        prev = line
    return rows


def subject_photo():
    """A 160x120 photo: a noisy beige background, a red disc in the middle."""
    def pixel(x, y):
        if (x - 80) ** 2 + (y - 60) ** 2 <= 32 ** 2:
            return (220, 30, 30)
        n = (x * 7 + y * 13) % 17 - 8
        return (140 + n, 170 + n, 200 + n)
    return png_rgb(160, 120, pixel)


class State:
    def __init__(self, event):
        self.event = event
        self.lock = threading.Lock()
        self.handed_out = False
        self.outcome = None  # ("response" | "error" | "init_error", body)
        self.done = threading.Event()
        self.objects = {}
        self.s3_requests = []


def make_handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def body(self):
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if "aws-chunked" in (self.headers.get("Content-Encoding") or ""):
                out, rest = b"", data
                while True:
                    line, _, rest = rest.partition(b"\r\n")
                    size = int(line.split(b";")[0], 16)
                    if size == 0:
                        break
                    out, rest = out + rest[:size], rest[size + 2:]
                data = out
            return data

        def reply(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        # The Runtime API.
        def do_GET(self):
            if self.path == "/2018-06-01/runtime/invocation/next":
                with state.lock:
                    first = not state.handed_out
                    state.handed_out = True
                if not first:  # the runtime waits for its next event: keep it waiting
                    state.done.wait(60)
                    self.close_connection = True
                    return
                deadline = int(time.time() * 1000) + 60_000
                self.reply(200, json.dumps(state.event).encode(), [
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", REQUEST_ID),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                    ("Lambda-Runtime-Invoked-Function-Arn", ARN),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                ])
                return
            self.s3("GET")

        def do_POST(self):
            body = self.body()
            kinds = {f"/2018-06-01/runtime/invocation/{REQUEST_ID}/response": "response",
                     f"/2018-06-01/runtime/invocation/{REQUEST_ID}/error": "error",
                     "/2018-06-01/runtime/init/error": "init_error"}
            kind = kinds.get(self.path)
            if kind is None:
                self.reply(404)
                return
            self.reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
            state.outcome = (kind, body.decode("utf-8", "replace"), dict(self.headers))
            state.done.set()

        # A path-style S3, enough for get_object and put_object.
        def do_PUT(self):
            self.s3("PUT")

        def do_HEAD(self):
            self.s3("HEAD")

        def s3(self, method):
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
            state.s3_requests.append((method, path))
            if method == "PUT":
                state.objects[path] = (self.body(), self.headers.get("Content-Type", ""))
                self.reply(200, headers=[("ETag", '"0"')])
            elif path in state.objects:
                data, ctype = state.objects[path]
                self.reply(200, data if method == "GET" else b"", [("Content-Type", ctype), ("ETag", '"0"')])
            else:
                bucket, _, key = path.partition("/")
                err = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code>"
                       f"<Message>no {key}</Message><Key>{key}</Key></Error>").encode()
                self.reply(404, err, [("Content-Type", "application/xml")])

    return Handler


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the runtime's connections reset when the check kills it


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child(root, workdir, uid, argv, env):
    """Inside `unshare --mount --pid --fork`: lays out the root's mounts, enters it, drops to
    uid:gid with no groups, and becomes the image's process."""
    def sh(*args):
        subprocess.run(args, check=True)

    sh("mount", "--make-rprivate", "/")
    sh("mount", "--bind", root, root)
    sh("mount", "-t", "tmpfs", "-o", "mode=1777,size=512m", "tmpfs", f"{root}/tmp")
    sh("mount", "-t", "proc", "proc", f"{root}/proc")
    sh("mount", "-t", "tmpfs", "-o", "mode=755,size=1m", "tmpfs", f"{root}/dev")
    for node in ("null", "zero", "random", "urandom"):
        open(f"{root}/dev/{node}", "w").close()
        sh("mount", "--bind", f"/dev/{node}", f"{root}/dev/{node}")
    sh("mount", "-o", "remount,bind,ro", root)
    os.chroot(root)
    os.chdir(workdir or "/")
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    os.execve(argv[0], argv, env)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("image")
    p.add_argument("--s3", choices=["fake", "none"], default="fake")
    p.add_argument("--uid", type=int, default=2000123)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--save", help="where to write the cut-out the function PUT (--s3 fake)")
    p.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child is not None:
        spec = json.loads(a.child[0])
        child(spec["root"], spec["workdir"], spec["uid"], spec["argv"], spec["env"])
        return

    key = "uploads/photo.png"
    event = {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "images", "arn": "arn:aws:s3:::images"},
               "object": {"key": urllib.parse.quote_plus(key), "size": 0}},
    }]}
    state = State(event)
    photo = subject_photo()
    state.objects["images/" + key] = (photo, "image/png")
    server = QuietServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    s3_url = f"http://127.0.0.1:{port if a.s3 == 'fake' else closed_port()}"

    work = tempfile.mkdtemp(prefix="image-check-")
    os.chmod(work, 0o755)
    root = os.path.join(work, "root")
    os.mkdir(root)
    started = time.monotonic()
    config = unpack(a.image, root)["config"]
    unpacked = time.monotonic() - started
    for d in ("tmp", "proc", "dev"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    argv = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
    env = dict(e.split("=", 1) for e in config.get("Env") or [])
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "token", "AWS_ENDPOINT_URL_S3": s3_url,
        "AWS_LAMBDA_FUNCTION_NAME": "remove-background-image", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": config.get("WorkingDir") or "/var/task",
    })
    if a.s3 == "none":
        env["AWS_MAX_ATTEMPTS"] = "1"  # fail fast instead of botocore's retries
    spec = json.dumps({"root": root, "workdir": config.get("WorkingDir"), "uid": a.uid,
                       "argv": argv, "env": env})
    log_path = os.path.join(work, "function.log")
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(["unshare", "--mount", "--pid", "--fork", "--kill-child",
                                 sys.executable, os.path.abspath(__file__), "x", "--child", spec],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finished = state.done.wait(a.timeout)
        took = time.monotonic() - started
        exited = proc.poll()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    server.shutdown()
    with open(log_path, "rb") as f:
        log_text = f.read().decode("utf-8", "replace")
    result = {"argv": argv, "workdir": config.get("WorkingDir"), "uid": a.uid,
              "unpack_s": round(unpacked, 2), "invoke_s": round(took, 2),
              "s3_requests": state.s3_requests, "log": log_text[-3000:]}
    ok = False
    if not finished:
        result["outcome"] = f"nothing posted in {a.timeout}s (process exit code {exited})"
    else:
        kind, body, headers = state.outcome
        result["outcome"], result["body"] = kind, body
        if a.s3 == "fake":
            out = state.objects.get("images/processed/photo.png")
            if out:
                data, ctype = out
                if a.save:
                    with open(a.save, "wb") as f:
                        f.write(data)
                alpha = png_alpha(data)
                kept = sum(v == 255 for row in alpha for v in row)
                # The disc (pi * 32^2 = 3217 pixels) is kept, the border is cut away.
                result["output"] = {"bytes": len(data), "content_type": ctype,
                                    "alpha_centre": alpha[60][80], "alpha_corner": alpha[2][2],
                                    "opaque_pixels": kept}
                ok = (kind == "response" and json.loads(body).get("method") == "opencv-grabcut"
                      and alpha[60][80] == 255 and alpha[2][2] == 0 and alpha[117][157] == 0
                      and 2500 < kept < 6000)
        else:
            ok = kind == "error" and ("Could not connect" in body or "Connect" in body)
    result["ok"] = ok
    print(json.dumps(result, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
