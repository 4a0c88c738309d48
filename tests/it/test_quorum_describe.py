"""`ferry quorum describe` against a live single-node quorum (broker and controller in one process):
DescribeQuorum served on the broker listener (--bootstrap-server: forwarded to the node's own active
controller in-process) and on the controller listener
(--bootstrap-controller), kafka-metadata-quorum's --status lines and --replication table, the high
watermark following metadata writes, ApiVersions advertising DescribeQuorum 0-1 on both listeners, and the
errors (unreachable node, usage) with their exit codes."""
import re
import struct
import time
import unittest

import ferrytest as ft
import test_quorum as tq


def quorum(*args, timeout=120):
    return ft.run_ferry(["quorum"] + list(args), timeout=timeout)


def describe_cluster(port, version, endpoint_type):
    """DescribeCluster (60) on a raw connection: (error, message, endpoint type, cluster id, controller id,
    [(id, host, port)])."""
    body = b"\x00" + (struct.pack(">b", endpoint_type) if version >= 1 else b"") + b"\x00"
    with ft.KafkaConn("127.0.0.1", port) as c:
        r = ft.R(c.request(60, version, body))
    r.i32()
    err, msg = r.i16(), r.compact_string()
    etype = r.i8() if version >= 1 else 1
    cluster, controller = r.compact_string(), r.i32()

    def node(rr):
        n = (rr.i32(), rr.compact_string(), rr.i32())
        rr.compact_string()
        rr.tags()
        return n
    nodes = r.compact_array(node)
    r.i32()
    r.tags()
    r.end()
    return err, msg, etype, cluster, controller, nodes


def status_fields(res):
    fields = {}
    for line in res.stdout.splitlines():
        m = re.match(r"^(\w+):\s+(.*)$", line)
        if m:
            fields[m.group(1)] = m.group(2)
    return fields


