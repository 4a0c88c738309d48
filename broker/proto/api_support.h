/* api_support: the API versions this broker advertises in ApiVersions, per listener kind.
 *
 * Every (key, version) listed here is implemented by a handler and covered by a golden byte-vector test
 * (tests/unit/test_proto_golden.c checks that for the broker listener; the KRaft RPCs of the controller
 * listener by tests/unit/test_proto_golden_kraft.c). Minimums stay 0 where Kafka 3.7 has 0: librdkafka gates
 * features (compression, groups, idempotence) on version 0 being inside the range. */
#ifndef FERRY_API_SUPPORT_H
#define FERRY_API_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

struct proto_api_range {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
};

/* The client-facing (broker listener) table and its length. */
extern const struct proto_api_range proto_broker_apis[];
extern const size_t proto_broker_apis_count;

/* The range advertised for api_key, or NULL if the broker does not serve it. */
const struct proto_api_range *proto_api_lookup(int16_t api_key);

/* The APIs a broker serves on its broker listeners only in legacy (ZooKeeper) mode, as Kafka 3.7's
 * ZooKeeper-mode brokers do: the controller-to-broker RPCs (and, on the controller, the broker-to-controller
 * ones). ApiVersions advertises them after proto_broker_apis only in legacy mode; quorum mode never serves
 * them. Same golden-vector rule as proto_broker_apis (tests/unit/test_zkrpc_golden.c checks it). To serve a
 * new one: a row here, a case in broker/api/legacy.c. */
extern const struct proto_api_range proto_legacy_apis[];
extern const size_t proto_legacy_apis_count;
const struct proto_api_range *proto_legacy_api_lookup(int16_t api_key);

/* The controller listener's table (controller.listener.names; Kafka's ControllerApis) and its lookup:
 * every entry has a handler in broker/api/dispatch.c's controller routing. */
extern const struct proto_api_range proto_controller_apis[];
extern const size_t proto_controller_apis_count;
const struct proto_api_range *proto_controller_api_lookup(int16_t api_key);

/* The APIs a broker serves on its broker listeners only in quorum mode, advertised after proto_broker_apis
 * there: DescribeQuorum, which Kafka 3.7's brokers forward to the controller (KafkaApis:
 * forwardToControllerOrFail) and Ferry's broker answers from its metadata source, and ElectLeaders,
 * AlterPartitionReassignments and ListPartitionReassignments, which the broker forwards to the active
 * controller inside an Envelope (md_source elect_leaders, alter/list_partition_reassignments). Golden vectors:
 * tests/unit/test_proto_golden_kraft.c; tests/unit/test_kraft_wire.c checks this table against them. */
extern const struct proto_api_range proto_quorum_apis[];
extern const size_t proto_quorum_apis_count;
const struct proto_api_range *proto_quorum_api_lookup(int16_t api_key);

enum proto_api_key {
    API_PRODUCE = 0,
    API_FETCH = 1,
    API_LIST_OFFSETS = 2,
    API_METADATA = 3,
    API_LEADER_AND_ISR = 4,
    API_STOP_REPLICA = 5,
    API_UPDATE_METADATA = 6,
    API_CONTROLLED_SHUTDOWN = 7,
    API_OFFSET_COMMIT = 8,
    API_OFFSET_FETCH = 9,
    API_FIND_COORDINATOR = 10,
    API_JOIN_GROUP = 11,
    API_HEARTBEAT = 12,
    API_LEAVE_GROUP = 13,
    API_SYNC_GROUP = 14,
    API_DESCRIBE_GROUPS = 15,
    API_LIST_GROUPS = 16,
    API_API_VERSIONS = 18,
    API_CREATE_TOPICS = 19,
    API_DELETE_TOPICS = 20,
    API_INIT_PRODUCER_ID = 22,
    API_DESCRIBE_CONFIGS = 32,
    API_ALTER_CONFIGS = 33,
    API_CREATE_PARTITIONS = 37,
    API_DELETE_GROUPS = 42,
    API_ELECT_LEADERS = 43,
    API_INCREMENTAL_ALTER_CONFIGS = 44,
    API_ALTER_PARTITION_REASSIGNMENTS = 45,
    API_LIST_PARTITION_REASSIGNMENTS = 46,
    API_OFFSET_DELETE = 47,
    API_VOTE = 52,
    API_BEGIN_QUORUM_EPOCH = 53,
    API_END_QUORUM_EPOCH = 54,
    API_DESCRIBE_QUORUM = 55,
    API_ALTER_PARTITION = 56,
    API_ENVELOPE = 58,
    API_FETCH_SNAPSHOT = 59,
    API_DESCRIBE_CLUSTER = 60,
    API_BROKER_REGISTRATION = 62,
    API_BROKER_HEARTBEAT = 63,
    API_UNREGISTER_BROKER = 64,
    API_ALLOCATE_PRODUCER_IDS = 67,
    API_CONTROLLER_REGISTRATION = 70,
};

#endif
