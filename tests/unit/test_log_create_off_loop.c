/* Creating partition logs off the event loop (logdir.h: logdir_new_log_*, logdir_sync_*): a job run on
 * another thread leaves no descriptor open and fsyncs nothing; finishing it on the loop adopts the log; a
 * filesystem sync or the log's first flush makes it durable; deleting a log whose sync is pending or
 * running is safe; an existing directory or a worker out of descriptors falls back to creating the log on
 * the loop. Start-up copes with what a crash during creation can leave: no partition.metadata, a leftover
 * temp file, an empty or truncated partition.metadata (written again from the metadata's topic id), or no
 * directory at all. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/log/log_file.h"
#include "broker/log/logdir.h"
#include "test_log_util.h"

static proto_uuid topic_id(void)
{
    proto_uuid id = {{0}};
    for (int i = 0; i < 16; i++)
        id.b[i] = (uint8_t)(0x11 * (i + 1));
    return id;
}

static void *run_job(void *job)
{
    logdir_new_log_run(job);
    return NULL;
}

/* init on this thread, run on another one, finish here. */
static int create_off_loop(struct logdir *d, const char *topic, struct plog **out)
{
    struct plog_config cfg;
    small_config(&cfg);
    proto_uuid id = topic_id();
    struct logdir_new_log job;
    assert_int_equal(logdir_new_log_init(d, topic, 0, &cfg, &id, T_NOW, &job), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_job, &job), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    return logdir_new_log_finish(&job, out);
}

static void assert_partition_metadata(const struct plog *log)
{
    char *path = log_path_join(plog_dir(log), "partition.metadata");
    char *text;
    size_t len;
    assert_int_equal(read_all(path, &text, &len), 0);
    char b64[PROTO_UUID_B64_LEN + 1], want[64];
    proto_uuid_to_base64(topic_id(), b64);
    snprintf(want, sizeof want, "version: 0\ntopic_id: %s\n", b64);
    assert_string_equal(text, want);
    ferry_free(text);
    ferry_free(path);
}

static void sync_now(struct logdir *d)
{
    struct logdir_sync s;
    assert_true(logdir_sync_begin(d, &s));
    logdir_sync_end(d, &s, logdir_sync_run(&s));
}

static void test_job_creates_and_sync_makes_durable(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct logdir *d;
    assert_int_equal(logdir_open(dir, &d), 0);
    size_t fds = process_fds(), managed = log_fd_open_count();
    struct plog_config cfg;
    small_config(&cfg);
    proto_uuid id = topic_id();
    struct logdir_new_log job;
    assert_int_equal(logdir_new_log_init(d, "orders", 3, &cfg, &id, T_NOW, &job), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_job, &job), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(job.rc, 0);
    assert_int_equal(process_fds(), fds); /* nothing left open outside the budget */
    assert_null(logdir_find(d, "orders", 3));
    struct plog *log;
    assert_int_equal(logdir_new_log_finish(&job, &log), 0);
    assert_ptr_equal(logdir_find(d, "orders", 3), log);
    assert_int_equal(log_fd_open_count(), managed); /* managed now, opened on first use */
    assert_false(plog_created_durably(log));
    assert_int_equal(logdir_unsynced_count(d), 1);
    assert_partition_metadata(log);
    assert_int_equal(append_n(log, 3, T_NOW, 20, 0), 0);
    assert_int_equal(plog_log_end_offset(log), 3);

    sync_now(d);
    assert_true(plog_created_durably(log));
    assert_int_equal(logdir_unsynced_count(d), 0);
    struct logdir_sync s;
    assert_false(logdir_sync_begin(d, &s)); /* nothing left */

    assert_int_equal(logdir_close(d, 5), 0);
    assert_int_equal(logdir_open(dir, &d), 0);
    assert_int_equal(logdir_load_logs(d, &cfg, T_NOW), 1);
    log = logdir_find(d, "orders", 3);
    assert_non_null(log);
    assert_int_equal(plog_log_end_offset(log), 3);
    proto_uuid got;
    assert_true(plog_topic_id(log, &got));
    assert_memory_equal(got.b, id.b, 16);
    assert_true(plog_created_durably(log));
    assert_int_equal(logdir_close(d, 5), 0);
    tmpdir_remove(dir);
}

/* A flush of a new log fsyncs partition.metadata, the directory and the root itself: the data it makes
 * durable never depends on a sync still to come. */
