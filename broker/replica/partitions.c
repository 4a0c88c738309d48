/* partitions: see partitions.h. */
#include "partitions.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/log/cleaner.h"
#include "broker/log/logdir.h"
#include "broker/log/producer_snapshot.h"
#include "broker/producer/producer_log.h"

#define HOUSEKEEPING_MS 1000
#define OPEN_BATCH_MAX 256 /* new logs per worker pass: later partitions need not wait for a huge batch */

/* A partition whose new log is being created off the loop (logdir_new_log_*), queued in the order asked. */
struct rp_opening {
    struct rp_partition *p; /* everything but its log */
    struct logdir_new_log job;
    bool running;           /* in the worker's batch */
    bool cancelled;         /* removed meanwhile: the log is deleted once created */
    struct rp_opening *prev, *next; /* the queue (both: a cancellation unlinks at once) or the batch (next) */
    struct tp_link link;            /* in the manager's table of creations not cancelled */
};

/* A removed partition's log: renamed on the loop, its directory removed by a worker (logdir_delete_log_begin,
 * plog_delete_run), queued and run a batch at a time. */
struct rp_deletion {
    struct plog_deletion del;
    struct rp_deletion *next;
};

struct rp_flush_waiter {
    rp_flush_done_fn done;
    void *arg;
    struct rp_flush_waiter *next;
};

/* The hosted partitions that fetch from one leader (rp_partition.follow_prev/next). */
struct rp_follow_list {
    int32_t leader;
    struct rp_partition *head;
    size_t n;
};

struct rp_manager {
    uv_loop_t *loop;
    const struct ferry_config *cfg;
    struct logdir **dirs; /* one per log.dirs entry */
    size_t ndirs;
    int64_t broker_epoch;   /* for the clean-shutdown markers */
    int64_t last_checkpoint_ms;    /* recovery-point and log-start checkpoints */
    int64_t last_hw_checkpoint_ms; /* replication-offset-checkpoint */
    bool checkpoint_running;
    struct tp_table hosted; /* rp_partition.link */
    struct rp_watcher *watchers;
    uv_timer_t housekeeping;
    int64_t last_retention_ms;
    int flushes_running;    /* flushes and the clean (a clean holds its partition's flush_running) */
    bool clean_running;     /* one log compaction at a time */
    bool closing;
    bool timer_closed;
    /* new logs created off the loop: one batch at a time (so that two jobs for one partition never run at
     * once), then one filesystem sync per log directory for everything created (logdir_sync_*) */
    struct tp_table opening; /* rp_opening.link: queued or running, not cancelled */
    struct rp_opening *open_head, *open_tail;
    bool open_running;
    bool sync_running;
    struct rp_deletion *delete_queue, **delete_tail;
    bool delete_running;
    rp_opened_fn opened;
    void *opened_arg;
    struct rp_follow_list *follows; /* one per leader ever followed (a few: one per broker) */
    size_t nfollows;
    /* the hosted partitions with periodic work (busy_needed): the housekeeping pass visits these every
     * second and every hosted partition only when retention is checked */
    struct rp_partition *busy;
};

struct flush_work {
    uv_work_t work;
    struct rp_manager *m;
    struct rp_partition *p;
    struct plog_flush f;
    int rc;
    struct rp_flush_waiter *waiters; /* completed by this flush */
};

int64_t rp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The hosted partition of a link of m->hosted. */
#define HOSTED(l) TP_ENTRY(l, struct rp_partition, link)

static void plog_config_from_topic(struct plog_config *pc, const struct topic_config *tc)
{
    plog_config_default(pc);
    pc->segment_bytes = tc->segment_bytes;
    pc->segment_ms = tc->segment_ms;
    pc->retention_ms = tc->retention_ms;
    pc->retention_bytes = tc->retention_bytes;
    pc->flush_messages = tc->flush_messages;
    pc->flush_ms = tc->flush_ms;
    pc->index_interval_bytes = tc->index_interval_bytes;
    pc->segment_index_bytes = tc->segment_index_bytes;
    pc->file_delete_delay_ms = tc->file_delete_delay_ms;
    pc->cleanup_delete = (tc->cleanup_policy & CONFIG_CLEANUP_DELETE) != 0;
    pc->cleanup_compact = (tc->cleanup_policy & CONFIG_CLEANUP_COMPACT) != 0;
    pc->delete_retention_ms = tc->delete_retention_ms;
    pc->min_compaction_lag_ms = tc->min_compaction_lag_ms;
    pc->max_compaction_lag_ms = tc->max_compaction_lag_ms;
    pc->min_cleanable_dirty_ratio = tc->min_cleanable_dirty_ratio;
}

static void start_flush(struct rp_manager *m, struct rp_partition *p);
static void maybe_start_clean(struct rp_manager *m, struct rp_partition *p, int64_t now);
static void start_open_batch(struct rp_manager *m);
static void start_sync(struct rp_manager *m);
static void start_delete_batch(struct rp_manager *m);

struct checkpoint_work {
    uv_work_t work;
    struct rp_manager *m;
    struct logdir_checkpoint *cps;
    size_t n;
};

static void checkpoint_run(uv_work_t *w)
{
    struct checkpoint_work *cw = (struct checkpoint_work *)w;
    for (size_t i = 0; i < cw->n; i++)
        if (logdir_checkpoint_write(&cw->cps[i]) != 0)
            LOG_ERROR("replica", "cannot write the checkpoints of a log directory (%s)",
                      cw->cps[i].hw_path ? cw->cps[i].hw_path : cw->cps[i].recovery_path);
}

static void manager_maybe_free(struct rp_manager *m);

static void checkpoint_done(uv_work_t *w, int status)
{
    struct checkpoint_work *cw = (struct checkpoint_work *)w;
    for (size_t i = 0; i < cw->n; i++)
        logdir_checkpoint_free(&cw->cps[i]);
    ferry_free(cw->cps);
    cw->m->checkpoint_running = false;
    manager_maybe_free(cw->m);
    ferry_free(cw);
}

