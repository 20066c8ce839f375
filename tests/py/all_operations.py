"""Sends every operation of botocore's model of the Lambda API to lambdalet with boto3 and prints
what each answered: {"model": VERSION, "operations": {NAME: {"status", "code", "message"}}}.

Parameter validation is off: each call carries placeholders for its required members only, all
naming resources that do not exist, so nothing is created or changed; a served operation answers
with its own error (404, 400) and an unserved one with lambdalet's refusal.

usage: all_operations.py ENDPOINT
"""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint = sys.argv[1]
client = boto3.client(
    "lambda", endpoint_url=endpoint, region_name="us-east-1",
    config=Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False,
                  read_timeout=30))
model = client.meta.service_model
ABSENT_ARN = "arn:aws:lambda:us-east-1:000000000000:function:absent-probe"


def placeholder(name, shape):
    """A value of `shape` for member `name` that names nothing that exists."""
    t = shape.type_name
    if t == "string":
        if shape.enum:
            return shape.enum[0]
        if name.endswith("Arn") or name in ("Resource", "Arn"):
            return ABSENT_ARN
        return "absent-probe"
    if t in ("integer", "long"):
        return max(1, shape.metadata.get("min", 1))
    if t == "boolean":
        return False
    if t == "blob":
        return b"{}"
    if t == "structure":
        return {}
    if t == "list":
        return []
    if t == "map":
        return {}
    if t == "timestamp":
        return 0
    return None


python_names = {api: py for py, api in client.meta.method_to_api_mapping.items()}
out = {}
for op_name in model.operation_names:
    op = model.operation_model(op_name)
    params = {}
    if op.input_shape is not None:
        for member in op.input_shape.required_members:
            params[member] = placeholder(member, op.input_shape.members[member])
    method = getattr(client, python_names[op_name])
    try:
        r = method(**params)
        for v in r.values():  # drain a streamed answer
            if hasattr(v, "read"):
                v.read()
        out[op_name] = {"status": r["ResponseMetadata"]["HTTPStatusCode"], "code": None,
                        "message": None}
    except ClientError as e:
        out[op_name] = {"status": e.response["ResponseMetadata"]["HTTPStatusCode"],
                        "code": e.response["Error"].get("Code"),
                        "message": e.response["Error"].get("Message")}
print(json.dumps({"model": model.api_version, "operations": out}))
