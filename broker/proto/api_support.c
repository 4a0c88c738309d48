/* api_support: see api_support.h. Ranges follow ../shared/reference/client-protocol.md section 0. */
#include "api_support.h"

const struct proto_api_range proto_broker_apis[] = {
    {API_PRODUCE, 0, 7},
    {API_FETCH, 0, 11},
    {API_LIST_OFFSETS, 0, 2},
    {23 /* OffsetForLeaderEpoch (followers find where their log diverged) */, 0, 4},
    {API_METADATA, 0, 5},
    {API_OFFSET_COMMIT, 0, 7},
    {API_OFFSET_FETCH, 0, 5},
    {API_FIND_COORDINATOR, 0, 2},
    {API_JOIN_GROUP, 0, 5},
    {API_HEARTBEAT, 0, 3},
    {API_LEAVE_GROUP, 0, 3},
    {API_SYNC_GROUP, 0, 3},
    {API_DESCRIBE_GROUPS, 0, 4},
    {API_LIST_GROUPS, 0, 2},
    {API_API_VERSIONS, 0, 3},
    {API_CREATE_TOPICS, 0, 4},
    {API_DELETE_TOPICS, 0, 3},
    {API_INIT_PRODUCER_ID, 0, 4},
    {API_DESCRIBE_CONFIGS, 0, 2},
    {API_ALTER_CONFIGS, 0, 1},
    {API_CREATE_PARTITIONS, 0, 1},
    {API_INCREMENTAL_ALTER_CONFIGS, 0, 1},
    {API_DESCRIBE_CLUSTER, 0, 0},
    {API_DELETE_GROUPS, 0, 1},
    {API_OFFSET_DELETE, 0, 0},
};
const size_t proto_broker_apis_count = sizeof proto_broker_apis / sizeof proto_broker_apis[0];

/* The controller listener (Kafka's ControllerApis): an entry is added with its handler in
 * broker/api/dispatch.c's controller switch. */
const struct proto_api_range proto_controller_apis[] = {
    {API_FETCH, 13, 16}, /* the Raft log (kraftmode/raft_wire.h): below 13 there is no topic id */
    {API_API_VERSIONS, 0, 3},
    {API_VOTE, 0, 2}, /* v1-v2 (Kafka 4.0): pre-vote between Ferry voters (kraftmode/raft_wire.h) */
    {API_BEGIN_QUORUM_EPOCH, 0, 0},
    {API_END_QUORUM_EPOCH, 0, 0},
    {API_DESCRIBE_QUORUM, 0, 1},
    {API_FETCH_SNAPSHOT, 0, 0},
    {API_DESCRIBE_CLUSTER, 0, 1}, /* KIP-919: the controllers (EndpointType 2) */
    /* the admin writes a broker forwards, at the broker listener's versions (their golden vectors) */
    {API_CREATE_TOPICS, 0, 4},
    {API_DELETE_TOPICS, 0, 3},
    {API_ALTER_CONFIGS, 0, 1},
    {API_CREATE_PARTITIONS, 0, 1},
    {API_INCREMENTAL_ALTER_CONFIGS, 0, 1},
    {API_ELECT_LEADERS, 0, 2}, /* Kafka 3.7's versions (kraftmode/ctrl_elect.c) */
    {API_ALTER_PARTITION_REASSIGNMENTS, 0, 0}, /* kraftmode/ctrl_reassign.c */
    {API_LIST_PARTITION_REASSIGNMENTS, 0, 0},
    /* the broker lifecycle (kraftmode/kraft_ctrl_rpc.h) */
    {API_ALTER_PARTITION, 0, 3},
    {API_ENVELOPE, 0, 0},
    {API_BROKER_REGISTRATION, 0, 3},
    {API_BROKER_HEARTBEAT, 0, 1},
    {API_UNREGISTER_BROKER, 0, 0},
    {API_ALLOCATE_PRODUCER_IDS, 0, 0},
    {API_CONTROLLER_REGISTRATION, 0, 0},
};
const size_t proto_controller_apis_count = sizeof proto_controller_apis / sizeof proto_controller_apis[0];

/* Served on broker listeners only in quorum mode (Kafka's "broker" listener type without "zkBroker"). */
const struct proto_api_range proto_quorum_apis[] = {
    {API_DESCRIBE_QUORUM, 0, 1},
    {API_ELECT_LEADERS, 0, 2}, /* forwarded to the active controller */
    {API_ALTER_PARTITION_REASSIGNMENTS, 0, 0}, /* forwarded to the active controller */
    {API_LIST_PARTITION_REASSIGNMENTS, 0, 0},  /* forwarded to the active controller */
};
const size_t proto_quorum_apis_count = sizeof proto_quorum_apis / sizeof proto_quorum_apis[0];

/* Only the versions a Kafka 3.7 ZooKeeper-mode controller sends at inter.broker.protocol.version 3.4 and
 * later (it picks them from the IBP, without ApiVersions): LeaderAndIsr v7, StopReplica v4, UpdateMetadata
 * v8. A controller at an older IBP is not supported (docs/compatibility.md). */
const struct proto_api_range proto_legacy_apis[] = {
    {API_LEADER_AND_ISR, 7, 7},
    {API_STOP_REPLICA, 4, 4},
    {API_UPDATE_METADATA, 8, 8},
    /* requests to the controller from brokers, served by the active controller (NOT_CONTROLLER elsewhere) */
    {API_CONTROLLED_SHUTDOWN, 0, 3},
    {API_ALTER_PARTITION, 0, 3},
    /* a client's admin requests that Kafka's ZooKeeper-mode broker hands to its own controller (the active
     * controller decides, NOT_CONTROLLER elsewhere; zkmode/controller/zkctl_admin.c, zkctl_reassign.c) */
    {API_ELECT_LEADERS, 0, 2},
    {API_ALTER_PARTITION_REASSIGNMENTS, 0, 0},
    {API_LIST_PARTITION_REASSIGNMENTS, 0, 0},
};
const size_t proto_legacy_apis_count = sizeof proto_legacy_apis / sizeof proto_legacy_apis[0];

static const struct proto_api_range *lookup(const struct proto_api_range *table, size_t n, int16_t api_key)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].api_key == api_key)
            return &table[i];
    return 0;
}

const struct proto_api_range *proto_api_lookup(int16_t api_key)
{
    return lookup(proto_broker_apis, proto_broker_apis_count, api_key);
}

const struct proto_api_range *proto_legacy_api_lookup(int16_t api_key)
{
    return lookup(proto_legacy_apis, proto_legacy_apis_count, api_key);
}

const struct proto_api_range *proto_controller_api_lookup(int16_t api_key)
{
    return lookup(proto_controller_apis, proto_controller_apis_count, api_key);
}

const struct proto_api_range *proto_quorum_api_lookup(int16_t api_key)
{
    return lookup(proto_quorum_apis, proto_quorum_apis_count, api_key);
}
