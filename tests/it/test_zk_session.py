"""Runs the C tests of the ZooKeeper session, registration and election (tests/unit/test_zk_session.c)
against a real ZooKeeper started here (zkharness); the program gets the connect string in
FERRY_ZK_CONNECT. Also the session's behaviour across a ZooKeeper restart is covered by
test_zk_legacy.py with real brokers."""
import os
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
        self.assertIn("[  PASSED  ] 8 test(s).", out)


if __name__ == "__main__":
    ferrytest.main()
