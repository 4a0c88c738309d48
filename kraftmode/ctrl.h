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

#endif
