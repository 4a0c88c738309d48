"""zkcluster: legacy-mode (ZooKeeper) Ferry brokers for integration tests, on top of ferrytest.FerryNode and
zkharness.ZooKeeperServer, plus a strict reader of the znodes Kafka 3.7 writes (keys, types, which numbers
are strings), so that tests check what Ferry writes against Kafka's formats rather than against Ferry's
own decoder.

    zk = zkharness.start_for_test(self)
    nodes = [legacy_node(self, zk.connect_string, i) for i in (1, 2, 3)]   # owned by the test
    for n in nodes: n.start()
    c = zk.client(); broker_znode(c, 1) ...

Run with /usr/bin/python3."""
import json
import os
import time

import ferrytest
from ferrytest import FerryNode

SESSION_TIMEOUT_MS = 6000


def legacy_config(node, zk_connect, broker_id, extra=None):
    cfg = {
        "broker.id": str(broker_id),
        "listeners": "PLAINTEXT://127.0.0.1:%d" % node.port,
        "log.dirs": node.data_dir,
        "zookeeper.connect": zk_connect,
        "zookeeper.session.timeout.ms": str(SESSION_TIMEOUT_MS),
        "offsets.topic.replication.factor": "1",
        # a stop waits at most 3 x 0.5 s for a controller that does not answer ControlledShutdown
        "controlled.shutdown.retry.backoff.ms": "500",
    }
    cfg.update({k: str(v) for k, v in (extra or {}).items()})
    return cfg


def legacy_node(tc, zk_connect, broker_id, extra=None, name=None):
    """A legacy-mode FerryNode (not started). With a FerryTestCase tc the node belongs to the test (stopped and
    cleaned up by it); with tc None the caller stops it."""
    name = name or "broker%d" % broker_id
    if tc is not None:
        n = tc.node(name=name, node_id=broker_id, base_config=False, mode="config", auto_format=False)
    else:
        n = FerryNode(name=name, node_id=broker_id, base_config=False, mode="config", auto_format=False)
    n.config.update(legacy_config(n, zk_connect, broker_id, extra))
    return n


def start_legacy_cluster(tc, zk, ids=(1, 2, 3), extra=None):
    """Starts legacy brokers `ids` (owned by test tc) on zk and waits until one of them has loaded ZooKeeper as
    the active controller. Returns (nodes, a started kazoo client closed by the test, controller id)."""
    nodes = [legacy_node(tc, zk.connect_string, i, extra=extra) for i in ids]
    for n in nodes:
        n.start()
    c = zk.client()
    tc.addCleanup(c.close)
    tc.addCleanup(c.stop)
    ctl, _ = wait_until(lambda: controller(c)[0] and controller(c), what="a controller")
    node = [n for n in nodes if n.node_id == ctl][0]
    epoch = controller_epoch(c)[0]
    wait_until(lambda: "is the active controller: epoch %d" % epoch in node.log_text(),
               what="broker %d to load ZooKeeper as the controller" % ctl)
    return nodes, c, ctl


# ---- strict readers of Kafka 3.7's znodes -------------------------------------------------------------------

def _expect(cond, what):
    if not cond:
        raise AssertionError(what)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_broker_json(raw, broker_id=None):
    """/brokers/ids/<id> version 5 exactly as Kafka 3.7 writes it: returns the parsed dict."""
    d = json.loads(raw.decode("utf-8"))
    keys = {"features", "listener_security_protocol_map", "endpoints", "jmx_port", "port", "host", "version",
            "timestamp"}
    _expect(keys <= set(d) <= keys | {"rack"}, "broker znode keys %s" % sorted(d))
    _expect(d["version"] == 5 and _is_int(d["version"]), "version %r" % (d["version"],))
    _expect(isinstance(d["features"], dict), "features %r" % (d["features"],))
    _expect(isinstance(d["timestamp"], str) and d["timestamp"].isdigit(), "timestamp must be a digit string")
    _expect(_is_int(d["jmx_port"]) and d["jmx_port"] == -1, "jmx_port %r" % (d["jmx_port"],))
    pm = d["listener_security_protocol_map"]
    _expect(isinstance(pm, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in pm.items()),
            "listener_security_protocol_map %r" % (pm,))
    eps = d["endpoints"]
    _expect(isinstance(eps, list) and eps and all(isinstance(e, str) and "://" in e for e in eps),
            "endpoints %r" % (eps,))
    for e in eps:
        _expect(e.split("://", 1)[0] in pm, "endpoint %s has no protocol map entry" % e)
    plaintext = [e for e in eps if pm.get(e.split("://", 1)[0]) == "PLAINTEXT"]
    if plaintext:
        host, port = plaintext[0].split("://", 1)[1].rsplit(":", 1)
        _expect(d["host"] == host.strip("[]") and d["port"] == int(port) and _is_int(d["port"]),
                "host/port %r/%r do not copy the first PLAINTEXT endpoint %s" % (d["host"], d["port"], plaintext[0]))
    else:
        _expect(d["host"] is None and d["port"] == -1, "host/port without a PLAINTEXT endpoint")
    if "rack" in d:
        _expect(isinstance(d["rack"], str), "rack %r" % (d["rack"],))
    return d


