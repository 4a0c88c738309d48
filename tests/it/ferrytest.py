"""ferrytest: the harness of Ferry's integration tests (tests/it/test_*.py).

What is here:
- free_port(): a free TCP port on 127.0.0.1 (tests never use 9092/9093).
- FerryNode: one `ferry server` process on loopback ports with its own data directory under
  FERRY_TEST_TMP; started with --set overrides or a generated YAML config file; ready when its client port
  accepts, ApiVersions answers and Metadata lists the broker; stop() (SIGTERM, then SIGKILL after a
  deadline), kill9(), restart(); its stdout+stderr go to a log file whose tail is printed on failure; any
  sanitizer report in that log fails the test that stopped it.
- KafkaConn: a minimal raw Kafka wire client (request header v1/v2, responses matched by correlation id)
  with encoders/decoders for the few requests the tests send by hand, and record batch v2 (CRC-32C).
- run_kcat(), confluent/kafka-python helpers (topic creation, reading a whole topic back, BackgroundProducer:
  acks=all values produced without pause in a thread, the acknowledged ones recorded).
- FerryTestCase: a unittest.TestCase base that prints the tail of every node's log when a test fails.

Only the standard library and Debian's python3-kafka / python3-confluent-kafka are used; run with
/usr/bin/python3. Environment: FERRY_BIN (the ferry binary), FERRY_TEST_TMP (scratch directory),
FERRY_KEEP_TMP=1 keeps data directories of passing tests.
"""
import io
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def ferry_bin():
    b = os.environ.get("FERRY_BIN")
    if b:
        return b
    for cand in (os.path.join(REPO, "build-it", "ferry"), os.path.join(REPO, "build", "ferry")):
        if os.path.exists(cand):
            return cand
    raise RuntimeError("FERRY_BIN is not set and no build/ferry exists")


def test_tmp():
    d = os.environ.get("FERRY_TEST_TMP") or os.path.join(tempfile.gettempdir(), "ferry-it")
    os.makedirs(d, exist_ok=True)
    return d


# Generous deadlines: 2 noisy cores and an ASan build.
START_TIMEOUT = float(os.environ.get("FERRY_IT_START_TIMEOUT", "90"))
STOP_TIMEOUT = float(os.environ.get("FERRY_IT_STOP_TIMEOUT", "60"))
IO_TIMEOUT = 60.0

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer")


