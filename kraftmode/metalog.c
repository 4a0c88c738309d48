/* metalog: see metalog.h. */
#include "kraftmode/metalog.h"

#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/snapshot.h"

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
    return metalog_scan_from(ml, plog_log_start_offset(ml->log), cb, arg);
}

int metalog_scan_from(struct metalog *ml, int64_t from, int (*cb)(void *arg, const uint8_t *batch, size_t len),
                      void *arg)
{
    int64_t offset = from > plog_log_start_offset(ml->log) ? from : plog_log_start_offset(ml->log);
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

int metalog_write_snapshot_file(const char *path, const struct metalog_rec *recs, size_t n, int64_t now_ms)
{
    struct proto_writer w;
    proto_writer_init(&w);
    char *tmp = NULL, *dir = NULL;
    int rc = snapshot_build(&w, recs, n, 0, 0, now_ms);
    if (rc)
        goto out;
    rc = FERRY_ENOMEM;
    size_t tlen = strlen(path) + 5;
    tmp = ferry_malloc(tlen);
    dir = ferry_strdup(path);
    if (!tmp || !dir)
        goto out;
    snprintf(tmp, tlen, "%s.tmp", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    rc = snapshot_write_atomic(tmp, path, slash ? dir : ".", w.buf, w.len);
out:
    ferry_free(tmp);
    ferry_free(dir);
    proto_writer_free(&w);
    return rc;
}

int metalog_read_snapshot_file(const char *path, int (*cb)(void *arg, const uint8_t *batch, size_t len), void *arg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = snapshot_read_whole(path, &buf, &len);
    if (rc)
        return rc;
    char why[256] = "";
    rc = snapshot_load_buf(buf, len, -1, 0, NULL, NULL, why, sizeof why);
    if (rc && rc != FERRY_ENOMEM)
        LOG_ERROR("kraft", "%s is not a valid snapshot file: %s", path, why);
    struct rb_iter it;
    rb_iter_init(&it, buf, len);
    const uint8_t *b;
    size_t blen;
    struct rb_header h;
    while (!rc && rb_iter_next(&it, &b, &blen, &h) == 1)
        rc = cb(arg, b, blen);
    ferry_free(buf);
    return rc;
}
