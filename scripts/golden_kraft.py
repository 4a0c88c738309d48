#!/usr/bin/python3
"""golden_kraft.py: golden wire vectors for the KRaft RPCs (Raft quorum, broker and controller lifecycle)
and the KRaft control records, from an encoder independent of Ferry's codec.

Run by hand with Debian's interpreter (gen-golden.py, whose encoder this script uses, needs python3-kafka):

    /usr/bin/python3 scripts/golden_kraft.py [--check-schemas DIR]

and commit what it writes: tests/unit/golden/kraft_vectors.inc, read by tests/unit/test_proto_golden_kraft.c, and
tests/unit/golden/raft_wire_vectors.inc (the Raft RPCs exactly as Kafka's raft client shapes them), read by
tests/unit/test_kraft_wire.c.
The test suite never runs this script. The output is deterministic.

What is covered (every version Kafka 3.7 has, request and response, with the request header v1/v2 and the
response header v0/v1 each (api, version) uses):
  Vote v0-2 (v1-2: Kafka 4.0's, for pre-vote), BeginQuorumEpoch v0, EndQuorumEpoch v0, DescribeQuorum v0-1, FetchSnapshot v0,
  Fetch v12-16 as the Raft layer uses it (replica id, then ReplicaState; topic ids; LastFetchedEpoch;
  DivergingEpoch, CurrentLeader, SnapshotId and NodeEndpoints tagged fields),
  BrokerRegistration v0-3, BrokerHeartbeat v0-1, UnregisterBroker v0, ControllerRegistration v0,
  AllocateProducerIds v0, Envelope v0, DescribeCluster v0-1 (as a controller listener answers it, KIP-919),
  ElectLeaders v0-2 (served in quorum mode, forwarded by brokers to the controller listener),
  and the control-record values LeaderChangeMessage, SnapshotHeaderRecord and SnapshotFooterRecord (v0;
  bodies only: they travel inside record batches, not in frames).

Where the bytes come from: the schemas below are written by hand from the Kafka 3.7 message definitions
(clients/src/main/resources/common/message/*.json) with the version each field exists in; at(schema, v)
keeps the fields of version v, and gen-golden.py's encoder (classic and compact strings, bytes and arrays,
unsigned varints, tag buffers, uuids; written from the Kafka protocol guide) writes them. With
--check-schemas DIR (a directory of Kafka 3.7 message JSON files) the script also derives every schema
from the JSON at every version and fails if it differs from the hand-written one.

The field values are distinct and non-default (several array elements, null next to empty, tagged fields
present and absent, a uint16 port above 32767, uuids that differ per field), so that a field read at the
wrong place or with the wrong type changes a value the test asserts. The test writes the same values out
again by hand: keep the two in step.
"""
import importlib.util
import json
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..'))
OUT = os.path.join(ROOT, 'tests', 'unit', 'golden', 'kraft_vectors.inc')

_spec = importlib.util.spec_from_file_location('gen_golden', os.path.join(HERE, 'gen-golden.py'))
gg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gg)

# gen-golden's encoder has no uint16 (only BrokerRegistration/ControllerRegistration listener ports use
# it); its struct and array walk look `enc` up as a module global, so this extends every level of it.
_gg_enc = gg.enc


def _enc(t, v, flex):
    if t == 'uint16':
        assert 0 <= v <= 0xffff
        return struct.pack('>H', v)
    return _gg_enc(t, v, flex)


gg.enc = _enc

# ---------------------------------------------------------------------------------------------------
# Versioned schemas. A field is (name, type[, (vmin, vmax)]) or ('tag', n, name, type[, (vmin, vmax)]);
# vmax None means "and later". Types as in gen-golden.py, plus 'uint16'.
# ---------------------------------------------------------------------------------------------------

ALL = (0, None)


def _present(rng, v):
    lo, hi = rng
    return v >= lo and (hi is None or v <= hi)


def at(t, v):
    """The gen-golden schema of type t at version v."""
    if isinstance(t, list):
        out = []
        for f in t:
            if f[0] == 'tag':
                rng = f[4] if len(f) > 4 else ALL
                if _present(rng, v):
                    out.append(('tag', f[1], f[2], at(f[3], v)))
            else:
                rng = f[2] if len(f) > 2 else ALL
                if _present(rng, v):
                    out.append((f[0], at(f[1], v)))
        return out
    if isinstance(t, tuple):
        return (t[0], at(t[1], v))
    return t


def partitions_of(fields):
    return [('TopicName', 'string'), ('Partitions', ('[]', fields))]


# Vote v1-v2 are Kafka 4.0's (KIP-853 voter keys, KIP-996 PreVote; v2 renames Candidate* to Replica*, same
# bytes), from its VoteRequest/VoteResponse.json: Ferry voters use v2 for pre-vote.
VOTE_REQ = [('ClusterId', 'nstring'), ('VoterId', 'int32', (1, None)),
            ('Topics', ('[]', partitions_of([('PartitionIndex', 'int32'), ('CandidateEpoch', 'int32'),
                                             ('CandidateId', 'int32'), ('CandidateDirectoryId', 'uuid', (1, None)),
                                             ('VoterDirectoryId', 'uuid', (1, None)), ('LastOffsetEpoch', 'int32'),
                                             ('LastOffset', 'int64'), ('PreVote', 'bool', (2, None))])))]
VOTE_RESP = [('ErrorCode', 'int16'),
             ('Topics', ('[]', partitions_of([('PartitionIndex', 'int32'), ('ErrorCode', 'int16'),
                                              ('LeaderId', 'int32'), ('LeaderEpoch', 'int32'),
                                              ('VoteGranted', 'bool')]))),
             ('tag', 0, 'NodeEndpoints', ('[]', [('NodeId', 'int32'), ('Host', 'string'), ('Port', 'uint16')]),
              (1, None))]
BEGIN_EPOCH_REQ = [('ClusterId', 'nstring'),
                   ('Topics', ('[]', partitions_of([('PartitionIndex', 'int32'), ('LeaderId', 'int32'),
                                                    ('LeaderEpoch', 'int32')])))]
QUORUM_EPOCH_RESP = [('ErrorCode', 'int16'),
                     ('Topics', ('[]', partitions_of([('PartitionIndex', 'int32'), ('ErrorCode', 'int16'),
                                                      ('LeaderId', 'int32'), ('LeaderEpoch', 'int32')])))]
END_EPOCH_REQ = [('ClusterId', 'nstring'),
                 ('Topics', ('[]', partitions_of([('PartitionIndex', 'int32'), ('LeaderId', 'int32'),
                                                  ('LeaderEpoch', 'int32'),
                                                  ('PreferredSuccessors', ('[]', 'int32'))])))]
DESCRIBE_QUORUM_REQ = [('Topics', ('[]', partitions_of([('PartitionIndex', 'int32')])))]
REPLICA_STATE = [('ReplicaId', 'int32'), ('LogEndOffset', 'int64'), ('LastFetchTimestamp', 'int64', (1, None)),
                 ('LastCaughtUpTimestamp', 'int64', (1, None))]
DESCRIBE_QUORUM_RESP = [('ErrorCode', 'int16'),
                        ('Topics', ('[]', partitions_of([('PartitionIndex', 'int32'), ('ErrorCode', 'int16'),
                                                         ('LeaderId', 'int32'), ('LeaderEpoch', 'int32'),
                                                         ('HighWatermark', 'int64'),
                                                         ('CurrentVoters', ('[]', REPLICA_STATE)),
                                                         ('Observers', ('[]', REPLICA_STATE))])))]
