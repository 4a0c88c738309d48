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
            # ControllerId is the holder of /controller, as Kafka's ZooKeeper-mode brokers answer
            wait_until(lambda: metadata(n)["controller_id"] == ctl, what="%s naming controller %d" % (n.name, ctl))
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

    def test_zombie_controller_is_fenced_and_reregisters(self):
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk)
        c = self.zk_client(zk)
        ctl, _ = wait_until(lambda: controller(c)[0] and controller(c), what="a controller")
        zombie = [n for n in nodes if n.node_id == ctl][0]
        old_czxid = c.get("/brokers/ids/%d" % ctl)[1].czxid
        os.kill(zombie.pid, signal.SIGSTOP)
        try:
            new, _ = wait_until(lambda: controller(c)[0] not in (None, ctl) and controller(c),
                                timeout=SESSION_TIMEOUT_MS / 1000.0 + 60, what="a controller other than the zombie")
            wait_until(lambda: ctl not in live_broker_ids(c), what="the zombie's registration to expire")
            epoch, epoch_version, epoch_mzxid = controller_epoch(c)
            _, ctl_stat = controller(c)
            # a marker: every znode changed after this zxid is checked below
            c.create("/zombie-marker", b"")
            marker = c.get("/zombie-marker")[1].mzxid
        finally:
            os.kill(zombie.pid, signal.SIGCONT)
        wait_until(lambda: "the ZooKeeper session expired" in zombie.log_text(), what="the zombie to resign")
        wait_until(lambda: ctl in live_broker_ids(c), what="the zombie to register again")
        data, st = c.get("/brokers/ids/%d" % ctl)
        check_broker_json(data)
        self.assertGreater(st.czxid, old_czxid)  # a new broker epoch
        wait_until(lambda: "lost the controller election" in zombie.log_text() or
                   "the controller is now %d" % new in zombie.log_text(), what="the zombie to see the new controller")
        time.sleep(1.0)  # room for a stray write to land before the check (the check itself does not time)
        self.assertEqual(controller_epoch(c), (epoch, epoch_version, epoch_mzxid))
        now_id, now_stat = controller(c)
        self.assertEqual((now_id, now_stat.czxid, now_stat.mzxid), (new, ctl_stat.czxid, ctl_stat.mzxid))
        changed = []

        def walk(path):
            for child in c.get_children(path):
                p = (path.rstrip("/") + "/" + child)
                if p == "/zookeeper":
                    continue
                st = c.exists(p)
                if st and st.mzxid > marker:
                    changed.append(p)
                walk(p)
        walk("/")
        self.assertEqual(changed, ["/brokers/ids/%d" % ctl])
        self.assertEqual(zombie.log_text().count("is the controller: epoch"), 1)  # never elected again
        for n in nodes:
            wait_until(lambda: sorted(b["node_id"] for b in metadata(n)["brokers"]) == [1, 2, 3],
                       what="%s to list the 3 brokers again" % n.name)

    def test_zookeeper_restart_and_outage(self):
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk)
        c = self.zk_client(zk)
        wait_until(lambda: live_broker_ids(c) == [1, 2, 3], what="3 registered brokers")
        c.stop()
        c.close()
        zk.restart()
        c2 = self.zk_client(zk)
        wait_until(lambda: live_broker_ids(c2) == [1, 2, 3], what="3 brokers after a ZooKeeper restart")
        wait_until(lambda: all("session 0x" in n.log_text() and "disconnected" in n.log_text() for n in nodes),
                   what="every broker to notice the restart")
        # a short outage: ZooKeeper down for 2 s, then back (sessions survive: shorter than their timeout)
        c2.stop()
        c2.close()
        zk.stop()
        time.sleep(2.0)
        zk.start()
        c3 = self.zk_client(zk)
        wait_until(lambda: live_broker_ids(c3) == [1, 2, 3] and controller(c3)[0] in (1, 2, 3),
                   what="3 brokers and a controller after an outage")
        for n in nodes:
            self.assertAlive(n)
            md = metadata(n)
            self.assertEqual(sorted(b["node_id"] for b in md["brokers"]), [1, 2, 3])

    def test_fast_restart_waits_for_its_old_session(self):
        """kill -9 and an immediate restart: the old session still owns /brokers/ids/N; the new process
        leaves it alone, and registers with a new epoch once ZooKeeper expires the old session."""
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk, ids=(1, 2))
        c = self.zk_client(zk)
        wait_until(lambda: live_broker_ids(c) == [1, 2], what="2 registered brokers")
        b2 = nodes[1]
        old = c.get("/brokers/ids/2")[1]
        b2.kill9()
        b2.start()
        wait_until(lambda: "belongs to session" in b2.log_text(), what="the restarted broker to see its old node")
        new = wait_until(lambda: (lambda st: st if st and st.czxid > old.czxid else None)(c.exists("/brokers/ids/2")),
                         timeout=SESSION_TIMEOUT_MS / 1000.0 + 60, what="a new registration of broker 2")
        self.assertNotEqual(new.ephemeralOwner, old.ephemeralOwner)
        check_broker_json(c.get("/brokers/ids/2")[0])

    def test_malformed_broker_znode_is_logged_and_skipped(self):
        zk = zkharness.start_for_test(self)
        nodes = self.start_cluster(zk, ids=(1, 2))
        c = self.zk_client(zk)
        wait_until(lambda: live_broker_ids(c) == [1, 2], what="2 registered brokers")
        c.create("/brokers/ids/99", b'{"version":5,"endpoints":"oops"}', ephemeral=True)
        c.create("/brokers/ids/98", b'{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},'
                 b'"endpoints":["PLAINTEXT://h:x"],"jmx_port":-1,"port":1,"host":"h","version":5,"timestamp":"1"}',
                 ephemeral=True)
        for n in nodes:
            wait_until(lambda: "/brokers/ids/99 is malformed" in n.log_text() and
                       "/brokers/ids/98" in n.log_text(), what="%s to log both bad znodes" % n.name)
            self.assertEqual(sorted(b["node_id"] for b in metadata(n)["brokers"]), [1, 2])
            self.assertAlive(n)
        # a good broker registering afterwards is still seen
        c.delete("/brokers/ids/99")
        good = legacy_node(self, zk.connect_string, 3)
        good.start()
        for n in nodes:
            wait_until(lambda: sorted(b["node_id"] for b in metadata(n)["brokers"]) == [1, 2, 3],
                       what="%s to see broker 3" % n.name)

    def test_kafka_written_znodes_are_adopted(self):
        """A ZooKeeper a Kafka 3.7 cluster used: cluster id, a controller (version 1 JSON, epoch 7) and a Java
        broker's registration. Ferry adopts the id, lists the Java broker, leaves the live controller alone, and
        takes over with epoch 8 only when that controller's session ends."""
        zk = zkharness.start_for_test(self)
        kafka = zk.client()  # plays the Java broker 42 and its session
        self.addCleanup(kafka.close)
        self.addCleanup(kafka.stop)
        kafka.create("/cluster/id", b'{"version":"1","id":"Xy3kP0q9R2ejQ0aB1cD2eA"}', makepath=True)
        kafka.create("/controller_epoch", b"7")
        kafka.create("/controller", b'{"version":1,"brokerid":42,"timestamp":"1712345678901"}', ephemeral=True)
        kafka.create("/brokers/ids/42",
                     b'{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT","SSL":"SSL"},'
                     b'"endpoints":["PLAINTEXT://b42.example:9092","SSL://b42.example:9093"],"jmx_port":-1,'
                     b'"port":9092,"host":"b42.example","version":5,"timestamp":"1712345678901","rack":"rack-a"}',
                     ephemeral=True, makepath=True)
        nodes = self.start_cluster(zk, ids=(1, 2))
        c = self.zk_client(zk)
        for n in nodes:
            md = wait_until(lambda: (lambda m: m if sorted(b["node_id"] for b in m["brokers"]) == [1, 2, 42]
                                     else None)(metadata(n)), what="%s to list the Java broker" % n.name)
            b42 = [b for b in md["brokers"] if b["node_id"] == 42][0]
            self.assertEqual((b42["host"], b42["port"]), ("b42.example", 9092))
            with open(os.path.join(n.data_dir, "meta.properties")) as f:
                self.assertIn("cluster.id=Xy3kP0q9R2ejQ0aB1cD2eA", f.read())
            wait_until(lambda: "the controller is now 42" in n.log_text(), what="%s to see controller 42" % n.name)
        self.assertEqual(controller(c, allow_v1=True)[0], 42)
        self.assertEqual(controller_epoch(c)[0], 7)
        kafka.stop()  # the Java broker's session ends: /controller and /brokers/ids/42 go
        new, _ = wait_until(lambda: controller(c)[0] in (1, 2) and controller(c), what="a Ferry controller")
        self.assertEqual(controller_epoch(c)[0], 8)
        for n in nodes:
            wait_until(lambda: sorted(b["node_id"] for b in metadata(n)["brokers"]) == [1, 2],
                       what="%s to drop the Java broker" % n.name)

    def test_chroot_is_created(self):
        zk = zkharness.start_for_test(self)
        connect = zk.chroot("/kafka/prod")
        nodes = self.start_cluster(zk, ids=(1, 2), connect=connect)
        c = self.zk_client(zk)
        self.assertTrue(c.exists("/kafka/prod"))
        wait_until(lambda: sorted(int(x) for x in c.get_children("/kafka/prod/brokers/ids")) == [1, 2],
                   what="brokers under the chroot")
        check_cluster_id_json(c.get("/kafka/prod/cluster/id")[0])
        self.assertFalse(c.exists("/brokers"))  # nothing outside the chroot
        self.assertTrue(c.exists("/kafka/prod/controller"))
        self.assertEqual(len(nodes), 2)


