/* The expected values of the consumer-group golden vectors (scripts/golden_groups.py), included by
 * test_proto_golden.c (which defines STR_EQ, STR_NULL and struct golden_vector). Keep in step with the
 * script. */
#ifndef FERRY_GOLDEN_GROUP_CHECKS_H
#define FERRY_GOLDEN_GROUP_CHECKS_H

static const uint8_t gg_meta[] = {0, 1, 0, 0, 0, 1, 0, 6, 'o', 'r', 'd', 'e', 'r', 's', 0, 0, 0, 0};
static const uint8_t gg_assign[] = {0, 1, 0, 0, 0, 1, 0, 6, 'o', 'r', 'd', 'e', 'r', 's', 0, 0, 0, 2,
                                    0, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff};

#define BYTES_EQ(b, arr)                                                                                   \
    do {                                                                                                   \
        assert_int_equal((b).len, (int32_t)sizeof(arr));                                                   \
        assert_memory_equal((b).p, (arr), sizeof(arr));                                                    \
    } while (0)

static void check_join_group_request(const struct golden_vector *gv, const void *msg)
{
    const struct JoinGroupRequest *r = msg;
    int v = gv->version;
    STR_EQ(r->GroupId, "payments-consumers");
    assert_int_equal(r->SessionTimeoutMs, 45000);
    assert_int_equal(r->RebalanceTimeoutMs, v >= 1 ? 300000 : -1);
    STR_EQ(r->MemberId, v % 2 ? "rdkafka-1f2e" : "");
    if (v == 5)
        STR_EQ(r->GroupInstanceId, "pod-7");
    else
        STR_NULL(r->GroupInstanceId);
    STR_EQ(r->ProtocolType, "consumer");
    assert_int_equal(r->Protocols_n, 2);
    STR_EQ(r->Protocols[0].Name, "range");
    BYTES_EQ(r->Protocols[0].Metadata, gg_meta);
    STR_EQ(r->Protocols[1].Name, "roundrobin");
    assert_int_equal(r->Protocols[1].Metadata.len, 0);
}

static void check_join_group_response(const struct golden_vector *gv, const void *msg)
{
    const struct JoinGroupResponse *r = msg;
    int v = gv->version;
    assert_int_equal(r->ThrottleTimeMs, v >= 2 ? 9 : 0);
    assert_int_equal(r->ErrorCode, 0);
    assert_int_equal(r->GenerationId, 12);
    STR_EQ(r->ProtocolName, "range");
    STR_EQ(r->Leader, "rdkafka-1f2e");
    STR_EQ(r->MemberId, "rdkafka-1f2e");
    assert_int_equal(r->Members_n, 2);
    STR_EQ(r->Members[0].MemberId, "rdkafka-1f2e");
    if (v >= 5)
        STR_EQ(r->Members[0].GroupInstanceId, "pod-7");
    else
        STR_NULL(r->Members[0].GroupInstanceId);
    BYTES_EQ(r->Members[0].Metadata, gg_meta);
    STR_EQ(r->Members[1].MemberId, "kafka-python-9a");
    STR_NULL(r->Members[1].GroupInstanceId);
    assert_int_equal(r->Members[1].Metadata.len, 0);
}

static void check_sync_group_request(const struct golden_vector *gv, const void *msg)
{
    const struct SyncGroupRequest *r = msg;
    STR_EQ(r->GroupId, "payments-consumers");
    assert_int_equal(r->GenerationId, 12);
    STR_EQ(r->MemberId, "rdkafka-1f2e");
    STR_NULL(r->GroupInstanceId);
    assert_int_equal(r->Assignments_n, 2);
    STR_EQ(r->Assignments[0].MemberId, "rdkafka-1f2e");
    BYTES_EQ(r->Assignments[0].Assignment, gg_assign);
    STR_EQ(r->Assignments[1].MemberId, "kafka-python-9a");
    assert_int_equal(r->Assignments[1].Assignment.len, 0);
}

