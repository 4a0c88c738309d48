"""Controller failover at Kafka's default timeouts: 3 controller-only voters and 2 broker-only nodes; kill -9
of the active controller, then of the next one (the first restarted and caught up in between). Each time a
surviving controller reports a new leader of a newer epoch through DescribeQuorum, and a CreateTopics sent
to a broker (forwarded in an Envelope to the active controller) succeeds. The times from the kill are
logged, never asserted (the machine may be loaded); how Ferry shortens them (a follower whose connection to
the leader closes stands for election at once, with a pre-vote) is in docs/architecture.md. A graceful
stop (SIGTERM) of the active controller resigns with EndQuorumEpoch: its log says so, and a new leader
follows. Every process is stopped by pid (FerryNode)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ferrytest as ft  # noqa: E402
from test_quorum import dec_describe_quorum_v0, enc_describe_quorum_v0  # noqa: E402
from test_quorum_brokers import start_cluster  # noqa: E402

ft.FLEXIBLE_FROM.setdefault(55, 0)  # DescribeQuorum: flexible from v0 (request header v2)
API_DESCRIBE_QUORUM = 55


def describe(node):
    """(leader id, epoch) as the controller `node` sees them, or None."""
    with ft.KafkaConn("127.0.0.1", node.controller_port, timeout=5) as c:
        d = dec_describe_quorum_v0(c.request(API_DESCRIBE_QUORUM, 0, enc_describe_quorum_v0()))
    part = d["topics"][0][1][0] if d["topics"] else None
    if not part or part["error"] != 0:
        return None
    return part["leader"], part["epoch"]


class QuorumFailoverTest(ft.FerryTestCase):
    def make_cluster(self):
        start_cluster(self, {"offsets.topic.replication.factor": 1})  # Kafka's default timeouts

    def leader(self, above=0):
        """The (node, epoch) a live controller reports as leader of an epoch above `above`, or None."""
        for n in self.controllers:
            if not n.alive():
                continue
            try:
                seen = describe(n)
            except (OSError, ft.ConnectionClosed, ft.ParseError):
                continue
            if seen and seen[1] > above:
                lead = next((x for x in self.controllers if x.node_id == seen[0] and x.alive()), None)
                if lead is not None:
                    return lead, seen[1]
        return None

    def create_through(self, broker, topic):
        with broker.conn(timeout=30) as c:
            res = c.create_topics([(topic, 1, 1)])
        return res[topic][0] == 0

    def fail_over(self, lead, epoch, how):
        """Stops `lead` (kill -9 or SIGTERM); returns the new (leader, epoch) once a CreateTopics through a
        broker works, logging the times."""
        t0 = time.monotonic()
        if how == "kill":
            lead.kill9()
        else:
            lead.stop()
        new = ft.wait_until(lambda: self.leader(above=epoch), timeout=120, interval=0.02,
                            what="a new leader after %s of controller %d" % (how, lead.node_id))
        t_leader = time.monotonic() - t0
        self.assertIsNot(new[0], lead)
        topic = ft.unique("after-%s" % how)
        ft.wait_until(lambda: self.create_through(self.brokers[0], topic), timeout=120, interval=0.02,
                      what="CreateTopics through broker 4 after %s of controller %d" % (how, lead.node_id))
        t_create = time.monotonic() - t0
        print("failover (%s of controller %d, epoch %d -> %d): new leader %d after %.2f s, CreateTopics through a "
              "broker after %.2f s (load average %.1f)" % (how, lead.node_id, epoch, new[1], new[0].node_id,
                                                          t_leader, t_create, os.getloadavg()[0]), flush=True)
        ft.wait_topic(self.brokers[1], topic, 1)
        return new

    def restart(self, node):
        node.spawn()
        node.wait_ready(wait_metadata=False)

    def test_kill9_active_controller_twice_then_sigterm(self):
        self.make_cluster()
        lead, epoch = ft.wait_until(self.leader, timeout=120, what="a leader of the metadata quorum")
        self.assertTrue(self.create_through(self.brokers[0], ft.unique("before")))
        for _ in range(2):
            killed = lead
            lead, epoch = self.fail_over(lead, epoch, "kill")
            self.restart(killed)  # a majority of three is needed for the next failover
        stopped = lead
        lead, epoch = self.fail_over(lead, epoch, "stop")
        self.assertIn("resigning: EndQuorumEpoch", stopped.log_text())


if __name__ == "__main__":
    ft.main()
