/* snapshot_node: the node's snapshots (see kraft_node_internal.h): loading the newest valid one at
 * start-up, taking new ones after commits (the image dumped on the loop, the file written, fsynced and
 * renamed in a libuv worker), and cleaning the log behind them.
 *
 * Retention (simpler than Kafka's metadata.max.retention.*, documented in docs/architecture.md): the two
 * newest snapshots are kept and older ones deleted; the log start offset is advanced to the older of
 * the two, deleting the segments wholly below it, so that a damaged newest snapshot can always be
 * replaced by the older one plus the log after it. The active segment is rolled when a snapshot is
 * taken, so that segment boundaries fall on snapshot offsets and cleaning frees whole segments. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/config/config.h"
#include "kraftmode/kraft_node_internal.h"

#define SNAPSHOTS_RETAINED 2

/* ---- start-up ---- */

static void reset_image(struct kraft_node *n)
{
    md_image_free(&n->img);
    md_image_init(&n->img);
    snprintf(n->img.cluster_id, sizeof n->img.cluster_id, "%s", n->cluster_id);
    md_delta_free(&n->pending);
    md_delta_init(&n->pending);
    n->pending.initial = true;
}

int kraft_snapshot_recover(struct kraft_node *n, int64_t *replay_from, char *err, size_t errlen)
{
    const char *dir = n->log->dir;
    n->snap.latest = (struct snapshot_id){-1, -1};
    n->snap.last_ms = kraft_wall_ms();
    if (snapshot_remove_partial(dir) < 0)
        LOG_WARN("kraft", "node %d: cannot list %s for interrupted snapshots", n->node_id, dir);
    struct snapshot_id *ids = NULL;
    size_t nids = 0;
    int rc = snapshot_list(dir, &ids, &nids);
    if (rc) {
        snprintf(err, errlen, "cannot list the snapshots in %s: %s", dir, ferry_strerror(rc));
        return rc;
    }
    int64_t start = metalog_start_offset(n->log), end = metalog_end_offset(n->log);
    for (size_t i = 0; i < nids; i++) {
        char name[SNAPSHOT_NAME_MAX];
        snapshot_file_name(ids[i], NULL, name);
        if (ids[i].end_offset < start) {
            LOG_WARN("kraft", "node %d: snapshot %s/%s lies below the log start offset %lld: not used", n->node_id,
                     dir, name, (long long)start);
            continue;
        }
        char why[512] = "";
        rc = snapshot_load_file(dir, ids[i], &n->img, &n->pending, why, sizeof why);
        if (rc == 0) {
            n->snap.latest = ids[i];
            LOG_INFO("kraft", "node %d: loaded snapshot %s/%s (%zu topic(s), %d broker(s))", n->node_id, dir, name,
                     md_image_topic_count(&n->img), n->img.nbrokers);
            break;
        }
        reset_image(n);
        if (rc == FERRY_ENOMEM) {
            snprintf(err, errlen, "out of memory loading the snapshot %s/%s", dir, name);
            ferry_free(ids);
            return rc;
        }
        LOG_ERROR("kraft", "node %d: %s; trying the next older snapshot or the log", n->node_id, why);
        if (rc != FERRY_ENOTFOUND)
            snapshot_set_aside(dir, ids[i]);
    }
    ferry_free(ids);
    if (n->snap.latest.end_offset < 0 && start > 0 && !config_voter(n->cfg, n->node_id)) {
        /* An observer's log is only a copy of the quorum's and its state votes for nothing: it starts over
         * empty and fetches the leader's snapshot (FetchSnapshot), then the log after it. A voter refuses
         * instead: with its log gone it could elect a leader missing committed records. */
        LOG_ERROR("kraft",
                  "node %d: the metadata log in %s starts at offset %lld and no valid snapshot covers the offsets "
                  "below it: this observer discards its copy of the log and fetches the quorum's snapshot",
                  n->node_id, dir, (long long)start);
        rc = plog_truncate_fully(n->log->log, 0);
        if (rc) {
            snprintf(err, errlen, "cannot empty the metadata log in %s: %s", dir, ferry_strerror(rc));
            return rc;
        }
        start = 0;
    }
    if (n->snap.latest.end_offset < 0) {
        if (start > 0) {
            snprintf(err, errlen,
                     "the metadata log in %s starts at offset %lld and no valid snapshot covers the offsets below "
                     "it (see the errors above; set-aside snapshots end in %s)",
                     dir, (long long)start, SNAPSHOT_CORRUPT_SUFFIX);
            return FERRY_ECORRUPT;
        }
        *replay_from = start;
        return 0;
    }
    struct snapshot_id s = n->snap.latest;
    int32_t log_epoch = metalog_last_epoch(n->log);
    if (s.end_offset > end || s.epoch > log_epoch) {
        /* Kafka's truncateToLatestSnapshot: the log cannot continue from a snapshot beyond it. */
        LOG_WARN("kraft", "node %d: snapshot at offset %lld epoch %d lies beyond the log (end %lld, epoch %d): "
                          "the log restarts at the snapshot",
                 n->node_id, (long long)s.end_offset, s.epoch, (long long)end, log_epoch);
        rc = plog_truncate_fully(n->log->log, s.end_offset);
        if (rc) {
            snprintf(err, errlen, "cannot truncate the metadata log in %s to offset %lld: %s", dir,
                     (long long)s.end_offset, ferry_strerror(rc));
            return rc;
        }
    }
    *replay_from = s.end_offset;
    return 0;
}

