#!/usr/bin/python3
"""gen-golden.py: generates Ferry's golden wire vectors from sources independent of Ferry's own codec.

Run by hand, from anywhere, with Debian's interpreter (python3-kafka 2.0.2 lives there):

    /usr/bin/python3 scripts/gen-golden.py

and commit what it writes:

    tests/unit/golden/golden_vectors.inc   request/response frames (header + body, no size prefix) for every
                                           (api, version) the broker advertises, read by test_proto_golden.c
    tests/unit/golden/record_batches.inc   record batches built by kafka-python, their expected records,
                                           and CRC-32C answers, read by test_proto_batch.c
    tests/fuzz/corpus/fuzz_request/        seed inputs for tests/fuzz/fuzz_request.c (request frames)
    tests/fuzz/corpus/fuzz_record_batch/   seed inputs for tests/fuzz/fuzz_record_batch.c (records blobs)

The test suite never runs this script: the outputs are committed, so the tests need neither kafka-python nor
anything outside the repository. The output is deterministic (gzip's mtime is pinned), so re-running it
must give no diff unless this script changed.

Where the bytes come from:
  * kafka-python 2.0.2's protocol classes (kafka.protocol.*) encode every non-flexible version they have:
    Produce v0-7, Fetch v0-11, ListOffsets v0-2, Metadata v0-5, ApiVersions v0-2, CreateTopics v0-3,
    DeleteTopics v0-3, DescribeConfigs v0-2, AlterConfigs v0-1, CreatePartitions v0-1, and the classic
    request header v1. Record batches come from kafka.record (DefaultRecordBatchBuilder for magic 2,
    LegacyRecordBatchBuilder for the magic 0/1 message sets of old Produce/Fetch versions).
    Two kafka-python bugs are worked around: DescribeConfigsResponse_v1 declares config_source as Boolean
    (the Kafka schema says int8, as in its own v2 class), so v1 is encoded with the v2 schema, which has
    the same wire layout in Kafka 3.7; and FetchRequest v7-11 declare forgotten_topics_data.topic as the
    String class instead of an instance (see kp_fix).
  * Everything kafka-python lacks (CreateTopics v4, ApiVersions v3, IncrementalAlterConfigs v0-1,
    DescribeCluster v0, InitProducerId v0-4, request header v2, response headers) is encoded by the
    small encoder below,
    written from the Kafka protocol guide (https://kafka.apache.org/protocol) and the Kafka 3.7 message
    schemas: classic and compact (KIP-482) strings, bytes and arrays, unsigned varints, tag buffers.
    Where both sources can encode the same bytes, the script checks that they agree (see self_check).

The field values are chosen to be distinct and non-default (several array elements, null next to empty
strings, real record batches, tagged fields), so that a field read at the wrong place or with the wrong
type changes a value that test_proto_golden.c asserts. Those expected values are written out again by hand
in test_proto_golden.c; keep the two in step.
"""
import gzip
import os
import struct
import sys
import time

import kafka.protocol.admin as kadmin
import kafka.protocol.commit as kcommit
import kafka.protocol.fetch as kfetch
import kafka.protocol.metadata as kmetadata
import kafka.protocol.offset as koffset
import kafka.protocol.produce as kproduce
from kafka.protocol.api import RequestHeader
from kafka.protocol.types import Array, Schema, String
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.legacy_records import LegacyRecordBatchBuilder
from kafka.record.util import calc_crc32c

import golden_groups  # noqa: E402 (scripts/, beside this file)

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
GOLDEN_DIR = os.path.join(ROOT, 'tests', 'unit', 'golden')
CORPUS_DIR = os.path.join(ROOT, 'tests', 'fuzz', 'corpus')

# ---------------------------------------------------------------------------------------------------
# The independent encoder (Kafka protocol guide, "Protocol Primitive Types" and KIP-482).
# A schema is a list of fields: (name, type) or ('tag', number, name, type). A type is one of the
# strings below, ('[]', elem) for an array, ('n[]', elem) for a nullable array, or a list of fields
# for a struct. Tagged fields are written only when their name is present in the value dict; a value
# dict may also carry '_unknown_tags': [(tag, raw bytes)] to simulate fields from a newer version.
# ---------------------------------------------------------------------------------------------------


def uvarint(n):
    assert n >= 0
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7f) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def zigzag_varint(n):
    return uvarint((n << 1) ^ (n >> 63))


def enc(t, v, flex):
    if isinstance(t, list):
        return enc_struct(t, v, flex)
    if isinstance(t, tuple):
        kind, elem = t
        if v is None:
            assert kind == 'n[]', 'null for a non-nullable array'
            return uvarint(0) if flex else struct.pack('>i', -1)
        head = uvarint(len(v) + 1) if flex else struct.pack('>i', len(v))
        return head + b''.join(enc(elem, e, flex) for e in v)
    if t == 'int8':
        return struct.pack('>b', v)
    if t == 'bool':
        return struct.pack('>b', 1 if v else 0)
    if t == 'int16':
        return struct.pack('>h', v)
    if t == 'int32':
        return struct.pack('>i', v)
    if t == 'int64':
        return struct.pack('>q', v)
    if t == 'uuid':
        assert len(v) == 16
        return bytes(v)
    if t in ('string', 'nstring'):
        if v is None:
            assert t == 'nstring', 'null for a non-nullable string'
            return uvarint(0) if flex else struct.pack('>h', -1)
        b = v.encode('utf-8')
        return (uvarint(len(b) + 1) if flex else struct.pack('>h', len(b))) + b
    if t in ('bytes', 'nbytes'):
        if v is None:
            assert t == 'nbytes', 'null for non-nullable bytes'
            return uvarint(0) if flex else struct.pack('>i', -1)
        return (uvarint(len(v) + 1) if flex else struct.pack('>i', len(v))) + bytes(v)
    raise ValueError('unknown type %r' % (t,))


def enc_struct(fields, d, flex):
    out = bytearray()
    tagged = []
    for f in fields:
        if f[0] == 'tag':
            _, tag, name, t = f
            assert flex, 'tagged field in a non-flexible version'
            if name in d:
                tagged.append((tag, enc(t, d[name], flex)))
            continue
        name, t = f
        out += enc(t, d[name], flex)
    if flex:
        tagged += list(d.get('_unknown_tags', []))
        tagged.sort()
        out += uvarint(len(tagged))
        for tag, raw in tagged:
            out += uvarint(tag) + uvarint(len(raw)) + raw
    return bytes(out)


def request_header(api_key, version, corr, client_id, hv, header_tags=()):
    """Request header v1 (classic) or v2 (v1 plus a tag buffer; client_id stays a classic string)."""
    out = struct.pack('>hhi', api_key, version, corr) + enc('nstring', client_id, False)
    if hv >= 2:
        out += uvarint(len(header_tags))
        for tag, raw in header_tags:
            out += uvarint(tag) + uvarint(len(raw)) + raw
    return out


