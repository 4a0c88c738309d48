/* Log compaction (broker/log/cleaner.h): the latest value per key survives, tombstones stay until their
 * delete horizon and then go, the active segment and records newer than min.compaction.lag.ms are left
 * alone, offsets are preserved and reads step over the gaps, compressed batches, the cleaner checkpoint, retention with
 * cleanup.policy=compact, and a crash after every step of the segment swap (reopen with plog_open: never a
 * lost latest value, never overlapping segments, no leftover `.cleaned`/`.swap` files). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <zlib.h>

#include "broker/common/ferry_err.h"
#include "broker/log/cleaner.h"
#include "test_log_util.h"

#define NKEYS 10
#define DAY 86400000LL

struct fixture {
    char *root;
    struct plog *log;
    struct plog_config cfg;
    /* what the log must hold: per key the latest value ("" = tombstone) and its offset */
    char latest[NKEYS][32];
    int64_t latest_off[NKEYS];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->root = tmpdir_make();
    small_config(&f->cfg);
    f->cfg.segment_bytes = 1024;
    f->cfg.index_interval_bytes = 128;
    f->cfg.cleanup_compact = true;
    f->cfg.cleanup_delete = false;
    f->cfg.min_cleanable_dirty_ratio = 0.01;
    for (int k = 0; k < NKEYS; k++)
        f->latest_off[k] = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->log)
        plog_close(f->log);
    tmpdir_remove(f->root);
    free(f);
    return 0;
}

static void open_log(struct fixture *f)
{
    struct plog_open_opts o = opts_at(T_NOW);
    assert_int_equal(plog_open(f->root, "t", 0, &f->cfg, &o, &f->log), 0);
}

/* One batch of `n` records for keys k, k+1, ... (value NULL: tombstones). */
static int64_t put_n(struct fixture *f, int k, int n, const char *value, int64_t ts)
{
    struct proto_writer w;
    proto_writer_init(&w);
    struct rb_builder b;
    rb_builder_begin(&b, &w, 0, -1, 0, ts);
    for (int i = 0; i < n; i++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "key%d", (k + i) % NKEYS);
        proto_bytes v = value ? (proto_bytes){(const uint8_t *)value, (int32_t)strlen(value)} : (proto_bytes){NULL, -1};
        rb_builder_add(&b, ts, (proto_bytes){(const uint8_t *)key, kl}, v);
    }
    assert_int_equal(rb_builder_finish(&b), 0);
    struct plog_append_info info;
    assert_int_equal(plog_append(f->log, w.buf, w.len, 0, ts, 0, &info), 0);
    proto_writer_free(&w);
    for (int i = 0; i < n; i++) {
        int key = (k + i) % NKEYS;
        snprintf(f->latest[key], sizeof f->latest[key], "%s", value ? value : "");
        f->latest_off[key] = info.first_offset + i;
    }
    return info.first_offset;
}

static int64_t put(struct fixture *f, int k, const char *value, int64_t ts) { return put_n(f, k, 1, value, ts); }

/* Rewrites the one uncompressed batch in w as a gzip-compressed batch (attributes codec 1, new CRC). */
static void gzip_batch(struct proto_writer *w)
{
    size_t rlen = w->len - RB_HEADER_SIZE;
    uLong cap = compressBound(rlen) + 64;
    uint8_t *z = malloc(cap);
    z_stream zs = {0};
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = w->buf + RB_HEADER_SIZE;
    zs.avail_in = (uInt)rlen;
    zs.next_out = z;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t zlen = zs.total_out;
    deflateEnd(&zs);
    w->len = RB_HEADER_SIZE;
    proto_write_raw(w, z, zlen);
    free(z);
    proto_put_be32(w->buf + 8, (uint32_t)(w->len - RB_LOG_OVERHEAD));
    proto_put_be16(w->buf + 21, (uint16_t)(proto_be16(w->buf + 21) | 1));
    proto_put_be32(w->buf + 17, rb_compute_crc(w->buf, w->len));
}

