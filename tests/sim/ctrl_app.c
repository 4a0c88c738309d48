/* ctrl_app: the simulated cluster's controller application and its clients (see ctrl_app.h). */
#include "tests/sim/ctrl_app.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/metadata/md_image.h"
#include "kraftmode/ctrl.h"
#include "kraftmode/metalog_loader.h"
#include "kraftmode/metalog_record.h"
#include "kraftmode/snapshot.h"
#include "kraftmode/storage.h"
#include "proto_codec.h"

#define CLUSTER_ID "MkU3OEVBNTcwNTJENDM2Qg"
#define NBROKERS 4
#define NTOPICS 6
#define SESSION_TIMEOUT_MS 300 /* broker.session.timeout.ms, scaled down like the Raft timers */

struct ctrl_app {
    int32_t node_id;
    unsigned bugs;
    struct md_image img;
    struct metalog_loader loader;
    /* The active controller (its node leads Raft epoch active_epoch; -1: not active): the latest image,
     * which is the applied image at activation plus every batch decided since, committed or not (what
     * Kafka keeps in its timeline structures), and the heartbeat tracker. */
    int32_t active_epoch;
    struct md_image latest;
    struct metalog_loader latest_loader;
    struct ctrl_heartbeats hb;
    /* Brokers the last applied batch fenced, put in controlled shutdown or unregistered: they must lead
     * nothing once it is applied. */
    int32_t demoted[16];
    int ndemoted;
    struct proto_writer digest_buf; /* reused by every digest */
};

/* Replaces *img (and restarts its loader) by `with` (moved: nothing in an image points into the struct
 * itself), or by an empty image when NULL. The cluster id comes from meta.properties, not from records. */
static void set_image(struct md_image *img, struct metalog_loader *l, struct md_image *with)
{
    metalog_loader_free(l);
    md_image_free(img);
    if (with)
        *img = *with;
    else
        md_image_init(img);
    snprintf(img->cluster_id, sizeof img->cluster_id, "%s", CLUSTER_ID);
    metalog_loader_init(l, img, NULL);
}

struct ctrl_app *ctrl_app_new(int32_t node_id, unsigned bugs)
{
    struct ctrl_app *app = ferry_calloc(1, sizeof *app);
    if (!app)
        return NULL;
    app->node_id = node_id;
    app->bugs = bugs;
    md_image_init(&app->img);
    set_image(&app->img, &app->loader, NULL);
    md_image_init(&app->latest);
    set_image(&app->latest, &app->latest_loader, NULL);
    proto_writer_init(&app->digest_buf);
    ctrl_heartbeats_init(&app->hb, SESSION_TIMEOUT_MS);
    app->active_epoch = -1;
    return app;
}

void ctrl_app_free(struct ctrl_app *app)
{
    if (!app)
        return;
    metalog_loader_free(&app->loader);
    md_image_free(&app->img);
    metalog_loader_free(&app->latest_loader);
    md_image_free(&app->latest);
    ctrl_heartbeats_free(&app->hb);
    proto_writer_free(&app->digest_buf);
    ferry_free(app);
}

static void note_demoted(struct ctrl_app *app, int32_t id)
{
    if (app->ndemoted < (int)(sizeof app->demoted / sizeof app->demoted[0]))
        app->demoted[app->ndemoted++] = id;
}

/* The brokers whose fencing, controlled shutdown or unregistration the batch records. */
static int find_demoted(struct ctrl_app *app, const uint8_t *batch, size_t len)
{
    app->ndemoted = 0;
    struct proto_arena a;
    proto_arena_init(&a);
    struct metalog_batch mb;
    int rc = metalog_decode_batch(batch, len, &a, &mb);
    for (size_t i = 0; !rc && i < mb.n; i++) {
        const struct metalog_entry *e = &mb.entries[i];
        if (e->m == &proto_msg_FenceBrokerRecord) {
            note_demoted(app, ((const struct FenceBrokerRecord *)e->data)->Id);
        } else if (e->m == &proto_msg_UnregisterBrokerRecord) {
            note_demoted(app, ((const struct UnregisterBrokerRecord *)e->data)->BrokerId);
        } else if (e->m == &proto_msg_BrokerRegistrationChangeRecord) {
            const struct BrokerRegistrationChangeRecord *c = e->data;
            if (c->Fenced == 1 || c->InControlledShutdown == 1)
                note_demoted(app, c->BrokerId);
        }
    }
    proto_arena_free(&a);
    return rc;
}

