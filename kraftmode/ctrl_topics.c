/* ctrl_topics: CreateTopics, DeleteTopics, CreatePartitions and topic auto-creation, after Kafka 3.7's
 * ControllerApis and ReplicationControlManager (error codes, order of checks and messages). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/config/topic_config.h"
#include "broker/metadata/md_map.h"
#include "kraftmode/ctrl_internal.h"

#define MSG_LEN 1024

/* ---- CreateTopics ---- */

typedef struct CreateTopicsRequest_CreatableTopic creatable_topic;
typedef struct CreateTopicsResponse_CreatableTopicResult creatable_result;

static void topic_fail(struct ctrl_ctx *c, creatable_result *r, int16_t code, const char *msg)
{
    r->ErrorCode = code;
    r->ErrorMessage = msg ? ctrl_strf(c, "%s", msg) : (proto_str){NULL, -1};
}

/* The topic's creation configs, duplicates resolved last-wins (Kafka builds a HashMap). */
struct cfg_set {
    const char **keys;
    const char **values;
    size_t n;
};

/* 0; KERR_INVALID_CONFIG with msg for null values; FERRY_ENOMEM. */
static int collect_configs(struct ctrl_ctx *c, const creatable_topic *t, struct cfg_set *s, char *msg, size_t msglen)
{
    int32_t n = t->Configs_n > 0 ? t->Configs_n : 0;
    s->keys = proto_arena_alloc(c->a, (size_t)(n ? n : 1) * sizeof *s->keys);
    s->values = proto_arena_alloc(c->a, (size_t)(n ? n : 1) * sizeof *s->values);
    s->n = 0;
    if (!s->keys || !s->values)
        return FERRY_ENOMEM;
    size_t used = 0;
    msg[0] = '\0';
    for (int32_t i = 0; i < n; i++) {
        const struct CreateTopicsRequest_CreateableTopicConfig *cf = &t->Configs[i];
        if (cf->Value.len < 0) {
            int w = snprintf(msg + used, msglen - used, "%s%.*s", used ? "," : "", (int)cf->Name.len, cf->Name.p);
            if (w > 0 && (size_t)w < msglen - used)
                used += (size_t)w;
            continue;
        }
        char *k = ctrl_cstr(c, cf->Name), *v = ctrl_cstr(c, cf->Value);
        if (!k || !v)
            return FERRY_ENOMEM;
        size_t j = 0;
        while (j < s->n && strcmp(s->keys[j], k) != 0)
            j++;
        s->keys[j] = k;
        s->values[j] = v;
        if (j == s->n)
            s->n++;
    }
    if (used) {
        char names[MSG_LEN];
        snprintf(names, sizeof names, "%s", msg);
        snprintf(msg, msglen, "Null value not supported for topic configs: %.900s", names);
        return KERR_INVALID_CONFIG;
    }
    return 0;
}

static int cmp_config_name(const void *a, const void *b)
{
    const struct CreateTopicsResponse_CreatableTopicConfigs *x = a, *y = b;
    int n = x->Name.len < y->Name.len ? x->Name.len : y->Name.len;
    int cmp = memcmp(x->Name.p, y->Name.p, (size_t)n);
    return cmp ? cmp : x->Name.len - y->Name.len;
}

/* CreateTopics v5+: the topic's effective configs, sorted by name. */
static int fill_result_configs(struct ctrl_ctx *c, const struct ctrl_env *env, const struct cfg_set *s,
                               creatable_result *r)
{
    struct topic_config tc;
    char err[256];
    topic_config_init(&tc, env->broker_cfg);
    for (size_t i = 0; i < s->n; i++)
        topic_config_set(&tc, s->keys[i], s->values[i], err, sizeof err);
    size_t n = topic_config_count();
    r->Configs = proto_array_new(c->a, &desc_CreateTopicsResponse_CreatableTopicConfigs, (int32_t)n);
    if (!r->Configs)
        return FERRY_ENOMEM;
    int32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct topic_config_entry e;
        char buf[512];
        if (topic_config_describe_at(&tc, i, &e, buf, sizeof buf))
            continue;
        struct CreateTopicsResponse_CreatableTopicConfigs *o = &r->Configs[k++];
        o->Name = ctrl_strf(c, "%s", e.name);
        o->Value = e.value ? ctrl_strf(c, "%s", e.value) : (proto_str){NULL, -1};
        o->ReadOnly = false;
        o->ConfigSource = (int8_t)e.source;
        o->IsSensitive = false;
    }
    r->Configs_n = k;
    qsort(r->Configs, (size_t)k, sizeof *r->Configs, cmp_config_name);
    return c->oom ? FERRY_ENOMEM : 0;
}

/* A planned topic: its partitions' replicas (row-major, rf per row) and ISRs. */
struct topic_plan {
    int32_t nparts;
    int32_t rf;
    int32_t *replicas; /* nparts * rf (manual: per-partition sizes are all rf, checked) */
    int32_t *isr;      /* nparts * rf */
    int32_t *nisr;     /* nparts */
};