/* One gzip batch of `n` records for keys k, k+1, ... */
static int64_t put_gzip(struct fixture *f, int k, int n, const char *value, int64_t ts)
{
    struct proto_writer w;
    proto_writer_init(&w);
    struct rb_builder b;
    rb_builder_begin(&b, &w, 0, -1, 0, ts);
    for (int i = 0; i < n; i++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "key%d", (k + i) % NKEYS);
        rb_builder_add(&b, ts, (proto_bytes){(const uint8_t *)key, kl},
                       (proto_bytes){(const uint8_t *)value, (int32_t)strlen(value)});
    }
    assert_int_equal(rb_builder_finish(&b), 0);
    gzip_batch(&w);
    struct rb_header h;
    assert_int_equal(rb_validate(w.buf, w.len, &h), 0);
    struct plog_append_info info;
    assert_int_equal(plog_append(f->log, w.buf, w.len, 0, ts, 0, &info), 0);
    proto_writer_free(&w);
    for (int i = 0; i < n; i++) {
        int key = (k + i) % NKEYS;
        snprintf(f->latest[key], sizeof f->latest[key], "%s", value);
        f->latest_off[key] = info.first_offset + i;
    }
    return info.first_offset;
}

/* Writes `rounds` values for every key, one record per batch. */
static void overwrite(struct fixture *f, int rounds, int64_t ts)
{
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < NKEYS; k++) {
            char v[32];
            snprintf(v, sizeof v, "v%d-%d", k, r);
            put(f, k, v, ts);
        }
}

struct scan {
    int records;
    int per_key[NKEYS];
    char last[NKEYS][32];
    int64_t last_off[NKEYS];
    bool seen_tombstone[NKEYS];
    int compressed_batches;
};

/* Reads the whole log from its start: offsets strictly increase, every batch is valid; the last value per
 * key and record counts. */
static void scan_log(struct plog *log, struct scan *s)
{
    memset(s, 0, sizeof *s);
    for (int k = 0; k < NKEYS; k++)
        s->last_off[k] = -1;
    int64_t off = plog_log_start_offset(log), prev = -1;
    while (off < plog_log_end_offset(log)) {
        struct plog_read_result r;
        assert_int_equal(plog_read(log, off, 1 << 20, true, -1, &r), 0);
        assert_true(r.len > 0);
        struct rb_iter it;
        rb_iter_init(&it, r.data, r.len);
        const uint8_t *b;
        size_t blen;
        struct rb_header h;
        while (rb_iter_next(&it, &b, &blen, &h) == 1) {
            struct rb_header vh;
            assert_int_equal(rb_validate(b, blen, &vh), 0);
            struct proto_reader rd;
            proto_reader_init(&rd, b + RB_HEADER_SIZE, blen - RB_HEADER_SIZE);
            for (int32_t i = 0; i < h.record_count; i++) {
                struct rb_record rec;
                assert_int_equal(rb_read_record(&rd, &rec), 0);
                int64_t o = h.base_offset + rec.offset_delta;
                assert_true(o > prev);
                prev = o;
                int k;
                assert_int_equal(sscanf((const char *)rec.key.p, "key%d", &k), 1);
                s->records++;
                s->per_key[k]++;
                s->last_off[k] = o;
                s->seen_tombstone[k] = rec.value.len < 0;
                snprintf(s->last[k], sizeof s->last[k], "%.*s", rec.value.len > 0 ? (int)rec.value.len : 0,
                         rec.value.len > 0 ? (const char *)rec.value.p : "");
            }
        }
        assert_false(it.partial_tail);
        off = r.next_offset;
        ferry_free(r.data);
    }
}