SNAPSHOT_ID = [('EndOffset', 'int64'), ('Epoch', 'int32')]
LEADER_ID_AND_EPOCH = [('LeaderId', 'int32'), ('LeaderEpoch', 'int32')]
FETCH_SNAPSHOT_REQ = [('tag', 0, 'ClusterId', 'nstring'), ('ReplicaId', 'int32'), ('MaxBytes', 'int32'),
                      ('Topics', ('[]', [('Name', 'string'), ('Partitions', ('[]', [
                          ('Partition', 'int32'), ('CurrentLeaderEpoch', 'int32'), ('SnapshotId', SNAPSHOT_ID),
                          ('Position', 'int64')]))]))]
FETCH_SNAPSHOT_RESP = [('ThrottleTimeMs', 'int32'), ('ErrorCode', 'int16'),
                       ('Topics', ('[]', [('Name', 'string'), ('Partitions', ('[]', [
                           ('Index', 'int32'), ('ErrorCode', 'int16'), ('SnapshotId', SNAPSHOT_ID),
                           ('tag', 0, 'CurrentLeader', LEADER_ID_AND_EPOCH), ('Size', 'int64'),
                           ('Position', 'int64'), ('UnalignedRecords', 'bytes')]))]))]
# Fetch, the flexible versions only (12-16): what the Raft layer sends and receives.
FETCH_REQ = [('tag', 0, 'ClusterId', 'nstring'), ('ReplicaId', 'int32', (12, 14)),
             ('tag', 1, 'ReplicaState', [('ReplicaId', 'int32'), ('ReplicaEpoch', 'int64')], (15, None)),
             ('MaxWaitMs', 'int32'), ('MinBytes', 'int32'), ('MaxBytes', 'int32'), ('IsolationLevel', 'int8'),
             ('SessionId', 'int32'), ('SessionEpoch', 'int32'),
             ('Topics', ('[]', [('Topic', 'string', (12, 12)), ('TopicId', 'uuid', (13, None)),
                                ('Partitions', ('[]', [('Partition', 'int32'), ('CurrentLeaderEpoch', 'int32'),
                                                       ('FetchOffset', 'int64'), ('LastFetchedEpoch', 'int32'),
                                                       ('LogStartOffset', 'int64'),
                                                       ('PartitionMaxBytes', 'int32')]))])),
             ('ForgottenTopicsData', ('[]', [('Topic', 'string', (12, 12)), ('TopicId', 'uuid', (13, None)),
                                             ('Partitions', ('[]', 'int32'))])),
             ('RackId', 'string')]
FETCH_RESP = [('ThrottleTimeMs', 'int32'), ('ErrorCode', 'int16'), ('SessionId', 'int32'),
              ('Responses', ('[]', [('Topic', 'string', (12, 12)), ('TopicId', 'uuid', (13, None)),
                                    ('Partitions', ('[]', [
                                        ('PartitionIndex', 'int32'), ('ErrorCode', 'int16'),
                                        ('HighWatermark', 'int64'), ('LastStableOffset', 'int64'),
                                        ('LogStartOffset', 'int64'),
                                        ('tag', 0, 'DivergingEpoch', [('Epoch', 'int32'), ('EndOffset', 'int64')]),
                                        ('tag', 1, 'CurrentLeader', LEADER_ID_AND_EPOCH),
                                        ('tag', 2, 'SnapshotId', SNAPSHOT_ID),
                                        ('AbortedTransactions', ('n[]', [('ProducerId', 'int64'),
                                                                         ('FirstOffset', 'int64')])),
                                        ('PreferredReadReplica', 'int32'), ('Records', 'nbytes')]))])),
              ('tag', 0, 'NodeEndpoints', ('[]', [('NodeId', 'int32'), ('Host', 'string'), ('Port', 'int32'),
                                                  ('Rack', 'nstring')]), (16, None))]
LISTENER = [('Name', 'string'), ('Host', 'string'), ('Port', 'uint16'), ('SecurityProtocol', 'int16')]
FEATURE = [('Name', 'string'), ('MinSupportedVersion', 'int16'), ('MaxSupportedVersion', 'int16')]
BROKER_REGISTRATION_REQ = [('BrokerId', 'int32'), ('ClusterId', 'string'), ('IncarnationId', 'uuid'),
                           ('Listeners', ('[]', LISTENER)), ('Features', ('[]', FEATURE)), ('Rack', 'nstring'),
                           ('IsMigratingZkBroker', 'bool', (1, None)), ('LogDirs', ('[]', 'uuid'), (2, None)),
                           ('PreviousBrokerEpoch', 'int64', (3, None))]
BROKER_REGISTRATION_RESP = [('ThrottleTimeMs', 'int32'), ('ErrorCode', 'int16'), ('BrokerEpoch', 'int64')]
BROKER_HEARTBEAT_REQ = [('BrokerId', 'int32'), ('BrokerEpoch', 'int64'), ('CurrentMetadataOffset', 'int64'),
                        ('WantFence', 'bool'), ('WantShutDown', 'bool'),
                        ('tag', 0, 'OfflineLogDirs', ('[]', 'uuid'), (1, None))]
BROKER_HEARTBEAT_RESP = [('ThrottleTimeMs', 'int32'), ('ErrorCode', 'int16'), ('IsCaughtUp', 'bool'),
                         ('IsFenced', 'bool'), ('ShouldShutDown', 'bool')]
UNREGISTER_BROKER_REQ = [('BrokerId', 'int32')]
ERROR_MESSAGE_RESP = [('ThrottleTimeMs', 'int32'), ('ErrorCode', 'int16'), ('ErrorMessage', 'nstring')]
CONTROLLER_REGISTRATION_REQ = [('ControllerId', 'int32'), ('IncarnationId', 'uuid'), ('ZkMigrationReady', 'bool'),
                               ('Listeners', ('[]', LISTENER)), ('Features', ('[]', FEATURE))]
ALLOCATE_PIDS_REQ = [('BrokerId', 'int32'), ('BrokerEpoch', 'int64')]
ALLOCATE_PIDS_RESP = [('ThrottleTimeMs', 'int32'), ('ErrorCode', 'int16'), ('ProducerIdStart', 'int64'),
                      ('ProducerIdLen', 'int32')]
ENVELOPE_REQ = [('RequestData', 'bytes'), ('RequestPrincipal', 'nbytes'), ('ClientHostAddress', 'bytes')]
ENVELOPE_RESP = [('ResponseData', 'nbytes'), ('ErrorCode', 'int16')]
ELECT_LEADERS_REQ = [('ElectionType', 'int8', (1, None)),
                     ('TopicPartitions', ('n[]', [('Topic', 'string'), ('Partitions', ('[]', 'int32'))])),
                     ('TimeoutMs', 'int32')]
ELECT_LEADERS_RESP = [('ThrottleTimeMs', 'int32'), ('ErrorCode', 'int16', (1, None)),
                      ('ReplicaElectionResults', ('[]', [('Topic', 'string'), ('PartitionResult', ('[]', [
                          ('PartitionId', 'int32'), ('ErrorCode', 'int16'), ('ErrorMessage', 'nstring')]))]))]
ALTER_REASSIGNMENTS_REQ = [('TimeoutMs', 'int32'), ('Topics', ('[]', [('Name', 'string'), ('Partitions', ('[]', [
    ('PartitionIndex', 'int32'), ('Replicas', ('n[]', 'int32'))]))]))]
ALTER_REASSIGNMENTS_RESP = [('ThrottleTimeMs', 'int32'), ('ErrorCode', 'int16'), ('ErrorMessage', 'nstring'),
                            ('Responses', ('[]', [('Name', 'string'), ('Partitions', ('[]', [
                                ('PartitionIndex', 'int32'), ('ErrorCode', 'int16'), ('ErrorMessage', 'nstring')]))]))]
