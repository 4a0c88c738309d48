/* zk_to_records: ZooKeeper state → metadata records, as Kafka 3.7's ZkMigrationClient (see the header). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zk_to_records.h"
#include "zkmode/znode/znode_codec.h"
#include "zkrpc_internal.h"

#define DEFAULT_ENTITY "<default>" /* Kafka's ConfigEntityName.Default */

/* The broker configs Kafka stores encrypted with password.encoder.secret (DynamicBrokerConfig's
 * DynamicPasswordConfigs: the dynamic configs of type PASSWORD), matched as suffixes like isPasswordConfig. */
static const char *const password_configs[] = {
    "ssl.key.password",         "ssl.keystore.password",          "ssl.truststore.password",
    "ssl.keystore.key",         "ssl.keystore.certificate.chain", "ssl.truststore.certificates",
    "sasl.jaas.config",
};

/* A growable list of broker ids in the arena. */
struct ids {
    int32_t *v;
    size_t n, cap;
};

struct load {
    const struct zkrpc_zk_state *in;
    struct zkrpc_zk_records *out;
    struct zr_view view;
    struct ids required;
};

static int fail(struct zkrpc_zk_records *out, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->err, sizeof out->err, fmt, ap);
    va_end(ap);
    LOG_ERROR("zkrpc", "ZooKeeper state not loaded: %s", out->err);
    return rc;
}

static int ids_add(struct zkrpc_result *r, struct ids *l, int32_t id)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        int32_t *nv = zr_array(r, ncap, sizeof *nv);
        if (!nv)
            return FERRY_ENOMEM;
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = id;
    return 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts and drops duplicates. */
static size_t ids_unique(struct ids *l)
{
    if (l->n == 0)
        return 0;
    qsort(l->v, l->n, sizeof *l->v, cmp_i32);
    size_t k = 1;
    for (size_t i = 1; i < l->n; i++)
        if (l->v[i] != l->v[k - 1])
            l->v[k++] = l->v[i];
    return l->n = k;
}

/* A broker id as ZooKeeper names it: a decimal int32 >= 0. */
static bool parse_broker_id(const char *s, int32_t *id)
{
    if (!s || !*s || strlen(s) > 10)
        return false;
    long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v > INT32_MAX)
        return false;
    *id = (int32_t)v;
    return true;
}

static int end_batch(struct zkrpc_zk_records *out, size_t *cap)
{
    if (out->r.nrecords == (out->nbatches ? out->batch_ends[out->nbatches - 1] : 0))
        return 0; /* empty */
    if (out->nbatches == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        size_t *nb = zr_array(&out->r, ncap, sizeof *nb);
        if (!nb)
            return FERRY_ENOMEM;
        if (out->nbatches)
            memcpy(nb, out->batch_ends, out->nbatches * sizeof *nb);
        out->batch_ends = nb;
        *cap = ncap;
    }
    out->batch_ends[out->nbatches++] = out->r.nrecords;
    return 0;
}

static int config_record(struct zkrpc_result *r, int8_t type, proto_str resource, const char *key, const char *value)
{
    struct ConfigRecord *c = zr_emit(r, &proto_msg_ConfigRecord, 0);
    char *k = c ? proto_arena_strdup(&r->arena, proto_str_from(key)) : NULL;
    char *v = k ? proto_arena_strdup(&r->arena, proto_str_from(value)) : NULL;
    if (!v)
        return FERRY_ENOMEM;
    c->ResourceType = type;
    c->ResourceName = resource;
    c->Name = proto_str_from(k);
    c->Value = proto_str_from(v);
    return 0;
}

/* ---- topics ---- */

static bool pending_deletion(const struct zkrpc_zk_state *in, const char *name)
{
    for (size_t i = 0; i < in->npending_deletions; i++)
        if (in->pending_deletions[i] && strcmp(in->pending_deletions[i], name) == 0)
            return true;
    return false;
}

static const zk_partition_replicas *replicas_of(const zk_partition_replicas *v, size_t n, int32_t partition)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].partition == partition)
            return &v[i];
    return NULL;
}

static const struct zkrpc_znode *state_of(const struct zkrpc_zk_topic *t, int32_t partition)
{
    for (size_t i = 0; i < t->nstates; i++)
        if (t->states[i].partition == partition && t->states[i].state.exists)
            return &t->states[i].state;
    return NULL;
}

