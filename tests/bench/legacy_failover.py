#!/usr/bin/python3
"""legacy_failover: legacy mode's controller benchmark (issue 4 item 9; see README.md beside this file,
results in docs/performance.md).

Three `ferry server` brokers in legacy mode (broker.id 1-3, zookeeper.connect, the configuration of
tests/it/zkcluster.py and examples/zookeeper-cluster-*.yaml) on a real ZooKeeper from Debian's package
(standalone, or a 3-server ensemble with --zk-ensemble), all on loopback.

1. Controller failover at each --partitions size (cumulative): topics of up to 1000 partitions are
   created the way Kafka's ZooKeeper-mode admin path does (`/config/topics/T` then `/brokers/topics/T`
   version 3 with a topic id, replicas spread round-robin, replication factor --rf; or CreateTopics with
   --via createtopics) until every partition has a leader in Metadata. Then the controller (the holder
   of /controller) gets SIGKILL. The figures run from the moment its session ends (the ephemeral
   /controller disappears, seen through a watch) until every partition has a live leader in a surviving
   broker's Metadata, and until an acks=all produce to a partition the dead broker led succeeds; the time
   from the kill (session timeout included) is reported too. The leader probe (LeaderProbe) asks only for
   the topics not yet seen fully led and reads each answer only up to its first unled partition, every
   --poll-interval; the figure is the first poll that sees every partition led, and its resolution (the
   time since the previous poll) is reported. Target: 100,000 partitions in under 10 s.
   The killed broker is restarted before the next size.
2. Topic creation: --topics single-partition topics through CreateTopics with --create-clients clients;
   rate until every request is answered and until every topic has a leader in Metadata (the figure
   quorum mode's rate is compared against).

A case the cluster cannot do yet (no leaders, requests refused) is reported with its reason, never as a
number. Not a ctest test. Run with /usr/bin/python3 (kazoo).
"""
import argparse
import base64
import json
import os
import shutil
import struct
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cluster_bench as cb  # noqa: E402
import ferrytest  # noqa: E402
from ferrytest import KafkaConn  # noqa: E402
import zk_ensemble  # noqa: E402
import zkcluster  # noqa: E402
import zkharness  # noqa: E402
from run_bench import ROOT, build, log  # noqa: E402

PREFIX = "bench-lf-"


def topic_znode(partitions, rf, brokers, first):
    """Kafka 3.7's /brokers/topics/T (version 3): string partition keys, a new topic id."""
    assignment = {str(p): [brokers[(first + p + r) % len(brokers)] for r in range(rf)] for p in range(partitions)}
    tid = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    return json.dumps({"version": 3, "partitions": assignment, "adding_replicas": {}, "removing_replicas": {},
                       "topic_id": tid}, separators=(",", ":")).encode()


def create_via_znodes(zk, name, partitions, rf, brokers, first):
    """What AdminZkClient.createTopicWithAssignment writes: the config znode, then the assignment."""
    tx = zk.transaction()
    tx.create("/config/topics/%s" % name, b'{"version":1,"config":{}}')
    tx.create("/brokers/topics/%s" % name, topic_znode(partitions, rf, brokers, first))
    res = tx.commit()
    errors = [r for r in res if isinstance(r, Exception)]
    if errors:
        raise RuntimeError("creating topic %s in ZooKeeper: %r" % (name, errors))


class ControllerWatch:
    """Records when the ephemeral /controller disappears (the old controller's session ended)."""

    def __init__(self, zk):
        self.gone_at = None
        self.event = threading.Event()
        zk.exists("/controller", watch=self._fired)

    def _fired(self, event):
        if event.type == "DELETED":
            self.gone_at = time.monotonic()
            self.event.set()


def total_partitions(bootstrap):
    md = cb.metadata(bootstrap)
    return sum(len(t["partitions"]) for t in md["topics"] if t["name"].startswith(PREFIX))