def log(msg):
    sys.stderr.write("[ferrytest %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def wait_until(pred, timeout=60.0, interval=0.2, what="condition"):
    """Polls pred() until it returns a truthy value; returns it. Raises AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - keep polling, report the last error
            last_exc = e
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s (last error: %r)" % (timeout, what, last_exc))
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------------------------------------
_handed_out = set()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now, never the same twice in this process."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        finally:
            s.close()
        if p not in _handed_out and p not in (9092, 9093, 2181):
            _handed_out.add(p)
            return p
    raise RuntimeError("no free port")


# ---------------------------------------------------------------------------------------------------------
# Kafka wire codec (only what the tests need)
# ---------------------------------------------------------------------------------------------------------
API_PRODUCE, API_FETCH, API_LIST_OFFSETS, API_METADATA = 0, 1, 2, 3
API_API_VERSIONS, API_CREATE_TOPICS, API_DELETE_TOPICS = 18, 19, 20
API_DESCRIBE_CONFIGS, API_ALTER_CONFIGS, API_CREATE_PARTITIONS = 32, 33, 37
API_ELECT_LEADERS = 43
API_ALTER_PARTITION_REASSIGNMENTS, API_LIST_PARTITION_REASSIGNMENTS = 45, 46
ELECTION_PREFERRED, ELECTION_UNCLEAN = 0, 1

# First flexible version of each API (Kafka 3.7 schemas); None = never flexible.
FLEXIBLE_FROM = {0: 9, 1: 12, 2: 6, 3: 9, 8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4, 14: 4, 15: 5, 16: 3,
                 17: None, 18: 3, 19: 5, 20: 4, 21: 2, 22: 2, 32: 4, 33: 2, 36: 2, 37: 2, 42: 2, 44: 1,
                 43: 2, 45: 0, 46: 0, 47: None, 56: 0, 58: 0, 60: 0, 62: 0, 63: 0, 64: 0, 67: 0, 70: 0}

# Kafka error codes used by the tests.
E_NONE = 0
E_OFFSET_OUT_OF_RANGE = 1
E_CORRUPT_MESSAGE = 2
E_UNKNOWN_TOPIC_OR_PARTITION = 3
E_LEADER_NOT_AVAILABLE = 5
E_INVALID_TOPIC_EXCEPTION = 17
E_UNSUPPORTED_VERSION = 35
E_TOPIC_ALREADY_EXISTS = 36
E_INVALID_PARTITIONS = 37
E_INVALID_REPLICATION_FACTOR = 38
E_INVALID_REQUEST = 42
E_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43
E_INVALID_RECORD = 87
E_NOT_CONTROLLER = 41
E_ELECTION_NOT_NEEDED = 84
E_INVALID_REPLICA_ASSIGNMENT = 39
E_NO_REASSIGNMENT_IN_PROGRESS = 85
E_PREFERRED_LEADER_NOT_AVAILABLE = 80
E_ELIGIBLE_LEADERS_NOT_AVAILABLE = 83


def is_flexible(api_key, version):
    f = FLEXIBLE_FROM.get(api_key)
    return f is not None and version >= f


class W:
    """Big-endian writer."""

    def __init__(self):
        self.b = io.BytesIO()

    def raw(self, data):
        self.b.write(data)
        return self

    def i8(self, v):
        return self.raw(struct.pack(">b", v))

    def i16(self, v):
        return self.raw(struct.pack(">h", v))

    def i32(self, v):
        return self.raw(struct.pack(">i", v))

    def u32(self, v):
        return self.raw(struct.pack(">I", v))

    def i64(self, v):
        return self.raw(struct.pack(">q", v))

    def boolean(self, v):
        return self.i8(1 if v else 0)

    def string(self, s):
        if s is None:
            return self.i16(-1)
        d = s.encode() if isinstance(s, str) else s
        return self.i16(len(d)).raw(d)

    def bytes_(self, d):
        if d is None:
            return self.i32(-1)
        return self.i32(len(d)).raw(d)

    def array(self, items, fn):
        if items is None:
            return self.i32(-1)
        self.i32(len(items))
        for it in items:
            fn(self, it)
        return self

    def uvarint(self, v):
        out = bytearray()
        while True:
            b = v & 0x7F
            v >>= 7
            if v:
                out.append(b | 0x80)
            else:
                out.append(b)
                break
        return self.raw(bytes(out))

    def varint(self, v):  # zig-zag, used inside records
        return self.uvarint((v << 1) ^ (v >> 63))

    def compact_string(self, s):
        if s is None:
            return self.uvarint(0)
        d = s.encode() if isinstance(s, str) else s
        return self.uvarint(len(d) + 1).raw(d)

    def tags(self):
        return self.uvarint(0)

    def getvalue(self):
        return self.b.getvalue()


class ParseError(Exception):
    pass


class R:
    """Big-endian reader with bounds checks."""

    def __init__(self, data, pos=0):
        self.d = data
        self.p = pos

    def remaining(self):
        return len(self.d) - self.p

    def raw(self, n):
        if n < 0 or self.p + n > len(self.d):
            raise ParseError("read of %d bytes at %d past end %d" % (n, self.p, len(self.d)))
        v = self.d[self.p:self.p + n]
        self.p += n
        return v

    def _u(self, fmt, n):
        return struct.unpack(fmt, self.raw(n))[0]

    def i8(self):
        return self._u(">b", 1)

    def i16(self):
        return self._u(">h", 2)

    def i32(self):
        return self._u(">i", 4)

    def u32(self):
        return self._u(">I", 4)

    def i64(self):
        return self._u(">q", 8)

    def boolean(self):
        return self.i8() != 0

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        return self.raw(n).decode("utf-8", "replace")

    def bytes_(self):
        n = self.i32()
        if n < 0:
            return None
        return self.raw(n)

    def array(self, fn):
        n = self.i32()
        if n < 0:
            return None
        if n > self.remaining():
            raise ParseError("array count %d larger than the remaining %d bytes" % (n, self.remaining()))
        return [fn(self) for _ in range(n)]

    def uvarint(self):
        shift = 0
        v = 0
        for _ in range(10):
            b = self.raw(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
        raise ParseError("varint too long")

    def varint(self):
        u = self.uvarint()
        return (u >> 1) ^ -(u & 1)

    def compact_string(self):
        n = self.uvarint()
        if n == 0:
            return None
        return self.raw(n - 1).decode("utf-8", "replace")

    def compact_array(self, fn):
        n = self.uvarint()
        if n == 0:
            return None
        if n - 1 > self.remaining():
            raise ParseError("compact array count %d larger than the remaining bytes" % (n - 1))
        return [fn(self) for _ in range(n - 1)]

    def tags(self):
        """Reads a tag buffer; returns the list of (tag, bytes)."""
        out = []
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            size = self.uvarint()
            out.append((tag, self.raw(size)))
        return out

    def end(self):
        if self.p != len(self.d):
            raise ParseError("%d unexpected trailing bytes" % (len(self.d) - self.p))


# ---- CRC-32C (Castagnoli) --------------------------------------------------------------------------------
def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC32C = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    t = _CRC32C
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ---- record batch v2 ---------------------------------------------------------------------------------------
CODEC_NONE, CODEC_GZIP, CODEC_SNAPPY, CODEC_LZ4, CODEC_ZSTD = 0, 1, 2, 3, 4


def encode_records(records, base_ts):
    """records: list of (key, value, headers, timestamp_or_None). Returns the concatenated record bytes."""
    out = io.BytesIO()
    for i, rec in enumerate(records):
        key, value, headers = rec[0], rec[1], rec[2] if len(rec) > 2 else []
        ts = rec[3] if len(rec) > 3 and rec[3] is not None else base_ts
        body = W()
        body.i8(0)
        body.varint(ts - base_ts)
        body.varint(i)
        if key is None:
            body.varint(-1)
        else:
            body.varint(len(key)).raw(key)
        if value is None:
            body.varint(-1)
        else:
            body.varint(len(value)).raw(value)
        body.varint(len(headers or []))
        for hk, hv in headers or []:
            hkb = hk.encode() if isinstance(hk, str) else hk
            body.varint(len(hkb)).raw(hkb)
            if hv is None:
                body.varint(-1)
            else:
                body.varint(len(hv)).raw(hv)
        bb = body.getvalue()
        w = W()
        w.varint(len(bb)).raw(bb)
        out.write(w.getvalue())
    return out.getvalue()


def build_batch(records, base_offset=0, base_ts=None, codec=CODEC_NONE, magic=2, corrupt_crc=False,
                producer_id=-1, producer_epoch=-1, base_sequence=-1, attributes_extra=0):
    """A record batch v2 (magic 2) holding records [(key, value, headers[, ts])], with a correct CRC-32C
    unless corrupt_crc. codec NONE or GZIP (the records are compressed with zlib's gzip)."""
    if base_ts is None:
        base_ts = int(time.time() * 1000)
    recs = encode_records(records, base_ts)
    if codec == CODEC_GZIP:
        co = zlib.compressobj(6, zlib.DEFLATED, 31)
        recs = co.compress(recs) + co.flush()
    elif codec != CODEC_NONE:
        raise ValueError("build_batch only compresses with gzip")
    max_ts = max([base_ts] + [r[3] for r in records if len(r) > 3 and r[3] is not None])
    after_crc = W()
    after_crc.i16(codec | attributes_extra)
    after_crc.i32(len(records) - 1)
    after_crc.i64(base_ts)
    after_crc.i64(max_ts)
    after_crc.i64(producer_id)
    after_crc.i16(producer_epoch)
    after_crc.i32(base_sequence)
    after_crc.i32(len(records))
    after_crc.raw(recs)
    tail = after_crc.getvalue()
    crc = crc32c(tail)
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    head = W()
    head.i64(base_offset)
    head.i32(4 + 1 + 4 + len(tail))  # partitionLeaderEpoch + magic + crc + rest
    head.i32(-1)
    head.i8(magic)
    head.u32(crc)
    return head.getvalue() + tail


class Batch:
    def __init__(self):
        self.base_offset = 0
        self.length = 0
        self.magic = 0
        self.crc = 0
        self.crc_ok = False
        self.attributes = 0
        self.last_offset_delta = 0
        self.base_ts = 0
        self.max_ts = 0
        self.record_count = 0
        self.records = None  # list of (offset, ts, key, value, headers) when decodable
        self.raw = b""

    @property
    def codec(self):
        return self.attributes & 7

    @property
    def last_offset(self):
        return self.base_offset + self.last_offset_delta

    def __repr__(self):
        return "Batch(base=%d, last_delta=%d, count=%d, attr=%#x, crc_ok=%s)" % (
            self.base_offset, self.last_offset_delta, self.record_count, self.attributes, self.crc_ok)


def _decode_records(data, batch):
    r = R(data)
    out = []
    for _ in range(batch.record_count):
        length = r.varint()
        rr = R(r.raw(length))
        rr.i8()
        tsd = rr.varint()
        od = rr.varint()
        kl = rr.varint()
        key = None if kl < 0 else rr.raw(kl)
        vl = rr.varint()
        value = None if vl < 0 else rr.raw(vl)
        hdrs = []
        for _ in range(rr.varint()):
            hkl = rr.varint()
            hk = rr.raw(hkl)
            hvl = rr.varint()
            hv = None if hvl < 0 else rr.raw(hvl)
            hdrs.append((hk, hv))
        out.append((batch.base_offset + od, batch.base_ts + tsd, key, value, hdrs))
    return out


def parse_batches(data, decode=True):
    """Parses concatenated record batches (a Fetch records field or a .log segment). A truncated trailing
    batch is ignored, as clients do. Returns a list of Batch."""
    out = []
    pos = 0
    while len(data) - pos >= 61:
        b = Batch()
        b.base_offset, b.length = struct.unpack_from(">qi", data, pos)
        if b.length < 49 or pos + 12 + b.length > len(data):
            break
        b.raw = data[pos:pos + 12 + b.length]
        b.magic = b.raw[16]
        if b.magic != 2:
            out.append(b)
            pos += 12 + b.length
            continue
        b.crc = struct.unpack_from(">I", b.raw, 17)[0]
        b.crc_ok = crc32c(b.raw[21:]) == b.crc
        (b.attributes, b.last_offset_delta, b.base_ts, b.max_ts) = struct.unpack_from(">hiqq", b.raw, 21)
        b.record_count = struct.unpack_from(">i", b.raw, 57)[0]
        if decode and b.crc_ok:
            payload = b.raw[61:]
            try:
                if b.codec == CODEC_NONE:
                    b.records = _decode_records(payload, b)
                elif b.codec == CODEC_GZIP:
                    b.records = _decode_records(zlib.decompress(payload, 47), b)
            except (ParseError, zlib.error):
                b.records = None
        out.append(b)
        pos += 12 + b.length
    return out


# ---- requests and responses -----------------------------------------------------------------------------
def enc_api_versions(version, software=("ferry-it", "1.0")):
    w = W()
    if version >= 3:
        w.compact_string(software[0]).compact_string(software[1]).tags()
    return w.getvalue()


def dec_api_versions(version, body):
    """Returns dict(error, apis={key: (min, max)}, entries=[...], throttle, tags). Parses the whole body."""
    r = R(body)
    err = r.i16()
    if version >= 3:
        def entry(rr):
            k, mn, mx = rr.i16(), rr.i16(), rr.i16()
            t = rr.tags()
            return (k, mn, mx, t)
        entries = r.compact_array(entry) or []
        throttle = r.i32()
        tags = r.tags()
    else:
        entries = r.array(lambda rr: (rr.i16(), rr.i16(), rr.i16(), [])) or []
        throttle = r.i32() if version >= 1 else 0
        tags = []
    r.end()
    return {"error": err, "entries": entries, "apis": {e[0]: (e[1], e[2]) for e in entries},
            "throttle": throttle, "tags": tags}


def dec_api_versions_v0_shape(body):
    """The v0-shaped body Kafka sends back for an unsupported ApiVersions version."""
    r = R(body)
    err = r.i16()
    entries = r.array(lambda rr: (rr.i16(), rr.i16(), rr.i16())) or []
    return {"error": err, "apis": {e[0]: (e[1], e[2]) for e in entries}, "rest": r.raw(r.remaining())}


def enc_metadata(version, topics, allow_auto=False):
    w = W()
    w.array(topics, lambda w, t: w.string(t))
    if version >= 4:
        w.boolean(allow_auto)
    return w.getvalue()


def dec_metadata(version, body):
    r = R(body)
    out = {}
    if version >= 3:
        out["throttle"] = r.i32()

    def broker(rr):
        b = {"node_id": rr.i32(), "host": rr.string(), "port": rr.i32()}
        if version >= 1:
            b["rack"] = rr.string()
        return b
    out["brokers"] = r.array(broker)
    out["cluster_id"] = r.string() if version >= 2 else None
    out["controller_id"] = r.i32() if version >= 1 else -1

    def partition(rr):
        p = {"error": rr.i16(), "partition": rr.i32(), "leader": rr.i32()}
        if version >= 7:
            p["leader_epoch"] = rr.i32()
        p["replicas"] = rr.array(lambda x: x.i32())
        p["isr"] = rr.array(lambda x: x.i32())
        if version >= 5:
            p["offline"] = rr.array(lambda x: x.i32())
        return p

    def topic(rr):
        t = {"error": rr.i16(), "name": rr.string()}
        if version >= 1:
            t["internal"] = rr.boolean()
        t["partitions"] = rr.array(partition)
        return t
    out["topics"] = r.array(topic)
    r.end()
    return out


def enc_produce(version, acks, timeout_ms, topic_data, transactional_id=None):
    """topic_data: [(topic, [(partition, records_bytes)])]."""
    w = W()
    if version >= 3:
        w.string(transactional_id)
    w.i16(acks)
    w.i32(timeout_ms)

    def part(w, pr):
        w.i32(pr[0])
        w.bytes_(pr[1])

    def topic(w, td):
        w.string(td[0])
        w.array(td[1], part)
    w.array(topic_data, topic)
    return w.getvalue()


def dec_produce(version, body):
    """Returns {(topic, partition): dict(error, base_offset, log_append_time, log_start_offset)}."""
    r = R(body)
    out = {}

    def part(rr, topic):
        p = rr.i32()
        d = {"error": rr.i16(), "base_offset": rr.i64()}
        if version >= 2:
            d["log_append_time"] = rr.i64()
        if version >= 5:
            d["log_start_offset"] = rr.i64()
        if version >= 8:
            d["record_errors"] = rr.array(lambda x: (x.i32(), x.string()))
            d["error_message"] = rr.string()
        out[(topic, p)] = d

    def topic(rr):
        name = rr.string()
        rr.array(lambda x: part(x, name))
    r.array(topic)
    if version >= 1:
        r.i32()
    r.end()
    return out


def enc_fetch(version, topic_parts, max_wait_ms=500, min_bytes=1, max_bytes=50 * 1024 * 1024,
              partition_max_bytes=10 * 1024 * 1024, isolation=0):
    """topic_parts: [(topic, [(partition, fetch_offset)])]. Versions 4..11."""
    w = W()
    w.i32(-1)  # replica_id
    w.i32(max_wait_ms)
    w.i32(min_bytes)
    if version >= 3:
        w.i32(max_bytes)
    if version >= 4:
        w.i8(isolation)
    if version >= 7:
        w.i32(0)   # session id
        w.i32(-1)  # session epoch: full fetch, no session

    def part(w, pr):
        w.i32(pr[0])
        if version >= 9:
            w.i32(-1)  # current leader epoch
        w.i64(pr[1])
        if version >= 5:
            w.i64(-1)  # log start offset
        w.i32(partition_max_bytes)

    def topic(w, tp):
        w.string(tp[0])
        w.array(tp[1], part)
    w.array(topic_parts, topic)
    if version >= 7:
        w.array([], None)  # forgotten topics
    if version >= 11:
        w.string("")  # rack id
    return w.getvalue()


def dec_fetch(version, body):
    """Returns dict(error, parts={(topic, partition): dict(error, hwm, lso, log_start, records)})."""
    r = R(body)
    out = {"error": 0, "parts": {}, "order": []}
    if version >= 1:
        out["throttle"] = r.i32()
    if version >= 7:
        out["error"] = r.i16()
        out["session_id"] = r.i32()

    def part(rr, topic):
        p = rr.i32()
        d = {"error": rr.i16(), "hwm": rr.i64()}
        if version >= 4:
            d["lso"] = rr.i64()
        if version >= 5:
            d["log_start"] = rr.i64()
        if version >= 4:
            d["aborted"] = rr.array(lambda x: (x.i64(), x.i64()))
        if version >= 11:
            d["preferred_read_replica"] = rr.i32()
        d["records"] = rr.bytes_()
        out["parts"][(topic, p)] = d
        out["order"].append((topic, p))

    def topic(rr):
        name = rr.string()
        rr.array(lambda x: part(x, name))
    r.array(topic)
    r.end()
    return out


def enc_list_offsets(version, topic_parts):
    """topic_parts: [(topic, [(partition, timestamp)])]; versions 1..2."""
    w = W()
    w.i32(-1)
    if version >= 2:
        w.i8(0)

    def part(w, pr):
        w.i32(pr[0])
        w.i64(pr[1])
        if version == 0:
            w.i32(1)

    def topic(w, tp):
        w.string(tp[0])
        w.array(tp[1], part)
    w.array(topic_parts, topic)
    return w.getvalue()


def dec_list_offsets(version, body):
    r = R(body)
    if version >= 2:
        r.i32()
    out = {}

    def part(rr, topic):
        p = rr.i32()
        d = {"error": rr.i16()}
        if version == 0:
            d["offsets"] = rr.array(lambda x: x.i64())
        else:
            d["timestamp"] = rr.i64()
            d["offset"] = rr.i64()
        out[(topic, p)] = d

    def topic(rr):
        name = rr.string()
        rr.array(lambda x: part(x, name))
    r.array(topic)
    r.end()
    return out


def enc_create_topics(version, topics, timeout_ms=30000, validate_only=False):
    """topics: [(name, num_partitions, replication_factor, {config: value})]; versions 0..4."""
    w = W()

    def cfg(w, kv):
        w.string(kv[0])
        w.string(kv[1])

    def topic(w, t):
        w.string(t[0])
        w.i32(t[1])
        w.i16(t[2])
        w.array([], None)  # assignments
        w.array(sorted((t[3] if len(t) > 3 and t[3] else {}).items()), cfg)
    w.array(topics, topic)
    w.i32(timeout_ms)
    if version >= 1:
        w.boolean(validate_only)
    return w.getvalue()


def dec_create_topics(version, body):
    """Returns {name: (error, message)}."""
    r = R(body)
    if version >= 2:
        r.i32()
    out = {}

    def topic(rr):
        name = rr.string()
        err = rr.i16()
        msg = rr.string() if version >= 1 else None
        out[name] = (err, msg)
    r.array(topic)
    r.end()
    return out


def enc_delete_topics(version, names, timeout_ms=30000):
    w = W()
    w.array(names, lambda w, n: w.string(n))
    w.i32(timeout_ms)
    return w.getvalue()


def dec_delete_topics(version, body):
    r = R(body)
    if version >= 1:
        r.i32()
    out = {}

    def topic(rr):
        name = rr.string()  # before the error code (a subscript target is evaluated after the value)
        out[name] = rr.i16()
    r.array(topic)
    r.end()
    return out


def enc_elect_leaders(version, election_type, topic_parts, timeout_ms=30000):
    """ElectLeaders v0-2 (v2 flexible); topic_parts: {topic: [partition, ...]}, or None for every partition.
    v0 has no election type (always PREFERRED)."""
    w = W()
    flex = version >= 2
    if version >= 1:
        w.i8(election_type)
    items = None if topic_parts is None else sorted(topic_parts.items())
    if flex:
        w.uvarint(0 if items is None else len(items) + 1)
        for name, parts in items or []:
            w.compact_string(name)
            w.uvarint(len(parts) + 1)
            for p in parts:
                w.i32(p)
            w.tags()
    else:
        def topic(w, t):
            w.string(t[0])
            w.array(t[1], lambda w, p: w.i32(p))
        w.array(items, topic)
    w.i32(timeout_ms)
    if flex:
        w.tags()
    return w.getvalue()


def dec_elect_leaders(version, body):
    """Returns (top-level error (0 before v1), {(topic, partition): (error, message)})."""
    r = R(body)
    flex = version >= 2
    r.i32()  # throttle
    top = r.i16() if version >= 1 else 0
    out = {}

    def part(rr, topic):
        pid = rr.i32()
        err = rr.i16()
        msg = rr.compact_string() if flex else rr.string()
        if flex:
            rr.tags()
        out[(topic, pid)] = (err, msg)

    def topic(rr):
        name = rr.compact_string() if flex else rr.string()
        if flex:
            rr.compact_array(lambda r2: part(r2, name))
            rr.tags()
        else:
            rr.array(lambda r2: part(r2, name))
    if flex:
        r.compact_array(topic)
        r.tags()
    else:
        r.array(topic)
    r.end()
    return top, out


def _dec_reassignment_response(body, part_fields):
    """The shape AlterPartitionReassignments and ListPartitionReassignments v0 responses share: throttle,
    error, message, then topics of partitions; part_fields(reader) reads what follows a partition's index.
    Returns (error, message, {(topic, partition): part_fields(...)})."""
    r = R(body)
    r.i32()  # throttle
    top = r.i16()
    top_msg = r.compact_string()
    out = {}

    def topic(rr):
        name = rr.compact_string()

        def part(r2):
            pid = r2.i32()
            out[(name, pid)] = part_fields(r2)
            r2.tags()
        rr.compact_array(part)
        rr.tags()
    r.compact_array(topic)
    r.tags()
    r.end()
    return top, top_msg, out


def enc_alter_partition_reassignments(targets, timeout_ms=30000):
    """AlterPartitionReassignments v0 (flexible); targets: {topic: {partition: [replica, ...] or None}}
    (None cancels)."""
    w = W()
    w.i32(timeout_ms)
    items = sorted(targets.items())
    w.uvarint(len(items) + 1)
    for name, parts in items:
        w.compact_string(name)
        w.uvarint(len(parts) + 1)
        for pid, replicas in sorted(parts.items()):
            w.i32(pid)
            if replicas is None:
                w.uvarint(0)
            else:
                w.uvarint(len(replicas) + 1)
                for r in replicas:
                    w.i32(r)
            w.tags()
        w.tags()
    w.tags()
    return w.getvalue()


def dec_alter_partition_reassignments(body):
    """Returns (top-level error, top-level message, {(topic, partition): (error, message)})."""
    return _dec_reassignment_response(body, lambda r2: (r2.i16(), r2.compact_string()))


def enc_list_partition_reassignments(topic_parts=None, timeout_ms=30000):
    """ListPartitionReassignments v0 (flexible); topic_parts: {topic: [partition, ...]}, or None for all."""
    w = W()
    w.i32(timeout_ms)
    if topic_parts is None:
        w.uvarint(0)
    else:
        items = sorted(topic_parts.items())
        w.uvarint(len(items) + 1)
        for name, parts in items:
            w.compact_string(name)
            w.uvarint(len(parts) + 1)
            for p in parts:
                w.i32(p)
            w.tags()
    w.tags()
    return w.getvalue()


def dec_list_partition_reassignments(body):
    """Returns (top-level error, {(topic, partition): (replicas, adding, removing)})."""
    def ints(rr):
        return rr.compact_array(lambda r3: r3.i32()) or []
    top, _, out = _dec_reassignment_response(body, lambda r2: (ints(r2), ints(r2), ints(r2)))
    return top, out


class ConnectionClosed(Exception):
    pass


def make_frame(api_key, version, body, corr, client_id="ferry-it", header_version=None):
    """A length-prefixed request: header v1 (v2 for flexible versions unless header_version says), body."""
    if header_version is None:
        header_version = 2 if is_flexible(api_key, version) else 1
    w = W()
    w.i16(api_key).i16(version).i32(corr)
    if header_version >= 1:
        w.string(client_id)
    if header_version >= 2:
        w.tags()
    payload = w.getvalue() + body
    return struct.pack(">i", len(payload)) + payload


class KafkaConn:
    """A raw Kafka connection. send() frames a request (header v1, or v2 for flexible versions) and returns
    its correlation id; recv() reads the next response frame and returns (correlation_id, payload after the
    correlation id). request() does both and checks the correlation id."""

    def __init__(self, host, port, timeout=IO_TIMEOUT, client_id="ferry-it"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client_id = client_id
        self.next_corr = 1
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def settimeout(self, t):
        self.sock.settimeout(t)

    def frame(self, api_key, version, body, corr=None, header_version=None):
        if corr is None:
            corr = self.next_corr
            self.next_corr += 1
        return corr, make_frame(api_key, version, body, corr, self.client_id, header_version)

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, api_key, version, body, corr=None, header_version=None):
        corr, data = self.frame(api_key, version, body, corr, header_version)
        self.sock.sendall(data)
        return corr

    def _read_exact(self, n):
        while len(self.buf) < n:
            try:
                chunk = self.sock.recv(max(65536, n - len(self.buf)))
            except ConnectionResetError as e:
                raise ConnectionClosed("connection reset: %s" % e)
            if not chunk:
                raise ConnectionClosed("connection closed by the server")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self):
        size = struct.unpack(">i", self._read_exact(4))[0]
        if size < 4:
            raise ParseError("response frame size %d" % size)
        return self._read_exact(size)

    def recv(self):
        f = self.recv_frame()
        return struct.unpack(">i", f[:4])[0], f[4:]

    def recv_body(self, api_key, version, corr):
        got, payload = self.recv()
        if got != corr:
            raise AssertionError("response correlation id %d, expected %d" % (got, corr))
        # Response header v1 (a tag buffer) for flexible versions, except ApiVersions (always v0).
        if is_flexible(api_key, version) and api_key != API_API_VERSIONS:
            r = R(payload)
            r.tags()
            payload = payload[r.p:]
        return payload

    def request(self, api_key, version, body):
        corr = self.send(api_key, version, body)
        return self.recv_body(api_key, version, corr)

    def wait_closed(self, timeout=IO_TIMEOUT):
        """True when the server closes the connection within timeout (any unread response data is
        discarded and returned in self.discarded)."""
        self.discarded = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.1, min(2.0, deadline - time.monotonic())))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
            self.discarded += chunk
        return False

    # Convenience wrappers ---------------------------------------------------------------------------------
    def api_versions(self, version=0):
        return dec_api_versions(version, self.request(API_API_VERSIONS, version, enc_api_versions(version)))

    def metadata(self, topics=None, version=1, allow_auto=False):
        return dec_metadata(version, self.request(API_METADATA, version, enc_metadata(version, topics, allow_auto)))

    def produce(self, topic, partition, records_bytes, acks=1, version=7, timeout_ms=30000):
        body = enc_produce(version, acks, timeout_ms, [(topic, [(partition, records_bytes)])])
        if acks == 0:
            self.send(API_PRODUCE, version, body)
            return None
        return dec_produce(version, self.request(API_PRODUCE, version, body))[(topic, partition)]

    def fetch(self, topic, partition, offset, version=4, max_wait_ms=100, min_bytes=1, **kw):
        body = enc_fetch(version, [(topic, [(partition, offset)])], max_wait_ms, min_bytes, **kw)
        return dec_fetch(version, self.request(API_FETCH, version, body))["parts"][(topic, partition)]

    def list_offset(self, topic, partition, timestamp=-1, version=1):
        body = enc_list_offsets(version, [(topic, [(partition, timestamp)])])
        return dec_list_offsets(version, self.request(API_LIST_OFFSETS, version, body))[(topic, partition)]

    def create_topics(self, topics, version=2, validate_only=False, timeout_ms=30000):
        body = enc_create_topics(version, topics, timeout_ms, validate_only)
        return dec_create_topics(version, self.request(API_CREATE_TOPICS, version, body))

    def elect_leaders(self, election_type, topic_parts, version=2, timeout_ms=30000):
        return dec_elect_leaders(version, self.request(API_ELECT_LEADERS, version,
                                                       enc_elect_leaders(version, election_type, topic_parts,
                                                                         timeout_ms)))

    def alter_partition_reassignments(self, targets, timeout_ms=30000):
        return dec_alter_partition_reassignments(self.request(API_ALTER_PARTITION_REASSIGNMENTS, 0,
                                                              enc_alter_partition_reassignments(targets, timeout_ms)))

    def list_partition_reassignments(self, topic_parts=None, timeout_ms=30000):
        return dec_list_partition_reassignments(self.request(API_LIST_PARTITION_REASSIGNMENTS, 0,
                                                             enc_list_partition_reassignments(topic_parts, timeout_ms)))

    def delete_topics(self, names, version=1, timeout_ms=30000):
        return dec_delete_topics(version, self.request(API_DELETE_TOPICS, version,
                                                       enc_delete_topics(version, names, timeout_ms)))