LIST_REASSIGNMENTS_REQ = [('TimeoutMs', 'int32'), ('Topics', ('n[]', [('Name', 'string'),
                                                                     ('PartitionIndexes', ('[]', 'int32'))]))]
LIST_REASSIGNMENTS_RESP = [('ThrottleTimeMs', 'int32'), ('ErrorCode', 'int16'), ('ErrorMessage', 'nstring'),
                           ('Topics', ('[]', [('Name', 'string'), ('Partitions', ('[]', [
                               ('PartitionIndex', 'int32'), ('Replicas', ('[]', 'int32')),
                               ('AddingReplicas', ('[]', 'int32')), ('RemovingReplicas', ('[]', 'int32'))]))]))]
# DescribeCluster: KIP-919's v1 (EndpointType) is what a controller listener answers.
DESCRIBE_CLUSTER_REQ = [('IncludeClusterAuthorizedOperations', 'bool'), ('EndpointType', 'int8', (1, None))]
DESCRIBE_CLUSTER_RESP = [('ThrottleTimeMs', 'int32'), ('ErrorCode', 'int16'), ('ErrorMessage', 'nstring'),
                         ('EndpointType', 'int8', (1, None)), ('ClusterId', 'string'), ('ControllerId', 'int32'),
                         ('Brokers', ('[]', [('BrokerId', 'int32'), ('Host', 'string'), ('Port', 'int32'),
                                             ('Rack', 'nstring')])),
                         ('ClusterAuthorizedOperations', 'int32')]
VOTER = [('VoterId', 'int32')]
LEADER_CHANGE = [('Version', 'int16'), ('LeaderId', 'int32'), ('Voters', ('[]', VOTER)),
                 ('GrantingVoters', ('[]', VOTER))]
SNAPSHOT_HEADER = [('Version', 'int16'), ('LastContainedLogTimestamp', 'int64')]
SNAPSHOT_FOOTER = [('Version', 'int16')]

# (message name, api key or None, versions, flexible from, request schema, response schema); data messages
# have one schema. The ranges are Kafka 3.7's (Vote's Kafka 4.0's: --check-schemas against 3.7 stops
# there); the test compares them with messages.def.
RPCS = [
    ('Vote', 52, (0, 2), 0, VOTE_REQ, VOTE_RESP),
    ('BeginQuorumEpoch', 53, (0, 0), None, BEGIN_EPOCH_REQ, QUORUM_EPOCH_RESP),
    ('EndQuorumEpoch', 54, (0, 0), None, END_EPOCH_REQ, QUORUM_EPOCH_RESP),
    ('DescribeQuorum', 55, (0, 1), 0, DESCRIBE_QUORUM_REQ, DESCRIBE_QUORUM_RESP),
    ('FetchSnapshot', 59, (0, 0), 0, FETCH_SNAPSHOT_REQ, FETCH_SNAPSHOT_RESP),
    ('Fetch', 1, (12, 16), 12, FETCH_REQ, FETCH_RESP),
    ('BrokerRegistration', 62, (0, 3), 0, BROKER_REGISTRATION_REQ, BROKER_REGISTRATION_RESP),
    ('BrokerHeartbeat', 63, (0, 1), 0, BROKER_HEARTBEAT_REQ, BROKER_HEARTBEAT_RESP),
    ('UnregisterBroker', 64, (0, 0), 0, UNREGISTER_BROKER_REQ, ERROR_MESSAGE_RESP),
    ('ControllerRegistration', 70, (0, 0), 0, CONTROLLER_REGISTRATION_REQ, ERROR_MESSAGE_RESP),
    ('AllocateProducerIds', 67, (0, 0), 0, ALLOCATE_PIDS_REQ, ALLOCATE_PIDS_RESP),
    ('Envelope', 58, (0, 0), 0, ENVELOPE_REQ, ENVELOPE_RESP),
    ('DescribeCluster', 60, (0, 1), 0, DESCRIBE_CLUSTER_REQ, DESCRIBE_CLUSTER_RESP),
    ('ElectLeaders', 43, (0, 2), 2, ELECT_LEADERS_REQ, ELECT_LEADERS_RESP),
    ('AlterPartitionReassignments', 45, (0, 0), 0, ALTER_REASSIGNMENTS_REQ, ALTER_REASSIGNMENTS_RESP),
    ('ListPartitionReassignments', 46, (0, 0), 0, LIST_REASSIGNMENTS_REQ, LIST_REASSIGNMENTS_RESP),
]
DATA = [
    ('LeaderChangeMessage', (0, 0), 0, LEADER_CHANGE),
    ('SnapshotHeaderRecord', (0, 0), 0, SNAPSHOT_HEADER),
    ('SnapshotFooterRecord', (0, 0), 0, SNAPSHOT_FOOTER),
]

# ---------------------------------------------------------------------------------------------------
# Values. Keep in step with the check_* functions in tests/unit/test_proto_golden_kraft.c.
# ---------------------------------------------------------------------------------------------------

CLUSTER = 'kraft-cluster-7'
META = '__cluster_metadata'
META_TOPIC_ID = bytes(15) + b'\x01'  # Kafka's Uuid.METADATA_TOPIC_ID (AAAAAAAAAAAAAAAAAAAAAQ)
UUID_A = bytes(range(0x10, 0x20))
UUID_B = bytes(range(0xa0, 0xb0))
UUID_C = bytes(range(0x30, 0x40))
UUID_D = bytes(range(0xc0, 0xd0))
INCARNATION = bytes(range(0x50, 0x60))
TS = 1700000000000
RAFT_CLIENT = 'raft-client-3002'
BROKER_CLIENT = 'broker-7-to-controller'


def vote_request(null_cluster=False):
    return {'ClusterId': None if null_cluster else CLUSTER, 'VoterId': 3001, 'Topics': [{'TopicName': META, 'Partitions': [
        {'PartitionIndex': 0, 'CandidateEpoch': 12, 'CandidateId': 3002, 'CandidateDirectoryId': UUID_A,
         'VoterDirectoryId': UUID_B, 'LastOffsetEpoch': 11, 'LastOffset': 98765, 'PreVote': True},
        {'PartitionIndex': 1, 'CandidateEpoch': 13, 'CandidateId': 3003, 'CandidateDirectoryId': UUID_C,
         'VoterDirectoryId': UUID_D, 'LastOffsetEpoch': 10, 'LastOffset': 4242, 'PreVote': False}]}]}


def vote_response():
    return {'ErrorCode': 0, 'Topics': [{'TopicName': META, 'Partitions': [
        {'PartitionIndex': 0, 'ErrorCode': 0, 'LeaderId': -1, 'LeaderEpoch': 12, 'VoteGranted': True},
        {'PartitionIndex': 1, 'ErrorCode': 6, 'LeaderId': 3001, 'LeaderEpoch': 13, 'VoteGranted': False}]}],
            'NodeEndpoints': [{'NodeId': 3001, 'Host': 'ctrl-1', 'Port': 40000}]}


def begin_epoch_request(null_cluster=False):
    return {'ClusterId': None if null_cluster else CLUSTER, 'Topics': [{'TopicName': META, 'Partitions': [
        {'PartitionIndex': 0, 'LeaderId': 3001, 'LeaderEpoch': 14},
        {'PartitionIndex': 2, 'LeaderId': 3003, 'LeaderEpoch': 15}]}]}


