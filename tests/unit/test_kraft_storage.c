/* Unit tests for `ferry storage` and the start-up storage check: formatting, refusals, id mismatches,
 * directory ids, and the command line's exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/cli/cli.h"
#include "broker/common/ferry_err.h"
#include "broker/config/config.h"
#include "broker/log/logdir.h"
#include "kraftmode/storage.h"

static char tmp[512];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("FERRY_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(tmp, sizeof tmp, "%s/kraft-storage-XXXXXX", base);
    assert_non_null(mkdtemp(tmp));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/* The built-in single node with its directories under tmp: log.dirs = a,b and metadata.log.dir = m. */
static void load(struct ferry_config *cfg, int node_id, bool separate_meta)
{
    char dirs[1200], meta[700], node[64], voters[128];
    snprintf(dirs, sizeof dirs, "log.dirs=%s/a,%s/b", tmp, tmp);
    snprintf(meta, sizeof meta, "metadata.log.dir=%s/m", tmp);
    snprintf(node, sizeof node, "node.id=%d", node_id);
    snprintf(voters, sizeof voters, "controller.quorum.voters=%d@127.0.0.1:9093", node_id);
    const char *o[] = {dirs, node, voters, meta};
    char err[512];
    if (config_load(cfg, NULL, o, separate_meta ? 4 : 3, err, sizeof err) != 0)
        fail_msg("config: %s", err);
}

static void path(char *out, size_t len, const char *rel) { snprintf(out, len, "%s/%s", tmp, rel); }

static void test_random_uuid(void **state)
{
    (void)state;
    char a[23], b[23];
    assert_int_equal(storage_random_uuid(a), 0);
    assert_int_equal(storage_random_uuid(b), 0);
    assert_int_equal(strlen(a), 22);
    assert_string_not_equal(a, b);
    proto_uuid u;
    assert_int_equal(proto_uuid_from_base64(a, &u), 0);
    assert_string_equal(storage_metadata_version_name(19), "3.7-IV4");
    assert_string_equal(storage_metadata_version_name(1), "3.0-IV1");
    assert_string_equal(storage_metadata_version_name(99), "unknown");
}