class LegacyStartErrors(ferrytest.FerryTestCase):
    def fails_with(self, node, *needles):
        node.spawn()
        rc = node.wait_exit(timeout=120)
        text = node.log_text()
        self.assertIsNotNone(rc, "%s still running" % node.name)
        self.assertNotEqual(rc, 0)
        for s in needles:
            self.assertIn(s, text)
        return text

    def test_unreachable_zookeeper(self):
        port = ferrytest.free_port()
        n = legacy_node(self, "127.0.0.1:%d" % port, 1, extra={"zookeeper.connection.timeout.ms": "2000"})
        self.fails_with(n, "zookeeper.connect=127.0.0.1:%d" % port, "zookeeper.connection.timeout.ms=2000")

    def test_bad_chroot_and_connect(self):
        zk = zkharness.start_for_test(self)
        n = legacy_node(self, zk.connect_string + "/a//b", 1)
        self.fails_with(n, "zookeeper.connect", "chroot '/a//b'")
        n2 = legacy_node(self, "127.0.0.1", 2)
        self.fails_with(n2, "zookeeper.connect", "is not host:port")

    def test_unset_broker_id(self):
        zk = zkharness.start_for_test(self)
        n = legacy_node(self, zk.connect_string, 1)
        del n.config["broker.id"]
        self.fails_with(n, "broker.id is not set")

    def test_acl_without_credentials_or_with_a_missing_file(self):
        zk = zkharness.start_for_test(self)
        n = legacy_node(self, zk.connect_string, 1, extra={"zookeeper.set.acl": "true"})
        self.fails_with(n, "zookeeper.set.acl", "zookeeper.auth.digest.file")
        n2 = legacy_node(self, zk.connect_string, 2, extra={"zookeeper.auth.digest.file": "/nonexistent/digest"})
        self.fails_with(n2, "zookeeper.auth.digest.file /nonexistent/digest")

    def test_cluster_id_mismatch_refused(self):
        zk = zkharness.start_for_test(self)
        n = legacy_node(self, zk.connect_string, 1)
        os.makedirs(n.data_dir, exist_ok=True)
        with open(os.path.join(n.data_dir, "meta.properties"), "w") as f:
            f.write("#\nversion=0\nbroker.id=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\n")
        self.fails_with(n, "InconsistentClusterIdException", "AAAAAAAAAAAAAAAAAAAAAA", "meta.properties")


