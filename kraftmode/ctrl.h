/* ctrl: the quorum controller's decisions, as pure functions (design principle 2):
 *
 *     (image, environment, decoded request, version)  ->  (metadata records, response)
 *
 * Nothing here does I/O, reads a clock or keeps state between calls. The environment carries the
 * settings the decisions need (num.partitions, default.replication.factor, the broker config that topic
 * config defaults come from, this node's id) plus a random source for topic ids and replica placement,
 * so that tests are deterministic. The caller (kraft_node) appends the records to the metadata log, and
 * only once they are committed applies them to the image and sends the response.
 *
 * What Kafka 3.7 does, and therefore what these do:
 *  - CreateTopics: duplicate names -> INVALID_REQUEST "Duplicate topic name."; `__cluster_metadata` ->
 *    TOPIC_AUTHORIZATION_FAILED (as ControllerApis); invalid names and '.'/'_' collisions with existing
 *    topics -> INVALID_TOPIC_EXCEPTION; existing -> TOPIC_ALREADY_EXISTS; null config values or configs
 *    that fail topic_config validation -> INVALID_CONFIG; manual assignments are checked as
 *    ReplicationControlManager does (INVALID_REQUEST / INVALID_REPLICA_ASSIGNMENT); replication factor
 *    0 or < -1 -> INVALID_REPLICATION_FACTOR, more than the registered usable brokers or none unfenced ->
 *    INVALID_REPLICATION_FACTOR; partitions 0 or < -1 -> INVALID_PARTITIONS. -1 means the default.
 *    Replicas are placed by Kafka's striped placer (rack-aware when brokers have racks); ISR = the active
 *    replicas, leader = the first of them, epochs 0. Records per topic: TopicRecord, ConfigRecords,
 *    PartitionRecords. validate_only produces the response and no records.
 *  - An operation that would produce more than 10000 records fails as a whole with POLICY_VIOLATION
 *    "Unable to perform excessively large batch operation." (Kafka 3.7's BoundedList limit).
 *  - DeleteTopics: by name (v0-5) or by name or id (v6); UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID;
 *    duplicates INVALID_REQUEST; delete.topic.enable=false -> INVALID_REQUEST (v0-2) or
 *    TOPIC_DELETION_DISABLED (v3+) for every topic. One RemoveTopicRecord per topic.
 *  - CreatePartitions: INVALID_PARTITIONS when the count is not an increase, INVALID_REPLICA_ASSIGNMENT
 *    for assignments of the wrong size or content; PartitionRecords for the new partitions.
 *  - AlterConfigs (replace-all) and IncrementalAlterConfigs (SET, DELETE, APPEND, SUBTRACT) on TOPIC
 *    resources. BROKER resources: the name must be empty or this node's id (else INVALID_REQUEST), and
 *    since every Ferry broker config is static (read-only), setting any key answers INVALID_REQUEST
 *    "Cannot update these configs dynamically: Set(<keys>)", which is what Kafka's broker answers for
 *    static configs; an empty change set succeeds with no records; IncrementalAlterConfigs DELETE of a
 *    broker key writes the null ConfigRecord as Kafka does. BROKER_LOGGER, CLIENT_METRICS and unknown
 *    resource types answer INVALID_REQUEST.
 *  - Auto-creation (Metadata with auto.create.topics.enable): CreateTopics with num.partitions and
 *    default.replication.factor (the internal topics with their own settings and configs).
 *
 * Response strings are allocated in the caller's arena; records and everything they point to live in the
 * records' arena. Functions return 0 or FERRY_ENOMEM (then the response is incomplete and no records
 * should be written). */
#ifndef FERRY_CTRL_H
#define FERRY_CTRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/metadata/md_image.h"
#include "kraftmode/metalog_record.h"
#include "proto_messages.h"

struct ferry_config;

