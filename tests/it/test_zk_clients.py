"""Real clients against a 3-broker legacy-mode (ZooKeeper) Ferry cluster (issue 4, item 8), the parts
test_zk_controller.py and test_zk_legacy.py do not cover:

- kafka-python and confluent-kafka (producers with acks=all, a consumer group of each, admin create/delete
  topics and describe configs) across repeated leader changes: kill -9 and restart of a partition leader,
  twice, and of the controller; nothing acknowledged is lost, committed group offsets survive.
- a ZooKeeper restart and a short outage: brokers reconnect and keep serving data (produce, consume, a new
  topic) afterwards, with a malformed topic znode present (logged with its path, the rest works).

Covered elsewhere: the acks=all kill -9 of a partition leader under load and the malformed topic znode's
details (test_zk_controller.py), the registration side of a ZooKeeper restart (test_zk_legacy.py).

Durations are logged, never asserted; every wait polls with a generous deadline."""
import time
import unittest

import ferrytest
import zkharness
from ferrytest import log
from zkcluster import SESSION_TIMEOUT_MS, controller, legacy_node, live_broker_ids, partition_state, wait_until

STATE_TIMEOUT = SESSION_TIMEOUT_MS / 1000.0 + 120


class LegacyClients(ferrytest.FerryTestCase):
    def start_cluster(self, zk, extra=None):
        # every topic here is created explicitly; a client's Metadata request for a topic just deleted must not
        # create it again (it did, 6 ms after the deletion, and the "flow deleted" wait timed out)
        cfg = {"offsets.topic.replication.factor": 3, "auto.create.topics.enable": "false"}
        cfg.update(extra or {})
        nodes = [legacy_node(self, zk.connect_string, i, extra=cfg) for i in (1, 2, 3)]
        for n in nodes:
            n.start()
        c = zk.client()
        self.addCleanup(c.close)
        self.addCleanup(c.stop)
        wait_until(lambda: live_broker_ids(c) == [1, 2, 3], what="3 registered brokers")
        wait_until(lambda: controller(c)[0] in (1, 2, 3), what="a controller")
        return nodes, c

    def wait_isr(self, c, topic, partitions, pred, what):
        def ok():
            states = [partition_state(c, topic, p)[0] for p in range(partitions)]
            return states if all(st is not None and pred(st) for st in states) else None
        return wait_until(ok, timeout=STATE_TIMEOUT, what=what)

    def wait_topic_everywhere(self, nodes, topic, partitions):
        """Every broker's Metadata has every partition with a leader. Brokers learn of a new topic one after the
        other, and librdkafka fails messages for partitions it does not see yet (Local: Unknown partition)."""
        for n in nodes:
            ferrytest.wait_topic(n, topic, partitions, timeout=120)

    def bootstrap(self, nodes):
        return ",".join(n.bootstrap for n in nodes)

    # ---- repeated leader changes --------------------------------------------------------------------------
    def test_clients_across_repeated_leader_changes(self):
        from confluent_kafka import Producer
        from confluent_kafka.admin import ConfigResource, NewTopic
        from kafka.admin import ConfigResource as KpConfigResource, ConfigResourceType, KafkaAdminClient
        zk = zkharness.start_for_test(self)
        nodes, c = self.start_cluster(zk)
        by_id = {n.node_id: n for n in nodes}
        boot = self.bootstrap(nodes)

        # admin: confluent-kafka creates the topic, kafka-python describes its config
        a = ferrytest.admin(nodes[0])
        fs = a.create_topics([NewTopic("flow", num_partitions=3, replication_factor=3,
                                       config={"min.insync.replicas": "2"})], request_timeout=60)
        fs["flow"].result(90)
        self.wait_isr(c, "flow", 3, lambda st: len(st["isr"]) == 3, "flow with full ISRs")
        self.wait_topic_everywhere(nodes, "flow", 3)
        kadmin = KafkaAdminClient(bootstrap_servers=boot, api_version_auto_timeout_ms=30000, request_timeout_ms=60000)
        self.addCleanup(kadmin.close)
        res = kadmin.describe_configs([KpConfigResource(ConfigResourceType.TOPIC, "flow")])
        entries = {e[0]: e[1] for e in res[0].resources[0][4]}
        self.assertEqual(entries["min.insync.replicas"], "2", entries)
        res = a.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "flow")], request_timeout=60)
        got = list(res.values())[0].result(60)
        self.assertEqual(got["min.insync.replicas"].value, "2")

        kp = ferrytest.KafkaPythonRounds(boot, "flow")
        # confluent-kafka produces without pause (acks=all); kafka-python sends a few between the changes
        bg = ferrytest.BackgroundProducer(boot, "flow", partitions=(0, 1, 2), prefix=b"c-").start()
        kp_sent, kp_round = kp.sent, kp.round
        try:
            bg.wait_acked(300, timeout=120)
            kp_round(b"start")
            # kill -9 and restart: the leader of partition 0, the leader of partition 1, then the controller
            for rnd, target in enumerate(("leader 0", "leader 1", "controller")):
                if target == "controller":
                    victim_id = controller(c)[0]
                else:
                    victim_id = partition_state(c, "flow", int(target[-1]))[0]["leader"]
                victim = by_id[victim_id]
                ctl_before = controller(c)[0]
                led = [p for p in range(3) if partition_state(c, "flow", p)[0]["leader"] == victim_id]
                t0 = time.monotonic()
                victim.kill9()
                self.wait_isr(c, "flow", 3, lambda st: st["leader"] != victim_id and victim_id not in st["isr"],
                              "round %d: leadership off broker %d (%s)" % (rnd, victim_id, target))
                if victim_id == ctl_before:
                    wait_until(lambda: controller(c)[0] not in (None, victim_id), timeout=STATE_TIMEOUT,
                               what="a new controller")
                log("round %d: broker %d (%s, led %s) killed; leadership moved after %.2f s"
                    % (rnd, victim_id, target, led, time.monotonic() - t0))
                bg.wait_acked(100, what="round %d: 100 more acknowledged messages without broker %d"
                              % (rnd, victim_id))
                kp_round(b"r%d" % rnd)
                victim.start()
                self.wait_isr(c, "flow", 3, lambda st: victim_id in st["isr"], "round %d: broker %d back in every ISR"
                              % (rnd, victim_id))
            bg.wait_acked(100, what="100 acknowledged messages at the end")
        finally:
            ferrytest.stop_producers(bg, kp)
        acked = bg.acked

        # everything acknowledged is there: a confluent-kafka consumer group reads and commits it all
        expected = acked | set(kp_sent)
        # (the committed offsets are the group's: a kafka-python member of it finds them); a kafka-python group too
        ferrytest.assert_groups_read_everything(self, boot, "flow", expected)

        # admin after the changes: kafka-python deletes the topic (a new admin client: kafka-python's keeps the
        # controller id it found at construction, and that broker was restarted), confluent-kafka creates one
        kadmin2 = KafkaAdminClient(bootstrap_servers=boot, api_version_auto_timeout_ms=30000,
                                   request_timeout_ms=60000)
        self.addCleanup(kadmin2.close)
        from kafka.errors import RequestTimedOutError
        try:
            kadmin2.delete_topics(["flow"], timeout_ms=60000)
        except RequestTimedOutError as e:
            # as in Kafka, the deletion goes on after the request's timeout: the wait below decides
            log("DeleteTopics answered REQUEST_TIMED_OUT; waiting for the deletion itself: %s" % e)
        wait_until(lambda: not c.exists("/brokers/topics/flow"), timeout=STATE_TIMEOUT, what="flow deleted")
        ferrytest.create_topic(nodes[2], "after", partitions=2, replication_factor=3, timeout=120)
        self.wait_topic_everywhere(nodes, "after", 2)
        p2 = Producer({"bootstrap.servers": boot, "acks": "all", "message.timeout.ms": 60000})
        for i in range(10):
            p2.produce("after", value=b"a-%d" % i, partition=i % 2)
        self.assertEqual(p2.flush(90), 0)
        got = ferrytest.consume_confluent(nodes[0], "after", [0, 1])
        self.assertEqual(sorted(m.value() for ms in got.values() for m in ms), sorted(b"a-%d" % i for i in range(10)))
        for n in nodes:
            self.assertAlive(n)

    # ---- ZooKeeper restart and outage ---------------------------------------------------------------------
    def test_zookeeper_restart_and_outage_keep_serving_data(self):
        zk = zkharness.start_for_test(self)
        nodes, c = self.start_cluster(zk)
        boot = self.bootstrap(nodes)
        # a malformed topic znode (as a broken tool could leave) is logged with its path; the rest keeps working
        c.create("/brokers/topics/broken", b'{"version":3,"partitions":{"0":"oops"}}')
        ctl = [n for n in nodes if n.node_id == controller(c)[0]][0]
        wait_until(lambda: "/brokers/topics/broken is malformed" in ctl.log_text(), what="broken logged with its path")
        ferrytest.create_topic(nodes[0], "steady", partitions=3, replication_factor=3, timeout=120)
        self.wait_topic_everywhere(nodes, "steady", 3)
        sent = []

        def produce_and_read(tag, topic="steady", partitions=3):
            from confluent_kafka import Producer
            p = Producer({"bootstrap.servers": boot, "acks": "all", "message.timeout.ms": 120000})
            errors = []
            for i in range(30):
                v = b"%s-%d" % (tag, i)
                p.produce(topic, value=v, partition=i % partitions,
                          on_delivery=lambda err, msg: err and errors.append((msg.partition(), err)))
                if topic == "steady":
                    sent.append(v)
            self.assertEqual(p.flush(150), 0, "%s: undelivered messages" % tag.decode())
            self.assertEqual(errors, [], "%s: failed deliveries" % tag.decode())
            want = set(sent) if topic == "steady" else {b"%s-%d" % (tag, i) for i in range(30)}
            last = {}

            def read_all():
                # duplicates are allowed (a retried acks=all batch without idempotence), losses are not
                got = ferrytest.consume_confluent(nodes[1], topic, list(range(partitions)))
                last["got"] = {m.value() for ms in got.values() for m in ms}
                return last["got"] == want
            try:
                wait_until(read_all, timeout=180, what="%s: every message of %s read back" % (tag.decode(), topic))
            except AssertionError:
                got = last.get("got", set())
                raise AssertionError("%s: %d missing %s, %d unexpected %s" % (
                    tag.decode(), len(want - got), sorted(want - got)[:5], len(got - want), sorted(got - want)[:5]))
        produce_and_read(b"before")
        c.stop()
        c.close()
        zk.restart()
        c2 = zk.client()
        self.addCleanup(c2.close)
        self.addCleanup(c2.stop)
        wait_until(lambda: live_broker_ids(c2) == [1, 2, 3], what="3 brokers after a ZooKeeper restart")
        produce_and_read(b"after-restart")
        # a short outage, shorter than the session timeout: the sessions survive
        c2.stop()
        c2.close()
        zk.stop()
        time.sleep(2.0)
        zk.start()
        c3 = zk.client()
        self.addCleanup(c3.close)
        self.addCleanup(c3.stop)
        wait_until(lambda: live_broker_ids(c3) == [1, 2, 3] and controller(c3)[0] in (1, 2, 3),
                   what="3 brokers and a controller after the outage")
        produce_and_read(b"after-outage")
        # the controller still works: a new topic gets leaders and serves data
        ferrytest.create_topic(nodes[2], "fresh", partitions=2, replication_factor=3, timeout=120)
        self.wait_topic_everywhere(nodes, "fresh", 2)
        produce_and_read(b"fresh", topic="fresh", partitions=2)
        for n in nodes:
            self.assertAlive(n)


if __name__ == "__main__":
    unittest.main()