/* scan_log, also reading gzip batches (inflated here with zlib). */
static void scan_log_any(struct plog *log, struct scan *s)
{
    memset(s, 0, sizeof *s);
    for (int k = 0; k < NKEYS; k++)
        s->last_off[k] = -1;
    int64_t off = plog_log_start_offset(log), prev = -1;
    while (off < plog_log_end_offset(log)) {
        struct plog_read_result r;
        assert_int_equal(plog_read(log, off, 1 << 20, true, -1, &r), 0);
        struct rb_iter it;
        rb_iter_init(&it, r.data, r.len);
        const uint8_t *b;
        size_t blen;
        struct rb_header h;
        while (rb_iter_next(&it, &b, &blen, &h) == 1) {
            struct rb_header vh;
            assert_int_equal(rb_validate(b, blen, &vh), 0);
            const uint8_t *recs = b + RB_HEADER_SIZE;
            size_t rlen = blen - RB_HEADER_SIZE;
            uint8_t *inflated = NULL;
            if (h.attributes & 7) {
                assert_int_equal(h.attributes & 7, 1);
                s->compressed_batches++;
                size_t cap = 1 << 20;
                inflated = malloc(cap);
                z_stream zs = {0};
                assert_int_equal(inflateInit2(&zs, 31), Z_OK);
                zs.next_in = (uint8_t *)recs;
                zs.avail_in = (uInt)rlen;
                zs.next_out = inflated;
                zs.avail_out = (uInt)cap;
                assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
                rlen = zs.total_out;
                inflateEnd(&zs);
                recs = inflated;
            }
            struct proto_reader rd;
            proto_reader_init(&rd, recs, rlen);
            for (int32_t i = 0; i < h.record_count; i++) {
                struct rb_record rec;
                assert_int_equal(rb_read_record(&rd, &rec), 0);
                int64_t o = h.base_offset + rec.offset_delta;
                assert_true(o > prev);
                prev = o;
                int k;
                assert_int_equal(sscanf((const char *)rec.key.p, "key%d", &k), 1);
                s->records++;
                s->per_key[k]++;
                s->last_off[k] = o;
                snprintf(s->last[k], sizeof s->last[k], "%.*s", rec.value.len > 0 ? (int)rec.value.len : 0,
                         rec.value.len > 0 ? (const char *)rec.value.p : "");
            }
            free(inflated);
        }
        off = r.next_offset;
        ferry_free(r.data);
    }
}

/* Every key's latest value is there at its original offset. */
static void check_latest(struct fixture *f, struct scan *s)
{
    scan_log(f->log, s);
    for (int k = 0; k < NKEYS; k++) {
        if (f->latest_off[k] < 0)
            continue;
        assert_int_equal(s->last_off[k], f->latest_off[k]);
        assert_string_equal(s->last[k], f->latest[k]);
    }
}

