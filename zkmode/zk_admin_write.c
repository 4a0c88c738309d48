/* zk_admin_write: the records an admin decision produced, written as Kafka's AdminZkClient writes them
 * (see zk_admin.h), each write's failure patched into the response, then the answer, possibly after
 * waiting for the broker's image (CreateTopics / DeleteTopics with a timeout, as ZkAdminManager's
 * DelayedCreatePartitions / DelayedDeleteTopics). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zk_admin_internal.h"

#define TICK_MS 100 /* deadlines; an op whose writes the image shows is answered at the publish (zk_src_publish) */

enum write_kind { W_TOPIC, W_DELETE, W_PARTITIONS, W_CONFIG };

struct zk_write {
    struct zk_admin_op *op;
    enum write_kind kind;
    char *name;      /* topic, or config entity ("" = default broker) */
    int8_t cfg_type; /* W_CONFIG */
    proto_uuid topic_id;
    int32_t nparts;  /* W_TOPIC: partitions created */
    zk_topic_assignment asg;  /* W_TOPIC */
    zk_config_entity cfg;     /* W_TOPIC, W_CONFIG */
    int rc;          /* ZOK or the failing ZooKeeper code */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void zk_admin_writes_free(struct zk_admin_op *op)
{
    for (int32_t i = 0; i < op->nwrites; i++) {
        ferry_free(op->writes[i].name);
        zk_topic_assignment_free(&op->writes[i].asg);
        zk_config_entity_free(&op->writes[i].cfg);
    }
    ferry_free(op->writes);
    op->writes = NULL;
    op->nwrites = 0;
}

static char *cstr(proto_str s)
{
    char *p = ferry_malloc(s.len > 0 ? (size_t)s.len + 1 : 1);
    if (p) {
        if (s.len > 0)
            memcpy(p, s.p, (size_t)s.len);
        p[s.len > 0 ? s.len : 0] = 0;
    }
    return p;
}

static bool str_is(proto_str s, const char *c) { return s.len >= 0 && proto_str_eq(s, c); }

/* ---- the answer: patches for failed writes, waiting ---- */

static const char *zk_failure(int rc)
{
    return rc == ZBADVERSION ? "The znode changed concurrently; retry" : zk_rc_name(rc);
}

static void patch_create(struct zk_admin_op *op, const struct zk_write *w, int16_t code, const char *msg)
{
    struct CreateTopicsResponse *resp = op->resp;
    for (int32_t i = 0; i < resp->Topics_n; i++) {
        struct CreateTopicsResponse_CreatableTopicResult *r = &resp->Topics[i];
        if (r->ErrorCode != 0 || !str_is(r->Name, w->name))
            continue;
        r->ErrorCode = code;
        char buf[400];
        if (code == KERR_TOPIC_ALREADY_EXISTS)
            snprintf(buf, sizeof buf, "Topic '%s' already exists.", w->name);
        else
            snprintf(buf, sizeof buf, "%s", msg);
        r->ErrorMessage = (proto_str){proto_arena_strdup(op->a, proto_str_from(buf)), (int32_t)strlen(buf)};
        r->NumPartitions = -1;
        r->ReplicationFactor = -1;
        r->Configs = NULL;
        r->Configs_n = -1;
        r->TopicId = (proto_uuid){{0}};
    }
}

/* AlterConfigs and IncrementalAlterConfigs: the resource of write w. */
#define PATCH_RESOURCES(resp_type)                                                                                   \
    do {                                                                                                              \
        resp_type *resp_ = op->resp;                                                                                  \
        for (int32_t i_ = 0; i_ < resp_->Responses_n; i_++)                                                           \
            if (resp_->Responses[i_].ErrorCode == 0 && resp_->Responses[i_].ResourceType == w->cfg_type &&            \
                str_is(resp_->Responses[i_].ResourceName, w->name)) {                                                 \
                resp_->Responses[i_].ErrorCode = code;                                                                \
                resp_->Responses[i_].ErrorMessage = m;                                                                \
            }                                                                                                         \
    } while (0)

static void patch(struct zk_admin_op *op, const struct zk_write *w, int16_t code, const char *msg)
{
    /* the message lives in the response's arena (msg may be the caller's stack) */
    proto_str m = {NULL, -1};
    if (msg && op->a)
        m = (proto_str){proto_arena_strdup(op->a, proto_str_from(msg)), (int32_t)strlen(msg)};
    if (msg && !m.p)
        m.len = -1;
    switch (op->kind) {
    case ZK_ADMIN_CREATE:
        patch_create(op, w, code, msg);
        break;
    case ZK_ADMIN_AUTO:
        break;
    case ZK_ADMIN_DELETE: {
        struct DeleteTopicsResponse *resp = op->resp;
        for (int32_t i = 0; i < resp->Responses_n; i++) {
            struct DeleteTopicsResponse_DeletableTopicResult *r = &resp->Responses[i];
            if (r->ErrorCode == 0 && (str_is(r->Name, w->name) || proto_uuid_eq(r->TopicId, w->topic_id))) {
                r->ErrorCode = code;
                r->ErrorMessage = m;
            }
        }
        break;
    }
    case ZK_ADMIN_PARTITIONS: {
        struct CreatePartitionsResponse *resp = op->resp;
        for (int32_t i = 0; i < resp->Results_n; i++)
            if (resp->Results[i].ErrorCode == 0 && str_is(resp->Results[i].Name, w->name)) {
                resp->Results[i].ErrorCode = code;
                resp->Results[i].ErrorMessage = m;
            }
        break;
    }
    case ZK_ADMIN_ALTER:
        PATCH_RESOURCES(struct AlterConfigsResponse);
        break;
    case ZK_ADMIN_INCREMENTAL:
        PATCH_RESOURCES(struct IncrementalAlterConfigsResponse);
        break;
    }
}

/* True when the image shows what write w did: a created topic with a leader for every partition, a
 * deleted topic gone. */
static bool image_shows(const struct zk_admin_op *op, const struct zk_write *w)
{
    const struct md_topic *t = md_image_topic(&op->z->img, w->name);
    if (w->kind == W_DELETE)
        return t == NULL;
    if (!t || t->nparts < w->nparts)
        return false;
    for (int32_t p = 0; p < w->nparts; p++) {
        const struct md_partition *mp = md_topic_partition(t, p);
        if (!mp || mp->leader < 0)
            return false;
    }
    return true;
}

static bool all_shown(const struct zk_admin_op *op)
{
    for (int32_t i = 0; i < op->nwrites; i++)
        if (op->writes[i].rc == ZOK && !image_shows(op, &op->writes[i]))
            return false;
    return true;
}

static void on_tick(uv_timer_t *t) { zk_admin_tick(t->data); }

void zk_admin_tick(struct zk_src *z)
{
    int64_t now = now_ms();
    bool waiting = false;
    for (struct zk_admin_op *op = z->admin_ops, *next; op; op = next) {
        next = op->next;
        if (op->deadline_ms <= 0)
            continue;
        if (all_shown(op)) {
            zk_admin_answer(op);
            continue;
        }
        if (now < op->deadline_ms) {
            waiting = true;
            continue;
        }
        for (int32_t i = 0; i < op->nwrites; i++)
            if (op->writes[i].rc == ZOK && !image_shows(op, &op->writes[i]))
                patch(op, &op->writes[i], KERR_REQUEST_TIMED_OUT, NULL);
        zk_admin_answer(op);
    }
    if (!waiting)
        uv_timer_stop(z->admin_timer);
}

/* CreatePartitions writes that lost to a concurrent change are decided again (zk_admin_partitions_retry). */
static bool retry_partitions(struct zk_admin_op *op)
{
    if (op->kind != ZK_ADMIN_PARTITIONS)
        return false;
    const char **names = ferry_calloc((size_t)op->nwrites + 1, sizeof *names);
    int32_t n = 0;
    for (int32_t i = 0; names && i < op->nwrites; i++)
        if (op->writes[i].kind == W_PARTITIONS && op->writes[i].rc == ZBADVERSION)
            names[n++] = op->writes[i].name;
    bool started = n > 0 && zk_admin_partitions_retry(op, names, n);
    ferry_free(names);
    if (!started)
        return false;
    for (int32_t i = 0; i < op->nwrites; i++)
        if (op->writes[i].kind == W_PARTITIONS && op->writes[i].rc == ZBADVERSION)
            op->writes[i].rc = ZOK; /* the retry answers for it */
    return true;
}

static void writes_done(struct zk_admin_op *op)
{
    struct zk_src *z = op->z;
    if (z->stopping)
        return; /* zk_admin_stop frees it */
    /* The topics whose setData lost are decided again by a retry (their writes count as done); the other
     * failures are answered here all the same, before the retry's results complete the response. */
    bool retrying = retry_partitions(op);
    int32_t timeout = 0;
    bool created = false;
    for (int32_t i = 0; i < op->nwrites; i++) {
        struct zk_write *w = &op->writes[i];
        if (w->rc == ZOK) {
            created = true;
            continue;
        }
        if (w->rc == ZNODEEXISTS && w->kind == W_TOPIC) {
            patch(op, w, KERR_TOPIC_ALREADY_EXISTS, NULL);
        } else if (w->rc == ZBADVERSION && w->kind == W_PARTITIONS) {
            /* retried until the last attempt: a retriable error, the client asks again */
            patch(op, w, KERR_REQUEST_TIMED_OUT, "The topic kept changing concurrently; retry");
            LOG_WARN("zk", "broker %d: CreatePartitions for %s lost every attempt to concurrent changes",
                     z->broker_id, w->name);
        } else {
            char msg[200];
            snprintf(msg, sizeof msg, "ZooKeeper write failed: %s", zk_failure(w->rc));
            patch(op, w, KERR_UNKNOWN_SERVER_ERROR, msg);
            LOG_WARN("zk", "broker %d: admin write for %s failed: %s", z->broker_id, w->name, zk_rc_name(w->rc));
        }
    }
    if (retrying)
        return; /* answered once the retry is */
    if (op->kind == ZK_ADMIN_CREATE)
        timeout = ((const struct CreateTopicsRequest *)op->req)->timeoutMs;
    else if (op->kind == ZK_ADMIN_DELETE)
        timeout = ((const struct DeleteTopicsRequest *)op->req)->TimeoutMs;
    if (timeout <= 0 || !created || all_shown(op)) {
        zk_admin_answer(op);
        return;
    }
    op->deadline_ms = now_ms() + timeout;
    if (!uv_is_active((uv_handle_t *)z->admin_timer))
        uv_timer_start(z->admin_timer, on_tick, TICK_MS, TICK_MS);
}

static void write_end(struct zk_write *w, int rc)
{
    struct zk_admin_op *op = w->op;
    w->rc = rc;
    if (--op->writes_left == 0)
        writes_done(op);
}

/* ---- /config entities (shared with the config writes of topic creation) ---- */

struct cfg_write {
    struct zk_src *z;
    char *path;
    char *entity_path; /* "topics/T" for the notification; NULL: none */
    char *json;
    void (*done)(void *arg, int rc);
    void *arg;
};

static void cfg_write_end(struct cfg_write *cw, int rc)
{
    cw->done(cw->arg, rc);
    ferry_free(cw->path);
    ferry_free(cw->entity_path);
    ferry_free(cw->json);
    ferry_free(cw);
}

static void on_notified(void *arg, const struct zk_result *r) { cfg_write_end(arg, r->rc); }

static void notify(struct cfg_write *cw)
{
    zk_config_change ch = {.version = 2, .entity_path = cw->entity_path};
    char *json = NULL;
    size_t len;
    if (zk_config_change_encode(&ch, &json, &len) != 0 ||
        zk_create(cw->z->s, "/config/changes/config_change_", json, (int)len, ZOO_PERSISTENT_SEQUENTIAL, on_notified,
                  cw) != 0)
        cfg_write_end(cw, ZSYSTEMERROR);
    ferry_free(json);
}

static void on_cfg_created(void *arg, const struct zk_result *r)
{
    struct cfg_write *cw = arg;
    if (r->rc != ZOK || !cw->entity_path)
        cfg_write_end(cw, r->rc);
    else
        notify(cw);
}

static void on_cfg_set(void *arg, const struct zk_result *r)
{
    struct cfg_write *cw = arg;
    if (r->rc == ZNONODE) {
        if (zk_create_path(cw->z->s, cw->path, cw->json, (int)strlen(cw->json), ZOO_PERSISTENT, on_cfg_created, cw))
            cfg_write_end(cw, ZSYSTEMERROR);
        return;
    }
    on_cfg_created(cw, r);
}

int zk_config_write(struct zk_src *z, const char *type, const char *entity, const char *json, bool notify_change,
                    void (*done)(void *arg, int rc), void *arg)
{
    struct cfg_write *cw = ferry_calloc(1, sizeof *cw);
    if (!cw)
        return FERRY_ENOMEM;
    size_t n = strlen(type) + strlen(entity) + 16;
    cw->z = z;
    cw->done = done;
    cw->arg = arg;
    cw->path = ferry_malloc(n);
    cw->json = ferry_strdup(json);
    if (notify_change)
        cw->entity_path = ferry_malloc(n);
    if (!cw->path || !cw->json || (notify_change && !cw->entity_path)) {
        ferry_free(cw->path);
        ferry_free(cw->json);
        ferry_free(cw->entity_path);
        ferry_free(cw);
        return FERRY_ENOMEM;
    }
    snprintf(cw->path, n, "/config/%s/%s", type, entity);
    if (cw->entity_path)
        snprintf(cw->entity_path, n, "%s/%s", type, entity);
    if (zk_set(z->s, cw->path, cw->json, (int)strlen(cw->json), -1, on_cfg_set, cw) != 0) {
        ferry_free(cw->path);
        ferry_free(cw->json);
        ferry_free(cw->entity_path);
        ferry_free(cw);
        return FERRY_ENOMEM;
    }
    return 0;
}

/* ---- topic creation: config, then the assignment ---- */

static void on_existing_topic(void *arg, const struct zk_result *r)
{
    struct zk_write *w = arg;
    zk_topic_assignment cur;
    zk_err err;
    bool ours = r->rc == ZOK &&
                zk_topic_assignment_decode(r->data ? r->data : "", r->len > 0 ? (size_t)r->len : 0, &cur, &err) == 0 &&
                cur.has_topic_id && proto_uuid_eq(cur.topic_id, w->topic_id);
    if (r->rc == ZOK)
        zk_topic_assignment_free(&cur);
    write_end(w, ours ? ZOK : ZNODEEXISTS); /* ours: our own create retried after a connection loss */
}

static void on_topic_created(void *arg, const struct zk_result *r)
{
    struct zk_write *w = arg;
    char path[300];
    snprintf(path, sizeof path, "/brokers/topics/%s", w->name);
    if (r->rc == ZNODEEXISTS && zk_get(w->op->z->s, path, false, on_existing_topic, w) == 0)
        return;
    write_end(w, r->rc);
}

static void on_topic_config(void *arg, int rc)
{
    struct zk_write *w = arg;
    char *json = NULL;
    size_t len = 0;
    char path[300];
    snprintf(path, sizeof path, "/brokers/topics/%s", w->name);
    if (rc == ZOK && zk_topic_assignment_encode(&w->asg, &json, &len) != 0)
        rc = ZSYSTEMERROR;
    if (rc == ZOK && zk_create_path(w->op->z->s, path, json, (int)len, ZOO_PERSISTENT, on_topic_created, w) != 0)
        rc = ZSYSTEMERROR;
    ferry_free(json);
    if (rc != ZOK)
        write_end(w, rc);
}

static void start_topic(struct zk_write *w)
{
    char *json = NULL;
    if (zk_config_entity_encode(&w->cfg, &json, NULL) != 0 ||
        zk_config_write(w->op->z, "topics", w->name, json, false, on_topic_config, w) != 0)
        write_end(w, ZSYSTEMERROR);
    ferry_free(json);
}

/* ---- deletion marker, new partitions, config entities ---- */

static void on_marked(void *arg, const struct zk_result *r)
{
    write_end(arg, r->rc == ZNODEEXISTS ? ZOK : r->rc); /* already marked: success, as Kafka */
}

static void on_set_done(void *arg, const struct zk_result *r) { write_end(arg, r->rc); }

static void on_config_written(void *arg, int rc) { write_end(arg, rc); }

static void start_write(struct zk_write *w)
{
    struct zk_src *z = w->op->z;
    char path[300];
    switch (w->kind) {
    case W_TOPIC:
        start_topic(w);
        return;
    case W_DELETE:
        snprintf(path, sizeof path, "/admin/delete_topics/%s", w->name);
        if (zk_create_path(z->s, path, NULL, -1, ZOO_PERSISTENT, on_marked, w) != 0)
            write_end(w, ZSYSTEMERROR);
        return;
    case W_PARTITIONS: {
        const struct zk_topic_read *tr = zk_admin_topic_read(w->op, w->name);
        char *json = NULL;
        size_t len;
        snprintf(path, sizeof path, "/brokers/topics/%s", w->name);
        if (!tr || zk_topic_assignment_encode(&w->asg, &json, &len) != 0 ||
            zk_set(z->s, path, json, (int)len, tr->zkversion, on_set_done, w) != 0)
            write_end(w, ZSYSTEMERROR);
        ferry_free(json);
        return;
    }
    case W_CONFIG: {
        char *json = NULL;
        if (zk_config_entity_encode(&w->cfg, &json, NULL) != 0 ||
            zk_config_write(z, w->cfg_type == MD_RESOURCE_TOPIC ? "topics" : "brokers",
                            w->name[0] ? w->name : ZK_DEFAULT_ENTITY, json, true, on_config_written, w) != 0)
            write_end(w, ZSYSTEMERROR);
        ferry_free(json);
        return;
    }
    }
}

/* ---- records into writes ---- */

static struct zk_write *add_write(struct zk_admin_op *op, enum write_kind kind, const char *name)
{
    struct zk_write *w = &op->writes[op->nwrites];
    if (!(w->name = ferry_strdup(name)))
        return NULL;
    w->op = op;
    w->kind = kind;
    op->nwrites++;
    return w;
}

static struct zk_write *find_write(struct zk_admin_op *op, enum write_kind kind, int8_t type, const char *name)
{
    for (int32_t i = 0; i < op->nwrites; i++)
        if (op->writes[i].kind == kind && op->writes[i].cfg_type == type && strcmp(op->writes[i].name, name) == 0)
            return &op->writes[i];
    return NULL;
}

/* Appends one partition (replicas copied) to an assignment. */
static int asg_add(zk_topic_assignment *a, int32_t partition, const int32_t *replicas, int32_t n)
{
    zk_partition_replicas *p = ferry_realloc(a->partitions, (a->n_partitions + 1) * sizeof *p);
    if (!p)
        return FERRY_ENOMEM;
    a->partitions = p;
    int32_t *copy = ferry_malloc((size_t)(n > 0 ? n : 1) * sizeof *copy);
    if (!copy)
        return FERRY_ENOMEM;
    if (n > 0)
        memcpy(copy, replicas, (size_t)n * sizeof *copy);
    p[a->n_partitions++] = (zk_partition_replicas){partition, (size_t)(n > 0 ? n : 0), copy};
    return 0;
}

static int asg_copy(zk_topic_assignment *dst, const zk_topic_assignment *src)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < src->n_partitions; i++)
        rc = asg_add(dst, src->partitions[i].partition, src->partitions[i].replicas,
                     (int32_t)src->partitions[i].n_replicas);
    /* a reassignment in progress keeps its adding/removing lists */
    for (size_t i = 0; rc == 0 && i < src->n_adding; i++) {
        zk_topic_assignment tmp = {0};
        rc = asg_add(&tmp, src->adding[i].partition, src->adding[i].replicas, (int32_t)src->adding[i].n_replicas);
        if (rc == 0) {
            zk_partition_replicas *p = ferry_realloc(dst->adding, (dst->n_adding + 1) * sizeof *p);
            if (!p) {
                rc = FERRY_ENOMEM;
                zk_topic_assignment_free(&tmp);
                break;
            }
            dst->adding = p;
            p[dst->n_adding++] = tmp.partitions[0];
            ferry_free(tmp.partitions);
        }
    }
    for (size_t i = 0; rc == 0 && i < src->n_removing; i++) {
        zk_topic_assignment tmp = {0};
        rc = asg_add(&tmp, src->removing[i].partition, src->removing[i].replicas,
                     (int32_t)src->removing[i].n_replicas);
        if (rc == 0) {
            zk_partition_replicas *p = ferry_realloc(dst->removing, (dst->n_removing + 1) * sizeof *p);
            if (!p) {
                rc = FERRY_ENOMEM;
                zk_topic_assignment_free(&tmp);
                break;
            }
            dst->removing = p;
            p[dst->n_removing++] = tmp.partitions[0];
            ferry_free(tmp.partitions);
        }
    }
    dst->has_topic_id = src->has_topic_id;
    dst->topic_id = src->topic_id;
    return rc;
}

