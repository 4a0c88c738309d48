"""Legacy mode (ZooKeeper) admin: CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs and
IncrementalAlterConfigs written by any broker as Kafka 3.7's AdminZkClient writes them (checked with the strict
readers of zkcluster.py; CreatePartitions refused during a reassignment and retried after losing a concurrent
update), config change notifications applied by every broker (written by another broker or by a
kazoo client as kafka-configs --zookeeper would; replayed at start-up; malformed ones logged with their path and
skipped), producer-id blocks from /latest_producer_id_block, and /feature.

Every wait polls with a generous deadline; no duration is asserted."""
import json
import os
import shutil
import signal
import subprocess
import unittest

import ferrytest
import zkharness
from kazoo.exceptions import NoNodeError
from ferrytest import R, W
from zkcluster import (check_config_change_json, check_config_json, check_feature_json, check_producer_id_block_json,
                       check_topic_json, controller, legacy_node, live_broker_ids, metadata, wait_until)

API_CREATE_PARTITIONS = 37
API_INCREMENTAL_ALTER_CONFIGS = 44
API_INIT_PRODUCER_ID = 22

UNKNOWN_SERVER_ERROR, NONE, UNKNOWN_TOPIC, REQUEST_TIMED_OUT = -1, 0, 3, 7
INVALID_TOPIC, TOPIC_EXISTS, INVALID_PARTITIONS, INVALID_RF = 17, 36, 37, 38
INVALID_REQUEST, INVALID_CONFIG, TOPIC_DELETION_DISABLED = 42, 40, 73
REASSIGNMENT_IN_PROGRESS = 60


def enc_create_partitions(topics, timeout_ms=0, validate_only=False):
    """CreatePartitions v1: topics [(name, count)], no manual assignments."""
    w = W()

    def topic(w, t):
        w.string(t[0])
        w.i32(t[1])
        w.i32(-1)  # null assignments
    w.array(topics, topic)
    w.i32(timeout_ms)
    w.boolean(validate_only)
    return w.getvalue()


def dec_create_partitions(body):
    r = R(body)
    r.i32()
    out = {}

    def res(rr):
        name = rr.string()
        out[name] = (rr.i16(), rr.string())
    r.array(res)
    r.end()
    return out


def enc_incremental_alter_configs(resources, validate_only=False):
    """IncrementalAlterConfigs v0: resources [(type, name, [(key, op, value)])]; op 0 SET, 1 DELETE."""
    w = W()

    def cfg(w, c):
        w.string(c[0])
        w.i8(c[1])
        if c[2] is None:
            w.i16(-1)
        else:
            w.string(c[2])

    def res(w, r):
        w.i8(r[0])
        w.string(r[1])
        w.array(r[2], cfg)
    w.array(resources, res)
    w.boolean(validate_only)
    return w.getvalue()


def dec_incremental_alter_configs(body):
    r = R(body)
    r.i32()
    out = {}

    def res(rr):
        err = rr.i16()
        msg = rr.string()
        rtype = rr.i8()
        out[(rtype, rr.string())] = (err, msg)
    r.array(res)
    r.end()
    return out


def describe_topic_config(node, topic, key, with_default=False):
    """DescribeConfigs v0 of one topic key on this broker: (error, value), or (error, value, is_default)."""
    w = W()
    w.array([(2, topic, [key])], lambda w, r: (w.i8(r[0]), w.string(r[1]), w.array(r[2], lambda w, k: w.string(k))))
    with node.conn(timeout=30) as k:
        body = k.request(32, 0, w.getvalue())
    r = R(body)
    r.i32()
    out = []

    def result(rr):
        err = rr.i16()
        rr.string()
        rr.i8()
        rr.string()
        cfgs = rr.array(lambda x: (x.string(), x.string(), x.boolean(), x.boolean(), x.boolean()))
        out.append((err, {c[0]: (c[1], c[3]) for c in cfgs}))
    r.array(result)
    r.end()
    err, cfgs = out[0]
    value, is_default = cfgs.get(key, (None, None))
    return (err, value, is_default) if with_default else (err, value)