def response_header(corr, hv):
    """Response header v0 (correlation id) or v1 (plus an empty tag buffer)."""
    return struct.pack('>i', corr) + (b'\x00' if hv >= 1 else b'')


# Schemas for what kafka-python lacks, from the Kafka 3.7 message definitions.
CREATE_TOPICS_REQ_V4 = [
    ('Topics', ('[]', [
        ('Name', 'string'), ('NumPartitions', 'int32'), ('ReplicationFactor', 'int16'),
        ('Assignments', ('[]', [('PartitionIndex', 'int32'), ('BrokerIds', ('[]', 'int32'))])),
        ('Configs', ('[]', [('Name', 'string'), ('Value', 'nstring')])),
    ])),
    ('timeoutMs', 'int32'),
    ('validateOnly', 'bool'),
]
CREATE_TOPICS_RESP_V4 = [
    ('ThrottleTimeMs', 'int32'),
    ('Topics', ('[]', [('Name', 'string'), ('ErrorCode', 'int16'), ('ErrorMessage', 'nstring')])),
]
API_VERSIONS_REQ_V3 = [('ClientSoftwareName', 'string'), ('ClientSoftwareVersion', 'string')]
API_VERSIONS_RESP_V3 = [
    ('ErrorCode', 'int16'),
    ('ApiKeys', ('[]', [('ApiKey', 'int16'), ('MinVersion', 'int16'), ('MaxVersion', 'int16')])),
    ('ThrottleTimeMs', 'int32'),
    ('tag', 0, 'SupportedFeatures', ('[]', [('Name', 'string'), ('MinVersion', 'int16'), ('MaxVersion', 'int16')])),
    ('tag', 1, 'FinalizedFeaturesEpoch', 'int64'),
    ('tag', 2, 'FinalizedFeatures', ('[]', [('Name', 'string'), ('MaxVersionLevel', 'int16'),
                                           ('MinVersionLevel', 'int16')])),
    ('tag', 3, 'ZkMigrationReady', 'bool'),
]
# The classic ApiVersions shapes, to check this encoder against kafka-python.
API_VERSIONS_RESP_V0 = API_VERSIONS_RESP_V3[:2]
API_VERSIONS_RESP_V1 = API_VERSIONS_RESP_V3[:3]
INCREMENTAL_ALTER_CONFIGS_REQ = [
    ('Resources', ('[]', [
        ('ResourceType', 'int8'), ('ResourceName', 'string'),
        ('Configs', ('[]', [('Name', 'string'), ('ConfigOperation', 'int8'), ('Value', 'nstring')])),
    ])),
    ('ValidateOnly', 'bool'),
]
INCREMENTAL_ALTER_CONFIGS_RESP = [
    ('ThrottleTimeMs', 'int32'),
    ('Responses', ('[]', [('ErrorCode', 'int16'), ('ErrorMessage', 'nstring'), ('ResourceType', 'int8'),
                          ('ResourceName', 'string')])),
]
# kafka-python 2.0.2's GroupCoordinatorResponse_v1 lacks Kafka's leading ThrottleTimeMs: encoded here.
FIND_COORDINATOR_RESP_V1 = [
    ('ThrottleTimeMs', 'int32'), ('ErrorCode', 'int16'), ('ErrorMessage', 'nstring'), ('NodeId', 'int32'),
    ('Host', 'string'), ('Port', 'int32'),
]
DESCRIBE_CLUSTER_REQ_V0 = [('IncludeClusterAuthorizedOperations', 'bool')]
DESCRIBE_CLUSTER_RESP_V0 = [
    ('ThrottleTimeMs', 'int32'), ('ErrorCode', 'int16'), ('ErrorMessage', 'nstring'), ('ClusterId', 'string'),
    ('ControllerId', 'int32'),
    ('Brokers', ('[]', [('BrokerId', 'int32'), ('Host', 'string'), ('Port', 'int32'), ('Rack', 'nstring')])),
    ('ClusterAuthorizedOperations', 'int32'),
]
# InitProducerId: kafka-python 2.0.2 has no class for it (no kafka.protocol.init_producer_id).
INIT_PRODUCER_ID_REQ_V0 = [('TransactionalId', 'nstring'), ('TransactionTimeoutMs', 'int32')]
INIT_PRODUCER_ID_REQ_V3 = INIT_PRODUCER_ID_REQ_V0 + [('ProducerId', 'int64'), ('ProducerEpoch', 'int16')]
INIT_PRODUCER_ID_RESP = [('ThrottleTimeMs', 'int32'), ('ErrorCode', 'int16'), ('ProducerId', 'int64'),
                         ('ProducerEpoch', 'int16')]

# ---------------------------------------------------------------------------------------------------
# kafka-python helpers
# ---------------------------------------------------------------------------------------------------


def kp_tuple(schema, d):
    """Turns a dict keyed by kafka-python field names into the positional tuples its Schema encodes.
    Keys the schema does not have are ignored, so one dict can serve every version."""
    if isinstance(schema, Schema):
        return tuple(kp_tuple(f, d[n]) for n, f in zip(schema.names, schema.fields))
    if isinstance(schema, Array):
        if d is None:
            return None
        return [kp_tuple(schema.array_of, e) for e in d]
    return d


def kp_fix(schema):
    """kafka-python 2.0.2 declares FetchRequest v7-11 forgotten_topics_data.topic as the bare String class,
    which cannot encode (kafka-python itself only ever sends that array empty). An instance has the same
    wire format."""
    if schema is String:
        return String('utf-8')
    if isinstance(schema, Schema):
        return Schema(*[(n, kp_fix(f)) for n, f in zip(schema.names, schema.fields)])
    if isinstance(schema, Array):
        return Array(kp_fix(schema.array_of))
    return schema


def kp_encode(cls, d, schema=None):
    schema = kp_fix(schema or cls.SCHEMA)
    return schema.encode(kp_tuple(schema, d))


# ---------------------------------------------------------------------------------------------------
# Record batches (kafka-python)
# ---------------------------------------------------------------------------------------------------

TS0 = 1700000000000  # base timestamp of every batch (ms)


def gzip_pinned(fn):
    """Runs fn with time.time pinned, so that gzip headers (mtime) are reproducible."""
    real = time.time
    time.time = lambda: 1700000000.0
    try:
        return fn()
    finally:
        time.time = real


def v2_batch(records, compression=0, transactional=False, pid=-1, epoch=-1, seq=-1, base_offset=0,
             leader_epoch=0):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=compression, is_transactional=transactional,
                                  producer_id=pid, producer_epoch=epoch, base_sequence=seq,
                                  batch_size=1 << 20)
    for i, (ts, key, value, headers) in enumerate(records):
        assert b.append(i, timestamp=ts, key=key, value=value, headers=headers) is not None
    out = bytearray(gzip_pinned(b.build))
    # baseOffset and partitionLeaderEpoch are outside the CRC: the broker rewrites them as Kafka does.
    out[0:8] = struct.pack('>q', base_offset)
    out[12:16] = struct.pack('>i', leader_epoch)
    return bytes(out)


