"""The ZooKeeper-mode controller run for real (zkmode/zk_controller.c) on 3 legacy-mode brokers against a real
ZooKeeper 3.8: a topic written to /brokers/topics as `kafka-topics --zookeeper` (AdminZkClient) writes it gets
its partition state znodes (checked with the strict reader of Kafka's format), kill -9 of a partition leader
elects a new leader from the ISR, kill -9 of the controller hands the work to the new controller, a malformed
topic znode is logged with its path while the rest keeps working, brokers serve the topic (kcat, acks=all)
across a leader kill -9, topic deletion through /admin/delete_topics removes the topic's znodes and its
replicas' data, a broker znode rewritten within its registration (a new rack) reaches every broker, and a
restarted broker gets the leadership of its preferred partitions back (auto.leader.rebalance.enable).

Durations are logged, never asserted; every wait polls with a generous deadline."""
import json
import os
import time
import unittest

import ferrytest
import zkharness
from ferrytest import log
from zkcluster import (SESSION_TIMEOUT_MS, controller, controller_epoch, partition_state, start_legacy_cluster,
                       topic_znode, wait_until)

ASSIGNMENT = {0: [1, 2, 3], 1: [2, 3, 1], 2: [3, 1, 2]}


API_CONTROLLED_SHUTDOWN, API_ALTER_PARTITION = 7, 56
E_NOT_CONTROLLER, E_STALE_BROKER_EPOCH = 41, 77


def rpc(node, api_key, version, body, flexible):
    """Sends one request with the header its version needs (ControlledShutdown v0: header v0 without a client
    id) and returns the response body after the response header."""
    header = 0 if (api_key, version) == (API_CONTROLLED_SHUTDOWN, 0) else (2 if flexible else 1)
    with node.conn() as kc:
        corr = kc.send(api_key, version, body, header_version=header)
        got, payload = kc.recv()
    assert got == corr, (got, corr)
    r = ferrytest.R(payload)
    if flexible:
        r.tags()
    return r


def controlled_shutdown(node, version, broker_id, broker_epoch):
    """ControlledShutdown v0-3: (error, [(topic, partition)])."""
    w = ferrytest.W().i32(broker_id)
    if version >= 2:
        w.i64(broker_epoch)
    if version >= 3:
        w.tags()
    r = rpc(node, API_CONTROLLED_SHUTDOWN, version, w.getvalue(), version >= 3)
    err = r.i16()
    if version >= 3:
        parts = r.compact_array(lambda rr: (rr.compact_string(), rr.i32(), rr.tags())[:2]) or []
        r.tags()
    else:
        parts = r.array(lambda rr: (rr.string(), rr.i32())) or []
    return err, parts


def alter_partition(node, version, broker_id, broker_epoch, topic, topic_id, partition, leader_epoch, isr,
                    partition_epoch, isr_epochs=None):
    """AlterPartition v0-3 (flexible) for one partition: (top error, partition error, leader, leader epoch, isr,
    partition epoch)."""
    w = ferrytest.W().i32(broker_id).i64(broker_epoch)
    w.uvarint(2)  # one topic
    if version <= 1:
        w.compact_string(topic)
    else:
        w.raw(topic_id)
    w.uvarint(2)  # one partition
    w.i32(partition).i32(leader_epoch)
    w.uvarint(len(isr) + 1)
    for b in isr:
        w.i32(b)
        if version >= 3:
            w.i64(isr_epochs[b]).tags()
    if version >= 1:
        w.i8(0)
    w.i32(partition_epoch).tags()
    w.tags().tags()
    r = rpc(node, API_ALTER_PARTITION, version, w.getvalue(), True)
    r.i32()  # throttle
    top = r.i16()

    def part(rr):
        p = (rr.i32(), rr.i16(), rr.i32(), rr.i32(), rr.compact_array(lambda x: x.i32()))
        lrs = rr.i8() if version >= 1 else 0
        pe = rr.i32()
        rr.tags()
        return p + (lrs, pe)

    def topic_data(rr):
        if version <= 1:
            rr.compact_string()
        else:
            rr.raw(16)
        parts = rr.compact_array(part)
        rr.tags()
        return parts
    topics = r.compact_array(topic_data) or []
    r.tags()
    if not topics:
        return top, None, None, None, None, None
    (idx, err, leader, epoch, risr, _lrs, pe), = topics[0]
    return top, err, leader, epoch, risr, pe