int ctrl_app_apply_batch(struct ctrl_app *app, const uint8_t *batch, size_t len)
{
    int rc = find_demoted(app, batch, len);
    if (!rc)
        rc = metalog_loader_batch(&app->loader, batch, len);
    if (!rc && (app->bugs & CTRL_APP_BUG_APPLY_TWICE) && app->node_id == 2) {
        int64_t refused = app->loader.refused; /* a silent bug: only the image shows it */
        rc = metalog_loader_batch(&app->loader, batch, len);
        app->loader.refused = refused;
    }
    return rc;
}

int ctrl_app_load_snapshot(struct ctrl_app *app, const uint8_t *buf, size_t len, int32_t epoch, int64_t end_offset,
                           char *err, size_t errlen)
{
    struct md_image fresh;
    md_image_init(&fresh);
    int rc = snapshot_load_buf(buf, len, epoch, end_offset, &fresh, NULL, err, errlen);
    if (rc) {
        md_image_free(&fresh);
        return rc;
    }
    set_image(&app->img, &app->loader, &fresh);
    app->active_epoch = -1;
    return 0;
}

bool ctrl_app_active(const struct ctrl_app *app, int32_t epoch) { return app->active_epoch == epoch; }

void ctrl_app_deactivate(struct ctrl_app *app) { app->active_epoch = -1; }

int ctrl_app_activate(struct ctrl_app *app, int32_t epoch, int64_t applied_end, int64_t now_ms)
{
    app->active_epoch = -1;
    uint8_t *buf;
    size_t len;
    int rc = ctrl_app_write_snapshot(app, epoch, now_ms, &buf, &len); /* the copy: through a snapshot */
    if (rc)
        return rc;
    struct md_image copy;
    md_image_init(&copy);
    char err[200];
    rc = snapshot_load_buf(buf, len, epoch, applied_end, &copy, NULL, err, sizeof err);
    ferry_free(buf);
    set_image(&app->latest, &app->latest_loader, &copy);
    if (!rc)
        rc = ctrl_heartbeats_activate(&app->hb, &app->latest, now_ms);
    if (!rc)
        app->active_epoch = epoch;
    return rc;
}

int ctrl_app_write_snapshot(struct ctrl_app *app, int32_t epoch, int64_t now_ms, uint8_t **buf, size_t *len)
{
    struct proto_writer w;
    proto_writer_init(&w);
    int rc = snapshot_build_image(&w, &app->img, epoch, now_ms, now_ms);
    if (rc) {
        proto_writer_free(&w);
        return rc;
    }
    *buf = w.buf; /* the writer's buffer is ferry_malloc'd: handed over */
    *len = w.len;
    return 0;
}

int ctrl_app_digest(struct ctrl_app *app, uint64_t *digest)
{
    struct proto_arena a;
    proto_arena_init(&a);
    struct metalog_rec *recs = NULL;
    size_t n = 0;
    int rc = snapshot_image_records(&app->img, &a, &recs, &n);
    struct proto_writer *w = &app->digest_buf;
    w->len = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = metalog_encode_value(w, &recs[i]);
    if (!rc)
        rc = w->err;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < w->len; i++)
        h = (h ^ w->buf[i]) * 0x100000001b3ull;
    *digest = h ^ (uint64_t)n;
    ferry_free(recs);
    proto_arena_free(&a);
    return rc;
}

int64_t ctrl_app_refused(const struct ctrl_app *app) { return app->loader.refused + app->latest_loader.refused; }

static bool check_fail(char *what, size_t wlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool check_fail(char *what, size_t wlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, wlen, fmt, ap);
    va_end(ap);
    return false;
}

/* What Kafka's controller keeps true whatever the order of requests: every partition's ISR is a non-empty,
 * duplicate-free subset of its replicas; its leader is in the ISR (or there is none) and is a registered
 * broker; a broker that the last batch fenced, put in controlled shutdown or unregistered leads nothing;
 * topic ids are unique. (A fenced broker may still lead, or sit in an ISR of several, when it registered
 * again with a new incarnation before the stale-session check fenced its old one: Kafka 3.7 leaves its
 * partitions alone then.) */
