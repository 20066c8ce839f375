"""lambdalet Python runtime client for the AWS Lambda Runtime API (2018-06-01).

The daemon launches it as ``python3 -u bootstrap.py`` with the function's code
directory as cwd, ``AWS_LAMBDA_RUNTIME_API=host:port`` and ``_HANDLER`` set.
It loads the handler, then loops: ``GET /runtime/invocation/next`` -> call the
handler -> ``POST .../response`` (or ``.../error``).  Behaviour (error shapes,
context object, log format) follows AWS's Python runtime (awslambdaric).

Stdlib only, Python 3.8+, one self-contained file.  Cold start is a headline
number, hence the unusual layout:

* CPython never caches bytecode for the ``__main__`` script, and compiling
  this much code costs ~4-6 ms per cold start (more than everything else the
  bootstrap does).  So the implementation lives in the raw string ``_IMPL``
  below (tokenizing a string literal is nearly free) and ``_load_impl()``
  compiles it once and keeps the code object in
  ``__pycache__/bootstrap.<tag>.lambdalet.pyc`` next to this file (or under
  ``sys.pycache_prefix``); later cold starts just ``marshal.loads`` it.  Line
  numbers and the file name of the compiled code match this file, so
  tracebacks point at the right lines.  A cache is only trusted if it is owned
  by the owner of this file and not writable by group/others; without a
  writable cache directory the code is simply compiled every time.
* Only ``sys``, ``os``, ``time``, ``marshal`` and the C modules ``_socket`` and
  ``_json`` are imported up front (``socket`` drags in enum/selectors,
  ``json`` drags in ``re``).  HTTP/1.1 is spoken by hand over one persistent
  TCP connection; ``json``, ``traceback`` and ``logging`` are only touched on
  error paths or when user code itself imports ``logging``.
"""

import os
import sys

