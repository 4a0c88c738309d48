"""Reassignment and operator elections in legacy mode, on 3 Ferry brokers against a real ZooKeeper 3.8
(zkmode/controller/zkctl_reassign.c, zkctl_admin.c):

- AlterPartitionReassignments moves a partition with data from brokers [1, 2] to [2, 3] under an acks=all
  producer; ListPartitionReassignments shows it while it runs (or nothing once done); every acknowledged
  message is read back afterwards; the topic znode ends as [2, 3] with no adding/removing replicas (checked
  with the strict reader of Kafka's format while it runs too) and broker 1 deletes its replica's log;
- a reassignment that cannot finish (its new replica's broker is stopped with SIGSTOP) is listed, then cancelled
  with null replicas; a second cancel gets NO_REASSIGNMENT_IN_PROGRESS; Kafka's per-partition errors
  (INVALID_REPLICA_ASSIGNMENT, UNKNOWN_TOPIC_OR_PARTITION) and a non-controller's NOT_CONTROLLER;
- /admin/reassign_partitions (the znode Kafka's older kafka-reassign-partitions.sh writes) is acted on and
  deleted, an entry for an unknown partition is dropped from it; /admin/preferred_replica_election elects and
  is deleted; every version of those znodes seen is checked with the strict reader;
- ElectLeaders PREFERRED and UNCLEAN with their errors (ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE,
  UNKNOWN_TOPIC_OR_PARTITION, NOT_CONTROLLER on a broker that is not the controller).

No Kafka client installed here has these admin calls (kafka-python 2.0.2 and confluent-kafka 1.7.0 lack
elect_leaders and alter_partition_reassignments), so the requests go through the project's test client
(ferrytest.KafkaConn). Durations are logged, never asserted; every wait polls with a generous deadline."""
import json
import os
import signal
import time
import unittest

import ferrytest
import zkharness
from ferrytest import (E_ELECTION_NOT_NEEDED, E_INVALID_REPLICA_ASSIGNMENT, E_NO_REASSIGNMENT_IN_PROGRESS,
                       E_NOT_CONTROLLER, E_PREFERRED_LEADER_NOT_AVAILABLE, E_UNKNOWN_TOPIC_OR_PARTITION,
                       ELECTION_PREFERRED, ELECTION_UNCLEAN, log)
from zkcluster import (SESSION_TIMEOUT_MS, check_admin_partitions_json, check_topic_json, live_broker_ids,
                       partition_state, start_legacy_cluster, topic_znode, wait_until)

WAIT = SESSION_TIMEOUT_MS / 1000.0 + 120


