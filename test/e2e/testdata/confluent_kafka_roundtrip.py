"""Produce records with confluent-kafka-python (librdkafka), then read them
back and compare.

usage: confluent_kafka_roundtrip.py BOOTSTRAP TOPIC CODEC [--count N] [--idempotent]

CODEC is none, gzip, snappy, lz4 or zstd. The consumer has a group.id
(the Python wrapper asks for one) but never joins the group: it reads
partition 0 by assign() from offset 0 with auto commit off. Prints one JSON
line on success; exits 2 when the client is missing (the caller skips), 1
with "FAIL: ..." on any mismatch.
"""

import argparse
import sys
import time

from clientrecords import fail, make_records, summary, verify

try:
    import confluent_kafka
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
except ImportError as e:
    sys.stderr.write("MISSING: confluent-kafka: %s\n" % e)
    sys.exit(2)

DEADLINE_S = 40


def produce(bootstrap, topic, codec, records, idempotent):
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "compression.type": codec,
        "acks": "all",
        "linger.ms": 20,
        "enable.idempotence": idempotent,
        "message.timeout.ms": 20000,
    })
    errors = []
    offsets = []

    # Records to one partition are delivered in produce order, so the
    # delivery reports' offsets must count 0, 1, 2, ...
    def delivered(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            offsets.append(msg.offset())

    for r in records:
        while True:
            try:
                producer.produce(topic, value=r["value"], key=r["key"], partition=0,
                                 timestamp=r["timestamp"], headers=r["headers"],
                                 on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
    remaining = producer.flush(20)
    if remaining:
        fail("produce: %d records still undelivered after 20s" % remaining)
    if errors:
        fail("produce: %d delivery errors, first: %s" % (len(errors), errors[0]))
    if offsets != list(range(len(records))):
        fail("produce offsets %r..., want 0..%d" % (offsets[:10], len(records) - 1))


def consume(bootstrap, topic, count):
    log_errors = []
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "never-joined-" + topic,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "error",
        "fetch.wait.max.ms": 100,
        "error_cb": lambda err: log_errors.append(str(err)),
    })
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        got = []
        deadline = time.monotonic() + DEADLINE_S
        while len(got) < count and time.monotonic() < deadline:
            for m in consumer.consume(num_messages=1000, timeout=0.5):
                if m.error() is not None:
                    fail("consume: %s" % m.error())
                ts_type, ts = m.timestamp()
                if ts_type != confluent_kafka.TIMESTAMP_CREATE_TIME:
                    fail("offset %d has timestamp type %d, want CreateTime" % (m.offset(), ts_type))
                got.append({"offset": m.offset(), "key": m.key(), "value": m.value(),
                            "headers": m.headers() or [], "timestamp": ts})
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        except KafkaException as e:
            fail("ListOffsets (watermarks): %s" % e)
    finally:
        consumer.close()
    if low != 0 or high != count:
        fail("watermarks: low %d high %d, want 0 and %d" % (low, high, count))
    return got, log_errors


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("topic")
    parser.add_argument("codec", choices=["none", "gzip", "snappy", "lz4", "zstd"])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--idempotent", action="store_true")
    args = parser.parse_args()
    records = make_records(args.count, seed=args.codec)
    produce(args.bootstrap, args.topic, args.codec, records, args.idempotent)
    got, log_errors = consume(args.bootstrap, args.topic, args.count)
    verify(records, got, "confluent-kafka %s" % args.codec)
    summary(client="confluent-kafka", version=confluent_kafka.version()[0],
            librdkafka=confluent_kafka.libversion()[0], codec=args.codec,
            idempotent=args.idempotent, produced=args.count, consumed=len(got),
            first_offset=got[0]["offset"], last_offset=got[-1]["offset"],
            client_errors=log_errors)


if __name__ == "__main__":
    main()
