/* Partition log crash recovery: torn tail cut at every byte of the last batch, a flipped byte in the
 * middle (CRC) with later segments taken out, garbage and missing index files, no clean shutdown, a
 * damaged epoch checkpoint, a real kill -9 of a child process appending, and random garbage segments. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "test_log_util.h"

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static struct plog *open_unclean(const char *root, const struct plog_config *cfg)
{
    struct plog *log = NULL;
    struct plog_open_opts o = opts_at(T_NOW);
    assert_int_equal(plog_open(root, "t", 0, cfg, &o, &log), 0);
    return log;
}

/* Reads every offset in [lso, leo): each read returns valid, contiguous batches. Returns batches seen. */
static int check_log_readable(struct plog *log)
{
    int64_t off = plog_log_start_offset(log), end = plog_log_end_offset(log);
    int batches = 0;
    while (off < end) {
        struct plog_read_result r;
        assert_int_equal(plog_read(log, off, 1 << 20, true, -1, &r), 0);
        if (r.len == 0)
            break; /* a gap at the end (truncation inside a batch) */
        int64_t first, next;
        int n = count_valid_batches(r.data, r.len, &first, &next);
        assert_true(n > 0);
        assert_int_equal(first, r.first_offset); /* may be above off: a gap in the offsets */
        assert_true(next > off);
        batches += n;
        off = next;
        ferry_free(r.data);
    }
    return batches;
}

/* A reference log of `n` batches in one segment; returns the .log bytes and the batch boundaries. */
static void build_reference(const char *root, const struct plog_config *cfg, int n, uint8_t **bytes, size_t *len,
                            size_t *bounds)
{
    struct plog *log = open_unclean(root, cfg);
    for (int i = 0; i < n; i++) {
        bounds[i] = (size_t)plog_size_bytes(log);
        append_n(log, 1 + i % 4, T_NOW + i, 30 + 7 * i, i / 3);
    }
    bounds[n] = (size_t)plog_size_bytes(log);
    assert_int_equal(plog_close(log), 0);
    char *lp = log_path_fmt("%s/t-0/00000000000000000000.log", root);
    char *buf;
    assert_int_equal(read_all(lp, &buf, len), 0);
    *bytes = (uint8_t *)buf;
    ferry_free(lp);
}

static void test_torn_tail_every_byte(void **state)
{
    (void)state;
    ferry_log_set_level(FERRY_LOG_ERROR + 1); /* one error line per cut otherwise */
    char *ref = tmpdir_make();
    struct plog_config cfg;
    small_config(&cfg);
    cfg.index_interval_bytes = 0;
    enum { N = 6 };
    size_t bounds[N + 1];
    uint8_t *bytes;
    size_t len;
    build_reference(ref, &cfg, N, &bytes, &len, bounds);
    assert_int_equal(len, bounds[N]);
    char *ref_idx = log_path_fmt("%s/t-0/00000000000000000000.index", ref);
    char *idx_bytes;
    size_t idx_len;
    assert_int_equal(read_all(ref_idx, &idx_bytes, &idx_len), 0);
    int64_t last_base = 0;
    for (int i = 0; i < N - 1; i++)
        last_base += 1 + i % 4;

    for (size_t cut = bounds[N - 1]; cut < bounds[N]; cut++) {
        for (int stale_index = 0; stale_index < 2; stale_index++) {
            char *root = tmpdir_make();
            char *dir = log_path_join(root, "t-0");
            assert_int_equal(log_mkdir(dir), 0);
            char *lp = log_path_join(dir, "00000000000000000000.log");
            write_all(lp, bytes, cut);
            if (stale_index) { /* the index of the complete log, pointing past the cut */
                char *ip = log_path_join(dir, "00000000000000000000.index");
                write_all(ip, idx_bytes, idx_len);
                ferry_free(ip);
            }
            struct plog *log = open_unclean(root, &cfg);
            assert_int_equal(plog_log_end_offset(log), last_base);
            assert_int_equal(plog_size_bytes(log), bounds[N - 1]);
            assert_int_equal(check_log_readable(log), N - 1);
            assert_int_equal(plog_latest_epoch(log), (N - 2) / 3);
            /* The bytes cut off are kept in the side file, exactly. */
            char *side = log_path_join(dir, "00000000000000000000.log.corrupt");
            size_t cut_len = cut - bounds[N - 1];
            if (cut_len == 0) {
                assert_int_equal(file_size(side), -1);
            } else {
                char *sb;
                size_t sl;
                assert_int_equal(read_all(side, &sb, &sl), 0);
                assert_int_equal(sl, cut_len);
                assert_memory_equal(sb, bytes + bounds[N - 1], cut_len);
                ferry_free(sb);
            }
            /* The log goes on from there. */
            assert_int_equal(append_n(log, 2, T_NOW, 10, 9), last_base);
            assert_int_equal(check_log_readable(log), N);
            assert_int_equal(plog_close(log), 0);
            ferry_free(side);
            ferry_free(lp);
            ferry_free(dir);
            tmpdir_remove(root);
        }
    }
    ferry_free(bytes);
    ferry_free(idx_bytes);
    ferry_free(ref_idx);
    tmpdir_remove(ref);
    ferry_log_set_level(FERRY_LOG_WARN);
}