#define CTRL_MAX_RECORDS_PER_OP METALOG_MAX_RECORDS_PER_BATCH
#define CTRL_METADATA_TOPIC "__cluster_metadata"
#define CTRL_OFFSETS_TOPIC "__consumer_offsets"
#define CTRL_TXN_TOPIC "__transaction_state"

struct ctrl_env {
    int32_t node_id;
    int32_t num_partitions;             /* num.partitions */
    int32_t default_replication_factor; /* default.replication.factor */
    bool delete_topic_enable;
    int32_t offsets_topic_num_partitions;
    int16_t offsets_topic_replication_factor;
    int32_t offsets_topic_segment_bytes;
    int32_t txn_topic_num_partitions;
    int16_t txn_topic_replication_factor;
    int32_t txn_topic_min_isr;
    int32_t txn_topic_segment_bytes;
    const struct ferry_config *broker_cfg; /* topic config defaults; NULL = Kafka's own */
    bool unclean_leader_election_enable;   /* unclean.leader.election.enable (topic overrides win) */
    bool zk_migration_enabled;             /* zookeeper.metadata.migration.enable */
    int64_t broker_session_timeout_ms;     /* broker.session.timeout.ms */
    bool auto_leader_rebalance_enable;     /* auto.leader.rebalance.enable */
    int64_t leader_imbalance_check_interval_ms; /* leader.imbalance.check.interval.seconds * 1000 */
    uint64_t (*rand)(void *arg);           /* uniform 64-bit random numbers */
    void *rand_arg;
};

/* Kafka's defaults (node 1), with `rand` as given. */
void ctrl_env_default(struct ctrl_env *env, uint64_t (*rand)(void *), void *rand_arg);
/* Settings taken from a loaded config. */
void ctrl_env_from_config(struct ctrl_env *env, const struct ferry_config *cfg, uint64_t (*rand)(void *),
                          void *rand_arg);

/* The records a decision produces, in order. Structs and their strings live in `a`. */
struct ctrl_records {
    struct proto_arena *a;
    struct metalog_rec *recs;
    size_t n, cap;
};

void ctrl_records_init(struct ctrl_records *r, struct proto_arena *a);
void ctrl_records_free(struct ctrl_records *r); /* the list, not the arena */
/* Appends a default-initialised record of m's type at `version` and returns it to be filled; NULL on OOM. */
void *ctrl_records_add(struct ctrl_records *r, const struct proto_message *m, int16_t version);
/* Drops the records after the first n. */
void ctrl_records_truncate(struct ctrl_records *r, size_t n);

/* A random topic id, as Kafka's Uuid.randomUuid (version 4 bits; never zero, the metadata topic's id or a
 * string starting with '-'), also not used by any topic in the image. */
proto_uuid ctrl_random_topic_id(const struct md_image *img, const struct ctrl_env *env);

/* Record versions for the finalized metadata.version. */
int16_t ctrl_partition_record_version(int16_t mv);
int16_t ctrl_register_broker_record_version(int16_t mv);
int16_t ctrl_broker_registration_change_version(int16_t mv);
bool ctrl_mv_supports_transactions(int16_t mv);

/* Topic name checks (Kafka's Topic.validate): 0 and no message, or KERR_INVALID_TOPIC_EXCEPTION with
 * "Topic name is invalid: ..." written to msg. */
int ctrl_validate_topic_name(const char *name, size_t len, char *msg, size_t msglen);
/* An existing topic whose name equals `name` once '.' and '_' are unified (and differs from it), or NULL. */
const struct md_topic *ctrl_colliding_topic(const struct md_image *img, const char *name, size_t len);

/* Striped replica placement (Kafka's StripedReplicaPlacer) of `count` partitions with `rf` replicas over
 * the registered brokers not in controlled shutdown. Writes count*rf broker ids to out (row per
 * partition). Returns 0, or KERR_INVALID_REPLICATION_FACTOR with Kafka's reason in msg. */
int ctrl_place_replicas(const struct md_image *img, const struct ctrl_env *env, int32_t count, int32_t rf,
                        int32_t *out, char *msg, size_t msglen);

