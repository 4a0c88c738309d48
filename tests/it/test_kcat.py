"""kcat (librdkafka 2.0.2) against Ferry: 100,000 keyed messages with headers per compression codec,
produced from a file and consumed back byte-exact; the batches stored really use the codec; kcat -L."""
import json
import os
import random
import unittest

import ferrytest as ft

N = int(os.environ.get("FERRY_IT_KCAT_N", "100000"))
PARTITIONS = 3
HEADERS = [("codec", None), ("run", "ferry-it")]  # codec header value filled per codec
FMT = "%p|%o|%K|%S|%h|%k%s\n"


def make_messages(seed):
    """N (key, value) pairs. Keys are unique; values are binary (NUL, high bytes, ':'), never '\\n' or '\\r'
    (kcat's line mode), of varied length, partly repetitive so that the codecs compress."""
    rng = random.Random(seed)
    alphabet = bytes([b for b in range(256) if b not in (10, 13)])
    words = [bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(64)]
    msgs = []
    for i in range(N):
        key = b"key-%07d" % i
        parts = [b"%07d:" % i]
        for _ in range(rng.randint(0, 12)):
            parts.append(rng.choice(words))
        msgs.append((key, b"".join(parts)))
    return msgs


def parse_kcat_output(out):
    """Parses FMT output: p|o|keylen|valuelen|headers|key value\\n, binary-safe by the lengths."""
    recs = []
    pos = 0
    n = len(out)
    while pos < n:
        fields = []
        for _ in range(5):
            j = out.index(b"|", pos)
            fields.append(out[pos:j])
            pos = j + 1
        p, o, kl, vl = (int(x) for x in fields[:4])
        key = None if kl < 0 else out[pos:pos + kl]
        pos += max(kl, 0)
        val = None if vl < 0 else out[pos:pos + vl]
        pos += max(vl, 0)
        if out[pos:pos + 1] != b"\n":
            raise AssertionError("kcat output out of sync at byte %d: %r" % (pos, out[pos - 40:pos + 40]))
        pos += 1
        recs.append((p, o, key, val, fields[4].decode()))
    return recs