def read_partition_raw(conn, topic, partition, start=0, end=None, version=4, timeout=IO_TIMEOUT):
    """Reads records [start, end) (end = the high watermark when None) with raw Fetch requests.
    Returns a list of (offset, ts, key, value, headers) and the list of batches seen."""
    out = []
    batches = []
    off = start
    deadline = time.monotonic() + timeout
    while True:
        if end is not None and off >= end:
            return out, batches
        d = conn.fetch(topic, partition, off, version=version, max_wait_ms=100)
        if d["error"] != 0:
            raise AssertionError("fetch %s-%d@%d: error %d" % (topic, partition, off, d["error"]))
        stop = d["hwm"] if end is None else end
        if off >= stop:
            return out, batches
        bs = parse_batches(d["records"] or b"")
        progressed = False
        for b in bs:
            batches.append(b)
            if b.last_offset < off:
                continue
            if not b.crc_ok or b.records is None:
                raise AssertionError("undecodable batch at offset %d: %r" % (b.base_offset, b))
            for rec in b.records:
                if off <= rec[0] < stop:
                    out.append(rec)
            off = max(off, b.last_offset + 1)
            progressed = True
            if off >= stop:
                break
        if not progressed and time.monotonic() > deadline:
            raise AssertionError("no progress reading %s-%d at offset %d (hwm %d)" % (topic, partition, off, d["hwm"]))


