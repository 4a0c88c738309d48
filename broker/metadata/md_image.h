/* md_image: the metadata image, the one picture of the cluster that the data plane reads (design
 * principle 1): cluster id, finalized features, broker and controller registrations, topics with their
 * partitions, config overrides per resource, the producer-id block and the ZooKeeper migration state.
 *
 * Ownership: one event loop owns the image. It changes only through md_image_apply, which takes one
 * decoded Kafka metadata record (TopicRecord, PartitionRecord, PartitionChangeRecord, ...) and records in
 * an md_delta what changed, so that publishers react to deltas rather than scanning the image. In quorum
 * mode the records come from the committed metadata log (kraftmode/); in legacy mode the ZooKeeper side
 * translates what it reads into the same records. Everything the image points to (names, arrays) is
 * owned by the image; pointers returned by the lookups stay valid until the next md_image_apply. */
#ifndef FERRY_MD_IMAGE_H
#define FERRY_MD_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "md_map.h"
#include "proto_types.h"

struct md_delta;

/* ConfigRecord.ResourceType values (Kafka's ConfigResource.Type ids). */
#define MD_RESOURCE_TOPIC 2
#define MD_RESOURCE_BROKER 4
#define MD_RESOURCE_BROKER_LOGGER 8
#define MD_RESOURCE_CLIENT_METRICS 16

#define MD_NO_LEADER (-1)
#define MD_LEADER_UNCHANGED (-2) /* PartitionChangeRecord.Leader: no change */
#define MD_FEATURE_METADATA_VERSION "metadata.version"

/* A list of broker ids (replicas, ISR, ...). */
struct md_ints {
    int32_t *v;
    int32_t n;
};

struct md_partition {
    int32_t id;
    bool present; /* slots below the highest partition id may be empty */
    struct md_ints replicas;
    struct md_ints isr;
    struct md_ints removing; /* replicas being removed by a reassignment */
    struct md_ints adding;   /* replicas being added by a reassignment */
    struct md_ints elr;      /* eligible leader replicas (KIP-966) */
    struct md_ints last_known_elr;
    proto_uuid *dirs; /* log directory per replica (JBOD); may be empty */
    int32_t ndirs;
    int32_t leader; /* MD_NO_LEADER if none */
    int8_t leader_recovery_state;
    int32_t leader_epoch;
    int32_t partition_epoch;
};

struct md_topic {
    char *name;
    proto_uuid id;
    struct md_partition *parts; /* indexed by partition id */
    int32_t parts_len;          /* slots: highest partition id + 1 */
    int32_t nparts;             /* partitions present */
};

struct md_endpoint {
    char *name; /* listener name */
    char *host;
    uint16_t port;
    int16_t security_protocol; /* 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL */
};

struct md_feature_range {
    char *name;
    int16_t min;
    int16_t max;
};

struct md_broker {
    int32_t id;
    proto_uuid incarnation;
    int64_t epoch; /* the offset of its RegisterBrokerRecord */
    struct md_endpoint *endpoints;
    int32_t nendpoints;
    struct md_feature_range *features;
    int32_t nfeatures;
    char *rack; /* NULL: none */
    bool fenced;
    bool in_controlled_shutdown;
    bool is_migrating_zk_broker;
    proto_uuid *log_dirs;
    int32_t nlog_dirs;
};

struct md_controller {
    int32_t id;
    proto_uuid incarnation;
    bool zk_migration_ready;
    struct md_endpoint *endpoints;
    int32_t nendpoints;
    struct md_feature_range *features;
    int32_t nfeatures;
};

struct md_config_entry {
    char *key;
    char *value;
};

/* The overrides of one config resource, sorted by key. */
struct md_configs {
    int8_t type;
    char *name;
    struct md_config_entry *entries;
    int32_t n;
    int32_t cap;
};

struct md_feature {
    char *name;
    int16_t level;
};

struct md_producer_ids {
    int32_t broker_id;
    int64_t broker_epoch;
    int64_t next_producer_id; /* the first id of the next block; 0 before any allocation */
};

