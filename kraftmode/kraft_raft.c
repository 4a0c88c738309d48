/* kraft_raft: the libuv I/O layer of the Raft core (kraftmode/raft/raft.h) for a quorum node. It owns
 * the core and performs its actions as raft.h specifies:
 *   PERSIST_STATE     quorum-state written (tmp, fsync, rename) by a libuv worker, the newest wanted state
 *                     next when one is in flight; then raft_state_persisted;
 *   LOG_APPEND        whole batches appended to the metalog at the core's offsets (LeaderChange batches
 *                     encoded here: LeaderId, Voters = controller.quorum.voters, GrantingVoters);
 *   LOG_TRUNCATE      plog_truncate_to; SNAPSHOT_WRITE / SNAPSHOT_INSTALL: the fetched snapshot's .part
 *                     file, then frozen, the log restarted at it and the image reloaded from it;
 *   LOG_SYNC          one fsync off the loop for everything appended so far (a second LOG_SYNC while one
 *                     runs is folded into the next fsync), then raft_log_persisted;
 *   COMMIT            the committed batches applied to the image through the metadata loader, from the
 *                     in-memory copy of the newest appends (metalog_tail.h; read back from the log when
 *                     the tail does not hold them); the ops in flight whose records it passes complete; the delta is
 *                     published once the node has caught up to the high watermark (KRaft's rule);
 *   ROLE              logged; losing the lead fails the ops in flight with NOT_CONTROLLER; becoming leader
 *                     leads to the controller's activation (kraft_start.c) once the LeaderChange commits;
 *   SEND              handed to the transport (broker/api/raft_io.c); FATAL: the node stops taking part.
 * Proposals (kraft_raft_stage / kraft_raft_flush): the controller stages the batches of every operation it
 * decides in one loop turn and proposes them as one append, so that they share one write, one fsync and one
 * Fetch answer to each follower; while that fsync runs, the next turns' appends wait for the next one.
 * While rio.sync is set (the start of a single voter, before the loop runs) the durable writes happen in
 * the calling thread, so that kraft_node_start returns with the node elected and activated, as before. */
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/config/config.h"
#include "kraftmode/kraft_node_internal.h"

#define TICK_MAX_MS 50 /* the core is ticked at least this often */
#define TICK_MIN_MS 5
#define APPLY_STOP 1
#define TAIL_BYTES (8u << 20) /* the newest appends kept in memory (rio.tail) */

int64_t kraft_raft_now(void) { return (int64_t)(uv_hrtime() / 1000000); }

void kraft_raft_failed(struct kraft_node *n, const char *why)
{
    if (n->rio.dead)
        return;
    n->rio.dead = true;
    n->failed = true;
    LOG_ERROR("kraft", "node %d: the metadata quorum stopped on this node: %s; it takes no further part in the "
                       "quorum and refuses metadata writes until it is restarted",
              n->node_id, why);
    kraft_node_lost_leadership(n);
}

bool kraft_node_active(const struct kraft_node *n)
{
    const struct raft *r = n->rio.raft;
    return r && !n->rio.dead && raft_role(r) == RAFT_LEADER && n->rio.active_epoch == raft_epoch(r);
}

/* ---- opening ---- */