_IMPL_LINE = sys._getframe().f_lineno + 1
_IMPL = r'''
import sys
import os
import time

try:
    import _socket as _socketmod  # the C module: avoids socket.py -> enum, selectors
except ImportError:  # pragma: no cover - non-CPython
    import socket as _socketmod

try:
    # The C accelerator behind the json package.  `import json` itself pulls in
    # `re` (+ enum, sre_*), ~5-7 ms on a bare interpreter: the single biggest
    # cold-start cost, so JSON goes straight through _json and the real json
    # module is only imported when that fast path fails (to raise json's own
    # exceptions and messages).
    import _json
except ImportError:  # pragma: no cover - non-CPython
    _json = None

_ENV = os.environ
_API_PREFIX = "/2018-06-01"
_MAX_RESPONSE_SIZE = 6 * 1024 * 1024 + 100  # the Runtime API answers 413 above this
_REQUEST_ID = None  # request id of the current (or last) invocation
_LOGGING_DONE = False  # AWS-style root logging handler installed (or given up)

ERROR_LOG_LINE_TERMINATE = "\r"  # as awslambdaric's StandardLogSink: one record per line
ERROR_LOG_IDENT = "\u00a0"  # leading spaces of traceback lines -> NO-BREAK SPACE


# --------------------------------------------------------------------------
# Minimal HTTP/1.1 client (one persistent connection, keep-alive)
# --------------------------------------------------------------------------


class _ConnectionLost(Exception):
    pass


def _clean_header_value(value):
    value = str(value)
    if "\r" in value or "\n" in value:
        value = value.replace("\r", " ").replace("\n", " ")
    return value


def _quote_path_segment(s):
    # Request ids are UUIDs in practice; percent-encode anything unusual.
    for ch in s:
        if not (ch.isalnum() and ch.isascii()) and ch not in "-._~":
            break
    else:
        return s
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        if (c.isalnum() and c.isascii()) or c in "-._~":
            out.append(c)
        else:
            out.append("%%%02X" % b)
    return "".join(out)


class RuntimeAPIClient(object):
    """Talks to the Runtime API over a single keep-alive TCP connection."""

    def __init__(self, address):
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError("bad AWS_LAMBDA_RUNTIME_API value %r" % address)
        family = _socketmod.AF_INET
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
            family = _socketmod.AF_INET6
        elif ":" in host:
            family = _socketmod.AF_INET6
        self.host = host or "127.0.0.1"
        self.port = int(port)
        self.family = family
        self.host_header = address
        self.sock = None
        self.buf = bytearray()
        self.received = 0

    # -- connection management ---------------------------------------------

    def _connect(self):
        delay = 0.005
        attempt = 0
        while True:
            s = _socketmod.socket(self.family, _socketmod.SOCK_STREAM)
            try:
                s.settimeout(None)  # `next` blocks for as long as it takes, whatever
                # socket.setdefaulttimeout() user code may have called
                s.setsockopt(_socketmod.IPPROTO_TCP, _socketmod.TCP_NODELAY, 1)
                s.connect((self.host, self.port))
            except OSError:
                s.close()
                attempt += 1
                if attempt >= 8:
                    raise
                time.sleep(delay)
                delay *= 2
                continue
            self.sock = s
            self.buf = bytearray()
            return

    def close(self):
        s = self.sock
        self.sock = None
        self.buf = bytearray()
        if s is not None:
            try:
                s.close()
            except OSError:
                pass

    # -- request / response ------------------------------------------------

    def request(self, method, path, body=None, headers=None, retry=True):
        """Send one request, return (status, headers(lowercased), body bytes).

        A request that fails before any byte of the answer arrived (stale
        keep-alive connection, server closed it) is retried once on a fresh
        connection (if `retry`).
        """
        head = [method, " ", _API_PREFIX, path, " HTTP/1.1\r\nHost: ", self.host_header, "\r\n"]
        if headers:
            for k, v in headers.items():
                head.append(k)
                head.append(": ")
                head.append(_clean_header_value(v))
                head.append("\r\n")
        if body is not None:
            head.append("Content-Length: %d\r\n" % len(body))
        head.append("\r\n")
        data = "".join(head).encode("utf-8")
        if body is not None and len(body) <= 65536:
            data += body
            body = None
        for attempt in (0, 1):
            if self.sock is None:
                self._connect()
            self.received = 0
            try:
                try:
                    self.sock.sendall(data)
                    if body is not None:
                        self.sock.sendall(body)
                except OSError:
                    # The server may already have answered (e.g. 413) and
                    # closed; try to read that answer before giving up.
                    pass
                result = self._read_response()
                return result
            except (OSError, _ConnectionLost, ValueError):
                got_bytes = self.received
                self.close()
                if attempt or got_bytes or not retry:
                    raise
        raise _ConnectionLost("unreachable")  # pragma: no cover

    def _recv_more(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise _ConnectionLost("connection closed by the Runtime API")
        self.received += len(chunk)
        self.buf += chunk

    def _read_head(self):
        buf = self.buf
        while True:
            idx = buf.find(b"\r\n\r\n")
            if idx >= 0:
                break
            self._recv_more()
            buf = self.buf
        lines = bytes(buf[:idx]).decode("utf-8", "replace").split("\r\n")
        del buf[: idx + 4]
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ValueError("malformed status line %r" % lines[0])
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return status, headers

    def _read_exact(self, n):
        buf = self.buf
        have = len(buf)
        if have >= n:
            out = bytes(buf[:n])
            del buf[:n]
            return out
        out = bytearray(n)
        out[:have] = buf
        del buf[:]
        view = memoryview(out)
        pos = have
        recv_into = self.sock.recv_into
        while pos < n:
            k = recv_into(view[pos:], n - pos)
            if not k:
                raise _ConnectionLost("connection closed mid-body")
            self.received += k
            pos += k
        view.release()
        return bytes(out)

    def _read_line(self):
        while True:
            idx = self.buf.find(b"\r\n")
            if idx >= 0:
                line = bytes(self.buf[:idx])
                del self.buf[: idx + 2]
                return line
            self._recv_more()

    def _read_chunked(self):
        parts = []
        while True:
            line = self._read_line()
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self._read_line():  # trailers, up to the empty line
                    pass
                return b"".join(parts)
            parts.append(self._read_exact(size))
            self._read_exact(2)  # CRLF after the chunk data

    def _read_until_close(self):
        try:
            while True:
                self._recv_more()
        except _ConnectionLost:
            pass
        out = bytes(self.buf)
        self.close()
        return out

    def _read_response(self):
        while True:
            status, headers = self._read_head()
            if 100 <= status < 200 and status != 101:
                continue  # interim response (100 Continue)
            break
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]))
        elif status in (204, 304):
            body = b""
        else:
            return status, headers, self._read_until_close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    # -- Runtime API operations ---------------------------------------------

    def next_invocation(self):
        status, headers, body = self.request("GET", "/runtime/invocation/next")
        if status != 200:
            raise RuntimeError(
                "GET /runtime/invocation/next returned %d: %s" % (status, body[:1024].decode("utf-8", "replace"))
            )
        return headers, body

    def post_invocation_result(self, request_id, payload, content_type):
        path = "/runtime/invocation/%s/response" % _quote_path_segment(request_id)
        if len(payload) <= _MAX_RESPONSE_SIZE:
            return self._post(path, payload, {"Content-Type": content_type})
        # Oversized: the server may answer 413 and drop the connection before
        # reading the body; a send/recv failure then just means "rejected".
        try:
            return self._post(path, payload, {"Content-Type": content_type}, retry=False)
        except (OSError, _ConnectionLost, ValueError):
            self.close()
            return 413

    def post_invocation_error(self, request_id, error_json, error_type):
        path = "/runtime/invocation/%s/error" % _quote_path_segment(request_id)
        return self._post(
            path,
            error_json,
            {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type},
        )

    def post_init_error(self, error_json, error_type):
        return self._post(
            "/runtime/init/error",
            error_json,
            {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type},
        )

    def _post(self, path, body, headers, retry=True):
        status, _headers, resp = self.request("POST", path, body, headers, retry)
        if status >= 500:
            # "container error: the runtime should exit promptly"
            _fatal("POST %s returned %d: %s" % (path, status, resp[:1024].decode("utf-8", "replace")))
        return status


class FrameClient(object):
    """lambdalet's framed Runtime API over the socket the daemon passed as a descriptor
    (LAMBDALET_RUNTIME_FD).  A frame is two little-endian u32 lengths (header, body), the
    header (NUL-separated fields, the first naming the frame) and the body.  A response and
    the request for the next event go out in one write; the event comes back in one read.
    Same interface as RuntimeAPIClient."""

    _EVENT_FIELDS = (
        "lambda-runtime-aws-request-id",
        "lambda-runtime-deadline-ms",
        "lambda-runtime-invoked-function-arn",
        "lambda-runtime-trace-id",
        "lambda-runtime-client-context",
        "lambda-runtime-cognito-identity",
        "content-type",
    )

    def __init__(self, fd):
        self.sock = _socketmod.socket(_socketmod.AF_UNIX, _socketmod.SOCK_STREAM, 0, fd)
        self.sock.settimeout(None)
        self.buf = b""
        self.next_sent = False

    _NEXT = b"\x04\x00\x00\x00\x00\x00\x00\x00next"

    @staticmethod
    def _frame(fields, body=b""):
        header = "\0".join(fields)
        # A field may not hold a NUL (it would split it) or a line break (the daemon turns
        # fields into HTTP headers for extensions and logs): the rare field that does is
        # cleaned, one at a time.
        if header.count("\0") != len(fields) - 1 or "\r" in header or "\n" in header:
            header = "\0".join(_clean_header_value(f).replace("\0", " ") for f in fields)
        header = header.encode("utf-8")
        return len(header).to_bytes(4, "little") + len(body).to_bytes(4, "little") + header

    def _send(self, data, body=b""):
        self.sock.sendall(data + body if len(body) <= 65536 else data)
        if len(body) > 65536:
            self.sock.sendall(body)

    def _read_frame(self):
        """The next whole frame: (header bytes, body bytes). Usually one recv holds it all."""
        buf = self.buf
        chunks = None
        have = len(buf)
        while True:
            if have >= 8:
                if chunks is not None:
                    buf = b"".join(chunks)
                    chunks = None
                header_len = int.from_bytes(buf[0:4], "little")
                end = 8 + header_len + int.from_bytes(buf[4:8], "little")
                if have >= end:
                    break
                want = end - have
            else:
                want = 8 - have
            chunk = self.sock.recv(max(262144, want))
            if not chunk:
                raise _ConnectionLost("the daemon closed the runtime channel")
            if chunks is None:
                chunks = [buf, chunk] if buf else [chunk]
            else:
                chunks.append(chunk)
            have += len(chunk)
            if have < 8 or len(chunks) == 1:
                buf = b"".join(chunks)
                chunks = None
        self.buf = buf[end:]
        return buf[8:8 + header_len], buf[8 + header_len:end]

    def next_invocation(self):
        if not self.next_sent:
            self.sock.sendall(self._NEXT)
        self.next_sent = False
        header, body = self._read_frame()
        fields = header.decode("utf-8", "replace").split("\0")
        if fields[0] != "event":
            raise RuntimeError(
                "next was refused (%s %s): %s"
                % (fields[1] if len(fields) > 1 else "?", fields[2] if len(fields) > 2 else "?",
                   body[:1024].decode("utf-8", "replace"))
            )
        headers = {}
        for name, value in zip(self._EVENT_FIELDS, fields[1:]):
            if value:
                headers[name] = value
        return headers, body

    def _post(self, fields, body):
        # The request for the next event rides along: the loop always asks for it next.
        head = self._frame(fields, body)
        if len(body) <= 65536:
            self.sock.sendall(head + body + self._NEXT)
        else:
            self.sock.sendall(head)
            self.sock.sendall(body)
            self.sock.sendall(self._NEXT)
        self.next_sent = True
        return 202

    def post_invocation_result(self, request_id, payload, content_type):
        return self._post(("response", request_id, content_type or ""), payload)

    def post_invocation_error(self, request_id, error_json, error_type):
        return self._post(("error", request_id, error_type or ""), error_json)

    def post_init_error(self, error_json, error_type):
        self._send(self._frame(("init-error", error_type or ""), error_json), error_json)
        return 202


# --------------------------------------------------------------------------
# Context object (attribute-compatible with awslambdaric's LambdaContext)
# --------------------------------------------------------------------------


_CONTEXT_ENV = None  # the sandbox's values for every context, read once _serve starts


def _context_env():
    get = _ENV.get
    return (
        get("AWS_LAMBDA_LOG_GROUP_NAME"),
        get("AWS_LAMBDA_LOG_STREAM_NAME"),
        get("AWS_LAMBDA_FUNCTION_NAME"),
        get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        get("AWS_LAMBDA_FUNCTION_VERSION"),
    )


class LambdaContext(object):
    def __init__(
        self,
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn=None,
        tenant_id=None,
    ):
        self.aws_request_id = invoke_id
        (
            self.log_group_name,
            self.log_stream_name,
            self.function_name,
            self.memory_limit_in_mb,
            self.function_version,
        ) = _CONTEXT_ENV or _context_env()
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id

        self.client_context = _make_obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _make_obj_from_dict(Client, self.client_context.client)

        self.identity = identity = CognitoIdentity()
        if cognito_identity is not None:
            identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        else:
            identity.cognito_identity_id = identity.cognito_identity_pool_id = None

        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        epoch_now_in_ms = int(time.time() * 1000)
        delta_ms = self._epoch_deadline_time_in_ms - epoch_now_in_ms
        return delta_ms if delta_ms > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "%s([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
            "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,"
            "client_context=%s,identity=%s,tenant_id=%s])"
            % (
                self.__class__.__name__,
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
                self.tenant_id,
            )
        )


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return "%s([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.__class__.__name__,
            self.cognito_identity_id,
            self.cognito_identity_pool_id,
        )


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return (
            "%s([installation_id=%s,app_title=%s,app_version_name=%s,app_version_code=%s,app_package_name=%s])"
            % (
                self.__class__.__name__,
                self.installation_id,
                self.app_title,
                self.app_version_name,
                self.app_version_code,
                self.app_package_name,
            )
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return "%s([custom=%s,env=%s,client=%s])" % (self.__class__.__name__, self.custom, self.env, self.client)


def _make_obj_from_dict(cls, d):
    if d is None:
        return None
    obj = cls()
    get = d.get if isinstance(d, dict) else (lambda _k, _d=None: None)
    for field in cls.__slots__:
        setattr(obj, field, get(field, None))
    return obj


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class FaultException(Exception):
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

    def __init__(self, exception_type, msg, trace=None):
        Exception.__init__(self, msg)
        self.msg = msg
        self.exception_type = exception_type
        self.trace = trace


def make_error(error_message, error_type, stack_trace, invoke_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _is_own_frame(filename):
    return filename == __file__ or filename == _BOOTSTRAP_PATH or os.path.abspath(filename) == _BOOTSTRAP_PATH


def _format_user_traceback(tb):
    """traceback.format_list(extract_tb(tb)) minus the leading bootstrap frames."""
    import traceback  # lazy: only on the error path

    frames = traceback.extract_tb(tb)
    for i in range(len(frames)):
        if not _is_own_frame(frames[i].filename):
            frames = frames[i:]
            break
    else:
        frames = []
    return traceback.format_list(frames)


def _safe_str(value):
    try:
        return str(value)
    except Exception:
        return "<unprintable %s object>" % type(value).__name__


def _error_from_exc_info(exc_info, invoke_id=None):
    etype, value, tb = exc_info
    return make_error(_safe_str(value), etype.__name__, _format_user_traceback(tb), invoke_id)


def _replace_line_indentation(line, indent_char, new_indent_char):
    n = len(line) - len(line.lstrip(indent_char))
    return (new_indent_char * n) + line[n:]


def _write_log(text):
    out = sys.stdout
    try:
        out.write(text)
    except UnicodeEncodeError:
        try:
            out.flush()
            out.buffer.write(text.encode("utf-8", "backslashreplace"))
        except Exception:
            pass
    except Exception:
        pass


def log_error(error_result):
    """Print an error the way awslambdaric's StandardLogSink does."""
    description = "[ERROR]"
    error_type = error_result.get("errorType")
    if error_type:
        description += " " + error_type
    error_message = error_result.get("errorMessage")
    if error_message:
        if error_type:
            description += ":"
        description += " " + error_message
    lines = [description]
    stack_trace = error_result.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            if element == "":
                lines.append("")
            else:
                for trace_line in element.splitlines():
                    lines.append(_replace_line_indentation(trace_line, " ", ERROR_LOG_IDENT))
    _write_log(ERROR_LOG_LINE_TERMINATE.join(lines) + "\n")


def _flush_std():
    out, err = sys.stdout, sys.stderr
    for stream in (out, err, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass
        if stream is err and sys.__stdout__ is out and sys.__stderr__ is err:
            break  # the usual case: the original streams are the ones just flushed


# --------------------------------------------------------------------------
# JSON (un)marshalling
# --------------------------------------------------------------------------


def _json_default(obj):
    # boto3/DynamoDB hand out decimal.Decimal; awslambdaric (simplejson) encodes
    # them as numbers, so do the same without importing decimal up front.
    cls = type(obj)
    if cls.__name__ == "Decimal" and cls.__module__ in ("decimal", "_decimal", "_pydecimal"):
        if not obj.is_finite():
            return float(obj)
        if obj == obj.to_integral_value():
            return int(obj)
        return float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % cls.__name__)


class _DecoderContext(object):
    # The attributes _json.make_scanner reads (what json.JSONDecoder() has).
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    @staticmethod
    def parse_constant(name):
        return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[name])


_JSON_WS = " \t\n\r"
try:
    _c_scanner = _json.make_scanner(_DecoderContext)
    _c_make_encoder = _json.make_encoder
    _c_encode_basestring_ascii = _json.encode_basestring_ascii
except Exception:  # pragma: no cover - no usable accelerator
    _c_scanner = None
    _c_make_encoder = None


def json_loads(data):
    """Same result as json.loads(data) (bytes or str)."""
    if _c_scanner is not None:
        try:
            s = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
            n = len(s)
            idx = 0
            while idx < n and s[idx] in _JSON_WS:
                idx += 1
            obj, end = _c_scanner(s, idx)
            if end == n or not s[end:].strip(_JSON_WS):
                return obj
        except Exception:
            pass
    import json  # slow path: empty/invalid input, BOMs, UTF-16/32 ...

    return json.loads(data)


def to_json(obj):
    """Same output as json.dumps(obj, default=_json_default)."""
    if _c_make_encoder is not None:
        try:
            encoder = _c_make_encoder(
                {}, _json_default, _c_encode_basestring_ascii, None, ": ", ", ", False, False, True
            )
            return "".join(encoder(obj, 0))
        except Exception:
            pass
    import json  # slow path: produces json's own exception for the error message

    return json.dumps(obj, default=_json_default)


def _marshal_response(response, binary):
    if binary:
        if isinstance(response, (bytes, bytearray, memoryview)):
            return bytes(response), "application/octet-stream"
        if isinstance(response, str):
            return response.encode("utf-8"), "text/plain; charset=utf-8"
    elif isinstance(response, bytes):
        # awslambdaric passes bytes through untouched ("application/unknown").
        return response, "application/unknown"
    try:
        return to_json(response).encode("utf-8"), "application/json"
    except Exception as e:
        raise FaultException(FaultException.MARSHAL_ERROR, "Unable to marshal response: %s" % _safe_str(e))


def _parse_json_header(value, name):
    try:
        return json_loads(value)
    except Exception as e:
        raise FaultException(
            FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR,
            "Unable to parse %s JSON: %s" % (name, _safe_str(e)),
        )


# --------------------------------------------------------------------------
# Logging compatibility (without importing `logging` ourselves)
# --------------------------------------------------------------------------

_LOG_LEVELS = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "WARNING": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "CRITICAL",
    "CRITICAL": "CRITICAL",
}


def _install_logging(logging, only_if_unconfigured):
    """Give the root logger AWS's handler: `[LEVEL]\\t<ts>Z\\t<request id>\\t<msg>` on stdout."""
    global _LOGGING_DONE
    if _LOGGING_DONE:
        return
    _LOGGING_DONE = True
    root = logging.getLogger()
    if only_if_unconfigured and root.handlers:
        return

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record):
            try:
                msg = self.format(record)
                _write_log(msg)
            except Exception:
                self.handleError(record)

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _REQUEST_ID or ""
            return True

    class JsonFormatter(logging.Formatter):
        """AWS_LAMBDA_LOG_FORMAT=JSON: one object per record, as Lambda's runtime writes it."""

        def format(self, record):
            import json
            import traceback

            out = {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                + ".%03dZ" % record.msecs,
                "level": record.levelname,
                "message": record.getMessage(),
                "logger": record.name,
            }
            if getattr(record, "aws_request_id", ""):
                out["requestId"] = record.aws_request_id
            if record.exc_info:
                etype, evalue, tb = record.exc_info
                out["errorType"] = getattr(etype, "__name__", str(etype))
                out["errorMessage"] = str(evalue)
                out["stackTrace"] = traceback.format_tb(tb)
            return json.dumps(out, default=str) + "\n"

    logging.Formatter.converter = time.gmtime
    handler = LambdaLoggerHandler()
    if _ENV.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    handler.addFilter(LambdaLoggerFilter())
    level = _LOG_LEVELS.get(_ENV.get("AWS_LAMBDA_LOG_LEVEL", "").upper())
    if level:
        root.setLevel(level)
    root.addHandler(handler)


def _check_logging():
    if not _LOGGING_DONE:
        logging = sys.modules.get("logging")
        if logging is not None:
            try:
                _install_logging(logging, True)
            except Exception:
                pass


class _LoggingImportHook(object):
    """Meta-path hook: configure the root logger the moment user code first
    imports `logging`, before it can call basicConfig() (which, exactly as on
    AWS Lambda, then finds a handler already installed and does nothing)."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "logging":
            return None
        try:
            sys.meta_path.remove(cls)
        except ValueError:
            pass
        spec = None
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            spec = find_spec(name, path, target)
            if spec is not None:
                break
        if spec is None:
            return None
        loader = spec.loader
        orig_exec = getattr(loader, "exec_module", None)
        if orig_exec is None or isinstance(loader, type):
            return spec  # class-level loader: leave it alone, fall back to _check_logging()

        def exec_module(module):
            orig_exec(module)
            try:
                _install_logging(module, False)
            except Exception:
                pass

        try:
            loader.exec_module = exec_module
        except Exception:
            pass
        return spec


# --------------------------------------------------------------------------
# Handler loading and invocation
# --------------------------------------------------------------------------


def _get_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            FaultException.MALFORMED_HANDLER_NAME,
            "Bad handler '%s': %s" % (handler, e),
        )

    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module %s as a handler module" % modname,
            )
        module_name = modname.replace("/", ".")
        __import__(module_name)
        m = sys.modules[module_name]
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR,
            "Unable to import module '%s': %s" % (modname, e),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '%s': %s" % (modname, e),
            trace,
        )

    try:
        return getattr(m, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND,
            "Handler '%s' missing on module '%s'" % (fname, modname),
        )


def _handle_event(client, request_handler, headers, body, binary):
    invoke_id = headers.get("lambda-runtime-aws-request-id", "")
    error_result = None
    try:
        client_context = headers.get("lambda-runtime-client-context")
        client_context = _parse_json_header(client_context, "Client Context") if client_context else None
        cognito_identity = headers.get("lambda-runtime-cognito-identity")
        cognito_identity = _parse_json_header(cognito_identity, "Cognito Identity") if cognito_identity else None
        try:
            deadline = int(headers.get("lambda-runtime-deadline-ms", "0"))
        except ValueError:
            deadline = 0
        context = LambdaContext(
            invoke_id,
            client_context,
            cognito_identity,
            deadline,
            headers.get("lambda-runtime-invoked-function-arn"),
            headers.get("lambda-runtime-aws-tenant-id"),
        )
        if binary:
            event = body
        else:
            try:
                event = json_loads(body)
            except Exception as e:
                raise FaultException(
                    FaultException.UNMARSHAL_ERROR,
                    "Unable to unmarshal input: %s" % _safe_str(e),
                )
        response = request_handler(event, context)
        payload, content_type = _marshal_response(response, binary)
    except FaultException as e:
        error_result = make_error(e.msg, e.exception_type, e.trace, invoke_id)
    except Exception:
        error_result = _error_from_exc_info(sys.exc_info(), invoke_id)

    if error_result is not None:
        log_error(error_result)
        _flush_std()
        client.post_invocation_error(invoke_id, to_json(error_result).encode("utf-8"), error_result["errorType"])
    else:
        _flush_std()
        client.post_invocation_result(invoke_id, payload, content_type)


def main():
    zygote = _ENV.pop("LAMBDALET_ZYGOTE_FD", None)
    if zygote is not None and zygote.isdigit():
        return _zygote(int(zygote))
    client = _make_client()
    request_handler = _init(lambda error_result: _post_init_error(client, error_result))
    _serve(client, request_handler)


def _make_client():
    api = _ENV.get("AWS_LAMBDA_RUNTIME_API")
    if not api:
        sys.stderr.write("lambdalet runtime: AWS_LAMBDA_RUNTIME_API is not set\n")
        sys.exit(1)
    fd = _ENV.pop("LAMBDALET_RUNTIME_FD", None)
    if fd is not None and fd.isdigit():
        # Only this process speaks on it: not inherited by what the handler starts.
        os.set_inheritable(int(fd), False)
        return FrameClient(int(fd))
    return RuntimeAPIClient(api)


def _post_init_error(client, error_result):
    try:
        client.post_init_error(to_json(error_result).encode("utf-8"), error_result["errorType"])
    except Exception as post_exc:
        sys.stderr.write("lambdalet runtime: could not report init error: %s\n" % _safe_str(post_exc))


def _init(report_error):
    """Lambda's Init phase: the search path, the logging hook, the handler's import. A failure
    is printed, handed to `report_error`, and ends the process."""
    if "logging" in sys.modules:
        _check_logging()
    else:
        sys.meta_path.insert(0, _LoggingImportHook)

    task_root = _ENV.get("LAMBDA_TASK_ROOT") or os.getcwd()
    layer_paths = _layer_paths()
    # The AWS SDK lambdalet installed (boto3) comes after the code and the layers, where
    # Lambda's runtime has its own: a function's or a layer's boto3 wins.
    sdk = _ENV.get("LAMBDALET_SDK")
    sys.path[0:0] = [task_root] + layer_paths + ([sdk] if sdk else [])
    _add_layer_site_dirs(layer_paths)

    try:
        request_handler = _get_handler(_ENV.get("_HANDLER", ""))
    except Exception as e:
        if isinstance(e, FaultException):
            error_result = make_error(e.msg, e.exception_type, e.trace)
        else:
            error_result = _error_from_exc_info(sys.exc_info())
        log_error(error_result)
        _flush_std()
        report_error(error_result)
        _flush_std()
        sys.exit(1)

    # The import hook stays armed (user code may import logging lazily inside
    # the handler); this covers loaders the hook could not wrap.
    _check_logging()
    return request_handler


def _serve(client, request_handler):
    global _REQUEST_ID, _CONTEXT_ENV
    # The sandbox's environment is final here (a forked runtime has just taken its own).
    _CONTEXT_ENV = _context_env()
    binary = _ENV.get("LAMBDALET_PAYLOAD_ENCODING", "json").strip().lower() == "binary"
    while True:
        try:
            headers, body = client.next_invocation()
        except Exception as e:
            _fatal("GET /runtime/invocation/next failed: %s" % _safe_str(e))
        _REQUEST_ID = headers.get("lambda-runtime-aws-request-id")
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            _ENV["_X_AMZN_TRACE_ID"] = trace_id
        elif "_X_AMZN_TRACE_ID" in _ENV:
            del _ENV["_X_AMZN_TRACE_ID"]
        if not _LOGGING_DONE:
            _check_logging()
        try:
            _handle_event(client, request_handler, headers, body, binary)
        except (OSError, _ConnectionLost, ValueError) as e:
            _fatal("reporting the invocation result failed: %s" % _safe_str(e))


# --------------------------------------------------------------------------
# Zygote: Init once, then a fork per sandbox
# --------------------------------------------------------------------------


def _zygote(ctl_fd):
    """Runs Init once, then forks a runtime per request of the daemon.

    The daemon speaks on `ctl_fd`, a SOCK_SEQPACKET socket, one JSON message per packet:
    zygote -> daemon: {"op": "ready", "initMs": F} once the handler is imported,
    {"op": "refused", "why": S} (threads were started at import: a fork would not have them;
    the daemon then starts that version's sandboxes the plain way), {"op": "init-error",
    "error": {...}} (the daemon starts a plain sandbox, which reports it as Lambda does),
    {"op": "forked", "id": S, "pid": N}, {"op": "exited", "pid": N, "code": N|null,
    "signal": N|null}.
    daemon -> zygote: first {"op": "init"}, with the channel of the sandbox whose cold start
    starts the zygote if it has one (an import error is posted there as that runtime's init
    error, as a plain start would, once the daemon has answered the init-error message with
    {"op": "logged"}; the zygote closes it after Init); then
    {"op": "fork", "id": S, "env": {...}} (served by a child forked ahead when there is one)
    with descriptors (SCM_RIGHTS): the new runtime's
    channel (its descriptor 3), its output (1 and 2), a gate the child reads one byte from
    before it serves (the daemon's go-ahead), then any number of cgroup files (v1 `tasks`,
    v2 `cgroup.procs`) the child writes "0" to first, joining the sandbox's cgroups. End of
    file on `ctl_fd` ends the zygote, and its children with it (they die with their parent):
    the daemon closes it once none is left.
    """
    import signal
    import select
    import ctypes

    ctl = _socketmod.socket(_socketmod.AF_UNIX, _socketmod.SOCK_SEQPACKET, 0, ctl_fd)
    os.set_inheritable(ctl_fd, False)
    # Each forked runtime gets its own channel; Init sees no channel variable, as in a plain start.
    _ENV.pop("LAMBDALET_RUNTIME_FD", None)

    def send(msg):
        ctl.sendall(to_json(msg).encode("utf-8"))

    data, anc, _flags, _addr = ctl.recvmsg(1 << 16, _socketmod.CMSG_SPACE(4))
    passed = _passed_fds(anc)
    init_msg = json_loads(data) if data else {}
    if init_msg.get("op") != "init":
        _fatal("zygote: the daemon's first message was not init")
    first = FrameClient(passed[0]) if passed else None
    # In a container: what each fork makes its own (see _own_sandbox).
    container = init_msg.get("container")

    def init_error(error_result):
        send({"op": "init-error", "error": error_result})
        if first is not None:
            # The daemon answers once what Init printed is in the first sandbox's log, so the
            # error reaches it after its output, as from a plain start.
            ctl.settimeout(5)
            try:
                ctl.recv(64)
            except OSError:
                pass
            _post_init_error(first, error_result)

    started = time.monotonic()
    request_handler = _init(init_error)
    init_ms = (time.monotonic() - started) * 1000.0
    if first is not None:
        first.sock.close()
    why = _threads_started() or _fds_opened(ctl_fd)
    if why:
        send({"op": "refused", "why": why})
        _flush_std()
        os._exit(0)
    libc = ctypes.CDLL(None, use_errno=True)
    if container is not None:
        # A fork's init outlives the child that made its PID namespace: it comes back here.
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    # What Init made goes to the collector's permanent generation: a fork's collections then
    # leave those objects (and the pages they share with the zygote) alone.
    import gc

    gc.collect()
    gc.freeze()
    _flush_std()

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    poller = select.poll()
    poller.register(ctl_fd, select.POLLIN)
    poller.register(wake_r, select.POLLIN)

    def new_spare():
        """A child forked ahead, waiting for its sandbox on a socket of its own: a fork request
        then costs a message to it instead of a fork. In a container it makes its sandbox
        first (see _own_sandbox); it says which pid it is, and whether that worked."""
        ours, theirs = _socketmod.socketpair(_socketmod.AF_UNIX, _socketmod.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            ours.close()
            os.close(wake_r)
            os.close(wake_w)
            # The daemon's socket goes, its descriptor number stays taken (so a descriptor
            # passed later cannot land on 3, where the runtime's channel goes).
            nul = os.open(os.devnull, os.O_RDONLY)
            os.dup2(nul, ctl.detach())
            os.close(nul)
            if container is not None:
                _contained_spare(libc, theirs, request_handler, container)
            _spare(libc, theirs, request_handler)
        theirs.close()
        if container is not None:
            pid, said = _contained_spare_said(ours)
            if not said.get("ready"):
                ours.close()
                raise _SpareFailed(said.get("error") or "the fork's sandbox was not made")
        return pid, ours

    try:
        spare = new_spare()
    except _SpareFailed as e:
        send({"op": "refused", "why": "a fork cannot make its own sandbox here: %s" % e})
        _flush_std()
        os._exit(0)
    send({"op": "ready", "initMs": init_ms})
    # A container fork's init (by pid) -> its socket, on which it says how its runtime ended
    # when a signal ended it (an init's own exit status cannot say so).
    statuses = {}

    def hand_over(spare, data, fds):
        """Gives the request to the child forked ahead: its pid, or None if it is gone."""
        spare_pid, spare_sock = spare
        try:
            rights = b"".join(f.to_bytes(4, sys.byteorder) for f in fds)
            spare_sock.sendmsg([data], [(_socketmod.SOL_SOCKET, _socketmod.SCM_RIGHTS, rights)])
        except OSError:
            spare_sock.close()
            return None
        if container is None:
            spare_sock.close()
            return spare_pid
        # A container fork's runtime says when it (and its init) are in the sandbox's cgroups.
        spare_sock.settimeout(5)
        try:
            spare_sock.recv(4096)
        except OSError:
            pass
        spare_sock.settimeout(None)
        statuses[spare_pid] = spare_sock
        return spare_pid

    # After a fork, the next child forked ahead waits a little: made at once, it would take
    # the CPU from the runtime just forked, whose first invocation is waiting.
    spare_due = None
    while True:
        timeout = None
        if spare_due is not None:
            timeout = max(0, (spare_due - time.monotonic()) * 1000)
        ready = poller.poll(timeout)
        if not ready and spare is None and spare_due is not None:
            spare_due = None
            try:
                spare = new_spare()
            except _SpareFailed as e:
                _write_log("lambdalet runtime: zygote: %s\n" % e)
            continue
        for fd, _ in ready:
            if fd == wake_r:
                try:
                    os.read(wake_r, 512)
                except BlockingIOError:
                    pass
                _report_exits(send, statuses)
                continue
            data, anc, _flags, _addr = ctl.recvmsg(1 << 20, _socketmod.CMSG_SPACE(16 * 4))
            if not data:
                _report_exits(send, statuses)
                os._exit(0)
            fds = _passed_fds(anc)
            msg = json_loads(data)
            if msg.get("op") != "fork" or len(fds) < 3:
                for f in fds:
                    os.close(f)
                continue
            pid = None
            if spare is not None:
                pid = hand_over(spare, data, fds)
                spare = None
            if pid is None and container is not None:
                # A container fork is always one made ahead: make one now.
                try:
                    pid = hand_over(new_spare(), data, fds)
                except _SpareFailed as e:
                    _write_log("lambdalet runtime: zygote: %s\n" % e)
                if pid is None:
                    for f in fds:
                        os.close(f)
                    continue  # the daemon's fork request times out, and the zygote is retired
            if pid is None:
                pid = os.fork()
                if pid == 0:
                    os.close(wake_r)
                    os.close(wake_w)
                    ctl.close()
                    _child(libc, msg, fds, request_handler)
            for f in fds:
                os.close(f)
            send({"op": "forked", "id": msg.get("id"), "pid": pid})
            spare_due = time.monotonic() + SPARE_DELAY
            _report_exits(send, statuses)


# How long after a fork the zygote makes the next child forked ahead (seconds).
SPARE_DELAY = 0.025


def _threads_started():
    """Why the process is not single-threaded after Init ("" when it is)."""
    try:
        n = len(os.listdir("/proc/self/task"))
    except OSError:
        n = 1
    if n > 1:
        return "the handler's import started %d threads besides the main one" % (n - 1)
    return ""


def _fds_opened(ctl_fd):
    """Why Init left descriptors open that forked sandboxes would share ("" when it did not):
    a socket or a file the handler's import opened would be one connection, one offset, for
    every sandbox."""
    try:
        fds = [int(f) for f in os.listdir("/proc/self/fd")]
    except OSError:
        return ""
    extra = []
    for fd in fds:
        if fd in (0, 1, 2, ctl_fd):
            continue
        try:
            target = os.readlink("/proc/self/fd/%d" % fd)
        except OSError:
            continue  # the listing's own descriptor, closed by now
        extra.append(target)
    if extra:
        return "the handler's import left %d descriptors open (%s)" % (len(extra), ", ".join(sorted(extra)[:3]))
    return ""


def _passed_fds(anc):
    fds = []
    for level, kind, data in anc:
        if level == _socketmod.SOL_SOCKET and kind == _socketmod.SCM_RIGHTS:
            usable = len(data) - len(data) % 4
            fds.extend(int.from_bytes(data[i:i + 4], sys.byteorder) for i in range(0, usable, 4))
    return fds


def _report_exits(send, statuses=None):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        said = {}
        sock = (statuses or {}).pop(pid, None)
        if sock is not None:
            sock.setblocking(False)
            try:
                said = json_loads(sock.recv(4096) or b"{}")
            except (OSError, ValueError):
                pass
            sock.close()
        if "signal" in said:
            send({"op": "exited", "pid": pid, "code": None, "signal": said["signal"]})
        elif os.WIFEXITED(status):
            send({"op": "exited", "pid": pid, "code": os.WEXITSTATUS(status), "signal": None})
        elif os.WIFSIGNALED(status):
            send({"op": "exited", "pid": pid, "code": None, "signal": os.WTERMSIG(status)})


def _detach_from_zygote(libc):
    """A forked child's own session and signals; it dies with the zygote, which dies with the
    daemon."""
    import signal

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        os._exit(0)  # the zygote was gone before the signal was asked for


def _spare(libc, sock, request_handler):
    """A child forked ahead: waits for its sandbox's fork request (with its descriptors) on
    `sock`, then starts as a forked child does."""
    try:
        _detach_from_zygote(libc)
        data, anc, _flags, _addr = sock.recvmsg(1 << 20, _socketmod.CMSG_SPACE(16 * 4))
        fds = _passed_fds(anc)
        sock.close()
        msg = json_loads(data) if data else None
    except Exception as e:
        _fatal("a zygote's spare could not start: %s" % _safe_str(e))
    if msg is None or len(fds) < 3:
        os._exit(0)
    _child(libc, msg, fds, request_handler, detached=True)


def _child(libc, msg, fds, request_handler, detached=False):
    """In a forked runtime: what is per sandbox is made new, then it serves like any runtime."""
    import fcntl

    try:
        # Out of the way of 0-3, where the output and the channel go.
        moved = [fcntl.fcntl(f, fcntl.F_DUPFD_CLOEXEC, 10) for f in fds]
        for f in fds:
            os.close(f)
    except OSError as e:
        _fatal("could not start from the zygote: %s" % _safe_str(e))
    fds = moved
    channel, output, gate = fds[:3]
    try:
        # Into the sandbox's cgroups first (a process moving itself is cheap; the daemon
        # moving it would wait for the kernel), before anything of the function runs.
        for fd in fds[3:]:
            os.write(fd, b"0")
            os.close(fd)
        if not detached:
            _detach_from_zygote(libc)
        for target in (1, 2):
            os.dup2(output, target)
        os.dup2(channel, 3, inheritable=False)
        os.close(output)
        os.close(channel)
        # Wait until the daemon has put this process in the sandbox's cgroup.
        if not os.read(gate, 1):
            os._exit(1)
        os.close(gate)
        _ENV.clear()
        _ENV.update(msg.get("env") or {})
        if "random" in sys.modules:
            sys.modules["random"].seed()
        _ENV.pop("LAMBDALET_RUNTIME_FD", None)
        client = FrameClient(3)
    except Exception as e:
        _fatal("could not start from the zygote: %s" % _safe_str(e))
    _serve(client, request_handler)
    os._exit(0)


class _SpareFailed(Exception):
    pass


def _contained_spare_said(sock, timeout=10):
    """What a container spare says as it is made: the pid of its sandbox's init (from the
    process that made its namespaces, which then exits) and whether that init is ready (or an
    error). The two come from different processes, in either order: a busy host may run the
    init's whole set-up before its parent is scheduled again to say the pid. Returns (pid,
    the ready or error message); pid is None when no pid came."""
    pid, said = None, {}
    deadline = time.monotonic() + timeout
    try:
        while pid is None or not said:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            msg = json_loads(sock.recv(4096) or b"{}")
            if "pid" in msg:
                pid = msg["pid"]
                continue
            said = msg if msg else {"error": "the fork's sandbox ended before it was ready"}
            if not said.get("ready"):
                break
        sock.settimeout(None)
    except (OSError, ValueError) as e:
        said = {"error": _safe_str(e)}
    return pid, said


def _contained_spare(libc, sock, request_handler, cfg):
    """A container zygote's child forked ahead (never returns). It makes a user namespace that
    owns new mount, PID, IPC and UTS namespaces (the zygote's seccomp filter allows exactly those),
    forks the init of that PID namespace, tells the zygote the init's pid and exits. The init
    makes the sandbox (_own_sandbox), forks the runtime, drops every capability and installs
    the sandbox's seccomp filter on top of the zygote's. The runtime waits for its sandbox's
    fork request on `sock`; it and its init join the sandbox's cgroups (the runtime hands the
    init the files), then it takes its host name and confines itself the same way. The init
    stays, reaping, and exits as the runtime did."""
    import signal

    def say(msg):
        try:
            sock.send(to_json(msg).encode("utf-8"))
        except OSError:
            pass

    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        uid, gid = os.getuid(), os.getgid()
        if libc.unshare(int(cfg["unshare"])) != 0:
            raise OSError(ctypes_errno(), "unshare: " + os.strerror(ctypes_errno()))
        for name, text in (("setgroups", "deny"), ("uid_map", "%d %d 1" % (uid, uid)), ("gid_map", "%d %d 1" % (gid, gid))):
            with open("/proc/self/" + name, "w") as f:
                f.write(text)
        pid = os.fork()
    except Exception as e:
        say({"error": _safe_str(e)})
        os._exit(1)
    if pid != 0:
        say({"pid": pid})
        os._exit(0)
    try:
        os.setsid()
        _own_sandbox(libc, cfg)
        # The init's and the runtime's own line: each process joins a cgroup itself (writing
        # "0"), which is cheap, where moving another waits for the kernel (milliseconds).
        init_end, runtime_end = _socketmod.socketpair(_socketmod.AF_UNIX, _socketmod.SOCK_SEQPACKET)
        runtime = os.fork()
    except Exception as e:
        say({"error": _safe_str(e)})
        os._exit(1)
    if runtime == 0:
        # The runtime confines itself as its init does, but keeps its capabilities in effect
        # until its sandbox is named (its host name).
        try:
            init_end.close()
            _confine_early(libc, cfg)
            runtime_end.send(b"confined")
        except Exception as e:
            say({"error": _safe_str(e)})
            os._exit(1)
        try:
            data, anc, _flags, _addr = sock.recvmsg(1 << 20, _socketmod.CMSG_SPACE(16 * 4))
            fds = _passed_fds(anc)
            msg = json_loads(data) if data else None
            # Into the sandbox's cgroups first, this runtime and its init, then the zygote
            # may say it forked: the daemon finds them there.
            joins = fds[3:]
            if joins:
                rights = b"".join(f.to_bytes(4, sys.byteorder) for f in joins)
                runtime_end.sendmsg([b"join"], [(_socketmod.SOL_SOCKET, _socketmod.SCM_RIGHTS, rights)])
            for fd in joins:
                os.write(fd, b"0")
                os.close(fd)
            if joins:
                runtime_end.recv(16)
            runtime_end.close()
            fds = fds[:3]
            say({"joined": True})
            sock.close()
            if msg is not None and msg.get("hostname"):
                name = msg["hostname"].encode("utf-8")
                if libc.sethostname(name, len(name)) != 0:
                    raise OSError(ctypes_errno(), "sethostname")
            _drop_capabilities(libc)
        except Exception as e:
            _fatal("a zygote's spare could not start: %s" % _safe_str(e))
        if msg is None or len(fds) < 3:
            os._exit(0)
        _child(libc, msg, fds, request_handler, detached=True)
    try:
        runtime_end.close()
        if init_end.recv(16) != b"confined":
            raise OSError("the runtime forked ahead could not confine itself")
        _confine(libc, cfg)
    except Exception as e:
        os.kill(runtime, 9)
        say({"error": _safe_str(e)})
        os._exit(1)
    say({"ready": True})
    try:
        _data, anc, _flags, _addr = init_end.recvmsg(64, _socketmod.CMSG_SPACE(16 * 4))
        for fd in _passed_fds(anc):
            os.write(fd, b"0")
            os.close(fd)
        init_end.send(b"joined")
    except OSError:
        pass  # the runtime is gone before its request: its exit follows
    init_end.close()
    # (Its copy of `sock` stays open: how the runtime ended goes to the zygote on it.)
    # PID 1 of the fork's namespace: the kernel delivers it only signals it handles. Those a
    # runtime may be sent reach the runtime from its process group; here they do nothing.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, lambda *_: None)
    while True:
        try:
            done, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if done == runtime:
            _flush_std()
            if os.WIFSIGNALED(status):
                # The zygote reports the signal it hears of here (this exit status cannot
                # carry it: as PID 1 this process ignores its own signals).
                say({"signal": os.WTERMSIG(status)})
                os._exit(128 + os.WTERMSIG(status))
            os._exit(os.WEXITSTATUS(status))


def ctypes_errno():
    import ctypes

    return ctypes.get_errno()


_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18


def _mount(libc, source, target, fstype, flags, data=None):
    enc = lambda v: v.encode() if v is not None else None
    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        e = ctypes_errno()
        raise OSError(e, "mount %s on %s: %s" % (fstype or source, target, os.strerror(e)))


def _own_sandbox(libc, cfg):
    """In a container fork's new namespaces (PID 1, with every capability of its own user
    namespace): its own /tmp (over what Init left there), /dev/shm, /dev/pts and /proc (masked
    as the container's is)."""
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)
    old_tmp = os.open("/tmp", os.O_RDONLY | os.O_DIRECTORY)
    try:
        left = os.listdir(old_tmp)
        _mount(libc, "tmpfs", "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=1777,size=%d" % int(cfg["tmpBytes"]))
        if left:
            # What Init left in /tmp, under this fork's own writable layer: a file is copied
            # (and counted in this sandbox's memory) only once this fork changes it.
            for d in ("/tmp/.upper", "/tmp/.work"):
                os.mkdir(d, 0o700)
            os.chmod("/tmp/.upper", 0o1777)
            options = "lowerdir=/proc/self/fd/%d,upperdir=/tmp/.upper,workdir=/tmp/.work" % old_tmp
            try:
                _mount(libc, "overlay", "/tmp", "overlay", _MS_NOSUID | _MS_NODEV, options)
            except OSError:
                # A kernel without overlayfs in user namespaces (before 5.11): a copy.
                import shutil

                os.rmdir("/tmp/.upper")
                os.rmdir("/tmp/.work")
                shutil.copytree("/proc/self/fd/%d" % old_tmp, "/tmp", symlinks=True, dirs_exist_ok=True)
    finally:
        os.close(old_tmp)
    _mount(libc, "tmpfs", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=1777,size=%d" % int(cfg["shmBytes"]))
    _mount(libc, "devpts", "/dev/pts", "devpts", _MS_NOSUID | _MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
    _mount(libc, "proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    for name in cfg.get("masked") or []:
        path = "/proc/" + name
        if os.path.isdir(path) and not os.path.islink(path):
            _mount(libc, "tmpfs", path, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, "size=4k")
        elif os.path.lexists(path) and not os.path.islink(path):
            _mount(libc, "/dev/null", path, None, _MS_BIND)
    for name in cfg.get("readOnly") or []:
        path = "/proc/" + name
        if os.path.lexists(path) and not os.path.islink(path):
            _mount(libc, path, path, None, _MS_BIND | _MS_REC)
            _mount(libc, None, path, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)


def _confine(libc, cfg):
    """Drops every capability the fork's user namespace gave it and installs the sandbox's
    seccomp filter on top of the zygote's (see _confine_early)."""
    _confine_early(libc, cfg)
    _drop_capabilities(libc)


def _confine_early(libc, cfg):
    """Empties the bounding and ambient capability sets and installs the sandbox's seccomp
    filter on top of the zygote's, which refuses any further namespace or mount
    (no_new_privs is inherited from the zygote). The capabilities in effect stay until
    _drop_capabilities: a runtime forked ahead still names its UTS namespace once it knows
    its sandbox."""
    import ctypes

    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 63
    for cap in range(last + 1):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes_errno(), "drop capability %d" % cap)
    libc.prctl(47, 4, 0, 0, 0)  # PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    code = bytes.fromhex(cfg["filter"])
    buf = ctypes.create_string_buffer(code, len(code))
    prog = Prog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes_errno(), "install the seccomp filter")


def _drop_capabilities(libc):
    """Empties the effective, permitted and inheritable capability sets."""
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    caps = (Data * 2)()
    if libc.capset(ctypes.byref(Header(0x20080522, 0)), caps) != 0:
        raise OSError(ctypes_errno(), "drop capabilities")


def _layer_paths():
    """The sys.path entries of the function's layers, placed where AWS's Python runtime puts
    /opt's: after the code, each layer's python/lib/pythonX.Y/site-packages then python.

    The layers are merged at /opt in a container. Where they are not (a process sandbox), the
    daemon lists their directories in LAMBDALET_LAYERS, in the function's order; the last one
    comes first, as its files would win at /opt.
    """
    listed = _ENV.get("LAMBDALET_LAYERS")
    roots = ["/opt"] if listed is None else [r for r in reversed(listed.split(":")) if r]
    site_packages = "python/lib/python%d.%d/site-packages" % sys.version_info[:2]
    paths = []
    for root in roots:
        paths.append(root + "/" + site_packages)
        paths.append(root + "/python")
    return paths


def _add_layer_site_dirs(paths):
    """Reads the .pth files of the layers' directories, as site directories (AWS's runtime
    does the same); they are on sys.path already, so only what the .pth files add is added."""
    present = [p for p in paths if os.path.isdir(p)]
    if not present:
        return
    import site

    for p in present:
        site.addsitedir(p)


def _fatal(message):
    _flush_std()
    try:
        sys.stderr.write("lambdalet runtime: %s\n" % message)
    except Exception:
        pass
    _flush_std()
    os._exit(1)


_BOOTSTRAP_PATH = os.path.abspath(__file__)
'''