static void test_flipped_byte_in_the_middle(void **state)
{
    (void)state;
    char *root = tmpdir_make();
    struct plog_config cfg;
    small_config(&cfg);
    int64_t b;
    {
        struct proto_writer w = one_batch(2, 0, 40);
        b = (int64_t)w.len;
        proto_writer_free(&w);
    }
    cfg.segment_bytes = 4 * b; /* 4 batches (8 offsets) per segment */
    struct plog *log = open_unclean(root, &cfg);
    for (int i = 0; i < 12; i++)
        append_n(log, 2, T_NOW + i, 40, 1);
    assert_int_equal(plog_segment_count(log), 3); /* [0,8) [8,16) [16,24) */
    assert_int_equal(plog_flush_sync(log), 0);
    plog_close_abandon(log);
    char *seg2 = log_path_fmt("%s/t-0/00000000000000000008.log", root);
    char *seg3 = log_path_fmt("%s/t-0/00000000000000000016.log", root);
    char *orig2, *orig3;
    size_t l2, l3;
    assert_int_equal(read_all(seg2, &orig2, &l2), 0);
    assert_int_equal(read_all(seg3, &orig3, &l3), 0);
    /* Flip one byte inside the records of the third batch of the second segment. */
    size_t at = 2 * (size_t)b + RB_HEADER_SIZE + 5;
    char *mod = malloc(l2);
    memcpy(mod, orig2, l2);
    mod[at] ^= 0x40;
    write_all(seg2, mod, l2);

    struct plog_open_opts o = opts_at(T_NOW);
    o.recovery_point = 24; /* flushed: only a full recovery finds it */
    o.clean_shutdown = false;
    assert_int_equal(plog_open(root, "t", 0, &cfg, &o, &log), 0);
    /* Nothing was checked below the recovery point... */
    assert_int_equal(plog_log_end_offset(log), 24);
    plog_close_abandon(log);
    o.recovery_point = 0; /* ...a recovery from the start does. */
    assert_int_equal(plog_open(root, "t", 0, &cfg, &o, &log), 0);
    assert_int_equal(plog_log_end_offset(log), 12);
    assert_int_equal(plog_segment_count(log), 2);
    assert_int_equal(check_log_readable(log), 6);
    /* The cut tail of the second segment and the whole third segment are kept aside. */
    char *side2 = log_path_fmt("%s.corrupt", seg2), *side3 = log_path_fmt("%s.corrupt", seg3);
    char *sb;
    size_t sl;
    assert_int_equal(read_all(side2, &sb, &sl), 0);
    assert_int_equal(sl, l2 - 2 * (size_t)b);
    assert_memory_equal(sb, mod + 2 * b, sl);
    ferry_free(sb);
    assert_int_equal(read_all(side3, &sb, &sl), 0);
    assert_int_equal(sl, l3);
    assert_memory_equal(sb, orig3, l3);
    ferry_free(sb);
    assert_int_equal(file_size(seg3), -1);
    char *idx3 = log_path_fmt("%s/t-0/00000000000000000016.index", root);
    assert_int_equal(file_size(idx3), -1);
    /* A second corruption does not overwrite the first side file. */
    assert_int_equal(append_n(log, 1, T_NOW, 10, 1), 12);
    assert_int_equal(plog_close(log), 0);
    char *cur;
    size_t cl;
    assert_int_equal(read_all(seg2, &cur, &cl), 0);
    cur[cl - 3] ^= 1;
    write_all(seg2, cur, cl);
    ferry_free(cur);
    log = open_unclean(root, &cfg);
    assert_int_equal(plog_log_end_offset(log), 12);
    char *side2b = log_path_fmt("%s.corrupt.1", seg2);
    assert_true(file_size(side2b) > 0);
    assert_int_equal(file_size(side2), (long)(l2 - 2 * (size_t)b));
    plog_close(log);
    free(mod);
    ferry_free(orig2);
    ferry_free(orig3);
    ferry_free(seg2);
    ferry_free(seg3);
    ferry_free(side2);
    ferry_free(side2b);
    ferry_free(side3);
    ferry_free(idx3);
    tmpdir_remove(root);
}