def legacy_set(magic, records, base_offset=0):
    b = LegacyRecordBatchBuilder(magic=magic, compression_type=0, batch_size=1 << 20)
    for i, (ts, key, value) in enumerate(records):
        assert b.append(base_offset + i, timestamp=ts if magic else None, key=key, value=value) is not None
    return bytes(b.build())


# Records of the batches below: (timestamp, key, value, headers).
RECS_ORDERS = [
    (TS0, b'order-1', b'{"sku":"A-100","qty":2}', [('trace-id', b'4bf92f35'), ('source', b'web')]),
    (TS0 + 5, None, b'value-without-key', []),
    (TS0 + 3, b'order-3', None, [('tombstone', None)]),
    (TS0 + 12, b'', b'', []),
]
RECS_AUDIT = [
    (TS0 + 100, b'u1', b'login', []),
    (TS0 + 250, b'u2', b'logout', [('ip', b'10.0.0.7')]),
]
RECS_GZIP = [(TS0 + i, b'k%d' % i, b'compressible value ' * 8 + b'%d' % i, []) for i in range(5)]
RECS_BUILDER = [  # also built by rb_builder in test_proto_batch.c: the two must be byte-identical
    (TS0, b'key-a', b'value-a', []),
    (TS0 + 7, None, b'value-b', []),
    (TS0 + 2, b'key-c', None, []),
]

BATCH_ORDERS = v2_batch(RECS_ORDERS)
BATCH_AUDIT = v2_batch(RECS_AUDIT, pid=4242, epoch=3, seq=17)
BATCH_GZIP = v2_batch(RECS_GZIP, compression=1)
BATCH_TXN = v2_batch(RECS_AUDIT, transactional=True, pid=777, epoch=1, seq=0)
BATCH_BUILDER = v2_batch(RECS_BUILDER, base_offset=42, leader_epoch=5)
# A Fetch response's records: two batches at their log offsets, then a partial batch cut by max_bytes.
FETCH_BLOB = (v2_batch(RECS_ORDERS, base_offset=100, leader_epoch=4) +
              v2_batch(RECS_AUDIT, base_offset=104, leader_epoch=4, pid=4242, epoch=3, seq=17) +
              v2_batch(RECS_GZIP, base_offset=106, leader_epoch=4, compression=1)[:70])
LEGACY_RECS = [(TS0, b'k0', b'legacy-0'), (TS0 + 1, None, b'legacy-1')]
MSGSET_V0 = legacy_set(0, LEGACY_RECS)
MSGSET_V1 = legacy_set(1, LEGACY_RECS)
FETCH_MSGSET_V0 = legacy_set(0, LEGACY_RECS, base_offset=100)
FETCH_MSGSET_V1 = legacy_set(1, LEGACY_RECS, base_offset=100)


def produce_records(v, which):
    if v <= 1:
        return MSGSET_V0
    if v == 2:
        return MSGSET_V1
    return BATCH_ORDERS if which == 0 else BATCH_AUDIT


def fetch_records(v):
    if v <= 1:
        return FETCH_MSGSET_V0
    if v <= 3:
        return FETCH_MSGSET_V1
    return FETCH_BLOB


# ---------------------------------------------------------------------------------------------------
# Message values. Keep in step with the check_* functions in tests/unit/test_proto_golden.c.
# ---------------------------------------------------------------------------------------------------

CLIENT_KP = 'kafka-python-2.0.2'
CLUSTER_ID = 'Ferry-cluster-id-01'
UUID_A = bytes(range(0x10, 0x20))


def produce_request(v):
    return {
        'transactional_id': 'tx-ferry' if v % 2 == 1 else None,  # v3, v5, v7: a string; v4, v6: null
        'required_acks': -1,
        'timeout': 30000,
        'topics': [
            {'topic': 'orders', 'partitions': [
                {'partition': 0, 'messages': produce_records(v, 0)},
                {'partition': 3, 'messages': produce_records(v, 1)},
            ]},
            {'topic': 'audit', 'partitions': [{'partition': 1, 'messages': None}]},
        ],
    }


def produce_response(v):
    return {
        'topics': [
            {'topic': 'orders', 'partitions': [
                {'partition': 0, 'error_code': 0, 'offset': 1000, 'timestamp': -1, 'log_start_offset': 10},
                {'partition': 3, 'error_code': 0, 'offset': 2000, 'timestamp': TS0 + 123,
                 'log_start_offset': 20},
            ]},
            {'topic': 'audit', 'partitions': [
                {'partition': 1, 'error_code': 6, 'offset': -1, 'timestamp': -1, 'log_start_offset': -1},
            ]},
        ],
        'throttle_time_ms': 250,
    }


def fetch_request(v):
    return {
        'replica_id': -1,
        'max_wait_time': 500,
        'min_bytes': 1,
        'max_bytes': 52428800,
        'isolation_level': 1,
        'session_id': 0x12345,
        'session_epoch': 7,
        'topics': [
            {'topic': 'orders', 'partitions': [
                {'partition': 0, 'current_leader_epoch': 4, 'offset': 100, 'fetch_offset': 100,
                 'log_start_offset': -1, 'max_bytes': 1048576},
                {'partition': 3, 'current_leader_epoch': -1, 'offset': 7, 'fetch_offset': 7,
                 'log_start_offset': 2, 'max_bytes': 65536},
            ]},
            {'topic': 'audit', 'partitions': [
                {'partition': 1, 'current_leader_epoch': 9, 'offset': 0, 'fetch_offset': 0,
                 'log_start_offset': -1, 'max_bytes': 1024},
            ]},
        ],
        'forgotten_topics_data': [{'topic': 'old-topic', 'partitions': [2, 5]}],
        'rack_id': 'rack-a',
    }


def fetch_response(v):
    return {
        'throttle_time_ms': 17,
        'error_code': 0,
        'session_id': 0x12345,
        'topics': [
            {'topics': 'orders', 'partitions': [
                {'partition': 0, 'error_code': 0, 'highwater_offset': 110, 'last_stable_offset': 108,
                 'log_start_offset': 0, 'aborted_transactions': [
                     {'producer_id': 4242, 'first_offset': 101}, {'producer_id': 4343, 'first_offset': 105}],
                 'preferred_read_replica': -1, 'message_set': fetch_records(v)},
                {'partition': 3, 'error_code': 1, 'highwater_offset': 7, 'last_stable_offset': 7,
                 'log_start_offset': 2, 'aborted_transactions': None, 'preferred_read_replica': 2,
                 'message_set': b''},
            ]},
        ],
    }


