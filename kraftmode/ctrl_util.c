/* ctrl_util: response-string helpers, assignment checks and record builders shared by ctrl_topics.c and
 * ctrl_configs.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "kraftmode/ctrl_internal.h"

proto_str ctrl_strf(struct ctrl_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return (proto_str){NULL, -1};
    char *p = proto_arena_alloc(c->a, (size_t)n + 1);
    if (!p) {
        c->oom = true;
        return (proto_str){NULL, -1};
    }
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return (proto_str){p, n};
}

char *ctrl_cstr(struct ctrl_ctx *c, proto_str s)
{
    if (s.len < 0)
        return NULL;
    char *p = proto_arena_strdup(c->a, s);
    if (!p)
        c->oom = true;
    return p;
}

proto_str ctrl_copy(struct ctrl_ctx *c, proto_str s)
{
    if (s.len < 0)
        return s;
    char *p = ctrl_cstr(c, s);
    return p ? (proto_str){p, s.len} : (proto_str){NULL, -1};
}

bool ctrl_str_same(proto_str a, proto_str b)
{
    if (a.len != b.len)
        return false;
    return a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int ctrl_check_assignment(const struct md_image *img, const int32_t *ids, int32_t n, int32_t expected_rf, char *msg,
                          size_t msglen)
{
    if (n <= 0) {
        snprintf(msg, msglen, "The manual partition assignment includes an empty replica list.");
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    int32_t *sorted = ferry_malloc((size_t)n * sizeof *sorted);
    if (!sorted)
        return FERRY_ENOMEM;
    memcpy(sorted, ids, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_i32);
    int rc = 0;
    for (int32_t i = 0; i < n && !rc; i++) {
        if (!md_image_broker(img, sorted[i])) {
            snprintf(msg, msglen, "The manual partition assignment includes broker %d, but no such broker is "
                                  "registered.", sorted[i]);
            rc = KERR_INVALID_REPLICA_ASSIGNMENT;
        } else if (i > 0 && sorted[i] == sorted[i - 1]) {
            snprintf(msg, msglen, "The manual partition assignment includes the broker %d more than once.",
                     sorted[i]);
            rc = KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    ferry_free(sorted);
    if (!rc && expected_rf >= 0 && n != expected_rf) {
        snprintf(msg, msglen, "The manual partition assignment includes a partition with %d replica(s), but this is "
                              "not consistent with previous partitions, which have %d replica(s).", n, expected_rf);
        rc = KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    return rc;
}

int32_t ctrl_active_replicas(const struct md_image *img, const int32_t *replicas, int32_t n, int32_t *out)
{
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        const struct md_broker *b = md_image_broker(img, replicas[i]);
        if (b && md_broker_is_active(b))
            out[k++] = replicas[i];
    }
    return k;
}

static int32_t *arena_ints(struct proto_arena *a, const int32_t *v, int32_t n)
{
    int32_t *p = proto_arena_alloc(a, (size_t)(n > 0 ? n : 1) * sizeof *p);
    if (p && n > 0)
        memcpy(p, v, (size_t)n * sizeof *p);
    return p;
}

int ctrl_add_partition_record(const struct md_image *img, struct ctrl_records *out, proto_uuid topic_id,
                              int32_t partition, const int32_t *replicas, int32_t nreplicas, const int32_t *isr,
                              int32_t nisr)
{
    int16_t version = ctrl_partition_record_version(img->metadata_version);
    struct PartitionRecord *p = ctrl_records_add(out, &proto_msg_PartitionRecord, version);
    if (!p)
        return FERRY_ENOMEM;
    p->PartitionId = partition;
    p->TopicId = topic_id;
    p->Replicas = arena_ints(out->a, replicas, nreplicas);
    p->Replicas_n = nreplicas;
    p->Isr = arena_ints(out->a, isr, nisr);
    p->Isr_n = nisr;
    p->RemovingReplicas_n = 0;
    p->AddingReplicas_n = 0;
    p->Leader = nisr > 0 ? isr[0] : MD_NO_LEADER;
    p->LeaderRecoveryState = 0;
    p->LeaderEpoch = 0;
    p->PartitionEpoch = 0;
    if (!p->Replicas || !p->Isr)
        return FERRY_ENOMEM;
    if (version >= 1) {
        /* Each replica's directory, as Kafka's ClusterDescriber.defaultDir. */
        p->Directories = proto_arena_alloc(out->a, (size_t)(nreplicas > 0 ? nreplicas : 1) * sizeof(proto_uuid));
        if (!p->Directories)
            return FERRY_ENOMEM;
        for (int32_t i = 0; i < nreplicas; i++)
            p->Directories[i] = ctrl_default_dir(img, replicas[i]);
        p->Directories_n = nreplicas;
    }
    if (version >= 2) {
        p->EligibleLeaderReplicas_n = 0;
        p->LastKnownELR_n = 0;
    }
    return 0;
}

int ctrl_add_config_record(struct ctrl_records *out, int8_t type, const char *resource, const char *key,
                           const char *value)
{
    struct ConfigRecord *c = ctrl_records_add(out, &proto_msg_ConfigRecord, 0);
    if (!c)
        return FERRY_ENOMEM;
    c->ResourceType = type;
    c->ResourceName = (proto_str){proto_arena_strdup(out->a, proto_str_from(resource)), (int32_t)strlen(resource)};
    c->Name = (proto_str){proto_arena_strdup(out->a, proto_str_from(key)), (int32_t)strlen(key)};
    if (value)
        c->Value = (proto_str){proto_arena_strdup(out->a, proto_str_from(value)), (int32_t)strlen(value)};
    else
        c->Value = (proto_str){NULL, -1};
    if (!c->ResourceName.p || !c->Name.p || (value && !c->Value.p))
        return FERRY_ENOMEM;
    return 0;
}

const char *ctrl_default_message(int16_t code)
{
    switch (code) {
    case KERR_UNKNOWN_TOPIC_OR_PARTITION: return "This server does not host this topic-partition.";
    case KERR_UNKNOWN_TOPIC_ID: return "This server does not host this topic ID.";
    case KERR_TOPIC_DELETION_DISABLED: return "Topic deletion is disabled.";
    case KERR_TOPIC_AUTHORIZATION_FAILED: return "Topic authorization failed.";
    case KERR_NO_REASSIGNMENT_IN_PROGRESS: return "No partition reassignment is in progress.";
    default: return NULL;
    }
}