int kraft_raft_open(struct kraft_node *n, char *err, size_t errlen)
{
    const struct ferry_config *cfg = n->cfg;
    struct kraft_raft_io *io = &n->rio;
    io->active_epoch = -1;
    io->leader_start = -1;
    metalog_tail_init(&io->tail, TAIL_BYTES);
    struct quorum_state qs;
    int rc = quorum_state_read(n->log->dir, &qs);
    if (rc == FERRY_ENOTFOUND) {
        quorum_state_init(&qs);
        rc = 0;
    }
    if (rc) {
        snprintf(err, errlen, "cannot use %s/%s: %s", n->log->dir, QUORUM_STATE_FILE, ferry_strerror(rc));
        return rc;
    }
    bool same = qs.nvoters == 0 || qs.nvoters == cfg->n_voters;
    for (size_t i = 0; i < qs.nvoters && same; i++)
        same = config_voter(cfg, qs.voters[i]) != NULL;
    if (!same) {
        snprintf(err, errlen, "the voter set in %s/%s differs from controller.quorum.voters", n->log->dir,
                 QUORUM_STATE_FILE);
        return FERRY_EINVAL;
    }
    int32_t voters[RAFT_MAX_VOTERS];
    size_t nvoters = cfg->n_voters < RAFT_MAX_VOTERS ? cfg->n_voters : RAFT_MAX_VOTERS;
    for (size_t i = 0; i < nvoters; i++)
        voters[i] = cfg->voters[i].id;
    struct raft_config rc_cfg;
    raft_config_defaults(&rc_cfg);
    rc_cfg.node_id = n->node_id;
    rc_cfg.voters = voters;
    rc_cfg.nvoters = nvoters;
    rc_cfg.election_timeout_ms = cfg->controller_quorum_election_timeout_ms;
    rc_cfg.fetch_timeout_ms = cfg->controller_quorum_fetch_timeout_ms;
    rc_cfg.election_backoff_max_ms = cfg->controller_quorum_election_backoff_max_ms;
    rc_cfg.request_timeout_ms = cfg->controller_quorum_request_timeout_ms;
    rc_cfg.pre_vote = true; /* Vote v2 between Ferry voters; a Kafka 3.7 voter is answered for (raft_wire.h) */
    rc_cfg.rand = kraft_node_rand;
    rc_cfg.rand_arg = &n->rng;

    size_t ne = 0;
    const struct plog_epoch_entry *pe = plog_epoch_entries(n->log->log, &ne);
    struct raft_epoch_entry *epochs = ferry_calloc(ne ? ne : 1, sizeof *epochs);
    if (!epochs) {
        snprintf(err, errlen, "out of memory");
        return FERRY_ENOMEM;
    }
    for (size_t i = 0; i < ne; i++)
        epochs[i] = (struct raft_epoch_entry){pe[i].epoch, pe[i].start_offset};
    struct raft_persisted p = {.epoch = qs.leader_epoch,
                               .leader_id = qs.leader_id,
                               .voted_id = qs.voted_id,
                               .voters = qs.nvoters ? qs.voters : NULL,
                               .nvoters = qs.nvoters,
                               .log_end_offset = metalog_end_offset(n->log),
                               .epochs = epochs,
                               .nepochs = ne};
    if (n->snap.latest.end_offset >= 0) {
        p.snapshot = (struct raft_snapshot_id){n->snap.latest.end_offset, n->snap.latest.epoch};
        p.log_start_offset = n->snap.latest.end_offset;
    }
    io->applied_end = p.log_start_offset;
    rc = raft_new(&rc_cfg, &p, kraft_raft_now(), &io->raft);
    ferry_free(epochs);
    if (rc) {
        snprintf(err, errlen, "cannot start the Raft core from %s (quorum-state epoch %d, log [%lld, %lld)): %s",
                 n->log->dir, qs.leader_epoch, (long long)p.log_start_offset, (long long)p.log_end_offset,
                 ferry_strerror(rc));
        return rc;
    }
    metalog_loader_init(&io->loader, &n->img, &n->pending);
    io->loader.next_offset = io->applied_end;
    return 0;
}

static void on_tick(uv_timer_t *t);

void kraft_raft_start_ticks(struct kraft_node *n)
{
    uv_timer_init(n->loop, &n->rio.tick);
    n->rio.tick.data = n;
    uv_unref((uv_handle_t *)&n->rio.tick); /* the ticks alone never keep the loop running */
    uv_timer_start(&n->rio.tick, on_tick, 0, 0);
}

void kraft_raft_close(struct kraft_node *n)
{
    struct kraft_raft_io *io = &n->rio;
    if (io->resign_timer_open) {
        uv_timer_stop(&io->resign_timer);
        uv_close((uv_handle_t *)&io->resign_timer, kraft_node_handle_closed);
        io->resign_timer_open = false;
    }
    raft_free(io->raft);
    io->raft = NULL;
    metalog_loader_free(&io->loader);
    metalog_tail_free(&io->tail);
    proto_writer_free(&io->staged);
    uv_timer_stop(&io->tick);
    uv_close((uv_handle_t *)&io->tick, kraft_node_handle_closed);
}

/* ---- quorum-state writes ---- */

static void state_work(uv_work_t *w)
{
    struct kraft_node *n = w->data;
    n->rio.state_rc = quorum_state_write(n->log->dir, &n->rio.state_writing);
}

static void after_input(struct kraft_node *n, int rc, const char *what)
{
    if (rc == FERRY_ENOMEM)
        kraft_raft_failed(n, "out of memory in the Raft core");
    else if (rc)
        LOG_WARN("kraft", "node %d: the Raft core refused %s: %s", n->node_id, what, ferry_strerror(rc));
}

static void state_after(uv_work_t *w, int status);

static void start_state_write(struct kraft_node *n)
{
    struct kraft_raft_io *io = &n->rio;
    io->state_writing = io->state_want;
    io->state_writing_seq = io->state_want_seq;
    io->state_busy = true;
    io->state_work.data = n;
    if (uv_queue_work(n->loop, &io->state_work, state_work, state_after) != 0) {
        io->state_busy = false;
        kraft_raft_failed(n, "cannot queue the quorum-state write");
    }
}

