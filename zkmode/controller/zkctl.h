/* zkctl: the decisions of Kafka 3.7's ZooKeeper-mode controller as a pure, deterministic core.
 *
 * Events and time in, actions out (design principle 2). No ZooKeeper client, no sockets, no clock: the
 * adapter (the .c files of zkmode/) feeds events (became controller with a full picture of ZooKeeper, broker changes,
 * topic changes, deletion markers, AlterPartition and ControlledShutdown requests, results of the znode
 * operations and RPCs it ran, ticks with now_ms, resign) and drains actions (fenced znode multis, znode
 * reads, controller-to-broker requests as generated wire structs, responses to brokers, resign).
 *
 * Rules follow apache/kafka 3.7 KafkaController, PartitionStateMachine, ReplicaStateMachine,
 * TopicDeletionManager, Election.scala and ControllerChannelManager; docs/architecture.md ("ZooKeeper-mode
 * controller") lists them and what is not done.
 *
 * Ownership: every event copies what it keeps from its arguments (the caller may free them on return).
 * Each action returned by zkctl_next_action belongs to the caller, who frees it with zkctl_action_free; the
 * wire structs in an action live in the action's arena. All functions return 0 or a negative FERRY_E*
 * (FERRY_EINVAL for bad input, which changes nothing; FERRY_ENOMEM). After FERRY_ENOMEM inside an event the
 * core may have queued part of the event's actions; it stays consistent (nothing is freed twice or leaked).
 *
 * Adapter contract: run the actions in queue order on one ZooKeeper session and report each ZK_MULTI and
 * ZK_READ exactly once (a result for an id the core no longer knows, e.g. after a new election, gets
 * FERRY_ENOTFOUND and can be ignored); send SEND actions to the broker's controller channel in order and drop
 * them for a broker that is gone (the core learns it from zkctl_broker_gone); answer the request carried by
 * RESPOND's token; on RESIGN resign as Kafka does (delete /controller if still ours, re-run the election).
 * Feed StopReplica and LeaderAndIsr responses back; call zkctl_tick every second or so. While not the
 * controller the core ignores events and answers requests with NOT_CONTROLLER. */
#ifndef FERRY_ZKCTL_H
#define FERRY_ZKCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/proto/proto_buf.h"
#include "proto_messages.h"
#include "zkmode/znode/znode_codec.h"

/* Versions the core sends (Kafka 3.7 at IBP >= 3.4-IV0). */
#define ZKCTL_LEADER_AND_ISR_VERSION 7
#define ZKCTL_UPDATE_METADATA_VERSION 8
#define ZKCTL_STOP_REPLICA_VERSION 4
#define ZKCTL_API_LEADER_AND_ISR 4
#define ZKCTL_API_STOP_REPLICA 5
#define ZKCTL_API_UPDATE_METADATA 6
#define ZKCTL_API_CONTROLLED_SHUTDOWN 7
#define ZKCTL_API_ALTER_PARTITION 56
#define ZKCTL_API_ELECT_LEADERS 43
#define ZKCTL_API_ALTER_PARTITION_REASSIGNMENTS 45
#define ZKCTL_API_LIST_PARTITION_REASSIGNMENTS 46

typedef struct {
    int32_t controller_id;            /* this broker's id */
    const char *inter_broker_listener; /* LiveLeaders use this listener's endpoint; NULL = "PLAINTEXT" */
    bool auto_leader_rebalance_enable;  /* auto.leader.rebalance.enable (true) */
    int32_t leader_imbalance_per_broker_percentage; /* 10 */
    int64_t leader_imbalance_check_interval_ms;     /* leader.imbalance.check.interval.seconds * 1000 (300 s) */
    bool delete_topic_enable;           /* delete.topic.enable (true) */
    bool unclean_leader_election_enable; /* broker default for unclean.leader.election.enable (false) */
    /* A new random topic id (Kafka's Uuid.randomUuid) for a topic znode without one, which the core then
     * writes back (fenced setData of /brokers/topics/<t>, any version), as Kafka's setTopicIds. NULL: such a
     * topic is used with a zero id and not written. Returns 0 or a negative FERRY_E*. */
    int (*new_topic_id)(void *arg, proto_uuid *out);
    void *new_topic_id_arg;
} zkctl_config;
/* Kafka's defaults, with controller_id. */
void zkctl_config_default(zkctl_config *cfg, int32_t controller_id);