def list_offsets_request(v):
    return {
        'replica_id': -1,
        'isolation_level': 1,
        'topics': [
            {'topic': 'orders', 'partitions': [
                {'partition': 0, 'timestamp': -1, 'max_offsets': 1},
                {'partition': 3, 'timestamp': -2, 'max_offsets': 5},
            ]},
            {'topic': 'audit', 'partitions': [{'partition': 1, 'timestamp': TS0, 'max_offsets': 2}]},
        ],
    }


def list_offsets_response(v):
    return {
        'throttle_time_ms': 33,
        'topics': [
            {'topic': 'orders', 'partitions': [
                {'partition': 0, 'error_code': 0, 'offsets': [110, 0], 'timestamp': -1, 'offset': 110},
                {'partition': 3, 'error_code': 3, 'offsets': [], 'timestamp': TS0 + 9, 'offset': 42},
            ]},
        ],
    }


def metadata_request(v, variant=''):
    topics = ['orders', 'audit', '__consumer_offsets']
    if variant == 'all_topics':
        topics = None if v >= 1 else []
    return {'topics': topics, 'allow_auto_topic_creation': False}


def metadata_response(v):
    return {
        'throttle_time_ms': 9,
        'brokers': [
            {'node_id': 1, 'host': 'broker1.example', 'port': 9092, 'rack': 'rack-a'},
            {'node_id': 2, 'host': '10.0.0.2', 'port': 19092, 'rack': None},
        ],
        'cluster_id': CLUSTER_ID,
        'controller_id': 2,
        'topics': [
            {'error_code': 0, 'topic': 'orders', 'is_internal': False, 'partitions': [
                {'error_code': 0, 'partition': 0, 'leader': 1, 'replicas': [1, 2], 'isr': [1, 2],
                 'offline_replicas': []},
                {'error_code': 9, 'partition': 3, 'leader': 2, 'replicas': [2, 1, 3], 'isr': [2],
                 'offline_replicas': [3]},
            ]},
            {'error_code': 5, 'topic': 'audit', 'is_internal': False, 'partitions': []},
            {'error_code': 0, 'topic': '__consumer_offsets', 'is_internal': True, 'partitions': [
                {'error_code': 0, 'partition': 0, 'leader': 1, 'replicas': [1], 'isr': [1],
                 'offline_replicas': []},
            ]},
        ],
    }


# The ranges advertised in ApiVersions responses (a sample, not Ferry's table).
API_VERSION_RANGES = [(0, 0, 7), (1, 0, 11), (3, 0, 5), (18, 0, 3), (60, 0, 0)]


def api_versions_response(v):
    return {'error_code': 0, 'throttle_time_ms': 5,
            'api_versions': [{'api_key': k, 'min_version': lo, 'max_version': hi}
                             for k, lo, hi in API_VERSION_RANGES]}


def api_versions_response_kafka_names(v, tagged):
    d = {'ErrorCode': 0, 'ThrottleTimeMs': 5,
         'ApiKeys': [{'ApiKey': k, 'MinVersion': lo, 'MaxVersion': hi} for k, lo, hi in API_VERSION_RANGES]}
    if tagged:
        d.update({
            'SupportedFeatures': [{'Name': 'metadata.version', 'MinVersion': 1, 'MaxVersion': 19},
                                  {'Name': 'kraft.version', 'MinVersion': 0, 'MaxVersion': 1}],
            'FinalizedFeaturesEpoch': 123456789012,
            'FinalizedFeatures': [{'Name': 'metadata.version', 'MaxVersionLevel': 19, 'MinVersionLevel': 19}],
            'ZkMigrationReady': True,
        })
    return d


def create_topics_request(v):
    return {
        'create_topic_requests': [
            {'topic': 'new-topic', 'num_partitions': 3, 'replication_factor': 2, 'replica_assignment': [],
             'configs': [{'config_key': 'cleanup.policy', 'config_value': 'compact'},
                         {'config_key': 'retention.ms', 'config_value': None}]},
            {'topic': 'assigned', 'num_partitions': -1, 'replication_factor': -1,
             'replica_assignment': [{'partition_id': 0, 'replicas': [1, 2]},
                                    {'partition_id': 1, 'replicas': [2, 3]}],
             'configs': []},
        ],
        'timeout': 15000,
        'validate_only': True,
    }


def create_topics_request_kafka_names(v):
    d = create_topics_request(v)
    return {
        'Topics': [{'Name': t['topic'], 'NumPartitions': t['num_partitions'],
                    'ReplicationFactor': t['replication_factor'],
                    'Assignments': [{'PartitionIndex': a['partition_id'], 'BrokerIds': a['replicas']}
                                    for a in t['replica_assignment']],
                    'Configs': [{'Name': c['config_key'], 'Value': c['config_value']} for c in t['configs']]}
                   for t in d['create_topic_requests']],
        'timeoutMs': d['timeout'], 'validateOnly': d['validate_only'],
    }


def create_topics_response(v):
    return {
        'throttle_time_ms': 12,
        'topic_errors': [
            {'topic': 'new-topic', 'error_code': 0, 'error_message': None},
            {'topic': 'assigned', 'error_code': 36, 'error_message': "Topic 'assigned' already exists."},
        ],
    }


def create_topics_response_kafka_names(v):
    d = create_topics_response(v)
    return {'ThrottleTimeMs': d['throttle_time_ms'],
            'Topics': [{'Name': t['topic'], 'ErrorCode': t['error_code'], 'ErrorMessage': t['error_message']}
                       for t in d['topic_errors']]}


def delete_topics_request(v):
    return {'topics': ['t1', 'orders-old', ''], 'timeout': 30000}


def delete_topics_response(v):
    return {'throttle_time_ms': 44,
            'topic_error_codes': [{'topic': 't1', 'error_code': 0}, {'topic': 'orders-old', 'error_code': 3},
                                  {'topic': '', 'error_code': 17}]}


def describe_configs_request(v):
    return {'resources': [
        {'resource_type': 2, 'resource_name': 'orders', 'config_names': ['retention.ms', 'cleanup.policy']},
        {'resource_type': 4, 'resource_name': '1', 'config_names': None},
    ], 'include_synonyms': True}


def describe_configs_response(v):
    return {'throttle_time_ms': 21, 'resources': [
        {'error_code': 0, 'error_message': None, 'resource_type': 2, 'resource_name': 'orders',
         'config_entries': [
             {'config_names': 'retention.ms', 'config_value': '604800000', 'read_only': False,
              'is_default': False, 'config_source': 1, 'is_sensitive': False, 'config_synonyms': [
                  {'config_name': 'retention.ms', 'config_value': '604800000', 'config_source': 1},
                  {'config_name': 'log.retention.ms', 'config_value': None, 'config_source': 5},
              ]},
             {'config_names': 'sasl.jaas.config', 'config_value': None, 'read_only': True, 'is_default': True,
              'config_source': 4, 'is_sensitive': True, 'config_synonyms': []},
         ]},
        {'error_code': 41, 'error_message': 'Broker 1 is not available', 'resource_type': 4,
         'resource_name': '1', 'config_entries': []},
    ]}


