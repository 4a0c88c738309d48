/* kraft_node: the write queue, appends, the off-loop fsync, commits and the node's lifecycle. Start-up
 * and leader activation are in kraft_start.c, the admin entry points in kraft_admin.c. */
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

/* ---- appends ---- */

int kraft_append_records(struct kraft_node *n, const struct metalog_rec *recs, size_t count, struct proto_arena *a,
                         struct metalog_rec **all_out, size_t *nall_out, int64_t *base_offset)
{
    bool wrap = count > METALOG_MAX_RECORDS_PER_BATCH && ctrl_mv_supports_transactions(n->img.metadata_version);
    size_t nall = count + (wrap ? 2 : 0);
    struct metalog_rec *all = ferry_malloc(nall * sizeof *all);
    if (!all)
        return FERRY_ENOMEM;
    size_t k = 0;
    if (wrap) {
        struct BeginTransactionRecord *b = proto_arena_alloc(a, sizeof *b);
        if (!b) {
            ferry_free(all);
            return FERRY_ENOMEM;
        }
        proto_struct_init(proto_msg_BeginTransactionRecord.body, b);
        all[k++] = (struct metalog_rec){&proto_msg_BeginTransactionRecord, 0, b};
    }
    memcpy(all + k, recs, count * sizeof *recs);
    k += count;
    if (wrap) {
        struct EndTransactionRecord *e = proto_arena_alloc(a, sizeof *e);
        if (!e) {
            ferry_free(all);
            return FERRY_ENOMEM;
        }
        all[k++] = (struct metalog_rec){&proto_msg_EndTransactionRecord, 0, e};
    }
    int64_t now = kraft_wall_ms();
    struct proto_writer w;
    proto_writer_init(&w);
    int rc = 0;
    for (size_t i = 0; i < nall && !rc; i += METALOG_MAX_RECORDS_PER_BATCH) {
        size_t chunk = nall - i < METALOG_MAX_RECORDS_PER_BATCH ? nall - i : METALOG_MAX_RECORDS_PER_BATCH;
        rc = metalog_build_batch(&w, 0, n->epoch, now, all + i, chunk); /* offsets are assigned by the log */
    }
    int64_t base = metalog_end_offset(n->log);
    struct plog_append_info info;
    if (!rc)
        rc = metalog_append(n->log, w.buf, w.len, n->epoch, now, &info);
    size_t appended = w.len;
    proto_writer_free(&w);
    if (rc) {
        LOG_ERROR("kraft", "node %d: cannot append %zu record(s) to the metadata log at offset %lld: %s", n->node_id,
                  nall, (long long)base, ferry_strerror(rc));
        ferry_free(all);
        return rc;
    }
    n->snap.bytes_since += (int64_t)appended;
    n->snap.last_append_ms = now;
    *all_out = all;
    *nall_out = nall;
    *base_offset = info.first_offset;
    return 0;
}

int kraft_apply_records(struct kraft_node *n, const struct metalog_rec *all, size_t nall, int64_t base_offset,
                        struct md_delta *delta)
{
    for (size_t i = 0; i < nall; i++) {
        int rc = md_image_apply(&n->img, all[i].m, all[i].data, base_offset + (int64_t)i, delta);
        if (rc == FERRY_ENOMEM)
            return rc;
        if (rc)
            LOG_ERROR("kraft", "node %d: %s at offset %lld was written but the image refused it", n->node_id,
                      all[i].m->name, (long long)(base_offset + (int64_t)i));
    }
    return 0;
}

static struct md_delta *commit_delta(struct kraft_node *n, struct md_delta *scratch)
{
    if (!n->publish)
        return &n->pending;
    md_delta_init(scratch);
    return scratch;
}

static void publish_delta(struct kraft_node *n, struct md_delta *d)
{
    if (d == &n->pending)
        return;
    if (n->publish && !md_delta_is_empty(d))
        n->publish(n->publish_arg, &n->img, d);
    md_delta_free(d);
}

int kraft_write_sync(struct kraft_node *n, const struct metalog_rec *recs, size_t count)
{
    struct proto_arena a;
    proto_arena_init(&a);
    struct metalog_rec *all = NULL;
    size_t nall = 0;
    int64_t base = 0;
    int rc = kraft_append_records(n, recs, count, &a, &all, &nall, &base);
    if (!rc) {
        rc = plog_flush_sync(n->log->log);
        if (rc)
            LOG_ERROR("kraft", "node %d: cannot fsync the metadata log: %s", n->node_id, ferry_strerror(rc));
    }
    if (!rc) {
        struct md_delta scratch;
        struct md_delta *d = commit_delta(n, &scratch);
        rc = kraft_apply_records(n, all, nall, base, d);
        publish_delta(n, d);
    }
    ferry_free(all);
    proto_arena_free(&a);
    return rc;
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
    ferry_free(op->all);
    ctrl_records_free(&op->recs);
    proto_arena_free(&op->arena);
    ferry_free(op);
}

static void on_kick(uv_timer_t *t);

static void kick(struct kraft_node *n)
{
    if (!n->stopping && !n->busy && n->head && !uv_is_active((uv_handle_t *)&n->kick))
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
    kick(n);
}

/* Runs the caller's completion, then frees the op. rc: 0, or the write error. */
static void complete(struct kraft_node *n, struct kraft_op *op, int rc)
{
    (void)n;
    if (rc && op->kind != KRAFT_OP_WRITE)
        kraft_op_fail_response(op, KERR_UNKNOWN_SERVER_ERROR,
                               rc == FERRY_ENOMEM ? "The controller ran out of memory."
                                                  : "The metadata log could not be written.");
    if (op->done_rc)
        op->done_rc(op->arg, rc);
    if (op->done)
        op->done(op->arg);
    kraft_op_free(op);
}

