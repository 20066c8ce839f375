"""A Greengrass Lambda function: flags temperature readings above LIMIT."""

import json
import os


def handler(event, context):
    limit = float(os.environ.get("LIMIT", "30"))
    reading = float(event.get("celsius", 0))
    alert = reading > limit
    print(json.dumps({"reading": reading, "limit": limit, "alert": alert}))
    return {"alert": alert, "reading": reading}