def alter_configs_request(v):
    return {'resources': [
        {'resource_type': 2, 'resource_name': 'orders', 'config_entries': [
            {'config_name': 'retention.ms', 'config_value': '86400000'},
            {'config_name': 'cleanup.policy', 'config_value': None}]},
        {'resource_type': 4, 'resource_name': '', 'config_entries': [
            {'config_name': 'log.cleaner.threads', 'config_value': ''}]},
    ], 'validate_only': True}


def alter_configs_response(v):
    return {'throttle_time_ms': 3, 'resources': [
        {'error_code': 0, 'error_message': None, 'resource_type': 2, 'resource_name': 'orders'},
        {'error_code': 40, 'error_message': 'Invalid value for log.cleaner.threads', 'resource_type': 4,
         'resource_name': ''},
    ]}


def alter_configs_response_kafka_names(v):
    d = alter_configs_response(v)
    return {'ThrottleTimeMs': d['throttle_time_ms'],
            'Responses': [{'ErrorCode': r['error_code'], 'ErrorMessage': r['error_message'],
                           'ResourceType': r['resource_type'], 'ResourceName': r['resource_name']}
                          for r in d['resources']]}


def create_partitions_request(v):
    return {'topic_partitions': [
        {'topic': 'orders', 'new_partitions': {'count': 6, 'assignment': [[1, 2], [2, 3]]}},
        {'topic': 'audit', 'new_partitions': {'count': 4, 'assignment': None}},
    ], 'timeout': 10000, 'validate_only': False}


def create_partitions_response(v):
    return {'throttle_time_ms': 8, 'topic_errors': [
        {'topic': 'orders', 'error_code': 0, 'error_message': None},
        {'topic': 'audit', 'error_code': 37, 'error_message': 'Topic already has 4 partitions.'},
    ]}


def find_coordinator_request(v):
    if v == 0:
        return {'consumer_group': 'payments-consumers'}
    return {'coordinator_key': 'payments-consumers', 'coordinator_type': 0}


def find_coordinator_response(v):
    if v == 0:
        return {'error_code': 0, 'coordinator_id': 3, 'host': 'broker3.example', 'port': 19092}
    return {'ThrottleTimeMs': 4, 'ErrorCode': 15, 'ErrorMessage': 'The coordinator is not available.',
            'NodeId': -1, 'Host': '', 'Port': -1}


def incremental_alter_configs_request(v):
    return {'Resources': [
        {'ResourceType': 2, 'ResourceName': 'orders', 'Configs': [
            {'Name': 'retention.ms', 'ConfigOperation': 0, 'Value': '86400000'},
            {'Name': 'cleanup.policy', 'ConfigOperation': 1, 'Value': None},
            {'Name': 'min.insync.replicas', 'ConfigOperation': 0, 'Value': ''}]},
        {'ResourceType': 4, 'ResourceName': '', 'Configs': [
            {'Name': 'log.cleaner.threads', 'ConfigOperation': 2, 'Value': '2'}]},
    ], 'ValidateOnly': False}


def describe_cluster_response(v, unknown_tags=False):
    d = {'ThrottleTimeMs': 7, 'ErrorCode': 0, 'ErrorMessage': None, 'ClusterId': CLUSTER_ID,
         'ControllerId': 2, 'Brokers': [
             {'BrokerId': 1, 'Host': 'broker1.example', 'Port': 9092, 'Rack': 'rack-a'},
             {'BrokerId': 2, 'Host': '10.0.0.2', 'Port': 19092, 'Rack': None}],
         'ClusterAuthorizedOperations': 0x0df8}
    if unknown_tags:  # fields a newer version might add: the decoder must skip them
        d['_unknown_tags'] = [(5, b'\x01\x02\x03'), (130, b'')]
        d['Brokers'][1]['_unknown_tags'] = [(0, b'\xff' * 4)]
    return d


def init_producer_id_request(v):
    # odd versions carry a transactional id, even ones the null of an idempotent producer
    d = {'TransactionalId': 'payments-txn-1' if v % 2 else None, 'TransactionTimeoutMs': 60000 + v}
    if v >= 3:
        d['ProducerId'] = 4242 if v == 3 else -1
        d['ProducerEpoch'] = 7 if v == 3 else -1
    return d


def init_producer_id_response(v):
    if v % 2:
        return {'ThrottleTimeMs': 3, 'ErrorCode': 53, 'ProducerId': -1, 'ProducerEpoch': -1}
    return {'ThrottleTimeMs': 0, 'ErrorCode': 0, 'ProducerId': 1000 + v, 'ProducerEpoch': 0}


def ofle_request_schema(v):
    # OffsetForLeaderEpochRequest.json: ReplicaId v3+, CurrentLeaderEpoch v2+, flexible v4+
    part = [('Partition', 'int32')] + ([('CurrentLeaderEpoch', 'int32')] if v >= 2 else []) + [('LeaderEpoch', 'int32')]
    topic = [('Topic', 'string'), ('Partitions', ('[]', part))]
    return ([('ReplicaId', 'int32')] if v >= 3 else []) + [('Topics', ('[]', topic))]


def ofle_response_schema(v):
    # OffsetForLeaderEpochResponse.json: ThrottleTimeMs v2+, LeaderEpoch v1+, flexible v4+
    part = [('ErrorCode', 'int16'), ('Partition', 'int32')] + ([('LeaderEpoch', 'int32')] if v >= 1 else []) + \
        [('EndOffset', 'int64')]
    topic = [('Topic', 'string'), ('Partitions', ('[]', part))]
    return ([('ThrottleTimeMs', 'int32')] if v >= 2 else []) + [('Topics', ('[]', topic))]


def ofle_request(v):
    # a follower (replica 2) asking about two partitions of one topic and one of another
    return {'ReplicaId': 2 if v >= 3 else -2, 'Topics': [
        {'Topic': 'orders', 'Partitions': [{'Partition': 0, 'CurrentLeaderEpoch': 7, 'LeaderEpoch': 5},
                                           {'Partition': 3, 'CurrentLeaderEpoch': -1, 'LeaderEpoch': 0}]},
        {'Topic': 'audit', 'Partitions': [{'Partition': 1, 'CurrentLeaderEpoch': 2, 'LeaderEpoch': 2}]}]}


def ofle_response(v):
    return {'ThrottleTimeMs': 4, 'Topics': [
        {'Topic': 'orders', 'Partitions': [{'ErrorCode': 0, 'Partition': 0, 'LeaderEpoch': 5, 'EndOffset': 1234},
                                           {'ErrorCode': 74, 'Partition': 3, 'LeaderEpoch': -1, 'EndOffset': -1}]},
        {'Topic': 'audit', 'Partitions': [{'ErrorCode': 6, 'Partition': 1, 'LeaderEpoch': -1, 'EndOffset': -1}]}]}


