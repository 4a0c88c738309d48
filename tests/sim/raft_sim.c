/* raft_sim: the simulated cluster (see raft_sim.h). Each node is a Raft core plus a simulated disk with a
 * volatile image (what the process sees) and a durable image (what survives a crash: the state as of the
 * last completed fsync), a quorum-state file with the same split, and a state machine: a running hash of
 * the committed records (--app hash), or the quorum controller and a real metadata image (--app ctrl,
 * tests/sim/ctrl_app.h), fed with record batches encoded as on disk. The network loses, delays, reorders
 * and duplicates messages and can be partitioned; nodes crash (losing everything not fsynced, their peers
 * told the connection closed: raft_peer_lost) and restart; live connections are reset now and then. */
#include "tests/sim/raft_sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/proto/record_batch.h"
#include "kraftmode/raft/raft.h"
#include "tests/sim/ctrl_app.h"

#define SIM_MAX_NODES 12
#define SIM_HASH_SNAP_BYTES 8 /* --app hash: a snapshot is the state machine's hash */
#define SIM_MAX_FETCH 16   /* batches per fetch response */
#define SIM_QUIET_MS 1500  /* the fault-free tail of every run (liveness) */
#define SIM_MAX_UNCOMMITTED 32 /* --app ctrl: offsets the active controller may decide ahead of its commit */

/* Immutable bytes (a record batch, a snapshot), kept until the end of the run: logs and messages share
 * them freely. */
struct blob {
    struct blob *next;
    size_t len;
    uint8_t p[];
};

/* One offset of a log. Offsets of one batch share its bytes (NULL: a hash-mode LeaderChange batch). */
struct entry {
    int32_t epoch;
    int32_t count;   /* records in its batch */
    int64_t base;    /* its batch's base offset */
    uint64_t payload; /* identity of the record (compared across logs) */
    const struct blob *bytes;
};

struct image {
    struct entry *e; /* offsets log_start.. */
    size_t n, cap;
    int64_t log_start;
    struct raft_snapshot_id snap;
    const struct blob *snap_bytes; /* the snapshot file (NULL: none) */
};

struct qfile {
    int32_t epoch, leader_id, voted_id;
};

struct node {
    int32_t id;
    bool voter;
    bool up;
    uint32_t inc; /* incarnation: bumped by each crash */
    struct raft *r;
    struct image vol, dur;
    struct qfile qvol, qdur;
    int64_t disk_free_at; /* disk operations complete in order */
    int64_t applied;
    uint64_t hash;
    int64_t last_commit;
    uint8_t *part; /* a snapshot being fetched (.checkpoint.part) */
    size_t part_len, part_cap;
    struct ctrl_app *app; /* --app ctrl */
};

enum ev_type { EV_DELIVER, EV_STATE_DONE, EV_SYNC_DONE, EV_TICK, EV_CRASH, EV_RESTART, EV_PARTITION, EV_HEAL,
               EV_PROPOSE, EV_RESIGN, EV_SNAPSHOT, EV_PEER_LOST };

struct event {
    int64_t at;
    uint64_t order;
    enum ev_type type;
    int node;
    uint32_t inc;
    uint64_t seq;
    struct qfile q;
    struct image img;       /* EV_SYNC_DONE: the volatile image when the fsync was issued */
    struct raft_msg msg;    /* EV_DELIVER */
    struct raft_batch *batches;
    const struct blob *snap; /* EV_DELIVER of a FetchSnapshot response: the snapshot read */
};

struct committed {
    bool set;
    bool has_digest; /* --app ctrl, at the last offset of a batch: the image's digest after it */
    int32_t epoch;
    uint64_t payload;
    uint64_t hash_after;
    uint64_t digest;
};

struct sim {
    const struct raft_sim_params *p;
    struct raft_sim_result *res;
    uint64_t rng;
    int64_t now;
    uint64_t order;
    struct node nodes[SIM_MAX_NODES];
    int nn;
    int32_t voter_ids[SIM_MAX_NODES];
    struct event **heap;
    size_t nheap, capheap;
    int group[SIM_MAX_NODES]; /* partition: nodes talk only within their group */
    int loss_pct, dup_pct;
    int32_t *epoch_leader; /* epoch -> leader id */
    size_t nepoch_leader;
    struct committed *com;
    size_t ncom;
    int64_t max_commit;
    struct blob *blobs;
    struct ctrl_clients *clients; /* --app ctrl */
};

static bool ctrl_mode(const struct sim *s) { return s->p->app == RAFT_SIM_APP_CTRL; }

/* ---- random ---- */
static uint64_t rnd(struct sim *s)
{
    uint64_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return s->rng = x;
}
static uint64_t node_rand(void *arg) { return rnd(arg); }
static int64_t rnd_range(struct sim *s, int64_t lo, int64_t hi) { return lo + (int64_t)(rnd(s) % (uint64_t)(hi - lo + 1)); }

static void trace(struct sim *s, const char *fmt, ...)
{
    if (!s->p->trace)
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("%8lld ", (long long)s->now);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static void violation(struct sim *s, const char *fmt, ...)
{
    if (s->res->violation)
        return;
    s->res->violation = true;
    s->res->at_ms = s->now;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->res->what, sizeof s->res->what, fmt, ap);
    va_end(ap);
    trace(s, "VIOLATION %s", s->res->what);
}

/* ---- blobs ---- */
static const struct blob *blob_new(struct sim *s, const void *p, size_t len)
{
    struct blob *b = malloc(sizeof *b + len);
    b->len = len;
    if (len)
        memcpy(b->p, p, len);
    b->next = s->blobs;
    s->blobs = b;
    return b;
}

static uint64_t bytes_hash(const struct blob *b)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; b && i < b->len; i++)
        h = (h ^ b->p[i]) * 0x100000001b3ull;
    return h;
}