static void state_after(uv_work_t *w, int status)
{
    struct kraft_node *n = w->data;
    struct kraft_raft_io *io = &n->rio;
    io->state_busy = false;
    int rc = status ? FERRY_EIO : io->state_rc;
    if (n->stopping) {
        kraft_node_finish_stop(n);
        return;
    }
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "cannot write %s/%s: %s", n->log->dir, QUORUM_STATE_FILE, ferry_strerror(rc));
        kraft_raft_failed(n, why);
        return;
    }
    if (io->dead)
        return;
    io->state_done_seq = io->state_writing_seq;
    if (io->state_want_seq > io->state_writing_seq)
        start_state_write(n);
    after_input(n, raft_state_persisted(io->raft, kraft_raft_now(), io->state_done_seq), "a quorum-state write");
    kraft_raft_drive(n);
}

static void persist_state(struct kraft_node *n, const struct raft_action *a)
{
    struct kraft_raft_io *io = &n->rio;
    struct quorum_state qs;
    quorum_state_init(&qs);
    qs.leader_epoch = a->epoch;
    qs.leader_id = a->leader_id;
    qs.voted_id = a->voted_id;
    for (size_t i = 0; i < n->cfg->n_voters && i < QUORUM_STATE_MAX_VOTERS; i++)
        qs.voters[qs.nvoters++] = n->cfg->voters[i].id;
    io->state_want = qs;
    io->state_want_seq = a->seq;
    if (io->sync) {
        int rc = quorum_state_write(n->log->dir, &qs);
        if (rc) {
            char why[256];
            snprintf(why, sizeof why, "cannot write %s/%s: %s", n->log->dir, QUORUM_STATE_FILE, ferry_strerror(rc));
            kraft_raft_failed(n, why);
        }
        return; /* acknowledged by drive once the actions are cleared */
    }
    if (!io->state_busy)
        start_state_write(n);
}

/* ---- log fsyncs ---- */

static void flush_work(uv_work_t *w)
{
    struct kraft_node *n = w->data;
    n->flush_rc = plog_flush_run(&n->flush);
}

static void flush_after(uv_work_t *w, int status);

static void start_flush(struct kraft_node *n)
{
    struct kraft_raft_io *io = &n->rio;
    int rc = plog_flush_begin(n->log->log, &n->flush);
    if (rc) {
        kraft_raft_failed(n, "cannot start flushing the metadata log");
        return;
    }
    io->sync_writing_seq = io->sync_want_seq;
    n->busy = true;
    n->work.data = n;
    if (uv_queue_work(n->loop, &n->work, flush_work, flush_after) != 0) {
        plog_flush_end(n->log->log, &n->flush, FERRY_EIO);
        n->busy = false;
        kraft_raft_failed(n, "cannot queue the metadata-log fsync");
    }
}

static void flush_after(uv_work_t *w, int status)
{
    struct kraft_node *n = w->data;
    struct kraft_raft_io *io = &n->rio;
    int rc = status ? FERRY_EIO : n->flush_rc;
    /* out of descriptors: run again once the log's cached descriptors are shed (not a failed node) */
    if (!n->stopping && plog_flush_retry(&n->flush, rc) && uv_queue_work(n->loop, &n->work, flush_work, flush_after) == 0)
        return;
    plog_flush_end(n->log->log, &n->flush, rc);
    n->busy = false;
    if (n->stopping) {
        kraft_node_finish_stop(n);
        return;
    }
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "cannot fsync the metadata log: %s", ferry_strerror(rc));
        kraft_raft_failed(n, why);
        return;
    }
    kraft_snapshot_idle(n);
    if (io->dead)
        return;
    io->sync_done_seq = io->sync_writing_seq;
    if (io->sync_want_seq > io->sync_writing_seq)
        start_flush(n);
    after_input(n, raft_log_persisted(io->raft, kraft_raft_now(), io->sync_done_seq), "a log fsync");
    kraft_raft_drive(n);
}

static void log_sync(struct kraft_node *n, uint64_t seq)
{
    struct kraft_raft_io *io = &n->rio;
    io->sync_want_seq = seq;
    if (io->sync) {
        int rc = plog_flush_sync(n->log->log);
        if (rc) {
            char why[256];
            snprintf(why, sizeof why, "cannot fsync the metadata log: %s", ferry_strerror(rc));
            kraft_raft_failed(n, why);
        }
        return;
    }
    if (!n->busy)
        start_flush(n);
}