bool ctrl_app_check(struct ctrl_app *app, char *what, size_t wlen)
{
    const struct md_image *img = &app->img;
    if (md_map_count(&img->topics_by_id) != md_map_count(&img->topics_by_name))
        return check_fail(what, wlen, "%zu topic names but %zu topic ids", md_map_count(&img->topics_by_name),
                          md_map_count(&img->topics_by_id));
    size_t nt;
    struct md_topic *const *topics = md_image_topics_sorted(img, &nt);
    for (size_t i = 0; i < nt; i++) {
        const struct md_topic *t = topics[i];
        if (md_image_topic_by_id(img, t->id) != t)
            return check_fail(what, wlen, "topic %s is not found by its id", t->name);
        for (int32_t pid = 0; pid < t->parts_len; pid++) {
            const struct md_partition *p = md_topic_partition(t, pid);
            if (!p)
                continue;
            if (p->isr.n == 0)
                return check_fail(what, wlen, "%s-%d has an empty ISR", t->name, pid);
            for (int32_t k = 0; k < p->isr.n; k++) {
                int32_t r = p->isr.v[k];
                if (!md_ints_contains(&p->replicas, r))
                    return check_fail(what, wlen, "%s-%d: ISR member %d is not a replica", t->name, pid, r);
                for (int32_t j = 0; j < k; j++)
                    if (p->isr.v[j] == r)
                        return check_fail(what, wlen, "%s-%d: %d twice in the ISR", t->name, pid, r);
            }
            if (p->leader == MD_NO_LEADER)
                continue;
            if (!md_ints_contains(&p->isr, p->leader))
                return check_fail(what, wlen, "%s-%d: leader %d is not in the ISR", t->name, pid, p->leader);
            if (!md_image_broker(img, p->leader))
                return check_fail(what, wlen, "%s-%d: leader %d is not registered", t->name, pid, p->leader);
            for (int k = 0; k < app->ndemoted; k++)
                if (app->demoted[k] == p->leader)
                    return check_fail(what, wlen, "%s-%d is still led by broker %d, which was just fenced, shut down "
                                      "or unregistered", t->name, pid, p->leader);
        }
    }
    return true;
}

int ctrl_app_leader_change_batch(int32_t leader, const int32_t *voters, size_t nvoters, const int32_t *granting,
                                 size_t ngranting, int64_t base_offset, int32_t epoch, int64_t now_ms, uint8_t **buf,
                                 size_t *len)
{
    struct LeaderChangeMessage_Voter v[64], g[64];
    if (nvoters > 64 || ngranting > 64)
        return FERRY_EINVAL;
    for (size_t i = 0; i < nvoters; i++)
        v[i].VoterId = voters[i];
    for (size_t i = 0; i < ngranting; i++)
        g[i].VoterId = granting[i];
    struct LeaderChangeMessage lc = {.Version = 0,
                                     .LeaderId = leader,
                                     .Voters = v,
                                     .Voters_n = (int32_t)nvoters,
                                     .GrantingVoters = g,
                                     .GrantingVoters_n = (int32_t)ngranting};
    struct proto_writer w;
    proto_writer_init(&w);
    int rc = metalog_build_control_batch(&w, base_offset, epoch, now_ms, METALOG_CTRL_LEADER_CHANGE,
                                         &proto_msg_LeaderChangeMessage, &lc);
    if (rc) {
        proto_writer_free(&w);
        return rc;
    }
    *buf = w.buf;
    *len = w.len;
    return 0;
}

/* ==== the clients ==== */

struct sim_broker {
    int32_t id;
    uint8_t incarnation;
    int64_t epoch;        /* from its last registration response; -1: must (re-)register */
    bool down;            /* told to shut down, or unregistered: comes back with a new incarnation */
    int64_t silent_until; /* sends nothing before then (a pause long enough lets the session lapse) */
};

struct ctrl_clients {
    uint64_t (*rand)(void *);
    void *rand_arg;
    struct sim_broker b[NBROKERS];
    struct ctrl_clients_stats stats;
};

struct ctrl_clients *ctrl_clients_new(uint64_t (*rand)(void *), void *rand_arg)
{
    struct ctrl_clients *c = ferry_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->rand = rand;
    c->rand_arg = rand_arg;
    for (int i = 0; i < NBROKERS; i++)
        c->b[i] = (struct sim_broker){.id = i + 1, .epoch = -1};
    return c;
}

void ctrl_clients_free(struct ctrl_clients *c) { ferry_free(c); }

const struct ctrl_clients_stats *ctrl_clients_stats(const struct ctrl_clients *c) { return &c->stats; }

/* One decision in the making: the image it is made against, its arena and records, and the trace text. */
struct op {
    struct ctrl_clients *c;
    struct ctrl_app *app;
    const struct md_image *img;
    struct ctrl_env env;
    struct proto_arena a;
    struct ctrl_records recs;
    int64_t next_offset;
    int64_t now;
    char *what;
    size_t wlen;
    int16_t error; /* the first error code of the response, 0 if none */
};

static uint32_t pick(struct op *o, uint32_t n) { return (uint32_t)(o->c->rand(o->c->rand_arg) % n); }

static void say(struct op *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct op *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->what, o->wlen, fmt, ap);
    va_end(ap);
}