class QuorumDescribeTest(ft.FerryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.start_node(name="quorum-describe")

    def controller(self):
        return "127.0.0.1:%d" % self.n.controller_port

    def status(self, flag, address):
        res = quorum(flag, address, "describe", "--status")
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stderr, "", res)
        f = status_fields(res)
        self.assertEqual(list(f), ["ClusterId", "LeaderId", "LeaderEpoch", "HighWatermark", "MaxFollowerLag",
                                   "MaxFollowerLagTimeMs", "CurrentVoters", "CurrentObservers"], res.stdout)
        return f

    def test_status_on_both_listeners(self):
        with self.n.conn() as c:
            cluster_id = c.metadata(None).get("cluster_id")
        for flag, address in (("--bootstrap-server", self.n.bootstrap), ("--bootstrap-controller", self.controller())):
            with self.subTest(flag=flag):
                f = self.status(flag, address)
                self.assertEqual(f["LeaderId"], str(self.n.node_id))
                self.assertGreaterEqual(int(f["LeaderEpoch"]), 1)
                self.assertGreater(int(f["HighWatermark"]), 0, "the bootstrap records are committed")
                self.assertEqual(f["MaxFollowerLag"], "0")  # the single voter is its own lowest voter
                self.assertEqual(f["MaxFollowerLagTimeMs"], "0")
                self.assertEqual(f["CurrentVoters"], "[%d]" % self.n.node_id)
                self.assertEqual(f["CurrentObservers"], "[]")
                if cluster_id:
                    self.assertEqual(f["ClusterId"], cluster_id)
                else:
                    self.assertRegex(f["ClusterId"], r"^[A-Za-z0-9_-]{22}$")

    def test_high_watermark_follows_metadata_writes(self):
        before = int(self.status("--bootstrap-server", self.n.bootstrap)["HighWatermark"])
        res = ft.run_ferry(["topics", "create", "--topic", "quorum-hw", "--partitions", "2",
                            "--bootstrap-server", self.n.bootstrap])
        self.assertEqual(res.returncode, 0, res)
        # CreateTopics answers once the records are committed: the next describe sees them
        after = int(self.status("--bootstrap-controller", self.controller())["HighWatermark"])
        self.assertGreater(after, before)

    def test_replication_table(self):
        for flag, address in (("--bootstrap-server", self.n.bootstrap), ("--bootstrap-controller", self.controller())):
            with self.subTest(flag=flag):
                started = int(time.time() * 1000)
                res = quorum(flag, address, "describe", "--replication")
                finished = int(time.time() * 1000)
                self.assertEqual(res.returncode, 0, res)
                rows = [line.rstrip("\t").split("\t") for line in res.stdout.splitlines()]
                self.assertEqual([c.strip() for c in rows[0]], ["NodeId", "LogEndOffset", "Lag",
                                                                "LastFetchTimestamp", "LastCaughtUpTimestamp",
                                                                "Status"], res.stdout)
                self.assertEqual(len(rows), 2, res.stdout)
                node, leo, lag, fetched, caught, status = [c.strip() for c in rows[1]]
                self.assertEqual(node, str(self.n.node_id))
                self.assertGreater(int(leo), 0)
                self.assertEqual(lag, "0")
                self.assertEqual(status, "Leader")
                # the leader is caught up with itself as of the request: a wall-clock time in the window
                for t in (fetched, caught):
                    self.assertGreaterEqual(int(t), started - 1000, res.stdout)
                    self.assertLessEqual(int(t), finished + 1000, res.stdout)
        res = quorum("--bootstrap-server", self.n.bootstrap, "describe", "--replication", "--human-readable")
        self.assertEqual(res.returncode, 0, res)
        self.assertRegex(res.stdout.splitlines()[1], r"\d+ ms ago\s*\t\d+ ms ago\s*\tLeader")

    def test_api_versions_advertise_describe_quorum(self):
        for port in (self.n.port, self.n.controller_port):
            with self.subTest(port=port):
                with ft.KafkaConn("127.0.0.1", port) as c:
                    corr = c.send(ft.API_API_VERSIONS, 3, ft.enc_api_versions(3))
                    got, body = c.recv()
                    self.assertEqual(got, corr)
                    entries = {e[0]: (e[1], e[2]) for e in ft.dec_api_versions(3, body)["entries"]}
                self.assertEqual(entries.get(55), (0, 1), entries)

    def test_describe_cluster_on_the_controller_listener(self):
        """KIP-919: the controller listener describes the controllers (EndpointType 2); a request for brokers
        gets MISMATCHED_ENDPOINT_TYPE (INVALID_REQUEST at v0)."""
        with self.n.conn() as c:
            cluster_id = c.metadata(None).get("cluster_id")
        err, msg, etype, cluster, controller, nodes = describe_cluster(self.n.controller_port, 1, 2)
        self.assertEqual((err, msg, etype), (0, None, 2))
        if cluster_id:
            self.assertEqual(cluster, cluster_id)
        self.assertEqual(controller, self.n.node_id)
        self.assertEqual(nodes, [(self.n.node_id, "127.0.0.1", self.n.controller_port)])
        err, msg, etype, cluster, controller, nodes = describe_cluster(self.n.controller_port, 1, 1)
        self.assertEqual((err, etype, controller, nodes), (114, 1, -1, []))
        self.assertIn("endpoint of type CONTROLLER, but we wanted an endpoint of type BROKER", msg)
        self.assertEqual(describe_cluster(self.n.controller_port, 0, 1)[0], 42)
        self.assertEqual(describe_cluster(self.n.controller_port, 1, 7)[0], 115)
        # the broker listener still describes the brokers
        err, _, _, _, _, nodes = describe_cluster(self.n.port, 0, 1)
        self.assertEqual((err, nodes), (0, [(self.n.node_id, "127.0.0.1", self.n.port)]))

    def test_unreachable_node_fails_with_exit_1(self):
        port = ft.free_port()
        res = quorum("--bootstrap-server", "127.0.0.1:%d" % port, "describe", "--status", "--timeout-ms", "5000")
        self.assertEqual(res.returncode, 1, res)
        self.assertEqual(res.stdout, "")
        self.assertRegex(res.stderr, r"^Error: .*127\.0\.0\.1:%d" % port)

    def test_usage_errors_exit_2(self):
        for args in (["describe", "--status"],
                     ["--bootstrap-server", self.n.bootstrap, "describe"],
                     ["--bootstrap-server", self.n.bootstrap, "describe", "--status", "--replication"],
                     ["--bootstrap-server", self.n.bootstrap, "--bootstrap-controller", self.controller(),
                      "describe", "--status"]):
            with self.subTest(args=args):
                res = quorum(*args)
                self.assertEqual(res.returncode, 2, res)
                self.assertIn("Run 'ferry quorum --help' for usage.", res.stderr)
        res = quorum("--help")
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("--bootstrap-controller", res.stdout)


