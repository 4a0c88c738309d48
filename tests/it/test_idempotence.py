"""Idempotent producer: InitProducerId hands out producer ids (blocks from the quorum controller), and a
partition's producer state answers a retried batch with its original offsets instead of writing it twice,
refuses sequence gaps (OUT_OF_ORDER_SEQUENCE_NUMBER 45) and fenced epochs (INVALID_PRODUCER_EPOCH 47),
and survives a clean restart (snapshot) and a kill -9 (rebuilt from the log). confluent-kafka with
enable.idempotence=true keeps every acknowledged message exactly once and in order across both restarts."""
import threading
import time

import ferrytest as ft

from confluent_kafka import Producer

API_INIT_PRODUCER_ID = 22
E_OUT_OF_ORDER_SEQUENCE_NUMBER = 45
E_INVALID_PRODUCER_EPOCH = 47
E_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53


def init_producer_id(conn, version=0, transactional_id=None):
    """Returns (error, producer id, epoch)."""
    w = ft.W()
    flex = version >= 2
    if flex:
        w.compact_string(transactional_id)
    else:
        w.string(transactional_id)
    w.i32(60000)
    if version >= 3:
        w.i64(-1).i16(-1)
    if flex:
        w.tags()
    r = ft.R(conn.request(API_INIT_PRODUCER_ID, version, w.getvalue()))
    r.i32()  # throttle
    out = (r.i16(), r.i64(), r.i16())
    if flex:
        r.tags()
    r.end()
    return out


def pbatch(pid, epoch, seq, values):
    """A batch of the given values from producer (pid, epoch) starting at sequence seq (the harness's
    batch builder with the producer fields; CRC-32C computed by the harness)."""
    return ft.build_batch([(None, v, []) for v in values], producer_id=pid, producer_epoch=epoch,
                          base_sequence=seq)


class RawIdempotenceTest(ft.FerryTestCase):
    def test_rules_and_restarts(self):
        n = self.node(name="idem-raw")
        n.start()
        topic = "idem-raw"
        ft.create_topic(n, topic)
        with n.conn() as c:
            err, pid, epoch = init_producer_id(c, 0)
            self.assertEqual((err, epoch), (0, 0))
            self.assertGreaterEqual(pid, 0)
            err, pid2, _ = init_producer_id(c, 4)
            self.assertEqual(err, 0)
            self.assertGreater(pid2, pid)
            err, bad, _ = init_producer_id(c, 4, "txn-app")
            self.assertEqual((err, bad), (E_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1))

            b0 = pbatch(pid, 0, 0, [b"a0", b"a1", b"a2"])
            r = c.produce(topic, 0, b0)
            self.assertEqual((r["error"], r["base_offset"]), (0, 0))
            # a retry of the same batch: the original offset, nothing written
            r = c.produce(topic, 0, b0)
            self.assertEqual((r["error"], r["base_offset"]), (0, 0))
            b1 = pbatch(pid, 0, 3, [b"a3", b"a4"])
            self.assertEqual(c.produce(topic, 0, b1)["base_offset"], 3)
            r = c.produce(topic, 0, b0)  # still among the last 5 batches
            self.assertEqual((r["error"], r["base_offset"]), (0, 0))
            # a gap
            r = c.produce(topic, 0, pbatch(pid, 0, 10, [b"gap"]))
            self.assertEqual(r["error"], E_OUT_OF_ORDER_SEQUENCE_NUMBER)
            # a new epoch must start at 0; then the old epoch is fenced
            r = c.produce(topic, 0, pbatch(pid, 1, 5, [b"e1"]))
            self.assertEqual(r["error"], E_OUT_OF_ORDER_SEQUENCE_NUMBER)
            r = c.produce(topic, 0, pbatch(pid, 1, 0, [b"e1-0"]))
            self.assertEqual((r["error"], r["base_offset"]), (0, 5))
            r = c.produce(topic, 0, pbatch(pid, 0, 5, [b"old"]))
            self.assertEqual(r["error"], E_INVALID_PRODUCER_EPOCH)
            # an unknown producer id is accepted at any sequence (Kafka 3.7: no UNKNOWN_PRODUCER_ID on
            # produce; the producer's history may have been removed by retention)
            r = c.produce(topic, 0, pbatch(987654, 0, 17, [b"u17"]))
            self.assertEqual((r["error"], r["base_offset"]), (0, 6))
            r = c.produce(topic, 0, pbatch(987654, 0, 19, [b"u19"]))
            self.assertEqual(r["error"], E_OUT_OF_ORDER_SEQUENCE_NUMBER)
        last = pbatch(pid, 1, 1, [b"e1-1", b"e1-2"])
        with n.conn() as c:
            self.assertEqual(c.produce(topic, 0, last)["base_offset"], 7)

        # clean restart: the state comes back from the snapshot written at shutdown
        n.restart()
        with n.conn() as c:
            r = c.produce(topic, 0, last)
            self.assertEqual((r["error"], r["base_offset"]), (0, 7))
            r = c.produce(topic, 0, pbatch(pid, 1, 10, [b"gap"]))
            self.assertEqual(r["error"], E_OUT_OF_ORDER_SEQUENCE_NUMBER)
            nxt = pbatch(pid, 1, 3, [b"e1-3"])
            self.assertEqual(c.produce(topic, 0, nxt)["base_offset"], 9)
            err, pid3, _ = init_producer_id(c, 2)
            self.assertEqual(err, 0)
            self.assertGreater(pid3, pid2)  # ids are never handed out twice

        # kill -9: rebuilt from the last snapshot plus the log after it
        n.kill9()
        n.start()
        with n.conn() as c:
            r = c.produce(topic, 0, nxt)
            self.assertEqual((r["error"], r["base_offset"]), (0, 9))
            r = c.produce(topic, 0, pbatch(pid, 0, 0, [b"old"]))
            self.assertEqual(r["error"], E_INVALID_PRODUCER_EPOCH)
            self.assertEqual(c.produce(topic, 0, pbatch(pid, 1, 4, [b"e1-4"]))["base_offset"], 10)
            recs, _ = ft.read_partition_raw(c, topic, 0)
        # every batch exactly once, whatever was retried
        self.assertEqual([r[0] for r in recs], list(range(11)))
        self.assertEqual([r[3] for r in recs], [b"a0", b"a1", b"a2", b"a3", b"a4", b"e1-0", b"u17", b"e1-1",
                                                b"e1-2", b"e1-3", b"e1-4"])