/* ---- inputs ---- */
typedef struct {
    const char *listener;       /* listener name, e.g. "PLAINTEXT" */
    const char *host;
    int32_t port;
    int16_t security_protocol;  /* 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL */
} zkctl_endpoint;

typedef struct {
    int32_t id;
    int64_t epoch;              /* czxid of /brokers/ids/<id> */
    size_t n_endpoints;
    const zkctl_endpoint *endpoints;
    const char *rack;           /* NULL: none */
} zkctl_broker;

/* Security protocol ids as Kafka's SecurityProtocol: PLAINTEXT 0, SSL 1, SASL_PLAINTEXT 2, SASL_SSL 3;
 * FERRY_EPARSE for another name. */
int zkctl_security_protocol_id(const char *name);

/* A zkctl_broker made from a decoded /brokers/ids/<id> (zk_broker_info) and the znode's czxid: each endpoint
 * is parsed (zk_endpoint_parse) and its protocol taken from listener_security_protocol_map (without a map,
 * the listener name must be a protocol name, as Kafka does).
 * out->broker points into out and into info (rack): both must outlive it. 0, FERRY_EPARSE (bad endpoint,
 * unknown protocol) or FERRY_ENOMEM; on failure out is left empty. */
typedef struct {
    zkctl_broker broker;
    size_t n;
    zkctl_endpoint *endpoints;
    zk_endpoint *parsed;
} zkctl_broker_buf;
int zkctl_broker_from_znode(int32_t id, int64_t czxid, const zk_broker_info *info, zkctl_broker_buf *out);
void zkctl_broker_buf_free(zkctl_broker_buf *b);

typedef struct {
    int32_t partition;
    const zk_partition_state *state; /* decoded partitions/<n>/state */
    int32_t zkversion;               /* its Stat.version: the partition epoch */
    /* The state as this broker's metadata image holds it (the previous controller's UpdateMetadata and
     * LeaderAndIsr: leader, leader epoch, ISR, ZkVersion), not read from ZooKeeper: the core decides from it
     * at once and writes at that zkVersion (a BADVERSION re-reads the znode and decides again); the state
     * read from ZooKeeper later comes in with zkctl_states_read. become_controller only. */
    bool from_image;
} zkctl_state_in;

typedef struct {
    const char *name;
    const zk_topic_assignment *assignment; /* decoded /brokers/topics/<t>; topic_id used when present */
    size_t n_states;                       /* partitions without a state znode are new */
    const zkctl_state_in *states;
    bool has_unclean;                      /* /config/topics/<t> sets unclean.leader.election.enable */
    bool unclean;
} zkctl_topic_in;

/* The full picture read on failover. */
typedef struct {
    int32_t epoch;            /* /controller_epoch value written by the election (E+1) */
    int32_t epoch_zkversion;  /* its zkVersion after the election's setData: every write checks it */
    int64_t now_ms;
    size_t n_brokers;
    const zkctl_broker *brokers;
    size_t n_topics;
    const zkctl_topic_in *topics;
    size_t n_deletions;       /* children of /admin/delete_topics */
    const char *const *deletions;
} zkctl_snapshot;

/* Results of znode operations. */
enum zkctl_zk_rc {
    ZKCTL_ZK_OK = 0,
    ZKCTL_ZK_BADVERSION,
    ZKCTL_ZK_NONODE,
    ZKCTL_ZK_NODEEXISTS,
    ZKCTL_ZK_CONNLOSS,  /* outcome unknown */
    ZKCTL_ZK_OTHER,
};

/* ---- actions ---- */
enum zkctl_action_kind {
    ZKCTL_ACT_ZK_MULTI = 1,  /* run ops as one multi; report with zkctl_zk_multi_result(id, ...) (or
                                zkctl_zk_result when it has two ops) */
    ZKCTL_ACT_ZK_READ,       /* read path's data and Stat.version; report with zkctl_zk_read_result(id, ...) */
    ZKCTL_ACT_SEND,          /* send body (api_key, api_version) to broker_id */
    ZKCTL_ACT_RESPOND,       /* answer the request given with `token` (api_key says which) with body */
    ZKCTL_ACT_RESIGN,        /* the epoch check failed: another controller was elected; resign */
};

