#!/bin/sh
# heartbeat.sh MESSAGE INTERVAL FILE: appends "<time> MESSAGE" to FILE every INTERVAL seconds.
while true; do
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $1 (thing $AWS_IOT_THING_NAME)" >> "$3"
  sleep "$2"
done
