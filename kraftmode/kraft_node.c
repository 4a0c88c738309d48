/* kraft_node: the write queue, the operations in flight, commits and the node's lifecycle. Start-up and
 * leader activation are in kraft_start.c, the admin entry points in kraft_admin.c, the latest image the
 * decisions read in kraft_node_latest.c, the Raft I/O in kraft_raft.c.
 *
 * The active controller keeps many operations in flight: each turn of the loop, pump decides every queued
 * operation against the latest image (the committed image plus everything decided before it), stages its
 * records (applied to the latest image at once) and proposes all of the turn's records as one append
 * (kraft_raft_flush); each op is answered when the commit passes its last record, in order. Losing the
 * lead answers every op in flight NOT_CONTROLLER and drops the staged records and the latest image. */
#include <string.h>
#include <time.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/config/config.h"
#include "kraftmode/kraft_node_internal.h"

uint64_t kraft_node_rand(void *arg)
{
    /* splitmix64 */
    uint64_t *s = arg;
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int64_t kraft_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the queue ---- */

struct kraft_op *kraft_op_new(enum kraft_op_kind kind)
{
    struct kraft_op *op = ferry_calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->kind = kind;
    proto_arena_init(&op->arena);
    ctrl_records_init(&op->recs, &op->arena);
    proto_writer_init(&op->boot_bytes);
    return op;
}

void kraft_op_free(struct kraft_op *op)
{
    for (size_t i = 0; i < op->bound.n; i++)
        ferry_free(op->bound.names[i]);
    ferry_free(op->bound.names);
    ferry_free(op->bound.ports);
    for (size_t i = 0; i < op->nnames; i++)
        ferry_free(op->names[i]);
    ferry_free(op->names);
    proto_writer_free(&op->boot_bytes);
    ctrl_records_free(&op->recs);
    proto_arena_free(&op->arena);
    ferry_free(op);
}

static void pump(struct kraft_node *n);

static void on_kick(uv_timer_t *t) { pump(t->data); }

/* Ops decided but not yet committed, at most: beyond it the queue waits for commits. */
#define KRAFT_MAX_INFLIGHT 4096
/* Staged bytes proposed at once at most (one append, one Fetch answer): beyond it a turn proposes twice. */
#define KRAFT_MAX_STAGED_BYTES (1024 * 1024)

void kraft_node_kick(struct kraft_node *n)
{
    if (n->stopping || n->ninflight >= KRAFT_MAX_INFLIGHT || !n->head || n->rio.driving)
        return; /* a drive runs the queue once it is done */
    if (n->rio.sync)
        pump(n);
    else if (!uv_is_active((uv_handle_t *)&n->kick))
        uv_timer_start(&n->kick, on_kick, 0, 0);
}

void kraft_node_enqueue(struct kraft_node *n, struct kraft_op *op)
{
    if (n->stopping) {
        kraft_op_free(op);
        return;
    }
    if (n->tail)
        n->tail->next = op;
    else
        n->head = op;
    n->tail = op;
    kraft_node_kick(n);
}

void kraft_node_push_front(struct kraft_node *n, struct kraft_op *op)
{
    op->next = n->head;
    n->head = op;
    if (!n->tail)
        n->tail = op;
}

/* Runs the caller's completion, then frees the op. rc: 0, the write error, or FERRY_EUNSUPPORTED when this
 * node is not (or stopped being) the active controller. */
static void complete(struct kraft_node *n, struct kraft_op *op, int rc)
{
    if (n->stopping) {
        /* a completion earlier in the same batch stopped the node (broker_stop from a callback): the
         * callers of the rest may have freed what the op points to, and no callback runs after stop */
        kraft_op_free(op);
        return;
    }
    if (rc == FERRY_EUNSUPPORTED && op->kind != KRAFT_OP_WRITE)
        kraft_op_fail_response(op, KERR_NOT_CONTROLLER, "This node is not the active controller.");
    else if (rc && op->kind != KRAFT_OP_WRITE)
        kraft_op_fail_response(op, KERR_UNKNOWN_SERVER_ERROR,
                               rc == FERRY_ENOMEM ? "The controller ran out of memory."
                                                  : "The metadata log could not be written.");
    if (op->done_rc)
        op->done_rc(op->arg, rc);
    if (op->done)
        op->done(op->arg);
    kraft_op_free(op);
}

static void inflight_push(struct kraft_node *n, struct kraft_op *op)
{
    op->next = NULL;
    if (n->inflight_tail)
        n->inflight_tail->next = op;
    else
        n->inflight_head = op;
    n->inflight_tail = op;
    n->ninflight++;
}

static struct kraft_op *inflight_pop(struct kraft_node *n)
{
    struct kraft_op *op = n->inflight_head;
    n->inflight_head = op->next;
    if (!n->inflight_head)
        n->inflight_tail = NULL;
    n->ninflight--;
    op->next = NULL;
    return op;
}

/* Completes, in order, the ops in flight whose records end at or below `upto` with rc. */
static void complete_inflight(struct kraft_node *n, int64_t upto, int rc)
{
    while (n->inflight_head && n->inflight_head->end_offset <= upto)
        complete(n, inflight_pop(n), rc);
}

void kraft_node_committed(struct kraft_node *n)
{
    if (!n->inflight_head || n->rio.applied_end < n->inflight_head->end_offset)
        return;
    complete_inflight(n, n->rio.applied_end, 0);
    kraft_node_kick(n);
}

/* Fails every op in flight (their records commit only if the next leader keeps them) and drops what the
 * controller staged and speculated. */
static void fail_inflight(struct kraft_node *n, int rc)
{
    n->rio.staged.len = 0;
    n->rio.staged.err = 0;
    n->rio.staged_count = 0;
    kraft_latest_drop(n);
    complete_inflight(n, INT64_MAX, rc);
}

void kraft_node_lost_leadership(struct kraft_node *n)
{
    if (n->latest.epoch >= 0 || n->inflight_head) {
        if (n->inflight_head)
            LOG_WARN("kraft", "node %d: no longer the leader: %zu write(s) proposed up to offset %lld are answered "
                              "NOT_CONTROLLER (they commit only if the new leader keeps them)",
                     n->node_id, n->ninflight, (long long)n->inflight_tail->end_offset);
        fail_inflight(n, n->failed ? FERRY_EIO : FERRY_EUNSUPPORTED);
    }
    kraft_node_kick(n);
}

/* An op this node cannot run: its response shape (the decision against this node's image, records
 * dropped) with every entry failed. */
static void refuse(struct kraft_node *n, struct kraft_op *op, int rc)
{
    if (op->resp) /* an admin request: its response lists every entry */
        kraft_op_decide(n, op);
    if (op->kind == KRAFT_OP_AUTO_CREATE)
        LOG_WARN("kraft", "node %d: not the active controller: %zu topic(s) not auto-created here", n->node_id,
                 op->nnames);
    complete(n, op, rc);
}

/* Proposes what this turn staged; a failure fails the ops whose records were staged. */
static void flush_staged(struct kraft_node *n)
{
    int64_t base = n->rio.staged_base;
    if (n->rio.staged_count == 0 || kraft_raft_flush(n) == 0)
        return;
    /* the ops before `base` were proposed in earlier turns and stay in flight */
    struct kraft_op **pp = &n->inflight_head;
    while (*pp && (*pp)->end_offset <= base)
        pp = &(*pp)->next;
    struct kraft_op *doomed = *pp;
    *pp = NULL;
    n->inflight_tail = NULL;
    n->ninflight = 0;
    for (struct kraft_op *op = n->inflight_head; op; op = op->next) {
        n->inflight_tail = op;
        n->ninflight++;
    }
    while (doomed) {
        struct kraft_op *op = doomed;
        doomed = op->next;
        op->next = NULL;
        complete(n, op, n->failed ? FERRY_EIO : FERRY_EUNSUPPORTED);
    }
}

/* Decides one op against the latest image and stages its records; it joins the ops in flight (answered
 * once the commit passes its records: at once when it wrote nothing and nothing is uncommitted). */
static void run_op(struct kraft_node *n, struct kraft_op *op)
{
    const struct metalog_rec *recs;
    size_t count;
    int rc = 0;
    if (op->kind == KRAFT_OP_WRITE) {
        recs = op->raw;
        count = op->nraw;
    } else {
        rc = kraft_op_decide(n, op);
        recs = op->recs.recs;
        count = op->recs.n;
    }
    if (rc) {
        complete(n, op, rc);
        return;
    }
    /* An op that writes nothing read the latest image, which may hold uncommitted records: like Kafka's
     * controller it is answered once everything decided before it has committed. */
    op->end_offset = kraft_node_next_offset(n);
    if (count > 0) {
        rc = kraft_raft_stage(n, recs, count, &op->arena, &op->end_offset);
        if (rc) {
            complete(n, op, rc);
            return;
        }
    }
    inflight_push(n, op);
}

static void pump(struct kraft_node *n)
{
    while (!n->stopping && n->head && !n->rio.driving && n->ninflight < KRAFT_MAX_INFLIGHT) {
        bool leader = n->rio.raft && !n->rio.dead && raft_role(n->rio.raft) == RAFT_LEADER;
        if (leader && !kraft_node_active(n))
            break; /* elected: the activation comes first (kraft_node_maybe_activate) */
        if (leader && !n->failed) {
            bool ready = false;
            int rc = kraft_latest_ensure(n, &ready);
            if (rc) {
                kraft_raft_failed(n, "cannot copy the metadata image for the controller's decisions");
                continue; /* failed: the ops are refused */
            }
            if (!ready)
                break; /* rebuilt once what was proposed has committed (kraft_node_committed kicks) */
        }
        struct kraft_op *op = n->head;
        n->head = op->next;
        if (!n->head)
            n->tail = NULL;
        op->next = NULL;
        if (n->failed) {
            refuse(n, op, FERRY_EIO);
            continue;
        }
        if (!leader) {
            refuse(n, op, FERRY_EUNSUPPORTED);
            continue;
        }
        run_op(n, op);
        if (n->rio.staged.len >= KRAFT_MAX_STAGED_BYTES)
            flush_staged(n);
    }
    flush_staged(n);
    kraft_node_committed(n); /* ops that wrote nothing, or committed already (a single voter, blocking) */
}

void kraft_node_publish_pending(struct kraft_node *n)
{
    if (!n->publish || md_delta_is_empty(&n->pending))
        return;
    int64_t hw = raft_high_watermark(n->rio.raft);
    if (hw < 0 || n->rio.applied_end < hw)
        return; /* still catching up: the delta grows until the node reaches the high watermark */
    n->publish(n->publish_arg, &n->img, &n->pending);
    md_delta_free(&n->pending);
    md_delta_init(&n->pending);
}

/* ---- lifecycle ---- */

void kraft_node_handle_closed(uv_handle_t *h)
{
    struct kraft_node *n = h->data;
    if (--n->handles == 0)
        ferry_free(n);
}

/* Frees what the node holds; the caller closes its handles (or frees it when it has none). */
static void release(struct kraft_node *n)
{
    while (n->head) {
        struct kraft_op *op = n->head;
        n->head = op->next;
        kraft_op_free(op);
    }
    n->tail = NULL;
    while (n->inflight_head)
        kraft_op_free(inflight_pop(n));
    metalog_loader_free(&n->latest.loader);
    md_image_free(&n->latest.img);
    memset(&n->transport, 0, sizeof n->transport);
    if (n->log) {
        int64_t end = metalog_end_offset(n->log);
        int rc = metalog_close(n->log);
        if (rc)
            LOG_ERROR("kraft", "node %d: closing the metadata log failed: %s", n->node_id, ferry_strerror(rc));
        else
            LOG_INFO("kraft", "node %d: metadata log closed at offset %lld", n->node_id,
                     (long long)end);
    }
    n->log = NULL;
    kraft_snapshot_free(n);
    md_delta_free(&n->pending);
    md_image_free(&n->img);
}

void kraft_node_finish_stop(struct kraft_node *n)
{
    if (n->busy || n->snap.busy || n->rio.state_busy || n->finished || n->rio.driving)
        return; /* the fsync, snapshot or quorum-state write in flight, or the drive (a callback it ran
                 * stopped the node), calls again once it returns */
    n->finished = true;
    release(n);
    kraft_raft_close(n);
    uv_timer_stop(&n->kick);
    uv_close((uv_handle_t *)&n->kick, kraft_node_handle_closed);
}

void kraft_node_stop(struct kraft_node *n)
{
    if (!n || n->stopping)
        return;
    n->stopping = true;
    n->publish = NULL;
    kraft_node_finish_stop(n);
}

/* The single voter: its election and activation happen now, blocking, as a node of one always could (a
 * restart as Candidate waits out its election backoff first). */
#define ELECT_ALONE_MAX_MS 30000

static int elect_alone(struct kraft_node *n, char *err, size_t errlen)
{
    n->rio.sync = true;
    int rc = 0;
    int64_t give_up = kraft_raft_now() + ELECT_ALONE_MAX_MS;
    for (;;) {
        rc = raft_tick(n->rio.raft, kraft_raft_now());
        if (rc == 0)
            kraft_raft_drive(n);
        bool done = kraft_node_active(n) && !n->head && !n->inflight_head;
        if (rc || n->rio.dead || done || kraft_raft_now() >= give_up)
            break;
        int64_t wait = raft_next_deadline(n->rio.raft) - kraft_raft_now();
        uv_sleep((unsigned)(wait < 1 ? 1 : wait > 50 ? 50 : wait));
    }
    n->rio.sync = false;
    if (rc == 0 && !n->rio.dead && kraft_node_active(n) && !n->head && !n->inflight_head)
        return 0;
    snprintf(err, errlen, "the single voter could not become the active controller (%s); see the log above",
             rc ? ferry_strerror(rc) : n->failed ? "metadata log or quorum-state error" : "activation incomplete");
    return rc ? rc : FERRY_EIO;
}

int kraft_node_start(uv_loop_t *loop, const struct ferry_config *cfg, bool format_if_missing, struct kraft_node **out,
                     char *err, size_t errlen)
{
    *out = NULL;
    struct kraft_node *n = ferry_calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return FERRY_ENOMEM;
    }
    n->loop = loop;
    n->cfg = cfg;
    n->node_id = cfg->node_id;
    proto_uuid seed;
    if (log_uuid_random(&seed) == 0)
        memcpy(&n->rng, seed.b, sizeof n->rng);
    n->rng ^= (uint64_t)kraft_wall_ms();
    ctrl_env_from_config(&n->env, cfg, kraft_node_rand, &n->rng);
    md_image_init(&n->img);
    kraft_latest_init(n);
    md_delta_init(&n->pending);
    n->pending.initial = true;
    int rc = kraft_node_prepare(n, format_if_missing, err, errlen);
    bool alone = cfg->n_voters == 1 && cfg->voters[0].id == n->node_id;
    if (!rc && alone)
        rc = elect_alone(n, err, errlen);
    if (rc) {
        release(n);
        raft_free(n->rio.raft);
        metalog_loader_free(&n->rio.loader);
        metalog_tail_free(&n->rio.tail);
        proto_writer_free(&n->rio.staged);
        ferry_free(n);
        return rc;
    }
    n->handles = 2; /* kick, and the Raft tick */
    uv_timer_init(loop, &n->kick);
    n->kick.data = n;
    kraft_raft_start_ticks(n);
    kraft_snapshot_maybe(n); /* a long log replayed since the last snapshot */
    *out = n;
    return 0;
}