class LegacySecureAcls(ferrytest.FerryTestCase):
    def test_set_acl_with_digest(self):
        zk = zkharness.start_for_test(self)
        n = legacy_node(self, zk.connect_string, 1, extra={"zookeeper.set.acl": "true"})
        digest = os.path.join(n.dir, "zk-digest")
        with open(digest, "w") as f:
            f.write("ferry:secret\n")
        n.config["zookeeper.auth.digest.file"] = digest
        n.start()
        c = zk.client()
        self.addCleanup(c.close)
        self.addCleanup(c.stop)
        wait_until(lambda: live_broker_ids(c) == [1], what="the broker registered")
        # ZooKeeper shows a digest ACL's hash only to a client with ADMIN on the node: read as the broker
        ca = zk.client(auth_data=[("digest", "ferry:secret")])
        self.addCleanup(ca.close)
        self.addCleanup(ca.stop)
        acls, _ = ca.get_acls("/brokers/ids/1")
        got = sorted((a.id.scheme, a.id.id, a.perms) for a in acls)
        self.assertEqual(got, [("digest", "ferry:" + digest_of("ferry", "secret"), 31), ("world", "anyone", 1)])
        acls, _ = ca.get_acls("/config/users")
        self.assertEqual([(a.id.scheme, a.perms) for a in acls], [("digest", 31)])  # no world read
        acls, _ = ca.get_acls("/consumers")
        self.assertEqual([(a.id.scheme, a.id.id, a.perms) for a in acls], [("world", "anyone", 31)])
        # an anonymous client may read but not write
        from kazoo.exceptions import NoAuthError
        c.get("/brokers/ids/1")
        with self.assertRaises(NoAuthError):
            c.set("/cluster/id", b"x")


def digest_of(user, password):
    import base64
    import hashlib
    return base64.b64encode(hashlib.sha1(("%s:%s" % (user, password)).encode()).digest()).decode()


if __name__ == "__main__":
    ferrytest.main()
