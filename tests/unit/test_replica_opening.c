/* test_replica_opening: partitions whose new logs are created off the loop (broker/replica/partitions.h):
 * hosted and reported to the opened callback once created, then made durable by the sync pass; a removal
 * while the creation runs deletes the log once created, a removal while it is queued drops it; a partition
 * removed and opened again gets a fresh log; removals at the queue's head, middle and tail drop only those; fetching turned off (legacy StopReplica without deletion) while
 * the creation runs or is queued holds once hosted; a removed partition's log directory is renamed to
 * `-delete` at once and removed by a worker; closing the manager with creations queued and running loses
 * nothing and leaks nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include <cmocka.h>

#include "broker/log/logdir.h"
#include "test_log_util.h"
#include "test_replica_node.h"

struct opened {
    int calls;
    char names[8][32];
    int n;
};

static void on_opened(void *arg, struct rp_partition *const *ready, size_t n)
{
    struct opened *o = arg;
    o->calls++;
    for (size_t i = 0; i < n; i++)
        if (o->n < 8)
            snprintf(o->names[o->n++], sizeof o->names[0], "%s", ready[i]->topic);
}

static proto_uuid id_of(uint8_t b)
{
    proto_uuid id = {{0}};
    id.b[0] = b;
    id.b[15] = 1;
    return id;
}

static bool dir_exists(const char *root, const char *name)
{
    char *p = log_path_join(root, name);
    bool yes = log_path_exists(p);
    ferry_free(p);
    return yes;
}

/* Directories of root whose name ends in -delete. */
static int delete_dirs(const char *root)
{
    DIR *d = opendir(root);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len > 7 && strcmp(e->d_name + len - 7, "-delete") == 0;
    }
    closedir(d);
    return n;
}

/* A running manager with the opened callback recorded. */
struct fixture {
    char *dir;
    struct node n;
    struct opened seen;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = tmpdir_make();
    node_start(&f->n, f->dir, "5000");
    rp_manager_set_opened(f->n.m, on_opened, &f->seen);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->n.m)
        node_stop(&f->n);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void test_hosted_then_durable(void **state)
{
    struct fixture *f = *state;
    struct node *n = &f->n;
    struct opened *seen = &f->seen;
    struct rp_partition *p;
    assert_int_equal(rp_partition_open(n->m, "fresh", 0, id_of(1), &n->tc, 0, &p), 0);
    assert_null(p);
    assert_null(rp_partition_get(n->m, proto_str_from("fresh"), 0));
    assert_int_equal(rp_partition_open(n->m, "fresh", 0, id_of(1), &n->tc, 0, &p), 0); /* idempotent */
    node_open(n, "fresh", id_of(1)); /* runs the loop until hosted */
    assert_int_equal(seen->n, 1);
    assert_string_equal(seen->names[0], "fresh");
    p = rp_partition_get(n->m, proto_str_from("fresh"), 0);
    assert_false(rp_partition_opening(n->m, "fresh", 0));
    while (!plog_created_durably(p->log)) /* the sync pass follows the creation */
        uv_run(&n->loop, UV_RUN_ONCE);
    assert_int_equal(logdir_unsynced_count(p->dir), 0);
}

static void test_remove_while_opening(void **state)
{
    struct fixture *f = *state;
    struct node *n = &f->n;
    struct opened *seen = &f->seen;
    struct rp_partition *p;
    assert_int_equal(rp_partition_open(n->m, "gone", 0, id_of(1), &n->tc, 0, &p), 0); /* running */
    rp_partition_remove(n->m, "gone", 0);                                               /* cancelled */
    assert_false(rp_partition_opening(n->m, "gone", 0));
    assert_int_equal(rp_partition_open(n->m, "gone", 0, id_of(2), &n->tc, 0, &p), 0); /* queued behind */
    assert_true(rp_partition_opening(n->m, "gone", 0));
    rp_partition_remove(n->m, "gone", 0); /* dropped from the queue */
    assert_false(rp_partition_opening(n->m, "gone", 0));
    assert_int_equal(rp_partition_open(n->m, "kept", 0, id_of(3), &n->tc, 0, &p), 0);
    node_open(n, "kept", id_of(3)); /* a later batch: the first one is done */
    assert_null(rp_partition_get(n->m, proto_str_from("gone"), 0));
    assert_false(rp_partition_opening(n->m, "gone", 0));
    assert_false(dir_exists(f->dir, "gone-0")); /* created by the worker, then deleted */
    assert_int_equal(seen->n, 1);
    assert_string_equal(seen->names[0], "kept");
}