def quorum_epoch_response(error):
    return {'ErrorCode': error, 'Topics': [{'TopicName': META, 'Partitions': [
        {'PartitionIndex': 0, 'ErrorCode': 0, 'LeaderId': 3001, 'LeaderEpoch': 14},
        {'PartitionIndex': 2, 'ErrorCode': 202, 'LeaderId': -1, 'LeaderEpoch': 15}]}]}


def end_epoch_request():
    return {'ClusterId': CLUSTER, 'Topics': [{'TopicName': META, 'Partitions': [
        {'PartitionIndex': 0, 'LeaderId': 3001, 'LeaderEpoch': 14, 'PreferredSuccessors': [3003, 3002]},
        {'PartitionIndex': 2, 'LeaderId': 3002, 'LeaderEpoch': 16, 'PreferredSuccessors': []}]}]}


def describe_quorum_request():
    return {'Topics': [{'TopicName': META, 'Partitions': [{'PartitionIndex': 0}, {'PartitionIndex': 4}]}]}


def describe_quorum_response():
    def rs(rid, leo, fetch, caught):
        return {'ReplicaId': rid, 'LogEndOffset': leo, 'LastFetchTimestamp': fetch, 'LastCaughtUpTimestamp': caught}
    return {'ErrorCode': 0, 'Topics': [{'TopicName': META, 'Partitions': [
        {'PartitionIndex': 0, 'ErrorCode': 0, 'LeaderId': 3001, 'LeaderEpoch': 14, 'HighWatermark': 5000,
         'CurrentVoters': [rs(3001, 5010, TS + 1, TS + 2), rs(3002, 4990, TS - 30, -1)],
         'Observers': [rs(7, 4800, TS - 50, TS - 60)]}]}]}


def fetch_snapshot_request(with_cluster):
    d = {'ReplicaId': 3002, 'MaxBytes': 1048576, 'Topics': [{'Name': META, 'Partitions': [
        {'Partition': 0, 'CurrentLeaderEpoch': 14, 'SnapshotId': {'EndOffset': 4000, 'Epoch': 13},
         'Position': 8192}]}]}
    if with_cluster:
        d['ClusterId'] = CLUSTER
    return d


def fetch_snapshot_response():
    return {'ThrottleTimeMs': 5, 'ErrorCode': 0, 'Topics': [{'Name': META, 'Partitions': [
        {'Index': 0, 'ErrorCode': 0, 'SnapshotId': {'EndOffset': 4000, 'Epoch': 13},
         'CurrentLeader': {'LeaderId': 3001, 'LeaderEpoch': 14}, 'Size': 20480, 'Position': 8192,
         'UnalignedRecords': SNAPSHOT_CHUNK},
        # No CurrentLeader tag: decodes to Kafka's defaults for that struct (0, 0: its fields have none).
        {'Index': 1, 'ErrorCode': 3, 'SnapshotId': {'EndOffset': -1, 'Epoch': -1}, 'Size': 0, 'Position': 0,
         'UnalignedRecords': b''},
        # {-1, -1} differs from those defaults, so Kafka writes the tag.
        {'Index': 2, 'ErrorCode': 0, 'SnapshotId': {'EndOffset': 3000, 'Epoch': 12},
         'CurrentLeader': {'LeaderId': -1, 'LeaderEpoch': -1}, 'Size': 70, 'Position': 0,
         'UnalignedRecords': RAFT_BATCH[:70]}]}]}


def fetch_request(v):
    d = {'ClusterId': CLUSTER, 'MaxWaitMs': 500, 'MinBytes': 1, 'MaxBytes': 8388608, 'IsolationLevel': 1,
         'SessionId': 0x4321, 'SessionEpoch': 9,
         'Topics': [
             {'Topic': META, 'TopicId': META_TOPIC_ID, 'Partitions': [
                 {'Partition': 0, 'CurrentLeaderEpoch': 14, 'FetchOffset': 5000, 'LastFetchedEpoch': 13,
                  'LogStartOffset': 100, 'PartitionMaxBytes': 1048576}]},
             {'Topic': 'orders', 'TopicId': UUID_A, 'Partitions': [
                 {'Partition': 3, 'CurrentLeaderEpoch': -1, 'FetchOffset': 7, 'LastFetchedEpoch': -1,
                  'LogStartOffset': -1, 'PartitionMaxBytes': 65536},
                 {'Partition': 5, 'CurrentLeaderEpoch': 2, 'FetchOffset': 70, 'LastFetchedEpoch': 1,
                  'LogStartOffset': 60, 'PartitionMaxBytes': 4096}]}],
         'ForgottenTopicsData': [{'Topic': 'old-topic', 'TopicId': UUID_B, 'Partitions': [2, 5]}],
         'RackId': 'rack-a'}
    if v <= 14:
        d['ReplicaId'] = 3002
    else:
        d['ReplicaState'] = {'ReplicaId': 3002, 'ReplicaEpoch': 77}
    if v == 13:
        del d['ClusterId']  # the tag absent: a null cluster id
    return d


def fetch_response(v):
    d = {'ThrottleTimeMs': 9, 'ErrorCode': 0, 'SessionId': 0x4321, 'Responses': [
        {'Topic': META, 'TopicId': META_TOPIC_ID, 'Partitions': [
            {'PartitionIndex': 0, 'ErrorCode': 0, 'HighWatermark': 5000, 'LastStableOffset': 4999,
             'LogStartOffset': 100, 'DivergingEpoch': {'Epoch': 12, 'EndOffset': 4500},
             'CurrentLeader': {'LeaderId': 3001, 'LeaderEpoch': 14}, 'AbortedTransactions': None,
             'PreferredReadReplica': -1, 'Records': RAFT_BATCH},
            {'PartitionIndex': 1, 'ErrorCode': 6, 'HighWatermark': -1, 'LastStableOffset': -1,
             'LogStartOffset': -1, 'SnapshotId': {'EndOffset': 4000, 'Epoch': 13},
             'AbortedTransactions': [{'ProducerId': 4242, 'FirstOffset': 101}], 'PreferredReadReplica': 3,
             'Records': None}]}]}
    if v >= 16:
        d['NodeEndpoints'] = [{'NodeId': 3001, 'Host': 'ctrl-1.example', 'Port': 9093, 'Rack': 'rack-a'},
                              {'NodeId': 3002, 'Host': 'ctrl-2.example', 'Port': 9094, 'Rack': None}]
    return d


def broker_registration_request(v):
    return {'BrokerId': 7, 'ClusterId': CLUSTER, 'IncarnationId': INCARNATION,
            'Listeners': [{'Name': 'PLAINTEXT', 'Host': 'broker-7.example', 'Port': 9092, 'SecurityProtocol': 0},
                          {'Name': 'SSL', 'Host': 'broker-7.example', 'Port': 50443, 'SecurityProtocol': 1}],
            'Features': [{'Name': 'metadata.version', 'MinSupportedVersion': 1, 'MaxSupportedVersion': 19},
                         {'Name': 'zk.migration', 'MinSupportedVersion': 0, 'MaxSupportedVersion': 2}],
            'Rack': None if v == 1 else 'rack-b', 'IsMigratingZkBroker': True, 'LogDirs': [UUID_C, UUID_D],
            'PreviousBrokerEpoch': 5000000001}


def broker_registration_response(v):
    return {'ThrottleTimeMs': 10 + v, 'ErrorCode': 0 if v % 2 == 0 else 64, 'BrokerEpoch': 5000000002 + v}


def broker_heartbeat_request(v, offline=True):
    d = {'BrokerId': 7, 'BrokerEpoch': 5000000002, 'CurrentMetadataOffset': 123456, 'WantFence': False,
         'WantShutDown': True}
    if v >= 1 and offline:
        d['OfflineLogDirs'] = [UUID_D, UUID_C]
    return d


