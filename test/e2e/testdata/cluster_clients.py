"""Produce keyed records to a topic on a cluster, then read them back in a
consumer group with a commit, with kafka-python or confluent-kafka-python.
The bootstrap list names one broker; the clients must follow the metadata
to every partition's leader and to the group's coordinator.

usage: cluster_clients.py kafka-python|confluent BOOTSTRAP TOPIC GROUP COUNT
prints: {"produced": N, "consumed": N, "partitions": P, "committed": C}
"""

import json
import sys
import time

client, bootstrap, topic, group, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
deadline = time.time() + 60


def fail(msg):
    sys.stderr.write(msg + "\n")
    sys.exit(1)


def run_kafka_python():
    try:
        from kafka import KafkaConsumer, KafkaProducer
    except ImportError as e:
        sys.stderr.write("MISSING: kafka-python: %s\n" % e)
        sys.exit(2)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for i in range(count):
        producer.send(topic, key=b"k%d" % i, value=b"v%d" % i)
    producer.flush(timeout=30)
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                             auto_offset_reset="earliest", fetch_max_wait_ms=100, metadata_max_age_ms=1000)
    seen, partitions = set(), set()
    while len(seen) < count and time.time() < deadline:
        for tp, records in consumer.poll(timeout_ms=500).items():
            for r in records:
                seen.add(r.value)
                partitions.add(tp.partition)
    consumer.commit()
    committed = sum(consumer.committed(tp) or 0 for tp in consumer.assignment())
    consumer.close()
    return len(seen), len(partitions), committed


def run_confluent():
    try:
        import confluent_kafka
    except ImportError as e:
        sys.stderr.write("MISSING: confluent-kafka: %s\n" % e)
        sys.exit(2)
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(count):
        producer.produce(topic, key=b"k%d" % i, value=b"v%d" % i)
        producer.poll(0)
    if producer.flush(30) != 0:
        fail("confluent producer did not deliver everything")
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    seen, partitions = set(), set()
    while len(seen) < count and time.time() < deadline:
        m = consumer.poll(0.5)
        if m is None:
            continue
        if m.error():
            fail("consume: %s" % m.error())
        seen.add(m.value())
        partitions.add(m.partition())
    consumer.commit(asynchronous=False)
    committed = sum(max(tp.offset, 0) for tp in consumer.committed(consumer.assignment(), timeout=10))
    consumer.close()
    return len(seen), len(partitions), committed


consumed, partitions, committed = run_kafka_python() if client == "kafka-python" else run_confluent()
print(json.dumps({"produced": count, "consumed": consumed, "partitions": partitions, "committed": committed}))