/* Hands every hosted partition's high watermark to its log, for replication-offset-checkpoint. */
static void high_watermarks_to_logs(struct rp_manager *m)
{
    for (size_t b = 0; b < m->hosted.nbuckets; b++)
        for (struct tp_link *l = m->hosted.buckets[b]; l; l = l->next)
            plog_set_checkpoint_hw(HOSTED(l)->log, HOSTED(l)->high_watermark);
}

/* Writes every directory's checkpoints (`what`: LOGDIR_CKPT_*) from a worker thread. */
static void start_checkpoint(struct rp_manager *m, unsigned what)
{
    struct checkpoint_work *cw = ferry_calloc(1, sizeof *cw);
    struct logdir_checkpoint *cps = ferry_calloc(m->ndirs + 1, sizeof *cps);
    if (!cw || !cps) {
        ferry_free(cw);
        ferry_free(cps);
        return;
    }
    if (what & LOGDIR_CKPT_HIGH_WATERMARK)
        high_watermarks_to_logs(m);
    for (size_t i = 0; i < m->ndirs; i++) {
        if (logdir_checkpoint_collect(m->dirs[i], what, &cps[cw->n]) == 0)
            cw->n++;
    }
    cw->m = m;
    cw->cps = cps;
    m->checkpoint_running = true;
    uv_queue_work(m->loop, &cw->work, checkpoint_run, checkpoint_done);
}

/* ---- the partitions with periodic work ---- */

/* Whether the housekeeping pass has work for p: a flush or compaction running (its completion may leave
 * more), a flush that is due or will be by flush.ms, segment files awaiting deletion, producer state to
 * expire, or a compacted log. */
static bool busy_needed(const struct rp_manager *m, const struct rp_partition *p, int64_t now)
{
    return p->flush_running || plog_has_periodic_work(p->log, now) || p->producers.n > 0 ||
           (m->cfg->log_cleaner_enable && p->config.cleanup_policy & CONFIG_CLEANUP_COMPACT);
}

/* p may have periodic work now (an append, a truncation, a new log start, a new config, just hosted). */
static void busy_add(struct rp_manager *m, struct rp_partition *p)
{
    if (p->busy || p->removed)
        return;
    p->busy = true;
    p->busy_prev = NULL;
    p->busy_next = m->busy;
    if (m->busy)
        m->busy->busy_prev = p;
    m->busy = p;
}

static void busy_remove(struct rp_manager *m, struct rp_partition *p)
{
    if (!p->busy)
        return;
    if (p->busy_prev)
        p->busy_prev->busy_next = p->busy_next;
    else
        m->busy = p->busy_next;
    if (p->busy_next)
        p->busy_next->busy_prev = p->busy_prev;
    p->busy_prev = p->busy_next = NULL;
    p->busy = false;
}

/* One partition's periodic work (retention when it is due), then whether it stays busy. */
static void housekeep(struct rp_manager *m, struct rp_partition *p, int64_t now, bool retention)
{
    if (!p->flush_running && plog_flush_due(p->log, now))
        start_flush(m, p);
    if (retention && !p->flush_running) {
        int n = plog_apply_retention(p->log, now, p->high_watermark);
        if (n > 0) {
            LOG_INFO("replica", "%s-%d: retention deleted %d segment(s), log start offset now %lld", p->topic,
                     p->index, n, (long long)plog_log_start_offset(p->log));
            log_psnap_delete_below(plog_dir(p->log), plog_log_start_offset(p->log));
        }
    }
    prod_state_expire(&p->producers, now, m->cfg->producer_id_expiration_ms);
    if (!p->flush_running)
        maybe_start_clean(m, p, now);
    plog_housekeeping(p->log, now);
    if (busy_needed(m, p, now))
        busy_add(m, p);
    else
        busy_remove(m, p);
}

size_t rp_busy_count(struct rp_manager *m)
{
    size_t n = 0;
    for (const struct rp_partition *p = m->busy; p; p = p->busy_next)
        n++;
    return n;
}

static void housekeeping_tick(uv_timer_t *t)
{
    struct rp_manager *m = t->data;
    int64_t now = rp_now_ms();
    if (!m->checkpoint_running) {
        unsigned what = 0;
        if (now - m->last_checkpoint_ms >= m->cfg->log_flush_offset_checkpoint_interval_ms) {
            m->last_checkpoint_ms = now;
            what |= LOGDIR_CKPT_OFFSETS;
        }
        if (now - m->last_hw_checkpoint_ms >= m->cfg->replica_high_watermark_checkpoint_interval_ms) {
            m->last_hw_checkpoint_ms = now;
            what |= LOGDIR_CKPT_HIGH_WATERMARK;
        }
        if (what)
            start_checkpoint(m, what);
    }
    bool retention = now - m->last_retention_ms >= m->cfg->log_retention_check_interval_ms;
    if (retention) { /* every hosted partition (time-based retention needs no event) */
        m->last_retention_ms = now;
        for (size_t b = 0; b < m->hosted.nbuckets; b++)
            for (struct tp_link *l = m->hosted.buckets[b]; l; l = l->next)
                housekeep(m, HOSTED(l), now, true);
    } else { /* only those with periodic work: an idle partition costs nothing */
        for (struct rp_partition *p = m->busy, *next; p; p = next) {
            next = p->busy_next;
            housekeep(m, p, now, false);
        }
    }
    start_open_batch(m);   /* retries after an allocation failure */
    start_sync(m);         /* and after a failed sync */
    start_delete_batch(m); /* and after an allocation failure */
}

