/* Shared helpers for the log module's unit tests (test_log_*.c): scratch directories, batch building,
 * small file utilities. Header-only so that each test executable stays one source file. */
#ifndef FERRY_TEST_LOG_UTIL_H
#define FERRY_TEST_LOG_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/log/log.h"
#include "broker/log/log_fs.h"
#include "record_batch.h"

#define T_NOW 1700000000000LL

/* Lowers RLIMIT_NOFILE so that exactly two descriptor numbers stay free below it, the lowest free one and
 * the next: files opened one at a time still work, but not the three files of a segment. *saved gets the
 * limit to restore; assert_*-checked (cmocka is included before this header). */
static inline void nofile_two_free(struct rlimit *saved)
{
    int lowest_free = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(lowest_free >= 0);
    close(lowest_free);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, saved), 0);
    struct rlimit low = {(rlim_t)lowest_free + 2, saved->rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
}

/* Descriptors this process has open now. */
static inline size_t process_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* A fresh scratch directory under $FERRY_TEST_TMP (or /tmp); remove with tmpdir_remove. */
static inline char *tmpdir_make(void)
{
    const char *base = getenv("FERRY_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755);
    char *tmpl = log_path_fmt("%s/ferry-log-XXXXXX", base);
    if (!tmpl || !mkdtemp(tmpl)) {
        fprintf(stderr, "mkdtemp failed\n");
        abort();
    }
    return tmpl;
}

static inline void tmpdir_remove(char *dir)
{
    log_remove_tree(dir);
    ferry_free(dir);
}

/* Appends one uncompressed batch of n records (timestamps ts, ts+1, ...; values of vlen bytes) to w. */
static inline void add_batch(struct proto_writer *w, int n, int64_t ts, int vlen)
{
    struct rb_builder b;
    rb_builder_begin(&b, w, 0, -1, 0, ts);
    char *val = malloc(vlen > 0 ? (size_t)vlen : 1);
    for (int i = 0; i < n; i++) {
        memset(val, 'a' + (i % 26), vlen > 0 ? (size_t)vlen : 1);
        char key[16];
        int kl = snprintf(key, sizeof key, "k%d", i);
        rb_builder_add(&b, ts + i, (proto_bytes){(const uint8_t *)key, kl}, (proto_bytes){(const uint8_t *)val, vlen});
    }
    free(val);
    rb_builder_finish(&b);
}

/* Builds a blob of one batch. */
static inline struct proto_writer one_batch(int n, int64_t ts, int vlen)
{
    struct proto_writer w;
    proto_writer_init(&w);
    add_batch(&w, n, ts, vlen);
    return w;
}

static inline void small_config(struct plog_config *c)
{
    plog_config_default(c);
    c->segment_bytes = 1 << 20;
    c->index_interval_bytes = 4096;
    c->segment_index_bytes = 1 << 16;
    c->file_delete_delay_ms = 0;
}

static inline struct plog_open_opts opts_at(int64_t now)
{
    struct plog_open_opts o = {0};
    o.now_ms = now;
    return o;
}

static inline long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static inline char *seg_file(const struct plog *log, int64_t base, const char *suffix)
{
    return log_segment_path(plog_dir(log), base, suffix);
}

static inline int read_all(const char *path, char **buf, size_t *len)
{
    return log_read_file(path, 1 << 26, buf, len);
}

static inline void write_all(const char *path, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, p, len) != (ssize_t)len)
        abort();
    close(fd);
}

/* Appends a batch of n records with a leader epoch; returns the first offset or aborts. */
static inline int64_t append_n(struct plog *log, int n, int64_t ts, int vlen, int32_t epoch)
{
    struct proto_writer w = one_batch(n, ts, vlen);
    struct plog_append_info info;
    int rc = plog_append(log, w.buf, w.len, epoch, ts, 0, &info);
    proto_writer_free(&w);
    if (rc) {
        fprintf(stderr, "append failed: %d\n", rc);
        abort();
    }
    return info.first_offset;
}

/* Walks a read result: number of batches, checks each with rb_validate and that offsets are contiguous. */
static inline int count_valid_batches(const uint8_t *p, size_t len, int64_t *first, int64_t *next)
{
    struct rb_iter it;
    rb_iter_init(&it, p, len);
    const uint8_t *b;
    size_t blen;
    struct rb_header h;
    int n = 0;
    while (rb_iter_next(&it, &b, &blen, &h) == 1) {
        struct rb_header vh;
        if (rb_validate(b, blen, &vh) != 0)
            return -1;
        if (n == 0 && first)
            *first = h.base_offset;
        if (next)
            *next = h.base_offset + h.last_offset_delta + 1;
        n++;
    }
    if (it.partial_tail)
        return -2;
    return n;
}

#endif
