"""The network layer: pipelined requests answered in order, acks=0 without a response, Fetch long polls
(woken by a produce from another connection, empty after max_wait, parking later requests), many and
abandoned connections, socket.request.max.bytes and connections.max.idle.ms."""
import socket
import struct
import threading
import time
import unittest

import ferrytest as ft


def batch(value, key=b"k"):
    return ft.build_batch([(key, value, [])])


class NetworkTest(ft.FerryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.start_node(name="network")
        with cls.n.conn() as c:
            res = c.create_topics([("net-pipe", 1, 1, {}), ("net-acks0", 1, 1, {}), ("net-poll", 1, 1, {}),
                                   ("net-park", 1, 1, {}), ("net-min", 1, 1, {}), ("net-conns", 1, 1, {})])
        assert all(e == 0 for e, _ in res.values()), res
        for t in res:
            ft.wait_topic(cls.n, t, 1)

    def test_pipelining_in_order(self):
        kinds = [
            (ft.API_API_VERSIONS, 0, ft.enc_api_versions(0), lambda b: ft.dec_api_versions(0, b)),
            (ft.API_METADATA, 1, ft.enc_metadata(1, ["net-pipe"]), lambda b: ft.dec_metadata(1, b)),
            (ft.API_API_VERSIONS, 3, ft.enc_api_versions(3), lambda b: ft.dec_api_versions(3, b)),
            (ft.API_METADATA, 4, ft.enc_metadata(4, None), lambda b: ft.dec_metadata(4, b)),
            (ft.API_LIST_OFFSETS, 1, ft.enc_list_offsets(1, [("net-pipe", [(0, -1)])]),
             lambda b: ft.dec_list_offsets(1, b)),
        ]
        with self.n.conn() as c:
            frames = []
            expect = []
            for i in range(150):  # answered in one loop turn: more than one writev's worth (64 responses)
                key, ver, body, dec = kinds[i % len(kinds)]
                corr = 100000 + i * 7919  # not sequential: the server must echo, not count
                frames.append(ft.make_frame(key, ver, body, corr))
                expect.append((corr, key, ver, dec))
            c.send_raw(b"".join(frames))
            for corr, key, ver, dec in expect:
                got, payload = c.recv()
                self.assertEqual(got, corr, "responses out of request order")
                dec(payload)  # parses completely

            # Pipelined produces get their offsets in request order.
            frames = [ft.make_frame(ft.API_PRODUCE, 7, ft.enc_produce(7, 1, 30000, [("net-pipe", [(0, batch(b"p%d" % i))])]),
                                    5000 + i) for i in range(50)]
            c.send_raw(b"".join(frames))
            offs = []
            for i in range(50):
                got, payload = c.recv()
                self.assertEqual(got, 5000 + i)
                r = ft.dec_produce(7, payload)[("net-pipe", 0)]
                self.assertEqual(r["error"], 0)
                offs.append(r["base_offset"])
            self.assertEqual(offs, list(range(offs[0], offs[0] + 50)))
            recs, _ = ft.read_partition_raw(c, "net-pipe", 0, start=offs[0], end=offs[0] + 50)
            self.assertEqual([r[3] for r in recs], [b"p%d" % i for i in range(50)])

    def test_backpressure_bounds_what_a_non_reading_client_costs(self):
        """A client pipelines 2000 Fetch requests, each answered with about 256 KiB, and reads nothing.
        Without backpressure the broker would read them all and hold ~500 MiB of responses; it stops
        reading the connection once 16 MiB of responses (or 100 requests) wait, so its memory stays
        bounded. Once the client reads, every response arrives, in order and complete."""
        topic = "net-bp"
        with self.n.conn() as c:
            self.assertEqual(c.create_topics([(topic, 1, 1, {})])[topic][0], 0)
            ft.wait_topic(self.n, topic, 1)
            for i in range(16):
                self.assertEqual(c.produce(topic, 0, batch(bytes([65 + i]) * 16384))["error"], 0)
        body = ft.enc_fetch(4, [(topic, [(0, 0)])], max_wait_ms=0, partition_max_bytes=1 << 20)
        requests = 2000
        rss_before = self.rss_kib()
        c = self.n.conn()
        self.addCleanup(c.close)
        sender = threading.Thread(target=lambda: c.send_raw(b"".join(
            ft.make_frame(ft.API_FETCH, 4, body, 30000 + i) for i in range(requests))))
        sender.daemon = True
        sender.start()
        time.sleep(3)  # let the broker read whatever it is going to read
        grown = self.rss_kib() - rss_before
        self.assertLess(grown, 128 * 1024, "broker grew by %d KiB holding responses nobody reads" % grown)
        for i in range(requests):
            corr, payload = c.recv()
            self.assertEqual(corr, 30000 + i, "responses out of order")
            if i % 500 == 0:
                part = ft.dec_fetch(4, payload)["parts"][(topic, 0)]
                self.assertEqual(part["error"], 0)
                self.assertEqual(len(ft.parse_batches(part["records"])), 16)
        sender.join(ft.IO_TIMEOUT)
        self.assertFalse(sender.is_alive())

    def rss_kib(self):
        with open("/proc/%d/status" % self.n.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for the broker")

    def test_acks0_no_response(self):
        with self.n.conn() as c:
            start = c.list_offset("net-acks0", 0, -1)["offset"]
            frames = [ft.make_frame(ft.API_PRODUCE, 7, ft.enc_produce(7, 0, 30000, [("net-acks0", [(0, batch(b"a0-%d" % i))])]),
                                    900 + i) for i in range(10)]
            frames.append(ft.make_frame(ft.API_API_VERSIONS, 0, b"", 999))
            c.send_raw(b"".join(frames))
            got, _ = c.recv()
            self.assertEqual(got, 999, "an acks=0 Produce was answered (correlation id %d)" % got)
            # The requests are handled in order, so the writes are in the log by now (poll anyway).
            ft.wait_until(lambda: c.list_offset("net-acks0", 0, -1)["offset"] == start + 10, 30,
                          what="10 acks=0 records in the log")
            recs, _ = ft.read_partition_raw(c, "net-acks0", 0, start=start, end=start + 10)
            self.assertEqual([r[3] for r in recs], [b"a0-%d" % i for i in range(10)])
            # A bad acks=0 produce is not answered either; the connection may be closed, but then a fresh one works.
            c.send(ft.API_PRODUCE, 7, ft.enc_produce(7, 0, 30000, [("net-acks0", [(0, ft.build_batch([(b"k", b"x", [])], corrupt_crc=True))])]))
            try:
                corr = c.send(ft.API_API_VERSIONS, 0, b"")
                got, _ = c.recv()
                self.assertEqual(got, corr)
            except (ft.ConnectionClosed, OSError):
                pass
        with self.n.conn() as c:
            self.assertEqual(c.list_offset("net-acks0", 0, -1)["offset"], start + 10)

    def test_fetch_long_poll_wakes_on_produce(self):
        for version in (4, 11):
            with self.n.conn() as a, self.n.conn() as b:
                hwm = a.list_offset("net-poll", 0, -1)["offset"]
                corr = a.send(ft.API_FETCH, version, ft.enc_fetch(version, [("net-poll", [(0, hwm)])],
                                                                   max_wait_ms=30000, min_bytes=1))
                time.sleep(1.0)  # let the server park it
                r = b.produce("net-poll", 0, batch(b"wake-up-%d" % version))
                self.assertEqual((r["error"], r["base_offset"]), (0, hwm))
                a.settimeout(90)
                got, payload = a.recv()
                self.assertEqual(got, corr)
                d = ft.dec_fetch(version, payload)["parts"][("net-poll", 0)]
                self.assertEqual(d["error"], 0)
                recs = [rec for bt in ft.parse_batches(d["records"]) for rec in (bt.records or [])]
                self.assertEqual([(x[0], x[3]) for x in recs], [(hwm, b"wake-up-%d" % version)],
                                 "the long poll did not return the record produced meanwhile")
                self.assertEqual(d["hwm"], hwm + 1)

    def test_fetch_long_poll_expires_empty(self):
        with self.n.conn(timeout=90) as c:
            hwm = c.list_offset("net-poll", 0, -1)["offset"]
            for version in (4, 11):
                d = c.fetch("net-poll", 0, hwm, version=version, max_wait_ms=700)
                self.assertEqual(d["error"], 0)
                self.assertEqual(d["records"], b"", "an empty Fetch must carry empty records, not null")
                self.assertEqual(d["hwm"], hwm)
                self.assertEqual(d["lso"], hwm)
                if version >= 5:
                    self.assertEqual(d["log_start"], 0)
                self.assertIn(d["aborted"], (None, []))

    def test_parked_fetch_delays_later_requests_in_order(self):
        with self.n.conn(timeout=90) as c:
            hwm = c.list_offset("net-park", 0, -1)["offset"]
            f = ft.make_frame(ft.API_FETCH, 11, ft.enc_fetch(11, [("net-park", [(0, hwm)])], max_wait_ms=1500), 41)
            m = ft.make_frame(ft.API_METADATA, 1, ft.enc_metadata(1, []), 42)
            v = ft.make_frame(ft.API_API_VERSIONS, 0, b"", 43)
            c.send_raw(f + m + v)
            self.assertEqual([c.recv()[0] for _ in range(3)], [41, 42, 43])

    def test_fetch_min_bytes_returns_what_exists_after_max_wait(self):
        with self.n.conn(timeout=90) as c:
            r = c.produce("net-min", 0, batch(b"small"))
            d = c.fetch("net-min", 0, r["base_offset"], version=11, max_wait_ms=1000, min_bytes=10 * 1024 * 1024)
            recs = [x for bt in ft.parse_batches(d["records"]) for x in (bt.records or [])]
            self.assertEqual([x[3] for x in recs], [b"small"])

    def test_fetch_several_partitions_answers_each_once(self):
        with self.n.conn(timeout=90) as c:
            c.produce("net-min", 0, batch(b"x"))
            body = ft.enc_fetch(11, [("net-min", [(0, 0)]), ("net-pipe", [(0, 0)]), ("net-acks0", [(0, 0)])],
                                max_wait_ms=100)
            d = ft.dec_fetch(11, c.request(ft.API_FETCH, 11, body))
            self.assertEqual(sorted(d["order"]), [("net-acks0", 0), ("net-min", 0), ("net-pipe", 0)])

    def test_many_and_abandoned_connections(self):
        socks = []
        try:
            for i in range(150):
                c = self.n.conn(timeout=60)
                socks.append(c)
                if i % 3 == 0:
                    self.assertEqual(c.api_versions(i % 4)["error"], 0)
            # Half of them go away abruptly (RST), some with a parked fetch or a half-sent request.
            hwm = socks[0].list_offset("net-conns", 0, -1)["offset"]
            for i, c in enumerate(socks):
                if i % 2:
                    continue
                if i % 4 == 0:
                    c.send(ft.API_FETCH, 11, ft.enc_fetch(11, [("net-conns", [(0, hwm)])], max_wait_ms=3000))
                elif i % 4 == 2:
                    c.send_raw(ft.make_frame(ft.API_METADATA, 1, ft.enc_metadata(1, None), 1)[:9])
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
            # Wake the parked fetches of closed connections.
            with self.n.conn() as w:
                self.assertEqual(w.produce("net-conns", 0, batch(b"wake"))["error"], 0)
            for i, c in enumerate(socks):
                if i % 2:
                    self.assertEqual(c.api_versions(0)["error"], 0, "connection %d" % i)
        finally:
            for c in socks:
                c.close()
        time.sleep(3.5)  # let the parked fetches of the closed connections expire
        self.assertAlive(self.n)
        with self.n.conn() as c:
            r = c.produce("net-conns", 0, batch(b"after"))
            self.assertEqual(r["error"], 0)
            recs, _ = ft.read_partition_raw(c, "net-conns", 0, start=r["base_offset"], end=r["base_offset"] + 1)
            self.assertEqual([x[3] for x in recs], [b"after"])


class LimitsTest(ft.FerryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = cls.start_node(name="limits", overrides={"socket.request.max.bytes": "1024",
                                                         "connections.max.idle.ms": "4000"})
        with cls.n.conn() as c:
            res = c.create_topics([("lim", 1, 1, {})])
        assert res["lim"][0] == 0, res
        ft.wait_topic(cls.n, "lim", 1)

    def test_request_too_large_closes_only_that_connection(self):
        with self.n.conn() as a:
            self.assertEqual(a.api_versions(0)["error"], 0)
            big = ft.make_frame(ft.API_PRODUCE, 7, ft.enc_produce(7, 1, 30000, [("lim", [(0, batch(b"x" * 2000))])]), 5)
            self.assertGreater(len(big) - 4, 1024)
            b = self.n.conn()
            try:
                b.send_raw(big)
            except OSError:
                pass
            self.assertTrue(b.wait_closed(60), "a %d-byte request was not refused" % (len(big) - 4))
            self.assertEqual(b.discarded, b"")
            b.close()
            # Only the size prefix: refused without waiting for the body.
            b = self.n.conn()
            b.send_raw(struct.pack(">i", 100 * 1024 * 1024))
            self.assertTrue(b.wait_closed(60), "a 100 MiB size prefix was not refused")
            b.close()
            # The other connection is untouched, and a request just under the limit passes.
            self.assertEqual(a.api_versions(0)["error"], 0)
            small = batch(b"y" * 700)
            r = a.produce("lim", 0, small)
            self.assertEqual(r["error"], 0, r)
            recs, _ = ft.read_partition_raw(a, "lim", 0, start=r["base_offset"], end=r["base_offset"] + 1)
            self.assertEqual([x[3] for x in recs], [b"y" * 700])
        self.assertAlive(self.n)

    def test_idle_connection_closed(self):
        idle = self.n.conn(timeout=90)
        busy = self.n.conn(timeout=90)
        try:
            self.assertEqual(idle.api_versions(0)["error"], 0)
            self.assertEqual(busy.api_versions(0)["error"], 0)
            deadline = time.monotonic() + 60
            closed = False
            while time.monotonic() < deadline and not closed:
                # The busy connection talks every half second and must survive.
                self.assertEqual(busy.api_versions(0)["error"], 0, "an active connection was closed")
                closed = idle.wait_closed(0.5)
            self.assertTrue(closed, "an idle connection survived 60 s with connections.max.idle.ms=4000")
            self.assertEqual(idle.discarded, b"")
            for _ in range(8):
                time.sleep(0.5)
                self.assertEqual(busy.api_versions(1)["error"], 0, "an active connection was closed")
        finally:
            idle.close()
            busy.close()
        self.assertAlive(self.n)


if __name__ == "__main__":
    ft.main()