int rp_manager_new(uv_loop_t *loop, const struct ferry_config *cfg, struct rp_manager **out, char *err,
                   size_t errlen)
{
    struct rp_manager *m = ferry_calloc(1, sizeof *m);
    if (!m || !(m->dirs = ferry_calloc(cfg->log_dirs.count + 1, sizeof *m->dirs))) {
        ferry_free(m);
        snprintf(err, errlen, "out of memory");
        return FERRY_ENOMEM;
    }
    tp_table_init(&m->hosted);
    tp_table_init(&m->opening);
    m->loop = loop;
    m->cfg = cfg;
    m->broker_epoch = -1;
    m->delete_tail = &m->delete_queue;
    int64_t now = rp_now_ms();
    struct plog_config defaults;
    plog_config_default(&defaults);
    for (size_t i = 0; i < cfg->log_dirs.count; i++) {
        const char *path = cfg->log_dirs.items[i];
        int rc = logdir_open(path, &m->dirs[m->ndirs]);
        if (rc) {
            snprintf(err, errlen, "cannot use log directory %s (log.dirs): %s%s", path, ferry_strerror(rc),
                     rc == FERRY_EEXIST ? " (another process holds its .lock)" : "");
            goto err_after_dirs;
        }
        m->ndirs++;
        rc = logdir_load_logs(m->dirs[i], &defaults, now);
        if (rc < 0) {
            snprintf(err, errlen, "cannot load the partition logs of %s: %s", path, ferry_strerror(rc));
            goto err_after_dirs;
        }
    }
    m->last_retention_ms = now;
    m->last_checkpoint_ms = now;
    m->last_hw_checkpoint_ms = now;
    uv_timer_init(loop, &m->housekeeping);
    m->housekeeping.data = m;
    uv_timer_start(&m->housekeeping, housekeeping_tick, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
    *out = m;
    return 0;

err_after_dirs:
    for (size_t i = 0; i < m->ndirs; i++)
        logdir_close_abandon(m->dirs[i]);
    ferry_free(m->dirs);
    ferry_free(m);
    return FERRY_EIO;
}

/* ---- the partitions followed per leader ---- */

static struct rp_follow_list *follow_list(struct rp_manager *m, int32_t leader, bool create)
{
    for (size_t i = 0; i < m->nfollows; i++)
        if (m->follows[i].leader == leader)
            return &m->follows[i];
    if (!create)
        return NULL;
    struct rp_follow_list *v = ferry_realloc(m->follows, sizeof *v * (m->nfollows + 1));
    if (!v)
        return NULL;
    m->follows = v;
    v[m->nfollows] = (struct rp_follow_list){.leader = leader};
    return &v[m->nfollows++];
}

static void follow_unlink(struct rp_manager *m, struct rp_partition *p)
{
    struct rp_follow_list *fl = p->following >= 0 ? follow_list(m, p->following, false) : NULL;
    if (!fl)
        return;
    if (p->follow_prev)
        p->follow_prev->follow_next = p->follow_next;
    else
        fl->head = p->follow_next;
    if (p->follow_next)
        p->follow_next->follow_prev = p->follow_prev;
    p->follow_prev = p->follow_next = NULL;
    p->following = -1;
    fl->n--;
}

/* Moves a hosted partition to the list of the leader it fetches from now (none: out of every list). A new
 * member goes first: a delta changes a topic's partitions one after another, so they lie together (a
 * fetcher groups its request by topic). */
static void follow_update(struct rp_manager *m, struct rp_partition *p)
{
    int32_t want = !p->removed && p->leader_id >= 0 && rp_partition_fetches_from(p, p->leader_id) ? p->leader_id : -1;
    if (want == p->following)
        return;
    follow_unlink(m, p);
    struct rp_follow_list *fl = want >= 0 ? follow_list(m, want, true) : NULL;
    if (!fl) {
        if (want >= 0)
            LOG_ERROR("replica", "%s-%d: out of memory listing the partition under leader %d", p->topic, p->index, want);
        return;
    }
    p->follow_prev = NULL;
    p->follow_next = fl->head;
    if (fl->head)
        fl->head->follow_prev = p;
    fl->head = p;
    p->following = want;
    fl->n++;
}

struct rp_partition *rp_following_first(struct rp_manager *m, int32_t leader)
{
    struct rp_follow_list *fl = follow_list(m, leader, false);
    return fl ? fl->head : NULL;
}

struct rp_partition *rp_following_next(const struct rp_partition *p) { return p->follow_next; }

size_t rp_following_count(struct rp_manager *m, int32_t leader)
{
    struct rp_follow_list *fl = follow_list(m, leader, false);
    return fl ? fl->n : 0;
}

size_t rp_following_leaders(struct rp_manager *m, int32_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nfollows; i++)
        if (m->follows[i].n > 0) {
            if (n < cap)
                out[n] = m->follows[i].leader;
            n++;
        }
    return n;
}

static void partition_free(struct rp_partition *p)
{
    rp_leader_free(&p->repl);
    prod_state_free(&p->producers);
    ferry_free(p->topic);
    ferry_free(p);
}

/* The manager closes its log directories and frees itself once its timer is closed and no worker
 * (flush, checkpoint, log creation or deletion) still refers to it. */
static void manager_maybe_free(struct rp_manager *m)
{
    if (!m->closing || !m->timer_closed || m->flushes_running > 0 || m->checkpoint_running || m->open_running ||
        m->sync_running || m->delete_running)
        return;
    while (m->delete_queue) { /* left by an allocation failure: removed here */
        struct rp_deletion *x = m->delete_queue;
        m->delete_queue = x->next;
        plog_delete_run(&x->del);
        ferry_free(x);
    }
    for (size_t i = 0; i < m->ndirs; i++) {
        const char *path = m->cfg->log_dirs.items[i];
        int rc = logdir_close(m->dirs[i], m->broker_epoch);
        if (rc)
            LOG_ERROR("replica", "closing log directory %s: %s", path, ferry_strerror(rc));
    }
    ferry_free(m->dirs);
    tp_table_free(&m->hosted);
    tp_table_free(&m->opening);
    ferry_free(m->follows);
    ferry_free(m);
}

/* ---- deletion of removed partitions' logs, off the loop ---- */

struct delete_work {
    uv_work_t work;
    struct rp_manager *m;
    struct rp_deletion *batch;
};

static void delete_work_run(uv_work_t *w)
{
    for (struct rp_deletion *x = ((struct delete_work *)w)->batch; x; x = x->next)
        plog_delete_run(&x->del); /* logs its outcome */
}

