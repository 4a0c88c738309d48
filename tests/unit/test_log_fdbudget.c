/* Unit tests for the open segment file budget (broker/log/log_file.h): the LRU of descriptors itself, and
 * partition logs that stay correct when far more segment files exist than may be open (budget 8, 50
 * partitions): append, read, roll, truncation, retention, index lookups, compaction, close and reopen
 * with and without recovery, and files removed behind the broker's back. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "broker/log/cleaner.h"
#include "broker/log/log_file.h"
#include "test_log_util.h"

enum { BUDGET = 8, NPARTS = 50, MAXOFF = 256 };

/* ---- the LRU itself ---- */

static char *make_file(const char *dir, int i, const char *content)
{
    char *path = log_path_fmt("%s/f%d", dir, i);
    write_all(path, content, strlen(content));
    return path;
}

static void assert_content(struct log_file *f, const char *want)
{
    char buf[64] = {0};
    assert_int_equal(log_pread_full(log_file_fd(f), buf, strlen(want), 0), 0);
    assert_string_equal(buf, want);
}

static void test_lru_keeps_the_budget(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    log_fd_budget_set(6);
    struct log_file f[6];
    for (int i = 0; i < 6; i++) {
        char content[16];
        snprintf(content, sizeof content, "file %d", i);
        assert_int_equal(log_file_open(&f[i], make_file(dir, i, content), false, true), 0);
    }
    assert_int_equal(log_fd_open_count(), 6);
    log_fd_budget_set(4); /* shrinks at once */
    assert_int_equal(log_fd_open_count(), 4);
    assert_false(log_file_is_open(&f[0])); /* least recently used first */
    assert_false(log_file_is_open(&f[1]));
    assert_true(log_file_is_open(&f[5]));

    size_t reopens = log_fd_reopen_count();
    assert_content(&f[0], "file 0"); /* reopened; evicts f[2], the least recently used now */
    assert_int_equal(log_fd_reopen_count(), reopens + 1);
    assert_false(log_file_is_open(&f[2]));
    assert_true(log_file_is_open(&f[3]));
    assert_content(&f[3], "file 3"); /* open: no reopen, but it becomes most recently used */
    assert_int_equal(log_fd_reopen_count(), reopens + 1);
    assert_content(&f[1], "file 1"); /* evicts f[4] (f[3] was just used) */
    assert_false(log_file_is_open(&f[4]));
    assert_true(log_file_is_open(&f[3]));
    assert_int_equal(log_fd_open_count(), 4);

    /* Writes through one descriptor are seen through the next after an eviction. */
    assert_int_equal(log_pwrite_full(log_file_fd(&f[2]), "FILE", 4, 0), 0);
    for (int i = 0; i < 6; i++)
        if (i != 1 && i != 2)
            log_file_fd(&f[i]);
    assert_false(log_file_is_open(&f[2]));
    assert_content(&f[2], "FILE 2");

    /* A rename: the path follows the file, so a reopen finds it. */
    char *renamed = log_path_fmt("%s/renamed", dir);
    assert_int_equal(rename(f[0].path, renamed), 0);
    log_file_set_path(&f[0], renamed);
    log_file_release(&f[0]);
    assert_content(&f[0], "file 0");

    /* Deleted behind our back: no new empty file, -1 and the caller's syscall fails. */
    assert_int_equal(unlink(f[1].path), 0);
    log_file_release(&f[1]);
    assert_int_equal(log_file_fd(&f[1]), -1);
    char c;
    assert_int_equal(log_pread_full(log_file_fd(&f[1]), &c, 1, 0), FERRY_EIO);
    assert_false(log_path_exists(f[1].path));

    /* Unmanaged files are outside the budget until managed. */
    size_t before = log_fd_open_count();
    struct log_file u;
    assert_int_equal(log_file_open(&u, make_file(dir, 9, "unmanaged"), false, false), 0);
    assert_int_equal(log_fd_open_count(), before);
    log_file_release(&u); /* no effect on an unmanaged file */
    assert_true(log_file_is_open(&u));
    log_file_manage(&u);
    assert_true(log_fd_open_count() <= 4);
    assert_content(&u, "unmanaged");
    log_file_close(&u);

    log_fd_budget_set(2); /* raised to the minimum */
    assert_int_equal(log_fd_budget(), 4);
    for (int i = 0; i < 6; i++)
        log_file_close(&f[i]);
    assert_int_equal(log_fd_open_count(), 0);
    assert_int_equal(log_file_open(&u, NULL, false, true), FERRY_ENOMEM);
    char *missing = log_path_fmt("%s/missing", dir);
    assert_int_equal(log_file_open(&u, missing, false, true), FERRY_EIO);
    assert_int_equal(errno, ENOENT);
    log_fd_budget_set(0);
    assert_true(log_fd_budget() >= 4);
    tmpdir_remove(dir);
}

