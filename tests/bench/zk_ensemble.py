#!/usr/bin/python3
"""zk_ensemble: a real ZooKeeper ensemble on loopback, and ZooKeeper's write throughput and latency on it
(the baseline that Ferry's metadata quorum is compared against; see README.md beside this file).

As a library (tests/bench/quorum_bench.py, tests/bench/legacy_failover.py):
    ens = ZooKeeperEnsemble(size=3, base_dir=work).start()   # waits until every server serves clients
    ens.connect_string                                       # "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3"
    ens.modes()                                              # {1: "follower", 2: "leader", 3: "follower"}
    res = zk_write_run(tool, ens.connect_string, clients=8)  # the RESULT dict of one zk_write_bench run
    ens.cleanup()                                            # stops every server by pid, removes the dirs

Each server is Debian's `zookeeper` package run with java directly (org.apache.zookeeper.server.quorum.
QuorumPeerMain, the class zkServer.sh starts), as tests/it/zkharness.py runs a standalone one: its own dir
with zoo.cfg, myid and data dir, a client port, a quorum port and an election port, all on 127.0.0.1 (free
ports); `server.N=127.0.0.1:QUORUM:ELECTION` lines name every member. ZooKeeper's defaults otherwise, in
particular forceSync=yes (every transaction log write fsynced before it is acknowledged) and
globalOutstandingLimit=1000. The JVMs get a 1 GiB heap and the JIT's full tiers, unlike the test harness's
small fast-starting JVM. Servers are stopped by pid (SIGTERM, SIGKILL after a deadline); they also get
SIGKILL if this process dies (PR_SET_PDEATHSIG, as in zkharness).

As a command, the baseline alone:
    tests/bench/zk_ensemble.py [--clients 1,8,32] [--inflight 16] [--ops set,create] [--seconds 10]
builds zk_write_bench (Release, build-bench/), starts a 3-server ensemble in a temporary directory, runs
zk_write_bench per case and prints one table. Not a ctest test. Run it with /usr/bin/python3 (Debian's
python3-kazoo is used for the readiness probes).
"""
import argparse
import os
import shutil
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "it"))
sys.path.insert(0, HERE)

import zkharness  # noqa: E402
from ferrytest import free_port  # noqa: E402
from run_bench import ROOT, build, log, parse_result, run  # noqa: E402

QUORUM_MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
# A server JVM as zkServer.sh would run it (zkEnv.sh's default heap is 1000 MB), minus JMX and perf data.
BENCH_JVM_OPTS = ["-Xms1g", "-Xmx1g", "-XX:-UsePerfData", "-Djava.net.preferIPv4Stack=true",
                  "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.jmx.log4j.disable=true"]