class QuorumDescribeThreeVotersTest(ft.FerryTestCase):
    """Three combined voters and a broker-only node (test_quorum's cluster helpers): the command asked through
    a follower's controller listener, and through the broker listeners of a combined node that is not the
    leader and of the broker-only node, which forward DescribeQuorum to the active controller; with every
    controller stopped, the broker answers REQUEST_TIMED_OUT."""
    make_cluster = tq.QuorumTest.make_cluster
    describe = tq.QuorumTest.describe
    leader = tq.QuorumTest.leader
    wait_leader = tq.QuorumTest.wait_leader

    def test_describe_through_a_follower(self):
        everyone = self.make_cluster(observers=1)
        nodes = everyone[:3]
        for x in everyone:
            x.spawn()
        for x in everyone:
            x.wait_ready(wait_metadata=False)
        lead, epoch = self.wait_leader(nodes)
        follower = next(x for x in nodes if x is not lead)
        address = "127.0.0.1:%d" % follower.controller_port

        def status():
            res = quorum("--bootstrap-controller", address, "describe", "--status", "--timeout-ms", "10000")
            return res if res.returncode == 0 and "LeaderId:               %d\n" % lead.node_id in res.stdout else None
        res = ft.wait_until(status, timeout=60, what="describe --status through a follower naming the leader")
        f = status_fields(res)
        self.assertEqual(f["CurrentVoters"], "[1,2,3]", res.stdout)
        self.assertGreaterEqual(int(f["LeaderEpoch"]), epoch)
        self.assertEqual(f["ClusterId"], nodes[0].cluster_id)

        def replication():
            res = quorum("--bootstrap-controller", address, "describe", "--replication", "--timeout-ms", "10000")
            if res.returncode != 0:
                return None
            rows = [[c.strip() for c in line.rstrip("\t").split("\t")] for line in res.stdout.splitlines()[1:]]
            return rows[:3] if len(rows) == 4 and all(r[4] != "-1" for r in rows[:3]) else None
        rows = ft.wait_until(replication, timeout=60, what="every voter caught up in describe --replication")
        self.assertEqual([r[5] for r in rows], ["Leader", "Follower", "Follower"], rows)
        self.assertEqual(rows[0][0], str(lead.node_id))
        self.assertEqual(sorted(int(r[0]) for r in rows), [1, 2, 3])

        # the broker listeners of a follower and of the broker-only node forward to the active controller
        broker_only = everyone[3]
        for via in (follower, broker_only):
            with self.subTest(via=via.node_id):
                self.check_forwarded(via, lead, nodes)

        # no controller left: the broker's forward fails, answered REQUEST_TIMED_OUT (Kafka's ForwardingManager)
        for x in nodes:
            x.stop(check=False)
        res = quorum("--bootstrap-server", broker_only.bootstrap, "describe", "--status", "--timeout-ms", "120000")
        self.assertEqual(res.returncode, 1, res)
        self.assertEqual(res.stdout, "", res)
        self.assertIn("answered DescribeQuorum with REQUEST_TIMED_OUT (Kafka error 7)", res.stderr)
        self.assertIn("could not reach the active controller", res.stderr)

    def check_forwarded(self, via, lead, nodes):
        """--status and --replication through via's broker listener agree with the leader's DescribeQuorum on
        its controller listener (leader id, epoch, voters; the broker-only node 4 among the observers)."""
        def status():
            res = quorum("--bootstrap-server", via.bootstrap, "describe", "--status", "--timeout-ms", "30000")
            if res.returncode != 0:
                return None
            part = self.describe(lead)["topics"][0][1][0]
            f = status_fields(res)
            if f["LeaderId"] != str(part["leader"]) or f["LeaderEpoch"] != str(part["epoch"]) or \
                    f["CurrentObservers"] != "[4]":
                return None
            return f, part
        f, part = ft.wait_until(status, timeout=90, what="describe --status through node %d's broker listener"
                                % via.node_id)
        self.assertEqual(f["LeaderId"], str(lead.node_id))
        self.assertEqual(f["CurrentVoters"], "[%s]" % ",".join(str(v[0]) for v in sorted(part["voters"])))
        self.assertEqual(f["ClusterId"], nodes[0].cluster_id)
        self.assertGreater(int(f["HighWatermark"]), 0)

        def replication():
            res = quorum("--bootstrap-server", via.bootstrap, "describe", "--replication", "--timeout-ms", "30000")
            if res.returncode != 0:
                return None
            rows = [[c.strip() for c in line.rstrip("\t").split("\t")] for line in res.stdout.splitlines()[1:]]
            return rows if len(rows) == 4 else None
        rows = ft.wait_until(replication, timeout=90, what="describe --replication through node %d's broker "
                             "listener" % via.node_id)
        part = self.describe(lead)["topics"][0][1][0]
        self.assertEqual([r[5] for r in rows], ["Leader", "Follower", "Follower", "Observer"], rows)
        self.assertEqual(rows[0][0], str(lead.node_id))
        self.assertEqual(sorted(int(r[0]) for r in rows[:3]), sorted(v[0] for v in part["voters"]))
        self.assertEqual(rows[3][0], "4")
        for r in rows:
            self.assertGreaterEqual(int(r[1]), 0, rows)


if __name__ == "__main__":
    unittest.main()
