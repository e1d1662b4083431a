"""confluent-kafka-python (librdkafka) in a consumer group, with manual
commits. See groups_common.py for the modes and the output.

usage: groups_confluent_kafka.py MODE BOOTSTRAP TOPIC GROUP [--partitions N] [--end N] [--commit a,b,...]
"""

import sys

from groups_common import DEADLINE_S, Deadline, check_value, decode_assignment, emit, fail, parse_args, shared, wait_for_go, wait_for_line

try:
    import confluent_kafka
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient
except ImportError as e:
    sys.stderr.write("MISSING: confluent-kafka: %s\n" % e)
    sys.exit(2)


def new_consumer(args, errors, client_id):
    conf = {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "client.id": client_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 300,
        "fetch.wait.max.ms": 100,
        "topic.metadata.refresh.interval.ms": 1000,
        "error_cb": lambda err: errors.append("%s: %s" % (client_id, err)),
    }
    if args.strategy:
        conf["partition.assignment.strategy"] = args.strategy
    return Consumer(conf)


def messages(consumer, deadline, what):
    """The records consumer delivers next, failing on errors and at the
    deadline."""
    while True:
        if deadline.passed():
            fail("%s: deadline passed" % what)
        for m in consumer.consume(num_messages=500, timeout=0.2):
            if m.error() is not None:
                if m.error().code() == confluent_kafka.KafkaError._PARTITION_EOF:
                    continue
                fail("%s: consume error: %s" % (what, m.error()))
            check_value(m.topic(), m.partition(), m.offset(), m.value())
            yield m


def committed(consumer, args):
    tps = consumer.committed([TopicPartition(args.topic, p) for p in range(args.partitions)], timeout=10)
    out = {}
    for tp in tps:
        if tp.error is not None:
            fail("committed(): partition %d: %s" % (tp.partition, tp.error))
        out[str(tp.partition)] = tp.offset
    return out


def admin(args):
    """The group as librdkafka's list_groups() (ListGroups, then
    DescribeGroups) sees it: state, protocol and each member's partitions
    by client id."""
    client = AdminClient({"bootstrap.servers": args.bootstrap})
    try:
        groups = client.list_groups(group=args.group, timeout=10)
    except KafkaException as e:
        fail("list_groups(%s): %s" % (args.group, e))
    if len(groups) != 1 or groups[0].id != args.group:
        fail("list_groups(%s) returned %r" % (args.group, [g.id for g in groups]))
    g = groups[0]
    if g.error is not None and g.error.code() != 0:
        fail("list_groups(%s): group error %s" % (args.group, g.error))
    members = {}
    for m in g.members:
        members[m.client_id] = decode_assignment(m.assignment).get(args.topic, [])
    listed = {}
    for other in client.list_groups(timeout=10):
        listed[other.id] = other.protocol_type
    return {"state": g.state, "protocol_type": g.protocol_type, "protocol": g.protocol,
            "members": members, "groups": listed}


def check_commit_result(result, what):
    for tp in result or []:
        if tp.error is not None:
            fail("%s: partition %d: %s" % (what, tp.partition, tp.error))


def half(args):
    errors = []
    consumer = new_consumer(args, errors, "half")
    consumer.subscribe([args.topic])
    processed = {p: [] for p in range(args.partitions)}
    done = set()
    ignored = commits = 0
    try:
        for m in messages(consumer, Deadline(), "half"):
            p, o = m.partition(), m.offset()
            if p in done or o >= args.commits[p]:
                ignored += 1
                continue
            processed[p].append(o)
            # At-least-once, one record at a time: a synchronous commit
            # after every record processed; the last one must win.
            try:
                res = consumer.commit(message=m, asynchronous=False)
            except KafkaException as e:
                fail("commit(message=partition %d offset %d), commit %d: %s" % (p, o, commits + 1, e))
            check_commit_result(res, "commit(message=partition %d offset %d)" % (p, o))
            commits += 1
            if o == args.commits[p] - 1:
                consumer.pause([TopicPartition(args.topic, p)])
                done.add(p)
                if len(done) == args.partitions:
                    break
        got = committed(consumer, args)
        assignment = sorted(tp.partition for tp in consumer.assignment())
    finally:
        consumer.close()
    emit(client="confluent-kafka", librdkafka=confluent_kafka.libversion()[0], mode="half",
         consumed={str(p): o for p, o in processed.items()}, committed=got, ignored=ignored,
         commits=commits, assignment=assignment, admin=admin(args), client_errors=errors)