def topic_id_bytes(c, topic):
    import base64
    tid = json.loads(c.get("/brokers/topics/%s" % topic)[0].decode())["topic_id"]
    return base64.urlsafe_b64decode(tid + "==")


def broker_epoch(c, broker_id):
    return c.get("/brokers/ids/%d" % broker_id)[1].czxid


class ZkController(ferrytest.FerryTestCase):
    def start_cluster(self, zk, ids=(1, 2, 3), extra=None):
        return start_legacy_cluster(self, zk, ids, extra)

    def wait_states(self, c, topic, assignment, pred, what):
        def all_ok():
            states = {}
            for p in assignment:
                st, ver = partition_state(c, topic, p)
                if st is None or not pred(p, st, ver):
                    return None
                states[p] = (st, ver)
            return states
        return wait_until(all_ok, timeout=SESSION_TIMEOUT_MS / 1000.0 + 90, what=what)

    def create_topic(self, c, topic, assignment=ASSIGNMENT):
        c.create("/brokers/topics/%s" % topic, topic_znode(assignment))

    def test_new_topic_gets_state_znodes(self):
        zk = zkharness.start_for_test(self)
        nodes, c, ctl = self.start_cluster(zk)
        epoch = controller_epoch(c)[0]
        self.create_topic(c, "orders")
        states = self.wait_states(c, "orders", ASSIGNMENT, lambda p, st, v: True, what="state znodes of orders")
        for p, (st, ver) in states.items():
            # the preferred replica leads, every live replica is in the ISR, first version of the znode
            self.assertEqual(st["leader"], ASSIGNMENT[p][0], st)
            self.assertEqual(st["isr"], ASSIGNMENT[p], st)
            self.assertEqual(st["leader_epoch"], 0, st)
            self.assertEqual(st["controller_epoch"], epoch, st)
            self.assertEqual(ver, 0)
        self.assertEqual(sorted(c.get_children("/brokers/topics/orders/partitions")), ["0", "1", "2"])

    def test_malformed_topic_znode_is_logged_and_the_rest_works(self):
        zk = zkharness.start_for_test(self)
        c0 = zk.client()
        self.addCleanup(c0.close)
        self.addCleanup(c0.stop)
        # present at failover, and another one written later
        c0.create("/brokers/topics/bad1", b'{"version":3,"partitions":{"x":[1]}}', makepath=True)
        nodes, c, ctl = self.start_cluster(zk)
        node = [n for n in nodes if n.node_id == ctl][0]
        wait_until(lambda: "/brokers/topics/bad1 is malformed" in node.log_text(), what="bad1 logged with its path")
        c.create("/brokers/topics/bad2", b'not json')
        self.create_topic(c, "good")
        self.wait_states(c, "good", ASSIGNMENT, lambda p, st, v: st["leader"] == ASSIGNMENT[p][0],
                         what="state znodes of good")
        wait_until(lambda: "/brokers/topics/bad2 is malformed" in node.log_text(), what="bad2 logged with its path")
        self.assertFalse(c.exists("/brokers/topics/bad1/partitions"))
        self.assertFalse(c.exists("/brokers/topics/bad2/partitions"))
        # fixing the znode makes the topic work
        c.set("/brokers/topics/bad2", topic_znode({0: [1, 2]}))
        self.wait_states(c, "bad2", {0: [1, 2]}, lambda p, st, v: st["leader"] == 1, what="bad2 once fixed")

    def test_partition_leader_kill9_elects_from_the_isr(self):
        zk = zkharness.start_for_test(self)
        nodes, c, ctl = self.start_cluster(zk)
        self.create_topic(c, "events")
        before = self.wait_states(c, "events", ASSIGNMENT, lambda p, st, v: st["isr"] == ASSIGNMENT[p],
                                  what="state znodes of events")
        victim = [n for n in nodes if n.node_id != ctl][0]
        t0 = time.monotonic()
        victim.kill9()
        vid = victim.node_id

        def moved(p, st, ver):
            return st["leader"] != vid and vid not in st["isr"]
        after = self.wait_states(c, "events", ASSIGNMENT, moved, what="partitions off broker %d" % vid)
        log("leaders moved off broker %d %.2f s after its kill -9 (session timeout %d ms)"
            % (vid, time.monotonic() - t0, SESSION_TIMEOUT_MS))
        for p, (st, ver) in after.items():
            old, old_ver = before[p]
            # clean election: the next live replica of the ISR, in assignment order
            expect_isr = [b for b in old["isr"] if b != vid]
            self.assertEqual(st["isr"], expect_isr, st)
            if old["leader"] == vid:
                self.assertEqual(st["leader"], expect_isr[0], st)
            else:
                self.assertEqual(st["leader"], old["leader"], st)
            self.assertEqual(st["leader_epoch"], old["leader_epoch"] + 1, st)
            self.assertEqual(ver, old_ver + 1)
            self.assertEqual(st["controller_epoch"], controller_epoch(c)[0])

    def test_controller_kill9_new_controller_takes_over(self):
        zk = zkharness.start_for_test(self)
        nodes, c, ctl = self.start_cluster(zk)
        self.create_topic(c, "before")
        self.wait_states(c, "before", ASSIGNMENT, lambda p, st, v: st["isr"] == ASSIGNMENT[p],
                         what="state znodes of before")
        epoch0 = controller_epoch(c)[0]
        old = [n for n in nodes if n.node_id == ctl][0]
        old.kill9()
        new, _ = wait_until(lambda: controller(c)[0] not in (None, ctl) and controller(c),
                            timeout=SESSION_TIMEOUT_MS / 1000.0 + 60, what="a new controller")
        self.assertEqual(controller_epoch(c)[0], epoch0 + 1)
        node = [n for n in nodes if n.node_id == new][0]
        wait_until(lambda: "is the active controller: epoch %d" % (epoch0 + 1) in node.log_text(),
                   what="broker %d to load ZooKeeper" % new)
        # the old controller's partitions get leaders from the new one
        self.wait_states(c, "before", ASSIGNMENT,
                         lambda p, st, v: st["leader"] != ctl and ctl not in st["isr"]
                         and st["controller_epoch"] == epoch0 + 1, what="partitions off the old controller")
        # and it handles new topics
        self.create_topic(c, "after")
        live = [n.node_id for n in nodes if n.node_id != ctl]
        states = self.wait_states(c, "after", ASSIGNMENT, lambda p, st, v: True, what="state znodes of after")
        for p, (st, ver) in states.items():
            self.assertEqual(st["controller_epoch"], epoch0 + 1)
            self.assertEqual(st["isr"], [b for b in ASSIGNMENT[p] if b in live])
            self.assertEqual(st["leader"], st["isr"][0])
        # the brokers serve what the new controller decided: kafka-python produces, kcat reads back
        from kafka import KafkaProducer
        survivor = [n for n in nodes if n.node_id != ctl][0]
        prod = KafkaProducer(bootstrap_servers=[survivor.bootstrap], acks="all", retries=20,
                             retry_backoff_ms=500, api_version_auto_timeout_ms=30000)
        try:
            for i in range(20):
                prod.send("after", value=b"a-%d" % i, partition=0).get(timeout=120)
        finally:
            prod.close(30)
        self.assertEqual(ferrytest.kcat_consume(survivor, "after"), b"".join(b"a-%d\n" % i for i in range(20)))

    def test_brokers_serve_the_topic_across_a_leader_kill9(self):
        """The controller's LeaderAndIsr/UpdateMetadata make the brokers serve the topic: kcat produces with
        acks=all and consumes; after kill -9 of the leader the new leader (from the ISR) serves every
        acknowledged message."""
        zk = zkharness.start_for_test(self)
        nodes, c, ctl = self.start_cluster(zk)
        others = [n.node_id for n in nodes if n.node_id != ctl]
        assignment = {0: [others[0], others[1], ctl]}
        self.create_topic(c, "data", assignment)
        self.wait_states(c, "data", assignment, lambda p, st, v: st["isr"] == assignment[p], what="state of data")
        leader = [n for n in nodes if n.node_id == others[0]][0]
        survivor = [n for n in nodes if n.node_id == others[1]][0]
        lines = b"".join(b"m-%d\n" % i for i in range(200))
        wait_until(lambda: ferrytest.run_kcat(["-L", "-b", survivor.bootstrap, "-t", "data"], timeout=60)
                   .stdout.count(b"leader %d" % leader.node_id) == 1, what="brokers to learn the leader of data")
        ferrytest.kcat_produce(survivor, "data", lines)
        self.assertEqual(ferrytest.kcat_consume(survivor, "data"), lines)
        leader.kill9()
        self.wait_states(c, "data", assignment, lambda p, st, v: st["leader"] == others[1],
                         what="data led by broker %d" % others[1])
        got = wait_until(lambda: (lambda out: out if out == lines else None)(
            ferrytest.kcat_consume(survivor, "data")), timeout=120,
            what="every acknowledged message from the new leader")
        self.assertEqual(got, lines)
        more = b"".join(b"n-%d\n" % i for i in range(20))
        ferrytest.kcat_produce(survivor, "data", more, acks="1")
        wait_until(lambda: ferrytest.kcat_consume(survivor, "data") == lines + more, timeout=120,
                   what="produce to the new leader")

    def test_no_acknowledged_message_lost_across_a_leader_kill9(self):
        """acks=all with min.insync.replicas=2: confluent-kafka produces without pause while the partition's
        leader is killed with -9; every acknowledged message is then read back (kafka-python consumer, from the
        new leader); duplicates from retries are allowed, losses are not."""
        import threading
        from confluent_kafka import Producer
        zk = zkharness.start_for_test(self)
        nodes, c, ctl = self.start_cluster(zk, extra={"min.insync.replicas": 2})
        others = [n.node_id for n in nodes if n.node_id != ctl]
        assignment = {0: [others[0], others[1], ctl]}
        self.create_topic(c, "acked", assignment)
        self.wait_states(c, "acked", assignment, lambda p, st, v: st["isr"] == assignment[p], what="state of acked")
        leader = [n for n in nodes if n.node_id == others[0]][0]
        survivors = [n for n in nodes if n is not leader]
        wait_until(lambda: ferrytest.run_kcat(["-L", "-b", survivors[0].bootstrap, "-t", "acked"], timeout=60)
                   .stdout.count(b"leader %d" % leader.node_id) == 1, what="brokers to learn the leader of acked")
        p = Producer({"bootstrap.servers": ",".join(n.bootstrap for n in nodes), "acks": "all",
                      "message.timeout.ms": 180000, "retry.backoff.ms": 200, "linger.ms": 5,
                      "topic.metadata.refresh.interval.ms": 1000})
        acked, failed = set(), []

        def delivered(err, msg):
            if err is None:
                acked.add(msg.value())
            else:
                failed.append(err)
        stop = threading.Event()

        def produce():
            i = 0
            while not stop.is_set():
                p.produce("acked", value=b"v-%06d" % i, partition=0, on_delivery=delivered)
                p.poll(0)
                i += 1
                time.sleep(0.002)
            p.flush(180)
        t = threading.Thread(target=produce)
        t.start()
        try:
            wait_until(lambda: len(acked) >= 300, timeout=120, what="300 acknowledged messages before the kill")
            leader.kill9()
            self.wait_states(c, "acked", assignment, lambda p_, st, v: st["leader"] == others[1],
                             what="acked led by broker %d" % others[1])
            n_at_kill = len(acked)
            wait_until(lambda: len(acked) >= n_at_kill + 300, timeout=180,
                       what="300 more acknowledged messages from the new leader")
        finally:
            stop.set()
            t.join(240)
        log("acks=all across the leader kill: %d acknowledged, %d failed deliveries" % (len(acked), len(failed)))
        from kafka import KafkaConsumer, TopicPartition
        tp = TopicPartition("acked", 0)
        cons = KafkaConsumer(bootstrap_servers=[n.bootstrap for n in survivors], enable_auto_commit=False,
                             consumer_timeout_ms=5000, api_version_auto_timeout_ms=30000)
        try:
            cons.assign([tp])
            end = cons.end_offsets([tp])[tp]
            cons.seek_to_beginning(tp)
            seen = set()
            deadline = time.monotonic() + 180
            while cons.position(tp) < end and time.monotonic() < deadline:
                for m in cons:
                    seen.add(m.value)
                    if cons.position(tp) >= end:
                        break
        finally:
            cons.close()
        lost = acked - seen
        self.assertEqual(len(lost), 0, "acknowledged but lost: %s" % sorted(lost)[:10])

    def test_unclean_election_after_a_config_change(self):
        """A partition whose only ISR member died has no leader (unclean.leader.election.enable is false by
        default) even when another replica is back; setting the topic's override through /config/topics and a
        config change notification (as kafka-configs --zookeeper does) makes the controller elect it."""
        zk = zkharness.start_for_test(self)
        nodes, c, ctl = self.start_cluster(zk)
        ctl_node = [n for n in nodes if n.node_id == ctl][0]
        x, y = [n for n in nodes if n.node_id != ctl]
        assignment = {0: [x.node_id, y.node_id]}
        self.create_topic(c, "u", assignment)
        self.wait_states(c, "u", assignment, lambda p, st, v: st["isr"] == assignment[p], what="state of u")
        y.kill9()
        self.wait_states(c, "u", assignment, lambda p, st, v: st["isr"] == [x.node_id], what="y out of the ISR")
        x.kill9()
        self.wait_states(c, "u", assignment, lambda p, st, v: st["leader"] == -1 and st["isr"] == [x.node_id],
                         what="u without a leader")
        y.start(wait_metadata=False)
        wait_until(lambda: "broker %d up" % y.node_id in ctl_node.log_text().split("u-0: leader -1")[-1],
                   timeout=SESSION_TIMEOUT_MS / 1000.0 + 90, what="the controller to see broker %d again" % y.node_id)
        time.sleep(2)  # settle: a (wrong) clean election would have been written by now
        st, _ = partition_state(c, "u", 0)
        self.assertEqual((st["leader"], st["isr"]), (-1, [x.node_id]), "no clean leader: unclean election is off")
        c.create("/config/topics/u", b'{"version":1,"config":{"unclean.leader.election.enable":"true"}}')
        c.create("/config/changes/config_change_", b'{"version":2,"entity_path":"topics/u"}', sequence=True)
        states = self.wait_states(c, "u", assignment, lambda p, st, v: st["leader"] == y.node_id,
                                  what="unclean election of broker %d" % y.node_id)
        st, _ = states[0]
        self.assertEqual(st["isr"], [y.node_id])
        self.assertEqual(st.get("leader_recovery_state"), 1)

    def test_topic_deletion(self):
        zk = zkharness.start_for_test(self)
        nodes, c, ctl = self.start_cluster(zk)
        self.create_topic(c, "doomed")
        self.wait_states(c, "doomed", ASSIGNMENT, lambda p, st, v: True, what="state znodes of doomed")

        def replica_dirs():
            return sorted(n.node_id for n in nodes for d in os.listdir(n.data_dir) if d.startswith("doomed-0"))
        wait_until(lambda: replica_dirs() == [1, 2, 3], what="every replica of doomed-0 on disk")
        ferrytest.kcat_produce(nodes[0], "doomed", b"bye\n", acks="1")
        c.create("/admin/delete_topics/doomed", None)
        wait_until(lambda: not c.exists("/brokers/topics/doomed") and not c.exists("/admin/delete_topics/doomed"),
                   timeout=120, what="doomed deleted")
        self.assertFalse(c.exists("/config/topics/doomed"))
        wait_until(lambda: replica_dirs() == [], what="the replicas of doomed deleted from disk")

    def test_controlled_shutdown_and_alter_partition_every_version(self):
        """ControlledShutdown v0-3 and AlterPartition v0-3 served by the active controller (leadership moves off
        the broker shutting down; an AlterPartition with the current state is answered with it; a wrong broker
        epoch gets STALE_BROKER_EPOCH) and answered NOT_CONTROLLER by the other brokers."""
        zk = zkharness.start_for_test(self)
        nodes, c, ctl = self.start_cluster(zk)
        ctl_node = [n for n in nodes if n.node_id == ctl][0]
        x, y = [n.node_id for n in nodes if n.node_id != ctl]
        other = [n for n in nodes if n.node_id == x][0]
        assignment = {0: [x, y, ctl], 1: [y, x, ctl]}
        self.create_topic(c, "cs", assignment)
        self.wait_states(c, "cs", assignment, lambda p, st, v: st["isr"] == assignment[p], what="state of cs")
        tid = topic_id_bytes(c, "cs")
        epochs = {b: broker_epoch(c, b) for b in (x, y, ctl)}
        for v in range(4):
            st, ver = partition_state(c, "cs", 1)
            res = alter_partition(ctl_node, v, st["leader"], epochs[st["leader"]], "cs", tid, 1, st["leader_epoch"],
                                  st["isr"], ver, epochs)
            self.assertEqual(res, (0, 0, st["leader"], st["leader_epoch"], st["isr"], ver), "AlterPartition v%d" % v)
            res = alter_partition(ctl_node, v, st["leader"], epochs[st["leader"]] + 1, "cs", tid, 1,
                                  st["leader_epoch"], st["isr"], ver, epochs)
            self.assertEqual(res[0], E_STALE_BROKER_EPOCH, "AlterPartition v%d with a wrong broker epoch" % v)
            res = alter_partition(other, v, st["leader"], epochs[st["leader"]], "cs", tid, 1, st["leader_epoch"],
                                  st["isr"], ver, epochs)
            self.assertEqual(res[0], E_NOT_CONTROLLER, "AlterPartition v%d to a non-controller" % v)
        for v in range(4):
            err, parts = controlled_shutdown(other, v, x, epochs[x])
            self.assertEqual(err, E_NOT_CONTROLLER, "ControlledShutdown v%d to a non-controller" % v)
            err, parts = controlled_shutdown(ctl_node, v, x, epochs[x])
            self.assertEqual((err, parts), (0, []), "ControlledShutdown v%d" % v)
        # leadership moved off x, which left the ISRs
        st, _ = partition_state(c, "cs", 0)
        self.assertEqual(st["leader"], y, st)
        for p in assignment:
            self.assertNotIn(x, partition_state(c, "cs", p)[0]["isr"])
        err, _ = controlled_shutdown(ctl_node, 3, x, epochs[x] - 1)  # older than the registration
        self.assertEqual(err, E_STALE_BROKER_EPOCH)

    def test_restarted_broker_leads_its_preferred_partitions_again(self):
        """auto.leader.rebalance.enable (Kafka's checkAndTriggerAutoLeaderRebalance): a broker stopped and started
        again gets back into the ISRs, and after leader.imbalance.check.interval.seconds the controller hands it
        back the leadership of the partitions it is the preferred replica of (one of one: above the 10 %)."""
        zk = zkharness.start_for_test(self)
        nodes, c, ctl = self.start_cluster(zk, extra={"leader.imbalance.check.interval.seconds": 1,
                                                      "replica.lag.time.max.ms": 3000})
        self.create_topic(c, "pref")
        self.wait_states(c, "pref", ASSIGNMENT, lambda p, st, v: st["leader"] == ASSIGNMENT[p][0]
                         and st["isr"] == ASSIGNMENT[p], what="state znodes of pref")
        x = [n for n in nodes if n.node_id != ctl][0]
        preferred = [p for p, r in ASSIGNMENT.items() if r[0] == x.node_id]
        self.assertEqual(x.stop(), 0)  # controlled shutdown moves its leadership away
        self.wait_states(c, "pref", ASSIGNMENT, lambda p, st, v: st["leader"] != x.node_id,
                         what="leadership off broker %d" % x.node_id)
        x.start()
        led = self.wait_states(c, "pref", ASSIGNMENT,
                               lambda p, st, v: p not in preferred or st["leader"] == x.node_id,
                               what="broker %d leading its preferred partitions again" % x.node_id)
        for p in preferred:
            self.assertIn(x.node_id, led[p][0]["isr"])
        ctl_node = [n for n in nodes if n.node_id == ctl][0]
        self.assertIn("broker %d does not lead 1 of its 1 preferred partitions: preferred election for 1" % x.node_id,
                      ctl_node.log_text())

    def test_changed_broker_znode_reaches_every_broker(self):
        """Kafka's BrokerModification: /brokers/ids/<x> rewritten within its registration (same czxid, here a
        new rack, as a dynamic listener change rewrites the endpoints) reaches every broker's metadata through
        the controller's UpdateMetadata, without a bounce."""
        zk = zkharness.start_for_test(self)
        nodes, c, ctl = self.start_cluster(zk)
        x = [n.node_id for n in nodes if n.node_id != ctl][0]
        path = "/brokers/ids/%d" % x
        data, stat = c.get(path)
        info = json.loads(data.decode())
        self.assertIsNone(info.get("rack"))
        info["rack"] = "rack-moved"
        c.set(path, json.dumps(info).encode(), version=stat.version)
        self.assertEqual(c.get(path)[1].czxid, stat.czxid)

        def rack_of_x(node):
            with node.conn(timeout=10) as kc:
                md = kc.metadata(None, version=1)
            return [b["rack"] for b in md["brokers"] if b["node_id"] == x]
        for n in nodes:
            wait_until(lambda: rack_of_x(n) == ["rack-moved"], what="broker %d seeing broker %d's new rack"
                       % (n.node_id, x))
        ctl_node = [n for n in nodes if n.node_id == ctl][0]
        self.assertIn("broker %d: endpoints or rack changed" % x, ctl_node.log_text())
        self.assertNotIn("broker %d bounced" % x, ctl_node.log_text())

    def test_deletion_marker_of_an_unknown_topic_is_removed(self):
        zk = zkharness.start_for_test(self)
        nodes, c, ctl = self.start_cluster(zk)
        c.create("/admin/delete_topics/nosuch", None)
        wait_until(lambda: not c.exists("/admin/delete_topics/nosuch"), what="the marker of an unknown topic removed")


if __name__ == "__main__":
    unittest.main()