static void delete_work_done(uv_work_t *w, int status)
{
    struct delete_work *dw = (struct delete_work *)w;
    struct rp_manager *m = dw->m;
    struct rp_deletion *x = dw->batch;
    ferry_free(dw);
    while (x) {
        struct rp_deletion *next = x->next;
        if (status < 0) /* the worker never ran: removed here */
            plog_delete_run(&x->del);
        ferry_free(x);
        x = next;
    }
    m->delete_running = false;
    start_delete_batch(m);
    manager_maybe_free(m);
}

/* Runs every queued deletion in one worker pass (also while closing: the manager waits for them). */
static void start_delete_batch(struct rp_manager *m)
{
    if (m->delete_running || !m->delete_queue)
        return;
    struct delete_work *dw = ferry_calloc(1, sizeof *dw);
    if (!dw)
        return; /* the housekeeping timer tries again */
    dw->m = m;
    dw->batch = m->delete_queue;
    m->delete_queue = NULL;
    m->delete_tail = &m->delete_queue;
    m->delete_running = true;
    if (uv_queue_work(m->loop, &dw->work, delete_work_run, delete_work_done) != 0)
        delete_work_done(&dw->work, UV_EINVAL);
}

/* Deletes a removed partition's log (the caller frees the partition): its directory is renamed to
 * `-delete` now and removed by a worker (on the loop only when there is no memory for the job). */
static void delete_log(struct rp_manager *m, struct rp_partition *p)
{
    struct rp_deletion *x = ferry_calloc(1, sizeof *x);
    int rc = x ? logdir_delete_log_begin(p->dir, p->log, &x->del) : logdir_delete_log(p->dir, p->log);
    if (rc)
        LOG_ERROR("replica", "%s-%d: deleting log failed: %s", p->topic, p->index, ferry_strerror(rc));
    if (rc || !x) {
        ferry_free(x);
        return;
    }
    *m->delete_tail = x;
    m->delete_tail = &x->next;
    start_delete_batch(m);
}

static void manager_closed(uv_handle_t *h)
{
    struct rp_manager *m = h->data;
    m->timer_closed = true;
    manager_maybe_free(m);
}

void rp_manager_close(struct rp_manager *m, int64_t broker_epoch)
{
    m->closing = true;
    m->broker_epoch = broker_epoch;
    high_watermarks_to_logs(m); /* written by logdir_close with the other checkpoints */
    while (m->watchers) {
        struct rp_watcher *w = m->watchers;
        rp_unwatch(m, w);
        w->cancel(w);
    }
    while (m->open_head) { /* never created; a running batch's logs are closed with their directories */
        struct rp_opening *o = m->open_head;
        m->open_head = o->next;
        logdir_new_log_free(&o->job);
        partition_free(o->p);
        ferry_free(o);
    }
    m->open_tail = NULL;
    tp_table_free(&m->opening); /* the running batch's completion finds nothing to take out */
    for (size_t b = 0; b < m->hosted.nbuckets; b++) {
        struct tp_link *l = m->hosted.buckets[b];
        while (l) {
            struct tp_link *next = l->next;
            struct rp_partition *p = HOSTED(l);
            /* clean shutdown: the producer state as of the log end, so the next start needs no replay */
            prod_log_snapshot(&p->producers, p->log, plog_log_end_offset(p->log), true);
            if (p->flush_running)
                p->removed = true; /* the running flush's completion frees the partition */
            else
                partition_free(p); /* its log is closed with its directory */
            l = next;
        }
    }
    tp_table_free(&m->hosted);
    m->busy = NULL;
    uv_timer_stop(&m->housekeeping);
    uv_close((uv_handle_t *)&m->housekeeping, manager_closed);
}

struct rp_partition *rp_partition_get(struct rp_manager *m, proto_str topic, int32_t index)
{
    if (topic.len < 0)
        return NULL;
    struct tp_link *l = tp_table_find(&m->hosted, topic.p, (size_t)topic.len, index);
    return l ? HOSTED(l) : NULL;
}

/* The rest of opening a partition once its log exists: config, high watermark, producer state, lookup. */
static void partition_attach(struct rp_manager *m, struct rp_partition *p)
{
    struct plog_config pc;
    plog_config_from_topic(&pc, &p->config);
    plog_set_config(p->log, &pc);
    proto_uuid on_disk;
    if (plog_topic_id(p->log, &on_disk) && memcmp(on_disk.b, p->topic_id.b, 16) != 0)
        LOG_WARN("replica", "%s-%d: partition.metadata holds another topic id than the metadata", p->topic, p->index);
    /* the checkpointed high watermark (replication-offset-checkpoint), else the log end as if the leader
       alone were in the ISR */
    int64_t checkpointed = plog_checkpoint_hw(p->log);
    p->high_watermark = checkpointed >= 0 ? checkpointed : plog_log_end_offset(p->log);
    p->leader_id = -1;
    p->following = -1;
    p->follow_prev = p->follow_next = NULL;
    rp_leader_init(&p->repl);
    prod_state_init(&p->producers);
    prod_log_load(&p->producers, p->log);
    tp_table_insert(&m->hosted, &p->link, p->topic, p->index);
    p->busy = false;
    busy_add(m, p); /* the first pass finds out whether it has work */
}

/* The queued or running creation of (topic, index) that was not cancelled, or NULL. */
static struct rp_opening *opening_find(struct rp_manager *m, proto_str topic, int32_t index)
{
    if (topic.len < 0)
        return NULL;
    struct tp_link *l = tp_table_find(&m->opening, topic.p, (size_t)topic.len, index);
    return l ? TP_ENTRY(l, struct rp_opening, link) : NULL;
}

static void queue_unlink(struct rp_manager *m, struct rp_opening *o)
{
    if (o->prev)
        o->prev->next = o->next;
    else
        m->open_head = o->next;
    if (o->next)
        o->next->prev = o->prev;
    else
        m->open_tail = o->prev;
    o->prev = o->next = NULL;
}

/* A new log: created by a worker; the partition is hosted (rp_partition_get, the opened callback) once
 * it exists. */
