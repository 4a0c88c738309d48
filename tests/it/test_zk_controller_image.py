"""The ZooKeeper-mode controller's image takeover (zkmode/zk_controller_load.c, docs/architecture.md) on 3
legacy-mode brokers against a real ZooKeeper 3.8: after kill -9 of the controller, the new one decides from
the partition states its broker's metadata image holds (UpdateMetadata of the previous controller) and writes
them at the image's zkVersions, fenced as ever. The state znodes must end exactly as a controller that read
every znode first (Kafka's failover) would have written them (strict reader of Kafka's format); and a state
changed behind the image's back just before the kill makes the conditional write fail with BADVERSION, the
state is read again and the partition still ends as the full read would have decided it. The first
controller, whose broker never had a previous controller's UpdateMetadata, reads every state instead.

Durations are logged, never asserted; every wait polls with a generous deadline."""
import json
import re
import unittest

import ferrytest
import zkharness
from ferrytest import log
from zkcluster import (SESSION_TIMEOUT_MS, controller, controller_epoch, partition_state, start_legacy_cluster,
                       topic_znode, wait_until)

# replicas spread over the three brokers; every broker leads some partitions and follows others
ASSIGNMENTS = {
    "img-a": {0: [1, 2, 3], 1: [2, 3, 1], 2: [3, 1, 2], 3: [1, 3], 4: [2, 1], 5: [3, 2]},
    "img-b": {0: [2, 1], 1: [3, 1, 2], 2: [1, 2, 3], 3: [2, 3]},
}
# no leadership moves other than the failover's: the expected states are exact
EXTRA = {"auto.leader.rebalance.enable": "false"}


def expected_after_failover(assignment, before, dead, epoch):
    """What Kafka's controller writes at failover when broker `dead` is gone, from the states read before:
    {partition: (state dict, zkVersion)}. A partition the dead broker led gets the first replica of its
    assignment that is live and in the ISR; the dead broker leaves every ISR (never the last member);
    each change bumps the leader epoch and the zkVersion and carries the new controller epoch."""
    out = {}
    for p, (st, ver) in before.items():
        isr = st["isr"]
        if st["leader"] != dead and dead not in isr:
            out[p] = (st, ver)
            continue
        new_isr = [b for b in isr if b != dead] or isr
        leader = st["leader"]
        if leader == dead:
            cands = [b for b in assignment[p] if b != dead and b in new_isr]
            leader = cands[0] if cands else -1
        new = {"controller_epoch": epoch, "leader": leader, "version": 1, "leader_epoch": st["leader_epoch"] + 1,
               "isr": new_isr}
        out[p] = (new, ver + 1)
    return out


def same_or_expanded(got, want, replicas, dead):
    """got is the state want: exactly, or want followed by the leader's AlterPartition adding live replicas
    back to the ISR (same leader and leader epoch, a later zkVersion), which a leader does on its own."""
    if got == want:
        return True
    (gs, gv), (ws, wv) = got, want
    if gs is None or gv <= wv or {k: v for k, v in gs.items() if k != "isr"} != {k: v for k, v in ws.items() if k != "isr"}:
        return False
    return set(ws["isr"]) < set(gs["isr"]) <= {b for b in replicas if b != dead}