/* ---- admin operations ---- */

int ctrl_create_topics(const struct md_image *img, const struct ctrl_env *env, const struct CreateTopicsRequest *req,
                       int16_t version, struct proto_arena *a, struct CreateTopicsResponse *resp,
                       struct ctrl_records *out);

int ctrl_delete_topics(const struct md_image *img, const struct ctrl_env *env, const struct DeleteTopicsRequest *req,
                       int16_t version, struct proto_arena *a, struct DeleteTopicsResponse *resp,
                       struct ctrl_records *out);

int ctrl_create_partitions(const struct md_image *img, const struct ctrl_env *env,
                           const struct CreatePartitionsRequest *req, int16_t version, struct proto_arena *a,
                           struct CreatePartitionsResponse *resp, struct ctrl_records *out);

int ctrl_alter_configs(const struct md_image *img, const struct ctrl_env *env, const struct AlterConfigsRequest *req,
                       int16_t version, struct proto_arena *a, struct AlterConfigsResponse *resp,
                       struct ctrl_records *out);

int ctrl_incremental_alter_configs(const struct md_image *img, const struct ctrl_env *env,
                                   const struct IncrementalAlterConfigsRequest *req, int16_t version,
                                   struct proto_arena *a, struct IncrementalAlterConfigsResponse *resp,
                                   struct ctrl_records *out);

/* Auto-creation of topics named by a Metadata request (or a coordinator). errors[i] receives the Kafka
 * error for names[i] (NONE when the topic is being created, or already exists: TOPIC_ALREADY_EXISTS is
 * reported as NONE here). Names that are invalid get INVALID_TOPIC_EXCEPTION. */
int ctrl_auto_create_topics(const struct md_image *img, const struct ctrl_env *env, const proto_str *names, size_t n,
                            int16_t *errors, struct ctrl_records *out);

/* AllocateProducerIds (Kafka's ProducerIdControlManager): a broker that is not registered with exactly
 * BrokerEpoch gets STALE_BROKER_EPOCH; otherwise the next block of CTRL_PRODUCER_ID_BLOCK_SIZE ids
 * starting at the image's next producer id (0 before any allocation), and one ProducerIdsRecord
 * (BrokerId, BrokerEpoch, NextProducerId = start + block size). Past INT64_MAX: UNKNOWN_SERVER_ERROR
 * ("Exhausted all producerIds"). */
#define CTRL_PRODUCER_ID_BLOCK_SIZE 1000
int ctrl_allocate_producer_ids(const struct md_image *img, const struct AllocateProducerIdsRequest *req,
                               struct AllocateProducerIdsResponse *resp, struct ctrl_records *out);

/* Topic config checks shared by create and alter: validates the complete set of overrides of a topic
 * (keys[i] = values[i]); 0 or KERR_INVALID_CONFIG with the reason in msg. */
int ctrl_check_topic_configs(const struct ctrl_env *env, const char *const *keys, const char *const *values,
                             size_t n, char *msg, size_t msglen);


/* ==== broker lifecycle, elections and ISR changes (Kafka 3.7's ClusterControlManager,
 * BrokerHeartbeatManager, ReplicationControlManager and PartitionChangeBuilder) ====
 *
 * `next_offset` is the log offset the first record of the decision will get (the I/O's metadata log end
 * offset; records are appended contiguously from there). A broker's epoch is the offset of its
 * RegisterBrokerRecord. Like Kafka's active controller these decisions expect an image that already holds
 * every record decided before (kraft_node runs one operation at a time and applies it before the next).
 *
 * Records written, per metadata.version (MV) as Kafka 3.7 does:
 *  - fence/unfence: BrokerRegistrationChangeRecord v0 with Fenced = 1 / -1 (MV >= 3.3-IV2), else
 *    FenceBrokerRecord / UnfenceBrokerRecord;
 *  - controlled shutdown: BrokerRegistrationChangeRecord v1 with InControlledShutdown = 1 (MV >= 3.3-IV3);
 *  - leadership and ISR: PartitionChangeRecord at the MV's version (0, 1 from 3.7-IV2, 2 from 3.8-IV0). */

