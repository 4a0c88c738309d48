"""Log compaction (cleanup.policy=compact): keys overwritten many times in small segments (some rounds in
gzip batches); the cleaner (min.cleanable.dirty.ratio 0.01, segment.ms 1 s so that the active segment
rolls) rewrites the log so that reading it from the beginning yields exactly the latest value of each key
at its original offset, tombstoned keys disappear after delete.retention.ms, and the compacted log reads
the same after a restart.
Polls with generous deadlines; no timing assertions."""
import time
import unittest

import ferrytest as ft

KEYS = 20
ROUNDS = 15


class CompactionTest(ft.FerryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.start_node(name="compaction")

    def produce(self, c, topic, key, value):
        r = c.produce(topic, 0, ft.build_batch([(key, value, [])]))
        self.assertEqual(r["error"], 0, "produce: %r" % r)
        return r["base_offset"]

    def read_all(self, topic):
        with self.n.conn() as c:
            recs, _ = ft.read_partition_raw(c, topic, 0, start=0)
        return recs

    def test_keyless_records_refused(self):
        """A compacted topic refuses a batch holding a record without a key (INVALID_RECORD, 87), as Kafka
        does; keyed records and tombstones are accepted, and a delete-policy topic takes keyless ones."""
        ft.create_topic(self.n, "compacted-keys", config={"cleanup.policy": "compact"})
        ft.create_topic(self.n, "plain-keys")
        with self.n.conn() as c:
            r = c.produce("compacted-keys", 0, ft.build_batch([(b"k", b"v", []), (None, b"no key", [])]))
            self.assertEqual(r["error"], 87, r)
            self.produce(c, "compacted-keys", b"k", b"v")
            self.produce(c, "compacted-keys", b"k", None)
            self.produce(c, "plain-keys", None, b"no key")
        self.assertEqual([(x[2], x[3]) for x in self.read_all("compacted-keys")], [(b"k", b"v"), (b"k", None)])

    def test_latest_value_per_key(self):
        topic = "compacted"
        ft.create_topic(self.n, topic, config={
            "cleanup.policy": "compact",
            "segment.bytes": "2048",
            "segment.ms": "1000",
            "min.cleanable.dirty.ratio": "0.01",
            "delete.retention.ms": "2000",
        })
        latest = {}
        with self.n.conn() as c:
            for r in range(ROUNDS):
                if r % 3 == 1:  # every key in one gzip batch (the cleaner decompresses it)
                    recs = [(b"key-%02d" % k, b"gz-%02d-%03d" % (k, r), []) for k in range(KEYS)]
                    res = c.produce(topic, 0, ft.build_batch(recs, codec=ft.CODEC_GZIP))
                    self.assertEqual(res["error"], 0, "produce: %r" % res)
                    for k, rec in enumerate(recs):
                        latest[rec[0]] = (res["base_offset"] + k, rec[1])
                    continue
                for k in range(KEYS):
                    key = b"key-%02d" % k
                    value = b"value-%02d-%03d" % (k, r)
                    latest[key] = (self.produce(c, topic, key, value), value)
            # key-00 gets a tombstone
            latest[b"key-00"] = (self.produce(c, topic, b"key-00", None), None)
        total = ROUNDS * KEYS + 1  # gzip rounds hold KEYS records too
        time.sleep(1.5)  # segment.ms passes: the next append rolls, so everything above is cleanable
        with self.n.conn() as c:
            sentinel = self.produce(c, topic, b"sentinel", b"s")
        self.assertEqual(sentinel, total)

        def compacted(expect_tombstone):
            recs = self.read_all(topic)
            keys = [r[2] for r in recs]
            if len(keys) != len(set(keys)):
                return None
            got = {r[2]: (r[0], r[3]) for r in recs}
            want = dict(latest)
            want[b"sentinel"] = (sentinel, b"s")
            if not expect_tombstone:
                del want[b"key-00"]
            return got if got == want else None

        # first the tombstone stays (it is the latest record of key-00) ...
        ft.wait_until(lambda: compacted(True) or compacted(False), 90, 0.5,
                      "the cleaner to leave one record per key")
        # ... and after delete.retention.ms (and a later clean) it goes
        with self.n.conn() as c:
            time.sleep(1.5)
            self.produce(c, topic, b"sentinel2", b"s2")  # rolls again: the log is dirty once more
            time.sleep(1.5)
            self.produce(c, topic, b"sentinel3", b"s3")
        latest[b"sentinel2"] = (sentinel + 1, b"s2")
        latest[b"sentinel3"] = (sentinel + 2, b"s3")
        ft.wait_until(lambda: compacted(False), 90, 0.5, "the tombstone of key-00 to be removed")
        before = self.read_all(topic)

        self.n.restart()
        self.assertEqual(self.read_all(topic), before)
        with self.n.conn() as c:
            end = c.list_offset(topic, 0, -1)["offset"]
            self.assertEqual(end, sentinel + 3)
            self.assertEqual(self.produce(c, topic, b"key-01", b"after-restart"), end)


if __name__ == "__main__":
    unittest.main()