def check_controller_json(raw, allow_v1=False):
    """/controller as Ferry must write it (version 2); allow_v1 also accepts what Kafka up to 3.3 wrote."""
    d = json.loads(raw.decode("utf-8"))
    if allow_v1 and d.get("version") == 1:
        _expect(set(d) == {"version", "brokerid", "timestamp"} and _is_int(d["brokerid"]), "controller %r" % (d,))
        return d
    _expect(set(d) == {"version", "brokerid", "timestamp", "kraftControllerEpoch"}, "controller keys %s" % sorted(d))
    _expect(d["version"] == 2 and _is_int(d["brokerid"]), "controller %r" % (d,))
    _expect(isinstance(d["timestamp"], str) and d["timestamp"].isdigit(), "timestamp must be a digit string")
    _expect(d["kraftControllerEpoch"] == -1, "a ZooKeeper-mode controller writes kraftControllerEpoch -1")
    return d


def check_cluster_id_json(raw):
    d = json.loads(raw.decode("utf-8"))
    _expect(set(d) == {"version", "id"} and d["version"] == "1", "cluster id %r" % (d,))
    _expect(isinstance(d["id"], str) and len(d["id"]) == 22, "cluster id %r" % (d["id"],))
    return d["id"]


def _is_digit_string(v):
    return isinstance(v, str) and (v.isdigit() or (v.startswith("-") and v[1:].isdigit()))


def check_topic_json(raw):
    """/brokers/topics/<t> version 3 exactly as Kafka 3.7 writes it (AdminZkClient / TopicZNode.encode):
    partition ids are string keys, replicas int lists, a 22-char topic_id. Returns the parsed dict."""
    d = json.loads(raw.decode("utf-8"))
    _expect(set(d) == {"version", "partitions", "adding_replicas", "removing_replicas", "topic_id"},
            "topic keys %s" % sorted(d))
    _expect(d["version"] == 3 and _is_int(d["version"]), "topic version %r" % (d["version"],))
    for key in ("partitions", "adding_replicas", "removing_replicas"):
        _expect(isinstance(d[key], dict), "%s is not an object" % key)
        for p, reps in d[key].items():
            _expect(isinstance(p, str) and p.isdigit(), "%s key %r is not a decimal string" % (key, p))
            _expect(isinstance(reps, list) and all(_is_int(r) for r in reps), "%s[%s] %r" % (key, p, reps))
    _expect(isinstance(d["topic_id"], str) and len(d["topic_id"]) == 22, "topic_id %r" % (d["topic_id"],))
    return d


def check_admin_partitions_json(raw, with_replicas):
    """/admin/reassign_partitions (with_replicas) or /admin/preferred_replica_election version 1 exactly as
    Kafka 3.7 writes them (ReassignPartitionsZNode, PreferredReplicaElectionZNode). Returns the parsed dict."""
    d = json.loads(raw.decode("utf-8"))
    _expect(set(d) == {"version", "partitions"}, "admin znode keys %s" % sorted(d))
    _expect(d["version"] == 1 and _is_int(d["version"]), "admin znode version %r" % (d["version"],))
    _expect(isinstance(d["partitions"], list), "partitions is not a list")
    keys = {"topic", "partition", "replicas"} if with_replicas else {"topic", "partition"}
    for e in d["partitions"]:
        _expect(isinstance(e, dict) and set(e) == keys, "admin znode entry %r" % (e,))
        _expect(isinstance(e["topic"], str) and _is_int(e["partition"]), "admin znode entry %r" % (e,))
        if with_replicas:
            _expect(isinstance(e["replicas"], list) and all(_is_int(r) for r in e["replicas"]),
                    "replicas %r" % (e["replicas"],))
    return d


def check_config_json(raw):
    """/config/<type>/<entity> version 1: every value a string. Returns the config dict."""
    d = json.loads(raw.decode("utf-8"))
    _expect(set(d) == {"version", "config"} and d["version"] == 1 and _is_int(d["version"]), "config %r" % (d,))
    _expect(isinstance(d["config"], dict), "config is not an object")
    for k, v in d["config"].items():
        _expect(isinstance(v, str), "config value of %s is %r, not a string" % (k, v))
    return d["config"]


