"""Consumer groups with the real clients. confluent-kafka and kafka-python subscribe(): partitions are
split between the members of a group, committed offsets are where a restarted member resumes, and a
different group starts from its own position. Committed offsets in __consumer_offsets survive a clean
restart and a kill -9; a corrupted record there is logged and skipped at load, nothing else lost; the admin
APIs list, describe and delete groups; bad group requests get Kafka's error codes."""
import glob
import os
import struct
import time
import unittest

import ferrytest as ft

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

PARTS = 4


def produce(node, topic, start, count):
    p = Producer({"bootstrap.servers": node.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(start, start + count):
        p.produce(topic, b"g-%05d" % i, key=b"%d" % i, partition=i % PARTS)
    assert p.flush(60) == 0


def drain(consumers, want, timeout=60):
    """Polls the consumers round-robin until `want` records arrived in total (then a little more, to catch
    extra ones). Returns {consumer index: [(partition, offset, value)]}."""
    got = {i: [] for i in range(len(consumers))}
    deadline = time.monotonic() + timeout
    extra_until = None
    while True:
        n = sum(len(v) for v in got.values())
        if n >= want and extra_until is None:
            extra_until = time.monotonic() + 2
        if extra_until is not None and time.monotonic() > extra_until:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("group consumers got %d of %d records" % (n, want))
        for i, c in enumerate(consumers):
            for m in c.consume(num_messages=500, timeout=0.2):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise AssertionError("consumer error: %s" % m.error())
                got[i].append((m.partition(), m.offset(), m.value()))


class GroupTest(ft.FerryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.start_node(name="groups")

    def consumer(self, group, **kw):
        conf = {"bootstrap.servers": self.n.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                "enable.auto.commit": False, "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000}
        conf.update(kw)
        c = Consumer(conf)
        self.addCleanup(c.close)
        return c

    def test_confluent_group_split_commit_resume(self):
        topic = "grp-cf"
        ft.create_topic(self.n, topic, partitions=PARTS)
        produce(self.n, topic, 0, 400)
        a, b = self.consumer("g1"), self.consumer("g1")
        a.subscribe([topic])
        b.subscribe([topic])
        got = drain([a, b], 400)
        pa = {p for p, _, _ in got[0]}
        pb = {p for p, _, _ in got[1]}
        self.assertEqual(pa & pb, set(), "a partition was consumed by both members")
        self.assertEqual(pa | pb, set(range(PARTS)))
        self.assertTrue(pa and pb, "one member got no partition: %s / %s" % (pa, pb))
        values = sorted(v for lst in got.values() for _, _, v in lst)
        self.assertEqual(values, [b"g-%05d" % i for i in range(400)])
        a.commit(asynchronous=False)
        b.commit(asynchronous=False)
        a.close()
        b.close()

        # The group resumes from its commits; another group starts from the beginning.
        produce(self.n, topic, 400, 100)
        c = self.consumer("g1")
        c.subscribe([topic])
        got = drain([c], 100)[0]
        self.assertEqual(sorted(v for _, _, v in got), [b"g-%05d" % i for i in range(400, 500)])
        committed = c.committed([TopicPartition(topic, p) for p in range(PARTS)], timeout=30)
        self.assertEqual({tp.partition: tp.offset for tp in committed}, {p: 100 for p in range(PARTS)})
        d = self.consumer("g2")
        d.subscribe([topic])
        self.assertEqual(len(drain([d], 500)[0]), 500)

    def test_kafka_python_group(self):
        from kafka import KafkaConsumer
        topic = "grp-kp"
        ft.create_topic(self.n, topic, partitions=PARTS)
        produce(self.n, topic, 0, 200)

        def consume(n):
            c = KafkaConsumer(topic, bootstrap_servers=self.n.bootstrap, group_id="kp-g", enable_auto_commit=False,
                              auto_offset_reset="earliest", api_version_auto_timeout_ms=10000,
                              session_timeout_ms=10000, heartbeat_interval_ms=1000)
            try:
                out = []
                deadline = time.monotonic() + 120
                while len(out) < n and time.monotonic() < deadline:
                    for recs in c.poll(timeout_ms=500).values():
                        out.extend(r.value for r in recs)
                c.commit()
                return out
            finally:
                c.close()
        def bounded(n):
            # kafka-python's commit() retries forever without a coordinator: run it in a daemon thread.
            import threading
            box = []
            th = threading.Thread(target=lambda: box.append(consume(n)), daemon=True)
            th.start()
            th.join(60)
            self.assertFalse(th.is_alive(), "kafka-python group consumer hangs (no group coordinator?)")
            self.assertTrue(box, "kafka-python group consumer failed")
            return box[0]
        first = bounded(200)
        self.assertEqual(sorted(first), [b"g-%05d" % i for i in range(200)])
        produce(self.n, topic, 200, 40)
        second = bounded(40)
        self.assertEqual(sorted(second), [b"g-%05d" % i for i in range(200, 240)])

    def test_kcat_balanced_consumer(self):
        topic = "grp-kcat"
        ft.create_topic(self.n, topic, partitions=PARTS)
        produce(self.n, topic, 0, 120)
        res = ft.run_kcat(["-b", self.n.bootstrap, "-G", "kcat-g", "-o", "beginning", "-e", "-q",
                           "-f", "%s\\n", topic], timeout=60)
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(sorted(res.stdout.split()), [b"g-%05d" % i for i in range(120)])

    def test_kafka_python_three_members_join_and_leave(self):
        """3 kafka-python members on 6 partitions; a 4th joins and one leaves mid-stream. Every record is
        consumed, and none is delivered again below an offset that was committed before its delivery."""
        import threading
        from kafka import KafkaConsumer
        from kafka.errors import CommitFailedError, KafkaError as KPError
        topic, parts, total = "grp-kp3", 6, 1200
        ft.create_topic(self.n, topic, partitions=parts)
        lock = threading.Lock()
        committed = {p: -1 for p in range(parts)}
        seen, violations = [], []
        stop = {}

        def member(name):
            c = KafkaConsumer(topic, bootstrap_servers=self.n.bootstrap, group_id="kp3", enable_auto_commit=False,
                              auto_offset_reset="earliest", api_version_auto_timeout_ms=10000,
                              session_timeout_ms=10000, heartbeat_interval_ms=500, max_poll_records=20)
            try:
                while not stop.get(name) and not stop.get("all"):
                    batch = c.poll(timeout_ms=200)
                    with lock:
                        for tp, recs in batch.items():
                            for r in recs:
                                if r.offset < committed[tp.partition]:
                                    violations.append((name, tp.partition, r.offset, committed[tp.partition]))
                                seen.append(r.value)
                    if batch:
                        offs = {tp: recs[-1].offset + 1 for tp, recs in batch.items()}
                        try:
                            c.commit()
                            with lock:
                                for tp, o in offs.items():
                                    committed[tp.partition] = max(committed[tp.partition], o)
                        except (CommitFailedError, KPError):
                            pass  # a rebalance: those records may come again, above the last commit
            finally:
                c.close()  # LeaveGroup

        p = Producer({"bootstrap.servers": self.n.bootstrap, "linger.ms": 5})

        def produce_range(a, b):
            for i in range(a, b):
                p.produce(topic, b"k3-%05d" % i, partition=i % parts)
            p.flush(60)

        threads = {}
        for name in ("m1", "m2", "m3"):
            threads[name] = threading.Thread(target=member, args=(name,), daemon=True)
            threads[name].start()
        produce_range(0, 400)
        time.sleep(3)
        threads["m4"] = threading.Thread(target=member, args=("m4",), daemon=True)  # joins mid-stream
        threads["m4"].start()
        produce_range(400, 800)
        time.sleep(3)
        stop["m2"] = True  # leaves mid-stream
        threads["m2"].join(30)
        produce_range(800, total)
        ft.wait_until(lambda: len(set(seen)) >= total, timeout=120, what="every record consumed")
        stop["all"] = True
        for t in threads.values():
            t.join(30)
        self.assertEqual(set(seen), {b"k3-%05d" % i for i in range(total)})
        self.assertEqual(violations, [], "records delivered again below a committed offset")

    def test_confluent_cooperative_sticky(self):
        topic = "grp-coop"
        ft.create_topic(self.n, topic, partitions=6)
        p = Producer({"bootstrap.servers": self.n.bootstrap, "linger.ms": 5})
        for i in range(300):
            p.produce(topic, b"c-%05d" % i, partition=i % 6)
        p.flush(60)
        conf = {"bootstrap.servers": self.n.bootstrap, "group.id": "coop-g", "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "cooperative-sticky", "session.timeout.ms": 10000,
                "heartbeat.interval.ms": 500}
        a = Consumer(conf)
        b = Consumer(conf)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        a.subscribe([topic])
        b.subscribe([topic])
        got = drain([a, b], 300)
        values = sorted(v for lst in got.values() for _, _, v in lst)
        self.assertEqual(values, [b"c-%05d" % i for i in range(300)])
        ft.wait_until(lambda: (a.poll(0.1), b.poll(0.1), len(a.assignment()) + len(b.assignment()) == 6)[2],
                      timeout=60, what="6 partitions assigned")
        self.assertEqual({tp.partition for tp in a.assignment()} & {tp.partition for tp in b.assignment()}, set())


def java_hash(s):
    h = 0
    b = s.encode("utf-16-be")
    for i in range(0, len(b), 2):
        h = (h * 31 + int.from_bytes(b[i:i + 2], "big")) & 0xffffffff
    return h - (1 << 32) if h >= 1 << 31 else h


def coordinator_ready(node, group):
    """Waits until FindCoordinator answers and the group's __consumer_offsets partition is loaded."""
    def ready():
        with node.conn() as c:
            w = ft.W()
            w.string(group)
            r = ft.R(c.request(10, 0, w.getvalue()))
            if r.i16() != 0:
                return False
            return heartbeat(c, group, 0, "nobody") == 25
    ft.wait_until(ready, timeout=60, what="group coordinator for %s" % group)


def heartbeat(c, group, generation, member):
    w = ft.W()
    w.string(group).i32(generation).string(member)
    r = ft.R(c.request(12, 1, w.getvalue()))
    r.i32()
    return r.i16()


def join(c, group, member, protocol_type, protocols, version=2):
    w = ft.W()
    w.string(group).i32(10000)
    if version >= 1:
        w.i32(10000)
    w.string(member).string(protocol_type)
    w.array(protocols, lambda ww, p: ww.string(p[0]).bytes_(p[1]))
    r = ft.R(c.request(11, version, w.getvalue()))
    if version >= 2:
        r.i32()
    err, gen, proto, leader, mid = r.i16(), r.i32(), r.string(), r.string(), r.string()
    return err, gen, proto, leader, mid


def sync(c, group, generation, member, assignment):
    w = ft.W()
    w.string(group).i32(generation).string(member)
    w.array([member], lambda ww, m: ww.string(m).bytes_(assignment))
    r = ft.R(c.request(14, 1, w.getvalue()))
    r.i32()
    return r.i16()


def commit(c, group, generation, member, topic, partition, offset):
    w = ft.W()
    w.string(group).i32(generation).string(member).i64(-1)
    w.array([topic], lambda ww, t: ww.string(t).array([partition], lambda w3, p: w3.i32(p).i64(offset).string("")))
    r = ft.R(c.request(8, 2, w.getvalue()))
    r.raw(4)  # topics count
    r.string()
    r.raw(4)
    r.i32()
    return r.i16()


class GroupDurabilityTest(ft.FerryTestCase):
    """Committed offsets across restarts, a corrupted record at load, the admin APIs, bad requests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # one __consumer_offsets partition: every group shares it (the corruption test relies on it)
        cls.n = cls.start_node(name="groups-durable", overrides={"offsets.topic.num.partitions": 1,
                                                                 "group.initial.rebalance.delay.ms": 0})

    def committed(self, group, topic, parts):
        c = Consumer({"bootstrap.servers": self.n.bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            got = c.committed([TopicPartition(topic, p) for p in range(parts)], timeout=30)
            return {tp.partition: tp.offset for tp in got}
        finally:
            c.close()

    def commit_standalone(self, group, topic, offsets):
        c = Consumer({"bootstrap.servers": self.n.bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
        finally:
            c.close()

    def test_commits_survive_restart_and_kill9(self):
        topic = "dur"
        ft.create_topic(self.n, topic, partitions=3)
        self.commit_standalone("dur-g", topic, {0: 5, 1: 6, 2: 7})
        self.assertEqual(self.committed("dur-g", topic, 3), {0: 5, 1: 6, 2: 7})
        self.n.restart(clean=True)
        self.assertEqual(self.committed("dur-g", topic, 3), {0: 5, 1: 6, 2: 7})
        self.commit_standalone("dur-g", topic, {1: 60})
        self.n.restart(clean=False)  # kill -9
        self.assertEqual(self.committed("dur-g", topic, 3), {0: 5, 1: 60, 2: 7})

    def test_corrupted_record_at_load(self):
        topic = "corr"
        ft.create_topic(self.n, topic, partitions=1)
        self.commit_standalone("corr-a", topic, {0: 11})
        self.n.kill9()
        # Append a batch (valid CRC) to __consumer_offsets-0: a record whose key is garbage, then a good
        # offset commit for group corr-b. Crash recovery adopts the batch; the loader skips the garbage.
        seg = sorted(glob.glob(os.path.join(self.n.partition_dir("__consumer_offsets", 0), "*.log")))[-1]
        with open(seg, "rb") as f:
            data = f.read()
        next_offset = max(b.base_offset + b.last_offset_delta + 1 for b in ft.parse_batches(data, decode=False))
        key = struct.pack(">hh", 1, 6) + b"corr-b" + struct.pack(">h", len(topic)) + topic.encode() + struct.pack(">i", 0)
        value = struct.pack(">hq", 3, 77) + struct.pack(">i", -1) + struct.pack(">h", 0) + struct.pack(">q", int(time.time() * 1000))
        batch = ft.build_batch([(b"\x00\x07garbage", b"\x01\x02"), (key, value)], base_offset=next_offset)
        with open(seg, "ab") as f:
            f.write(batch)
        self.n.start()
        ft.wait_until(lambda: "corrupt record skipped" in self.n.log_text(), timeout=60, what="corruption logged")
        self.assertRegex(self.n.log_text(), r"__consumer_offsets-0 offset %d: corrupt record skipped" % next_offset)
        self.assertEqual(self.committed("corr-a", topic, 1), {0: 11})
        self.assertEqual(self.committed("corr-b", topic, 1), {0: 77})

    def test_admin_list_describe_delete(self):
        from confluent_kafka.admin import AdminClient
        from kafka import KafkaAdminClient
        topic = "adm"
        ft.create_topic(self.n, topic, partitions=2)
        self.commit_standalone("adm-empty", topic, {0: 1})
        live = Consumer({"bootstrap.servers": self.n.bootstrap, "group.id": "adm-live", "session.timeout.ms": 10000})
        self.addCleanup(live.close)
        live.subscribe([topic])
        ft.wait_until(lambda: (live.poll(0.2), live.assignment())[1], timeout=60, what="assignment")
        a = AdminClient({"bootstrap.servers": self.n.bootstrap})
        groups = {g.id: g for g in a.list_groups(timeout=30)}
        self.assertIn("adm-empty", groups)
        self.assertIn("adm-live", groups)
        self.assertEqual(groups["adm-live"].state, "Stable")
        self.assertEqual(groups["adm-live"].protocol_type, "consumer")
        self.assertEqual(len(groups["adm-live"].members), 1)
        self.assertEqual(groups["adm-empty"].state, "Empty")
        kadmin = KafkaAdminClient(bootstrap_servers=self.n.bootstrap, api_version_auto_timeout_ms=10000)
        try:
            listed = {g[0] for g in kadmin.list_consumer_groups()}
            self.assertTrue({"adm-empty", "adm-live"} <= listed, listed)
            desc = kadmin.describe_consumer_groups(["adm-live"])[0]
            self.assertEqual(desc.state, "Stable")
            res = dict(kadmin.delete_consumer_groups(["adm-empty", "adm-live", "adm-missing"]))
            self.assertEqual(res["adm-empty"].errno, 0)
            self.assertEqual(res["adm-live"].errno, 68)    # NON_EMPTY_GROUP
            self.assertEqual(res["adm-missing"].errno, 69)  # GROUP_ID_NOT_FOUND
        finally:
            kadmin.close()
        self.assertEqual(self.committed("adm-empty", topic, 2), {0: -1001, 1: -1001})

    def test_bad_group_requests(self):
        coordinator_ready(self.n, "bad-g")
        with self.n.conn() as c:
            # an unknown / empty protocol type, and no protocols at all
            self.assertEqual(join(c, "bad-g", "", "", [("range", b"x")])[0], 23)
            self.assertEqual(join(c, "bad-g", "", "consumer", [])[0], 23)
            # garbage metadata is opaque: accepted, the member leads generation 1
            err, gen, proto, leader, mid = join(c, "bad-g", "", "consumer", [("range", b"\xff\x00garbage")])
            self.assertEqual((err, gen, proto), (0, 1, "range"))
            self.assertEqual(leader, mid)
            self.assertEqual(commit(c, "bad-g", gen, mid, "bad-t-none", 0, 1), 3)  # unknown topic first
            ft.create_topic(self.n, "bad-t", partitions=1)
            self.assertEqual(commit(c, "bad-g", gen, mid, "bad-t", 0, 1), 27)  # not synced yet
            self.assertEqual(sync(c, "bad-g", gen, mid, b"\x00\x01"), 0)
            # another member with a protocol type or protocols that do not match
            self.assertEqual(join(c, "bad-g", "", "connect", [("range", b"")])[0], 23)
            self.assertEqual(join(c, "bad-g", "", "consumer", [("sticky", b"")])[0], 23)
            # a heartbeat from an unknown member, a stale generation
            self.assertEqual(heartbeat(c, "bad-g", gen, "nobody"), 25)
            self.assertEqual(heartbeat(c, "bad-g", gen + 5, mid), 22)
            self.assertEqual(heartbeat(c, "bad-g", gen, mid), 0)
            # a commit from a stale generation / unknown member / a standalone commit into a live group
            self.assertEqual(commit(c, "bad-g", gen + 5, mid, "bad-t", 0, 1), 22)
            self.assertEqual(commit(c, "bad-g", gen, "nobody", "bad-t", 0, 1), 25)
            self.assertEqual(commit(c, "bad-g", -1, "", "bad-t", 0, 1), 25)
            self.assertEqual(commit(c, "nogroup-g", 3, "m", "bad-t", 0, 1), 22)
            self.assertEqual(commit(c, "nogroup-g", -1, "", "no-such-topic", 0, 1), 3)
            self.assertEqual(commit(c, "bad-g", gen, mid, "bad-t", 0, 42), 0)
        self.assertTrue(self.n.alive())


if __name__ == "__main__":
    ft.main()
