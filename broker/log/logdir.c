/* logdir: a log directory (lock, clean-shutdown marker, offset checkpoints, loading its partition logs).
 * See logdir.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/common/tp_table.h"
#include "log_checkpoint.h"
#include "log_fs.h"
#include "logdir.h"
#include "plog_internal.h"

#define METADATA_LOG_DIR "__cluster_metadata-0"

struct logdir {
    char *path;
    int lock_fd;
    bool clean;
    int64_t clean_epoch;
    struct logdir_tp_offset *rp; /* sorted by (topic, partition) */
    size_t nrp;
    struct logdir_tp_offset *lso;
    size_t nlso;
    struct logdir_tp_offset *hw;
    size_t nhw;
    struct plog **logs;
    size_t nlogs, logs_cap;
    struct tp_table by_tp; /* (topic, partition) -> log, through plog.logdir_link */
    uint64_t created;      /* logs adopted from off-loop creation so far (their plog.create_seq) */
    struct plog **unsynced; /* those not yet durable (logdir_sync_*), in creation order */
    size_t nunsynced, unsynced_cap;
};

static int cmp_tp(const void *a, const void *b)
{
    const struct logdir_tp_offset *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

static const struct logdir_tp_offset *lookup_tp(const struct logdir_tp_offset *arr, size_t n, const char *topic,
                                                int32_t partition)
{
    if (n == 0 || strlen(topic) >= sizeof arr->topic)
        return NULL;
    struct logdir_tp_offset key;
    strcpy(key.topic, topic);
    key.partition = partition;
    return bsearch(&key, arr, n, sizeof *arr, cmp_tp);
}

static int take_lock(struct logdir *d)
{
    char *path = log_path_join(d->path, LOGDIR_LOCK_FILE);
    if (!path)
        return FERRY_ENOMEM;
    int rc = 0;
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (d->lock_fd < 0) {
        LOG_ERROR("log", "cannot open the lock file %s: %s", path, strerror(errno));
        rc = FERRY_EIO;
        goto free_path;
    }
    bool busy = flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
#ifdef F_OFD_SETLK
    if (!busy) {
        /* The record-lock family too, which is what Kafka's java.nio FileLock takes. */
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        busy = fcntl(d->lock_fd, F_OFD_SETLK, &fl) != 0 && (errno == EAGAIN || errno == EACCES);
    }
#endif
    if (busy) {
        LOG_ERROR("log", "failed to acquire the lock on %s: another broker process (or another log manager in this "
                         "one) is using the log directory %s",
                  path, d->path);
        close(d->lock_fd);
        d->lock_fd = -1;
        rc = FERRY_EEXIST;
    }
free_path:
    ferry_free(path);
    return rc;
}

static void read_clean_marker(struct logdir *d)
{
    d->clean_epoch = -1;
    char *path = log_path_join(d->path, LOGDIR_CLEAN_SHUTDOWN_FILE);
    if (!path)
        return;
    char *text;
    size_t len;
    int rc = log_read_file(path, 4096, &text, &len);
    if (rc != FERRY_ENOTFOUND)
        d->clean = true; /* Kafka: the file's existence is what counts */
    if (rc == 0) {
        const char *k = strstr(text, "\"brokerEpoch\"");
        if (k) {
            k += strlen("\"brokerEpoch\"");
            while (*k == ' ' || *k == ':' || *k == '\t')
                k++;
            char *end;
            long long v = strtoll(k, &end, 10);
            if (end != k)
                d->clean_epoch = v;
        }
        ferry_free(text);
    }
    ferry_free(path);
}

/* `consequence` completes the message logged when the file is damaged. */
static void read_checkpoint(struct logdir *d, const char *name, const char *consequence,
                            struct logdir_tp_offset **arr, size_t *n)
{
    char *path = log_path_join(d->path, name);
    if (!path)
        return;
    int rc = logdir_offsets_read(path, arr, n);
    if (rc && rc != FERRY_ENOTFOUND)
        LOG_ERROR("log", "cannot read %s (%s): %s", path, ferry_strerror(rc), consequence);
    if (*n > 1)
        qsort(*arr, *n, sizeof **arr, cmp_tp);
    ferry_free(path);
}

static void free_dir(struct logdir *d)
{
    if (d->lock_fd >= 0)
        close(d->lock_fd); /* releases both locks */
    ferry_free(d->rp);
    ferry_free(d->lso);
    ferry_free(d->hw);
    ferry_free(d->logs);
    tp_table_free(&d->by_tp);
    ferry_free(d->unsynced);
    ferry_free(d->path);
    ferry_free(d);
}

int logdir_open(const char *path, struct logdir **out)
{
    *out = NULL;
    struct logdir *d = ferry_calloc(1, sizeof *d);
    if (!d)
        return FERRY_ENOMEM;
    d->lock_fd = -1;
    d->path = ferry_strdup(path);
    int rc = FERRY_ENOMEM;
    if (!d->path)
        goto free_dir;
    rc = log_mkdir(path);
    if (rc) {
        LOG_ERROR("log", "cannot create the log directory %s: %s", path, strerror(errno));
        goto free_dir;
    }
    rc = take_lock(d);
    if (rc)
        goto free_dir;
    read_clean_marker(d);
    /* Without a clean shutdown, recovery points still bound what must be recovered. */
    const char *recover = "the logs it covers will be recovered from their start";
    read_checkpoint(d, LOGDIR_RECOVERY_POINT_FILE, recover, &d->rp, &d->nrp);
    read_checkpoint(d, LOGDIR_LOG_START_FILE, recover, &d->lso, &d->nlso);
    read_checkpoint(d, LOGDIR_HIGH_WATERMARK_FILE,
                    "ignored: every partition starts with its high watermark at its log end offset", &d->hw, &d->nhw);
    LOG_INFO("log", "opened log directory %s (%s shutdown, %zu recovery points, %zu log start offsets, %zu high "
                    "watermarks)",
             path, d->clean ? "clean" : "unclean", d->nrp, d->nlso, d->nhw);
    *out = d;
    return 0;
free_dir:
    free_dir(d);
    return rc;
}

const char *logdir_path(const struct logdir *d) { return d->path; }
bool logdir_had_clean_shutdown(const struct logdir *d) { return d->clean; }
int64_t logdir_clean_shutdown_broker_epoch(const struct logdir *d) { return d->clean_epoch; }

void logdir_open_opts(const struct logdir *d, const char *topic, int32_t partition, int64_t now_ms,
                      struct plog_open_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->now_ms = now_ms;
    const struct logdir_tp_offset *rp = lookup_tp(d->rp, d->nrp, topic, partition);
    const struct logdir_tp_offset *lso = lookup_tp(d->lso, d->nlso, topic, partition);
    const struct logdir_tp_offset *hw = lookup_tp(d->hw, d->nhw, topic, partition);
    opts->recovery_point = rp ? rp->offset : 0;
    opts->log_start_offset = lso ? lso->offset : 0;
    opts->has_high_watermark = hw != NULL && hw->offset >= 0;
    opts->high_watermark = hw ? hw->offset : -1;
    /* A log missing from the recovery-point checkpoint is recovered in full even after a clean shutdown. */
    opts->clean_shutdown = d->clean && rp != NULL;
}

static int adopt(struct logdir *d, struct plog *log)
{
    if (d->nlogs == d->logs_cap) {
        size_t cap = d->logs_cap ? d->logs_cap * 2 : 16;
        struct plog **nl = ferry_realloc(d->logs, cap * sizeof *nl);
        if (!nl)
            return FERRY_ENOMEM;
        d->logs = nl;
        d->logs_cap = cap;
    }
    d->logs[d->nlogs++] = log;
    tp_table_insert(&d->by_tp, &log->logdir_link, log->topic, log->partition);
    return 0;
}

/* "<topic>-<partition>": true with both parts. */
static bool parse_partition_dir(const char *name, char *topic, size_t topic_cap, int32_t *partition)
{
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || !dash[1] || strlen(dash + 1) > 10)
        return false;
    int64_t p = 0;
    for (const char *c = dash + 1; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        p = p * 10 + (*c - '0');
    }
    size_t tl = (size_t)(dash - name);
    if (p > INT32_MAX || tl >= topic_cap || tl > 249)
        return false;
    for (size_t i = 0; i < tl; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    memcpy(topic, name, tl);
    topic[tl] = '\0';
    if (strcmp(topic, ".") == 0 || strcmp(topic, "..") == 0)
        return false;
    *partition = (int32_t)p;
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_dir(const char *parent, const struct dirent *e)
{
    if (e->d_type == DT_DIR)
        return true;
    if (e->d_type != DT_UNKNOWN)
        return false;
    char *p = log_path_join(parent, e->d_name);
    struct stat st;
    bool r = p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
    ferry_free(p);
    return r;
}

int logdir_load_logs(struct logdir *d, const struct plog_config *cfg, int64_t now_ms)
{
    DIR *dir = opendir(d->path);
    if (!dir) {
        LOG_ERROR("log", "cannot list the log directory %s: %s", d->path, strerror(errno));
        return FERRY_EIO;
    }
    int rc = 0, loaded = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(dir)) != NULL) {
        const char *name = e->d_name;
        if (name[0] == '.' || !is_dir(d->path, e))
            continue;
        char topic[256];
        int32_t partition;
        if (ends_with(name, "-delete")) {
            char *p = log_path_join(d->path, name);
            if (!p) {
                rc = FERRY_ENOMEM;
                break;
            }
            if (log_remove_tree(p) == 0)
                LOG_INFO("log", "removed %s (a partition deleted before the restart)", p);
            else
                LOG_WARN("log", "cannot remove %s", p);
            ferry_free(p);
        } else if (ends_with(name, "-future") || ends_with(name, "-stray")) {
            LOG_WARN("log", "skipping %s/%s (future and stray replicas are not supported)", d->path, name);
        } else if (strcmp(name, METADATA_LOG_DIR) == 0) {
            LOG_DEBUG("log", "leaving %s/%s to the metadata log", d->path, name);
        } else if (!parse_partition_dir(name, topic, sizeof topic, &partition)) {
            LOG_WARN("log", "unknown directory %s/%s in a log directory: ignored", d->path, name);
        } else if (logdir_find(d, topic, partition)) {
            continue;
        } else {
            struct plog_open_opts opts;
            logdir_open_opts(d, topic, partition, now_ms, &opts);
            struct plog *log;
            int r = plog_open(d->path, topic, partition, cfg, &opts, &log);
            if (r == FERRY_ENOMEM) {
                rc = r;
            } else if (r) {
                LOG_ERROR("log", "cannot load the log %s/%s: %s; skipping it", d->path, name, ferry_strerror(r));
            } else if ((rc = adopt(d, log)) != 0) {
                plog_close(log);
            } else {
                loaded++;
            }
        }
    }
    closedir(dir);
    if (rc)
        return rc;
    /* From now on a crash must be noticed at the next start. */
    char *marker = log_path_join(d->path, LOGDIR_CLEAN_SHUTDOWN_FILE);
    if (!marker)
        return FERRY_ENOMEM;
    if (unlink(marker) == 0)
        log_fsync_dir(d->path);
    ferry_free(marker);
    LOG_INFO("log", "loaded %d log(s) from %s", loaded, d->path);
    return loaded;
}

