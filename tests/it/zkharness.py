"""zkharness: a real ZooKeeper server for Ferry's integration tests (legacy and migration mode).

ZooKeeperServer runs one standalone ZooKeeper 3.x server from Debian's `zookeeper` package with java
directly (no zkServer.sh, no /etc/zookeeper, no /var/log): main class
org.apache.zookeeper.server.ZooKeeperServerMain, class path /usr/share/java/zookeeper.jar (its manifest
names the other jars: zookeeper-jute, netty, slf4j-api, ...) plus slf4j-log4j12 and log4j-1.2 so that its
log goes where this harness says.

Everything lives in a temp dir under FERRY_TEST_TMP (ferrytest.test_tmp()):
  zoo.cfg           generated: dataDir in the temp dir, clientPort = a free loopback port,
                    clientPortAddress=127.0.0.1, admin.enableServer=false, four-letter words limited to
                    `srvr` (they only ever answer on the loopback client port); no other port is opened
                    (no quorum/election ports, no admin server, no JMX port)
  log4j.properties  ours: every logger at INFO into zookeeper.log
  zookeeper.log     the server log, and the JVM's own stdout/stderr (one file, appended across restarts)
  data/             the dataDir (snapshots and transaction logs); kept by restart()

Use:
    zk = ZooKeeperServer(name="zk").start()     # waits until a kazoo client connects
    self.addCleanup(zk.cleanup)                 # or: with ZooKeeperServer() as zk: ...
    zk.connect_string                           # "127.0.0.1:PORT"
    zk.chroot("/ferry")                         # "127.0.0.1:PORT/ferry" (zookeeper.connect with chroot)
    zk.client()                                 # a started kazoo KazooClient (caller stops it)
    zk.stop(); zk.kill9(); zk.restart()

The process is stopped by pid only (SIGTERM, SIGKILL after a deadline). Servers still running when the
interpreter exits are stopped by an atexit hook, and the JVM gets SIGKILL if the python process dies
first (PR_SET_PDEATHSIG), so no ZooKeeper outlives its test.

Run with /usr/bin/python3 (Debian's python3-kazoo lives there).
"""
import atexit
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import ferrytest
from ferrytest import free_port, log, test_tmp

JAVA = os.environ.get("FERRY_IT_JAVA") or shutil.which("java") or "/usr/bin/java"
JAVA_DIR = "/usr/share/java"
# zookeeper.jar's manifest Class-Path pulls in jute, netty, slf4j-api, ...; the two others give slf4j a
# log4j 1.2 backend that reads our log4j.properties.
CLASSPATH_JARS = ("zookeeper.jar", "slf4j-log4j12.jar", "log4j-1.2.jar")
MAIN_CLASS = "org.apache.zookeeper.server.ZooKeeperServerMain"
JVM_OPTS = ("-Xmx256m", "-Xms16m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
            "-Djava.net.preferIPv4Stack=true", "-Dzookeeper.admin.enableServer=false",
            "-Dzookeeper.jmx.log4j.disable=true")

START_TIMEOUT = float(os.environ.get("FERRY_IT_ZK_START_TIMEOUT", "120"))
STOP_TIMEOUT = float(os.environ.get("FERRY_IT_STOP_TIMEOUT", "60"))

BIND_MARKERS = ("BindException", "Address already in use")


# Readiness probes fail until the port is open; kazoo would print each failure as a warning.
_quiet_logger = logging.getLogger("zkharness.probe")
_quiet_logger.addHandler(logging.NullHandler())
_quiet_logger.propagate = False


class ZooKeeperStartError(AssertionError):
    pass


def _pdeathsig():
    """preexec_fn: the child gets SIGKILL when the process that started it dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort; the atexit hook still stops it
        pass


def classpath():
    missing = [j for j in CLASSPATH_JARS if not os.path.exists(os.path.join(JAVA_DIR, j))]
    if missing:
        raise RuntimeError("ZooKeeper jars missing under %s: %s (install Debian's zookeeper package, see "
                           "scripts/install-deps.sh)" % (JAVA_DIR, ", ".join(missing)))
    return ":".join(os.path.join(JAVA_DIR, j) for j in CLASSPATH_JARS)


def port_in_use(port, host="127.0.0.1"):
    """True when something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


