/* zkrpc_internal: what the three translations (zkrpc_lisr.c, zkrpc_umr.c, zkrpc_stop.c) share: emitting
 * records into a result, a view of the topics that follows the records already emitted, and the staged
 * changes to the broker's hosted partitions (applied only once nothing can fail any more). */
#ifndef FERRY_ZKRPC_INTERNAL_H
#define FERRY_ZKRPC_INTERNAL_H

#include "zkrpc.h"

#define ZR_MAX_PARTITION_ID ((1 << 24) - 1) /* the image refuses higher ids (md_apply.c) */

/* A topic as one translation sees it: the image plus the records emitted so far. */
struct zr_topic {
    proto_str name;              /* arena copy */
    proto_uuid id;
    const struct md_topic *img;  /* the image's topic; NULL when created by this translation */
    bool removed;                /* a RemoveTopicRecord for it was emitted */
};

/* Touched topics by name or by id (a hash table in the result's arena; the newest per key). */
struct zr_index {
    struct zr_topic **slots;
    size_t n, cap; /* cap: 0 or a power of two */
};

struct zr_view {
    const struct md_image *img;
    struct zkrpc_result *out;
    struct zr_index by_name, by_id; /* the current state of every topic the translation touched */
};

/* A staged change to the hosted partitions. */
struct zr_hosted_change {
    proto_str topic;
    int32_t partition;
    int32_t leader_epoch;
    proto_uuid topic_id;
    bool remove;
};

struct zr_staged {
    struct zr_hosted_change *v; /* arena */
    size_t n, cap;
};

/* One partition state with its topic, whatever the request version's layout. */
struct zr_part {
    proto_str topic;
    proto_uuid topic_id; /* zero when the layout has none */
    const void *ps;      /* the request's partition state struct */
};

/* Where a request keeps its partition states: ungrouped (each state names its topic) or grouped by topic
 * (each topic struct has a name, an id and an array of states). Offsets are offsetof() values. */
struct zr_layout {
    size_t state_size, state_topic;
    size_t topic_size, topic_name, topic_id, topic_states, topic_nstates;
};

/* Flattens n elements of `arr` (states when !grouped, topics when grouped) into an arena array. */
struct zr_part *zr_flatten(struct zkrpc_result *out, const struct zr_layout *l, bool grouped, const void *arr,
                           int32_t n, size_t *total);

static inline void zr_view_init(struct zr_view *v, const struct md_image *img, struct zkrpc_result *out)
{
    v->img = img;
    v->out = out;
    v->by_name = v->by_id = (struct zr_index){NULL, 0, 0};
}

/* Appends a default-initialised record of type m to out (allocated in its arena). NULL on OOM. */
void *zr_emit(struct zkrpc_result *out, const struct proto_message *m, int16_t version);
/* Allocates the response: a default-initialised m in out's arena. NULL on OOM. */
void *zr_response(struct zkrpc_result *out, const struct proto_message *m);
/* n elements of `size` bytes in the arena (zeroed); NULL on OOM, or for n == 0 a valid empty pointer. */
void *zr_array(struct zkrpc_result *out, size_t n, size_t size);
/* An arena copy of n ints (NULL for n <= 0); *oom set on failure. */
int32_t *zr_ints(struct zkrpc_result *out, const int32_t *v, int32_t n, bool *oom);

/* The live topic called name / with id, or NULL. FERRY_ENOMEM through *oom. */
struct zr_topic *zr_topic_by_name(struct zr_view *v, proto_str name, bool *oom);
struct zr_topic *zr_topic_by_id(struct zr_view *v, proto_uuid id, bool *oom);
/* The topic a controller names (name, and id unless zero), emitting RemoveTopicRecord for a topic of that
 * name with another id and TopicRecord for a new one. Returns 0 with *t set, or with *t NULL and *kerr
 * UNKNOWN_TOPIC_ID (unknown topic without an id: the image needs one), INCONSISTENT_TOPIC_ID (the id
 * belongs to a topic of another name) or UNKNOWN_TOPIC_OR_PARTITION (empty name); or FERRY_ENOMEM. */
int zr_topic_resolve(struct zr_view *v, proto_str name, proto_uuid id, struct zr_topic **t, int16_t *kerr);
/* Emits a RemoveTopicRecord for t. 0 or FERRY_ENOMEM. */
int zr_topic_remove(struct zr_view *v, struct zr_topic *t);
/* Emits a PartitionRecord (v0) for t's partition; the caller fills the rest. NULL on OOM. */
struct PartitionRecord *zr_partition_record(struct zr_view *v, const struct zr_topic *t, int32_t partition);

bool zr_ints_eq(const int32_t *a, int32_t na, const int32_t *b, int32_t nb);
bool zr_ints_has(const int32_t *v, int32_t n, int32_t x);

/* Index of the hosted entry (topic, partition), or -1. */
long zr_hosted_find(const struct zkrpc_broker *b, proto_str topic, int32_t partition);
/* Stages a change. 0 or FERRY_ENOMEM. */
int zr_stage(struct zkrpc_result *out, struct zr_staged *s, struct zr_hosted_change c);
/* Applies staged changes to b (all allocation first: on FERRY_ENOMEM b is unchanged). */
int zr_commit(struct zkrpc_broker *b, const struct zr_staged *s);

/* A Kafka string for logs: "%.*s" arguments. */
#define ZR_STR(s) (int)((s).len < 0 ? 0 : (s).len), ((s).p ? (s).p : "")

#endif