size_t logdir_log_count(const struct logdir *d) { return d->nlogs; }
struct plog *logdir_log_at(const struct logdir *d, size_t i) { return i < d->nlogs ? d->logs[i] : NULL; }

struct plog *logdir_find(const struct logdir *d, const char *topic, int32_t partition)
{
    struct tp_link *l = tp_table_find(&d->by_tp, topic, strlen(topic), partition);
    return l ? TP_ENTRY(l, struct plog, logdir_link) : NULL;
}

int logdir_create_log(struct logdir *d, const char *topic, int32_t partition, const struct plog_config *cfg,
                      const proto_uuid *topic_id, int64_t now_ms, struct plog **out)
{
    struct plog *log = logdir_find(d, topic, partition);
    if (log) {
        if (topic_id && !plog_topic_id(log, NULL)) {
            LOG_WARN("log", "%s: %s/partition.metadata is missing or damaged (a crash while the partition was "
                            "created?): writing it again from the metadata",
                     log->name, log->dir);
            int rc = plog_set_topic_id(log, *topic_id);
            if (rc)
                return rc;
        }
        *out = log;
        return 0;
    }
    struct plog_open_opts opts;
    logdir_open_opts(d, topic, partition, now_ms, &opts);
    opts.topic_id = topic_id;
    int rc = plog_open(d->path, topic, partition, cfg, &opts, &log);
    if (rc)
        return rc;
    rc = adopt(d, log);
    if (rc) {
        plog_close(log);
        return rc;
    }
    *out = log;
    return 0;
}