def broker_heartbeat_response():
    return {'ThrottleTimeMs': 3, 'ErrorCode': 0, 'IsCaughtUp': True, 'IsFenced': False, 'ShouldShutDown': True}


def error_message_response(message):
    return {'ThrottleTimeMs': 4, 'ErrorCode': 102 if message else 0, 'ErrorMessage': message}


def controller_registration_request():
    return {'ControllerId': 3001, 'IncarnationId': INCARNATION, 'ZkMigrationReady': True,
            'Listeners': [{'Name': 'CONTROLLER', 'Host': 'ctrl-1.example', 'Port': 9093, 'SecurityProtocol': 0}],
            'Features': [{'Name': 'metadata.version', 'MinSupportedVersion': 1, 'MaxSupportedVersion': 19}]}


# What an Envelope carries: a whole request frame (header v2 + body) and its response frame, here the
# UnregisterBroker ones below; RequestPrincipal is opaque to the codec (Kafka's serialized principal).
INNER_REQUEST_CORR = 77
PRINCIPAL = b'\x00\x04User\x00\x05alice'
CLIENT_ADDR = bytes([10, 0, 0, 7])


def inner_request():
    return (gg.request_header(64, 0, INNER_REQUEST_CORR, 'adminclient-1', 2) +
            gg.enc_struct(at(UNREGISTER_BROKER_REQ, 0), {'BrokerId': 7}, True))


def inner_response():
    return gg.response_header(INNER_REQUEST_CORR, 1) + gg.enc_struct(at(ERROR_MESSAGE_RESP, 0),
                                                                     error_message_response(None), True)


def describe_cluster_response():
    return {'ThrottleTimeMs': 0, 'ErrorCode': 0, 'ErrorMessage': None, 'EndpointType': 2, 'ClusterId': CLUSTER,
            'ControllerId': 3001,
            'Brokers': [{'BrokerId': 3001, 'Host': 'ctrl-1.example', 'Port': 9093, 'Rack': None},
                        {'BrokerId': 3002, 'Host': 'ctrl-2.example', 'Port': 9094, 'Rack': 'rack-a'}],
            'ClusterAuthorizedOperations': -2147483648}


def elect_leaders_request(v, unclean=True):
    return {'ElectionType': 1 if unclean else 0, 'TimeoutMs': 45000,
            'TopicPartitions': [{'Topic': 'orders', 'Partitions': [2, 0]}, {'Topic': 'payments', 'Partitions': []}]}


def elect_leaders_response(v):
    return {'ThrottleTimeMs': 6, 'ErrorCode': 0, 'ReplicaElectionResults': [
        {'Topic': 'orders', 'PartitionResult': [
            {'PartitionId': 2, 'ErrorCode': 0, 'ErrorMessage': None},
            {'PartitionId': 0, 'ErrorCode': 84, 'ErrorMessage': 'Leader election not needed for topic partition.'}]},
        {'Topic': 'payments', 'PartitionResult': []}]}


def leader_change():
    return {'Version': 0, 'LeaderId': 3001, 'Voters': [{'VoterId': 3001}, {'VoterId': 3002}, {'VoterId': 3003}],
            'GrantingVoters': [{'VoterId': 3001}, {'VoterId': 3003}]}


# A Raft Fetch response's records: one batch built by kafka-python (two records whose values are control
# record bodies from this file, as opaque bytes), at the offsets the Raft log would give them.
SNAPSHOT_HEADER_BYTES = gg.enc_struct(at(SNAPSHOT_HEADER, 0), {'Version': 0, 'LastContainedLogTimestamp': TS}, True)
LEADER_CHANGE_BYTES = gg.enc_struct(at(LEADER_CHANGE, 0), leader_change(), True)
RAFT_BATCH = gg.v2_batch([(TS, None, LEADER_CHANGE_BYTES, []), (TS + 4, b'k', SNAPSHOT_HEADER_BYTES, [])],
                         base_offset=4998, leader_epoch=14)
SNAPSHOT_CHUNK_AT = 8
SNAPSHOT_CHUNK = RAFT_BATCH[SNAPSHOT_CHUNK_AT:SNAPSHOT_CHUNK_AT + 32]  # FetchSnapshot sends unaligned slices of the snapshot file

# ---------------------------------------------------------------------------------------------------
# Vector assembly
# ---------------------------------------------------------------------------------------------------

REQUEST, RESPONSE, DATA_KIND = 0, 1, 2
vectors = []
corr = [3000]


def next_corr():
    corr[0] += 1
    return corr[0]


def rpc(name):
    for r in RPCS:
        if r[0] == name:
            return r
    raise KeyError(name)


def request(msg, v, d, client_id=RAFT_CLIENT, suffix='', header_tags=(), exact=True):
    _, key, _, flex_from, schema, _ = rpc(msg)
    flex = flex_from is not None and v >= flex_from
    c = next_corr()
    header = gg.request_header(key, v, c, client_id, 2 if flex else 1, header_tags)
    vectors.append(dict(name='%sRequest_v%d%s' % (msg, v, suffix), key=key, v=v, kind=REQUEST, corr=c,
                        client_id=client_id, header=header, body=gg.enc_struct(at(schema, v), d, flex),
                        exact=exact, msg='%sRequest' % msg))


def response(msg, v, d, suffix='', exact=True):
    _, key, _, flex_from, _, schema = rpc(msg)
    flex = flex_from is not None and v >= flex_from
    c = next_corr()
    vectors.append(dict(name='%sResponse_v%d%s' % (msg, v, suffix), key=key, v=v, kind=RESPONSE, corr=c,
                        client_id=None, header=gg.response_header(c, 1 if flex else 0),
                        body=gg.enc_struct(at(schema, v), d, flex), exact=exact, msg='%sResponse' % msg))


def data(msg, d):
    schema = [x for x in DATA if x[0] == msg][0][3]
    vectors.append(dict(name='%s_v0' % msg, key=-1, v=0, kind=DATA_KIND, corr=0, client_id=None, header=b'',
                        body=gg.enc_struct(at(schema, 0), d, True), exact=True, msg=msg))


def with_unknown_tags(d, tags):
    d = dict(d)
    d['_unknown_tags'] = tags
    return d


