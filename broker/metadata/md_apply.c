/* md_apply: md_image_apply, one function per metadata record type. Each builds what it needs first and
 * only then changes the image, so a failed record (corrupt or out of memory) leaves the image as it was. */
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "md_delta.h"
#include "md_internal.h"
#include "proto_messages.h"

#define MD_MAX_PARTITION_ID (1 << 24) /* guards allocation against a hostile PartitionId */

/* Metadata record types (api keys of PROTO_KIND_METADATA messages). */
enum {
    REC_REGISTER_BROKER = 0,
    REC_UNREGISTER_BROKER = 1,
    REC_TOPIC = 2,
    REC_PARTITION = 3,
    REC_CONFIG = 4,
    REC_PARTITION_CHANGE = 5,
    REC_FENCE_BROKER = 7,
    REC_UNFENCE_BROKER = 8,
    REC_REMOVE_TOPIC = 9,
    REC_FEATURE_LEVEL = 12,
    REC_PRODUCER_IDS = 15,
    REC_BROKER_REGISTRATION_CHANGE = 17,
    REC_NO_OP = 20,
    REC_ZK_MIGRATION_STATE = 21,
    REC_BEGIN_TRANSACTION = 23,
    REC_END_TRANSACTION = 24,
    REC_ABORT_TRANSACTION = 25,
    REC_REGISTER_CONTROLLER = 27,
};

/* ---- small builders ---- */

static char *dup_str(proto_str s, bool *oom)
{
    if (s.len < 0)
        return NULL;
    char *d = ferry_strndup(s.p ? s.p : "", (size_t)s.len);
    if (!d)
        *oom = true;
    return d;
}

static struct md_ints dup_ints(const int32_t *v, int32_t n, bool *oom)
{
    struct md_ints r = {NULL, 0};
    if (n <= 0)
        return r;
    r.v = ferry_malloc((size_t)n * sizeof *r.v);
    if (!r.v) {
        *oom = true;
        return r;
    }
    memcpy(r.v, v, (size_t)n * sizeof *r.v);
    r.n = n;
    return r;
}

static proto_uuid *dup_uuids(const proto_uuid *v, int32_t n, bool *oom)
{
    if (n <= 0)
        return NULL;
    proto_uuid *r = ferry_malloc((size_t)n * sizeof *r);
    if (!r) {
        *oom = true;
        return NULL;
    }
    memcpy(r, v, (size_t)n * sizeof *r);
    return r;
}

static void uuid_text(proto_uuid id, char out[23]) { proto_uuid_to_base64(id, out); }

/* ---- topics and partitions ---- */

static int apply_topic(struct md_image *img, const struct TopicRecord *r, struct md_delta *delta)
{
    char ids[23];
    uuid_text(r->TopicId, ids);
    if (r->Name.len <= 0) {
        LOG_ERROR("metadata", "TopicRecord with an empty name (id %s) rejected", ids);
        return FERRY_ECORRUPT;
    }
    if (md_image_topic_by_id(img, r->TopicId)) {
        LOG_ERROR("metadata", "TopicRecord for %.*s: topic id %s already exists", (int)r->Name.len, r->Name.p, ids);
        return FERRY_ECORRUPT;
    }
    if (md_image_topic_n(img, r->Name.p, (size_t)r->Name.len)) {
        LOG_ERROR("metadata", "TopicRecord for %.*s (id %s): a topic with that name already exists",
                  (int)r->Name.len, r->Name.p, ids);
        return FERRY_ECORRUPT;
    }
    bool oom = false;
    struct md_topic *t = ferry_calloc(1, sizeof *t);
    if (!t)
        return FERRY_ENOMEM;
    t->name = dup_str(r->Name, &oom);
    t->id = r->TopicId;
    if (oom || (delta && md_delta_topic_created(delta, t->id, t->name)))
        goto nomem;
    if (md_map_put(&img->topics_by_name, t->name, strlen(t->name), t))
        goto nomem;
    if (md_map_put(&img->topics_by_id, t->id.b, 16, t)) {
        md_map_remove(&img->topics_by_name, t->name, strlen(t->name));
        goto nomem;
    }
    img->sorted_valid = false;
    LOG_INFO("metadata", "topic %s created (id %s)", t->name, ids);
    return 0;
nomem:
    md_topic_free(t);
    return FERRY_ENOMEM;
}

