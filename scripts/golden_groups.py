"""golden_groups.py: the consumer-group golden vectors for gen-golden.py (JoinGroup v0-5, SyncGroup v0-3,
Heartbeat v0-3, LeaveGroup v0-3, OffsetCommit v0-7, OffsetFetch v0-5, DescribeGroups v0-4, ListGroups v0-2,
DeleteGroups v0-1, OffsetDelete v0), encoded by gen-golden.py's independent encoder from the Kafka 3.7
message schemas (JoinGroupRequest.json, ...). Where kafka-python 2.0.2 has a class with the same layout
(JoinGroup v0-2, SyncGroup v0-1, Heartbeat v0-1, LeaveGroup v0-1, OffsetCommit v0-2, OffsetFetch v0-3,
DescribeGroups v0-1, ListGroups v0-1), cross_check() encodes the same values with it and compares.

The expected values are written out again in tests/unit/test_proto_golden.c (check_*_group_*)."""

META = bytes([0, 1, 0, 0, 0, 1, 0, 6]) + b'orders' + bytes([0, 0, 0, 0])
ASSIGN = bytes([0, 1, 0, 0, 0, 1, 0, 6]) + b'orders' + bytes([0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff])


def join_req_schema(v):
    s = [('GroupId', 'string'), ('SessionTimeoutMs', 'int32')]
    if v >= 1:
        s.append(('RebalanceTimeoutMs', 'int32'))
    s.append(('MemberId', 'string'))
    if v >= 5:
        s.append(('GroupInstanceId', 'nstring'))
    s += [('ProtocolType', 'string'), ('Protocols', ('[]', [('Name', 'string'), ('Metadata', 'bytes')]))]
    return s


def join_req(v):
    d = {'GroupId': 'payments-consumers', 'SessionTimeoutMs': 45000, 'RebalanceTimeoutMs': 300000,
         'MemberId': 'rdkafka-1f2e' if v % 2 else '', 'GroupInstanceId': 'pod-7' if v == 5 else None,
         'ProtocolType': 'consumer',
         'Protocols': [{'Name': 'range', 'Metadata': META}, {'Name': 'roundrobin', 'Metadata': b''}]}
    return d


def join_resp_schema(v):
    s = []
    if v >= 2:
        s.append(('ThrottleTimeMs', 'int32'))
    s += [('ErrorCode', 'int16'), ('GenerationId', 'int32'), ('ProtocolName', 'string'), ('Leader', 'string'),
          ('MemberId', 'string')]
    m = [('MemberId', 'string')]
    if v >= 5:
        m.append(('GroupInstanceId', 'nstring'))
    m.append(('Metadata', 'bytes'))
    s.append(('Members', ('[]', m)))
    return s


def join_resp(v):
    return {'ThrottleTimeMs': 9, 'ErrorCode': 0, 'GenerationId': 12, 'ProtocolName': 'range',
            'Leader': 'rdkafka-1f2e', 'MemberId': 'rdkafka-1f2e',
            'Members': [{'MemberId': 'rdkafka-1f2e', 'GroupInstanceId': 'pod-7' if v >= 5 else None,
                         'Metadata': META},
                        {'MemberId': 'kafka-python-9a', 'GroupInstanceId': None, 'Metadata': b''}]}


def sync_req_schema(v):
    s = [('GroupId', 'string'), ('GenerationId', 'int32'), ('MemberId', 'string')]
    if v >= 3:
        s.append(('GroupInstanceId', 'nstring'))
    s.append(('Assignments', ('[]', [('MemberId', 'string'), ('Assignment', 'bytes')])))
    return s


def sync_req(v):
    return {'GroupId': 'payments-consumers', 'GenerationId': 12, 'MemberId': 'rdkafka-1f2e',
            'GroupInstanceId': None,
            'Assignments': [{'MemberId': 'rdkafka-1f2e', 'Assignment': ASSIGN},
                            {'MemberId': 'kafka-python-9a', 'Assignment': b''}]}


def sync_resp_schema(v):
    return ([('ThrottleTimeMs', 'int32')] if v >= 1 else []) + [('ErrorCode', 'int16'), ('Assignment', 'bytes')]


def sync_resp(v):
    return {'ThrottleTimeMs': 2, 'ErrorCode': 27 if v == 2 else 0, 'Assignment': b'' if v == 2 else ASSIGN}


