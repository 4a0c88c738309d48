/* snapshot: the snapshot file format and files (see snapshot.h). */
#include "kraftmode/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/metalog.h"

/* ---- names ---- */

void snapshot_file_name(struct snapshot_id id, const char *suffix, char out[SNAPSHOT_NAME_MAX])
{
    snprintf(out, SNAPSHOT_NAME_MAX, "%020" PRId64 "-%010" PRId32 "%s", id.end_offset, id.epoch,
             suffix ? suffix : SNAPSHOT_SUFFIX);
}

static bool digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

bool snapshot_parse_name(const char *name, struct snapshot_id *id)
{
    if (strlen(name) != SNAPSHOT_NAME_LEN || name[20] != '-' || !digits(name, 20) || !digits(name + 21, 10) ||
        strcmp(name + 31, SNAPSHOT_SUFFIX) != 0)
        return false;
    char *end;
    errno = 0;
    unsigned long long off = strtoull(name, &end, 10);
    unsigned long long ep = strtoull(name + 21, &end, 10);
    if (errno || off > INT64_MAX || ep > INT32_MAX)
        return false;
    id->end_offset = (int64_t)off;
    id->epoch = (int32_t)ep;
    return true;
}

static char *path_of(const char *dir, struct snapshot_id id, const char *suffix)
{
    char name[SNAPSHOT_NAME_MAX];
    snapshot_file_name(id, suffix, name);
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = ferry_malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ---- building ---- */

int snapshot_build(struct proto_writer *w, const struct metalog_rec *recs, size_t n, int32_t epoch,
                   int64_t last_contained_ms, int64_t now_ms)
{
    struct SnapshotHeaderRecord hdr = {.Version = 0, .LastContainedLogTimestamp = last_contained_ms};
    struct SnapshotFooterRecord ftr = {.Version = 0};
    int64_t offset = 0;
    int rc = metalog_build_control_batch(w, offset++, epoch, now_ms, METALOG_CTRL_SNAPSHOT_HEADER,
                                         &proto_msg_SnapshotHeaderRecord, &hdr);
    size_t i = 0;
    while (!rc && i < n) {
        size_t k = n - i < METALOG_MAX_RECORDS_PER_BATCH ? n - i : METALOG_MAX_RECORDS_PER_BATCH;
        size_t mark = w->len;
        for (;;) {
            rc = metalog_build_batch(w, offset, epoch, now_ms, recs + i, k);
            if (rc || k == 1 || w->len - mark <= METALOG_MAX_BATCH_BYTES)
                break;
            w->len = mark; /* too big: half as many records */
            k /= 2;
        }
        offset += (int64_t)k;
        i += k;
    }
    if (!rc)
        rc = metalog_build_control_batch(w, offset, epoch, now_ms, METALOG_CTRL_SNAPSHOT_FOOTER,
                                         &proto_msg_SnapshotFooterRecord, &ftr);
    return rc ? rc : w->err;
}

int snapshot_build_image(struct proto_writer *w, const struct md_image *img, int32_t epoch, int64_t last_contained_ms,
                         int64_t now_ms)
{
    struct proto_arena a;
    proto_arena_init(&a);
    struct metalog_rec *recs = NULL;
    size_t n = 0;
    int rc = snapshot_image_records(img, &a, &recs, &n);
    if (!rc)
        rc = snapshot_build(w, recs, n, epoch, last_contained_ms, now_ms);
    ferry_free(recs);
    proto_arena_free(&a);
    return rc;
}

/* ---- validating and loading ---- */

static int bad(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int bad(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int snapshot_load_buf(const uint8_t *buf, size_t len, int32_t epoch, int64_t end_offset, struct md_image *img,
                      struct md_delta *delta, char *err, size_t errlen)
{
    struct rb_iter it;
    rb_iter_init(&it, buf, len);
    const uint8_t *b;
    size_t blen;
    struct rb_header h;
    int64_t next = 0;
    bool footer = false;
    int r, rc = 0;
    struct proto_arena a;
    proto_arena_init(&a);
    while (!rc && (r = rb_iter_next(&it, &b, &blen, &h)) == 1) {
        size_t pos = (size_t)(b - buf);
        struct metalog_batch mb;
        rc = metalog_decode_batch(b, blen, &a, &mb);
        if (rc) {
            if (rc != FERRY_ENOMEM)
                rc = bad(err, errlen, rc, "batch at byte %zu: %s", pos,
                         rc == FERRY_ECORRUPT ? "CRC mismatch" : ferry_strerror(rc));
            break;
        }
        if (footer) {
            rc = bad(err, errlen, FERRY_ECORRUPT, "batch at byte %zu follows the SnapshotFooter", pos);
            break;
        }
        if (h.base_offset != next) {
            rc = bad(err, errlen, FERRY_ECORRUPT, "batch at byte %zu has base offset %lld, expected %lld", pos,
                     (long long)h.base_offset, (long long)next);
            break;
        }
        if (epoch >= 0 && h.partition_leader_epoch != epoch) {
            rc = bad(err, errlen, FERRY_ECORRUPT, "batch at byte %zu has epoch %d, the snapshot's is %d", pos,
                     h.partition_leader_epoch, epoch);
            break;
        }
        if (next == 0 && !(mb.control && mb.control_type == METALOG_CTRL_SNAPSHOT_HEADER)) {
            rc = bad(err, errlen, FERRY_ECORRUPT, "the first batch is not a SnapshotHeader");
            break;
        }
        if (mb.control) {
            if (next > 0 && mb.control_type != METALOG_CTRL_SNAPSHOT_FOOTER) {
                rc = bad(err, errlen, FERRY_ECORRUPT, "batch at byte %zu: unexpected control record type %d", pos,
                         mb.control_type);
                break;
            }
            footer = mb.control_type == METALOG_CTRL_SNAPSHOT_FOOTER;
        }
        for (size_t i = 0; img && i < mb.n; i++) {
            rc = md_image_apply(img, mb.entries[i].m, mb.entries[i].data, end_offset - 1, delta);
            if (rc && rc != FERRY_ENOMEM)
                rc = bad(err, errlen, FERRY_ECORRUPT, "%s at snapshot offset %lld contradicts the records before it",
                         mb.entries[i].m->name, (long long)mb.entries[i].offset);
            if (rc)
                break;
        }
        next = h.base_offset + h.last_offset_delta + 1;
        proto_arena_free(&a);
        proto_arena_init(&a);
    }
    proto_arena_free(&a);
    if (rc)
        return rc;
    if (r < 0)
        return bad(err, errlen, FERRY_ECORRUPT, "malformed batch header at byte %zu", it.pos);
    if (it.partial_tail)
        return bad(err, errlen, FERRY_ECORRUPT, "truncated batch at byte %zu (file size %zu)", it.pos, len);
    if (next == 0)
        return bad(err, errlen, FERRY_ECORRUPT, "empty file: no SnapshotHeader");
    if (!footer)
        return bad(err, errlen, FERRY_ECORRUPT, "no SnapshotFooter: the snapshot is incomplete");
    if (img)
        img->last_offset = end_offset - 1;
    return 0;
}

/* pread until len bytes, the end of the file (*got tells) or an error (FERRY_EIO). */
static int pread_all(int fd, uint8_t *buf, size_t len, int64_t pos, size_t *got)
{
    *got = 0;
    while (*got < len) {
        ssize_t r = pread(fd, buf + *got, len - *got, (off_t)(pos + (int64_t)*got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return FERRY_EIO;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

/* pwrite everything, or FERRY_EIO. */
static int pwrite_all(int fd, const uint8_t *buf, size_t len, int64_t pos)
{
    for (size_t done = 0; done < len;) {
        ssize_t w = pwrite(fd, buf + done, len - done, (off_t)(pos + (int64_t)done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return FERRY_EIO;
        done += (size_t)w;
    }
    return 0;
}

int snapshot_read_whole(const char *path, uint8_t **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size > SNAPSHOT_MAX_FILE_BYTES) {
        close(fd);
        return FERRY_EIO;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *p = ferry_malloc(n ? n : 1);
    if (!p) {
        close(fd);
        return FERRY_ENOMEM;
    }
    size_t got = 0;
    int rc = pread_all(fd, p, n, 0, &got);
    close(fd);
    if (rc) {
        ferry_free(p);
        return rc;
    }
    *buf = p;
    *len = got; /* a file that shrank under us reads as truncated */
    return 0;
}

/* Reads and loads (or with img NULL validates) the file at path as snapshot id. */
static int load_path(const char *path, struct snapshot_id id, struct md_image *img, struct md_delta *delta, char *err,
                     size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = snapshot_read_whole(path, &buf, &len);
    if (rc == FERRY_EIO)
        bad(err, errlen, rc, "cannot read %s: %s", path, strerror(errno));
    else if (rc == FERRY_ENOTFOUND)
        bad(err, errlen, rc, "%s does not exist", path);
    if (!rc) {
        char why[256] = "";
        rc = snapshot_load_buf(buf, len, id.epoch, id.end_offset, img, delta, why, sizeof why);
        if (rc && rc != FERRY_ENOMEM)
            bad(err, errlen, rc, "%s is not a valid snapshot: %s", path, why);
    }
    ferry_free(buf);
    return rc;
}

int snapshot_load_file(const char *dir, struct snapshot_id id, struct md_image *img, struct md_delta *delta, char *err,
                       size_t errlen)
{
    char *path = path_of(dir, id, NULL);
    int rc = path ? load_path(path, id, img, delta, err, errlen) : FERRY_ENOMEM;
    ferry_free(path);
    return rc;
}

/* ---- files ---- */

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return FERRY_EIO;
    int rc = fsync(fd) == 0 ? 0 : FERRY_EIO;
    close(fd);
    return rc;
}

int snapshot_write_atomic(const char *tmp, const char *path, const char *dir, const uint8_t *buf, size_t len)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        LOG_ERROR("kraft", "cannot create %s: %s", tmp, strerror(errno));
        return FERRY_EIO;
    }
    if (pwrite_all(fd, buf, len, 0) || fsync(fd) != 0) {
        LOG_ERROR("kraft", "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return FERRY_EIO;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        LOG_ERROR("kraft", "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return FERRY_EIO;
    }
    int rc = fsync_dir(dir);
    if (rc)
        LOG_ERROR("kraft", "cannot fsync %s: %s", dir, strerror(errno));
    return rc;
}

int snapshot_write_file(const char *dir, struct snapshot_id id, const uint8_t *buf, size_t len)
{
    char *part = path_of(dir, id, SNAPSHOT_PART_SUFFIX);
    char *path = path_of(dir, id, NULL);
    int rc = part && path ? snapshot_write_atomic(part, path, dir, buf, len) : FERRY_ENOMEM;
    ferry_free(part);
    ferry_free(path);
    return rc;
}

static int cmp_newest_first(const void *a, const void *b)
{
    const struct snapshot_id *x = a, *y = b;
    if (x->end_offset != y->end_offset)
        return x->end_offset > y->end_offset ? -1 : 1;
    return x->epoch > y->epoch ? -1 : x->epoch < y->epoch;
}

int snapshot_list(const char *dir, struct snapshot_id **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return FERRY_EIO;
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct snapshot_id id;
        if (!snapshot_parse_name(e->d_name, &id))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            struct snapshot_id *p = ferry_realloc(*ids, cap * sizeof *p);
            if (!p) {
                rc = FERRY_ENOMEM;
                break;
            }
            *ids = p;
        }
        (*ids)[(*n)++] = id;
    }
    closedir(d);
    if (rc) {
        ferry_free(*ids);
        *ids = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 1)
        qsort(*ids, *n, sizeof **ids, cmp_newest_first);
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int snapshot_remove_partial(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return FERRY_EIO;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!ends_with(e->d_name, SNAPSHOT_PART_SUFFIX))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0) {
            LOG_WARN("kraft", "removed %s/%s: a snapshot whose writing was interrupted", dir, e->d_name);
            removed++;
        } else {
            LOG_ERROR("kraft", "cannot remove %s/%s: %s", dir, e->d_name, strerror(errno));
        }
    }
    closedir(d);
    return removed;
}

/* Renames `path` (the snapshot id's file with `suffix`) to the id's first free `.checkpoint.corrupt[.N]`. */
static int move_aside(const char *dir, struct snapshot_id id, const char *suffix)
{
    char *path = path_of(dir, id, suffix);
    char *target = path_of(dir, id, SNAPSHOT_CORRUPT_SUFFIX);
    int rc = FERRY_ENOMEM;
    if (!path || !target)
        goto out;
    size_t tlen = strlen(target) + 16;
    char *t = ferry_realloc(target, tlen);
    if (!t)
        goto out;
    target = t;
    size_t base = strlen(target);
    struct stat st;
    for (int i = 1; lstat(target, &st) == 0; i++)
        snprintf(target + base, tlen - base, ".%d", i);
    if (rename(path, target) != 0) {
        LOG_ERROR("kraft", "cannot set the bad snapshot %s aside as %s: %s", path, target, strerror(errno));
        rc = FERRY_EIO;
        goto out;
    }
    LOG_ERROR("kraft", "bad snapshot %s set aside as %s (kept for inspection, never read again)", path, target);
    rc = fsync_dir(dir);
out:
    ferry_free(path);
    ferry_free(target);
    return rc;
}

int snapshot_set_aside(const char *dir, struct snapshot_id id) { return move_aside(dir, id, NULL); }

int snapshot_delete(const char *dir, struct snapshot_id id)
{
    char *path = path_of(dir, id, NULL);
    if (!path)
        return FERRY_ENOMEM;
    int rc = 0;
    if (unlink(path) != 0 && errno != ENOENT) {
        LOG_ERROR("kraft", "cannot delete the old snapshot %s: %s", path, strerror(errno));
        rc = FERRY_EIO;
    } else {
        LOG_INFO("kraft", "deleted the old snapshot %s", path);
    }
    ferry_free(path);
    return rc;
}

int snapshot_part_write(const char *dir, struct snapshot_id id, int64_t position, const uint8_t *buf, size_t len)
{
    char *part = path_of(dir, id, SNAPSHOT_PART_SUFFIX);
    if (!part)
        return FERRY_ENOMEM;
    int rc = 0;
    int fd = open(part, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        LOG_ERROR("kraft", "cannot open %s: %s", part, strerror(errno));
        rc = FERRY_EIO;
    } else if (position < 0 || position > st.st_size) {
        rc = FERRY_ERANGE;
    }
    if (!rc && (rc = pwrite_all(fd, buf, len, position)) != 0)
        LOG_ERROR("kraft", "cannot write %s: %s", part, strerror(errno));
    if (fd >= 0)
        close(fd);
    ferry_free(part);
    return rc;
}

int snapshot_part_freeze(const char *dir, struct snapshot_id id, char *err, size_t errlen)
{
    char *part = path_of(dir, id, SNAPSHOT_PART_SUFFIX);
    char *path = path_of(dir, id, NULL);
    int rc = part && path ? load_path(part, id, NULL, NULL, err, errlen) : FERRY_ENOMEM;
    if (rc == FERRY_ECORRUPT || rc == FERRY_EPARSE || rc == FERRY_EUNSUPPORTED) {
        LOG_ERROR("kraft", "%s", err);
        move_aside(dir, id, SNAPSHOT_PART_SUFFIX);
    }
    int fd = -1;
    if (!rc && ((fd = open(part, O_RDONLY | O_CLOEXEC)) < 0 || fsync(fd) != 0))
        rc = bad(err, errlen, FERRY_EIO, "cannot fsync %s: %s", part, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (!rc && rename(part, path) != 0)
        rc = bad(err, errlen, FERRY_EIO, "cannot rename %s to %s: %s", part, path, strerror(errno));
    if (!rc && (rc = fsync_dir(dir)) != 0)
        bad(err, errlen, rc, "cannot fsync %s: %s", dir, strerror(errno));
    ferry_free(part);
    ferry_free(path);
    return rc;
}

int snapshot_read_chunk(const char *dir, struct snapshot_id id, int64_t position, uint8_t *buf, size_t max, size_t *got,
                        int64_t *size)
{
    *got = 0;
    char *path = path_of(dir, id, NULL);
    if (!path)
        return FERRY_ENOMEM;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int saved = errno;
    ferry_free(path);
    if (fd < 0)
        return saved == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = FERRY_EIO;
        goto out;
    }
    *size = st.st_size;
    if (position < 0 || position >= st.st_size) { /* as Kafka: the last chunk is the one that reaches the end */
        rc = FERRY_ERANGE;
        goto out;
    }
    size_t want = (uint64_t)(st.st_size - position) < max ? (size_t)(st.st_size - position) : max;
    rc = pread_all(fd, buf, want, position, got);
out:
    close(fd);
    return rc;
}
