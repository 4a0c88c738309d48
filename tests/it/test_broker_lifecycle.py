"""The quorum controller's broker lifecycle on the controller listener, against one combined node: a
second broker (id 2, played by this test) registers with BrokerRegistration, is fenced until a
BrokerHeartbeat reports it caught up, is unfenced (listed by Metadata and DescribeCluster), is fenced
again when it stops heartbeating for broker.session.timeout.ms, and leaves with UnregisterBroker. The
node's own broker heartbeats in-process and is never fenced. Also: stale epochs, a foreign cluster id,
AllocateProducerIds, and a CreateTopics forwarded inside an Envelope (58) as a broker forwards it (with
Kafka's serialized principal; one that does not decode is refused)."""
import os
import struct
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ferrytest as ft  # noqa: E402

BROKER_REGISTRATION, BROKER_HEARTBEAT, UNREGISTER_BROKER = 62, 63, 64
ALLOCATE_PRODUCER_IDS, ENVELOPE, DESCRIBE_CLUSTER = 67, 58, 60
E_NOT_CONTROLLER, E_STALE_BROKER_EPOCH, E_INCONSISTENT_CLUSTER_ID = 41, 77, 104
E_INVALID_REGISTRATION, E_PRINCIPAL_DESERIALIZATION_FAILURE = 119, 97
SESSION_MS = 3000


def w():
    return ft.W()


def uuid_bytes(u):
    return u.bytes


def enc_registration(version, broker_id, cluster_id, incarnation, port, log_dir, prev_epoch=-1):
    b = w().i32(broker_id).compact_string(cluster_id).raw(uuid_bytes(incarnation))
    b.uvarint(2)  # one listener
    b.compact_string("PLAINTEXT").compact_string("127.0.0.1")
    b.raw(struct.pack(">H", port)).i16(0).tags()
    b.uvarint(2)  # one feature
    b.compact_string("metadata.version").i16(1).i16(19).tags()
    b.compact_string(None)  # rack
    if version >= 1:
        b.boolean(False)
    if version >= 2:
        b.uvarint(2).raw(log_dir.bytes)
    if version >= 3:
        b.i64(prev_epoch)
    return b.tags().getvalue()


def dec_registration(body):
    r = ft.R(body)
    r.i32()
    return r.i16(), r.i64()


def enc_heartbeat(broker_id, epoch, offset, want_fence=False, want_shutdown=False):
    return w().i32(broker_id).i64(epoch).i64(offset).boolean(want_fence).boolean(want_shutdown).tags().getvalue()


def dec_heartbeat(body):
    r = ft.R(body)
    r.i32()
    return {"error": r.i16(), "caught_up": r.boolean(), "fenced": r.boolean(), "shutdown": r.boolean()}


def describe_cluster_ids(conn):
    body = conn.request(DESCRIBE_CLUSTER, 0, w().boolean(False).tags().getvalue())
    r = ft.R(body)
    r.i32()
    assert r.i16() == 0
    r.compact_string()
    r.compact_string()
    r.i32()  # controller id
    ids = []
    for _ in range(r.uvarint() - 1):
        ids.append(r.i32())
        r.compact_string()
        r.i32()
        r.compact_string()
        r.tags()
    return sorted(ids)


