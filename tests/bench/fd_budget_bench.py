#!/usr/bin/python3
"""fd_budget_bench: one node with many partitions, and what it holds open (issues 4 and 5: 100,000
partitions under this machine's fixed `nofile` of 20,000; results in docs/performance.md, "File
descriptors").

One `ferry server` (process.roles=broker,controller, a single voter, loopback ports) from a Release build;
--partitions partitions in topics of --topic-partitions (replication factor 1) created by CreateTopics
requests of --topics-per-request topics each. Reported after creation, after one 1 KiB record was
produced to every partition (one Produce request per topic, acks=1) and read back (one Fetch per
partition, all checked), and after a clean restart: the node's open descriptors (/proc/<pid>/fd), its
RSS (VmRSS), the segment file budget it logged, and the wall time of each step. Also the load average.
Not a ctest test. Run with /usr/bin/python3.
"""
import argparse
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "it"))

import ferrytest  # noqa: E402
from ferrytest import FerryNode  # noqa: E402
from run_bench import ROOT, build, log  # noqa: E402


def proc_stats(node):
    fds = len(os.listdir("/proc/%d/fd" % node.pid))
    rss_kib = 0
    with open("/proc/%d/status" % node.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
    return fds, rss_kib / 1024.0


def load():
    return "%.1f" % os.getloadavg()[0]


def create_all(node, topics, per_topic, per_request):
    with node.conn(timeout=600) as c:
        for i in range(0, len(topics), per_request):
            chunk = topics[i:i + per_request]
            res = c.create_topics([(t, per_topic, 1, {}) for t in chunk], timeout_ms=600000)
            bad = {t: e for t, e in res.items() if e[0] != 0}
            if bad:
                raise RuntimeError("CreateTopics failed: %r" % list(bad.items())[:3])


def all_led(node, topics, per_topic):
    with node.conn(timeout=600) as c:
        md = c.metadata(topics, version=1)
    n = sum(1 for t in md["topics"] if t["error"] == 0
            for p in t["partitions"] if p["leader"] >= 0 and p["error"] == 0)
    return n == len(topics) * per_topic


def produce_all(node, topics, per_topic, value):
    with node.conn(timeout=600) as c:
        for t in topics:
            parts = [(p, ferrytest.build_batch([(None, value + b"%s-%d" % (t.encode(), p), [])]))
                     for p in range(per_topic)]
            res = ferrytest.dec_produce(7, c.request(ferrytest.API_PRODUCE, 7,
                                                      ferrytest.enc_produce(7, 1, 60000, [(t, parts)])))
            bad = [k for k, d in res.items() if d["error"] != 0]
            if bad:
                raise RuntimeError("Produce failed for %d partition(s), e.g. %r: %r" % (len(bad), bad[0], res[bad[0]]))


def read_all(node, topics, per_topic, value):
    with node.conn(timeout=600) as c:
        for t in topics:
            for p in range(per_topic):
                d = c.fetch(t, p, 0)
                bs = ferrytest.parse_batches(d["records"] or b"")
                if d["error"] != 0 or not bs or bs[0].records[0][3] != value + b"%s-%d" % (t.encode(), p):
                    raise RuntimeError("fetch %s-%d: error %d, %d batch(es)" % (t, p, d["error"], len(bs)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--partitions", type=int, default=100000)
    ap.add_argument("--topic-partitions", type=int, default=1000)
    ap.add_argument("--topics-per-request", type=int, default=1)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-rel"))
    ap.add_argument("--no-build", action="store_true", help="use the build dir as it is")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    ap.add_argument("--no-restart", dest="restart", action="store_false",
                    help="skip the restart (a clean stop fsyncs every partition: minutes at 100,000 on a busy disk)")
    args = ap.parse_args()
    if not args.no_build:
        build(args.build_dir, ("ferry",))
    os.environ["FERRY_BIN"] = os.path.abspath(os.path.join(args.build_dir, "ferry"))
    ntopics = args.partitions // args.topic_partitions
    topics = ["fd%05d" % i for i in range(ntopics)]
    value = b"v" * 1000
    node = FerryNode(name="fdbench")
    rows = []

    def report(step, seconds):
        fds, rss = proc_stats(node)
        rows.append((step, fds, rss, seconds, load()))
        log("%s: %d fds, RSS %.0f MiB, %.1f s, load %s" % rows[-1])

    try:
        t0 = time.monotonic()
        node.start(timeout=600)
        budget = [l for l in node.log_text().splitlines() if "open segment file budget" in l]
        log(budget[0].split("INFO log: ")[-1] if budget else "no budget line")
        report("started (empty)", time.monotonic() - t0)
        t0 = time.monotonic()
        create_all(node, topics, args.topic_partitions, args.topics_per_request)
        ferrytest.wait_until(lambda: all_led(node, topics, args.topic_partitions), 900, 1.0,
                             "every partition led")
        report("%d partitions created" % args.partitions, time.monotonic() - t0)
        t0 = time.monotonic()
        produce_all(node, topics, args.topic_partitions, value)
        report("1 KiB produced to every partition", time.monotonic() - t0)
        t0 = time.monotonic()
        read_all(node, topics, args.topic_partitions, value)
        report("every partition fetched and checked", time.monotonic() - t0)
        if args.restart:
            t0 = time.monotonic()
            node.stop(timeout=600)
            stop_s = time.monotonic() - t0
            t0 = time.monotonic()
            node.start(timeout=900)
            ferrytest.wait_until(lambda: all_led(node, topics, args.topic_partitions), 900, 1.0,
                                 "every partition led after the restart")
            report("restarted (clean stop %.1f s)" % stop_s, time.monotonic() - t0)
            t0 = time.monotonic()
            read_all(node, topics, args.topic_partitions, value)
            report("every partition fetched again", time.monotonic() - t0)
    finally:
        if node.alive():
            log("killing the node (-9): a clean stop of this many partitions takes minutes")
            node.kill9()
        if args.keep:
            log("data kept in %s" % node.dir)
        else:
            shutil.rmtree(node.dir, ignore_errors=True)
    print("| step | open fds | RSS MiB | seconds | load |")
    print("|---|---:|---:|---:|---:|")
    for step, fds, rss, s, ld in rows:
        print("| %s | %d | %.0f | %.1f | %s |" % (step, fds, rss, s, ld))


if __name__ == "__main__":
    main()
