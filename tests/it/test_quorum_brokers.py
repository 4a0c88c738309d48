"""Broker-only nodes following a 3-controller quorum: each broker registers with the active controller
over the wire (BrokerRegistration, then BrokerHeartbeat every broker.heartbeat.interval.ms) and is
unfenced once caught up; a topic created through a broker (CreateTopics forwarded to the controller in an
Envelope) appears on both brokers; a SIGSTOPped broker is fenced within broker.session.timeout.ms and its
leaderships move to the other broker; after SIGCONT it heartbeats again and is unfenced.

ElectLeaders (no Kafka client here has it: kafka-python 2.0.2 and confluent-kafka 1.7 lack elect_leaders,
so it is sent raw) through a broker, which forwards it in an Envelope, and on the controller listener:
a PREFERRED election moves leadership back to the preferred replica once it is in the ISR again after a
fencing, and an UNCLEAN election gives a leaderless partition (its last ISR member fenced) the live
replica outside the ISR; a controller that is not active answers NOT_CONTROLLER."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ferrytest as ft  # noqa: E402

SESSION_MS = 4000


def metadata(node, topics=None):
    with node.conn(timeout=10) as c:
        return c.metadata(topics or [], version=1)


def broker_ids(node):
    return sorted(b["node_id"] for b in metadata(node)["brokers"] or [])


def partitions(node, topic):
    md = metadata(node, [topic])
    for t in md["topics"]:
        if t["name"] == topic and t["error"] == 0:
            return sorted(t["partitions"], key=lambda p: p["partition"])
    return None


def leaders(node, topic):
    ps = partitions(node, topic)
    return None if ps is None else [(p["partition"], p["leader"]) for p in ps]


def elect(node, election_type, topic_parts, version=2):
    with node.conn(timeout=30) as c:
        return c.elect_leaders(election_type, topic_parts, version=version)


def start_cluster(case, extra, broker_ids=(4, 5)):
    """Controllers 1-3 (process.roles=controller) and brokers broker_ids (process.roles=broker) of one
    cluster, with the `extra` settings on each, started and ready (a broker once its Metadata lists it:
    registered and unfenced over the wire); sets case.controllers and case.brokers and returns them."""
    ctl_ports = {i: ft.free_port() for i in (1, 2, 3)}
    voters = ",".join("%d@127.0.0.1:%d" % (i, p) for i, p in sorted(ctl_ports.items()))
    common = {"controller.quorum.voters": voters, "controller.listener.names": "CONTROLLER",
              "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"}
    common.update(extra)
    cluster_id = ft.run_ferry(["storage", "random-uuid"]).stdout.strip()

    def make(role, i, listener):
        n = case.node(name="%s%d" % ("ctl" if role == "controller" else role, i), mode="config", node_id=i,
                      base_config=False)
        if role == "controller":
            n.controller_port = n.port = ctl_ports[i]
        n.config.update({k: str(v) for k, v in common.items()})
        n.config.update({"process.roles": role, "node.id": str(i),
                         "listeners": "%s://127.0.0.1:%d" % (listener, n.port), "log.dirs": n.data_dir})
        n.format(cluster_id)
        return n
    case.controllers = [make("controller", i, "CONTROLLER") for i in (1, 2, 3)]
    case.brokers = [make("broker", i, "PLAINTEXT") for i in broker_ids]
    for n in case.controllers:
        n.spawn()
    for n in case.controllers:
        n.wait_ready(wait_metadata=False)
    for n in case.brokers:
        n.start()
    return case.controllers, case.brokers


class QuorumBrokersTest(ft.FerryTestCase):
    def make_cluster(self):
        start_cluster(self, {"broker.session.timeout.ms": SESSION_MS, "broker.heartbeat.interval.ms": 500,
                             "offsets.topic.replication.factor": 2})

    def cluster_with_topic(self, prefix, count):
        """The cluster, both brokers unfenced, and a topic (count partitions, 2 replicas) created through
        broker 4 (forwarded to the controller) and seen by both brokers."""
        self.make_cluster()
        b4, b5 = self.brokers
        ft.wait_until(lambda: broker_ids(b4) == [4, 5] and broker_ids(b5) == [4, 5], timeout=60,
                      what="both brokers unfenced on both brokers")
        topic = ft.unique(prefix)
        with b4.conn() as c:
            res = c.create_topics([(topic, count, 2)])
        self.assertEqual(res[topic][0], 0, res)
        ft.wait_topic(b5, topic, count)
        ft.wait_topic(b4, topic, count)
        return b4, b5, topic

    def test_brokers_register_forward_fence_unfence(self):
        b4, b5, topic = self.cluster_with_topic("forwarded", 4)
        before = leaders(b4, topic)
        self.assertIn(5, [l for _, l in before])
        # broker 5 stops heartbeating: fenced, its leaderships move to broker 4
        os.kill(b5.pid, signal.SIGSTOP)
        try:
            ft.wait_until(lambda: broker_ids(b4) == [4], timeout=60, what="broker 5 fenced")
            ft.wait_until(lambda: all(l == 4 for _, l in leaders(b4, topic)), timeout=60,
                          what="leaderships moved to broker 4")
        finally:
            os.kill(b5.pid, signal.SIGCONT)
        ft.wait_until(lambda: broker_ids(b4) == [4, 5], timeout=60, what="broker 5 unfenced after SIGCONT")

    def test_shutdown_with_unresponsive_controllers_ends_at_the_deadline(self):
        """SIGTERM of a broker whose controllers accept connections but never answer (SIGSTOP): its controlled
        shutdown gives up after broker.session.timeout.ms, though its heartbeat is still waiting for an answer
        (controller.socket.timeout.ms is far longer here), and the broker exits cleanly."""
        start_cluster(self, {"broker.session.timeout.ms": SESSION_MS, "broker.heartbeat.interval.ms": 500,
                             "offsets.topic.replication.factor": 2, "controller.socket.timeout.ms": 600000})
        b4, b5 = self.brokers
        ft.wait_until(lambda: broker_ids(b4) == [4, 5], timeout=60, what="both brokers unfenced")
        for c in self.controllers:
            os.kill(c.pid, signal.SIGSTOP)
        try:
            rc = b4.stop(timeout=120)
        finally:
            for c in self.controllers:
                os.kill(c.pid, signal.SIGCONT)
        self.assertEqual(rc, 0, "broker 4 did not exit cleanly on SIGTERM (exit status %s)" % rc)
        self.assertTrue("broker 4: controlled shutdown not confirmed by the controller in time" in b4.log_text(),
                        "broker 4 did not give up its controlled shutdown at the deadline")

    def test_elect_leaders(self):
        b4, b5, topic = self.cluster_with_topic("elect", 2)
        preferred = {p["partition"]: p["replicas"][0] for p in partitions(b4, topic)}
        self.assertEqual(sorted(preferred.values()), [4, 5], preferred)
        ft.wait_until(lambda: dict(leaders(b4, topic)) == preferred, timeout=60, what="preferred leaders")

        # every version through a broker (forwarded): nothing to elect; an unknown partition is named
        for v in (0, 1, 2):
            top, res = elect(b5, ft.ELECTION_PREFERRED, {topic: [0, 1, 9]}, version=v)
            self.assertEqual(top, 0)
            self.assertEqual({k: e for k, (e, _) in res.items()},
                             {(topic, 0): ft.E_ELECTION_NOT_NEEDED, (topic, 1): ft.E_ELECTION_NOT_NEEDED,
                              (topic, 9): ft.E_UNKNOWN_TOPIC_OR_PARTITION}, (v, res))
        # on the controller listener: the active controller answers, the others say NOT_CONTROLLER
        def controller_answers():
            codes = []
            for n in self.controllers:
                top, res = elect(n, ft.ELECTION_UNCLEAN, {topic: [0]}, version=1)
                codes.append((top, res[(topic, 0)][0]))
            return sorted(codes)
        ft.wait_until(lambda: controller_answers() == [(0, ft.E_ELECTION_NOT_NEEDED),
                                                       (ft.E_NOT_CONTROLLER, ft.E_NOT_CONTROLLER),
                                                       (ft.E_NOT_CONTROLLER, ft.E_NOT_CONTROLLER)],
                      timeout=60, what="one active controller answering ElectLeaders")

        # PREFERRED: broker 5 fenced (its leadership moves to 4), back and in the ISR again, then elected
        p5 = [p for p, b in preferred.items() if b == 5][0]
        os.kill(b5.pid, signal.SIGSTOP)
        try:
            ft.wait_until(lambda: all(l == 4 for _, l in leaders(b4, topic)), timeout=60,
                          what="leadership moved off the stopped broker 5")
        finally:
            os.kill(b5.pid, signal.SIGCONT)
        ft.wait_until(lambda: 5 in partitions(b4, topic)[p5]["isr"], timeout=60, what="broker 5 back in the ISR")
        self.assertEqual(dict(leaders(b4, topic))[p5], 4)

        def preferred_elected():
            _, res = elect(b4, ft.ELECTION_PREFERRED, {topic: [p5]}, version=0)
            self.assertIn(res[(topic, p5)][0], (ft.E_NONE, ft.E_ELECTION_NOT_NEEDED,
                                                ft.E_PREFERRED_LEADER_NOT_AVAILABLE), res)
            return res[(topic, p5)][0] != ft.E_PREFERRED_LEADER_NOT_AVAILABLE
        ft.wait_until(preferred_elected, timeout=60, what="a PREFERRED election of broker 5")
        ft.wait_until(lambda: dict(leaders(b4, topic)) == preferred, timeout=60,
                      what="broker 5 leads its preferred partition again")

        # UNCLEAN: broker 4 stopped (fenced; 5 leads both, ISR [5]), then broker 5 (fenced, last ISR member:
        # no leader), then broker 4 back: not in the ISR, so only an UNCLEAN election gives it leadership
        os.kill(b4.pid, signal.SIGSTOP)
        stopped = [b4]
        try:
            ft.wait_until(lambda: all(p["leader"] == 5 and p["isr"] == [5] for p in partitions(b5, topic)),
                          timeout=60, what="broker 5 alone leads both partitions")
            os.kill(b5.pid, signal.SIGSTOP)
            stopped.append(b5)
            os.kill(b4.pid, signal.SIGCONT)
            stopped.remove(b4)
            ft.wait_until(lambda: broker_ids(b4) == [4] and all(p["leader"] == -1 for p in partitions(b4, topic)),
                          timeout=60, what="broker 4 alone unfenced, the partitions leaderless")
            _, res = elect(b4, ft.ELECTION_PREFERRED, {topic: [0, 1]})
            self.assertEqual(set(e for e, _ in res.values()), {ft.E_PREFERRED_LEADER_NOT_AVAILABLE}, res)
            top, res = elect(b4, ft.ELECTION_UNCLEAN, {topic: [0, 1]}, version=1)
            self.assertEqual((top, set(e for e, _ in res.values())), (0, {ft.E_NONE}), res)
            ft.wait_until(lambda: all(p["leader"] == 4 and p["isr"] == [4] for p in partitions(b4, topic)),
                          timeout=60, what="broker 4 elected uncleanly")
            _, res = elect(b4, ft.ELECTION_UNCLEAN, {topic: [0, 1]})
            self.assertEqual(set(e for e, _ in res.values()), {ft.E_ELECTION_NOT_NEEDED}, res)
        finally:
            for n in stopped:
                os.kill(n.pid, signal.SIGCONT)


if __name__ == "__main__":
    ft.main()
