"""InvokeWithResponseStream against lambdalet, read by boto3 (``boto3``) or by botocore's own
event-stream decoder over a plain HTTP request (``raw``), printed as one JSON document.

usage: stream_invoke.py boto3|raw ENDPOINT FUNCTION PAYLOAD [Qualifier=..] [LogType=..]
                        [InvocationType=..] [discard] [hang-up]

Each event is listed with the seconds since the request was sent (``t``); ``discard`` keeps
only the count and total size of the chunks (for big responses); ``hang-up`` (raw) closes the
connection after the first chunk.
"""
import base64
import json
import sys
import time
import urllib.request

kind, endpoint, function, payload = sys.argv[1:5]
options = dict(a.split("=", 1) for a in sys.argv[5:] if "=" in a)
discard = "discard" in sys.argv[5:]
hang_up = "hang-up" in sys.argv[5:]
out = {"events": [], "chunks": 0, "bytes": 0}


def chunk(t, data):
    out["chunks"] += 1
    out["bytes"] += len(data)
    if not discard:
        out["events"].append({"t": t, "type": "PayloadChunk", "text": data.decode("utf-8", "replace"),
                              "b64": base64.b64encode(data).decode()})


start = time.monotonic()
if kind == "boto3":
    import boto3

    client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")
    resp = client.invoke_with_response_stream(FunctionName=function, Payload=payload.encode(), **options)
    out["t_headers"] = time.monotonic() - start
    out["status"] = resp["StatusCode"]
    out["executed"] = resp.get("ExecutedVersion")
    out["content_type"] = resp.get("ResponseStreamContentType")
    out["request_id"] = resp["ResponseMetadata"].get("RequestId")
    if "EventStream" in resp:
        for ev in resp["EventStream"]:
            t = time.monotonic() - start
            if "PayloadChunk" in ev:
                chunk(t, ev["PayloadChunk"]["Payload"])
            elif "InvokeComplete" in ev:
                out["events"].append({"t": t, "type": "InvokeComplete"})
                out["complete"] = ev["InvokeComplete"]
            else:
                out["events"].append({"t": t, "type": "other", "keys": sorted(ev)})
else:
    from botocore.eventstream import EventStreamBuffer

    url = "%s/2021-11-15/functions/%s/response-streaming-invocations" % (endpoint, function)
    if "Qualifier" in options:
        url += "?Qualifier=" + options["Qualifier"]
    req = urllib.request.Request(url, data=payload.encode(), method="POST")
    if "LogType" in options:
        req.add_header("X-Amz-Log-Type", options["LogType"])
    resp = urllib.request.urlopen(req)
    out["t_headers"] = time.monotonic() - start
    out["status"] = resp.status
    out["executed"] = resp.headers.get("X-Amz-Executed-Version")
    out["content_type"] = resp.headers.get("Content-Type")
    buf = EventStreamBuffer()
    while True:
        data = resp.read1(65536)
        if not data:
            break
        buf.add_data(data)
        # Each message's prelude and message CRCs are checked by the decoder.
        for msg in buf:
            t = time.monotonic() - start
            h = msg.headers
            if h.get(":event-type") == "PayloadChunk":
                assert h[":message-type"] == "event" and h[":content-type"] == "application/octet-stream", h
                chunk(t, msg.payload)
                if hang_up:
                    resp.close()
                    print(json.dumps(out))
                    sys.exit(0)
            else:
                out["events"].append({"t": t, "type": h.get(":event-type"), "headers": dict(h),
                                      "payload": msg.payload.decode()})
                if h.get(":event-type") == "InvokeComplete":
                    out["complete"] = json.loads(msg.payload)
    out["leftover"] = len(buf._data)
out["t_total"] = time.monotonic() - start
if out.get("complete", {}).get("LogResult"):
    out["log"] = base64.b64decode(out["complete"]["LogResult"]).decode("utf-8", "replace")
print(json.dumps(out))
