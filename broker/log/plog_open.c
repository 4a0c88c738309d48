/* plog_open: opening a partition log (the loading itself is in plog_load.c), closing, deleting,
 * configuration, partition.metadata and accessors. See log.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "log_fs.h"
#include "plog_internal.h"

#define PARTITION_METADATA_FILE "partition.metadata"

void plog_config_default(struct plog_config *cfg)
{
    cfg->segment_bytes = 1073741824;
    cfg->segment_ms = 7LL * 24 * 3600 * 1000;
    cfg->retention_ms = 7LL * 24 * 3600 * 1000;
    cfg->retention_bytes = -1;
    cfg->flush_messages = INT64_MAX;
    cfg->flush_ms = INT64_MAX;
    cfg->index_interval_bytes = 4096;
    cfg->segment_index_bytes = 10485760;
    cfg->file_delete_delay_ms = 60000;
    cfg->cleanup_delete = true;
    cfg->cleanup_compact = false;
    cfg->delete_retention_ms = 86400000;
    cfg->min_compaction_lag_ms = 0;
    cfg->max_compaction_lag_ms = INT64_MAX;
    cfg->min_cleanable_dirty_ratio = 0.5;
}

static bool config_valid(const struct plog_config *c)
{
    /* Kafka's minimums: segment.bytes >= 14 (LegacyRecord.RECORD_OVERHEAD_V0), segment.index.bytes >= 4. */
    return c->segment_bytes >= 14 && c->segment_bytes <= INT32_MAX && c->segment_ms >= 1 &&
           c->index_interval_bytes >= 0 && c->segment_index_bytes >= LOG_TINDEX_ENTRY_SIZE &&
           c->flush_messages >= 1 && c->flush_ms >= 0 && c->file_delete_delay_ms >= 0;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool topic_name_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 249 || strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

size_t plog_segment_index(const struct plog *log, int64_t offset)
{
    size_t lo = 0, hi = log->nsegs; /* first segment with base > offset */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : lo - 1;
}

int plog_push_segment(struct plog *log, struct log_segment *s)
{
    if (log->nsegs == log->segs_cap) {
        size_t cap = log->segs_cap ? log->segs_cap * 2 : 8;
        struct log_segment **ns = ferry_realloc(log->segs, cap * sizeof *ns);
        if (!ns)
            return FERRY_ENOMEM;
        log->segs = ns;
        log->segs_cap = cap;
    }
    log->segs[log->nsegs++] = s;
    return 0;
}

int plog_add_segment(struct plog *log, int64_t base_offset, int64_t now_ms)
{
    if (log->nsegs == log->segs_cap) {
        int rc = plog_push_segment(log, NULL); /* grow first so that nothing fails after the files exist */
        if (rc)
            return rc;
        log->nsegs--;
    }
    if (log->nsegs > 0) {
        int rc = log_segment_seal(plog_active(log));
        if (rc)
            LOG_WARN("log", "%s: cannot append the final time index entry of segment %lld: %s", log->name,
                     (long long)plog_active(log)->base_offset, ferry_strerror(rc));
        log_segment_release_files(plog_active(log)); /* inactive now: reopened when read */
    }
    struct log_segment *s;
    int rc = log_segment_create(log->dir, base_offset, log->cfg.segment_index_bytes, now_ms, &s);
    if (rc)
        return rc;
    log->segs[log->nsegs++] = s;
    log->dir_gen++;
    return 0;
}

/* The first segment of a log created off the loop: made on the worker, its descriptors closed at once
 * (plog_adopt_files manages them on the loop, where they reopen on first use). */
static int add_segment_off_loop(struct plog *log, int64_t base_offset, int64_t now_ms)
{
    int rc = plog_push_segment(log, NULL); /* grow first so that nothing fails after the files exist */
    if (rc)
        return rc;
    log->nsegs--;
    struct log_segment *s;
    rc = log_segment_create_suffixed(log->dir, base_offset, "", log->cfg.segment_index_bytes, now_ms, &s);
    if (rc)
        return rc;
    log_segment_park_files(s);
    log->segs[log->nsegs++] = s;
    log->dir_gen++;
    return 0;
}

void plog_adopt_files(struct plog *log)
{
    for (size_t i = 0; i < log->nsegs; i++)
        log_segment_manage(log->segs[i]);
}

bool plog_created_durably(const struct plog *log) { return log->created_durably; }

void plog_assign_epoch(struct plog *log, int32_t epoch, int64_t start_offset)
{
    int rc = log_epochs_assign(&log->epochs, epoch, start_offset, log->name);
    if (rc > 0)
        log->epoch_gen++;
    else if (rc < 0)
        LOG_ERROR("log", "%s: cannot record leader epoch %d at offset %lld: %s", log->name, epoch,
                  (long long)start_offset, ferry_strerror(rc));
}