static void plan_free(struct topic_plan *p)
{
    ferry_free(p->replicas);
    ferry_free(p->isr);
    ferry_free(p->nisr);
    memset(p, 0, sizeof *p);
}

static int plan_alloc(struct topic_plan *p, int32_t nparts, int32_t rf)
{
    p->nparts = nparts;
    p->rf = rf;
    size_t cells = (size_t)nparts * (size_t)rf;
    p->replicas = ferry_malloc((cells ? cells : 1) * sizeof *p->replicas);
    p->isr = ferry_malloc((cells ? cells : 1) * sizeof *p->isr);
    p->nisr = ferry_malloc((size_t)(nparts ? nparts : 1) * sizeof *p->nisr);
    return p->replicas && p->isr && p->nisr ? 0 : FERRY_ENOMEM;
}

/* Manual assignments: 0, a KERR_* with msg, or FERRY_ENOMEM. */
static int plan_manual(const struct md_image *img, const creatable_topic *t, struct topic_plan *p, char *msg,
                       size_t msglen)
{
    if (t->ReplicationFactor != -1) {
        snprintf(msg, msglen, "A manual partition assignment was specified, but replication factor was not set "
                              "to -1.");
        return KERR_INVALID_REQUEST;
    }
    if (t->NumPartitions != -1) {
        snprintf(msg, msglen, "A manual partition assignment was specified, but numPartitions was not set to -1.");
        return KERR_INVALID_REQUEST;
    }
    int32_t n = t->Assignments_n;
    int32_t rf0 = t->Assignments[0].BrokerIds_n > 0 ? t->Assignments[0].BrokerIds_n : 0;
    if (plan_alloc(p, n, rf0 ? rf0 : 1))
        return FERRY_ENOMEM;
    p->rf = rf0;
    struct md_map seen;
    md_map_init(&seen);
    int rc = 0;
    int32_t expected_rf = -1;
    for (int32_t i = 0; i < n && !rc; i++) {
        const struct CreateTopicsRequest_CreatableReplicaAssignment *as = &t->Assignments[i];
        if (md_map_get(&seen, &as->PartitionIndex, sizeof as->PartitionIndex)) {
            snprintf(msg, msglen, "Found multiple manual partition assignments for partition %d", as->PartitionIndex);
            rc = KERR_INVALID_REPLICA_ASSIGNMENT;
            break;
        }
        if (md_map_put(&seen, &as->PartitionIndex, sizeof as->PartitionIndex, (void *)(uintptr_t)(i + 1))) {
            rc = FERRY_ENOMEM;
            break;
        }
        int32_t cnt = as->BrokerIds_n > 0 ? as->BrokerIds_n : 0;
        rc = ctrl_check_assignment(img, as->BrokerIds, cnt, expected_rf, msg, msglen);
        if (rc)
            break;
        expected_rf = cnt;
        if (as->PartitionIndex >= 0 && as->PartitionIndex < n) {
            int32_t row = as->PartitionIndex;
            memcpy(p->replicas + (size_t)row * (size_t)rf0, as->BrokerIds, (size_t)cnt * sizeof(int32_t));
            p->nisr[row] = ctrl_active_replicas(img, as->BrokerIds, cnt, p->isr + (size_t)row * (size_t)rf0);
            if (p->nisr[row] == 0) {
                snprintf(msg, msglen, "All brokers specified in the manual partition assignment for partition %d are "
                                      "fenced or in controlled shutdown.", as->PartitionIndex);
                rc = KERR_INVALID_REPLICA_ASSIGNMENT;
            }
        } else {
            /* Out of range: the consecutive-sequence check below fails; the active check still applies. */
            int32_t *tmp = ferry_malloc((size_t)cnt * sizeof *tmp);
            if (!tmp) {
                rc = FERRY_ENOMEM;
                break;
            }
            int32_t k = ctrl_active_replicas(img, as->BrokerIds, cnt, tmp);
            ferry_free(tmp);
            if (k == 0) {
                snprintf(msg, msglen, "All brokers specified in the manual partition assignment for partition %d are "
                                      "fenced or in controlled shutdown.", as->PartitionIndex);
                rc = KERR_INVALID_REPLICA_ASSIGNMENT;
            }
        }
    }
    for (int32_t i = 0; i < n && !rc; i++) {
        if (!md_map_get(&seen, &i, sizeof i)) {
            snprintf(msg, msglen, "partitions should be a consecutive 0-based integer sequence");
            rc = KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    md_map_free(&seen);
    return rc;
}

/* Placed assignments. *too_large is set (and 0 returned) when the records would exceed the limit. */
static int plan_placed(const struct md_image *img, const struct ctrl_env *env, int32_t np, int32_t rf,
                       size_t budget_left, struct topic_plan *p, bool *too_large, char *msg, size_t msglen)
{
    char why[512];
    int rc;
    if ((size_t)np > budget_left) {
        rc = ctrl_place_replicas(img, env, 0, rf, NULL, why, sizeof why); /* still report a bad factor */
        if (rc == 0)
            *too_large = true;
    } else {
        if (plan_alloc(p, np, rf))
            return FERRY_ENOMEM;
        rc = ctrl_place_replicas(img, env, np, rf, p->replicas, why, sizeof why);
    }
    if (rc > 0) {
        snprintf(msg, msglen, "Unable to replicate the partition %d time(s): %s", rf, why);
        return rc;
    }
    if (rc < 0 || *too_large)
        return rc;
    for (int32_t i = 0; i < np; i++) {
        size_t row = (size_t)i * (size_t)rf;
        p->nisr[i] = ctrl_active_replicas(img, p->replicas + row, rf, p->isr + row);
        if (p->nisr[i] == 0) {
            snprintf(msg, msglen, "Unable to replicate the partition %d time(s): All brokers are currently fenced or "
                                  "in controlled shutdown.", rf);
            return KERR_INVALID_REPLICATION_FACTOR;
        }
    }
    return 0;
}

static int emit_topic(const struct md_image *img, const char *name, const struct cfg_set *s,
                      const struct topic_plan *p, proto_uuid id, struct ctrl_records *out)
{
    struct TopicRecord *tr = ctrl_records_add(out, &proto_msg_TopicRecord, 0);
    if (!tr)
        return FERRY_ENOMEM;
    tr->Name = (proto_str){proto_arena_strdup(out->a, proto_str_from(name)), (int32_t)strlen(name)};
    tr->TopicId = id;
    if (!tr->Name.p)
        return FERRY_ENOMEM;
    /* ConfigRecords go after the TopicRecord and before the PartitionRecords; only changed values. */
    const struct md_configs *cur = md_image_configs(img, MD_RESOURCE_TOPIC, name);
    for (size_t i = 0; i < s->n; i++) {
        const char *old = md_configs_get(cur, s->keys[i]);
        if (old && strcmp(old, s->values[i]) == 0)
            continue;
        if (ctrl_add_config_record(out, MD_RESOURCE_TOPIC, name, s->keys[i], s->values[i]))
            return FERRY_ENOMEM;
    }
    for (int32_t i = 0; i < p->nparts; i++) {
        size_t row = (size_t)i * (size_t)p->rf;
        if (ctrl_add_partition_record(img, out, id, i, p->replicas + row, p->rf, p->isr + row, p->nisr[i]))
            return FERRY_ENOMEM;
    }
    return 0;
}

static int create_topic(const struct md_image *img, const struct ctrl_env *env, const creatable_topic *t,
                        int16_t version, struct ctrl_ctx *c, creatable_result *r, struct ctrl_records *out,
                        size_t rec_start, bool *too_large)
{
    char msg[MSG_LEN];
    r->Name = ctrl_copy(c, t->Name);
    if (t->Name.len < 0) {
        topic_fail(c, r, KERR_INVALID_REQUEST, "Invalid null topic name.");
        return 0;
    }
    const char *name = ctrl_cstr(c, t->Name);
    if (!name)
        return FERRY_ENOMEM;
    size_t len = (size_t)t->Name.len;
    if (ctrl_validate_topic_name(name, len, msg, sizeof msg)) {
        topic_fail(c, r, KERR_INVALID_TOPIC_EXCEPTION, msg);
        return 0;
    }
    const struct md_topic *coll = ctrl_colliding_topic(img, name, len);
    if (md_image_topic_n(img, name, len)) {
        snprintf(msg, sizeof msg, "Topic '%s' already exists.", name);
        topic_fail(c, r, KERR_TOPIC_ALREADY_EXISTS, msg);
        return 0;
    }
    if (coll) {
        snprintf(msg, sizeof msg, "Topic '%s' collides with existing topic: %s", name, coll->name);
        topic_fail(c, r, KERR_INVALID_TOPIC_EXCEPTION, msg);
        return 0;
    }
    struct cfg_set cfgs;
    int rc = collect_configs(c, t, &cfgs, msg, sizeof msg);
    if (rc == 0)
        rc = ctrl_check_topic_configs(env, cfgs.keys, cfgs.values, cfgs.n, msg, sizeof msg);
    if (rc) {
        if (rc > 0)
            topic_fail(c, r, (int16_t)rc, msg);
        return rc < 0 ? rc : 0;
    }
    struct topic_plan plan = {0};
    size_t used = out->n - rec_start + 1 + cfgs.n;
    size_t budget = used < CTRL_MAX_RECORDS_PER_OP ? CTRL_MAX_RECORDS_PER_OP - used : 0;
    if (t->Assignments_n > 0) {
        if ((size_t)t->Assignments_n > budget)
            *too_large = true;
        else
            rc = plan_manual(img, t, &plan, msg, sizeof msg);
    } else if (t->ReplicationFactor < -1 || t->ReplicationFactor == 0) {
        snprintf(msg, sizeof msg, "Replication factor must be larger than 0, or -1 to use the default value.");
        rc = KERR_INVALID_REPLICATION_FACTOR;
    } else if (t->NumPartitions < -1 || t->NumPartitions == 0) {
        snprintf(msg, sizeof msg, "Number of partitions was set to an invalid non-positive value.");
        rc = KERR_INVALID_PARTITIONS;
    } else {
        int32_t np = t->NumPartitions == -1 ? env->num_partitions : t->NumPartitions;
        int32_t rf = t->ReplicationFactor == -1 ? env->default_replication_factor : t->ReplicationFactor;
        rc = plan_placed(img, env, np, rf, budget, &plan, too_large, msg, sizeof msg);
    }
    if (rc == 0 && !*too_large) {
        proto_uuid id = ctrl_random_topic_id(img, env);
        rc = emit_topic(img, name, &cfgs, &plan, id, out);
        if (rc == 0) {
            r->TopicId = id;
            r->ErrorCode = 0;
            r->ErrorMessage = (proto_str){NULL, -1};
            r->NumPartitions = plan.nparts;
            r->ReplicationFactor = (int16_t)plan.rf;
            r->TopicConfigErrorCode = 0;
            if (version >= 5)
                rc = fill_result_configs(c, env, &cfgs, r);
        }
    } else if (rc > 0) {
        topic_fail(c, r, (int16_t)rc, msg);
        rc = 0;
    }
    plan_free(&plan);
    return rc;
}

/* Counts occurrences of each name: map name -> count. */
static int count_names(struct md_map *m, const proto_str *names, size_t stride, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        const proto_str *s = (const proto_str *)((const char *)names + (size_t)i * stride);
        if (s->len < 0)
            continue;
        uintptr_t v = (uintptr_t)md_map_get(m, s->p, (size_t)s->len);
        if (md_map_put(m, s->p, (size_t)s->len, (void *)(v + 1)))
            return FERRY_ENOMEM;
    }
    return 0;
}

static bool is_dup(const struct md_map *m, proto_str s)
{
    return s.len >= 0 && (uintptr_t)md_map_get(m, s.p, (size_t)s.len) > 1;
}

/* True the first time a duplicated name is met (its count is then marked as reported). */
static bool first_dup(struct md_map *m, proto_str s)
{
    uintptr_t v = (uintptr_t)md_map_get(m, s.p, (size_t)s.len);
    if (v <= 1 || v == UINTPTR_MAX)
        return false;
    md_map_put(m, s.p, (size_t)s.len, (void *)UINTPTR_MAX); /* replaces: cannot fail */
    return true;
}

int ctrl_create_topics(const struct md_image *img, const struct ctrl_env *env, const struct CreateTopicsRequest *req,
                       int16_t version, struct proto_arena *a, struct CreateTopicsResponse *resp,
                       struct ctrl_records *out)
{
    struct ctrl_ctx c = {a, false};
    proto_struct_init(proto_msg_CreateTopicsResponse.body, resp);
    int32_t n = req->Topics_n > 0 ? req->Topics_n : 0;
    resp->Topics = proto_array_new(a, &desc_CreateTopicsResponse_CreatableTopicResult, n);
    resp->Topics_n = 0;
    if (!resp->Topics)
        return FERRY_ENOMEM;
    struct md_map names;
    md_map_init(&names);
    int rc = n ? count_names(&names, &req->Topics[0].Name, sizeof *req->Topics, n) : 0;
    size_t rec_start = out->n;
    bool too_large = false, metadata_topic = false;
    for (int32_t i = 0; i < n && !rc; i++) {
        const creatable_topic *t = &req->Topics[i];
        if (is_dup(&names, t->Name))
            continue;
        if (proto_str_eq(t->Name, CTRL_METADATA_TOPIC)) {
            metadata_topic = true;
            continue;
        }
        rc = create_topic(img, env, t, version, &c, &resp->Topics[resp->Topics_n++], out, rec_start, &too_large);
    }
    for (int32_t i = 0; i < n && !rc; i++) {
        const creatable_topic *t = &req->Topics[i];
        if (t->Name.len >= 0 && first_dup(&names, t->Name)) {
            creatable_result *r = &resp->Topics[resp->Topics_n++];
            r->Name = ctrl_copy(&c, t->Name);
            topic_fail(&c, r, KERR_INVALID_REQUEST, "Duplicate topic name.");
        }
    }
    if (metadata_topic && !rc) {
        creatable_result *r = &resp->Topics[resp->Topics_n++];
        r->Name = proto_str_from(CTRL_METADATA_TOPIC);
        topic_fail(&c, r, KERR_TOPIC_AUTHORIZATION_FAILED, "Authorization failed.");
    }
    md_map_free(&names);
    if (!rc && (too_large || out->n - rec_start > CTRL_MAX_RECORDS_PER_OP)) {
        for (int32_t i = 0; i < resp->Topics_n; i++) {
            creatable_result *r = &resp->Topics[i];
            proto_str name = r->Name;
            proto_struct_init(&desc_CreateTopicsResponse_CreatableTopicResult, r);
            r->Name = name;
            topic_fail(&c, r, KERR_POLICY_VIOLATION, CTRL_TOO_LARGE_MESSAGE);
        }
        ctrl_records_truncate(out, rec_start);
    }
    if (req->validateOnly || rc)
        ctrl_records_truncate(out, rec_start);
    return rc ? rc : c.oom ? FERRY_ENOMEM : 0;
}

/* ---- DeleteTopics ---- */

typedef struct DeleteTopicsResponse_DeletableTopicResult deletable_result;

static deletable_result *del_result(struct ctrl_ctx *c, struct DeleteTopicsResponse *resp, proto_str name,
                                    proto_uuid id, int16_t code, const char *msg)
{
    deletable_result *r = &resp->Responses[resp->Responses_n++];
    r->Name = ctrl_copy(c, name);
    r->TopicId = id;
    r->ErrorCode = code;
    r->ErrorMessage = msg ? ctrl_strf(c, "%s", msg) : (proto_str){NULL, -1};
    return r;
}

/* One entry of the request, by name or id. */
struct del_entry {
    proto_str name; /* len -1: by id */
    proto_uuid id;
};

static int delete_one(const struct md_image *img, struct ctrl_ctx *c, struct DeleteTopicsResponse *resp,
                      const struct del_entry *e, struct md_map *deleted_ids, struct ctrl_records *out)
{
    const struct md_topic *t =
        e->name.len >= 0 ? md_image_topic_n(img, e->name.p, (size_t)e->name.len) : md_image_topic_by_id(img, e->id);
    if (!t) {
        int16_t code = e->name.len >= 0 ? KERR_UNKNOWN_TOPIC_OR_PARTITION : KERR_UNKNOWN_TOPIC_ID;
        del_result(c, resp, e->name, e->name.len >= 0 ? (proto_uuid){{0}} : e->id, code, ctrl_default_message(code));
        return 0;
    }
    if (md_map_get(deleted_ids, t->id.b, 16)) {
        del_result(c, resp, e->name, t->id, KERR_INVALID_REQUEST,
                   "The provided topic name maps to an ID that was already supplied.");
        return 0;
    }
    if (md_map_put(deleted_ids, t->id.b, 16, (void *)1))
        return FERRY_ENOMEM;
    struct RemoveTopicRecord *rec = ctrl_records_add(out, &proto_msg_RemoveTopicRecord, 0);
    if (!rec)
        return FERRY_ENOMEM;
    rec->TopicId = t->id;
    del_result(c, resp, proto_str_from(t->name), t->id, KERR_NONE, NULL);
    return 0;
}

int ctrl_delete_topics(const struct md_image *img, const struct ctrl_env *env, const struct DeleteTopicsRequest *req,
                       int16_t version, struct proto_arena *a, struct DeleteTopicsResponse *resp,
                       struct ctrl_records *out)
{
    struct ctrl_ctx c = {a, false};
    proto_struct_init(proto_msg_DeleteTopicsResponse.body, resp);
    /* Gather the entries: TopicNames (v0-5) or Topics (v6+). */
    int32_t n = version >= 6 ? (req->Topics_n > 0 ? req->Topics_n : 0) : (req->TopicNames_n > 0 ? req->TopicNames_n : 0);
    resp->Responses = proto_array_new(a, &desc_DeleteTopicsResponse_DeletableTopicResult, n);
    struct del_entry *entries = ferry_calloc((size_t)(n ? n : 1), sizeof *entries);
    resp->Responses_n = 0;
    if (!resp->Responses || !entries) {
        ferry_free(entries);
        return FERRY_ENOMEM;
    }
    for (int32_t i = 0; i < n; i++) {
        if (version >= 6)
            entries[i] = (struct del_entry){req->Topics[i].Name, req->Topics[i].TopicId};
        else
            entries[i] = (struct del_entry){req->TopicNames[i], {{0}}};
    }
    size_t rec_start = out->n;
    int rc = 0;
    if (!env->delete_topic_enable) {
        int16_t code = version < 3 ? KERR_INVALID_REQUEST : KERR_TOPIC_DELETION_DISABLED;
        for (int32_t i = 0; i < n; i++)
            del_result(&c, resp, entries[i].name, entries[i].id, code, "Topic deletion is disabled.");
        ferry_free(entries);
        return c.oom ? FERRY_ENOMEM : 0;
    }
    struct md_map names, ids, deleted_ids;
    md_map_init(&names);
    md_map_init(&ids);
    md_map_init(&deleted_ids);
    for (int32_t i = 0; i < n && !rc; i++) {
        struct del_entry *e = &entries[i];
        if (e->name.len >= 0 && !proto_uuid_is_zero(e->id)) {
            del_result(&c, resp, e->name, e->id, KERR_INVALID_REQUEST, "You may not specify both topic name and topic id.");
            e->name.len = -2; /* handled */
        } else if (e->name.len < 0 && proto_uuid_is_zero(e->id)) {
            del_result(&c, resp, (proto_str){NULL, -1}, e->id, KERR_INVALID_REQUEST,
                       "Neither topic name nor id were specified.");
            e->name.len = -2;
        } else if (e->name.len >= 0) {
            uintptr_t v = (uintptr_t)md_map_get(&names, e->name.p, (size_t)e->name.len);
            rc = md_map_put(&names, e->name.p, (size_t)e->name.len, (void *)(v + 1));
        } else {
            uintptr_t v = (uintptr_t)md_map_get(&ids, e->id.b, 16);
            rc = md_map_put(&ids, e->id.b, 16, (void *)(v + 1));
        }
    }
    /* Duplicates, once each. */
    for (int32_t i = 0; i < n && !rc; i++) {
        struct del_entry *e = &entries[i];
        if (e->name.len == -2)
            continue;
        if (e->name.len >= 0 ? first_dup(&names, e->name) : false)
            del_result(&c, resp, e->name, (proto_uuid){{0}}, KERR_INVALID_REQUEST, "Duplicate topic name.");
        if (e->name.len == -1) {
            uintptr_t v = (uintptr_t)md_map_get(&ids, e->id.b, 16);
            if (v > 1 && v != UINTPTR_MAX) {
                md_map_put(&ids, e->id.b, 16, (void *)UINTPTR_MAX);
                del_result(&c, resp, (proto_str){NULL, -1}, e->id, KERR_INVALID_REQUEST, "Duplicate topic id.");
            }
        }
    }
    /* Ids first (as ControllerApis resolves them first), then names. */
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (int32_t i = 0; i < n && !rc; i++) {
            struct del_entry *e = &entries[i];
            if (e->name.len == -2 || (pass == 0) != (e->name.len == -1))
                continue;
            bool dup = e->name.len >= 0 ? (uintptr_t)md_map_get(&names, e->name.p, (size_t)e->name.len) > 1
                                        : (uintptr_t)md_map_get(&ids, e->id.b, 16) > 1;
            if (!dup)
                rc = delete_one(img, &c, resp, e, &deleted_ids, out);
        }
    }
    md_map_free(&names);
    md_map_free(&ids);
    md_map_free(&deleted_ids);
    ferry_free(entries);
    if (!rc && out->n - rec_start > CTRL_MAX_RECORDS_PER_OP) {
        for (int32_t i = 0; i < resp->Responses_n; i++) {
            resp->Responses[i].ErrorCode = KERR_POLICY_VIOLATION;
            resp->Responses[i].ErrorMessage = ctrl_strf(&c, CTRL_TOO_LARGE_MESSAGE);
        }
        ctrl_records_truncate(out, rec_start);
    }
    if (rc)
        ctrl_records_truncate(out, rec_start);
    return rc ? rc : c.oom ? FERRY_ENOMEM : 0;
}