class EnsembleMember(zkharness.ZooKeeperServer):
    """One server of an ensemble: zkharness's process handling, QuorumPeerMain, a myid file."""

    def __init__(self, myid, servers, **kw):
        super().__init__(name="zk%d" % myid, **kw)
        self.myid = myid
        self.servers = servers  # {myid: (quorum port, election port)}
        self.jvm_opts = list(BENCH_JVM_OPTS)
        self.extra_cfg.update({"server.%d" % i: "127.0.0.1:%d:%d" % ports for i, ports in servers.items()})

    def write_config(self):
        super().write_config()
        with open(os.path.join(self.data_dir, "myid"), "w") as f:
            f.write("%d\n" % self.myid)

    def command(self):
        return [zkharness.JAVA] + self.jvm_opts + ["-Dlog4j.configuration=file:%s" % self.log4j_path, "-cp",
                                                   zkharness.classpath(), QUORUM_MAIN_CLASS, self.cfg_path]

    def mode(self):
        """"leader", "follower", ... from the `srvr` four-letter word, or None when it does not answer."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(b"srvr")
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return None
        for line in data.decode("utf-8", "replace").splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return None


class ZooKeeperEnsemble:
    """size servers on loopback, each with its own dir under base_dir (FERRY_TEST_TMP is set to it, which
    is where zkharness puts a server's dir). ZooKeeper's tickTime 2000, initLimit 10, syncLimit 5."""

    def __init__(self, size=3, base_dir=None, tick_time=2000):
        if base_dir:
            os.environ["FERRY_TEST_TMP"] = base_dir
        servers = {i: (free_port(), free_port()) for i in range(1, size + 1)}
        self.members = [EnsembleMember(i, servers, tick_time=tick_time, min_session_timeout=2 * tick_time,
                                       max_session_timeout=20 * tick_time,
                                       extra_cfg={"initLimit": 10, "syncLimit": 5})
                        for i in servers]

    @property
    def connect_string(self):
        return ",".join(m.connect_string for m in self.members)

    def start(self, timeout=zkharness.START_TIMEOUT):
        """Starts every server, then waits until each one serves clients (which needs a quorum)."""
        try:
            for m in self.members:
                m.spawn()
            for m in self.members:
                m.wait_ready(timeout)
        except BaseException:
            for m in self.members:
                m.print_tail(n=30, why="ensemble did not start")
            self.cleanup()
            raise
        log("ZooKeeper ensemble ready on %s (pids %s; %s)" % (
            self.connect_string, ", ".join(str(m.pid) for m in self.members),
            ", ".join("%s %s" % (m.name, mode) for m, mode in zip(self.members, self.modes().values()))))
        return self

    def modes(self):
        return {m.myid: m.mode() for m in self.members}

    def pids(self):
        return [m.pid for m in self.members]

    def cleanup(self, keep=False):
        for m in self.members:
            m.cleanup(keep=keep)


def zk_write_run(tool, connect, clients, inflight=16, seconds=10.0, warmup=2.0, size=100, op="set",
                 root="/zk_write_bench", multi=100, znodes=100000):
    """One zk_write_bench run: its RESULT line as a dict (RuntimeError when a write failed)."""
    cmd = [tool, "--connect", connect, "--clients", str(clients), "--inflight", str(inflight), "--seconds",
           str(seconds), "--warmup", str(warmup), "--size", str(size), "--op", op, "--root", root]
    if op == "multi":
        cmd += ["--multi", str(multi), "--znodes", str(znodes)]
    return parse_result(run(cmd, seconds + warmup + 300).stdout)


def fsyncs_per_second(directory, seconds=2.0, block=4096):
    """How many append+fsync of `block` bytes one thread does per second in `directory`: the disk's
    commit rate, the bound on any fsync-per-commit log (ZooKeeper's and Ferry's) without batching."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        data, n, t0 = b"\0" * block, 0, time.monotonic()
        while time.monotonic() - t0 < seconds:
            os.write(fd, data)
            os.fsync(fd)
            n += 1
        return n / (time.monotonic() - t0)
    finally:
        os.close(fd)
        os.unlink(path)


def machine_line(load_before):
    return "machine: %d CPUs, load average %.2f before and %.2f after (other work on the machine skews every " \
           "figure)" % (os.cpu_count(), load_before, os.getloadavg()[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--no-build", action="store_true", help="use the zk_write_bench already in --build-dir")
    ap.add_argument("--servers", type=int, default=3, help="ensemble size (default 3)")
    ap.add_argument("--clients", default="1,8,32", help="concurrent clients (sessions) per case")
    ap.add_argument("--inflight", type=int, default=16, help="writes in flight per client (default 16)")
    ap.add_argument("--ops", default="set,create", help="set (setData of one znode per client), create (a new "
                    "sequential znode per write) and/or multi (a fenced multi of --multi conditional setData over "
                    "--znodes znodes, as the legacy controller writes partition states)")
    ap.add_argument("--size", type=int, default=100, help="znode data bytes (default 100)")
    ap.add_argument("--multi", default="100", help="multi: conditional setData per multi, a list (default 100)")
    ap.add_argument("--znodes", type=int, default=100000, help="multi: state znodes written in turn")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds per case (default 10)")
    ap.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each case")
    ap.add_argument("--dir", default=None, help="where the temporary directory goes (default: $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (data dirs and logs)")
    args = ap.parse_args()

    if not args.no_build:
        build(args.build_dir, ("zk_write_bench",))
    tool = os.path.join(args.build_dir, "tests", "bench", "zk_write_bench")
    if not os.access(tool, os.X_OK):
        sys.exit("missing %s (build without --no-build)" % tool)
    load_before = os.getloadavg()[0]
    work = tempfile.mkdtemp(prefix="ferry-zkbench-", dir=args.dir)
    rows = []
    ens = ZooKeeperEnsemble(size=args.servers, base_dir=work)
    try:
        fsync_rate = fsyncs_per_second(work)
        log("disk: %.0f fsyncs/s (4 KiB appends, one thread) in %s" % (fsync_rate, work))
        ens.start()
        modes = ens.modes()
        for op in args.ops.split(","):
            for clients in [int(c) for c in args.clients.split(",")]:
                for m in [int(x) for x in args.multi.split(",")] if op == "multi" else [1]:
                    res = zk_write_run(tool, ens.connect_string, clients, args.inflight, args.seconds, args.warmup,
                                       args.size, op, root="/bench-%s-%d-%d" % (op, clients, m), multi=m,
                                       znodes=args.znodes)
                    res["op"] = "multi%d" % m if op == "multi" else op
                    log("%s, %d clients x %d in flight: %s writes/s (%s ops/s), p50 %s ms, p99 %s ms" % (
                        res["op"], clients, args.inflight, res["writes_per_s"], res["ops_per_s"], res["p50_ms"],
                        res["p99_ms"]))
                    rows.append(res)
    finally:
        ens.cleanup(keep=args.keep)
        if args.keep:
            log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(machine_line(load_before))
    print("ZooKeeper %d-server ensemble on loopback (%s), forceSync=yes, data dirs on one disk (%.0f fsyncs/s); "
          "zk_write_bench: libzookeeper_st async API, %d-byte values, %d writes in flight per client, %g s per case"
          % (args.servers, ", ".join("%d %s" % kv for kv in modes.items()), fsync_rate, args.size, args.inflight,
             args.seconds))
    fmt = "%-8s %7s %11s %11s %8s %8s %8s %8s"
    print(fmt % ("op", "clients", "writes/s", "ops/s", "mean ms", "p50 ms", "p99 ms", "max ms"))
    for r in rows:
        print(fmt % (r["op"], r["clients"], "%.0f" % float(r["writes_per_s"]), "%.0f" % float(r["ops_per_s"]),
                     r["mean_ms"], r["p50_ms"], r["p99_ms"], r["max_ms"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
