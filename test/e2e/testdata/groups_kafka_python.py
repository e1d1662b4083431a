"""kafka-python in a consumer group, with manual commits. See
groups_common.py for the modes and the output. kafka-python 2.0.2 finds
its coordinator with FindCoordinator v0 and joins with old JoinGroup,
SyncGroup, Heartbeat, LeaveGroup, OffsetCommit and OffsetFetch versions.

usage: groups_kafka_python.py MODE BOOTSTRAP TOPIC GROUP [--partitions N] [--end N] [--commit a,b,...]
"""

import sys
import threading

from groups_common import DEADLINE_S, Deadline, check_value, emit, fail, parse_args, shared, wait_for_go, wait_for_line

try:
    import kafka
    from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata
except ImportError as e:
    sys.stderr.write("MISSING: kafka-python: %s\n" % e)
    sys.exit(2)


def new_consumer(args, client_id, **extra):
    return KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        **extra,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=300,
        fetch_max_wait_ms=100,
        request_timeout_ms=15000,
        metadata_max_age_ms=1000,
    )


def offset_and_metadata(offset, metadata):
    # kafka-python 2.0.2 has (offset, metadata); later versions add leader_epoch.
    if len(OffsetAndMetadata._fields) == 3:
        return OffsetAndMetadata(offset, metadata, -1)
    return OffsetAndMetadata(offset, metadata)


def records(consumer, deadline, what):
    """The records consumer delivers next, in order within a partition,
    failing at the deadline."""
    while True:
        if deadline.passed():
            fail("%s: deadline passed" % what)
        batches = consumer.poll(timeout_ms=200, max_records=500)
        for tp in sorted(batches):
            for r in batches[tp]:
                check_value(r.topic, r.partition, r.offset, r.value)
                yield r


def committed(args):
    """The group's committed offsets and metadata, asked by a consumer that
    is no member: committed() of an assigned partition answers from the
    member's own cache, this one sends OffsetFetch."""
    consumer = new_consumer(args, "committed")
    try:
        offsets, metadata = {}, {}
        for p in range(args.partitions):
            o = consumer.committed(TopicPartition(args.topic, p), metadata=True)
            offsets[str(p)] = -1 if o is None else o.offset
            metadata[str(p)] = None if o is None else o.metadata
        return offsets, metadata
    finally:
        consumer.close(autocommit=False)


def admin(args):
    """The group as KafkaAdminClient sees it: list_consumer_groups()
    (ListGroups), describe_consumer_groups() (DescribeGroups, members'
    assignments decoded) and list_consumer_group_offsets() (OffsetFetch
    with null topics: every committed offset)."""
    client = KafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=15000)
    try:
        listed = {g: protocol_type for g, protocol_type in client.list_consumer_groups()}
        described = client.describe_consumer_groups([args.group])
        if len(described) != 1 or described[0].group != args.group:
            fail("describe_consumer_groups(%s) returned %r" % (args.group, described))
        d = described[0]
        members = {}
        for m in d.members:
            parts = []
            if m.member_assignment is not None:
                for topic, ps in m.member_assignment.assignment:
                    if topic == args.topic:
                        parts.extend(ps)
            members[m.client_id] = sorted(parts)
        offsets, metadata = {}, {}
        for tp, om in client.list_consumer_group_offsets(args.group).items():
            if tp.topic != args.topic:
                fail("list_consumer_group_offsets(%s): commit for %s" % (args.group, tp))
            offsets[str(tp.partition)] = om.offset
            metadata[str(tp.partition)] = om.metadata
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        fail("KafkaAdminClient on %s: %r" % (args.group, e))
    finally:
        client.close()
    return {"state": d.state, "protocol_type": d.protocol_type, "protocol": d.protocol,
            "members": members, "groups": listed, "offsets": offsets, "metadata": metadata}


def half(args):
    consumer = new_consumer(args, "half")
    consumer.subscribe([args.topic])
    processed = {p: [] for p in range(args.partitions)}
    done = set()
    ignored = commits = 0
    try:
        for r in records(consumer, Deadline(), "half"):
            p, o = r.partition, r.offset
            if p in done or o >= args.commits[p]:
                ignored += 1
                continue
            processed[p].append(o)
            # At-least-once, one record at a time: a synchronous commit
            # after every record processed; the last one must win.
            tp = TopicPartition(args.topic, p)
            try:
                consumer.commit({tp: offset_and_metadata(o + 1, "kafka-python p%d" % p)})
            except Exception as e:  # noqa: BLE001 - any failure is the answer
                fail("commit(partition %d offset %d), commit %d: %r" % (p, o + 1, commits + 1, e))
            commits += 1
            if o == args.commits[p] - 1:
                consumer.pause(tp)
                done.add(p)
                if len(done) == args.partitions:
                    break
        assignment = sorted(tp.partition for tp in consumer.assignment())
        api_version = ".".join(str(v) for v in consumer.config["api_version"])
    finally:
        consumer.close(autocommit=False)
    got, metadata = committed(args)
    emit(client="kafka-python", version=kafka.__version__, api_version=api_version, mode="half",
         consumed={str(p): o for p, o in processed.items()}, committed=got, committed_metadata=metadata,
         ignored=ignored, commits=commits, assignment=assignment, admin=admin(args), client_errors=[])