class ZkControllerImage(ferrytest.FerryTestCase):
    def settled_states(self, c, topic, assignment):
        """Every partition's state once its ISR is its whole assignment: {partition: (state, zkVersion)}."""
        def all_in():
            states = {}
            for p, reps in assignment.items():
                st, ver = partition_state(c, topic, p)
                if st is None or sorted(st["isr"]) != sorted(reps) or st["leader"] < 0:
                    return None
                states[p] = (st, ver)
            return states
        return wait_until(all_in, timeout=120, what="state znodes of %s with full ISRs" % topic)

    def failover(self, zk, tamper=None):
        """Creates the topics, waits until every broker has the controller's UpdateMetadata for all of them,
        optionally changes a state behind the brokers' back (tamper(c, ctl, before) -> the state znodes it
        wrote, as before), kills the controller with -9 and checks the new one's writes against the full
        read's. Returns (new controller node, old controller id, before)."""
        nodes, c, ctl = start_legacy_cluster(self, zk, extra=EXTRA)
        # the first controller has no previous controller's image: it reads every state (the fallback)
        first = [n for n in nodes if n.node_id == ctl][0]
        self.assertIn("the metadata image is not the previous controller's: reading every partition state",
                      first.log_text())
        for t, a in ASSIGNMENTS.items():
            c.create("/brokers/topics/%s" % t, topic_znode(a))
        before = {t: self.settled_states(c, t, a) for t, a in ASSIGNMENTS.items()}
        # every broker's image holds every partition as ZooKeeper does (Metadata answers from the image)
        want_md = {(t, p): (st["leader"], sorted(st["isr"])) for t in before for p, (st, _v) in before[t].items()}
        for n in nodes:
            try:
                wait_until(lambda n=n: image_of(n) == want_md, what="broker %d's image" % n.node_id)
            except AssertionError:
                self.fail("broker %d's Metadata %r, ZooKeeper %r" % (n.node_id, image_of(n), want_md))
        epoch0 = controller_epoch(c)[0]
        if tamper:
            before = tamper(c, ctl, before)
        old = [n for n in nodes if n.node_id == ctl][0]
        old.kill9()
        new, _ = wait_until(lambda: controller(c)[0] not in (None, ctl) and controller(c),
                            timeout=SESSION_TIMEOUT_MS / 1000.0 + 60, what="a new controller")
        node = [n for n in nodes if n.node_id == new][0]
        line = wait_until(lambda: re.search(r"is the active controller: epoch %d, .*?(\d+) partition states, (\d+) of "
                                            r"them from the metadata image" % (epoch0 + 1), node.log_text()),
                          what="broker %d to take over" % new)
        log("takeover: %s" % line.group(0))
        # the path under test ran: the states came from the image, not from reading their znodes
        self.assertGreater(int(line.group(2)), 0)
        for t, a in ASSIGNMENTS.items():
            want = expected_after_failover(a, before[t], ctl, epoch0 + 1)

            def exact(t=t, a=a, want=want):
                got = {p: partition_state(c, t, p) for p in a}
                return all(same_or_expanded(got[p], want[p], a[p], ctl) for p in a) and got
            try:
                wait_until(exact, timeout=SESSION_TIMEOUT_MS / 1000.0 + 90, what="the states of %s" % t)
            except Exception:
                got = {p: partition_state(c, t, p) for p in a}
                self.fail("%s: states %r, a full read would have written %r" % (t, got, want))
        # the background read of every state taken from the image found them as the controller knows them
        wait_until(lambda: "taken from the metadata image read from ZooKeeper" in node.log_text(),
                   what="the background read behind the takeover")
        return node, ctl, before, c

    def test_image_takeover_writes_what_a_full_read_would(self):
        zk = zkharness.start_for_test(self)
        node, ctl, _, _c = self.failover(zk)
        self.assertIn("read behind the image takeover, 0 newer than the image", node.log_text())

    def test_stale_image_badversion_rereads_and_decides_again(self):
        zk = zkharness.start_for_test(self)
        tampered = []

        def tamper(c, ctl, before):
            # a partition the controller leads with three replicas: its ISR loses one follower in ZooKeeper
            # (as if the old controller wrote it and died before telling anyone), leader epoch + 1
            t = "img-a"
            p = [p for p, (st, _v) in sorted(before[t].items()) if st["leader"] == ctl and len(st["isr"]) == 3][0]
            st, ver = before[t][p]
            dropped = [b for b in ASSIGNMENTS[t][p] if b != ctl][0]
            new = dict(st, leader_epoch=st["leader_epoch"] + 1, isr=[b for b in st["isr"] if b != dropped])
            path = "/brokers/topics/%s/partitions/%d/state" % (t, p)
            c.set(path, json.dumps(new, separators=(",", ":")).encode(), version=ver)
            tampered.append((t, p, dropped))
            out = {k: dict(v) for k, v in before.items()}
            out[t][p] = partition_state(c, t, p)
            self.assertEqual(out[t][p][1], ver + 1)
            return out
        node, ctl, before, c = self.failover(zk, tamper)
        t, p, dropped = tampered[0]
        st, _ver = partition_state(c, t, p)
        # the leader is the survivor the full read elects, not the image's ISR's first live member
        self.assertNotEqual(st["leader"], dropped)
        self.assertIn("%s-%d: state write failed" % (t, p), node.log_text())


def image_of(node):
    """{(topic, partition): (leader, sorted ISR)} of node's Metadata (v1) for the test's topics."""
    with node.conn(timeout=10) as kc:
        md = kc.metadata(None, version=1)
    return {(t["name"], p["partition"]): (p["leader"], sorted(p["isr"]))
            for t in md["topics"] if t["name"] in ASSIGNMENTS for p in t["partitions"]}


if __name__ == "__main__":
    unittest.main()
