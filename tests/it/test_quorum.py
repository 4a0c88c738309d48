"""A 3-voter metadata quorum of real `ferry server` processes on loopback (process.roles=broker,controller on
each), plus a broker-only node (process.roles=broker) that follows the log as an observer:

- one leader is elected (the Raft I/O over the controller listener: Vote, BeginQuorumEpoch, Fetch);
  DescribeQuorum on any controller names it and lists the three voters;
- CreateTopics on the active controller commits and every node's image has the topic (Metadata on each
  node's broker listener, the observer's too); a CreateTopics sent to a non-leader's broker is forwarded to the active controller;
- kill -9 of the leader: a new leader (polled, never timed), writes work again, and the killed node,
  restarted, catches up;
- a node stopped while the others write enough to take snapshots loads a snapshot by FetchSnapshot when it
  comes back (its log shows the install) and then has every topic.
Every process is stopped by pid (FerryNode)."""
import re
import time

import ferrytest as ft

ft.FLEXIBLE_FROM.setdefault(55, 0)  # DescribeQuorum: flexible from v0 (request header v2)

API_DESCRIBE_QUORUM = 55
LEADER_RE = re.compile(r"node (\d+): leader of the metadata quorum at epoch (\d+)")
ACTIVE_RE = re.compile(r"node (\d+): active controller at epoch (\d+)")


def enc_describe_quorum_v0():
    # flexible (v0+): compact array of topics [name, compact array of partitions [index, tags], tags], tags
    w = ft.W()
    w.uvarint(2)
    w.compact_string("__cluster_metadata")
    w.uvarint(2)
    w.i32(0)
    w.tags()
    w.tags()
    w.tags()
    return w.getvalue()


def dec_describe_quorum_v0(body):
    r = ft.R(body)
    out = {"error": r.i16()}

    def replica(rr):
        rid = rr.i32()
        leo = rr.i64()
        rr.tags()
        return (rid, leo)

    def partition(rr):
        p = {"index": rr.i32(), "error": rr.i16(), "leader": rr.i32(), "epoch": rr.i32(), "hw": rr.i64()}
        p["voters"] = rr.compact_array(replica)
        p["observers"] = rr.compact_array(replica)
        rr.tags()
        return p

    def topic(rr):
        name = rr.compact_string()
        parts = rr.compact_array(partition)
        rr.tags()
        return (name, parts)

    out["topics"] = r.compact_array(topic)
    return out


class QuorumHarness(ft.FerryTestCase):
    """The 3-voter cluster and its probes, shared with test_quorum_heal (no tests of its own)."""

    def make_cluster(self, n=3, overrides=None, observers=0):
        """n combined broker,controller voters, then `observers` broker-only nodes (ids n+1...)."""
        nodes = [self.node(name="q%d" % (i + 1), node_id=i + 1, mode="config", overrides=overrides or {})
                 for i in range(n)]
        voters = ",".join("%d@127.0.0.1:%d" % (x.node_id, x.controller_port) for x in nodes)
        for i in range(observers):
            o = self.node(name="obs%d" % (n + i + 1), node_id=n + i + 1, mode="config", overrides=overrides or {})
            o.config["process.roles"] = "broker"
            o.config["listeners"] = "PLAINTEXT://127.0.0.1:%d" % o.port
            nodes.append(o)
        cluster_id = ft.run_ferry(["storage", "random-uuid"]).stdout.strip()
        for x in nodes:
            x.config["controller.quorum.voters"] = voters
            x.format(cluster_id)
        return nodes

    def describe(self, node):
        with ft.KafkaConn("127.0.0.1", node.controller_port, timeout=10) as c:
            body = c.request(API_DESCRIBE_QUORUM, 0, enc_describe_quorum_v0())
        return dec_describe_quorum_v0(body)

    def leader(self, nodes, exclude=()):
        """The live node that is the active controller at the highest epoch, as DescribeQuorum reports it."""
        best = None
        for x in nodes:
            if not x.alive() or x in exclude:
                continue
            m = [(int(e), int(i)) for i, e in ACTIVE_RE.findall(x.log_text()) if int(i) == x.node_id]
            if not m:
                continue
            epoch = max(m)[0]
            try:
                d = self.describe(x)
            except (OSError, ft.ConnectionClosed, ft.ParseError):
                continue
            part = d["topics"][0][1][0] if d["topics"] else None
            if part and part["error"] == 0 and part["leader"] == x.node_id and part["epoch"] == epoch:
                if best is None or epoch > best[1]:
                    best = (x, epoch)
        return best

    def wait_leader(self, nodes, exclude=(), above=0):
        def ok():
            b = self.leader(nodes, exclude)
            return b if b and b[1] > above else None
        return ft.wait_until(ok, timeout=120, what="a leader of the metadata quorum")

    def create(self, node, topic, partitions=1):
        def ok():
            with node.conn(timeout=20) as c:
                res = c.create_topics([(topic, partitions, 1)])
            return res[topic][0] == 0 or None
        ft.wait_until(ok, timeout=60, what="CreateTopics %s on node %d" % (topic, node.node_id))

    def has_topic(self, node, topic):
        with node.conn(timeout=10) as c:
            md = c.metadata([topic], version=1)
        return any(t["name"] == topic and t["error"] == 0 for t in md["topics"])

    def wait_everywhere(self, nodes, topic):
        for x in nodes:
            ft.wait_until(lambda: self.has_topic(x, topic), timeout=120,
                          what="topic %s on node %d" % (topic, x.node_id))