# ---------------------------------------------------------------------------------------------------------
# The server process
# ---------------------------------------------------------------------------------------------------------
class FerryStartError(AssertionError):
    pass


def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    s = str(v)
    if re.fullmatch(r"[A-Za-z0-9_./][A-Za-z0-9_.:/@,+\-]*", s) and ": " not in s:
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_yaml_config(path, cfg):
    with open(path, "w") as f:
        f.write("# generated by tests/it/ferrytest.py\n")
        for k, v in cfg.items():
            f.write("%s: %s\n" % (k, _yaml_scalar(v)))
    return path


class FerryNode:
    """One `ferry server` process. Ports are picked when the node is created and kept across restarts.

    mode: "set" passes every setting as --set KEY=VALUE; "config" writes them into a YAML config file
    passed with --config (the server then also needs `ferry storage format`, done by format() unless
    auto_format=False)."""

    def __init__(self, name="node", overrides=None, mode="set", node_id=1, auto_format=True, extra_args=None,
                 base_config=True):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="%s-" % name, dir=test_tmp())
        self.data_dir = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "server.log")
        self.port = free_port()
        self.controller_port = free_port()
        self.node_id = node_id
        self.mode = mode
        self.auto_format = auto_format
        self.extra_args = list(extra_args or [])
        self.config = {}
        if base_config:
            self.config.update({
                "process.roles": "broker,controller",
                "node.id": str(node_id),
                "listeners": "PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d" % (self.port, self.controller_port),
                "controller.quorum.voters": "%d@127.0.0.1:%d" % (node_id, self.controller_port),
                "controller.listener.names": "CONTROLLER",
                "log.dirs": self.data_dir,
                # one node: __consumer_offsets with one replica (Kafka's config/kraft/server.properties)
                "offsets.topic.replication.factor": "1",
            })
        self.config.update({k: str(v) for k, v in (overrides or {}).items()})
        self.config_path = os.path.join(self.dir, "server.yaml")
        self.proc = None
        self.starts = 0
        self.cluster_id = None
        self._log_file = None
        self.exit_codes = []
        self.extra_env = {}  # added to the process's environment (e.g. an LD_PRELOAD shim)

    # -- properties ----------------------------------------------------------------------------------------
    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def conn(self, timeout=IO_TIMEOUT):
        return KafkaConn("127.0.0.1", self.port, timeout=timeout)

    # -- log ------------------------------------------------------------------------------------------------
    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=80):
        """The last n lines, leaving out the one line per partition a clean shutdown writes ("closed at log end
        offset"), which would otherwise fill the tail of any broker with many partitions."""
        lines = self.log_text().splitlines()
        kept = [ln for ln in lines if ": closed at log end offset " not in ln]
        omitted = len(lines) - len(kept)
        note = ["(%d 'closed at log end offset' lines left out)" % omitted] if omitted else []
        return "\n".join(kept[-n:] + note)

    def print_tail(self, n=80, why=""):
        sys.stderr.write("\n----- tail of %s server log (%s) %s -----\n%s\n----- end of %s log -----\n" % (
            self.name, self.log_path, why, self.log_tail(n), self.name))
        sys.stderr.flush()

    def sanitizer_report(self):
        t = self.log_text()
        for m in SANITIZER_MARKERS:
            i = t.find(m)
            if i >= 0:
                return t[max(0, i - 200):i + 4000]
        return None

    # -- lifecycle ------------------------------------------------------------------------------------------
    def command(self):
        cmd = [ferry_bin(), "server"]
        if self.mode == "config":
            write_yaml_config(self.config_path, self.config)
            cmd += ["--config", self.config_path]
        else:
            for k, v in self.config.items():
                cmd += ["--set", "%s=%s" % (k, v)]
        return cmd + self.extra_args

    def format(self, cluster_id=None):
        """`ferry storage format --config FILE --cluster-id ID` for config mode."""
        write_yaml_config(self.config_path, self.config)
        if cluster_id is None:
            cluster_id = run_ferry(["storage", "random-uuid"]).stdout.strip()
        res = run_ferry(["storage", "format", "--config", self.config_path, "--cluster-id", cluster_id])
        if res.returncode != 0:
            raise FerryStartError("ferry storage format failed (%d):\n%s%s" % (res.returncode, res.stdout, res.stderr))
        self.cluster_id = cluster_id
        return res

    def spawn(self):
        """Starts the process without waiting for readiness."""
        assert not self.alive(), "already running"
        if self.mode == "config" and self.auto_format and self.starts == 0 and not os.path.exists(
                os.path.join(self.data_dir, "meta.properties")):
            self.format()
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        env.update(self.extra_env)
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(("\n===== start #%d: %s\n" % (self.starts + 1, " ".join(self.command()))).encode())
        self._log_file.flush()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, cwd=self.dir, env=env)
        self.starts += 1
        _live_nodes.add(self)
        return self.proc

    def start(self, timeout=START_TIMEOUT, wait_metadata=True):
        for attempt in range(3):
            log_start = len(self.log_text())
            self.spawn()
            try:
                self.wait_ready(timeout, wait_metadata)
                return self
            except FerryStartError:
                text = self.log_text()[log_start:].lower()
                if self.starts == 1 + attempt and not self.alive() and "in use" in text and attempt < 2:
                    # Another process took a port between free_port() and the bind: new ports, once more.
                    log("%s: port taken at start-up, retrying with new ports" % self.name)
                    self.stop(check=False)
                    self._new_ports()
                    continue
                self.print_tail(why="did not become ready")
                self.stop(check=False)
                raise
            except BaseException:
                self.print_tail(why="did not become ready")
                self.stop(check=False)
                raise
        return self

    def _new_ports(self):
        old_port, old_ctl = self.port, self.controller_port
        self.port, self.controller_port = free_port(), free_port()
        for k, v in list(self.config.items()):
            self.config[k] = v.replace("127.0.0.1:%d" % old_port, "127.0.0.1:%d" % self.port).replace(
                "127.0.0.1:%d" % old_ctl, "127.0.0.1:%d" % self.controller_port)

    def probe(self, wait_metadata=True):
        """One readiness probe: ApiVersions v0 answers with error 0, and Metadata lists this broker with a
        controller."""
        with KafkaConn("127.0.0.1", self.port, timeout=10) as c:
            av = c.api_versions(0)
            if av["error"] != 0:
                return False
            if not wait_metadata:
                return True
            md = c.metadata([], version=1)
            ids = [b["node_id"] for b in md["brokers"] or []]
            return self.node_id in ids and md["controller_id"] >= 0

    def wait_ready(self, timeout=START_TIMEOUT, wait_metadata=True):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise FerryStartError("%s exited with status %s during start-up:\n%s" % (
                    self.name, self.proc.returncode, self.log_tail(60)))
            try:
                if self.probe(wait_metadata):
                    return
            except (OSError, ParseError, ConnectionClosed, struct.error) as e:
                last = e
            time.sleep(0.25)
        raise FerryStartError("%s not ready after %.0fs (last probe error: %r):\n%s" % (
            self.name, timeout, last, self.log_tail(60)))

    def _close_log(self):
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def stop(self, timeout=STOP_TIMEOUT, check=True):
        """SIGTERM, then SIGKILL after timeout. Returns the exit status (None if it was not running). With
        check, raises AssertionError when the log holds a sanitizer report."""
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
                    self.print_tail(30, "did not stop on SIGTERM")
                    try:
                        os.kill(self.proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.proc.wait(timeout)
            rc = self.proc.returncode
            self.exit_codes.append(rc)
        self._close_log()
        _live_nodes.discard(self)
        if check:
            rep = self.sanitizer_report()
            if rep:
                raise AssertionError("sanitizer report in the %s server log:\n%s" % (self.name, rep))
        return rc

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT)
            self.exit_codes.append(self.proc.returncode)
        self._close_log()
        _live_nodes.discard(self)

    def restart(self, timeout=START_TIMEOUT, clean=True):
        if clean:
            rc = self.stop()
        else:
            self.kill9()
            rc = -9
        self.start(timeout)
        return rc

    def wait_exit(self, timeout=START_TIMEOUT):
        """Waits for the process to exit by itself (a start-up that must fail). Returns the exit status, or
        None if it is still running at the deadline."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._close_log()
        _live_nodes.discard(self)
        return self.proc.returncode

    def cleanup(self, keep=False):
        self.stop(check=False)
        if not keep and not os.environ.get("FERRY_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def partition_dir(self, topic, partition):
        return os.path.join(self.data_dir, "%s-%d" % (topic, partition))


_live_nodes = set()


def _kill_leftovers():
    for n in list(_live_nodes):
        try:
            n.stop(timeout=20, check=False)
        except Exception:  # noqa: BLE001
            pass


import atexit  # noqa: E402

atexit.register(_kill_leftovers)


def _on_sigterm(signum, frame):
    # A test runner's timeout (SIGTERM): unwind, so that tearDown/atexit stop the servers by pid.
    raise KeyboardInterrupt("SIGTERM")


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _on_sigterm)


# ---------------------------------------------------------------------------------------------------------
# Subprocess helpers
# ---------------------------------------------------------------------------------------------------------
class ProcResult:
    def __init__(self, args, returncode, stdout, stderr):
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr

    def __repr__(self):
        return "ProcResult(rc=%r, args=%r,\nstdout=%s,\nstderr=%s)" % (
            self.returncode, self.args, _clip(self.stdout), _clip(self.stderr))


def _clip(s, n=3000):
    if isinstance(s, bytes):
        s = s.decode("utf-8", "replace")
    return s if len(s) <= n else s[:n // 2] + "\n...[clipped]...\n" + s[-n // 2:]


def run_proc(args, input=None, timeout=300, text=True, cwd=None, env=None):
    """Runs a command to completion; on timeout it is killed (SIGTERM, then SIGKILL) by pid and an
    AssertionError carries what it printed."""
    p = subprocess.Popen(args, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env)
    try:
        out, err = p.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.kill(p.pid, signal.SIGTERM)
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            out, err = p.communicate()
        raise AssertionError("%s timed out after %ss:\nstdout: %s\nstderr: %s" % (
            args, timeout, _clip(out or b""), _clip(err or b"")))
    if text:
        out = out.decode("utf-8", "replace")
        err = err.decode("utf-8", "replace")
    return ProcResult(args, p.returncode, out, err)


def run_ferry(args, timeout=120, **kw):
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    return run_proc([ferry_bin()] + list(args), timeout=timeout, env=env, **kw)


def run_kcat(args, input=None, timeout=300, text=False):
    return run_proc(["kcat"] + list(args), input=input, timeout=timeout, text=text)


# ---------------------------------------------------------------------------------------------------------
# Real-client helpers
# ---------------------------------------------------------------------------------------------------------
def kcat_produce(node, topic, lines, acks="-1", partition=0):
    """Produces lines (bytes, one message per line) to topic/partition with kcat; fails on any delivery error."""
    res = run_kcat(["-P", "-b", node.bootstrap, "-t", topic, "-p", str(partition), "-X", "message.timeout.ms=60000",
                    "-X", "request.required.acks=%s" % acks], input=lines, timeout=120)
    if res.returncode != 0 or b"Delivery failed" in res.stderr:
        raise AssertionError("kcat produce to %s failed: %r" % (topic, res))


def kcat_consume(node, topic, partition=0):
    """Everything in topic/partition, one line per message, read with kcat."""
    res = run_kcat(["-C", "-b", node.bootstrap, "-t", topic, "-p", str(partition), "-o", "beginning", "-e", "-q",
                    "-f", "%s\n"], timeout=120)
    if res.returncode != 0:
        raise AssertionError("kcat consume of %s failed: %r" % (topic, res))
    return res.stdout


def group_read_confluent(boot, topic, group, expected, timeout=240):
    """Reads topic as a member of a confluent-kafka consumer group until every value of expected was seen
    (or timeout), then commits. Returns the set of values seen."""
    from confluent_kafka import Consumer
    cons = Consumer({"bootstrap.servers": boot, "group.id": group, "auto.offset.reset": "earliest",
                     "enable.auto.commit": False, "session.timeout.ms": 30000})
    seen = set()
    try:
        cons.subscribe([topic])
        deadline = time.monotonic() + timeout
        while not expected <= seen and time.monotonic() < deadline:
            for m in cons.consume(num_messages=1000, timeout=1.0):
                if m.error() is None:
                    seen.add(m.value())
        commit_with_retries(cons)
    finally:
        cons.close()
    return seen


def assert_groups_read_everything(tc, boot, topic, expected):
    """Nothing in expected (values acknowledged to producers) is lost: a confluent-kafka consumer group
    ("readers") reads and commits it all, a kafka-python member of that group then finds nothing left after the
    committed offsets, and a kafka-python group ("kp-readers") reads it all too."""
    seen = group_read_confluent(boot, topic, "readers", expected)
    lost = expected - seen
    tc.assertEqual(lost, set(), "acknowledged but lost: %s" % sorted(lost)[:10])
    tc.assertEqual(group_remaining_kafka_python(boot, topic, "readers"), 0)
    tc.assertEqual(group_read_kafka_python(boot, topic, "kp-readers", expected) & expected, expected)


def commit_with_retries(cons, timeout=120):
    """A synchronous commit of a confluent-kafka consumer's positions; retried while the group coordinator (a
    partition of __consumer_offsets, whose leader may still be settling after failovers) answers a retriable
    error."""
    from confluent_kafka import KafkaException
    deadline = time.monotonic() + timeout
    while True:
        try:
            cons.commit(asynchronous=False)
            return
        except KafkaException as e:
            err = e.args[0]
            if not err.retriable() or time.monotonic() > deadline:
                raise
            log("commit failed (%s), retrying" % err)
            time.sleep(1.0)


def group_remaining_kafka_python(boot, topic, group):
    """Messages between a group's committed offsets and the end of each partition (kafka-python)."""
    from kafka import KafkaConsumer, TopicPartition
    cons = KafkaConsumer(bootstrap_servers=boot.split(","), group_id=group, enable_auto_commit=False,
                         api_version_auto_timeout_ms=30000)
    try:
        parts = wait_until(lambda: cons.partitions_for_topic(topic), timeout=60,
                           what="kafka-python sees the partitions of %s" % topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        ends = cons.end_offsets(tps)
        return sum(ends[tp] - (cons.committed(tp) or 0) for tp in tps)
    finally:
        cons.close()


def group_read_kafka_python(boot, topic, group, expected, timeout=240):
    """The same with a kafka-python group member."""
    from kafka import KafkaConsumer
    cons = KafkaConsumer(topic, bootstrap_servers=boot.split(","), group_id=group, auto_offset_reset="earliest",
                         enable_auto_commit=False, consumer_timeout_ms=3000, api_version_auto_timeout_ms=30000)
    seen = set()
    try:
        deadline = time.monotonic() + timeout
        while not expected <= seen and time.monotonic() < deadline:
            for m in cons:
                seen.add(m.value)
        cons.commit()
    finally:
        cons.close()
    return seen


def admin(node, **conf):
    from confluent_kafka.admin import AdminClient
    c = {"bootstrap.servers": node.bootstrap, "socket.timeout.ms": 30000}
    c.update(conf)
    return AdminClient(c)


def create_topic(node, name, partitions=1, replication_factor=1, config=None, timeout=60):
    """Creates a topic with confluent-kafka's AdminClient and waits until Metadata shows all of its
    partitions with a leader."""
    from confluent_kafka.admin import NewTopic
    a = admin(node)
    fs = a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=replication_factor,
                                   config=config or {})], operation_timeout=30, request_timeout=60)
    fs[name].result(timeout)
    wait_topic(node, name, partitions, timeout)
    return name