def _load_impl():
    """The code object of _IMPL: from the bytecode cache if valid, else compiled (and cached)."""
    import marshal

    filename = __file__
    source = "\n" * (_IMPL_LINE - 1) + _IMPL  # keep line numbers == lines of this file
    try:
        st = os.stat(filename)
        directory = os.path.dirname(os.path.abspath(filename))
        prefix = getattr(sys, "pycache_prefix", None)
        if prefix:
            cache_dir = os.path.join(prefix, directory.lstrip(os.sep))
        else:
            cache_dir = os.path.join(directory, "__pycache__")
        cache = os.path.join(cache_dir, "bootstrap.%s.lambdalet.pyc" % (sys.implementation.cache_tag or "py"))
        key = ("lambdalet-bootstrap %x %d %d %d %d %d\n" % (
            sys.hexversion, st.st_size, st.st_mtime_ns, st.st_ino, len(_IMPL), sys.flags.optimize)).encode()
    except Exception:
        return compile(source, filename, "exec")
    try:
        cst = os.stat(cache)
        if cst.st_uid == st.st_uid and not cst.st_mode & 0o022:
            with open(cache, "rb") as f:
                data = f.read()
            if data.startswith(key):
                return marshal.loads(data[len(key):])
    except Exception:
        pass
    code = compile(source, filename, "exec")
    if not sys.dont_write_bytecode:
        tmp = "%s.%d.tmp" % (cache, os.getpid())
        try:
            os.makedirs(cache_dir, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(key + marshal.dumps(code))
            os.replace(tmp, cache)
        except Exception:
            try:
                os.unlink(tmp)
            except Exception:
                pass
    return code


exec(_load_impl(), globals())  # defines main() and everything above in this module

# The daemon runs the bootstrap once per interpreter with LAMBDALET_BOOTSTRAP_PRECOMPILE=1 to
# write the bytecode cache above where a sandbox can read it (a container sees this directory
# read-only, as another user, and could never write it).
if __name__ == "__main__" and os.environ.get("LAMBDALET_BOOTSTRAP_PRECOMPILE") != "1":
    globals()["main"]()