/* Index files full of garbage, of every kind, after a clean shutdown: rebuilt or worked around. */
static void test_garbage_and_missing_index_files(void **state)
{
    (void)state;
    char *root = tmpdir_make();
    struct plog_config cfg;
    small_config(&cfg);
    cfg.index_interval_bytes = 0;
    int64_t b;
    {
        struct proto_writer w = one_batch(3, 0, 25);
        b = (int64_t)w.len;
        proto_writer_free(&w);
    }
    cfg.segment_bytes = 5 * b;
    struct plog *log = open_unclean(root, &cfg);
    for (int i = 0; i < 14; i++)
        append_n(log, 3, 1000 + 10 * i, 25, 0);
    assert_int_equal(plog_segment_count(log), 3);
    assert_int_equal(plog_close(log), 0);
    rng_state = 0x1234567;
    for (int variant = 0; variant < 8; variant++) {
        for (int seg = 0; seg < 3; seg++) {
            char *ip = log_path_fmt("%s/t-0/%020d.index", root, seg * 15);
            char *tp = log_path_fmt("%s/t-0/%020d.timeindex", root, seg * 15);
            uint8_t g[200];
            for (size_t i = 0; i < sizeof g; i++)
                g[i] = (uint8_t)rnd();
            switch (variant) {
            case 0: /* random, odd length */
                write_all(ip, g, 37);
                write_all(tp, g + 50, 61);
                break;
            case 1: /* random, whole entries */
                write_all(ip, g, 64);
                write_all(tp, g + 64, 120);
                break;
            case 2: /* missing */
                unlink(ip);
                unlink(tp);
                break;
            case 3: /* well-formed but pointing into the middle of batches */
                for (int k = 0; k < 4; k++) {
                    proto_put_be32(g + 8 * k, (uint32_t)(2 * k + 1));
                    proto_put_be32(g + 8 * k + 4, (uint32_t)(k * 10 + 3));
                }
                write_all(ip, g, 32);
                break;
            case 4: /* empty */
                write_all(ip, g, 0);
                write_all(tp, g, 0);
                break;
            case 5: /* huge offsets, positions beyond the file */
                memset(g, 0x7f, sizeof g);
                write_all(ip, g, 80);
                write_all(tp, g, 96);
                break;
            case 6: /* time index with timestamps going down */
                for (int k = 0; k < 3; k++) {
                    proto_put_be64(g + 12 * k, (uint64_t)(5000 - k));
                    proto_put_be32(g + 12 * k + 8, (uint32_t)k);
                }
                write_all(tp, g, 36);
                break;
            default: /* only the last entry is wrong */
                {
                    char *orig = NULL;
                    size_t ol = 0;
                    if (read_all(ip, &orig, &ol) == 0 && ol >= 8) {
                        proto_put_be32((uint8_t *)orig + ol - 4, (uint32_t)(b / 2));
                        write_all(ip, orig, ol);
                    }
                    ferry_free(orig);
                }
            }
            ferry_free(ip);
            ferry_free(tp);
        }
        struct plog_open_opts o = opts_at(T_NOW);
        o.clean_shutdown = true;
        o.recovery_point = 42;
        assert_int_equal(plog_open(root, "t", 0, &cfg, &o, &log), 0);
        assert_int_equal(plog_log_end_offset(log), 42);
        assert_int_equal(plog_segment_count(log), 3);
        for (int64_t off = 0; off < 42; off++) {
            struct plog_read_result r;
            assert_int_equal(plog_read(log, off, 1, true, -1, &r), 0);
            assert_int_equal(r.first_offset, off - off % 3);
            ferry_free(r.data);
        }
        for (int i = 0; i < 14; i++) {
            int64_t off, ts;
            assert_int_equal(plog_offset_for_timestamp(log, 1000 + 10 * i + 1, &off, &ts), 0);
            assert_int_equal(off, 3 * i + 1);
            assert_int_equal(ts, 1000 + 10 * i + 1);
        }
        if (variant == 2) { /* rebuilt on disk */
            char *ip = log_path_fmt("%s/t-0/%020d.index", root, 15);
            assert_int_equal(file_size(ip), 4 * 8);
            ferry_free(ip);
        }
        assert_int_equal(plog_close(log), 0);
    }
    tmpdir_remove(root);
}

