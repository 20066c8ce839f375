"""boto3 and Lambda layers: publish, page through versions, attach, detach, printed as JSON.

usage: layers_flow.py ENDPOINT LAYER_ZIP FUNCTION_ZIP
"""
import json
import sys

import boto3
from botocore.exceptions import ClientError

endpoint, layer_zip, function_zip = sys.argv[1:4]
client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")
out = {}
with open(layer_zip, "rb") as f:
    layer = f.read()
with open(function_zip, "rb") as f:
    code = f.read()

published = [
    client.publish_layer_version(LayerName="b3", Content={"ZipFile": layer}, CompatibleRuntimes=["python3.11"])
    for _ in range(3)
]
out["versions"] = [p["Version"] for p in published]
out["code_size"] = published[0]["Content"]["CodeSize"]
pages = client.get_paginator("list_layer_versions").paginate(LayerName="b3", PaginationConfig={"PageSize": 1})
out["pages"] = [[v["Version"] for v in page["LayerVersions"]] for page in pages]
out["by_arn"] = client.get_layer_version_by_arn(Arn=published[1]["LayerVersionArn"])["LayerVersionArn"]

client.create_function(
    FunctionName="b3fn", Runtime="python3.11", Handler="app.handler", Role="arn:aws:iam::000000000000:role/x",
    Code={"ZipFile": code}, Layers=[published[2]["LayerVersionArn"]],
)
out["layers"] = client.get_function(FunctionName="b3fn")["Configuration"]["Layers"]
out["invoked"] = json.loads(client.invoke(FunctionName="b3fn", Payload=b"{}")["Payload"].read())
client.update_function_configuration(FunctionName="b3fn", Layers=[])
out["removed"] = "Layers" in client.get_function_configuration(FunctionName="b3fn")

try:
    client.update_function_configuration(FunctionName="b3fn", Layers=[published[0]["LayerVersionArn"]] * 6)
except ClientError as e:
    out["six"] = {"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]}

client.delete_layer_version(LayerName="b3", VersionNumber=1)
try:
    client.get_layer_version(LayerName="b3", VersionNumber=1)
except ClientError as e:
    out["deleted_get"] = e.response["Error"]["Code"]
print(json.dumps(out))
