#!/usr/bin/python3
"""golden_zkrpc.py: golden byte vectors for the controller-to-broker RPCs of legacy (ZooKeeper) mode.

Run by hand, from anywhere:

    /usr/bin/python3 scripts/golden_zkrpc.py

and commit what it writes, tests/unit/golden/zkrpc_vectors.inc, read by tests/unit/test_zkrpc_golden.c.
The test suite never runs this script. The output is deterministic.

The bytes come from the small encoder below, written from the Kafka protocol guide
(https://kafka.apache.org/protocol, "Protocol Primitive Types", KIP-482 for compact types and tagged
fields) and the Kafka 3.7 message schemas (LeaderAndIsrRequest.json, UpdateMetadataRequest.json, ...);
it shares no code with Ferry's codec (broker/proto/proto_codec.c) nor with scripts/gen-golden.py.
Vectors are message bodies only (no request/response header): the headers are covered by
test_proto_golden.c.

Messages: LeaderAndIsr request v7 and response v7 (and response v4, the last layout with topic names),
UpdateMetadata request v8 and response v8, StopReplica request v4 and response v4, ControlledShutdown
request and response v3, AlterPartition request and response v0-3; and the client admin requests a
legacy-mode broker gives its ZooKeeper-mode controller: ElectLeaders request and response v0-2,
AlterPartitionReassignments and ListPartitionReassignments request and response v0.

Field values are distinct and non-default (several array elements, empty next to non-empty arrays, a null
rack, a non-default tagged field, uuids with every byte different) so that a field read at the wrong place
or with the wrong type changes a value the C test asserts. The expected values are written out again in
test_zkrpc_golden.c: keep the two in step.
"""
import os
import struct

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
OUT = os.path.join(ROOT, 'tests', 'unit', 'golden', 'zkrpc_vectors.inc')


class Out:
    """Appends Kafka primitives; `flex` selects compact (KIP-482) lengths."""

    def __init__(self, flex):
        self.flex = flex
        self.b = bytearray()

    def i8(self, v):
        self.b += struct.pack('>b', v)
        return self

    def boolean(self, v):
        return self.i8(1 if v else 0)

    def i16(self, v):
        self.b += struct.pack('>h', v)
        return self

    def i32(self, v):
        self.b += struct.pack('>i', v)
        return self

    def i64(self, v):
        self.b += struct.pack('>q', v)
        return self

    def uvar(self, v):
        while v >= 0x80:
            self.b.append((v & 0x7f) | 0x80)
            v >>= 7
        self.b.append(v)
        return self

    def uuid(self, v):
        assert len(v) == 16
        self.b += v
        return self

    def string(self, s, nullable=False):
        if s is None:
            assert nullable
            if self.flex:
                return self.uvar(0)
            return self.i16(-1)
        raw = s.encode('utf-8')
        if self.flex:
            self.uvar(len(raw) + 1)
        else:
            self.i16(len(raw))
        self.b += raw
        return self

    def array(self, items, put):
        if self.flex:
            self.uvar(len(items) + 1)
        else:
            self.i32(len(items))
        for it in items:
            put(self, it)
        return self

    def ints(self, values):
        return self.array(values, lambda o, v: o.i32(v))

    def tags(self, fields=()):
        """A tag buffer: fields is a list of (tag, raw bytes), sorted by tag."""
        if not self.flex:
            return self
        self.uvar(len(fields))
        for tag, raw in fields:
            self.uvar(tag).uvar(len(raw))
            self.b += raw
        return self


def uuid_bytes(first):
    return bytes((first + 17 * i) & 0xff for i in range(16))


TOPIC_A = uuid_bytes(0x11)
TOPIC_B = uuid_bytes(0x42)

# ---- LeaderAndIsr (LeaderAndIsrRequest.json, flexible 4+) ----


def lisr_partition(o, p):
    o.i32(p['index']).i32(p['ctrl_epoch']).i32(p['leader']).i32(p['leader_epoch']).ints(p['isr'])
    o.i32(p['partition_epoch']).ints(p['replicas']).ints(p['adding']).ints(p['removing'])
    o.boolean(p['is_new']).i8(p['recovery']).tags()