def build_vectors():
    for v in (0, 1, 2):
        request('Vote', v, vote_request())
        response('Vote', v, vote_response())
    request('Vote', 0, with_unknown_tags(vote_request(True), [(3, b'\x01\x02'), (200, b'')]), suffix='_null_cluster',
            client_id=None, header_tags=[(1, b'\x09')], exact=False)
    request('BeginQuorumEpoch', 0, begin_epoch_request())
    request('BeginQuorumEpoch', 0, begin_epoch_request(True), suffix='_null_cluster', client_id='')
    response('BeginQuorumEpoch', 0, quorum_epoch_response(0))
    request('EndQuorumEpoch', 0, end_epoch_request())
    response('EndQuorumEpoch', 0, quorum_epoch_response(57))
    for v in (0, 1):
        request('DescribeQuorum', v, describe_quorum_request(), client_id='adminclient-1')
        response('DescribeQuorum', v, describe_quorum_response())
    request('FetchSnapshot', 0, fetch_snapshot_request(True))
    request('FetchSnapshot', 0, fetch_snapshot_request(False), suffix='_no_cluster')
    response('FetchSnapshot', 0, fetch_snapshot_response())
    for v in range(12, 17):
        request('Fetch', v, fetch_request(v), suffix='_raft')
        response('Fetch', v, fetch_response(v), suffix='_raft')
    for v in range(0, 4):
        request('BrokerRegistration', v, broker_registration_request(v), client_id=BROKER_CLIENT)
        response('BrokerRegistration', v, broker_registration_response(v))
    for v in (0, 1):
        request('BrokerHeartbeat', v, broker_heartbeat_request(v), client_id=BROKER_CLIENT)
        response('BrokerHeartbeat', v, broker_heartbeat_response())
    request('BrokerHeartbeat', 1, broker_heartbeat_request(1, offline=False), suffix='_no_offline_dirs',
            client_id=BROKER_CLIENT)
    # The OfflineLogDirs tag (0) in v0, where it does not exist: an unknown tag, skipped.
    request('BrokerHeartbeat', 0, with_unknown_tags(broker_heartbeat_request(0), [(0, b'\x02' + UUID_D)]),
            suffix='_unknown_tag', client_id=BROKER_CLIENT, exact=False)
    request('UnregisterBroker', 0, {'BrokerId': 7}, client_id='adminclient-1')
    response('UnregisterBroker', 0, error_message_response('broker 7 is still registered'))
    response('UnregisterBroker', 0, error_message_response(None), suffix='_ok')
    request('ControllerRegistration', 0, controller_registration_request(), client_id='controller-3001')
    response('ControllerRegistration', 0, error_message_response(None))
    request('AllocateProducerIds', 0, {'BrokerId': 7, 'BrokerEpoch': 5000000002}, client_id=BROKER_CLIENT)
    response('AllocateProducerIds', 0, {'ThrottleTimeMs': 2, 'ErrorCode': 0, 'ProducerIdStart': 3000,
                                        'ProducerIdLen': 1000})
    request('Envelope', 0, {'RequestData': inner_request(), 'RequestPrincipal': PRINCIPAL,
                            'ClientHostAddress': CLIENT_ADDR}, client_id=BROKER_CLIENT)
    request('Envelope', 0, {'RequestData': inner_request(), 'RequestPrincipal': None,
                            'ClientHostAddress': b''}, suffix='_null_principal', client_id=BROKER_CLIENT)
    response('Envelope', 0, {'ResponseData': inner_response(), 'ErrorCode': 0})
    response('Envelope', 0, {'ResponseData': None, 'ErrorCode': 41}, suffix='_null_data')
    # DescribeCluster as a controller listener answers it (KIP-919): the controllers, or an endpoint-type error
    for v in (0, 1):
        request('DescribeCluster', v, {'IncludeClusterAuthorizedOperations': v == 0, 'EndpointType': 2},
                client_id='adminclient-1')
        response('DescribeCluster', v, describe_cluster_response())
    response('DescribeCluster', 1, {'ThrottleTimeMs': 0, 'ErrorCode': 114,
                                    'ErrorMessage': 'The request was sent to an endpoint of type CONTROLLER, but we '
                                                    'wanted an endpoint of type BROKER',
                                    'EndpointType': 1, 'ClusterId': '', 'ControllerId': -1, 'Brokers': [],
                                    'ClusterAuthorizedOperations': -2147483648}, suffix='_mismatched')
    for v in (0, 1, 2):
        request('ElectLeaders', v, elect_leaders_request(v, unclean=v != 0), client_id='adminclient-1')
        response('ElectLeaders', v, elect_leaders_response(v))
    # every partition (null TopicPartitions), PREFERRED; a refused request (NOT_CONTROLLER, top-level v1+)
    request('ElectLeaders', 2, {'ElectionType': 0, 'TopicPartitions': None, 'TimeoutMs': 60000}, suffix='_all',
            client_id='adminclient-1')
    response('ElectLeaders', 2, {'ThrottleTimeMs': 0, 'ErrorCode': 41, 'ReplicaElectionResults': [
        {'Topic': 'orders', 'PartitionResult': [{'PartitionId': 1, 'ErrorCode': 41, 'ErrorMessage': None}]}]},
        suffix='_not_controller')
    # reassignment (quorum mode: forwarded to the controller listener): a move and a cancellation, Kafka's
    # per-partition errors; the listing of everything and of named partitions
    request('AlterPartitionReassignments', 0, {'TimeoutMs': 45000, 'Topics': [
        {'Name': 'orders', 'Partitions': [{'PartitionIndex': 0, 'Replicas': [2, 3]},
                                          {'PartitionIndex': 1, 'Replicas': None}]}]}, client_id='adminclient-1')
    response('AlterPartitionReassignments', 0, {'ThrottleTimeMs': 0, 'ErrorCode': 0, 'ErrorMessage': None,
                                                'Responses': [{'Name': 'orders', 'Partitions': [
                                                    {'PartitionIndex': 0, 'ErrorCode': 0, 'ErrorMessage': None},
                                                    {'PartitionIndex': 1, 'ErrorCode': 85,
                                                     'ErrorMessage': 'No partition reassignment is in progress.'}]}]})
    request('ListPartitionReassignments', 0, {'TimeoutMs': 60000, 'Topics': None}, suffix='_all',
            client_id='adminclient-1')
    request('ListPartitionReassignments', 0, {'TimeoutMs': 45000, 'Topics': [
        {'Name': 'orders', 'PartitionIndexes': [0, 7]}]}, client_id='adminclient-1')
    response('ListPartitionReassignments', 0, {'ThrottleTimeMs': 0, 'ErrorCode': 0, 'ErrorMessage': None,
                                               'Topics': [{'Name': 'orders', 'Partitions': [
                                                   {'PartitionIndex': 0, 'Replicas': [2, 3, 1],
                                                    'AddingReplicas': [3], 'RemovingReplicas': [1]}]}]})
    data('LeaderChangeMessage', leader_change())
    data('SnapshotHeaderRecord', {'Version': 0, 'LastContainedLogTimestamp': TS})
    data('SnapshotFooterRecord', {'Version': 0})


# ---------------------------------------------------------------------------------------------------
# Raft wire vectors: the messages exactly as Kafka 3.7's raft client builds them (RaftUtil.singleton*: one
# topic, __cluster_metadata, partition 0; the fields it does not set at their defaults), bodies only, for
# tests/unit/test_kraft_wire.c (kraftmode/raft_wire.c must encode these bytes and decode them back).
# Written to tests/unit/golden/raft_wire_vectors.inc. Keep the values in step with that test.
# ---------------------------------------------------------------------------------------------------

WIRE_OUT = os.path.join(ROOT, 'tests', 'unit', 'golden', 'raft_wire_vectors.inc')
wire_vectors = []


def wire(msg, kind, v, d, suffix=''):
    _, key, _, flex_from, req_schema, resp_schema = rpc(msg)
    schema = req_schema if kind == 'Request' else resp_schema
    flex = flex_from is not None and v >= flex_from
    wire_vectors.append(('%s%s_v%d%s' % (msg, kind, v, suffix), v, gg.enc_struct(at(schema, v), d, flex)))


def one_partition(name_field, d):
    return [{name_field: META, 'Partitions': [d]}]


def wire_fetch_response(v, error=0, records=RAFT_BATCH, diverging=None, snapshot=None, top_error=0):
    p = {'PartitionIndex': 0, 'ErrorCode': error, 'HighWatermark': 5000, 'LastStableOffset': -1,
         'LogStartOffset': 100, 'CurrentLeader': {'LeaderId': 3001, 'LeaderEpoch': 14},
         'AbortedTransactions': [], 'PreferredReadReplica': -1, 'Records': records}
    if diverging:
        p['DivergingEpoch'] = {'Epoch': diverging[0], 'EndOffset': diverging[1]}
    if snapshot:
        p['SnapshotId'] = {'EndOffset': snapshot[0], 'Epoch': snapshot[1]}
    return {'ThrottleTimeMs': 0, 'ErrorCode': top_error, 'SessionId': 0,
            'Responses': [{'Topic': META, 'TopicId': META_TOPIC_ID, 'Partitions': [p]}]}


