"""Legacy-mode brokers following a ZooKeeper-mode controller over the wire, broker side: the test plays Kafka
3.7's controller itself. It holds /controller (broker id 100, a controller no Ferry broker is) and
/controller_epoch in ZooKeeper, writes the topic and partition-state znodes as Kafka's controller does,
and sends UpdateMetadata v8, LeaderAndIsr v7 and StopReplica v4 (encoded with scripts/golden_zkrpc.py's
encoder, independent of Ferry's codec) to the brokers' listeners. Then kcat produces to and consumes from
the partition, a follower replicates it, StopReplica without deletion stops its fetching until a LeaderAndIsr
(an UpdateMetadata does not restart it), StopReplica with deletion removes the data, an older controller
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
import socket
import struct
import threading
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
API_CONTROLLED_SHUTDOWN, API_ALTER_PARTITION = 7, 56
E_STALE_CONTROLLER_EPOCH, E_NOT_CONTROLLER, E_STALE_BROKER_EPOCH = 11, 41, 77
CONTROLLER_ID = 100  # the test's controller: not a Ferry broker
EPOCH = 5            # /controller_epoch as the test writes it
TOPIC_ID = golden.uuid_bytes(0x23)
OTHER_ID = golden.uuid_bytes(0x37)

# (api key, version) -> what sends it live (in this file unless named)
LIVE_CASES = {(API_LEADER_AND_ISR, 7): "lisr_v7", (API_STOP_REPLICA, 4): "stop_v4",
              (API_UPDATE_METADATA, 8): "umr_v8"}
# ControlledShutdown (7) and AlterPartition (56), served by the active controller
LIVE_CASES.update({(key, v): "test_zk_controller.test_controlled_shutdown_and_alter_partition_every_version"
                   for key in (7, 56) for v in range(4)})
# ElectLeaders (43) and Alter/ListPartitionReassignments (45, 46) from clients, served by the active controller
LIVE_CASES.update({(43, v): "test_zk_reassign.test_elect_leaders_preferred_and_unclean" for v in range(3)})
LIVE_CASES.update({(key, 0): "test_zk_reassign.test_move_a_partition_under_a_producer_list_and_cancel"
                   for key in (45, 46)})


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


# ---- a fake controller: what Ferry brokers send to theirs ----

class FakeController:
    """A Kafka controller's listener as far as brokers talk to it: AlterPartition (v3 decoded) and
    ControlledShutdown (v3) requests are recorded and answered by the `alter` and `shutdown` functions
    (request dict -> response body). Registered as /brokers/ids/<id> so that brokers find its endpoint."""

    def __init__(self, tc, broker_id, alter, shutdown):
        self.id = broker_id
        self.alter, self.shutdown = alter, shutdown
        self.requests = []  # (api key, version, request dict)
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.closing = False
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()
        tc.addCleanup(self.close)

    def close(self):
        self.closing = True
        self.sock.close()

    def register(self, client):
        client.create("/brokers/ids/%d" % self.id, json.dumps({
            "features": {}, "listener_security_protocol_map": {"PLAINTEXT": "PLAINTEXT"},
            "endpoints": ["PLAINTEXT://127.0.0.1:%d" % self.port], "jmx_port": -1, "port": self.port,
            "host": "127.0.0.1", "version": 5, "timestamp": "1"}).encode(), ephemeral=True)

    def seen(self, api_key):
        with self.lock:
            return [r for k, v, r in self.requests if k == api_key]

    def accept_loop(self):
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        with conn:
            buf = b""
            while True:
                while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                size = struct.unpack(">i", buf[:4])[0]
                frame, buf = buf[4:4 + size], buf[4 + size:]
                r = R(frame)
                key, version, corr = r.i16(), r.i16(), r.i32()
                r.string()  # client id
                r.tags()    # request header v2 (both APIs are flexible at v3)
                if key == API_ALTER_PARTITION and version == 3:
                    req = decode_alter_v3(r)
                    body = self.alter(req)
                elif key == API_CONTROLLED_SHUTDOWN and version == 3:
                    req = {"broker_id": r.i32(), "broker_epoch": r.i64()}
                    r.tags()
                    body = self.shutdown(req)
                else:
                    return  # as Kafka: an unsupported request closes the connection
                r.end()
                with self.lock:
                    self.requests.append((key, version, req))
                payload = struct.pack(">i", corr) + b"\x00" + body  # response header v1: empty tags
                conn.sendall(struct.pack(">i", len(payload)) + payload)


def decode_alter_v3(r):
    req = {"broker_id": r.i32(), "broker_epoch": r.i64()}

    def part(r):
        p = {"index": r.i32(), "leader_epoch": r.i32(),
             "isr": r.compact_array(lambda r: (r.i32(), r.i64(), r.tags())[:2]),
             "recovery": r.i8(), "partition_epoch": r.i32()}
        r.tags()
        return p

    def topic(r):
        t = (r.raw(16), r.compact_array(part))
        r.tags()
        return t
    req["topics"] = r.compact_array(topic)
    r.tags()
    return req


def alter_response_v3(error, topics=()):
    """topics: [(topic id, [(index, error, leader, leader epoch, isr, partition epoch)])]."""
    o = Out(True)
    o.i32(0).i16(error)
    o.array(list(topics), lambda o, t: o.uuid(t[0]).array(t[1], lambda o, p: o.i32(p[0]).i16(p[1]).i32(p[2]).i32(
        p[3]).ints(p[4]).i8(0).i32(p[5]).tags()).tags())
    return o.tags().b


def shutdown_response_v3(error, remaining=()):
    o = Out(True)
    o.i16(error)
    o.array(list(remaining), lambda o, p: o.string(p[0]).i32(p[1]).tags())
    return o.tags().b


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

    def start_brokers(self, ids, lag_ms=30000):
        nodes = [legacy_node(self, self.zk.connect_string, i, extra={"replica.lag.time.max.ms": lag_ms})
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
        self.stop_replica_stops_the_follower(b1, b2, topic, seg, leader_seg)
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

    def stop_replica_stops_the_follower(self, b1, b2, topic, seg, leader_seg):
        """As Kafka's controller takes a replica offline: StopReplica without deletion to broker 2, LeaderAndIsr
        with the shrunk ISR (leader epoch 1) to the leader, UpdateMetadata to broker 2. Broker 2 stops fetching
        (ReplicaManager.stopReplicas removes the fetcher) and the UpdateMetadata does not start it again; the
        LeaderAndIsr that brings the replica back online does."""
        r = send(b2, API_STOP_REPLICA, 4, stop_v4(self.epoch_of(b2), [(topic, [(0, 0, False)])]))
        self.assertEqual(stop_response(r), (0, [(topic, 0, 0)]))
        wait_until(lambda: "%s-0: fetching stopped" % topic in b2.log_text(), what="broker 2 stopping its fetching")
        leaders = [(1, "127.0.0.1", b1.port)]
        shrunk = [(topic, TOPIC_ID, [lisr_part(0, 1, [1, 2], isr=[1], leader_epoch=1, partition_epoch=1,
                                               is_new=False)])]
        self.assertEqual(lisr_response(send(b1, API_LEADER_AND_ISR, 7, lisr_v7(self.epoch_of(b1), shrunk, leaders))),
                         (0, {TOPIC_ID: {0: 0}}))
        self.update_metadata([b1, b2], b2, [(topic, TOPIC_ID, [(0, 1, 1, [1], 1, [1, 2])])])
        stopped_size = os.path.getsize(seg)
        lines = b"".join(b"more-%d\n" % i for i in range(20))
        res = ft.run_kcat(["-P", "-b", b1.bootstrap, "-t", topic, "-p", "0", "-X", "message.timeout.ms=60000"],
                          input=lines, timeout=120)
        self.assertEqual(res.returncode, 0, res)
        self.assertNotIn(b"Delivery failed", res.stderr, res)
        self.assertGreater(os.path.getsize(leader_seg), stopped_size)
        time.sleep(3)  # six replica.fetch.wait.max.ms: a fetcher still running would have copied the batch
        self.assertEqual(os.path.getsize(seg), stopped_size, "broker 2 kept fetching after StopReplica")
        self.assertIn("fetcher for leader 1 stopped", b2.log_text())
        r = send(b2, API_LEADER_AND_ISR, 7, lisr_v7(self.epoch_of(b2), shrunk, leaders))
        self.assertEqual(lisr_response(r), (0, {TOPIC_ID: {0: 0}}))
        wait_until(lambda: os.path.getsize(seg) == os.path.getsize(leader_seg), what="broker 2 fetching again")

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
        # no endpoint for controller 100: every ControlledShutdown attempt fails, then the broker stops anyway
        self.assertEqual(b1.stop(), 0)
        text = b1.log_text()
        self.assertEqual(text.count("starting controlled shutdown"), 3, text[-3000:])
        self.assertIn("proceeding to do an unclean shutdown", text)

    def update_metadata_at(self, node, ctrl_epoch, topics):
        r = send(node, API_UPDATE_METADATA, 8, umr_v8(self.epoch_of(node), topics, [(node.node_id, node.port)],
                                                      ctrl_epoch=ctrl_epoch))
        self.assertEqual(umr_response(r), 0)

    def test_alter_partition_and_controlled_shutdown_reach_the_controller(self):
        b1, b2 = self.start_brokers([1, 2], lag_ms=2000)
        shutdowns = []

        def shutdown(req):  # the first attempt still has a partition to move, the second succeeds
            shutdowns.append(req)
            return shutdown_response_v3(0, [("zkrpc-isr", 0)] if len(shutdowns) == 1 else [])

        def refuse(req):
            return alter_response_v3(E_NOT_CONTROLLER)

        def accept(req):
            return alter_response_v3(0, [(tid, [(p["index"], 0, req["broker_id"], p["leader_epoch"],
                                                 [b for b, _ in p["isr"]], p["partition_epoch"] + 1)
                                                for p in parts]) for tid, parts in req["topics"]])
        old = FakeController(self, CONTROLLER_ID, refuse, shutdown)
        new = FakeController(self, CONTROLLER_ID + 1, accept, shutdown)
        old.register(self.c)
        new.register(self.c)
        topic = "zkrpc-isr"
        self.write_topic(topic, TOPIC_ID, {0: [1, 2]}, {0: (1, [1, 2])})
        brokers = [b1, b2, old, new]
        for n in (b1, b2):
            r = send(n, API_UPDATE_METADATA, 8, umr_v8(self.epoch_of(n), [(topic, TOPIC_ID, [(0, 1, 0, [1, 2], 0, [1, 2])])],
                                                       [(x.node_id if hasattr(x, "node_id") else x.id, x.port)
                                                        for x in brokers]))
            self.assertEqual(umr_response(r), 0)
            r = send(n, API_LEADER_AND_ISR, 7, lisr_v7(self.epoch_of(n), [(topic, TOPIC_ID, [lisr_part(0, 1, [1, 2])])],
                                                        [(1, "127.0.0.1", b1.port)]))
            self.assertEqual(lisr_response(r)[0], 0)
        self.kcat_roundtrip(b1, topic, n=10)
        # broker 2 stops: ControlledShutdown v3 to the controller, again while a partition remains, then it stops
        epoch2 = self.epoch_of(b2)
        self.assertEqual(b2.stop(), 0)
        self.assertEqual(shutdowns, [{"broker_id": 2, "broker_epoch": epoch2}] * 2)
        self.assertIn("controlled shutdown succeeded (controller %d)" % CONTROLLER_ID, b2.log_text())
        # a write the stopped follower lacks (a follower at the leader's log end stays in sync, as in Kafka)
        with b1.conn() as c:
            res = c.produce(topic, 0, ft.build_batch([(b"k", b"after-stop", [])]), acks=1)
        self.assertEqual(res["error"], 0, res)
        # the leader drops the silent follower from the ISR: AlterPartition to controller 100, which answers
        # NOT_CONTROLLER until the controller moves to 101, which accepts it
        wait_until(lambda: old.seen(API_ALTER_PARTITION), what="AlterPartition at controller %d" % CONTROLLER_ID)
        req = old.seen(API_ALTER_PARTITION)[0]
        self.assertEqual((req["broker_id"], req["broker_epoch"]), (1, self.epoch_of(b1)))
        self.assertEqual(req["topics"], [(TOPIC_ID, [{"index": 0, "leader_epoch": 0, "isr": [(1, -1)],
                                                      "recovery": 0, "partition_epoch": 0}])])
        self.assertEqual(new.seen(API_ALTER_PARTITION), [])
        self.c.set("/controller", json.dumps({"version": 2, "brokerid": CONTROLLER_ID + 1, "timestamp": "2",
                                              "kraftControllerEpoch": -1}).encode())
        wait_until(lambda: new.seen(API_ALTER_PARTITION), what="AlterPartition retried at the new controller")
        self.assertEqual(new.seen(API_ALTER_PARTITION)[0]["topics"], req["topics"])
        # the accepted ISR is in the leader's image
        wait_until(lambda: [p["isr"] for t in metadata(b1)["topics"] if t["name"] == topic
                            for p in t["partitions"]] == [[1]], what="ISR [1] in broker 1's metadata")
        # acks=all is served by the ISR of one
        res = ft.run_kcat(["-P", "-b", b1.bootstrap, "-t", topic, "-p", "0", "-X", "acks=all",
                           "-X", "message.timeout.ms=60000"], input=b"acked\n", timeout=120)
        self.assertEqual(res.returncode, 0, res)
        self.assertNotIn(b"Delivery failed", res.stderr, res)
        self.assertAlive(b1)

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
        # ZooKeeper-mode brokers do not have it either). ElectLeaders (43) is served in both modes.
        quorum_only = {55: (0, 1)}
        for key, rng in quorum_only.items():
            self.assertEqual(quorum_apis.get(key), rng, "quorum-only api %d" % key)
            self.assertNotIn(key, legacy_apis)
        for key, rng in quorum_apis.items():
            if key not in quorum_only:
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