static int queue_opening(struct rp_manager *m, struct rp_partition *p, const struct plog_config *pc)
{
    struct rp_opening *o = ferry_calloc(1, sizeof *o);
    if (!o)
        return FERRY_ENOMEM;
    int rc = logdir_new_log_init(p->dir, p->topic, p->index, pc, &p->topic_id, rp_now_ms(), &o->job);
    if (rc) {
        ferry_free(o);
        return rc;
    }
    o->p = p;
    o->prev = m->open_tail;
    if (m->open_tail)
        m->open_tail->next = o;
    else
        m->open_head = o;
    m->open_tail = o;
    tp_table_insert(&m->opening, &o->link, p->topic, p->index);
    start_open_batch(m);
    return 0;
}

int rp_partition_open(struct rp_manager *m, const char *topic, int32_t index, proto_uuid topic_id,
                      const struct topic_config *config, int32_t leader_epoch, struct rp_partition **out)
{
    if (out)
        *out = NULL;
    struct rp_partition *p = rp_partition_get(m, proto_str_from(topic), index);
    if (p) { /* the leader epoch of a hosted partition changes through make_leader / make_follower */
        if (out)
            *out = p;
        return 0;
    }
    if (opening_find(m, proto_str_from(topic), index))
        return 0; /* being created: the opened callback reports it */
    p = ferry_calloc(1, sizeof *p);
    if (!p)
        return FERRY_ENOMEM;
    p->topic = ferry_strdup(topic);
    if (!p->topic) {
        ferry_free(p);
        return FERRY_ENOMEM;
    }
    p->index = index;
    p->topic_id = topic_id;
    p->config = *config;
    p->leader_epoch = leader_epoch;
    struct plog_config pc;
    plog_config_from_topic(&pc, config);
    /* a log already on disk stays where it is; a new one goes to the directory with the fewest logs */
    for (size_t i = 0; i < m->ndirs && !p->dir; i++)
        if (logdir_find(m->dirs[i], topic, index))
            p->dir = m->dirs[i];
    bool existing = p->dir != NULL;
    if (!p->dir)
        for (size_t i = 0; i < m->ndirs; i++)
            if (!p->dir || logdir_log_count(m->dirs[i]) < logdir_log_count(p->dir))
                p->dir = m->dirs[i];
    if (!p->dir) {
        partition_free(p);
        return FERRY_EINVAL;
    }
    int rc = existing ? logdir_create_log(p->dir, topic, index, &pc, &p->topic_id, rp_now_ms(), &p->log)
                      : queue_opening(m, p, &pc);
    if (rc) {
        LOG_ERROR("replica", "cannot open log %s-%d in %s: %s", topic, index, logdir_path(p->dir),
                  ferry_strerror(rc));
        partition_free(p);
        return rc;
    }
    if (!existing)
        return 0;
    partition_attach(m, p);
    if (out)
        *out = p;
    return 0;
}

void rp_manager_set_opened(struct rp_manager *m, rp_opened_fn fn, void *arg)
{
    m->opened = fn;
    m->opened_arg = arg;
}

bool rp_partition_opening(struct rp_manager *m, const char *topic, int32_t index)
{
    return opening_find(m, proto_str_from(topic), index) != NULL;
}

struct open_work {
    uv_work_t work;
    struct rp_manager *m;
    struct rp_opening *batch;
};

static void open_work_run(uv_work_t *w)
{
    struct open_work *ow = (struct open_work *)w;
    for (struct rp_opening *o = ow->batch; o; o = o->next)
        logdir_new_log_run(&o->job);
}

/* Adopts the batch's logs; the partitions still wanted are hosted and reported to the opened callback. */
static void open_work_done(uv_work_t *w, int status)
{
    struct open_work *ow = (struct open_work *)w;
    struct rp_manager *m = ow->m;
    m->open_running = false;
    size_t n = 0, cap = 0;
    for (struct rp_opening *o = ow->batch; o; o = o->next)
        cap++;
    struct rp_partition **ready = ferry_calloc(cap + 1, sizeof *ready);
    struct rp_opening *o = ow->batch;
    ferry_free(ow);
    while (o) {
        struct rp_opening *next = o->next;
        struct rp_partition *p = o->p;
        if (!o->cancelled) /* a cancelled one already left the table */
            tp_table_remove(&m->opening, &o->link);
        if (status < 0)
            o->job.rc = FERRY_EIO; /* the worker never ran: created on the loop instead */
        int rc = logdir_new_log_finish(&o->job, &p->log);
        if (rc) {
            LOG_ERROR("replica", "cannot open log %s-%d in %s: %s", p->topic, p->index, logdir_path(p->dir),
                      ferry_strerror(rc));
            partition_free(p);
        } else if (m->closing) {
            partition_free(p); /* its log is closed with its directory */
        } else if (o->cancelled) {
            delete_log(m, p);
            partition_free(p);
        } else {
            partition_attach(m, p);
            if (ready)
                ready[n++] = p;
            else if (m->opened) /* no memory for the list: one at a time */
                m->opened(m->opened_arg, &p, 1);
        }
        ferry_free(o);
        o = next;
    }
    if (n > 0 && m->opened)
        m->opened(m->opened_arg, ready, n);
    ferry_free(ready);
    start_sync(m);
    start_open_batch(m);
    manager_maybe_free(m);
}

static void start_open_batch(struct rp_manager *m)
{
    if (m->open_running || !m->open_head || m->closing)
        return;
    struct open_work *ow = ferry_calloc(1, sizeof *ow);
    if (!ow)
        return; /* the housekeeping timer tries again */
    struct rp_opening **tail = &ow->batch;
    for (int i = 0; i < OPEN_BATCH_MAX && m->open_head; i++) {
        struct rp_opening *o = m->open_head;
        queue_unlink(m, o);
        o->running = true;
        *tail = o;
        tail = &o->next;
    }
    ow->m = m;
    m->open_running = true;
    uv_queue_work(m->loop, &ow->work, open_work_run, open_work_done);
}

