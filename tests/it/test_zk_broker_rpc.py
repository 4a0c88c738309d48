"""Legacy-mode brokers following a ZooKeeper-mode controller over the wire, broker side: the test plays Kafka
3.7's controller itself. It holds /controller (broker id 100, a controller no Ferry broker is) and
/controller_epoch in ZooKeeper, writes the topic and partition-state znodes as Kafka's controller does,
and sends UpdateMetadata v8, LeaderAndIsr v7 and StopReplica v4 (encoded with scripts/golden_zkrpc.py's
encoder, independent of Ferry's codec) to the brokers' listeners. Then kcat produces to and consumes from
the partition, a follower replicates it, StopReplica with deletion removes the data, an older controller
epoch gets STALE_CONTROLLER_EPOCH and changes nothing, an older broker epoch STALE_BROKER_EPOCH, and a
truncated request closes its connection with a log line while the broker keeps serving.

This is also the live case of every version in api_support.c's proto_legacy_apis (the APIs served only in
legacy mode, which the in-process tests/unit/test_cli_every_version.c cannot reach without a ZooKeeper):
test_api_versions_lists_the_legacy_apis fails when ApiVersions advertises a legacy (key, version) that
LIVE_CASES below does not cover.

Run with /usr/bin/python3; every wait polls with a generous deadline."""
import importlib.util
import json
import os
import time
import unittest

import ferrytest as ft
import zkharness
from ferrytest import R
from zkcluster import legacy_node, wait_until

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
_spec = importlib.util.spec_from_file_location("golden_zkrpc", os.path.join(ROOT, "scripts", "golden_zkrpc.py"))
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)
Out = golden.Out

API_LEADER_AND_ISR, API_STOP_REPLICA, API_UPDATE_METADATA = 4, 5, 6
E_STALE_CONTROLLER_EPOCH, E_STALE_BROKER_EPOCH = 11, 77
CONTROLLER_ID = 100  # the test's controller: not a Ferry broker
EPOCH = 5            # /controller_epoch as the test writes it
TOPIC_ID = golden.uuid_bytes(0x23)
OTHER_ID = golden.uuid_bytes(0x37)

# (api key, version) -> what sends it live in this file
LIVE_CASES = {(API_LEADER_AND_ISR, 7): "lisr_v7", (API_STOP_REPLICA, 4): "stop_v4",
              (API_UPDATE_METADATA, 8): "umr_v8"}


def uuid_str(b):
    import base64
    return base64.urlsafe_b64encode(b).decode("ascii").rstrip("=")


# ---- requests, as Kafka 3.7's ControllerChannelManager builds them ----

def lisr_v7(broker_epoch, topics, leaders, ctrl_epoch=EPOCH):
    """topics: [(name, topic id, [partition dict as golden.lisr_partition takes])]; leaders: [(id, host, port)]."""
    o = Out(True)
    o.i32(CONTROLLER_ID).boolean(False).i32(ctrl_epoch).i64(broker_epoch).i8(0)
    o.array(topics, lambda o, t: o.string(t[0]).uuid(t[1]).array(t[2], golden.lisr_partition).tags())
    o.array(leaders, lambda o, l: o.i32(l[0]).string(l[1]).i32(l[2]).tags())
    return o.tags().b


def lisr_part(index, leader, replicas, isr=None, leader_epoch=0, partition_epoch=0, is_new=True, ctrl_epoch=EPOCH):
    return dict(index=index, ctrl_epoch=ctrl_epoch, leader=leader, leader_epoch=leader_epoch,
                isr=list(isr if isr is not None else replicas), partition_epoch=partition_epoch,
                replicas=list(replicas), adding=[], removing=[], is_new=is_new, recovery=0)


def umr_v8(broker_epoch, topics, brokers, ctrl_epoch=EPOCH):
    """topics: [(name, id, [(index, leader, leader_epoch, isr, zk_version, replicas)])]; brokers: [(id, port)]."""
    o = Out(True)
    o.i32(CONTROLLER_ID).boolean(False).i32(ctrl_epoch).i64(broker_epoch)

    def part(o, p):
        o.i32(p[0]).i32(ctrl_epoch).i32(p[1]).i32(p[2]).ints(p[3]).i32(p[4]).ints(p[5]).ints([]).tags()

    o.array(topics, lambda o, t: o.string(t[0]).uuid(t[1]).array(t[2], part).tags())

    def broker(o, b):
        o.i32(b[0]).array([(b[1], "127.0.0.1", "PLAINTEXT", 0)],
                          lambda o, e: o.i32(e[0]).string(e[1]).string(e[2]).i16(e[3]).tags())
        o.string(None, nullable=True).tags()

    o.array(brokers, broker)
    return o.tags([(0, bytes([1]))]).b  # Type 1: FULL