static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t a = strlen(e->d_name), b = strlen(suffix);
        if (a >= b && strcmp(e->d_name + a - b, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void test_latest_value_survives(void **state)
{
    struct fixture *f = *state;
    open_log(f);
    overwrite(f, 30, T_NOW);
    size_t segs_before = plog_segment_count(f->log);
    assert_true(segs_before > 5);
    struct log_segment_snapshot {
        char *data;
        size_t len;
    } active;
    int64_t active_base = plog_log_end_offset(f->log); /* roll so that the last writes form the active segment */
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    put(f, 3, "in-active", T_NOW);
    char *apath = seg_file(f->log, active_base, ".log");
    assert_int_equal(read_all(apath, &active.data, &active.len), 0);
    int64_t size_before = plog_size_bytes(f->log);

    assert_true(plog_clean_needed(f->log, T_NOW, -1));
    assert_int_equal(plog_clean_sync(f->log, T_NOW, -1), 0);
    assert_true(plog_size_bytes(f->log) < size_before / 4);
    assert_int_equal(plog_cleaner_offset(f->log), active_base);
    assert_false(plog_clean_needed(f->log, T_NOW, -1));
    /* groups form by the sizes of the segments read (Kafka): the small cleaned segments merge next time */
    assert_int_equal(plog_segment_count(f->log), segs_before + 1);
    assert_int_equal(plog_clean_sync(f->log, T_NOW + DAY * 365, -1), 0); /* nothing dirty: no-op */
    f->cfg.min_cleanable_dirty_ratio = 0;
    plog_set_config(f->log, &f->cfg);
    assert_int_equal(plog_clean_sync(f->log, T_NOW, -1), 0);
    assert_true(plog_segment_count(f->log) <= 4);

    struct scan s;
    check_latest(f, &s);
    /* below the active segment each key once; key3 also once in the active segment */
    for (int k = 0; k < NKEYS; k++)
        assert_int_equal(s.per_key[k], k == 3 ? 2 : 1);
    /* the active segment is byte for byte what it was */
    char *after;
    size_t after_len;
    assert_int_equal(read_all(apath, &after, &after_len), 0);
    assert_int_equal(after_len, active.len);
    assert_memory_equal(after, active.data, after_len);
    ferry_free(after);
    ferry_free(active.data);
    ferry_free(apath);
    assert_int_equal(count_files(plog_dir(f->log), ".cleaned"), 0);
    assert_int_equal(count_files(plog_dir(f->log), ".swap"), 0);

    /* the checkpoint file and a restart */
    char *ck = log_path_join(f->root, "cleaner-offset-checkpoint");
    char *text;
    size_t tlen;
    assert_int_equal(read_all(ck, &text, &tlen), 0);
    char want[64];
    snprintf(want, sizeof want, "0\n1\nt 0 %lld\n", (long long)active_base);
    assert_string_equal(text, want);
    ferry_free(text);
    ferry_free(ck);
    assert_int_equal(plog_close(f->log), 0);
    open_log(f);
    assert_int_equal(plog_cleaner_offset(f->log), active_base);
    check_latest(f, &s);
}

static void test_reads_across_gaps(void **state)
{
    struct fixture *f = *state;
    open_log(f);
    /* batches of 5 records where only some survive: rewritten batches split at the gaps */
    for (int r = 0; r < 20; r++) {
        char v[16];
        snprintf(v, sizeof v, "r%d", r);
        put_n(f, r % 3 == 0 ? 0 : 5, 5, v, T_NOW + r);
        put(f, (r * 7) % NKEYS, v, T_NOW + r);
    }
    int64_t end = plog_log_end_offset(f->log);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    put(f, 0, "tail", T_NOW);
    assert_int_equal(plog_clean_sync(f->log, T_NOW, -1), 0);
    struct scan s;
    check_latest(f, &s);
    /* every offset reads: from the batch holding it or the next one after a gap */
    for (int64_t off = 0; off < end; off++) {
        struct plog_read_result r;
        assert_int_equal(plog_read(f->log, off, 1, true, -1, &r), 0);
        assert_true(r.len > 0);
        assert_true(r.next_offset > off);
        ferry_free(r.data);
    }
    int64_t ts_off, ts;
    assert_int_equal(plog_offset_for_timestamp(f->log, T_NOW, &ts_off, &ts), 0);
}

/* Compressed batches: their keys count in the map, they lose superseded records (the rest is rewritten
 * uncompressed) and a compressed batch that keeps everything stays as it was. */
static void test_compressed_batches(void **state)
{
    struct fixture *f = *state;
    open_log(f);
    for (int r = 0; r < 6; r++) {
        char v[16];
        snprintf(v, sizeof v, "gz%d", r);
        put_gzip(f, 0, NKEYS, v, T_NOW); /* every key, compressed */
        put(f, r % NKEYS, "plain", T_NOW); /* one key, uncompressed */
    }
    put_gzip(f, 7, 2, "last", T_NOW); /* key7, key8: their latest, in one compressed batch */
    int64_t size_before = plog_size_bytes(f->log);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    put(f, 9, "active", T_NOW);
    assert_int_equal(plog_clean_sync(f->log, T_NOW, -1), 0);
    assert_true(plog_size_bytes(f->log) < size_before);
    struct scan s;
    scan_log_any(f->log, &s);
    for (int k = 0; k < NKEYS; k++) {
        assert_int_equal(s.last_off[k], f->latest_off[k]);
        assert_string_equal(s.last[k], f->latest[k]);
        assert_int_equal(s.per_key[k], k == 9 ? 2 : 1);
    }
    assert_true(s.compressed_batches >= 1); /* the last one, kept whole */
}

/* Batches larger than the cleaner's 1 MiB read buffer, and reads that straddle its refills. */
static void test_large_records(void **state)
{
    struct fixture *f = *state;
    f->cfg.segment_bytes = 4 << 20;
    open_log(f);
    size_t big = (3u << 20) / 2; /* 1.5 MiB */
    char *v = malloc(big + 1);
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++) {
            size_t n = (k == 1) ? big : 700000;
            memset(v, 'x', n);
            v[n] = '\0';
            int pre = snprintf(v, 32, "big-%d-%d-", r, k);
            v[pre] = 'x';
            put(f, k, v, T_NOW);
        }
    free(v);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    put(f, 9, "small", T_NOW);
    int64_t size_before = plog_size_bytes(f->log);
    assert_int_equal(plog_clean_sync(f->log, T_NOW, -1), 0);
    assert_true(plog_size_bytes(f->log) < size_before / 2);
    struct scan s;
    check_latest(f, &s);
    for (int k = 0; k < 3; k++)
        assert_int_equal(s.per_key[k], 1);
}

static void test_tombstones(void **state)
{
    struct fixture *f = *state;
    f->cfg.delete_retention_ms = DAY;
    open_log(f);
    overwrite(f, 5, T_NOW);
    put(f, 1, NULL, T_NOW);
    put(f, 2, NULL, T_NOW);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    put(f, 9, "x", T_NOW);
    assert_int_equal(plog_clean_sync(f->log, T_NOW, -1), 0);
    struct scan s;
    check_latest(f, &s);
    assert_true(s.seen_tombstone[1] && s.seen_tombstone[2]);
    assert_int_equal(s.per_key[1], 1);

    /* before the delete horizon a new clean keeps them (key1 gets a newer tombstone, so a later horizon) */
    for (int r = 0; r < 2; r++)
        for (int k = 3; k < NKEYS; k++)
            put(f, k, "again", T_NOW);
    put(f, 1, NULL, T_NOW);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    put(f, 9, "y", T_NOW);
    assert_int_equal(plog_clean_sync(f->log, T_NOW + DAY - 1, -1), 0);
    check_latest(f, &s);
    assert_true(s.seen_tombstone[1] && s.seen_tombstone[2]);
    assert_false(plog_clean_needed(f->log, T_NOW + DAY - 1, -1));

    /* after key2's horizon its tombstone goes, and the key with it; key1's newer one stays */
    assert_true(plog_clean_needed(f->log, T_NOW + DAY + 1, -1));
    assert_int_equal(plog_clean_sync(f->log, T_NOW + DAY + 1, -1), 0);
    f->latest_off[2] = -1;
    check_latest(f, &s);
    assert_int_equal(s.per_key[2], 0);
    assert_true(s.seen_tombstone[1]);
    assert_false(plog_clean_needed(f->log, T_NOW + DAY + 1, -1));
    /* and after key1's */
    assert_int_equal(plog_clean_sync(f->log, T_NOW + 2 * DAY, -1), 0);
    scan_log(f->log, &s);
    assert_int_equal(s.per_key[1], 0);
    assert_int_equal(s.per_key[2], 0);
    for (int k = 3; k < NKEYS; k++)
        assert_string_equal(s.last[k], f->latest[k]);
}

static void test_min_compaction_lag(void **state)
{
    struct fixture *f = *state;
    f->cfg.min_compaction_lag_ms = 60000;
    open_log(f);
    overwrite(f, 10, T_NOW);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    put(f, 0, "a", T_NOW);
    int64_t size = plog_size_bytes(f->log);
    assert_false(plog_clean_needed(f->log, T_NOW + 30000, -1));
    assert_int_equal(plog_clean_sync(f->log, T_NOW + 30000, -1), 0);
    assert_int_equal(plog_size_bytes(f->log), size);
    /* nothing at or above the high watermark either */
    assert_false(plog_clean_needed(f->log, T_NOW + 120000, 0));
    assert_true(plog_clean_needed(f->log, T_NOW + 120000, -1));
    assert_int_equal(plog_clean_sync(f->log, T_NOW + 120000, -1), 0);
    assert_true(plog_size_bytes(f->log) < size);
    struct scan s;
    check_latest(f, &s);
}

static void test_ratio_and_max_lag(void **state)
{
    struct fixture *f = *state;
    f->cfg.min_cleanable_dirty_ratio = 0.9;
    open_log(f);
    overwrite(f, 10, T_NOW);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    assert_true(plog_clean_needed(f->log, T_NOW, -1)); /* all dirty: ratio 1 */
    assert_int_equal(plog_clean_sync(f->log, T_NOW, -1), 0);
    put(f, 0, "one more", T_NOW);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    assert_false(plog_clean_needed(f->log, T_NOW, -1)); /* a small dirty part */
    f->cfg.max_compaction_lag_ms = 1000;
    plog_set_config(f->log, &f->cfg);
    assert_true(plog_clean_needed(f->log, T_NOW + 5000, -1));
}

static void test_retention_policy(void **state)
{
    struct fixture *f = *state;
    f->cfg.retention_ms = 1000;
    open_log(f);
    overwrite(f, 10, T_NOW);
    size_t n = plog_segment_count(f->log);
    assert_int_equal(plog_apply_retention(f->log, T_NOW + DAY, -1), 0); /* compact alone: kept */
    assert_int_equal(plog_segment_count(f->log), n);
    f->cfg.cleanup_delete = true; /* compact,delete */
    plog_set_config(f->log, &f->cfg);
    assert_true(plog_apply_retention(f->log, T_NOW + DAY, -1) > 0);
}

/* A clean of a multi-group log stopped after `step` as a crash would, then reopened. */
static void crash_after(void **state, int step)
{
    struct fixture *f = *state;
    f->cfg.segment_bytes = 600; /* several groups */
    open_log(f);
    overwrite(f, 12, T_NOW);
    put(f, 4, NULL, T_NOW);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    put(f, 5, "active", T_NOW);
    size_t segs_before = plog_segment_count(f->log);
    int64_t size_before = plog_size_bytes(f->log);
    struct plog_clean *c;
    assert_int_equal(plog_clean_begin(f->log, T_NOW, -1, &c), 0);
    assert_int_equal(plog_clean_run(c), 0);
    plog_clean_stop_after(c, step);
    assert_int_equal(plog_clean_end(f->log, c, 0), FERRY_EIO);
    plog_close_abandon(f->log);
    f->log = NULL;
    open_log(f);
    struct scan s;
    check_latest(f, &s);
    assert_int_equal(count_files(plog_dir(f->log), ".cleaned"), 0);
    assert_int_equal(count_files(plog_dir(f->log), ".swap"), 0);
    assert_int_equal(plog_segment_count(f->log), segs_before);
    if (step == 1)
        assert_int_equal(plog_size_bytes(f->log), size_before); /* rolled back */
    else
        assert_true(plog_size_bytes(f->log) < size_before / 2); /* completed */
    for (int k = 0; k < NKEYS; k++)
        assert_true(step == 1 || s.per_key[k] <= (k == 5 ? 2 : 1));
    /* cleaning again works and keeps everything */
    assert_int_equal(plog_clean_sync(f->log, T_NOW, -1), 0);
    check_latest(f, &s);
    for (int k = 0; k < NKEYS; k++)
        assert_true(s.per_key[k] <= (k == 5 ? 2 : 1));
}

static void test_crash_after_cleaned(void **state) { crash_after(state, 1); }
static void test_crash_after_swap(void **state) { crash_after(state, 2); }
static void test_crash_after_deleted(void **state) { crash_after(state, 3); }
static void test_crash_after_rename(void **state) { crash_after(state, 4); }

/* Crash in the middle of the .cleaned -> .swap renames (last group first): the first group is still
 * `.cleaned`, so the later swaps are rolled back. */
static void test_crash_mid_swap_renames(void **state)
{
    struct fixture *f = *state;
    f->cfg.segment_bytes = 600;
    open_log(f);
    overwrite(f, 12, T_NOW);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    put(f, 5, "active", T_NOW);
    size_t segs_before = plog_segment_count(f->log);
    struct plog_clean *c;
    assert_int_equal(plog_clean_begin(f->log, T_NOW, -1, &c), 0);
    assert_int_equal(plog_clean_run(c), 0);
    plog_clean_stop_after(c, 1);
    assert_int_equal(plog_clean_end(f->log, c, 0), FERRY_EIO);
    /* rename every `.log.cleaned` but the first one to `.log.swap` */
    const char *dir = plog_dir(f->log);
    DIR *d = opendir(dir);
    struct dirent *e;
    char first[64] = "";
    int renamed = 0;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".log.cleaned") && (!first[0] || strcmp(e->d_name, first) < 0))
            snprintf(first, sizeof first, "%s", e->d_name);
    rewinddir(d);
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".log.cleaned") && strcmp(e->d_name, first) != 0) {
            char *from = log_path_join(dir, e->d_name);
            char *to = log_path_fmt("%s/%.20s.log.swap", dir, e->d_name);
            assert_int_equal(rename(from, to), 0);
            ferry_free(from);
            ferry_free(to);
            renamed++;
        }
    }
    closedir(d);
    assert_true(renamed > 0);
    plog_close_abandon(f->log);
    f->log = NULL;
    open_log(f);
    assert_int_equal(plog_segment_count(f->log), segs_before);
    struct scan s;
    check_latest(f, &s);
    assert_int_equal(count_files(plog_dir(f->log), ".swap"), 0);
}

