"""cluster_bench: the pieces that the cluster benchmarks (quorum_bench.py, legacy_failover.py) share: the
Release `ferry` they run, a metadata-write load of N concurrent pipelined clients, timed topic creation,
and the "every partition has a live leader and a produce succeeds" probe of a failover.

Everything talks Kafka's wire protocol through tests/it/ferrytest.py (KafkaConn and its encoders), so the
benchmarks exercise the same documented interfaces as the integration tests: `ferry server` with Kafka's
config keys, CreateTopics (v4), IncrementalAlterConfigs (v0), Metadata (v1) and Produce (v7).
"""
import multiprocessing
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "it"))
sys.path.insert(0, HERE)

import ferrytest  # noqa: E402
from ferrytest import R, W, KafkaConn, build_batch  # noqa: E402
from run_bench import log, parse_result, run  # noqa: E402

CREATE_TOPICS_VERSION = 4


def use_ferry(build_dir):
    """Points ferrytest (FerryNode, run_ferry) at build_dir's ferry binary."""
    path = os.path.join(build_dir, "ferry")
    if not os.access(path, os.X_OK):
        sys.exit("missing %s (build without --no-build)" % path)
    os.environ["FERRY_BIN"] = path
    # A broker keeps files open for every partition replica it hosts: give the servers every file
    # descriptor the hard limit allows.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return path


def partition_logs_elsewhere(nodes, root, metadata_in_data_dir=False):
    """--partition-log-dir: each node's log.dirs becomes ROOT/<node name> (e.g. on tmpfs) while what the
    metadata needs stays where it was: with metadata_in_data_dir the node's metadata.log.dir (its Raft log)
    stays in its own data directory; ZooKeeper's data is not touched. Both modes create the same partition
    logs, so moving them isolates the metadata path from the file system's cost of creating inodes."""
    for n in nodes:
        n.config["log.dirs"] = os.path.join(root, n.name)
        if metadata_in_data_dir:
            n.config["metadata.log.dir"] = n.data_dir


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    return sorted_values[int(p * (len(sorted_values) - 1) + 0.5)]


def latency_summary(lat_ms):
    lat = sorted(lat_ms)
    mean = sum(lat) / len(lat) if lat else 0.0
    return {"mean_ms": mean, "p50_ms": percentile(lat, 0.5), "p99_ms": percentile(lat, 0.99),
            "max_ms": lat[-1] if lat else 0.0}


# ---- the metadata-write load: quorum_write_bench (C, one poll loop, like zk_write_bench) -------------------

