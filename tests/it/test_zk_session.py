"""Runs the C tests of the ZooKeeper session, registration and election (tests/unit/test_zk_session.c)
against a real ZooKeeper started here (zkharness); the program gets the connect string in
FERRY_ZK_CONNECT. Also the session's behaviour across a ZooKeeper restart is covered by
test_zk_legacy.py with real brokers."""
import os
import subprocess
import threading
import unittest

import ferrytest
import zkharness


def test_program():
    return os.path.join(os.path.dirname(ferrytest.ferry_bin()), "test_zk_session")


class ZkSessionC(unittest.TestCase):
    def test_c_program_against_zookeeper(self):
        prog = test_program()
        self.assertTrue(os.path.exists(prog), "%s missing: build all targets" % prog)
        zk = zkharness.start_for_test(self)
        env = dict(os.environ, FERRY_ZK_CONNECT=zk.connect_string)
        res = ferrytest.run_proc([prog], env=env, timeout=600)
        out = (res.stdout or "") + (res.stderr or "")
        if res.returncode != 0:
            print(out)
        self.assertEqual(res.returncode, 0, "test_zk_session failed:\n%s" % out[-6000:])
        # every case ran against the server (none skipped)
        self.assertNotIn("SKIPPED", out)
        self.assertIn("[  PASSED  ] 11 test(s).", out)

    def test_c_program_late_server_and_outage(self):
        """The program starts before the server, then asks for an outage: its requests wait and succeed."""
        prog = test_program()
        zk = zkharness.ZooKeeperServer(name="zk-late")
        failed = []

        def _cleanup():
            zk.cleanup(keep=bool(failed))
        self.addCleanup(_cleanup)
        env = dict(os.environ, FERRY_ZK_LATE_CONNECT=zk.connect_string)
        env.pop("FERRY_ZK_CONNECT", None)
        proc = subprocess.Popen([prog], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        watchdog = threading.Timer(600, proc.kill)
        watchdog.start()
        self.addCleanup(watchdog.cancel)
        out = []
        for line in proc.stdout:
            out.append(line)
            if line.strip() == "START-SERVER":
                zk.start()
            elif line.strip() == "STOP-SERVER":
                zk.stop()
        rc = proc.wait(60)
        proc.stdout.close()
        text = "".join(out)
        if rc != 0:
            failed.append(1)
        self.assertEqual(rc, 0, "test_zk_session (late server) failed:\n%s" % text[-6000:])
        self.assertEqual(text.count("START-SERVER"), 2)
        self.assertIn("[  PASSED  ] 1 test(s).", text)


if __name__ == "__main__":
    ferrytest.main()
