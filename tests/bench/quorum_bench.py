#!/usr/bin/python3
"""quorum_bench: the metadata quorum's benchmark (issue 5 item 9), in one run beside a real ZooKeeper
ensemble (see README.md beside this file; results in docs/performance.md).

1. ZooKeeper baseline: a 3-server ensemble from Debian's package (zk_ensemble.py), zk_write_bench with
   the same number of clients and writes in flight as step 2 (setData of 100 bytes); the ensemble is
   stopped before Ferry starts, so that the two never share the CPUs.
2. Commit throughput and latency of a Ferry quorum: --voters nodes with process.roles=broker,controller
   (each formatted with one cluster id by `ferry storage format`, all in controller.quorum.voters, loopback
   ports, fsync on as always for the metadata log). quorum_write_bench (C, one poll loop, as zk_write_bench
   for ZooKeeper): N clients spread over the nodes, each with K IncrementalAlterConfigs in flight on one
   connection (SET retention.ms of its own topic, a new value each time: one ConfigRecord
   committed per request, answered after the commit). Target: at least 5x ZooKeeper's writes/s.
3. Topic creation: --topics single-partition topics (replication factor --create-rf, 1 by default;
   legacy_failover.py's --rf defaults to 2: pass the same to both), created by --create-clients clients
   with one CreateTopics each; rate until every request is answered and until every topic has a leader in
   Metadata. Compared with legacy mode's rate (legacy_failover.py; target at least 10x).
4. Controller failover at --failover-partitions partitions (topics of --failover-topic-partitions
   partitions, 1000 by default, replication factor 1), --failover-settle seconds after the set-up: the
   active controller (from DescribeQuorum on the controller listeners) is killed with SIGKILL; the
   figures are the time until a surviving voter reports a new leader and until a CreateTopics through a
   surviving node succeeds. Target: under 1.5 s at 10,000 and 100,000 partitions.

A case that cannot run because the cluster does not work (no leader, requests refused) is reported as
such with the reason, never as a number. Not a ctest test. Run with /usr/bin/python3.
"""
import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cluster_bench as cb  # noqa: E402
import ferrytest  # noqa: E402
import zk_ensemble  # noqa: E402
from ferrytest import R, W, FerryNode, KafkaConn  # noqa: E402
from run_bench import ROOT, build, log  # noqa: E402

API_DESCRIBE_QUORUM = 55
E_NOT_CONTROLLER = 41
ferrytest.FLEXIBLE_FROM.setdefault(API_DESCRIBE_QUORUM, 0)
METADATA_TOPIC = "__cluster_metadata"


class Quorum:
    """`voters` ferry server processes, process.roles=broker,controller, one cluster id."""

    def __init__(self, voters, extra=None):
        self.nodes = []
        for i in range(1, voters + 1):
            n = FerryNode(name="voter%d" % i, node_id=i, base_config=False, mode="config", auto_format=False)
            self.nodes.append(n)
        quorum = ",".join("%d@127.0.0.1:%d" % (n.node_id, n.controller_port) for n in self.nodes)
        for n in self.nodes:
            n.config.update({
                "process.roles": "broker,controller",
                "node.id": str(n.node_id),
                "listeners": "PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d" % (n.port, n.controller_port),
                "controller.listener.names": "CONTROLLER",
                "controller.quorum.voters": quorum,
                "log.dirs": n.data_dir,
                "offsets.topic.replication.factor": str(min(3, voters)),
            })
            n.config.update({k: str(v) for k, v in (extra or {}).items()})

    def start(self, timeout=120):
        cluster_id = ferrytest.run_ferry(["storage", "random-uuid"]).stdout.strip()
        for n in self.nodes:
            n.format(cluster_id)
        for n in self.nodes:
            n.spawn()
        try:
            for n in self.nodes:
                n.wait_ready(timeout)
        except BaseException:
            for n in self.nodes:
                n.print_tail(n=30, why="quorum did not start")
            raise
        log("quorum of %d voters ready (pids %s)" % (len(self.nodes), ", ".join(str(n.pid) for n in self.nodes)))
        return self

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def bootstraps(self):
        return [n.bootstrap for n in self.live()]

    def cleanup(self, keep=False):
        for n in self.nodes:
            try:
                n.stop(check=False)
            finally:
                n.cleanup(keep=keep)