/* ---- taking snapshots ---- */

/* The epoch of the batch holding `offset`: the last epoch-cache entry starting at or below it. */
static int32_t epoch_at(struct kraft_node *n, int64_t offset)
{
    size_t ne = 0;
    const struct plog_epoch_entry *e = plog_epoch_entries(n->log->log, &ne);
    int32_t epoch = n->snap.latest.end_offset >= 0 ? n->snap.latest.epoch : 0;
    for (size_t i = 0; i < ne && e[i].start_offset <= offset; i++)
        epoch = e[i].epoch;
    return epoch;
}

static void clean(struct kraft_node *n)
{
    n->snap.clean_pending = false;
    struct snapshot_id *ids = NULL;
    size_t nids = 0;
    if (snapshot_list(n->log->dir, &ids, &nids))
        return;
    for (size_t i = SNAPSHOTS_RETAINED; i < nids; i++)
        snapshot_delete(n->log->dir, ids[i]);
    if (nids >= SNAPSHOTS_RETAINED) {
        int64_t target = ids[SNAPSHOTS_RETAINED - 1].end_offset;
        int64_t now = kraft_wall_ms();
        size_t before = plog_segment_count(n->log->log);
        if (target > metalog_start_offset(n->log) && target <= metalog_end_offset(n->log)) {
            int rc = plog_advance_log_start_offset(n->log->log, target, now);
            if (rc)
                LOG_ERROR("kraft", "node %d: cannot advance the metadata log start offset to %lld: %s", n->node_id,
                          (long long)target, ferry_strerror(rc));
            else
                LOG_INFO("kraft", "node %d: metadata log start offset advanced to %lld (the older kept snapshot); "
                                  "%zu segment(s) deleted",
                         n->node_id, (long long)target, before - plog_segment_count(n->log->log));
        }
        plog_housekeeping(n->log->log, now);
    }
    ferry_free(ids);
}

static void write_work(uv_work_t *w)
{
    struct kraft_node *n = w->data;
    n->snap.rc = snapshot_write_file(n->snap.dir, n->snap.writing, n->snap.buf.buf, n->snap.buf.len);
}