#define CTRL_DEFAULT_SESSION_TIMEOUT_MS 9000
#define CTRL_MAX_ELECTIONS_PER_IMBALANCE 1000

/* The controller-side heartbeat tracker (Kafka's BrokerHeartbeatManager): what the active controller
 * knows about each registered broker's session. Owned by the caller, changed only by the ctrl_ functions
 * below; rebuilt from the image with ctrl_heartbeats_activate when a controller becomes active. */
struct ctrl_hb_broker {
    int32_t id;
    int64_t last_contact_ms;
    int64_t metadata_offset;  /* CurrentMetadataOffset of its last heartbeat, -1 before any */
    int64_t shutdown_offset;  /* controlled shutdown completes once active brokers reach it; -1: none */
    bool fenced;
};

struct ctrl_heartbeats {
    struct ctrl_hb_broker *b; /* sorted by id */
    int32_t n, cap;
    int64_t session_timeout_ms;
};

void ctrl_heartbeats_init(struct ctrl_heartbeats *h, int64_t session_timeout_ms);
void ctrl_heartbeats_free(struct ctrl_heartbeats *h);
/* Tracks every broker of the image with its fencing and a fresh session at now_ms (Kafka's
 * ClusterControlManager.activate). 0 or FERRY_ENOMEM. */
int ctrl_heartbeats_activate(struct ctrl_heartbeats *h, const struct md_image *img, int64_t now_ms);
/* The tracked state of a broker, or NULL. */
const struct ctrl_hb_broker *ctrl_heartbeats_get(const struct ctrl_heartbeats *h, int32_t id);
/* True when the broker is tracked, unfenced and heard from within the session timeout. */
bool ctrl_heartbeats_valid_session(const struct ctrl_heartbeats *h, int32_t id, int64_t now_ms);
/* When the periodic fencing check is next due (the oldest unfenced contact + session timeout), or
 * INT64_MAX when no broker is unfenced. */
int64_t ctrl_heartbeats_next_check_ms(const struct ctrl_heartbeats *h);

/* BrokerRegistration v0-3. Checks in Kafka's order: cluster id (INCONSISTENT_CLUSTER_ID); a live session
 * (unfenced, heard from within the timeout) of another incarnation (DUPLICATE_BROKER_REGISTRATION; the
 * same incarnation is a retry and registers again); ZooKeeper brokers (v1 IsMigratingZkBroker) without
 * migration, or KRaft brokers in pre-migration (BROKER_ID_NOT_REGISTERED); from MV 3.7-IV2 the log dirs
 * (none, reserved, duplicate, or another broker's: INVALID_REGISTRATION); an unknown security protocol
 * (UNKNOWN_SERVER_ERROR); every feature finalized in the image must be within the broker's range
 * (UNSUPPORTED_VERSION; a broker that sends no metadata.version range supports only level 1).
 * On success: one RegisterBrokerRecord (Fenced, BrokerEpoch = next_offset), resp->BrokerEpoch, and the
 * broker tracked as fenced with contact now_ms. On an error: no records, tracker unchanged except that an
 * expired other incarnation's session is dropped (as Kafka). Returns 0 or FERRY_ENOMEM. */
int ctrl_register_broker(const struct md_image *img, const struct ctrl_env *env, struct ctrl_heartbeats *hb,
                         const struct BrokerRegistrationRequest *req, int16_t version, int64_t next_offset,
                         int64_t now_ms, struct BrokerRegistrationResponse *resp, struct ctrl_records *out);