static void free_log(struct plog *log)
{
    for (size_t i = 0; i < log->nsegs; i++)
        log_segment_close(log->segs[i]);
    ferry_free(log->segs);
    for (size_t i = 0; i < log->npending; i++)
        ferry_free(log->pending[i].stem);
    ferry_free(log->pending);
    log_epochs_free(&log->epochs);
    ferry_free(log->dir);
    ferry_free(log->root);
    ferry_free(log->topic);
    ferry_free(log->name);
    ferry_free(log);
}

/* ---- partition.metadata ---- */

static int read_partition_metadata(struct plog *log)
{
    char *path = log_path_join(log->dir, PARTITION_METADATA_FILE);
    if (!path)
        return FERRY_ENOMEM;
    char *text;
    size_t len;
    int rc = log_read_file(path, 4096, &text, &len);
    if (rc == FERRY_ENOTFOUND) {
        rc = 0;
        goto free_path;
    }
    if (rc)
        goto report;
    bool version_ok = false, id_ok = false;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *val = colon + 1;
        while (*val == ' ' || *val == '\t')
            val++;
        size_t vl = strlen(val);
        while (vl > 0 && (val[vl - 1] == '\r' || val[vl - 1] == ' '))
            val[--vl] = '\0';
        if (strcmp(line, "version") == 0)
            version_ok = strcmp(val, "0") == 0;
        else if (strcmp(line, "topic_id") == 0)
            id_ok = proto_uuid_from_base64(val, &log->topic_id) == 0;
    }
    ferry_free(text);
    if (version_ok && id_ok) {
        log->has_topic_id = true;
        goto free_path;
    }
    rc = FERRY_EPARSE;
report:
    LOG_WARN("log", "%s: cannot read %s (%s): ignoring it (written again from the metadata once the partition is "
                    "hosted)",
             log->name, path, ferry_strerror(rc));
    rc = 0;
free_path:
    ferry_free(path);
    return rc;
}

/* partition.metadata by temp file + rename; `sync`: fsynced (file and directory) before returning. */
static int write_partition_metadata(struct plog *log, proto_uuid id, bool sync)
{
    char b64[PROTO_UUID_B64_LEN + 1], text[64];
    proto_uuid_to_base64(id, b64);
    int n = snprintf(text, sizeof text, "version: 0\ntopic_id: %s\n", b64);
    char *path = log_path_join(log->dir, PARTITION_METADATA_FILE);
    if (!path)
        return FERRY_ENOMEM;
    int rc = log_write_file_replace(path, text, (size_t)n, sync);
    if (rc)
        LOG_ERROR("log", "%s: cannot write %s: %s", log->name, path, ferry_strerror(rc));
    ferry_free(path);
    if (rc == 0) {
        log->topic_id = id;
        log->has_topic_id = true;
    }
    return rc;
}

int plog_set_topic_id(struct plog *log, proto_uuid id) { return write_partition_metadata(log, id, true); }

bool plog_topic_id(const struct plog *log, proto_uuid *out)
{
    if (log->has_topic_id && out)
        *out = log->topic_id;
    return log->has_topic_id;
}