/* Also for a log a flush made durable: it stays listed until the next logdir_sync_end. */
static void forget_unsynced(struct logdir *d, const struct plog *log)
{
    for (size_t i = 0; i < d->nunsynced; i++)
        if (d->unsynced[i] == log) {
            memmove(d->unsynced + i, d->unsynced + i + 1, (d->nunsynced - i - 1) * sizeof *d->unsynced);
            d->nunsynced--;
            return;
        }
}

int logdir_new_log_init(struct logdir *d, const char *topic, int32_t partition, const struct plog_config *cfg,
                        const proto_uuid *topic_id, int64_t now_ms, struct logdir_new_log *job)
{
    memset(job, 0, sizeof *job);
    job->topic = ferry_strdup(topic);
    if (!job->topic)
        return FERRY_ENOMEM;
    job->dir = d;
    job->partition = partition;
    job->cfg = *cfg;
    job->has_topic_id = topic_id != NULL;
    if (topic_id)
        job->topic_id = *topic_id;
    logdir_open_opts(d, topic, partition, now_ms, &job->opts);
    job->opts.off_loop = true;
    return 0;
}

void logdir_new_log_run(struct logdir_new_log *job)
{
    job->opts.topic_id = job->has_topic_id ? &job->topic_id : NULL; /* the job may have moved since init */
    job->rc = plog_open(job->dir->path, job->topic, job->partition, &job->cfg, &job->opts, &job->log);
}