/* BrokerHeartbeat v0-1 (QuorumController/ReplicationControlManager.processBrokerHeartbeat). A broker not
 * registered, or with another epoch, gets STALE_BROKER_EPOCH (no records, tracker unchanged). Otherwise,
 * from the tracked state (FENCED, UNFENCED or CONTROLLED_SHUTDOWN):
 *  - fenced: WantShutDown -> ShouldShutDown; WantFence = false and CurrentMetadataOffset >= its
 *    registration offset -> unfenced (record, then leaders elected for leaderless partitions it can lead);
 *  - unfenced: WantFence -> fenced (with WantShutDown: shut down now); WantShutDown -> controlled shutdown
 *    if it leads partitions (InControlledShutdown record, leadership and ISR membership moved off it), else
 *    fenced and shut down at once;
 *  - in controlled shutdown: ShouldShutDown (and fenced) once it leads nothing and every active broker's
 *    metadata offset has reached the shutdown offset (the last offset written by the heartbeat that
 *    started it).
 * Fencing moves leadership and ISR membership off the broker (an ISR never loses its last member; the
 * partition is left leaderless instead) and writes the fencing record. The response carries IsCaughtUp
 * (offset >= registration offset), IsFenced and ShouldShutDown; the tracker gets contact now_ms. From MV
 * 3.7-IV2, v1's OfflineLogDirs that are registered directories of the broker move leadership and ISR
 * membership off the broker for the partitions with a replica there, and a BrokerRegistrationChangeRecord
 * v2 lists the directories left online. Returns 0 or FERRY_ENOMEM. */
int ctrl_broker_heartbeat(const struct md_image *img, const struct ctrl_env *env, struct ctrl_heartbeats *hb,
                          const struct BrokerHeartbeatRequest *req, int16_t version, int64_t next_offset,
                          int64_t now_ms, struct BrokerHeartbeatResponse *resp, struct ctrl_records *out);

/* Kafka's processBatchEndOffset for a heartbeat that started a controlled shutdown: the I/O may call it
 * with the offset its last appended record really got (when it wrapped the records in a metadata
 * transaction, they moved by one) so that shutdown waits for that offset. No effect on a broker that is
 * not in controlled shutdown. */
void ctrl_heartbeats_batch_end(struct ctrl_heartbeats *h, int32_t id, int64_t last_offset);

/* The periodic session check (Kafka's maybeFenceOneStaleBroker): the unfenced broker heard from longest
 * ago, if silent for more than the session timeout, is fenced as above. One broker per call (*fenced_id,
 * -1 when none); call again while it fences. Returns 0 or FERRY_ENOMEM. */
int ctrl_fence_stale_broker(const struct md_image *img, const struct ctrl_env *env, struct ctrl_heartbeats *hb,
                            int64_t now_ms, int32_t *fenced_id, struct ctrl_records *out);

/* UnregisterBroker v0: BROKER_ID_NOT_REGISTERED (the code alone, as ControllerApis answers); otherwise
 * leadership and ISR membership moved off it, then UnregisterBrokerRecord (id, epoch); the broker leaves
 * the tracker. `a` is unused (no response strings). Returns 0 or FERRY_ENOMEM. */
int ctrl_unregister_broker(const struct md_image *img, const struct ctrl_env *env, struct ctrl_heartbeats *hb,
                           const struct UnregisterBrokerRequest *req, struct proto_arena *a,
                           struct UnregisterBrokerResponse *resp, struct ctrl_records *out);

/* ControllerRegistration v0: MV below 3.7-IV0 -> UNSUPPORTED_VERSION; an unknown security protocol ->
 * UNKNOWN_SERVER_ERROR (each with the code's default message, as getErrorResponse); otherwise one
 * RegisterControllerRecord v0. Returns 0 or FERRY_ENOMEM. */
int ctrl_register_controller(const struct md_image *img, const struct ControllerRegistrationRequest *req,
                             struct proto_arena *a, struct ControllerRegistrationResponse *resp,
                             struct ctrl_records *out);