/* The log is truncated while the worker runs: its output is discarded. */
static void test_truncated_meanwhile(void **state)
{
    struct fixture *f = *state;
    open_log(f);
    overwrite(f, 10, T_NOW);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    size_t segs = plog_segment_count(f->log);
    struct plog_clean *c;
    assert_int_equal(plog_clean_begin(f->log, T_NOW, -1, &c), 0);
    struct plog_clean *c2;
    assert_int_equal(plog_clean_begin(f->log, T_NOW, -1, &c2), FERRY_ENOTFOUND); /* one at a time */
    assert_int_equal(plog_clean_run(c), 0);
    assert_int_equal(plog_truncate_to(f->log, 50), 0);
    assert_int_equal(plog_clean_end(f->log, c, 0), 0);
    assert_true(plog_segment_count(f->log) < segs);
    assert_int_equal(plog_log_end_offset(f->log), 50);
    assert_int_equal(count_files(plog_dir(f->log), ".cleaned"), 0);
    assert_int_equal(plog_cleaner_offset(f->log), -1);
    struct scan s;
    scan_log(f->log, &s);
    assert_int_equal(s.records, 50);
    /* a truncation below the cleaner checkpoint lowers it (Kafka's maybeTruncateCheckpoint) */
    overwrite(f, 5, T_NOW);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    assert_int_equal(plog_clean_sync(f->log, T_NOW, -1), 0);
    int64_t ck = plog_cleaner_offset(f->log);
    assert_true(ck > 60);
    assert_int_equal(plog_truncate_to(f->log, 60), 0);
    assert_int_equal(plog_cleaner_offset(f->log), 60);
}

