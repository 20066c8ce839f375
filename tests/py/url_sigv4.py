"""Calls an AWS_IAM function URL signed with botocore's SigV4Auth, as awscurl and SDK users do.

usage: url_sigv4.py HOST_URL PATH_URL ACCESS_KEY_ID SECRET_ACCESS_KEY
HOST_URL is http://<id>.lambda-url.<region>.localhost:<port>/ (glibc does not resolve
*.localhost, so the connection goes to 127.0.0.1 with that Host, as `curl --resolve` does);
PATH_URL is http://127.0.0.1:<port>/url/<id>/.
Prints {"get": {"status", "body"}, "post": {...}} as JSON.
"""
import http.client
import json
import sys
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def call(method, url, body, creds):
    req = AWSRequest(method=method, url=url, data=body, headers={"content-type": "application/json"})
    SigV4Auth(creds, "lambda", "us-east-1").add_auth(req)
    prepared = req.prepare()
    parts = urllib.parse.urlsplit(prepared.url)
    headers = dict(prepared.headers)
    headers["Host"] = parts.netloc
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=30)
    target = parts.path + ("?" + parts.query if parts.query else "")
    conn.request(method, target, body=prepared.body, headers=headers)
    r = conn.getresponse()
    return {"status": r.status, "body": r.read().decode()}


def main():
    host_url, path_url, key, secret = sys.argv[1:5]
    creds = Credentials(key, secret)
    print(json.dumps({
        "get": call("GET", host_url + "signed?via=botocore", None, creds),
        "post": call("POST", path_url + "signed", b'{"from":"botocore"}', creds),
    }))


main()