#define INIT(type, var) \
    struct type var;    \
    proto_struct_init(proto_msg_##type.body, &var)

static proto_uuid broker_dir(int32_t id)
{
    proto_uuid u = {{0}};
    u.b[0] = (uint8_t)id;
    u.b[15] = 7;
    return u;
}

static const struct md_topic *random_topic(struct op *o)
{
    size_t nt;
    struct md_topic *const *topics = md_image_topics_sorted(o->img, &nt);
    return nt ? topics[pick(o, (uint32_t)nt)] : NULL;
}

static const struct md_partition *random_partition(struct op *o, const struct md_topic **t)
{
    *t = random_topic(o);
    if (!*t || (*t)->nparts == 0)
        return NULL;
    return md_topic_partition(*t, (int32_t)pick(o, (uint32_t)(*t)->parts_len));
}

/* The bootstrap of an empty log, as Kafka's ActivationRecordsGenerator: one transaction holding
 * metadata.version and the ZooKeeper migration state. */
static int op_bootstrap(struct op *o)
{
    say(o, "bootstrap metadata.version %d", STORAGE_METADATA_VERSION_LATEST);
    struct BeginTransactionRecord *b = ctrl_records_add(&o->recs, &proto_msg_BeginTransactionRecord, 0);
    if (!b)
        return FERRY_ENOMEM;
    b->Name = proto_str_from("Bootstrap records");
    struct FeatureLevelRecord *f = ctrl_records_add(&o->recs, &proto_msg_FeatureLevelRecord, 0);
    if (!f)
        return FERRY_ENOMEM;
    f->Name = proto_str_from(MD_FEATURE_METADATA_VERSION);
    f->FeatureLevel = STORAGE_METADATA_VERSION_LATEST;
    struct ZkMigrationStateRecord *z = ctrl_records_add(&o->recs, &proto_msg_ZkMigrationStateRecord, 0);
    if (!z)
        return FERRY_ENOMEM;
    z->ZkMigrationState = 0;
    return ctrl_records_add(&o->recs, &proto_msg_EndTransactionRecord, 0) ? 0 : FERRY_ENOMEM;
}

static int op_register(struct op *o, struct sim_broker *sb)
{
    if (sb->down)
        sb->incarnation++; /* a restart */
    sb->down = false;
    struct BrokerRegistrationRequest *r = proto_arena_alloc(&o->a, sizeof *r);
    if (!r)
        return FERRY_ENOMEM;
    proto_struct_init(proto_msg_BrokerRegistrationRequest.body, r);
    r->BrokerId = sb->id;
    r->ClusterId = proto_str_from(CLUSTER_ID);
    r->IncarnationId = broker_dir(sb->id);
    r->IncarnationId.b[1] = sb->incarnation;
    r->Features = proto_array_new(&o->a, &desc_BrokerRegistrationRequest_Feature, 1);
    r->LogDirs = proto_arena_alloc(&o->a, sizeof(proto_uuid));
    if (!r->Features || !r->LogDirs)
        return FERRY_ENOMEM;
    r->Features_n = 1;
    r->Features[0] = (struct BrokerRegistrationRequest_Feature){proto_str_from(MD_FEATURE_METADATA_VERSION), 1,
                                                                STORAGE_METADATA_VERSION_LATEST};
    r->Listeners_n = 0;
    r->LogDirs[0] = broker_dir(sb->id);
    r->LogDirs_n = 1;
    INIT(BrokerRegistrationResponse, resp);
    int rc = ctrl_register_broker(o->img, &o->env, &o->app->hb, r, 3, o->next_offset, o->now, &resp, &o->recs);
    o->error = resp.ErrorCode;
    if (!rc && resp.ErrorCode == KERR_NONE)
        sb->epoch = resp.BrokerEpoch;
    say(o, "broker %d registers (incarnation %d): error %d epoch %lld", sb->id, sb->incarnation, resp.ErrorCode,
        (long long)resp.BrokerEpoch);
    return rc;
}

static int op_heartbeat(struct op *o, struct sim_broker *sb)
{
    INIT(BrokerHeartbeatRequest, req);
    req.BrokerId = sb->id;
    req.BrokerEpoch = sb->epoch;
    int64_t seen = o->app->img.last_offset; /* brokers see only committed metadata */
    req.CurrentMetadataOffset = pick(o, 5) ? seen : seen - pick(o, 20);
    req.WantFence = pick(o, 50) == 0;
    req.WantShutDown = pick(o, 25) == 0;
    req.OfflineLogDirs_n = 0;
    INIT(BrokerHeartbeatResponse, resp);
    int rc = ctrl_broker_heartbeat(o->img, &o->env, &o->app->hb, &req, 1, o->next_offset, o->now, &resp, &o->recs);
    o->error = resp.ErrorCode;
    if (resp.ErrorCode == KERR_STALE_BROKER_EPOCH)
        sb->epoch = -1; /* registers again (the same incarnation: a retry) */
    if (resp.ShouldShutDown) {
        sb->down = true;
        sb->epoch = -1;
        sb->silent_until = o->now + 50 + pick(o, 400);
    }
    say(o, "broker %d heartbeats (epoch %lld%s%s): error %d%s%s", sb->id, (long long)req.BrokerEpoch,
        req.WantFence ? ", wants fence" : "", req.WantShutDown ? ", wants shutdown" : "", resp.ErrorCode,
        resp.IsFenced ? " fenced" : "", resp.ShouldShutDown ? " shut down" : "");
    return rc;
}

static int op_broker(struct op *o)
{
    struct sim_broker *sb = &o->c->b[pick(o, NBROKERS)];
    if (o->now < sb->silent_until) {
        say(o, "broker %d is silent", sb->id);
        return 0;
    }
    if (sb->epoch < 0 || sb->down)
        return op_register(o, sb);
    if (pick(o, 20) == 0) { /* a pause: its session may lapse */
        sb->silent_until = o->now + 100 + pick(o, 500);
        say(o, "broker %d pauses until %lld", sb->id, (long long)sb->silent_until);
        return 0;
    }
    return op_heartbeat(o, sb);
}

static int op_fence_stale(struct op *o)
{
    int32_t fenced = -1;
    int rc = ctrl_fence_stale_broker(o->img, &o->env, &o->app->hb, o->now, &fenced, &o->recs);
    if (fenced >= 0)
        o->c->stats.fenced++;
    say(o, "session check: fenced %d", fenced);
    return rc;
}

static int op_unregister(struct op *o)
{
    struct sim_broker *sb = &o->c->b[pick(o, NBROKERS)];
    INIT(UnregisterBrokerRequest, req);
    req.BrokerId = sb->id;
    INIT(UnregisterBrokerResponse, resp);
    int rc = ctrl_unregister_broker(o->img, &o->env, &o->app->hb, &req, &o->a, &resp, &o->recs);
    o->error = resp.ErrorCode;
    if (resp.ErrorCode == KERR_NONE) {
        sb->down = true;
        sb->epoch = -1;
        sb->silent_until = o->now + 50 + pick(o, 300);
    }
    say(o, "unregister broker %d: error %d", sb->id, resp.ErrorCode);
    return rc;
}

static const char *const topic_config_keys[] = {"retention.ms", "min.insync.replicas", "unclean.leader.election.enable",
                                                 "cleanup.policy"};
static const char *const topic_config_values[] = {"3600000", "2", "true", "compact"};

static int op_create_topic(struct op *o)
{
    char *name = proto_arena_alloc(&o->a, 8);
    if (!name)
        return FERRY_ENOMEM;
    snprintf(name, 8, "t%u", pick(o, NTOPICS));
    INIT(CreateTopicsRequest, req);
    req.Topics = proto_array_new(&o->a, &desc_CreateTopicsRequest_CreatableTopic, 1);
    if (!req.Topics)
        return FERRY_ENOMEM;
    req.Topics_n = 1;
    struct CreateTopicsRequest_CreatableTopic *t = &req.Topics[0];
    t->Name = proto_str_from(name);
    t->NumPartitions = pick(o, 4) ? (int32_t)pick(o, 3) + 1 : -1;
    t->ReplicationFactor = pick(o, 4) ? (int16_t)(pick(o, 3) + 1) : -1;
    t->Assignments_n = 0;
    t->Configs_n = 0;
    if (pick(o, 2)) {
        t->Configs = proto_array_new(&o->a, &desc_CreateTopicsRequest_CreateableTopicConfig, 1);
        if (!t->Configs)
            return FERRY_ENOMEM;
        uint32_t k = pick(o, 4);
        t->Configs[0] = (struct CreateTopicsRequest_CreateableTopicConfig){proto_str_from(topic_config_keys[k]),
                                                                           proto_str_from(topic_config_values[k])};
        t->Configs_n = 1;
    }
    INIT(CreateTopicsResponse, resp);
    int rc = ctrl_create_topics(o->img, &o->env, &req, 7, &o->a, &resp, &o->recs);
    if (!rc)
        o->error = resp.Topics[0].ErrorCode;
    say(o, "create topic %s (%d partitions, rf %d): error %d", name, t->NumPartitions, t->ReplicationFactor, o->error);
    return rc;
}

static int op_delete_topic(struct op *o)
{
    const struct md_topic *t = random_topic(o);
    if (!t)
        return op_create_topic(o); /* nothing to work on yet */
    INIT(DeleteTopicsRequest, req);
    req.Topics = proto_array_new(&o->a, &desc_DeleteTopicsRequest_DeleteTopicState, 1);
    if (!req.Topics)
        return FERRY_ENOMEM;
    req.Topics_n = 1;
    bool by_id = pick(o, 2);
    if (by_id) {
        req.Topics[0].TopicId = t->id;
        req.Topics[0].Name = proto_str_from(NULL);
    } else {
        req.Topics[0].Name = proto_str_from(t->name);
    }
    INIT(DeleteTopicsResponse, resp);
    int rc = ctrl_delete_topics(o->img, &o->env, &req, 6, &o->a, &resp, &o->recs);
    if (!rc)
        o->error = resp.Responses[0].ErrorCode;
    say(o, "delete topic %s%s: error %d", t->name, by_id ? " by id" : "", o->error);
    return rc;
}

static int op_create_partitions(struct op *o)
{
    const struct md_topic *t = random_topic(o);
    if (!t)
        return op_create_topic(o); /* nothing to work on yet */
    INIT(CreatePartitionsRequest, req);
    req.Topics = proto_array_new(&o->a, &desc_CreatePartitionsRequest_CreatePartitionsTopic, 1);
    if (!req.Topics)
        return FERRY_ENOMEM;
    req.Topics_n = 1;
    req.Topics[0].Name = proto_str_from(t->name);
    req.Topics[0].Count = t->nparts + (int32_t)pick(o, 3); /* sometimes no increase: INVALID_PARTITIONS */
    req.Topics[0].Assignments_n = -1;
    INIT(CreatePartitionsResponse, resp);
    int rc = ctrl_create_partitions(o->img, &o->env, &req, 3, &o->a, &resp, &o->recs);
    if (!rc)
        o->error = resp.Results[0].ErrorCode;
    say(o, "create partitions %s -> %d: error %d", t->name, req.Topics[0].Count, o->error);
    return rc;
}

static int op_alter_configs(struct op *o)
{
    const struct md_topic *t = random_topic(o);
    if (!t)
        return op_create_topic(o); /* nothing to work on yet */
    uint32_t k = pick(o, 4);
    INIT(IncrementalAlterConfigsRequest, req);
    req.Resources = proto_array_new(&o->a, &desc_IncrementalAlterConfigsRequest_AlterConfigsResource, 1);
    if (!req.Resources)
        return FERRY_ENOMEM;
    req.Resources_n = 1;
    req.Resources[0].ResourceType = MD_RESOURCE_TOPIC;
    req.Resources[0].ResourceName = proto_str_from(t->name);
    req.Resources[0].Configs = proto_array_new(&o->a, &desc_IncrementalAlterConfigsRequest_AlterableConfig, 1);
    if (!req.Resources[0].Configs)
        return FERRY_ENOMEM;
    req.Resources[0].Configs_n = 1;
    int8_t opcode = pick(o, 3) ? 0 : 1; /* SET or DELETE */
    req.Resources[0].Configs[0] = (struct IncrementalAlterConfigsRequest_AlterableConfig){
        proto_str_from(topic_config_keys[k]), opcode, proto_str_from(opcode == 0 ? topic_config_values[k] : NULL)};
    INIT(IncrementalAlterConfigsResponse, resp);
    int rc = ctrl_incremental_alter_configs(o->img, &o->env, &req, 1, &o->a, &resp, &o->recs);
    if (!rc)
        o->error = resp.Responses[0].ErrorCode;
    say(o, "%s %s of %s: error %d", opcode ? "delete" : "set", topic_config_keys[k], t->name, o->error);
    return rc;
}

/* The leader of a partition reports a new ISR: some followers dropped, some (active or not) added. */
static int op_alter_partition(struct op *o)
{
    const struct md_topic *t;
    const struct md_partition *p = random_partition(o, &t);
    if (!p || p->leader == MD_NO_LEADER) {
        say(o, "alter partition: no led partition picked");
        return 0;
    }
    const struct md_broker *lb = md_image_broker(o->img, p->leader);
    INIT(AlterPartitionRequest, req);
    req.BrokerId = p->leader;
    req.BrokerEpoch = lb ? lb->epoch : -1;
    req.Topics = proto_array_new(&o->a, &desc_AlterPartitionRequest_TopicData, 1);
    if (!req.Topics)
        return FERRY_ENOMEM;
    req.Topics_n = 1;
    req.Topics[0].TopicId = t->id;
    req.Topics[0].Partitions = proto_array_new(&o->a, &desc_AlterPartitionRequest_PartitionData, 1);
    if (!req.Topics[0].Partitions)
        return FERRY_ENOMEM;
    req.Topics[0].Partitions_n = 1;
    struct AlterPartitionRequest_PartitionData *pd = &req.Topics[0].Partitions[0];
    pd->PartitionIndex = p->id;
    pd->LeaderEpoch = p->leader_epoch - (pick(o, 10) == 0); /* sometimes a stale leader */
    pd->PartitionEpoch = p->partition_epoch;
    pd->NewIsrWithEpochs = proto_array_new(&o->a, &desc_AlterPartitionRequest_BrokerState, p->replicas.n);
    if (!pd->NewIsrWithEpochs)
        return FERRY_ENOMEM;
    int32_t n = 0;
    for (int32_t k = 0; k < p->replicas.n; k++) {
        int32_t r = p->replicas.v[k];
        const struct md_broker *b = md_image_broker(o->img, r);
        if (r != p->leader && pick(o, 3) == 0)
            continue; /* this follower fell out of sync */
        pd->NewIsrWithEpochs[n++] = (struct AlterPartitionRequest_BrokerState){r, b ? b->epoch : -1};
    }
    pd->NewIsrWithEpochs_n = n;
    INIT(AlterPartitionResponse, resp);
    int rc = ctrl_alter_partition(o->img, &o->env, &req, 3, &o->a, &resp, &o->recs);
    if (!rc)
        o->error = resp.ErrorCode ? resp.ErrorCode : resp.Topics[0].Partitions[0].ErrorCode;
    say(o, "alter partition %s-%d (ISR of %d): error %d", t->name, p->id, n, o->error);
    return rc;
}

static int op_elect(struct op *o)
{
    INIT(ElectLeadersRequest, req);
    req.ElectionType = (int8_t)(pick(o, 3) == 0); /* PREFERRED, or UNCLEAN */
    const struct md_topic *t;
    const struct md_partition *p = pick(o, 3) ? random_partition(o, &t) : NULL;
    if (p) {
        req.TopicPartitions = proto_array_new(&o->a, &desc_ElectLeadersRequest_TopicPartitions, 1);
        int32_t *pid = proto_arena_alloc(&o->a, sizeof *pid);
        if (!req.TopicPartitions || !pid)
            return FERRY_ENOMEM;
        *pid = p->id;
        req.TopicPartitions_n = 1;
        req.TopicPartitions[0].Topic = proto_str_from(t->name);
        req.TopicPartitions[0].Partitions = pid;
        req.TopicPartitions[0].Partitions_n = 1;
    } else {
        req.TopicPartitions_n = -1; /* every partition */
    }
    INIT(ElectLeadersResponse, resp);
    int rc = ctrl_elect_leaders(o->img, &o->env, &req, 2, &o->a, &resp, &o->recs);
    if (!rc && p)
        o->error = resp.ReplicaElectionResults[0].PartitionResult[0].ErrorCode;
    say(o, "%s election of %s: error %d", req.ElectionType ? "unclean" : "preferred", p ? t->name : "everything",
        o->error);
    return rc;
}

/* A reassignment of a random partition: a random target of 1-3 of the brokers (sometimes an unknown one:
 * INVALID_REPLICA_ASSIGNMENT), or a cancellation. The leader's AlterPartition (op_alter_partition, which
 * proposes every replica) completes it. */
static int op_reassign(struct op *o)
{
    const struct md_topic *t;
    const struct md_partition *p = random_partition(o, &t);
    if (!p) {
        say(o, "reassign: no partition picked");
        return 0;
    }
    INIT(AlterPartitionReassignmentsRequest, req);
    req.Topics = proto_array_new(&o->a, &desc_AlterPartitionReassignmentsRequest_ReassignableTopic, 1);
    if (!req.Topics)
        return FERRY_ENOMEM;
    req.Topics_n = 1;
    req.Topics[0].Name = proto_str_from(t->name);
    req.Topics[0].Partitions = proto_array_new(&o->a, &desc_AlterPartitionReassignmentsRequest_ReassignablePartition, 1);
    int32_t *target = proto_arena_alloc(&o->a, 3 * sizeof *target);
    if (!req.Topics[0].Partitions || !target)
        return FERRY_ENOMEM;
    req.Topics[0].Partitions_n = 1;
    struct AlterPartitionReassignmentsRequest_ReassignablePartition *rp = &req.Topics[0].Partitions[0];
    rp->PartitionIndex = p->id;
    rp->Replicas_n = -1; /* cancel */
    if (pick(o, 4)) {
        int32_t n = 1 + (int32_t)pick(o, 3), k = 0;
        uint32_t first = pick(o, NBROKERS);
        for (int32_t i = 0; i < n; i++)
            target[k++] = o->c->b[(first + (uint32_t)i) % NBROKERS].id;
        if (pick(o, 10) == 0)
            target[k - 1] = 1000; /* not registered */
        rp->Replicas = target;
        rp->Replicas_n = k;
    }
    INIT(AlterPartitionReassignmentsResponse, resp);
    int rc = ctrl_alter_partition_reassignments(o->img, &o->env, &req, &o->a, &resp, &o->recs);
    if (!rc)
        o->error = resp.Responses[0].Partitions[0].ErrorCode;
    say(o, "%s %s-%d: error %d", rp->Replicas_n < 0 ? "cancel the reassignment of" : "reassign", t->name, p->id,
        o->error);
    return rc;
}

static int op_rebalance(struct op *o)
{
    bool more;
    say(o, "preferred leader rebalance");
    return ctrl_balance_partition_leaders(o->img, &o->env, &more, &o->recs);
}

static int op_producer_ids(struct op *o)
{
    struct sim_broker *sb = &o->c->b[pick(o, NBROKERS)];
    INIT(AllocateProducerIdsRequest, req);
    req.BrokerId = sb->id;
    req.BrokerEpoch = sb->epoch;
    INIT(AllocateProducerIdsResponse, resp);
    int rc = ctrl_allocate_producer_ids(o->img, &req, &resp, &o->recs);
    o->error = resp.ErrorCode;
    say(o, "broker %d allocates producer ids: error %d", sb->id, resp.ErrorCode);
    return rc;
}

static int decide(struct op *o)
{
    if (o->img->metadata_version == 0)
        return op_bootstrap(o);
    uint32_t w = pick(o, 100);
    if (w < 45)
        return op_broker(o);
    if (w < 55)
        return op_fence_stale(o);
    if (w < 62)
        return op_create_topic(o);
    if (w < 65)
        return op_delete_topic(o);
    if (w < 68)
        return op_create_partitions(o);
    if (w < 72)
        return op_alter_configs(o);
    if (w < 82)
        return op_alter_partition(o);
    if (w < 88)
        return op_elect(o);
    if (w < 91)
        return op_rebalance(o);
    if (w < 97)
        return op_producer_ids(o);
    if (w < 98)
        return op_unregister(o);
    return op_reassign(o);
}

/* CTRL_APP_BUG_FENCE_KEEPS_LEADER: a decision that fences or shuts down a broker loses its leadership
 * changes. */
static void plant_fence_bug(struct ctrl_records *r)
{
    bool fences = false;
    for (size_t i = 0; i < r->n; i++) {
        const struct BrokerRegistrationChangeRecord *c = r->recs[i].data;
        fences |= r->recs[i].m == &proto_msg_FenceBrokerRecord ||
                  (r->recs[i].m == &proto_msg_BrokerRegistrationChangeRecord &&
                   (c->Fenced == 1 || c->InControlledShutdown == 1));
    }
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (!fences || r->recs[i].m != &proto_msg_PartitionChangeRecord)
            r->recs[k++] = r->recs[i];
    r->n = k;
}

int ctrl_clients_step(struct ctrl_clients *c, struct ctrl_app *app, int32_t leader_id, int32_t epoch,
                      int64_t next_offset, int64_t now_ms, uint8_t **buf, size_t *len, int32_t *count, char *what,
                      size_t wlen)
{
    *buf = NULL;
    *len = 0;
    *count = 0;
    if (app->active_epoch != epoch)
        return FERRY_EINVAL;
    struct op o = {.c = c, .app = app, .img = &app->latest, .next_offset = next_offset, .now = now_ms, .what = what,
                   .wlen = wlen};
    what[0] = 0;
    ctrl_env_default(&o.env, c->rand, c->rand_arg);
    o.env.node_id = leader_id;
    o.env.broker_session_timeout_ms = SESSION_TIMEOUT_MS;
    proto_arena_init(&o.a);
    ctrl_records_init(&o.recs, &o.a);
    int rc = decide(&o);
    if (app->bugs & CTRL_APP_BUG_FENCE_KEEPS_LEADER)
        plant_fence_bug(&o.recs);
    if (!rc && o.recs.n > 0) {
        struct proto_writer w;
        proto_writer_init(&w);
        rc = metalog_build_batch(&w, next_offset, epoch, now_ms, o.recs.recs, o.recs.n);
        if (!rc) /* the latest image moves on at once (the decisions after this one see it) */
            rc = metalog_loader_batch(&app->latest_loader, w.buf, w.len);
        if (rc) {
            proto_writer_free(&w);
        } else {
            *buf = w.buf;
            *len = w.len;
            *count = (int32_t)o.recs.n;
            c->stats.ops++;
            c->stats.records += (int64_t)o.recs.n;
        }
    } else if (!rc && o.error) {
        c->stats.rejected++;
    }
    ctrl_records_free(&o.recs);
    proto_arena_free(&o.a);
    return rc;
}