# ---------------------------------------------------------------------------------------------------
# Vector assembly
# ---------------------------------------------------------------------------------------------------

REQUEST, RESPONSE = 0, 1
vectors = []


def add(name, api_key, version, kind, corr, client_id, header, body, exact=True):
    """exact: Ferry's encoder must reproduce the frame byte for byte (False when the bytes carry things a
    re-encode legitimately drops, such as unknown tagged fields)."""
    vectors.append(dict(name=name, api_key=api_key, version=version, kind=kind, corr=corr,
                        client_id=client_id, header=header, body=body, exact=exact))


def kp_request(name, cls, d, corr, client_id=CLIENT_KP, schema=None, **kw):
    hdr = RequestHeader(cls(*kp_tuple(cls.SCHEMA, d)), correlation_id=corr, client_id=client_id)
    header = hdr.encode()  # (kafka-python's encode is a weak method: keep hdr alive)
    body = kp_encode(cls, d, schema)
    # Cross-check the header against the independent encoder.
    assert header == request_header(cls.API_KEY, cls.API_VERSION, corr, client_id, 1)
    add(name, cls.API_KEY, cls.API_VERSION, REQUEST, corr, client_id, header, body, **kw)


def kp_response(name, cls, d, corr, schema=None, **kw):
    add(name, cls.API_KEY, cls.API_VERSION, RESPONSE, corr, None, response_header(corr, 0),
        kp_encode(cls, d, schema), **kw)


def own_request(name, api_key, v, hv, schema, d, corr, client_id, flex, header_tags=(), **kw):
    add(name, api_key, v, REQUEST, corr, client_id,
        request_header(api_key, v, corr, client_id, hv, header_tags), enc_struct(schema, d, flex), **kw)


def own_response(name, api_key, v, hv, schema, d, corr, flex, **kw):
    add(name, api_key, v, RESPONSE, corr, None, response_header(corr, hv), enc_struct(schema, d, flex), **kw)


def build_vectors():
    corr = [1000]

    def c():
        corr[0] += 1
        return corr[0]

    for v in range(0, 8):
        kp_request('ProduceRequest_v%d' % v, getattr(kproduce, 'ProduceRequest_v%d' % v), produce_request(v), c())
        kp_response('ProduceResponse_v%d' % v, getattr(kproduce, 'ProduceResponse_v%d' % v),
                    produce_response(v), c())
    for v in range(0, 12):
        kp_request('FetchRequest_v%d' % v, getattr(kfetch, 'FetchRequest_v%d' % v), fetch_request(v), c(),
                   client_id='rdkafka' if v == 11 else CLIENT_KP)
        kp_response('FetchResponse_v%d' % v, getattr(kfetch, 'FetchResponse_v%d' % v), fetch_response(v), c())
    for v in range(0, 3):
        kp_request('ListOffsetsRequest_v%d' % v, getattr(koffset, 'OffsetRequest_v%d' % v),
                   list_offsets_request(v), c())
        kp_response('ListOffsetsResponse_v%d' % v, getattr(koffset, 'OffsetResponse_v%d' % v),
                    list_offsets_response(v), c())
    for v in range(0, 6):
        cls = getattr(kmetadata, 'MetadataRequest_v%d' % v)
        kp_request('MetadataRequest_v%d' % v, cls, metadata_request(v), c(),
                   client_id=None if v == 2 else ('' if v == 3 else CLIENT_KP))
        kp_request('MetadataRequest_v%d_all_topics' % v, cls, metadata_request(v, 'all_topics'), c())
        kp_response('MetadataResponse_v%d' % v, getattr(kmetadata, 'MetadataResponse_v%d' % v),
                    metadata_response(v), c())
    for v in range(0, 3):
        kp_request('ApiVersionsRequest_v%d' % v, getattr(kadmin, 'ApiVersionRequest_v%d' % v), {}, c())
        kp_response('ApiVersionsResponse_v%d' % v, getattr(kadmin, 'ApiVersionResponse_v%d' % v),
                    api_versions_response(v), c())
    # ApiVersions v0 error reply, as Kafka sends to a version it does not know: only its own range.
    kp_response('ApiVersionsResponse_v0_unsupported', kadmin.ApiVersionResponse_v0,
                {'error_code': 35, 'api_versions': [{'api_key': 18, 'min_version': 0, 'max_version': 3}]}, c())
    own_request('ApiVersionsRequest_v3', 18, 3, 2, API_VERSIONS_REQ_V3,
                {'ClientSoftwareName': 'confluent-kafka-python', 'ClientSoftwareVersion': '1.7.0-rdkafka-2.0.2'},
                c(), 'rdkafka', True)
    own_request('ApiVersionsRequest_v3_header_tags', 18, 3, 2, API_VERSIONS_REQ_V3,
                {'ClientSoftwareName': 'confluent-kafka-python', 'ClientSoftwareVersion': '1.7.0-rdkafka-2.0.2'},
                c(), 'rdkafka', True, header_tags=[(0, b'\x07\x08'), (9, b'')], exact=False)
    # ApiVersions responses use header v0 even when flexible (KIP-511).
    own_response('ApiVersionsResponse_v3', 18, 3, 0, API_VERSIONS_RESP_V3,
                 api_versions_response_kafka_names(3, False), c(), True)
    own_response('ApiVersionsResponse_v3_tagged', 18, 3, 0, API_VERSIONS_RESP_V3,
                 api_versions_response_kafka_names(3, True), c(), True)
    for v in range(0, 4):
        kp_request('CreateTopicsRequest_v%d' % v, getattr(kadmin, 'CreateTopicsRequest_v%d' % v),
                   create_topics_request(v), c())
        kp_response('CreateTopicsResponse_v%d' % v, getattr(kadmin, 'CreateTopicsResponse_v%d' % v),
                    create_topics_response(v), c())
    # CreateTopics v4: same layout as v3 in Kafka 3.7; kafka-python has no class for it.
    own_request('CreateTopicsRequest_v4', 19, 4, 1, CREATE_TOPICS_REQ_V4, create_topics_request_kafka_names(4),
                c(), 'rdkafka', False)
    own_response('CreateTopicsResponse_v4', 19, 4, 0, CREATE_TOPICS_RESP_V4, create_topics_response_kafka_names(4),
                 c(), False)
    for v in range(0, 4):
        kp_request('DeleteTopicsRequest_v%d' % v, getattr(kadmin, 'DeleteTopicsRequest_v%d' % v),
                   delete_topics_request(v), c())
        kp_response('DeleteTopicsResponse_v%d' % v, getattr(kadmin, 'DeleteTopicsResponse_v%d' % v),
                    delete_topics_response(v), c())
    for v in range(0, 3):
        kp_request('DescribeConfigsRequest_v%d' % v, getattr(kadmin, 'DescribeConfigsRequest_v%d' % v),
                   describe_configs_request(v), c())
        cls = getattr(kadmin, 'DescribeConfigsResponse_v%d' % v)
        schema = kadmin.DescribeConfigsResponse_v2.SCHEMA if v == 1 else None  # kafka-python bug, see top
        kp_response('DescribeConfigsResponse_v%d' % v, cls, describe_configs_response(v), c(), schema=schema)
    for v in range(0, 2):
        kp_request('AlterConfigsRequest_v%d' % v, getattr(kadmin, 'AlterConfigsRequest_v%d' % v),
                   alter_configs_request(v), c())
        kp_response('AlterConfigsResponse_v%d' % v, getattr(kadmin, 'AlterConfigsResponse_v%d' % v),
                    alter_configs_response(v), c())
    for v in range(0, 2):
        kp_request('CreatePartitionsRequest_v%d' % v, getattr(kadmin, 'CreatePartitionsRequest_v%d' % v),
                   create_partitions_request(v), c())
        kp_response('CreatePartitionsResponse_v%d' % v, getattr(kadmin, 'CreatePartitionsResponse_v%d' % v),
                    create_partitions_response(v), c())
    for v in range(0, 2):
        flex = v >= 1
        own_request('IncrementalAlterConfigsRequest_v%d' % v, 44, v, 2 if flex else 1,
                    INCREMENTAL_ALTER_CONFIGS_REQ, incremental_alter_configs_request(v), c(), 'adminclient-1', flex)
        own_response('IncrementalAlterConfigsResponse_v%d' % v, 44, v, 1 if flex else 0,
                     INCREMENTAL_ALTER_CONFIGS_RESP, alter_configs_response_kafka_names(v), c(), flex)
    own_request('DescribeClusterRequest_v0', 60, 0, 2, DESCRIBE_CLUSTER_REQ_V0,
                {'IncludeClusterAuthorizedOperations': True}, c(), 'adminclient-1', True)
    own_response('DescribeClusterResponse_v0', 60, 0, 1, DESCRIBE_CLUSTER_RESP_V0, describe_cluster_response(0),
                 c(), True)
    own_response('DescribeClusterResponse_v0_unknown_tags', 60, 0, 1, DESCRIBE_CLUSTER_RESP_V0,
                 describe_cluster_response(0, unknown_tags=True), c(), True, exact=False)
    # Consumer groups (scripts/golden_groups.py), with their own correlation ids.
    gcorr = [3000]

    def gc():
        gcorr[0] += 1
        return gcorr[0]
    golden_groups.build(own_request, own_response, gc)
    # FindCoordinator: kafka-python has v0 and v1; v2 has v1's layout (Kafka's FindCoordinator.json).
    for v in range(0, 3):
        req = getattr(kcommit, 'GroupCoordinatorRequest_v%d' % min(v, 1))
        resp = kcommit.GroupCoordinatorResponse_v0
        if v == 2:
            req = type('GroupCoordinatorRequest_v2', (req,), {'API_VERSION': 2})
        kp_request('FindCoordinatorRequest_v%d' % v, req, find_coordinator_request(v), c())
        if v == 0:
            kp_response('FindCoordinatorResponse_v0', resp, find_coordinator_response(v), c())
        else:
            own_response('FindCoordinatorResponse_v%d' % v, 10, v, 0, FIND_COORDINATOR_RESP_V1,
                         find_coordinator_response(v), c(), False)
    # InitProducerId v0-4 (flexible from v2; ProducerId/ProducerEpoch from v3): the encoder above.
    for v in range(0, 5):
        flex = v >= 2
        own_request('InitProducerIdRequest_v%d' % v, 22, v, 2 if flex else 1,
                    INIT_PRODUCER_ID_REQ_V3 if v >= 3 else INIT_PRODUCER_ID_REQ_V0, init_producer_id_request(v),
                    c(), 'rdkafka', flex)
        own_response('InitProducerIdResponse_v%d' % v, 22, v, 1 if flex else 0, INIT_PRODUCER_ID_RESP,
                     init_producer_id_response(v), c(), flex)
    # OffsetForLeaderEpoch v0-4 (flexible from v4): the encoder above, from Kafka's schema.
    for v in range(0, 5):
        flex = v >= 4
        own_request('OffsetForLeaderEpochRequest_v%d' % v, 23, v, 2 if flex else 1, ofle_request_schema(v),
                    ofle_request(v), c(), 'ferry-replica-2', flex)
        own_response('OffsetForLeaderEpochResponse_v%d' % v, 23, v, 1 if flex else 0, ofle_response_schema(v),
                     ofle_response(v), c(), flex)