LISR_PARTS_A = [
    dict(index=0, ctrl_epoch=21, leader=1, leader_epoch=7, isr=[1, 2, 3], partition_epoch=13,
         replicas=[1, 2, 3], adding=[], removing=[], is_new=False, recovery=0),
    dict(index=5, ctrl_epoch=22, leader=3, leader_epoch=9, isr=[3], partition_epoch=31,
         replicas=[3, 1, 4], adding=[4], removing=[1], is_new=True, recovery=1),
]
LISR_PARTS_B = [
    dict(index=2, ctrl_epoch=23, leader=-1, leader_epoch=0, isr=[], partition_epoch=0,
         replicas=[2], adding=[], removing=[], is_new=True, recovery=0),
]


def leader_and_isr_req_v7():
    o = Out(True)
    o.i32(3000).boolean(True).i32(21).i64(4294967301).i8(2)

    def topic(o, t):
        o.string(t[0]).uuid(t[1]).array(t[2], lisr_partition).tags()
    o.array([('orders', TOPIC_A, LISR_PARTS_A), ('payments.eu', TOPIC_B, LISR_PARTS_B)], topic)
    o.array([(1, 'broker-1.example', 9092), (3, 'b3', 19093)],
            lambda o, l: o.i32(l[0]).string(l[1]).i32(l[2]).tags())
    return o.tags().b


def leader_and_isr_resp_v7():
    o = Out(True)
    o.i16(0)

    def topic(o, t):
        o.uuid(t[0]).array(t[1], lambda o, p: o.i32(p[0]).i16(p[1]).tags()).tags()
    o.array([(TOPIC_A, [(0, 0), (5, 11)]), (TOPIC_B, [(2, 103)])], topic)
    return o.tags().b


def named_partition_errors(rows):
    """ErrorCode 0 and [TopicName, PartitionIndex, ErrorCode]: LeaderAndIsr response v4, StopReplica v4."""
    o = Out(True)
    o.i16(0)
    o.array(rows, lambda o, p: o.string(p[0]).i32(p[1]).i16(p[2]).tags())
    return o.tags().b


def leader_and_isr_resp_v4():
    return named_partition_errors([('orders', 0, 0), ('orders', 5, 74), ('payments.eu', 2, 3)])

# ---- UpdateMetadata (UpdateMetadataRequest.json, flexible 6+; Type is tag 0 from v8) ----


def update_metadata_req_v8():
    o = Out(True)
    o.i32(3000).boolean(False).i32(22).i64(4294967302)

    def part(o, p):
        o.i32(p[0]).i32(p[1]).i32(p[2]).i32(p[3]).ints(p[4]).i32(p[5]).ints(p[6]).ints(p[7]).tags()

    def topic(o, t):
        o.string(t[0]).uuid(t[1]).array(t[2], part).tags()
    o.array([('orders', TOPIC_A, [(0, 21, 1, 7, [1, 2], 13, [1, 2, 3], [3]),
                                  (1, 22, -2, 8, [], 14, [2, 1], [])])], topic)

    def endpoint(o, e):
        o.i32(e[0]).string(e[1]).string(e[2]).i16(e[3]).tags()

    def broker(o, b):
        o.i32(b[0]).array(b[1], endpoint).string(b[2], nullable=True).tags()
    o.array([(1, [(9092, 'broker-1.example', 'PLAINTEXT', 0), (9093, 'broker-1.example', 'SSL_INT', 1)],
              'rack-a'),
             (2, [(29092, '10.0.0.2', 'PLAINTEXT', 0)], None)], broker)
    return o.tags([(0, bytes([2]))]).b


def update_metadata_resp_v8():
    return Out(True).i16(77).tags().b

# ---- StopReplica (StopReplicaRequest.json, flexible 2+) ----


def stop_replica_req_v4():
    o = Out(True)
    o.i32(3000).boolean(True).i32(23).i64(4294967303)

    def topic(o, t):
        o.string(t[0]).array(t[1], lambda o, p: o.i32(p[0]).i32(p[1]).boolean(p[2]).tags()).tags()
    o.array([('orders', [(0, 7, True), (5, -2, False)]), ('payments.eu', [(2, -1, True)])], topic)
    return o.tags().b