static struct md_topic *topic_for(struct md_image *img, proto_uuid id, const char *what, int32_t partition)
{
    struct md_topic *t = (struct md_topic *)md_image_topic_by_id(img, id);
    if (!t) {
        char ids[23];
        uuid_text(id, ids);
        LOG_ERROR("metadata", "%s for partition %d of unknown topic id %s rejected", what, partition, ids);
    }
    return t;
}

static int ensure_parts(struct md_topic *t, int32_t partition)
{
    if (partition < t->parts_len)
        return 0;
    int32_t nlen = t->parts_len ? t->parts_len : 1;
    while (nlen <= partition)
        nlen = nlen > MD_MAX_PARTITION_ID / 2 ? partition + 1 : nlen * 2;
    struct md_partition *p = ferry_realloc(t->parts, (size_t)nlen * sizeof *p);
    if (!p)
        return FERRY_ENOMEM;
    memset(p + t->parts_len, 0, (size_t)(nlen - t->parts_len) * sizeof *p);
    t->parts = p;
    t->parts_len = nlen;
    return 0;
}

static int apply_partition(struct md_image *img, const struct PartitionRecord *r, struct md_delta *delta)
{
    struct md_topic *t = topic_for(img, r->TopicId, "PartitionRecord", r->PartitionId);
    if (!t)
        return FERRY_ECORRUPT;
    if (r->PartitionId < 0 || r->PartitionId >= MD_MAX_PARTITION_ID) {
        LOG_ERROR("metadata", "PartitionRecord for %s with partition id %d rejected", t->name, r->PartitionId);
        return FERRY_ECORRUPT;
    }
    bool oom = false;
    struct md_partition np = {.id = r->PartitionId, .present = true};
    np.replicas = dup_ints(r->Replicas, r->Replicas_n, &oom);
    np.isr = dup_ints(r->Isr, r->Isr_n, &oom);
    np.removing = dup_ints(r->RemovingReplicas, r->RemovingReplicas_n, &oom);
    np.adding = dup_ints(r->AddingReplicas, r->AddingReplicas_n, &oom);
    np.elr = dup_ints(r->EligibleLeaderReplicas, r->EligibleLeaderReplicas_n, &oom);
    np.last_known_elr = dup_ints(r->LastKnownELR, r->LastKnownELR_n, &oom);
    np.dirs = dup_uuids(r->Directories, r->Directories_n, &oom);
    np.ndirs = np.dirs ? r->Directories_n : 0;
    np.leader = r->Leader;
    np.leader_recovery_state = r->LeaderRecoveryState;
    np.leader_epoch = r->LeaderEpoch;
    np.partition_epoch = r->PartitionEpoch;
    bool existed = md_topic_partition(t, r->PartitionId) != NULL;
    if (oom || ensure_parts(t, r->PartitionId) ||
        (delta && md_delta_partition(delta, t->id, t->name, r->PartitionId,
                                     existed ? MD_PART_CHANGED : MD_PART_CREATED))) {
        md_partition_clear(&np);
        return FERRY_ENOMEM;
    }
    struct md_partition *slot = &t->parts[r->PartitionId];
    md_partition_clear(slot);
    *slot = np;
    if (!existed)
        t->nparts++;
    LOG_DEBUG("metadata", "partition %s-%d: leader %d epoch %d, %d replica(s)", t->name, np.id, np.leader,
              np.leader_epoch, np.replicas.n);
    return 0;
}

/* Directory of each new replica: kept from the old assignment when the replica stays, else zero
 * (Kafka's DirectoryId.UNASSIGNED). */