/* ---- log actions ---- */

static int encode_leader_change(struct kraft_node *n, struct proto_writer *w, const struct raft_batch *b,
                                const struct raft_action *a, int64_t now)
{
    size_t nv = n->cfg->n_voters;
    struct LeaderChangeMessage_Voter *voters = ferry_calloc(nv + a->ngranting + 1, sizeof *voters);
    if (!voters)
        return FERRY_ENOMEM;
    struct LeaderChangeMessage_Voter *granting = voters + nv;
    for (size_t i = 0; i < nv; i++)
        voters[i].VoterId = n->cfg->voters[i].id;
    for (size_t i = 0; i < a->ngranting; i++)
        granting[i].VoterId = a->granting[i];
    struct LeaderChangeMessage lc = {.Version = 0,
                                     .LeaderId = n->node_id,
                                     .Voters = voters,
                                     .Voters_n = (int32_t)nv,
                                     .GrantingVoters = granting,
                                     .GrantingVoters_n = (int32_t)a->ngranting};
    int rc = metalog_build_control_batch(w, b->base_offset, b->epoch, now, METALOG_CTRL_LEADER_CHANGE,
                                         &proto_msg_LeaderChangeMessage, &lc);
    ferry_free(voters);
    return rc;
}

static void log_append(struct kraft_node *n, const struct raft_action *a)
{
    if (a->nbatches == 0)
        return;
    int64_t now = kraft_wall_ms();
    struct proto_writer w;
    proto_writer_init(&w);
    int rc = 0;
    int32_t epoch = a->batches[a->nbatches - 1].epoch;
    bool borrowed = a->nbatches == 1 && !a->batches[0].leader_change; /* a proposal: its bytes as they are */
    if (borrowed) {
        w.buf = (uint8_t *)a->batches[0].data;
        w.len = a->batches[0].len;
    }
    for (size_t i = 0; i < a->nbatches && !rc && !borrowed; i++) {
        const struct raft_batch *b = &a->batches[i];
        if (b->leader_change) {
            rc = encode_leader_change(n, &w, b, a, now);
            if (b->epoch == raft_epoch(n->rio.raft) && raft_role(n->rio.raft) == RAFT_LEADER)
                n->rio.leader_start = b->base_offset + b->count;
        } else {
            proto_write_raw(&w, b->data, b->len);
            rc = w.err;
        }
    }
    struct plog_append_info info;
    if (!rc)
        rc = plog_append(n->log->log, w.buf, w.len, epoch, now, PLOG_APPEND_FOLLOWER, &info);
    if (!rc && info.first_offset != a->batches[0].base_offset)
        rc = FERRY_ECORRUPT;
    if (!rc) {
        n->snap.bytes_since += (int64_t)w.len;
        n->snap.last_append_ms = now;
        metalog_tail_append(&n->rio.tail, w.buf, w.len, info.first_offset);
    }
    if (!borrowed)
        proto_writer_free(&w);
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "cannot append %zu batch(es) at offset %lld to the metadata log: %s", a->nbatches,
                 (long long)a->batches[0].base_offset, ferry_strerror(rc));
        kraft_raft_failed(n, why);
    }
}

static void log_truncate(struct kraft_node *n, int64_t offset)
{
    LOG_INFO("kraft", "node %d: truncating the metadata log to offset %lld (end %lld)", n->node_id, (long long)offset,
             (long long)metalog_end_offset(n->log));
    metalog_tail_truncate(&n->rio.tail, offset);
    int rc = plog_truncate_to(n->log->log, offset);
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "cannot truncate the metadata log to offset %lld: %s", (long long)offset,
                 ferry_strerror(rc));
        kraft_raft_failed(n, why);
    }
}

static void snapshot_write(struct kraft_node *n, const struct raft_action *a)
{
    struct snapshot_id id = {a->snapshot.end_offset, a->snapshot.epoch};
    int rc = snapshot_part_write(n->log->dir, id, a->position, a->data, a->len);
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "cannot write the fetched snapshot at offset %lld: %s", (long long)id.end_offset,
                 ferry_strerror(rc));
        kraft_raft_failed(n, why);
    }
}

