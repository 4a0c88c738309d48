#!/usr/bin/python3
"""run_bench: Ferry's produce/consume benchmark (see README.md beside this file).

Builds Ferry in Release (build-bench/), starts `ferry server` on free loopback ports with a temporary log
directory, and for every case (partitions x value size x acks) creates a topic with `ferry topics create`,
produces for a few seconds with librdkafka (tests/bench/ferry_bench.c), then consumes everything back.
In the same run it measures the limit to compare against (tests/bench/bench_limit.c: one loopback TCP
connection writing the same bytes into a file under the same flush policy, then reading them back), and
reads the broker's peak RSS (VmHWM in /proc/<pid>/status). Prints one table and the target checks.

Not a ctest test. Bounded: about SECONDS x (cases + a little) plus the build.
"""
import argparse
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

TARGET_PRODUCE = 0.70  # of the limit, 1 KiB values
TARGET_CONSUME = 0.80
TARGET_RSS_MIB = 200


def log(msg):
    sys.stderr.write("[bench] %s\n" % msg)
    sys.stderr.flush()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_result(out):
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=", 1) for kv in line.split()[1:])
    raise RuntimeError("no RESULT line in:\n%s" % out)


def run(cmd, timeout, check=True):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p


def build(build_dir, targets=("ferry", "ferry_bench", "bench_limit")):
    """Configures build_dir as a Release build without sanitizers and builds the given targets."""
    log("building %s (Release) into %s" % (", ".join(targets), build_dir))
    run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DFERRY_SANITIZE=OFF"], 600)
    run(["cmake", "--build", build_dir, "-j2", "--target"] + list(targets), 3600)


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_measured(cmd, timeout, server_pid):
    """Runs a client; returns its RESULT dict plus the client's and the broker's CPU seconds."""
    c0, b0 = children_cpu(), cpu_seconds(server_pid)
    res = parse_result(run(cmd, timeout, check=False).stdout)
    res["client_cpu"] = children_cpu() - c0
    res["broker_cpu"] = cpu_seconds(server_pid) - b0
    return res


def measure_limit(limit, path, nbytes, fsync_every):
    """The limit for one case. The file is kept until the end of the run, like the broker's segments: in a
    VM, writing into memory that was freed a moment ago is several times faster than into memory the host
    has taken back, so deleting files between measurements would flatter whoever writes next."""
    res = parse_result(run([limit, "--bytes", str(nbytes), "--file", path, "--fsync-every", str(fsync_every)],
                           600).stdout)
    return float(res["limit_produce_mbps"]), float(res["limit_consume_mbps"])


def write_ballast(limit, work, fsync_every, chunk=512 << 20, max_chunks=16):
    """Writes kept 512 MiB files until the write rate has stayed below half the best seen for two files
    in a row (at most 8 GiB).
    Memory the guest freed shortly before (say, an earlier run's deleted segments) is several times faster
    to write into than memory already handed back to the host; this uses it up before anything is
    measured, so that the broker and the limit both write into the same kind of memory."""
    best, slow = 0.0, 0
    for i in range(max_chunks):
        rate = measure_limit(limit, os.path.join(work, "ballast-%d" % i), chunk, fsync_every)[0]
        best = max(best, rate)
        slow = slow + 1 if rate < best / 2 else 0
        if slow == 2:
            break
    log("ballast: %d x 512 MiB, last %.0f MB/s, best %.0f MB/s" % (i + 1, rate, best))


