/* metalog: see metalog.h. */
#include "kraftmode/metalog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"

proto_uuid metalog_topic_id(void)
{
    proto_uuid u = {{0}};
    u.b[15] = 1;
    return u;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = ferry_malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

int metalog_open(const char *meta_dir, int64_t now_ms, struct metalog **out)
{
    struct metalog *ml = ferry_calloc(1, sizeof *ml);
    if (!ml)
        return FERRY_ENOMEM;
    ml->meta_dir = ferry_strdup(meta_dir);
    ml->dir = join(meta_dir, METALOG_PARTITION_DIR);
    if (!ml->meta_dir || !ml->dir) {
        metalog_close_abandon(ml);
        return FERRY_ENOMEM;
    }
    struct plog_config cfg;
    plog_config_default(&cfg);
    cfg.retention_ms = -1;
    cfg.retention_bytes = -1;
    proto_uuid id = metalog_topic_id();
    struct plog_open_opts opts = {.recovery_point = 0, .log_start_offset = 0, .clean_shutdown = false,
                                  .topic_id = &id, .now_ms = now_ms};
    int rc = plog_open(meta_dir, METALOG_TOPIC, 0, &cfg, &opts, &ml->log);
    if (rc) {
        LOG_ERROR("kraft", "cannot open the metadata log in %s: %s", ml->dir, ferry_strerror(rc));
        metalog_close_abandon(ml);
        return rc;
    }
    *out = ml;
    return 0;
}

int metalog_close(struct metalog *ml)
{
    if (!ml)
        return 0;
    int rc = ml->log ? plog_close(ml->log) : 0;
    ml->log = NULL;
    metalog_close_abandon(ml);
    return rc;
}

void metalog_close_abandon(struct metalog *ml)
{
    if (!ml)
        return;
    if (ml->log)
        plog_close_abandon(ml->log);
    ferry_free(ml->meta_dir);
    ferry_free(ml->dir);
    ferry_free(ml);
}

int64_t metalog_start_offset(const struct metalog *ml) { return plog_log_start_offset(ml->log); }
int64_t metalog_end_offset(const struct metalog *ml) { return plog_log_end_offset(ml->log); }
int32_t metalog_last_epoch(const struct metalog *ml) { return plog_latest_epoch(ml->log); }

int metalog_scan(struct metalog *ml, int (*cb)(void *arg, const uint8_t *batch, size_t len), void *arg)
{
    int64_t offset = plog_log_start_offset(ml->log);
    int64_t end = plog_log_end_offset(ml->log);
    while (offset < end) {
        struct plog_read_result res;
        int rc = plog_read(ml->log, offset, METALOG_MAX_BATCH_BYTES, true, -1, &res);
        if (rc)
            return rc;
        if (res.len == 0) {
            ferry_free(res.data);
            if (res.next_offset <= offset) {
                LOG_ERROR("kraft", "%s: no batch found at offset %lld below the log end offset %lld", ml->dir,
                          (long long)offset, (long long)end);
                return FERRY_ECORRUPT;
            }
            offset = res.next_offset;
            continue;
        }
        struct rb_iter it;
        rb_iter_init(&it, res.data, res.len);
        const uint8_t *b;
        size_t blen;
        struct rb_header h;
        int r;
        while ((r = rb_iter_next(&it, &b, &blen, &h)) == 1) {
            if (h.base_offset + h.last_offset_delta < offset)
                continue; /* already seen (a read starts at the batch holding `offset`) */
            rc = cb(arg, b, blen);
            if (rc) {
                ferry_free(res.data);
                return rc;
            }
        }
        ferry_free(res.data);
        if (r < 0)
            return FERRY_ECORRUPT;
        if (res.next_offset <= offset)
            return FERRY_ECORRUPT;
        offset = res.next_offset;
    }
    return 0;
}

int metalog_append(struct metalog *ml, uint8_t *batches, size_t len, int32_t epoch, int64_t now_ms,
                   struct plog_append_info *info)
{
    return plog_append(ml->log, batches, len, epoch, now_ms, 0, info);
}

/* ---- snapshot-format files ---- */

static int fsync_parent(const char *path)
{
    char *dir = ferry_strdup(path);
    if (!dir)
        return FERRY_ENOMEM;
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
    ferry_free(dir);
    if (fd < 0)
        return FERRY_EIO;
    int rc = fsync(fd) == 0 ? 0 : FERRY_EIO;
    close(fd);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return FERRY_EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int metalog_write_snapshot_file(const char *path, const struct metalog_rec *recs, size_t n, int64_t now_ms)
{
    struct proto_writer w;
    proto_writer_init(&w);
    struct SnapshotHeaderRecord hdr = {.Version = 0, .LastContainedLogTimestamp = 0};
    struct SnapshotFooterRecord ftr = {.Version = 0};
    int64_t offset = 0;
    int rc = metalog_build_control_batch(&w, offset++, 0, now_ms, METALOG_CTRL_SNAPSHOT_HEADER,
                                         &proto_msg_SnapshotHeaderRecord, &hdr);
    for (size_t i = 0; !rc && i < n; i += METALOG_MAX_RECORDS_PER_BATCH) {
        size_t k = n - i < METALOG_MAX_RECORDS_PER_BATCH ? n - i : METALOG_MAX_RECORDS_PER_BATCH;
        rc = metalog_build_batch(&w, offset, 0, now_ms, recs + i, k);
        offset += (int64_t)k;
    }
    if (!rc)
        rc = metalog_build_control_batch(&w, offset, 0, now_ms, METALOG_CTRL_SNAPSHOT_FOOTER,
                                         &proto_msg_SnapshotFooterRecord, &ftr);
    char *tmp = NULL;
    if (rc)
        goto out;
    rc = FERRY_ENOMEM;
    size_t tlen = strlen(path) + 5;
    tmp = ferry_malloc(tlen);
    if (!tmp)
        goto out;
    snprintf(tmp, tlen, "%s.tmp", path);
    unlink(tmp);
    rc = FERRY_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        LOG_ERROR("kraft", "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (write_all(fd, w.buf, w.len) || fsync(fd) != 0) {
        LOG_ERROR("kraft", "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        LOG_ERROR("kraft", "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = fsync_parent(path);
out:
    ferry_free(tmp);
    proto_writer_free(&w);
    return rc;
}

int metalog_read_snapshot_file(const char *path, int (*cb)(void *arg, const uint8_t *batch, size_t len), void *arg)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size > 1024 * 1024 * 1024) {
        close(fd);
        return FERRY_EIO;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = ferry_malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return FERRY_ENOMEM;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    int rc = got == len ? 0 : FERRY_EIO;
    struct rb_iter it;
    rb_iter_init(&it, buf, len);
    const uint8_t *b;
    size_t blen;
    struct rb_header h;
    int r = 0, nb = 0;
    bool footer = false;
    struct proto_arena a;
    proto_arena_init(&a);
    while (!rc && (r = rb_iter_next(&it, &b, &blen, &h)) == 1) {
        struct metalog_batch mb;
        rc = metalog_decode_batch(b, blen, &a, &mb);
        if (rc)
            break;
        if (footer) {
            rc = FERRY_ECORRUPT; /* batches after the footer */
            break;
        }
        if (nb == 0 && !(mb.control && mb.control_type == METALOG_CTRL_SNAPSHOT_HEADER)) {
            rc = FERRY_ECORRUPT;
            break;
        }
        if (mb.control && mb.control_type == METALOG_CTRL_SNAPSHOT_FOOTER)
            footer = true;
        nb++;
        rc = cb(arg, b, blen);
    }
    if (!rc && (r < 0 || it.partial_tail || !footer))
        rc = FERRY_ECORRUPT;
    if (rc && rc != FERRY_ENOMEM)
        LOG_ERROR("kraft", "%s is not a valid snapshot file: %s", path, ferry_strerror(rc));
    proto_arena_free(&a);
    ferry_free(buf);
    return rc;
}