def stop_replica_resp_v4():
    return named_partition_errors([('orders', 0, 0), ('orders', 5, 74), ('payments.eu', 2, 56)])

# ---- ControlledShutdown (ControlledShutdownRequest.json, flexible 3+) ----


def controlled_shutdown_req(v):
    """BrokerId; BrokerEpoch from v2; flexible from v3."""
    o = Out(v >= 3).i32(2)
    if v >= 2:
        o.i64(4294967304)
    if v >= 3:
        o.tags()
    return o.b


def controlled_shutdown_resp(v):
    o = Out(v >= 3)
    o.i16(0)

    def part(o, p):
        o.string(p[0]).i32(p[1])
        if v >= 3:
            o.tags()
    o.array([('orders', 5), ('payments.eu', 2)], part)
    if v >= 3:
        o.tags()
    return o.b

# ---- AlterPartition (AlterPartitionRequest.json, flexible 0+) ----


def alter_partition_topic(v, part):
    """AlterPartition's TopicData: the name up to v1, the topic id from v2, then the partitions."""
    def topic(o, t):
        if v <= 1:
            o.string(t[0])
        else:
            o.uuid(t[1])
        o.array(t[2], part).tags()
    return topic


def alter_partition_req(v):
    o = Out(True)
    o.i32(1).i64(4294967305)

    def part(o, p):
        o.i32(p[0]).i32(p[1])
        if v <= 2:
            o.ints(p[2])
        else:
            o.array([(b, 100 + b) for b in p[2]], lambda o, s: o.i32(s[0]).i64(s[1]).tags())
        if v >= 1:
            o.i8(p[3])
        o.i32(p[4]).tags()

    o.array([('orders', TOPIC_A, [(0, 7, [1, 2], 0, 13), (5, 9, [3, 4], 1, 31)]),
             ('payments.eu', TOPIC_B, [(2, 1, [2], 0, 4)])], alter_partition_topic(v, part))
    return o.tags().b


def alter_partition_resp(v):
    o = Out(True)
    o.i32(17).i16(0)

    def part(o, p):
        o.i32(p[0]).i16(p[1]).i32(p[2]).i32(p[3]).ints(p[4])
        if v >= 1:
            o.i8(p[5])
        o.i32(p[6]).tags()

    o.array([('orders', TOPIC_A, [(0, 0, 1, 7, [1, 2], 0, 14), (5, 58, 3, 9, [3], 1, 31)])],
            alter_partition_topic(v, part))
    return o.tags().b


# ---- ElectLeaders (ElectLeadersRequest.json, flexible 2+) ----


def elect_leaders_req(v):
    o = Out(v >= 2)
    if v >= 1:
        o.i8(1)  # UNCLEAN
    o.array([('orders', [2, 0]), ('payments.eu', [])], lambda o, t: o.string(t[0]).ints(t[1]).tags())
    return o.i32(45000).tags().b


def elect_leaders_resp(v):
    o = Out(v >= 2)
    o.i32(12)
    if v >= 1:
        o.i16(41)

    def part(o, p):
        o.i32(p[0]).i16(p[1]).string(p[2], nullable=True).tags()
    o.array([('orders', [(2, 0, None), (0, 84, 'no election needed')])],
            lambda o, t: o.string(t[0]).array(t[1], part).tags())
    return o.tags().b


# ---- AlterPartitionReassignments, ListPartitionReassignments (flexible 0+) ----


def alter_reassignments_req():
    o = Out(True)
    o.i32(30000)

    def part(o, p):
        o.i32(p[0])
        if p[1] is None:
            o.uvar(0)  # null: cancel
        else:
            o.ints(p[1])
        o.tags()
    o.array([('orders', [(0, [4, 5, 6]), (3, None)]), ('payments.eu', [(1, [])])],
            lambda o, t: o.string(t[0]).array(t[1], part).tags())
    return o.tags().b


def alter_reassignments_resp():
    o = Out(True)
    o.i32(7).i16(0).string(None, nullable=True)

    def part(o, p):
        o.i32(p[0]).i16(p[1]).string(p[2], nullable=True).tags()
    o.array([('orders', [(0, 0, None), (3, 85, 'no reassignment')])],
            lambda o, t: o.string(t[0]).array(t[1], part).tags())
    return o.tags().b


