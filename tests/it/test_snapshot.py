"""Metadata snapshots (KIP-630) of the quorum-mode metadata log: with a small
metadata.log.max.record.bytes.between.snapshots, many topic and config changes produce
`<offset>-<epoch>.checkpoint` files in __cluster_metadata-0 and the log is cleaned behind them; a clean
restart, a kill -9 in the middle of a stream of changes (snapshots being written) and a kill -9 right
after a snapshot all come back with the same topics and configs (seen through the client APIs); a
corrupted newest snapshot is reported with its path, set aside as .checkpoint.corrupt and the node starts
from the older one with the right state; an interrupted .checkpoint.part is removed."""
import os
import re
import threading
import time
import unittest

import ferrytest as ft

from confluent_kafka import Producer
from confluent_kafka.admin import ConfigResource, ConfigSource, NewTopic

SNAP_RE = re.compile(r"^(\d{20})-(\d{10})\.checkpoint$")


def meta_dir(n):
    return os.path.join(n.data_dir, "__cluster_metadata-0")


def snapshots(n):
    """[(end offset, epoch, name)] newest first."""
    out = []
    for f in os.listdir(meta_dir(n)):
        m = SNAP_RE.match(f)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), f))
    return sorted(out, reverse=True)


def segments(n):
    return sorted(int(f[:20]) for f in os.listdir(meta_dir(n)) if re.match(r"^\d{20}\.log$", f))


def state(n, prefix="snap-"):
    """{topic: (partitions, {dynamic config: value})} for the topics named prefix*, through the client APIs."""
    a = ft.admin(n)
    md = a.list_topics(timeout=30)
    names = sorted(t for t in md.topics if t.startswith(prefix))
    out = {}
    res = [ConfigResource("topic", t) for t in names]
    described = a.describe_configs(res) if res else {}
    for r in res:
        cfg = described[r].result(60)
        dyn = {k: v.value for k, v in cfg.items() if v.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}
        out[r.name] = (len(md.topics[r.name].partitions), dyn)
    return out


def create(a, names, partitions=2, config=None):
    futs = a.create_topics([NewTopic(t, partitions, 1, config=config or {}) for t in names], operation_timeout=30)
    for t in names:
        futs[t].result(60)


def alter(a, topic, config):
    r = ConfigResource("topic", topic, set_config=config)
    a.alter_configs([r])[r].result(60)


def delete(a, names):
    futs = a.delete_topics(names, operation_timeout=30)
    for t in names:
        futs[t].result(60)


class SnapshotTest(ft.FerryTestCase):
    def make(self, name):
        # Small: every few writes take a snapshot (Kafka's default is 20 MiB).
        return self.node(name=name, overrides={"metadata.log.max.record.bytes.between.snapshots": "4096"})

    def changes(self, n, rounds):
        a = ft.admin(n)
        for r in range(rounds):
            names = ["snap-%d-%d" % (r, i) for i in range(5)]
            create(a, names, partitions=1 + r % 3, config={"retention.ms": str(60000 + r)})
            alter(a, names[0], {"cleanup.policy": "compact", "segment.bytes": str(1048576 + r)})
            if r % 3 == 2:
                delete(a, [names[4]])

    def test_snapshots_restart_and_corruption(self):
        n = self.make("snapshot")
        n.start()
        self.changes(n, 12)
        ft.wait_until(lambda: len(snapshots(n)) >= 2, 60, what="two snapshots")
        before = state(n)
        self.assertEqual(len(before), 12 * 5 - 4)
        # AlterConfigs replaces the whole set of overrides.
        self.assertEqual(before["snap-3-0"], (1, {"cleanup.policy": "compact", "segment.bytes": "1048579"}))
        self.assertEqual(before["snap-3-1"], (1, {"retention.ms": "60003"}))
        self.assertNotIn("snap-2-4", before)
        self.assertEqual(n.stop(), 0)
        snaps = snapshots(n)
        self.assertLessEqual(len(snaps), 2, snaps)
        # The log was cleaned: it starts at the older kept snapshot, the first segments are gone.
        self.assertGreater(segments(n)[0], 0, "segments: %s" % segments(n))
        self.assertEqual(segments(n)[0], snaps[-1][0])
        self.assertFalse([f for f in os.listdir(meta_dir(n)) if f.endswith(".part")])

        # Clean restart from the snapshot.
        n.start()
        self.assertIn("loaded snapshot", n.log_text())
        self.assertEqual(state(n), before)
        ft.create_topic(n, "snap-after-restart", partitions=2)
        p = Producer({"bootstrap.servers": n.bootstrap, "acks": "all"})
        p.produce("snap-3-1", b"still-works")
        self.assertEqual(p.flush(60), 0)
        before = state(n)
        self.assertEqual(n.stop(), 0)

        # A corrupted newest snapshot: reported with its path, set aside, the older one and the log used.
        newest = snapshots(n)[0]
        path = os.path.join(meta_dir(n), newest[2])
        with open(path, "r+b") as f:
            f.seek(120)
            b = f.read(1)
            f.seek(120)
            f.write(bytes([b[0] ^ 0xFF]))
        part = os.path.join(meta_dir(n), "%020d-%010d.checkpoint.part" % (newest[0] + 5, newest[1]))
        with open(part, "wb") as f:
            f.write(b"interrupted")
        n.start()
        text = n.log_text()
        self.assertIn("%s is not a valid snapshot" % path, text)
        self.assertIn("CRC mismatch", text)
        self.assertTrue(os.path.exists(path + ".corrupt"), os.listdir(meta_dir(n)))
        self.assertFalse(os.path.exists(part))
        self.assertEqual(state(n), before)
        n.stop()

    def test_kill9_during_and_after_snapshots(self):
        n = self.make("snapshot-kill9")
        n.start()
        acked = []
        stop = threading.Event()
        errors = []

        def writer():
            a = ft.admin(n, **{"socket.timeout.ms": 10000})
            i = 0
            while not stop.is_set():
                name = "snap-k-%d" % i
                try:
                    create(a, [name], partitions=1, config={"retention.ms": str(70000 + i)})
                    acked.append(name)
                except Exception as e:  # the kill: the last creation may fail
                    errors.append(e)
                    return
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        ft.wait_until(lambda: len(snapshots(n)) >= 2 and len(acked) >= 30, 120, what="snapshots while writing")
        n.kill9()  # snapshots are being taken every few writes: this lands during or between them
        stop.set()
        t.join(120)
        self.assertFalse(t.is_alive())
        n.start()
        after = state(n)
        for name in acked:
            self.assertIn(name, after, "acknowledged topic %s lost across kill -9" % name)
            self.assertEqual(after[name][1], {"retention.ms": str(70000 + int(name.rsplit("-", 1)[1]))})
        # Right after a snapshot: wait for a new one, then kill -9.
        count = len(snapshots(n))
        newest = snapshots(n)[0][0]
        self.changes(n, 4)
        ft.wait_until(lambda: snapshots(n)[0][0] > newest, 60, what="a new snapshot")
        before = state(n)
        n.kill9()
        n.start()
        self.assertEqual(state(n), before)
        self.assertGreaterEqual(count, 1)
        # A clean restart of that state changes nothing (snapshot + log replay agree).
        n.restart()
        self.assertEqual(state(n), before)


if __name__ == "__main__":
    unittest.main()