static void check_sync_group_response(const struct golden_vector *gv, const void *msg)
{
    const struct SyncGroupResponse *r = msg;
    int v = gv->version;
    assert_int_equal(r->ThrottleTimeMs, v >= 1 ? 2 : 0);
    if (v == 2) {
        assert_int_equal(r->ErrorCode, 27);
        assert_int_equal(r->Assignment.len, 0);
    } else {
        assert_int_equal(r->ErrorCode, 0);
        BYTES_EQ(r->Assignment, gg_assign);
    }
}

static void check_heartbeat_request(const struct golden_vector *gv, const void *msg)
{
    const struct HeartbeatRequest *r = msg;
    STR_EQ(r->GroupId, "payments-consumers");
    assert_int_equal(r->GenerationId, 12);
    STR_EQ(r->MemberId, "rdkafka-1f2e");
    if (gv->version >= 3)
        STR_EQ(r->GroupInstanceId, "pod-7");
    else
        STR_NULL(r->GroupInstanceId);
}

static void check_heartbeat_response(const struct golden_vector *gv, const void *msg)
{
    const struct HeartbeatResponse *r = msg;
    assert_int_equal(r->ThrottleTimeMs, gv->version >= 1 ? 5 : 0);
    assert_int_equal(r->ErrorCode, 27);
}

static void check_leave_group_request(const struct golden_vector *gv, const void *msg)
{
    const struct LeaveGroupRequest *r = msg;
    STR_EQ(r->GroupId, "payments-consumers");
    if (gv->version < 3) {
        STR_EQ(r->MemberId, "rdkafka-1f2e");
        return;
    }
    assert_int_equal(r->Members_n, 2);
    STR_EQ(r->Members[0].MemberId, "rdkafka-1f2e");
    STR_NULL(r->Members[0].GroupInstanceId);
    STR_EQ(r->Members[1].MemberId, "");
    STR_EQ(r->Members[1].GroupInstanceId, "pod-7");
}

static void check_leave_group_response(const struct golden_vector *gv, const void *msg)
{
    const struct LeaveGroupResponse *r = msg;
    int v = gv->version;
    assert_int_equal(r->ThrottleTimeMs, v >= 1 ? 1 : 0);
    assert_int_equal(r->ErrorCode, v >= 3 ? 0 : 25);
    if (v < 3)
        return;
    assert_int_equal(r->Members_n, 2);
    STR_EQ(r->Members[0].MemberId, "rdkafka-1f2e");
    assert_int_equal(r->Members[0].ErrorCode, 0);
    STR_EQ(r->Members[1].GroupInstanceId, "pod-7");
    assert_int_equal(r->Members[1].ErrorCode, 82);
}

static void check_offset_commit_request(const struct golden_vector *gv, const void *msg)
{
    const struct OffsetCommitRequest *r = msg;
    int v = gv->version;
    STR_EQ(r->GroupId, "payments-consumers");
    assert_int_equal(r->GenerationIdOrMemberEpoch, v >= 1 ? 12 : -1);
    if (v >= 1)
        STR_EQ(r->MemberId, "rdkafka-1f2e");
    STR_NULL(r->GroupInstanceId);
    assert_int_equal(r->RetentionTimeMs, -1);
    assert_int_equal(r->Topics_n, 2);
    STR_EQ(r->Topics[0].Name, "orders");
    assert_int_equal(r->Topics[0].Partitions_n, 2);
    assert_int_equal(r->Topics[0].Partitions[0].PartitionIndex, 0);
    assert_int_equal(r->Topics[0].Partitions[0].CommittedOffset, 1234567890123LL);
    assert_int_equal(r->Topics[0].Partitions[0].CommittedLeaderEpoch, v >= 6 ? 4 : -1);
    assert_int_equal(r->Topics[0].Partitions[0].CommitTimestamp, -1);
    STR_EQ(r->Topics[0].Partitions[0].CommittedMetadata, "ckpt");
    assert_int_equal(r->Topics[0].Partitions[1].PartitionIndex, 3);
    STR_NULL(r->Topics[0].Partitions[1].CommittedMetadata);
    STR_EQ(r->Topics[1].Name, "audit");
    assert_int_equal(r->Topics[1].Partitions_n, 0);
}