class LegacyAdmin(ferrytest.FerryTestCase):
    def start_cluster(self, zk, ids=(1, 2, 3), racks=None, extra=None):
        nodes = []
        for i in ids:
            cfg = dict(extra or {})
            if racks:
                cfg["broker.rack"] = racks[i]
            nodes.append(legacy_node(self, zk.connect_string, i, extra=cfg))
        for n in nodes:
            n.start()
        return nodes

    def zk_client(self, zk):
        c = zk.client()
        self.addCleanup(c.close)
        self.addCleanup(c.stop)
        return c

    def wait_cluster(self, c, nodes):
        ids = sorted(n.node_id for n in nodes)
        wait_until(lambda: live_broker_ids(c) == ids, what="%d registered brokers" % len(ids))
        ctl, _ = wait_until(lambda: controller(c)[0] is not None and controller(c), what="a controller")
        for n in nodes:
            wait_until(lambda: sorted(b["node_id"] for b in metadata(n)["brokers"]) == ids,
                       what="%s seeing every broker" % n.name)
        return ctl

    def create(self, node, topics, version=4, timeout_ms=0, validate_only=False):
        with node.conn(timeout=30) as k:
            return k.create_topics(topics, version=version, timeout_ms=timeout_ms, validate_only=validate_only)

    def topic_znode(self, c, name):
        data, st = c.get("/brokers/topics/%s" % name)
        return check_topic_json(data), st

    def notifications(self, c):
        return sorted(c.get_children("/config/changes"))

    def wait_log(self, nodes, text, what=None):
        for n in nodes:
            wait_until(lambda: text in n.log_text(), what=what or "%s logging %r" % (n.name, text))

    def wait_topic_config(self, nodes, topic, key, value):
        """Every broker's image (DescribeConfigs) holds key=value for the topic; value None: the default (the
        broker logs one line per changed entity at INFO, each key only at DEBUG)."""
        for n in nodes:
            def applied():
                err, got, is_default = describe_topic_config(n, topic, key, True)
                return err == NONE and (is_default if value is None else got == value)
            wait_until(applied, what="DescribeConfigs %s %s=%s on %s" % (topic, key, value or "(default)", n.name))

    # ---- CreateTopics -------------------------------------------------------------------------------------
    def test_create_topics_on_any_broker_as_admin_zk_client(self):
        zk = zkharness.start_for_test(self)
        racks = {1: "a", 2: "a", 3: "b"}
        nodes = self.start_cluster(zk, racks=racks)
        c = self.zk_client(zk)
        ctl = self.wait_cluster(c, nodes)
        other = [n for n in nodes if n.node_id != ctl][0]
        before = self.notifications(c)
        res = self.create(other, [("orders", 6, 2, {"retention.ms": "86400000"})])
        self.assertEqual(res, {"orders": (NONE, None)})
        d, st = self.topic_znode(c, "orders")
        self.assertEqual(sorted(d["partitions"], key=int), [str(p) for p in range(6)])
        self.assertEqual(d["adding_replicas"], {})
        self.assertEqual(d["removing_replicas"], {})
        leaders = set()
        for p, reps in d["partitions"].items():
            self.assertEqual(len(reps), 2, p)
            self.assertEqual(len(set(reps)), 2, p)
            self.assertTrue(set(reps) <= {1, 2, 3}, reps)
            # rack-aware: two replicas always on two racks
            self.assertEqual({racks[r] for r in reps}, {"a", "b"}, "partition %s on %s" % (p, reps))
            leaders.add(reps[0])
        self.assertGreater(len(leaders), 1, "preferred leaders are striped over the brokers")
        self.assertEqual(check_config_json(c.get("/config/topics/orders")[0]), {"retention.ms": "86400000"})
        # Kafka writes no change notification when it creates a topic
        self.assertEqual(self.notifications(c), before)

        # errors, as Kafka's validation answers them; nothing written for them
        self.assertEqual(self.create(ctl_node(nodes, ctl), [("orders", 1, 1)])["orders"][0], TOPIC_EXISTS)
        self.assertEqual(self.create(other, [("wide", 1, 4)])["wide"][0], INVALID_RF)
        self.assertEqual(self.create(other, [("bad/name", 1, 1)])["bad/name"][0], INVALID_TOPIC)
        self.assertEqual(self.create(other, [("badcfg", 1, 1, {"retention.ms": "soon"})])["badcfg"][0],
                         INVALID_CONFIG)
        self.assertEqual(self.create(other, [("zero", 0, 1)])["zero"][0], INVALID_PARTITIONS)
        self.assertEqual(self.create(other, [("dry", 3, 3)], validate_only=True), {"dry": (NONE, None)})
        self.assertEqual(self.create(other, [("a_b", 1, 1)])["a_b"][0], NONE)
        self.assertEqual(self.create(other, [("a.b", 1, 1)])["a.b"][0], INVALID_TOPIC)
        for t in ("wide", "bad/name", "badcfg", "zero", "dry", "a.b"):
            if "/" not in t:
                self.assertIsNone(c.exists("/brokers/topics/%s" % t), t)
                self.assertIsNone(c.exists("/config/topics/%s" % t), t)
        # an empty config is written too (createTopicWithAssignment writes it even when empty)
        self.assertEqual(check_config_json(c.get("/config/topics/a_b")[0]), {})
        check_topic_json(c.get("/brokers/topics/a_b")[0])

        # confluent-kafka's admin client (operation_timeout 0: answered once the znodes are written)
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": other.bootstrap})
        fs = admin.create_topics([NewTopic("cfk", num_partitions=2, replication_factor=3)], operation_timeout=0)
        self.assertIsNone(fs["cfk"].result(timeout=60))
        d, _ = self.topic_znode(c, "cfk")
        self.assertEqual({p: sorted(r) for p, r in d["partitions"].items()}, {"0": [1, 2, 3], "1": [1, 2, 3]})

    def test_create_topics_timeout_answers_when_leaders_are_known(self):
        """With timeout_ms the answer waits for leaders in the broker's metadata (Kafka's DelayedCreatePartitions):
        NONE only if Metadata then shows a leader for every partition (REQUEST_TIMED_OUT at the timeout
        otherwise); with the controller running, NONE."""
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk, ids=(1, 2))
        c = self.zk_client(zk)
        self.wait_cluster(c, nodes)
        n = nodes[0]
        err, _ = self.create(n, [("waited", 2, 2)], timeout_ms=3000)["waited"]
        self.assertIn(err, (NONE, REQUEST_TIMED_OUT))
        self.assertTrue(c.exists("/brokers/topics/waited"))
        self.assertEqual(err, NONE, "the controller gives every partition a leader within the timeout")

        def led_waited():
            with n.conn(timeout=10) as k:
                md = k.metadata(["waited"], version=1)
            parts = [p for t in md["topics"] if t["name"] == "waited" for p in t["partitions"]]
            return len(parts) == 2 and all(p["leader"] >= 0 for p in parts)
        # answered once the image has the leaders; a partition this broker leads is named in Metadata once
        # its log is created off the loop (LEADER_NOT_AVAILABLE for that moment)
        wait_until(led_waited, what="a leader for every partition of waited in the metadata")
        # kafka-python's admin client waits the same way (its request timeout as timeout_ms)
        from kafka.admin import KafkaAdminClient, NewTopic
        admin = KafkaAdminClient(bootstrap_servers=nodes[1].bootstrap, request_timeout_ms=60000)
        self.addCleanup(admin.close)
        resp = admin.create_topics([NewTopic("kp", 3, 2)])
        self.assertEqual([e[1] for e in resp.topic_errors], [NONE])

        def led_kp():
            with nodes[1].conn(timeout=10) as k:
                parts = [p for t in k.metadata(["kp"], version=1)["topics"] for p in t["partitions"]]
            return sorted(p["partition"] for p in parts if p["leader"] >= 0) == [0, 1, 2]
        # polled: the answer came from the controller's broker once its image had the leaders; nodes[1]
        # names a partition it leads only once its log is created off its loop (LEADER_NOT_AVAILABLE before)
        wait_until(led_kp, what="a leader for every partition of kp in nodes[1]'s metadata")

    def test_auto_creation_through_the_same_path(self):
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk, ids=(1, 2), extra={"num.partitions": "3", "default.replication.factor": "2",
                                                          "offsets.topic.num.partitions": "4",
                                                          "offsets.topic.replication.factor": "2"})
        c = self.zk_client(zk)
        self.wait_cluster(c, nodes)
        with nodes[1].conn(timeout=30) as k:
            md = k.metadata(["autotopic"], version=4, allow_auto=True)
        self.assertIn(md["topics"][0]["error"], (5, 0))  # LEADER_NOT_AVAILABLE while it is being created
        wait_until(lambda: c.exists("/brokers/topics/autotopic"), what="/brokers/topics/autotopic")
        d, _ = self.topic_znode(c, "autotopic")
        self.assertEqual(sorted(d["partitions"], key=int), ["0", "1", "2"])
        self.assertTrue(all(len(set(r)) == 2 for r in d["partitions"].values()), d)
        self.assertEqual(check_config_json(c.get("/config/topics/autotopic")[0]), {})
        # not allowed by the request: nothing created
        with nodes[0].conn(timeout=30) as k:
            k.metadata(["notauto"], version=4, allow_auto=False)
        # __consumer_offsets from FindCoordinator, with its own settings and configs
        with nodes[0].conn(timeout=30) as k:
            k.request(10, 0, W().string("group-1").getvalue())  # FindCoordinator v0
        wait_until(lambda: c.exists("/brokers/topics/__consumer_offsets"), what="/brokers/topics/__consumer_offsets")
        d, _ = self.topic_znode(c, "__consumer_offsets")
        self.assertEqual(sorted(d["partitions"], key=int), ["0", "1", "2", "3"])
        self.assertTrue(all(len(set(r)) == 2 for r in d["partitions"].values()), d)
        cfg = check_config_json(c.get("/config/topics/__consumer_offsets")[0])
        self.assertEqual(cfg.get("cleanup.policy"), "compact")
        self.assertEqual(cfg.get("compression.type"), "producer")
        self.assertIn("segment.bytes", cfg)
        self.assertIsNone(c.exists("/brokers/topics/notauto"))
        # asking again for an existing topic does not rewrite its config
        c.set("/config/topics/autotopic", json.dumps({"version": 1, "config": {"retention.ms": "99"}}).encode())
        with nodes[1].conn(timeout=30) as k:
            k.metadata(["autotopic"], version=4, allow_auto=True)
            k.metadata(["autotopic"], version=4, allow_auto=True)
        self.assertEqual(check_config_json(c.get("/config/topics/autotopic")[0]), {"retention.ms": "99"})

    def test_create_topics_times_out_while_the_controller_is_frozen(self):
        """The controller SIGSTOPped (its /controller stays until its session times out, 6 s): nobody gives the
        new partition a leader, so a create with a 1.5 s timeout answers REQUEST_TIMED_OUT; the znodes are
        written all the same, and the controller starts the topic once it runs again."""
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk, ids=(1, 2))
        c = self.zk_client(zk)
        ctl = self.wait_cluster(c, nodes)
        frozen = ctl_node(nodes, ctl)
        other = [n for n in nodes if n is not frozen][0]
        os.kill(frozen.pid, signal.SIGSTOP)
        try:
            res = self.create(other, [("orphan", 1, 1)], timeout_ms=1500)
            holder = controller(c)[0]
        finally:
            os.kill(frozen.pid, signal.SIGCONT)
        self.assertEqual(holder, ctl, "the frozen controller's session outlasted the create")
        self.assertEqual(res["orphan"][0], REQUEST_TIMED_OUT)
        check_topic_json(c.get("/brokers/topics/orphan")[0])
        wait_until(lambda: c.exists("/brokers/topics/orphan/partitions/0/state"), what="orphan-0 started")

    # ---- DeleteTopics ----------------------------------------------------------------------------------------
    def test_delete_topics_marks_for_deletion(self):
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk, ids=(1, 2))
        c = self.zk_client(zk)
        self.wait_cluster(c, nodes)
        # created completely first: a marker the controller sees before the topic is dropped as "no such
        # topic", as Kafka's TopicDeletionManager does
        self.assertEqual(self.create(nodes[1], [("doomed", 2, 1)], timeout_ms=60000)["doomed"][0], NONE)
        with nodes[1].conn(timeout=30) as k:
            res = k.delete_topics(["doomed", "never"], version=3, timeout_ms=0)
        self.assertEqual(res, {"doomed": NONE, "never": UNKNOWN_TOPIC})
        # the marker (null data), unless the controller already deleted the topic and removed it
        try:
            data, _ = c.get("/admin/delete_topics/doomed")
            self.assertIn(data, (b"", None))
        except NoNodeError:
            self.assertIsNone(c.exists("/brokers/topics/doomed"), "marker gone but the topic is still there")
        wait_until(lambda: not c.exists("/brokers/topics/doomed"), what="the controller deleting the topic")
        self.assertIsNone(c.exists("/admin/delete_topics/never"))
        with nodes[0].conn(timeout=30) as k:  # gone: unknown now
            self.assertEqual(k.delete_topics(["doomed"], version=3, timeout_ms=0), {"doomed": UNKNOWN_TOPIC})

    def test_delete_topics_disabled(self):
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk, ids=(1,), extra={"delete.topic.enable": "false"})
        c = self.zk_client(zk)
        self.wait_cluster(c, nodes)
        self.assertEqual(self.create(nodes[0], [("kept", 1, 1)])["kept"][0], NONE)
        with nodes[0].conn(timeout=30) as k:
            self.assertEqual(k.delete_topics(["kept"], version=3, timeout_ms=0), {"kept": TOPIC_DELETION_DISABLED})
        self.assertIsNone(c.exists("/admin/delete_topics/kept"))
        self.assertTrue(c.exists("/brokers/topics/kept"))

    # ---- CreatePartitions ------------------------------------------------------------------------------------
    def test_create_partitions_rewrites_the_assignment(self):
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk)
        c = self.zk_client(zk)
        self.wait_cluster(c, nodes)
        self.assertEqual(self.create(nodes[2], [("grow", 2, 2)])["grow"][0], NONE)
        d0, st0 = self.topic_znode(c, "grow")
        with nodes[0].conn(timeout=30) as k:
            res = dec_create_partitions(k.request(API_CREATE_PARTITIONS, 1, enc_create_partitions([("grow", 5)])))
        self.assertEqual(res, {"grow": (NONE, None)})
        d1, st1 = self.topic_znode(c, "grow")
        self.assertEqual(st1.version, st0.version + 1)
        self.assertEqual(d1["topic_id"], d0["topic_id"])
        self.assertEqual(sorted(d1["partitions"], key=int), ["0", "1", "2", "3", "4"])
        for p in ("0", "1"):
            self.assertEqual(d1["partitions"][p], d0["partitions"][p])
        for p in ("2", "3", "4"):
            self.assertEqual(len(set(d1["partitions"][p])), 2)
        with nodes[1].conn(timeout=30) as k:
            res = dec_create_partitions(k.request(API_CREATE_PARTITIONS, 1,
                                                  enc_create_partitions([("grow", 3), ("nosuch", 2)])))
        self.assertEqual(res["grow"][0], INVALID_PARTITIONS)
        self.assertEqual(res["nosuch"][0], UNKNOWN_TOPIC)
        self.assertEqual(self.topic_znode(c, "grow")[1].version, st1.version)
        # six requests (two per broker) growing the same topic at once: the setData is conditional on the
        # zkVersion read, so exactly one wins and no partition is lost; a loser reads the topic again and
        # answers as if it had come after the winner (INVALID_PARTITIONS), never UNKNOWN_SERVER_ERROR
        import threading
        out = {}
        conns = [n.conn(timeout=120) for n in nodes for _ in range(2)]
        for k in conns:
            self.addCleanup(k.close)
        body = enc_create_partitions([("grow", 6)])
        sent = [(k, k.send(API_CREATE_PARTITIONS, 1, body)) for k in conns]  # all out before any answer

        def answer(i, k, corr):
            got, payload = k.recv()
            out[i] = dec_create_partitions(payload)["grow"] if got == corr else ("bad correlation", got)
        threads = [threading.Thread(target=answer, args=(i, k, corr)) for i, (k, corr) in enumerate(sent)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(sorted(out), list(range(6)), out)
        self.assertEqual([e for e, _ in out.values()].count(NONE), 1, out)
        for e, msg in out.values():
            if e != NONE:
                self.assertEqual((e, msg), (INVALID_PARTITIONS, "Topic already has 6 partition(s)."), out)
        retried = sum("changed while being written" in n.log_text() for n in nodes)
        ferrytest.log("concurrent CreatePartitions: %d broker(s) retried after a BADVERSION" % retried)
        d6, st6 = self.topic_znode(c, "grow")
        self.assertEqual(sorted(d6["partitions"], key=int), [str(p) for p in range(6)])
        self.assertEqual(st6.version, st1.version + 1)
        # kafka-python's admin client
        from kafka.admin import KafkaAdminClient, NewPartitions
        admin = KafkaAdminClient(bootstrap_servers=nodes[2].bootstrap, request_timeout_ms=30000)
        self.addCleanup(admin.close)
        admin.create_partitions({"grow": NewPartitions(7)})
        self.assertEqual(len(self.topic_znode(c, "grow")[0]["partitions"]), 7)

    def test_create_partitions_retry_keeps_the_other_topics_errors(self):
        """A CreatePartitions that loses its version-checked setData for one topic decides that topic again;
        the other topics of the request keep their own outcome: a write refused by ZooKeeper (here NOAUTH on
        a read-only topic znode) is an error, never a success for partitions that were not created. Two
        requests pipelined on one connection read the topic before either writes (the session's FIFO order),
        so the second one's setData of that topic always loses."""
        from kazoo.security import make_acl
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk, ids=(1,))
        c = self.zk_client(zk)
        self.wait_cluster(c, nodes)
        res = self.create(nodes[0], [("race", 1, 1), ("locked", 1, 1)])
        self.assertEqual((res["race"][0], res["locked"][0]), (NONE, NONE), res)
        c.set_acls("/brokers/topics/locked", [make_acl("world", "anyone", read=True)])
        with nodes[0].conn(timeout=60) as k:
            c1, f1 = k.frame(API_CREATE_PARTITIONS, 1, enc_create_partitions([("race", 2)]))
            c2, f2 = k.frame(API_CREATE_PARTITIONS, 1, enc_create_partitions([("race", 2), ("locked", 2)]))
            k.send_raw(f1 + f2)  # one segment: both are being decided before either writes
            first = dec_create_partitions(k.recv_body(API_CREATE_PARTITIONS, 1, c1))
            second = dec_create_partitions(k.recv_body(API_CREATE_PARTITIONS, 1, c2))
        self.assertIn("changed while being written", nodes[0].log_text())  # the second one did retry
        self.assertEqual(first, {"race": (NONE, None)})
        self.assertEqual(second["race"], (INVALID_PARTITIONS, "Topic already has 2 partition(s)."), second)
        self.assertEqual(second["locked"][0], UNKNOWN_SERVER_ERROR, second)
        self.assertIn("ZooKeeper write failed", second["locked"][1] or "", second)
        self.assertEqual(len(self.topic_znode(c, "race")[0]["partitions"]), 2)
        self.assertEqual(len(self.topic_znode(c, "locked")[0]["partitions"]), 1)

    def test_create_partitions_refused_during_a_reassignment(self):
        """As Kafka 3.7's ZkAdminManager: a topic whose znode lists adding/removing replicas (a reassignment in
        progress) gets REASSIGNMENT_IN_PROGRESS, before any other check, and its znode is not written; the
        other topics of the request are served."""
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk)
        c = self.zk_client(zk)
        self.wait_cluster(c, nodes)
        self.assertEqual(self.create(nodes[0], [("moving", 1, 2), ("still", 1, 2)])["moving"][0], NONE)
        d, st = self.topic_znode(c, "moving")
        replicas = d["partitions"]["0"]
        spare = [n.node_id for n in nodes if n.node_id not in replicas][0]
        d["partitions"]["0"] = replicas + [spare]  # the union, as the controller writes it mid-reassignment
        d["adding_replicas"] = {"0": [spare]}
        d["removing_replicas"] = {"0": [replicas[0]]}
        c.set("/brokers/topics/moving", json.dumps(d).encode(), version=st.version)
        st = c.get("/brokers/topics/moving")[1]
        with nodes[1].conn(timeout=30) as k:
            res = dec_create_partitions(k.request(API_CREATE_PARTITIONS, 1,
                                                  enc_create_partitions([("moving", 3), ("still", 2)])))
            self.assertEqual(res["moving"], (REASSIGNMENT_IN_PROGRESS,
                                             "A partition reassignment is in progress for the topic 'moving'."))
            self.assertEqual(res["still"], (NONE, None))
            # even a count that is not an increase: the reassignment is what Kafka reports
            res = dec_create_partitions(k.request(API_CREATE_PARTITIONS, 1, enc_create_partitions([("moving", 1)])))
            self.assertEqual(res["moving"][0], REASSIGNMENT_IN_PROGRESS)
        self.assertEqual(c.get("/brokers/topics/moving")[1].version, st.version)
        self.assertEqual(len(self.topic_znode(c, "still")[0]["partitions"]), 2)

    # ---- configs and notifications ---------------------------------------------------------------------------
    def test_alter_configs_write_entity_and_notification_applied_by_every_broker(self):
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk)
        c = self.zk_client(zk)
        self.wait_cluster(c, nodes)
        self.assertEqual(self.create(nodes[0], [("cfg", 1, 1, {"segment.ms": "600000"})])["cfg"][0], NONE)
        self.assertEqual(self.create(nodes[0], [("a_b", 1, 1)])["a_b"][0], NONE)
        before = self.notifications(c)
        from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
        admin = KafkaAdminClient(bootstrap_servers=nodes[1].bootstrap, request_timeout_ms=30000)
        self.addCleanup(admin.close)
        resp = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "cfg", configs={"retention.ms": "1000"})])
        self.assertEqual([r[0] for r in resp.resources], [NONE])
        # AlterConfigs replaces the whole set, as Kafka
        self.assertEqual(check_config_json(c.get("/config/topics/cfg")[0]), {"retention.ms": "1000"})
        new = [n for n in self.notifications(c) if n not in before]
        self.assertEqual(len(new), 1)
        self.assertTrue(new[0].startswith("config_change_") and len(new[0]) == len("config_change_") + 10, new[0])
        self.assertEqual(check_config_change_json(c.get("/config/changes/" + new[0])[0]), "topics/cfg")
        # DescribeConfigs on every broker reads it from its image (once the controller told it of the topic)
        for n in nodes:
            wait_until(lambda: describe_topic_config(n, "cfg", "retention.ms") == (NONE, "1000"),
                       what="DescribeConfigs retention.ms=1000 on %s" % n.name)
        self.wait_topic_config(nodes, "cfg", "segment.ms", None)

        # IncrementalAlterConfigs: SET one key, DELETE another; unknown topic and a bad value refused
        with nodes[2].conn(timeout=30) as k:
            res = dec_incremental_alter_configs(k.request(API_INCREMENTAL_ALTER_CONFIGS, 0, enc_incremental_alter_configs([
                (2, "cfg", [("cleanup.policy", 0, "compact"), ("retention.ms", 1, None)]),
                (2, "nosuch", [("retention.ms", 0, "5")]),
                (2, "a_b", [("retention.ms", 0, "soon")])])))
        self.assertEqual(res[(2, "cfg")][0], NONE)
        self.assertEqual(res[(2, "nosuch")][0], UNKNOWN_TOPIC)
        self.assertEqual(res[(2, "a_b")][0], INVALID_CONFIG)
        self.assertEqual(check_config_json(c.get("/config/topics/cfg")[0]), {"cleanup.policy": "compact"})
        self.assertIsNone(c.exists("/config/topics/nosuch"))
        # BROKER resources: every Ferry broker key is static (INVALID_REQUEST, nothing written); deleting an
        # override of the default entity writes /config/brokers/<default> and its notification
        c.create("/config/brokers/<default>", json.dumps({"version": 1, "config": {"log.retention.ms": "5"}}).encode(),
                 makepath=True)
        with nodes[0].conn(timeout=30) as k:
            res = dec_incremental_alter_configs(k.request(API_INCREMENTAL_ALTER_CONFIGS, 0, enc_incremental_alter_configs([
                (4, "", [("log.retention.ms", 1, None)]),
                (4, "1", [("log.retention.ms", 0, "7")])])))
        self.assertEqual(res[(4, "")][0], NONE)
        self.assertEqual(res[(4, "1")][0], INVALID_REQUEST)
        self.assertEqual(check_config_json(c.get("/config/brokers/<default>")[0]), {})
        self.assertIsNone(c.exists("/config/brokers/1"))
        paths = [check_config_change_json(c.get("/config/changes/" + n)[0]) for n in self.notifications(c)]
        self.assertIn("brokers/<default>", paths)
        self.wait_topic_config(nodes, "cfg", "cleanup.policy", "compact")
        self.wait_topic_config(nodes, "cfg", "retention.ms", None)

        # what kafka-configs --zookeeper writes (entity, then a v2 notification), from outside
        c.set("/config/topics/cfg", json.dumps({"version": 1, "config": {"cleanup.policy": "delete",
                                                                        "max.message.bytes": "2048"}}).encode())
        c.create("/config/changes/config_change_", json.dumps({"version": 2, "entity_path": "topics/cfg"}).encode(),
                 sequence=True)
        self.wait_topic_config(nodes, "cfg", "max.message.bytes", "2048")
        self.wait_topic_config(nodes, "cfg", "cleanup.policy", "delete")
        # a malformed notification and a malformed entity are logged with their path and skipped
        bad = c.create("/config/changes/config_change_", b"{not json", sequence=True)
        c.create("/config/topics/broken", b'{"version":1,"config":{"retention.ms":5}}')
        c.create("/config/changes/config_change_", json.dumps({"version": 2, "entity_path": "topics/broken"}).encode(),
                 sequence=True)
        # a v1 notification (still read for topics) after them is handled
        c.set("/config/topics/cfg", json.dumps({"version": 1, "config": {"cleanup.policy": "delete",
                                                                        "max.message.bytes": "4096"}}).encode())
        c.create("/config/changes/config_change_", json.dumps({"version": 1, "entity_type": "topics",
                                                               "entity_name": "cfg"}).encode(), sequence=True)
        self.wait_log(nodes, "%s is malformed, skipped" % bad)
        self.wait_log(nodes, "/config/topics/broken is malformed")
        self.wait_topic_config(nodes, "cfg", "max.message.bytes", "4096")
        for n in nodes:
            self.assertTrue(n.alive(), n.name)

    def test_notifications_replayed_at_start_up(self):
        zk = zkharness.start_for_test(self)
        c = self.zk_client(zk)
        # state a Kafka cluster left: topic configs (one with a pending notification), a default broker config
        c.ensure_path("/config/changes")
        c.create("/config/topics/old", json.dumps({"version": 1, "config": {"retention.ms": "7777"}}).encode(),
                 makepath=True)
        c.create("/config/topics/pending", json.dumps({"version": 1, "config": {"retention.bytes": "1234"}}).encode(),
                 makepath=True)
        c.create("/config/brokers/<default>",
                 json.dumps({"version": 1, "config": {"log.retention.ms": "60000"}}).encode(), makepath=True)
        c.create("/config/changes/config_change_", json.dumps({"version": 2, "entity_path": "topics/pending"}).encode(),
                 sequence=True)
        c.create("/config/changes/config_change_", json.dumps({"version": 2, "entity_path": "brokers/<default>"}).encode(),
                 sequence=True)
        nodes = self.start_cluster(zk, ids=(1, 2))
        self.wait_cluster(c, nodes)
        # no topics to describe: each entity changed once, its one INFO line
        self.wait_log(nodes, "config of resource 2/old changed: 1 key(s) set")
        self.wait_log(nodes, "config of resource 2/pending changed: 1 key(s) set")
        self.wait_log(nodes, "config of resource 4/ changed: 1 key(s) set")
        # notifications younger than 15 minutes stay (purged only by ctime)
        self.assertEqual(len(self.notifications(c)), 2)

    def test_notifications_replayed_after_a_new_session(self):
        """A broker whose session expired (SIGSTOP past the session timeout) lost its watches: the new session
        lists /config/changes again and applies what came meanwhile."""
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk, ids=(1, 2))
        c = self.zk_client(zk)
        self.wait_cluster(c, nodes)
        self.assertEqual(self.create(nodes[0], [("sess", 1, 1)])["sess"][0], NONE)
        sleeper = nodes[1]
        os.kill(sleeper.pid, signal.SIGSTOP)
        try:
            wait_until(lambda: live_broker_ids(c) == [1], what="broker 2's session to expire")
            c.set("/config/topics/sess", json.dumps({"version": 1, "config": {"retention.ms": "31337"}}).encode())
            c.create("/config/changes/config_change_",
                     json.dumps({"version": 2, "entity_path": "topics/sess"}).encode(), sequence=True)
            self.wait_topic_config([nodes[0]], "sess", "retention.ms", "31337")
        finally:
            os.kill(sleeper.pid, signal.SIGCONT)
        wait_until(lambda: live_broker_ids(c) == [1, 2], what="broker 2 registered again")
        self.wait_topic_config([sleeper], "sess", "retention.ms", "31337")

    def test_notifications_older_than_15_minutes_are_purged(self):
        """A broker whose wall clock runs 20 minutes ahead (LD_PRELOAD shim on clock_gettime(CLOCK_REALTIME))
        sees the notifications ZooKeeper stamped just now as 20 minutes old: it handles them, then deletes
        them, as Kafka purges by ctime. A broker with the right clock keeps them."""
        so = os.path.join(ferrytest.test_tmp(), "fake_clock.so")
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shims", "fake_clock.c")
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if not cc:
            self.skipTest("no C compiler for the fake clock shim")
        subprocess.run([cc, "-shared", "-fPIC", "-o", so, src, "-ldl"], check=True)
        zk = zkharness.start_for_test(self)
        c = self.zk_client(zk)
        c.create("/config/topics/aged", json.dumps({"version": 1, "config": {"retention.ms": "4242"}}).encode(),
                 makepath=True)
        first = c.create("/config/changes/config_change_",
                         json.dumps({"version": 2, "entity_path": "topics/aged"}).encode(), sequence=True, makepath=True)
        honest = self.start_cluster(zk, ids=(1,))
        self.wait_cluster(c, honest)
        self.wait_log(honest, "config of resource 2/aged changed: 1 key(s) set")
        self.assertTrue(c.exists(first), "a broker with the right clock purged a fresh notification")
        ahead = legacy_node(self, zk.connect_string, 2)
        ahead.extra_env = {"LD_PRELOAD": so, "FERRY_FAKE_CLOCK_OFFSET_MS": str(20 * 60 * 1000),
                           "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:verify_asan_link_order=0"}
        ahead.start()
        self.wait_log([ahead], "config of resource 2/aged changed: 1 key(s) set")
        wait_until(lambda: not c.exists(first), what="%s purged" % first)
        self.assertIn("purging the expired config change notification %s" % first, ahead.log_text())

    # ---- producer ids and /feature ---------------------------------------------------------------------------
    def test_producer_id_blocks_and_feature(self):
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk, ids=(1, 2))
        c = self.zk_client(zk)
        ctl = self.wait_cluster(c, nodes)
        # the controller enables /feature as a 3.7 ZooKeeper-mode controller does
        wait_until(lambda: c.exists("/feature"), what="/feature")
        check_feature_json(c.get("/feature")[0])
        # InitProducerId on both brokers at once: each takes its own block, and blocks never overlap
        import threading
        results = {}

        def take(n):
            with n.conn(timeout=30) as k:
                body = k.request(API_INIT_PRODUCER_ID, 0, W().string(None).i32(60000).getvalue())
            r = R(body)
            r.i32()
            results[n.node_id] = (r.i16(), r.i64())
        threads = [threading.Thread(target=take, args=(n,)) for n in nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(sorted(results), [1, 2])
        for err, _ in results.values():
            self.assertEqual(err, NONE)
        blocks = {pid // 1000 for _, pid in results.values()}
        self.assertEqual(len(blocks), 2, results)
        broker, start, end = check_producer_id_block_json(c.get("/latest_producer_id_block")[0])
        self.assertIn(broker, (1, 2))
        self.assertEqual((start % 1000, end - start), (0, 999))
        self.assertGreaterEqual(end, 1999)
        for n in nodes:
            self.assertIn("producer-id block", n.log_text())
        _ = ctl


class LegacyFeatureZnode(ferrytest.FerryTestCase):
    def test_disabled_feature_znode_is_enabled_and_cleared(self):
        """A /feature left disabled (status 0) with finalized features: the controller enables it with no
        features, as KafkaController.enableFeatureVersioning."""
        zk = zkharness.start_for_test(self)
        c = zk.client()
        self.addCleanup(c.close)
        self.addCleanup(c.stop)
        c.create("/feature", json.dumps({"features": {"x": {"min_version_level": 1, "max_version_level": 2}},
                                         "version": 1, "status": 0}).encode())
        n = legacy_node(self, zk.connect_string, 1)
        n.start()
        wait_until(lambda: json.loads(c.get("/feature")[0].decode()).get("status") == 1, what="/feature enabled")
        self.assertEqual(check_feature_json(c.get("/feature")[0])["features"], {})
        self.assertEqual(c.get("/feature")[1].version, 1)


def ctl_node(nodes, ctl):
    return [n for n in nodes if n.node_id == ctl][0]


if __name__ == "__main__":
    unittest.main()