/* ---- images ---- */
static void img_free(struct image *im)
{
    free(im->e);
    memset(im, 0, sizeof *im);
}
static void img_copy(struct image *dst, const struct image *src)
{
    free(dst->e);
    *dst = *src;
    dst->cap = src->n ? src->n : 1;
    dst->e = malloc(dst->cap * sizeof *dst->e);
    if (src->n)
        memcpy(dst->e, src->e, src->n * sizeof *src->e);
}
static int64_t img_end(const struct image *im) { return im->log_start + (int64_t)im->n; }
static void img_push(struct image *im, struct entry e)
{
    if (im->n == im->cap) {
        im->cap = im->cap ? im->cap * 2 : 64;
        im->e = realloc(im->e, im->cap * sizeof *im->e);
    }
    im->e[im->n++] = e;
}
static const struct entry *img_at(const struct image *im, int64_t off)
{
    if (off < im->log_start || off >= img_end(im))
        return NULL;
    return &im->e[off - im->log_start];
}
static void img_drop_prefix(struct image *im, int64_t start)
{
    if (start <= im->log_start)
        return;
    size_t k = (size_t)(start - im->log_start);
    if (k > im->n)
        k = im->n;
    memmove(im->e, im->e + k, (im->n - k) * sizeof *im->e);
    im->n -= k;
    im->log_start = start;
}