static void test_format(void **state)
{
    (void)state;
    struct ferry_config cfg;
    load(&cfg, 1, true);
    char err[1024], id[23], p[700];
    storage_random_uuid(id);

    struct storage_format_opts o = {.cluster_id = "not-a-uuid"};
    assert_int_equal(storage_format(&cfg, &o, err, sizeof err), FERRY_EINVAL);
    assert_non_null(strstr(err, "Cluster ID string not-a-uuid does not appear to be a valid UUID"));

    char out[4096] = "";
    FILE *fp = fmemopen(out, sizeof out, "w");
    o = (struct storage_format_opts){.cluster_id = id, .out = fp};
    assert_int_equal(storage_format(&cfg, &o, err, sizeof err), 0);
    fclose(fp);
    path(p, sizeof p, "a");
    assert_non_null(strstr(out, p));
    assert_non_null(strstr(out, "with metadata.version 3.7-IV4."));
    struct logdir_meta ma, mb, mm;
    path(p, sizeof p, "a");
    assert_int_equal(logdir_meta_read(p, &ma), 0);
    path(p, sizeof p, "b");
    assert_int_equal(logdir_meta_read(p, &mb), 0);
    path(p, sizeof p, "m");
    assert_int_equal(logdir_meta_read(p, &mm), 0);
    assert_int_equal(ma.version, 1);
    assert_int_equal(ma.node_id, 1);
    assert_string_equal(ma.cluster_id, id);
    assert_string_equal(mm.cluster_id, id);
    assert_true(ma.has_directory_id && mb.has_directory_id && mm.has_directory_id);
    assert_memory_not_equal(&ma.directory_id, &mb.directory_id, 16);
    path(p, sizeof p, "m/bootstrap.checkpoint");
    assert_int_equal(access(p, R_OK), 0);
    path(p, sizeof p, "a/bootstrap.checkpoint");
    assert_int_equal(access(p, R_OK), 0);

    /* Again: refused, unless told to ignore formatted directories. */
    o.out = NULL;
    assert_int_equal(storage_format(&cfg, &o, err, sizeof err), FERRY_EINVAL);
    path(p, sizeof p, "a");
    char want[900];
    snprintf(want, sizeof want, "Log directory %s is already formatted. Use --ignore-formatted to ignore this "
                                "directory and format the others.", p);
    assert_string_equal(err, want);
    fp = fmemopen(out, sizeof out, "w");
    o.ignore_formatted = true;
    o.out = fp;
    assert_int_equal(storage_format(&cfg, &o, err, sizeof err), 0);
    fclose(fp);
    assert_string_equal(out, "All of the log directories are already formatted.\n");
    /* Another cluster id cannot join formatted directories. */
    char other[23];
    storage_random_uuid(other);
    o.cluster_id = other;
    o.out = NULL;
    assert_int_equal(storage_format(&cfg, &o, err, sizeof err), FERRY_EINVAL);
    assert_non_null(strstr(err, "Invalid cluster.id in: "));
    config_free(&cfg);

    /* A new directory is formatted alongside the others with --ignore-formatted. */
    char dirs[1700], meta[700];
    snprintf(dirs, sizeof dirs, "log.dirs=%s/a,%s/b,%s/c", tmp, tmp, tmp);
    snprintf(meta, sizeof meta, "metadata.log.dir=%s/m", tmp);
    const char *ov[] = {dirs, meta};
    assert_int_equal(config_load(&cfg, NULL, ov, 2, err, sizeof err), 0);
    o = (struct storage_format_opts){.cluster_id = id, .ignore_formatted = true};
    assert_int_equal(storage_format(&cfg, &o, err, sizeof err), 0);
    path(p, sizeof p, "c");
    assert_int_equal(logdir_meta_read(p, &ma), 0);
    config_free(&cfg);
}