def wait_topic(node, name, partitions, timeout=60):
    """Waits until `node`'s Metadata names a leader for each of the topic's `partitions` partitions AND each
    leader serves its partition (ListOffsets answered without error). Metadata can name a leader before that
    leader has created the partition's log (it does so off its event loop, as Kafka's broker does after
    publishing the image): a raw request sent in that window gets NOT_LEADER_OR_FOLLOWER, which real clients
    retry and a test's raw acks=0 Produce would silently lose."""
    def ok():
        with node.conn(timeout=10) as c:
            md = c.metadata([name], version=1)
        brokers = {b["node_id"]: (b["host"], b["port"]) for b in md["brokers"] or []}
        for t in md["topics"]:
            if t["name"] == name and t["error"] == 0 and len(t["partitions"]) == partitions and all(
                    p["leader"] >= 0 and p["error"] == 0 for p in t["partitions"]):
                return all_leaders_serve(name, t["partitions"], brokers)
        return False
    wait_until(ok, timeout, what="topic %s with %d partitions in Metadata, each served by its leader" %
               (name, partitions))


def all_leaders_serve(topic, partitions, brokers):
    """True once every partition's leader (broker id -> (host, port)) answers a ListOffsets without error."""
    by_leader = {}
    for p in partitions:
        by_leader.setdefault(p["leader"], []).append(p["partition"])
    for leader, parts in by_leader.items():
        if leader not in brokers:
            return False
        with KafkaConn(*brokers[leader], timeout=10) as c:
            if any(c.list_offset(topic, p)["error"] != 0 for p in parts):
                return False
    return True