static proto_uuid *remap_dirs(const struct md_partition *old, const int32_t *replicas, int32_t n, bool *oom)
{
    if (old->ndirs == 0 || n <= 0)
        return NULL;
    proto_uuid *d = ferry_calloc((size_t)n, sizeof *d);
    if (!d) {
        *oom = true;
        return NULL;
    }
    for (int32_t i = 0; i < n; i++)
        for (int32_t j = 0; j < old->replicas.n && j < old->ndirs; j++)
            if (old->replicas.v[j] == replicas[i])
                d[i] = old->dirs[j];
    return d;
}

static int apply_partition_change(struct md_image *img, const struct PartitionChangeRecord *r,
                                  struct md_delta *delta)
{
    struct md_topic *t = topic_for(img, r->TopicId, "PartitionChangeRecord", r->PartitionId);
    if (!t)
        return FERRY_ECORRUPT;
    struct md_partition *p = (struct md_partition *)md_topic_partition(t, r->PartitionId);
    if (!p) {
        LOG_ERROR("metadata", "PartitionChangeRecord for unknown partition %s-%d rejected", t->name, r->PartitionId);
        return FERRY_ECORRUPT;
    }
    bool oom = false;
    struct md_partition np = *p; /* shallow: fields replaced below get fresh copies */
    if (r->Replicas_n >= 0)
        np.replicas = dup_ints(r->Replicas, r->Replicas_n, &oom);
    if (r->Isr_n >= 0)
        np.isr = dup_ints(r->Isr, r->Isr_n, &oom);
    if (r->RemovingReplicas_n >= 0)
        np.removing = dup_ints(r->RemovingReplicas, r->RemovingReplicas_n, &oom);
    if (r->AddingReplicas_n >= 0)
        np.adding = dup_ints(r->AddingReplicas, r->AddingReplicas_n, &oom);
    if (r->EligibleLeaderReplicas_n >= 0)
        np.elr = dup_ints(r->EligibleLeaderReplicas, r->EligibleLeaderReplicas_n, &oom);
    if (r->LastKnownELR_n >= 0)
        np.last_known_elr = dup_ints(r->LastKnownELR, r->LastKnownELR_n, &oom);
    bool new_dirs = false;
    if (r->Directories_n > 0) {
        np.dirs = dup_uuids(r->Directories, r->Directories_n, &oom);
        np.ndirs = np.dirs ? r->Directories_n : 0;
        new_dirs = true;
    } else if (r->Replicas_n >= 0 && p->ndirs > 0) {
        np.dirs = remap_dirs(p, r->Replicas, r->Replicas_n, &oom);
        np.ndirs = np.dirs ? r->Replicas_n : 0;
        new_dirs = true;
    }
    if (!oom && delta && md_delta_partition(delta, t->id, t->name, p->id, MD_PART_CHANGED))
        oom = true;
    if (oom) {
        /* Free only what was freshly allocated. */
        if (np.replicas.v != p->replicas.v) ferry_free(np.replicas.v);
        if (np.isr.v != p->isr.v) ferry_free(np.isr.v);
        if (np.removing.v != p->removing.v) ferry_free(np.removing.v);
        if (np.adding.v != p->adding.v) ferry_free(np.adding.v);
        if (np.elr.v != p->elr.v) ferry_free(np.elr.v);
        if (np.last_known_elr.v != p->last_known_elr.v) ferry_free(np.last_known_elr.v);
        if (new_dirs) ferry_free(np.dirs);
        return FERRY_ENOMEM;
    }
    if (np.replicas.v != p->replicas.v) ferry_free(p->replicas.v);
    if (np.isr.v != p->isr.v) ferry_free(p->isr.v);
    if (np.removing.v != p->removing.v) ferry_free(p->removing.v);
    if (np.adding.v != p->adding.v) ferry_free(p->adding.v);
    if (np.elr.v != p->elr.v) ferry_free(p->elr.v);
    if (np.last_known_elr.v != p->last_known_elr.v) ferry_free(p->last_known_elr.v);
    if (new_dirs) ferry_free(p->dirs);
    if (r->Leader != MD_LEADER_UNCHANGED) {
        np.leader = r->Leader;
        np.leader_epoch = p->leader_epoch + 1;
    }
    if (r->LeaderRecoveryState != -1)
        np.leader_recovery_state = r->LeaderRecoveryState;
    np.partition_epoch = p->partition_epoch + 1;
    *p = np;
    LOG_DEBUG("metadata", "partition %s-%d changed: leader %d epoch %d, partition epoch %d", t->name, p->id, p->leader,
              p->leader_epoch, p->partition_epoch);
    return 0;
}

