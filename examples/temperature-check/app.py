# Checks temperature readings that sensors publish over MQTT on sensors/<id>/temperature,
# e.g. {"celsius": 31.5}. Deployed by `lambdalet up` subscribed to sensors/+/temperature, with
# an on-success destination that publishes each verdict on the MQTT topic sensors/checked.
import os

ALERT_ABOVE = float(os.environ.get("ALERT_ABOVE_CELSIUS", "30"))


def handler(event, context):
    # Greengrass passes the topic a message came on as the client context's "subject".
    custom = context.client_context.custom if context.client_context else None
    topic = (custom or {}).get("subject") or ""
    parts = topic.split("/")
    sensor = parts[1] if len(parts) >= 3 else "unknown"
    try:
        celsius = float(event["celsius"])
    except (KeyError, TypeError, ValueError):
        print(f"temperature-check: {sensor}: no number in 'celsius' in {event!r}")
        return {"sensor": sensor, "status": "invalid", "reading": event}
    status = "alert" if celsius > ALERT_ABOVE else "ok"
    print(f"temperature-check: {sensor} at {celsius} C: {status}")
    return {"sensor": sensor, "celsius": celsius, "status": status}
