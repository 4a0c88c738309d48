/* kraft_start: start-up of a single-voter quorum node: replay of the metadata log, the durable election
 * (quorum-state), the LeaderChange batch, the activation records (bootstrap on an empty log, abort of
 * a transaction a crash left open) and the registration of the local controller and broker, in the
 * shape of Kafka's QuorumController activation and broker lifecycle (registration record with
 * BrokerEpoch = its offset, then a separate unfencing record). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/config/config.h"
#include "broker/log/logdir.h"
#include "kraftmode/kraft_node_internal.h"
#include "kraftmode/quorum_state.h"
#include "kraftmode/storage.h"

#define MV_3_4_IV0 8 /* ZkMigrationStateRecord */
#define MV_3_7_IV0 15 /* RegisterControllerRecord */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

static int check_roles(const struct ferry_config *cfg, char *err, size_t errlen)
{
    if (cfg->mode != FERRY_MODE_QUORUM)
        return fail(err, errlen, FERRY_EUNSUPPORTED, "the metadata quorum node needs quorum mode (process.roles set, "
                                                     "no ZooKeeper migration); this configuration is in %s mode",
                    config_mode_name(cfg->mode));
    if (!cfg->role_controller)
        return fail(err, errlen, FERRY_EUNSUPPORTED, "process.roles is 'broker' only: a broker that fetches metadata "
                                                     "from remote controllers is not supported yet; add 'controller'");
    if (cfg->n_voters != 1 || cfg->voters[0].id != cfg->node_id)
        return fail(err, errlen, FERRY_EUNSUPPORTED, "controller.quorum.voters lists %zu voter(s): only a single-voter "
                                                     "quorum made of this node (%d@host:port) is supported so far",
                    cfg->n_voters, (int)cfg->node_id);
    return 0;
}

/* ---- the election (quorum-state) ---- */

static int elect(struct kraft_node *n, char *err, size_t errlen)
{
    struct quorum_state qs;
    int rc = quorum_state_read(n->log->dir, &qs);
    if (rc && rc != FERRY_ENOTFOUND)
        return fail(err, errlen, rc, "cannot use %s/%s: %s", n->log->dir, QUORUM_STATE_FILE, ferry_strerror(rc));
    if (rc == 0 && qs.nvoters > 0) {
        bool same = qs.nvoters == n->cfg->n_voters;
        for (size_t i = 0; i < qs.nvoters && same; i++)
            same = config_voter(n->cfg, qs.voters[i]) != NULL;
        if (!same)
            return fail(err, errlen, FERRY_EINVAL, "the voter set in %s/%s differs from controller.quorum.voters",
                        n->log->dir, QUORUM_STATE_FILE);
    }
    int32_t log_epoch = metalog_last_epoch(n->log);
    if (n->snap.latest.epoch > log_epoch)
        log_epoch = n->snap.latest.epoch; /* a log restarted at a snapshot */
    int32_t prev = qs.leader_epoch > log_epoch ? qs.leader_epoch : log_epoch;
    if (prev < 0)
        prev = 0;
    struct quorum_state next;
    quorum_state_init(&next);
    next.leader_epoch = prev + 1;
    next.nvoters = 1;
    next.voters[0] = n->node_id;
    /* Candidate (voted for itself), then Leader: each durable before it takes effect. */
    next.voted_id = n->node_id;
    rc = quorum_state_write(n->log->dir, &next);
    if (!rc) {
        next.voted_id = -1;
        next.leader_id = n->node_id;
        rc = quorum_state_write(n->log->dir, &next);
    }
    if (rc)
        return fail(err, errlen, rc, "cannot write %s/%s: %s", n->log->dir, QUORUM_STATE_FILE, ferry_strerror(rc));
    n->epoch = next.leader_epoch;
    LOG_INFO("kraft", "node %d: leader of the metadata quorum at epoch %d (single voter)", n->node_id, n->epoch);
    return 0;
}

