"""confluent-kafka 1.7.0 (librdkafka 2.0.2) against Ferry: Producer (acks=all, lz4 and zstd, delivery
reports) and Consumer with assign() at given offsets, byte-exact; AdminClient topics, configs and
partitions, and the Kafka error codes of its failure cases."""
import time
import unittest

import ferrytest as ft

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import ConfigResource, ConfigSource, NewPartitions, NewTopic

N = 6000
BASE_TS = 1710000000000


def kafka_code(exc):
    """The numeric Kafka error code inside a KafkaException raised by an admin future."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0].code()
    raise AssertionError("not a KafkaException: %r" % (exc,))


class ConfluentTest(ft.FerryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.start_node(name="confluent")

    def admin(self):
        return ft.admin(self.n)

    def result(self, futs, key):
        return futs[key].result(timeout=90)

    def expect_error(self, fut, code, what):
        try:
            fut.result(timeout=90)
        except KafkaException as e:
            self.assertEqual(kafka_code(e), code, "%s: %s" % (what, e))
            return e
        self.fail("%s succeeded, expected Kafka error %d" % (what, code))

    def describe(self, topic):
        a = self.admin()
        res = ConfigResource("topic", topic)
        return self.result(a.describe_configs([res]), res)

    # -- produce / consume ---------------------------------------------------------------------------------
    def roundtrip(self, topic, codec, codec_id, parts=3):
        ft.create_topic(self.n, topic, partitions=parts)
        reports = []
        p = Producer({"bootstrap.servers": self.n.bootstrap, "acks": "all", "compression.type": codec,
                      "linger.ms": 20, "message.timeout.ms": 120000, "enable.idempotence": False})
        sent = {}
        for i in range(N):
            part = i % parts
            key = b"k%06d" % i if i % 11 else None
            value = (b"v%06d|" % i) + bytes((i * 7 + j) % 256 for j in range(i % 300)) if i % 97 else None
            headers = [("n", b"%d" % i), ("empty", b"")] if i % 4 else None
            ts = BASE_TS + i
            sent[i] = (part, key, value, headers, ts)
            while True:
                try:
                    p.produce(topic, value=value, key=key, partition=part, headers=headers, timestamp=ts,
                              on_delivery=lambda err, msg, i=i: reports.append((i, err, msg.partition(), msg.offset())))
                    break
                except BufferError:
                    p.poll(0.5)
            p.poll(0)
        remaining = p.flush(180)
        self.assertEqual(remaining, 0, "messages still undelivered after flush")
        self.assertEqual(len(reports), N)
        errs = [(i, str(e)) for i, e, _, _ in reports if e is not None]
        self.assertEqual(errs, [], "delivery errors")
        by_off = {}
        for i, _, part, off in reports:
            self.assertEqual(part, sent[i][0])
            self.assertNotIn((part, off), by_off, "two messages acknowledged at %d/%d" % (part, off))
            by_off[(part, off)] = i
        for part in range(parts):
            offs = sorted(o for (pp, o) in by_off if pp == part)
            self.assertEqual(offs, list(range(len(offs))), "acknowledged offsets of partition %d" % part)
            idx = [by_off[(part, o)] for o in offs]
            self.assertEqual(idx, sorted(idx), "partition %d does not keep the produce order" % part)

        got = ft.consume_confluent(self.n, topic, range(parts))
        total = 0
        for part, msgs in got.items():
            self.assertEqual([m.offset() for m in msgs], sorted(o for (pp, o) in by_off if pp == part))
            for m in msgs:
                i = by_off[(part, m.offset())]
                _, key, value, headers, ts = sent[i]
                self.assertEqual(m.key(), key, "key at %d/%d" % (part, m.offset()))
                self.assertEqual(m.value(), value, "value at %d/%d" % (part, m.offset()))
                self.assertEqual(m.headers(), headers, "headers at %d/%d" % (part, m.offset()))
                self.assertEqual(m.timestamp(), (1, ts), "timestamp at %d/%d" % (part, m.offset()))
            total += len(msgs)
        self.assertEqual(total, N)

        # assign() at a given offset starts exactly there.
        start = len(got[1]) // 2
        tail = ft.consume_confluent(self.n, topic, [1], start=start)[1]
        self.assertEqual([(m.offset(), m.value()) for m in tail], [(m.offset(), m.value()) for m in got[1][start:]])

        with self.n.conn() as c:
            for part in range(parts):
                d = c.fetch(topic, part, 0, version=11, partition_max_bytes=64 * 1024)
                bs = ft.parse_batches(d["records"] or b"", decode=False)
                self.assertTrue(bs)
                for b in bs:
                    self.assertTrue(b.crc_ok, b)
                    # librdkafka sends a batch uncompressed when compressing would not make it smaller (a
                    # lone small record); every batch of several records must carry the codec.
                    if b.record_count > 1 or b.codec != 0:
                        self.assertEqual(b.codec, codec_id, "stored batch %r: codec %d, want %s" % (b, b.codec, codec))
                self.assertTrue([b for b in bs if b.codec == codec_id], "no %s batch stored in partition %d" % (codec, part))
        return got

    def test_produce_consume_zstd(self):
        self.roundtrip("cf-zstd", "zstd", ft.CODEC_ZSTD)

    def test_produce_consume_lz4(self):
        self.roundtrip("cf-lz4", "lz4", ft.CODEC_LZ4)

    def test_produce_to_missing_partition_fails(self):
        ft.create_topic(self.n, "cf-one", partitions=1)
        reports = []
        p = Producer({"bootstrap.servers": self.n.bootstrap, "acks": "all", "message.timeout.ms": 10000})
        p.produce("cf-one", b"x", partition=5, on_delivery=lambda err, msg: reports.append(err))
        p.flush(60)
        self.assertEqual(len(reports), 1)
        self.assertIsNotNone(reports[0], "a message to partition 5 of a 1-partition topic was acknowledged")

    def test_large_messages(self):
        """A record bigger than the consumer's fetch sizes still arrives whole (KIP-74); records over
        max.message.bytes are refused with MESSAGE_TOO_LARGE (10)."""
        topic = "cf-large"
        ft.create_topic(self.n, topic, partitions=1, config={"max.message.bytes": "3000000"})
        big = bytes((i * 31 + 7) % 251 for i in range(1500 * 1024))
        reports = []
        p = Producer({"bootstrap.servers": self.n.bootstrap, "acks": "all", "message.max.bytes": 10000000,
                      "linger.ms": 0})
        on = lambda err, msg: reports.append((err, msg.offset()))  # noqa: E731
        p.produce(topic, b"small-before", on_delivery=on)
        p.flush(60)
        p.produce(topic, big, key=b"big", on_delivery=on)
        p.flush(60)
        p.produce(topic, b"small-after", on_delivery=on)
        p.flush(60)
        self.assertEqual(reports, [(None, 0), (None, 1), (None, 2)])
        # Default fetch sizes are 1 MiB per partition: smaller than the 1.5 MiB record.
        got = ft.consume_confluent(self.n, topic, [0], extra_conf={"fetch.message.max.bytes": 1048576})[0]
        self.assertEqual([m.value() for m in got], [b"small-before", big, b"small-after"])
        from kafka import KafkaConsumer, TopicPartition as KTP
        kc = KafkaConsumer(bootstrap_servers=self.n.bootstrap, group_id=None, enable_auto_commit=False,
                           api_version_auto_timeout_ms=10000, max_partition_fetch_bytes=1048576)
        try:
            tp = KTP(topic, 0)
            kc.assign([tp])
            kc.seek(tp, 1)
            recs = []
            deadline = time.monotonic() + 60
            while not recs and time.monotonic() < deadline:
                recs = kc.poll(timeout_ms=500).get(tp, [])
            self.assertTrue(recs, "kafka-python did not receive the 1.5 MiB record")
            self.assertEqual((recs[0].offset, recs[0].value), (1, big))
        finally:
            kc.close()

        # Over the topic's max.message.bytes: refused, nothing appended.
        reports.clear()
        p.produce(topic, b"x" * 3100000, on_delivery=on)
        p.flush(60)
        self.assertEqual(len(reports), 1)
        self.assertIsNotNone(reports[0][0], "a record over max.message.bytes was accepted")
        self.assertEqual(reports[0][0].code(), 10, str(reports[0][0]))
        with self.n.conn() as c:
            self.assertEqual(c.list_offset(topic, 0, -1)["offset"], 3)

    def test_log_append_time(self):
        """message.timestamp.type=LogAppendTime: the broker stamps the batch (and recomputes its CRC)."""
        topic = "cf-logappend"
        ft.create_topic(self.n, topic, partitions=1, config={"message.timestamp.type": "LogAppendTime"})
        before = int(time.time() * 1000)
        with self.n.conn() as c:
            r = c.produce(topic, 0, ft.build_batch([(b"a", b"1", []), (b"b", b"2", [])], base_ts=1000000))
            after = int(time.time() * 1000)
            self.assertEqual(r["error"], 0)
            self.assertTrue(before - 1000 <= r["log_append_time"] <= after + 1000, r)
            d = c.fetch(topic, 0, 0, version=4)
            bs = ft.parse_batches(d["records"])
            self.assertEqual(len(bs), 1)
            b = bs[0]
            self.assertTrue(b.crc_ok, "CRC not recomputed after setting LogAppendTime: %r" % b)
            self.assertTrue(b.attributes & 0x08, "timestamp type bit not set: %r" % b)
            self.assertEqual(b.max_ts, r["log_append_time"])
        got = ft.consume_confluent(self.n, topic, [0])[0]
        self.assertEqual([m.value() for m in got], [b"1", b"2"])
        for m in got:
            self.assertEqual(m.timestamp(), (2, r["log_append_time"]))  # TIMESTAMP_LOG_APPEND_TIME

    # -- admin ---------------------------------------------------------------------------------------------
    def test_list_topics_metadata(self):
        ft.create_topic(self.n, "cf-meta", partitions=2)
        md = self.admin().list_topics(timeout=30)
        self.assertEqual(set(md.brokers), {1})
        b = md.brokers[1]
        self.assertEqual((b.host, b.port), ("127.0.0.1", self.n.port))
        self.assertEqual(md.controller_id, 1)
        self.assertRegex(md.cluster_id or "", r"^[A-Za-z0-9_-]{22}$")
        t = md.topics["cf-meta"]
        self.assertIsNone(t.error)
        self.assertEqual(sorted(t.partitions), [0, 1])
        for p in t.partitions.values():
            self.assertEqual((p.leader, list(p.replicas), list(p.isrs)), (1, [1], [1]))
        md = self.admin().list_topics(topic="cf-meta", timeout=30)
        self.assertEqual(list(md.topics), ["cf-meta"])

    def test_create_with_config_describe_alter(self):
        topic = "cf-configs"
        a = self.admin()
        futs = a.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1,
                                         config={"retention.ms": "3600000", "cleanup.policy": "compact"})],
                               operation_timeout=30)
        self.result(futs, topic)
        ft.wait_topic(self.n, topic, 2)
        cfg = self.describe(topic)
        self.assertEqual(cfg["retention.ms"].value, "3600000")
        self.assertEqual(cfg["retention.ms"].source, ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
        self.assertEqual(cfg["cleanup.policy"].value, "compact")
        self.assertEqual(cfg["cleanup.policy"].source, ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
        # Kafka 3.7 defaults, reported as defaults.
        for name, value in (("segment.bytes", "1073741824"), ("max.message.bytes", "1048588"),
                            ("compression.type", "producer"), ("min.insync.replicas", "1")):
            self.assertIn(name, cfg)
            self.assertEqual(cfg[name].value, value, name)
            self.assertEqual(cfg[name].source, ConfigSource.DEFAULT_CONFIG.value, name)
            self.assertTrue(cfg[name].is_default, name)
        self.assertFalse(cfg["retention.ms"].is_default)

        # AlterConfigs (not incremental) replaces the whole set of topic overrides.
        res = ConfigResource("topic", topic, set_config={"retention.ms": "7200000"})
        self.result(a.alter_configs([res]), res)

        def altered():
            c = self.describe(topic)
            return c if c["retention.ms"].value == "7200000" else None
        cfg = ft.wait_until(altered, 30, what="retention.ms altered")
        self.assertEqual(cfg["retention.ms"].source, ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
        self.assertEqual(cfg["cleanup.policy"].value, "delete")
        self.assertEqual(cfg["cleanup.policy"].source, ConfigSource.DEFAULT_CONFIG.value)

        # An invalid value is refused with INVALID_CONFIG (40) and changes nothing.
        bad = ConfigResource("topic", topic, set_config={"retention.ms": "not-a-number"})
        self.expect_error(a.alter_configs([bad])[bad], 40, "alter_configs retention.ms=not-a-number")
        self.assertEqual(self.describe(topic)["retention.ms"].value, "7200000")
        # Describing a missing topic: UNKNOWN_TOPIC_OR_PARTITION.
        missing = ConfigResource("topic", "cf-no-such-topic")
        self.expect_error(a.describe_configs([missing])[missing], ft.E_UNKNOWN_TOPIC_OR_PARTITION,
                          "describe_configs of a missing topic")

    def test_create_invalid_config(self):
        a = self.admin()
        for cfg in ({"cleanup.policy": "sometimes"}, {"retention.ms": "abc"}, {"no.such.config": "1"}):
            futs = a.create_topics([NewTopic("cf-badcfg", 1, 1, config=cfg)], operation_timeout=30)
            self.expect_error(futs["cf-badcfg"], 40, "create_topics with %s" % cfg)
        self.assertNotIn("cf-badcfg", a.list_topics(timeout=30).topics)

    def test_create_partitions(self):
        topic = "cf-grow"
        ft.create_topic(self.n, topic, partitions=2)
        a = self.admin()
        self.result(a.create_partitions([NewPartitions(topic, 5)], operation_timeout=30), topic)
        ft.wait_topic(self.n, topic, 5)
        md = a.list_topics(topic=topic, timeout=30)
        self.assertEqual(sorted(md.topics[topic].partitions), [0, 1, 2, 3, 4])
        # The new partitions take writes.
        reports = []
        p = Producer({"bootstrap.servers": self.n.bootstrap, "acks": "all", "topic.metadata.refresh.interval.ms": 1000})
        for part in range(5):
            p.produce(topic, b"to-%d" % part, partition=part,
                      on_delivery=lambda err, msg: reports.append((err, msg.partition(), msg.offset())))
        p.flush(60)
        self.assertEqual(sorted(reports, key=lambda r: r[1]), [(None, part, 0) for part in range(5)])
        got = ft.consume_confluent(self.n, topic, range(5))
        self.assertEqual({part: [m.value() for m in ms] for part, ms in got.items()},
                         {part: [b"to-%d" % part] for part in range(5)})
        # Shrinking or keeping the count: INVALID_PARTITIONS; a missing topic: UNKNOWN_TOPIC_OR_PARTITION.
        self.expect_error(a.create_partitions([NewPartitions(topic, 3)], operation_timeout=30)[topic],
                          ft.E_INVALID_PARTITIONS, "create_partitions 5 -> 3")
        self.expect_error(a.create_partitions([NewPartitions(topic, 5)], operation_timeout=30)[topic],
                          ft.E_INVALID_PARTITIONS, "create_partitions 5 -> 5")
        self.expect_error(a.create_partitions([NewPartitions("cf-grow-missing", 3)], operation_timeout=30)[
            "cf-grow-missing"], ft.E_UNKNOWN_TOPIC_OR_PARTITION, "create_partitions of a missing topic")

    def test_create_errors(self):
        a = self.admin()
        ft.create_topic(self.n, "cf-exists", partitions=1)
        cases = [
            (NewTopic("cf-exists", 1, 1), ft.E_TOPIC_ALREADY_EXISTS),
            (NewTopic("cf-zero-parts", 0, 1), ft.E_INVALID_PARTITIONS),
            (NewTopic("cf-rf2", 1, 2), ft.E_INVALID_REPLICATION_FACTOR),
            (NewTopic("cf-rf0", 1, 0), ft.E_INVALID_REPLICATION_FACTOR),
            (NewTopic("bad name", 1, 1), ft.E_INVALID_TOPIC_EXCEPTION),
            (NewTopic("bad/name", 1, 1), ft.E_INVALID_TOPIC_EXCEPTION),
            (NewTopic(".", 1, 1), ft.E_INVALID_TOPIC_EXCEPTION),
            (NewTopic("..", 1, 1), ft.E_INVALID_TOPIC_EXCEPTION),
            (NewTopic("x" * 250, 1, 1), ft.E_INVALID_TOPIC_EXCEPTION),
        ]
        for nt, code in cases:
            futs = a.create_topics([nt], operation_timeout=30)
            self.expect_error(futs[nt.topic], code, "create_topics(%s, %d, %d)" % (
                nt.topic[:40], nt.num_partitions, nt.replication_factor))
        listed = a.list_topics(timeout=30).topics
        for nt, code in cases[1:]:
            self.assertNotIn(nt.topic, listed)
        # The longest legal name (249 characters) works.
        longest = "y" * 249
        self.result(a.create_topics([NewTopic(longest, 1, 1)], operation_timeout=30), longest)
        ft.wait_topic(self.n, longest, 1)
        # validate_only checks but creates nothing.
        self.result(a.create_topics([NewTopic("cf-dry-run", 3, 1)], validate_only=True), "cf-dry-run")
        self.expect_error(a.create_topics([NewTopic("cf-exists", 3, 1)], validate_only=True)["cf-exists"],
                          ft.E_TOPIC_ALREADY_EXISTS, "validate_only create of an existing topic")
        time.sleep(1)
        self.assertNotIn("cf-dry-run", a.list_topics(timeout=30).topics)

    def test_delete_topics(self):
        a = self.admin()
        ft.create_topic(self.n, "cf-del", partitions=2)
        p = Producer({"bootstrap.servers": self.n.bootstrap})
        p.produce("cf-del", b"old data", partition=0)
        p.flush(60)
        self.result(a.delete_topics(["cf-del"], operation_timeout=30), "cf-del")
        ft.wait_until(lambda: "cf-del" not in a.list_topics(timeout=30).topics, 60, what="cf-del deleted")
        self.expect_error(a.delete_topics(["cf-del"], operation_timeout=30)["cf-del"],
                          ft.E_UNKNOWN_TOPIC_OR_PARTITION, "delete of a deleted topic")
        self.expect_error(a.delete_topics(["cf-never-was"], operation_timeout=30)["cf-never-was"],
                          ft.E_UNKNOWN_TOPIC_OR_PARTITION, "delete of a missing topic")
        # Re-created with the same name: empty.
        ft.create_topic(self.n, "cf-del", partitions=1)
        with self.n.conn() as c:
            self.assertEqual(c.list_offset("cf-del", 0, -1)["offset"], 0)
            self.assertEqual(c.list_offset("cf-del", 0, -2)["offset"], 0)
        md = a.list_topics(topic="cf-del", timeout=30)
        self.assertEqual(sorted(md.topics["cf-del"].partitions), [0])


if __name__ == "__main__":
    ft.main()
