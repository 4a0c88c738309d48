"""Partition reassignment in quorum mode (kafka-reassign-partitions.sh's requests: AlterPartitionReassignments
and ListPartitionReassignments, sent raw: kafka-python 2.0.2 and confluent-kafka 1.7 have neither) on 3
combined broker,controller nodes and a broker-only node 4:

- a partition with data moves from brokers [1, 2] to [2, 3] while confluent-kafka produces to it without
  pause with acks=all; the request goes to a broker that forwards it to the active controller in an
  Envelope; the listing shows it in progress (replicas [2, 3, 1], adding [3], removing [1]) unless it has
  already completed; it completes once broker 3 has caught up and joined the ISR (the leader's
  AlterPartition), leadership leaves broker 1, broker 1 deletes its copy and broker 3 holds one; every
  acknowledged message is read back by consumer groups;
- a second reassignment, to broker 4 while it is stopped (SIGSTOP: it cannot catch up), stays in progress,
  is listed, then cancelled: the partition is back on its original replicas; Kafka's errors for an unknown
  topic, an unknown broker and a cancellation with nothing in progress;
- on the controller listener, the controllers that are not active answer NOT_CONTROLLER.
Durations are logged, never asserted; every wait polls with a generous deadline; every process is stopped by
pid."""
import os
import signal

import ferrytest as ft
from ferrytest import log
from test_quorum import QuorumHarness
from test_quorum_brokers import broker_ids, partitions


def reassign(node, targets, port=None):
    with ft.KafkaConn("127.0.0.1", port or node.port, timeout=60) as c:
        return c.alter_partition_reassignments(targets)


def listing(node, topic_parts=None, port=None):
    with ft.KafkaConn("127.0.0.1", port or node.port, timeout=60) as c:
        return c.list_partition_reassignments(topic_parts)


