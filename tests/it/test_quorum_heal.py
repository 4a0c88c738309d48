"""A corrupt metadata log segment or snapshot on one voter of a 3-voter quorum (real `ferry server`
processes, test_quorum's harness) is detected, reported with its file name, and healed from the quorum:

- segment: a follower is stopped, one byte in the middle of its `__cluster_metadata-0` segment is flipped
  (the batch's CRC-32C no longer matches) and more topics are created meanwhile; at restart the node logs
  the corruption with the segment's path and byte position, keeps the cut-off bytes in `.log.corrupt`,
  truncates its log there and fetches the rest from the leader (Fetch);
- snapshot: the same with a byte flipped in the follower's newest `.checkpoint`: it logs the bad snapshot
  with its path, sets it aside as `.checkpoint.corrupt` and rebuilds its image from the older snapshot or
  the log, then fetches what it missed.
- every snapshot of an observer whose log starts at the snapshot it installed by FetchSnapshot: with no
  valid snapshot covering the offsets below its log start it discards its copy of the log (logged) and
  installs the leader's snapshot again (a voter refuses to start instead: see docs/operations.md).
Either way it ends with the leader's image: every topic in its Metadata, and in the leader's
DescribeQuorum its log end offset equals the leader's (writes stopped). Every process is stopped by pid."""
import glob
import os

import ferrytest as ft
from test_quorum import QuorumHarness

META_DIR = "__cluster_metadata-0"


def batches(path):
    """(position, length) of each whole record batch in a segment file."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 0
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos + 8:pos + 12], "big") + 12
        if pos + length > len(data):
            break
        out.append((pos, length))
        pos += length
    return out


def flip_byte(path, pos):
    with open(path, "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0x5A]))
        f.flush()
        os.fsync(f.fileno())


class QuorumHealTest(QuorumHarness):
    def start_cluster(self, overrides=None, observers=0):
        nodes = self.make_cluster(overrides=overrides, observers=observers)
        for x in nodes:
            x.spawn()
        for x in nodes:
            x.wait_ready(wait_metadata=False)
        return nodes

    def create_all(self, lead, names):
        for t in names:
            self.create(lead, t)

    def log_ends(self, nodes):
        """{node id: log end offset} and the high watermark, from the current leader's DescribeQuorum."""
        lead, _ = self.wait_leader(nodes)
        part = self.describe(lead)["topics"][0][1][0]
        return {rid: leo for rid, leo in part["voters"] + (part["observers"] or [])}, part["hw"]

    def assert_healed(self, nodes, victim, names):
        for t in names:
            self.wait_everywhere([victim], t)

        def same_log():
            ends, hw = self.log_ends(nodes)
            return len(set(ends.values())) == 1 and ends[victim.node_id] == hw
        ft.wait_until(same_log, timeout=120, what="node %d's log end equal to the leader's" % victim.node_id)

    def corrupt_and_heal(self, prefix, nbefore, pattern, corrupt, overrides=None):
        """Topics, a follower stopped once it has files matching pattern in its metadata log directory,
        corrupt(victim, those files) -> (path of the damaged file, the log line that must name it), more
        topics while it is down, then the restart: reported, set aside, healed."""
        nodes = self.start_cluster(overrides)
        lead, _ = self.wait_leader(nodes)
        before = ["%s-a%02d" % (prefix, i) for i in range(nbefore)]
        self.create_all(lead, before)
        victim = next(x for x in nodes if x is not lead)
        self.wait_everywhere([victim], before[-1])
        files = os.path.join(victim.data_dir, META_DIR, pattern)
        ft.wait_until(lambda: glob.glob(files), timeout=60, what="%s on node %d" % (pattern, victim.node_id))
        victim.stop()
        path, line = corrupt(sorted(glob.glob(files))[-1])
        lead, _ = self.wait_leader(nodes, exclude=(victim,))
        after = ["%s-b%02d" % (prefix, i) for i in range(5)]
        self.create_all(lead, after)
        victim.spawn()
        victim.wait_ready(wait_metadata=False)
        self.assertIn(line, victim.log_text())
        self.assertTrue(os.path.exists(path + ".corrupt"), os.listdir(os.path.dirname(path)))
        self.assert_healed(nodes, victim, before + after)
        # and it keeps taking part: one more write reaches it
        lead, _ = self.wait_leader(nodes)
        self.create(lead, prefix + "-c")
        self.assert_healed(nodes, victim, [prefix + "-c"])

    def test_corrupt_segment_is_cut_and_refetched(self):
        def corrupt(seg):
            bs = batches(seg)
            self.assertGreater(len(bs), 4, bs)
            pos, length = bs[len(bs) // 2]
            flip_byte(seg, pos + length - 1)  # inside the records: covered by the batch CRC
            return seg, "in %s at byte position %d: truncating the segment there" % (seg, pos)
        self.corrupt_and_heal("heal-seg", 12, "*.log", corrupt)

    def test_corrupt_snapshot_is_set_aside_and_refetched(self):
        def corrupt(snap):
            flip_byte(snap, os.path.getsize(snap) // 2)
            return snap, "bad snapshot %s set aside as %s.corrupt" % (snap, snap)
        self.corrupt_and_heal("heal-snap", 30, "*.checkpoint", corrupt,
                              {"metadata.log.max.record.bytes.between.snapshots": "2000"})
    def test_observer_without_a_valid_snapshot_refetches_it(self):
        snap_every = {"metadata.log.max.record.bytes.between.snapshots": "2000"}
        everyone = self.start_cluster(snap_every, observers=1)
        nodes, obs = everyone[:3], everyone[3]
        obs.kill9()
        lead, _ = self.wait_leader(nodes)
        before = ["heal-obs-a%02d" % i for i in range(40)]
        self.create_all(lead, before)
        lead_dir = os.path.join(lead.data_dir, META_DIR)
        ft.wait_until(lambda: len(glob.glob(os.path.join(lead_dir, "*.checkpoint"))) >= 2, timeout=60,
                      what="two snapshots on the leader (its log cleaned below the older)")
        obs.spawn()
        obs.wait_ready(wait_metadata=False)
        ft.wait_until(lambda: "installed the snapshot fetched from the leader" in obs.log_text(), timeout=120,
                      what="FetchSnapshot on the observer")
        self.assert_healed(nodes, obs, before)
        obs.stop()
        snaps = sorted(glob.glob(os.path.join(obs.data_dir, META_DIR, "*.checkpoint")))
        self.assertTrue(snaps)
        for s in snaps:
            flip_byte(s, os.path.getsize(s) // 2)
        installs = obs.log_text().count("installed the snapshot fetched from the leader")

        after = ["heal-obs-b%02d" % i for i in range(5)]
        self.create_all(lead, after)
        obs.spawn()
        obs.wait_ready(wait_metadata=False)
        text = obs.log_text()
        newest = snaps[-1]
        self.assertIn("bad snapshot %s set aside as %s.corrupt" % (newest, newest), text)
        for s in snaps[:-1]:  # an older one (the observer fetched twice) is not read when below the log start
            self.assertTrue("bad snapshot %s set aside" % s in text or
                            "snapshot %s lies below the log start offset" % s in text, (s, text[-4000:]))
        self.assertIn("this observer discards its copy of the log and fetches the quorum's snapshot", text)
        ft.wait_until(lambda: obs.log_text().count("installed the snapshot fetched from the leader") > installs,
                      timeout=120, what="the observer installing the leader's snapshot again")
        self.assert_healed(nodes, obs, before + after)


if __name__ == "__main__":
    ft.main()