class BackgroundProducer:
    """A confluent-kafka Producer sending numbered values (prefix + 6 digits, round-robin over `partitions`)
    without pause in a thread, for tests that fail brokers under load: `acked` holds every value the client saw
    acknowledged, `failed` the delivery errors. start(); ...; stop() flushes and joins (call it in a finally)."""

    def __init__(self, bootstrap, topic, partitions=(0,), prefix=b"v-", conf=None):
        from confluent_kafka import Producer
        c = {"bootstrap.servers": bootstrap, "acks": "all", "message.timeout.ms": 240000, "retry.backoff.ms": 200,
             "linger.ms": 5, "topic.metadata.refresh.interval.ms": 1000}
        c.update(conf or {})
        self.producer = Producer(c)
        self.topic, self.partitions, self.prefix = topic, list(partitions), prefix
        self.acked, self.failed = set(), []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _delivered(self, err, msg):
        if err is None:
            self.acked.add(msg.value())
        else:
            self.failed.append(err)

    def _run(self):
        i = 0
        while not self._stop.is_set():
            self.producer.produce(self.topic, value=b"%s%06d" % (self.prefix, i),
                                  partition=self.partitions[i % len(self.partitions)], on_delivery=self._delivered)
            self.producer.poll(0)
            i += 1
            time.sleep(0.005)
        self.producer.flush(240)

    def start(self):
        self._thread.start()
        return self

    def wait_acked(self, more, timeout=180, what=None):
        """Waits until `more` values beyond the current count are acknowledged."""
        n = len(self.acked)
        wait_until(lambda: len(self.acked) >= n + more, timeout=timeout,
                   what=what or "%d more acknowledged messages on %s" % (more, self.topic))

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(300)
        if self._thread.is_alive():
            raise AssertionError("the producer of %s did not finish flushing" % self.topic)


