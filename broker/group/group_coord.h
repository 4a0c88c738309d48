/* group_coord: the classic consumer-group coordinator (Kafka's GroupCoordinator / GroupMetadata) as a pure
 * state machine. Events and the current time go in (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups, OffsetDelete, tick); responses come
 * out through the sink's callbacks, parked requests are identified by an opaque token, and the next
 * deadline is read with group_coord_next_deadline. No I/O, no clock, no randomness of its own (member
 * ids come from a seeded generator), so tests drive it step by step.
 *
 * Groups move between Empty, PreparingRebalance, CompletingRebalance, Stable and Dead exactly as in
 * Kafka 3.7: a join (or a leave, or a member's session expiry) prepares a rebalance; the rebalance
 * completes when every known member has rejoined or the largest rebalance timeout has passed (a new
 * group first waits group.initial.rebalance.delay.ms, extended while members keep arriving); the leader's
 * SyncGroup hands out the assignments. Member metadata and assignments are opaque bytes.
 *
 * Ownership: the coordinator copies everything it keeps; pointers handed to the sink are valid only
 * during the callback. */
#ifndef FERRY_GROUP_COORD_H
#define FERRY_GROUP_COORD_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/proto/proto_types.h"

enum group_state {
    GROUP_EMPTY,
    GROUP_PREPARING_REBALANCE,
    GROUP_COMPLETING_REBALANCE,
    GROUP_STABLE,
    GROUP_DEAD,
};

/* Kafka's state names, as DescribeGroups and ListGroups report them. */
const char *group_state_name(enum group_state s);

struct group_config {
    int32_t min_session_timeout_ms;       /* group.min.session.timeout.ms */
    int32_t max_session_timeout_ms;       /* group.max.session.timeout.ms */
    int32_t initial_rebalance_delay_ms;   /* group.initial.rebalance.delay.ms */
    int32_t max_size;                     /* group.max.size */
    int32_t offset_metadata_max_bytes;    /* offset.metadata.max.bytes */
    int64_t offsets_retention_ms;         /* offsets.retention.minutes, in ms */
    uint64_t seed;                        /* member id generator */
};

/* A JoinGroup's answer. members is non-empty only in the leader's answer. */
struct group_join_member {
    const char *member_id;
    const char *instance_id; /* NULL: none */
    const uint8_t *metadata;
    int32_t metadata_len;
};

struct group_join_result {
    int16_t error;
    int32_t generation_id;
    const char *protocol_type; /* NULL: null */
    const char *protocol_name; /* NULL: null */
    const char *leader_id;
    const char *member_id;
    const struct group_join_member *members;
    int32_t members_n;
};

struct group_sync_result {
    int16_t error;
    const char *protocol_type; /* NULL: null */
    const char *protocol_name; /* NULL: null */
    const uint8_t *assignment;
    int32_t assignment_len;
};

/* What the coordinator persists: a committed offset (or its tombstone) and the group's metadata (or its
 * tombstone). The adapter turns them into __consumer_offsets records. */
struct group_offset_value {
    int64_t offset;
    int32_t leader_epoch;
    const char *metadata;
    int64_t commit_timestamp;
    int64_t expire_timestamp; /* -1: none */
};

/* A group's metadata as GroupMetadataValue stores it. */
struct group_meta_member {
    const char *member_id;
    const char *instance_id; /* NULL: none */
    const char *client_id;
    const char *client_host;
    int32_t rebalance_timeout_ms;
    int32_t session_timeout_ms;
    const uint8_t *subscription;
    int32_t subscription_len;
    const uint8_t *assignment;
    int32_t assignment_len;
};

struct group_meta {
    const char *protocol_type; /* "" when none */
    int32_t generation;
    const char *protocol; /* NULL: none */
    const char *leader;   /* NULL: none */
    int64_t state_timestamp;
    const struct group_meta_member *members;
    int32_t members_n;
};

struct group_sink {
    void *ctx;
    void (*join_done)(void *ctx, void *token, const struct group_join_result *r);
    void (*sync_done)(void *ctx, void *token, const struct group_sync_result *r);
    /* value NULL: tombstone. */
    void (*offset_record)(void *ctx, const char *group, const char *topic, int32_t partition,
                          const struct group_offset_value *value);
    /* meta NULL: tombstone; otherwise the group's current metadata. */
    void (*group_record)(void *ctx, const char *group, const struct group_meta *meta);
};

struct group_protocol_in {
    proto_str name;
    proto_bytes metadata;
};

struct group_join_req {
    int16_t version;
    proto_str group_id;
    proto_str member_id;
    proto_str instance_id; /* len -1: null */
    proto_str protocol_type;
    proto_str client_id;
    proto_str client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* -1 (v0): the session timeout */
    const struct group_protocol_in *protocols;
    int32_t protocols_n;
};

struct group_assignment_in {
    proto_str member_id;
    proto_bytes assignment;
};

struct group_sync_req {
    int16_t version;
    proto_str group_id;
    int32_t generation_id;
    proto_str member_id;
    proto_str instance_id;
    proto_str protocol_type; /* v5+, len -1: not given */
    proto_str protocol_name;
    const struct group_assignment_in *assignments;
    int32_t assignments_n;
};

struct group_member_identity {
    proto_str member_id;
    proto_str instance_id;
};

struct group_commit_partition {
    proto_str topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    proto_str metadata;
    int16_t error; /* out */
};