static void check_offset_commit_response(const struct golden_vector *gv, const void *msg)
{
    const struct OffsetCommitResponse *r = msg;
    assert_int_equal(r->ThrottleTimeMs, gv->version >= 3 ? 6 : 0);
    assert_int_equal(r->Topics_n, 1);
    STR_EQ(r->Topics[0].Name, "orders");
    assert_int_equal(r->Topics[0].Partitions_n, 2);
    assert_int_equal(r->Topics[0].Partitions[1].PartitionIndex, 3);
    assert_int_equal(r->Topics[0].Partitions[1].ErrorCode, 22);
}

static void check_offset_fetch_request(const struct golden_vector *gv, const void *msg)
{
    const struct OffsetFetchRequest *r = msg;
    int v = gv->version;
    STR_EQ(r->GroupId, "payments-consumers");
    if (v == 2 || v == 4) {
        assert_int_equal(r->Topics_n, -1);
        return;
    }
    assert_int_equal(r->Topics_n, 1);
    STR_EQ(r->Topics[0].Name, "orders");
    assert_int_equal(r->Topics[0].PartitionIndexes_n, 3);
    assert_int_equal(r->Topics[0].PartitionIndexes[2], 5);
}

static void check_offset_fetch_response(const struct golden_vector *gv, const void *msg)
{
    const struct OffsetFetchResponse *r = msg;
    int v = gv->version;
    assert_int_equal(r->ThrottleTimeMs, v >= 3 ? 8 : 0);
    assert_int_equal(r->ErrorCode, 0);
    assert_int_equal(r->Topics_n, 1);
    assert_int_equal(r->Topics[0].Partitions_n, 2);
    assert_int_equal(r->Topics[0].Partitions[0].CommittedOffset, 1234567890123LL);
    assert_int_equal(r->Topics[0].Partitions[0].CommittedLeaderEpoch, v >= 5 ? 4 : -1);
    STR_EQ(r->Topics[0].Partitions[0].Metadata, "ckpt");
    assert_int_equal(r->Topics[0].Partitions[1].PartitionIndex, 5);
    assert_int_equal(r->Topics[0].Partitions[1].CommittedOffset, -1);
    STR_EQ(r->Topics[0].Partitions[1].Metadata, "");
}

static void check_describe_groups_request(const struct golden_vector *gv, const void *msg)
{
    const struct DescribeGroupsRequest *r = msg;
    assert_int_equal(r->Groups_n, 2);
    STR_EQ(r->Groups[0], "payments-consumers");
    STR_EQ(r->Groups[1], "audit");
    assert_int_equal(r->IncludeAuthorizedOperations, gv->version >= 3);
}

static void check_describe_groups_response(const struct golden_vector *gv, const void *msg)
{
    const struct DescribeGroupsResponse *r = msg;
    int v = gv->version;
    assert_int_equal(r->ThrottleTimeMs, v >= 1 ? 4 : 0);
    assert_int_equal(r->Groups_n, 2);
    STR_EQ(r->Groups[0].GroupState, "Stable");
    STR_EQ(r->Groups[0].ProtocolType, "consumer");
    STR_EQ(r->Groups[0].ProtocolData, "range");
    assert_int_equal(r->Groups[0].AuthorizedOperations, v >= 3 ? 0x0f0 : INT32_MIN);
    assert_int_equal(r->Groups[0].Members_n, 1);
    if (v >= 4)
        STR_EQ(r->Groups[0].Members[0].GroupInstanceId, "pod-7");
    else
        STR_NULL(r->Groups[0].Members[0].GroupInstanceId);
    STR_EQ(r->Groups[0].Members[0].ClientHost, "/10.0.0.7");
    BYTES_EQ(r->Groups[0].Members[0].MemberMetadata, gg_meta);
    BYTES_EQ(r->Groups[0].Members[0].MemberAssignment, gg_assign);
    STR_EQ(r->Groups[1].GroupState, "Dead");
    assert_int_equal(r->Groups[1].Members_n, 0);
}