static void test_flush_makes_new_log_durable(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct logdir *d;
    assert_int_equal(logdir_open(dir, &d), 0);
    struct plog *log;
    assert_int_equal(create_off_loop(d, "flushed", &log), 0);
    assert_int_equal(append_n(log, 2, T_NOW, 20, 0), 0);
    struct plog_flush f;
    assert_int_equal(plog_flush_begin(log, &f), 0);
    assert_non_null(f.metadata_path);
    assert_non_null(f.dir_path);
    assert_string_equal(f.root_path, dir);
    assert_int_equal(plog_flush_run(&f), 0);
    plog_flush_end(log, &f, 0);
    assert_true(plog_created_durably(log));
    assert_int_equal(plog_recovery_point(log), 2);
    assert_int_equal(plog_flush_begin(log, &f), 0); /* durable now: plain flushes again */
    assert_null(f.metadata_path);
    assert_null(f.root_path);
    plog_flush_end(log, &f, plog_flush_run(&f));
    /* still listed until the next sync pass, which drops it */
    struct logdir_sync s;
    assert_true(logdir_sync_begin(d, &s));
    logdir_sync_end(d, &s, logdir_sync_run(&s));
    assert_int_equal(logdir_unsynced_count(d), 0);
    assert_int_equal(logdir_close(d, 1), 0);
    tmpdir_remove(dir);
}

/* Deleting a log whose sync is pending, or while the sync runs: the sync never touches the freed log. */
static void test_delete_while_sync_pending(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct logdir *d;
    assert_int_equal(logdir_open(dir, &d), 0);
    struct plog *a, *b, *c;
    assert_int_equal(create_off_loop(d, "a", &a), 0);
    assert_int_equal(create_off_loop(d, "b", &b), 0);
    assert_int_equal(logdir_unsynced_count(d), 2);
    assert_int_equal(logdir_delete_log(d, a), 0); /* pending */
    assert_int_equal(logdir_unsynced_count(d), 1);
    struct logdir_sync s;
    assert_true(logdir_sync_begin(d, &s));
    assert_int_equal(create_off_loop(d, "c", &c), 0); /* created after the sync began: not covered */
    assert_int_equal(logdir_delete_log(d, b), 0);      /* while the sync runs */
    logdir_sync_end(d, &s, logdir_sync_run(&s));
    assert_false(plog_created_durably(c));
    assert_int_equal(logdir_unsynced_count(d), 1);
    char *pa = log_path_join(dir, "a-0"), *pb = log_path_join(dir, "b-0");
    assert_false(log_path_exists(pa));
    assert_false(log_path_exists(pb));
    ferry_free(pa);
    ferry_free(pb);
    sync_now(d);
    assert_true(plog_created_durably(c));
    assert_int_equal(logdir_delete_log(d, c), 0);
    assert_int_equal(logdir_log_count(d), 0);
    assert_int_equal(logdir_close(d, 1), 0);
    tmpdir_remove(dir);
}

/* A failed sync leaves the logs listed for the next pass. */
static void test_failed_sync_keeps_logs_pending(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct logdir *d;
    assert_int_equal(logdir_open(dir, &d), 0);
    struct plog *log;
    assert_int_equal(create_off_loop(d, "retry", &log), 0);
    struct logdir_sync s;
    assert_true(logdir_sync_begin(d, &s));
    logdir_sync_end(d, &s, FERRY_EIO);
    assert_false(plog_created_durably(log));
    assert_int_equal(logdir_unsynced_count(d), 1);
    sync_now(d);
    assert_true(plog_created_durably(log));
    assert_int_equal(logdir_close(d, 1), 0);
    tmpdir_remove(dir);
}

/* The directory exists already (left by an earlier life of the partition): the worker leaves it alone and
 * the log is loaded on the loop, data included. */
static void test_existing_directory_opens_on_the_loop(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct plog_config cfg;
    small_config(&cfg);
    struct plog_open_opts o = opts_at(T_NOW);
    struct plog *log;
    assert_int_equal(plog_open(dir, "old", 0, &cfg, &o, &log), 0);
    assert_int_equal(append_n(log, 4, T_NOW, 20, 0), 0);
    assert_int_equal(plog_close(log), 0);
    struct logdir *d;
    assert_int_equal(logdir_open(dir, &d), 0);
    proto_uuid id = topic_id();
    struct logdir_new_log job;
    assert_int_equal(logdir_new_log_init(d, "old", 0, &cfg, &id, T_NOW, &job), 0);
    logdir_new_log_run(&job);
    assert_int_equal(job.rc, FERRY_EEXIST);
    assert_int_equal(logdir_new_log_finish(&job, &log), 0);
    assert_ptr_equal(logdir_find(d, "old", 0), log);
    assert_int_equal(plog_log_end_offset(log), 4);
    assert_true(plog_created_durably(log));
    assert_int_equal(logdir_unsynced_count(d), 0);
    assert_partition_metadata(log);
    assert_int_equal(logdir_close(d, 1), 0);
    tmpdir_remove(dir);
}

/* The process is out of descriptors while the budget caches many: the worker's creation fails (it may not
 * close the loop's descriptors), and the loop creates the log, closing cached descriptors to do so. */