def grow(args, zk, nodes, target):
    """Creates topics until PREFIX topics hold `target` partitions; waits until every one is led."""
    bootstrap = nodes[0].bootstrap
    have = int(sum(len(json.loads(zk.get("/brokers/topics/%s" % t)[0])["partitions"])
                   for t in zk.get_children("/brokers/topics") if t.startswith(PREFIX)))
    i = len([t for t in zk.get_children("/brokers/topics") if t.startswith(PREFIX)])
    t0 = time.monotonic()
    while have < target:
        n = min(1000, target - have)
        name = "%s%04d" % (PREFIX, i)
        if args.via == "znodes":
            create_via_znodes(zk, name, n, args.rf, [1, 2, 3], i)
        else:
            res = cb.create_topics(bootstrap, [(name, n, args.rf)], timeout_ms=120000)
            if res[name][0] != 0:
                return "CreateTopics %s: %r" % (name, res[name])
        have += n
        i += 1
    led = cb.wait_for(lambda: (lambda r: r[0] >= target and r[1] == 0)(cb.leader_report(cb.metadata(bootstrap),
                                                                                       prefix=PREFIX)),
                      timeout=args.lead_timeout + target / 200.0, interval=1.0)
    if not led:
        total, bad, _ = cb.leader_report(cb.metadata(bootstrap), prefix=PREFIX)
        return ("%d of %d partitions have no leader in Metadata %.0f s after their topics were created (%s)" % (
            bad + max(0, target - total), target, time.monotonic() - t0, args.via))
    log("%d partitions created (%s) and led in %.1f s" % (target, args.via, time.monotonic() - t0))
    return None


def first_bad_partition(body, dead):
    """Metadata v1 response body of one topic: the index of its first partition without a live leader (no
    leader, a dead one, or one not among the response's brokers), -1 when every partition has one, or None
    when the topic is not in it (an error). Reads no further than that partition."""
    n, p = struct.unpack_from(">i", body, 0)[0], 4
    live = set()
    for _ in range(n):  # node_id, host, port, rack
        node, hl = struct.unpack_from(">ih", body, p)
        p += 6 + hl + 4
        rl = struct.unpack_from(">h", body, p)[0]
        p += 2 + max(rl, 0)
        live.add(node)
    live -= set(dead)
    p += 4  # controller_id
    if struct.unpack_from(">i", body, p)[0] != 1:
        return None
    err, nl = struct.unpack_from(">hh", body, p + 4)
    p += 8 + nl + 1  # error, name, is_internal
    if err != 0:
        return None
    nparts = struct.unpack_from(">i", body, p)[0]
    p += 4
    for _ in range(nparts):
        _, index, leader, nrep = struct.unpack_from(">hiii", body, p)
        if leader not in live:
            return index
        p += 14 + 4 * nrep
        p += 4 + 4 * struct.unpack_from(">i", body, p)[0]
    return -1


class LeaderProbe:
    """Polls a broker's Metadata until every partition of `topics` has a live leader, at little cost to the
    broker: each poll walks the topics not yet seen fully led in order, asking for WINDOW of them at a time
    (pipelined Metadata v1 requests of one topic each) and reading each answer only up to its first
    partition without a live leader; a topic seen fully led is not asked again, and the poll stops at the
    first window with an unled topic (the cluster is not done then). wait() returns the time the poll that
    saw the last topic led was answered, or None; the resolution is the time between that poll's answer
    and the previous poll's. confirm() is one full Metadata of every topic afterwards (topics were seen led
    one at a time)."""

    WINDOW = 8

    def __init__(self, bootstrap, topics, dead):
        host, port = bootstrap.rsplit(":", 1)
        self.addr = (host, int(port))
        self.bootstrap = bootstrap
        self.pending = list(topics)
        self.dead = {dead}
        self.polls = 0
        self.resolution = None
        self.busy = 0.0  # seconds spent polling

    def _poll(self, conn):
        while self.pending:
            window = self.pending[:self.WINDOW]
            corrs = [conn.send(ferrytest.API_METADATA, 1, ferrytest.enc_metadata(1, [t])) for t in window]
            unled = []
            for corr, topic in zip(corrs, window):
                got, body = conn.recv()
                if got != corr:
                    raise ferrytest.ParseError("correlation id %d, expected %d" % (got, corr))
                if first_bad_partition(body, self.dead) != -1:
                    unled.append(topic)
            self.pending = unled + self.pending[len(window):]
            if unled:
                return

    def wait(self, timeout, interval):
        deadline = time.monotonic() + timeout
        last = None
        conn = None
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = KafkaConn(*self.addr, timeout=60)
                self._poll(conn)
            except (OSError, ferrytest.ConnectionClosed, ferrytest.ParseError, struct.error) as e:
                log("  (probe: %r)" % (e,))
                if conn is not None:
                    conn.close()
                conn = None
            t1 = time.monotonic()
            self.polls += 1
            self.busy += t1 - t0
            if not self.pending:
                self.resolution = t1 - last if last else None
                conn.close()
                return t1
            last = t1
            time.sleep(interval)
        if conn is not None:
            conn.close()
        return None

    def confirm(self):
        """(partitions, partitions without a live leader) in one full Metadata now."""
        total, bad, _ = cb.leader_report(cb.metadata(self.bootstrap), dead=self.dead, prefix=PREFIX)
        return total, bad


