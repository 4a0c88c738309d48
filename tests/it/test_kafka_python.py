"""kafka-python 2.0.2 against Ferry: KafkaProducer (acks=1, acks=all with gzip) and KafkaConsumer with
assign()/seek() read back exactly; end/beginning offsets and offsets_for_times; KafkaAdminClient topic
creation, listing, config description and deletion, with Kafka's errors."""
import time
import unittest

import ferrytest as ft

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka import errors as kerr

N = 3000
BASE_TS = 1700000000000


def expected_messages(n, parts):
    """(partition, key, value, headers, timestamp) per message; some null keys and null values."""
    out = []
    for i in range(n):
        key = None if i % 7 == 3 and i % 50 != 11 else b"key-%05d" % i
        value = None if i % 50 == 11 else (b"value-%05d-" % i) + bytes(range(256))[i % 256:] + b"\x00" * (i % 5)
        headers = [] if i % 3 == 0 else [("idx", b"%d" % i), ("bin", bytes([i % 256, 0, 255]))]
        out.append((i % parts, key, value, headers, BASE_TS + i * 10))
    return out


class KafkaPythonTest(ft.FerryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.start_node(name="kafka-python")
        cls.admin = KafkaAdminClient(bootstrap_servers=cls.n.bootstrap, request_timeout_ms=60000,
                                     api_version_auto_timeout_ms=10000, client_id="ferry-it-admin")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.admin.close()
        finally:
            super().tearDownClass()

    def consumer(self):
        c = KafkaConsumer(bootstrap_servers=self.n.bootstrap, group_id=None, enable_auto_commit=False,
                          auto_offset_reset="none", request_timeout_ms=60000, api_version_auto_timeout_ms=10000,
                          fetch_max_wait_ms=200, max_poll_records=1000)
        self.addCleanup(c.close)
        return c

    def create(self, name, partitions, configs=None):
        resp = self.admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})],
                                        timeout_ms=30000)
        errs = [e[:2] for e in resp.topic_errors]
        self.assertEqual(errs, [(name, 0)])
        ft.wait_topic(self.n, name, partitions)

    def produce(self, topic, msgs, **conf):
        p = KafkaProducer(bootstrap_servers=self.n.bootstrap, api_version_auto_timeout_ms=10000,
                          request_timeout_ms=60000, linger_ms=20, **conf)
        try:
            futs = [p.send(topic, key=k, value=v, headers=h, partition=part, timestamp_ms=ts)
                    for part, k, v, h, ts in msgs]
            p.flush(120)
            return [f.get(timeout=60) for f in futs]
        finally:
            p.close(30)

    def read(self, c, tps_ends, timeout=120):
        """Polls until every tp in tps_ends has a record at end offset - 1; returns {tp: [records]}."""
        got = {tp: [] for tp in tps_ends}

        def done():
            return all(end <= 0 or (got[tp] and got[tp][-1].offset >= end - 1) for tp, end in tps_ends.items())
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                self.fail("timed out reading: %s of %s" % ({tp: len(v) for tp, v in got.items()}, tps_ends))
            for tp, recs in c.poll(timeout_ms=500).items():
                got[tp].extend(recs)
        return got

    def check_roundtrip(self, topic, parts, acks, compression):
        self.create(topic, parts)
        msgs = expected_messages(N, parts)
        metas = self.produce(topic, msgs, acks=acks, compression_type=compression)
        # Offsets assigned per partition: 0..n-1 in send order.
        next_off = {p: 0 for p in range(parts)}
        for (part, _, _, _, _), md in zip(msgs, metas):
            self.assertEqual((md.topic, md.partition), (topic, part))
            self.assertEqual(md.offset, next_off[part], "offset of a message in partition %d" % part)
            next_off[part] += 1

        c = self.consumer()
        tps = [TopicPartition(topic, p) for p in range(parts)]
        c.assign(tps)
        self.assertEqual(c.end_offsets(tps), {tp: next_off[tp.partition] for tp in tps})
        self.assertEqual(c.beginning_offsets(tps), {tp: 0 for tp in tps})
        c.seek_to_beginning()
        got = self.read(c, {tp: next_off[tp.partition] for tp in tps})
        for tp in tps:
            want = [m for m in msgs if m[0] == tp.partition]
            recs = got[tp]
            self.assertEqual(len(recs), len(want), "partition %d count" % tp.partition)
            for off, (r, (_, k, v, h, ts)) in enumerate(zip(recs, want)):
                self.assertEqual(r.offset, off)
                self.assertEqual(r.key, k, "key at %d/%d" % (tp.partition, off))
                self.assertEqual(r.value, v, "value at %d/%d" % (tp.partition, off))
                self.assertEqual(list(r.headers), h, "headers at %d/%d" % (tp.partition, off))
                self.assertEqual(r.timestamp, ts, "timestamp at %d/%d" % (tp.partition, off))
                self.assertEqual(r.timestamp_type, 0)

        # seek() into the middle of partition 0 reads exactly the tail.
        tp0 = tps[0]
        mid = next_off[0] // 2 + 1
        c.assign([tp0])
        c.seek(tp0, mid)
        got = self.read(c, {tp0: next_off[0]})
        want = [m for m in msgs if m[0] == 0][mid:]
        self.assertEqual([r.offset for r in got[tp0]], list(range(mid, next_off[0])))
        self.assertEqual([(r.key, r.value) for r in got[tp0]], [(m[1], m[2]) for m in want])
        return msgs, next_off

    def test_acks1_uncompressed(self):
        self.check_roundtrip("kp-acks1", 2, 1, None)

    def test_acks_all_gzip(self):
        topic = "kp-acksall-gzip"
        self.check_roundtrip(topic, 2, "all", "gzip")
        with self.n.conn() as conn:
            d = conn.fetch(topic, 0, 0, version=4)
            bs = ft.parse_batches(d["records"])
            self.assertTrue(bs)
            for b in bs:
                self.assertTrue(b.crc_ok, b)
                self.assertEqual(b.codec, ft.CODEC_GZIP, b)

    def test_offsets_for_times(self):
        topic = "kp-times"
        msgs, ends = self.check_roundtrip(topic, 2, 1, None)
        c = self.consumer()
        tps = [TopicPartition(topic, p) for p in range(2)]
        for tp in tps:
            part = [m for m in msgs if m[0] == tp.partition]
            for target in (0, BASE_TS, part[0][4] + 1, part[len(part) // 3][4], part[len(part) // 3][4] - 5,
                           part[-1][4]):
                want = next(((off, m[4]) for off, m in enumerate(part) if m[4] >= target), None)
                res = c.offsets_for_times({tp: target})[tp]
                self.assertIsNotNone(res, "offsets_for_times(%d) on %s" % (target, tp))
                self.assertEqual((res.offset, res.timestamp), want, "offsets_for_times(%d) on %s" % (target, tp))
            self.assertIsNone(c.offsets_for_times({tp: part[-1][4] + 1})[tp], "a timestamp after the last message")

    def test_admin_topics(self):
        a, b = "kp-admin-a", "kp-admin-b"
        resp = self.admin.create_topics([NewTopic(a, 3, 1, topic_configs={"retention.ms": "7200000"}),
                                         NewTopic(b, 1, 1)], timeout_ms=30000)
        self.assertEqual(sorted(e[:2] for e in resp.topic_errors), [(a, 0), (b, 0)])
        ft.wait_topic(self.n, a, 3)
        ft.wait_topic(self.n, b, 1)
        listed = self.admin.list_topics()
        self.assertIn(a, listed)
        self.assertIn(b, listed)
        self.assertEqual(len(listed), len(set(listed)))
        desc = {t["topic"]: t for t in self.admin.describe_topics([a, b])}
        self.assertEqual(sorted(p["partition"] for p in desc[a]["partitions"]), [0, 1, 2])
        self.assertEqual(sorted(p["partition"] for p in desc[b]["partitions"]), [0])
        for p in desc[a]["partitions"]:
            self.assertEqual((p["leader"], p["replicas"], p["isr"]), (1, [1], [1]))

        # DescribeConfigs: the dynamic topic config is reported with its value.
        res = self.admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, a)])
        entries = {}
        for r in res:
            for (err, msg, rtype, rname, cfgs) in r.resources:
                self.assertEqual((err, rname), (0, a), msg)
                for e in cfgs:
                    entries[e[0]] = e
        self.assertEqual(entries["retention.ms"][1], "7200000")
        self.assertIn("cleanup.policy", entries)
        self.assertEqual(entries["cleanup.policy"][1], "delete")

        with self.assertRaises(kerr.TopicAlreadyExistsError):
            self.admin.create_topics([NewTopic(a, 1, 1)], timeout_ms=30000)
        with self.assertRaises(kerr.InvalidPartitionsError):
            self.admin.create_topics([NewTopic("kp-admin-zero", 0, 1)], timeout_ms=30000)
        with self.assertRaises(kerr.InvalidReplicationFactorError):
            self.admin.create_topics([NewTopic("kp-admin-rf3", 1, 3)], timeout_ms=30000)
        with self.assertRaises(kerr.InvalidTopicError):
            self.admin.create_topics([NewTopic("kp admin bad?", 1, 1)], timeout_ms=30000)
        listed = self.admin.list_topics()
        for bad in ("kp-admin-zero", "kp-admin-rf3", "kp admin bad?"):
            self.assertNotIn(bad, listed)

        # validate_only creates nothing.
        resp = self.admin.create_topics([NewTopic("kp-admin-dry", 2, 1)], timeout_ms=30000, validate_only=True)
        self.assertEqual([e[:2] for e in resp.topic_errors], [("kp-admin-dry", 0)])
        time.sleep(1)
        self.assertNotIn("kp-admin-dry", self.admin.list_topics())

        resp = self.admin.delete_topics([a, b], timeout_ms=30000)
        self.assertEqual(sorted(e[:2] for e in resp.topic_error_codes), [(a, 0), (b, 0)])
        ft.wait_until(lambda: a not in self.admin.list_topics() and b not in self.admin.list_topics(), 60,
                      what="deleted topics to disappear")
        with self.assertRaises(kerr.UnknownTopicOrPartitionError):
            self.admin.delete_topics([a], timeout_ms=30000)
        # The name can be used again, with a fresh log.
        self.create(b, 2)
        with self.n.conn() as conn:
            for p in range(2):
                self.assertEqual(conn.list_offset(b, p, -1)["offset"], 0)


if __name__ == "__main__":
    ft.main()
