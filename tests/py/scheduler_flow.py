"""boto3's Scheduler client against lambdalet: groups, filters, the list_schedules paginator,
tags and errors, printed as one JSON document.

usage: scheduler_flow.py ENDPOINT FUNCTION_ARN
"""
import json
import sys

import boto3
from botocore.exceptions import ClientError

endpoint, function_arn = sys.argv[1], sys.argv[2]
client = boto3.client("scheduler", endpoint_url=endpoint, region_name="us-east-1")
out = {}
target = {"Arn": function_arn, "RoleArn": "arn:aws:iam::000000000000:role/scheduler"}


def error(call):
    try:
        call()
    except ClientError as e:
        return [e.response["Error"]["Code"], e.response["Error"]["Message"],
                e.response["ResponseMetadata"]["HTTPStatusCode"]]
    return None


out["group_arn"] = client.create_schedule_group(
    Name="reports", Tags=[{"Key": "team", "Value": "ops"}])["ScheduleGroupArn"]
for i in range(5):
    client.create_schedule(
        Name=f"nightly-{i}", GroupName="reports", ScheduleExpression="cron(0 3 * * ? *)",
        ScheduleExpressionTimezone="Europe/Berlin", FlexibleTimeWindow={"Mode": "OFF"},
        Target=target, State="DISABLED" if i % 2 else "ENABLED")
client.create_schedule(Name="hourly", ScheduleExpression="rate(1 hour)",
                       FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 10},
                       Target=target, StartDate=4102444800)

pages = client.get_paginator("list_schedules").paginate(PaginationConfig={"PageSize": 2})
listed = []
out["pages"] = 0
for page in pages:
    out["pages"] += 1
    listed += [f'{s["GroupName"]}/{s["Name"]}' for s in page["Schedules"]]
out["listed"] = listed
out["enabled_nightly"] = [s["Name"] for s in client.list_schedules(
    GroupName="reports", NamePrefix="nightly", State="ENABLED")["Schedules"]]
summary = client.list_schedules(NamePrefix="hourly")["Schedules"][0]
out["summary_keys"] = sorted(summary.keys())
out["summary_target"] = summary["Target"]
got = client.get_schedule(Name="hourly")
out["hourly"] = {k: got[k] for k in ["ScheduleExpression", "ScheduleExpressionTimezone",
                                     "FlexibleTimeWindow", "State", "GroupName",
                                     "ActionAfterCompletion"]}
out["hourly_start"] = got["StartDate"].isoformat()
out["hourly_retry"] = got["Target"]["RetryPolicy"]

out["groups"] = [g["Name"] for g in client.list_schedule_groups()["ScheduleGroups"]]
out["group_state"] = client.get_schedule_group(Name="reports")["State"]
client.tag_resource(ResourceArn=out["group_arn"], Tags=[{"Key": "env", "Value": "edge"}])
client.untag_resource(ResourceArn=out["group_arn"], TagKeys=["team"])
out["tags"] = client.list_tags_for_resource(ResourceArn=out["group_arn"])["Tags"]

client.delete_schedule_group(Name="reports")
out["after_group_delete"] = [s["Name"] for s in client.list_schedules()["Schedules"]]
out["missing_group"] = error(lambda: client.get_schedule_group(Name="reports"))
out["missing_schedule"] = error(lambda: client.get_schedule(Name="nope"))
out["duplicate"] = error(lambda: client.create_schedule(
    Name="hourly", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
    Target=target))
out["default_group"] = error(lambda: client.delete_schedule_group(Name="default"))
print(json.dumps(out))