static void write_after(uv_work_t *w, int status)
{
    struct kraft_node *n = w->data;
    int rc = status ? FERRY_EIO : n->snap.rc;
    size_t len = n->snap.buf.len;
    proto_writer_free(&n->snap.buf);
    n->snap.busy = false;
    if (n->stopping) {
        kraft_node_finish_stop(n);
        return;
    }
    char name[SNAPSHOT_NAME_MAX];
    snapshot_file_name(n->snap.writing, NULL, name);
    if (rc) {
        LOG_ERROR("kraft", "node %d: cannot write the snapshot %s/%s: %s; retrying after the next commit", n->node_id,
                  n->snap.dir, name, ferry_strerror(rc));
        n->snap.bytes_since += n->snap.bytes_at_start;
        return;
    }
    n->snap.latest = n->snap.writing;
    LOG_INFO("kraft", "node %d: snapshot %s/%s written (%zu bytes, %zu topic(s))", n->node_id, n->snap.dir, name, len,
             md_image_topic_count(&n->img));
    if (n->rio.raft && !n->rio.dead) {
        struct raft_snapshot_id rid = {n->snap.latest.end_offset, n->snap.latest.epoch};
        if (raft_snapshot_done(n->rio.raft, kraft_raft_now(), rid) == 0) /* FetchSnapshot serves it */
            kraft_raft_drive(n);
    }
    if (n->busy)
        n->snap.clean_pending = true;
    else
        clean(n);
}

void kraft_snapshot_maybe(struct kraft_node *n)
{
    const struct ferry_config *cfg = n->cfg;
    if (n->stopping || n->failed || n->rio.sync || n->snap.busy || n->img.last_offset < 0 || n->rio.loader.in_txn)
        return;
    struct snapshot_id id = {n->rio.applied_end, 0}; /* a batch boundary; the image holds everything below */
    if (id.end_offset <= n->snap.latest.end_offset)
        return;
    int64_t now = kraft_wall_ms();
    int64_t interval = cfg->metadata_log_max_snapshot_interval_ms;
    bool by_bytes = n->snap.bytes_since >= cfg->metadata_log_max_record_bytes_between_snapshots;
    bool by_time = interval > 0 && n->snap.bytes_since > 0 && now - n->snap.last_ms >= interval;
    if (!by_bytes && !by_time)
        return;
    id.epoch = epoch_at(n, id.end_offset - 1);
    if (!n->snap.dir && !(n->snap.dir = ferry_strdup(n->log->dir)))
        return;
    proto_writer_init(&n->snap.buf);
    int rc = snapshot_build_image(&n->snap.buf, &n->img, id.epoch, n->snap.last_append_ms, now);
    if (rc) {
        LOG_ERROR("kraft", "node %d: cannot build the snapshot at offset %lld: %s; retrying after the next commit",
                  n->node_id, (long long)id.end_offset, ferry_strerror(rc));
        proto_writer_free(&n->snap.buf);
        return;
    }
    /* Segment boundaries on snapshot offsets: cleaning then frees whole segments. */
    if (!n->busy && metalog_end_offset(n->log) == id.end_offset) {
        rc = plog_roll(n->log->log, now);
        if (rc)
            LOG_WARN("kraft", "node %d: cannot roll the metadata log at offset %lld: %s", n->node_id,
                     (long long)id.end_offset, ferry_strerror(rc));
    }
    n->snap.writing = id;
    n->snap.bytes_at_start = n->snap.bytes_since;
    n->snap.bytes_since = 0;
    n->snap.last_ms = now;
    n->snap.busy = true;
    n->snap.work.data = n;
    LOG_INFO("kraft", "node %d: taking a snapshot at offset %lld epoch %d (%s)", n->node_id, (long long)id.end_offset,
             id.epoch, by_bytes ? "metadata.log.max.record.bytes.between.snapshots reached"
                                : "metadata.log.max.snapshot.interval.ms passed");
    if (uv_queue_work(n->loop, &n->snap.work, write_work, write_after) != 0) {
        proto_writer_free(&n->snap.buf);
        n->snap.busy = false;
        n->snap.bytes_since = n->snap.bytes_at_start;
    }
}

void kraft_snapshot_idle(struct kraft_node *n)
{
    if (n->snap.clean_pending && !n->busy && !n->stopping)
        clean(n);
}

void kraft_snapshot_free(struct kraft_node *n)
{
    proto_writer_free(&n->snap.buf);
    ferry_free(n->snap.dir);
    n->snap.dir = NULL;
}

bool kraft_node_latest_snapshot(const struct kraft_node *n, struct snapshot_id *id, const char **dir)
{
    if (!n->log || n->snap.latest.end_offset < 0)
        return false;
    *id = n->snap.latest;
    *dir = n->log->dir;
    return true;
}