def list_reassignments_req(null_topics):
    o = Out(True)
    o.i32(30000)
    if null_topics:
        o.uvar(0)
    else:
        o.array([('orders', [0, 3]), ('payments.eu', [])], lambda o, t: o.string(t[0]).ints(t[1]).tags())
    return o.tags().b


def list_reassignments_resp():
    o = Out(True)
    o.i32(3).i16(0).string(None, nullable=True)

    def part(o, p):
        o.i32(p[0]).ints(p[1]).ints(p[2]).ints(p[3]).tags()
    o.array([('orders', [(0, [4, 5, 1, 2], [4, 5], [1, 2]), (3, [7], [], [])])],
            lambda o, t: o.string(t[0]).array(t[1], part).tags())
    return o.tags().b


VECTORS = [
    # (name, api key, version, response?, bytes)
    ('leader_and_isr_req_v7', 4, 7, 0, leader_and_isr_req_v7()),
    ('leader_and_isr_resp_v7', 4, 7, 1, leader_and_isr_resp_v7()),
    ('leader_and_isr_resp_v4', 4, 4, 1, leader_and_isr_resp_v4()),
    ('update_metadata_req_v8', 6, 8, 0, update_metadata_req_v8()),
    ('update_metadata_resp_v8', 6, 8, 1, update_metadata_resp_v8()),
    ('stop_replica_req_v4', 5, 4, 0, stop_replica_req_v4()),
    ('stop_replica_resp_v4', 5, 4, 1, stop_replica_resp_v4()),
] + [('controlled_shutdown_req_v%d' % v, 7, v, 0, controlled_shutdown_req(v)) for v in range(4)] \
  + [('controlled_shutdown_resp_v%d' % v, 7, v, 1, controlled_shutdown_resp(v)) for v in range(4)] \
  + [('alter_partition_req_v%d' % v, 56, v, 0, alter_partition_req(v)) for v in range(4)] \
  + [('alter_partition_resp_v%d' % v, 56, v, 1, alter_partition_resp(v)) for v in range(4)] \
  + [('elect_leaders_req_v%d' % v, 43, v, 0, elect_leaders_req(v)) for v in range(3)] \
  + [('elect_leaders_resp_v%d' % v, 43, v, 1, elect_leaders_resp(v)) for v in range(3)] \
  + [('alter_reassignments_req_v0', 45, 0, 0, alter_reassignments_req()),
     ('alter_reassignments_resp_v0', 45, 0, 1, alter_reassignments_resp()),
     ('list_reassignments_req_v0', 46, 0, 0, list_reassignments_req(False)),
     ('list_reassignments_req_v0_all', 46, 0, 0, list_reassignments_req(True)),
     ('list_reassignments_resp_v0', 46, 0, 1, list_reassignments_resp())]


def c_bytes(b):
    lines = []
    for i in range(0, len(b), 16):
        lines.append('    ' + ', '.join('0x%02x' % x for x in b[i:i + 16]) + ',')
    return '\n'.join(lines)


def main():
    parts = ['/* Generated by scripts/golden_zkrpc.py: do not edit. Message bodies (no header) encoded by an\n'
             ' * encoder independent of Ferry\'s codec, from the Kafka 3.7 schemas. */\n',
             'struct zkrpc_golden {\n    const char *name;\n    int16_t api_key;\n    int16_t version;\n'
             '    int response;\n    const uint8_t *bytes;\n    size_t len;\n};\n']
    for name, _, _, _, b in VECTORS:
        parts.append('\nstatic const uint8_t zg_%s[] = {\n%s\n};\n' % (name, c_bytes(b)))
    parts.append('\nstatic const struct zkrpc_golden zkrpc_goldens[] = {\n')
    for name, key, v, resp, _ in VECTORS:
        parts.append('    {"%s", %d, %d, %d, zg_%s, sizeof zg_%s},\n' % (name, key, v, resp, name, name))
    parts.append('};\n')
    text = ''.join(parts)
    with open(OUT, 'w') as f:
        f.write(text)
    print('wrote %s (%d vectors)' % (os.path.relpath(OUT, ROOT), len(VECTORS)))


if __name__ == '__main__':
    main()