static void test_no_clean_shutdown(void **state)
{
    (void)state;
    char *root = tmpdir_make();
    struct plog_config cfg;
    small_config(&cfg);
    cfg.segment_bytes = 1000;
    struct plog *log = open_unclean(root, &cfg);
    for (int i = 0; i < 30; i++)
        append_n(log, 2, T_NOW + i, 50, i / 10);
    int64_t segs = (int64_t)plog_segment_count(log);
    assert_true(segs > 3);
    /* No flush, no close: what a kill -9 leaves (the page cache keeps the writes). */
    plog_close_abandon(log);
    char *epoch = log_path_fmt("%s/t-0/leader-epoch-checkpoint", root);
    assert_int_equal(file_size(epoch), -1); /* never flushed */
    log = open_unclean(root, &cfg);
    assert_int_equal(plog_log_end_offset(log), 60);
    assert_int_equal((int64_t)plog_segment_count(log), segs);
    assert_int_equal(check_log_readable(log), 30);
    size_t n;
    const struct plog_epoch_entry *e = plog_epoch_entries(log, &n);
    assert_int_equal(n, 3); /* rebuilt from the batches */
    assert_int_equal(e[1].epoch, 1);
    assert_int_equal(e[1].start_offset, 20);
    assert_int_equal(e[2].start_offset, 40);
    assert_int_equal(plog_recovery_point(log), 0);
    assert_int_equal(plog_unflushed_messages(log), 60);
    assert_int_equal(plog_close(log), 0);
    /* A damaged epoch checkpoint: a full recovery rebuilds it even after a clean shutdown. */
    write_all(epoch, "0\n7\n1 0\n", 8);
    struct plog_open_opts o = opts_at(T_NOW);
    o.clean_shutdown = true;
    o.recovery_point = 60;
    assert_int_equal(plog_open(root, "t", 0, &cfg, &o, &log), 0);
    e = plog_epoch_entries(log, &n);
    assert_int_equal(n, 3);
    assert_int_equal(plog_close(log), 0);
    char *text;
    size_t len;
    assert_int_equal(read_all(epoch, &text, &len), 0);
    assert_string_equal(text, "0\n3\n0 0\n1 20\n2 40\n");
    ferry_free(text);
    ferry_free(epoch);
    tmpdir_remove(root);
}