enum zkctl_op_kind { ZKCTL_OP_CHECK = 1, ZKCTL_OP_CREATE, ZKCTL_OP_SET, ZKCTL_OP_DELETE };

typedef struct {
    enum zkctl_op_kind kind;
    char *path;
    char *data;       /* create/set: the codec's bytes (NULL for null data) */
    size_t len;
    int32_t version;  /* check/set/delete: expected version (-1 any); create: unused (persistent node) */
} zkctl_zk_op;

typedef struct zkctl_action {
    enum zkctl_action_kind kind;
    uint64_t id;            /* ZK_MULTI, ZK_READ */
    size_t n_ops;           /* ZK_MULTI: ops[0] is always check(/controller_epoch, epoch zkVersion) */
    zkctl_zk_op *ops;
    char *path;             /* ZK_READ */
    int32_t broker_id;      /* SEND */
    uint64_t token;         /* RESPOND */
    int16_t api_key;        /* SEND, RESPOND */
    int16_t api_version;
    void *body;             /* struct LeaderAndIsrRequest / UpdateMetadataRequest / StopReplicaRequest /
                               AlterPartitionResponse / ControlledShutdownResponse, in arena */
    struct proto_arena arena;
    struct zkctl_action *next;
} zkctl_action;

void zkctl_action_free(zkctl_action *a);

typedef struct zkctl zkctl;

int zkctl_new(const zkctl_config *cfg, zkctl **out);
void zkctl_free(zkctl *c);
bool zkctl_is_active(const zkctl *c);
/* How many times a partition was decided since zkctl_new (each event decides its own partitions, some
 * decide every partition): for tests of the cost of events. */
size_t zkctl_partitions_decided(const zkctl *c);
/* Partition-state writes in flight (the adapter holds bulk reads back until a failover's writes are done). */
size_t zkctl_state_writes_in_flight(const zkctl *c);
/* The next action in order, or NULL. The caller owns it. Actions must be run in this order (znode ops on
 * one session are applied in order; requests to one broker are sent in order). */
zkctl_action *zkctl_next_action(zkctl *c);

/* ---- events ---- */
/* Failover. States marked from_image (the image takeover, docs/architecture.md) are provisional until
 * zkctl_states_read confirms or replaces them. */
int zkctl_become_controller(zkctl *c, const zkctl_snapshot *s);
/* The image takeover's background read: the partition states read from ZooKeeper (topics[i].name, states;
 * assignment and the config flags are ignored) of partitions whose state came from the image. A state newer
 * than the controller's (a higher zkVersion, or the same zkVersion with other contents) is adopted, sent to
 * the partition's replicas (LeaderAndIsr) and every broker (UpdateMetadata) as the failover would have, and
 * decided again; a partition with a write in flight is left to that write (its BADVERSION re-reads);
 * unknown topics and partitions are ignored. */
int zkctl_states_read(zkctl *c, const zkctl_topic_in *topics, size_t n_topics);
/* /brokers/ids changed: a broker registered (new id), bounced (same id, larger epoch: handled as a failure
 * then a start) or changed its endpoints or rack (same epoch, Kafka's BrokerModification: UpdateMetadata to
 * all; nothing when neither changed, so the adapter may pass every broker it re-reads). */
int zkctl_broker_registered(zkctl *c, const zkctl_broker *b);
int zkctl_broker_gone(zkctl *c, int32_t broker_id);
/* /brokers/topics/<t> created or changed: new topics and new partitions get state znodes. */
int zkctl_topic_changed(zkctl *c, const char *name, const zk_topic_assignment *a);
/* /config/topics/<t>: unclean.leader.election.enable override (has = false: use the broker default). */
int zkctl_topic_config(zkctl *c, const char *name, bool has_unclean, bool unclean);
/* /admin/delete_topics/<t> appeared. */
int zkctl_delete_requested(zkctl *c, const char *name);
/* Requests from brokers: answered later by a RESPOND action carrying `token`. */
int zkctl_alter_partition(zkctl *c, uint64_t token, int16_t version, const struct AlterPartitionRequest *req);
int zkctl_controlled_shutdown(zkctl *c, uint64_t token, int16_t version,
                              const struct ControlledShutdownRequest *req);