def warm_up(args, ferry, bench, limit, server, work, fsync_every):
    """One unreported case before the measured ones: connections, allocators and the page cache settle."""
    write_ballast(limit, work, fsync_every)
    run([ferry, "topics", "create", "--bootstrap-server", server.bootstrap, "--topic", "bench-warmup",
         "--partitions", "8", "--replication-factor", "1"], 60)
    run([bench, "produce", "--brokers", server.bootstrap, "--topic", "bench-warmup", "--size", "1024",
         "--acks", "1", "--seconds", "1"], 120, check=False)
    log("warm-up done")


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Server:
    def __init__(self, ferry, workdir, extra_sets):
        self.ferry = ferry
        self.port = free_port()
        self.cport = free_port()
        self.data = os.path.join(workdir, "data")
        self.log_path = os.path.join(workdir, "server.log")
        self.sets = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "listeners": "PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d" % (self.port, self.cport),
            "controller.quorum.voters": "1@127.0.0.1:%d" % self.cport,
            "controller.listener.names": "CONTROLLER",
            "log.dirs": self.data,
        }
        self.sets.update(extra_sets)
        self.proc = None

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=60):
        cmd = [self.ferry, "server"]
        for k, v in self.sets.items():
            cmd += ["--set", "%s=%s" % (k, v)]
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT,
                                     cwd=os.path.dirname(self.data), start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("ferry server exited with %d; log %s:\n%s" % (
                    self.proc.returncode, self.log_path, self.tail()))
            p = run([self.ferry, "topics", "list", "--bootstrap-server", self.bootstrap, "--timeout-ms", "2000"],
                    30, check=False)
            if p.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("ferry server not ready after %ds; log:\n%s" % (timeout, self.tail()))

    def tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--no-build", action="store_true", help="use the binaries already in --build-dir")
    ap.add_argument("--seconds", type=float, default=3.0, help="produce time per case (default 3)")
    ap.add_argument("--partitions", default="1,8")
    ap.add_argument("--sizes", default="100,1024")
    ap.add_argument("--acks", default="1,all")
    ap.add_argument("--flush-messages", type=int, default=0,
                    help="set log.flush.interval.messages on the broker (and fsync the limit's file every "
                         "that many 1 KiB values); default: Kafka's default, no fsync on the produce path")
    ap.add_argument("--limit-bytes", type=int, default=512 << 20,
                    help="bytes each limit run moves (one run just before and one just after each case's "
                         "produce; the case's limit is their mean)")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="skip the warm-up (ballast files, then 1 s of unreported produce) before the cases")
    ap.add_argument("--settle", type=float, default=5.0,
                    help="seconds to wait before starting, so memory freed earlier is handed back to the host")
    ap.add_argument("--dir", default=None, help="where the temporary log directory goes (default: $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--group", action="store_true",
                    help="also run the consumer-group case (tests/bench/bench_group.py, confluent-kafka)")
    ap.add_argument("--group-only", action="store_true", help="run only the consumer-group case")
    args = ap.parse_args()

    if not args.no_build:
        build(args.build_dir)
    ferry = os.path.join(args.build_dir, "ferry")
    bench = os.path.join(args.build_dir, "tests", "bench", "ferry_bench")
    limit = os.path.join(args.build_dir, "tests", "bench", "bench_limit")
    for b in (ferry, bench, limit):
        if not os.access(b, os.X_OK):
            sys.exit("missing %s (librdkafka-dev installed? build without --no-build)" % b)

    load_before = os.getloadavg()
    work = tempfile.mkdtemp(prefix="ferry-bench-", dir=args.dir)
    extra = {"offsets.topic.replication.factor": "1"}  # one node: __consumer_offsets with one replica
    fsync_every = 0
    if args.flush_messages > 0:
        extra["log.flush.interval.messages"] = str(args.flush_messages)
        fsync_every = args.flush_messages * 1024
    server = Server(ferry, work, extra)
    rows = []
    try:
        # Let memory freed before the run (an earlier run's files, say) go back to the host first: with
        # free page reporting (virtio-balloon) the guest's recently freed pages are much faster to write
        # into than reported ones, and every measurement here should start from the same, slower state.
        time.sleep(args.settle)
        server.start()
        pid = server.proc.pid
        log("server pid %d on %s, data in %s" % (pid, server.bootstrap, server.data))
        if args.warmup:
            warm_up(args, ferry, bench, limit, server, work, fsync_every)
        if args.group or args.group_only:
            # Debian's interpreter: python3-confluent-kafka lives there
            out = run(["/usr/bin/python3", os.path.join(ROOT, "tests", "bench", "bench_group.py"), "--bootstrap",
                       server.bootstrap], 900, check=False)
            group_result = (out.stdout.strip().splitlines() or ["(no result) " + out.stderr[-500:]])[-1]
            log("consumer group (3 members, 6 partitions): %s" % group_result)
        for parts in ([] if args.group_only else [int(x) for x in args.partitions.split(",")]):
            for size in [int(x) for x in args.sizes.split(",")]:
                for acks in args.acks.split(","):
                    topic = "bench-p%d-s%d-acks%s" % (parts, size, acks)
                    run([ferry, "topics", "create", "--bootstrap-server", server.bootstrap, "--topic", topic,
                         "--partitions", str(parts), "--replication-factor", "1"], 60)
                    before = measure_limit(limit, os.path.join(work, topic + ".limit-before"), args.limit_bytes,
                                           fsync_every)
                    prod = run_measured([bench, "produce", "--brokers", server.bootstrap, "--topic", topic,
                                         "--size", str(size), "--acks", acks, "--seconds", str(args.seconds)],
                                        args.seconds + 120, pid)
                    after = measure_limit(limit, os.path.join(work, topic + ".limit-after"), args.limit_bytes,
                                          fsync_every)
                    lim = ((before[0] + after[0]) / 2, (before[1] + after[1]) / 2, before[0], after[0])
                    cons = run_measured([bench, "consume", "--brokers", server.bootstrap, "--topic", topic,
                                         "--partitions", str(parts), "--messages", prod["delivered"]], 180, pid)
                    hwm = vm_hwm_kib(pid)
                    rows.append((parts, size, acks, prod, cons, hwm, lim))
                    log("p=%d size=%d acks=%s: produce %s MB/s (%s), consume %s MB/s (%s), limit %.1f MB/s "
                        "(before %.1f, after %.1f), read-back %.1f MB/s, VmHWM %d KiB" % (
                            parts, size, acks, prod["mbps"], prod["error"], cons["mbps"], cons["error"], lim[0],
                            lim[2], lim[3], lim[1], hwm))
        peak_kib = vm_hwm_kib(pid)
    finally:
        server.stop()
        if args.keep:
            log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("machine: %d CPUs, load average %.2f before and %.2f after the run (other work on the machine skews "
          "every figure)" % (os.cpu_count(), load_before[0], os.getloadavg()[0]))
    if args.group_only:
        return 0
    return report(args, rows, peak_kib, fsync_every)