/* Removed while its creation runs, then opened again (a topic deleted and created again): the second
 * creation waits for the first one's deletion and makes a fresh log with the new topic id. */
static void test_reopen_after_remove(void **state)
{
    struct fixture *f = *state;
    struct node *n = &f->n;
    struct opened *seen = &f->seen;
    struct rp_partition *p;
    assert_int_equal(rp_partition_open(n->m, "again", 0, id_of(1), &n->tc, 0, &p), 0);
    rp_partition_remove(n->m, "again", 0);
    p = node_open(n, "again", id_of(2));
    proto_uuid got;
    assert_true(plog_topic_id(p->log, &got));
    assert_memory_equal(got.b, id_of(2).b, 16);
    assert_int_equal(seen->calls, 1);
}

/* StopReplica without deletion for a partition whose log is being created (running or queued) takes
 * effect once it is hosted: it does not fetch; one turned off and on again does. */
static void test_fetching_stopped_while_opening(void **state)
{
    struct fixture *f = *state;
    struct node *n = &f->n;
    struct rp_partition *p;
    assert_int_equal(rp_partition_open(n->m, "running", 0, id_of(1), &n->tc, 0, &p), 0);
    assert_int_equal(rp_partition_open(n->m, "queued", 0, id_of(2), &n->tc, 0, &p), 0);
    assert_int_equal(rp_partition_open(n->m, "again", 0, id_of(3), &n->tc, 0, &p), 0);
    assert_false(rp_set_fetching(n->m, proto_str_from("running"), 0, false)); /* nothing hosted changed */
    assert_false(rp_set_fetching(n->m, proto_str_from("queued"), 0, false));
    assert_false(rp_set_fetching(n->m, proto_str_from("again"), 0, false));
    assert_false(rp_set_fetching(n->m, proto_str_from("again"), 0, true));
    assert_false(rp_set_fetching(n->m, proto_str_from("unknown"), 0, false));
    const char *names[] = {"running", "queued", "again"};
    for (int i = 0; i < 3; i++) {
        p = node_open(n, names[i], id_of((uint8_t)(i + 1)));
        rp_partition_make_follower(n->m, p, 2, 1);
        assert_int_equal(rp_partition_fetches_from(p, 2), i == 2);
    }
    /* hosted: turned on by name (a LeaderAndIsr) */
    assert_true(rp_set_fetching(n->m, proto_str_from("queued"), 0, true));
    assert_true(rp_partition_fetches_from(rp_partition_get(n->m, proto_str_from("queued"), 0), 2));
    assert_false(rp_set_fetching(n->m, proto_str_from("queued"), 0, true));
}

/* A job that holds the only worker thread (main sets UV_THREADPOOL_SIZE=1) until released. */
struct worker_blocker {
    uv_work_t work;
    uv_sem_t release;
    bool done;
};

static void blocker_run(uv_work_t *w) { uv_sem_wait(&((struct worker_blocker *)w)->release); }

static void blocker_done(uv_work_t *w, int status)
{
    (void)status;
    ((struct worker_blocker *)w)->done = true;
}

/* Removing a hosted partition renames its directory to -delete on the loop (the name is free for a new log
 * at once) and leaves the removal to a worker. */
