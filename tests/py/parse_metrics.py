"""Parses a Prometheus text exposition (standard input) with the official Python client's
parser and prints {family: {"type": ..., "samples": [[name, labels, value], ...]}} as JSON.
A malformed exposition makes the parser raise, and this script exit non-zero."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
out = {}
for family in text_string_to_metric_families(text):
    if family.name in out:
        raise SystemExit(f"family {family.name} appears twice: its samples are not together")
    out[family.name] = {
        "type": family.type,
        "samples": [[s.name, s.labels, s.value] for s in family.samples],
    }
json.dump(out, sys.stdout)