static void test_clean_shutdown_with_bad_tail(void **state)
{
    (void)state;
    char *root = tmpdir_make();
    struct plog_config cfg;
    small_config(&cfg);
    struct plog *log = open_unclean(root, &cfg);
    for (int i = 0; i < 5; i++)
        append_n(log, 1, T_NOW, 20, 0);
    assert_int_equal(plog_close(log), 0);
    char *lp = log_path_fmt("%s/t-0/00000000000000000000.log", root);
    int fd = open(lp, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "garbage!", 8), 8);
    close(fd);
    struct plog_open_opts o = opts_at(T_NOW);
    o.clean_shutdown = true;
    o.recovery_point = 5;
    assert_int_equal(plog_open(root, "t", 0, &cfg, &o, &log), 0);
    assert_int_equal(plog_log_end_offset(log), 5);
    assert_int_equal(check_log_readable(log), 5);
    char *side = log_path_fmt("%s.corrupt", lp);
    assert_int_equal(file_size(side), 8);
    plog_close(log);
    ferry_free(side);
    ferry_free(lp);
    tmpdir_remove(root);
}

/* A child process appends and flushes, reporting each durable offset; the parent kills it with SIGKILL at
 * an arbitrary moment, then recovers: every acknowledged batch is there and the log is consistent. */
static void test_kill_9_child(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        char *root = tmpdir_make();
        struct plog_config cfg;
        small_config(&cfg);
        cfg.segment_bytes = 4096;
        int pipefd[2];
        assert_int_equal(pipe(pipefd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pipefd[0]);
            ferry_log_set_level(FERRY_LOG_ERROR);
            struct plog *log;
            struct plog_open_opts o = opts_at(T_NOW);
            if (plog_open(root, "t", 0, &cfg, &o, &log) != 0)
                _exit(2);
            for (int i = 0;; i++) {
                struct proto_writer w = one_batch(1 + i % 3, T_NOW + i, 10 + i % 50);
                if (plog_append(log, w.buf, w.len, 1, T_NOW + i, 0, NULL) != 0)
                    _exit(3);
                proto_writer_free(&w);
                if (i % 4 == 3) {
                    if (plog_flush_sync(log) != 0)
                        _exit(4);
                    int64_t acked = plog_recovery_point(log);
                    if (write(pipefd[1], &acked, sizeof acked) != sizeof acked)
                        _exit(5);
                }
            }
        }
        close(pipefd[1]);
        int64_t acked = 0, v;
        for (int k = 0; k < 50 + round * 37; k++) {
            if (read(pipefd[0], &v, sizeof v) != sizeof v)
                break;
            acked = v;
        }
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
        close(pipefd[0]);
        assert_true(acked > 0);
        struct plog *log = open_unclean(root, &cfg);
        assert_true(plog_log_end_offset(log) >= acked);
        assert_true(plog_segment_count(log) > 1);
        assert_true(check_log_readable(log) > 0);
        int64_t end = plog_log_end_offset(log);
        assert_int_equal(append_n(log, 1, T_NOW, 5, 2), end);
        assert_int_equal(plog_close(log), 0);
        tmpdir_remove(root);
    }
}

/* Random garbage segment files, random mutations of valid ones, random index and checkpoint files: open
 * never crashes, and what it keeps is a readable, appendable log. */