struct sync_work {
    uv_work_t work;
    struct rp_manager *m;
    size_t n;
    struct logdir_sync *syncs;
    size_t *dirs; /* index in m->dirs of each sync */
    int *rcs;
};

static void sync_work_run(uv_work_t *w)
{
    struct sync_work *sw = (struct sync_work *)w;
    for (size_t i = 0; i < sw->n; i++)
        sw->rcs[i] = logdir_sync_run(&sw->syncs[i]);
}

static void sync_work_free(struct sync_work *sw)
{
    ferry_free(sw->syncs);
    ferry_free(sw->dirs);
    ferry_free(sw->rcs);
    ferry_free(sw);
}

static void sync_work_done(uv_work_t *w, int status)
{
    struct sync_work *sw = (struct sync_work *)w;
    struct rp_manager *m = sw->m;
    bool failed = false;
    for (size_t i = 0; i < sw->n; i++) {
        int rc = status < 0 ? FERRY_EIO : sw->rcs[i];
        failed = failed || rc != 0;
        logdir_sync_end(m->dirs[sw->dirs[i]], &sw->syncs[i], rc);
    }
    sync_work_free(sw);
    m->sync_running = false;
    if (!failed) /* logs created meanwhile; after a failure the housekeeping timer retries */
        start_sync(m);
    manager_maybe_free(m);
}

/* One filesystem sync per log directory holding logs created off the loop and not yet durable. */
static void start_sync(struct rp_manager *m)
{
    if (m->sync_running || m->closing)
        return;
    struct sync_work *sw = ferry_calloc(1, sizeof *sw);
    if (!sw || !(sw->syncs = ferry_calloc(m->ndirs + 1, sizeof *sw->syncs)) ||
        !(sw->dirs = ferry_calloc(m->ndirs + 1, sizeof *sw->dirs)) ||
        !(sw->rcs = ferry_calloc(m->ndirs + 1, sizeof *sw->rcs))) {
        if (sw)
            sync_work_free(sw);
        return;
    }
    for (size_t i = 0; i < m->ndirs; i++)
        if (logdir_sync_begin(m->dirs[i], &sw->syncs[sw->n]))
            sw->dirs[sw->n++] = i;
    if (sw->n == 0) {
        sync_work_free(sw);
        return;
    }
    sw->m = m;
    m->sync_running = true;
    uv_queue_work(m->loop, &sw->work, sync_work_run, sync_work_done);
}

void rp_topic_config_changed(struct rp_manager *m, const char *topic, const struct topic_config *config)
{
    struct plog_config pc;
    plog_config_from_topic(&pc, config);
    for (size_t b = 0; b < m->hosted.nbuckets; b++)
        for (struct tp_link *l = m->hosted.buckets[b]; l; l = l->next) {
            struct rp_partition *p = HOSTED(l);
            if (strcmp(p->topic, topic) == 0) {
                p->config = *config;
                plog_set_config(p->log, &pc);
                busy_add(m, p); /* e.g. compaction turned on, or a shorter flush.ms */
            }
        }
}

void rp_partition_remove(struct rp_manager *m, const char *topic, int32_t index)
{
    struct rp_partition *p = rp_partition_get(m, proto_str_from(topic), index);
    if (p) {
        tp_table_remove(&m->hosted, &p->link);
        follow_unlink(m, p);
        busy_remove(m, p);
        if (p->flush_running) {
            p->removed = true; /* deleted when the running flush completes */
            return;
        }
        delete_log(m, p);
        partition_free(p);
        return;
    }
    struct rp_opening *o = opening_find(m, proto_str_from(topic), index);
    if (!o)
        return;
    tp_table_remove(&m->opening, &o->link);
    if (o->running) { /* the worker is creating it: deleted once created */
        o->cancelled = true;
        return;
    }
    queue_unlink(m, o); /* still queued: never created */
    logdir_new_log_free(&o->job);
    partition_free(o->p);
    ferry_free(o);
}

/* Wakes every watcher about p (after an append or a high-watermark move). */
static void notify_all(struct rp_manager *m, struct rp_partition *p)
{
    struct rp_watcher *w = m->watchers;
    while (w) {
        struct rp_watcher *next = w->next; /* notify may unwatch w */
        w->notify(w, p);
        w = next;
    }
}

int rp_append(struct rp_manager *m, struct rp_partition *p, uint8_t *batches, size_t len, int64_t now_ms,
              struct plog_append_info *info)
{
    unsigned flags = p->config.message_timestamp_type == CONFIG_TIMESTAMP_LOG_APPEND_TIME
                         ? PLOG_APPEND_LOG_APPEND_TIME
                         : 0;
    size_t segments = plog_segment_count(p->log);
    int64_t end = plog_log_end_offset(p->log);
    int rc = plog_append(p->log, batches, len, p->leader_epoch, now_ms, flags, info);
    busy_add(m, p); /* unflushed data, producer state */
    if (rc)
        return rc;
    if (plog_segment_count(p->log) > segments) /* rolled: the new segment starts at the old log end */
        prod_log_snapshot(&p->producers, p->log, end, false);
    if (prod_log_replay(&p->producers, batches, len))
        LOG_ERROR("replica", "%s-%d: out of memory recording producer state", p->topic, p->index);
    if (p->is_leader)
        rp_leader_update_hw(&p->repl, plog_log_end_offset(p->log), now_ms, m->cfg->replica_lag_time_max_ms);
    else
        p->high_watermark = plog_log_end_offset(p->log); /* not led through the image (tools, tests) */
    if (p->is_leader)
        p->high_watermark = p->repl.high_watermark;
    notify_all(m, p);
    return 0;
}

