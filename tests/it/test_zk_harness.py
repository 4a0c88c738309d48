"""The ZooKeeper harness itself (tests/it/zkharness.py), checked with kazoo: a standalone server starts on
a loopback port and serves znodes; an ephemeral znode goes with its session; data survives a clean
restart and a kill -9; stop() leaves no process; a taken port is reported clearly; only the client port
is opened."""
import os
import shutil
import socket
import subprocess
import time
import unittest

import ferrytest as ft
import zkharness
from zkharness import ZooKeeperServer, ZooKeeperStartError, start_for_test


def pid_gone(pid):
    """True when pid no longer exists (or is a zombie not yet reaped by someone else)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def listening_ports(pid):
    """The TCP ports pid listens on (from ss), as (address, port)."""
    out = subprocess.run(["ss", "-Htlnp"], stdout=subprocess.PIPE, text=True, check=True).stdout
    res = []
    for line in out.splitlines():
        if "pid=%d," % pid in line:
            local = line.split()[3]
            addr, port = local.rsplit(":", 1)
            res.append((addr, int(port)))
    return res


class ZooKeeperHarnessTest(unittest.TestCase):
    def client(self, zk, **kw):
        c = zk.client(**kw)
        self.addCleanup(c.close)
        self.addCleanup(c.stop)
        return c

    def test_znodes_ephemeral_restart_stop(self):
        zk = start_for_test(self, name="zkh")
        self.assertTrue(zk.alive())
        self.assertEqual(zk.connect_string, "127.0.0.1:%d" % zk.port)
        self.assertEqual(zk.chroot("/ferry"), "127.0.0.1:%d/ferry" % zk.port)
        self.assertNotIn(zk.port, (2181, 9092, 9093))

        # Only the loopback client port is open: no admin server, no quorum/election ports, no JMX.
        ports = listening_ports(zk.pid)
        if ports:  # ss may not show other users' processes; ours it does
            self.assertEqual([p for _, p in ports], [zk.port], ports)
            for addr, _ in ports:
                self.assertIn("127.0.0.1", addr)

        # Persistent znodes: create, read, children, set, versions.
        c = self.client(zk)
        c.create("/brokers/ids", b"", makepath=True)
        c.create("/config/topics/t1", b'{"version":1,"config":{}}', makepath=True)
        data, stat = c.get("/config/topics/t1")
        self.assertEqual(data, b'{"version":1,"config":{}}')
        self.assertEqual(stat.version, 0)
        c.set("/config/topics/t1", b"v2", version=0)
        self.assertEqual(c.get("/config/topics/t1")[0], b"v2")
        self.assertEqual(sorted(c.get_children("/")), ["brokers", "config", "zookeeper"])

        # A chrooted client sees only its subtree.
        c.create("/ferry", b"")
        cc = self.client(zk, chroot="/ferry")
        cc.create("/inside", b"x")
        self.assertTrue(c.exists("/ferry/inside"))

        # An ephemeral znode disappears when its session closes.
        e = zk.client()
        e.create("/brokers/ids/1", b'{"port":1}', ephemeral=True)
        self.assertEqual(c.get("/brokers/ids/1")[1].ephemeralOwner, e.client_id[0])
        e.stop()
        e.close()
        ft.wait_until(lambda: c.exists("/brokers/ids/1") is None, 30, what="ephemeral /brokers/ids/1 gone")
        c.stop()
        c.close()
        cc.stop()
        cc.close()

        # Data survives a clean restart on the same port and data dir.
        port, old_pid = zk.port, zk.pid
        zk.restart()
        self.assertEqual(zk.port, port)
        self.assertNotEqual(zk.pid, old_pid)
        self.assertTrue(pid_gone(old_pid), "old pid %d still there after restart" % old_pid)
        c2 = self.client(zk)
        self.assertEqual(c2.get("/config/topics/t1")[0], b"v2")
        self.assertEqual(c2.get("/ferry/inside")[0], b"x")
        c2.create("/after-restart", b"acked")
        c2.stop()

        # ... and a kill -9 (what was acknowledged is on disk).
        killed = zk.pid
        zk.restart(clean=False)
        self.assertTrue(pid_gone(killed))
        c3 = self.client(zk)
        self.assertEqual(c3.get("/after-restart")[0], b"acked")
        self.assertEqual(c3.get("/config/topics/t1")[0], b"v2")
        c3.stop()

        # stop() leaves no process.
        pid = zk.pid
        rc = zk.stop()
        self.assertIsNotNone(rc)
        self.assertFalse(zk.alive())
        self.assertTrue(pid_gone(pid), "pid %d still exists after stop()" % pid)
        self.assertNotIn(zk, zkharness._live_servers)
        self.assertEqual(zk.stop(), rc)  # idempotent

    def test_port_taken_is_reported(self):
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(blocker.close)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        zk = ZooKeeperServer(name="zkh-taken", port=port)
        self.addCleanup(zk.cleanup)
        t0 = time.monotonic()
        with self.assertRaises(ZooKeeperStartError) as cm:
            zk.start(timeout=60)
        msg = str(cm.exception)
        self.assertIn("127.0.0.1:%d" % port, msg)
        self.assertIn("already in use", msg)
        self.assertLess(time.monotonic() - t0, 50, "a taken port should fail fast, not at the deadline")
        self.assertFalse(zk.alive())
        self.assertEqual(zk.port, port)  # a given port is never swapped silently

    def test_context_manager_stops_on_error(self):
        pid = None
        server = ZooKeeperServer(name="zkh-ctx")
        # On an exception the context manager keeps the temp dir for a post-mortem; here it is expected.
        self.addCleanup(shutil.rmtree, server.dir, True)
        with self.assertRaises(RuntimeError):
            with server as zk:
                pid = zk.pid
                c = zk.client()
                c.create("/x", b"1")
                c.stop()
                c.close()
                raise RuntimeError("boom")
        self.assertIsNotNone(pid)
        self.assertTrue(pid_gone(pid))
        self.assertFalse(server.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