static int append_leader_change(struct kraft_node *n)
{
    struct LeaderChangeMessage_Voter self = {.VoterId = n->node_id};
    struct LeaderChangeMessage lc = {
        .Version = 0, .LeaderId = n->node_id, .Voters = &self, .Voters_n = 1, .GrantingVoters = &self,
        .GrantingVoters_n = 1};
    struct proto_writer w;
    proto_writer_init(&w);
    int64_t now = kraft_wall_ms();
    int rc = metalog_build_control_batch(&w, 0, n->epoch, now, METALOG_CTRL_LEADER_CHANGE, &proto_msg_LeaderChangeMessage,
                                         &lc);
    struct plog_append_info info;
    if (!rc)
        rc = metalog_append(n->log, w.buf, w.len, n->epoch, now, &info);
    if (!rc)
        rc = plog_flush_sync(n->log->log);
    proto_writer_free(&w);
    return rc;
}

/* ---- bootstrap records ---- */

static int copy_batch(void *arg, const uint8_t *batch, size_t len)
{
    struct proto_writer *w = arg;
    proto_write_raw(w, batch, len);
    return w->err;
}

/* The records of bootstrap.checkpoint, decoded into `a` (their bytes are kept in `raw`). Without the file:
 * metadata.version = the latest production level. */
static int load_bootstrap(struct kraft_node *n, struct proto_arena *a, struct proto_writer *raw,
                          struct metalog_rec **recs, size_t *nrecs, int16_t *mv)
{
    size_t plen = strlen(n->log->meta_dir) + sizeof METALOG_BOOTSTRAP_FILE + 2;
    char *path = ferry_malloc(plen);
    if (!path)
        return FERRY_ENOMEM;
    snprintf(path, plen, "%s/%s", n->log->meta_dir, METALOG_BOOTSTRAP_FILE);
    int rc = metalog_read_snapshot_file(path, copy_batch, raw);
    *recs = NULL;
    *nrecs = 0;
    *mv = STORAGE_METADATA_VERSION_LATEST;
    if (rc == FERRY_ENOTFOUND) {
        LOG_INFO("kraft", "node %d: no %s: bootstrapping metadata.version %s", n->node_id, path,
                 storage_metadata_version_name(*mv));
        rc = 0;
    } else if (rc == 0) {
        size_t cap = 0;
        struct rb_iter it;
        rb_iter_init(&it, raw->buf, raw->len);
        const uint8_t *b;
        size_t blen;
        struct rb_header h;
        while (!rc && rb_iter_next(&it, &b, &blen, &h) == 1) {
            struct metalog_batch mb;
            rc = metalog_decode_batch(b, blen, a, &mb);
            for (size_t i = 0; !rc && i < mb.n; i++) {
                if (*nrecs == cap) {
                    cap = cap ? cap * 2 : 8;
                    struct metalog_rec *p = ferry_realloc(*recs, cap * sizeof *p);
                    if (!p) {
                        rc = FERRY_ENOMEM;
                        break;
                    }
                    *recs = p;
                }
                (*recs)[(*nrecs)++] = (struct metalog_rec){mb.entries[i].m, mb.entries[i].version, mb.entries[i].data};
                if (mb.entries[i].m == &proto_msg_FeatureLevelRecord) {
                    const struct FeatureLevelRecord *f = mb.entries[i].data;
                    if (proto_str_eq(f->Name, MD_FEATURE_METADATA_VERSION))
                        *mv = f->FeatureLevel;
                }
            }
        }
        LOG_INFO("kraft", "node %d: bootstrapping from %s: %zu record(s), metadata.version %s", n->node_id, path,
                 *nrecs, storage_metadata_version_name(*mv));
    }
    ferry_free(path);
    return rc;
}

/* Kafka's ActivationRecordsGenerator: on an empty log, Begin("Bootstrap records"), the bootstrap records,
 * ZkMigrationStateRecord(NONE), End; after a crash inside a transaction, AbortTransactionRecord. */