def hb_req_schema(v):
    s = [('GroupId', 'string'), ('GenerationId', 'int32'), ('MemberId', 'string')]
    if v >= 3:
        s.append(('GroupInstanceId', 'nstring'))
    return s


def hb_req(v):
    return {'GroupId': 'payments-consumers', 'GenerationId': 12, 'MemberId': 'rdkafka-1f2e',
            'GroupInstanceId': 'pod-7'}


def hb_resp_schema(v):
    return ([('ThrottleTimeMs', 'int32')] if v >= 1 else []) + [('ErrorCode', 'int16')]


def hb_resp(v):
    return {'ThrottleTimeMs': 5, 'ErrorCode': 27}


def leave_req_schema(v):
    if v >= 3:
        return [('GroupId', 'string'),
                ('Members', ('[]', [('MemberId', 'string'), ('GroupInstanceId', 'nstring')]))]
    return [('GroupId', 'string'), ('MemberId', 'string')]


def leave_req(v):
    return {'GroupId': 'payments-consumers', 'MemberId': 'rdkafka-1f2e',
            'Members': [{'MemberId': 'rdkafka-1f2e', 'GroupInstanceId': None},
                        {'MemberId': '', 'GroupInstanceId': 'pod-7'}]}


def leave_resp_schema(v):
    s = ([('ThrottleTimeMs', 'int32')] if v >= 1 else []) + [('ErrorCode', 'int16')]
    if v >= 3:
        s.append(('Members', ('[]', [('MemberId', 'string'), ('GroupInstanceId', 'nstring'),
                                     ('ErrorCode', 'int16')])))
    return s


def leave_resp(v):
    return {'ThrottleTimeMs': 1, 'ErrorCode': 0 if v >= 3 else 25,
            'Members': [{'MemberId': 'rdkafka-1f2e', 'GroupInstanceId': None, 'ErrorCode': 0},
                        {'MemberId': '', 'GroupInstanceId': 'pod-7', 'ErrorCode': 82}]}


def commit_req_schema(v):
    s = [('GroupId', 'string')]
    if v >= 1:
        s += [('GenerationIdOrMemberEpoch', 'int32'), ('MemberId', 'string')]
    if v >= 7:
        s.append(('GroupInstanceId', 'nstring'))
    if 2 <= v <= 4:
        s.append(('RetentionTimeMs', 'int64'))
    p = [('PartitionIndex', 'int32'), ('CommittedOffset', 'int64')]
    if v >= 6:
        p.append(('CommittedLeaderEpoch', 'int32'))
    if v == 1:
        p.append(('CommitTimestamp', 'int64'))
    p.append(('CommittedMetadata', 'nstring'))
    s.append(('Topics', ('[]', [('Name', 'string'), ('Partitions', ('[]', p))])))
    return s


def commit_req(v):
    return {'GroupId': 'payments-consumers', 'GenerationIdOrMemberEpoch': 12, 'MemberId': 'rdkafka-1f2e',
            'GroupInstanceId': None, 'RetentionTimeMs': -1,
            'Topics': [{'Name': 'orders', 'Partitions': [
                {'PartitionIndex': 0, 'CommittedOffset': 1234567890123, 'CommittedLeaderEpoch': 4,
                 'CommitTimestamp': -1, 'CommittedMetadata': 'ckpt'},
                {'PartitionIndex': 3, 'CommittedOffset': 0, 'CommittedLeaderEpoch': -1, 'CommitTimestamp': -1,
                 'CommittedMetadata': None}]},
                {'Name': 'audit', 'Partitions': []}]}


def commit_resp_schema(v):
    return ([('ThrottleTimeMs', 'int32')] if v >= 3 else []) + [
        ('Topics', ('[]', [('Name', 'string'), ('Partitions', ('[]', [('PartitionIndex', 'int32'),
                                                                      ('ErrorCode', 'int16')]))]))]


def commit_resp(v):
    return {'ThrottleTimeMs': 6, 'Topics': [{'Name': 'orders', 'Partitions': [
        {'PartitionIndex': 0, 'ErrorCode': 0}, {'PartitionIndex': 3, 'ErrorCode': 22}]}]}