def self_check():
    """Where kafka-python and the encoder above can both produce a message, they must agree."""
    golden_groups.cross_check(enc_struct, lambda cls, t: kp_fix(cls.SCHEMA).encode(t))
    for v, schema in ((0, API_VERSIONS_RESP_V0), (1, API_VERSIONS_RESP_V1), (2, API_VERSIONS_RESP_V1)):
        cls = getattr(kadmin, 'ApiVersionResponse_v%d' % v)
        assert kp_encode(cls, api_versions_response(v)) == enc_struct(
            schema, api_versions_response_kafka_names(v, False), False), 'ApiVersions v%d' % v
    assert kp_encode(kadmin.CreateTopicsRequest_v3, create_topics_request(3)) == enc_struct(
        CREATE_TOPICS_REQ_V4, create_topics_request_kafka_names(3), False)
    assert kp_encode(kadmin.CreateTopicsResponse_v3, create_topics_response(3)) == enc_struct(
        CREATE_TOPICS_RESP_V4, create_topics_response_kafka_names(3), False)
    for v in (0, 1):  # IncrementalAlterConfigsResponse has AlterConfigsResponse's layout
        cls = getattr(kadmin, 'AlterConfigsResponse_v%d' % v)
        assert kp_encode(cls, alter_configs_response(v)) == enc_struct(
            INCREMENTAL_ALTER_CONFIGS_RESP, alter_configs_response_kafka_names(v), False)
    # The v1 DescribeConfigs workaround: the Kafka v1 and v2 layouts are the same; only config_source
    # values above 1 expose kafka-python's Boolean.
    assert kp_encode(kadmin.DescribeConfigsResponse_v1, describe_configs_response(1)) != kp_encode(
        kadmin.DescribeConfigsResponse_v2, describe_configs_response(1))
    # kafka-python's CRC-32C against the textbook check value.
    assert calc_crc32c(b'123456789') == 0xE3069283


# ---------------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------------

def c_bytes(name, data):
    lines = ['static const uint8_t %s[%d] = {' % (name, max(len(data), 1))]
    for i in range(0, len(data), 16):
        lines.append('    ' + ' '.join('0x%02x,' % b for b in data[i:i + 16]))
    if not data:
        lines.append('    0x00, /* empty */')
    lines.append('};')
    return '\n'.join(lines)


