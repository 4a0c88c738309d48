"""Retention: time-based (retention.ms) and size-based (retention.bytes) deletion of whole segments, the
log start offset it leaves (ListOffsets earliest, OFFSET_OUT_OF_RANGE below it, byte-exact data above),
nothing deleted where retention is not breached, and the log start offset kept across a restart."""
import time
import unittest

import ferrytest as ft

HOUR = 3600 * 1000
RECORD = 2000  # value bytes per record, one record per batch


class RetentionTest(ft.FerryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.start_node(name="retention", overrides={"log.retention.check.interval.ms": "500"})

    def value(self, topic, i):
        return (b"%s-%05d-" % (topic.encode(), i)) + bytes((i + j) % 256 for j in range(RECORD))

    def fill(self, topic, count, ts):
        with self.n.conn() as c:
            for i in range(count):
                r = c.produce(topic, 0, ft.build_batch([(b"k%d" % i, self.value(topic, i), [])], base_ts=ts))
                self.assertEqual((r["error"], r["base_offset"]), (0, i))

    def earliest(self, topic):
        with self.n.conn() as c:
            r = c.list_offset(topic, 0, -2)
        self.assertEqual(r["error"], 0)
        return r["offset"]

    def check_tail(self, topic, start, end):
        with self.n.conn() as c:
            self.assertEqual(c.list_offset(topic, 0, -1)["offset"], end)
            if start > 0:
                d = c.fetch(topic, 0, 0, version=11)
                self.assertEqual(d["error"], ft.E_OFFSET_OUT_OF_RANGE, "fetch below the log start offset: %r" % d)
                self.assertEqual(d["log_start"], start)
            recs, batches = ft.read_partition_raw(c, topic, 0, start=start, end=end)
        self.assertEqual([(r[0], r[3]) for r in recs], [(i, self.value(topic, i)) for i in range(start, end)])
        return sum(len(b.raw) for b in batches if b.base_offset >= start)

    def test_time_bytes_and_none(self):
        cfg = {"segment.bytes": "16384"}
        ft.create_topic(self.n, "ret-time", config=dict(cfg, **{"retention.ms": "60000"}))
        ft.create_topic(self.n, "ret-bytes", config=dict(cfg, **{"retention.bytes": "50000"}))
        ft.create_topic(self.n, "ret-keep", config=cfg)
        now = int(time.time() * 1000)
        self.fill("ret-time", 100, now - 2 * HOUR)   # all older than retention.ms
        self.fill("ret-bytes", 100, now)
        self.fill("ret-keep", 100, now - 2 * HOUR)   # old, but the default retention is 7 days

        start = ft.wait_until(lambda: self.earliest("ret-time") or None, 90, 0.5,
                              "time retention to delete ret-time segments")
        self.assertLessEqual(start, 100)
        self.check_tail("ret-time", start, 100)

        # A retention pass may run while fill() is still writing (more so on a loaded machine): the log is then
        # over retention.bytes again until the next pass, so wait for the pass that brings it under the limit.
        limit = 50000 + 16384 + 2 * (RECORD + 100)

        def under_limit():
            start = self.earliest("ret-bytes")
            try:
                return start if start and self.check_tail("ret-bytes", start, 100) < limit else None
            except AssertionError:  # a pass moved the log start between the two reads
                return None
        start_b = ft.wait_until(under_limit, 90, 0.5, "size retention to bring ret-bytes under its limit")
        kept = self.check_tail("ret-bytes", start_b, 100)
        self.assertGreaterEqual(kept, 50000, "size retention kept %d bytes < retention.bytes" % kept)
        self.assertLess(kept, limit, "size retention kept too much: %d bytes" % kept)

        time.sleep(2)  # several more retention passes
        self.assertEqual(self.earliest("ret-keep"), 0, "ret-keep lost data without breaching retention")
        self.check_tail("ret-keep", 0, 100)

        # The log start offsets survive a restart; new writes continue at the end.
        self.n.restart()
        self.assertGreaterEqual(self.earliest("ret-time"), start)
        self.assertEqual(self.earliest("ret-bytes"), start_b)
        self.assertEqual(self.earliest("ret-keep"), 0)
        with self.n.conn() as c:
            r = c.produce("ret-bytes", 0, ft.build_batch([(b"k", self.value("ret-bytes", 100), [])]))
            self.assertEqual((r["error"], r["base_offset"]), (0, 100))


if __name__ == "__main__":
    ft.main()
