/* Log directory manager: meta.properties (round trip, tolerant read, errors), offset checkpoint files,
 * the .lock conflict, the clean-shutdown marker, loading partition directories, deleting a log, uuids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/log/logdir.h"
#include "test_log_util.h"

static void test_uuid_base64(void **state)
{
    (void)state;
    proto_uuid one = {{0}};
    one.b[15] = 1;
    char s[PROTO_UUID_B64_LEN + 1];
    proto_uuid_to_base64(one, s);
    assert_string_equal(s, "AAAAAAAAAAAAAAAAAAAAAQ"); /* Kafka's metadata topic id */
    proto_uuid back;
    assert_int_equal(proto_uuid_from_base64("AAAAAAAAAAAAAAAAAAAAAQ", &back), 0);
    assert_memory_equal(back.b, one.b, 16);
    proto_uuid all;
    memset(all.b, 0xff, 16);
    proto_uuid_to_base64(all, s);
    assert_string_equal(s, "_____________________w");
    assert_int_equal(proto_uuid_from_base64("_____________________w", &back), 0);
    assert_memory_equal(back.b, all.b, 16);
    assert_int_equal(proto_uuid_from_base64("AAAAAAAAAAAAAAAAAAAAA", &back), FERRY_EPARSE);
    assert_int_equal(proto_uuid_from_base64("AAAAAAAAAAAAAAAAAAAAA+", &back), FERRY_EPARSE);
    assert_int_equal(proto_uuid_from_base64("AAAAAAAAAAAAAAAAAAAAAQ=", &back), FERRY_EPARSE);
    for (int i = 0; i < 200; i++) {
        proto_uuid r;
        assert_int_equal(log_uuid_random(&r), 0);
        proto_uuid_to_base64(r, s);
        assert_int_equal(strlen(s), 22);
        assert_true(s[0] != '-');
        assert_int_equal(r.b[6] >> 4, 4);
        assert_int_equal(proto_uuid_from_base64(s, &back), 0);
        assert_memory_equal(back.b, r.b, 16);
    }
}

static void test_meta_properties_round_trip(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct logdir_meta m = {.version = 1, .node_id = 3, .has_directory_id = true};
    strcpy(m.cluster_id, "MkU3OEVBNTcwNTJENDM2Qk");
    assert_int_equal(log_uuid_random(&m.directory_id), 0);
    assert_int_equal(logdir_meta_write(dir, &m), 0);
    char *path = log_path_join(dir, "meta.properties");
    char *text;
    size_t len;
    assert_int_equal(read_all(path, &text, &len), 0);
    /* "#\n#<java date>\n" then the keys. */
    assert_true(strncmp(text, "#\n#", 3) == 0);
    assert_non_null(strstr(text, " UTC "));
    assert_non_null(strstr(text, "\nversion=1\n"));
    assert_non_null(strstr(text, "\nnode.id=3\n"));
    assert_non_null(strstr(text, "\ncluster.id=MkU3OEVBNTcwNTJENDM2Qk\n"));
    assert_non_null(strstr(text, "\ndirectory.id="));
    assert_null(strstr(text, "broker.id"));
    ferry_free(text);
    struct logdir_meta r;
    assert_int_equal(logdir_meta_read(dir, &r), 0);
    assert_int_equal(r.version, 1);
    assert_int_equal(r.node_id, 3);
    assert_string_equal(r.cluster_id, m.cluster_id);
    assert_true(r.has_directory_id);
    assert_memory_equal(r.directory_id.b, m.directory_id.b, 16);
    /* ZooKeeper-mode form. */
    struct logdir_meta z = {.version = 0, .node_id = 7};
    strcpy(z.cluster_id, "abc");
    assert_int_equal(logdir_meta_write(dir, &z), 0);
    assert_int_equal(read_all(path, &text, &len), 0);
    assert_non_null(strstr(text, "\nbroker.id=7\n"));
    assert_non_null(strstr(text, "\nversion=0\n"));
    assert_null(strstr(text, "node.id"));
    ferry_free(text);
    assert_int_equal(logdir_meta_read(dir, &r), 0);
    assert_int_equal(r.version, 0);
    assert_int_equal(r.node_id, 7);
    assert_false(r.has_directory_id);
    /* No temp file left behind. */
    char *tmp = log_path_join(dir, "meta.properties.tmp");
    assert_false(log_path_exists(tmp));
    ferry_free(tmp);
    ferry_free(path);
    tmpdir_remove(dir);
}