static void test_ensure(void **state)
{
    (void)state;
    struct ferry_config cfg;
    load(&cfg, 1, false);
    char err[1024], id[23], p[700];
    assert_int_equal(kraft_storage_ensure(&cfg, false, id, err, sizeof err), FERRY_EINVAL);
    path(p, sizeof p, "a");
    assert_non_null(strstr(err, p));
    assert_non_null(strstr(err, "ferry storage format"));
    assert_int_equal(kraft_storage_ensure(&cfg, true, id, err, sizeof err), 0);
    assert_int_equal(strlen(id), 22);
    char again[23];
    assert_int_equal(kraft_storage_ensure(&cfg, false, again, err, sizeof err), 0);
    assert_string_equal(id, again);

    /* A directory without directory.id gets one. */
    struct logdir_meta m;
    path(p, sizeof p, "b");
    assert_int_equal(logdir_meta_read(p, &m), 0);
    m.has_directory_id = false;
    assert_int_equal(logdir_meta_write(p, &m), 0);
    assert_int_equal(kraft_storage_ensure(&cfg, false, again, err, sizeof err), 0);
    assert_int_equal(logdir_meta_read(p, &m), 0);
    assert_true(m.has_directory_id);

    /* Another cluster in one directory. */
    struct logdir_meta saved = m;
    snprintf(m.cluster_id, sizeof m.cluster_id, "AAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(logdir_meta_write(p, &m), 0);
    assert_int_equal(kraft_storage_ensure(&cfg, true, again, err, sizeof err), FERRY_EINVAL);
    assert_non_null(strstr(err, "Invalid cluster.id in: "));
    assert_int_equal(logdir_meta_write(p, &saved), 0);

    /* The same directory id twice. */
    struct logdir_meta ma;
    path(p, sizeof p, "a");
    assert_int_equal(logdir_meta_read(p, &ma), 0);
    ma.directory_id = saved.directory_id;
    assert_int_equal(logdir_meta_write(p, &ma), 0);
    assert_int_equal(kraft_storage_ensure(&cfg, false, again, err, sizeof err), FERRY_EINVAL);
    assert_non_null(strstr(err, "Duplicate directory ID"));
    ma.has_directory_id = false;
    assert_int_equal(logdir_meta_write(p, &ma), 0);

    /* The metadata partition in a data directory that is not the metadata one. */
    path(p, sizeof p, "b/__cluster_metadata-0");
    mkdir(p, 0755);
    assert_int_equal(kraft_storage_ensure(&cfg, false, again, err, sizeof err), FERRY_EINVAL);
    assert_non_null(strstr(err, "Found unexpected metadata location in data directory"));
    rmdir(p);
    assert_int_equal(kraft_storage_ensure(&cfg, false, again, err, sizeof err), 0);
    config_free(&cfg);

    /* Another node id. */
    load(&cfg, 2, false);
    assert_int_equal(kraft_storage_ensure(&cfg, true, again, err, sizeof err), FERRY_EINVAL);
    assert_non_null(strstr(err, "Stored node id 1 doesn't match previous node id 2"));
    config_free(&cfg);
}

static int cli(const char *a0, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
    char *argv[6] = {(char *)a0, (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5};
    int argc = 0;
    while (argc < 6 && argv[argc])
        argc++;
    return cli_storage_main(argc, argv);
}

static void test_cli(void **state)
{
    (void)state;
    char cfgpath[700], legacy[700], id[23];
    path(cfgpath, sizeof cfgpath, "node.yaml");
    FILE *fp = fopen(cfgpath, "w");
    fprintf(fp, "process.roles: broker,controller\nnode.id: 1\nlisteners: PLAINTEXT://127.0.0.1:9092,"
                "CONTROLLER://127.0.0.1:9093\ncontroller.listener.names: CONTROLLER\n"
                "controller.quorum.voters: 1@127.0.0.1:9093\nlog.dirs: %s/data\n",
            tmp);
    fclose(fp);
    path(legacy, sizeof legacy, "legacy.yaml");
    fp = fopen(legacy, "w");
    fprintf(fp, "broker.id: 1\nzookeeper.connect: 127.0.0.1:2181\nlisteners: PLAINTEXT://127.0.0.1:9092\n"
                "log.dirs: %s/zk\n",
            tmp);
    fclose(fp);
    storage_random_uuid(id);

    assert_int_equal(cli(NULL, NULL, NULL, NULL, NULL, NULL), 2);
    assert_int_equal(cli("--help", NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(cli("bogus", NULL, NULL, NULL, NULL, NULL), 2);
    assert_int_equal(cli("random-uuid", NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(cli("random-uuid", "x", NULL, NULL, NULL, NULL), 2);
    assert_int_equal(cli("format", "--help", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(cli("format", "--cluster-id", id, NULL, NULL, NULL), 2);
    assert_int_equal(cli("format", "--config", cfgpath, NULL, NULL, NULL), 2);
    assert_int_equal(cli("format", "--config", cfgpath, "--cluster-id", NULL, NULL), 2);
    assert_int_equal(cli("format", "--config", cfgpath, "-t", id, "--bogus"), 2);
    assert_int_equal(cli("format", "--config", "/nonexistent/x.yaml", "-t", id, NULL), 1);
    assert_int_equal(cli("format", "-c", cfgpath, "-t", "short", NULL), 1);
    assert_int_equal(cli("format", "-c", legacy, "-t", id, NULL), 1);
    assert_int_equal(cli("format", "-c", cfgpath, "-t", id, NULL), 0);
    assert_int_equal(cli("format", "-c", cfgpath, "-t", id, NULL), 1);
    assert_int_equal(cli("format", "-c", cfgpath, "-t", id, "--ignore-formatted"), 0);
    assert_int_equal(cli("format", "-c", cfgpath, "--cluster-id", id, "-g"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_uuid),
        cmocka_unit_test_setup_teardown(test_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ensure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
