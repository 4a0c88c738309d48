"""Restarts: a clean stop (SIGTERM) keeps every topic, config and message byte-exact; a kill -9 in the
middle of an acks=all produce stream loses no acknowledged message, and what is read back after the
restart has no duplicate and keeps the produce order; writes after a restart continue the offsets."""
import threading
import time
import unittest

import ferrytest as ft

from confluent_kafka import Producer
from confluent_kafka.admin import ConfigResource, ConfigSource, NewTopic


def produce_all(node, topic, msgs, **conf):
    """msgs: [(partition, key, value, headers)]. Returns [(partition, offset)] from delivery reports."""
    reports = {}
    c = {"bootstrap.servers": node.bootstrap, "acks": "all", "linger.ms": 10, "message.timeout.ms": 120000}
    c.update(conf)
    p = Producer(c)
    for i, (part, k, v, h) in enumerate(msgs):
        while True:
            try:
                p.produce(topic, v, k, partition=part, headers=h,
                          on_delivery=lambda err, m, i=i: reports.__setitem__(i, (err, m.partition(), m.offset())))
                break
            except BufferError:
                p.poll(0.2)
    assert p.flush(180) == 0
    errs = [r for r in reports.values() if r[0] is not None]
    assert not errs, "%d delivery errors, first: %s" % (len(errs), errs[:3])
    return [reports[i][1:] for i in range(len(msgs))]


def snapshot(node, topics):
    """{topic: {partition: [(offset, key, value, headers, timestamp)]}} read with confluent-kafka."""
    a = ft.admin(node)
    md = a.list_topics(timeout=30)
    out = {}
    for t in topics:
        parts = sorted(md.topics[t].partitions)
        got = ft.consume_confluent(node, t, parts)
        out[t] = {p: [(m.offset(), m.key(), m.value(), m.headers(), m.timestamp()) for m in ms]
                  for p, ms in got.items()}
    return out


def describe(node, topic):
    a = ft.admin(node)
    res = ConfigResource("topic", topic)
    cfg = a.describe_configs([res])[res].result(60)
    return {k: (v.value, v.source) for k, v in cfg.items()}


class CleanRestartTest(ft.FerryTestCase):
    def test_clean_restart_keeps_everything(self):
        n = self.node(name="restart-clean")
        n.start()
        a = ft.admin(n)
        topics = {
            "rs-plain": (3, {}),
            "rs-configured": (2, {"retention.ms": "86400000", "cleanup.policy": "compact",
                                  "max.message.bytes": "200000"}),
            "rs-empty": (4, {"segment.bytes": "1048576"}),
        }
        futs = a.create_topics([NewTopic(t, p, 1, config=c) for t, (p, c) in topics.items()], operation_timeout=30)
        for t in topics:
            futs[t].result(60)
            ft.wait_topic(n, t, topics[t][0])
        # A small segment.bytes on one topic so that its log rolls into several segments.
        futs = a.create_topics([NewTopic("rs-rolled", 1, 1, config={"segment.bytes": "65536"})],
                               operation_timeout=30)
        futs["rs-rolled"].result(60)
        ft.wait_topic(n, "rs-rolled", 1)

        plain = [(i % 3, b"k%d" % i, b"plain-%d-" % i + b"\xff\x00" * (i % 40), [("i", b"%d" % i)])
                 for i in range(3000)]
        produce_all(n, "rs-plain", plain, **{"compression.type": "gzip"})
        produce_all(n, "rs-configured", [(i % 2, b"key-%d" % (i % 50), b"v%d" % i, None) for i in range(500)])
        # Batches must fit a segment (Kafka answers RECORD_LIST_TOO_LARGE otherwise).
        produce_all(n, "rs-rolled", [(0, None, b"r%05d" % i + b"." * 200, None) for i in range(2000)],
                    **{"batch.size": 16384})
        names = sorted(list(topics) + ["rs-rolled"])
        before = snapshot(n, names)
        self.assertEqual(sum(len(v) for v in before["rs-plain"].values()), 3000)
        self.assertEqual(sum(len(v) for v in before["rs-rolled"].values()), 2000)
        cfg_before = {t: describe(n, t) for t in names}
        self.assertEqual(cfg_before["rs-configured"]["cleanup.policy"][0], "compact")
        segs = [f for f in __import__("os").listdir(n.partition_dir("rs-rolled", 0)) if f.endswith(".log")]
        self.assertGreater(len(segs), 1, "segment.bytes=65536 should roll the log (segments: %s)" % segs)

        rc = n.stop()
        self.assertEqual(rc, 0, "ferry should exit 0 on SIGTERM")
        n.start()

        md = ft.admin(n).list_topics(timeout=30)
        for t, (p, _) in topics.items():
            self.assertIn(t, md.topics)
            self.assertEqual(len(md.topics[t].partitions), p, t)
        after = snapshot(n, names)
        for t in names:
            self.assertEqual(after[t], before[t], "content of %s changed across a clean restart" % t)
        for t in names:
            self.assertEqual(describe(n, t), cfg_before[t], "configs of %s changed across a restart" % t)

        # New writes continue after the old log end.
        offs = produce_all(n, "rs-rolled", [(0, None, b"after-restart-%d" % i, None) for i in range(10)])
        self.assertEqual([o for _, o in offs], list(range(2000, 2010)))
        again = snapshot(n, ["rs-rolled"])["rs-rolled"][0]
        self.assertEqual(again[:2000], before["rs-rolled"][0])
        self.assertEqual([r[2] for r in again[2000:]], [b"after-restart-%d" % i for i in range(10)])

        # A second restart, without any traffic in between, changes nothing either.
        n.restart()
        self.assertEqual(snapshot(n, ["rs-rolled"])["rs-rolled"][0], again)


