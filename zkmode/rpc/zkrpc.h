/* zkrpc: the legacy (ZooKeeper-mode) broker's side of the controller RPCs. A ZooKeeper-mode controller tells
 * a broker what to host with LeaderAndIsr, what the cluster looks like with UpdateMetadata and what to stop
 * with StopReplica; this module translates each request into the Kafka metadata records that say the same
 * thing to the metadata image (design principle 1: TopicRecord, PartitionRecord, RemoveTopicRecord,
 * RegisterBrokerRecord, BrokerRegistrationChangeRecord) and builds the response Kafka 3.7 would send.
 *
 * Pure: no I/O, no clock. The checks are those of Kafka 3.7's KafkaApis (a broker epoch older than ours:
 * STALE_BROKER_EPOCH), ReplicaManager (a controller epoch older than the highest seen:
 * STALE_CONTROLLER_EPOCH for the whole request; per partition, LeaderAndIsr answers
 * STALE_CONTROLLER_EPOCH for a leader epoch that is not newer than the hosted one, INCONSISTENT_TOPIC_ID,
 * UNKNOWN_TOPIC_OR_PARTITION when this broker is not a replica; StopReplica answers FENCED_LEADER_EPOCH for
 * an older leader epoch) and ZkMetadataCache (live brokers replace the broker list, leader -2 deletes).
 *
 * Ownership: the caller owns a struct zkrpc_broker (this broker's id and epoch, the highest controller
 * epoch seen, and the leader epoch of each partition LeaderAndIsr made it host: ReplicaManager's state)
 * and the image; a translation reads the image and never changes it. The caller applies the records of
 * a result, in order, with md_image_apply to that same image, unchanged since the translation: they then
 * never fail (barring FERRY_ENOMEM), and replaying the same request produces no record. Records and the
 * response live in the result's arena and may point into the request, which must outlive the result;
 * nothing points into the image. One loop owns all of this. */
#ifndef FERRY_ZKRPC_H
#define FERRY_ZKRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/metadata/md_image.h"
#include "proto_codec.h"

#define ZKRPC_LEADER_DURING_DELETE (-2) /* UpdateMetadata partition leader: the topic is being deleted */
#define ZKRPC_EPOCH_DURING_DELETE (-2)  /* StopReplica leader epoch: the topic is being deleted */
#define ZKRPC_NO_EPOCH (-1)             /* StopReplica leader epoch: not given (v0-2) */
#define ZKRPC_UNKNOWN_BROKER_EPOCH (-1) /* a request's BrokerEpoch: not checked */

/* A partition hosted by this broker, as LeaderAndIsr left it (private to the module). */
struct zkrpc_hosted {
    char *topic;
    int32_t partition;
    int32_t leader_epoch;
    proto_uuid topic_id; /* zero: the request that made it hosted carried none */
};

/* This broker, as the controller RPCs see it. */
struct zkrpc_broker {
    int32_t broker_id;
    int64_t broker_epoch;     /* czxid of /brokers/ids/<id> (or the KRaft registration epoch in migration) */
    int32_t controller_epoch; /* highest seen; 0 at start (Kafka's InitialControllerEpoch) */
    int32_t controller_id;    /* from the last accepted UpdateMetadata; -1 before */
    bool controller_is_kraft; /* that UpdateMetadata came from a KRaft controller (migration) */
    bool zk_migration_enabled; /* zookeeper.metadata.migration.enable: a FULL UpdateMetadata from a KRaft
                                * controller then deletes the topics it does not list (KAFKA-16180) */
    struct zkrpc_hosted *hosted; /* sorted by (topic, partition) */
    size_t nhosted, hosted_cap;
};

void zkrpc_broker_init(struct zkrpc_broker *b, int32_t broker_id, int64_t broker_epoch);
void zkrpc_broker_free(struct zkrpc_broker *b);
/* The hosted leader epoch of a partition, or -1 when LeaderAndIsr has not made it hosted. */
int32_t zkrpc_hosted_leader_epoch(const struct zkrpc_broker *b, const char *topic, int32_t partition);

/* One metadata record: apply with md_image_apply(img, rec->m, rec->data, offset, delta). `version` is the
 * version to write it at, should it be logged. */
struct zkrpc_record {
    const struct proto_message *m;
    int16_t version;
    void *data;
};

/* A partition StopReplica told this broker to stop (fetchers off; `del`: delete its log). */
struct zkrpc_stop {
    proto_str topic;
    int32_t partition;
    bool del;
};

/* A partition LeaderAndIsr made this broker lead or follow at a newer leader epoch: Kafka's
 * becomeLeaderOrFollower then (re)starts its fetcher, also after a StopReplica without deletion. */
struct zkrpc_start {
    proto_str topic;
    int32_t partition;
};

struct zkrpc_result {
    struct proto_arena arena;
    struct zkrpc_record *records; /* in the order to apply */
    size_t nrecords, records_cap;
    const struct proto_message *response_m; /* LeaderAndIsrResponse, UpdateMetadataResponse, ... */
    void *response;                         /* encode at the request's version */
    struct zkrpc_stop *stops;               /* StopReplica only, in request order */
    size_t nstops;
    struct zkrpc_start *starts; /* LeaderAndIsr only, in request order */
    size_t nstarts;
};

void zkrpc_result_init(struct zkrpc_result *r);
void zkrpc_result_free(struct zkrpc_result *r);

/* Each translation fills a fresh (initialised, empty) result and returns 0, with a response even when the
 * request is refused (its ErrorCode then says why, and there are no records); or FERRY_ENOMEM, after which
 * the result holds nothing to apply or send and `b` is unchanged. `version` is the request's. */
int zkrpc_leader_and_isr(struct zkrpc_broker *b, const struct md_image *img, int16_t version,
                         const struct LeaderAndIsrRequest *req, struct zkrpc_result *out);
int zkrpc_update_metadata(struct zkrpc_broker *b, const struct md_image *img, int16_t version,
                          const struct UpdateMetadataRequest *req, struct zkrpc_result *out);
int zkrpc_stop_replica(struct zkrpc_broker *b, const struct md_image *img, int16_t version,
                       const struct StopReplicaRequest *req, struct zkrpc_result *out);

#endif