def build_wire_vectors():
    wire('Vote', 'Request', 0, {'ClusterId': CLUSTER, 'Topics': one_partition('TopicName', {
        'PartitionIndex': 0, 'CandidateEpoch': 12, 'CandidateId': 3002, 'LastOffsetEpoch': 11,
        'LastOffset': 98765})})
    wire('Vote', 'Response', 0, {'ErrorCode': 0, 'Topics': one_partition('TopicName', {
        'PartitionIndex': 0, 'ErrorCode': 0, 'LeaderId': -1, 'LeaderEpoch': 12, 'VoteGranted': True})})
    # a pre-vote as Kafka 4.0 sends it: ReplicaEpoch is the sender's epoch, not the one it would stand in
    wire('Vote', 'Request', 2, {'ClusterId': CLUSTER, 'VoterId': 3001, 'Topics': one_partition('TopicName', {
        'PartitionIndex': 0, 'CandidateEpoch': 11, 'CandidateId': 3002, 'CandidateDirectoryId': bytes(16),
        'VoterDirectoryId': bytes(16), 'LastOffsetEpoch': 11, 'LastOffset': 98765, 'PreVote': True})}, '_pre_vote')
    wire('Vote', 'Response', 2, {'ErrorCode': 0, 'Topics': one_partition('TopicName', {
        'PartitionIndex': 0, 'ErrorCode': 0, 'LeaderId': -1, 'LeaderEpoch': 12, 'VoteGranted': True})})
    wire('BeginQuorumEpoch', 'Request', 0, {'ClusterId': CLUSTER, 'Topics': one_partition('TopicName', {
        'PartitionIndex': 0, 'LeaderId': 3001, 'LeaderEpoch': 14})})
    wire('BeginQuorumEpoch', 'Response', 0, {'ErrorCode': 0, 'Topics': one_partition('TopicName', {
        'PartitionIndex': 0, 'ErrorCode': 0, 'LeaderId': 3001, 'LeaderEpoch': 14})})
    wire('EndQuorumEpoch', 'Request', 0, {'ClusterId': CLUSTER, 'Topics': one_partition('TopicName', {
        'PartitionIndex': 0, 'LeaderId': 3001, 'LeaderEpoch': 14, 'PreferredSuccessors': [3003, 3002]})})
    wire('EndQuorumEpoch', 'Response', 0, {'ErrorCode': 0, 'Topics': one_partition('TopicName', {
        'PartitionIndex': 0, 'ErrorCode': 6, 'LeaderId': 3003, 'LeaderEpoch': 15})})
    for v in range(13, 17):
        d = {'ClusterId': CLUSTER, 'MaxWaitMs': 500, 'MinBytes': 0, 'MaxBytes': 8388608, 'IsolationLevel': 0,
             'SessionId': 0, 'SessionEpoch': -1,
             'Topics': [{'Topic': META, 'TopicId': META_TOPIC_ID, 'Partitions': [
                 {'Partition': 0, 'CurrentLeaderEpoch': 14, 'FetchOffset': 5000, 'LastFetchedEpoch': 13,
                  'LogStartOffset': -1, 'PartitionMaxBytes': 0}]}],
             'ForgottenTopicsData': [], 'RackId': ''}
        if v <= 14:
            d['ReplicaId'] = 3002
        else:
            d['ReplicaState'] = {'ReplicaId': 3002, 'ReplicaEpoch': -1}
        wire('Fetch', 'Request', v, d)
        wire('Fetch', 'Response', v, wire_fetch_response(v))
    wire('Fetch', 'Response', 16, wire_fetch_response(16, records=b'', diverging=(12, 4500)), '_diverging')
    wire('Fetch', 'Response', 16, wire_fetch_response(16, records=b'', snapshot=(4000, 13)), '_snapshot')
    wire('Fetch', 'Response', 16, wire_fetch_response(16, error=6, records=b''), '_not_leader')
    wire('FetchSnapshot', 'Request', 0, {'ClusterId': CLUSTER, 'ReplicaId': 3002, 'MaxBytes': 1048576,
                                         'Topics': one_partition('Name', {
                                             'Partition': 0, 'CurrentLeaderEpoch': 14,
                                             'SnapshotId': {'EndOffset': 4000, 'Epoch': 13}, 'Position': 8192})})
    wire('FetchSnapshot', 'Response', 0, {'ThrottleTimeMs': 0, 'ErrorCode': 0, 'Topics': one_partition('Name', {
        'Index': 0, 'ErrorCode': 0, 'SnapshotId': {'EndOffset': 4000, 'Epoch': 13},
        'CurrentLeader': {'LeaderId': 3001, 'LeaderEpoch': 14}, 'Size': 20480, 'Position': 8192,
        'UnalignedRecords': SNAPSHOT_CHUNK})})
    # What the I/O layer sends for a request it refuses before the core (RaftUtil.errorResponse).
    wire('Vote', 'Response', 0, {'ErrorCode': 104, 'Topics': []}, '_inconsistent_cluster')
    wire('BeginQuorumEpoch', 'Response', 0, {'ErrorCode': 42, 'Topics': []}, '_invalid_request')
    wire('EndQuorumEpoch', 'Response', 0, {'ErrorCode': 104, 'Topics': []}, '_inconsistent_cluster')
    wire('Fetch', 'Response', 16, {'ThrottleTimeMs': 0, 'ErrorCode': 42, 'SessionId': 0, 'Responses': []},
         '_invalid_request')
    wire('FetchSnapshot', 'Response', 0, {'ThrottleTimeMs': 0, 'ErrorCode': 0, 'Topics': [{'Name': 'orders',
         'Partitions': [{'Index': 3, 'ErrorCode': 3, 'SnapshotId': {'EndOffset': 0, 'Epoch': 0}, 'Size': 0,
                         'Position': 0, 'UnalignedRecords': b''}]}]}, '_unknown_partition')
    # DescribeQuorum as a leader answers it, and the errors.
    def rs(rid, leo, fetch, caught):
        return {'ReplicaId': rid, 'LogEndOffset': leo, 'LastFetchTimestamp': fetch, 'LastCaughtUpTimestamp': caught}
    for v in (0, 1):
        wire('DescribeQuorum', 'Request', v, {'Topics': one_partition('TopicName', {'PartitionIndex': 0})})
        wire('DescribeQuorum', 'Response', v, {'ErrorCode': 0, 'Topics': one_partition('TopicName', {
            'PartitionIndex': 0, 'ErrorCode': 0, 'LeaderId': 3001, 'LeaderEpoch': 14, 'HighWatermark': 5000,
            'CurrentVoters': [rs(3001, 5010, TS + 1, TS + 2), rs(3002, 4990, TS - 30, -1)],
            'Observers': [rs(7, 4800, TS - 50, TS - 60)]})})
        wire('DescribeQuorum', 'Response', v, {'ErrorCode': 0, 'Topics': one_partition('TopicName', {
            'PartitionIndex': 0, 'ErrorCode': 6, 'LeaderId': 0, 'LeaderEpoch': 0, 'HighWatermark': 0,
            'CurrentVoters': [], 'Observers': []})}, '_not_leader')
    wire('DescribeQuorum', 'Response', 1, {'ErrorCode': 0, 'Topics': [{'TopicName': META, 'Partitions': [
        {'PartitionIndex': 0, 'ErrorCode': 3, 'LeaderId': 0, 'LeaderEpoch': 0, 'HighWatermark': 0,
         'CurrentVoters': [], 'Observers': []},
        {'PartitionIndex': 4, 'ErrorCode': 3, 'LeaderId': 0, 'LeaderEpoch': 0, 'HighWatermark': 0,
         'CurrentVoters': [], 'Observers': []}]}]}, '_unknown_partition')