int plog_open(const char *log_dir, const char *topic, int32_t partition, const struct plog_config *cfg,
              const struct plog_open_opts *opts_in, struct plog **out)
{
    *out = NULL;
    if (!log_dir || !topic || !topic_name_ok(topic) || partition < 0 || !cfg || !config_valid(cfg))
        return FERRY_EINVAL;
    struct plog_open_opts opts = {0};
    if (opts_in)
        opts = *opts_in;
    else
        opts.now_ms = wall_ms();
    struct plog *log = ferry_calloc(1, sizeof *log);
    if (!log)
        return FERRY_ENOMEM;
    log->cfg = *cfg;
    log->partition = partition;
    log->first_unflushed_ms = -1;
    log->first_append_in_flight_ms = -1;
    log->topic = ferry_strdup(topic);
    log->name = log_path_fmt("%s-%d", topic, partition);
    log->dir = log_path_fmt("%s/%s-%d", log_dir, topic, partition);
    log->root = ferry_strdup(log_dir);
    log->cleaner_offset = -1;
    log->tombstone_horizon = INT64_MAX;
    log->created_durably = true;
    int rc = FERRY_ENOMEM;
    if (!log->topic || !log->name || !log->dir || !log->root)
        goto free_log;
    rc = log_mkdir(log_dir);
    if (rc == 0)
        rc = opts.off_loop ? log_mkdir_new(log->dir) : log_mkdir(log->dir);
    if (rc == FERRY_EEXIST) /* off the loop: an existing directory is loaded on the loop */
        goto free_log;
    if (rc) {
        LOG_ERROR("log", "%s: cannot create %s: %s", log->name, log->dir, strerror(errno));
        goto free_log;
    }
    bool changed = false;
    rc = plog_load_segments(log, &opts, opts.now_ms, &changed);
    if (rc)
        goto free_log;
    int64_t lso = opts.log_start_offset > 0 ? opts.log_start_offset : 0;
    if (log->nsegs == 0) {
        rc = opts.off_loop ? add_segment_off_loop(log, lso, opts.now_ms) : plog_add_segment(log, lso, opts.now_ms);
        if (rc)
            goto free_log;
        changed = true;
    }
    log->log_end_offset = plog_active(log)->next_offset;
    if (lso < log->segs[0]->base_offset)
        lso = log->segs[0]->base_offset;
    log->log_start_offset = lso;
    if (lso > log->log_end_offset) {
        LOG_WARN("log", "%s: log start offset %lld is beyond the log end offset %lld: starting an empty log there",
                 log->name, (long long)lso, (long long)log->log_end_offset);
        rc = plog_truncate_fully(log, lso);
        if (rc)
            goto free_log;
        plog_drop_pending(log);
        changed = true;
    }
    int64_t rp = opts.clean_shutdown ? log->log_end_offset : opts.recovery_point;
    if (rp > log->log_end_offset)
        rp = log->log_end_offset;
    if (rp < log->segs[0]->base_offset)
        rp = log->segs[0]->base_offset;
    log->recovery_point = rp;
    log->checkpoint_hw = -1;
    if (opts.has_high_watermark) /* Kafka clamps a checkpointed high watermark into the log's range too */
        log->checkpoint_hw = opts.high_watermark < log->log_start_offset ? log->log_start_offset
                             : opts.high_watermark > log->log_end_offset ? log->log_end_offset
                                                                         : opts.high_watermark;
    if (log_epochs_truncate_from_end(&log->epochs, log->log_end_offset))
        log->epoch_gen++;
    if (log_epochs_truncate_from_start(&log->epochs, log->log_start_offset))
        log->epoch_gen++;
    plog_clean_load_checkpoint(log);
    if (log->recovery_point < log->log_end_offset)
        log->first_unflushed_ms = opts.now_ms;

    rc = read_partition_metadata(log);
    if (rc)
        goto free_log;
    if (opts.topic_id) {
        if (log->has_topic_id && memcmp(log->topic_id.b, opts.topic_id->b, 16) != 0) {
            char have[PROTO_UUID_B64_LEN + 1], want[PROTO_UUID_B64_LEN + 1];
            proto_uuid_to_base64(log->topic_id, have);
            proto_uuid_to_base64(*opts.topic_id, want);
            LOG_ERROR("log", "%s: partition.metadata in %s holds topic id %s, expected %s", log->name, log->dir, have,
                      want);
            rc = FERRY_EINVAL;
            goto free_log;
        }
        if (!log->has_topic_id) {
            rc = write_partition_metadata(log, *opts.topic_id, !opts.off_loop);
            if (rc)
                goto free_log;
        }
    }
    if (opts.off_loop) /* the directory is fsynced by the log's first flush, or covered by a filesystem sync */
        log->created_durably = false;
    else if (changed && log_fsync_dir(log->dir) != 0)
        LOG_WARN("log", "%s: cannot fsync %s", log->name, log->dir);
    if (!opts.off_loop)
        log->dir_synced = log->dir_gen;
    LOG_INFO("log", "%s: loaded %zu segment(s) from %s: log start offset %lld, log end offset %lld, recovery point %lld",
             log->name, log->nsegs, log->dir, (long long)log->log_start_offset, (long long)log->log_end_offset,
             (long long)log->recovery_point);
    *out = log;
    return 0;
free_log:
    free_log(log);
    return rc;
}

void plog_drop_pending(struct plog *log)
{
    for (size_t i = 0; i < log->npending; i++) {
        log_segment_unlink_files(log->pending[i].stem, ".deleted");
        ferry_free(log->pending[i].stem);
    }
    log->npending = 0;
}

int plog_close(struct plog *log)
{
    if (!log)
        return 0;
    int rc = log_segment_seal(plog_active(log));
    int frc = plog_flush_sync(log);
    if (frc)
        rc = frc;
    plog_drop_pending(log);
    LOG_INFO("log", "%s: closed at log end offset %lld", log->name, (long long)log->log_end_offset);
    free_log(log);
    return rc;
}