def failover(args, zk, nodes, size):
    err = grow(args, zk, nodes, size)
    if err:
        return {"partitions": size, "error": err}
    ctl = zkcluster.controller(zk)[0]
    victim = next(n for n in nodes if n.node_id == ctl)
    survivor = next(n for n in nodes if n.node_id != ctl)
    md = cb.metadata(survivor.bootstrap)
    led_by_victim = [(t["name"], p["partition"]) for t in md["topics"] if t["name"].startswith(PREFIX)
                     for p in t["partitions"] if p["leader"] == victim.node_id]
    topics = sorted({t for t, _ in led_by_victim} | {t["name"] for t in md["topics"] if t["name"].startswith(PREFIX)})
    watch = ControllerWatch(zk)
    victim.kill9()
    t_kill = time.monotonic()
    if not watch.event.wait(args.session_timeout_ms / 1000.0 + 60):
        return {"partitions": size, "error": "/controller was not deleted after the controller's kill"}
    t_end = watch.gone_at
    probe = LeaderProbe(survivor.bootstrap, topics, victim.node_id)
    t_led = probe.wait(args.lead_timeout + size / 200.0, interval=args.poll_interval)
    t_prod = None
    if t_led:
        topic, part = led_by_victim[0] if led_by_victim else (PREFIX + "0000", 0)
        if cb.wait_for(lambda: cb.produce_one(cb.metadata(survivor.bootstrap, [topic]), topic, part) == 0,
                       timeout=60, interval=0.05):
            t_prod = time.monotonic()
    unconfirmed = None
    if t_led:
        total, bad = probe.confirm()
        if total < size or bad:
            unconfirmed = ("every topic was seen led, but a full Metadata afterwards shows %d of %d partitions "
                           "unled" % (bad + max(0, size - total), size))
    new_ctl = zkcluster.controller(zk)[0]
    res = {"partitions": size, "killed": victim.node_id, "new_controller": new_ctl, "moved": len(led_by_victim),
           "session_end_s": t_end - t_kill,
           "led_s": t_led - t_end if t_led else None, "produce_s": t_prod - t_end if t_prod else None,
           "polls": probe.polls, "resolution_s": probe.resolution, "probe_s": probe.busy}
    log("failover at %d partitions: %r" % (size, res))
    if unconfirmed:
        res["error"] = unconfirmed
    elif not t_led:
        total, bad, _ = cb.leader_report(cb.metadata(survivor.bootstrap), dead={victim.node_id}, prefix=PREFIX)
        res["error"] = "%d of %d partitions still without a live leader after %.0f s" % (
            bad, total, args.lead_timeout + size / 200.0)
    try:
        victim.start()
    except Exception as e:  # noqa: BLE001 - measured already; the next size cannot run without it
        res["error"] = "the killed broker did not restart: %s" % (str(e).splitlines()[0],)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--partitions", default="1000,10000,100000", help="failover sizes ('' to skip)")
    ap.add_argument("--rf", type=int, default=2, help="replication factor of the failover topics")
    ap.add_argument("--via", choices=("znodes", "createtopics"), default="znodes")
    ap.add_argument("--topics", type=int, default=1000, help="single-partition topics to create (0: skip)")
    ap.add_argument("--create-clients", type=int, default=8)
    ap.add_argument("--session-timeout-ms", type=int, default=zkcluster.SESSION_TIMEOUT_MS)
    ap.add_argument("--zk-max-in-flight", type=int, default=None,
                    help="zookeeper.max.in.flight.requests of the brokers (Kafka's default, 10, when not given)")
    ap.add_argument("--poll-interval", type=float, default=0.05,
                    help="seconds between the leader probe's polls after the failover (the figure's resolution is "
                         "this plus one poll, reported)")
    ap.add_argument("--lead-timeout", type=float, default=60.0,
                    help="seconds (plus 1 per 200 partitions) to wait for leaders before calling a case failed")
    ap.add_argument("--zk-ensemble", action="store_true", help="a 3-server ZooKeeper ensemble, not one server")
    ap.add_argument("--zk-heap", default="1g",
                    help="standalone ZooKeeper's JVM heap (-Xmx) and full JIT; the test harness's 256m thrashes "
                         "its garbage collector at 100,000 partitions ('' keeps the harness's settings)")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--partition-log-dir", default=None,
                    help="put the brokers' partition logs (log.dirs) under a temporary directory here, e.g. "
                         "/dev/shm, and keep the metadata (Raft log / ZooKeeper data) under --dir")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    if not args.no_build:
        build(args.build_dir, ("ferry",))
    cb.use_ferry(args.build_dir)
    load_before = os.getloadavg()[0]
    work = tempfile.mkdtemp(prefix="ferry-lbench-", dir=args.dir)
    logs_root = tempfile.mkdtemp(prefix="ferry-lbench-logs-", dir=args.partition_log_dir) if args.partition_log_dir else None
    os.environ["FERRY_TEST_TMP"] = work
    zk_jvm = ["-Xmx" + args.zk_heap, "-XX:TieredStopAtLevel=4"] if args.zk_heap else []
    zk_server = (zk_ensemble.ZooKeeperEnsemble(3, work) if args.zk_ensemble
                 else zkharness.ZooKeeperServer(name="zk", jvm_opts=zk_jvm))
    nodes, zk, failovers, creation, failures = [], None, [], None, []
    try:
        zk_server.start()
        connect = zk_server.connect_string
        extra = {"zookeeper.session.timeout.ms": args.session_timeout_ms, "default.replication.factor": args.rf}
        if args.zk_max_in_flight:
            extra["zookeeper.max.in.flight.requests"] = args.zk_max_in_flight
        for i in (1, 2, 3):
            nodes.append(zkcluster.legacy_node(None, connect, i, extra=dict(extra)))
        if logs_root:
            cb.partition_logs_elsewhere(nodes, logs_root)
        for n in nodes:
            n.start()
        from kazoo.client import KazooClient
        zk = KazooClient(hosts=connect, timeout=10.0)
        zk.start(timeout=30)
        if not cb.wait_for(lambda: zkcluster.controller(zk)[0], timeout=60):
            failures.append("no broker became the controller")
        else:
            for size in [int(x) for x in args.partitions.split(",") if x]:
                res = failover(args, zk, nodes, size)
                failovers.append(res)
                if "error" in res:
                    log("failover at %d partitions: %s" % (size, res["error"]))
                    break  # larger sizes would fail the same way
            if args.topics:
                creation = cb.timed_topic_creation([n.bootstrap for n in nodes if n.alive()], "bench-lcreate",
                                                   args.topics, args.create_clients, leader_probe=nodes[0].bootstrap)
                log("topic creation: %r" % (creation,))
    finally:
        if zk is not None:
            zk.stop()
            zk.close()
        for n in nodes:
            n.stop(check=False)
            n.cleanup(keep=args.keep)
        zk_server.cleanup(keep=args.keep)
        for d in (work, logs_root):
            if d and args.keep:
                log("kept %s" % d)
            elif d:
                shutil.rmtree(d, ignore_errors=True)
    report(args, load_before, failovers, creation, failures)
    return 0