def resume(args):
    consumer = new_consumer(args, "resume")
    consumer.subscribe([args.topic])
    delivered = {p: [] for p in range(args.partitions)}
    try:
        finished = set()
        for r in records(consumer, Deadline(), "resume"):
            delivered[r.partition].append(r.offset)
            if r.offset == args.end - 1:
                finished.add(r.partition)
                if len(finished) == args.partitions:
                    break
        batches = consumer.poll(timeout_ms=300)
        for tp in batches:
            for r in batches[tp]:
                delivered[r.partition].append(r.offset)
        try:
            consumer.commit()
        except Exception as e:  # noqa: BLE001
            fail("commit(): %r" % e)
    finally:
        consumer.close(autocommit=False)
    got, metadata = committed(args)
    emit(client="kafka-python", mode="resume", consumed={str(p): o for p, o in delivered.items()},
         committed=got, committed_metadata=metadata, client_errors=[])


def share(args):
    # A KafkaConsumer joins inside poll(), blocking until the rebalance
    # ends, so each consumer polls on its own thread.
    stop = threading.Event()
    lock = threading.Lock()
    assignments = [[], []]
    errors = []

    def run(i):
        try:
            consumer = new_consumer(args, "share-%d" % i)
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append("share-%d: %r" % (i, e))
            return
        try:
            consumer.subscribe([args.topic])
            while not stop.is_set():
                batches = consumer.poll(timeout_ms=100)
                for tp in batches:
                    for r in batches[tp]:
                        check_value(r.topic, r.partition, r.offset, r.value)
                with lock:
                    assignments[i] = sorted(tp.partition for tp in consumer.assignment())
        except BaseException as e:  # noqa: BLE001 - check_value's exit, too
            with lock:
                errors.append("share-%d: %r" % (i, e))
        finally:
            consumer.close(autocommit=False)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    try:
        deadline = Deadline()
        while True:
            with lock:
                current = [list(a) for a in assignments]
                errs = list(errors)
            if errs:
                fail("share: %s" % errs)
            if shared(current, args.partitions):
                break
            if deadline.passed():
                fail("share: assignments %r after %ds, want two disjoint non-empty covering %d partitions"
                     % (current, DEADLINE_S, args.partitions))
            stop.wait(0.05)
        emit(client="kafka-python", mode="share", phase="shared",
             assignments={"share-%d" % i: a for i, a in enumerate(current)}, admin=admin(args),
             client_errors=[])
        if not wait_for_go(lambda: stop.wait(0.05)):
            fail("share: the test never said to close")
        with lock:
            final = [list(a) for a in assignments]
    finally:
        stop.set()
        for t in threads:
            t.join(20)
    if any(t.is_alive() for t in threads):
        fail("share: a consumer did not close within 20s")
    if errors:
        fail("share: %s" % errors)
    emit(client="kafka-python", mode="share", phase="closed",
         assignments={"share-%d" % i: a for i, a in enumerate(final)}, client_errors=[])


def member(args):
    consumer = new_consumer(args, args.client_id)
    try:
        consumer.subscribe([args.topic])

        def poll():
            batches = consumer.poll(timeout_ms=50)
            for tp in batches:
                for r in batches[tp]:
                    check_value(r.topic, r.partition, r.offset, r.value)

        if not wait_for_go(poll):
            fail("member: the test never said to close")
        final = sorted(tp.partition for tp in consumer.assignment())
    finally:
        consumer.close(autocommit=False)
    emit(client="kafka-python", mode="member", phase="closed", assignment=final, client_errors=[])


def live(args):
    consumer = new_consumer(args, "live")
    assigned = []
    delivered = {p: [] for p in range(args.partitions)}
    commit_errors = []
    uncommitted = [False]

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            pass

        def on_partitions_assigned(self, partitions):
            assigned.append(sorted(tp.partition for tp in partitions))

    def poll():
        batches = consumer.poll(timeout_ms=100)
        for tp in sorted(batches):
            for r in batches[tp]:
                check_value(r.topic, r.partition, r.offset, r.value)
                delivered[r.partition].append(r.offset)
                uncommitted[0] = True
        if uncommitted[0]:
            try:
                consumer.commit()
                uncommitted[0] = False
            except Exception as e:  # noqa: BLE001
                commit_errors.append(repr(e))

    def read_to(end, what):
        deadline = Deadline()
        while uncommitted[0] or not all(delivered[p] and delivered[p][-1] >= end - 1 for p in delivered):
            if deadline.passed():
                fail("live: %s: deadline passed; last offsets %r, commit errors %r"
                     % (what, {p: o[-1:] for p, o in delivered.items()}, commit_errors))
            poll()

    try:
        consumer.subscribe([args.topic], listener=Listener())
        read_to(args.end, "before the restart")
        emit(client="kafka-python", mode="live", phase="caught-up", client_errors=[])
        line = wait_for_line(poll)
        if not line:
            fail("live: the test never sent the new end offset")
        read_to(int(line), "after the restart")
        for _ in range(3):  # anything delivered twice would show here
            poll()
    finally:
        consumer.close(autocommit=False)
    got, metadata = committed(args)
    emit(client="kafka-python", mode="live", phase="done", consumed={str(p): o for p, o in delivered.items()},
         committed=got, committed_metadata=metadata, assigned=assigned, commit_errors=commit_errors,
         client_errors=[])


def main():
    args = parse_args()
    {"half": half, "resume": resume, "share": share, "member": member, "live": live}[args.mode](args)


if __name__ == "__main__":
    main()