static int topic_configs(struct load *l, const struct zkrpc_zk_topic *t, proto_str name)
{
    if (!t->config.exists)
        return 0;
    zk_config_entity cfg = {0};
    zk_err e = {{0}};
    int rc = zk_config_entity_decode(t->config.data, t->config.len, &cfg, &e);
    if (rc)
        return rc == FERRY_ENOMEM ? rc : fail(l->out, rc, "/config/topics/%s: %s", t->name, e.msg);
    for (size_t i = 0; i < cfg.config.n && !rc; i++)
        rc = config_record(&l->out->r, MD_RESOURCE_TOPIC, name, cfg.config.keys[i], cfg.config.values[i]);
    zk_config_entity_free(&cfg);
    return rc;
}

static int partition(struct load *l, const struct zkrpc_zk_topic *t, const struct zr_topic *zt,
                     const zk_topic_assignment *a, const zk_partition_replicas *pr)
{
    struct zkrpc_result *r = &l->out->r;
    bool oom = false;
    struct PartitionRecord *rec = zr_partition_record(&l->view, zt, pr->partition);
    if (!rec)
        return FERRY_ENOMEM;
    rec->Replicas = zr_ints(r, pr->replicas, (int32_t)pr->n_replicas, &oom);
    rec->Replicas_n = (int32_t)pr->n_replicas;
    const zk_partition_replicas *adding = replicas_of(a->adding, a->n_adding, pr->partition);
    const zk_partition_replicas *removing = replicas_of(a->removing, a->n_removing, pr->partition);
    if (adding) {
        rec->AddingReplicas = zr_ints(r, adding->replicas, (int32_t)adding->n_replicas, &oom);
        rec->AddingReplicas_n = (int32_t)adding->n_replicas;
    }
    if (removing) {
        rec->RemovingReplicas = zr_ints(r, removing->replicas, (int32_t)removing->n_replicas, &oom);
        rec->RemovingReplicas_n = (int32_t)removing->n_replicas;
    }
    for (size_t i = 0; i < pr->n_replicas && !oom; i++)
        oom = ids_add(r, &l->required, pr->replicas[i]) != 0;
    for (size_t i = 0; adding && i < adding->n_replicas && !oom; i++)
        oom = ids_add(r, &l->required, adding->replicas[i]) != 0;
    if (oom)
        return FERRY_ENOMEM;
    const struct zkrpc_znode *sz = state_of(t, pr->partition);
    if (!sz) {
        if (pr->n_replicas == 0)
            return fail(l->out, FERRY_EINVAL, "/brokers/topics/%s/partitions/%d/state: absent, and the partition has "
                        "no replicas to start from", t->name, pr->partition);
        LOG_WARN("zkrpc", "/brokers/topics/%s/partitions/%d/state is absent: ISR = replicas, leader %d, epoch 0",
                 t->name, pr->partition, pr->replicas[0]);
        rec->Isr = rec->Replicas;
        rec->Isr_n = rec->Replicas_n;
        rec->Leader = pr->replicas[0];
        rec->LeaderEpoch = 0;
        rec->PartitionEpoch = 0;
        rec->LeaderRecoveryState = 0;
        return 0;
    }
    zk_partition_state st = {0};
    zk_err e = {{0}};
    int rc = zk_partition_state_decode(sz->data, sz->len, &st, &e);
    if (rc)
        return rc == FERRY_ENOMEM ? rc
                                  : fail(l->out, rc, "/brokers/topics/%s/partitions/%d/state: %s", t->name,
                                         pr->partition, e.msg);
    rec->Isr = zr_ints(r, st.isr, (int32_t)st.n_isr, &oom);
    rec->Isr_n = (int32_t)st.n_isr;
    rec->Leader = st.leader;
    rec->LeaderEpoch = st.leader_epoch;
    rec->PartitionEpoch = sz->version;
    rec->LeaderRecoveryState = st.leader_recovery_state;
    zk_partition_state_free(&st);
    return oom ? FERRY_ENOMEM : 0;
}