static void test_worker_out_of_descriptors_falls_back_to_the_loop(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct logdir *d;
    assert_int_equal(logdir_open(dir, &d), 0);
    log_fd_budget_set(1000);
    enum { CACHED = 30 };
    static struct log_file f[CACHED]; /* static: still valid memory for the LRU if an assertion fails */
    for (int i = 0; i < CACHED; i++) {
        char *path = log_path_fmt("%s/cached%d", dir, i);
        write_all(path, "cached", 6);
        assert_int_equal(log_file_open(&f[i], path, false, true), 0);
    }
    struct plog_config cfg;
    small_config(&cfg);
    proto_uuid id = topic_id();
    struct logdir_new_log job;
    assert_int_equal(logdir_new_log_init(d, "emfile", 0, &cfg, &id, T_NOW, &job), 0);
    /* two free descriptor numbers below the limit: not enough for the three files of a segment */
    struct rlimit saved;
    nofile_two_free(&saved);
    logdir_new_log_run(&job);
    int run_rc = job.rc;
    struct plog *log = NULL;
    int finish_rc = logdir_new_log_finish(&job, &log);
    size_t cached_after = log_fd_open_count();
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    for (int i = 0; i < CACHED; i++)
        log_file_close(&f[i]);
    assert_int_equal(run_rc, FERRY_EIO);
    assert_int_equal(finish_rc, 0);
    assert_non_null(log);
    assert_true(cached_after < CACHED);
    assert_int_equal(append_n(log, 2, T_NOW, 20, 0), 0);
    assert_partition_metadata(log);
    log_fd_budget_set(0);
    assert_int_equal(logdir_close(d, 1), 0);
    tmpdir_remove(dir);
}

/* ---- start-up after a crash during creation (nothing was synced) ---- */

enum crash_leftover { NO_METADATA, LEFTOVER_TMP, EMPTY_METADATA, TRUNCATED_METADATA, NO_DIRECTORY };

static void crash_during_creation(enum crash_leftover what)
{
    char *dir = tmpdir_make();
    struct logdir *d;
    assert_int_equal(logdir_open(dir, &d), 0);
    struct plog *log;
    assert_int_equal(create_off_loop(d, "crashed", &log), 0);
    char *part = log_path_join(dir, "crashed-0");
    char *meta = log_path_join(part, "partition.metadata");
    char *tmp = log_path_join(part, "partition.metadata.tmp");
    logdir_close_abandon(d); /* kill -9 */
    switch (what) {
    case NO_METADATA: assert_int_equal(unlink(meta), 0); break;
    case LEFTOVER_TMP:
        assert_int_equal(rename(meta, tmp), 0);
        break;
    case EMPTY_METADATA: write_all(meta, "", 0); break;
    case TRUNCATED_METADATA: write_all(meta, "version: 0\ntopic_id: ESIz", 25); break;
    case NO_DIRECTORY: assert_int_equal(log_remove_tree(part), 0); break;
    }
    struct plog_config cfg;
    small_config(&cfg);
    assert_int_equal(logdir_open(dir, &d), 0);
    assert_int_equal(logdir_load_logs(d, &cfg, T_NOW), what == NO_DIRECTORY ? 0 : 1);
    assert_false(log_path_exists(tmp));
    /* the metadata image names the partition again: its log is there (or created) with its topic id */
    proto_uuid id = topic_id();
    assert_int_equal(logdir_create_log(d, "crashed", 0, &cfg, &id, T_NOW, &log), 0);
    assert_partition_metadata(log);
    assert_int_equal(append_n(log, 1, T_NOW, 20, 0), 0);
    assert_int_equal(logdir_close(d, 1), 0);
    ferry_free(tmp);
    ferry_free(meta);
    ferry_free(part);
    tmpdir_remove(dir);
}

static void test_crash_leaves_no_partition_metadata(void **state)
{
    (void)state;
    crash_during_creation(NO_METADATA);
}

static void test_crash_leaves_a_temp_file(void **state)
{
    (void)state;
    crash_during_creation(LEFTOVER_TMP);
}

static void test_crash_leaves_empty_partition_metadata(void **state)
{
    (void)state;
    crash_during_creation(EMPTY_METADATA);
}

static void test_crash_leaves_truncated_partition_metadata(void **state)
{
    (void)state;
    crash_during_creation(TRUNCATED_METADATA);
}

static void test_crash_leaves_no_directory(void **state)
{
    (void)state;
    crash_during_creation(NO_DIRECTORY);
}

int main(void)
{
    ferry_log_set_level(FERRY_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_creates_and_sync_makes_durable),
        cmocka_unit_test(test_flush_makes_new_log_durable),
        cmocka_unit_test(test_delete_while_sync_pending),
        cmocka_unit_test(test_failed_sync_keeps_logs_pending),
        cmocka_unit_test(test_existing_directory_opens_on_the_loop),
        cmocka_unit_test(test_worker_out_of_descriptors_falls_back_to_the_loop),
        cmocka_unit_test(test_crash_leaves_no_partition_metadata),
        cmocka_unit_test(test_crash_leaves_a_temp_file),
        cmocka_unit_test(test_crash_leaves_empty_partition_metadata),
        cmocka_unit_test(test_crash_leaves_truncated_partition_metadata),
        cmocka_unit_test(test_crash_leaves_no_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