static void test_fuzz_garbage_segments(void **state)
{
    (void)state;
    ferry_log_set_level(FERRY_LOG_ERROR + 1);
    char *ref = tmpdir_make();
    struct plog_config cfg;
    small_config(&cfg);
    cfg.index_interval_bytes = 64;
    enum { N = 12 };
    size_t bounds[N + 1];
    uint8_t *bytes;
    size_t len;
    build_reference(ref, &cfg, N, &bytes, &len, bounds);
    rng_state = 0xfeedface12345ULL;
    for (int iter = 0; iter < 300; iter++) {
        char *root = tmpdir_make();
        char *dir = log_path_join(root, "t-0");
        assert_int_equal(log_mkdir(dir), 0);
        int nsegs = 1 + (int)(rnd() % 3);
        for (int s = 0; s < nsegs; s++) {
            size_t blen;
            uint8_t *buf;
            int kind = (int)(rnd() % 4);
            if (kind == 0) { /* pure garbage */
                blen = rnd() % 3000;
                buf = malloc(blen + 1);
                for (size_t i = 0; i < blen; i++)
                    buf[i] = (uint8_t)rnd();
            } else { /* valid bytes, mutated */
                blen = len;
                buf = malloc(blen + 64);
                memcpy(buf, bytes, blen);
                int muts = 1 + (int)(rnd() % 4);
                for (int m = 0; m < muts; m++) {
                    switch (rnd() % 5) {
                    case 0: buf[rnd() % blen] ^= (uint8_t)(1u << (rnd() % 8)); break;
                    case 1: blen = rnd() % (blen + 1); break;
                    case 2: { /* a length field */
                        size_t b = bounds[rnd() % N];
                        if (b + 12 <= blen)
                            proto_put_be32(buf + b + 8, rnd());
                        break;
                    }
                    case 3: { /* a base offset */
                        size_t b = bounds[rnd() % N];
                        if (b + 8 <= blen)
                            proto_put_be64(buf + b, (uint64_t)rnd() << (rnd() % 40));
                        break;
                    }
                    default: /* duplicate a region */
                        if (blen > 64) {
                            size_t from = rnd() % (blen - 32), to = rnd() % (blen - 32);
                            memmove(buf + to, buf + from, 32);
                        }
                    }
                }
            }
            int64_t base = s == 0 ? 0 : (int64_t)(rnd() % 100);
            char *lp = log_path_fmt("%s/%020lld.log", dir, (long long)base);
            write_all(lp, buf, blen);
            ferry_free(lp);
            free(buf);
            if (rnd() % 2) {
                size_t il = rnd() % 200;
                uint8_t g[200];
                for (size_t i = 0; i < il; i++)
                    g[i] = (uint8_t)rnd();
                char *ip = log_path_fmt("%s/%020lld.%s", dir, (long long)base, rnd() % 2 ? "index" : "timeindex");
                write_all(ip, g, il);
                ferry_free(ip);
            }
        }
        if (rnd() % 3 == 0) {
            char g[64];
            for (size_t i = 0; i < sizeof g; i++)
                g[i] = (char)(rnd() % 2 ? '0' + rnd() % 10 : rnd());
            char *ep = log_path_join(dir, rnd() % 2 ? "leader-epoch-checkpoint" : "partition.metadata");
            write_all(ep, g, rnd() % sizeof g);
            ferry_free(ep);
        }
        struct plog_open_opts o = opts_at(T_NOW);
        o.clean_shutdown = rnd() % 2;
        o.recovery_point = rnd() % 60;
        o.log_start_offset = rnd() % 4 == 0 ? rnd() % 50 : 0;
        struct plog *log;
        assert_int_equal(plog_open(root, "t", 0, &cfg, &o, &log), 0);
        int64_t lso = plog_log_start_offset(log), leo = plog_log_end_offset(log);
        assert_true(lso <= leo);
        if (!o.clean_shutdown)
            check_log_readable(log); /* after a full check every batch must be valid */
        int64_t off, ts;
        plog_offset_for_timestamp(log, T_NOW + 3, &off, &ts);
        assert_int_equal(append_n(log, 1, T_NOW, 5, 3), leo);
        assert_int_equal(plog_close(log), 0);
        /* A full recovery of the repaired log finds nothing more to cut (unless the first open trusted
         * a segment because of the clean-shutdown flag, as Kafka does). */
        bool was_clean = o.clean_shutdown;
        o.clean_shutdown = false;
        o.recovery_point = 0;
        o.log_start_offset = lso;
        assert_int_equal(plog_open(root, "t", 0, &cfg, &o, &log), 0);
        if (!was_clean)
            assert_int_equal(plog_log_end_offset(log), leo + 1);
        assert_true(plog_log_start_offset(log) <= plog_log_end_offset(log));
        check_log_readable(log);
        plog_close(log);
        ferry_free(dir);
        tmpdir_remove(root);
    }
    ferry_free(bytes);
    tmpdir_remove(ref);
    ferry_log_set_level(FERRY_LOG_WARN);
}

int main(void)
{
    ferry_log_set_level(FERRY_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torn_tail_every_byte),
        cmocka_unit_test(test_flipped_byte_in_the_middle),
        cmocka_unit_test(test_garbage_and_missing_index_files),
        cmocka_unit_test(test_no_clean_shutdown),
        cmocka_unit_test(test_clean_shutdown_with_bad_tail),
        cmocka_unit_test(test_kill_9_child),
        cmocka_unit_test(test_fuzz_garbage_segments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