static int write_activation(struct kraft_node *n, bool empty_log, bool txn_open)
{
    struct proto_arena a;
    proto_arena_init(&a);
    struct proto_writer raw;
    proto_writer_init(&raw);
    struct metalog_rec *boot = NULL, *recs = NULL;
    size_t nboot = 0, k = 0;
    int16_t mv = n->img.metadata_version;
    int rc = empty_log ? load_bootstrap(n, &a, &raw, &boot, &nboot, &mv) : 0;
    if (rc)
        goto out;
    recs = ferry_malloc((nboot + 5) * sizeof *recs);
    if (!recs) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    struct AbortTransactionRecord abort_rec = {.Reason = proto_str_from("Controller failover")};
    struct BeginTransactionRecord begin = {.Name = proto_str_from("Bootstrap records")};
    struct EndTransactionRecord end = {0};
    struct ZkMigrationStateRecord zk = {.ZkMigrationState = 0};
    struct FeatureLevelRecord dflt = {.Name = proto_str_from(MD_FEATURE_METADATA_VERSION), .FeatureLevel = mv};
    if (txn_open)
        recs[k++] = (struct metalog_rec){&proto_msg_AbortTransactionRecord, 0, &abort_rec};
    if (empty_log) {
        bool txn = ctrl_mv_supports_transactions(mv);
        if (txn)
            recs[k++] = (struct metalog_rec){&proto_msg_BeginTransactionRecord, 0, &begin};
        if (nboot == 0)
            recs[k++] = (struct metalog_rec){&proto_msg_FeatureLevelRecord, 0, &dflt};
        for (size_t i = 0; i < nboot; i++)
            recs[k++] = boot[i];
        if (mv >= MV_3_4_IV0)
            recs[k++] = (struct metalog_rec){&proto_msg_ZkMigrationStateRecord, 0, &zk};
        if (txn)
            recs[k++] = (struct metalog_rec){&proto_msg_EndTransactionRecord, 0, &end};
    }
    if (k)
        rc = kraft_write_sync(n, recs, k);
out:
    ferry_free(recs);
    ferry_free(boot);
    proto_writer_free(&raw);
    proto_arena_free(&a);
    return rc;
}

/* ---- registration ---- */

static struct md_feature_range mv_range(void)
{
    return (struct md_feature_range){NULL, 1, STORAGE_METADATA_VERSION_LATEST};
}

static bool is_controller_listener(const struct ferry_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->controller_listener_names.count; i++)
        if (strcasecmp(cfg->controller_listener_names.items[i], name) == 0)
            return true;
    return false;
}

static int register_controller(struct kraft_node *n)
{
    const struct ferry_config *cfg = n->cfg;
    if (n->img.metadata_version < MV_3_7_IV0)
        return 0;
    struct RegisterControllerRecord_ControllerEndpoint eps[16];
    int32_t neps = 0;
    for (size_t i = 0; i < cfg->n_listeners && neps < 16; i++) {
        const struct config_listener *l = &cfg->listeners[i];
        if (!is_controller_listener(cfg, l->name))
            continue;
        eps[neps++] = (struct RegisterControllerRecord_ControllerEndpoint){
            proto_str_from(l->name), proto_str_from(l->host), l->port, (int16_t)l->protocol};
    }
    struct md_feature_range r = mv_range();
    struct RegisterControllerRecord_ControllerFeature feat = {proto_str_from(MD_FEATURE_METADATA_VERSION), r.min,
                                                              r.max};
    struct RegisterControllerRecord rec;
    proto_struct_init(proto_msg_RegisterControllerRecord.body, &rec);
    rec.ControllerId = n->node_id;
    if (log_uuid_random(&rec.IncarnationId))
        return FERRY_EIO;
    rec.ZkMigrationReady = false;
    rec.EndPoints = eps;
    rec.EndPoints_n = neps;
    rec.Features = &feat;
    rec.Features_n = 1;
    struct metalog_rec m = {&proto_msg_RegisterControllerRecord, 0, &rec};
    return kraft_write_sync(n, &m, 1);
}

