"""Hostile input over raw sockets: garbage, absurd frame lengths, truncated requests, unknown APIs and
versions, corrupt record batches, broken records inside batches whose CRC is right, illegal topic names.
After each, the server is alive and a fresh client still produces and consumes. Corrupt and torn segment
files at start-up: the server starts, names the file in its log and serves every batch before the
damage."""
import os
import random
import socket
import struct
import time
import unittest
import zlib

import ferrytest as ft

HEALTH_TOPIC = "bad-health"


class BadInputTest(ft.FerryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.start_node(name="bad-input")
        with cls.n.conn() as c:
            res = c.create_topics([(HEALTH_TOPIC, 1, 1, {}), ("bad-crc", 1, 1, {})])
        assert all(e == 0 for e, _ in res.values()), res
        ft.wait_topic(cls.n, HEALTH_TOPIC, 1)
        ft.wait_topic(cls.n, "bad-crc", 1)
        cls.health_seq = 0

    def assertServing(self):
        """The process is alive and a fresh connection produces a record and reads it back."""
        self.assertAlive(self.n)
        cls = type(self)
        cls.health_seq += 1
        value = b"health-%d-%s" % (cls.health_seq, self.id().encode())
        with self.n.conn() as c:
            self.assertEqual(c.api_versions(0)["error"], 0)
            r = c.produce(HEALTH_TOPIC, 0, ft.build_batch([(b"h", value, [("x", b"y")])]))
            self.assertEqual(r["error"], 0, r)
            recs, _ = ft.read_partition_raw(c, HEALTH_TOPIC, 0, start=r["base_offset"], end=r["base_offset"] + 1)
            self.assertEqual([(x[0], x[2], x[3], x[4]) for x in recs],
                             [(r["base_offset"], b"h", value, [(b"x", b"y")])])
        self.assertAlive(self.n)

    def raw(self, timeout=30):
        s = socket.create_connection(("127.0.0.1", self.n.port), timeout=timeout)
        self.addCleanup(s.close)
        return s

    def assertClosedWithoutResponse(self, conn, what):
        closed = conn.wait_closed(60)
        self.assertTrue(closed, "%s: the server kept the connection open" % what)
        self.assertEqual(conn.discarded, b"", "%s: the server answered before closing" % what)

    # -- framing ---------------------------------------------------------------------------------------------
    def test_random_bytes(self):
        for seed in range(8):
            rng = random.Random(seed)
            data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096)))
            c = self.n.conn()
            try:
                c.send_raw(data)
                # Either the server closes, or it waits for the rest of a frame it believes in.
                c.wait_closed(1.5)
            except OSError:
                pass
            finally:
                c.close()
        self.assertServing()

    def test_random_body_with_valid_header(self):
        """A well-framed request of a known API and version whose body is garbage: the server closes or
        answers with an error; it does not crash."""
        with self.n.conn() as probe:
            apis = probe.api_versions(0)["apis"]
        rng = random.Random(42)
        for api_key, (lo, hi) in sorted(apis.items()):
            for version in sorted({lo, hi}):
                for size in (0, 1, 7, 64, 1000):
                    c = self.n.conn(timeout=30)
                    try:
                        body = bytes(rng.randrange(256) for _ in range(size))
                        corr = c.send(api_key, version, body)
                        if api_key in (ft.API_PRODUCE, ft.API_FETCH):
                            # Garbage may parse as acks=0 (no answer) or as a long-poll Fetch.
                            c.wait_closed(0.3)
                            continue
                        try:
                            got, _ = c.recv()
                            self.assertEqual(got, corr)
                        except ft.ConnectionClosed:
                            pass
                        except socket.timeout:
                            self.fail("no answer and no close for api %d v%d with a %d-byte garbage body" % (
                                api_key, version, size))
                    finally:
                        c.close()
            self.assertAlive(self.n)
        self.assertServing()

    def test_frame_length_2gib(self):
        c = self.n.conn()
        c.send_raw(struct.pack(">i", 0x7FFFFFFF) + b"\x00\x12\x00\x00" + b"x" * 100)
        self.assertClosedWithoutResponse(c, "frame length 0x7fffffff")
        c.close()
        self.assertServing()

    def test_frame_length_negative(self):
        for size in (-1, -0x80000000, -12345):
            c = self.n.conn()
            c.send_raw(struct.pack(">i", size) + b"\x00" * 32)
            self.assertClosedWithoutResponse(c, "frame length %d" % size)
            c.close()
        self.assertServing()

    def test_frame_length_zero_and_short_header(self):
        for payload in (b"", b"\x00", b"\x00\x12", b"\x00\x12\x00", b"\x00\x12\x00\x00\x00\x00\x00",
                        b"\x00\x12\x00\x00\x00\x00\x00\x01\x00\x10ab"):  # client id says 16 bytes, has 2
            c = self.n.conn()
            c.send_raw(struct.pack(">i", len(payload)) + payload)
            self.assertClosedWithoutResponse(c, "request frame %r" % payload)
            c.close()
        self.assertServing()

    def test_truncated_request_then_close(self):
        corr = 77
        frame = ft.make_frame(ft.API_METADATA, 1, ft.enc_metadata(1, None), corr)
        for cut in (2, 4, 6, 9, len(frame) - 1):
            for _ in range(5):
                s = self.raw()
                s.sendall(frame[:cut])
                s.close()
        # Many half-sent requests and a slow one completed later: the server still answers it.
        s = self.raw()
        s.sendall(frame[:7])
        time.sleep(0.5)
        s.sendall(frame[7:])
        c = ft.KafkaConn.__new__(ft.KafkaConn)
        c.sock, c.buf = s, b""
        got, _ = c.recv()
        self.assertEqual(got, corr)
        self.assertServing()

    # -- API keys and versions ------------------------------------------------------------------------------
    def test_unknown_api_key(self):
        for key in (9999, 0x7FFF, -1, 75, 200):
            c = self.n.conn()
            c.send(key, 0, b"\x00" * 16, header_version=1)
            self.assertClosedWithoutResponse(c, "api key %d" % key)
            c.close()
        self.assertServing()

    def test_unsupported_version_closes(self):
        with self.n.conn() as probe:
            apis = probe.api_versions(0)["apis"]
        for key in (ft.API_METADATA, ft.API_PRODUCE, ft.API_FETCH, ft.API_CREATE_TOPICS):
            self.assertIn(key, apis)
            for version in (apis[key][1] + 1, 99, -1):
                c = self.n.conn()
                c.send(key, version, b"\x00" * 32, header_version=1)
                self.assertClosedWithoutResponse(c, "api %d version %d" % (key, version))
                c.close()
        self.assertServing()

    def test_api_versions_unsupported_version_answers(self):
        with self.n.conn() as probe:
            lo, hi = probe.api_versions(0)["apis"][ft.API_API_VERSIONS]
        for version in (hi + 1, 99, 32767):
            c = self.n.conn()
            try:
                # What librdkafka does: a v2 request header, the v3 body.
                corr = c.send(ft.API_API_VERSIONS, version, ft.enc_api_versions(3), header_version=2)
                got, body = c.recv()
                self.assertEqual(got, corr)
                d = ft.dec_api_versions_v0_shape(body)
                self.assertEqual(d["error"], ft.E_UNSUPPORTED_VERSION, "ApiVersions v%d" % version)
                self.assertEqual(d["apis"].get(ft.API_API_VERSIONS), (lo, hi), "ApiVersions v%d: %r" % (version, d))
                # The connection stays usable: librdkafka retries on it with v0.
                self.assertEqual(c.api_versions(0)["error"], 0)
            finally:
                c.close()
        self.assertServing()

    # -- record batches --------------------------------------------------------------------------------------
    def log_end(self, topic):
        with self.n.conn() as c:
            r = c.list_offset(topic, 0, -1)
        self.assertEqual(r["error"], 0, r)
        return r["offset"]

    def produce_err(self, topic, records_bytes, version=7):
        with self.n.conn() as c:
            return c.produce(topic, 0, records_bytes, version=version)

    def test_produce_bad_crc(self):
        end = self.log_end("bad-crc")
        for version in (3, 7):
            bad = ft.build_batch([(b"k", b"corrupt me", [])], corrupt_crc=True)
            r = self.produce_err("bad-crc", bad, version)
            self.assertEqual(r["error"], ft.E_CORRUPT_MESSAGE, "Produce v%d with a bad CRC: %r" % (version, r))
            # A payload byte flipped after the CRC was computed.
            good = bytearray(ft.build_batch([(b"k", b"flip a byte in here", [])]))
            good[-5] ^= 0x01
            r = self.produce_err("bad-crc", bytes(good), version)
            self.assertEqual(r["error"], ft.E_CORRUPT_MESSAGE, "Produce v%d with a flipped byte: %r" % (version, r))
        self.assertEqual(self.log_end("bad-crc"), end, "a corrupt batch was appended")
        r = self.produce_err("bad-crc", ft.build_batch([(b"k", b"fine", [])]))
        self.assertEqual((r["error"], r["base_offset"]), (0, end))
        self.assertServing()

    def test_produce_malformed_batches(self):
        end = self.log_end("bad-crc")
        good = ft.build_batch([(b"k1", b"v1", []), (b"k2", b"v2", [])])
        cases = []
        # batchLength larger than the bytes sent
        b = bytearray(good)
        struct.pack_into(">i", b, 8, len(good) - 12 + 50)
        cases.append(("batchLength too large", bytes(b), {2, 87}))
        # batchLength smaller than the header
        b = bytearray(good)
        struct.pack_into(">i", b, 8, 20)
        cases.append(("batchLength too small", bytes(b), {2, 87}))
        # truncated in the middle of the header
        cases.append(("truncated header", good[:30], {2, 87}))
        # magic 1 (legacy) in a v7 Produce
        cases.append(("magic 1", ft.build_batch([(b"k", b"v", [])], magic=1), {2, 43, 87}))
        # magic 7 (unknown)
        cases.append(("magic 7", ft.build_batch([(b"k", b"v", [])], magic=7), {2, 43, 87}))
        # two batches in one Produce v3+
        cases.append(("two batches", good + good, {2, 87}))
        # the record count says 5, only 2 records follow (CRC recomputed, so only the count is wrong)
        b = bytearray(good)
        struct.pack_into(">i", b, 57, 5)
        struct.pack_into(">I", b, 17, ft.crc32c(bytes(b[21:])))
        cases.append(("record count 5 with 2 records", bytes(b), {2, 87}))
        # an empty records field
        cases.append(("empty records", b"", {2, 87}))
        for what, data, codes in cases:
            r = self.produce_err("bad-crc", data)
            self.assertIn(r["error"], codes, "%s: got error %d" % (what, r["error"]))
            self.assertAlive(self.n)
        self.assertEqual(self.log_end("bad-crc"), end, "a malformed batch was appended")
        with self.n.conn() as c:
            # A null records field.
            body = ft.enc_produce(7, 1, 30000, [("bad-crc", [(0, None)])])
            try:
                resp = ft.dec_produce(7, c.request(ft.API_PRODUCE, 7, body))
                self.assertNotEqual(resp[("bad-crc", 0)]["error"], 0, "null records accepted")
            except ft.ConnectionClosed:
                pass
        self.assertEqual(self.log_end("bad-crc"), end)
        self.assertServing()

    def test_unknown_topic_partition_offsets(self):
        with self.n.conn() as c:
            r = c.produce("bad-no-such-topic", 0, ft.build_batch([(b"k", b"v", [])]))
            self.assertEqual(r["error"], ft.E_UNKNOWN_TOPIC_OR_PARTITION, r)
            r = c.produce(HEALTH_TOPIC, 7, ft.build_batch([(b"k", b"v", [])]))
            self.assertEqual(r["error"], ft.E_UNKNOWN_TOPIC_OR_PARTITION, r)
            d = c.fetch("bad-no-such-topic", 0, 0, version=4)
            self.assertEqual(d["error"], ft.E_UNKNOWN_TOPIC_OR_PARTITION, d)
            self.assertEqual(d["records"], b"", "records must be empty bytes, not null")
            end = c.list_offset(HEALTH_TOPIC, 0, -1)["offset"]
            for version in (4, 11):
                d = c.fetch(HEALTH_TOPIC, 0, end + 1000, version=version)
                self.assertEqual(d["error"], ft.E_OFFSET_OUT_OF_RANGE, d)
                d = c.fetch(HEALTH_TOPIC, 0, -5, version=version)
                self.assertEqual(d["error"], ft.E_OFFSET_OUT_OF_RANGE, d)
            r = c.list_offset("bad-no-such-topic", 0, -1)
            self.assertEqual(r["error"], ft.E_UNKNOWN_TOPIC_OR_PARTITION, r)
        self.assertServing()

    # -- topic names -------------------------------------------------------------------------------------------
    def test_invalid_topic_names(self):
        bad = ["t" * 250, "t" * 1000, "bad name", "bad/name", "bad\\name", "bad:name", "bad*", "ümlaut", ".", "..",
               "", "tab\there", "nul\x00byte"]
        with self.n.conn() as c:
            for version in (0, 2, 4):
                res = c.create_topics([(name, 1, 1, {}) for name in bad], version=version)
                for name in bad:
                    self.assertIn(name, res, "no result for %r (v%d)" % (name, version))
                    self.assertEqual(res[name][0], ft.E_INVALID_TOPIC_EXCEPTION,
                                     "CreateTopics v%d of %r: %r" % (version, name[:60], res[name]))
            # A mixed request: the legal names are created, each illegal one gets its own error.
            ok = "b" * 249
            res = c.create_topics([(ok, 1, 1, {}), ("bad name 2", 1, 1, {}), ("bad-ok-2", 2, 1, {})])
            self.assertEqual({k: v[0] for k, v in res.items()},
                             {ok: 0, "bad name 2": ft.E_INVALID_TOPIC_EXCEPTION, "bad-ok-2": 0})
            md = c.metadata(None, version=1)
            names = {t["name"] for t in md["topics"]}
            self.assertIn(ok, names)
            self.assertIn("bad-ok-2", names)
            for name in bad + ["bad name 2"]:
                self.assertNotIn(name, names)
            # Metadata for an illegal name: INVALID_TOPIC_EXCEPTION, no auto-creation.
            md = c.metadata(["bad name 3"], version=4, allow_auto=True)
            self.assertEqual([(t["name"], t["error"]) for t in md["topics"]],
                             [("bad name 3", ft.E_INVALID_TOPIC_EXCEPTION)])
        ft.wait_topic(self.n, ok, 1)
        with self.n.conn() as c:
            r = c.produce(ok, 0, ft.build_batch([(None, b"long name works", [])]))
            self.assertEqual(r["error"], 0)
        self.assertServing()


