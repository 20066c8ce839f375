"""The IPC client `greengrasssdk` uses to invoke functions and publish messages.

Greengrass V1 talked to its daemon on `GG_DAEMON_PORT`; this client talks to lambdalet's
`POST /lambdalet/v1/greengrass/invocations`, which invokes the named function (synchronously
or as an `Event`) or, for the router function `GGRouter`, routes the published message through
the legacy subscriptions. The function's token identifies it.
"""
import http.client
import json
import os
import threading
import time
import uuid

# Connections are kept alive between calls (a new one costs ~150 us per publish). The daemon
# closes a connection idle for 30 s; one idle this long is not reused.
_MAX_IDLE_SECONDS = 20


class IPCException(Exception):
    pass


class WorkResult:
    def __init__(self, payload, func_err):
        self.payload = payload
        self.func_err = func_err


class IPCClient:
    def __init__(self, endpoint="localhost", port=None, auth_token=None):
        target = os.environ.get("LAMBDALET_GREENGRASS_ENDPOINT", "")
        if not target:
            raise IPCException("LAMBDALET_GREENGRASS_ENDPOINT is not set: this code must run as a lambdalet function")
        host, _, port_text = target.rpartition(":")
        self.host = host or "127.0.0.1"
        self.port = int(port_text)
        self.auth_token = auth_token or os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
        self._results = {}
        # One kept-alive connection per thread: http.client connections are not thread-safe.
        self._local = threading.local()

    def post_work(self, function_arn, payload, client_context, invocation_type="RequestResponse"):
        if isinstance(payload, str):
            payload = payload.encode()
        headers = {
            "Authorization": self.auth_token,
            "X-Lambdalet-Function-Arn": function_arn,
            "X-Amz-Invocation-Type": invocation_type or "RequestResponse",
            "Content-Type": "application/octet-stream",
        }
        if client_context:
            headers["X-Amz-Client-Context"] = client_context
        status, body, response_headers = self._request("/lambdalet/v1/greengrass/invocations", payload or b"", headers)
        if status >= 400:
            raise IPCException(_error_message(status, body))
        invocation_id = response_headers.get("x-amzn-requestid") or str(uuid.uuid4())
        if invocation_type != "Event":
            self._results[invocation_id] = WorkResult(body, response_headers.get("x-amz-function-error", ""))
        return invocation_id

    def get_work_result(self, function_arn, invocation_id):
        try:
            return self._results.pop(invocation_id)
        except KeyError:
            raise IPCException("no result for invocation {}".format(invocation_id))

    def _request(self, path, body, headers):
        kept = getattr(self._local, "connection", None)
        if kept is not None and time.monotonic() - self._local.used > _MAX_IDLE_SECONDS:
            kept.close()
            kept = None
        if kept is not None:
            try:
                return self._exchange(kept, path, body, headers)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The daemon closed the kept connection before reading this request (its idle
                # timeout raced with us): nothing was processed, so send it again on a new one.
                pass
            except (OSError, http.client.HTTPException) as e:
                raise IPCException("cannot reach lambdalet at {}:{}: {}".format(self.host, self.port, e))
        connection = http.client.HTTPConnection(self.host, self.port, timeout=960)
        try:
            return self._exchange(connection, path, body, headers)
        except (OSError, http.client.HTTPException) as e:
            raise IPCException("cannot reach lambdalet at {}:{}: {}".format(self.host, self.port, e))

    def _exchange(self, connection, path, body, headers):
        """One request and its response; keeps the connection for the next call if it can."""
        self._local.connection = None
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            self._local.connection = connection
            self._local.used = time.monotonic()
        return response.status, data, {k.lower(): v for k, v in response.getheaders()}


def _error_message(status, body):
    try:
        parsed = json.loads(body)
        return "HTTP Error {}:{}".format(status, parsed.get("message") or parsed.get("errorMessage") or body)
    except ValueError:
        return "HTTP Error {}:{}".format(status, body.decode(errors="replace"))


__all__ = ["IPCClient", "IPCException", "WorkResult"]