static void test_meta_properties_tolerant_read(void **state)
{
    (void)state;
    const char *text = "# written by hand\r\n"
                       "! another comment\n"
                       "\n"
                       "   cluster.id : Q2x1c3Rlcg\\\n"
                       "      AAAA\n"
                       "unknown.key=whatever=x\n"
                       "node.id 12\r\n"
                       "\tversion=1\n"
                       "directory.id=AAAAAAAAAAAAAAAAAAAAAQ";
    struct logdir_meta m;
    assert_int_equal(logdir_meta_parse(text, strlen(text), &m), 0);
    assert_int_equal(m.version, 1);
    assert_int_equal(m.node_id, 12);
    assert_string_equal(m.cluster_id, "Q2x1c3RlcgAAAA");
    assert_true(m.has_directory_id);
    assert_int_equal(m.directory_id.b[15], 1);
    const char *esc = "version=0\nbroker.id=\\u0034\ncluster.id=a\\:b\n";
    assert_int_equal(logdir_meta_parse(esc, strlen(esc), &m), 0);
    assert_int_equal(m.node_id, 4);
    assert_string_equal(m.cluster_id, "a:b");
    const char *bad[] = {
        "",                                        /* no version */
        "version=1\nnode.id=1\n",                  /* KRaft needs cluster.id */
        "version=1\ncluster.id=x\n",               /* and node.id */
        "version=0\ncluster.id=x\n",               /* ZooKeeper mode needs broker.id */
        "version=2\nnode.id=1\ncluster.id=x\n",    /* unknown version */
        "version=one\nnode.id=1\ncluster.id=x\n",  /* not a number */
        "version=1\nnode.id=1x\ncluster.id=x\n",
        "version=1\nnode.id=1\ncluster.id=x\ndirectory.id=short\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(logdir_meta_parse(bad[i], strlen(bad[i]), &m), FERRY_EPARSE);
    char *dir = tmpdir_make();
    assert_int_equal(logdir_meta_read(dir, &m), FERRY_ENOTFOUND);
    char *path = log_path_join(dir, "meta.properties");
    uint8_t garbage[300];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)(i * 7919 + 13);
    write_all(path, garbage, sizeof garbage);
    assert_int_equal(logdir_meta_read(dir, &m), FERRY_EPARSE);
    ferry_free(path);
    tmpdir_remove(dir);
}