struct group_coord;

int group_coord_new(const struct group_config *cfg, const struct group_sink *sink, struct group_coord **out);
/* Frees every group; parked requests are dropped without a callback (group_coord_abort first). */
void group_coord_free(struct group_coord *gc);
/* Answers every parked JoinGroup and SyncGroup with err (shutdown: NOT_COORDINATOR). */
void group_coord_abort(struct group_coord *gc, int16_t err);

/* JoinGroup: answers through sink->join_done at once or later (parked until the rebalance completes). */
void group_coord_join(struct group_coord *gc, int64_t now, const struct group_join_req *r, void *token);
/* SyncGroup: answers through sink->sync_done at once or when the leader's assignment arrives. */
void group_coord_sync(struct group_coord *gc, int64_t now, const struct group_sync_req *r, void *token);
/* Heartbeat: returns the error code. */
int16_t group_coord_heartbeat(struct group_coord *gc, int64_t now, proto_str group_id, int32_t generation,
                              proto_str member_id, proto_str instance_id);
/* LeaveGroup: member_errors[i] gets each member's error; returns the top-level error. */
int16_t group_coord_leave(struct group_coord *gc, int64_t now, proto_str group_id,
                          const struct group_member_identity *members, int32_t n, int16_t *member_errors);
/* OffsetCommit: sets parts[i].error (a non-zero error on entry, e.g. an unknown topic, is kept and the
 * partition skipped); returns a top-level error that applies to every partition (0: none). */
int16_t group_coord_commit(struct group_coord *gc, int64_t now, proto_str group_id, int32_t generation,
                           proto_str member_id, proto_str instance_id, struct group_commit_partition *parts,
                           int32_t n);
/* OffsetFetch of one partition: offset -1 when nothing is committed. metadata may be NULL. */
struct group_committed {
    int64_t offset;
    int32_t leader_epoch;
    const char *metadata;
};
void group_coord_fetch_offset(struct group_coord *gc, proto_str group_id, proto_str topic, int32_t partition,
                              struct group_committed *out);
/* Every committed offset of a group, in commit order (OffsetFetch with null topics). */
typedef void (*group_offset_fn)(void *arg, const char *topic, int32_t partition, const struct group_committed *c);
void group_coord_each_offset(struct group_coord *gc, proto_str group_id, group_offset_fn fn, void *arg);

/* DescribeGroups. A missing group is described as Dead with no members, as Kafka does. */
struct group_member_summary {
    const char *member_id;
    const char *instance_id;
    const char *client_id;
    const char *client_host;
    const uint8_t *metadata;
    int32_t metadata_len;
    const uint8_t *assignment;
    int32_t assignment_len;
};
struct group_summary {
    const char *state;
    const char *protocol_type;
    const char *protocol_name;
    const struct group_member_summary *members;
    int32_t members_n;
};
typedef void (*group_describe_fn)(void *arg, const struct group_summary *s);
void group_coord_describe(struct group_coord *gc, proto_str group_id, group_describe_fn fn, void *arg);
/* ListGroups: every group that is not Dead. */
typedef void (*group_list_fn)(void *arg, const char *group_id, const char *protocol_type, const char *state);
void group_coord_list(struct group_coord *gc, group_list_fn fn, void *arg);
/* DeleteGroups of one group: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP or 0 (tombstones emitted). */
int16_t group_coord_delete_group(struct group_coord *gc, proto_str group_id);
/* OffsetDelete of one partition; *group_error gets a group-level error (GROUP_ID_NOT_FOUND, ...). */
int16_t group_coord_delete_offset(struct group_coord *gc, proto_str group_id, proto_str topic, int32_t partition,
                                  int16_t *group_error);

/* Timers: session expiries, rebalance deadlines, offset expiry (call group_coord_expire_offsets on the
 * retention check interval). */
int64_t group_coord_next_deadline(const struct group_coord *gc);
void group_coord_tick(struct group_coord *gc, int64_t now);
void group_coord_expire_offsets(struct group_coord *gc, int64_t now);

/* Introspection for tests and the adapter. */
bool group_coord_exists(const struct group_coord *gc, proto_str group_id);
enum group_state group_coord_state(const struct group_coord *gc, proto_str group_id);
int32_t group_coord_generation(const struct group_coord *gc, proto_str group_id);
int32_t group_coord_members(const struct group_coord *gc, proto_str group_id);

/* Restoring state read from __consumer_offsets (loading): an offset, and an empty group's generation and
 * protocol. */
int group_coord_load_offset(struct group_coord *gc, proto_str group_id, proto_str topic, int32_t partition,
                            const struct group_offset_value *v);
int group_coord_load_group(struct group_coord *gc, proto_str group_id, proto_str protocol_type,
                           int32_t generation, proto_str protocol_name, int64_t state_timestamp);
/* Forgets a group (a tombstone while loading, or its partition's leadership moved away); parked requests of
 * its members are answered NOT_COORDINATOR. */
void group_coord_unload_group(struct group_coord *gc, proto_str group_id);

/* Java's String.hashCode of a group id (ASCII/UTF-16 for the BMP), and the __consumer_offsets partition
 * Kafka's Utils.abs(hash) % partitions gives it. */
int32_t group_java_hash(proto_str s);
int32_t group_partition_for(proto_str group_id, int32_t partitions);

#endif