def alter_configs_load(tool, bootstraps, prefix, clients, inflight, seconds, warmup=2.0):
    """One quorum_write_bench run: `clients` connections, client i on bootstraps[i % len] keeping `inflight`
    IncrementalAlterConfigs of topic prefix%03d (i) in flight; returns a dict with writes, writes_per_s,
    mean/p50/p99/max latency (ms), errors, first_error."""
    cmd = [tool, "--bootstrap", ",".join(bootstraps), "--clients", str(clients), "--inflight", str(inflight),
           "--seconds", str(seconds), "--warmup", str(warmup), "--topic-prefix", prefix]
    p = run(cmd, seconds + warmup + 300, check=False)
    if p.returncode != 0:
        return {"writes": 0, "writes_per_s": 0.0, "errors": 1, "first_error": (p.stderr or p.stdout).strip(),
                "mean_ms": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    res = {k: float(v) for k, v in parse_result(p.stdout).items() if k not in ("op",)}
    res.update({"errors": 0, "first_error": None})
    return res


# ---- topics -------------------------------------------------------------------------------------------------

def create_topics(bootstrap, topics, timeout_ms=60000):
    """One CreateTopics v4 request: topics [(name, partitions, replication_factor)]; returns
    {name: (error, message)}."""
    host, port = bootstrap.rsplit(":", 1)
    with KafkaConn(host, int(port), timeout=timeout_ms / 1000.0 + 60) as c:
        body = ferrytest.enc_create_topics(CREATE_TOPICS_VERSION, [t + ({},) for t in topics], timeout_ms=timeout_ms)
        return ferrytest.dec_create_topics(CREATE_TOPICS_VERSION, c.request(ferrytest.API_CREATE_TOPICS,
                                                                           CREATE_TOPICS_VERSION, body))


def _create_client(bootstrap, names, start_at, queue):
    """One client process: CreateTopics of one single-partition topic per request, one after the other."""
    host, port = bootstrap.rsplit(":", 1)
    lat, errors = [], []
    try:
        with KafkaConn(host, int(port), timeout=120) as c:
            while time.monotonic() < start_at:
                time.sleep(0.001)
            for name in names:
                body = ferrytest.enc_create_topics(CREATE_TOPICS_VERSION, [(name, 1, -1, {})], timeout_ms=60000)
                t0 = time.monotonic()
                res = ferrytest.dec_create_topics(CREATE_TOPICS_VERSION, c.request(
                    ferrytest.API_CREATE_TOPICS, CREATE_TOPICS_VERSION, body))
                lat.append((time.monotonic() - t0) * 1000.0)
                if res.get(name, (0,))[0] != 0:
                    errors.append("%s: %r" % (name, res.get(name)))
    except Exception as e:  # noqa: BLE001
        errors.append("%s: %r" % (type(e).__name__, e))
    queue.put((lat, errors))


def timed_topic_creation(bootstraps, prefix, count, clients, leader_probe=None, timeout=120):
    """Creates `count` single-partition topics (replication factor: the broker default) with `clients`
    concurrent clients, each sending one CreateTopics per topic. Returns the time until every request was
    answered, and, with leader_probe (a bootstrap to read Metadata from), until every new topic has a
    leader there (waiting at most `timeout` s; each request may take 60 s); rates in topics/s; the first
    errors. An exception counts as the case's error."""
    try:
        return _timed_topic_creation(bootstraps, prefix, count, clients, leader_probe, timeout)
    except Exception as e:  # noqa: BLE001 - reported as the case's failure
        return {"topics": count, "clients": clients, "errors": 1, "first_errors": ["%s: %r" % (type(e).__name__, e)]}


def _timed_topic_creation(bootstraps, prefix, count, clients, leader_probe, timeout):
    names = ["%s-%05d" % (prefix, i) for i in range(count)]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start_at = time.monotonic() + 1.0 + 0.05 * clients
    procs = []
    for i in range(clients):
        p = ctx.Process(target=_create_client, args=(bootstraps[i % len(bootstraps)], names[i::clients], start_at,
                                                     queue), daemon=True)
        p.start()
        procs.append(p)
    results = [queue.get(timeout=60.0 * (count // clients + 1) + 60) for _ in procs]
    answered = time.monotonic() - start_at
    for p in procs:
        p.join(60)
    errors = [e for r in results for e in r[1]]
    res = {"topics": count, "clients": clients, "answered_s": answered, "answered_rate": count / answered,
           "errors": len(errors), "first_errors": errors[:3]}
    res.update(latency_summary([x for r in results for x in r[0]]))
    if leader_probe and not errors:
        wanted = set(names)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            md = metadata(leader_probe, sorted(wanted))  # only the topics not yet led: a small answer
            wanted -= {t["name"] for t in md["topics"] if t["error"] == 0 and t["partitions"]
                       and all(p["leader"] >= 0 for p in t["partitions"])}
            if not wanted:
                break
            time.sleep(0.05)
        else:
            res["first_errors"].append("not every topic had a leader after %ds" % timeout)
            res["errors"] += 1
        res["led_s"] = time.monotonic() - start_at
        res["led_rate"] = count / res["led_s"]
    return res


def creation_line(res):
    """One report line for timed_topic_creation's result: rates only when every topic was created."""
    head = "topic creation: %d single-partition topics, %d clients (CreateTopics): " % (res["topics"], res["clients"])
    if res["errors"]:
        return head + "FAILED (%d errors; first: %s)" % (res["errors"], "; ".join(res["first_errors"]))
    line = head + "all answered after %.2f s (%.0f topics/s; per request p50 %.1f ms, p99 %.1f ms)" % (
        res["answered_s"], res["answered_rate"], res["p50_ms"], res["p99_ms"])
    if "led_s" in res:
        line += ", all led in Metadata after %.2f s (%.0f topics/s)" % (res["led_s"], res["led_rate"])
    return line


# ---- metadata, leaders, produce ------------------------------------------------------------------------------

def metadata(bootstrap, topics=None, timeout=60):
    """Metadata v1 of every topic (topics None) or of the given ones."""
    host, port = bootstrap.rsplit(":", 1)
    with KafkaConn(host, int(port), timeout=timeout) as c:
        return c.metadata(topics, version=1)  # v1: a null topic array asks for every topic


def leader_report(md, dead=(), prefix=None):
    """(partitions, partitions without a live leader, {broker id: "host:port"}) of a Metadata answer; only
    topics whose name starts with prefix when given; a leader in `dead` counts as no leader."""
    brokers = {b["node_id"]: "%s:%d" % (b["host"], b["port"]) for b in md["brokers"]}
    total = bad = 0
    for t in md["topics"]:
        if prefix and not t["name"].startswith(prefix):
            continue
        for p in t["partitions"]:
            total += 1
            if p["leader"] < 0 or p["leader"] in dead or p["leader"] not in brokers:
                bad += 1
    return total, bad, brokers


def produce_one(md, topic, partition):
    """Produces one record (acks=all) to the partition's leader per `md`; returns the error code (0: ok)."""
    brokers = {b["node_id"]: (b["host"], b["port"]) for b in md["brokers"]}
    leader = next(p["leader"] for t in md["topics"] if t["name"] == topic for p in t["partitions"]
                  if p["partition"] == partition)
    if leader not in brokers:
        return -1
    host, port = brokers[leader]
    with KafkaConn(host, port, timeout=30) as c:
        res = c.produce(topic, partition, build_batch([(b"k", b"failover", [])]), acks=-1, timeout_ms=10000)
        return res["error"]


def wait_for(pred, timeout, interval=0.05):
    """Polls pred() until it returns a true value (returned) or timeout seconds pass (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except (OSError, ferrytest.ConnectionClosed, ferrytest.ParseError) as e:
            log("  (probe: %r)" % (e,))
        time.sleep(interval)
    return None