def fetch_req_schema(v):
    return [('GroupId', 'string'),
            ('Topics', ('n[]' if v >= 2 else '[]', [('Name', 'string'), ('PartitionIndexes', ('[]', 'int32'))]))]


def fetch_req(v):
    return {'GroupId': 'payments-consumers',
            'Topics': None if v in (2, 4) else [{'Name': 'orders', 'PartitionIndexes': [0, 3, 5]}]}


def fetch_resp_schema(v):
    p = [('PartitionIndex', 'int32'), ('CommittedOffset', 'int64')]
    if v >= 5:
        p.append(('CommittedLeaderEpoch', 'int32'))
    p += [('Metadata', 'nstring'), ('ErrorCode', 'int16')]
    s = ([('ThrottleTimeMs', 'int32')] if v >= 3 else []) + [
        ('Topics', ('[]', [('Name', 'string'), ('Partitions', ('[]', p))]))]
    if v >= 2:
        s.append(('ErrorCode', 'int16'))
    return s


def fetch_resp(v):
    return {'ThrottleTimeMs': 8, 'ErrorCode': 0, 'Topics': [{'Name': 'orders', 'Partitions': [
        {'PartitionIndex': 0, 'CommittedOffset': 1234567890123, 'CommittedLeaderEpoch': 4, 'Metadata': 'ckpt',
         'ErrorCode': 0},
        {'PartitionIndex': 5, 'CommittedOffset': -1, 'CommittedLeaderEpoch': -1, 'Metadata': '',
         'ErrorCode': 0}]}]}


def describe_req_schema(v):
    return [('Groups', ('[]', 'string'))] + ([('IncludeAuthorizedOperations', 'bool')] if v >= 3 else [])


def describe_req(v):
    return {'Groups': ['payments-consumers', 'audit'], 'IncludeAuthorizedOperations': True}


def describe_resp_schema(v):
    m = [('MemberId', 'string')]
    if v >= 4:
        m.append(('GroupInstanceId', 'nstring'))
    m += [('ClientId', 'string'), ('ClientHost', 'string'), ('MemberMetadata', 'bytes'),
          ('MemberAssignment', 'bytes')]
    g = [('ErrorCode', 'int16'), ('GroupId', 'string'), ('GroupState', 'string'), ('ProtocolType', 'string'),
         ('ProtocolData', 'string'), ('Members', ('[]', m))]
    if v >= 3:
        g.append(('AuthorizedOperations', 'int32'))
    return ([('ThrottleTimeMs', 'int32')] if v >= 1 else []) + [('Groups', ('[]', g))]


def describe_resp(v):
    return {'ThrottleTimeMs': 4, 'Groups': [
        {'ErrorCode': 0, 'GroupId': 'payments-consumers', 'GroupState': 'Stable', 'ProtocolType': 'consumer',
         'ProtocolData': 'range', 'AuthorizedOperations': 0x0f0,
         'Members': [{'MemberId': 'rdkafka-1f2e', 'GroupInstanceId': 'pod-7' if v >= 4 else None,
                      'ClientId': 'rdkafka', 'ClientHost': '/10.0.0.7', 'MemberMetadata': META,
                      'MemberAssignment': ASSIGN}]},
        {'ErrorCode': 0, 'GroupId': 'audit', 'GroupState': 'Dead', 'ProtocolType': '', 'ProtocolData': '',
         'AuthorizedOperations': -2147483648, 'Members': []}]}


def list_resp_schema(v):
    return ([('ThrottleTimeMs', 'int32')] if v >= 1 else []) + [
        ('ErrorCode', 'int16'), ('Groups', ('[]', [('GroupId', 'string'), ('ProtocolType', 'string')]))]


def list_resp(v):
    return {'ThrottleTimeMs': 3, 'ErrorCode': 0, 'Groups': [
        {'GroupId': 'payments-consumers', 'ProtocolType': 'consumer'}, {'GroupId': 'solo', 'ProtocolType': ''}]}


DELETE_GROUPS_REQ = [('GroupsNames', ('[]', 'string'))]
DELETE_GROUPS_RESP = [('ThrottleTimeMs', 'int32'),
                      ('Results', ('[]', [('GroupId', 'string'), ('ErrorCode', 'int16')]))]