class RecordValidationTest(ft.FerryTestCase):
    """Kafka's LogValidator walks every record of a produced batch, decompressing compressed ones: a batch
    whose CRC is right but whose records are broken is refused, never appended. Broken records get
    INVALID_RECORD; a payload that does not decompress, or an unknown codec, CORRUPT_MESSAGE."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.start_node(name="bad-records")
        with cls.n.conn() as c:
            assert c.create_topics([("recval", 1, 1, {})])["recval"][0] == 0
        ft.wait_topic(cls.n, "recval", 1)

    @staticmethod
    def recrc(b):
        struct.pack_into(">I", b, 17, ft.crc32c(bytes(b[21:])))
        return bytes(b)

    def test_produce_invalid_records_inside_batch(self):
        good = ft.build_batch([(b"k1", b"v1", []), (b"k2", b"v2", [])])
        cases = []
        b = bytearray(good)
        b[61] = 0x7E  # first record's length varint: 63, past the end of the batch
        cases.append(("record length past the end", self.recrc(b), ft.E_INVALID_RECORD))
        b = bytearray(good)
        b[-1] = 0x09  # last record's header count: -5
        cases.append(("negative header count", self.recrc(b), ft.E_INVALID_RECORD))
        b = bytearray(good)
        b[62] = 0x01  # first record's attributes: 1
        cases.append(("record attributes 1", self.recrc(b), ft.E_INVALID_RECORD))
        b = bytearray(good) + b"\x00"
        struct.pack_into(">i", b, 8, len(b) - 12)
        cases.append(("a byte after the last record", self.recrc(b), ft.E_INVALID_RECORD))
        # gzip attribute, payload that is not gzip (valid CRC)
        raw = bytearray(ft.build_batch([(b"k", b"v" * 50, [])]))
        raw[22] |= ft.CODEC_GZIP
        cases.append(("gzip flag on uncompressed records", self.recrc(raw), ft.E_CORRUPT_MESSAGE))
        # codec 5: no such codec
        raw = bytearray(ft.build_batch([(b"k", b"v", [])]))
        raw[22] |= 5
        cases.append(("codec 5", self.recrc(raw), ft.E_CORRUPT_MESSAGE))
        # gzip payload holding garbage records
        gz = zlib.compressobj(6, zlib.DEFLATED, 31)
        junk = gz.compress(b"\x7e" + b"\x01" * 10) + gz.flush()
        bad = bytearray(good[:61]) + junk
        struct.pack_into(">i", bad, 8, len(bad) - 12)
        struct.pack_into(">h", bad, 21, ft.CODEC_GZIP)
        cases.append(("gzip payload with broken records", self.recrc(bad), ft.E_INVALID_RECORD))
        # gzip payload cut short
        whole = ft.build_batch([(b"k%d" % i, b"value-%d" % i, [("h", b"x")]) for i in range(5)], codec=ft.CODEC_GZIP)
        cut = bytearray(whole[:-6])
        struct.pack_into(">i", cut, 8, len(cut) - 12)
        cases.append(("gzip payload cut short", self.recrc(cut), ft.E_CORRUPT_MESSAGE))
        with self.n.conn() as c:
            end = c.list_offset("recval", 0, -1)["offset"]
            wrong = []
            for what, data, code in cases:
                r = c.produce("recval", 0, data)
                if r["error"] != code:
                    wrong.append("%s: error %d, want %d" % (what, r["error"], code))
            self.assertEqual(wrong, [], "malformed records not refused as Kafka refuses them")
            self.assertEqual(c.list_offset("recval", 0, -1)["offset"], end, "a malformed batch was appended")
            # The same records, intact, are accepted and read back.
            r = c.produce("recval", 0, whole)
            self.assertEqual((r["error"], r["base_offset"]), (0, end), r)
            recs, _ = ft.read_partition_raw(c, "recval", 0, start=end, end=end + 5)
            self.assertEqual([(x[0], x[2], x[3], x[4]) for x in recs],
                             [(end + i, b"k%d" % i, b"value-%d" % i, [(b"h", b"x")]) for i in range(5)])
        self.assertAlive(self.n)


class CorruptSegmentTest(ft.FerryTestCase):
    """Damaged segment files found at start-up."""
    BATCHES = 100
    PER_BATCH = 5
    BAD = 60

    def value(self, b, r):
        return b"batch-%03d-record-%d-" % (b, r) + bytes([b, r]) * 40

    def fill(self, n, topic, partitions):
        with n.conn() as c:
            res = c.create_topics([(topic, partitions, 1, {})])
            self.assertEqual(res[topic][0], 0, res)
        ft.wait_topic(n, topic, partitions)
        with n.conn() as c:
            for p in range(partitions):
                for b in range(self.BATCHES):
                    recs = [(b"k%d" % r, self.value(b, r), [("b", b"%d" % b)]) for r in range(self.PER_BATCH)]
                    r = c.produce(topic, p, ft.build_batch(recs))
                    self.assertEqual((r["error"], r["base_offset"]), (0, b * self.PER_BATCH))

    def segment(self, n, topic, p):
        d = n.partition_dir(topic, p)
        self.assertTrue(os.path.isdir(d), "no partition directory %s (Kafka's layout: <log.dirs>/<topic>-<p>)" % d)
        path = os.path.join(d, "00000000000000000000.log")
        self.assertTrue(os.path.exists(path), "no first segment %s; directory holds %s" % (path, os.listdir(d)))
        with open(path, "rb") as f:
            data = f.read()
        batches = ft.parse_batches(data, decode=False)
        self.assertEqual(len(batches), self.BATCHES, "segment %s does not hold the %d batches" % (path, self.BATCHES))
        return path, data, batches

    def check_readable(self, n, topic, p, upto_batch, damaged_at=None):
        """Batches [0, upto_batch) read back byte-exact; every batch served up to the HWM is valid. With
        damaged_at, the batch of that index is refused with KAFKA_STORAGE_ERROR (56) and reading resumes
        after it."""
        with n.conn() as c:
            recs, batches = ft.read_partition_raw(c, topic, p, start=0, end=upto_batch * self.PER_BATCH)
            want = [(b * self.PER_BATCH + r, b"k%d" % r, self.value(b, r), [(b"b", b"%d" % b)])
                    for b in range(upto_batch) for r in range(self.PER_BATCH)]
            self.assertEqual([(x[0], x[2], x[3], x[4]) for x in recs], want)
            hwm = c.list_offset(topic, p, -1)["offset"]
            self.assertGreaterEqual(hwm, upto_batch * self.PER_BATCH)
            off = 0
            while off < hwm:
                d = c.fetch(topic, p, off, version=4)
                if damaged_at is not None and off == damaged_at * self.PER_BATCH:
                    self.assertEqual(d["error"], 56, "the damaged batch at %d must not be served: %r" % (off, d))
                    off += self.PER_BATCH
                    continue
                self.assertEqual(d["error"], 0, d)
                bs = ft.parse_batches(d["records"], decode=False)
                self.assertTrue(bs, "no batch served at offset %d (hwm %d)" % (off, hwm))
                for b in bs:
                    self.assertTrue(b.crc_ok, "the server serves a batch with a bad CRC at %d: %r" % (off, b))
                    if b.last_offset >= off:
                        self.assertLessEqual(b.base_offset, off)
                        off = b.last_offset + 1
            return hwm

    def run_case(self, crash):
        n = self.node(name="corrupt-%s" % ("kill9" if crash else "clean"))
        n.start()
        topic = "corrupt"
        self.fill(n, topic, 2)
        if crash:
            n.kill9()
        else:
            self.assertEqual(n.stop(), 0)
        # Partition 0: bytes flipped in the middle of batch BAD. Partition 1: the last batch torn in half.
        path0, data0, b0 = self.segment(n, topic, 0)
        start = sum(len(b.raw) for b in b0[:self.BAD])
        pos = start + 61 + (len(b0[self.BAD].raw) - 61) // 2
        damaged = bytearray(data0)
        for i in range(pos, pos + 8):
            damaged[i] ^= 0xFF
        with open(path0, "r+b") as f:
            f.write(damaged)
        path1, data1, b1 = self.segment(n, topic, 1)
        with open(path1, "r+b") as f:
            f.truncate(len(data1) - len(b1[-1].raw) // 2)
        log_before = len(n.log_text())

        n.start()
        self.assertAlive(n)
        if crash:
            # Recovery after a crash re-reads every segment: the damage is found, named, cut off (the
            # bytes kept aside in a .corrupt file) and the log continues from there.
            self.assert_log_names(n, log_before, path0)
            self.check_readable(n, topic, 0, self.BAD)
        else:
            # After a clean shutdown start-up trusts the segments, as Kafka does; the damage is found when
            # read: batches before it are served byte-exact, the damaged batch is never served (Kafka's
            # KAFKA_STORAGE_ERROR instead), batches after it still are, and the log names the segment.
            self.check_readable(n, topic, 0, self.BAD, damaged_at=self.BAD)
            self.assert_log_names(n, log_before, path0)
        self.check_readable(n, topic, 1, self.BATCHES - 1)
        # The partitions take new writes, readable where the server says they went.
        with n.conn() as c:
            for p in (0, 1):
                r = c.produce(topic, p, ft.build_batch([(b"new", b"after repair %d" % p, [])]))
                self.assertEqual(r["error"], 0, r)
                self.assertGreaterEqual(r["base_offset"], (self.BAD if p == 0 else self.BATCHES - 1) * self.PER_BATCH)
                recs, _ = ft.read_partition_raw(c, topic, p, start=r["base_offset"], end=r["base_offset"] + 1)
                self.assertEqual([x[3] for x in recs], [b"after repair %d" % p])
        # And the log survives one more clean restart, still never serving the damaged bytes.
        n.restart()
        self.check_readable(n, topic, 0, self.BAD, damaged_at=None if crash else self.BAD)

    def assert_log_names(self, n, log_before, path):
        text = n.log_text()[log_before:]
        lines = [l for l in text.splitlines() if "00000000000000000000.log" in l and "corrupt-0" in l]
        self.assertTrue(lines, "the server log does not name the damaged segment %s:\n%s" % (path, text[-3000:]))

    def test_corrupt_segment_after_crash(self):
        self.run_case(crash=True)

    def test_corrupt_segment_after_clean_stop(self):
        self.run_case(crash=False)


if __name__ == "__main__":
    ft.main()