/* ElectLeaders v0-2 (v0 is always PREFERRED). Per partition: UNKNOWN_TOPIC_OR_PARTITION, ELECTION_NOT_NEEDED
 * (PREFERRED: the first replica leads; UNCLEAN: there is a leader), PREFERRED_LEADER_NOT_AVAILABLE /
 * ELIGIBLE_LEADERS_NOT_AVAILABLE when no record would change anything, else NONE and a
 * PartitionChangeRecord. PREFERRED picks the first replica if it is in the ISR and active, else keeps a
 * valid leader, else the next ISR replica; UNCLEAN falls back to any active replica, with the ISR set to
 * it and LeaderRecoveryState RECOVERING. Null TopicPartitions: every partition, without the
 * ELECTION_NOT_NEEDED ones. An unknown election type (or more than CTRL_MAX_RECORDS_PER_OP records) fails
 * every listed partition and the top-level error (v1+) with INVALID_REQUEST (POLICY_VIOLATION) and no
 * records. Returns 0 or FERRY_ENOMEM. */
int ctrl_elect_leaders(const struct md_image *img, const struct ctrl_env *env, const struct ElectLeadersRequest *req,
                       int16_t version, struct proto_arena *a, struct ElectLeadersResponse *resp,
                       struct ctrl_records *out);
/* The ElectLeaders answer of a request that was not decided (ElectLeadersRequest.getErrorResponse: e.g.
 * NOT_CONTROLLER, or a request that could not be forwarded): the top-level error (v1+) and every listed
 * partition fail with code and msg (NULL: null message). Returns 0 or FERRY_ENOMEM. */
int ctrl_elect_leaders_error(const struct ElectLeadersRequest *req, struct proto_arena *a, int16_t code,
                             const char *msg, struct ElectLeadersResponse *resp);

/* auto.leader.rebalance.enable: true when some partition's leader is not its first replica (Kafka's
 * imbalancedPartitions is not empty). */
bool ctrl_leaders_imbalanced(const struct md_image *img);
/* The periodic preferred-leader rebalance (Kafka's maybeBalancePartitionLeaders): a PREFERRED election for
 * each imbalanced partition, in topic-name order, up to CTRL_MAX_ELECTIONS_PER_IMBALANCE records; *more is
 * set when it stopped at that limit (Kafka then runs again at once, else after
 * leader.imbalance.check.interval.seconds). Returns 0 or FERRY_ENOMEM. */
int ctrl_balance_partition_leaders(const struct md_image *img, const struct ctrl_env *env, bool *more,
                                   struct ctrl_records *out);

/* When the rebalance should run next (QuorumController.maybeScheduleNextBalancePartitionLeaders): -1 when
 * auto.leader.rebalance.enable is off or no partition is imbalanced; 10 ms after now when the last run
 * stopped at its limit (`more`); else now + leader.imbalance.check.interval. */
int64_t ctrl_rebalance_next_ms(const struct md_image *img, const struct ctrl_env *env, bool more, int64_t now_ms);

/* AlterPartition v0-3 (ReplicationControlManager.alterPartition). The requesting broker must be registered
 * with BrokerEpoch, else the top-level STALE_BROKER_EPOCH and no topics. Topics by name (v0-1:
 * UNKNOWN_TOPIC_OR_PARTITION) or id (v2+: UNKNOWN_TOPIC_ID). Per partition, in Kafka's order: unknown
 * partition (UNKNOWN_TOPIC_OR_PARTITION); leader or partition epoch above the controller's (NOT_CONTROLLER);
 * leader epoch below (FENCED_LEADER_EPOCH); not from the leader (INVALID_REQUEST); partition epoch below
 * (INVALID_UPDATE_VERSION); ISR not a duplicate-free subset of the replicas holding the leader, or a
 * RECOVERING ISR of more than one, or RECOVERED -> RECOVERING (INVALID_REQUEST); an ISR member that is not
 * registered, fenced, in controlled shutdown or (v3) of another broker epoch (INELIGIBLE_REPLICA, v0-1
 * OPERATION_NOT_ATTEMPTED). Then a PartitionChangeRecord when anything changes (completing a reassignment
 * when the ISR holds every target replica; if that moves leadership: NEW_LEADER_ELECTED, v0-1
 * FENCED_LEADER_EPOCH), and the partition's new state in the response (leader, ISR, epochs).
 * Returns 0 or FERRY_ENOMEM. */