/* ---- CreatePartitions ---- */

typedef struct CreatePartitionsResponse_CreatePartitionsTopicResult partitions_result;

static int create_partitions_one(const struct md_image *img, const struct ctrl_env *env,
                                 const struct CreatePartitionsRequest_CreatePartitionsTopic *t, size_t budget,
                                 struct ctrl_records *out, bool *too_large, char *msg, size_t msglen, bool *has_msg)
{
    *has_msg = true;
    const struct md_topic *topic = t->Name.len >= 0 ? md_image_topic_n(img, t->Name.p, (size_t)t->Name.len) : NULL;
    if (!topic) {
        *has_msg = false; /* UnknownTopicOrPartitionException(): no message */
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    int32_t cur = topic->nparts;
    if (t->Count == cur) {
        snprintf(msg, msglen, "Topic already has %d partition(s).", cur);
        return KERR_INVALID_PARTITIONS;
    }
    if (t->Count < cur) {
        snprintf(msg, msglen, "The topic %s currently has %d partition(s); %d would not be an increase.", topic->name,
                 cur, t->Count);
        return KERR_INVALID_PARTITIONS;
    }
    int32_t additional = t->Count - cur;
    if (t->Assignments_n >= 0 && t->Assignments_n != additional) {
        snprintf(msg, msglen, "Attempted to add %d additional partition(s), but only %d assignment(s) were specified.",
                 additional, t->Assignments_n);
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    const struct md_partition *p0 = md_topic_partition(topic, 0);
    int32_t rf = p0 ? p0->replicas.n : 0;
    for (int32_t i = 0; !p0 && i < topic->parts_len; i++)
        if (topic->parts[i].present)
            rf = topic->parts[i].replicas.n;
    if ((size_t)additional > budget) {
        *too_large = true;
        return 0;
    }
    struct topic_plan plan = {0};
    if (plan_alloc(&plan, additional, rf > 0 ? rf : 1)) {
        plan_free(&plan);
        return FERRY_ENOMEM;
    }
    plan.rf = rf;
    int rc = 0;
    if (t->Assignments_n >= 0) {
        for (int32_t i = 0; i < additional && !rc; i++) {
            const struct CreatePartitionsRequest_CreatePartitionsAssignment *as = &t->Assignments[i];
            int32_t cnt = as->BrokerIds_n > 0 ? as->BrokerIds_n : 0;
            rc = ctrl_check_assignment(img, as->BrokerIds, cnt, rf, msg, msglen);
            if (rc)
                break;
            size_t row = (size_t)i * (size_t)rf;
            memcpy(plan.replicas + row, as->BrokerIds, (size_t)cnt * sizeof(int32_t));
            plan.nisr[i] = ctrl_active_replicas(img, as->BrokerIds, cnt, plan.isr + row);
            if (plan.nisr[i] == 0) {
                snprintf(msg, msglen, "All brokers specified in the manual partition assignment for partition %d are "
                                      "fenced or in controlled shutdown.", cur + i);
                rc = KERR_INVALID_REPLICA_ASSIGNMENT;
            }
        }
    } else {
        rc = ctrl_place_replicas(img, env, additional, rf, plan.replicas, msg, msglen);
        for (int32_t i = 0; i < additional && !rc; i++) {
            size_t row = (size_t)i * (size_t)rf;
            plan.nisr[i] = ctrl_active_replicas(img, plan.replicas + row, rf, plan.isr + row);
            if (plan.nisr[i] == 0) {
                snprintf(msg, msglen, "Unable to replicate the partition %d time(s): All brokers are currently fenced "
                                      "or in controlled shutdown.", rf);
                rc = KERR_INVALID_REPLICATION_FACTOR;
            }
        }
    }
    for (int32_t i = 0; i < additional && !rc; i++) {
        size_t row = (size_t)i * (size_t)rf;
        rc = ctrl_add_partition_record(img, out, topic->id, cur + i, plan.replicas + row, rf, plan.isr + row,
                                       plan.nisr[i]);
    }
    plan_free(&plan);
    return rc;
}

int ctrl_create_partitions(const struct md_image *img, const struct ctrl_env *env,
                           const struct CreatePartitionsRequest *req, int16_t version, struct proto_arena *a,
                           struct CreatePartitionsResponse *resp, struct ctrl_records *out)
{
    (void)version;
    struct ctrl_ctx c = {a, false};
    proto_struct_init(proto_msg_CreatePartitionsResponse.body, resp);
    int32_t n = req->Topics_n > 0 ? req->Topics_n : 0;
    resp->Results = proto_array_new(a, &desc_CreatePartitionsResponse_CreatePartitionsTopicResult, n);
    resp->Results_n = 0;
    if (!resp->Results)
        return FERRY_ENOMEM;
    struct md_map names;
    md_map_init(&names);
    int rc = n ? count_names(&names, &req->Topics[0].Name, sizeof *req->Topics, n) : 0;
    /* Duplicates first, as ControllerApis adds them before the controller's results. */
    for (int32_t i = 0; i < n && !rc; i++) {
        const struct CreatePartitionsRequest_CreatePartitionsTopic *t = &req->Topics[i];
        if (t->Name.len >= 0 && first_dup(&names, t->Name)) {
            partitions_result *r = &resp->Results[resp->Results_n++];
            r->Name = ctrl_copy(&c, t->Name);
            r->ErrorCode = KERR_INVALID_REQUEST;
            r->ErrorMessage = ctrl_strf(&c, "Duplicate topic name.");
        }
    }
    size_t rec_start = out->n;
    bool too_large = false;
    for (int32_t i = 0; i < n && !rc; i++) {
        const struct CreatePartitionsRequest_CreatePartitionsTopic *t = &req->Topics[i];
        if (t->Name.len >= 0 && (uintptr_t)md_map_get(&names, t->Name.p, (size_t)t->Name.len) > 1)
            continue;
        char msg[MSG_LEN];
        bool has_msg = false;
        size_t before = out->n, used = out->n - rec_start;
        size_t budget = used < CTRL_MAX_RECORDS_PER_OP ? CTRL_MAX_RECORDS_PER_OP - used : 0;
        int code = create_partitions_one(img, env, t, budget, out, &too_large, msg, sizeof msg, &has_msg);
        if (code < 0) {
            rc = code;
            break;
        }
        partitions_result *r = &resp->Results[resp->Results_n++];
        r->Name = ctrl_copy(&c, t->Name);
        r->ErrorCode = (int16_t)code;
        r->ErrorMessage = code && has_msg ? ctrl_strf(&c, "%s", msg) : (proto_str){NULL, -1};
        if (code)
            ctrl_records_truncate(out, before);
    }
    md_map_free(&names);
    if (!rc && too_large) {
        for (int32_t i = 0; i < resp->Results_n; i++) {
            resp->Results[i].ErrorCode = KERR_POLICY_VIOLATION;
            resp->Results[i].ErrorMessage = ctrl_strf(&c, CTRL_TOO_LARGE_MESSAGE);
        }
        ctrl_records_truncate(out, rec_start);
    }
    if (req->ValidateOnly || rc)
        ctrl_records_truncate(out, rec_start);
    return rc ? rc : c.oom ? FERRY_ENOMEM : 0;
}

/* ---- auto-creation ---- */

int ctrl_auto_create_topics(const struct md_image *img, const struct ctrl_env *env, const proto_str *names, size_t n,
                            int16_t *errors, struct ctrl_records *out)
{
    struct proto_arena a;
    proto_arena_init(&a);
    struct CreateTopicsRequest req;
    proto_struct_init(proto_msg_CreateTopicsRequest.body, &req);
    req.Topics = proto_array_new(&a, &desc_CreateTopicsRequest_CreatableTopic, (int32_t)n);
    struct md_map seen;
    md_map_init(&seen);
    int rc = FERRY_ENOMEM;
    if (!req.Topics)
        goto out;
    req.Topics_n = 0;
    static const struct CreateTopicsRequest_CreateableTopicConfig none[1];
    for (size_t i = 0; i < n; i++) {
        if (names[i].len < 0 || md_map_get(&seen, names[i].p, (size_t)names[i].len))
            continue; /* a name asked for twice is created once */
        if (md_map_put(&seen, names[i].p, (size_t)names[i].len, (void *)1))
            goto out;
        creatable_topic *t = &req.Topics[req.Topics_n++];
        t->Name = names[i];
        t->Assignments_n = 0;
        t->Configs = (struct CreateTopicsRequest_CreateableTopicConfig *)none;
        t->Configs_n = 0;
        struct CreateTopicsRequest_CreateableTopicConfig *cf = NULL;
        if (proto_str_eq(names[i], CTRL_OFFSETS_TOPIC)) {
            t->NumPartitions = env->offsets_topic_num_partitions;
            t->ReplicationFactor = env->offsets_topic_replication_factor;
            cf = proto_array_new(&a, &desc_CreateTopicsRequest_CreateableTopicConfig, 3);
            if (!cf)
                goto out;
            cf[0].Name = proto_str_from("cleanup.policy");
            cf[0].Value = proto_str_from("compact");
            cf[1].Name = proto_str_from("compression.type");
            cf[1].Value = proto_str_from("producer");
            cf[2].Name = proto_str_from("segment.bytes");
            char *v = proto_arena_alloc(&a, 16);
            if (!v)
                goto out;
            snprintf(v, 16, "%d", env->offsets_topic_segment_bytes);
            cf[2].Value = proto_str_from(v);
            t->Configs_n = 3;
        } else if (proto_str_eq(names[i], CTRL_TXN_TOPIC)) {
            t->NumPartitions = env->txn_topic_num_partitions;
            t->ReplicationFactor = env->txn_topic_replication_factor;
            cf = proto_array_new(&a, &desc_CreateTopicsRequest_CreateableTopicConfig, 5);
            char *isr = proto_arena_alloc(&a, 16), *seg = proto_arena_alloc(&a, 16);
            if (!cf || !isr || !seg)
                goto out;
            snprintf(isr, 16, "%d", env->txn_topic_min_isr);
            snprintf(seg, 16, "%d", env->txn_topic_segment_bytes);
            cf[0].Name = proto_str_from("cleanup.policy");
            cf[0].Value = proto_str_from("compact");
            cf[1].Name = proto_str_from("compression.type");
            cf[1].Value = proto_str_from("uncompressed");
            cf[2].Name = proto_str_from("min.insync.replicas");
            cf[2].Value = proto_str_from(isr);
            cf[3].Name = proto_str_from("segment.bytes");
            cf[3].Value = proto_str_from(seg);
            cf[4].Name = proto_str_from("unclean.leader.election.enable");
            cf[4].Value = proto_str_from("false");
            t->Configs_n = 5;
        } else {
            t->NumPartitions = env->num_partitions;
            t->ReplicationFactor = (int16_t)env->default_replication_factor;
        }
        if (cf)
            t->Configs = cf;
    }
    struct CreateTopicsResponse resp;
    rc = ctrl_create_topics(img, env, &req, 4, &a, &resp, out);
    if (rc)
        goto out;
    for (size_t i = 0; i < n; i++) {
        int16_t e = KERR_UNKNOWN_SERVER_ERROR;
        for (int32_t j = 0; j < resp.Topics_n; j++) {
            if (ctrl_str_same(resp.Topics[j].Name, names[i])) {
                e = resp.Topics[j].ErrorCode;
                break;
            }
        }
        if (e == KERR_TOPIC_ALREADY_EXISTS)
            e = KERR_NONE;
        if (errors)
            errors[i] = e;
    }
out:
    md_map_free(&seen);
    proto_arena_free(&a);
    return rc;
}