OFFSET_DELETE_REQ = [('GroupId', 'string'), ('Topics', ('[]', [
    ('Name', 'string'), ('Partitions', ('[]', [('PartitionIndex', 'int32')]))]))]
OFFSET_DELETE_RESP = [('ErrorCode', 'int16'), ('ThrottleTimeMs', 'int32'), ('Topics', ('[]', [
    ('Name', 'string'), ('Partitions', ('[]', [('PartitionIndex', 'int32'), ('ErrorCode', 'int16')]))]))]


def build(own_request, own_response, c):
    """Adds every group vector (non-flexible versions: request header v1, response header v0)."""
    cid = 'rdkafka'
    for v in range(0, 6):
        own_request('JoinGroupRequest_v%d' % v, 11, v, 1, join_req_schema(v), join_req(v), c(), cid, False)
        own_response('JoinGroupResponse_v%d' % v, 11, v, 0, join_resp_schema(v), join_resp(v), c(), False)
    for v in range(0, 4):
        own_request('SyncGroupRequest_v%d' % v, 14, v, 1, sync_req_schema(v), sync_req(v), c(), cid, False)
        own_response('SyncGroupResponse_v%d' % v, 14, v, 0, sync_resp_schema(v), sync_resp(v), c(), False)
        own_request('HeartbeatRequest_v%d' % v, 12, v, 1, hb_req_schema(v), hb_req(v), c(), cid, False)
        own_response('HeartbeatResponse_v%d' % v, 12, v, 0, hb_resp_schema(v), hb_resp(v), c(), False)
        own_request('LeaveGroupRequest_v%d' % v, 13, v, 1, leave_req_schema(v), leave_req(v), c(), cid, False)
        own_response('LeaveGroupResponse_v%d' % v, 13, v, 0, leave_resp_schema(v), leave_resp(v), c(), False)
    for v in range(0, 8):
        own_request('OffsetCommitRequest_v%d' % v, 8, v, 1, commit_req_schema(v), commit_req(v), c(), cid, False)
        own_response('OffsetCommitResponse_v%d' % v, 8, v, 0, commit_resp_schema(v), commit_resp(v), c(), False)
    for v in range(0, 6):
        own_request('OffsetFetchRequest_v%d' % v, 9, v, 1, fetch_req_schema(v), fetch_req(v), c(), cid, False)
        own_response('OffsetFetchResponse_v%d' % v, 9, v, 0, fetch_resp_schema(v), fetch_resp(v), c(), False)
    for v in range(0, 5):
        own_request('DescribeGroupsRequest_v%d' % v, 15, v, 1, describe_req_schema(v), describe_req(v), c(), cid,
                    False)
        own_response('DescribeGroupsResponse_v%d' % v, 15, v, 0, describe_resp_schema(v), describe_resp(v), c(),
                     False)
    for v in range(0, 3):
        own_request('ListGroupsRequest_v%d' % v, 16, v, 1, [], {}, c(), cid, False)
        own_response('ListGroupsResponse_v%d' % v, 16, v, 0, list_resp_schema(v), list_resp(v), c(), False)
    for v in range(0, 2):
        own_request('DeleteGroupsRequest_v%d' % v, 42, v, 1, DELETE_GROUPS_REQ,
                    {'GroupsNames': ['payments-consumers', 'solo']}, c(), cid, False)
        own_response('DeleteGroupsResponse_v%d' % v, 42, v, 0, DELETE_GROUPS_RESP,
                     {'ThrottleTimeMs': 2, 'Results': [{'GroupId': 'payments-consumers', 'ErrorCode': 68},
                                                       {'GroupId': 'solo', 'ErrorCode': 0}]}, c(), False)
    own_request('OffsetDeleteRequest_v0', 47, 0, 1, OFFSET_DELETE_REQ,
                {'GroupId': 'payments-consumers', 'Topics': [{'Name': 'orders', 'Partitions': [
                    {'PartitionIndex': 0}, {'PartitionIndex': 3}]}]}, c(), cid, False)
    own_response('OffsetDeleteResponse_v0', 47, 0, 0, OFFSET_DELETE_RESP,
                 {'ErrorCode': 0, 'ThrottleTimeMs': 1, 'Topics': [{'Name': 'orders', 'Partitions': [
                     {'PartitionIndex': 0, 'ErrorCode': 0}, {'PartitionIndex': 3, 'ErrorCode': 86}]}]}, c(), False)