int ctrl_alter_partition(const struct md_image *img, const struct ctrl_env *env,
                         const struct AlterPartitionRequest *req, int16_t version, struct proto_arena *a,
                         struct AlterPartitionResponse *resp, struct ctrl_records *out);

/* ==== partition reassignment (ctrl_reassign.c: Kafka 3.7's ReplicationControlManager) ====
 *
 * AlterPartitionReassignments v0, per partition in request order: an unknown topic or partition
 * (UNKNOWN_TOPIC_OR_PARTITION, "Unable to find a topic named T." / "Unable to find partition T:P.").
 * Replicas given: the target checked as a manual assignment (INVALID_REPLICA_ASSIGNMENT: empty, a broker
 * not registered or listed twice), then one PartitionChangeRecord with Replicas = target followed by the
 * removed replicas (ascending), RemovingReplicas and AddingReplicas (ascending), leader and ISR as
 * Kafka's PartitionChangeBuilder decides; when every adding replica is already in the ISR (no replica
 * added) the record completes the reassignment at once (final replicas, removed ones out of the ISR, a
 * new leader if the old one was removed); no record when nothing changes. A later AlterPartition that
 * brings the adding replicas into the ISR completes it (ctrl_alter_partition). Null Replicas cancels:
 * NO_REASSIGNMENT_IN_PROGRESS without one; else the replicas and ISR without the adding replicas (an ISR
 * left empty takes the first remaining replica: INVALID_REPLICA_ASSIGNMENT unless the topic allows
 * unclean leader election), removing/adding cleared, leader re-elected if needed. Past
 * CTRL_MAX_RECORDS_PER_OP records a partition fails with UNKNOWN_SERVER_ERROR. Top-level error NONE with
 * a null message. Returns 0 or FERRY_ENOMEM (no records then). */
int ctrl_alter_partition_reassignments(const struct md_image *img, const struct ctrl_env *env,
                                       const struct AlterPartitionReassignmentsRequest *req, struct proto_arena *a,
                                       struct AlterPartitionReassignmentsResponse *resp, struct ctrl_records *out);
/* The answer of a request that was not decided (getErrorResponse: NOT_CONTROLLER, a failed forward): the
 * top level and every listed partition get code and msg (NULL: null message). 0 or FERRY_ENOMEM. */
int ctrl_alter_partition_reassignments_error(const struct AlterPartitionReassignmentsRequest *req,
                                             struct proto_arena *a, int16_t code, const char *msg,
                                             struct AlterPartitionReassignmentsResponse *resp);

/* ListPartitionReassignments v0: null Topics lists every reassigning partition (topics in name order,
 * partitions in index order); else the listed partitions of each listed topic that are reassigning, in
 * request order (unknown topics and partitions, and ones not reassigning, left out; a topic only when it
 * has one). Each with Replicas, AddingReplicas, RemovingReplicas. No records. 0 or FERRY_ENOMEM. */
int ctrl_list_partition_reassignments(const struct md_image *img, const struct ListPartitionReassignmentsRequest *req,
                                      struct proto_arena *a, struct ListPartitionReassignmentsResponse *resp);
/* getErrorResponse: top-level code and msg, the listed topics with their partition indexes. */
int ctrl_list_partition_reassignments_error(const struct ListPartitionReassignmentsRequest *req,
                                            struct proto_arena *a, int16_t code, const char *msg,
                                            struct ListPartitionReassignmentsResponse *resp);
/* Does the partition have a reassignment in progress (adding or removing replicas)? */
bool ctrl_reassignment_in_progress(const struct md_partition *p);

#endif