class BrokerLifecycleTest(ft.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.n = self.node(overrides={"broker.session.timeout.ms": SESSION_MS,
                                      "broker.heartbeat.interval.ms": 500})
        self.n.start()
        self.ctl = ft.KafkaConn("127.0.0.1", self.n.controller_port, client_id="broker-2")
        self.client = self.n.conn()
        self.log_dir = uuid.uuid4()
        self.addCleanup(self.ctl.close)
        self.addCleanup(self.client.close)
        self.cluster_id = ft.dec_metadata(2, self.client.request(ft.API_METADATA, 2, ft.enc_metadata(2, [])))["cluster_id"]

    def metadata_ids(self):
        md = ft.dec_metadata(1, self.client.request(ft.API_METADATA, 1, ft.enc_metadata(1, [])))
        return sorted(b["node_id"] for b in md["brokers"])

    def register(self, version=3, incarnation=None, cluster_id=None):
        body = enc_registration(version, 2, cluster_id or self.cluster_id, incarnation or uuid.uuid4(), 19999,
                                self.log_dir)
        return dec_registration(self.ctl.request(BROKER_REGISTRATION, version, body))

    def heartbeat(self, epoch, offset, **kw):
        return dec_heartbeat(self.ctl.request(BROKER_HEARTBEAT, 1, enc_heartbeat(2, epoch, offset, **kw)))

    def test_register_unfence_fence_unregister(self):
        err, epoch = self.register()
        self.assertEqual(err, 0)
        self.assertGreater(epoch, 0)
        # registered, fenced: not listed
        self.assertEqual(self.metadata_ids(), [1])
        self.assertEqual(describe_cluster_ids(self.client), [1])
        # not caught up yet: stays fenced
        hb = self.heartbeat(epoch, epoch - 1)
        self.assertEqual((hb["error"], hb["caught_up"], hb["fenced"]), (0, False, True))
        # a stale epoch is refused
        self.assertEqual(self.heartbeat(epoch + 1000, epoch)["error"], E_STALE_BROKER_EPOCH)
        # caught up: unfenced, listed by both APIs
        hb = self.heartbeat(epoch, epoch)
        self.assertEqual((hb["error"], hb["caught_up"]), (0, True))
        ft.wait_until(lambda: self.metadata_ids() == [1, 2], timeout=30, what="broker 2 unfenced in Metadata")
        self.assertEqual(describe_cluster_ids(self.client), [1, 2])
        # a second registration of another incarnation while the session lives is a duplicate
        self.assertNotEqual(self.register(incarnation=uuid.uuid4())[0], 0)
        # silence: fenced within the session timeout (poll; the node's own broker stays)
        ft.wait_until(lambda: self.metadata_ids() == [1], timeout=60, what="broker 2 fenced after its session")
        self.assertEqual(describe_cluster_ids(self.client), [1])
        hb = self.heartbeat(epoch, epoch)
        self.assertEqual(hb["error"], 0)
        ft.wait_until(lambda: self.metadata_ids() == [1, 2], timeout=30, what="broker 2 unfenced again")
        # AllocateProducerIds with the broker's epoch: a block of 1000; with another epoch: refused
        r = ft.R(self.ctl.request(ALLOCATE_PRODUCER_IDS, 0, w().i32(2).i64(epoch).tags().getvalue()))
        r.i32()
        self.assertEqual((r.i16(), r.i64() >= 0, r.i32()), (0, True, 1000))
        r = ft.R(self.ctl.request(ALLOCATE_PRODUCER_IDS, 0, w().i32(2).i64(epoch + 7).tags().getvalue()))
        r.i32()
        self.assertEqual(r.i16(), E_STALE_BROKER_EPOCH)
        # UnregisterBroker: gone
        r = ft.R(self.ctl.request(UNREGISTER_BROKER, 0, w().i32(2).tags().getvalue()))
        r.i32()
        self.assertEqual(r.i16(), 0)
        ft.wait_until(lambda: self.metadata_ids() == [1], timeout=30, what="broker 2 unregistered")
        self.assertEqual(self.heartbeat(epoch, epoch)["error"], E_STALE_BROKER_EPOCH)
        # the node's own broker kept heartbeating all along: it is unfenced and serves admin writes
        topic = ft.unique("lifecycle")
        res = self.client.create_topics([(topic, 1, 1)])
        self.assertEqual(res[topic][0], 0, res)

    def test_registration_errors_and_versions(self):
        err, _ = self.register(cluster_id="AAAAAAAAAAAAAAAAAAAAAA")
        self.assertEqual(err, E_INCONSISTENT_CLUSTER_ID)
        inc = uuid.uuid4()
        # metadata.version 3.7-IV4: a registration must list its log directories (v2+), as Kafka 3.7
        for v in range(2):
            self.assertEqual(self.register(version=v, incarnation=inc)[0], E_INVALID_REGISTRATION, "v%d" % v)
        epochs = []
        for v in range(2, 4):
            err, epoch = self.register(version=v, incarnation=inc)
            self.assertEqual(err, 0, "v%d" % v)
            epochs.append(epoch)
        self.assertEqual(epochs, sorted(epochs))
        self.assertEqual(self.heartbeat(epochs[0], epochs[-1])["error"], E_STALE_BROKER_EPOCH)

    def test_envelope_forwards_create_topics(self):
        topic = ft.unique("forwarded")
        inner = ft.make_frame(ft.API_CREATE_TOPICS, 4,
                              ft.enc_create_topics(4, [(topic, 2, 1)]),
                              4242, client_id="a-client")[4:]
        # RequestPrincipal: User:ANONYMOUS as Kafka's DefaultKafkaPrincipalBuilder serializes it
        anonymous = b"\x00\x00\x05User\x0aANONYMOUS\x00\x00"
        body = w().uvarint(len(inner) + 1).raw(inner).uvarint(len(anonymous) + 1).raw(anonymous)
        body = body.uvarint(len(b"\x7f\x00\x00\x01") + 1).raw(b"\x7f\x00\x00\x01").tags().getvalue()
        r = ft.R(self.ctl.request(ENVELOPE, 0, body))
        n = r.uvarint() - 1
        data = r.raw(n)
        self.assertEqual(r.i16(), 0)
        corr = struct.unpack(">i", data[:4])[0]
        self.assertEqual(corr, 4242)
        res = ft.dec_create_topics(4, data[4:])
        self.assertEqual(res[topic][0], 0, res)
        ft.wait_topic(self.n, topic, 2)
        # an inner request the controller does not serve: the Envelope's own error
        inner = ft.make_frame(ft.API_METADATA, 1, ft.enc_metadata(1, []), 7)[4:]
        body = w().uvarint(len(inner) + 1).raw(inner).uvarint(0).uvarint(5).raw(b"\x7f\x00\x00\x01")
        r = ft.R(self.ctl.request(ENVELOPE, 0, body.tags().getvalue()))
        self.assertEqual(r.uvarint(), 0)  # null ResponseData
        self.assertEqual(r.i16(), ft.E_INVALID_REQUEST)
        # a principal that does not decode (version 1): the Envelope's own error, as from Kafka
        body = w().uvarint(len(inner) + 1).raw(inner).uvarint(len(anonymous) + 1).raw(b"\x00\x01" + anonymous[2:])
        body = body.uvarint(5).raw(b"\x7f\x00\x00\x01").tags().getvalue()
        r = ft.R(self.ctl.request(ENVELOPE, 0, body))
        self.assertEqual(r.uvarint(), 0)  # null ResponseData
        self.assertEqual(r.i16(), E_PRINCIPAL_DESERIALIZATION_FAILURE)


if __name__ == "__main__":
    ft.main()
