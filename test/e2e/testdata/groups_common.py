"""Shared by the consumer group scripts (groups_confluent_kafka.py,
groups_kafka_python.py): arguments, record checks, the JSON summary and the
wait for the test's go-ahead in the "share" mode.

Every record of the topics these scripts read was produced by the Go test
with the value b"p<partition>-o<offset>", so a record delivered from the
wrong partition or offset is caught here.

Modes:
  half    subscribe as the only member of GROUP, process the records of each
          partition p below offset COMMIT[p], commit COMMIT[p] synchronously
          right after processing offset COMMIT[p]-1, check committed(), close.
  resume  subscribe to GROUP, read every partition up to offset END-1,
          report every offset delivered, commit the positions (END),
          check committed(), close.
  share   two consumers in GROUP; once both hold partitions, disjoint and
          together all of them, print a "shared" line, keep both alive
          until the test writes a line to stdin, then close both.
  member  one consumer (client id --client-id) in GROUP, polling until the
          test writes a line to stdin; then it prints the partitions it
          holds and closes. The test watches the group with DescribeGroups.
  live    one consumer in GROUP reads every partition to offset END-1,
          committing after every batch, prints a "caught-up" line and keeps
          polling (the test restarts the broker meanwhile and produces
          more) until the test writes the new end offset to stdin; then it
          reads to that end, commits and prints every offset delivered.

Prints JSON lines; exits 2 when the client library is missing (the test
skips), 1 with "FAIL: ..." on any error.
"""

import argparse
import json
import select
import sys
import time

DEADLINE_S = 40


def fail(message):
    sys.stderr.write("FAIL: " + message + "\n")
    sys.stderr.flush()
    sys.exit(1)


def emit(**fields):
    print(json.dumps(fields, sort_keys=True))
    sys.stdout.flush()


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["half", "resume", "share", "member", "live"])
    parser.add_argument("bootstrap")
    parser.add_argument("topic")
    parser.add_argument("group")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--end", type=int, default=0,
                        help="records per partition (the end offset)")
    parser.add_argument("--commit", default="",
                        help="half: comma-separated offset to commit per partition")
    parser.add_argument("--client-id", default="member")
    parser.add_argument("--strategy", default="",
                        help="confluent-kafka: partition.assignment.strategy")
    args = parser.parse_args()
    args.commits = [int(x) for x in args.commit.split(",")] if args.commit else []
    if args.mode == "half" and len(args.commits) != args.partitions:
        fail("--commit needs %d offsets, got %r" % (args.partitions, args.commit))
    if args.mode in ("half", "resume", "live") and args.end <= 0:
        fail("--end is required")
    for c in args.commits:
        if not 0 < c < args.end:
            fail("commit offset %d outside (0, %d)" % (c, args.end))
    return args


def check_value(topic, partition, offset, value):
    want = b"p%d-o%d" % (partition, offset)
    if value != want:
        fail("%s partition %d offset %d: value %r, want %r" % (topic, partition, offset, value, want))


class Deadline:
    def __init__(self, seconds=DEADLINE_S):
        self.end = time.monotonic() + seconds

    def passed(self):
        return time.monotonic() >= self.end


def wait_for_line(poll, seconds=DEADLINE_S):
    """Call poll() until a line (or EOF, "") arrives on stdin or seconds
    pass (None)."""
    deadline = Deadline(seconds)
    while not deadline.passed():
        poll()
        ready, _, _ = select.select([sys.stdin], [], [], 0)
        if ready:
            return sys.stdin.readline().strip()
    return None


def wait_for_go(poll, seconds=DEADLINE_S):
    """True when the test said go (a line or EOF on stdin) within seconds."""
    return wait_for_line(poll, seconds) is not None


def shared(assignments, partitions):
    """True when every consumer holds partitions, none twice, all covered."""
    seen = []
    for a in assignments:
        if not a:
            return False
        seen.extend(a)
    return sorted(seen) == list(range(partitions))


def decode_assignment(data):
    """The partitions of a consumer protocol assignment (Kafka's
    ConsumerProtocolAssignment: int16 version, then topics as int16-length
    names with int32 arrays of partitions), as {topic: [partitions]}."""
    import struct

    out = {}
    if not data:
        return out
    pos = 2  # version
    (topics,) = struct.unpack_from(">i", data, pos)
    pos += 4
    for _ in range(max(topics, 0)):
        (n,) = struct.unpack_from(">h", data, pos)
        pos += 2
        topic = data[pos:pos + n].decode()
        pos += n
        (count,) = struct.unpack_from(">i", data, pos)
        pos += 4
        out[topic] = sorted(struct.unpack_from(">%di" % max(count, 0), data, pos))
        pos += 4 * max(count, 0)
    return out