/* The broker's registration (then its unfencing) as two durable writes, in Kafka's order. */
static int register_broker(struct kraft_node *n)
{
    struct proto_arena a;
    proto_arena_init(&a);
    struct ctrl_records out;
    ctrl_records_init(&out, &a);
    int64_t epoch = metalog_end_offset(n->log); /* the offset the registration record gets */
    int rc = kraft_registration_records(n, NULL, epoch, &out);
    if (!rc)
        rc = kraft_write_sync(n, out.recs, out.n);
    if (!rc) {
        LOG_INFO("kraft", "node %d: broker registered with epoch %lld", n->node_id, (long long)epoch);
        ctrl_records_truncate(&out, 0);
        rc = kraft_unfence_records(n, epoch, &out);
    }
    for (size_t i = 0; !rc && i < out.n; i += CTRL_MAX_RECORDS_PER_OP) {
        size_t chunk = out.n - i < CTRL_MAX_RECORDS_PER_OP ? out.n - i : CTRL_MAX_RECORDS_PER_OP;
        rc = kraft_write_sync(n, out.recs + i, chunk);
    }
    ctrl_records_free(&out);
    proto_arena_free(&a);
    return rc;
}

/* ---- start ---- */

struct replay {
    struct metalog_loader loader;
    int64_t bytes; /* replayed after the snapshot: they count towards the next one */
};

static int replay_batch(void *arg, const uint8_t *batch, size_t len)
{
    struct replay *r = arg;
    r->bytes += (int64_t)len;
    return metalog_loader_batch(&r->loader, batch, len);
}

int kraft_node_activate(struct kraft_node *n, char *err, size_t errlen)
{
    const struct ferry_config *cfg = n->cfg;
    int rc = metalog_open(cfg->metadata_log_dir, kraft_wall_ms(), &n->log);
    if (rc)
        return fail(err, errlen, rc, "cannot open the metadata log in %s/%s: %s", cfg->metadata_log_dir,
                    METALOG_PARTITION_DIR, ferry_strerror(rc));
    /* The newest valid snapshot, then the log after it. */
    int64_t from = 0;
    if ((rc = kraft_snapshot_recover(n, &from, err, errlen)) != 0)
        return rc;
    struct replay r;
    r.bytes = 0;
    metalog_loader_init(&r.loader, &n->img, &n->pending);
    rc = metalog_scan_from(n->log, from, replay_batch, &r);
    bool txn_open = r.loader.in_txn;
    int64_t refused = r.loader.refused;
    metalog_loader_free(&r.loader);
    n->snap.bytes_since = r.bytes;
    if (rc)
        return fail(err, errlen, rc, "cannot replay the metadata log in %s: %s (see the log above)", n->log->dir,
                    ferry_strerror(rc));
    bool empty = metalog_end_offset(n->log) == 0;
    LOG_INFO("kraft", "node %d: replayed the metadata log from offset %lld up to offset %lld (%zu topic(s), "
                      "%d broker(s)%s)",
             n->node_id, (long long)from, (long long)metalog_end_offset(n->log), md_image_topic_count(&n->img),
             n->img.nbrokers, refused ? ", some records refused: see above" : "");
    if (txn_open)
        LOG_WARN("kraft", "node %d: the metadata log ends inside a transaction; aborting it", n->node_id);
    if ((rc = elect(n, err, errlen)) != 0)
        return rc;
    if ((rc = append_leader_change(n)) != 0)
        return fail(err, errlen, rc, "cannot write the LeaderChange batch to %s: %s", n->log->dir, ferry_strerror(rc));
    if ((rc = write_activation(n, empty, txn_open)) != 0)
        return fail(err, errlen, rc, "cannot write the activation records to %s: %s", n->log->dir, ferry_strerror(rc));
    if (cfg->role_controller && (rc = register_controller(n)) != 0)
        return fail(err, errlen, rc, "cannot register the controller in %s: %s", n->log->dir, ferry_strerror(rc));
    if (cfg->role_broker) {
        if ((rc = register_broker(n)) != 0)
            return fail(err, errlen, rc, "cannot register the broker in %s: %s", n->log->dir, ferry_strerror(rc));
    }
    return 0;
}

int kraft_node_prepare(struct kraft_node *n, bool format_if_missing, char *err, size_t errlen)
{
    int rc = check_roles(n->cfg, err, errlen);
    if (rc)
        return rc;
    rc = kraft_storage_ensure(n->cfg, format_if_missing, n->cluster_id, err, errlen);
    if (rc)
        return rc;
    snprintf(n->img.cluster_id, sizeof n->img.cluster_id, "%s", n->cluster_id);
    return kraft_node_activate(n, err, errlen);
}