class KafkaPythonRounds:
    """A kafka-python producer (acks=all, generous retries) that sends rounds of numbered values between the
    failovers of a test, each value acknowledged before the next: `sent` holds them all. close() in a
    finally."""

    def __init__(self, bootstrap, topic, partitions=3):
        from kafka import KafkaProducer
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=50, retry_backoff_ms=500,
                                      api_version_auto_timeout_ms=30000, request_timeout_ms=60000)
        self.topic, self.partitions, self.sent = topic, partitions, []

    def round(self, tag, count=10):
        for i in range(count):
            v = b"k-%s-%d" % (tag, i)
            self.producer.send(self.topic, value=v, partition=i % self.partitions).get(timeout=180)
            self.sent.append(v)

    def close(self):
        self.producer.close(60)


def stop_producers(bg, kp):
    """Stops a BackgroundProducer and a KafkaPythonRounds (call it in a finally) and logs what each got
    acknowledged."""
    try:
        bg.stop()
    finally:
        kp.close()
    log("%d messages acknowledged to confluent-kafka, %d deliveries failed, %d sent by kafka-python"
        % (len(bg.acked), len(bg.failed), len(kp.sent)))


def consume_confluent(node, topic, partitions, start=0, end=None, timeout=120, extra_conf=None):
    """Reads [start, end) of each partition (end = the high watermark when None) with confluent-kafka's
    Consumer and assign() (no group subscription, no commits). Returns {partition: [Message]}."""
    from confluent_kafka import Consumer, TopicPartition, KafkaError
    conf = {"bootstrap.servers": node.bootstrap, "group.id": "ferry-it-reader", "enable.auto.commit": False,
            "enable.auto.offset.store": False, "auto.offset.reset": "error", "enable.partition.eof": True,
            "fetch.wait.max.ms": 100}
    conf.update(extra_conf or {})
    c = Consumer(conf)
    try:
        ends = {}
        for p in partitions:
            if end is None:
                lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
                ends[p] = hi
            else:
                ends[p] = end
        out = {p: [] for p in partitions}
        todo = [p for p in partitions if ends[p] > start]
        if not todo:
            return out
        c.assign([TopicPartition(topic, p, start) for p in todo])
        pending = set(todo)
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError("reading %s timed out; got %s of %s" % (
                    topic, {p: len(v) for p, v in out.items()}, ends))
            msgs = c.consume(num_messages=10000, timeout=1.0)
            for m in msgs:
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise AssertionError("consumer error on %s: %s" % (topic, m.error()))
                p = m.partition()
                if p in pending and m.offset() < ends[p]:
                    out[p].append(m)
                    if m.offset() >= ends[p] - 1:
                        pending.discard(p)
        return out
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------------------
# Test case base
# ---------------------------------------------------------------------------------------------------------
def _failure_text(tc):
    """The tracebacks unittest recorded for this test so far (failures and errors), or ''."""
    res = getattr(getattr(tc, "_outcome", None), "result", None)
    texts = [text for lst in (getattr(res, "failures", []), getattr(res, "errors", [])) for t, text in lst if t is tc]
    return "\n".join(texts)