/* Admin requests of clients (zkctl_admin.c, zkctl_reassign.c), answered by a RESPOND action with the
 * request's api key; while not the controller with NOT_CONTROLLER (ElectLeaders: per listed partition, as
 * Kafka's KafkaController.processReplicaLeaderElection; the others: top level).
 *  - ElectLeaders v0-2 (v0: PREFERRED): per partition ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE,
 *    ELIGIBLE_LEADERS_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION (being deleted),
 *    REQUEST_TIMED_OUT; answered once the elections' state writes are done (null TopicPartitions: every
 *    partition, without those that need no election).
 *  - AlterPartitionReassignments v0: starts (or with null Replicas cancels) reassignments and answers at once
 *    (INVALID_REPLICA_ASSIGNMENT, NO_REASSIGNMENT_IN_PROGRESS, UNKNOWN_TOPIC_OR_PARTITION per partition).
 *  - ListPartitionReassignments v0: the reassignments in progress (null Topics: all). */
int zkctl_elect_leaders(zkctl *c, uint64_t token, int16_t version, const struct ElectLeadersRequest *req);
int zkctl_alter_reassignments(zkctl *c, uint64_t token, int16_t version,
                              const struct AlterPartitionReassignmentsRequest *req);
int zkctl_list_reassignments(zkctl *c, uint64_t token, int16_t version,
                             const struct ListPartitionReassignmentsRequest *req);
/* /admin/reassign_partitions was read (at takeover or when created): its reassignments start (Kafka does
 * not validate them: an unknown partition, or one with no replicas, is a failure); the znode is rewritten as
 * they fail or finish, and deleted (fenced) once empty. */
int zkctl_reassign_znode(zkctl *c, const zk_admin_partitions *r);
/* /admin/preferred_replica_election was read: preferred elections for its known partitions, then the znode
 * is deleted (fenced). */
int zkctl_preferred_znode(zkctl *c, const zk_admin_partitions *e);
/* The outcome of a ZK_MULTI: rc, the index of the failing op when rc != OK (0 = the epoch check), and the
 * Stat.version of the last op on OK (set: new version; create: 0). */
int zkctl_zk_result(zkctl *c, uint64_t id, enum zkctl_zk_rc rc, size_t failed_op, int32_t version);
/* The same with the Stat.version after every op (versions[i] for ops[i]; 0 for the check and creates):
 * required for a multi of several ops, which the core uses to write many partition states in one
 * ZooKeeper transaction (all or nothing; each still fenced by the epoch check as ops[0]). */
int zkctl_zk_multi_result(zkctl *c, uint64_t id, enum zkctl_zk_rc rc, size_t failed_op, const int32_t *versions,
                          size_t n_versions);
int zkctl_zk_read_result(zkctl *c, uint64_t id, enum zkctl_zk_rc rc, const char *data, size_t len,
                         int32_t version);
/* A StopReplica response (topic deletion progress); error_code != 0 or a partition error marks the
 * replica ineligible until one of the topic's brokers starts again. */
int zkctl_stop_replica_response(zkctl *c, int32_t broker_id, const struct StopReplicaResponse *resp);
/* A LeaderAndIsr response (any version: PartitionErrors by name before v5, Topics by id from v5): a
 * KAFKA_STORAGE_ERROR puts that replica on an offline log dir: it cannot lead, leaves the ISR and is listed
 * offline, until its broker registers again (Kafka's replicasOnOfflineDirs). Other errors are logged. */
int zkctl_leader_and_isr_response(zkctl *c, int32_t broker_id, const struct LeaderAndIsrResponse *resp);
int zkctl_tick(zkctl *c, int64_t now_ms);
/* Stop being controller (session expired, /controller changed): pending requests get NOT_CONTROLLER. */
int zkctl_resign(zkctl *c);

/* ---- inspection (tests, adapter logs) ---- */
typedef struct {
    bool has_state;
    int32_t leader, leader_epoch, controller_epoch, zkversion;
    size_t n_isr;
    const int32_t *isr;
    size_t n_replicas;
    const int32_t *replicas;
    int8_t leader_recovery_state;
    bool deleting;
    bool reassigning;           /* replicas is the union; adding and removing as in the topic znode */
    size_t n_adding, n_removing;
    const int32_t *adding, *removing;
} zkctl_partition_view;
/* FERRY_ENOTFOUND when the controller does not know the partition. Pointers valid until the next event. */
int zkctl_partition(const zkctl *c, const char *topic, int32_t partition, zkctl_partition_view *out);

#endif