void logdir_new_log_free(struct logdir_new_log *job)
{
    ferry_free(job->topic);
    job->topic = NULL;
}

int logdir_new_log_finish(struct logdir_new_log *job, struct plog **out)
{
    struct logdir *d = job->dir;
    int rc = job->rc;
    *out = NULL;
    if (rc == 0) {
        plog_adopt_files(job->log);
        if (d->nunsynced == d->unsynced_cap) {
            size_t cap = d->unsynced_cap ? d->unsynced_cap * 2 : 64;
            struct plog **nu = ferry_realloc(d->unsynced, cap * sizeof *nu);
            if (nu) {
                d->unsynced = nu;
                d->unsynced_cap = cap;
            }
        }
        rc = d->nunsynced < d->unsynced_cap ? adopt(d, job->log) : FERRY_ENOMEM;
        if (rc) {
            plog_close(job->log); /* flushes it: durable, if orphaned until the next start */
        } else {
            job->log->create_seq = ++d->created;
            d->unsynced[d->nunsynced++] = job->log;
            *out = job->log;
        }
    } else if (rc != FERRY_ENOMEM) {
        if (rc != FERRY_EEXIST)
            LOG_WARN("log", "%s-%d: creating the log off the loop failed (%s): creating it on the loop",
                     job->topic, job->partition, ferry_strerror(rc));
        const proto_uuid *id = job->has_topic_id ? &job->topic_id : NULL;
        rc = logdir_create_log(d, job->topic, job->partition, &job->cfg, id, job->opts.now_ms, out);
    }
    logdir_new_log_free(job);
    return rc;
}

bool logdir_sync_begin(struct logdir *d, struct logdir_sync *s)
{
    memset(s, 0, sizeof *s);
    if (d->nunsynced == 0)
        return false;
    s->path = ferry_strdup(d->path);
    s->upto = d->created;
    return s->path != NULL;
}

int logdir_sync_run(const struct logdir_sync *s)
{
    int rc = log_sync_filesystem(s->path);
    if (rc)
        LOG_ERROR("log", "cannot sync the filesystem of %s: %s", s->path, strerror(errno));
    return rc;
}

void logdir_sync_end(struct logdir *d, struct logdir_sync *s, int rc)
{
    size_t kept = 0;
    for (size_t i = 0; i < d->nunsynced; i++) {
        struct plog *log = d->unsynced[i];
        if (rc == 0 && log->create_seq <= s->upto)
            log->created_durably = true;
        if (!log->created_durably) /* also dropped: those a flush made durable meanwhile */
            d->unsynced[kept++] = log;
    }
    d->nunsynced = kept;
    ferry_free(s->path);
    s->path = NULL;
}

size_t logdir_unsynced_count(const struct logdir *d) { return d->nunsynced; }

int logdir_delete_log_begin(struct logdir *d, struct plog *log, struct plog_deletion *del)
{
    for (size_t i = 0; i < d->nlogs; i++) {
        if (d->logs[i] == log) {
            forget_unsynced(d, log);
            memmove(d->logs + i, d->logs + i + 1, (d->nlogs - i - 1) * sizeof *d->logs);
            d->nlogs--;
            tp_table_remove(&d->by_tp, &log->logdir_link);
            return plog_delete_begin(log, del);
        }
    }
    return FERRY_ENOTFOUND;
}

int logdir_delete_log(struct logdir *d, struct plog *log)
{
    struct plog_deletion del;
    int rc = logdir_delete_log_begin(d, log, &del);
    return rc ? rc : plog_delete_run(&del);
}

void logdir_checkpoint_free(struct logdir_checkpoint *c)
{
    ferry_free(c->recovery_path);
    ferry_free(c->log_start_path);
    ferry_free(c->hw_path);
    ferry_free(c->recovery);
    ferry_free(c->log_start);
    ferry_free(c->hw);
    memset(c, 0, sizeof *c);
}

