"""A legacy-mode broker that runs out of file descriptors (ulimit -n) at start-up stops with a clear error
instead of crashing.

Found by the failover benchmark: a broker restarted with thousands of partitions under a 20,000 nofile
limit had no descriptor left for its start-up event loop and died with SIGSEGV. The test starts a
legacy-mode broker against a real ZooKeeper under a range of tiny descriptor limits (prlimit): whatever
the limit, the process either keeps running or exits with status 1 and a `ferry server:` error line; a
death by a signal fails the test.
"""
import os
import subprocess
import unittest

import ferrytest
import zkharness

LIMITS = (8, 10, 11, 12, 13, 14, 16, 20)
RUNNING_AFTER_S = 4.0  # a broker still up this long after start has got past the descriptor-hungry start


class FdLimitTest(unittest.TestCase):
    def test_low_nofile_never_crashes(self):
        zk = zkharness.start_for_test(self)
        base = os.path.join(ferrytest.test_tmp(), "fdlimit-%d" % os.getpid())
        exits = []
        for lim in LIMITS:
            d = os.path.join(base, str(lim))
            os.makedirs(d, exist_ok=True)
            cfg = os.path.join(d, "server.yaml")
            with open(cfg, "w") as f:
                f.write("broker.id: 1\nzookeeper.connect: %s\nlisteners: PLAINTEXT://127.0.0.1:0\n"
                        "log.dirs: %s\n" % (zk.connect_string, os.path.join(d, "data")))
            proc = subprocess.Popen(["prlimit", "--nofile=%d" % lim, ferrytest.ferry_bin(), "server", "--config", cfg],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                out, _ = proc.communicate(timeout=RUNNING_AFTER_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
                continue
            text = out.decode(errors="replace")
            self.assertEqual(proc.returncode, 1,
                             "nofile=%d: exit status %d (negative: killed by a signal); output tail:\n%s"
                             % (lim, proc.returncode, text[-3000:]))
            self.assertIn("ferry server:", text, "nofile=%d: no error line; output tail:\n%s" % (lim, text[-3000:]))
            exits.append(lim)
        # the smallest limits cannot start at all: they must have been refused cleanly, not skipped
        self.assertIn(LIMITS[0], exits)


if __name__ == "__main__":
    unittest.main()
