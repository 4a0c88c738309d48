/* zk_to_records: ZooKeeper state as metadata records, in the order Kafka 3.7's migration writes them
 * (ZkMigrationClient.readAllMetadata; the records of its topics, broker configs and producer-id steps):
 *
 *  - per topic, one batch: TopicRecord(name, topic_id), then a ConfigRecord(TOPIC) per key of
 *    /config/topics/<t>, then a PartitionRecord per partition of /brokers/topics/<t> with its replicas and
 *    adding/removing replicas and, from .../partitions/<p>/state, leader, leader epoch, ISR, recovery state
 *    and partition epoch = the state znode's version; a partition without a state znode gets ISR = replicas,
 *    leader = the first replica, epochs 0 (as ZkTopicMigrationClient). Topics pending deletion
 *    (/admin/delete_topics/<t>) are skipped;
 *  - per /config/brokers/<entity> with keys, one batch of ConfigRecord(BROKER), "<default>" as resource "";
 *  - /latest_producer_id_block (when it has data): ProducerIdsRecord(broker, epoch -1, block_end + 1).
 * Not produced (not asked for here): client quotas, SCRAM credentials, ACLs, delegation tokens. /cluster/id
 * and /brokers/ids produce no record in Kafka either: they are returned for the caller's checks (the
 * controller's cluster id must match; every registered broker and every broker named in an assignment or
 * a broker config must have registered with the quorum before the migration starts).
 *
 * Pure: the caller reads the znodes (data and stat version) and passes them in; this module decodes them
 * with zkmode/znode's codecs. Malformed or inconsistent input fails the whole load with the znode's path in
 * the error message, so that nothing is half-migrated. Records live in the result's arena and may point
 * into the input, which must outlive the result. */
#ifndef FERRY_ZK_TO_RECORDS_H
#define FERRY_ZK_TO_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkrpc.h"

/* A znode as read: data (NULL with exists false when the znode is absent) and its stat version. */
struct zkrpc_znode {
    bool exists;
    const char *data;
    size_t len;
    int32_t version;
};

struct zkrpc_zk_partition_state {
    int32_t partition;
    struct zkrpc_znode state; /* /brokers/topics/<t>/partitions/<partition>/state */
};

struct zkrpc_zk_topic {
    const char *name;
    struct zkrpc_znode assignment; /* /brokers/topics/<name> */
    const struct zkrpc_zk_partition_state *states;
    size_t nstates;
    struct zkrpc_znode config; /* /config/topics/<name> (absent: no overrides) */
};

/* A child znode by name: /brokers/ids/<name>, /config/brokers/<name>. */
struct zkrpc_zk_child {
    const char *name;
    struct zkrpc_znode node;
};

struct zkrpc_zk_state {
    struct zkrpc_znode cluster_id;                  /* /cluster/id */
    const struct zkrpc_zk_child *brokers;          /* /brokers/ids children */
    size_t nbrokers;
    const struct zkrpc_zk_topic *topics;           /* /brokers/topics children, in the order to migrate */
    size_t ntopics;
    const char *const *pending_deletions;          /* /admin/delete_topics children */
    size_t npending_deletions;
    const struct zkrpc_zk_child *broker_configs;   /* /config/brokers children */
    size_t nbroker_configs;
    struct zkrpc_znode producer_id_block;          /* /latest_producer_id_block */
};

struct zkrpc_zk_records {
    struct zkrpc_result r;   /* records (r.records[0..r.nrecords)) in writing order; no response */
    size_t *batch_ends;      /* batch i is records [batch_ends[i-1], batch_ends[i]) (arena) */
    size_t nbatches;
    char cluster_id[PROTO_UUID_B64_LEN + 1]; /* "" when /cluster/id is absent */
    int32_t *registered;     /* /brokers/ids, sorted */
    size_t nregistered;
    int32_t *required;       /* brokers named in assignments (replicas, adding) and broker configs, sorted */
    size_t nrequired;
    char err[320];           /* on failure: "<znode path>: what is wrong" */
};

void zkrpc_zk_records_init(struct zkrpc_zk_records *out);
void zkrpc_zk_records_free(struct zkrpc_zk_records *out);

/* Fills a fresh (initialised) out. Returns 0; FERRY_EPARSE, FERRY_ERANGE or FERRY_EUNSUPPORTED for a
 * malformed znode, FERRY_EINVAL for inconsistent state (a topic without topic_id, a partition without
 * replicas or state, a non-numeric broker id, an encrypted broker password this load cannot decrypt), with
 * out->err naming the znode; or FERRY_ENOMEM. On failure out holds no records. */
int zkrpc_zk_to_records(const struct zkrpc_zk_state *in, struct zkrpc_zk_records *out);

#endif