class ConfluentIdempotenceTest(ft.FerryTestCase):
    def run_stream(self, n, topic, parts, total, disrupt):
        acked = {}
        failed = []
        lock = threading.Lock()
        conf = {"bootstrap.servers": n.bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5,
                "message.timeout.ms": 300000, "request.timeout.ms": 10000, "reconnect.backoff.max.ms": 500,
                "max.in.flight.requests.per.connection": 5}
        p = Producer(conf)

        def on_delivery(err, m):
            with lock:
                if err is None:
                    acked[m.value()] = (m.partition(), m.offset())
                else:
                    failed.append((m.value(), str(err)))

        done = threading.Event()

        def run():
            for i in range(total):
                v = b"seq-%08d" % i
                while True:
                    try:
                        p.produce(topic, v, partition=i % parts, on_delivery=on_delivery)
                        break
                    except BufferError:
                        p.poll(0.1)
                p.poll(0 if i % 100 else 0.005)
            p.flush(300)
            done.set()

        th = threading.Thread(target=run, daemon=True)
        th.start()
        ft.wait_until(lambda: len(acked) >= total // 3, 180, 0.05, "a third of the messages acknowledged")
        disrupt()
        th.join(360)
        self.assertTrue(done.is_set(), "producer did not finish")
        self.assertEqual(failed[:5], [], "%d delivery failures" % len(failed))
        self.assertEqual(len(acked), total)
        got = ft.consume_confluent(n, topic, list(range(parts)))
        for part in range(parts):
            recs = got.get(part, [])
            self.assertEqual([m.offset() for m in recs], list(range(len(recs))))
            values = [m.value() for m in recs]
            want = [b"seq-%08d" % i for i in range(part, total, parts)]
            self.assertEqual(len(values), len(want), "partition %d: %d stored, %d produced" % (
                part, len(values), len(want)))
            self.assertEqual(values, want, "partition %d: duplicates, gaps or reordering" % part)
            for m in recs:
                self.assertEqual(acked[m.value()], (part, m.offset()))

    def test_sigterm_restart_mid_stream(self):
        n = self.node(name="idem-sigterm")
        n.start()
        ft.create_topic(n, "idem-term", partitions=3)
        self.run_stream(n, "idem-term", 3, 30000, lambda: n.restart())

    def test_kill9_mid_stream(self):
        n = self.node(name="idem-kill9")
        n.start()
        ft.create_topic(n, "idem-kill", partitions=3)

        def crash():
            n.kill9()
            time.sleep(0.5)
            n.start()
        self.run_stream(n, "idem-kill", 3, 30000, crash)


if __name__ == "__main__":
    ft.main()
