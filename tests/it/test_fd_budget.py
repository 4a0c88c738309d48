"""A node whose partitions have far more segment files than its descriptor limit allows keeps working.

`ferry server` runs under `prlimit --nofile=256` (so its open segment file budget is 192, see
docs/architecture.md "Open segment files") with 500 partitions of several segments each (about 4,500
segment files): every partition is produced to and read back whole, the node is stopped and started
again, then killed (-9) and started again (crash recovery re-reads every segment), and all partitions are
read again each time. Without the budget the node runs out of descriptors ("Too many open files") while
creating the partitions.
"""
import os
import unittest

import ferrytest

NOFILE = 256
PARTITIONS = 500
ROUNDS = 3          # messages per partition
VALUE_BYTES = 1500  # with segment.bytes 2048: one segment per message


class LimitedNode(ferrytest.FerryNode):
    def command(self):
        return ["prlimit", "--nofile=%d" % NOFILE, "--"] + super().command()


def value_of(p, i):
    head = ("p%d-m%d-" % (p, i)).encode()
    return head + b"x" * (VALUE_BYTES - len(head))


class FdBudgetTest(ferrytest.FerryTestCase):
    def node_fds(self, node):
        return len(os.listdir("/proc/%d/fd" % node.pid))

    def read_all(self, node, topic):
        got = ferrytest.consume_confluent(node, topic, range(PARTITIONS), timeout=300)
        for p in range(PARTITIONS):
            values = [m.value() for m in got[p]]
            self.assertEqual(values, [value_of(p, i) for i in range(ROUNDS)], "partition %d" % p)
            self.assertEqual([m.offset() for m in got[p]], list(range(ROUNDS)), "partition %d" % p)

    def test_many_partitions_under_a_low_nofile(self):
        from confluent_kafka import Producer
        node = LimitedNode(name="fdbudget", overrides={"log.segment.bytes": 2048})
        self.test_nodes.append(node)
        self.addCleanup(self._cleanup_node, node)
        node.start()
        self.assertIn("open segment file budget: 192 descriptors (RLIMIT_NOFILE %d" % NOFILE, node.log_text())
        topic = ferrytest.unique("many")
        ferrytest.create_topic(node, topic, partitions=PARTITIONS, timeout=300)

        prod = Producer({"bootstrap.servers": node.bootstrap, "acks": "all", "linger.ms": 5,
                         "message.timeout.ms": 240000})
        failed = []

        def delivered(err, msg):
            if err is not None:
                failed.append((msg.partition(), str(err)))
        for i in range(ROUNDS):
            for p in range(PARTITIONS):
                prod.produce(topic, value=value_of(p, i), partition=p, on_delivery=delivered)
                prod.poll(0)
            self.assertEqual(prod.flush(240), 0, "messages left undelivered")
        self.assertEqual(failed, [])
        del prod  # no client reconnecting across the restarts below

        self.read_all(node, topic)
        self.assertLessEqual(self.node_fds(node), NOFILE)
        segs = sum(1 for p in range(PARTITIONS)
                   for f in os.listdir(node.partition_dir(topic, p)) if f.endswith(".log"))
        self.assertGreaterEqual(segs, PARTITIONS * ROUNDS)  # far more files than descriptors

        node.restart()
        self.read_all(node, topic)
        node.restart(clean=False)  # kill -9: recovery re-reads the segments under the same limit
        self.read_all(node, topic)
        text = node.log_text()
        self.assertNotIn("Too many open files", text)
        self.assertNotIn("cannot reopen", text)


if __name__ == "__main__":
    ferrytest.main()