class QuorumTest(QuorumHarness):
    def test_election_writes_failover_catch_up(self):
        everyone = self.make_cluster(observers=1)
        nodes = everyone[:3]
        for x in everyone:
            x.spawn()
        for x in everyone:
            x.wait_ready(wait_metadata=False)
        lead, epoch = self.wait_leader(nodes)
        d = self.describe(lead)
        part = d["topics"][0][1][0]
        self.assertEqual(sorted(v[0] for v in part["voters"]), [1, 2, 3])
        # the broker-only node follows the log as an observer: the leader lists it once it has fetched
        ft.wait_until(lambda: 4 in [o[0] for o in self.describe(lead)["topics"][0][1][0]["observers"]],
                      timeout=60, what="the observer in DescribeQuorum")
        # exactly one node is the active controller at that epoch
        for x in nodes:
            if x is not lead:
                self.assertNotIn("node %d: active controller at epoch %d" % (x.node_id, epoch), x.log_text())

        self.create(lead, "q-one")
        self.wait_everywhere(everyone, "q-one")
        follower = next(x for x in nodes if x is not lead)
        # a follower's broker forwards the write to the active controller (Envelope, broker/api/ctrl_channel)
        with follower.conn() as c:
            res = c.create_topics([("q-forwarded", 1, 1)])
        self.assertEqual(res["q-forwarded"][0], 0, res)
        self.wait_everywhere(nodes, "q-forwarded")

        # kill -9 of the leader: a new one, writes again
        lead.kill9()
        new, new_epoch = self.wait_leader(nodes, exclude=(lead,), above=epoch)
        self.assertIsNot(new, lead)
        self.create(new, "q-two")
        self.wait_everywhere([x for x in everyone if x is not lead], "q-two")

        # the killed node comes back and catches up
        lead.spawn()
        lead.wait_ready(wait_metadata=False)
        self.wait_everywhere([lead], "q-two")
        self.wait_everywhere([lead], "q-one")

    def test_far_behind_loads_snapshot(self):
        nodes = self.make_cluster(overrides={"metadata.log.max.record.bytes.between.snapshots": "2000"})
        for x in nodes:
            x.spawn()
        for x in nodes:
            x.wait_ready(wait_metadata=False)
        lead, _ = self.wait_leader(nodes)
        behind = next(x for x in nodes if x is not lead)
        behind.kill9()
        names = ["snap-%02d" % i for i in range(30)]
        for t in names:
            self.create(lead, t)
        ft.wait_until(lambda: "snapshot" in lead.log_text() and "written" in lead.log_text(), timeout=60,
                      what="a snapshot on the leader")
        behind.spawn()
        behind.wait_ready(wait_metadata=False)
        ft.wait_until(lambda: "installed the snapshot fetched from the leader" in behind.log_text(), timeout=120,
                      what="FetchSnapshot on the node that was behind")
        for t in (names[0], names[-1]):
            self.wait_everywhere([behind], t)

    def test_controlled_shutdown_of_the_active_controller(self):
        """SIGTERM of the combined node that is the active controller: its broker first hands its leaderships
        over (BrokerHeartbeat WantShutDown to its own controller, as to a remote one), then the node stops."""
        nodes = self.make_cluster()
        for x in nodes:
            x.spawn()
        for x in nodes:
            x.wait_ready(wait_metadata=False)
        lead, _ = self.wait_leader(nodes)

        def created():  # INVALID_REPLICATION_FACTOR (38) until the three brokers are unfenced
            with lead.conn(timeout=20) as c:
                res = c.create_topics([("handover", 6, 3)])
            return res["handover"][0] in (0, 36) or None  # 36: an earlier attempt's answer was lost
        ft.wait_until(created, timeout=120, what="CreateTopics handover (replication factor 3: every broker unfenced)")

        def partitions(node):
            with node.conn(timeout=10) as c:
                md = c.metadata(["handover"], version=1)
            t = [t for t in md["topics"] if t["name"] == "handover" and t["error"] == 0]
            return t[0]["partitions"] if t and len(t[0]["partitions"]) == 6 else None
        ft.wait_until(lambda: (lambda ps: ps and all(len(p["isr"]) == 3 for p in ps))(partitions(lead)), timeout=120,
                      what="handover with full ISRs")

        def leads_some():  # placement gives each broker 2 preferred leaderships; under load a missed heartbeat
            # may have moved them off it since: a preferred election (ElectLeaders type 0) brings them back
            if any(p["leader"] == lead.node_id for p in partitions(lead)):
                return True
            with lead.conn(timeout=20) as c:
                c.elect_leaders(0, {"handover": list(range(6))})
            return None
        ft.wait_until(leads_some, timeout=60, what="node %d leading some of handover's partitions" % lead.node_id)
        lead.stop()
        self.assertTrue("broker %d: controlled shutdown complete" % lead.node_id in lead.log_text(),
                        "no controlled shutdown in the log of node %d" % lead.node_id)
        rest = [x for x in nodes if x is not lead]
        self.wait_leader(rest)

        def moved():
            ps = partitions(rest[0])
            return ps and all(p["leader"] not in (lead.node_id, -1) and lead.node_id not in p["isr"] for p in ps)
        ft.wait_until(moved, timeout=60, what="every partition led by a running broker, %d out of the ISRs" % lead.node_id)


if __name__ == "__main__":
    ft.main()