def resume(args):
    errors = []
    consumer = new_consumer(args, errors, "resume")
    consumer.subscribe([args.topic])
    delivered = {p: [] for p in range(args.partitions)}
    try:
        finished = set()
        for m in messages(consumer, Deadline(), "resume"):
            delivered[m.partition()].append(m.offset())
            if m.offset() == args.end - 1:
                finished.add(m.partition())
                if len(finished) == args.partitions:
                    break
        # Anything delivered twice or from before the committed offsets
        # would show here; give it a moment to arrive.
        for m in consumer.consume(num_messages=500, timeout=0.3):
            if m.error() is None:
                delivered[m.partition()].append(m.offset())
        try:
            res = consumer.commit(asynchronous=False)
        except KafkaException as e:
            fail("commit(): %s" % e)
        check_commit_result(res, "commit()")
        got = committed(consumer, args)
    finally:
        consumer.close()
    emit(client="confluent-kafka", mode="resume", consumed={str(p): o for p, o in delivered.items()},
         committed=got, client_errors=errors)


def share(args):
    errors = []
    consumers = [new_consumer(args, errors, "share-%d" % i) for i in range(2)]
    try:
        for c in consumers:
            c.subscribe([args.topic])

        def poll():
            for c in consumers:
                for m in c.consume(num_messages=500, timeout=0.05):
                    if m.error() is None:
                        check_value(m.topic(), m.partition(), m.offset(), m.value())

        deadline = Deadline()
        while True:
            poll()
            assignments = [sorted(tp.partition for tp in c.assignment()) for c in consumers]
            if shared(assignments, args.partitions):
                break
            if deadline.passed():
                fail("share: assignments %r after %ds, want two disjoint non-empty covering %d partitions"
                     % (assignments, DEADLINE_S, args.partitions))
        emit(client="confluent-kafka", mode="share", phase="shared",
             assignments={"share-%d" % i: a for i, a in enumerate(assignments)}, admin=admin(args),
             client_errors=errors)
        if not wait_for_go(poll):
            fail("share: the test never said to close")
        final = [sorted(tp.partition for tp in c.assignment()) for c in consumers]
    finally:
        for c in consumers:
            c.close()
    emit(client="confluent-kafka", mode="share", phase="closed",
         assignments={"share-%d" % i: a for i, a in enumerate(final)}, client_errors=errors)


def member(args):
    errors = []
    consumer = new_consumer(args, errors, args.client_id)
    try:
        consumer.subscribe([args.topic])

        def poll():
            for m in consumer.consume(num_messages=500, timeout=0.05):
                if m.error() is None:
                    check_value(m.topic(), m.partition(), m.offset(), m.value())

        if not wait_for_go(poll):
            fail("member: the test never said to close")
        final = sorted(tp.partition for tp in consumer.assignment())
    finally:
        consumer.close()
    emit(client="confluent-kafka", mode="member", phase="closed", assignment=final, client_errors=errors)


def live(args):
    errors = []
    consumer = new_consumer(args, errors, "live")
    assigned = []
    delivered = {p: [] for p in range(args.partitions)}
    commit_errors = []
    uncommitted = [False]

    def poll():
        for m in consumer.consume(num_messages=500, timeout=0.1):
            if m.error() is not None:
                if m.error().code() != confluent_kafka.KafkaError._PARTITION_EOF:
                    errors.append("consume: %s" % m.error())
                continue
            check_value(m.topic(), m.partition(), m.offset(), m.value())
            delivered[m.partition()].append(m.offset())
            uncommitted[0] = True
        if uncommitted[0]:
            try:
                check_commit_result(consumer.commit(asynchronous=False), "commit()")
                uncommitted[0] = False
            except KafkaException as e:
                commit_errors.append(str(e))

    def read_to(end, what):
        deadline = Deadline()
        while uncommitted[0] or not all(delivered[p] and delivered[p][-1] >= end - 1 for p in delivered):
            if deadline.passed():
                fail("live: %s: deadline passed; last offsets %r, commit errors %r"
                     % (what, {p: o[-1:] for p, o in delivered.items()}, commit_errors))
            poll()

    try:
        consumer.subscribe([args.topic],
                           on_assign=lambda c, ps: assigned.append(sorted(tp.partition for tp in ps)))
        read_to(args.end, "before the restart")
        emit(client="confluent-kafka", mode="live", phase="caught-up", client_errors=errors)
        line = wait_for_line(poll)
        if not line:
            fail("live: the test never sent the new end offset")
        read_to(int(line), "after the restart")
        for _ in range(3):  # anything delivered twice would show here
            poll()
        got = committed(consumer, args)
    finally:
        consumer.close()
    emit(client="confluent-kafka", mode="live", phase="done", consumed={str(p): o for p, o in delivered.items()},
         committed=got, assigned=assigned, commit_errors=commit_errors, client_errors=errors)


def main():
    args = parse_args()
    {"half": half, "resume": resume, "share": share, "member": member, "live": live}[args.mode](args)


if __name__ == "__main__":
    main()