static void test_offset_checkpoint_files(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    char *path = log_path_join(dir, "recovery-point-offset-checkpoint");
    struct logdir_tp_offset e[2] = {{"orders", 0, 42}, {"__consumer_offsets", 17, 1234567890123LL}};
    assert_int_equal(logdir_offsets_write(path, e, 2), 0);
    char *text;
    size_t len;
    assert_int_equal(read_all(path, &text, &len), 0);
    assert_string_equal(text, "0\n2\norders 0 42\n__consumer_offsets 17 1234567890123\n");
    ferry_free(text);
    struct logdir_tp_offset *r;
    size_t n;
    assert_int_equal(logdir_offsets_read(path, &r, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(r[1].topic, "__consumer_offsets");
    assert_int_equal(r[1].partition, 17);
    assert_int_equal(r[1].offset, 1234567890123LL);
    ferry_free(r);
    assert_int_equal(logdir_offsets_write(path, NULL, 0), 0);
    assert_int_equal(read_all(path, &text, &len), 0);
    assert_string_equal(text, "0\n0\n");
    ferry_free(text);
    const char *bad[] = {"1\n0\n", "0\n2\na 0 1\n", "0\n1\na 0\n", "0\n1\na x 1\n", "0\n1\na 0 1 2\n",
                         "0\n0\na 0 1\n", "", "0\n", "0\n-1\n", "0\n1\na -1 5\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_all(path, bad[i], strlen(bad[i]));
        assert_int_equal(logdir_offsets_read(path, &r, &n), FERRY_EPARSE);
    }
    /* Tolerated: CRLF, blank lines, runs of spaces. */
    const char *ok = "0\r\n1\r\n\r\n  orders   3\t9 \r\n";
    write_all(path, ok, strlen(ok));
    assert_int_equal(logdir_offsets_read(path, &r, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].partition, 3);
    assert_int_equal(r[0].offset, 9);
    ferry_free(r);
    ferry_free(path);
    path = log_path_join(dir, "missing");
    assert_int_equal(logdir_offsets_read(path, &r, &n), FERRY_ENOTFOUND);
    ferry_free(path);
    tmpdir_remove(dir);
}

/* replication-offset-checkpoint: written from each log's plog_checkpoint_hw (logs without one left out),
 * read back at open and clamped into the log's range, lowered by truncation, written alone by the periodic
 * collect, and a damaged file is ignored (no log has a checkpointed high watermark), never fatal. */
static void test_high_watermark_checkpoint(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    char *hwpath = log_path_join(dir, "replication-offset-checkpoint");
    char *rppath = log_path_join(dir, "recovery-point-offset-checkpoint");
    struct plog_config cfg;
    small_config(&cfg);
    struct logdir *d;
    assert_int_equal(logdir_open(dir, &d), 0);
    assert_int_equal(logdir_load_logs(d, &cfg, T_NOW), 0);
    struct plog *a, *b, *c;
    assert_int_equal(logdir_create_log(d, "orders", 0, &cfg, NULL, T_NOW, &a), 0);
    assert_int_equal(logdir_create_log(d, "other", 1, &cfg, NULL, T_NOW, &b), 0);
    assert_int_equal(logdir_create_log(d, "third", 2, &cfg, NULL, T_NOW, &c), 0);
    assert_int_equal(plog_checkpoint_hw(a), -1); /* a new log has none */
    for (int i = 0; i < 10; i++) { /* batches of 2, 1 and 1 records: truncations cut between batches */
        append_n(a, 2, T_NOW, 10, 1);
        append_n(b, 1, T_NOW, 10, 1);
        if (i < 5)
            append_n(c, 1, T_NOW, 10, 1);
    }
    plog_set_checkpoint_hw(a, 15);
    plog_set_checkpoint_hw(b, 10);

    /* The periodic high-watermark checkpoint writes that file only. */
    struct logdir_checkpoint ck;
    assert_int_equal(logdir_checkpoint_collect(d, LOGDIR_CKPT_HIGH_WATERMARK, &ck), 0);
    assert_null(ck.recovery_path);
    assert_int_equal(logdir_checkpoint_write(&ck), 0);
    logdir_checkpoint_free(&ck);
    assert_false(log_path_exists(rppath));
    char *text;
    size_t len;
    assert_int_equal(read_all(hwpath, &text, &len), 0);
    assert_string_equal(text, "0\n2\norders 0 15\nother 1 10\n");
    ferry_free(text);

    plog_set_checkpoint_hw(a, 18);
    assert_int_equal(logdir_close(d, 1), 0); /* the clean close writes it with the others */
    assert_int_equal(read_all(hwpath, &text, &len), 0);
    assert_string_equal(text, "0\n2\norders 0 18\nother 1 10\n");
    ferry_free(text);
    assert_true(log_path_exists(rppath));

    assert_int_equal(logdir_open(dir, &d), 0);
    assert_int_equal(logdir_load_logs(d, &cfg, T_NOW), 3);
    a = logdir_find(d, "orders", 0);
    b = logdir_find(d, "other", 1);
    c = logdir_find(d, "third", 2);
    assert_int_equal(plog_checkpoint_hw(a), 18);
    assert_int_equal(plog_checkpoint_hw(b), 10);
    assert_int_equal(plog_checkpoint_hw(c), -1);
    assert_int_equal(plog_truncate_to(a, 12), 0); /* never above the log end */
    assert_int_equal(plog_checkpoint_hw(a), 12);
    assert_int_equal(plog_truncate_to(b, 12), 0); /* beyond the log end: nothing changes */
    assert_int_equal(plog_checkpoint_hw(b), 10);
    assert_int_equal(logdir_close(d, 2), 0);

    /* A high watermark beyond the log end (a file from before an unclean truncation) is clamped to it. */
    const char *beyond = "0\n2\norders 0 999\nthird 2 3\n";
    write_all(hwpath, beyond, strlen(beyond));
    assert_int_equal(logdir_open(dir, &d), 0);
    assert_int_equal(logdir_load_logs(d, &cfg, T_NOW), 3);
    assert_int_equal(plog_checkpoint_hw(logdir_find(d, "orders", 0)), 12);
    assert_int_equal(plog_checkpoint_hw(logdir_find(d, "other", 1)), -1);
    assert_int_equal(plog_checkpoint_hw(logdir_find(d, "third", 2)), 3);
    logdir_close_abandon(d);

    /* Damaged files: ignored, every log opens without a checkpointed high watermark, the other checkpoints
     * still count. */
    const char *bad[] = {"garbage", "0\n2\norders 0 5\n", "1\n1\norders 0 5\n", "0\n1\norders zero 5\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_all(hwpath, bad[i], strlen(bad[i]));
        assert_int_equal(logdir_open(dir, &d), 0);
        assert_int_equal(logdir_load_logs(d, &cfg, T_NOW), 3);
        a = logdir_find(d, "orders", 0);
        assert_int_equal(plog_checkpoint_hw(a), -1);
        assert_int_equal(plog_recovery_point(a), 12);
        logdir_close_abandon(d);
    }
    ferry_free(hwpath);
    ferry_free(rppath);
    tmpdir_remove(dir);
}

static void test_lock_conflict(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct logdir *a, *b;
    assert_int_equal(logdir_open(dir, &a), 0);
    assert_int_equal(logdir_open(dir, &b), FERRY_EEXIST);
    assert_int_equal(logdir_close(a, -1), 0);
    assert_int_equal(logdir_open(dir, &b), 0);
    logdir_close_abandon(b);
    assert_int_equal(logdir_open(dir, &a), 0);
    logdir_close_abandon(a);
    tmpdir_remove(dir);
}

static void test_clean_shutdown_and_load(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct plog_config cfg;
    small_config(&cfg);
    struct logdir *d;
    assert_int_equal(logdir_open(dir, &d), 0);
    assert_false(logdir_had_clean_shutdown(d));
    assert_int_equal(logdir_load_logs(d, &cfg, T_NOW), 0);
    proto_uuid tid;
    assert_int_equal(log_uuid_random(&tid), 0);
    struct plog *a, *b;
    assert_int_equal(logdir_create_log(d, "orders", 0, &cfg, &tid, T_NOW, &a), 0);
    assert_int_equal(logdir_create_log(d, "my.topic-with-dash", 12, &cfg, NULL, T_NOW, &b), 0);
    struct plog *again;
    assert_int_equal(logdir_create_log(d, "orders", 0, &cfg, &tid, T_NOW, &again), 0);
    assert_ptr_equal(again, a);
    for (int i = 0; i < 10; i++) {
        append_n(a, 2, T_NOW, 10, 1);
        append_n(b, 1, T_NOW, 10, 1);
    }
    assert_int_equal(plog_advance_log_start_offset(b, 4, T_NOW), 0);
    assert_int_equal(logdir_log_count(d), 2);
    /* partition.metadata of the log created with a topic id. */
    char *pm = log_path_join(plog_dir(a), "partition.metadata");
    char *text;
    size_t len;
    assert_int_equal(read_all(pm, &text, &len), 0);
    char b64[23], expect[64];
    proto_uuid_to_base64(tid, b64);
    snprintf(expect, sizeof expect, "version: 0\ntopic_id: %s\n", b64);
    assert_string_equal(text, expect);
    ferry_free(text);
    ferry_free(pm);
    /* Directories the loader must not take: an unknown one, a deleted partition, the metadata log, a future
     * replica. */
    const char *others[] = {"not_a_partition", "orders-9.0123456789abcdef0123456789abcdef-delete",
                            "__cluster_metadata-0", "orders-5.0123456789abcdef0123456789abcdef-future"};
    for (size_t i = 0; i < 4; i++) {
        char *p = log_path_join(dir, others[i]);
        assert_int_equal(log_mkdir(p), 0);
        ferry_free(p);
    }
    assert_int_equal(logdir_close(d, 77), 0);

    char *marker = log_path_join(dir, ".kafka_cleanshutdown");
    assert_int_equal(read_all(marker, &text, &len), 0);
    assert_string_equal(text, "{\"version\":0,\"brokerEpoch\":77}");
    ferry_free(text);
    char *rp = log_path_join(dir, "recovery-point-offset-checkpoint");
    struct logdir_tp_offset *e;
    size_t n;
    assert_int_equal(logdir_offsets_read(rp, &e, &n), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(e[i].offset, strcmp(e[i].topic, "orders") == 0 ? 20 : 10);
    ferry_free(e);
    char *ls = log_path_join(dir, "log-start-offset-checkpoint");
    assert_int_equal(logdir_offsets_read(ls, &e, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].topic, "my.topic-with-dash");
    assert_int_equal(e[0].partition, 12);
    assert_int_equal(e[0].offset, 4);
    ferry_free(e);

    assert_int_equal(logdir_open(dir, &d), 0);
    assert_true(logdir_had_clean_shutdown(d));
    assert_int_equal(logdir_clean_shutdown_broker_epoch(d), 77);
    assert_int_equal(logdir_load_logs(d, &cfg, T_NOW), 2);
    assert_false(log_path_exists(marker)); /* a crash from now on is noticed */
    char *deleted = log_path_join(dir, others[1]);
    assert_false(log_path_exists(deleted));
    ferry_free(deleted);
    a = logdir_find(d, "orders", 0);
    b = logdir_find(d, "my.topic-with-dash", 12);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(logdir_find(d, "__cluster_metadata", 0));
    assert_int_equal(plog_log_end_offset(a), 20);
    assert_int_equal(plog_log_start_offset(b), 4);
    assert_int_equal(plog_recovery_point(a), 20);
    proto_uuid got;
    assert_true(plog_topic_id(a, &got));
    assert_memory_equal(got.b, tid.b, 16);
    assert_false(plog_topic_id(b, NULL));
    /* Reopening with another topic id is refused. */
    proto_uuid other;
    log_uuid_random(&other);
    struct plog_open_opts o = opts_at(T_NOW);
    o.topic_id = &other;
    struct plog *x;
    assert_int_equal(plog_open(dir, "orders", 1, &cfg, &o, &x), 0); /* a new partition takes the id */
    plog_close(x);

    /* Deleting a log removes its directory. */
    char *bdir = ferry_strdup(plog_dir(b));
    assert_int_equal(logdir_delete_log(d, b), 0);
    assert_false(log_path_exists(bdir));
    assert_int_equal(logdir_log_count(d), 1);
    ferry_free(bdir);

    /* A deletion cut by a crash after its rename (logdir_delete_log_begin, then no plog_delete_run): the
     * directory, still holding the log's files, has its -delete name, and the next start removes it. */
    struct plog *doomed;
    assert_int_equal(logdir_create_log(d, "doomed", 3, &cfg, NULL, T_NOW, &doomed), 0);
    append_n(doomed, 5, T_NOW, 10, 2);
    assert_int_equal(plog_flush_sync(doomed), 0);
    struct plog_deletion del;
    assert_int_equal(logdir_delete_log_begin(d, doomed, &del), 0);
    assert_false(log_path_exists(del.dir));
    assert_true(log_path_exists(del.target));
    char *renamed = ferry_strdup(del.target);
    ferry_free(del.name);
    ferry_free(del.dir);
    ferry_free(del.parent);
    ferry_free(del.target);
    assert_null(logdir_find(d, "doomed", 3));

    /* A crash: no marker, next open is unclean and recovers. */
    append_n(a, 5, T_NOW, 10, 2);
    logdir_close_abandon(d);
    assert_false(log_path_exists(marker));
    assert_int_equal(logdir_open(dir, &d), 0);
    assert_false(logdir_had_clean_shutdown(d));
    assert_true(logdir_load_logs(d, &cfg, T_NOW) >= 1);
    assert_false(log_path_exists(renamed));
    assert_null(logdir_find(d, "doomed", 3));
    ferry_free(renamed);
    a = logdir_find(d, "orders", 0);
    assert_int_equal(plog_log_end_offset(a), 25);
    assert_int_equal(plog_latest_epoch(a), 2);
    assert_int_equal(logdir_close(d, -1), 0);
    ferry_free(marker);
    ferry_free(rp);
    ferry_free(ls);
    tmpdir_remove(dir);
}

static void test_topic_id_mismatch(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct plog_config cfg;
    small_config(&cfg);
    proto_uuid a, b;
    log_uuid_random(&a);
    log_uuid_random(&b);
    struct plog_open_opts o = opts_at(T_NOW);
    o.topic_id = &a;
    struct plog *log;
    assert_int_equal(plog_open(dir, "t", 0, &cfg, &o, &log), 0);
    plog_close(log);
    o.topic_id = &b;
    assert_int_equal(plog_open(dir, "t", 0, &cfg, &o, &log), FERRY_EINVAL);
    o.topic_id = &a;
    assert_int_equal(plog_open(dir, "t", 0, &cfg, &o, &log), 0);
    plog_close(log);
    /* Bad names are refused before touching the disk. */
    assert_int_equal(plog_open(dir, "../x", 0, &cfg, &o, &log), FERRY_EINVAL);
    assert_int_equal(plog_open(dir, "", 0, &cfg, &o, &log), FERRY_EINVAL);
    assert_int_equal(plog_open(dir, "t", -1, &cfg, &o, &log), FERRY_EINVAL);
    tmpdir_remove(dir);
}

/* Random bytes (and near-valid text) in every root file: reads fail cleanly, opening the directory works. */
static void test_fuzz_root_files(void **state)
{
    (void)state;
    ferry_log_set_level(FERRY_LOG_ERROR + 1);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    char *dir = tmpdir_make();
    const char *names[] = {"meta.properties", "recovery-point-offset-checkpoint", "log-start-offset-checkpoint",
                           ".kafka_cleanshutdown"};
    const char *alphabet = "0123456789 \n\r\t=:#!\\abc.-_";
    for (int iter = 0; iter < 500; iter++) {
        for (size_t k = 0; k < 4; k++) {
            char buf[400];
            size_t n = 0, len = (size_t)(x % sizeof buf);
            for (size_t i = 0; i < len; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[n++] = iter % 2 ? (char)x : alphabet[x % strlen(alphabet)];
            }
            char *p = log_path_join(dir, names[k]);
            write_all(p, buf, n);
            ferry_free(p);
        }
        struct logdir_meta m;
        int rc = logdir_meta_read(dir, &m);
        assert_true(rc == 0 || rc == FERRY_EPARSE);
        struct logdir_tp_offset *e;
        size_t n;
        char *p = log_path_join(dir, names[1]);
        rc = logdir_offsets_read(p, &e, &n);
        assert_true(rc == 0 || rc == FERRY_EPARSE);
        if (rc == 0)
            ferry_free(e);
        ferry_free(p);
        struct logdir *d;
        assert_int_equal(logdir_open(dir, &d), 0);
        struct plog_config cfg;
        small_config(&cfg);
        assert_true(logdir_load_logs(d, &cfg, T_NOW) >= 0);
        logdir_close_abandon(d);
    }
    tmpdir_remove(dir);
    ferry_log_set_level(FERRY_LOG_INFO);
}

/* Many logs: each is found by (topic, partition) through the directory's hash (the table grows past its
 * first size), deleted ones are gone, and a reload finds them all again. */
static void test_find_many_logs(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct plog_config cfg;
    small_config(&cfg);
    struct logdir *d;
    assert_int_equal(logdir_open(dir, &d), 0);
    assert_int_equal(logdir_load_logs(d, &cfg, T_NOW), 0);
    assert_null(logdir_find(d, "t0", 0));
    struct plog *logs[300];
    for (int i = 0; i < 300; i++) {
        char topic[16];
        snprintf(topic, sizeof topic, "t%d", i % 7);
        assert_int_equal(logdir_create_log(d, topic, i, &cfg, NULL, T_NOW, &logs[i]), 0);
        struct plog *again;
        assert_int_equal(logdir_create_log(d, topic, i, &cfg, NULL, T_NOW, &again), 0);
        assert_ptr_equal(again, logs[i]); /* an existing log is returned, not opened twice */
    }
    for (int i = 0; i < 300; i++) {
        char topic[16];
        snprintf(topic, sizeof topic, "t%d", i % 7);
        assert_ptr_equal(logdir_find(d, topic, i), logs[i]);
        snprintf(topic, sizeof topic, "t%d", (i + 1) % 7);
        assert_null(logdir_find(d, topic, i));
    }
    for (int i = 0; i < 300; i += 3)
        assert_int_equal(logdir_delete_log(d, logs[i]), 0);
    for (int i = 0; i < 300; i++) {
        char topic[16];
        snprintf(topic, sizeof topic, "t%d", i % 7);
        if (i % 3 == 0)
            assert_null(logdir_find(d, topic, i));
        else
            assert_ptr_equal(logdir_find(d, topic, i), logs[i]);
    }
    assert_int_equal(logdir_log_count(d), 200);
    assert_int_equal(logdir_close(d, 1), 0);
    assert_int_equal(logdir_open(dir, &d), 0);
    assert_int_equal(logdir_load_logs(d, &cfg, T_NOW), 200);
    for (int i = 0; i < 300; i++) {
        char topic[16];
        snprintf(topic, sizeof topic, "t%d", i % 7);
        assert_true((logdir_find(d, topic, i) != NULL) == (i % 3 != 0));
    }
    assert_int_equal(logdir_close(d, 2), 0);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_base64),
        cmocka_unit_test(test_meta_properties_round_trip),
        cmocka_unit_test(test_meta_properties_tolerant_read),
        cmocka_unit_test(test_offset_checkpoint_files),
        cmocka_unit_test(test_high_watermark_checkpoint),
        cmocka_unit_test(test_lock_conflict),
        cmocka_unit_test(test_clean_shutdown_and_load),
        cmocka_unit_test(test_topic_id_mismatch),
        cmocka_unit_test(test_fuzz_root_files),
        cmocka_unit_test(test_find_many_logs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
