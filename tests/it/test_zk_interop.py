"""Interoperability with a ZooKeeper a Kafka 3.7 cluster left behind (issue 4, item 7): the test pre-loads a
real ZooKeeper 3.8 with exactly the znodes such a cluster leaves (docs: shared reference zk-layout.md), starts
3 Ferry brokers with the Kafka brokers' ids on fresh log dirs, and checks that they adopt that state, serve it,
and rewrite only what Kafka's own controller would.

What a Kafka 3.7 cluster leaves: the persistent paths every broker creates, /cluster/id, /controller_epoch
(its zkVersion equal to the epoch: created at 0, one conditional setData per election), topics v3 with topic
ids and string partition keys (one older topic v2 without a topic id, as IBP < 2.8 wrote it), partition
states with their controller and leader epochs and zkVersions > 0, topic config overrides, config change
notifications not yet purged, a topic marked for deletion, /latest_producer_id_block and /feature. Its
/brokers/ids/N and /controller are ephemerals: after a clean shutdown they are gone; after a crash of the
controller they stay until its session expires. The test plays that crash: a separate kazoo process owns the
stale /controller and /brokers/ids/4 of broker 4 (the controller, which crashed) and is killed with -9 once
the Ferry brokers have registered, so Ferry's election waits for ZooKeeper to expire that session, and then
every broker is live at the failover (which makes Kafka's set of rewrites deterministic).

Kafka's controller on that failover (KafkaController.onControllerFailover) rewrites: /controller and
/controller_epoch (+1); the state of partitions whose leader is not live (offline → clean election from the
live ISR, leader epoch + 1); the topic id of a topic without one (setTopicIds: the znode becomes v3); the
pending deletion (topic znodes, its config and the marker deleted). Partitions whose leader is live keep their
state znode untouched, /feature already at v2 and enabled stays, notifications younger than 15 minutes stay.
The brokers register /brokers/ids/N. Producer ids continue from /latest_producer_id_block.

Durations are logged, never asserted; every wait polls with a generous deadline."""
import json
import os
import signal
import subprocess
import time
import unittest

import ferrytest
import zkharness
from ferrytest import log
from zkcluster import (check_broker_json, check_cluster_id_json, check_config_change_json,
                       check_config_json, check_controller_json, check_feature_json, check_partition_state_json,
                       check_producer_id_block_json, check_topic_json, controller, controller_epoch, legacy_node,
                       live_broker_ids, metadata, wait_until)

CLUSTER_ID = "Kf37ClusterIdAAAAAAAAA"
OLD_EPOCH = 7
STALE_SESSION_MS = 4000