/* FetchSnapshot done: the .part becomes the snapshot, the log restarts at it, the image is reloaded. */
static void snapshot_install(struct kraft_node *n, const struct raft_action *a)
{
    struct kraft_raft_io *io = &n->rio;
    struct snapshot_id id = {a->snapshot.end_offset, a->snapshot.epoch};
    char why[512] = "";
    int rc = snapshot_part_freeze(n->log->dir, id, why, sizeof why);
    metalog_tail_reset(&io->tail);
    if (!rc)
        rc = plog_truncate_fully(n->log->log, id.end_offset);
    if (!rc) {
        metalog_loader_free(&io->loader);
        md_image_free(&n->img);
        md_image_init(&n->img);
        snprintf(n->img.cluster_id, sizeof n->img.cluster_id, "%s", n->cluster_id);
        md_delta_free(&n->pending);
        md_delta_init(&n->pending);
        n->pending.initial = true;
        rc = snapshot_load_file(n->log->dir, id, &n->img, &n->pending, why, sizeof why);
        metalog_loader_init(&io->loader, &n->img, &n->pending);
        io->applied_end = id.end_offset;
        io->loader.next_offset = id.end_offset;
    }
    if (rc) {
        char msg[700];
        snprintf(msg, sizeof msg, "cannot install the fetched snapshot at offset %lld: %s %s", (long long)id.end_offset,
                 ferry_strerror(rc), why);
        kraft_raft_failed(n, msg);
        return;
    }
    n->snap.latest = id;
    n->snap.bytes_since = 0;
    LOG_INFO("kraft", "node %d: installed the snapshot fetched from the leader at offset %lld epoch %d (%zu topic(s), "
                      "%d broker(s))",
             n->node_id, (long long)id.end_offset, id.epoch, md_image_topic_count(&n->img), n->img.nbrokers);
}

/* ---- commits ---- */

struct apply_ctx {
    struct kraft_node *n;
    int64_t commit;
};

static int apply_batch(void *arg, const uint8_t *batch, size_t len)
{
    struct apply_ctx *c = arg;
    struct kraft_raft_io *io = &c->n->rio;
    struct rb_header h;
    if (rb_parse_header(batch, len, &h))
        return FERRY_ECORRUPT;
    int64_t end = h.base_offset + h.last_offset_delta + 1;
    if (h.base_offset >= c->commit)
        return APPLY_STOP;
    if (end <= io->applied_end)
        return 0;
    int rc = metalog_loader_batch(&io->loader, batch, len);
    if (rc)
        return rc;
    io->applied_end = end;
    if (h.base_offset < io->replay_end)
        c->n->snap.bytes_since += (int64_t)len; /* replayed at start-up: counts towards the next snapshot */
    return 0;
}

/* The committed batches the tail holds, from applied_end on: 0 or APPLY_STOP (done), or an error. */
static int apply_from_tail(struct apply_ctx *c)
{
    const uint8_t *p;
    size_t len;
    metalog_tail_from(&c->n->rio.tail, c->n->rio.applied_end, &p, &len);
    struct rb_iter it;
    rb_iter_init(&it, p, len);
    const uint8_t *b;
    size_t blen;
    struct rb_header h;
    int rc = 0;
    while (!rc && rb_iter_next(&it, &b, &blen, &h) == 1)
        rc = apply_batch(c, b, blen);
    return rc;
}

static void apply_committed(struct kraft_node *n, int64_t commit)
{
    struct kraft_raft_io *io = &n->rio;
    if (commit <= io->applied_end)
        return;
    struct apply_ctx c = {n, commit};
    metalog_loader_set_delta(&io->loader, &n->pending);
    int rc = apply_from_tail(&c);
    if (!rc && io->applied_end < commit) /* not (all) in the tail: from the log */
        rc = metalog_scan_from(n->log, io->applied_end, apply_batch, &c);
    if (rc && rc != APPLY_STOP) {
        char why[256];
        snprintf(why, sizeof why, "cannot apply the committed metadata log at offset %lld: %s",
                 (long long)io->applied_end, ferry_strerror(rc));
        kraft_raft_failed(n, why);
        return;
    }
    kraft_node_publish_pending(n);
    kraft_node_committed(n);
    kraft_snapshot_maybe(n);
}

/* ---- driving ---- */

static void on_tick(uv_timer_t *t)
{
    struct kraft_node *n = t->data;
    if (n->stopping || n->rio.dead)
        return;
    after_input(n, raft_tick(n->rio.raft, kraft_raft_now()), "a tick");
    kraft_raft_drive(n);
}

