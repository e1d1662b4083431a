"""Produce and consume over a secured listener with a Python client.

usage: security_clients.py CLIENT BOOTSTRAP TOPIC PROTOCOL USER PASSWORD CAFILE [MECHANISM]

CLIENT is confluent-kafka (librdkafka) or kafka-python; PROTOCOL is
SASL_PLAINTEXT or SASL_SSL, with MECHANISM (PLAIN unless given:
SCRAM-SHA-256 or SCRAM-SHA-512). Produces 50 records to
partition 0, reads them back by assign() and prints one JSON line
{"client", "produced", "consumed"}; exits 2 when the client is missing,
1 with "FAIL: ..." on any error.
"""

import json
import sys
import time

COUNT = 50
DEADLINE_S = 30
MECHANISM = "PLAIN"


def fail(msg):
    sys.stderr.write("FAIL: %s\n" % msg)
    sys.exit(1)


def values():
    return [("secure value %d" % i).encode() for i in range(COUNT)]


def confluent(bootstrap, topic, protocol, user, password, cafile):
    try:
        from confluent_kafka import Consumer, Producer, TopicPartition
    except ImportError as e:
        sys.stderr.write("MISSING: confluent-kafka: %s\n" % e)
        sys.exit(2)
    common = {
        "bootstrap.servers": bootstrap,
        "security.protocol": protocol,
        "sasl.mechanisms": MECHANISM,
        "sasl.username": user,
        "sasl.password": password,
    }
    if protocol == "SASL_SSL":
        common["ssl.ca.location"] = cafile
    errors = []
    p = Producer(dict(common, **{"acks": "all", "message.timeout.ms": 20000,
                                 "error_cb": lambda err: errors.append(str(err))}))
    delivered = []
    for v in values():
        p.produce(topic, value=v, partition=0,
                  on_delivery=lambda err, msg: delivered.append(err))
    if p.flush(20):
        fail("produce: records undelivered after 20s; client errors %s" % errors)
    if any(e is not None for e in delivered):
        fail("produce: %s" % [str(e) for e in delivered if e is not None])
    c = Consumer(dict(common, **{"group.id": "security-test", "enable.auto.commit": False}))
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.time() + DEADLINE_S
    while len(got) < COUNT and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            fail("consume: %s" % m.error())
        got.append(m.value())
    c.close()
    return got


def kafka_python(bootstrap, topic, protocol, user, password, cafile):
    try:
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    except ImportError as e:
        sys.stderr.write("MISSING: kafka-python: %s\n" % e)
        sys.exit(2)
    common = dict(bootstrap_servers=bootstrap, security_protocol=protocol,
                  sasl_mechanism=MECHANISM, sasl_plain_username=user,
                  sasl_plain_password=password)
    if protocol == "SASL_SSL":
        common["ssl_cafile"] = cafile
    p = KafkaProducer(acks="all", **common)
    for v in values():
        p.send(topic, value=v, partition=0).get(timeout=20)
    p.close()
    c = KafkaConsumer(enable_auto_commit=False, consumer_timeout_ms=DEADLINE_S * 1000, **common)
    c.assign([TopicPartition(topic, 0)])
    c.seek(TopicPartition(topic, 0), 0)
    got = []
    for m in c:
        got.append(m.value)
        if len(got) == COUNT:
            break
    c.close()
    return got


def main():
    global MECHANISM
    if len(sys.argv) not in (8, 9):
        fail(__doc__)
    client, bootstrap, topic, protocol, user, password, cafile = sys.argv[1:8]
    if len(sys.argv) == 9:
        MECHANISM = sys.argv[8]
    run = {"confluent-kafka": confluent, "kafka-python": kafka_python}[client]
    got = run(bootstrap, topic, protocol, user, password, cafile)
    if got != values():
        fail("consumed %d records, want %d identical to those produced" % (len(got), COUNT))
    print(json.dumps({"client": client, "produced": COUNT, "consumed": len(got)}))


if __name__ == "__main__":
    main()