class CrashRestartTest(ft.FerryTestCase):
    def test_kill9_during_acks_all_stream(self):
        n = self.node(name="restart-kill9")
        n.start()
        topic = "crash-stream"
        parts = 3
        ft.create_topic(n, topic, partitions=parts)

        acked = {}         # value -> (partition, offset)
        failed = []
        lock = threading.Lock()
        stop = threading.Event()
        counter = [0]
        conf = {"bootstrap.servers": n.bootstrap, "acks": "all", "linger.ms": 5, "retries": 0,
                "enable.idempotence": False, "message.timeout.ms": 15000, "request.timeout.ms": 10000,
                "max.in.flight.requests.per.connection": 5, "reconnect.backoff.max.ms": 1000}
        p = Producer(conf)

        def on_delivery(err, m):
            with lock:
                if err is None:
                    acked[m.value()] = (m.partition(), m.offset())
                else:
                    failed.append(m.value())

        def run():
            i = 0
            while not stop.is_set():
                v = b"seq-%08d" % i
                try:
                    p.produce(topic, v, partition=i % parts, on_delivery=on_delivery)
                    i += 1
                    p.poll(0 if i % 100 else 0.01)
                except BufferError:
                    p.poll(0.1)
            counter[0] = i
            p.flush(90)

        th = threading.Thread(target=run, daemon=True)
        th.start()
        try:
            ft.wait_until(lambda: len(acked) >= 5000, 180, 0.1, "5000 acknowledged messages")
            n.kill9()
            time.sleep(0.5)
            stop.set()
            th.join(180)
            self.assertFalse(th.is_alive(), "producer thread did not finish")
        finally:
            stop.set()
        n.start()
        produced = counter[0]
        with lock:
            acked_now = dict(acked)
        self.assertGreaterEqual(len(acked_now), 5000)
        got = snapshot(n, [topic])[topic]

        by_value = {}
        for part, recs in got.items():
            self.assertEqual([r[0] for r in recs], list(range(len(recs))), "offsets of partition %d" % part)
            seqs = []
            for off, key, value, headers, ts in recs:
                self.assertNotIn(value, by_value, "%r stored twice: %s and %s" % (value, by_value.get(value), (part, off)))
                by_value[value] = (part, off)
                self.assertTrue(value.startswith(b"seq-"), value)
                seq = int(value[4:])
                self.assertLess(seq, produced)
                self.assertEqual(seq % parts, part, "%r in the wrong partition" % value)
                seqs.append(seq)
            self.assertEqual(seqs, sorted(seqs), "partition %d is out of produce order" % part)
        lost = [(v, po) for v, po in acked_now.items() if by_value.get(v) != po]
        self.assertEqual(lost[:20], [], "%d acknowledged messages lost or moved after kill -9 (of %d acked)" % (
            len(lost), len(acked_now)))

        # The log takes new writes after the recovered end.
        ends = {part: len(recs) for part, recs in got.items()}
        offs = produce_all(n, topic, [(part, None, b"post-crash-%d" % part, None) for part in range(parts)])
        self.assertEqual(sorted(offs), sorted((part, ends[part]) for part in range(parts)))


if __name__ == "__main__":
    ft.main()
