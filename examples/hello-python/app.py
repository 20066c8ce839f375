# Minimal Lambda function (runtime python3.11, handler app.handler).
# Kept import-free on purpose: it is used for cold-start benchmarks.


def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    print(f"hello-python: request {context.aws_request_id} greeting {name}")
    return {"message": f"hello, {name}"}
