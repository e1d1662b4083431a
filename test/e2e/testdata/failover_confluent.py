"""Produce and consume with confluent-kafka-python (librdkafka) while the
test kills and restarts a partition leader. An idempotent acks=all producer
writes COUNT values "py-<i>" to partition 0 of TOPIC over SECONDS seconds
while a consumer group member reads the topic from the beginning. Once every
record is answered, the script prints {"event": "flushed"} and reads the
partition's end offset from stdin ("end <offset>"), consumes up to it and
prints one JSON summary:

  {"acked": [[value, partition, offset], ...], "failed": ["error", ...],
   "consumed": [[value, partition, offset], ...], "errors": [[name, fatal,
   retriable, reason], ...], "consume_errors": ["error", ...]}

errors are the ones librdkafka reported through error_cb: informational,
the client recovers by itself unless one is fatal.

usage: failover_confluent.py BOOTSTRAP TOPIC GROUP COUNT SECONDS
"""

import json
import sys
import threading
import time

try:
    import confluent_kafka
except ImportError as e:
    sys.stderr.write("MISSING: confluent-kafka: %s\n" % e)
    sys.exit(2)

bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
count, seconds = int(sys.argv[4]), float(sys.argv[5])
deadline = time.time() + 50

acked, failed, consumed, errors, consume_errors = [], [], [], [], []


def on_error(err):
    errors.append([err.name(), err.fatal(), err.retriable(), err.str()])


def on_delivery(err, msg):
    if err is not None:
        failed.append("%s: %s" % (err.name(), err.str()))
    else:
        acked.append([msg.value().decode(), msg.partition(), msg.offset()])


producer = confluent_kafka.Producer({
    "bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
    "linger.ms": 5, "message.timeout.ms": 40000, "error_cb": on_error})
consumer = confluent_kafka.Consumer({
    "bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
    "enable.auto.commit": True, "fetch.wait.max.ms": 200, "error_cb": on_error})
consumer.subscribe([topic])

end = {}  # partition -> end offset, from stdin
end_read = threading.Event()


def read_end():
    for line in sys.stdin:
        parts = line.split()
        if len(parts) == 2 and parts[0] == "end":
            end[0] = int(parts[1])
            end_read.set()
            return


threading.Thread(target=read_end, daemon=True).start()
next_offset = {}


def consume_some(timeout):
    m = consumer.poll(timeout)
    if m is None:
        return
    if m.error():
        if m.error().code() != confluent_kafka.KafkaError._PARTITION_EOF:
            consume_errors.append("%s: %s" % (m.error().name(), m.error().str()))
        return
    consumed.append([m.value().decode(), m.partition(), m.offset()])
    next_offset[m.partition()] = max(next_offset.get(m.partition(), 0), m.offset() + 1)


start = time.time()
for i in range(count):
    due = start + seconds * i / count
    while time.time() < due:
        consume_some(0.01)
        producer.poll(0)
    while True:
        try:
            producer.produce(topic, partition=0, value=b"py-%d" % i, on_delivery=on_delivery)
            break
        except BufferError:
            producer.poll(0.05)
    producer.poll(0)

while len(producer) > 0 and time.time() < deadline:
    producer.poll(0.01)
    consume_some(0.01)
print(json.dumps({"event": "flushed", "outstanding": len(producer)}), flush=True)

while time.time() < deadline:
    if end_read.is_set() and all(next_offset.get(p, 0) >= o for p, o in end.items()):
        break
    consume_some(0.1)
    producer.poll(0)

consumer.close()
producer.flush(5)
print(json.dumps({"acked": acked, "failed": failed, "consumed": consumed, "errors": errors,
                  "consume_errors": consume_errors, "end": end, "next": next_offset}), flush=True)