static int remove_configs(struct md_image *img, int8_t type, const char *name, struct md_delta *delta)
{
    char buf[256], *heap;
    size_t klen;
    char *key = md_config_key(type, name, strlen(name), buf, sizeof buf, &klen, &heap);
    if (!key)
        return FERRY_ENOMEM;
    struct md_configs *c = md_map_remove(&img->configs, key, klen);
    ferry_free(heap);
    if (c) {
        md_configs_free(c);
        if (delta)
            return md_delta_config(delta, type, name);
    }
    return 0;
}

static int apply_remove_topic(struct md_image *img, const struct RemoveTopicRecord *r, struct md_delta *delta)
{
    struct md_topic *t = (struct md_topic *)md_image_topic_by_id(img, r->TopicId);
    char ids[23];
    uuid_text(r->TopicId, ids);
    if (!t) {
        LOG_ERROR("metadata", "RemoveTopicRecord for unknown topic id %s rejected", ids);
        return FERRY_ECORRUPT;
    }
    if (delta && md_delta_topic_deleted(delta, t->id, t->name, t->nparts))
        return FERRY_ENOMEM;
    md_map_remove(&img->topics_by_id, t->id.b, 16);
    md_map_remove(&img->topics_by_name, t->name, strlen(t->name));
    img->sorted_valid = false;
    LOG_INFO("metadata", "topic %s deleted (id %s, %d partition(s))", t->name, ids, t->nparts);
    int rc = remove_configs(img, MD_RESOURCE_TOPIC, t->name, delta);
    md_topic_free(t);
    return rc;
}

/* ---- configs ---- */