class KcatTest(ft.FerryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.start_node(name="kcat")

    def roundtrip(self, codec, codec_id):
        topic = "kcat-%s" % codec
        ft.create_topic(self.n, topic, partitions=PARTITIONS)
        msgs = make_messages(codec_id + 1)
        path = os.path.join(self.n.dir, "%s.in" % topic)
        with open(path, "wb") as f:
            for k, v in msgs:
                f.write(k + b":" + v + b"\n")
        args = ["-P", "-b", self.n.bootstrap, "-t", topic, "-K:", "-H", "codec=%s" % codec, "-H", "run=ferry-it",
                "-z", codec, "-X", "linger.ms=50", "-X", "batch.num.messages=10000", "-X", "acks=all",
                "-X", "message.timeout.ms=120000", "-l", path]
        res = ft.run_kcat(args, timeout=400, text=True)
        self.assertEqual(res.returncode, 0, "kcat producer failed: %r" % res)
        self.assertNotIn("Delivery failed", res.stderr, res)
        self.assertNotIn("COMPRESSION", res.stderr, "librdkafka disabled compression: %s" % res.stderr)

        res = ft.run_kcat(["-C", "-b", self.n.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
                           "-f", FMT], timeout=400)
        self.assertEqual(res.returncode, 0, "kcat consumer failed: %r" % res)
        recs = parse_kcat_output(res.stdout)
        self.assertEqual(len(recs), N, "kcat read back %d messages, %d were produced" % (len(recs), N))

        expected = {k: (i, v) for i, (k, v) in enumerate(msgs)}
        want_headers = "codec=%s,run=ferry-it" % codec
        per_part = {}
        seen = set()
        for p, o, k, v, h in recs:
            self.assertIn(k, expected, "unknown key %r at %d/%d" % (k, p, o))
            self.assertNotIn(k, seen, "key %r read twice (%d/%d)" % (k, p, o))
            seen.add(k)
            i, ev = expected[k]
            if v != ev:
                self.fail("value of %r at %d/%d differs:\n got %r\nwant %r" % (k, p, o, v, ev))
            self.assertEqual(h, want_headers, "headers of %r at %d/%d" % (k, p, o))
            per_part.setdefault(p, []).append((o, i))
        self.assertEqual(set(per_part), set(range(PARTITIONS)), "messages should spread over all partitions")
        for p, lst in per_part.items():
            offs = [o for o, _ in lst]
            self.assertEqual(offs, list(range(len(lst))), "partition %d offsets are not 0..n-1 in order" % p)
            idx = [i for _, i in lst]
            self.assertEqual(idx, sorted(idx), "partition %d does not keep the produce order" % p)

        # The stored batches use the codec (librdkafka silently sends uncompressed when the broker's
        # advertised versions disable a codec), and their CRCs are intact.
        with self.n.conn() as c:
            for p in range(PARTITIONS):
                d = c.fetch(topic, p, 0, version=11, partition_max_bytes=128 * 1024, max_bytes=128 * 1024)
                self.assertEqual(d["error"], 0)
                self.assertEqual(d["hwm"], len(per_part[p]), "high watermark of partition %d" % p)
                bs = ft.parse_batches(d["records"] or b"", decode=False)
                self.assertTrue(bs, "Fetch of %s-%d at 0 returned no complete batch" % (topic, p))
                self.assertEqual(bs[0].base_offset, 0)
                for b in bs:
                    self.assertEqual(b.magic, 2)
                    self.assertTrue(b.crc_ok, "batch %r of %s-%d has a bad CRC" % (b, topic, p))
                    if b.record_count > 1 or b.codec != 0:  # a lone record may go uncompressed
                        self.assertEqual(b.codec, codec_id, "batch %r of %s-%d: codec %d, want %d (%s)" % (
                            b, topic, p, b.codec, codec_id, codec))
                for a, b in zip(bs, bs[1:]):
                    self.assertEqual(b.base_offset, a.last_offset + 1, "batches not contiguous")

    def test_none(self):
        self.roundtrip("none", ft.CODEC_NONE)

    def test_gzip(self):
        self.roundtrip("gzip", ft.CODEC_GZIP)

    def test_snappy(self):
        self.roundtrip("snappy", ft.CODEC_SNAPPY)

    def test_lz4(self):
        # librdkafka 2.0.2 only compresses with lz4 when FindCoordinator v0 is advertised; otherwise it
        # silently sends uncompressed batches, which the codec check in roundtrip() catches.
        self.roundtrip("lz4", ft.CODEC_LZ4)

    def test_zstd(self):
        self.roundtrip("zstd", ft.CODEC_ZSTD)

    def test_auto_created_topic(self):
        """A producer's Metadata request (allow_auto_topic_creation) creates a missing topic with the
        broker's defaults (auto.create.topics.enable is true by default, num.partitions 1)."""
        topic = "kcat-auto-created"
        lines = b"".join(b"auto-%d\n" % i for i in range(100))
        res = ft.run_kcat(["-P", "-b", self.n.bootstrap, "-t", topic, "-X", "message.timeout.ms=60000"],
                          input=lines, timeout=120)
        self.assertEqual(res.returncode, 0, res)
        res = ft.run_kcat(["-C", "-b", self.n.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
                           "-f", "%p %o %s\n"], timeout=120)
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stdout, b"".join(b"0 %d auto-%d\n" % (i, i) for i in range(100)))
        # A consumer's Metadata request does not create topics.
        res = ft.run_kcat(["-C", "-b", self.n.bootstrap, "-t", "kcat-never-created", "-o", "beginning", "-e",
                           "-m", "5", "-X", "topic.metadata.refresh.interval.ms=1000"], timeout=30 * 4)
        with self.n.conn() as c:
            md = c.metadata(None)
        self.assertNotIn("kcat-never-created", [t["name"] for t in md["topics"]])

    def test_metadata_listing(self):
        topic = "kcat-listing"
        ft.create_topic(self.n, topic, partitions=4)
        res = ft.run_kcat(["-L", "-J", "-b", self.n.bootstrap], timeout=120, text=True)
        self.assertEqual(res.returncode, 0, res)
        md = json.loads(res.stdout)
        brokers = {b["id"]: b["name"] for b in md["brokers"]}
        self.assertEqual(brokers, {1: self.n.bootstrap})
        self.assertEqual(md.get("controllerid"), 1)
        topics = {t["topic"]: t for t in md["topics"]}
        self.assertIn(topic, topics)
        t = topics[topic]
        self.assertNotIn("error", t, t)
        parts = sorted(t["partitions"], key=lambda p: p["partition"])
        self.assertEqual([p["partition"] for p in parts], [0, 1, 2, 3])
        for p in parts:
            self.assertEqual(p["leader"], 1, p)
            self.assertEqual([r["id"] for r in p["replicas"]], [1], p)
            self.assertEqual([r["id"] for r in p["isrs"]], [1], p)
        # Asking for one topic lists only that topic.
        res = ft.run_kcat(["-L", "-J", "-b", self.n.bootstrap, "-t", topic], timeout=120, text=True)
        self.assertEqual(res.returncode, 0, res)
        md = json.loads(res.stdout)
        self.assertEqual([t["topic"] for t in md["topics"]], [topic])


if __name__ == "__main__":
    ft.main()