static void fill_tp(struct logdir_tp_offset *e, const struct plog *log, int64_t offset)
{
    snprintf(e->topic, sizeof e->topic, "%s", log->topic);
    e->partition = log->partition;
    e->offset = offset;
}

int logdir_checkpoint_collect(const struct logdir *d, unsigned what, struct logdir_checkpoint *c)
{
    memset(c, 0, sizeof *c);
    bool ok = true;
    if (what & LOGDIR_CKPT_OFFSETS) {
        c->recovery_path = log_path_join(d->path, LOGDIR_RECOVERY_POINT_FILE);
        c->log_start_path = log_path_join(d->path, LOGDIR_LOG_START_FILE);
        c->recovery = ferry_calloc(d->nlogs + 1, sizeof *c->recovery);
        c->log_start = ferry_calloc(d->nlogs + 1, sizeof *c->log_start);
        ok = c->recovery_path && c->log_start_path && c->recovery && c->log_start;
    }
    if (what & LOGDIR_CKPT_HIGH_WATERMARK) {
        c->hw_path = log_path_join(d->path, LOGDIR_HIGH_WATERMARK_FILE);
        c->hw = ferry_calloc(d->nlogs + 1, sizeof *c->hw);
        ok = ok && c->hw_path && c->hw;
    }
    if (!ok) {
        logdir_checkpoint_free(c);
        return FERRY_ENOMEM;
    }
    for (size_t i = 0; i < d->nlogs; i++) {
        const struct plog *log = d->logs[i];
        if (c->recovery) {
            fill_tp(&c->recovery[c->nrecovery++], log, log->recovery_point);
            /* Kafka writes a log start offset only where it is not implied by the first segment. */
            if (log->log_start_offset > log->segs[0]->base_offset)
                fill_tp(&c->log_start[c->nlog_start++], log, log->log_start_offset);
        }
        if (c->hw && log->checkpoint_hw >= 0)
            fill_tp(&c->hw[c->nhw++], log, log->checkpoint_hw);
    }
    return 0;
}

static int write_offsets_file(const char *path, const struct logdir_tp_offset *e, size_t n)
{
    if (!path)
        return 0;
    int rc = logdir_offsets_write(path, e, n);
    if (rc)
        LOG_ERROR("log", "cannot write %s: %s", path, ferry_strerror(rc));
    return rc;
}

int logdir_checkpoint_write(const struct logdir_checkpoint *c)
{
    int rc = write_offsets_file(c->recovery_path, c->recovery, c->nrecovery);
    if (rc == 0)
        rc = write_offsets_file(c->log_start_path, c->log_start, c->nlog_start);
    int r = write_offsets_file(c->hw_path, c->hw, c->nhw);
    return rc ? rc : r;
}

int logdir_checkpoint_sync(struct logdir *d)
{
    struct logdir_checkpoint c;
    int rc = logdir_checkpoint_collect(d, LOGDIR_CKPT_ALL, &c);
    if (rc)
        return rc;
    rc = logdir_checkpoint_write(&c);
    logdir_checkpoint_free(&c);
    return rc;
}

int logdir_close(struct logdir *d, int64_t broker_epoch)
{
    int rc = 0;
    struct logdir_sync s; /* one pass for the logs still not durably created, not three fsyncs each */
    if (logdir_sync_begin(d, &s))
        logdir_sync_end(d, &s, logdir_sync_run(&s));
    for (size_t i = 0; i < d->nlogs; i++) {
        int r = plog_flush_sync(d->logs[i]);
        if (r && rc == 0)
            rc = r;
    }
    int r = logdir_checkpoint_sync(d);
    if (r && rc == 0)
        rc = r;
    for (size_t i = 0; i < d->nlogs; i++) {
        r = plog_close(d->logs[i]);
        if (r && rc == 0)
            rc = r;
    }
    d->nlogs = 0;
    if (rc == 0) {
        char text[64];
        int n = snprintf(text, sizeof text, "{\"version\":0,\"brokerEpoch\":%lld}", (long long)broker_epoch);
        char *marker = log_path_join(d->path, LOGDIR_CLEAN_SHUTDOWN_FILE);
        rc = marker ? log_write_file_atomic(marker, text, (size_t)n) : FERRY_ENOMEM;
        ferry_free(marker);
    }
    if (rc)
        LOG_ERROR("log", "log directory %s closed uncleanly: %s", d->path, ferry_strerror(rc));
    else
        LOG_INFO("log", "log directory %s closed cleanly", d->path);
    free_dir(d);
    return rc;
}

void logdir_close_abandon(struct logdir *d)
{
    for (size_t i = 0; i < d->nlogs; i++)
        plog_close_abandon(d->logs[i]);
    free_dir(d);
}