static void perform(struct kraft_node *n, const struct raft_action *a)
{
    switch (a->type) {
    case RAFT_ACT_SEND:
        if (n->transport.send)
            n->transport.send(n->transport.arg, &a->msg);
        break;
    case RAFT_ACT_PERSIST_STATE: persist_state(n, a); break;
    case RAFT_ACT_LOG_APPEND: log_append(n, a); break;
    case RAFT_ACT_LOG_TRUNCATE: log_truncate(n, a->offset); break;
    case RAFT_ACT_SNAPSHOT_WRITE: snapshot_write(n, a); break;
    case RAFT_ACT_SNAPSHOT_INSTALL: snapshot_install(n, a); break;
    case RAFT_ACT_LOG_SYNC: log_sync(n, a->seq); break;
    case RAFT_ACT_LOG_START: break; /* retention follows the snapshots (snapshot_node.c) */
    case RAFT_ACT_COMMIT: apply_committed(n, a->offset); break;
    case RAFT_ACT_ROLE:
        if (a->role == RAFT_LEADER)
            LOG_INFO("kraft", "node %d: leader of the metadata quorum at epoch %d", n->node_id, a->epoch);
        else if (a->leader_id >= 0)
            LOG_INFO("kraft", "node %d: %s at epoch %d, leader %d", n->node_id, raft_role_name(a->role), a->epoch,
                     a->leader_id);
        if (a->role != RAFT_LEADER)
            kraft_node_lost_leadership(n);
        break;
    case RAFT_ACT_FATAL: kraft_raft_failed(n, a->reason ? a->reason : "fatal Raft error"); break;
    }
}

static void reschedule(struct kraft_node *n)
{
    struct kraft_raft_io *io = &n->rio;
    if (io->sync || io->dead || n->stopping)
        return;
    int64_t now = kraft_raft_now();
    int64_t next = raft_next_deadline(io->raft);
    int64_t delay = next - now;
    /* A deadline at or before now was handled by the tick that just ran (an observer's election deadline
     * stays in the past): never 0, which libuv would run again in the same loop turn, starving I/O. */
    if (delay < TICK_MIN_MS)
        delay = TICK_MIN_MS;
    if (delay > TICK_MAX_MS)
        delay = TICK_MAX_MS;
    uv_timer_start(&io->tick, on_tick, (uint64_t)delay, 0);
}

/* The transport's inputs queued while actions were performed (kraft_node.h), in arrival order. */
static void feed_late_inputs(struct kraft_node *n)
{
    struct kraft_raft_io *io = &n->rio;
    for (size_t i = 0; i < io->nlate && !io->dead; i++) {
        const struct kraft_late_input *in = &io->late[i];
        int64_t now = kraft_raft_now();
        if (in->lost_peer >= 0)
            after_input(n, raft_peer_lost(io->raft, now, in->lost_peer), "a closed connection");
        else
            after_input(n, raft_step(io->raft, now, &in->msg), "a message");
    }
    io->nlate = 0;
}

static void late_input(struct kraft_node *n, int32_t lost_peer, const struct raft_msg *m)
{
    struct kraft_raft_io *io = &n->rio;
    if (io->nlate == KRAFT_LATE_INPUTS)
        return; /* dropped: the core resends or times out as for a lost message */
    io->late[io->nlate].lost_peer = lost_peer;
    if (m)
        io->late[io->nlate].msg = *m;
    io->nlate++;
}

void kraft_raft_drive(struct kraft_node *n)
{
    struct kraft_raft_io *io = &n->rio;
    if (io->driving || !io->raft)
        return;
    io->driving = true;
    while (!io->dead && !n->stopping) {
        feed_late_inputs(n);
        size_t na = 0;
        const struct raft_action *acts = raft_actions(io->raft, &na);
        if (na == 0)
            break;
        for (size_t i = 0; i < na && !io->dead; i++)
            perform(n, &acts[i]);
        raft_actions_clear(io->raft);
        if (io->dead || !io->sync)
            continue;
        /* blocking mode: the writes above are durable already */
        int64_t now = kraft_raft_now();
        if (io->state_want_seq > io->state_done_seq) {
            io->state_done_seq = io->state_want_seq;
            after_input(n, raft_state_persisted(io->raft, now, io->state_done_seq), "a quorum-state write");
        }
        if (io->sync_want_seq > io->sync_done_seq) {
            io->sync_done_seq = io->sync_want_seq;
            after_input(n, raft_log_persisted(io->raft, now, io->sync_done_seq), "a log fsync");
        }
    }
    io->driving = false;
    if (n->stopping) {
        kraft_node_finish_stop(n); /* deferred while the drive ran */
        return;
    }
    if (io->dead)
        return;
    kraft_node_maybe_activate(n);
    kraft_node_kick(n);
    reschedule(n);
}

/* ---- graceful resignation ---- */

#define RESIGN_POLL_MS 10

