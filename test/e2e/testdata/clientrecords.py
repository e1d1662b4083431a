"""Deterministic records and a byte-exact verifier shared by the Python
client scripts (kafka_python_roundtrip.py, confluent_kafka_roundtrip.py).

Each record is a dict with key, value (bytes or None), headers (a list of
(str, bytes) pairs, duplicates allowed, order significant) and timestamp
(CreateTime in ms, set explicitly so the broker must keep it as sent).
Values mix compressible text with random bytes so every codec has work to
do and every byte value 0-255 appears.
"""

import json
import random
import sys

# A fixed CreateTime base (2023-11-14) so timestamps are checked exactly.
TIMESTAMP_BASE_MS = 1_700_000_000_000


def fail(message):
    """Print a clear failure to stderr and exit non-zero."""
    sys.stderr.write("FAIL: " + message + "\n")
    sys.exit(1)


def make_records(count, seed):
    rng = random.Random(seed)
    records = []
    for i in range(count):
        key = b"key-%06d-" % i + bytes(rng.randrange(256) for _ in range(rng.randrange(17)))
        value = (b"value %d " % i) * rng.randrange(1, 40)
        value += bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        if i == 1:
            value = bytes(range(256))
        if i % 97 == 5:
            key = None
        elif i % 50 == 7:
            value = None  # a tombstone: null value, key kept
        elif i % 50 == 8:
            value = b""  # empty, which is not null
        headers = []
        if i % 3 == 1:
            headers = [("h-ascii", b"v%d" % i)]
        elif i % 3 == 2:
            headers = [
                ("h\u00e9ader", bytes(rng.randrange(256) for _ in range(8))),
                ("dup", b"first"),
                ("dup", b"second"),
                ("empty", b""),
            ]
        records.append({
            "key": key,
            "value": value,
            "headers": headers,
            "timestamp": TIMESTAMP_BASE_MS + i,
        })
    return records


def show(b):
    if b is None:
        return "null"
    if len(b) > 40:
        return repr(b[:40]) + "...(%d bytes)" % len(b)
    return repr(b)


def verify(sent, got, what):
    """Check that got (a list of dicts with offset, key, value, headers,
    timestamp) equals sent, record by record, offsets 0..n-1."""
    if len(got) != len(sent):
        fail("%s: consumed %d records, produced %d" % (what, len(got), len(sent)))
    for i, (s, g) in enumerate(zip(sent, got)):
        if g["offset"] != i:
            fail("%s: record %d has offset %d, want %d" % (what, i, g["offset"], i))
        if g["key"] != s["key"]:
            fail("%s: offset %d key %s, want %s" % (what, i, show(g["key"]), show(s["key"])))
        if g["value"] != s["value"]:
            fail("%s: offset %d value %s, want %s" % (what, i, show(g["value"]), show(s["value"])))
        if list(g["headers"]) != list(s["headers"]):
            fail("%s: offset %d headers %r, want %r" % (what, i, g["headers"], s["headers"]))
        if g["timestamp"] != s["timestamp"]:
            fail("%s: offset %d timestamp %d, want %d" % (what, i, g["timestamp"], s["timestamp"]))


def summary(**fields):
    print(json.dumps(fields, sort_keys=True))
