#!/usr/bin/python3
"""Idle CPU of legacy-mode brokers hosting many partitions (issues 4 and 5).

Three legacy-mode brokers and one ZooKeeper server; topics of up to 1000 partitions (replication factor 2,
created through znodes as legacy_failover.py does) until --partitions partitions exist, so that each broker
hosts about two thirds of them (100,000 partitions: 66,667 per broker). Once every partition is led and
--settle seconds have passed, each broker's CPU (utime + stime from /proc) is sampled over --window seconds
with no client traffic: what the periodic paths (replica fetchers, ISR check, flush and housekeeping pass)
cost. With --bins A,B a fresh cluster runs each binary in turn, --rounds times, so that two builds are
compared in runs minutes apart. The brokers are killed (SIGKILL) at the end: a clean stop of tens of
thousands of partitions fsyncs each of them.
"""
import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cluster_bench as cb  # noqa: E402
import legacy_failover as lf  # noqa: E402
import zkcluster  # noqa: E402
import zkharness  # noqa: E402
from run_bench import ROOT, cpu_seconds, log  # noqa: E402


def sample(nodes, window):
    before = [cpu_seconds(n.pid) for n in nodes]
    time.sleep(window)
    return [(cpu_seconds(n.pid) - b) / window for n, b in zip(nodes, before)]


def run_cluster(args, build_dir):
    cb.use_ferry(build_dir)
    work = tempfile.mkdtemp(prefix="ferry-idle-", dir=args.dir)
    os.environ["FERRY_TEST_TMP"] = work
    zk_server = zkharness.ZooKeeperServer(name="zk", jvm_opts=["-Xmx1g", "-XX:TieredStopAtLevel=4"])
    nodes, zk, results = [], None, []
    grow_args = types.SimpleNamespace(via="znodes", rf=2, lead_timeout=120.0)
    try:
        zk_server.start()
        for i in (1, 2, 3):
            nodes.append(zkcluster.legacy_node(None, zk_server.connect_string, i,
                                               extra={"default.replication.factor": 2}))
        for n in nodes:
            n.start()
        from kazoo.client import KazooClient
        zk = KazooClient(hosts=zk_server.connect_string, timeout=10.0)
        zk.start(timeout=30)
        for size in [int(x) for x in args.partitions.split(",") if x]:
            err = lf.grow(grow_args, zk, nodes, size)
            if err:
                log(err)
                break
            time.sleep(args.settle)
            load = os.getloadavg()[0]
            cpu = sample(nodes, args.window)
            line = "%d partitions (%d hosted per broker), %s, load %.1f-%.1f: idle CPU per broker %s" % (
                size, size * 2 // 3, build_dir, load, os.getloadavg()[0], ", ".join("%.1f%%" % (100 * c) for c in cpu))
            log(line)
            results.append(line)
    finally:
        if zk is not None:
            zk.stop()
            zk.close()
        for n in nodes:
            if n.alive():
                os.kill(n.pid, signal.SIGKILL)
            n.stop(check=False)
            n.cleanup()
        zk_server.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bins", default=os.path.join(ROOT, "build-rel"),
                    help="comma-separated build directories holding a Release ferry")
    ap.add_argument("--partitions", default="15000,100000", help="total partitions (cumulative sizes)")
    ap.add_argument("--settle", type=float, default=20.0, help="seconds after every partition is led")
    ap.add_argument("--window", type=float, default=30.0, help="seconds of CPU sampled")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    bins = [b for b in args.bins.split(",") if b]
    results = []
    for r in range(args.rounds):
        for b in bins:
            results += run_cluster(args, b)
    for line in results:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