class QuorumReassignTest(QuorumHarness):
    def part(self, node, topic, pid):
        ps = partitions(node, topic)
        return ps[pid] if ps and len(ps) > pid else None

    def has_log(self, node, topic, pid):
        return os.path.isdir(os.path.join(node.data_dir, "%s-%d" % (topic, pid)))

    def test_move_list_cancel(self):
        everyone = self.make_cluster(overrides={"broker.session.timeout.ms": "6000",
                                                "broker.heartbeat.interval.ms": "500"}, observers=1)
        for n in everyone:
            n.spawn()
        for n in everyone:
            n.wait_ready(wait_metadata=False)
        nodes = everyone[:3]
        n1, n2, n3, b4 = everyone
        ft.wait_until(lambda: all(broker_ids(n) == [1, 2, 3, 4] for n in everyone), timeout=120,
                      what="every broker unfenced")
        topic = ft.unique("moving")
        from confluent_kafka.admin import NewTopic
        admin = ft.admin(n1)
        fs = admin.create_topics([NewTopic(topic, 2, replica_assignment=[[1, 2], [1, 2]])], operation_timeout=30,
                                 request_timeout=60)
        fs[topic].result(timeout=120)
        for n in nodes:
            ft.wait_topic(n, topic, 2, timeout=120)
        ft.wait_until(lambda: all(self.part(n1, topic, p)["isr"] == [1, 2] for p in (0, 1)), timeout=120,
                      what="both partitions on [1, 2] with full ISRs")
        self.assertEqual(self.part(n1, topic, 0)["leader"], 1)

        # errors first (nothing written): unknown topic, unknown broker, a cancellation with nothing to cancel
        top, msg, res = reassign(n2, {topic: {0: [1, 9], 1: None}, "nosuch": {0: [1]}})
        self.assertEqual((top, msg), (ft.E_NONE, None))
        self.assertEqual(res[(topic, 0)][0], ft.E_INVALID_REPLICA_ASSIGNMENT, res)
        self.assertIn("broker 9", res[(topic, 0)][1])
        self.assertEqual(res[(topic, 1)], (ft.E_NO_REASSIGNMENT_IN_PROGRESS, "No partition reassignment is in progress."))
        self.assertEqual(res[("nosuch", 0)][0], ft.E_UNKNOWN_TOPIC_OR_PARTITION, res)
        self.assertEqual(listing(n2), (ft.E_NONE, {}))

        # the move under an acks=all producer
        boot = ",".join(n.bootstrap for n in nodes)
        bg = ft.BackgroundProducer(boot, topic, partitions=(0,), prefix=b"m-").start()
        try:
            bg.wait_acked(500, timeout=120)
            top, _, res = reassign(n3, {topic: {0: [2, 3]}})
            self.assertEqual((top, res), (ft.E_NONE, {(topic, 0): (ft.E_NONE, None)}))
            top, ongoing = listing(n1, {topic: [0, 1]})
            self.assertEqual(top, ft.E_NONE)
            if ongoing:
                self.assertEqual(ongoing, {(topic, 0): ([2, 3, 1], [3], [1])})
                log("listed in progress: %s" % ongoing)
            else:
                log("the reassignment completed before it could be listed")
            ft.wait_until(lambda: (lambda p: p["replicas"] == [2, 3] and sorted(p["isr"]) == [2, 3]
                                   and p["leader"] in (2, 3))(self.part(n1, topic, 0)),
                          timeout=180, what="partition 0 on [2, 3] with both in the ISR")
            self.assertEqual(listing(n2), (ft.E_NONE, {}))
            bg.wait_acked(300, what="300 more acknowledged messages after the move")
        finally:
            bg.stop()
        log("%d messages acknowledged, %d deliveries failed" % (len(bg.acked), len(bg.failed)))
        ft.wait_until(lambda: not self.has_log(n1, topic, 0), timeout=120, what="broker 1 deleted its copy of 0")
        self.assertTrue(self.has_log(n3, topic, 0))
        self.assertTrue(self.has_log(n1, topic, 1))
        ft.assert_groups_read_everything(self, boot, topic, set(bg.acked))

        # a reassignment that cannot complete (its new replica is stopped), listed, then cancelled
        os.kill(b4.pid, signal.SIGSTOP)
        try:
            top, _, res = reassign(n1, {topic: {1: [1, 4]}})
            self.assertEqual((top, res), (ft.E_NONE, {(topic, 1): (ft.E_NONE, None)}))
            self.assertEqual(listing(n2, {topic: [1]}), (ft.E_NONE, {(topic, 1): ([1, 4, 2], [4], [2])}))
            self.assertEqual(listing(n1)[1], {(topic, 1): ([1, 4, 2], [4], [2])})
            top, _, res = reassign(n2, {topic: {1: None}})
            self.assertEqual((top, res), (ft.E_NONE, {(topic, 1): (ft.E_NONE, None)}))
            ft.wait_until(lambda: self.part(n1, topic, 1)["replicas"] == [1, 2], timeout=120,
                          what="partition 1 back on [1, 2]")
            self.assertEqual(listing(n1), (ft.E_NONE, {}))
        finally:
            os.kill(b4.pid, signal.SIGCONT)
        self.assertEqual(self.part(n2, topic, 1)["leader"], 1)

        # the controller listener: only the active controller decides, the others answer NOT_CONTROLLER
        one_active = sorted([ft.E_NONE, ft.E_NOT_CONTROLLER, ft.E_NOT_CONTROLLER])
        ft.wait_until(lambda: sorted(reassign(n, {topic: {1: None}}, port=n.controller_port)[0]
                                     for n in nodes) == one_active,
                      timeout=60, what="one active controller answering AlterPartitionReassignments")
        ft.wait_until(lambda: sorted(listing(n, port=n.controller_port)[0] for n in nodes) == one_active,
                      timeout=60, what="one active controller answering ListPartitionReassignments")
        for n in everyone:
            self.assertAlive(n)


if __name__ == "__main__":
    ft.main()