def report(args, rows, peak_kib, fsync_every):
    print("Ferry benchmark: %g s of produce per case, librdkafka %s, values uncompressed, null keys" % (
        args.seconds, rows[0][3].get("librdkafka", "?") if rows else "?"))
    print("limit per case (%s), mean of a run just before and one just after the case's produce: bytes "
          "through one loopback TCP connection into a file (lim), and that file back through one connection "
          "(rd)" % (
              "fsync every %d bytes" % fsync_every if fsync_every else "no fsync, as the broker"))
    print("%lim: produce and consume against lim; %rd: consume against rd; cpu: client/broker CPU seconds")
    hdr = ("parts", "value", "acks", "prod MB/s", "msg/s", "p50 ms", "p99 ms", "lim", "%lim", "cpu",
           "cons MB/s", "msg/s", "rd", "%lim", "%rd", "cpu", "errors")
    fmt = "%5s %5s %4s %9s %8s %7s %7s %6s %5s %9s %9s %8s %6s %5s %4s %9s  %s"
    print(fmt % hdr)
    ok = True
    for parts, size, acks, prod, cons, hwm, (lp, lc, _, _) in rows:
        pm, cm = float(prod["mbps"]), float(cons["mbps"])
        errs = []
        if prod["error"] != "none" or int(prod["failed"]):
            errs.append("produce:%s/%s failed" % (prod["error"], prod["failed"]))
        if cons["error"] != "none" or cons["consumed"] != cons["expected"]:
            errs.append("consume:%s %s/%s" % (cons["error"], cons["consumed"], cons["expected"]))
        print(fmt % (parts, size, acks, "%.1f" % pm, "%.0f" % float(prod["msgps"]), "%.2f" % float(prod["p50_ms"]),
                     "%.2f" % float(prod["p99_ms"]), "%.0f" % lp, "%.0f%%" % (100 * pm / lp),
                     "%.1f/%.1f" % (prod["client_cpu"], prod["broker_cpu"]), "%.1f" % cm,
                     "%.0f" % float(cons["msgps"]), "%.0f" % lc, "%.0f%%" % (100 * cm / lp),
                     "%.0f%%" % (100 * cm / lc), "%.1f/%.1f" % (cons["client_cpu"], cons["broker_cpu"]),
                     ",".join(errs) or "-"))
        if errs:
            ok = False
    print("broker peak RSS (VmHWM): %.1f MiB" % (peak_kib / 1024.0))

    checks = []
    big = [r for r in rows if r[1] == 1024]
    if big:
        worst_p = min(float(r[3]["mbps"]) / r[6][0] for r in big)
        worst_c = min(float(r[4]["mbps"]) / r[6][0] for r in big)
        checks += [
            ("produce, 1 KiB values, worst case >= %d%% of limit" % (TARGET_PRODUCE * 100),
             worst_p >= TARGET_PRODUCE, "%.0f%%" % (100 * worst_p)),
            ("consume, 1 KiB values, worst case >= %d%% of limit" % (TARGET_CONSUME * 100),
             worst_c >= TARGET_CONSUME, "%.0f%%" % (100 * worst_c)),
        ]
    checks.append(("broker peak RSS < %d MiB" % TARGET_RSS_MIB, peak_kib < TARGET_RSS_MIB * 1024,
                   "%.1f MiB" % (peak_kib / 1024.0)))
    for name, passed, value in checks:
        print("%-4s %s: %s" % ("PASS" if passed else "MISS", name, value))
        ok = ok and passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
