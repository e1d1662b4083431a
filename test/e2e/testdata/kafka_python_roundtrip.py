"""Produce records with kafka-python, then read them back and compare.

usage: kafka_python_roundtrip.py BOOTSTRAP TOPIC CODEC [COUNT]

CODEC is none, gzip, snappy, lz4 or zstd. The consumer has no group
(group_id=None) and reads partition 0 by manual assignment from the
beginning. Prints one JSON line on success; exits 2 when the codec's
library is missing (the caller skips), 1 with "FAIL: ..." on any mismatch.
"""

import sys
import time

from clientrecords import fail, make_records, summary, verify

try:
    import kafka
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka import codec as kafka_codec
except ImportError as e:
    sys.stderr.write("MISSING: kafka-python: %s\n" % e)
    sys.exit(2)

DEADLINE_S = 40


def codec_available(codec):
    return {
        "none": True,
        "gzip": kafka_codec.has_gzip(),
        "snappy": kafka_codec.has_snappy(),
        "lz4": kafka_codec.has_lz4(),
        "zstd": kafka_codec.has_zstd(),
    }[codec]


def produce(bootstrap, topic, codec, records):
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        compression_type=None if codec == "none" else codec,
        acks="all",
        linger_ms=20,
        batch_size=64 * 1024,
        request_timeout_ms=15000,
        max_block_ms=15000,
    )
    try:
        futures = [
            producer.send(topic, key=r["key"], value=r["value"], headers=r["headers"],
                          timestamp_ms=r["timestamp"], partition=0)
            for r in records
        ]
        producer.flush(timeout=20)
        offsets = []
        for i, f in enumerate(futures):
            try:
                offsets.append(f.get(timeout=10).offset)
            except Exception as e:  # noqa: BLE001 - any failure is the answer
                fail("produce record %d: %r" % (i, e))
    finally:
        producer.close(timeout=5)
    if offsets != list(range(len(records))):
        fail("produce offsets %r..., want 0..%d" % (offsets[:10], len(records) - 1))
    return offsets


def consume(bootstrap, topic, count):
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        request_timeout_ms=15000,
    )
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        got = []
        deadline = time.monotonic() + DEADLINE_S
        while len(got) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500, max_records=1000).values():
                for m in records:
                    if m.timestamp_type != 0:
                        fail("offset %d has timestamp type %d, want 0 (CreateTime)" % (m.offset, m.timestamp_type))
                    got.append({"offset": m.offset, "key": m.key, "value": m.value,
                                "headers": m.headers, "timestamp": m.timestamp})
        begin = consumer.beginning_offsets([tp])[tp]
        end = consumer.end_offsets([tp])[tp]
    finally:
        consumer.close(autocommit=False)
    if begin != 0 or end != count:
        fail("ListOffsets: beginning %d end %d, want 0 and %d" % (begin, end, count))
    return got


def main():
    if len(sys.argv) not in (4, 5):
        fail(__doc__)
    bootstrap, topic, codec = sys.argv[1:4]
    count = int(sys.argv[4]) if len(sys.argv) == 5 else 500
    if not codec_available(codec):
        sys.stderr.write("MISSING: kafka-python has no %s library\n" % codec)
        sys.exit(2)
    records = make_records(count, seed=codec)
    produce(bootstrap, topic, codec, records)
    got = consume(bootstrap, topic, count)
    verify(records, got, "kafka-python %s" % codec)
    summary(client="kafka-python", version=kafka.__version__, codec=codec,
            produced=count, consumed=len(got), first_offset=got[0]["offset"],
            last_offset=got[-1]["offset"])


if __name__ == "__main__":
    main()