def describe_quorum(node, timeout=5):
    """(leader id, leader epoch) from DescribeQuorum v0 on the node's controller listener, or None."""
    w = W()
    w.uvarint(2)  # one topic (compact array: n + 1)
    w.compact_string(METADATA_TOPIC)
    w.uvarint(2)  # one partition
    w.i32(0)
    w.tags()
    w.tags()
    w.tags()
    with KafkaConn("127.0.0.1", node.controller_port, timeout=timeout) as c:
        body = c.request(API_DESCRIBE_QUORUM, 0, w.getvalue())
    r = R(body)
    if r.i16() != 0:
        return None
    if r.uvarint() < 2:
        return None
    r.compact_string()
    if r.uvarint() < 2:
        return None
    r.i32()  # partition index
    if r.i16() != 0:
        return None
    leader, epoch = r.i32(), r.i32()
    return (leader, epoch) if leader >= 0 else None


def find_leader(quorum):
    for n in quorum.live():
        try:
            got = describe_quorum(n)
        except Exception:  # noqa: BLE001 - not served, or the node is down: ask the next
            got = None
        if got:
            return got
    return None


def zk_baseline(args, tool, work):
    ens = zk_ensemble.ZooKeeperEnsemble(size=3, base_dir=os.path.join(work, "zk"))
    os.makedirs(os.path.join(work, "zk"), exist_ok=True)
    rows = []
    try:
        ens.start()
        for clients in args.client_list:
            res = zk_ensemble.zk_write_run(tool, ens.connect_string, clients, args.inflight, args.seconds, args.warmup,
                                           100, "set", root="/bench-%d" % clients)
            log("ZooKeeper setData, %d clients x %d in flight: %s writes/s, p50 %s ms, p99 %s ms" % (
                clients, args.inflight, res["writes_per_s"], res["p50_ms"], res["p99_ms"]))
            rows.append((clients, res))
    finally:
        ens.cleanup(keep=args.keep)
    return rows


def commit_load(args, quorum, tool):
    rows = []
    topics_needed = max(args.client_list)
    names = ["bench-alter-%03d" % i for i in range(topics_needed)]
    res = cb.create_topics(quorum.bootstraps()[0], [(n, 1, 1) for n in names])
    bad = {k: v for k, v in res.items() if v[0] not in (0, ferrytest.E_TOPIC_ALREADY_EXISTS)}
    if bad:
        raise RuntimeError("cannot create the load's topics: %r" % bad)
    # client i talks to the i-th node of the list (modulo its length): with one client, whether it is the
    # active controller (answers at once) or forwards in an Envelope (two more hops) changes the 1-client
    # figure, so --first-client-on chooses which node heads the list
    leader = find_leader(quorum)
    nodes = quorum.live()
    if leader and args.first_client_on != "any":
        on_leader = [n for n in nodes if n.node_id == leader[0]]
        others = [n for n in nodes if n.node_id != leader[0]]
        nodes = on_leader + others if args.first_client_on == "controller" else others + on_leader
    bootstraps = [n.bootstrap for n in nodes]
    log("active controller: voter %s; client i connects to voter %s[i %% %d] (first client %s)" % (
        leader[0] if leader else "unknown", [n.node_id for n in nodes], len(nodes),
        "on the active controller" if leader and nodes[0].node_id == leader[0] else "forwarding"))
    for clients in args.client_list:
        r = cb.alter_configs_load(tool, bootstraps, "bench-alter-", clients, args.inflight, args.seconds,
                                  args.warmup)
        log("Ferry quorum IncrementalAlterConfigs, %d clients x %d in flight: %.0f writes/s, p50 %.2f ms, "
            "p99 %.2f ms, errors %d %s" % (clients, args.inflight, r["writes_per_s"], r["p50_ms"], r["p99_ms"],
                                           r["errors"], r["first_error"] or ""))
        rows.append((clients, r))
    return rows