int rp_partition_make_leader(struct rp_manager *m, struct rp_partition *p, int32_t self, int32_t leader_epoch,
                             int32_t partition_epoch, const int32_t *replicas, int32_t nreplicas, const int32_t *isr,
                             int32_t nisr)
{
    int64_t end = plog_log_end_offset(p->log);
    int rc = rp_leader_sync(&p->repl, self, leader_epoch, partition_epoch, replicas, nreplicas, isr, nisr, end,
                            p->high_watermark, rp_now_ms());
    if (rc)
        return rc;
    if (!p->is_leader || p->leader_epoch != leader_epoch)
        LOG_INFO("replica", "%s-%d: leader at epoch %d (log end %lld, high watermark %lld, isr of %d)", p->topic,
                 p->index, leader_epoch, (long long)end, (long long)p->repl.high_watermark, nisr);
    p->is_leader = true;
    p->leader_id = self;
    p->leader_epoch = leader_epoch;
    follow_update(m, p);
    rp_partition_update_hw(m, p);
    p->high_watermark = p->repl.high_watermark;
    notify_all(m, p); /* parked requests re-check leadership */
    return 0;
}

void rp_partition_make_follower(struct rp_manager *m, struct rp_partition *p, int32_t leader, int32_t leader_epoch)
{
    if (p->is_leader || p->leader_id != leader || p->leader_epoch != leader_epoch) {
        LOG_INFO("replica", "%s-%d: follower of %d at epoch %d", p->topic, p->index, leader, leader_epoch);
        p->truncate_check = true;
    }
    bool was_leader = p->is_leader;
    p->is_leader = false;
    p->leader_id = leader;
    p->leader_epoch = leader_epoch;
    follow_update(m, p);
    if (was_leader)
        rp_leader_free(&p->repl);
    notify_all(m, p); /* parked produces and fetches answer NOT_LEADER_OR_FOLLOWER */
}

/* Sets the flag only: rp_set_fetching keeps a hosted partition's following list in step. */
static bool set_fetching(struct rp_partition *p, bool on)
{
    if (p->fetch_stopped == !on)
        return false;
    p->fetch_stopped = !on;
    if (on)
        p->truncate_check = true; /* the leader may have moved on while stopped */
    LOG_INFO("replica", "%s-%d: fetching %s", p->topic, p->index, on ? "started again" : "stopped");
    return true;
}

bool rp_set_fetching(struct rp_manager *m, proto_str topic, int32_t index, bool on)
{
    struct rp_partition *p = rp_partition_get(m, topic, index);
    if (p) {
        bool changed = set_fetching(p, on);
        follow_update(m, p);
        return changed;
    }
    struct rp_opening *o = opening_find(m, topic, index);
    if (o) /* being created: hosted with this setting (partition_attach keeps it) */
        set_fetching(o->p, on);
    return false;
}

bool rp_partition_fetches_from(const struct rp_partition *p, int32_t leader)
{
    return !p->is_leader && !p->fetch_stopped && p->leader_id == leader;
}

bool rp_partition_update_hw(struct rp_manager *m, struct rp_partition *p)
{
    if (!p->is_leader)
        return false;
    bool moved = rp_leader_update_hw(&p->repl, plog_log_end_offset(p->log), rp_now_ms(), m->cfg->replica_lag_time_max_ms);
    p->high_watermark = p->repl.high_watermark;
    if (moved)
        notify_all(m, p);
    return moved;
}

bool rp_partition_follower_fetched(struct rp_manager *m, struct rp_partition *p, int32_t replica_id,
                                   int64_t fetch_offset)
{
    if (!p->is_leader)
        return false;
    if (!rp_leader_follower_fetch(&p->repl, replica_id, fetch_offset, plog_log_end_offset(p->log), rp_now_ms()))
        return false;
    rp_partition_update_hw(m, p);
    return true;
}

int rp_append_follower(struct rp_manager *m, struct rp_partition *p, uint8_t *batches, size_t len,
                       struct plog_append_info *info)
{
    size_t segments = plog_segment_count(p->log);
    int64_t end = plog_log_end_offset(p->log);
    int rc = plog_append(p->log, batches, len, p->leader_epoch, rp_now_ms(), PLOG_APPEND_FOLLOWER, info);
    busy_add(m, p); /* unflushed data, producer state */
    if (rc)
        return rc;
    if (plog_segment_count(p->log) > segments)
        prod_log_snapshot(&p->producers, p->log, end, false);
    if (prod_log_replay(&p->producers, batches, len))
        LOG_ERROR("replica", "%s-%d: out of memory recording producer state", p->topic, p->index);
    notify_all(m, p);
    return 0;
}

int rp_partition_restart_log(struct rp_manager *m, struct rp_partition *p, int64_t offset)
{
    int rc = plog_truncate_fully(p->log, offset);
    busy_add(m, p); /* the old segments await deletion */
    p->high_watermark = offset;
    return rc;
}

void rp_partition_advance_log_start(struct rp_manager *m, struct rp_partition *p, int64_t offset)
{
    plog_advance_log_start_offset(p->log, offset, rp_now_ms());
    busy_add(m, p); /* segments below it await deletion */
}

void rp_partition_follower_hw(struct rp_manager *m, struct rp_partition *p, int64_t leader_hw)
{
    int64_t end = plog_log_end_offset(p->log);
    int64_t hw = leader_hw < end ? leader_hw : end;
    if (hw <= p->high_watermark)
        return;
    p->high_watermark = hw;
    notify_all(m, p);
}

int rp_partition_truncate(struct rp_manager *m, struct rp_partition *p, int64_t offset)
{
    if (offset >= plog_log_end_offset(p->log))
        return 0;
    if (p->flush_running)
        return FERRY_EEXIST; /* a flush or compaction holds the log: the caller retries later */
    LOG_INFO("replica", "%s-%d: truncating from %lld to %lld (diverged from the leader)", p->topic, p->index,
             (long long)plog_log_end_offset(p->log), (long long)offset);
    int rc = plog_truncate_to(p->log, offset);
    busy_add(m, p); /* truncated segments await deletion */
    if (rc)
        return rc;
    if (p->high_watermark > offset)
        p->high_watermark = offset;
    prod_state_free(&p->producers);
    prod_state_init(&p->producers);
    prod_log_load(&p->producers, p->log);
    return 0;
}

bool rp_flush_due(struct rp_manager *m, struct rp_partition *p) { return plog_flush_due(p->log, rp_now_ms()); }