static void resign_check(uv_timer_t *t)
{
    struct kraft_node *n = t->data;
    struct kraft_raft_io *io = &n->rio;
    bool succeeded = io->raft && raft_epoch(io->raft) > io->resign_epoch;
    if (!succeeded && !io->dead && !n->stopping && kraft_raft_now() < io->resign_until) {
        uv_timer_start(&io->resign_timer, resign_check, RESIGN_POLL_MS, 0);
        return;
    }
    if (succeeded)
        LOG_INFO("kraft", "node %d: epoch %d began after the resignation (leader %d, -1: not known yet)",
                 n->node_id, raft_epoch(io->raft), raft_leader(io->raft));
    void (*done)(void *) = io->resign_done;
    io->resign_done = NULL;
    if (done)
        done(io->resign_arg);
}

/* Whether the quorum has a voter besides this node (a successor a resignation can wait for). */
static bool other_voter(const struct kraft_node *n)
{
    for (size_t i = 0; i < n->cfg->n_voters; i++)
        if (n->cfg->voters[i].id != n->node_id)
            return true;
    return false;
}

void kraft_node_resign(struct kraft_node *n, void (*done)(void *arg), void *arg)
{
    struct kraft_raft_io *io = &n->rio;
    if (!io->raft || io->dead || n->stopping || io->resign_done || raft_role(io->raft) != RAFT_LEADER ||
        (!io->resign_timer_open && uv_timer_init(n->loop, &io->resign_timer) != 0)) {
        done(arg);
        return;
    }
    if (!io->resign_timer_open) {
        io->resign_timer_open = true;
        io->resign_timer.data = n;
        n->handles++;
    }
    io->resign_epoch = raft_epoch(io->raft);
    io->resign_until = kraft_raft_now() + n->cfg->controller_quorum_election_timeout_ms;
    io->resign_done = done;
    io->resign_arg = arg;
    LOG_INFO("kraft", "node %d: resigning: EndQuorumEpoch to the other voters of epoch %d", n->node_id,
             io->resign_epoch);
    after_input(n, raft_resign(io->raft, kraft_raft_now()), "the resignation");
    kraft_raft_drive(n);
    if (!other_voter(n)) { /* no successor to wait for (Kafka: graceful shutdown without remote voters) */
        io->resign_done = NULL;
        if (!n->stopping)
            done(arg);
        return;
    }
    uv_timer_start(&io->resign_timer, resign_check, RESIGN_POLL_MS, 0);
}

/* ---- proposals ---- */

int64_t kraft_node_next_offset(const struct kraft_node *n)
{
    const struct kraft_raft_io *io = &n->rio;
    if (!io->raft)
        return n->log ? metalog_end_offset(n->log) : 0;
    return io->staged_count ? io->staged_base + io->staged_count : raft_log_end(io->raft);
}

/* Drops the batches staged after `len` bytes / `count` offsets (an op whose staging failed). */
static void unstage(struct kraft_raft_io *io, size_t len, int32_t count)
{
    io->staged.len = len;
    io->staged.err = 0;
    io->staged_count = count;
}

int kraft_raft_stage(struct kraft_node *n, const struct metalog_rec *recs, size_t count, struct proto_arena *a,
                     int64_t *end_offset)
{
    struct kraft_raft_io *io = &n->rio;
    *end_offset = kraft_node_next_offset(n);
    if (!io->raft || io->dead || n->stopping || raft_role(io->raft) != RAFT_LEADER)
        return FERRY_EUNSUPPORTED;
    const struct md_image *img = kraft_node_decision_image(n);
    bool wrap = count > METALOG_MAX_RECORDS_PER_BATCH && ctrl_mv_supports_transactions(img->metadata_version);
    size_t nall = count + (wrap ? 2 : 0);
    struct metalog_rec *all = ferry_malloc(nall * sizeof *all);
    if (!all)
        return FERRY_ENOMEM;
    size_t k = 0;
    if (wrap) {
        struct BeginTransactionRecord *b = proto_arena_alloc(a, sizeof *b);
        struct EndTransactionRecord *e = proto_arena_alloc(a, sizeof *e);
        if (!b || !e) {
            ferry_free(all);
            return FERRY_ENOMEM;
        }
        proto_struct_init(proto_msg_BeginTransactionRecord.body, b);
        all[k++] = (struct metalog_rec){&proto_msg_BeginTransactionRecord, 0, b};
        memcpy(all + k, recs, count * sizeof *recs);
        k += count;
        all[k++] = (struct metalog_rec){&proto_msg_EndTransactionRecord, 0, e};
    } else {
        memcpy(all, recs, count * sizeof *recs);
    }
    if (io->staged_count == 0)
        io->staged_base = raft_log_end(io->raft);
    size_t len0 = io->staged.len;
    int32_t count0 = io->staged_count;
    int64_t now = kraft_wall_ms();
    int32_t epoch = raft_epoch(io->raft);
    int rc = 0;
    bool applied = false;
    for (size_t i = 0; i < nall && !rc; i += METALOG_MAX_RECORDS_PER_BATCH) {
        size_t chunk = nall - i < METALOG_MAX_RECORDS_PER_BATCH ? nall - i : METALOG_MAX_RECORDS_PER_BATCH;
        size_t at = io->staged.len;
        rc = metalog_build_batch(&io->staged, io->staged_base + io->staged_count, epoch, now, all + i, chunk);
        if (!rc)
            rc = io->staged.err;
        if (!rc)
            rc = kraft_latest_apply(n, io->staged.buf + at, io->staged.len - at);
        if (!rc) {
            applied = true;
            io->staged_count += (int32_t)chunk;
        }
    }
    ferry_free(all);
    if (rc) {
        unstage(io, len0, count0);
        if (applied)
            kraft_latest_drop(n); /* it holds part of what was just dropped */
        if (rc == FERRY_ENOMEM)
            kraft_raft_failed(n, "out of memory staging metadata records");
        else
            LOG_ERROR("kraft", "node %d: cannot stage %zu metadata record(s): %s", n->node_id, nall, ferry_strerror(rc));
    }
    *end_offset = kraft_node_next_offset(n);
    return rc;
}