static int topic(struct load *l, const struct zkrpc_zk_topic *t)
{
    if (!t->name || !zk_topic_name_valid(t->name))
        return fail(l->out, FERRY_EINVAL, "/brokers/topics/%s: not a legal topic name", t->name ? t->name : "");
    if (pending_deletion(l->in, t->name)) {
        LOG_INFO("zkrpc", "not migrating topic %s: pending deletion in /admin/delete_topics", t->name);
        return 0;
    }
    if (!t->assignment.exists)
        return fail(l->out, FERRY_EINVAL, "/brokers/topics/%s: absent", t->name);
    zk_topic_assignment a = {0};
    zk_err e = {{0}};
    int rc = zk_topic_assignment_decode(t->assignment.data, t->assignment.len, &a, &e);
    if (rc)
        return rc == FERRY_ENOMEM ? rc : fail(l->out, rc, "/brokers/topics/%s: %s", t->name, e.msg);
    if (!a.has_topic_id || proto_uuid_is_zero(a.topic_id)) {
        rc = fail(l->out, FERRY_EINVAL, "/brokers/topics/%s: no topic_id (the controller assigns one at startup)",
                  t->name);
        goto out;
    }
    bool oom = false;
    struct zr_topic *zt = zr_topic_by_name(&l->view, proto_str_from(t->name), &oom);
    if (oom || zt) {
        rc = oom ? FERRY_ENOMEM : fail(l->out, FERRY_EINVAL, "/brokers/topics/%s: listed twice", t->name);
        goto out;
    }
    int16_t kerr = KERR_NONE;
    rc = zr_topic_resolve(&l->view, proto_str_from(t->name), a.topic_id, &zt, &kerr);
    if (!rc && !zt) {
        char ids[PROTO_UUID_B64_LEN + 1];
        proto_uuid_to_base64(a.topic_id, ids);
        rc = fail(l->out, FERRY_EINVAL, "/brokers/topics/%s: topic id %s is also another topic's", t->name, ids);
    }
    if (rc)
        goto out;
    rc = topic_configs(l, t, zt->name);
    for (size_t i = 0; i < a.n_partitions && !rc; i++)
        rc = partition(l, t, zt, &a, &a.partitions[i]);
out:
    zk_topic_assignment_free(&a);
    return rc;
}

/* ---- broker configs, producer ids, brokers, cluster id ---- */

static bool is_password_config(const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < sizeof password_configs / sizeof password_configs[0]; i++) {
        size_t pl = strlen(password_configs[i]);
        if (kl >= pl && strcmp(key + kl - pl, password_configs[i]) == 0)
            return true;
    }
    return false;
}

static int broker_config(struct load *l, const struct zkrpc_zk_child *c, size_t *batch_cap)
{
    const char *name = c->name ? c->name : "";
    int32_t id = 0;
    bool is_default = strcmp(name, DEFAULT_ENTITY) == 0;
    if (!is_default && !parse_broker_id(name, &id))
        return fail(l->out, FERRY_EINVAL, "/config/brokers/%s: not a broker id or %s", name, DEFAULT_ENTITY);
    if (!is_default && ids_add(&l->out->r, &l->required, id))
        return FERRY_ENOMEM;
    if (!c->node.exists)
        return 0;
    zk_config_entity cfg = {0};
    zk_err e = {{0}};
    int rc = zk_config_entity_decode(c->node.data, c->node.len, &cfg, &e);
    if (rc)
        return rc == FERRY_ENOMEM ? rc : fail(l->out, rc, "/config/brokers/%s: %s", name, e.msg);
    proto_str resource = proto_str_from(is_default ? "" : name);
    for (size_t i = 0; i < cfg.config.n && !rc; i++) {
        if (is_password_config(cfg.config.keys[i]))
            rc = fail(l->out, FERRY_EINVAL, "/config/brokers/%s: %s is encrypted with password.encoder.secret, "
                      "which this load cannot decrypt", name, cfg.config.keys[i]);
        else
            rc = config_record(&l->out->r, MD_RESOURCE_BROKER, resource, cfg.config.keys[i], cfg.config.values[i]);
    }
    zk_config_entity_free(&cfg);
    return rc ? rc : end_batch(l->out, batch_cap);
}

static int producer_ids(struct load *l)
{
    const struct zkrpc_znode *z = &l->in->producer_id_block;
    if (!z->exists || z->len == 0)
        return 0; /* nothing allocated yet: nothing to migrate */
    zk_producer_id_block blk;
    zk_err e = {{0}};
    int rc = zk_producer_id_block_decode(z->data, z->len, &blk, &e);
    if (rc)
        return rc == FERRY_ENOMEM ? rc : fail(l->out, rc, "/latest_producer_id_block: %s", e.msg);
    if (blk.block_end < 0 || blk.block_end == INT64_MAX)
        return fail(l->out, FERRY_ERANGE, "/latest_producer_id_block: block_end %lld out of range",
                    (long long)blk.block_end);
    struct ProducerIdsRecord *r = zr_emit(&l->out->r, &proto_msg_ProducerIdsRecord, 0);
    if (!r)
        return FERRY_ENOMEM;
    r->BrokerId = blk.broker;
    r->BrokerEpoch = -1;
    r->NextProducerId = blk.block_end + 1;
    return 0;
}