class ZkReassign(ferrytest.FerryTestCase):
    def start_cluster(self, zk, extra=None):
        nodes, c, ctl = start_legacy_cluster(self, zk, extra=extra)
        return {n.node_id: n for n in nodes}, c, ctl

    def topic(self, c, name, assignment):
        c.create("/brokers/topics/%s" % name, topic_znode(assignment))
        return wait_until(lambda: all(partition_state(c, name, p)[0] and
                                      partition_state(c, name, p)[0]["isr"] == r for p, r in assignment.items()),
                          timeout=WAIT, what="state znodes of %s" % name)

    def topic_json(self, c, name):
        return check_topic_json(c.get("/brokers/topics/%s" % name)[0])

    def alter(self, node, reassignments):
        """reassignments {(topic, partition): replicas or None}: (top-level error, {(topic, partition): (error,
        message)})."""
        targets = {}
        for (t, p), reps in reassignments.items():
            targets.setdefault(t, {})[p] = reps
        with node.conn(timeout=60) as kc:
            top, _, out = kc.alter_partition_reassignments(targets)
            return top, out

    def listed(self, node, topic_parts=None):
        with node.conn(timeout=60) as kc:
            return kc.list_partition_reassignments(topic_parts)

    def elect(self, node, election_type, topic_parts, version=2):
        with node.conn(timeout=60) as kc:
            return kc.elect_leaders(election_type, topic_parts, version=version)

    def test_move_a_partition_under_a_producer_list_and_cancel(self):
        zk = zkharness.start_for_test(self)
        node, c, ctl = self.start_cluster(zk)
        other = [i for i in node if i != ctl][0]

        # ---- errors first: nothing is running ----
        self.topic(c, "moving", {0: [1, 2]})
        top, res = self.alter(node[other], {("moving", 0): [2, 3]})
        self.assertEqual((top, res), (E_NOT_CONTROLLER, {}))
        self.assertEqual(self.listed(node[other])[0], E_NOT_CONTROLLER)
        top, res = self.alter(node[ctl], {("moving", 0): [], ("moving", 1): [2, 3], ("nosuch", 0): [1],
                                           ("dup", 0): [1, 1], ("dead", 0): [1, 99]})
        self.assertEqual(top, 0)
        self.assertEqual(res[("moving", 0)][0], E_INVALID_REPLICA_ASSIGNMENT, res)
        self.assertEqual(res[("moving", 1)][0], E_UNKNOWN_TOPIC_OR_PARTITION, res)
        self.assertEqual(res[("nosuch", 0)][0], E_UNKNOWN_TOPIC_OR_PARTITION, res)
        self.assertEqual(res[("dup", 0)][0], E_INVALID_REPLICA_ASSIGNMENT, res)
        self.assertEqual(res[("dead", 0)][0], E_INVALID_REPLICA_ASSIGNMENT, res)
        self.assertEqual(self.alter(node[ctl], {("moving", 0): None})[1][("moving", 0)][0],
                         E_NO_REASSIGNMENT_IN_PROGRESS)
        self.assertEqual(self.listed(node[ctl]), (0, {}))

        # ---- the move under an acks=all producer ----
        boot = ",".join(n.bootstrap for n in node.values())
        wait_until(lambda: ferrytest.run_kcat(["-L", "-b", node[3].bootstrap, "-t", "moving"], timeout=60)
                   .stdout.count(b"leader 1") == 1, what="broker 3 to learn the leader of moving")
        prod = ferrytest.BackgroundProducer(boot, "moving").start()
        seen_topic = []
        try:
            prod.wait_acked(300, what="300 acknowledged messages before the move")
            t0 = time.monotonic()
            top, res = self.alter(node[ctl], {("moving", 0): [2, 3]})
            self.assertEqual((top, res), (0, {("moving", 0): (0, None)}))
            top, running = self.listed(node[ctl], {"moving": [0]})
            self.assertEqual(top, 0)
            if running:  # it may be done already: then the final state below is what counts
                self.assertEqual(running, {("moving", 0): ([2, 3, 1], [3], [1])})
            seen_topic.append(self.topic_json(c, "moving"))

            def done():
                d = self.topic_json(c, "moving")
                seen_topic.append(d)
                st = partition_state(c, "moving", 0)[0]
                return (d["partitions"] == {"0": [2, 3]} and not d["adding_replicas"] and
                        not d["removing_replicas"] and sorted(st["isr"]) == [2, 3] and st["leader"] in (2, 3))
            wait_until(done, timeout=WAIT, what="moving-0 on brokers [2, 3]")
            log("reassignment [1, 2] -> [2, 3] done %.2f s after the request" % (time.monotonic() - t0))
            self.assertEqual(self.listed(node[ctl]), (0, {}))
            prod.wait_acked(300, what="300 more acknowledged messages after the move")
        finally:
            prod.stop()
        mid = [d for d in seen_topic if d["adding_replicas"]]
        for d in mid:
            self.assertEqual((d["partitions"], d["adding_replicas"], d["removing_replicas"]),
                             ({"0": [2, 3, 1]}, {"0": [3]}, {"0": [1]}))
        log("%d acknowledged, %d failed deliveries; topic znode seen mid-move %d time(s)"
            % (len(prod.acked), len(prod.failed), len(mid)))
        got = ferrytest.consume_confluent(node[3], "moving", [0])[0]
        lost = prod.acked - {m.value() for m in got}
        self.assertEqual(len(lost), 0, "acknowledged but lost: %s" % sorted(lost)[:10])
        wait_until(lambda: not os.path.exists(node[1].partition_dir("moving", 0)), timeout=WAIT,
                   what="broker 1 to delete its replica of moving-0")
        self.assertTrue(os.path.exists(node[3].partition_dir("moving", 0)))

        # ---- a reassignment that cannot finish, listed, then cancelled ----
        stuck = [i for i in node if i != ctl][0]
        keep = [i for i in node if i != stuck]
        self.topic(c, "stuck", {0: keep})
        os.kill(node[stuck].pid, signal.SIGSTOP)
        try:
            top, res = self.alter(node[ctl], {("stuck", 0): keep + [stuck]})
            self.assertEqual((top, res), (0, {("stuck", 0): (0, None)}))
            self.assertEqual(self.listed(node[ctl]), (0, {("stuck", 0): (keep + [stuck], [stuck], [])}))
            d = self.topic_json(c, "stuck")
            self.assertEqual((d["partitions"], d["adding_replicas"], d["removing_replicas"]),
                             ({"0": keep + [stuck]}, {"0": [stuck]}, {}))
            top, res = self.alter(node[ctl], {("stuck", 0): None})
            self.assertEqual((top, res), (0, {("stuck", 0): (0, None)}))
            wait_until(lambda: self.listed(node[ctl]) == (0, {}), timeout=WAIT, what="the cancel to finish")
            d = wait_until(lambda: (lambda d: d["partitions"] == {"0": keep} and not d["adding_replicas"] and d)(
                self.topic_json(c, "stuck")), timeout=WAIT, what="stuck's znode back to its origin")
            self.assertEqual(d["removing_replicas"], {})
            self.assertEqual(self.alter(node[ctl], {("stuck", 0): None})[1][("stuck", 0)][0],
                             E_NO_REASSIGNMENT_IN_PROGRESS)
        finally:
            os.kill(node[stuck].pid, signal.SIGCONT)
        st = partition_state(c, "stuck", 0)[0]
        self.assertIn(st["leader"], keep)
        self.assertTrue(set(st["isr"]) <= set(keep), st)

    def test_admin_znodes_reassign_and_preferred_election(self):
        zk = zkharness.start_for_test(self)
        node, c, ctl = self.start_cluster(zk, extra={"auto.leader.rebalance.enable": "false"})
        others = [i for i in node if i != ctl]
        self.topic(c, "zkmove", {0: [others[0], ctl]})
        self.topic(c, "pref", {0: [others[0], others[1]]})
        seen = {"/admin/reassign_partitions": [], "/admin/preferred_replica_election": []}
        def keep(path):
            def watch(data, stat):
                if data is not None:
                    seen[path].append(data)
            return watch
        for path in seen:
            c.DataWatch(path, keep(path))

        # the old kafka-reassign-partitions.sh --zookeeper: one real entry, one unknown partition
        entry = {"topic": "zkmove", "partition": 0, "replicas": [others[1], ctl]}
        c.create("/admin/reassign_partitions", json.dumps(
            {"version": 1, "partitions": [entry, {"topic": "nosuch", "partition": 3, "replicas": [1]}]}).encode())

        def moved():
            d = self.topic_json(c, "zkmove")
            return d["partitions"] == {"0": [others[1], ctl]} and not d["adding_replicas"] and \
                not c.exists("/admin/reassign_partitions")
        wait_until(moved, timeout=WAIT, what="zkmove moved and /admin/reassign_partitions deleted")
        st = partition_state(c, "zkmove", 0)[0]
        self.assertEqual(sorted(st["isr"]), sorted([others[1], ctl]))
        for data in seen["/admin/reassign_partitions"]:
            check_admin_partitions_json(data, True)
        rewritten = [json.loads(d)["partitions"] for d in seen["/admin/reassign_partitions"]]
        log("/admin/reassign_partitions versions seen: %s" % rewritten)

        # preferred election through the znode: move leadership off the preferred replica first
        pref = others[0]
        node[pref].stop()
        wait_until(lambda: partition_state(c, "pref", 0)[0]["leader"] == others[1], timeout=WAIT,
                   what="pref led by broker %d" % others[1])
        top, res = self.elect(node[ctl], ELECTION_PREFERRED, {"pref": [0]})
        self.assertEqual(res[("pref", 0)][0], E_PREFERRED_LEADER_NOT_AVAILABLE, res)
        node[pref].start()
        wait_until(lambda: pref in partition_state(c, "pref", 0)[0]["isr"], timeout=WAIT,
                   what="broker %d back in the ISR of pref" % pref)
        self.assertEqual(partition_state(c, "pref", 0)[0]["leader"], others[1])
        c.create("/admin/preferred_replica_election",
                 json.dumps({"version": 1, "partitions": [{"topic": "pref", "partition": 0},
                                                          {"topic": "nosuch", "partition": 0}]}).encode())
        wait_until(lambda: partition_state(c, "pref", 0)[0]["leader"] == pref and
                   not c.exists("/admin/preferred_replica_election"), timeout=WAIT,
                   what="pref led by its preferred replica and the znode deleted")
        for data in seen["/admin/preferred_replica_election"]:
            check_admin_partitions_json(data, False)
        top, res = self.elect(node[ctl], ELECTION_PREFERRED, {"pref": [0]})
        self.assertEqual(res[("pref", 0)][0], E_ELECTION_NOT_NEEDED, res)

    def test_elect_leaders_preferred_and_unclean(self):
        zk = zkharness.start_for_test(self)
        node, c, ctl = self.start_cluster(zk, extra={"auto.leader.rebalance.enable": "false"})
        a, b = [i for i in node if i != ctl]
        self.topic(c, "el", {0: [a, b, ctl], 1: [b, a, ctl]})
        self.topic(c, "offline", {0: [a, b]})
        # every partition led by its preferred replica: nothing to do
        for v in (0, 1, 2):
            top, res = self.elect(node[ctl], ELECTION_PREFERRED, {"el": [0, 1], "nosuch": [0]}, version=v)
            self.assertEqual(res[("el", 0)][0], E_ELECTION_NOT_NEEDED, (v, res))
            self.assertEqual(res[("el", 1)][0], E_ELECTION_NOT_NEEDED, (v, res))
            self.assertEqual(res[("nosuch", 0)], (E_UNKNOWN_TOPIC_OR_PARTITION, "The partition does not exist."))
        # every partition (null list): those that need no election are left out
        self.assertEqual(self.elect(node[ctl], ELECTION_PREFERRED, None), (0, {}))
        top, res = self.elect(node[a], ELECTION_PREFERRED, {"el": [0]})
        self.assertEqual(res, {("el", 0): (E_NOT_CONTROLLER, None)})
        top, res = self.elect(node[ctl], ELECTION_UNCLEAN, {"el": [0]})
        self.assertEqual(res[("el", 0)][0], E_ELECTION_NOT_NEEDED, res)

        # broker a goes and comes back: b leads el-0 until the preferred election
        node[a].stop()
        wait_until(lambda: partition_state(c, "el", 0)[0]["leader"] == b, timeout=WAIT, what="el-0 led by %d" % b)
        node[a].start()
        wait_until(lambda: a in partition_state(c, "el", 0)[0]["isr"], timeout=WAIT, what="broker %d in el-0's ISR" % a)
        top, res = self.elect(node[ctl], ELECTION_PREFERRED, {"el": [0, 1]})
        self.assertEqual(res, {("el", 0): (0, None), ("el", 1): (E_ELECTION_NOT_NEEDED, None)})
        self.assertEqual(partition_state(c, "el", 0)[0]["leader"], a)

        # offline-0 [a, b]: a dies (ISR [b]), then b dies: no leader; a comes back outside the ISR
        node[a].kill9()
        wait_until(lambda: partition_state(c, "offline", 0)[0]["isr"] == [b], timeout=WAIT, what="offline ISR [b]")
        node[b].kill9()
        wait_until(lambda: partition_state(c, "offline", 0)[0]["leader"] == -1, timeout=WAIT,
                   what="offline-0 without a leader")
        node[a].start()
        wait_until(lambda: a in live_broker_ids(c), timeout=WAIT, what="broker %d registered" % a)
        self.assertEqual(partition_state(c, "offline", 0)[0]["leader"], -1)  # clean election impossible
        top, res = self.elect(node[ctl], ELECTION_UNCLEAN, {"offline": [0]})
        self.assertEqual(res, {("offline", 0): (0, None)})
        st = partition_state(c, "offline", 0)[0]
        self.assertEqual((st["leader"], st["isr"]), (a, [a]))  # RECOVERING until a says it recovered
        top, res = self.elect(node[ctl], ELECTION_PREFERRED, {"offline": [0]})
        self.assertEqual(res[("offline", 0)][0], E_ELECTION_NOT_NEEDED, res)


if __name__ == "__main__":
    unittest.main()