def cross_check(enc_struct, kp_encode_tuple):
    """kafka-python 2.0.2's classes with the same layouts must give the same bytes. kp_encode_tuple(cls,
    values) encodes a tuple in the class's field order."""
    import kafka.protocol.group as kg
    import kafka.protocol.commit as kc
    import kafka.protocol.admin as ka
    for v in range(0, 3):
        d = join_req(v)
        t = [d['GroupId'], d['SessionTimeoutMs']] + ([d['RebalanceTimeoutMs']] if v >= 1 else []) + [
            d['MemberId'], d['ProtocolType'], [(p['Name'], p['Metadata']) for p in d['Protocols']]]
        assert kp_encode_tuple(getattr(kg, 'JoinGroupRequest_v%d' % v), t) == enc_struct(
            join_req_schema(v), d, False), 'JoinGroupRequest v%d' % v
        d = join_resp(v)
        t = ([d['ThrottleTimeMs']] if v >= 2 else []) + [d['ErrorCode'], d['GenerationId'], d['ProtocolName'],
                                                         d['Leader'], d['MemberId'],
                                                         [(m['MemberId'], m['Metadata']) for m in d['Members']]]
        assert kp_encode_tuple(getattr(kg, 'JoinGroupResponse_v%d' % v), t) == enc_struct(
            join_resp_schema(v), d, False), 'JoinGroupResponse v%d' % v
    for v in range(0, 2):
        d = hb_req(v)
        assert kp_encode_tuple(getattr(kg, 'HeartbeatRequest_v%d' % v),
                               [d['GroupId'], d['GenerationId'], d['MemberId']]) == enc_struct(
            hb_req_schema(v), d, False)
        d = leave_req(v)
        assert kp_encode_tuple(getattr(kg, 'LeaveGroupRequest_v%d' % v), [d['GroupId'], d['MemberId']]) == \
            enc_struct(leave_req_schema(v), d, False)
        d = sync_req(v)
        t = [d['GroupId'], d['GenerationId'], d['MemberId'],
             [(a['MemberId'], a['Assignment']) for a in d['Assignments']]]
        assert kp_encode_tuple(getattr(kg, 'SyncGroupRequest_v%d' % v), t) == enc_struct(
            sync_req_schema(v), d, False)
    for v in range(0, 3):
        d = commit_req(v)
        topics = []
        for tp in d['Topics']:
            parts = []
            for p in tp['Partitions']:
                row = [p['PartitionIndex'], p['CommittedOffset']]
                if v == 1:
                    row.append(p['CommitTimestamp'])
                row.append(p['CommittedMetadata'])
                parts.append(tuple(row))
            topics.append((tp['Name'], parts))
        t = [d['GroupId']] + ([d['GenerationIdOrMemberEpoch'], d['MemberId']] if v >= 1 else []) + (
            [d['RetentionTimeMs']] if v >= 2 else []) + [topics]
        assert kp_encode_tuple(getattr(kc, 'OffsetCommitRequest_v%d' % v), t) == enc_struct(
            commit_req_schema(v), d, False), 'OffsetCommitRequest v%d' % v
    for v in range(0, 4):
        d = fetch_req(v)
        topics = None if d['Topics'] is None else [(t['Name'], t['PartitionIndexes']) for t in d['Topics']]
        assert kp_encode_tuple(getattr(kc, 'OffsetFetchRequest_v%d' % v), [d['GroupId'], topics]) == enc_struct(
            fetch_req_schema(v), d, False), 'OffsetFetchRequest v%d' % v
    for v in range(0, 2):
        d = describe_req(v)
        assert kp_encode_tuple(getattr(ka, 'DescribeGroupsRequest_v%d' % v), [d['Groups']]) == enc_struct(
            describe_req_schema(v), d, False)
        d = list_resp(v)
        t = ([d['ThrottleTimeMs']] if v >= 1 else []) + [d['ErrorCode'],
                                                         [(g['GroupId'], g['ProtocolType']) for g in d['Groups']]]
        assert kp_encode_tuple(getattr(ka, 'ListGroupsResponse_v%d' % v), t) == enc_struct(
            list_resp_schema(v), d, False)
