/* md_delta: what a run of md_image_apply calls changed, so that publishers (the broker's partition
 * manager, topic-config cache, Metadata API, ...) react only to changes (design principle 1).
 *
 * A delta is filled by md_image_apply and read by publishers after the image has been updated. It owns
 * copies of everything it names, so deleted topics remain described after they left the image.
 *
 * Semantics, after Kafka's TopicsDelta:
 *  - topics[]: topics that exist after the delta and were created or had partitions created/changed in
 *    it (`created` tells whether the TopicRecord itself is in the delta). Order is not meaningful.
 *  - deleted[]: topics that existed before the delta began and were removed in it. A topic created and
 *    removed inside one delta appears in neither list. A name may appear in deleted[] and (with a new id)
 *    in topics[]: process deletions first, and match on-disk logs by topic id, not only by name.
 *  - configs[]: resources whose overrides changed (a deleted topic's overrides are removed with it and
 *    listed here too).
 *  - `initial` is set by the owner for the first publication after replay: the delta then describes the
 *    whole image, and state on disk that the image does not mention (stray logs) is the publisher's
 *    business. */
#ifndef FERRY_MD_DELTA_H
#define FERRY_MD_DELTA_H

#include <stdbool.h>
#include <stdint.h>

#include "md_map.h"
#include "proto_types.h"

#define MD_PART_CHANGED 1 /* PartitionChangeRecord (or PartitionRecord over an existing partition) */
#define MD_PART_CREATED 2 /* PartitionRecord for a partition that did not exist */

struct md_topic_change {
    proto_uuid id;
    char *name;
    bool created;         /* the TopicRecord is in this delta */
    int32_t *partitions;  /* changed or created partition ids, in first-change order */
    int32_t npartitions;
    int32_t cap;
    uint8_t *kind;        /* indexed by partition id: 0, MD_PART_CHANGED or MD_PART_CREATED */
    int32_t kind_len;
};

struct md_deleted_topic {
    proto_uuid id;
    char *name;
    int32_t partitions; /* partition count when deleted (log dirs are <name>-0 .. <name>-(n-1)) */
};

struct md_config_change {
    int8_t type;
    char *name;
};

struct md_delta {
    bool initial;
    int64_t first_offset; /* -1 until a record is applied */
    int64_t last_offset;
    bool features_changed;     /* metadata.version or another feature level */
    bool producer_ids_changed;
    bool zk_migration_changed;
    struct md_topic_change **topics;
    int32_t ntopics, topics_cap;
    struct md_deleted_topic *deleted;
    int32_t ndeleted, deleted_cap;
    struct md_config_change *configs;
    int32_t nconfigs, configs_cap;
    int32_t *brokers; /* registered, unregistered or changed broker ids */
    int32_t nbrokers, brokers_cap;
    int32_t *controllers; /* registered controller ids */
    int32_t ncontrollers, controllers_cap;
    /* Indexes (internal). */
    struct md_map topic_idx;  /* id -> index + 1 in topics[] */
    struct md_map config_idx; /* type + name -> index + 1 in configs[] */
};

void md_delta_init(struct md_delta *d);
void md_delta_free(struct md_delta *d);
/* Empties the delta for reuse. */
void md_delta_reset(struct md_delta *d);
bool md_delta_is_empty(const struct md_delta *d);

/* The change entry of a topic, or NULL. */
const struct md_topic_change *md_delta_topic(const struct md_delta *d, proto_uuid id);
/* 0, MD_PART_CHANGED or MD_PART_CREATED for one partition of a topic change. */
int md_topic_change_kind(const struct md_topic_change *tc, int32_t partition);
bool md_delta_config_changed(const struct md_delta *d, int8_t type, const char *name);
bool md_delta_broker_changed(const struct md_delta *d, int32_t id);

/* Recording (used by md_image_apply; exposed for the legacy-mode translator and tests). Each returns 0 or
 * FERRY_ENOMEM. */
int md_delta_note_offset(struct md_delta *d, int64_t offset);
int md_delta_topic_created(struct md_delta *d, proto_uuid id, const char *name);
int md_delta_partition(struct md_delta *d, proto_uuid id, const char *name, int32_t partition, int kind);
/* Drops the topic's change entry; lists it in deleted[] unless it was created in this same delta. */
int md_delta_topic_deleted(struct md_delta *d, proto_uuid id, const char *name, int32_t partitions);
int md_delta_config(struct md_delta *d, int8_t type, const char *name);
int md_delta_broker(struct md_delta *d, int32_t id);
int md_delta_controller(struct md_delta *d, int32_t id);

#endif