static int apply_config(struct md_image *img, const struct ConfigRecord *r, struct md_delta *delta)
{
    if (r->ResourceName.len < 0 || r->Name.len < 0) {
        LOG_ERROR("metadata", "ConfigRecord with a null name rejected");
        return FERRY_ECORRUPT;
    }
    bool oom = false;
    char *rname = dup_str(r->ResourceName, &oom);
    char *key = dup_str(r->Name, &oom);
    char *value = dup_str(r->Value, &oom);
    int rc = FERRY_ENOMEM;
    char kbuf[256], *heap = NULL;
    size_t klen;
    char *mkey = oom ? NULL : md_config_key(r->ResourceType, rname, strlen(rname), kbuf, sizeof kbuf, &klen, &heap);
    if (!mkey)
        goto out;
    if (delta && md_delta_config(delta, r->ResourceType, rname))
        goto out;
    struct md_configs *c = md_map_get(&img->configs, mkey, klen);
    int32_t lo = 0, hi = c ? c->n : 0;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (strcmp(c->entries[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    bool found = c && lo < c->n && strcmp(c->entries[lo].key, key) == 0;
    if (!value) { /* delete */
        if (found) {
            ferry_free(c->entries[lo].key);
            ferry_free(c->entries[lo].value);
            memmove(&c->entries[lo], &c->entries[lo + 1], (size_t)(c->n - lo - 1) * sizeof *c->entries);
            c->n--;
            if (c->n == 0) {
                md_map_remove(&img->configs, mkey, klen);
                md_configs_free(c);
            }
        }
        LOG_DEBUG("metadata", "config %s of resource %d/%s deleted", key, r->ResourceType, rname);
        rc = 0;
        goto out;
    }
    if (found) {
        ferry_free(c->entries[lo].value);
        c->entries[lo].value = value;
        value = NULL;
    } else {
        bool fresh = false;
        if (!c) {
            c = ferry_calloc(1, sizeof *c);
            if (!c)
                goto out;
            c->type = r->ResourceType;
            c->name = rname;
            rname = NULL;
            fresh = true;
        }
        if (c->n == c->cap) {
            int32_t ncap = c->cap ? c->cap * 2 : 4;
            struct md_config_entry *e = ferry_realloc(c->entries, (size_t)ncap * sizeof *e);
            if (!e) {
                if (fresh)
                    md_configs_free(c);
                goto out;
            }
            c->entries = e;
            c->cap = ncap;
        }
        if (fresh && md_map_put(&img->configs, mkey, klen, c)) {
            md_configs_free(c);
            goto out;
        }
        memmove(&c->entries[lo + 1], &c->entries[lo], (size_t)(c->n - lo) * sizeof *c->entries);
        c->entries[lo] = (struct md_config_entry){key, value};
        c->n++;
        key = value = NULL;
    }
    LOG_DEBUG("metadata", "config of resource %d/%s set: %.*s=%.*s", r->ResourceType, c->name, (int)r->Name.len,
             r->Name.p, (int)r->Value.len, r->Value.p);
    rc = 0;
out:
    ferry_free(heap);
    ferry_free(rname);
    ferry_free(key);
    ferry_free(value);
    return rc;
}

/* ---- brokers and controllers ---- */

static int32_t broker_index(const struct md_image *img, int32_t id, bool *found)
{
    int32_t lo = 0, hi = img->nbrokers;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (img->brokers[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < img->nbrokers && img->brokers[lo]->id == id;
    return lo;
}

static int apply_register_broker(struct md_image *img, const struct RegisterBrokerRecord *r, struct md_delta *delta)
{
    bool oom = false;
    struct md_broker *b = ferry_calloc(1, sizeof *b);
    if (!b)
        return FERRY_ENOMEM;
    b->id = r->BrokerId;
    b->incarnation = r->IncarnationId;
    b->epoch = r->BrokerEpoch;
    b->fenced = r->Fenced;
    b->in_controlled_shutdown = r->InControlledShutdown;
    b->is_migrating_zk_broker = r->IsMigratingZkBroker;
    b->rack = dup_str(r->Rack, &oom);
    if (r->EndPoints_n > 0) {
        b->endpoints = ferry_calloc((size_t)r->EndPoints_n, sizeof *b->endpoints);
        if (!b->endpoints)
            oom = true;
        for (int32_t i = 0; b->endpoints && i < r->EndPoints_n; i++) {
            const struct RegisterBrokerRecord_BrokerEndpoint *e = &r->EndPoints[i];
            b->endpoints[i] = (struct md_endpoint){dup_str(e->Name, &oom), dup_str(e->Host, &oom), e->Port,
                                                   e->SecurityProtocol};
            b->nendpoints = i + 1;
        }
    }
    if (r->Features_n > 0) {
        b->features = ferry_calloc((size_t)r->Features_n, sizeof *b->features);
        if (!b->features)
            oom = true;
        for (int32_t i = 0; b->features && i < r->Features_n; i++) {
            const struct RegisterBrokerRecord_BrokerFeature *f = &r->Features[i];
            b->features[i] = (struct md_feature_range){dup_str(f->Name, &oom), f->MinSupportedVersion,
                                                       f->MaxSupportedVersion};
            b->nfeatures = i + 1;
        }
    }
    b->log_dirs = dup_uuids(r->LogDirs, r->LogDirs_n, &oom);
    b->nlog_dirs = b->log_dirs ? r->LogDirs_n : 0;
    bool found;
    int32_t at = broker_index(img, b->id, &found);
    if (!oom && !found) {
        struct md_broker **nb = ferry_realloc(img->brokers, (size_t)(img->nbrokers + 1) * sizeof *nb);
        if (!nb)
            oom = true;
        else
            img->brokers = nb;
    }
    if (oom || (delta && md_delta_broker(delta, b->id))) {
        md_broker_free(b);
        return FERRY_ENOMEM;
    }
    if (found) {
        md_broker_free(img->brokers[at]);
    } else {
        memmove(&img->brokers[at + 1], &img->brokers[at], (size_t)(img->nbrokers - at) * sizeof *img->brokers);
        img->nbrokers++;
    }
    img->brokers[at] = b;
    LOG_INFO("metadata", "broker %d registered: epoch %lld, %s, %d endpoint(s)", b->id, (long long)b->epoch,
             b->fenced ? "fenced" : "unfenced", b->nendpoints);
    return 0;
}

static int apply_unregister_broker(struct md_image *img, const struct UnregisterBrokerRecord *r,
                                   struct md_delta *delta)
{
    bool found;
    int32_t at = broker_index(img, r->BrokerId, &found);
    if (delta && md_delta_broker(delta, r->BrokerId))
        return FERRY_ENOMEM;
    if (found) {
        md_broker_free(img->brokers[at]);
        memmove(&img->brokers[at], &img->brokers[at + 1], (size_t)(img->nbrokers - at - 1) * sizeof *img->brokers);
        img->nbrokers--;
    }
    LOG_INFO("metadata", "broker %d unregistered (epoch %lld)", r->BrokerId, (long long)r->BrokerEpoch);
    return 0;
}

static struct md_broker *broker_checked(struct md_image *img, int32_t id, int64_t epoch, const char *action)
{
    struct md_broker *b = (struct md_broker *)md_image_broker(img, id);
    if (!b) {
        LOG_ERROR("metadata", "tried to %s broker %d, but that broker was not registered", action, id);
        return NULL;
    }
    if (b->epoch != epoch) {
        LOG_ERROR("metadata", "tried to %s broker %d, but the given epoch, %lld, did not match the current broker "
                  "epoch, %lld", action, id, (long long)epoch, (long long)b->epoch);
        return NULL;
    }
    return b;
}

static int apply_fencing(struct md_image *img, int32_t id, int64_t epoch, bool fence, struct md_delta *delta)
{
    struct md_broker *b = broker_checked(img, id, epoch, fence ? "fence" : "unfence");
    if (!b)
        return FERRY_ECORRUPT;
    if (delta && md_delta_broker(delta, id))
        return FERRY_ENOMEM;
    b->fenced = fence;
    LOG_INFO("metadata", "broker %d %s (epoch %lld)", id, fence ? "fenced" : "unfenced", (long long)epoch);
    return 0;
}

static int apply_registration_change(struct md_image *img, const struct BrokerRegistrationChangeRecord *r,
                                     struct md_delta *delta)
{
    struct md_broker *b = broker_checked(img, r->BrokerId, r->BrokerEpoch, "change");
    if (!b)
        return FERRY_ECORRUPT;
    if (r->Fenced < -1 || r->Fenced > 1 || r->InControlledShutdown < 0 || r->InControlledShutdown > 1) {
        LOG_ERROR("metadata", "BrokerRegistrationChangeRecord for broker %d with fenced=%d inControlledShutdown=%d "
                  "rejected", r->BrokerId, r->Fenced, r->InControlledShutdown);
        return FERRY_ECORRUPT;
    }
    bool oom = false;
    proto_uuid *dirs = r->LogDirs_n > 0 ? dup_uuids(r->LogDirs, r->LogDirs_n, &oom) : NULL;
    if (oom || (delta && md_delta_broker(delta, r->BrokerId))) {
        ferry_free(dirs);
        return FERRY_ENOMEM;
    }
    if (r->Fenced == 1)
        b->fenced = true;
    else if (r->Fenced == -1)
        b->fenced = false;
    if (r->InControlledShutdown == 1)
        b->in_controlled_shutdown = true;
    if (dirs) {
        ferry_free(b->log_dirs);
        b->log_dirs = dirs;
        b->nlog_dirs = r->LogDirs_n;
    }
    LOG_INFO("metadata", "broker %d registration changed: %s%s", b->id, b->fenced ? "fenced" : "unfenced",
             b->in_controlled_shutdown ? ", in controlled shutdown" : "");
    return 0;
}

static int apply_register_controller(struct md_image *img, const struct RegisterControllerRecord *r,
                                     struct md_delta *delta)
{
    bool oom = false;
    struct md_controller *c = ferry_calloc(1, sizeof *c);
    if (!c)
        return FERRY_ENOMEM;
    c->id = r->ControllerId;
    c->incarnation = r->IncarnationId;
    c->zk_migration_ready = r->ZkMigrationReady;
    if (r->EndPoints_n > 0) {
        c->endpoints = ferry_calloc((size_t)r->EndPoints_n, sizeof *c->endpoints);
        if (!c->endpoints)
            oom = true;
        for (int32_t i = 0; c->endpoints && i < r->EndPoints_n; i++) {
            const struct RegisterControllerRecord_ControllerEndpoint *e = &r->EndPoints[i];
            c->endpoints[i] = (struct md_endpoint){dup_str(e->Name, &oom), dup_str(e->Host, &oom), e->Port,
                                                   e->SecurityProtocol};
            c->nendpoints = i + 1;
        }
    }
    if (r->Features_n > 0) {
        c->features = ferry_calloc((size_t)r->Features_n, sizeof *c->features);
        if (!c->features)
            oom = true;
        for (int32_t i = 0; c->features && i < r->Features_n; i++) {
            const struct RegisterControllerRecord_ControllerFeature *f = &r->Features[i];
            c->features[i] = (struct md_feature_range){dup_str(f->Name, &oom), f->MinSupportedVersion,
                                                       f->MaxSupportedVersion};
            c->nfeatures = i + 1;
        }
    }
    int32_t at = 0;
    while (at < img->ncontrollers && img->controllers[at]->id < c->id)
        at++;
    bool found = at < img->ncontrollers && img->controllers[at]->id == c->id;
    if (!oom && !found) {
        struct md_controller **nc = ferry_realloc(img->controllers, (size_t)(img->ncontrollers + 1) * sizeof *nc);
        if (!nc)
            oom = true;
        else
            img->controllers = nc;
    }
    if (oom || (delta && md_delta_controller(delta, c->id))) {
        md_controller_free(c);
        return FERRY_ENOMEM;
    }
    if (found) {
        md_controller_free(img->controllers[at]);
    } else {
        memmove(&img->controllers[at + 1], &img->controllers[at],
                (size_t)(img->ncontrollers - at) * sizeof *img->controllers);
        img->ncontrollers++;
    }
    img->controllers[at] = c;
    LOG_INFO("metadata", "controller %d registered", c->id);
    return 0;
}

/* ---- features and the rest ---- */

static int apply_feature_level(struct md_image *img, const struct FeatureLevelRecord *r, struct md_delta *delta)
{
    if (r->Name.len <= 0) {
        LOG_ERROR("metadata", "FeatureLevelRecord with an empty name rejected");
        return FERRY_ECORRUPT;
    }
    int32_t i = 0;
    while (i < img->nfeatures && !proto_str_eq(r->Name, img->features[i].name))
        i++;
    if (r->FeatureLevel == 0) {
        if (i < img->nfeatures) {
            ferry_free(img->features[i].name);
            img->features[i] = img->features[--img->nfeatures];
        }
    } else if (i < img->nfeatures) {
        img->features[i].level = r->FeatureLevel;
    } else {
        bool oom = false;
        char *name = dup_str(r->Name, &oom);
        struct md_feature *f = oom ? NULL : ferry_realloc(img->features, (size_t)(img->nfeatures + 1) * sizeof *f);
        if (!f) {
            ferry_free(name);
            return FERRY_ENOMEM;
        }
        img->features = f;
        img->features[img->nfeatures++] = (struct md_feature){name, r->FeatureLevel};
    }
    if (proto_str_eq(r->Name, MD_FEATURE_METADATA_VERSION))
        img->metadata_version = r->FeatureLevel;
    if (delta)
        delta->features_changed = true;
    LOG_INFO("metadata", "feature %.*s finalized at level %d", (int)r->Name.len, r->Name.p, r->FeatureLevel);
    return 0;
}

static int apply_producer_ids(struct md_image *img, const struct ProducerIdsRecord *r, struct md_delta *delta)
{
    if (img->producer_ids.next_producer_id > 0 && r->NextProducerId <= img->producer_ids.next_producer_id) {
        LOG_ERROR("metadata", "ProducerIdsRecord moving the next producer id back from %lld to %lld rejected",
                  (long long)img->producer_ids.next_producer_id, (long long)r->NextProducerId);
        return FERRY_ECORRUPT;
    }
    img->producer_ids = (struct md_producer_ids){r->BrokerId, r->BrokerEpoch, r->NextProducerId};
    if (delta)
        delta->producer_ids_changed = true;
    return 0;
}

int md_image_apply(struct md_image *img, const struct proto_message *m, const void *record, int64_t offset,
                   struct md_delta *delta)
{
    if (!m || m->kind != PROTO_KIND_METADATA)
        return FERRY_EINVAL;
    int rc = 0;
    switch (m->api_key) {
    case REC_REGISTER_BROKER: rc = apply_register_broker(img, record, delta); break;
    case REC_UNREGISTER_BROKER: rc = apply_unregister_broker(img, record, delta); break;
    case REC_TOPIC: rc = apply_topic(img, record, delta); break;
    case REC_PARTITION: rc = apply_partition(img, record, delta); break;
    case REC_CONFIG: rc = apply_config(img, record, delta); break;
    case REC_PARTITION_CHANGE: rc = apply_partition_change(img, record, delta); break;
    case REC_FENCE_BROKER: {
        const struct FenceBrokerRecord *r = record;
        rc = apply_fencing(img, r->Id, r->Epoch, true, delta);
        break;
    }
    case REC_UNFENCE_BROKER: {
        const struct UnfenceBrokerRecord *r = record;
        rc = apply_fencing(img, r->Id, r->Epoch, false, delta);
        break;
    }
    case REC_REMOVE_TOPIC: rc = apply_remove_topic(img, record, delta); break;
    case REC_FEATURE_LEVEL: rc = apply_feature_level(img, record, delta); break;
    case REC_PRODUCER_IDS: rc = apply_producer_ids(img, record, delta); break;
    case REC_BROKER_REGISTRATION_CHANGE: rc = apply_registration_change(img, record, delta); break;
    case REC_ZK_MIGRATION_STATE: {
        const struct ZkMigrationStateRecord *r = record;
        if (r->ZkMigrationState < 0 || r->ZkMigrationState > 3) {
            LOG_ERROR("metadata", "ZkMigrationStateRecord with unknown state %d rejected", r->ZkMigrationState);
            rc = FERRY_ECORRUPT;
            break;
        }
        img->zk_migration_state = r->ZkMigrationState;
        if (delta)
            delta->zk_migration_changed = true;
        break;
    }
    case REC_REGISTER_CONTROLLER: rc = apply_register_controller(img, record, delta); break;
    case REC_NO_OP:
    case REC_BEGIN_TRANSACTION:
    case REC_END_TRANSACTION:
    case REC_ABORT_TRANSACTION: break;
    default:
        LOG_DEBUG("metadata", "%s at offset %lld not kept in the image", m->name, (long long)offset);
        break;
    }
    if (rc == FERRY_ENOMEM)
        return rc;
    img->last_offset = offset;
    if (rc == 0 && delta)
        md_delta_note_offset(delta, offset);
    return rc;
}