static void test_removed_log_deleted_off_the_loop(void **state)
{
    struct fixture *f = *state;
    struct node *n = &f->n;
    node_open(n, "old", id_of(1));
    struct worker_blocker blocker = {.done = false};
    assert_int_equal(uv_sem_init(&blocker.release, 0), 0);
    assert_int_equal(uv_queue_work(&n->loop, &blocker.work, blocker_run, blocker_done), 0);
    rp_partition_remove(n->m, "old", 0);
    assert_null(rp_partition_get(n->m, proto_str_from("old"), 0));
    assert_false(dir_exists(f->dir, "old-0"));
    int renamed = delete_dirs(f->dir); /* the worker is released before any assertion can end the test */
    uv_sem_post(&blocker.release);
    for (int i = 0; i < 100000 && !blocker.done; i++)
        uv_run(&n->loop, UV_RUN_ONCE);
    assert_true(blocker.done);
    uv_sem_destroy(&blocker.release);
    assert_int_equal(renamed, 1); /* renamed on the loop; the removal waited for the worker */
    struct rp_partition *p = node_open(n, "old", id_of(2)); /* created again meanwhile: a fresh log */
    proto_uuid got;
    assert_true(plog_topic_id(p->log, &got));
    assert_memory_equal(got.b, id_of(2).b, 16);
    for (int i = 0; i < 100000 && delete_dirs(f->dir) > 0; i++)
        uv_run(&n->loop, UV_RUN_ONCE);
    assert_int_equal(delete_dirs(f->dir), 0);
    assert_true(dir_exists(f->dir, "old-0"));
    /* removed and the manager closed at once: the removal still happens */
    rp_partition_remove(n->m, "old", 0);
    node_stop(n);
    n->m = NULL;
    assert_int_equal(delete_dirs(f->dir), 0);
    assert_false(dir_exists(f->dir, "old-0"));
}

/* Removals anywhere in the queue (its head, middle and tail) drop exactly those creations; the queue
 * stays intact for the others and for creations queued after. */
static void test_remove_across_the_queue(void **state)
{
    struct fixture *f = *state;
    struct node *n = &f->n;
    enum { COUNT = 8 };
    struct rp_partition *p;
    for (int i = 0; i < COUNT; i++) { /* q0 runs, q1..q7 are queued */
        char topic[16];
        snprintf(topic, sizeof topic, "q%d", i);
        assert_int_equal(rp_partition_open(n->m, topic, 0, id_of(1), &n->tc, 0, &p), 0);
    }
    rp_partition_remove(n->m, "q1", 0); /* the queue's head */
    rp_partition_remove(n->m, "q4", 0); /* its middle */
    rp_partition_remove(n->m, "q7", 0); /* its tail */
    assert_int_equal(rp_partition_open(n->m, "q8", 0, id_of(1), &n->tc, 0, &p), 0); /* after the new tail */
    node_open(n, "q8", id_of(1));
    for (int i = 0; i <= COUNT; i++) {
        char topic[16], dir[20];
        snprintf(topic, sizeof topic, "q%d", i);
        snprintf(dir, sizeof dir, "%s-0", topic);
        bool removed = i == 1 || i == 4 || i == 7;
        assert_false(rp_partition_opening(n->m, topic, 0));
        assert_true((rp_partition_get(n->m, proto_str_from(topic), 0) != NULL) == !removed);
        assert_true(dir_exists(f->dir, dir) == !removed);
    }
    assert_true(f->seen.calls >= 1);
}

/* Closing with creations queued and running: the running batch's logs are closed with their directory
 * (found at the next start), the queued ones are never created. */
static void test_close_while_opening(void **state)
{
    struct fixture *f = *state;
    enum { MANY = 300 }; /* more than one batch */
    for (int i = 0; i < MANY; i++) {
        char topic[32];
        snprintf(topic, sizeof topic, "t%d", i);
        struct rp_partition *p;
        assert_int_equal(rp_partition_open(f->n.m, topic, 0, id_of(1), &f->n.tc, 0, &p), 0);
    }
    node_stop(&f->n);
    f->n.m = NULL;
    struct logdir *d;
    assert_int_equal(logdir_open(f->dir, &d), 0);
    struct plog_config cfg;
    plog_config_default(&cfg);
    int loaded = logdir_load_logs(d, &cfg, T_NOW);
    assert_true(loaded > 0 && loaded < MANY);
    assert_true(logdir_had_clean_shutdown(d));
    assert_int_equal(logdir_close(d, 1), 0);
}

int main(void)
{
    setenv("UV_THREADPOOL_SIZE", "1", 1); /* before the first job: test_removed_log_deleted_off_the_loop */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hosted_then_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_while_opening, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_across_the_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetching_stopped_while_opening, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_log_deleted_off_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_while_opening, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