/* ---- events ---- */
static struct event *ev_new(struct sim *s, enum ev_type t, int64_t at, int node)
{
    struct event *e = calloc(1, sizeof *e);
    e->type = t;
    e->at = at;
    e->order = s->order++;
    e->node = node;
    if (node >= 0)
        e->inc = s->nodes[node].inc;
    return e;
}
static bool ev_before(const struct event *a, const struct event *b)
{
    return a->at != b->at ? a->at < b->at : a->order < b->order;
}
static void ev_push(struct sim *s, struct event *e)
{
    if (s->nheap == s->capheap) {
        s->capheap = s->capheap ? s->capheap * 2 : 256;
        s->heap = realloc(s->heap, s->capheap * sizeof *s->heap);
    }
    size_t i = s->nheap++;
    while (i > 0 && ev_before(e, s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = e;
}
static struct event *ev_pop(struct sim *s)
{
    struct event *top = s->heap[0], *last = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->nheap)
            break;
        if (c + 1 < s->nheap && ev_before(s->heap[c + 1], s->heap[c]))
            c++;
        if (!ev_before(s->heap[c], last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->nheap)
        s->heap[i] = last;
    return top;
}
static void ev_free(struct event *e)
{
    img_free(&e->img);
    free(e->batches);
    free(e);
}

static int node_index(struct sim *s, int32_t id)
{
    for (int i = 0; i < s->nn; i++)
        if (s->nodes[i].id == id)
            return i;
    return -1;
}

/* ---- invariants ---- */
static uint64_t mix(uint64_t h, int64_t off, int32_t epoch, uint64_t payload)
{
    h ^= (uint64_t)off * 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ull;
    h ^= (uint64_t)epoch * 0x94d049bb133111ebull + payload;
    return h ^ (h >> 29);
}

static struct committed *com_at(struct sim *s, int64_t off)
{
    if ((size_t)off >= s->ncom) {
        size_t n = s->ncom ? s->ncom : 256;
        while (n <= (size_t)off)
            n *= 2;
        s->com = realloc(s->com, n * sizeof *s->com);
        memset(s->com + s->ncom, 0, (n - s->ncom) * sizeof *s->com);
        s->ncom = n;
    }
    return &s->com[off];
}

static void check_leader_unique(struct sim *s, int32_t epoch, int32_t id)
{
    if ((size_t)epoch >= s->nepoch_leader) {
        size_t n = (size_t)epoch * 2 + 8;
        s->epoch_leader = realloc(s->epoch_leader, n * sizeof *s->epoch_leader);
        for (size_t i = s->nepoch_leader; i < n; i++)
            s->epoch_leader[i] = -1;
        s->nepoch_leader = n;
    }
    if (s->epoch_leader[epoch] >= 0 && s->epoch_leader[epoch] != id)
        violation(s, "two leaders in epoch %d: %d and %d", epoch, s->epoch_leader[epoch], id);
    s->epoch_leader[epoch] = id;
}

/* Leader completeness: a new leader holds every committed record. */
static void check_leader_complete(struct sim *s, struct node *n)
{
    for (int64_t off = n->vol.log_start; off < s->max_commit; off++) {
        const struct entry *e = img_at(&n->vol, off);
        struct committed *c = com_at(s, off);
        if (!e || e->epoch != c->epoch || e->payload != c->payload) {
            violation(s, "leader %d (epoch %d) lacks committed offset %lld", n->id, raft_epoch(n->r), (long long)off);
            return;
        }
    }
    if (n->vol.log_start > s->max_commit)
        violation(s, "leader %d starts its log at %lld beyond the commit %lld", n->id, (long long)n->vol.log_start,
                  (long long)s->max_commit);
}

/* Log matching: two logs with a record of the same epoch at one offset agree on everything before it. */
static void check_log_matching(struct sim *s)
{
    for (int i = 0; i < s->nn; i++)
        for (int j = i + 1; j < s->nn; j++) {
            const struct image *a = &s->nodes[i].vol, *b = &s->nodes[j].vol;
            int64_t lo = a->log_start > b->log_start ? a->log_start : b->log_start;
            int64_t hi = img_end(a) < img_end(b) ? img_end(a) : img_end(b);
            int64_t match = -1;
            for (int64_t off = hi - 1; off >= lo; off--)
                if (img_at(a, off)->epoch == img_at(b, off)->epoch) {
                    match = off;
                    break;
                }
            for (int64_t off = lo; off <= match; off++) {
                const struct entry *x = img_at(a, off), *y = img_at(b, off);
                if (x->epoch != y->epoch || x->payload != y->payload) {
                    violation(s, "log matching: nodes %d and %d differ at %lld below a common record at %lld",
                              s->nodes[i].id, s->nodes[j].id, (long long)off, (long long)match);
                    return;
                }
            }
        }
}

/* --app ctrl: the image's digest after the batch ending at `last` (applied by node n) must be the one every
 * other node had there; the first node to get there also checks the controller invariants. */
static void check_image(struct sim *s, struct node *n, int64_t last);

/* A committed proposal: each record batch in it (one decision each; several when the leader grouped a
 * burst) is loaded and the image checked after it. */
static bool load_committed(struct sim *s, struct node *n, const struct entry *e)
{
    struct rb_iter it;
    rb_iter_init(&it, e->bytes->p, e->bytes->len);
    const uint8_t *b;
    size_t blen;
    struct rb_header h;
    int got;
    int64_t end = e->base;
    while ((got = rb_iter_next(&it, &b, &blen, &h)) == 1) {
        int64_t refused = ctrl_app_refused(n->app);
        int rc = ctrl_app_apply_batch(n->app, b, blen);
        if (!rc && ctrl_app_refused(n->app) != refused) {
            violation(s, "node %d: its image refused a record of the committed batch at %lld", n->id,
                      (long long)h.base_offset);
            return false;
        }
        if (rc) {
            violation(s, "node %d: committed batch at %lld not loaded: %s", n->id, (long long)h.base_offset,
                      ferry_strerror(rc));
            return false;
        }
        end = h.base_offset + h.last_offset_delta + 1;
        check_image(s, n, end - 1);
        if (s->res->violation)
            return false;
    }
    if (got < 0 || end != e->base + e->count) {
        violation(s, "node %d: the committed proposal at %lld does not hold whole record batches up to %lld", n->id,
                  (long long)e->base, (long long)(e->base + e->count));
        return false;
    }
    return true;
}

static void check_image(struct sim *s, struct node *n, int64_t last)
{
    uint64_t d;
    int rc = ctrl_app_digest(n->app, &d);
    if (rc) {
        violation(s, "node %d: cannot digest its image: %s", n->id, ferry_strerror(rc));
        return;
    }
    s->res->digests++;
    struct committed *c = com_at(s, last);
    if (c->has_digest) {
        if (c->digest != d)
            violation(s, "node %d: metadata image after offset %lld differs from the other nodes'", n->id,
                      (long long)last);
        return;
    }
    c->has_digest = true;
    c->digest = d;
    char what[200];
    if (!ctrl_app_check(n->app, what, sizeof what))
        violation(s, "node %d: controller invariant broken after offset %lld: %s", n->id, (long long)last, what);
}

static void apply_to(struct sim *s, struct node *n, int64_t commit)
{
    if (commit < n->last_commit)
        violation(s, "node %d: commit went back from %lld to %lld", n->id, (long long)n->last_commit, (long long)commit);
    n->last_commit = commit;
    if (commit > raft_log_durable_end(n->r))
        violation(s, "node %d: commit %lld beyond its fsynced log end %lld", n->id, (long long)commit,
                  (long long)raft_log_durable_end(n->r));
    while (n->applied < commit && !s->res->violation) {
        int64_t off = n->applied;
        const struct entry *e = img_at(&n->vol, off);
        if (!e) {
            violation(s, "node %d: committed offset %lld missing from its log", n->id, (long long)off);
            return;
        }
        if (e->base + e->count > commit) {
            violation(s, "node %d: commit %lld inside the batch at %lld", n->id, (long long)commit, (long long)e->base);
            return;
        }
        n->hash = mix(n->hash, off, e->epoch, e->payload);
        struct committed *c = com_at(s, off);
        if (!c->set) {
            c->set = true;
            c->epoch = e->epoch;
            c->payload = e->payload;
            c->hash_after = n->hash;
        } else if (c->epoch != e->epoch || c->payload != e->payload || c->hash_after != n->hash) {
            violation(s, "node %d applied a different record or state at offset %lld", n->id, (long long)off);
            return;
        }
        n->applied++;
        if (ctrl_mode(s) && off == e->base + e->count - 1 && !load_committed(s, n, e)) /* the whole batch */
            return;
    }
    if (commit > s->max_commit) {
        for (int64_t off = s->max_commit; off < commit; off++)
            if (!com_at(s, off)->set)
                violation(s, "commit %lld skipped offset %lld", (long long)commit, (long long)off);
        s->max_commit = commit;
        s->res->commit = commit;
    }
}

/* ---- performing a node's actions ---- */
static int64_t disk_done_at(struct sim *s, struct node *n)
{
    int64_t at = (n->disk_free_at > s->now ? n->disk_free_at : s->now) + rnd_range(s, 0, 4);
    n->disk_free_at = at;
    return at;
}

static bool linked(struct sim *s, int a, int b) { return s->group[a] == s->group[b]; }

static void send_msg(struct sim *s, struct node *from, const struct raft_msg *m)
{
    int to = node_index(s, m->to);
    int fi = (int)(from - s->nodes);
    if (to < 0 || !linked(s, fi, to) || (int)(rnd(s) % 100) < s->loss_pct) {
        trace(s, "n%d -> n%d %s dropped", from->id, m->to, raft_msg_name(m->type));
        return;
    }
    int copies = (int)(rnd(s) % 100) < s->dup_pct ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        struct event *e = ev_new(s, EV_DELIVER, s->now + rnd_range(s, 1, 8), to);
        e->msg = *m;
        if (m->type == RAFT_MSG_FETCH_RESP && m->u.fetch_resp.records_from >= 0) {
            int64_t off = m->u.fetch_resp.records_from, hi = m->u.fetch_resp.records_to;
            if (hi > img_end(&from->vol))
                hi = img_end(&from->vol);
            e->batches = calloc(SIM_MAX_FETCH, sizeof *e->batches);
            size_t nb = 0;
            while (off < hi && nb < SIM_MAX_FETCH) { /* whole batches only */
                const struct entry *x = img_at(&from->vol, off);
                if (!x)
                    break;
                if (x->base != off) {
                    violation(s, "node %d: fetch response from %lld, inside the batch at %lld", from->id,
                              (long long)off, (long long)x->base);
                    break;
                }
                if (off + x->count > hi)
                    break;
                e->batches[nb++] = (struct raft_batch){.base_offset = off,
                                                       .count = x->count,
                                                       .epoch = x->epoch,
                                                       .data = x->bytes ? x->bytes->p : NULL,
                                                       .len = x->bytes ? x->bytes->len : 0};
                off += x->count;
            }
            e->msg.u.fetch_resp.nbatches = nb;
            e->msg.u.fetch_resp.batches = e->batches;
        }
        if (m->type == RAFT_MSG_FETCH_SNAPSHOT_RESP && m->error == 0) {
            const struct image *d = &from->dur;
            struct raft_snapshot_id id = m->u.fetch_snapshot_resp.snapshot;
            int64_t pos = m->u.fetch_snapshot_resp.position;
            if (!d->snap_bytes || d->snap.end_offset != id.end_offset || d->snap.epoch != id.epoch) {
                e->msg.error = 98; /* SNAPSHOT_NOT_FOUND */
            } else if (pos < 0 || pos >= (int64_t)d->snap_bytes->len) {
                e->msg.error = 99; /* POSITION_OUT_OF_RANGE */
            } else {
                int64_t size = (int64_t)d->snap_bytes->len, len = size - pos;
                int64_t chunk = ctrl_mode(s) ? size / 3 + 1 : 3; /* small chunks exercise positions */
                if (len > chunk)
                    len = chunk;
                if (len > m->u.fetch_snapshot_resp.max_bytes)
                    len = m->u.fetch_snapshot_resp.max_bytes;
                e->snap = d->snap_bytes;
                e->msg.u.fetch_snapshot_resp.size = size;
                e->msg.u.fetch_snapshot_resp.len = (size_t)len;
                e->msg.u.fetch_snapshot_resp.data = NULL; /* set at delivery (the event may move) */
            }
        }
        e->seq = (uint64_t)s->nodes[to].inc; /* a message reaches the incarnation it was sent to */
        ev_push(s, e);
    }
}

/* The running record hash as of a snapshot: hash mode, its bytes; ctrl mode, what the checker recorded. */
static uint64_t snap_hash(struct sim *s, const struct blob *bytes, int64_t end)
{
    if (!bytes || end <= 0)
        return 0;
    if (ctrl_mode(s))
        return com_at(s, end - 1)->hash_after;
    uint64_t h = 0;
    for (int b = 0; b < SIM_HASH_SNAP_BYTES && (size_t)b < bytes->len; b++)
        h |= (uint64_t)bytes->p[b] << (8 * b);
    return h;
}

/* SNAPSHOT_INSTALL: the fetched .part becomes the snapshot, the log restarts empty at its end, and the state
 * machine reloads from it if it is ahead; its state must be the one every node had at that offset. */
static void install_snapshot(struct sim *s, struct node *n, struct raft_snapshot_id id)
{
    const struct blob *bytes = blob_new(s, n->part, n->part_len);
    n->part_len = 0;
    s->res->snap_installs++;
    n->vol.n = 0;
    n->vol.log_start = id.end_offset;
    n->vol.snap = id;
    n->vol.snap_bytes = bytes;
    int64_t end = id.end_offset;
    struct committed *c = end > 0 ? com_at(s, end - 1) : NULL;
    trace(s, "n%d installs snapshot (%lld, %d), %zu bytes", n->id, (long long)end, id.epoch, bytes->len);
    if (!ctrl_mode(s)) {
        uint64_t h = snap_hash(s, bytes, end);
        if (bytes->len != SIM_HASH_SNAP_BYTES || (c && c->set && c->hash_after != h))
            violation(s, "node %d installed a snapshot at %lld whose state differs", n->id, (long long)end);
        if (end > n->applied) {
            n->applied = end;
            n->hash = h;
        }
        return;
    }
    struct ctrl_app *fresh = ctrl_app_new(n->id, s->p->app_bugs);
    char err[200];
    int rc = ctrl_app_load_snapshot(fresh, bytes->p, bytes->len, id.epoch, end, err, sizeof err);
    if (rc) {
        ctrl_app_free(fresh);
        violation(s, "node %d: the snapshot (%lld, %d) it fetched does not load: %s", n->id, (long long)end, id.epoch,
                  err);
        return;
    }
    if (end > n->applied) {
        ctrl_app_free(n->app);
        n->app = fresh;
        n->applied = end;
        n->hash = snap_hash(s, bytes, end);
        if (end > 0)
            check_image(s, n, end - 1);
    } else {
        ctrl_app_free(fresh);
    }
}

static void perform(struct sim *s, struct node *n)
{
    size_t na;
    const struct raft_action *acts = raft_actions(n->r, &na);
    for (size_t i = 0; i < na && !s->res->violation; i++) {
        const struct raft_action *a = &acts[i];
        switch (a->type) {
        case RAFT_ACT_SEND:
            trace(s, "n%d -> n%d %s epoch %d err %d", n->id, a->msg.to, raft_msg_name(a->msg.type), a->msg.epoch,
                  a->msg.error);
            send_msg(s, n, &a->msg);
            break;
        case RAFT_ACT_PERSIST_STATE: {
            n->qvol = (struct qfile){a->epoch, a->leader_id, a->voted_id};
            struct event *e = ev_new(s, EV_STATE_DONE, disk_done_at(s, n), (int)(n - s->nodes));
            e->seq = a->seq;
            e->q = n->qvol;
            ev_push(s, e);
            break;
        }
        case RAFT_ACT_LOG_APPEND:
            for (size_t b = 0; b < a->nbatches; b++) {
                const struct raft_batch *x = &a->batches[b];
                if (x->base_offset != img_end(&n->vol)) {
                    violation(s, "node %d: append at %lld but the log ends at %lld", n->id, (long long)x->base_offset,
                              (long long)img_end(&n->vol));
                    break;
                }
                const struct blob *bytes = NULL;
                if (x->data) {
                    bytes = blob_new(s, x->data, x->len);
                } else if (x->leader_change && ctrl_mode(s)) { /* the LeaderChange control batch, encoded */
                    uint8_t *buf;
                    size_t len;
                    int rc = ctrl_app_leader_change_batch(n->id, s->voter_ids, (size_t)s->p->voters, a->granting,
                                                          a->ngranting, x->base_offset, x->epoch, s->now, &buf, &len);
                    if (rc) {
                        violation(s, "node %d: cannot encode its LeaderChange batch: %s", n->id, ferry_strerror(rc));
                        break;
                    }
                    bytes = blob_new(s, buf, len);
                    ferry_free(buf);
                }
                if (ctrl_mode(s) && !bytes) {
                    violation(s, "node %d: appends a batch without bytes at %lld", n->id, (long long)x->base_offset);
                    break;
                }
                /* a record's identity: hash mode, the proposal's payload; ctrl mode, its batch's bytes */
                uint64_t payload = ctrl_mode(s) ? bytes_hash(bytes) : bytes ? *(const uint64_t *)bytes->p : 0;
                for (int32_t k = 0; k < x->count; k++) /* one entry per offset */
                    img_push(&n->vol, (struct entry){x->epoch, x->count, x->base_offset, payload + (uint64_t)k, bytes});
            }
            break;
        case RAFT_ACT_LOG_TRUNCATE:
            s->res->truncations++;
            if (a->offset < img_end(&n->vol))
                n->vol.n = a->offset > n->vol.log_start ? (size_t)(a->offset - n->vol.log_start) : 0;
            break;
        case RAFT_ACT_SNAPSHOT_WRITE:
            if (a->position > (int64_t)n->part_len) {
                violation(s, "node %d: snapshot chunk at %lld past the .part size %zu", n->id, (long long)a->position,
                          n->part_len);
                break;
            }
            if ((size_t)a->position + a->len > n->part_cap) {
                n->part_cap = ((size_t)a->position + a->len) * 2;
                n->part = realloc(n->part, n->part_cap);
            }
            memcpy(n->part + a->position, a->data, a->len);
            n->part_len = (size_t)a->position + a->len;
            break;
        case RAFT_ACT_SNAPSHOT_INSTALL:
            install_snapshot(s, n, a->snapshot);
            break;
        case RAFT_ACT_LOG_SYNC: {
            struct event *e = ev_new(s, EV_SYNC_DONE, disk_done_at(s, n), (int)(n - s->nodes));
            e->seq = a->seq;
            img_copy(&e->img, &n->vol);
            ev_push(s, e);
            break;
        }
        case RAFT_ACT_LOG_START:
            img_drop_prefix(&n->vol, a->offset);
            img_drop_prefix(&n->dur, a->offset);
            break;
        case RAFT_ACT_COMMIT:
            trace(s, "n%d commit %lld", n->id, (long long)a->offset);
            apply_to(s, n, a->offset);
            break;
        case RAFT_ACT_ROLE:
            trace(s, "n%d %s epoch %d leader %d", n->id, raft_role_name(a->role), a->epoch, a->leader_id);
            if (a->role == RAFT_LEADER) {
                s->res->leaders++;
                check_leader_unique(s, a->epoch, n->id);
                check_leader_complete(s, n);
            }
            break;
        case RAFT_ACT_FATAL: violation(s, "node %d: fatal: %s", n->id, a->reason); break;
        }
    }
    raft_actions_clear(n->r);
}

/* ---- node lifecycle ---- */
static void node_start(struct sim *s, struct node *n)
{
    struct raft_config cfg;
    raft_config_defaults(&cfg);
    cfg.node_id = n->id;
    cfg.voters = s->voter_ids;
    cfg.nvoters = (size_t)s->p->voters;
    cfg.election_timeout_ms = 100;
    cfg.fetch_timeout_ms = 200;
    cfg.election_backoff_max_ms = 100;
    cfg.request_timeout_ms = 60;
    cfg.fetch_max_wait_ms = 30;
    cfg.pre_vote = s->p->pre_vote;
    cfg.rand = node_rand;
    cfg.rand_arg = s;
    cfg.test_bugs = s->p->bugs;
    n->vol = (struct image){0};
    img_copy(&n->vol, &n->dur);
    n->qvol = n->qdur;
    struct raft_epoch_entry *ep = calloc(n->dur.n + 1, sizeof *ep);
    size_t nep = 0;
    for (size_t i = 0; i < n->dur.n; i++)
        if (nep == 0 || ep[nep - 1].epoch != n->dur.e[i].epoch)
            ep[nep++] = (struct raft_epoch_entry){n->dur.e[i].epoch, n->dur.log_start + (int64_t)i};
    struct raft_persisted per = {.epoch = n->qdur.epoch,
                                 .leader_id = n->qdur.leader_id,
                                 .voted_id = n->qdur.voted_id,
                                 .voters = s->voter_ids,
                                 .nvoters = (size_t)s->p->voters,
                                 .log_start_offset = n->dur.log_start,
                                 .snapshot = n->dur.snap,
                                 .log_end_offset = img_end(&n->dur),
                                 .epochs = ep,
                                 .nepochs = nep};
    int rc = raft_new(&cfg, &per, s->now, &n->r);
    free(ep);
    if (rc) {
        violation(s, "node %d cannot restart: %d", n->id, rc);
        return;
    }
    n->up = true;
    n->applied = n->dur.snap.end_offset;
    n->hash = snap_hash(s, n->dur.snap_bytes, n->applied);
    n->last_commit = raft_commit(n->r);
    if (ctrl_mode(s)) { /* the state machine restarts from the snapshot; the log replays as it commits */
        n->app = ctrl_app_new(n->id, s->p->app_bugs);
        if (n->dur.snap_bytes) {
            char err[200];
            int lrc = ctrl_app_load_snapshot(n->app, n->dur.snap_bytes->p, n->dur.snap_bytes->len, n->dur.snap.epoch,
                                             n->dur.snap.end_offset, err, sizeof err);
            if (lrc)
                violation(s, "node %d: its snapshot (%lld, %d) does not load: %s", n->id,
                          (long long)n->dur.snap.end_offset, n->dur.snap.epoch, err);
            else
                check_image(s, n, n->dur.snap.end_offset - 1);
        }
    }
    n->disk_free_at = s->now;
    trace(s, "n%d starts %s epoch %d log [%lld, %lld)", n->id, raft_role_name(raft_role(n->r)), raft_epoch(n->r),
          (long long)n->dur.log_start, (long long)img_end(&n->dur));
}

/* Node `to` sees its connection to `peer` closed (raft_peer_lost) `delay` ms from now. */
static void peer_lost_later(struct sim *s, int to, int32_t peer, int64_t delay)
{
    struct event *e = ev_new(s, EV_PEER_LOST, s->now + delay, to);
    e->inc = s->nodes[to].inc;
    e->seq = (uint64_t)peer;
    ev_push(s, e);
}

static void node_crash(struct sim *s, struct node *n)
{
    trace(s, "n%d crashes (log %lld, fsynced %lld)", n->id, (long long)img_end(&n->vol), (long long)img_end(&n->dur));
    s->res->crashes++;
    for (int i = 0; i < s->nn; i++) /* its process is gone: every peer's connection to it closes */
        if (&s->nodes[i] != n && s->nodes[i].up)
            peer_lost_later(s, i, n->id, rnd_range(s, 1, 8));
    raft_free(n->r);
    n->r = NULL;
    n->up = false;
    n->inc++;
    img_free(&n->vol);
    n->part_len = 0;
    ctrl_app_free(n->app);
    n->app = NULL;
}

static void take_snapshot(struct sim *s, struct node *n)
{
    if (n->applied <= n->dur.snap.end_offset || n->applied <= 0)
        return;
    const struct entry *last = img_at(&n->vol, n->applied - 1);
    if (!last)
        return;
    struct raft_snapshot_id id = {n->applied, last->epoch};
    if (raft_snapshot_done(n->r, s->now, id) != 0)
        return;
    trace(s, "n%d snapshot (%lld, %d)", n->id, (long long)id.end_offset, id.epoch);
    const struct blob *bytes;
    if (ctrl_mode(s)) {
        uint8_t *buf;
        size_t len;
        int rc = ctrl_app_write_snapshot(n->app, id.epoch, s->now, &buf, &len);
        if (rc) {
            violation(s, "node %d: cannot write its snapshot: %s", n->id, ferry_strerror(rc));
            return;
        }
        bytes = blob_new(s, buf, len);
        ferry_free(buf);
    } else {
        uint8_t h[SIM_HASH_SNAP_BYTES];
        for (int b = 0; b < SIM_HASH_SNAP_BYTES; b++)
            h[b] = (uint8_t)(n->hash >> (8 * b));
        bytes = blob_new(s, h, sizeof h);
    }
    n->dur.snap = n->vol.snap = id;
    n->dur.snap_bytes = n->vol.snap_bytes = bytes;
    perform(s, n);
}

/* ---- the run ---- */
static void schedule_faults(struct sim *s)
{
    int64_t d = s->p->duration_ms;
    int nfaults = (int)rnd_range(s, 0, 6);
    for (int i = 0; i < nfaults; i++) {
        int64_t at = rnd_range(s, 50, d - 50);
        int kind = (int)(rnd(s) % 5);
        int node = (int)(rnd(s) % (uint64_t)s->nn);
        if (kind == 0) {
            ev_push(s, ev_new(s, EV_CRASH, at, node));
            struct event *r = ev_new(s, EV_RESTART, at + rnd_range(s, 1, 400), node);
            ev_push(s, r);
        } else if (kind == 1) {
            struct event *p = ev_new(s, EV_PARTITION, at, -1);
            p->seq = rnd(s);
            ev_push(s, p);
            ev_push(s, ev_new(s, EV_HEAL, at + rnd_range(s, 50, 600), -1));
        } else if (kind == 2) {
            ev_push(s, ev_new(s, EV_RESIGN, at, -1));
        } else if (kind == 3) { /* a connection reset while both ends live (a spurious report) */
            struct event *e = ev_new(s, EV_PEER_LOST, at, node);
            e->inc = UINT32_MAX; /* whatever incarnation is up then */
            e->seq = (uint64_t)s->nodes[(node + 1 + (int)(rnd(s) % (uint64_t)(s->nn > 1 ? s->nn - 1 : 1))) % s->nn].id;
            ev_push(s, e);
        } else {
            ev_push(s, ev_new(s, EV_SNAPSHOT, at, node));
        }
    }
    /* a crash-restart storm: short downtimes hit writes before their fsync */
    if (rnd(s) % 2)
        for (int i = 0; i < 4; i++) {
            int64_t at = rnd_range(s, 50, d - 50);
            int node = (int)(rnd(s) % (uint64_t)s->nn);
            ev_push(s, ev_new(s, EV_CRASH, at, node));
            ev_push(s, ev_new(s, EV_RESTART, at + rnd_range(s, 1, 30), node));
        }
    for (int64_t t = 5; t < d; t += rnd_range(s, 5, 25))
        ev_push(s, ev_new(s, EV_PROPOSE, t, -1));
    for (int i = 0; i < s->nn; i++)
        ev_push(s, ev_new(s, EV_TICK, rnd_range(s, 0, 5), i));
    for (int i = 0; i < 3; i++)
        ev_push(s, ev_new(s, EV_SNAPSHOT, rnd_range(s, 100, d), (int)(rnd(s) % (uint64_t)s->nn)));
}

static void deliver(struct sim *s, struct event *e)
{
    struct node *n = &s->nodes[e->node];
    if (!n->up || e->seq != (uint64_t)n->inc)
        return;
    if (e->msg.type == RAFT_MSG_FETCH_SNAPSHOT_RESP && e->snap)
        e->msg.u.fetch_snapshot_resp.data = e->snap->p + e->msg.u.fetch_snapshot_resp.position;
    trace(s, "n%d <- n%d %s epoch %d err %d", n->id, e->msg.from, raft_msg_name(e->msg.type), e->msg.epoch,
          e->msg.error);
    if (raft_step(n->r, s->now, &e->msg) != 0)
        violation(s, "node %d refused a message", n->id);
    perform(s, n);
}

/* --app ctrl: the leader's controller decides client operations against its latest image, each into one
 * record batch. A new leader first applies its whole log (its LeaderChange batch included), then becomes
 * the active controller; from then on decisions do not wait for commits (up to SIM_MAX_UNCOMMITTED offsets
 * ahead). A burst of decisions is proposed either batch by batch or, as the real controller does with one
 * loop turn's decisions (kraftmode/kraft_raft.c), as one proposal holding all their batches. */
static bool ctrl_ready(struct sim *s, struct node *x, int64_t base)
{
    int32_t epoch = raft_epoch(x->r);
    if (!ctrl_app_active(x->app, epoch)) {
        if (x->applied < base)
            return false;
        int rc = ctrl_app_activate(x->app, epoch, base, s->now);
        if (rc) {
            violation(s, "node %d cannot become the active controller: %s", x->id, ferry_strerror(rc));
            return false;
        }
        trace(s, "n%d is the active controller of epoch %d (applied %lld)", x->id, epoch, (long long)base);
        return true;
    }
    return base - x->applied <= SIM_MAX_UNCOMMITTED;
}

static void propose_bytes(struct sim *s, struct node *x, int64_t base, int32_t count, const uint8_t *buf, size_t len)
{
    int64_t got;
    if (raft_propose(x->r, s->now, count, buf, len, &got) == 0) {
        if (got != base)
            violation(s, "node %d: a proposal encoded at %lld was appended at %lld", x->id, (long long)base,
                      (long long)got);
        perform(s, x);
    } else {
        ctrl_app_deactivate(x->app); /* its latest image holds batches the log does not */
    }
}

static void propose_decisions(struct sim *s, struct node *x, int64_t k)
{
    bool group = k > 1 && (rnd(s) & 1);
    int64_t base = raft_log_end(x->r);
    int32_t epoch = raft_epoch(x->r);
    uint8_t *gbuf = NULL; /* the grouped proposal */
    size_t glen = 0;
    int32_t gcount = 0;
    for (; k > 0 && !s->res->violation; k--) {
        int64_t at = group ? base + gcount : raft_log_end(x->r);
        if (!ctrl_ready(s, x, at))
            break;
        uint8_t *buf;
        size_t len;
        int32_t count;
        char what[256];
        int rc = ctrl_clients_step(s->clients, x->app, x->id, epoch, at, s->now, &buf, &len, &count, what,
                                   sizeof what);
        if (rc) {
            violation(s, "node %d: the controller's decision failed: %s", x->id, ferry_strerror(rc));
            break;
        }
        trace(s, "n%d controller: %s (%d records at %lld%s)", x->id, what, count, (long long)at,
              group ? ", grouped" : "");
        if (!buf)
            continue;
        if (!group) {
            propose_bytes(s, x, at, count, buf, len);
            ferry_free(buf);
            continue;
        }
        uint8_t *g = ferry_realloc(gbuf, glen + len);
        if (!g) {
            ferry_free(buf);
            violation(s, "node %d: out of memory grouping a proposal", x->id);
            break;
        }
        memcpy(g + glen, buf, len);
        gbuf = g;
        glen += len;
        gcount += count;
        ferry_free(buf);
    }
    if (gcount > 0 && !s->res->violation)
        propose_bytes(s, x, base, gcount, gbuf, glen);
    ferry_free(gbuf);
}

static void handle(struct sim *s, struct event *e)
{
    struct node *n = e->node >= 0 ? &s->nodes[e->node] : NULL;
    switch (e->type) {
    case EV_DELIVER: deliver(s, e); break;
    case EV_STATE_DONE:
        if (!n->up || e->inc != n->inc)
            break;
        n->qdur = e->q;
        raft_state_persisted(n->r, s->now, e->seq);
        perform(s, n);
        break;
    case EV_SYNC_DONE:
        if (!n->up || e->inc != n->inc)
            break;
        {
            struct raft_snapshot_id keep = n->dur.snap;
            const struct blob *keep_bytes = n->dur.snap_bytes;
            img_copy(&n->dur, &e->img);
            if (keep.end_offset > n->dur.snap.end_offset) { /* a local snapshot taken after the sync was issued */
                n->dur.snap = keep;
                n->dur.snap_bytes = keep_bytes;
                img_drop_prefix(&n->dur, keep.end_offset);
            }
        }
        raft_log_persisted(n->r, s->now, e->seq);
        perform(s, n);
        break;
    case EV_TICK:
        if (n->up) {
            raft_tick(n->r, s->now);
            perform(s, n);
        }
        ev_push(s, ev_new(s, EV_TICK, s->now + rnd_range(s, 5, 20), e->node));
        break;
    case EV_CRASH:
        if (n->up)
            node_crash(s, n);
        break;
    case EV_RESTART:
        if (!n->up)
            node_start(s, n);
        break;
    case EV_PARTITION:
        for (int i = 0; i < s->nn; i++)
            s->group[i] = (int)((e->seq >> i) & 1);
        trace(s, "partition");
        break;
    case EV_HEAL:
        memset(s->group, 0, sizeof s->group);
        trace(s, "heal");
        break;
    case EV_PROPOSE:
        for (int i = 0; i < s->nn; i++) {
            struct node *x = &s->nodes[i];
            if (!x->up || raft_role(x->r) != RAFT_LEADER)
                continue;
            if (ctrl_mode(s)) { /* a burst of requests: decisions pipeline */
                propose_decisions(s, x, rnd_range(s, 1, 3));
                continue;
            }
            uint64_t payload = rnd(s) | 1;
            int64_t base;
            int32_t count = (int32_t)rnd_range(s, 1, 3); /* batches of several records */
            if (raft_propose(x->r, s->now, count, &payload, sizeof payload, &base) == 0)
                perform(s, x);
        }
        break;
    case EV_RESIGN:
        for (int i = 0; i < s->nn; i++)
            if (s->nodes[i].up && raft_role(s->nodes[i].r) == RAFT_LEADER) {
                trace(s, "n%d resigns", s->nodes[i].id);
                raft_resign(s->nodes[i].r, s->now);
                perform(s, &s->nodes[i]);
            }
        break;
    case EV_SNAPSHOT:
        if (n->up)
            take_snapshot(s, n);
        break;
    case EV_PEER_LOST:
        if (!n->up || (e->inc != UINT32_MAX && e->inc != n->inc) || (int32_t)e->seq == n->id)
            break;
        trace(s, "n%d: connection to n%d closed", n->id, (int)e->seq);
        if (raft_peer_lost(n->r, s->now, (int32_t)e->seq) != 0)
            violation(s, "node %d refused a lost connection", n->id);
        perform(s, n);
        break;
    }
}

/* Processes events up to `until` (inclusive); later ones stay queued. */
static void run_until(struct sim *s, int64_t until, int64_t *steps)
{
    while (s->nheap && !s->res->violation && s->heap[0]->at <= until) {
        struct event *e = ev_pop(s);
        s->now = e->at;
        handle(s, e);
        ev_free(e);
        if (++*steps % 64 == 0)
            check_log_matching(s);
    }
    s->now = until;
}

/* Liveness: once the faults stop (network healed and reliable, every node up), a leader is elected, the
 * commit moves on and every node catches up with it. */
static void quiet_phase(struct sim *s, int64_t *steps)
{
    int64_t start = s->p->duration_ms;
    trace(s, "quiet: faults stop");
    memset(s->group, 0, sizeof s->group);
    s->loss_pct = s->dup_pct = 0;
    for (int i = 0; i < s->nn; i++)
        if (!s->nodes[i].up)
            node_start(s, &s->nodes[i]);
    for (size_t i = 0; i < s->nheap; i++) /* faults scheduled past the run are void */
        if (s->heap[i]->type == EV_CRASH || s->heap[i]->type == EV_PARTITION || s->heap[i]->type == EV_RESIGN ||
            (s->heap[i]->type == EV_PEER_LOST && s->heap[i]->inc == UINT32_MAX))
            s->heap[i]->type = EV_HEAL;
    int64_t before = s->max_commit;
    for (int64_t t = start + 5; t < start + SIM_QUIET_MS / 2; t += 20)
        ev_push(s, ev_new(s, EV_PROPOSE, t, -1));
    run_until(s, start + SIM_QUIET_MS, steps);
    if (s->res->violation)
        return;
    if (s->max_commit <= before) {
        violation(s, "liveness: no commit in the %d ms after the faults stopped (commit %lld)", SIM_QUIET_MS,
                  (long long)s->max_commit);
        return;
    }
    for (int i = 0; i < s->nn; i++)
        if (raft_commit(s->nodes[i].r) != s->max_commit) {
            violation(s, "liveness: node %d (%s, epoch %d) committed %lld of %lld after the faults stopped",
                      s->nodes[i].id, raft_role_name(raft_role(s->nodes[i].r)), raft_epoch(s->nodes[i].r),
                      (long long)raft_commit(s->nodes[i].r), (long long)s->max_commit);
            return;
        }
}

void raft_sim_params_default(struct raft_sim_params *p, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->seed = seed;
    p->voters = 3;
    p->observers = 1;
    p->duration_ms = 1000;
    p->pre_vote = true;
    p->app = RAFT_SIM_APP_HASH;
}

int raft_sim_run(const struct raft_sim_params *p, struct raft_sim_result *res)
{
    if (p->voters < 1 || p->voters > 7 || p->observers < 0 || p->observers > 4 || p->duration_ms < 200)
        return FERRY_EINVAL;
    memset(res, 0, sizeof *res);
    struct sim *s = calloc(1, sizeof *s);
    s->p = p;
    s->res = res;
    s->rng = p->seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    if (!s->rng)
        s->rng = 1;
    s->nn = p->voters + p->observers;
    s->loss_pct = (int)rnd_range(s, 0, 10);
    s->dup_pct = (int)rnd_range(s, 0, 5);
    if (ctrl_mode(s))
        s->clients = ctrl_clients_new(node_rand, s);
    for (int i = 0; i < s->nn; i++) {
        struct node *n = &s->nodes[i];
        n->id = i + 1;
        n->voter = i < p->voters;
        n->qdur = (struct qfile){0, -1, -1};
        if (n->voter)
            s->voter_ids[i] = n->id;
    }
    for (int i = 0; i < s->nn; i++)
        node_start(s, &s->nodes[i]);
    schedule_faults(s);
    int64_t steps = 0;
    run_until(s, p->duration_ms, &steps);
    if (!res->violation)
        quiet_phase(s, &steps);
    if (!res->violation)
        check_log_matching(s);
    res->events = steps;
    while (s->nheap)
        ev_free(ev_pop(s));
    if (s->clients) {
        const struct ctrl_clients_stats *st = ctrl_clients_stats(s->clients);
        res->ctrl_ops = st->ops;
        res->ctrl_records = st->records;
        res->ctrl_rejected = st->rejected;
        res->ctrl_fenced = st->fenced;
        ctrl_clients_free(s->clients);
    }
    for (int i = 0; i < s->nn; i++) {
        raft_free(s->nodes[i].r);
        img_free(&s->nodes[i].vol);
        img_free(&s->nodes[i].dur);
        free(s->nodes[i].part);
        ctrl_app_free(s->nodes[i].app);
    }
    while (s->blobs) {
        struct blob *b = s->blobs;
        s->blobs = b->next;
        free(b);
    }
    free(s->heap);
    free(s->epoch_leader);
    free(s->com);
    free(s);
    return 0;
}