# name -> (topic id or None, {partition: (replicas, state: (leader, leader_epoch, isr, controller_epoch,
#          number of setData after the create, i.e. the state znode's zkVersion))})
TOPICS = {
    "orders": ("b2Jk0RZrTlOQ3Qn8t2uZ1w", {0: ([1, 2, 3], (1, 4, [1, 2, 3], 7, 5)),
                                         1: ([2, 3, 1], (2, 3, [2, 3, 1], 6, 3)),
                                         2: ([3, 1, 2], (3, 6, [3, 1, 2], 7, 8))}),
    "accounts": ("YWNjb3VudHNfX19fX19fXw", {0: ([2, 1, 3], (2, 2, [2, 1, 3], 5, 2))}),
    # led by broker 4, decommissioned and dead: offline at the failover, so Kafka elects broker 1 from the ISR
    "stranded": ("c3RyYW5kZWRfX19fX19fXw", {0: ([4, 1, 2], (4, 9, [4, 1, 2], 7, 11))}),
    # written by IBP < 2.8: no topic id yet
    "old": (None, {0: ([3, 2, 1], (3, 1, [3, 2, 1], 7, 1))}),
    # marked for deletion in /admin/delete_topics
    "gone": ("Z29uZV9fX19fX19fX19fXw", {0: ([1, 3, 2], (1, 0, [1, 3, 2], 7, 1)),
                                       1: ([3, 2, 1], (3, 0, [3, 2, 1], 7, 1))}),
}
TOPIC_CONFIGS = {
    "orders": {"retention.ms": "86400000", "max.message.bytes": "2097152"},
    "accounts": {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"},
    "gone": {"retention.ms": "3600000"},
}
PRODUCER_ID_BLOCK = b'{"version":1,"broker":2,"block_start":"5000","block_end":"5999"}'
FEATURE = b'{"features":{},"version":2,"status":1}'

API_OFFSET_FOR_LEADER_EPOCH = 23
E_NONE, E_FENCED_LEADER_EPOCH = 0, 74


def metadata_topics(node):
    """Metadata v1 of every topic (a null topic list)."""
    with node.conn(timeout=10) as c:
        return c.metadata(None, version=1)


def offset_for_leader_epoch(node, topic, partition, current_leader_epoch):
    """OffsetForLeaderEpoch v2 as a consumer sends it: the error code of the one partition."""
    w = ferrytest.W()
    w.array([topic], lambda w, t: (w.string(t), w.array([partition], lambda w, p: (
        w.i32(p), w.i32(current_leader_epoch), w.i32(current_leader_epoch)))))
    with node.conn(timeout=30) as k:
        body = k.request(API_OFFSET_FOR_LEADER_EPOCH, 2, w.getvalue())
    r = ferrytest.R(body)
    r.i32()
    errors = []
    r.array(lambda rr: (rr.string(), rr.array(lambda x: errors.append((x.i16(), x.i32(), x.i32(), x.i64())))))
    r.end()
    return errors[0][0]


# The stale controller: a kazoo session in its own process, so that kill -9 leaves the ephemeral behind
STALE_CONTROLLER = r"""
import sys, time
from kazoo.client import KazooClient
c = KazooClient(hosts=sys.argv[1], timeout=float(sys.argv[2]))
c.start(timeout=60)
c.create("/brokers/ids/4", b'{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},'
         b'"endpoints":["PLAINTEXT://kafka4.example:9092"],"jmx_port":-1,"port":9092,"host":"kafka4.example",'
         b'"version":5,"timestamp":"1712345678901"}', ephemeral=True)
c.create("/controller", b'{"version":2,"brokerid":4,"timestamp":"1712345678901","kraftControllerEpoch":-1}',
         ephemeral=True)
sys.stdout.write("ready\n")
sys.stdout.flush()
while True:
    time.sleep(1)
"""


def topic_json(topic_id, partitions):
    d = {"partitions": {str(p): reps for p, (reps, _) in sorted(partitions.items())},
         "adding_replicas": {}, "removing_replicas": {}}
    if topic_id is None:
        d["version"] = 2
    else:
        d["version"] = 3
        d["topic_id"] = topic_id
    return json.dumps(d, separators=(",", ":")).encode()


def state_json(leader, leader_epoch, isr, ctl_epoch):
    return json.dumps({"controller_epoch": ctl_epoch, "leader": leader, "version": 1, "leader_epoch": leader_epoch,
                       "isr": isr}, separators=(",", ":")).encode()


def preload(c):
    """Writes what a Kafka 3.7 cluster of brokers 1, 2, 3 (and a decommissioned 4) leaves after it stopped."""
    for p in ("/consumers", "/brokers/ids", "/brokers/topics", "/brokers/seqid", "/config/changes",
              "/config/topics", "/config/clients", "/config/users", "/config/brokers", "/config/ips",
              "/admin/delete_topics", "/isr_change_notification", "/log_dir_event_notification"):
        c.ensure_path(p)
    c.create("/latest_producer_id_block", PRODUCER_ID_BLOCK)
    c.create("/cluster/id", b'{"version":"1","id":"%s"}' % CLUSTER_ID.encode(), makepath=True)
    c.create("/controller_epoch", b"0")
    for e in range(1, OLD_EPOCH + 1):
        c.set("/controller_epoch", str(e).encode(), version=e - 1)
    c.create("/feature", FEATURE)
    for name, (tid, parts) in TOPICS.items():
        c.create("/brokers/topics/%s" % name, topic_json(tid, parts))
        for p, (_, (leader, le, isr, ce, sets)) in parts.items():
            path = "/brokers/topics/%s/partitions/%d/state" % (name, p)
            c.create(path, state_json(leader, le, isr, ce), makepath=True)
            for v in range(sets):  # ISR shrinks and expands bump the zkVersion (the partition epoch)
                c.set(path, state_json(leader, le, isr, ce), version=v)
    for name, cfg in TOPIC_CONFIGS.items():
        c.create("/config/topics/%s" % name, json.dumps({"version": 1, "config": cfg}).encode())
    # the last kafka-configs --alter runs: their notifications, not yet purged (younger than 15 minutes)
    for name in ("orders", "accounts"):
        c.create("/config/changes/config_change_", b'{"version":2,"entity_path":"topics/%s"}' % name.encode(),
                 sequence=True)
    c.create("/admin/delete_topics/gone", None)


def dump(c, path="/"):
    """{path: (data, Stat)} of every znode below path, /zookeeper excluded."""
    out = {}
    for child in c.get_children(path):
        p = (path.rstrip("/") + "/" + child)
        if p == "/zookeeper":
            continue
        data, st = c.get(p)
        out[p] = (data, st)
        out.update(dump(c, p))
    return out


def diff(before, after):
    """(created, deleted, rewritten) paths; an ephemeral replaced by another one counts as rewritten."""
    created = {p for p in after if p not in before}
    deleted = {p for p in before if p not in after}
    rewritten = {p for p in before if p in after and (before[p][0] != after[p][0]
                                                       or before[p][1].mzxid != after[p][1].mzxid
                                                       or before[p][1].czxid != after[p][1].czxid)}
    return created, deleted, rewritten


def strict_check(path, data):
    """Checks one znode against Kafka 3.7's format for its path; returns True when a reader applies."""
    parts = path.strip("/").split("/")
    if path == "/cluster/id":
        check_cluster_id_json(data)
    elif path == "/controller":
        check_controller_json(data)
    elif path == "/controller_epoch":
        assert data.decode("ascii").isdigit(), data
    elif path == "/feature":
        check_feature_json(data)
    elif path == "/latest_producer_id_block":
        check_producer_id_block_json(data)
    elif parts[:2] == ["brokers", "ids"] and len(parts) == 3:
        check_broker_json(data, int(parts[2]))
    elif parts[:2] == ["brokers", "topics"] and len(parts) == 3:
        if json.loads(data)["version"] == 2:  # Kafka's controller only reads it (and adds the topic id)
            return True
        check_topic_json(data)
    elif parts[:2] == ["brokers", "topics"] and len(parts) == 6 and parts[5] == "state":
        check_partition_state_json(data)
    elif parts[0] == "config" and len(parts) == 3 and parts[1] == "changes":
        check_config_change_json(data)
    elif parts[0] == "config" and len(parts) == 3:
        check_config_json(data)
    else:
        assert data in (b"", None), "%s holds %r where Kafka leaves no data" % (path, data)
    return True


class KafkaWrittenZooKeeper(ferrytest.FerryTestCase):
    def start_stale_controller(self, zk):
        proc = subprocess.Popen(["/usr/bin/python3", "-c", STALE_CONTROLLER, zk.connect_string,
                                 str(STALE_SESSION_MS / 1000.0)], stdout=subprocess.PIPE)

        def stop():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(60)
            proc.stdout.close()
        self.addCleanup(stop)
        self.assertEqual(proc.stdout.readline(), b"ready\n")
        return proc, stop

    def kcat(self, args, input=None):
        res = ferrytest.run_kcat(args, input=input, timeout=120)
        self.assertEqual(res.returncode, 0, res)
        self.assertNotIn(b"Delivery failed", res.stderr, res)
        return res.stdout

    def test_ferry_adopts_a_kafka_written_zookeeper(self):
        zk = zkharness.start_for_test(self)
        c = zk.client()
        self.addCleanup(c.close)
        self.addCleanup(c.stop)
        preload(c)
        _, kill_stale_controller = self.start_stale_controller(zk)
        before = dump(c)
        for path, (data, _) in before.items():
            strict_check(path, data)  # the test's own fixture is Kafka's format too

        nodes = [legacy_node(self, zk.connect_string, i) for i in (1, 2, 3)]
        for n in nodes:
            n.start()
        wait_until(lambda: live_broker_ids(c) == [1, 2, 3, 4], what="3 registered brokers beside the stale 4")
        for n in nodes:
            wait_until(lambda: "the controller is now 4" in n.log_text(), what="%s to see stale controller 4" % n.name)
        self.assertEqual(controller_epoch(c)[0], OLD_EPOCH, "nobody may take over while /controller is held")
        t0 = time.monotonic()
        kill_stale_controller()
        ctl, _ = wait_until(lambda: controller(c)[0] in (1, 2, 3) and controller(c),
                            timeout=STALE_SESSION_MS / 1000.0 + 90, what="a Ferry controller")
        log("broker %d took over %.2f s after the stale controller's process died (its session: %d ms)"
            % (ctl, time.monotonic() - t0, STALE_SESSION_MS))
        epoch, epoch_version, _ = controller_epoch(c)
        self.assertEqual((epoch, epoch_version), (OLD_EPOCH + 1, OLD_EPOCH + 1))
        ctl_node = [n for n in nodes if n.node_id == ctl][0]
        wait_until(lambda: "is the active controller: epoch %d" % epoch in ctl_node.log_text(),
                   what="broker %d to load ZooKeeper as the controller" % ctl)

        # the adopted cluster id
        for n in nodes:
            self.assertEqual(metadata(n, version=2)["cluster_id"], CLUSTER_ID)
            with open(os.path.join(n.data_dir, "meta.properties")) as f:
                self.assertIn("cluster.id=%s" % CLUSTER_ID, f.read())

        # the pending deletion completes
        wait_until(lambda: not c.exists("/brokers/topics/gone") and not c.exists("/admin/delete_topics/gone"),
                   timeout=120, what="the pending deletion of gone")
        # the stranded partition gets broker 1 (first live replica of the ISR), the leader epoch continues
        stranded = wait_until(lambda: (lambda st: st if st[0]["leader"] == 1 else None)(self.state(c, "stranded", 0)),
                              timeout=90, what="stranded-0 led by broker 1")
        self.assertEqual(stranded[0], {"controller_epoch": epoch, "leader": 1, "version": 1, "leader_epoch": 10,
                                       "isr": [1, 2]})
        self.assertEqual(stranded[1], 12)
        # the old topic gets a topic id
        old = wait_until(lambda: (lambda d: d if d.get("version") == 3 else None)(
            json.loads(c.get("/brokers/topics/old")[0])), timeout=90, what="a topic id for old")
        check_topic_json(json.dumps(old).encode())
        self.assertEqual(old["partitions"], {"0": [3, 2, 1]})

        # every broker serves the adopted topics with their leaders and ISRs; each leader has the leader epoch of
        # the state znode (continued, not reset): OffsetForLeaderEpoch with that current epoch is accepted, one
        # below it is fenced
        want = {name: {p: (st[0], st[1], st[2]) for p, (_, st) in parts.items()}
                for name, (_, parts) in TOPICS.items() if name not in ("gone", "stranded")}
        want["stranded"] = {0: (1, 10, [1, 2])}

        def served(n):
            md = metadata_topics(n)
            got = {t["name"]: {p["partition"]: (p["leader"], p["isr"]) for p in t["partitions"]}
                   for t in md["topics"] if t["error"] == 0}
            return got == {t: {p: (v[0], v[2]) for p, v in ps.items()} for t, ps in want.items()} or None
        for n in nodes:
            wait_until(lambda: served(n), timeout=120, what="%s to serve the adopted topics" % n.name)
        for topic, parts in want.items():
            for p, (leader, leader_epoch, _) in parts.items():
                node = [n for n in nodes if n.node_id == leader][0]
                self.assertEqual(offset_for_leader_epoch(node, topic, p, leader_epoch), E_NONE, (topic, p))
                self.assertEqual(offset_for_leader_epoch(node, topic, p, leader_epoch - 1), E_FENCED_LEADER_EPOCH,
                                 (topic, p))

        # produce and consume: kcat (acks=all) on every partition of orders, kafka-python on stranded
        for p in range(3):
            lines = b"".join(b"orders-%d-%d\n" % (p, i) for i in range(50))
            self.kcat(["-P", "-b", nodes[0].bootstrap, "-t", "orders", "-p", str(p), "-X",
                       "message.timeout.ms=60000", "-X", "request.required.acks=-1"], input=lines)
            got = wait_until(lambda: (lambda out: out if out == lines else None)(self.kcat(
                ["-C", "-b", nodes[1].bootstrap, "-t", "orders", "-p", str(p), "-o", "beginning", "-e", "-q",
                 "-f", "%s\n"])), timeout=120, what="orders-%d read back" % p)
            self.assertEqual(got, lines)
        self.kafka_python_round_trip(nodes, "stranded", 0)
        # an idempotent producer gets its producer id from the block after Kafka's last one
        self.idempotent_produce(nodes, "accounts")
        block = check_producer_id_block_json(c.get("/latest_producer_id_block")[0])
        self.assertEqual(block[1:], (6000, 6999), block)

        # DescribeConfigs shows the overrides Kafka's tools wrote
        self.assert_topic_configs(nodes[2])

        # what changed in ZooKeeper: exactly what Kafka's controller and brokers would have written
        after = dump(c)
        for path, (data, _) in after.items():
            strict_check(path, data)
        created, deleted, rewritten = diff(before, after)
        self.assertEqual(created, {"/brokers/ids/1", "/brokers/ids/2", "/brokers/ids/3"})
        # /brokers/ids/4 went with the stale session
        self.assertEqual(deleted, {"/brokers/ids/4"} | {p for p in before if p == "/brokers/topics/gone"
                                   or p.startswith("/brokers/topics/gone/")}
                         | {"/config/topics/gone", "/admin/delete_topics/gone"})
        self.assertEqual(rewritten, {"/controller", "/controller_epoch", "/brokers/topics/stranded/partitions/0/state",
                                     "/brokers/topics/old", "/latest_producer_id_block"})
        for n in nodes:
            self.assertAlive(n)

    def state(self, c, topic, partition):
        data, st = c.get("/brokers/topics/%s/partitions/%d/state" % (topic, partition))
        return check_partition_state_json(data), st.version

    def kafka_python_round_trip(self, nodes, topic, partition):
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition
        boot = [n.bootstrap for n in nodes]
        prod = KafkaProducer(bootstrap_servers=boot, acks="all", retries=10, api_version_auto_timeout_ms=30000)
        try:
            for i in range(20):
                prod.send(topic, value=b"kp-%d" % i, partition=partition).get(timeout=60)
        finally:
            prod.close(30)
        tp = TopicPartition(topic, partition)
        cons = KafkaConsumer(bootstrap_servers=boot, enable_auto_commit=False, consumer_timeout_ms=5000,
                             api_version_auto_timeout_ms=30000)
        try:
            cons.assign([tp])
            cons.seek_to_beginning(tp)
            seen = []
            deadline = time.monotonic() + 120
            while len(seen) < 20 and time.monotonic() < deadline:
                seen.extend(m.value for m in cons)
        finally:
            cons.close()
        self.assertEqual(seen, [b"kp-%d" % i for i in range(20)])

    def idempotent_produce(self, nodes, topic):
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": ",".join(n.bootstrap for n in nodes), "enable.idempotence": True,
                      "message.timeout.ms": 60000})
        errors = []
        for i in range(10):
            p.produce(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0,
                      on_delivery=lambda err, msg: err and errors.append(err))
        self.assertEqual(p.flush(90), 0)
        self.assertEqual(errors, [])

    def assert_topic_configs(self, node):
        from confluent_kafka.admin import ConfigResource
        a = ferrytest.admin(node)
        for name, cfg in TOPIC_CONFIGS.items():
            if name == "gone":
                continue
            res = ConfigResource(ConfigResource.Type.TOPIC, name)
            got = a.describe_configs([res], request_timeout=60)[res].result(60)
            for k, v in cfg.items():
                self.assertEqual(got[k].value, v, "%s %s" % (name, k))
                self.assertEqual(getattr(got[k].source, "value", got[k].source), 1,
                                 "%s %s is a dynamic topic config" % (name, k))
            self.assertTrue(got["segment.bytes"].is_default, name)
            # one INFO line per changed entity, its keys at DEBUG only
            line = "INFO metadata: config of resource 2/%s changed: %d key(s) set" % (name, len(cfg))
            wait_until(lambda: line in node.log_text(), what="%s to log %r" % (node.name, line))
            self.assertNotIn("INFO metadata: config of resource 2/%s set:" % name, node.log_text())


if __name__ == "__main__":
    unittest.main()
