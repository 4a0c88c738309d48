"""Real clients against a quorum-mode Ferry cluster of 3 controller-only and 3 broker-only nodes (issue 5,
item 8), the quorum-mode counterpart of test_zk_clients: confluent-kafka produces without pause with
acks=all (BackgroundProducer) and kafka-python sends a few acks=all messages between the failovers to a
topic with replication factor 3 and min.insync.replicas=2, while

- the active controller is killed with -9 (a new one is elected and an admin write through a broker
  works again), then restarted; twice;
- the leader of a partition is killed with -9 (fenced after broker.session.timeout.ms, leadership moves
  within the ISR), then restarted until it is back in every ISR; twice, for two partitions;

then kcat produces and consumes a few messages, a confluent-kafka consumer group reads everything and
commits (a kafka-python member of that group finds nothing left), and a kafka-python group reads
everything too: nothing acknowledged is lost. Durations are logged, never asserted; every wait polls with a
generous deadline; every process is stopped by pid."""
import time

import ferrytest as ft
from ferrytest import log
from test_quorum import QuorumHarness
from test_quorum_brokers import broker_ids, partitions, start_cluster

BROKERS = (4, 5, 6)
SESSION_MS = 4000


class QuorumClientsTest(QuorumHarness):
    def isrs(self, brokers, topic):
        """The partitions of topic as a live broker's Metadata shows them."""
        live = next(b for b in brokers if b.alive())
        return partitions(live, topic)

    def wait_partitions(self, brokers, topic, pred, what):
        ft.wait_until(lambda: (lambda ps: ps is not None and all(pred(p) for p in ps))(self.isrs(brokers, topic)),
                      timeout=120, what=what)

    def test_clients_across_controller_and_broker_failovers(self):
        ctls, brokers = start_cluster(self, {
            "broker.session.timeout.ms": SESSION_MS, "broker.heartbeat.interval.ms": 500,
            "offsets.topic.replication.factor": 3, "offsets.topic.num.partitions": 6}, BROKERS)
        by_id = {n.node_id: n for n in brokers}
        boot = ",".join(n.bootstrap for n in brokers)
        ft.wait_until(lambda: all(broker_ids(b) == list(BROKERS) for b in brokers), timeout=60,
                      what="every broker unfenced")
        ft.create_topic(brokers[0], "flow", partitions=3, replication_factor=3, config={"min.insync.replicas": "2"},
                        timeout=120)
        for b in brokers:
            ft.wait_topic(b, "flow", 3, timeout=120)
        self.wait_partitions(brokers, "flow", lambda p: len(p["isr"]) == 3, "flow with full ISRs")

        kp = ft.KafkaPythonRounds(boot, "flow")
        bg = ft.BackgroundProducer(boot, "flow", partitions=(0, 1, 2), prefix=b"c-").start()
        kp_sent, kp_round = kp.sent, kp.round
        try:
            bg.wait_acked(300, timeout=120)
            kp_round(b"start")
            for rnd, target in enumerate(("controller", "leader of 0", "controller", "leader of 1")):
                t0 = time.monotonic()
                if target == "controller":
                    victim, epoch = self.wait_leader(ctls)
                    victim.kill9()
                    new, _ = self.wait_leader(ctls, exclude=(victim,), above=epoch)
                    log("round %d: controller %d killed; controller %d active after %.2f s"
                        % (rnd, victim.node_id, new.node_id, time.monotonic() - t0))
                    # admin writes work again (through any broker, forwarded to the new controller)
                    ft.create_topic(brokers[rnd % 3], "side-%d" % rnd, partitions=1, replication_factor=3,
                                    timeout=120)
                else:
                    vid = self.isrs(brokers, "flow")[int(target[-1])]["leader"]
                    victim = by_id[vid]
                    victim.kill9()
                    self.wait_partitions(brokers, "flow", lambda p: p["leader"] not in (vid, -1) and vid not in p["isr"],
                                         "round %d: leadership and ISRs off broker %d" % (rnd, vid))
                    log("round %d: broker %d (%s) killed; fenced, leadership moved after %.2f s"
                        % (rnd, vid, target, time.monotonic() - t0))
                bg.wait_acked(100, what="round %d: 100 more acknowledged messages without node %d"
                              % (rnd, victim.node_id))
                kp_round(b"r%d" % rnd)
                victim.spawn()
                if target == "controller":
                    victim.wait_ready(wait_metadata=False)
                else:
                    victim.wait_ready()
                    self.wait_partitions(brokers, "flow", lambda p: victim.node_id in p["isr"],
                                         "round %d: broker %d back in every ISR" % (rnd, victim.node_id))
            bg.wait_acked(100, what="100 acknowledged messages at the end")
        finally:
            ft.stop_producers(bg, kp)
        acked = bg.acked

        # kcat after the failovers: acks=all produce through one broker, consume through another
        lines = [b"kcat-%d" % i for i in range(20)]
        ft.kcat_produce(brokers[1], "flow", b"".join(v + b"\n" for v in lines), partition=2)
        got = ft.kcat_consume(brokers[2], "flow", partition=2).splitlines()
        self.assertEqual([v for v in got if v.startswith(b"kcat-")], lines)

        # everything acknowledged is there: a confluent-kafka consumer group reads and commits it all
        expected = acked | set(kp_sent) | set(lines)
        ft.assert_groups_read_everything(self, boot, "flow", expected)
        for n in ctls + brokers:
            self.assertAlive(n)


if __name__ == "__main__":
    ft.main()