def stop_v4(broker_epoch, topics, ctrl_epoch=EPOCH):
    """topics: [(name, [(index, leader epoch, delete)])]."""
    o = Out(True)
    o.i32(CONTROLLER_ID).boolean(False).i32(ctrl_epoch).i64(broker_epoch)
    o.array(topics, lambda o, t: o.string(t[0]).array(
        t[1], lambda o, p: o.i32(p[0]).i32(p[1]).boolean(p[2]).tags()).tags())
    return o.tags().b


# ---- responses ----

def metadata(node):
    """Metadata v1 for every topic."""
    with node.conn(timeout=10) as c:
        return c.metadata(None, version=1)


def send(node, api_key, version, body):
    with node.conn(timeout=30) as c:
        corr = c.send(api_key, version, body, header_version=2)
        got, payload = c.recv()
        assert got == corr, (got, corr)
        r = R(payload)
        r.tags()  # response header v1
        return r


def lisr_response(r):
    err = r.i16()
    topics = r.compact_array(lambda r: (r.raw(16), r.compact_array(lambda r: (r.i32(), r.i16(), r.tags())[:2]),
                                        r.tags())[:2])
    r.tags()
    r.end()
    return err, {tid: dict(parts) for tid, parts in (topics or [])}


def umr_response(r):
    err = r.i16()
    r.tags()
    r.end()
    return err


def stop_response(r):
    err = r.i16()
    parts = r.compact_array(lambda r: (r.compact_string(), r.i32(), r.i16(), r.tags())[:3])
    r.tags()
    r.end()
    return err, parts or []


