/* cleaner_recover: completing or rolling back an interrupted compaction swap at plog_open (internal),
 * Kafka's LogLoader passes:
 *   1. `*.cleaned` files are deleted (their swap never started); `.index/.timeindex/.txnindex` `.swap`
 *      files are deleted (rebuilt by recovery); a `.log.swap` whose base offset is >= the smallest
 *      `.cleaned` base offset is deleted (its group's swap had not finished: the swap is rolled back);
 *   2. the remaining `.log.swap` files span [smallest base, largest next offset): every other segment file
 *      (.log/.index/.timeindex/.txnindex, also `.deleted`; Kafka deletes any file named by an offset, Ferry
 *      leaves producer snapshots to their owner) whose base offset lies in that range was replaced by them
 *      and is deleted;
 *   3. `.swap` files are renamed to their final names.
 * A `.log.swap` exists only once its `.cleaned` was complete and fsynced, so each step leaves either the
 * old segments or the new ones. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/proto/proto_buf.h"
#include "broker/proto/record_batch.h"
#include "log_fs.h"
#include "plog_internal.h"

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The base offset of a file named "<20 digits>.<...>". */
static bool offset_of(const char *name, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        v = v * 10 + (name[i] - '0');
    }
    if (name[20] != '.')
        return false;
    *out = v;
    return true;
}

static void remove_file(const struct plog *log, const char *name, const char *why)
{
    char *path = log_path_join(log->dir, name);
    if (!path)
        return;
    if (unlink(path) == 0)
        LOG_INFO("log", "%s: deleted %s (%s)", log->name, path, why);
    else if (errno != ENOENT)
        LOG_WARN("log", "%s: cannot delete %s: %s", log->name, path, strerror(errno));
    ferry_free(path);
}

/* Offset after the last whole batch of a segment file (framing only; recovery checks the rest). */
static int64_t next_offset_of(const char *path, int64_t base)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return base;
    int64_t next = base;
    off_t pos = 0;
    uint8_t hdr[RB_HEADER_SIZE];
    while (log_pread_full(fd, hdr, sizeof hdr, pos) == 0) {
        struct rb_header h;
        rb_parse_header(hdr, sizeof hdr, &h);
        if (h.batch_length < RB_HEADER_SIZE - RB_LOG_OVERHEAD || h.last_offset_delta < 0)
            break;
        uint8_t probe;
        if (log_pread_full(fd, &probe, 1, pos + RB_LOG_OVERHEAD + h.batch_length - 1) != 0)
            break;
        next = h.base_offset + h.last_offset_delta + 1;
        pos += RB_LOG_OVERHEAD + h.batch_length;
    }
    close(fd);
    return next;
}

struct swap_list {
    char **names;
    size_t n, cap;
};

static int list_push(struct swap_list *l, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **nn = ferry_realloc(l->names, cap * sizeof *nn);
        if (!nn)
            return FERRY_ENOMEM;
        l->names = nn;
        l->cap = cap;
    }
    if (!(l->names[l->n] = ferry_strdup(name)))
        return FERRY_ENOMEM;
    l->n++;
    return 0;
}

static void list_free(struct swap_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        ferry_free(l->names[i]);
    ferry_free(l->names);
}

int plog_clean_recover_files(struct plog *log)
{
    struct swap_list swaps = {0}, cleaned = {0};
    int rc = 0;
    int64_t min_cleaned = INT64_MAX;
    DIR *d = opendir(log->dir);
    if (!d)
        return 0; /* list_dir reports it */
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        int64_t base;
        if (ends_with(e->d_name, ".cleaned")) {
            if (offset_of(e->d_name, &base) && base < min_cleaned)
                min_cleaned = base;
            rc = list_push(&cleaned, e->d_name);
        } else if (ends_with(e->d_name, ".swap")) {
            rc = list_push(&swaps, e->d_name);
        }
    }
    closedir(d);
    if (rc || (swaps.n == 0 && cleaned.n == 0))
        goto free_lists;
    for (size_t i = 0; i < cleaned.n; i++)
        remove_file(log, cleaned.names[i], "left over from an interrupted log compaction");

    /* Pass 1: index swaps and swaps of unfinished groups go; the range of the rest. */
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    size_t kept = 0;
    for (size_t i = 0; i < swaps.n; i++) {
        const char *name = swaps.names[i];
        int64_t base;
        bool is_log = log_parse_segment_name(name, ".log.swap", &base);
        if (!is_log || base >= min_cleaned) {
            remove_file(log, name, is_log ? "compaction swap rolled back" : "swap index, rebuilt by recovery");
            continue;
        }
        char *path = log_path_join(log->dir, name);
        if (!path) {
            rc = FERRY_ENOMEM;
            goto free_lists;
        }
        int64_t next = next_offset_of(path, base);
        ferry_free(path);
        if (base < lo)
            lo = base;
        if (next > hi)
            hi = next;
        char *t = swaps.names[kept];
        swaps.names[kept++] = swaps.names[i];
        swaps.names[i] = t;
    }
    if (kept == 0)
        goto free_lists;
    LOG_WARN("log", "%s: completing an interrupted log compaction: %zu swap segment(s) replace offsets [%lld, %lld)",
             log->name, kept, (long long)lo, (long long)hi);

    /* Pass 2: the segments they replace. */
    d = opendir(log->dir);
    if (!d) {
        rc = FERRY_EIO;
        goto free_lists;
    }
    while ((e = readdir(d)) != NULL) {
        int64_t base;
        bool segment_file = strstr(e->d_name, ".log") || strstr(e->d_name, ".index") ||
                            strstr(e->d_name, ".timeindex") || strstr(e->d_name, ".txnindex");
        if (segment_file && !ends_with(e->d_name, ".swap") && offset_of(e->d_name, &base) && base >= lo && base < hi)
            remove_file(log, e->d_name, "replaced by a compacted segment");
    }
    closedir(d);

    /* Pass 3: the swaps take their final names. */
    for (size_t i = 0; i < kept; i++) {
        char *from = log_path_join(log->dir, swaps.names[i]);
        char *to = from ? ferry_strndup(from, strlen(from) - strlen(".swap")) : NULL;
        if (!to || rename(from, to) != 0) {
            LOG_ERROR("log", "%s: cannot rename %s: %s", log->name, from ? from : swaps.names[i], strerror(errno));
            rc = to ? FERRY_EIO : FERRY_ENOMEM;
        }
        ferry_free(from);
        ferry_free(to);
    }
    if (log_fsync_dir(log->dir) != 0)
        LOG_WARN("log", "%s: cannot fsync %s", log->name, log->dir);
free_lists:
    list_free(&swaps);
    list_free(&cleaned);
    return rc;
}