static void check_list_groups_request(const struct golden_vector *gv, const void *msg)
{
    const struct ListGroupsRequest *r = msg;
    (void)gv;
    assert_true(r->StatesFilter_n <= 0);
}

static void check_list_groups_response(const struct golden_vector *gv, const void *msg)
{
    const struct ListGroupsResponse *r = msg;
    assert_int_equal(r->ThrottleTimeMs, gv->version >= 1 ? 3 : 0);
    assert_int_equal(r->Groups_n, 2);
    STR_EQ(r->Groups[0].GroupId, "payments-consumers");
    STR_EQ(r->Groups[0].ProtocolType, "consumer");
    STR_EQ(r->Groups[1].GroupId, "solo");
    STR_EQ(r->Groups[1].ProtocolType, "");
}

static void check_delete_groups_request(const struct golden_vector *gv, const void *msg)
{
    const struct DeleteGroupsRequest *r = msg;
    (void)gv;
    assert_int_equal(r->GroupsNames_n, 2);
    STR_EQ(r->GroupsNames[1], "solo");
}

static void check_delete_groups_response(const struct golden_vector *gv, const void *msg)
{
    const struct DeleteGroupsResponse *r = msg;
    (void)gv;
    assert_int_equal(r->ThrottleTimeMs, 2);
    assert_int_equal(r->Results_n, 2);
    assert_int_equal(r->Results[0].ErrorCode, 68);
    STR_EQ(r->Results[1].GroupId, "solo");
}

static void check_offset_delete_request(const struct golden_vector *gv, const void *msg)
{
    const struct OffsetDeleteRequest *r = msg;
    (void)gv;
    STR_EQ(r->GroupId, "payments-consumers");
    assert_int_equal(r->Topics_n, 1);
    assert_int_equal(r->Topics[0].Partitions_n, 2);
    assert_int_equal(r->Topics[0].Partitions[1].PartitionIndex, 3);
}

static void check_offset_delete_response(const struct golden_vector *gv, const void *msg)
{
    const struct OffsetDeleteResponse *r = msg;
    (void)gv;
    assert_int_equal(r->ErrorCode, 0);
    assert_int_equal(r->ThrottleTimeMs, 1);
    assert_int_equal(r->Topics[0].Partitions[1].ErrorCode, 86);
}

#define GOLDEN_GROUP_CHECKS                                                                                \
    {API_JOIN_GROUP, check_join_group_request, check_join_group_response},                                 \
        {API_SYNC_GROUP, check_sync_group_request, check_sync_group_response},                             \
        {API_HEARTBEAT, check_heartbeat_request, check_heartbeat_response},                                \
        {API_LEAVE_GROUP, check_leave_group_request, check_leave_group_response},                          \
        {API_OFFSET_COMMIT, check_offset_commit_request, check_offset_commit_response},                    \
        {API_OFFSET_FETCH, check_offset_fetch_request, check_offset_fetch_response},                       \
        {API_DESCRIBE_GROUPS, check_describe_groups_request, check_describe_groups_response},              \
        {API_LIST_GROUPS, check_list_groups_request, check_list_groups_response},                          \
        {API_DELETE_GROUPS, check_delete_groups_request, check_delete_groups_response},                    \
        {API_OFFSET_DELETE, check_offset_delete_request, check_offset_delete_response},

#endif
