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

#define CTRL_TOO_LARGE_MESSAGE "Unable to perform excessively large batch operation."

#endif