def failover(args, quorum, partitions):
    """Creates topics up to `partitions` partitions, kills the active controller, times the recovery."""
    per_topic = min(args.failover_topic_partitions, partitions)
    have = sum(len(t["partitions"]) for t in cb.metadata(quorum.bootstraps()[0])["topics"]
               if t["name"].startswith("bench-fo-"))
    i = have // per_topic
    t0 = time.monotonic()
    moved = 0  # set-up requests answered NOT_CONTROLLER: the lead moved while the nodes created partitions
    while have < partitions:
        name = "bench-fo-%04d" % i
        res = cb.create_topics(quorum.bootstraps()[0], [(name, per_topic, 1)], timeout_ms=120000)
        if res[name][0] == E_NOT_CONTROLLER and moved < 20:
            moved += 1
            time.sleep(1.0)
            continue
        if res[name][0] not in (0, ferrytest.E_TOPIC_ALREADY_EXISTS):
            return {"partitions": partitions, "error": "CreateTopics %s: %r" % (name, res[name])}
        have += per_topic
        i += 1
    if moved:
        log("failover case: %d CreateTopics answered NOT_CONTROLLER during the set-up (retried)" % moved)
    ok = cb.wait_for(lambda: cb.leader_report(cb.metadata(quorum.bootstraps()[0]), prefix="bench-fo-")[1] == 0,
                     timeout=600, interval=1.0)
    if not ok:
        return {"partitions": partitions, "error": "not every partition had a leader 600 s after creating them"}
    log("failover case: %d partitions created and led in %.1f s" % (partitions, time.monotonic() - t0))
    # the nodes may still be creating the last partitions' logs (on their event loops) when Metadata
    # already names the leaders: the failover is measured on a settled cluster
    time.sleep(args.failover_settle)
    leader = cb.wait_for(lambda: find_leader(quorum), timeout=30)
    if not leader:
        return {"partitions": partitions,
                "error": "no voter answered DescribeQuorum with a leader: the active controller cannot be found"}
    victim = next(n for n in quorum.nodes if n.node_id == leader[0])
    os.kill(victim.pid, signal.SIGKILL)
    t_kill = time.monotonic()
    victim.proc.wait(30)
    new = cb.wait_for(lambda: (lambda l: l if l and l[0] != victim.node_id and l[1] > leader[1] else None)(
        find_leader(quorum)), timeout=120, interval=0.01)
    t_leader = time.monotonic() - t_kill if new else None
    probe = "bench-fo-probe-%d" % partitions

    def admin_ok():
        res = cb.create_topics(quorum.bootstraps()[0], [(probe, 1, 1)], timeout_ms=5000)
        return res[probe][0] in (0, ferrytest.E_TOPIC_ALREADY_EXISTS)
    ok = cb.wait_for(admin_ok, timeout=120, interval=0.01)
    t_admin = time.monotonic() - t_kill if ok else None
    log("failover at %d partitions: voter %d killed; new leader %s after %s s, CreateTopics after %s s" % (
        partitions, victim.node_id, new and new[0], t_leader, t_admin))
    victim.start(wait_metadata=False)  # back for the next case
    return {"partitions": partitions, "killed": victim.node_id, "new_leader": new and new[0],
            "leader_s": t_leader, "admin_s": t_admin}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--voters", type=int, default=3)
    ap.add_argument("--clients", default="1,8,32", help="concurrent clients, one case each (both systems)")
    ap.add_argument("--inflight", type=int, default=16, help="requests in flight per client (both systems)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--topics", type=int, default=1000, help="single-partition topics to create (0: skip)")
    ap.add_argument("--create-clients", type=int, default=8)
    ap.add_argument("--create-rf", type=int, default=1,
                    help="replication factor of the created topics (default.replication.factor; default 1); "
                         "legacy_failover.py --rf sets legacy mode's, compare like with like")
    ap.add_argument("--failover-partitions", default="10000,100000", help="'' to skip the failover cases")
    ap.add_argument("--failover-topic-partitions", type=int, default=1000,
                    help="partitions per topic of the failover cases (default 1000)")
    ap.add_argument("--failover-settle", type=float, default=5.0,
                    help="seconds between the set-up of a failover case and the kill (default 5)")
    ap.add_argument("--first-client-on", choices=("any", "controller", "forwarding"), default="any",
                    help="the node of client 0 (the 1-client case): the active controller, a node that forwards "
                         "to it in an Envelope, or node 1 whichever it is")
    ap.add_argument("--skip-zk", action="store_true", help="skip the ZooKeeper baseline")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--partition-log-dir", default=None,
                    help="put the brokers' partition logs (log.dirs) under a temporary directory here, e.g. "
                         "/dev/shm, and keep the metadata (Raft log / ZooKeeper data) under --dir")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.client_list = [int(c) for c in args.clients.split(",")]

    if not args.no_build:
        build(args.build_dir, ("ferry", "zk_write_bench", "quorum_write_bench"))
    cb.use_ferry(args.build_dir)
    tool = os.path.join(args.build_dir, "tests", "bench", "zk_write_bench")
    load_tool = os.path.join(args.build_dir, "tests", "bench", "quorum_write_bench")
    load_before = os.getloadavg()[0]
    work = tempfile.mkdtemp(prefix="ferry-qbench-", dir=args.dir)
    logs_root = tempfile.mkdtemp(prefix="ferry-qbench-logs-", dir=args.partition_log_dir) if args.partition_log_dir else None
    os.environ["FERRY_TEST_TMP"] = work
    fsync_rate = zk_ensemble.fsyncs_per_second(work)
    log("disk: %.0f fsyncs/s (4 KiB appends, one thread) in %s" % (fsync_rate, work))
    zk_rows, q_rows, creation, failovers, failures = [], [], None, [], []
    quorum = None
    try:
        if not args.skip_zk:
            zk_rows = zk_baseline(args, tool, work)
        os.environ["FERRY_TEST_TMP"] = work
        quorum = Quorum(args.voters, extra={"default.replication.factor": args.create_rf})
        if logs_root:
            cb.partition_logs_elsewhere(quorum.nodes, logs_root, metadata_in_data_dir=True)
        try:
            quorum.start()
        except Exception as e:  # noqa: BLE001 - reported: the quorum does not work
            why = [l for l in str(e).splitlines() if l.startswith("ferry server:")] or str(e).splitlines()[:1]
            failures.append("the %d-voter quorum did not start: %s" % (args.voters, why[0]))
            quorum.cleanup(keep=args.keep)
            quorum = None
        if quorum:
            try:
                q_rows = commit_load(args, quorum, load_tool)
            except Exception as e:  # noqa: BLE001
                failures.append("commit load: %r" % (e,))
            if args.topics:
                creation = cb.timed_topic_creation(quorum.bootstraps(), "bench-create", args.topics,
                                                   args.create_clients, leader_probe=quorum.bootstraps()[0])
                log("topic creation: %r" % (creation,))
            for p in [int(x) for x in args.failover_partitions.split(",") if x]:
                try:
                    failovers.append(failover(args, quorum, p))
                except Exception as e:  # noqa: BLE001
                    failovers.append({"partitions": p, "error": repr(e)})
    finally:
        if quorum:
            quorum.cleanup(keep=args.keep)
        for d in (work, logs_root):
            if d and args.keep:
                log("kept %s" % d)
            elif d:
                shutil.rmtree(d, ignore_errors=True)
    report(args, load_before, fsync_rate, zk_rows, q_rows, creation, failovers, failures)
    return 0