void plog_close_abandon(struct plog *log)
{
    if (log)
        free_log(log);
}

static void deletion_free(struct plog_deletion *del)
{
    ferry_free(del->name);
    ferry_free(del->dir);
    ferry_free(del->parent);
    ferry_free(del->target);
    memset(del, 0, sizeof *del);
}

int plog_delete_begin(struct plog *log, struct plog_deletion *del)
{
    memset(del, 0, sizeof *del);
    if (log->cleaner_offset >= 0)
        plog_clean_forget_checkpoint(log);
    int rc = FERRY_ENOMEM;
    const char *slash = strrchr(log->dir, '/');
    del->parent = slash ? ferry_strndup(log->dir, (size_t)(slash - log->dir)) : ferry_strdup(".");
    del->name = ferry_strdup(log->name);
    del->dir = ferry_strdup(log->dir);
    proto_uuid u;
    if (!del->parent || !del->name || !del->dir || log_uuid_random(&u) != 0)
        goto free_log;
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", u.b[i]);
    /* Kafka keeps the name within 255 bytes by shortening the topic part. */
    char suffix[64];
    snprintf(suffix, sizeof suffix, "-%d.%s-delete", log->partition, hex);
    int keep = (int)strlen(log->topic);
    if (keep > 255 - (int)strlen(suffix))
        keep = 255 - (int)strlen(suffix);
    del->target = log_path_fmt("%s/%.*s%s", del->parent, keep, log->topic, suffix);
    if (!del->target)
        goto free_log;
    for (size_t i = 0; i < log->nsegs; i++) {
        log_segment_close(log->segs[i]);
        log->segs[i] = NULL;
    }
    log->nsegs = 0;
    rc = 0;
    if (rename(log->dir, del->target) != 0) {
        LOG_ERROR("log", "%s: cannot rename %s to %s: %s", log->name, log->dir, del->target, strerror(errno));
        rc = FERRY_EIO;
    }
free_log:
    if (rc)
        deletion_free(del);
    for (size_t i = 0; i < log->npending; i++)
        ferry_free(log->pending[i].stem);
    log->npending = 0;
    free_log(log);
    return rc;
}

int plog_delete_run(struct plog_deletion *del)
{
    log_fsync_dir(del->parent); /* the rename first: a crash from here on leaves only the -delete name */
    int rc = log_remove_tree(del->target);
    if (rc)
        LOG_ERROR("log", "%s: cannot remove %s: %s", del->name, del->target, ferry_strerror(rc));
    else
        LOG_INFO("log", "%s: deleted log directory %s", del->name, del->dir);
    log_fsync_dir(del->parent);
    deletion_free(del);
    return rc;
}

int plog_delete(struct plog *log)
{
    struct plog_deletion del;
    int rc = plog_delete_begin(log, &del);
    return rc ? rc : plog_delete_run(&del);
}

void plog_set_config(struct plog *log, const struct plog_config *cfg)
{
    if (!config_valid(cfg)) {
        LOG_WARN("log", "%s: ignoring an invalid configuration", log->name);
        return;
    }
    log->cfg = *cfg;
    for (size_t i = 0; i < log->nsegs; i++) {
        log->segs[i]->oidx.f.max_entries = cfg->segment_index_bytes / LOG_OINDEX_ENTRY_SIZE;
        log->segs[i]->tidx.f.max_entries = cfg->segment_index_bytes / LOG_TINDEX_ENTRY_SIZE;
    }
}

const struct plog_config *plog_config(const struct plog *log) { return &log->cfg; }
const char *plog_dir(const struct plog *log) { return log->dir; }
const char *plog_topic(const struct plog *log) { return log->topic; }
int32_t plog_partition(const struct plog *log) { return log->partition; }
int64_t plog_log_start_offset(const struct plog *log) { return log->log_start_offset; }
int64_t plog_log_end_offset(const struct plog *log) { return log->log_end_offset; }
int64_t plog_checkpoint_hw(const struct plog *log) { return log->checkpoint_hw; }
void plog_set_checkpoint_hw(struct plog *log, int64_t high_watermark) { log->checkpoint_hw = high_watermark; }
int64_t plog_recovery_point(const struct plog *log) { return log->recovery_point; }
size_t plog_segment_count(const struct plog *log) { return log->nsegs; }

int64_t plog_size_bytes(const struct plog *log)
{
    int64_t n = 0;
    for (size_t i = 0; i < log->nsegs; i++)
        n += log->segs[i]->size;
    return n;
}