def _test_failed(tc):
    outcome = getattr(tc, "_outcome", None)
    if outcome is None:
        return False
    res = getattr(outcome, "result", None)
    if res is not None:
        for lst in (getattr(res, "failures", []), getattr(res, "errors", [])):
            for t, _ in lst:
                if t is tc:
                    return True
        if not getattr(outcome, "success", True):
            return True
        return False
    errs = getattr(outcome, "errors", [])
    return any(exc for _, exc in errs)


class FerryTestCase(unittest.TestCase):
    """Tracks the nodes a test class uses; prints their log tails when a test fails; stops them at the end
    of the class (a sanitizer report in a log fails the class)."""
    maxDiff = 4000
    class_nodes = []

    @classmethod
    def setUpClass(cls):
        cls.class_nodes = []

    @classmethod
    def add_node(cls, **kw):
        n = FerryNode(**kw)
        cls.class_nodes.append(n)
        return n

    @classmethod
    def start_node(cls, **kw):
        n = cls.add_node(**kw)
        n.start()
        return n

    @classmethod
    def tearDownClass(cls):
        reports = []
        for n in cls.class_nodes:
            try:
                n.stop()
            except AssertionError as e:
                reports.append(str(e))
            n.cleanup(keep=bool(reports) or getattr(cls, "_failed", False))
        if reports:
            raise AssertionError("\n".join(reports))

    def setUp(self):
        self.test_nodes = []

    def node(self, **kw):
        """A node owned by this test only (stopped at the end of the test)."""
        n = FerryNode(**kw)
        self.test_nodes.append(n)
        self.addCleanup(self._cleanup_node, n)
        return n

    def _print_failure_once(self):
        """Writes why the test failed before the log tails, so that a shortened CI log still shows it."""
        if getattr(self, "_failure_printed", False):
            return
        self._failure_printed = True
        text = _failure_text(self)
        if text:
            sys.stderr.write("\n----- %s failed -----\n%s----- (server log tails follow) -----\n" % (self.id(), text))
            sys.stderr.flush()

    def _cleanup_node(self, n):
        failed = _test_failed(self)
        n.stop(check=False)
        rep = n.sanitizer_report()
        if failed:
            self._print_failure_once()
        if failed or rep:
            n.print_tail(why="after %s" % self.id())
        n.cleanup(keep=failed or bool(rep))
        if rep:
            raise AssertionError("sanitizer report in the %s server log:\n%s" % (n.name, rep))

    def tearDown(self):
        if _test_failed(self):
            type(self)._failed = True
            self._print_failure_once()
            for n in type(self).class_nodes:
                n.print_tail(why="after %s" % self.id())
                if not n.alive() and n.proc is not None:
                    sys.stderr.write("(%s is not running: exit status %s)\n" % (n.name, n.proc.returncode))

    def assertAlive(self, node):
        if not node.alive():
            node.print_tail(why="process died")
            self.fail("%s is not running (exit status %s)" % (node.name, node.proc.returncode if node.proc else None))


def unique(prefix):
    return "%s-%d-%d" % (prefix, os.getpid(), random.randrange(1 << 30))


def main():
    unittest.main(verbosity=2)