static void flush_work_run(uv_work_t *w)
{
    struct flush_work *fw = (struct flush_work *)w;
    fw->rc = plog_flush_run(&fw->f);
}

static void flush_work_done(uv_work_t *w, int status)
{
    struct flush_work *fw = (struct flush_work *)w;
    struct rp_partition *p = fw->p;
    struct rp_manager *m = fw->m;
    int rc = status < 0 ? FERRY_EIO : fw->rc;
    /* out of descriptors: run again once the log's cached descriptors are shed */
    if (plog_flush_retry(&fw->f, rc) && uv_queue_work(m->loop, &fw->work, flush_work_run, flush_work_done) == 0)
        return;
    plog_flush_end(p->log, &fw->f, rc);
    if (rc)
        LOG_ERROR("replica", "%s-%d: flush failed: %s", p->topic, p->index, ferry_strerror(rc));
    p->flush_running = false;
    m->flushes_running--;
    struct rp_flush_waiter *wt = fw->waiters;
    ferry_free(fw);
    while (wt) {
        struct rp_flush_waiter *next = wt->next;
        wt->done(wt->arg, rc);
        ferry_free(wt);
        wt = next;
    }
    if (p->removed) {
        if (!m->closing) {
            delete_log(m, p);
        }
        partition_free(p);
        manager_maybe_free(m);
        return;
    }
    if (p->flush_again || p->flush_waiters) {
        p->flush_again = false;
        start_flush(m, p);
    }
}

/* Starts a flush of everything appended so far; the waiters queued now are completed by it. */
static void start_flush(struct rp_manager *m, struct rp_partition *p)
{
    if (p->flush_running) {
        p->flush_again = true;
        return;
    }
    struct flush_work *fw = ferry_calloc(1, sizeof *fw);
    int rc = fw ? plog_flush_begin(p->log, &fw->f) : FERRY_ENOMEM;
    if (rc) {
        ferry_free(fw);
        struct rp_flush_waiter *wt = p->flush_waiters;
        p->flush_waiters = NULL;
        while (wt) {
            struct rp_flush_waiter *next = wt->next;
            wt->done(wt->arg, rc);
            ferry_free(wt);
            wt = next;
        }
        return;
    }
    fw->m = m;
    fw->p = p;
    fw->waiters = p->flush_waiters;
    p->flush_waiters = NULL;
    p->flush_running = true;
    m->flushes_running++;
    uv_queue_work(m->loop, &fw->work, flush_work_run, flush_work_done);
}

/* ---- log compaction: one partition at a time; the clean holds the partition's flush_running, so that
 * flushes, retention and removal wait for it as they wait for a flush ---- */

struct clean_work {
    uv_work_t work;
    struct rp_manager *m;
    struct rp_partition *p;
    struct plog_clean *c;
    int rc;
};

static void clean_work_run(uv_work_t *w)
{
    struct clean_work *cw = (struct clean_work *)w;
    cw->rc = plog_clean_run(cw->c);
}

static void clean_work_done(uv_work_t *w, int status)
{
    struct clean_work *cw = (struct clean_work *)w;
    struct rp_partition *p = cw->p;
    struct rp_manager *m = cw->m;
    int rc = plog_clean_end(p->log, cw->c, status < 0 ? FERRY_EIO : cw->rc);
    if (rc)
        LOG_ERROR("replica", "%s-%d: log compaction failed: %s", p->topic, p->index, ferry_strerror(rc));
    ferry_free(cw);
    p->flush_running = false;
    m->flushes_running--;
    m->clean_running = false;
    if (p->removed) {
        if (!m->closing) {
            delete_log(m, p);
        }
        partition_free(p);
        manager_maybe_free(m);
        return;
    }
    if (p->flush_again || p->flush_waiters) {
        p->flush_again = false;
        start_flush(m, p);
    }
}

static void maybe_start_clean(struct rp_manager *m, struct rp_partition *p, int64_t now)
{
    if (!m->cfg->log_cleaner_enable || m->clean_running || m->closing ||
        !plog_clean_needed(p->log, now, p->high_watermark))
        return;
    struct clean_work *cw = ferry_calloc(1, sizeof *cw);
    if (!cw)
        return;
    int rc = plog_clean_begin(p->log, now, p->high_watermark, &cw->c);
    if (rc) {
        if (rc != FERRY_ENOTFOUND)
            LOG_ERROR("replica", "%s-%d: cannot start log compaction: %s", p->topic, p->index, ferry_strerror(rc));
        ferry_free(cw);
        return;
    }
    cw->m = m;
    cw->p = p;
    p->flush_running = true;
    m->flushes_running++;
    m->clean_running = true;
    uv_queue_work(m->loop, &cw->work, clean_work_run, clean_work_done);
}

void rp_flush(struct rp_manager *m, struct rp_partition *p, rp_flush_done_fn done, void *arg)
{
    struct rp_flush_waiter *wt = ferry_malloc(sizeof *wt);
    if (!wt) {
        done(arg, FERRY_ENOMEM);
        return;
    }
    wt->done = done;
    wt->arg = arg;
    wt->next = p->flush_waiters;
    p->flush_waiters = wt;
    if (p->flush_running)
        p->flush_again = true; /* the running flush may predate our appends */
    else
        start_flush(m, p);
}

void rp_foreach(struct rp_manager *m, void (*fn)(void *arg, struct rp_partition *p), void *arg)
{
    for (size_t b = 0; b < m->hosted.nbuckets; b++)
        for (struct tp_link *l = m->hosted.buckets[b], *next; l; l = next) {
            next = l->next;
            fn(arg, HOSTED(l));
        }
}

void rp_watch(struct rp_manager *m, struct rp_watcher *w)
{
    w->prev = NULL;
    w->next = m->watchers;
    if (m->watchers)
        m->watchers->prev = w;
    m->watchers = w;
}

void rp_unwatch(struct rp_manager *m, struct rp_watcher *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else if (m->watchers == w)
        m->watchers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}