def c_str(s):
    if s is None:
        return 'NULL'
    return '"' + ''.join(ch if ch.isalnum() or ch in ' -_.:,/{}[]\'' else '\\x%02x' % ord(ch) for ch in s) + '"'


def c_bytes_lit(b):
    """A (pointer, length) pair for nullable bytes."""
    if b is None:
        return 'NULL, -1'
    return '(const uint8_t *)"%s", %d' % (''.join('\\x%02x' % x for x in b), len(b))


HEADER_COMMENT = '/* %s: GENERATED by scripts/gen-golden.py from kafka-python 2.0.2 and an independent encoder\n' \
                 ' * written from the Kafka protocol spec. Do not edit; re-run the script instead. */\n'


def write_golden_vectors(path):
    out = [HEADER_COMMENT % os.path.basename(path)]
    for vec in vectors:
        out.append(c_bytes('gv_' + vec['name'], vec['header'] + vec['body']))
    out.append('')
    out.append('static const struct golden_vector golden_vectors[] = {')
    for vec in vectors:
        out.append('    {%s, %d, %d, %s, %d, %s, %d, gv_%s, %d, %s},' % (
            c_str(vec['name']), vec['api_key'], vec['version'],
            'GOLDEN_REQUEST' if vec['kind'] == REQUEST else 'GOLDEN_RESPONSE', vec['corr'],
            c_str(vec['client_id']), len(vec['header']), vec['name'], len(vec['header']) + len(vec['body']),
            'true' if vec['exact'] else 'false'))
    out.append('};')
    out.append('#define GOLDEN_VECTOR_COUNT %d' % len(vectors))
    with open(path, 'w') as f:
        f.write('\n'.join(out) + '\n')


def crc_buffer(n, seed):
    return bytes(((i * 31 + seed * 7 + (i >> 3)) & 0xff) for i in range(n))


CRC_CASES = [(n, seed) for n, seed in ((0, 1), (1, 2), (3, 3), (7, 4), (8, 5), (9, 6), (15, 7), (16, 8), (63, 9),
                                       (64, 10), (100, 11), (1000, 12), (4096, 13), (4099, 14))]


def write_record_batches(path):
    batches = [
        ('orders', BATCH_ORDERS, RECS_ORDERS, 0, 0, -1, -1, -1),
        ('audit_idempotent', BATCH_AUDIT, RECS_AUDIT, 0, 0, 4242, 3, 17),
        ('gzip', BATCH_GZIP, RECS_GZIP, 1, 0, -1, -1, -1),
        ('transactional', BATCH_TXN, RECS_AUDIT, 0x10, 0, 777, 1, 0),
        ('builder', BATCH_BUILDER, RECS_BUILDER, 0, 42, -1, -1, -1),
    ]
    out = [HEADER_COMMENT % os.path.basename(path)]
    out.append('#define GOLDEN_TS0 INT64_C(%d)' % TS0)
    for name, data, recs, *_ in batches:
        out.append(c_bytes('gb_%s' % name, data))
        out.append('static const struct golden_header gbh_%s[] = {' % name)
        for ts, key, value, headers in recs:
            for hk, hv in headers:
                out.append('    {%s, %s},' % (c_str(hk), c_bytes_lit(hv)))
        out.append('    {NULL, NULL, 0}, /* end */')
        out.append('};')
        out.append('static const struct golden_record gbr_%s[] = {' % name)
        hi = 0
        for i, (ts, key, value, headers) in enumerate(recs):
            out.append('    {%d, %d, %s, %s, %d, %d},' % (ts - recs[0][0], i, c_bytes_lit(key), c_bytes_lit(value),
                                                          len(headers), hi))
            hi += len(headers)
        out.append('};')
    out.append('static const struct golden_batch golden_batches[] = {')
    for name, data, recs, attrs, base, pid, epoch, seq in batches:
        max_ts = max(r[0] for r in recs)
        out.append('    {"%s", gb_%s, sizeof gb_%s, %d, %d, INT64_C(%d), %d, %d, %d, INT64_C(%d), INT64_C(%d), '
                   'gbr_%s, gbh_%s},' % (name, name, name, attrs, len(recs), base, pid, epoch, seq, recs[0][0],
                                         max_ts, name, name))
    out.append('};')
    out.append('#define GOLDEN_BATCH_COUNT %d' % len(batches))
    out.append(c_bytes('gb_fetch_blob', FETCH_BLOB))
    out.append('#define GOLDEN_FETCH_BLOB_WHOLE_BATCHES 2 /* then a partial gzip batch */')
    out.append('/* Message sets (magic 0 and 1) of old Produce versions, and of old Fetch versions at offset 100. */')
    out.append(c_bytes('gb_legacy_v0', MSGSET_V0))
    out.append(c_bytes('gb_legacy_v1', MSGSET_V1))
    out.append(c_bytes('gb_fetch_legacy_v0', FETCH_MSGSET_V0))
    out.append(c_bytes('gb_fetch_legacy_v1', FETCH_MSGSET_V1))
    out.append('/* CRC-32C of crc_buffer(n, seed) (see gen-golden.py), computed by kafka-python. */')
    out.append('static const struct golden_crc golden_crcs[] = {')
    for n, seed in CRC_CASES:
        out.append('    {%d, %d, 0x%08xu},' % (n, seed, calc_crc32c(crc_buffer(n, seed))))
    out.append('};')
    with open(path, 'w') as f:
        f.write('\n'.join(out) + '\n')


def write_corpus():
    req_dir = os.path.join(CORPUS_DIR, 'fuzz_request')
    rb_dir = os.path.join(CORPUS_DIR, 'fuzz_record_batch')
    for d in (req_dir, rb_dir):
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
    for vec in vectors:
        if vec['kind'] == REQUEST:
            with open(os.path.join(req_dir, vec['name']), 'wb') as f:
                f.write(vec['header'] + vec['body'])
    seeds = {'orders': BATCH_ORDERS, 'audit_idempotent': BATCH_AUDIT, 'gzip': BATCH_GZIP,
             'transactional': BATCH_TXN, 'fetch_blob': FETCH_BLOB, 'legacy_v1': MSGSET_V1,
             'two_batches': BATCH_ORDERS + BATCH_AUDIT}
    for name, data in seeds.items():
        with open(os.path.join(rb_dir, name), 'wb') as f:
            f.write(data)


def main():
    self_check()
    build_vectors()
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    write_golden_vectors(os.path.join(GOLDEN_DIR, 'golden_vectors.inc'))
    write_record_batches(os.path.join(GOLDEN_DIR, 'record_batches.inc'))
    write_corpus()
    print('wrote %d message vectors, record batches and fuzz seeds under %s' % (len(vectors), ROOT))


if __name__ == '__main__':
    sys.exit(main())