/* Out of descriptors even so (the process limit is lower than the budget): half of the cached
 * descriptors are closed and the open is retried. */
static void test_emfile_closes_cached_descriptors(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    log_fd_budget_set(1000);
    char *paths[30];
    for (int i = 0; i < 30; i++) {
        char content[16];
        snprintf(content, sizeof content, "file %d", i);
        paths[i] = make_file(dir, i, content);
    }
    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    struct rlimit low = {process_fds() + 10, saved.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct log_file f[30];
    for (int i = 0; i < 30; i++)
        assert_int_equal(log_file_open(&f[i], paths[i], false, true), 0);
    assert_true(log_fd_open_count() < 30);
    for (int i = 0; i < 30; i++) {
        char content[16];
        snprintf(content, sizeof content, "file %d", i);
        assert_content(&f[i], content);
    }
    for (int i = 0; i < 30; i++)
        log_file_close(&f[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    log_fd_budget_set(0);
    tmpdir_remove(dir);
}

/* The process is out of descriptors (sockets hold the rest) while the budget still caches many: a new
 * partition's first segment and a roll (three files opened at once) close cached descriptors and retry, as
 * a reopen does, instead of failing until something else frees a descriptor. */
static void test_emfile_when_creating_segments(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    log_fd_budget_set(1000);
    enum { CACHED = 30 };
    static struct log_file f[CACHED]; /* static: still valid memory for the LRU if an assertion fails */
    for (int i = 0; i < CACHED; i++) {
        char *paths_i = make_file(dir, i, "cached");
        assert_int_equal(log_file_open(&f[i], paths_i, false, true), 0);
    }
    struct plog_config cfg;
    small_config(&cfg);
    struct plog_open_opts o = opts_at(T_NOW);
    struct plog *log = NULL;
    /* Exactly two free descriptor numbers below the limit (the lowest free one and the next): files opened
     * one at a time still work, but not the three files of a segment. */
    struct rlimit saved;
    nofile_two_free(&saved);
    struct rlimit low = saved;

    int rc = plog_open(dir, "emfile", 0, &cfg, &o, &log);
    size_t cached_after_create = log_fd_open_count();
    if (rc == 0)
        append_n(log, 2, T_NOW, 40, 0);
    int roll_rc = rc == 0 ? plog_roll(log, T_NOW) : rc;
    if (rc == 0)
        append_n(log, 1, T_NOW, 40, 0);
    int close_rc = rc == 0 ? plog_close(log) : rc;
    log = NULL;
    /* Loading the two segments again, out of descriptors once more: the descriptors closed so far are
     * taken by fillers (EMFILE depends on the lowest free number), so that only two free ones are left
     * below the limit, and the cached ones are below it too. */
    int fillers[2 * CACHED], nfill = 0, lowest_free;
    for (;;) {
        lowest_free = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (lowest_free < 0 || lowest_free > f[CACHED - 1].fd || nfill == 2 * CACHED)
            break;
        fillers[nfill++] = lowest_free;
    }
    if (lowest_free >= 0)
        close(lowest_free);
    low.rlim_cur = (rlim_t)lowest_free + 2;
    setrlimit(RLIMIT_NOFILE, &low);
    size_t cached_before_load = log_fd_open_count();
    int load_rc = close_rc == 0 ? plog_open(dir, "emfile", 0, &cfg, &o, &log) : close_rc;
    size_t cached_after_load = log_fd_open_count();
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    bool cached_ok = true;
    for (int i = 0; i < CACHED; i++) {
        char buf[8] = {0};
        cached_ok = cached_ok && log_pread_full(log_file_fd(&f[i]), buf, 6, 0) == 0 && memcmp(buf, "cached", 6) == 0;
        log_file_close(&f[i]);
    }
    assert_true(cached_ok);
    assert_int_equal(rc, 0);
    assert_true(cached_after_create < CACHED);
    assert_int_equal(roll_rc, 0);
    assert_int_equal(close_rc, 0);
    assert_int_equal(load_rc, 0);
    assert_true(cached_after_load < cached_before_load);
    assert_int_equal(plog_segment_count(log), 2);
    assert_int_equal(plog_log_end_offset(log), 3);
    struct plog_read_result r;
    assert_int_equal(plog_read(log, 0, 1000, true, -1, &r), 0);
    assert_int_equal(r.first_offset, 0);
    ferry_free(r.data);
    assert_int_equal(plog_close(log), 0);
    log_fd_budget_set(0);
    tmpdir_remove(dir);
}

/* The flush and cleaner workers open their files by path; out of descriptors (sockets hold the rest while
 * the budget caches many) they report FERRY_ENOFD instead of an I/O error, and once the loop shed the cached
 * descriptors (plog_flush_retry, plog_clean_end) the same flush runs again and the next clean works: neither
 * is a failed flush (a failed metadata node in quorum mode) nor a compaction that never happens. */
static void test_emfile_in_flush_and_clean_workers(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    log_fd_budget_set(1000);
    struct plog_config cfg;
    small_config(&cfg);
    cfg.segment_bytes = 400;
    cfg.cleanup_compact = true;
    cfg.cleanup_delete = false;
    cfg.min_cleanable_dirty_ratio = 0.01;
    struct plog_open_opts o = opts_at(T_NOW);
    struct plog *log = NULL;
    assert_int_equal(plog_open(dir, "workers", 0, &cfg, &o, &log), 0);
    for (int i = 0; i < 20; i++)
        append_n(log, 1, T_NOW + i, 40, 0); /* key k0 every time: compaction keeps one record */
    assert_true(plog_segment_count(log) >= 4);
    enum { CACHED = 200 }; /* half of them shed: room for a clean's output segments (3 files each) */
    static struct log_file f[CACHED]; /* static: still valid memory for the LRU if an assertion fails */
    int max_cached = -1;
    for (int i = 0; i < CACHED; i++) {
        char *path = make_file(dir, i, "cached");
        assert_int_equal(log_file_open(&f[i], path, false, true), 0);
        max_cached = f[i].fd > max_cached ? f[i].fd : max_cached;
    }
    /* No free descriptor below the limit: every hole below the cached ones filled, the limit at the lowest
     * free number, so that only closing cached descriptors makes room. */
    enum { MAXFILL = 1024 };
    static int fillers[MAXFILL];
    int nfill = 0, lowest_free;
    while ((lowest_free = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && lowest_free < max_cached && nfill < MAXFILL)
        fillers[nfill++] = lowest_free;
    assert_true(lowest_free > max_cached);
    close(lowest_free);
    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    struct rlimit low = {(rlim_t)lowest_free, saved.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);

    struct plog_flush fl;
    int begin_rc = plog_flush_begin(log, &fl);
    int run_rc = begin_rc ? begin_rc : plog_flush_run(&fl);
    bool retried = begin_rc == 0 && plog_flush_retry(&fl, run_rc);
    size_t cached_after_shed = log_fd_open_count();
    int rerun_rc = retried ? plog_flush_run(&fl) : run_rc;
    if (begin_rc == 0)
        plog_flush_end(log, &fl, rerun_rc);
    int64_t recovery_point = plog_recovery_point(log);

    /* the flush's shedding made room: used up again once the clean has begun (begin is the loop's part,
     * which may reopen files itself) */
    int64_t cleaner_before = plog_cleaner_offset(log);
    struct plog_clean *c = NULL;
    int cbegin_rc = plog_clean_begin(log, T_NOW + 100, -1, &c);
    int more;
    while ((more = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && nfill < MAXFILL)
        fillers[nfill++] = more;
    if (more >= 0)
        close(more);
    int crun_rc = cbegin_rc ? cbegin_rc : plog_clean_run(c);
    int cend_rc = cbegin_rc ? cbegin_rc : plog_clean_end(log, c, crun_rc);
    int64_t cleaner_after_failure = plog_cleaner_offset(log);
    /* the replica manager's next checks: each clean that runs out sheds again */
    int again_rc = FERRY_ENOFD;
    for (int tries = 0; tries < 4 && again_rc == FERRY_ENOFD; tries++)
        again_rc = plog_clean_sync(log, T_NOW + 100, -1);

    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    for (int i = 0; i < CACHED; i++)
        log_file_close(&f[i]);
    assert_int_equal(begin_rc, 0);
    assert_int_equal(run_rc, FERRY_ENOFD);
    assert_true(retried);
    assert_true(cached_after_shed < CACHED);
    assert_int_equal(rerun_rc, 0);
    assert_int_equal(recovery_point, 20);
    assert_int_equal(cbegin_rc, 0);
    assert_int_equal(crun_rc, FERRY_ENOFD);
    assert_int_equal(cend_rc, FERRY_ENOFD);
    assert_int_equal(cleaner_after_failure, cleaner_before);
    assert_int_equal(again_rc, 0);
    assert_true(plog_cleaner_offset(log) > 0 && plog_cleaner_offset(log) != cleaner_before);
    struct plog_read_result r;
    assert_int_equal(plog_read(log, plog_log_start_offset(log), 100000, true, -1, &r), 0);
    assert_true(r.len > 0);
    ferry_free(r.data);
    assert_int_equal(plog_close(log), 0);
    log_fd_budget_set(0);
    tmpdir_remove(dir);
}

/* ---- partition logs under a tiny budget ---- */

struct part {
    struct plog *log;
    int gen[MAXOFF]; /* generation of the record at each offset (bumped by truncation) */
    int cur_gen;
};

struct many {
    char *root;
    struct plog_config cfg;
    struct part p[NPARTS];
    size_t fds_before;
};

static void check_budget(const struct many *m)
{
    assert_true(log_fd_open_count() <= BUDGET);
    /* the log module holds no other descriptor between calls */
    assert_true(process_fds() <= m->fds_before + BUDGET);
}

static void open_part(struct many *m, int i, bool clean)
{
    struct plog_open_opts o = opts_at(T_NOW);
    o.clean_shutdown = clean;
    o.recovery_point = 0;
    char topic[16];
    snprintf(topic, sizeof topic, "t%d", i);
    assert_int_equal(plog_open(m->root, topic, 0, &m->cfg, &o, &m->p[i].log), 0);
    check_budget(m);
}

static void append_one(struct many *m, int i)
{
    struct part *p = &m->p[i];
    int64_t off = plog_log_end_offset(p->log);
    assert_true(off < MAXOFF);
    char value[48];
    int vl = snprintf(value, sizeof value, "p%d-o%lld-g%d", i, (long long)off, p->cur_gen);
    struct proto_writer w;
    proto_writer_init(&w);
    struct rb_builder b;
    rb_builder_begin(&b, &w, 0, -1, 0, T_NOW + off);
    rb_builder_add(&b, T_NOW + off, (proto_bytes){NULL, -1}, (proto_bytes){(const uint8_t *)value, vl});
    assert_int_equal(rb_builder_finish(&b), 0);
    struct plog_append_info info;
    assert_int_equal(plog_append(p->log, w.buf, w.len, 0, T_NOW, 0, &info), 0);
    proto_writer_free(&w);
    assert_int_equal(info.first_offset, off);
    p->gen[off] = p->cur_gen;
    check_budget(m);
}

/* Checks every batch of a read: one record whose value names this partition, its offset and generation. */
static int64_t check_read(struct many *m, int i, const struct plog_read_result *r, int64_t from)
{
    struct rb_iter it;
    rb_iter_init(&it, r->data, r->len);
    const uint8_t *batch;
    size_t blen;
    struct rb_header h;
    int64_t next = from;
    while (rb_iter_next(&it, &batch, &blen, &h) == 1) {
        assert_int_equal(h.base_offset, next);
        struct proto_reader rd;
        proto_reader_init(&rd, batch + RB_HEADER_SIZE, blen - RB_HEADER_SIZE);
        struct rb_record rec;
        assert_int_equal(rb_read_record(&rd, &rec), 0);
        char want[48];
        int wl = snprintf(want, sizeof want, "p%d-o%lld-g%d", i, (long long)next, m->p[i].gen[next]);
        assert_int_equal(rec.value.len, wl);
        assert_memory_equal(rec.value.p, want, (size_t)wl);
        next++;
    }
    return next;
}

/* Reads every partition from its log start to its end, one small read per partition in turn, so that
 * consecutive reads always hit different segment files. */
static void read_all_interleaved(struct many *m)
{
    int64_t cursor[NPARTS];
    for (int i = 0; i < NPARTS; i++)
        cursor[i] = plog_log_start_offset(m->p[i].log);
    for (bool more = true; more;) {
        more = false;
        for (int i = 0; i < NPARTS; i++) {
            if (cursor[i] >= plog_log_end_offset(m->p[i].log))
                continue;
            struct plog_read_result r;
            assert_int_equal(plog_read(m->p[i].log, cursor[i], 200, true, -1, &r), 0);
            assert_true(r.len > 0);
            cursor[i] = check_read(m, i, &r, cursor[i]);
            ferry_free(r.data);
            check_budget(m);
            more = true;
        }
    }
}

static void test_many_logs_under_a_tiny_budget(void **state)
{
    (void)state;
    struct many *m = calloc(1, sizeof *m);
    m->root = tmpdir_make();
    small_config(&m->cfg);
    m->cfg.segment_bytes = 600; /* about 7 batches per segment */
    m->cfg.index_interval_bytes = 100;
    m->fds_before = process_fds();
    log_fd_budget_set(BUDGET);
    for (int i = 0; i < NPARTS; i++)
        open_part(m, i, true);
    for (int round = 0; round < 30; round++)
        for (int i = 0; i < NPARTS; i++)
            append_one(m, i);
    for (int i = 0; i < NPARTS; i++)
        assert_true(plog_segment_count(m->p[i].log) >= 4);
    read_all_interleaved(m);

    /* Index lookups (time index then offset index) in files closed long ago. */
    for (int i = 0; i < NPARTS; i++) {
        int64_t off, ts;
        assert_int_equal(plog_offset_for_timestamp(m->p[i].log, T_NOW + 3, &off, &ts), 0);
        assert_int_equal(off, 3);
        assert_int_equal(ts, T_NOW + 3);
        check_budget(m);
    }

    /* Truncation, retention (log start), rolls; then more appends. */
    for (int i = 0; i < NPARTS; i++) {
        struct part *p = &m->p[i];
        int64_t end = plog_log_end_offset(p->log);
        if (i % 3 == 0) {
            assert_int_equal(plog_truncate_to(p->log, end - 12), 0);
            assert_int_equal(plog_log_end_offset(p->log), end - 12);
            p->cur_gen++;
        } else if (i % 3 == 1) {
            size_t segs = plog_segment_count(p->log);
            assert_int_equal(plog_advance_log_start_offset(p->log, end / 2, T_NOW), 0);
            assert_true(plog_segment_count(p->log) < segs);
            struct plog_read_result r;
            assert_int_equal(plog_read(p->log, 0, 200, true, -1, &r), FERRY_ERANGE);
        } else {
            assert_int_equal(plog_roll(p->log, T_NOW), 0);
        }
        check_budget(m);
    }
    for (int round = 0; round < 5; round++)
        for (int i = 0; i < NPARTS; i++)
            append_one(m, i);
    read_all_interleaved(m);

    /* Close and reopen: once trusting a clean shutdown, once recovering every segment. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < NPARTS; i++) {
            assert_int_equal(plog_close(m->p[i].log), 0);
            check_budget(m);
        }
        assert_int_equal(log_fd_open_count(), 0);
        for (int i = 0; i < NPARTS; i++)
            open_part(m, i, pass == 0);
        read_all_interleaved(m);
        for (int i = 0; i < NPARTS; i++)
            append_one(m, i);
        read_all_interleaved(m);
    }
    for (int i = 0; i < NPARTS; i++)
        assert_int_equal(plog_close(m->p[i].log), 0);
    assert_int_equal(process_fds(), m->fds_before);
    log_fd_budget_set(0);
    tmpdir_remove(m->root);
    free(m);
}

/* Compaction of several logs under the budget: the cleaner reads closed segments by path, its outputs join
 * the budget when swapped in. */
static void test_compaction_under_a_tiny_budget(void **state)
{
    (void)state;
    char *root = tmpdir_make();
    struct plog_config cfg;
    small_config(&cfg);
    cfg.segment_bytes = 400;
    cfg.index_interval_bytes = 64;
    cfg.cleanup_compact = true;
    cfg.cleanup_delete = false;
    cfg.min_cleanable_dirty_ratio = 0.01;
    size_t fds_before = process_fds();
    log_fd_budget_set(BUDGET);
    enum { NLOGS = 6, NKEYS = 5, ROUNDS = 20 };
    struct plog *logs[NLOGS];
    for (int i = 0; i < NLOGS; i++) {
        char topic[16];
        snprintf(topic, sizeof topic, "c%d", i);
        struct plog_open_opts o = opts_at(T_NOW);
        assert_int_equal(plog_open(root, topic, 0, &cfg, &o, &logs[i]), 0);
    }
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < NLOGS; i++)
            for (int k = 0; k < NKEYS; k++) {
                char key[8], value[32];
                int kl = snprintf(key, sizeof key, "k%d", k);
                int vl = snprintf(value, sizeof value, "log%d-key%d-round%d", i, k, r);
                struct proto_writer w;
                proto_writer_init(&w);
                struct rb_builder b;
                rb_builder_begin(&b, &w, 0, -1, 0, T_NOW);
                rb_builder_add(&b, T_NOW, (proto_bytes){(const uint8_t *)key, kl},
                               (proto_bytes){(const uint8_t *)value, vl});
                assert_int_equal(rb_builder_finish(&b), 0);
                assert_int_equal(plog_append(logs[i], w.buf, w.len, 0, T_NOW, 0, NULL), 0);
                proto_writer_free(&w);
                assert_true(log_fd_open_count() <= BUDGET);
            }
    for (int i = 0; i < NLOGS; i++) {
        int64_t bytes = plog_size_bytes(logs[i]);
        assert_int_equal(plog_clean_sync(logs[i], T_NOW, -1), 0);
        assert_true(plog_cleaner_offset(logs[i]) > 0);
        assert_true(plog_size_bytes(logs[i]) < bytes / 2);
        assert_true(log_fd_open_count() <= BUDGET);
    }
    /* Every log still reads whole and valid; the older values are gone, the latest ones stay. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < NLOGS; i++) {
            int64_t off = plog_log_start_offset(logs[i]);
            int latest_seen = 0, records = 0;
            while (off < plog_log_end_offset(logs[i])) {
                struct plog_read_result r;
                assert_int_equal(plog_read(logs[i], off, 300, true, -1, &r), 0);
                int64_t first, next;
                int n = count_valid_batches(r.data, r.len, &first, &next);
                assert_true(n > 0);
                struct rb_iter it;
                rb_iter_init(&it, r.data, r.len);
                const uint8_t *batch;
                size_t blen;
                struct rb_header h;
                while (rb_iter_next(&it, &batch, &blen, &h) == 1) {
                    struct proto_reader rd;
                    proto_reader_init(&rd, batch + RB_HEADER_SIZE, blen - RB_HEADER_SIZE);
                    for (int32_t k = 0; k < h.record_count; k++) {
                        struct rb_record rec;
                        assert_int_equal(rb_read_record(&rd, &rec), 0);
                        char prefix[16];
                        int pl = snprintf(prefix, sizeof prefix, "log%d-", i);
                        assert_memory_equal(rec.value.p, prefix, (size_t)pl);
                        records++;
                        char tail[16];
                        int tl = snprintf(tail, sizeof tail, "round%d", ROUNDS - 1);
                        latest_seen += rec.value.len >= tl &&
                                       memcmp(rec.value.p + rec.value.len - tl, tail, (size_t)tl) == 0;
                    }
                }
                ferry_free(r.data);
                off = next;
            }
            assert_int_equal(latest_seen, NKEYS);
            assert_true(records < NKEYS * ROUNDS / 2);
        }
        /* Close and reopen: nothing left of the swap, the same content. */
        for (int i = 0; i < NLOGS; i++) {
            assert_int_equal(plog_close(logs[i]), 0);
            char topic[16];
            snprintf(topic, sizeof topic, "c%d", i);
            struct plog_open_opts o = opts_at(T_NOW);
            assert_int_equal(plog_open(root, topic, 0, &cfg, &o, &logs[i]), 0);
        }
    }
    for (int i = 0; i < NLOGS; i++)
        assert_int_equal(plog_close(logs[i]), 0);
    assert_int_equal(process_fds(), fds_before);
    log_fd_budget_set(0);
    tmpdir_remove(root);
}

/* Under the test budget: a log of 400-byte segments holding n one-record batches. */
static struct plog *open_small_segments(const char *root, const char *topic, int n)
{
    struct plog_config cfg;
    small_config(&cfg);
    cfg.segment_bytes = 400;
    log_fd_budget_set(BUDGET);
    struct plog *log;
    struct plog_open_opts o = opts_at(T_NOW);
    assert_int_equal(plog_open(root, topic, 0, &cfg, &o, &log), 0);
    for (int i = 0; i < n; i++)
        append_n(log, 1, T_NOW + i, 40, 0);
    return log;
}

/* A segment file deleted behind the broker's back while its descriptor was closed: reads of it fail with
 * an error (logged), other segments and logs keep working, and nothing is recreated. */
static void test_segment_removed_behind_our_back(void **state)
{
    (void)state;
    char *root = tmpdir_make();
    struct plog *log = open_small_segments(root, "gone", 20);
    assert_true(plog_segment_count(log) >= 3);
    char *first = seg_file(log, 0, ".log");
    assert_int_equal(unlink(first), 0);
    struct plog_read_result r;
    assert_int_equal(plog_read(log, 0, 1000, true, -1, &r), FERRY_EIO);
    assert_false(log_path_exists(first));
    int64_t tail = plog_log_end_offset(log) - 1;
    assert_int_equal(plog_read(log, tail, 1000, true, -1, &r), 0);
    assert_int_equal(r.first_offset, tail);
    ferry_free(r.data);
    append_n(log, 1, T_NOW + 100, 40, 0);
    ferry_free(first);
    assert_int_equal(plog_close(log), 0);
    log_fd_budget_set(0);
    tmpdir_remove(root);
}

/* A flush holds no descriptor while it waits: it opens its files by path when it runs, and a file removed
 * from the log meanwhile has nothing left to make durable. */
static void test_flush_opens_files_when_it_runs(void **state)
{
    (void)state;
    char *root = tmpdir_make();
    struct plog *log = open_small_segments(root, "flush", 10);
    size_t fds = process_fds();
    struct plog_flush f;
    assert_int_equal(plog_flush_begin(log, &f), 0);
    assert_true(f.npaths >= 2);
    assert_int_equal(process_fds(), fds);
    assert_int_equal(plog_flush_run(&f), 0);
    plog_flush_end(log, &f, 0);
    assert_int_equal(plog_recovery_point(log), 10);

    append_n(log, 1, T_NOW + 20, 40, 0);
    assert_int_equal(plog_flush_begin(log, &f), 0);
    assert_int_equal(plog_truncate_fully(log, 50), 0); /* every segment renamed .deleted (or removed) */
    assert_int_equal(plog_flush_run(&f), 0);
    plog_flush_end(log, &f, 0);
    assert_int_equal(plog_recovery_point(log), 50); /* not moved by the flush begun before */
    assert_int_equal(plog_close(log), 0);
    log_fd_budget_set(0);
    tmpdir_remove(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lru_keeps_the_budget),
        cmocka_unit_test(test_emfile_closes_cached_descriptors),
        cmocka_unit_test(test_emfile_when_creating_segments),
        cmocka_unit_test(test_emfile_in_flush_and_clean_workers),
        cmocka_unit_test(test_many_logs_under_a_tiny_budget),
        cmocka_unit_test(test_compaction_under_a_tiny_budget),
        cmocka_unit_test(test_segment_removed_behind_our_back),
        cmocka_unit_test(test_flush_opens_files_when_it_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