int kraft_raft_flush(struct kraft_node *n)
{
    struct kraft_raft_io *io = &n->rio;
    if (io->staged_count == 0)
        return 0;
    int rc = FERRY_EUNSUPPORTED; /* stopped by a callback of an earlier drive */
    int64_t got = -1;
    if (io->raft && !io->dead && !n->stopping)
        rc = raft_propose(io->raft, kraft_raft_now(), io->staged_count, io->staged.buf, io->staged.len, &got);
    if (!rc && got != io->staged_base)
        rc = FERRY_ECORRUPT;
    if (!rc)
        kraft_raft_drive(n); /* the append action borrows the staged bytes: performed before they go */
    unstage(io, 0, 0);
    if (rc) {
        kraft_latest_drop(n); /* it holds batches the log does not */
        LOG_ERROR("kraft", "node %d: cannot propose the staged metadata records: %s", n->node_id, ferry_strerror(rc));
    }
    return rc;
}

/* ---- the transport's side ---- */

void kraft_node_set_transport(struct kraft_node *n, const struct kraft_transport *t)
{
    if (t)
        n->transport = *t;
    else
        memset(&n->transport, 0, sizeof n->transport);
}

int kraft_node_raft_step(struct kraft_node *n, const struct raft_msg *m)
{
    struct kraft_raft_io *io = &n->rio;
    if (n->stopping || io->dead || !io->raft)
        return FERRY_EINVAL;
    if (io->driving && m->type == RAFT_MSG_VOTE_RESP) {
        late_input(n, -1, m);
        return 0;
    }
    int rc = raft_step(io->raft, kraft_raft_now(), m);
    if (rc == FERRY_ENOMEM)
        kraft_raft_failed(n, "out of memory in the Raft core");
    kraft_raft_drive(n);
    return rc;
}

void kraft_node_peer_lost(struct kraft_node *n, int32_t id)
{
    struct kraft_raft_io *io = &n->rio;
    if (n->stopping || io->dead || !io->raft || id < 0)
        return;
    if (io->driving) {
        late_input(n, id, NULL);
        return;
    }
    after_input(n, raft_peer_lost(io->raft, kraft_raft_now(), id), "a closed connection");
    kraft_raft_drive(n);
}

int kraft_node_read_batches(struct kraft_node *n, int64_t from, int64_t to, size_t max_bytes, uint8_t **buf,
                            size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (!n->log || from >= to)
        return 0;
    if (from >= metalog_start_offset(n->log)) {
        int rc = metalog_tail_read(&n->rio.tail, from, to, max_bytes, buf, len);
        if (rc)
            return rc < 0 ? rc : 0;
    }
    struct plog_read_result res;
    int rc = plog_read(n->log->log, from, max_bytes, true, to, &res);
    if (rc)
        return rc;
    *buf = res.data;
    *len = res.len;
    return 0;
}

int kraft_node_read_snapshot(struct kraft_node *n, struct raft_snapshot_id id, int64_t position, uint8_t *buf,
                             size_t max, size_t *got, int64_t *size)
{
    if (!n->log)
        return FERRY_ENOTFOUND;
    return snapshot_read_chunk(n->log->dir, (struct snapshot_id){id.end_offset, id.epoch}, position, buf, max, got,
                               size);
}

int64_t kraft_node_clock_to_wall_ms(void) { return kraft_wall_ms() - kraft_raft_now(); }