struct md_image {
    char cluster_id[23];      /* 22-char base64url Uuid, "" if unknown (not carried by records) */
    int16_t metadata_version; /* finalized metadata.version level, 0 if none yet */
    struct md_feature *features;
    int32_t nfeatures;
    struct md_broker **brokers; /* sorted by id */
    int32_t nbrokers;
    struct md_controller **controllers; /* sorted by id */
    int32_t ncontrollers;
    struct md_map topics_by_name; /* name -> struct md_topic * (owner) */
    struct md_map topics_by_id;   /* 16-byte id -> struct md_topic * */
    struct md_map configs;        /* type byte + name -> struct md_configs * */
    struct md_producer_ids producer_ids;
    int8_t zk_migration_state; /* 0 NONE, 1 MIGRATION, 2 PRE_MIGRATION, 3 POST_MIGRATION */
    int64_t last_offset;       /* offset of the last record applied, -1 before any */
    /* Cache for md_image_topics_sorted. */
    struct md_topic **sorted;
    size_t nsorted;
    bool sorted_valid;
};

void md_image_init(struct md_image *img);
void md_image_free(struct md_image *img);

/* Applies one decoded metadata record `record` (a struct of m's type, m->kind == PROTO_KIND_METADATA) read
 * at `offset`, and records what changed in `delta` (may be NULL). Returns 0; FERRY_ECORRUPT when the
 * record contradicts the image (partition of an unknown topic, broker epoch mismatch, ...), in which case
 * the image is unchanged and the error is logged; or FERRY_ENOMEM. Record types the image does not keep
 * (ACLs, quotas, SCRAM, delegation tokens) are ignored with a debug log. Begin/End/AbortTransactionRecord
 * are accepted as no-ops: buffering a transaction until its end is the log reader's job. */
int md_image_apply(struct md_image *img, const struct proto_message *m, const void *record, int64_t offset,
                   struct md_delta *delta);

/* Lookups (NULL when absent). */
const struct md_topic *md_image_topic(const struct md_image *img, const char *name);
const struct md_topic *md_image_topic_n(const struct md_image *img, const char *name, size_t len);
const struct md_topic *md_image_topic_by_id(const struct md_image *img, proto_uuid id);
const struct md_partition *md_topic_partition(const struct md_topic *t, int32_t partition);
const struct md_broker *md_image_broker(const struct md_image *img, int32_t id);
/* The endpoint of broker `id` on the listener named `listener` (case-insensitive; NULL or not registered:
 * its first endpoint), as brokers reach each other; NULL when the image has no endpoint for it. */
const struct md_endpoint *md_image_broker_endpoint(const struct md_image *img, int32_t id, const char *listener);
const struct md_controller *md_image_controller(const struct md_image *img, int32_t id);
const struct md_configs *md_image_configs(const struct md_image *img, int8_t type, const char *name);
const struct md_configs *md_image_configs_n(const struct md_image *img, int8_t type, const char *name,
                                            size_t len);
/* The value of key in c (c may be NULL), or NULL. */
const char *md_configs_get(const struct md_configs *c, const char *key);
/* The finalized level of a feature, 0 if not finalized. */
int16_t md_image_feature_level(const struct md_image *img, const char *name);

static inline size_t md_image_topic_count(const struct md_image *img) { return md_map_count(&img->topics_by_name); }

/* Every topic sorted by name (a stable order). The array belongs to the image and stays valid until the
 * next md_image_apply. Returns NULL with *n = 0 when there are no topics or memory ran out. */
struct md_topic *const *md_image_topics_sorted(const struct md_image *img, size_t *n);

/* A broker that can lead and join ISRs: registered, unfenced and not in controlled shutdown. */
static inline bool md_broker_is_active(const struct md_broker *b) { return !b->fenced && !b->in_controlled_shutdown; }

bool md_ints_contains(const struct md_ints *l, int32_t id);

/* Uuid helpers: equality, the zero Uuid, and Kafka's base64url (no padding) text form (22 chars + NUL). */
/* Parses a 22-char base64url Uuid; 0 or FERRY_EPARSE. */

#endif
