"""Signs requests the way the AWS CLI and boto3 do, for tests/all/botocore.rs.

Reads the key from LAMBDALET_TEST_KEY_ID / LAMBDALET_TEST_SECRET and prints one JSON
object: {"cases": [{"name", "method", "url", "headers": [[name, value]], "body_b64"}]}.
Nothing is sent anywhere: the client's request is captured in `before-send`.
If botocore is missing it prints a line starting with "skipped:" and exits 0.
"""

import base64
import json
import os
import sys
from urllib.parse import urlsplit

try:
    import botocore.session
    from botocore.auth import S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest, AWSResponse
    from botocore.config import Config
    from botocore.credentials import Credentials
except ImportError as e:
    print(f"skipped: botocore is not importable ({e})")
    sys.exit(0)

KEY_ID = os.environ["LAMBDALET_TEST_KEY_ID"]
SECRET = os.environ["LAMBDALET_TEST_SECRET"]
LAMBDA = "http://127.0.0.1:9001"
FUNCTION = "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello"
BODY = '{"name": "w\u00f6rld", "items": [1, 2, 3], "note": "a  b"}'.encode()

cases = []


def record(name, method, url, headers, body):
    headers = [[k, v if isinstance(v, str) else v.decode()] for k, v in headers.items()]
    if not any(k.lower() == "host" for k, _ in headers):
        # What the HTTP client sends: the URL's authority (botocore signs the same).
        headers.append(["Host", urlsplit(url).netloc])
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode()
    cases.append({
        "name": name,
        "method": method,
        "url": url,
        "headers": headers,
        "body_b64": base64.b64encode(body).decode(),
    })


def sign_header(name, credentials):
    url = f"{LAMBDA}/2015-03-31/functions/{FUNCTION}/invocations?Qualifier=%24LATEST"
    request = AWSRequest(
        method="POST",
        url=url,
        data=BODY,
        headers={"Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse"},
    )
    SigV4Auth(credentials, "lambda", "us-east-1").add_auth(request)
    prepared = request.prepare()
    record(name, prepared.method, prepared.url, prepared.headers, prepared.body)


def client_invoke():
    """The real Lambda client's Invoke, captured before it is sent."""
    session = botocore.session.get_session()
    client = session.create_client(
        "lambda", region_name="us-east-1", endpoint_url=LAMBDA,
        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1}),
    )

    def capture(request, **_):
        record("client-invoke", request.method, request.url, request.headers, request.body)
        return AWSResponse(request.url, 200, {}, None)

    client.meta.events.register("before-send.lambda.Invoke", capture)
    try:
        client.invoke(
            FunctionName="arn:aws:lambda:us-east-1:000000000000:function:hello",
            Qualifier="$LATEST", Payload=BODY,
        )
    except Exception:
        pass  # the empty stub response does not parse; the request was captured


def presign_lambda(credentials):
    url = f"{LAMBDA}/2015-03-31/functions/{FUNCTION}/code"
    request = AWSRequest(method="GET", url=url)
    SigV4QueryAuth(credentials, "lambda", "us-east-1", expires=600).add_auth(request)
    prepared = request.prepare()
    record("presign-lambda", prepared.method, prepared.url, prepared.headers, None)


def presign_s3():
    session = botocore.session.get_session()
    client = session.create_client(
        "s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9002",
        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": "lambdalet-code", "Key": "hello/sha256:ab c~.zip"},
        ExpiresIn=600,
    )
    record("presign-s3", "GET", url, {}, None)


plain = Credentials(KEY_ID, SECRET)
sign_header("sigv4-invoke", plain)
sign_header("sigv4-invoke-token", Credentials(KEY_ID, SECRET, "session-token/with+chars="))
client_invoke()
presign_lambda(plain)
presign_s3()
print(json.dumps({"cases": cases}))