/* Deleting a log removes its entry from cleaner-offset-checkpoint and keeps the others. */
static void test_checkpoint_entries(void **state)
{
    struct fixture *f = *state;
    struct plog *other;
    struct plog_open_opts o = opts_at(T_NOW);
    assert_int_equal(plog_open(f->root, "u", 3, &f->cfg, &o, &other), 0);
    open_log(f);
    overwrite(f, 3, T_NOW);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    assert_int_equal(plog_clean_sync(f->log, T_NOW, -1), 0);
    struct fixture g = *f;
    g.log = other;
    overwrite(&g, 3, T_NOW);
    assert_int_equal(plog_roll(other, T_NOW), 0);
    assert_int_equal(plog_clean_sync(other, T_NOW, -1), 0);
    char *ck = log_path_join(f->root, "cleaner-offset-checkpoint");
    char *text;
    size_t len;
    assert_int_equal(read_all(ck, &text, &len), 0);
    assert_non_null(strstr(text, "0\n2\n"));
    assert_non_null(strstr(text, "t 0 30\n"));
    assert_non_null(strstr(text, "u 3 30\n"));
    ferry_free(text);
    assert_int_equal(plog_delete(other), 0);
    assert_int_equal(read_all(ck, &text, &len), 0);
    assert_string_equal(text, "0\n1\nt 0 30\n");
    ferry_free(text);
    ferry_free(ck);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_latest_value_survives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_across_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_min_compaction_lag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratio_and_max_lag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_cleaned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_mid_swap_renames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_meanwhile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_entries, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
