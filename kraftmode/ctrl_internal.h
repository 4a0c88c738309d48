/* ctrl_internal: helpers shared by the controller's own files (not for other modules). */
#ifndef FERRY_CTRL_INTERNAL_H
#define FERRY_CTRL_INTERNAL_H

#include <stdarg.h>

#include "kraftmode/ctrl.h"

/* Response building: strings go to the arena; `oom` sticks once an allocation failed. */
struct ctrl_ctx {
    struct proto_arena *a;
    bool oom;
};

proto_str ctrl_strf(struct ctrl_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
proto_str ctrl_copy(struct ctrl_ctx *c, proto_str s);
/* NUL-terminated copy in the arena (NULL for a null string or on OOM). */
char *ctrl_cstr(struct ctrl_ctx *c, proto_str s);
bool ctrl_str_same(proto_str a, proto_str b);

/* Kafka's validateManualPartitionAssignment: 0, or KERR_INVALID_REPLICA_ASSIGNMENT with the reason.
 * expected_rf < 0: no replica-count check. */
int ctrl_check_assignment(const struct md_image *img, const int32_t *ids, int32_t n, int32_t expected_rf, char *msg,
                          size_t msglen);
/* The active (unfenced, not shutting down) brokers of replicas, in order; returns their count. */
int32_t ctrl_active_replicas(const struct md_image *img, const int32_t *replicas, int32_t n, int32_t *out);
/* Appends a PartitionRecord (leader = isr[0], epochs 0) in the version the image's metadata.version
 * calls for. 0 or FERRY_ENOMEM. */
int ctrl_add_partition_record(const struct md_image *img, struct ctrl_records *out, proto_uuid topic_id,
                              int32_t partition, const int32_t *replicas, int32_t nreplicas, const int32_t *isr,
                              int32_t nisr);
/* Appends a ConfigRecord (value NULL = delete). 0 or FERRY_ENOMEM. */
int ctrl_add_config_record(struct ctrl_records *out, int8_t type, const char *resource, const char *key,
                           const char *value);

/* Kafka's default message of some error codes (Errors.java), for responses that carry it. */
const char *ctrl_default_message(int16_t code);

/* ---- partition changes (ctrl_partition_change.c, Kafka's PartitionChangeBuilder) ---- */

enum ctrl_election {
    CTRL_ELECT_ONLINE,    /* keep a valid leader, else the first valid ISR replica */
    CTRL_ELECT_PREFERRED, /* the first replica if it is a valid leader, else as ONLINE */
    CTRL_ELECT_UNCLEAN,   /* as ONLINE, else any acceptable replica (ISR reset to it, RECOVERING) */
};

/* One partition change to decide. Fields not set by ctrl_pcb_init keep the partition's values. */
struct ctrl_pcb {
    const struct md_image *img;
    const struct md_topic *topic;
    const struct md_partition *part;
    enum ctrl_election election;
    int32_t remove_broker;     /* never an acceptable leader (-1: none) */
    int32_t add_broker;        /* acceptable even while still fenced in the image (-1: none) */
    const int32_t *target_isr; /* NULL: the current ISR */
    int32_t ntarget_isr;
    int8_t target_lrs;         /* target LeaderRecoveryState; -1: unchanged */
    bool zk_migration;
    /* A reassignment's target lists (setTargetReplicas / setTargetRemoving / setTargetAdding); NULL: the
     * partition's own. */
    const struct md_ints *target_replicas;
    const struct md_ints *target_removing;
    const struct md_ints *target_adding;
};

void ctrl_pcb_init(struct ctrl_pcb *b, const struct md_image *img, const struct ctrl_env *env,
                   const struct md_topic *t, const struct md_partition *p);
/* Appends the PartitionChangeRecord the change calls for; *rec = it, or NULL when nothing changes.
 * 0 or FERRY_ENOMEM. */
int ctrl_pcb_build(const struct ctrl_pcb *b, struct ctrl_records *out, struct PartitionChangeRecord **rec);
/* unclean.leader.election.enable for a topic: its override, else the environment's. */
bool ctrl_unclean_enabled(const struct md_image *img, const struct ctrl_env *env, const struct md_topic *t);
/* Kafka's generateLeaderAndIsrUpdates, in topic-name and partition order: for every partition whose ISR
 * holds remove_broker (with remove_broker -1: every leaderless partition; with `only`: the partitions it
 * accepts), the broker leaves the ISR (never emptying it) and leadership is re-elected (add_broker counts
 * as active, remove_broker never does; ONLINE, or UNCLEAN where the topic allows it). 0 or FERRY_ENOMEM
 * (records of earlier partitions may then remain: callers truncate). */
int ctrl_leader_isr_updates(const struct md_image *img, const struct ctrl_env *env, int32_t remove_broker,
                            int32_t add_broker, bool (*only)(const struct md_partition *p, void *arg), void *arg,
                            struct ctrl_records *out);
/* True when pred holds for some partition of the image (in no particular order). */
bool ctrl_any_partition(const struct md_image *img, bool (*pred)(const struct md_partition *p, void *arg),
                        void *arg);
/* Does the broker lead any partition? */
bool ctrl_broker_leads(const struct md_image *img, int32_t broker);
/* The directory a new replica on `broker` gets (Kafka's ClusterDescriber.defaultDir). */
proto_uuid ctrl_default_dir(const struct md_image *img, int32_t broker);

/* Tracker updates (ctrl_heartbeat.c): Kafka's register (track, or keep the offset when the fencing
 * changes; contact now) and remove. */
int ctrl_hb_register(struct ctrl_heartbeats *h, int32_t id, bool fenced, int64_t now_ms);
void ctrl_hb_remove(struct ctrl_heartbeats *h, int32_t id);

#define CTRL_TOO_LARGE_MESSAGE "Unable to perform excessively large batch operation."

#endif
