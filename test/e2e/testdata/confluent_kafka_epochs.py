"""Consume partition 0 of a topic with confluent-kafka-python (librdkafka)
through a broker restart, which moves the partition's leader epoch.

usage: confluent_kafka_epochs.py BOOTSTRAP TOPIC FIRST TOTAL

Reads FIRST records by assign() from offset 0, prints "ready", waits for a
line on stdin (the test restarts the broker and produces more), then reads
on to TOTAL records. Prints one JSON line: the offsets read, the message
errors the consumer saw (a truncation or reset would show here) and the
client errors (lost connections while the broker was down are expected).
Exits 2 when the client is missing (the caller skips).
"""

import json
import sys
import time

try:
    from confluent_kafka import Consumer, TopicPartition
except ImportError as e:
    sys.stderr.write("MISSING: confluent-kafka: %s\n" % e)
    sys.exit(2)

DEADLINE_S = 60


def main():
    bootstrap, topic, first, total = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    client_errors, message_errors, offsets = [], [], []
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "epochs-confluent",
        "enable.auto.commit": False,
        "error_cb": lambda err: client_errors.append(str(err)),
    })
    consumer.assign([TopicPartition(topic, 0, 0)])

    def read_to(n):
        deadline = time.time() + DEADLINE_S
        while len(offsets) < n and time.time() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                message_errors.append(str(msg.error()))
                continue
            offsets.append(msg.offset())

    read_to(first)
    print("ready", flush=True)
    sys.stdin.readline()
    read_to(total)
    consumer.close()
    print(json.dumps({"offsets": offsets, "message_errors": message_errors, "client_errors": client_errors}), flush=True)


main()
