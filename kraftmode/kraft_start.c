/* kraft_start: start-up of a quorum node (role checks, storage, the metadata log, the newest snapshot and
 * the Raft core) and the activation of a leader as the quorum's controller: once its LeaderChange batch
 * commits (the image then holds everything before it), the activation records (bootstrap on an empty log,
 * abort of a transaction a crash left open), the registration of the controller and, once per process,
 * of the local broker, in the shape of Kafka's QuorumController activation and broker lifecycle
 * (registration record with BrokerEpoch = its offset, then the unfencing record). */
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

int kraft_node_check_config(const struct ferry_config *cfg, char *err, size_t errlen)
{
    if (cfg->mode != FERRY_MODE_QUORUM)
        return fail(err, errlen, FERRY_EUNSUPPORTED, "the metadata quorum node needs quorum mode (process.roles set, "
                                                     "no ZooKeeper migration); this configuration is in %s mode",
                    config_mode_name(cfg->mode));
    if (cfg->n_voters == 0 || cfg->n_voters > RAFT_MAX_VOTERS)
        return fail(err, errlen, FERRY_EINVAL, "controller.quorum.voters lists %zu voter(s): 1 to %d are supported",
                    cfg->n_voters, RAFT_MAX_VOTERS);
    return 0;
}

static int push_rec(struct ctrl_records *out, const struct proto_message *m, const void *data)
{
    void *p = ctrl_records_add(out, m, 0);
    if (!p)
        return FERRY_ENOMEM;
    memcpy(p, data, m->body->size);
    return 0;
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
int kraft_decide_activation(struct kraft_node *n, struct kraft_op *op)
{
    bool empty_log = n->img.last_offset < 0;
    bool txn_open = n->rio.loader.in_txn;
    if (txn_open)
        LOG_WARN("kraft", "node %d: the metadata log ends inside a transaction; aborting it", n->node_id);
    struct metalog_rec *boot = NULL;
    size_t nboot = 0;
    int16_t mv = n->img.metadata_version;
    int rc = empty_log ? load_bootstrap(n, &op->arena, &op->boot_bytes, &boot, &nboot, &mv) : 0;
    struct ctrl_records *out = &op->recs;
    if (!rc && txn_open) {
        struct AbortTransactionRecord abort_rec = {.Reason = proto_str_from("Controller failover")};
        rc = push_rec(out, &proto_msg_AbortTransactionRecord, &abort_rec);
    }
    if (!rc && empty_log) {
        struct BeginTransactionRecord begin = {.Name = proto_str_from("Bootstrap records")};
        struct EndTransactionRecord end = {0};
        struct ZkMigrationStateRecord zk = {.ZkMigrationState = 0};
        struct FeatureLevelRecord dflt = {.Name = proto_str_from(MD_FEATURE_METADATA_VERSION), .FeatureLevel = mv};
        bool txn = ctrl_mv_supports_transactions(mv);
        if (!rc && txn)
            rc = push_rec(out, &proto_msg_BeginTransactionRecord, &begin);
        if (!rc && nboot == 0)
            rc = push_rec(out, &proto_msg_FeatureLevelRecord, &dflt);
        for (size_t i = 0; !rc && i < nboot; i++) {
            void *p = ctrl_records_add(out, boot[i].m, boot[i].version);
            if (!p)
                rc = FERRY_ENOMEM;
            else
                memcpy(p, boot[i].data, boot[i].m->body->size);
        }
        if (!rc && mv >= MV_3_4_IV0)
            rc = push_rec(out, &proto_msg_ZkMigrationStateRecord, &zk);
        if (!rc && txn)
            rc = push_rec(out, &proto_msg_EndTransactionRecord, &end);
    }
    ferry_free(boot);
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

int kraft_decide_controller_registration(struct kraft_node *n, struct kraft_op *op)
{
    const struct ferry_config *cfg = n->cfg;
    if (!cfg->role_controller || kraft_node_decision_image(n)->metadata_version < MV_3_7_IV0)
        return 0;
    struct RegisterControllerRecord_ControllerEndpoint *eps =
        proto_arena_alloc(&op->arena, (cfg->n_listeners + 1) * sizeof *eps);
    struct RegisterControllerRecord_ControllerFeature *feat = proto_arena_alloc(&op->arena, sizeof *feat);
    struct RegisterControllerRecord *rec = ctrl_records_add(&op->recs, &proto_msg_RegisterControllerRecord, 0);
    if (!eps || !feat || !rec)
        return FERRY_ENOMEM;
    int32_t neps = 0;
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const struct config_listener *l = &cfg->listeners[i];
        if (!is_controller_listener(cfg, l->name))
            continue;
        eps[neps++] = (struct RegisterControllerRecord_ControllerEndpoint){
            proto_str_from(l->name), proto_str_from(l->host), l->port, (int16_t)l->protocol};
    }
    struct md_feature_range r = mv_range();
    *feat = (struct RegisterControllerRecord_ControllerFeature){proto_str_from(MD_FEATURE_METADATA_VERSION), r.min,
                                                                r.max};
    rec->ControllerId = n->node_id;
    if (log_uuid_random(&rec->IncarnationId))
        return FERRY_EIO;
    rec->ZkMigrationReady = false;
    rec->EndPoints = eps;
    rec->EndPoints_n = neps;
    rec->Features = feat;
    rec->Features_n = 1;
    return 0;
}

/* ---- activation ---- */

void kraft_node_maybe_activate(struct kraft_node *n)
{
    struct kraft_raft_io *io = &n->rio;
    if (n->stopping || io->dead || !io->raft || raft_role(io->raft) != RAFT_LEADER)
        return;
    int32_t epoch = raft_epoch(io->raft);
    if (io->active_epoch == epoch || io->leader_start < 0 || io->applied_end < io->leader_start)
        return;
    /* The LeaderChange batch committed: the image holds every record before it. Activation ops go first,
     * in this order (pushed in reverse). */
    struct kraft_op *act = kraft_op_new(KRAFT_OP_ACTIVATE);
    struct kraft_op *ctl = kraft_op_new(KRAFT_OP_REGISTER_CONTROLLER);
    struct kraft_op *brk = n->cfg->role_broker && !io->registered ? kraft_op_new(KRAFT_OP_REGISTER) : NULL;
    if (!act || !ctl || (n->cfg->role_broker && !io->registered && !brk)) {
        if (act)
            kraft_op_free(act);
        if (ctl)
            kraft_op_free(ctl);
        if (brk)
            kraft_op_free(brk);
        kraft_raft_failed(n, "out of memory activating the controller");
        return;
    }
    io->active_epoch = epoch;
    LOG_INFO("kraft", "node %d: active controller at epoch %d (metadata image at offset %lld, %zu topic(s), "
                      "%d broker(s))",
             n->node_id, epoch, (long long)n->img.last_offset, md_image_topic_count(&n->img), n->img.nbrokers);
    if (brk) {
        brk->force = true;
        io->registered = true;
        kraft_node_push_front(n, brk);
    }
    kraft_node_push_front(n, ctl);
    kraft_node_push_front(n, act);
}

/* ---- start ---- */

static int open_log(struct kraft_node *n, char *err, size_t errlen)
{
    const struct ferry_config *cfg = n->cfg;
    int rc = metalog_open(cfg->metadata_log_dir, kraft_wall_ms(), &n->log);
    if (rc)
        return fail(err, errlen, rc, "cannot open the metadata log in %s/%s: %s", cfg->metadata_log_dir,
                    METALOG_PARTITION_DIR, ferry_strerror(rc));
    /* The newest valid snapshot; the log after it is applied as the quorum commits it. */
    int64_t from = 0;
    if ((rc = kraft_snapshot_recover(n, &from, err, errlen)) != 0)
        return rc;
    LOG_INFO("kraft", "node %d: metadata log [%lld, %lld) in %s; image from %s", n->node_id,
             (long long)metalog_start_offset(n->log), (long long)metalog_end_offset(n->log), n->log->dir,
             n->snap.latest.end_offset >= 0 ? "a snapshot" : "the start of the log");
    n->rio.replay_end = metalog_end_offset(n->log);
    return kraft_raft_open(n, err, errlen);
}

int kraft_node_prepare(struct kraft_node *n, bool format_if_missing, char *err, size_t errlen)
{
    int rc = kraft_node_check_config(n->cfg, err, errlen);
    if (rc)
        return rc;
    rc = kraft_storage_ensure(n->cfg, format_if_missing, n->cluster_id, err, errlen);
    if (rc)
        return rc;
    snprintf(n->img.cluster_id, sizeof n->img.cluster_id, "%s", n->cluster_id);
    return open_log(n, err, errlen);
}