def report(args, load_before, fsync_rate, zk_rows, q_rows, creation, failovers, failures):
    print(zk_ensemble.machine_line(load_before))
    print("disk: %.0f fsyncs/s (4 KiB appends, one thread)" % fsync_rate)
    if args.partition_log_dir:
        print("partition logs (log.dirs) under %s; metadata log under --dir" % args.partition_log_dir)
    print("metadata writes, %d in flight per client, %g s per case: ZooKeeper 3-server ensemble setData (100 B) "
          "vs Ferry %d-voter quorum IncrementalAlterConfigs" % (args.inflight, args.seconds, args.voters))
    fmt = "%7s %12s %8s %8s %12s %8s %8s %7s  %s"
    print(fmt % ("clients", "zk writes/s", "p50 ms", "p99 ms", "ferry w/s", "p50 ms", "p99 ms", "ratio", "errors"))
    zk = dict(zk_rows)
    for clients in args.client_list:
        z, q = zk.get(clients), dict(q_rows).get(clients)
        ratio = "%.1fx" % (q["writes_per_s"] / float(z["writes_per_s"])) if z and q and float(z["writes_per_s"]) else "-"
        print(fmt % (clients, "%.0f" % float(z["writes_per_s"]) if z else "-", z["p50_ms"] if z else "-",
                     z["p99_ms"] if z else "-", "%.0f" % q["writes_per_s"] if q else "-",
                     "%.2f" % q["p50_ms"] if q else "-", "%.2f" % q["p99_ms"] if q else "-", ratio,
                     (q["first_error"] or q["errors"]) if q else "no quorum"))
    if creation:
        print(cb.creation_line(creation) + " [replication factor %d]" % args.create_rf)
    for f in failovers:
        if "error" in f:
            print("failover at %s partitions: did not run: %s" % (f.get("partitions"), f["error"]))
        else:
            print("failover at %d partitions: voter %d killed; new leader (voter %s) after %s s; CreateTopics "
                  "through a survivor after %s s (target < 1.5 s)" % (
                      f["partitions"], f["killed"], f["new_leader"],
                      "%.3f" % f["leader_s"] if f["leader_s"] is not None else "never",
                      "%.3f" % f["admin_s"] if f["admin_s"] is not None else "never"))
    for msg in failures:
        print("NOT RUN: %s" % msg)


if __name__ == "__main__":
    sys.exit(main())