const struct md_image *kraft_node_image(const struct kraft_node *n) { return &n->img; }
int32_t kraft_node_id(const struct kraft_node *n) { return n->node_id; }
int32_t kraft_node_epoch(const struct kraft_node *n) { return n->rio.raft ? raft_epoch(n->rio.raft) : -1; }
int64_t kraft_node_end_offset(const struct kraft_node *n) { return n->log ? metalog_end_offset(n->log) : -1; }
int64_t kraft_node_committed_offset(const struct kraft_node *n) { return n->img.last_offset; }
const char *kraft_node_cluster_id(const struct kraft_node *n) { return n->cluster_id; }
const struct raft *kraft_node_raft(const struct kraft_node *n) { return n->stopping ? NULL : n->rio.raft; }
bool kraft_node_is_active_controller(const struct kraft_node *n) { return !n->stopping && kraft_node_active(n); }

int32_t kraft_node_leader_id(const struct kraft_node *n)
{
    return n->stopping || !n->rio.raft || n->rio.dead ? -1 : raft_leader(n->rio.raft);
}

int64_t kraft_node_high_watermark(const struct kraft_node *n)
{
    return n->stopping || !n->rio.raft ? -1 : raft_high_watermark(n->rio.raft);
}

bool kraft_node_leader_endpoint(const struct kraft_node *n, const char **host, uint16_t *port)
{
    int32_t id = kraft_node_leader_id(n);
    const struct config_voter *v = id >= 0 ? config_voter(n->cfg, id) : NULL;
    if (!v)
        return false;
    *host = v->host;
    *port = v->port;
    return true;
}

void kraft_node_set_publisher(struct kraft_node *n,
                              void (*publish)(void *arg, const struct md_image *img, const struct md_delta *delta),
                              void *arg)
{
    n->publish = publish;
    n->publish_arg = arg;
    if (publish && !n->stopping) {
        n->pending.initial = true;
        publish(arg, &n->img, &n->pending);
        md_delta_free(&n->pending); /* re-initialised: later commits get their own deltas */
    }
}

int kraft_node_submit(struct kraft_node *n, const struct metalog_rec *recs, size_t count,
                      void (*done)(void *arg, int rc), void *arg)
{
    if (count == 0)
        return FERRY_EINVAL;
    for (size_t i = 0; i < count; i++)
        if (!recs[i].m || recs[i].m->kind != PROTO_KIND_METADATA)
            return FERRY_EINVAL;
    struct kraft_op *op = kraft_op_new(KRAFT_OP_WRITE);
    if (!op)
        return FERRY_ENOMEM;
    op->raw = recs;
    op->nraw = count;
    op->done_rc = done;
    op->arg = arg;
    kraft_node_enqueue(n, op);
    return 0;
}