class BrokerFollowsController(ft.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.zk = zkharness.start_for_test(self)
        self.c = self.zk.client()
        self.addCleanup(self.c.close)
        self.addCleanup(self.c.stop)
        # the test is the controller: Ferry brokers find /controller taken and never race for it
        self.c.ensure_path("/brokers/topics")
        self.c.create("/controller_epoch", str(EPOCH).encode())
        self.c.create("/controller", json.dumps({"version": 2, "brokerid": CONTROLLER_ID, "timestamp": "1",
                                                 "kraftControllerEpoch": -1}).encode(), ephemeral=True)

    def start_brokers(self, ids):
        nodes = [legacy_node(self, self.zk.connect_string, i, extra={"replica.lag.time.max.ms": 30000})
                 for i in ids]
        for n in nodes:
            n.start()
        wait_until(lambda: sorted(int(x) for x in self.c.get_children("/brokers/ids")) == sorted(ids),
                   what="brokers registered")
        for n in nodes:
            wait_until(lambda: "the controller is now %d" % CONTROLLER_ID in n.log_text(),
                       what="%s seeing controller %d" % (n.name, CONTROLLER_ID))
        return nodes

    def epoch_of(self, node):
        return self.c.get("/brokers/ids/%d" % node.node_id)[1].czxid

    def write_topic(self, name, topic_id, assignment, states):
        """/brokers/topics/<name> v3 and each partition's state, as Kafka's controller writes them."""
        self.c.create("/brokers/topics/" + name, json.dumps({
            "version": 3, "topic_id": uuid_str(topic_id), "partitions": {str(p): r for p, r in assignment.items()},
            "adding_replicas": {}, "removing_replicas": {}}).encode(), makepath=True)
        for p, (leader, isr) in states.items():
            self.c.create("/brokers/topics/%s/partitions/%d/state" % (name, p), json.dumps({
                "controller_epoch": EPOCH, "leader": leader, "version": 1, "leader_epoch": 0, "isr": isr}).encode(),
                makepath=True)

    def update_metadata(self, nodes, to, topics):
        r = send(to, API_UPDATE_METADATA, 8, umr_v8(self.epoch_of(to), topics, [(n.node_id, n.port) for n in nodes]))
        self.assertEqual(umr_response(r), 0)

    def kcat_roundtrip(self, node, topic, n=50):
        lines = b"".join(b"m-%d\n" % i for i in range(n))
        res = ft.run_kcat(["-P", "-b", node.bootstrap, "-t", topic, "-p", "0", "-X", "message.timeout.ms=60000"],
                          input=lines, timeout=120)
        self.assertEqual(res.returncode, 0, res)
        self.assertNotIn(b"Delivery failed", res.stderr, res)
        res = ft.run_kcat(["-C", "-b", node.bootstrap, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
                           "-f", "%o %s\n"], timeout=120)
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stdout, b"".join(b"%d m-%d\n" % (i, i) for i in range(n)))

    def test_leader_and_follower_then_stop_replica_deletes(self):
        b1, b2 = self.start_brokers([1, 2])
        topic = "zkrpc-orders"
        self.write_topic(topic, TOPIC_ID, {0: [1, 2]}, {0: (1, [1, 2])})
        umr_topics = [(topic, TOPIC_ID, [(0, 1, 0, [1, 2], 0, [1, 2])])]
        for n in (b1, b2):
            self.update_metadata([b1, b2], n, umr_topics)
        for n in (b1, b2):
            r = send(n, API_LEADER_AND_ISR, 7, lisr_v7(self.epoch_of(n), [(topic, TOPIC_ID, [lisr_part(0, 1, [1, 2])])],
                                                        [(1, "127.0.0.1", b1.port)]))
            err, topics = lisr_response(r)
            self.assertEqual(err, 0)
            self.assertEqual(topics, {TOPIC_ID: {0: 0}})
        # every broker's Metadata has the partition, led by broker 1, and names the test's controller
        for n in (b1, b2):
            md = wait_until(lambda: (lambda m: m if [t for t in m["topics"] if t["name"] == topic] else None)(
                metadata(n)), what="%s knowing %s" % (n.name, topic))
            t = [t for t in md["topics"] if t["name"] == topic][0]
            self.assertEqual([(p["partition"], p["leader"]) for p in t["partitions"]], [(0, 1)])
            self.assertEqual(md["controller_id"], CONTROLLER_ID)
        self.kcat_roundtrip(b1, topic)
        # the follower replicated what the leader has
        seg = os.path.join(b2.partition_dir(topic, 0), "00000000000000000000.log")
        leader_seg = os.path.join(b1.partition_dir(topic, 0), "00000000000000000000.log")
        wait_until(lambda: os.path.exists(seg) and os.path.getsize(seg) == os.path.getsize(leader_seg) > 0,
                   what="broker 2 replicating %s-0" % topic)
        # the controller deletes the topic: StopReplica with deletion (leader epoch -2) to every replica
        for n in (b1, b2):
            r = send(n, API_STOP_REPLICA, 4, stop_v4(self.epoch_of(n), [(topic, [(0, -2, True)])]))
            err, parts = stop_response(r)
            self.assertEqual((err, parts), (0, [(topic, 0, 0)]))
        for n in (b1, b2):
            wait_until(lambda: not os.path.exists(n.partition_dir(topic, 0)), what="%s deleting %s-0" % (n.name, topic))
            md = metadata(n)
            self.assertNotIn(topic, [t["name"] for t in md["topics"]])
        for n in (b1, b2):
            self.assertAlive(n)

    def test_stale_epochs_change_nothing_and_bad_input_closes_the_connection(self):
        (b1,) = self.start_brokers([1])
        topic = "zkrpc-stale"
        self.write_topic(topic, OTHER_ID, {0: [1]}, {0: (1, [1])})
        self.update_metadata([b1], b1, [])
        request = [(topic, OTHER_ID, [lisr_part(0, 1, [1])])]
        leaders = [(1, "127.0.0.1", b1.port)]
        # an older controller epoch than /controller_epoch: STALE_CONTROLLER_EPOCH, nothing applied
        r = send(b1, API_LEADER_AND_ISR, 7, lisr_v7(self.epoch_of(b1), request, leaders, ctrl_epoch=EPOCH - 1))
        # (as Kafka's getErrorResponse: the error again for every partition)
        self.assertEqual(lisr_response(r), (E_STALE_CONTROLLER_EPOCH, {OTHER_ID: {0: E_STALE_CONTROLLER_EPOCH}}))
        r = send(b1, API_UPDATE_METADATA, 8, umr_v8(self.epoch_of(b1), [], [(1, b1.port)], ctrl_epoch=EPOCH - 1))
        self.assertEqual(umr_response(r), E_STALE_CONTROLLER_EPOCH)
        r = send(b1, API_STOP_REPLICA, 4, stop_v4(self.epoch_of(b1), [(topic, [(0, -2, True)])], ctrl_epoch=EPOCH - 1))
        self.assertEqual(stop_response(r)[0], E_STALE_CONTROLLER_EPOCH)
        # an older broker epoch (this broker's previous registration): STALE_BROKER_EPOCH
        r = send(b1, API_LEADER_AND_ISR, 7, lisr_v7(self.epoch_of(b1) - 1, request, leaders))
        self.assertEqual(lisr_response(r), (E_STALE_BROKER_EPOCH, {OTHER_ID: {0: E_STALE_BROKER_EPOCH}}))
        self.assertNotIn(topic, [t["name"] for t in metadata(b1)["topics"]])
        self.assertFalse(os.path.exists(b1.partition_dir(topic, 0)))
        # a truncated LeaderAndIsr closes its connection with a log line; the broker keeps serving
        body = lisr_v7(self.epoch_of(b1), request, leaders)
        with b1.conn(timeout=30) as c:
            c.send(API_LEADER_AND_ISR, 7, body[:len(body) // 2], header_version=2)
            self.assertTrue(c.wait_closed(), "a truncated LeaderAndIsr left the connection open")
        wait_until(lambda: "malformed LeaderAndIsrRequest v7" in b1.log_text(), what="the log line")
        self.assertNotIn(topic, [t["name"] for t in metadata(b1)["topics"]])
        # the current epochs are accepted afterwards: the partition is served
        r = send(b1, API_LEADER_AND_ISR, 7, body)
        self.assertEqual(lisr_response(r), (0, {OTHER_ID: {0: 0}}))
        # a controller epoch seen in a request is remembered: one older than it is now stale too
        r = send(b1, API_UPDATE_METADATA, 8, umr_v8(self.epoch_of(b1), [], [(1, b1.port)], ctrl_epoch=EPOCH + 2))
        self.assertEqual(umr_response(r), 0)
        r = send(b1, API_UPDATE_METADATA, 8, umr_v8(self.epoch_of(b1), [], [(1, b1.port)], ctrl_epoch=EPOCH + 1))
        self.assertEqual(umr_response(r), E_STALE_CONTROLLER_EPOCH)
        self.update_metadata_at(b1, EPOCH + 2, [(topic, OTHER_ID, [(0, 1, 0, [1], 0, [1])])])
        self.kcat_roundtrip(b1, topic, n=10)
        self.assertAlive(b1)

    def update_metadata_at(self, node, ctrl_epoch, topics):
        r = send(node, API_UPDATE_METADATA, 8, umr_v8(self.epoch_of(node), topics, [(node.node_id, node.port)],
                                                      ctrl_epoch=ctrl_epoch))
        self.assertEqual(umr_response(r), 0)

    def test_api_versions_lists_the_legacy_apis(self):
        (b1,) = self.start_brokers([1])
        quorum = self.node(name="quorum")
        quorum.start()
        with b1.conn() as c:
            legacy_apis = c.api_versions(version=3)["apis"]
        with quorum.conn() as c:
            quorum_apis = c.api_versions(version=3)["apis"]
        # a legacy-mode broker lists what a quorum-mode one does, plus the legacy-only APIs, as Kafka's
        # ZooKeeper-mode brokers; quorum mode lists none of them. DescribeQuorum (55) is quorum-only (Kafka's
        # ZooKeeper-mode brokers do not have it either).
        self.assertEqual(quorum_apis.get(55), (0, 1))
        self.assertNotIn(55, legacy_apis)
        for key, rng in quorum_apis.items():
            if key != 55:
                self.assertEqual(legacy_apis.get(key), rng, "api %d" % key)
        extra = {k: r for k, r in legacy_apis.items() if k not in quorum_apis}
        for key, rng in ((API_LEADER_AND_ISR, (7, 7)), (API_STOP_REPLICA, (4, 4)), (API_UPDATE_METADATA, (8, 8))):
            self.assertEqual(extra.get(key), rng, "legacy api %d" % key)
        for key, (lo, hi) in extra.items():
            for v in range(lo, hi + 1):
                self.assertIn((key, v), LIVE_CASES, "legacy api %d v%d is advertised without a live case here"
                              % (key, v))

if __name__ == "__main__":
    ft.main()
