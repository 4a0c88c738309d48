"""Broker-only nodes following a 3-controller quorum: each broker registers with the active controller
over the wire (BrokerRegistration, then BrokerHeartbeat every broker.heartbeat.interval.ms) and is
unfenced once caught up; a topic created through a broker (CreateTopics forwarded to the controller in an
Envelope) appears on both brokers; a SIGSTOPped broker is fenced within broker.session.timeout.ms and its
leaderships move to the other broker; after SIGCONT it heartbeats again and is unfenced."""
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


def leaders(node, topic):
    md = metadata(node, [topic])
    for t in md["topics"]:
        if t["name"] == topic and t["error"] == 0:
            return sorted((p["partition"], p["leader"]) for p in t["partitions"])
    return None


def start_cluster(case, extra):
    """Controllers 1-3 (process.roles=controller) and brokers 4-5 (process.roles=broker) of one cluster, with
    the `extra` settings on each, started and ready; sets case.controllers and case.brokers."""
    ctl_ports = {i: ft.free_port() for i in (1, 2, 3)}
    voters = ",".join("%d@127.0.0.1:%d" % (i, p) for i, p in sorted(ctl_ports.items()))
    common = {"controller.quorum.voters": voters, "controller.listener.names": "CONTROLLER",
              "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"}
    common.update(extra)
    cluster_id = ft.run_ferry(["storage", "random-uuid"]).stdout.strip()
    case.controllers, case.brokers = [], []
    for i in (1, 2, 3):
        n = case.node(name="ctl%d" % i, mode="config", node_id=i, base_config=False)
        n.controller_port = n.port = ctl_ports[i]
        n.config.update({k: str(v) for k, v in common.items()})
        n.config.update({"process.roles": "controller", "node.id": str(i),
                         "listeners": "CONTROLLER://127.0.0.1:%d" % n.port, "log.dirs": n.data_dir})
        n.format(cluster_id)
        case.controllers.append(n)
    for i in (4, 5):
        n = case.node(name="broker%d" % i, mode="config", node_id=i, base_config=False)
        n.config.update({k: str(v) for k, v in common.items()})
        n.config.update({"process.roles": "broker", "node.id": str(i),
                         "listeners": "PLAINTEXT://127.0.0.1:%d" % n.port, "log.dirs": n.data_dir})
        n.format(cluster_id)
        case.brokers.append(n)
    for n in case.controllers:
        n.spawn()
    for n in case.controllers:
        n.wait_ready(wait_metadata=False)
    for n in case.brokers:
        n.start()  # ready once Metadata lists it: registered and unfenced over the wire


class QuorumBrokersTest(ft.FerryTestCase):
    def make_cluster(self):
        start_cluster(self, {"broker.session.timeout.ms": SESSION_MS, "broker.heartbeat.interval.ms": 500,
                             "offsets.topic.replication.factor": 2})

    def test_brokers_register_forward_fence_unfence(self):
        self.make_cluster()
        b4, b5 = self.brokers
        ft.wait_until(lambda: broker_ids(b4) == [4, 5] and broker_ids(b5) == [4, 5], timeout=60,
                      what="both brokers unfenced on both brokers")
        topic = ft.unique("forwarded")
        with b4.conn() as c:
            res = c.create_topics([(topic, 4, 2)])
        self.assertEqual(res[topic][0], 0, res)
        ft.wait_topic(b5, topic, 4)
        ft.wait_topic(b4, topic, 4)
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


if __name__ == "__main__":
    ft.main()