/* A ConfigRecord applied to a config map: set (or replace) the key, or remove it (null value). */
static int cfg_apply(zk_config_entity *c, const struct ConfigRecord *r)
{
    char *key = cstr(r->Name);
    if (!key)
        return FERRY_ENOMEM;
    zk_str_map out = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < c->config.n; i++)
        if (strcmp(c->config.keys[i], key) != 0)
            rc = zk_str_map_add(&out, c->config.keys[i], c->config.values[i]);
    if (rc == 0 && r->Value.len >= 0) {
        char *value = cstr(r->Value);
        rc = value ? zk_str_map_add(&out, key, value) : FERRY_ENOMEM;
        ferry_free(value);
    }
    ferry_free(key);
    if (rc) {
        zk_str_map_free(&out);
        return rc;
    }
    zk_str_map_free(&c->config);
    c->config = out;
    return 0;
}

static const char *topic_name_of(const struct zk_admin_op *op, proto_uuid id)
{
    const struct md_topic *t = md_image_topic_by_id(&op->view, id);
    return t ? t->name : NULL;
}

static int plan_writes(struct zk_admin_op *op)
{
    op->writes = ferry_calloc(op->recs.n + 1, sizeof *op->writes);
    if (!op->writes)
        return FERRY_ENOMEM;
    struct zk_write *cur = NULL;
    for (size_t i = 0; i < op->recs.n; i++) {
        const struct metalog_rec *rec = &op->recs.recs[i];
        int rc = 0;
        if (rec->m == &proto_msg_TopicRecord) {
            const struct TopicRecord *t = rec->data;
            char *name = cstr(t->Name);
            cur = name ? add_write(op, W_TOPIC, name) : NULL;
            ferry_free(name);
            if (!cur)
                return FERRY_ENOMEM;
            cur->topic_id = t->TopicId;
            cur->asg.version = 3;
            cur->asg.has_topic_id = true;
            cur->asg.topic_id = t->TopicId;
        } else if (rec->m == &proto_msg_PartitionRecord) {
            const struct PartitionRecord *p = rec->data;
            struct zk_write *w = cur && proto_uuid_eq(cur->topic_id, p->TopicId) ? cur : NULL;
            if (!w) { /* new partitions of an existing topic */
                const char *name = topic_name_of(op, p->TopicId);
                const struct zk_topic_read *tr = name ? zk_admin_topic_read(op, name) : NULL;
                if (!tr || !tr->found || zk_admin_reassigning(tr))
                    continue; /* a topic being reassigned is refused, not written */
                w = find_write(op, W_PARTITIONS, 0, name);
                if (!w) {
                    if (!(w = add_write(op, W_PARTITIONS, name)))
                        return FERRY_ENOMEM;
                    w->asg.version = 3;
                    if ((rc = asg_copy(&w->asg, &tr->asg)) != 0)
                        return rc;
                }
            }
            rc = asg_add(&w->asg, p->PartitionId, p->Replicas, p->Replicas_n);
            w->nparts = (int32_t)w->asg.n_partitions;
        } else if (rec->m == &proto_msg_ConfigRecord) {
            const struct ConfigRecord *c = rec->data;
            char *name = cstr(c->ResourceName);
            if (!name)
                return FERRY_ENOMEM;
            struct zk_write *w = NULL;
            if (cur && c->ResourceType == MD_RESOURCE_TOPIC && strcmp(cur->name, name) == 0 &&
                (op->kind == ZK_ADMIN_CREATE || op->kind == ZK_ADMIN_AUTO))
                w = cur;
            else if (!(w = find_write(op, W_CONFIG, c->ResourceType, name))) {
                w = add_write(op, W_CONFIG, name);
                if (w) {
                    w->cfg_type = c->ResourceType;
                    /* start from the entity as read */
                    for (int32_t k = 0; k < op->ncfgs; k++) {
                        const struct zk_cfg_read *cr = &op->cfgs[k];
                        if (cr->type == c->ResourceType && strcmp(cr->name, name) == 0)
                            for (size_t e = 0; rc == 0 && e < cr->cfg.config.n; e++)
                                rc = zk_str_map_add(&w->cfg.config, cr->cfg.config.keys[e], cr->cfg.config.values[e]);
                    }
                }
            }
            ferry_free(name);
            if (!w)
                return FERRY_ENOMEM;
            if (rc == 0)
                rc = cfg_apply(&w->cfg, c);
        } else if (rec->m == &proto_msg_RemoveTopicRecord) {
            const struct RemoveTopicRecord *r = rec->data;
            const char *name = topic_name_of(op, r->TopicId);
            struct zk_write *w = name ? add_write(op, W_DELETE, name) : NULL;
            if (!w)
                return name ? FERRY_ENOMEM : FERRY_ECORRUPT;
            w->topic_id = r->TopicId;
        }
        if (rc)
            return rc;
    }
    return 0;
}

void zk_admin_write(struct zk_admin_op *op)
{
    int rc = plan_writes(op);
    if (rc) {
        LOG_ERROR("zk", "broker %d: admin operation not written: %s", op->z->broker_id, ferry_strerror(rc));
        for (int32_t i = 0; i < op->nwrites; i++)
            op->writes[i].rc = ZSYSTEMERROR;
        writes_done(op);
        return;
    }
    op->writes_left = op->nwrites + 1;
    for (int32_t i = 0; i < op->nwrites; i++)
        start_write(&op->writes[i]);
    op->writes_left--;
    if (op->writes_left == 0)
        writes_done(op);
}
