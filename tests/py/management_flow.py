"""boto3 against lambdalet's management API beyond functions: paginator, waiter, tags,
resource policies, account settings, the read calls after a create, and operations lambdalet
does not serve. Prints one JSON document.

usage: management_flow.py ENDPOINT ZIP_PATH
"""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, zip_path = sys.argv[1], sys.argv[2]
# No retries: an answer the SDK would retry must show up as a failure here.
client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
                      config=Config(retries={"max_attempts": 1, "mode": "standard"}))
out = {}
with open(zip_path, "rb") as f:
    code = f.read()


def error(call):
    try:
        call()
    except ClientError as e:
        return {"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"],
                "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
    return None


for i in range(5):
    client.create_function(FunctionName=f"m{i}", Runtime="python3.11", Handler="app.handler",
                           Role="arn:aws:iam::000000000000:role/x", Code={"ZipFile": code})
client.get_waiter("function_active_v2").wait(FunctionName="m0")
out["active"] = client.get_function(FunctionName="m0")["Configuration"]["State"]

names, pages = [], 0
for page in client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
    pages += 1
    names += [f["FunctionName"] for f in page["Functions"]]
out["listed"], out["pages"] = names, pages

arn = client.get_function(FunctionName="m0")["Configuration"]["FunctionArn"]
client.tag_resource(Resource=arn, Tags={"stage": "test", "drop": "me"})
client.untag_resource(Resource=arn, TagKeys=["drop"])
out["tags"] = client.list_tags(Resource=arn)["Tags"]
client.untag_resource(Resource=arn, TagKeys=["stage"])
out["untagged"] = client.list_tags(Resource=arn)["Tags"]

grant = dict(FunctionName="m0", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
             FunctionUrlAuthType="NONE")
client.add_permission(**grant)
out["duplicate"] = error(lambda: client.add_permission(**grant))["code"]
policy = json.loads(client.get_policy(FunctionName="m0")["Policy"])
out["policy_sids"] = [s["Sid"] for s in policy["Statement"]]
out["policy_condition"] = policy["Statement"][0]["Condition"]
client.remove_permission(FunctionName="m0", StatementId="url")
out["removed"] = error(lambda: client.get_policy(FunctionName="m0"))["code"]

out["function_count"] = client.get_account_settings()["AccountUsage"]["FunctionCount"]
out["code_signing"] = client.get_function_code_signing_config(FunctionName="m0")["CodeSigningConfigArn"]
out["recursion"] = client.get_function_recursion_config(FunctionName="m0")["RecursiveLoop"]

csc = "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdefg"
out["unserved"] = {
    "PutFunctionCodeSigningConfig": error(lambda: client.put_function_code_signing_config(
        FunctionName="m0", CodeSigningConfigArn=csc)),
    "PutRuntimeManagementConfig": error(lambda: client.put_runtime_management_config(
        FunctionName="m0", UpdateRuntimeOn="Auto")),
    "CreateEventSourceMapping": error(lambda: client.create_event_source_mapping(
        FunctionName="m0", EventSourceArn="arn:aws:sqs:us-east-1:000000000000:q")),
    "PutFunctionRecursionConfig": error(lambda: client.put_function_recursion_config(
        FunctionName="m0", RecursiveLoop="Allow")),
}
print(json.dumps(out))
