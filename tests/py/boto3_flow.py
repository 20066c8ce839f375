"""boto3 against lambdalet: the calls a Python user makes, printed as one JSON document.

usage: boto3_flow.py ENDPOINT ZIP_PATH
"""
import base64
import json
import sys

import boto3
from botocore.exceptions import ClientError

endpoint, zip_path = sys.argv[1], sys.argv[2]
client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")
out = {}
with open(zip_path, "rb") as f:
    code = f.read()

created = client.create_function(
    FunctionName="b3", Runtime="python3.11", Handler="app.handler", Role="arn:aws:iam::000000000000:role/x",
    Code={"ZipFile": code}, Environment={"Variables": {"GREETING": "boto"}}, Timeout=5,
)
out["created_state"] = created["State"]
client.get_waiter("function_active_v2").wait(FunctionName="b3")

resp = client.invoke(FunctionName="b3", Payload=json.dumps({"who": "boto3"}), LogType="Tail")
out["status"] = resp["StatusCode"]
out["payload"] = json.loads(resp["Payload"].read())
out["log"] = base64.b64decode(resp["LogResult"]).decode()
out["executed"] = resp["ExecutedVersion"]

out["version"] = client.publish_version(FunctionName="b3")["Version"]
client.create_alias(FunctionName="b3", Name="stable", FunctionVersion=out["version"])
aliased = client.invoke(FunctionName="b3", Qualifier="stable", Payload=b"{}")
out["alias_executed"] = aliased["ExecutedVersion"]

for i in range(4):
    client.create_function(FunctionName=f"b3-extra-{i}", Runtime="python3.11", Handler="app.handler",
                           Role="r", Code={"ZipFile": code})
names = []
for page in client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
    names += [f["FunctionName"] for f in page["Functions"]]
out["listed"] = names

try:
    client.invoke(FunctionName="does-not-exist", Payload=b"{}")
except ClientError as e:
    out["missing"] = {"code": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
                      "message": e.response["Error"]["Message"]}

try:
    client.update_function_configuration(FunctionName="b3", Timeout=901)
except ClientError as e:
    out["bad_memory"] = e.response["Error"]["Code"]

client.delete_function(FunctionName="b3")
try:
    client.get_function(FunctionName="b3")
except client.exceptions.ResourceNotFoundException:
    out["deleted"] = True

print(json.dumps(out))