def check_config_change_json(raw):
    """/config/changes/config_change_N version 2: returns the entity_path."""
    d = json.loads(raw.decode("utf-8"))
    _expect(set(d) == {"version", "entity_path"} and d["version"] == 2 and _is_int(d["version"]),
            "config change %r" % (d,))
    _expect(isinstance(d["entity_path"], str) and "/" in d["entity_path"], "entity_path %r" % (d["entity_path"],))
    return d["entity_path"]


def check_producer_id_block_json(raw):
    """/latest_producer_id_block version 1: block bounds are strings. Returns (broker, start, end)."""
    d = json.loads(raw.decode("utf-8"))
    _expect(set(d) == {"version", "broker", "block_start", "block_end"}, "producer id block keys %s" % sorted(d))
    _expect(d["version"] == 1 and _is_int(d["version"]) and _is_int(d["broker"]), "producer id block %r" % (d,))
    _expect(_is_digit_string(d["block_start"]) and _is_digit_string(d["block_end"]),
            "block_start/block_end must be decimal strings: %r" % (d,))
    return d["broker"], int(d["block_start"]), int(d["block_end"])


def check_feature_json(raw):
    """/feature as a 3.7 ZooKeeper-mode controller writes it: {"features":{},"version":2,"status":1}."""
    d = json.loads(raw.decode("utf-8"))
    _expect(set(d) == {"features", "version", "status"}, "feature keys %s" % sorted(d))
    _expect(d["version"] == 2 and d["status"] == 1 and isinstance(d["features"], dict), "feature %r" % (d,))
    for name, v in d["features"].items():
        _expect(isinstance(v, dict) and set(v) == {"max_version_level"} and _is_int(v["max_version_level"]),
                "feature %s: %r" % (name, v))
    return d


def controller_epoch(client):
    """(epoch, zkVersion, mzxid) of /controller_epoch: a bare ASCII integer."""
    data, st = client.get("/controller_epoch")
    text = data.decode("ascii")
    _expect(text.isdigit(), "/controller_epoch %r is not a bare integer" % text)
    return int(text), st.version, st.mzxid


def controller(client, allow_v1=False):
    """(broker id, Stat) of /controller, or (None, None)."""
    if not client.exists("/controller"):
        return None, None
    try:
        data, st = client.get("/controller")
    except Exception:  # noqa: BLE001 - gone in between
        return None, None
    return check_controller_json(data, allow_v1)["brokerid"], st


def live_broker_ids(client):
    return sorted(int(c) for c in client.get_children("/brokers/ids"))


def wait_until(pred, timeout=90.0, what="condition"):
    return ferrytest.wait_until(pred, timeout=timeout, what=what)


def metadata(node, version=1):
    with node.conn(timeout=10) as c:
        return c.metadata([], version=version)


def elapsed_since(t0):
    return time.monotonic() - t0


def topic_znode(assignment, topic_id=None):
    """/brokers/topics/<t> version 3 as AdminZkClient (kafka-topics --zookeeper) writes it: assignment maps
    partition -> replicas; topic_id a 22-character url-safe base64 Uuid (a random one by default)."""
    import base64
    if topic_id is None:
        topic_id = base64.urlsafe_b64encode(os.urandom(16)).decode("ascii").rstrip("=")
    d = {"partitions": {str(p): list(r) for p, r in sorted(assignment.items())}, "topic_id": topic_id,
         "adding_replicas": {}, "removing_replicas": {}, "version": 3}
    return json.dumps(d, separators=(",", ":")).encode("utf-8")


def check_partition_state_json(raw):
    """partitions/<n>/state version 1 exactly as Kafka 3.7 writes it: returns the parsed dict."""
    d = json.loads(raw.decode("utf-8"))
    keys = {"controller_epoch", "leader", "version", "leader_epoch", "isr"}
    _expect(keys <= set(d) <= keys | {"leader_recovery_state"}, "partition state keys %s" % sorted(d))
    _expect(d["version"] == 1, "partition state version %r" % (d["version"],))
    for k in ("controller_epoch", "leader", "leader_epoch"):
        _expect(_is_int(d[k]), "%s %r must be a JSON number" % (k, d[k]))
    _expect(isinstance(d["isr"], list) and all(_is_int(b) for b in d["isr"]), "isr %r" % (d["isr"],))
    if "leader_recovery_state" in d:
        _expect(d["leader_recovery_state"] == 1, "leader_recovery_state is written only when 1 (RECOVERING)")
    return d


def partition_state(client, topic, partition):
    """(parsed state, zkVersion) of /brokers/topics/<topic>/partitions/<partition>/state, or (None, None)."""
    path = "/brokers/topics/%s/partitions/%d/state" % (topic, partition)
    if not client.exists(path):
        return None, None
    data, st = client.get(path)
    return check_partition_state_json(data), st.version