class ZooKeeperServer:
    """One standalone ZooKeeper server process on 127.0.0.1. The port is picked once (or given) and kept
    across restarts, so connect strings handed to brokers stay valid.

    tick_time: ZooKeeper's tickTime in ms (sessions are negotiated between 2 and 20 ticks unless
    min/max_session_timeout say otherwise; the defaults allow 1 s .. 60 s, which covers Kafka's 18 s).
    extra_cfg: more zoo.cfg lines {key: value}."""

    def __init__(self, name="zk", port=None, tick_time=500, min_session_timeout=1000,
                 max_session_timeout=60000, extra_cfg=None, jvm_opts=None):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="%s-" % name, dir=test_tmp())
        self.data_dir = os.path.join(self.dir, "data")
        self.cfg_path = os.path.join(self.dir, "zoo.cfg")
        self.log4j_path = os.path.join(self.dir, "log4j.properties")
        self.log_path = os.path.join(self.dir, "zookeeper.log")
        self.port_given = port is not None
        self.port = port if port is not None else free_port()
        self.tick_time = tick_time
        self.min_session_timeout = min_session_timeout
        self.max_session_timeout = max_session_timeout
        self.extra_cfg = dict(extra_cfg or {})
        self.jvm_opts = list(JVM_OPTS) + list(jvm_opts or [])
        self.proc = None
        self.starts = 0
        self.exit_codes = []
        self._log_file = None
        os.makedirs(self.data_dir, exist_ok=True)

    # -- properties ----------------------------------------------------------------------------------------
    @property
    def connect_string(self):
        return "127.0.0.1:%d" % self.port

    def chroot(self, path):
        """The connect string with a chroot path, as in zookeeper.connect=127.0.0.1:PORT/ferry."""
        if not path.startswith("/"):
            path = "/" + path
        return self.connect_string + path.rstrip("/") if path != "/" else self.connect_string

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def client(self, chroot=None, timeout=30.0, **kw):
        """A started kazoo client (the caller stops and closes it)."""
        from kazoo.client import KazooClient
        hosts = self.chroot(chroot) if chroot else self.connect_string
        c = KazooClient(hosts=hosts, timeout=kw.pop("session_timeout", 10.0), **kw)
        c.start(timeout=timeout)
        return c

    # -- files ---------------------------------------------------------------------------------------------
    def write_config(self):
        cfg = {
            "tickTime": self.tick_time,
            "initLimit": 10,
            "syncLimit": 5,
            "dataDir": self.data_dir,
            "clientPort": self.port,
            "clientPortAddress": "127.0.0.1",
            "minSessionTimeout": self.min_session_timeout,
            "maxSessionTimeout": self.max_session_timeout,
            "maxClientCnxns": 0,
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "srvr",
            "autopurge.purgeInterval": 0,
        }
        cfg.update(self.extra_cfg)
        with open(self.cfg_path, "w") as f:
            f.write("# generated by tests/it/zkharness.py: standalone, loopback only\n")
            for k, v in cfg.items():
                f.write("%s=%s\n" % (k, v))
        with open(self.log4j_path, "w") as f:
            f.write("# generated by tests/it/zkharness.py\n"
                    "log4j.rootLogger=INFO, FILE\n"
                    "log4j.appender.FILE=org.apache.log4j.FileAppender\n"
                    "log4j.appender.FILE.File=%s\n"
                    "log4j.appender.FILE.Append=true\n"
                    "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
                    "log4j.appender.FILE.layout.ConversionPattern=%%d{ISO8601} %%-5p [%%t] %%c{1}: %%m%%n\n"
                    % self.log_path)

    def command(self):
        return [JAVA] + self.jvm_opts + ["-Dlog4j.configuration=file:%s" % self.log4j_path,
                                         "-cp", classpath(), MAIN_CLASS, self.cfg_path]

    # -- log ------------------------------------------------------------------------------------------------
    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=60):
        return "\n".join(self.log_text().splitlines()[-n:])

    def print_tail(self, n=60, why=""):
        sys.stderr.write("\n----- tail of %s ZooKeeper log (%s) %s -----\n%s\n----- end of %s log -----\n" % (
            self.name, self.log_path, why, self.log_tail(n), self.name))
        sys.stderr.flush()

    # -- process ----------------------------------------------------------------------------------------------
    def spawn(self):
        """Starts the JVM without waiting for readiness."""
        assert not self.alive(), "%s already running (pid %d)" % (self.name, self.proc.pid)
        self.write_config()
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(("\n===== start #%d: %s\n" % (self.starts + 1, " ".join(self.command()))).encode())
        self._log_file.flush()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, cwd=self.dir, preexec_fn=_pdeathsig)
        self.starts += 1
        _live_servers.add(self)
        return self.proc

    def probe(self, timeout=5.0):
        """One readiness probe: a kazoo session opens and reads /."""
        from kazoo.client import KazooClient
        c = KazooClient(hosts=self.connect_string, timeout=10.0, connection_retry=None,
                        command_retry=None, logger=_quiet_logger)
        try:
            c.start(timeout=timeout)
            c.get_children("/")
            return True
        finally:
            try:
                c.stop()
            finally:
                c.close()

    def wait_ready(self, timeout=START_TIMEOUT, log_start=0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = self.log_text()[log_start:]
                if any(m in text for m in BIND_MARKERS):
                    raise ZooKeeperStartError(
                        "%s: ZooKeeper could not bind its client port 127.0.0.1:%d: the port is already in "
                        "use (exit status %s); log %s:\n%s" % (self.name, self.port, self.proc.returncode,
                                                               self.log_path, self.log_tail(30)))
                raise ZooKeeperStartError("%s: ZooKeeper exited with status %s during start-up; log %s:\n%s" % (
                    self.name, self.proc.returncode, self.log_path, self.log_tail(60)))
            try:
                if self.probe(timeout=min(5.0, max(0.5, deadline - time.monotonic()))):
                    return
            except Exception as e:  # noqa: BLE001 - keep polling, report the last error
                last = e
            time.sleep(0.2)
        raise ZooKeeperStartError("%s: ZooKeeper not ready on %s after %.0fs (last probe error: %r); log %s:\n%s" % (
            self.name, self.connect_string, timeout, last, self.log_path, self.log_tail(60)))

    def start(self, timeout=START_TIMEOUT):
        """Starts the server and waits until a kazoo client can connect. A port picked by free_port() that
        another process took in between is replaced (twice at most, first start only); a given port, or one
        already handed out to brokers (restart), is reported as taken."""
        for attempt in range(3):
            log_start = len(self.log_text())
            self.spawn()
            try:
                self.wait_ready(timeout, log_start)
                log("%s: ZooKeeper ready on %s (pid %d)" % (self.name, self.connect_string, self.proc.pid))
                return self
            except ZooKeeperStartError as e:
                self.stop()
                retry = (not self.port_given and self.starts == 1 + attempt and attempt < 2
                         and "already in use" in str(e))
                if retry:
                    log("%s: port %d taken at start-up, retrying with a new port" % (self.name, self.port))
                    self.port = free_port()
                    continue
                raise
            except BaseException:
                self.print_tail(why="did not become ready")
                self.stop()
                raise
        return self

    def _close_log(self):
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM to the pid, SIGKILL after timeout. Returns the exit status of the last process (None if
        it was never started); a second stop() only returns it again."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.kill(self.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    log("%s (pid %d) ignored SIGTERM for %.0fs: SIGKILL" % (self.name, self.proc.pid, timeout))
                    try:
                        os.kill(self.proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.proc.wait(timeout)
                self.exit_codes.append(self.proc.returncode)
            rc = self.proc.returncode
        self._close_log()
        _live_servers.discard(self)
        return rc

    def kill9(self):
        """SIGKILL to the pid (a crash: no clean shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT)
            self.exit_codes.append(self.proc.returncode)
        self._close_log()
        _live_servers.discard(self)

    def restart(self, timeout=START_TIMEOUT, clean=True):
        """Stops (SIGTERM, or SIGKILL when clean=False) and starts again on the same port and data dir."""
        if clean:
            self.stop()
        else:
            self.kill9()
        self.start(timeout)
        return self

    def cleanup(self, keep=False):
        """Stops the server and removes its temp dir (kept when keep or FERRY_KEEP_TMP is set)."""
        self.stop()
        if not keep and not os.environ.get("FERRY_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        if not self.alive():
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.print_tail(why="on %s" % exc_type.__name__)
        self.cleanup(keep=exc_type is not None)
        return False

    def __repr__(self):
        return "ZooKeeperServer(%s, %s, pid=%s)" % (self.name, self.connect_string, self.pid)


def start_for_test(tc, **kw):
    """Starts a ZooKeeperServer owned by the unittest.TestCase tc: stopped (and its dir removed, kept with
    a log tail printed when the test failed) by tc's cleanups, also when the test fails."""
    zk = ZooKeeperServer(**kw)

    def _cleanup():
        failed = ferrytest._test_failed(tc)
        if failed:
            zk.print_tail(why="after %s" % tc.id())
        zk.cleanup(keep=failed)

    tc.addCleanup(_cleanup)
    zk.start()
    return zk


_live_servers = set()


def _kill_leftovers():
    for s in list(_live_servers):
        try:
            s.stop(timeout=20)
        except Exception:  # noqa: BLE001
            pass


atexit.register(_kill_leftovers)