static void flush_work(uv_work_t *w)
{
    struct kraft_node *n = w->data;
    n->flush_rc = plog_flush_run(&n->flush);
}

static void flush_after(uv_work_t *w, int status)
{
    struct kraft_node *n = w->data;
    int rc = status ? FERRY_EIO : n->flush_rc;
    plog_flush_end(n->log->log, &n->flush, rc);
    struct kraft_op *op = n->inflight;
    n->inflight = NULL;
    n->busy = false;
    if (n->stopping) {
        kraft_op_free(op);
        if (!n->snap.busy)
            kraft_node_finish_stop(n);
        return;
    }
    if (rc) {
        LOG_ERROR("kraft", "node %d: cannot fsync the metadata log: %s; no more metadata writes", n->node_id,
                  ferry_strerror(rc));
        n->failed = true;
    } else {
        struct md_delta scratch;
        struct md_delta *d = commit_delta(n, &scratch);
        rc = kraft_apply_records(n, op->all, op->nall, op->base_offset, d);
        publish_delta(n, d);
    }
    complete(n, op, rc);
    kraft_snapshot_idle(n);
    kraft_snapshot_maybe(n);
    if (!n->stopping)
        kick(n);
}

/* Starts writing one op's records; returns 0 when the op is in flight, else the error. */
static int start_write(struct kraft_node *n, struct kraft_op *op, const struct metalog_rec *recs, size_t count)
{
    int rc = kraft_append_records(n, recs, count, &op->arena, &op->all, &op->nall, &op->base_offset);
    if (!rc) {
        rc = plog_flush_begin(n->log->log, &n->flush);
        if (rc)
            LOG_ERROR("kraft", "node %d: cannot start flushing the metadata log: %s", n->node_id, ferry_strerror(rc));
    }
    if (!rc) {
        n->work.data = n;
        n->inflight = op;
        n->busy = true;
        rc = uv_queue_work(n->loop, &n->work, flush_work, flush_after);
        if (rc) {
            plog_flush_end(n->log->log, &n->flush, FERRY_EIO);
            n->inflight = NULL;
            n->busy = false;
            rc = FERRY_EIO;
        }
    }
    if (rc && rc != FERRY_ENOMEM)
        n->failed = true;
    return rc;
}

static void on_kick(uv_timer_t *t)
{
    struct kraft_node *n = t->data;
    while (!n->stopping && !n->busy && n->head) {
        struct kraft_op *op = n->head;
        n->head = op->next;
        if (!n->head)
            n->tail = NULL;
        op->next = NULL;
        if (n->failed) {
            if (op->kind != KRAFT_OP_WRITE)
                kraft_op_decide(n, op); /* fills the response shape; the records are dropped */
            complete(n, op, FERRY_EIO);
            continue;
        }
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
        if (!rc && count == 0) {
            complete(n, op, 0);
            continue;
        }
        if (!rc)
            rc = start_write(n, op, recs, count);
        if (rc)
            complete(n, op, rc);
    }
}

/* ---- lifecycle ---- */

static void on_closed(uv_handle_t *h)
{
    struct kraft_node *n = h->data;
    ferry_free(n);
}

void kraft_node_finish_stop(struct kraft_node *n)
{
    while (n->head) {
        struct kraft_op *op = n->head;
        n->head = op->next;
        kraft_op_free(op);
    }
    n->tail = NULL;
    if (n->log) {
        int rc = metalog_close(n->log);
        if (rc)
            LOG_ERROR("kraft", "node %d: closing the metadata log failed: %s", n->node_id, ferry_strerror(rc));
        else
            LOG_INFO("kraft", "node %d: metadata log closed at offset %lld", n->node_id,
                     (long long)n->img.last_offset);
    }
    n->log = NULL;
    kraft_snapshot_free(n);
    md_delta_free(&n->pending);
    md_image_free(&n->img);
    uv_timer_stop(&n->kick);
    uv_close((uv_handle_t *)&n->kick, on_closed);
}

void kraft_node_stop(struct kraft_node *n)
{
    if (!n || n->stopping)
        return;
    n->stopping = true;
    n->publish = NULL;
    if (!n->busy && !n->snap.busy)
        kraft_node_finish_stop(n);
    /* else the fsync or the snapshot write in flight finishes the stop once it returns */
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
    md_delta_init(&n->pending);
    n->pending.initial = true;
    int rc = kraft_node_prepare(n, format_if_missing, err, errlen);
    if (rc) {
        if (n->log)
            metalog_close(n->log);
        kraft_snapshot_free(n);
        md_delta_free(&n->pending);
        md_image_free(&n->img);
        ferry_free(n);
        return rc;
    }
    uv_timer_init(loop, &n->kick);
    n->kick.data = n;
    kraft_snapshot_maybe(n); /* a long log replayed since the last snapshot */
    *out = n;
    return 0;
}

const struct md_image *kraft_node_image(const struct kraft_node *n) { return &n->img; }
int32_t kraft_node_id(const struct kraft_node *n) { return n->node_id; }
int32_t kraft_node_epoch(const struct kraft_node *n) { return n->epoch; }
int64_t kraft_node_end_offset(const struct kraft_node *n) { return n->log ? metalog_end_offset(n->log) : -1; }
int64_t kraft_node_committed_offset(const struct kraft_node *n) { return n->img.last_offset; }
const char *kraft_node_cluster_id(const struct kraft_node *n) { return n->cluster_id; }

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