static int registered_brokers(struct load *l)
{
    struct ids reg = {NULL, 0, 0};
    for (size_t i = 0; i < l->in->nbrokers; i++) {
        const struct zkrpc_zk_child *c = &l->in->brokers[i];
        int32_t id;
        const char *name = c->name ? c->name : "";
        if (!parse_broker_id(name, &id))
            return fail(l->out, FERRY_EINVAL, "/brokers/ids/%s: not a broker id", name);
        zk_broker_info b = {0};
        zk_err e = {{0}};
        int rc = c->node.exists ? zk_broker_info_decode(c->node.data, c->node.len, &b, &e) : 0;
        zk_broker_info_free(&b);
        if (rc)
            return rc == FERRY_ENOMEM ? rc : fail(l->out, rc, "/brokers/ids/%s: %s", name, e.msg);
        if (ids_add(&l->out->r, &reg, id))
            return FERRY_ENOMEM;
    }
    l->out->nregistered = ids_unique(&reg);
    l->out->registered = reg.v;
    return 0;
}

static int cluster_id(struct load *l)
{
    const struct zkrpc_znode *z = &l->in->cluster_id;
    if (!z->exists)
        return 0;
    zk_cluster_id c = {0};
    zk_err e = {{0}};
    int rc = zk_cluster_id_decode(z->data, z->len, &c, &e);
    if (rc)
        return rc == FERRY_ENOMEM ? rc : fail(l->out, rc, "/cluster/id: %s", e.msg);
    proto_uuid u;
    if (proto_uuid_from_base64(c.id, &u) || strlen(c.id) != PROTO_UUID_B64_LEN)
        rc = fail(l->out, FERRY_EPARSE, "/cluster/id: \"%s\" is not a base64url Uuid", c.id);
    else
        memcpy(l->out->cluster_id, c.id, PROTO_UUID_B64_LEN + 1);
    zk_cluster_id_free(&c);
    return rc;
}

void zkrpc_zk_records_init(struct zkrpc_zk_records *out)
{
    memset(out, 0, sizeof *out);
    zkrpc_result_init(&out->r);
}

void zkrpc_zk_records_free(struct zkrpc_zk_records *out)
{
    zkrpc_result_free(&out->r);
    char err[sizeof out->err];
    memcpy(err, out->err, sizeof err);
    zkrpc_zk_records_init(out);
    memcpy(out->err, err, sizeof err);
}

int zkrpc_zk_to_records(const struct zkrpc_zk_state *in, struct zkrpc_zk_records *out)
{
    struct md_image img; /* empty: the topics are checked against each other only */
    md_image_init(&img);
    struct load l = {in, out, {0}, {NULL, 0, 0}};
    zr_view_init(&l.view, &img, &out->r);
    size_t batch_cap = 0;
    int rc = cluster_id(&l);
    if (!rc)
        rc = registered_brokers(&l);
    for (size_t i = 0; i < in->ntopics && !rc; i++) {
        rc = topic(&l, &in->topics[i]);
        if (!rc)
            rc = end_batch(out, &batch_cap);
    }
    for (size_t i = 0; i < in->nbroker_configs && !rc; i++)
        rc = broker_config(&l, &in->broker_configs[i], &batch_cap);
    if (!rc)
        rc = producer_ids(&l);
    if (!rc)
        rc = end_batch(out, &batch_cap);
    md_image_free(&img);
    if (rc) {
        if (rc == FERRY_ENOMEM)
            snprintf(out->err, sizeof out->err, "out of memory");
        zkrpc_zk_records_free(out);
        return rc;
    }
    out->nrequired = ids_unique(&l.required);
    out->required = l.required.v;
    LOG_INFO("zkrpc", "ZooKeeper state loaded: %zu record(s) in %zu batch(es), %zu registered broker(s)",
             out->r.nrecords, out->nbatches, out->nregistered);
    return 0;
}