def write_wire(path):
    out = ['/* raft_wire_vectors.inc: GENERATED by scripts/golden_kraft.py (build_wire_vectors): the Raft RPCs as',
           ' * Kafka 3.7\'s raft client builds them, bodies only (no header). Do not edit; re-run the script. */', '']
    for name, _, body in wire_vectors:
        out.append(gg.c_bytes('wv_' + name, body))
    out.append('')
    out.append('static const struct wire_vector wire_vectors[] = {')
    for name, v, body in wire_vectors:
        out.append('    {%s, %d, wv_%s, %d},' % (gg.c_str(name), v, name, len(body)))
    out.append('};')
    out.append('#define WIRE_VECTOR_COUNT %d' % len(wire_vectors))
    out.append('')
    out.append('/* The Fetch responses\' records (kraft_vectors.inc\'s kv_raft_batch) and the FetchSnapshot chunk. */')
    out.append(gg.c_bytes('wv_raft_batch', RAFT_BATCH))
    out.append(gg.c_bytes('wv_snapshot_chunk', SNAPSHOT_CHUNK))
    with open(path, 'w') as f:
        f.write('\n'.join(out) + '\n')


# ---------------------------------------------------------------------------------------------------
# Optional cross-check of the hand-written schemas against Kafka's JSON message definitions
# ---------------------------------------------------------------------------------------------------

def _json_range(s):
    if s == 'none':
        return None
    m = re.fullmatch(r'(\d+)(\+|-(\d+))?', s)
    lo = int(m.group(1))
    return (lo, None if m.group(2) == '+' else (int(m.group(3)) if m.group(3) else lo))


def _from_json(fields, v, common):
    out = []
    for f in fields:
        if not _present(_json_range(f['versions']), v):
            continue
        t = f['type']
        nullable = 'nullableVersions' in f and _present(_json_range(f['nullableVersions']), v)
        if t.startswith('[]'):
            et = t[2:]
            if 'fields' in f or et in common:
                elem = _from_json(f.get('fields') or common[et], v, common)
            else:
                elem = et
            ft = ('n[]' if nullable else '[]', elem)
        elif 'fields' in f or t in common:
            ft = _from_json(f.get('fields') or common[t], v, common)
        elif t in ('string', 'bytes'):
            ft = ('n' if nullable else '') + t
        elif t == 'records':
            ft = 'nbytes' if nullable else 'bytes'
        else:
            ft = t
        tv = f.get('taggedVersions')
        if tv and _present(_json_range(tv), v):
            out.append(('tag', int(f['tag']), f['name'], ft))
        else:
            out.append((f['name'], ft))
    return out


def check_schemas(json_dir):
    def load(name):
        for sub in ('message', '.'):
            p = os.path.join(json_dir, sub, name + '.json')
            if os.path.exists(p):
                with open(p) as fh:
                    return json.loads(re.sub(r'^\s*//.*$', '', fh.read(), flags=re.M))
        raise FileNotFoundError(name)

    def compare(name, vr, flex_from, schema):
        j = load(name)
        assert _json_range(j['validVersions'])[0] <= vr[0], name
        if name != 'FetchRequest' and name != 'FetchResponse':
            assert _json_range(j['validVersions']) == vr, (name, j['validVersions'])
        fr = _json_range(j['flexibleVersions'])
        assert (fr[0] if fr else None) == flex_from, (name, j['flexibleVersions'])
        common = {c['name']: c['fields'] for c in j.get('commonStructs', [])}
        for v in range(vr[0], vr[1] + 1):
            mine, theirs = at(schema, v), _from_json(j['fields'], v, common)
            assert mine == theirs, '%s v%d:\n mine   %r\n kafka  %r' % (name, v, mine, theirs)

    for name, _, vr, flex_from, req, resp in RPCS:
        compare(name + 'Request', vr, flex_from, req)
        compare(name + 'Response', vr, flex_from, resp)
    for name, vr, flex_from, schema in DATA:
        compare(name, vr, flex_from, schema)
    print('schemas agree with %s' % json_dir)


# ---------------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------------

def write(path):
    out = ['/* kraft_vectors.inc: GENERATED by scripts/golden_kraft.py (an encoder independent of Ferry\'s codec,',
           ' * written from the Kafka protocol guide and the Kafka 3.7 message definitions). Do not edit; re-run',
           ' * the script instead. Frames are header + body without the size prefix; control records are',
           ' * bodies only. */', '']
    for vec in vectors:
        out.append(gg.c_bytes('kv_' + vec['name'], vec['header'] + vec['body']))
    out.append('')
    out.append('static const struct kraft_vector kraft_vectors[] = {')
    for vec in vectors:
        kind = ['GOLDEN_REQUEST', 'GOLDEN_RESPONSE', 'KRAFT_DATA'][vec['kind']]
        out.append('    {{%s, %d, %d, %s, %d, %s, %d, kv_%s, %d, %s}, &proto_msg_%s},' % (
            gg.c_str(vec['name']), vec['key'], vec['v'], kind, vec['corr'], gg.c_str(vec['client_id']),
            len(vec['header']), vec['name'], len(vec['header']) + len(vec['body']),
            'true' if vec['exact'] else 'false', vec['msg']))
    out.append('};')
    out.append('#define KRAFT_VECTOR_COUNT %d' % len(vectors))
    out.append('')
    out.append('/* The records of the Raft Fetch responses (base offset 4998, leader epoch 14: a LeaderChangeMessage')
    out.append(' * value, then a SnapshotHeaderRecord value), and where FetchSnapshot\'s chunk was cut from it. */')
    out.append(gg.c_bytes('kv_raft_batch', RAFT_BATCH))
    out.append('#define KV_SNAPSHOT_CHUNK_AT %d' % SNAPSHOT_CHUNK_AT)
    out.append('#define KV_SNAPSHOT_CHUNK_LEN %d' % len(SNAPSHOT_CHUNK))
    out.append('')
    out.append('/* Kafka 3.7\'s version ranges of these messages: {name, api key, min, max, flexible from (-1: never)}.')
    out.append(' * Fetch lists only the versions the Raft layer uses. */')
    out.append('static const struct kraft_range kraft_ranges[] = {')
    for name, key, vr, flex_from, _, _ in RPCS:
        for suffix in ('Request', 'Response'):
            out.append('    {"%s%s", %d, %d, %d, %d, &proto_msg_%s%s},' % (
                name, suffix, key, vr[0], vr[1], -1 if flex_from is None else flex_from, name, suffix))
    for name, vr, flex_from, _ in DATA:
        out.append('    {"%s", -1, %d, %d, %d, &proto_msg_%s},' % (name, vr[0], vr[1], flex_from, name))
    out.append('};')
    out.append('#define KRAFT_RANGE_COUNT %d' % (2 * len(RPCS) + len(DATA)))
    with open(path, 'w') as f:
        f.write('\n'.join(out) + '\n')


def main(argv):
    if len(argv) == 3 and argv[1] == '--check-schemas':
        check_schemas(argv[2])
    elif len(argv) != 1:
        sys.exit('usage: golden_kraft.py [--check-schemas DIR]')
    build_vectors()
    write(OUT)
    print('wrote %d vectors to %s' % (len(vectors), OUT))
    build_wire_vectors()
    write_wire(WIRE_OUT)
    print('wrote %d vectors to %s' % (len(wire_vectors), WIRE_OUT))


if __name__ == '__main__':
    main(sys.argv)