def report(args, load_before, failovers, creation, failures):
    print(zk_ensemble.machine_line(load_before))
    print("legacy mode: 3 brokers, ZooKeeper %s, zookeeper.session.timeout.ms=%d, zookeeper.max.in.flight.requests=%d, "
          "topics via %s, replication factor %d" % ("3-server ensemble" if args.zk_ensemble else
                                                   "standalone (heap %s)" % (args.zk_heap or "256m"),
                                                   args.session_timeout_ms, args.zk_max_in_flight or 10, args.via,
                                                   args.rf))
    if args.partition_log_dir:
        print("partition logs (log.dirs) under %s; ZooKeeper's data under --dir" % args.partition_log_dir)
    for f in failovers:
        line = "failover at %d partitions: " % f["partitions"]
        if "killed" in f:
            line += ("broker %d killed, session ended %.2f s later; from then: every partition led after %s s, "
                     "produce to one of its %d partitions after %s s (target < 10 s at 100,000)" % (
                         f["killed"], f["session_end_s"], "%.2f" % f["led_s"] if f["led_s"] else "never", f["moved"],
                         "%.2f" % f["produce_s"] if f["produce_s"] else "never"))
            if f.get("resolution_s"):
                line += " (leader probe: %d polls, %.2f s of them polling; resolution %.2f s)" % (
                    f["polls"], f["probe_s"], f["resolution_s"])
        if "error" in f:
            line += ("; " if "killed" in f else "did not run: ") + f["error"]
        print(line)
    if creation:
        print(cb.creation_line(creation))
    for msg in failures:
        print("NOT RUN: %s" % msg)


if __name__ == "__main__":
    sys.exit(main())
