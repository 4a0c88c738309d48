/* config: every start-up error names the key and the value (or the file and line); missing files,
 * malformed YAML, bad overrides. */
#include "test_config_util.h"

#define QUORUM_YAML                                                                                                    \
    "process.roles: broker,controller\n"                                                                               \
    "node.id: 1\n"                                                                                                     \
    "listeners: PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093\n"                                            \
    "controller.listener.names: CONTROLLER\n"                                                                          \
    "controller.quorum.voters: 1@127.0.0.1:19093\n"

static void exact_message(void **state)
{
    (void)state;
    struct ferry_config c;
    int rc = tcu_load(&c, NULL, "num.partitions=abc", NULL);
    assert_int_equal(rc, FERRY_EINVAL);
    assert_string_equal(tcu_err, "invalid value 'abc' for key 'num.partitions': not an integer");
}

/* One bad value per row: the message must carry the key, the value as given and the reason. */
static void bad_values_name_key_and_value(void **state)
{
    (void)state;
    static const struct {
        const char *set, *key, *value, *why;
    } rows[] = {
        {"num.partitions=0", "num.partitions", "0", "must be at least 1"},
        {"num.partitions=1.5", "num.partitions", "1.5", "not an integer"},
        {"node.id=99999999999", "node.id", "99999999999", "out of range for a 32-bit integer"},
        {"offsets.topic.replication.factor=40000", "offsets.topic.replication.factor", "40000", "16-bit"},
        {"log.retention.bytes=12x", "log.retention.bytes", "12x", "not an integer"},
        {"auto.create.topics.enable=yes", "auto.create.topics.enable", "yes", "not a boolean"},
        {"log.cleaner.min.cleanable.ratio=1.5", "log.cleaner.min.cleanable.ratio", "1.5", "between 0 and 1"},
        {"log.cleaner.min.cleanable.ratio=half", "log.cleaner.min.cleanable.ratio", "half", "not a number"},
        {"compression.type=brotli", "compression.type", "brotli", "must be one of: producer, uncompressed"},
        {"log.message.timestamp.type=createtime", "log.message.timestamp.type", "createtime", "CreateTime"},
        {"log.cleanup.policy=compact,remove", "log.cleanup.policy", "compact,remove", "'remove'"},
        {"process.roles=broker,zookeeper", "process.roles", "broker,zookeeper", "unknown element 'zookeeper'"},
        {"process.roles=broker,broker", "process.roles", "broker,broker", "duplicate role 'broker'"},
        {"security.inter.broker.protocol=TLS", "security.inter.broker.protocol", "TLS", "PLAINTEXT"},
        {"metadata.log.segment.bytes=1048576", "metadata.log.segment.bytes", "1048576", "8388608"},
        {"log.segment.bytes=13", "log.segment.bytes", "13", "at least 14"},
        {"log.roll.ms=0", "log.roll.ms", "0", "at least 1"},
        {"log.retention.ms=0", "log.retention.ms", "0", "unlimited (-1)"},
        {"log.retention.minutes=0", "log.retention.minutes", "0", "unlimited (-1)"},
        {"log.retention.hours=0", "log.retention.hours", "0", "unlimited (-1)"},
        {"log.roll.jitter.ms=-1", "log.roll.jitter.ms", "-1", "at least 0"},
        {"log.dirs= , ", "log.dirs", ",", "at least one log directory"},
        {"replica.fetch.wait.max.ms=40000", "replica.fetch.wait.max.ms", "40000", "replica.socket.timeout.ms"},
        {"zookeeper.max.in.flight.requests=0", "zookeeper.max.in.flight.requests", "0", "at least 1"},
        {"group.max.size=0", "group.max.size", "0", "at least 1"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char want[256];
        snprintf(want, sizeof want, "invalid value '%s' for key '%s': ", rows[i].value, rows[i].key);
        LOAD_FAILS(FERRY_EINVAL, NULL, SETS(rows[i].set), want, rows[i].why);
    }
}

static void values_from_the_file_too(void **state)
{
    (void)state;
    LOAD_FAILS(FERRY_EINVAL, QUORUM_YAML "num.partitions: abc\n", NULL,
               "invalid value 'abc' for key 'num.partitions': not an integer");
    LOAD_FAILS(FERRY_EPARSE, QUORUM_YAML "process.roles: [broker, gateway]\n", NULL, "duplicate key 'process.roles'");
    LOAD_FAILS(FERRY_EINVAL, "process.roles: [broker, gateway]\n", NULL,
               "invalid value 'broker,gateway' for key 'process.roles'", "'gateway'");
}

static void missing_file(void **state)
{
    (void)state;
    struct ferry_config c;
    char err[512];
    const char *path = "/nonexistent/dir/ferry.yaml";
    int rc = config_load(&c, path, NULL, 0, err, sizeof err);
    assert_int_equal(rc, FERRY_ENOTFOUND);
    assert_non_null(strstr(err, path));
}

static void malformed_yaml_names_file_and_line(void **state)
{
    (void)state;
    struct ferry_config c;
    const char *path =
        tcu_write("process.roles: broker\nnode.id: 1\nlisteners: [PLAINTEXT://:9092\nnum.partitions: 2\n");
    int rc = config_load(&c, path, NULL, 0, tcu_err, sizeof tcu_err);
    assert_int_equal(rc, FERRY_EPARSE);
    char want[700];
    snprintf(want, sizeof want, "%s:", path);
    assert_non_null(strstr(tcu_err, want));
    assert_non_null(strstr(tcu_err, "malformed YAML"));
    /* libyaml notices the unclosed flow sequence on line 4 */
    assert_non_null(strstr(tcu_err, ":4:"));

    path = tcu_write("node.id: 1\n  bad indentation: here\n");
    rc = config_load(&c, path, NULL, 0, tcu_err, sizeof tcu_err);
    assert_int_equal(rc, FERRY_EPARSE);
    assert_non_null(strstr(tcu_err, ":2:"));
}

static void yaml_shape_errors(void **state)
{
    (void)state;
    LOAD_FAILS(FERRY_EPARSE, "- process.roles\n- broker\n", NULL, ":1: malformed YAML", "mapping");
    LOAD_FAILS(FERRY_EPARSE, "node.id: 1\nlisteners:\n  PLAINTEXT: 9092\n", NULL, ":3: malformed YAML",
               "value of 'listeners'");
    LOAD_FAILS(FERRY_EPARSE, "node.id: 1\nlog.dirs: [[/a], /b]\n", NULL, ":2: malformed YAML", "'log.dirs'");
    LOAD_FAILS(FERRY_EPARSE, "node.id: 1\nnum.partitions: 1\nnode.id: 2\n", NULL,
               ":3:", "duplicate key 'node.id' (first at line 1)");
}

static void one_document_one_file(void **state)
{
    (void)state;
    LOAD_FAILS(FERRY_EPARSE, "node.id: 1\n---\nnode.id: 2\n", NULL, ":3: malformed YAML", "second");
    struct ferry_config c;
    int rc = config_load(&c, tcu_tmpdir(), NULL, 0, tcu_err, sizeof tcu_err);
    assert_int_equal(rc, FERRY_EIO);
    assert_non_null(strstr(tcu_err, tcu_tmpdir()));
    assert_non_null(strstr(tcu_err, "directory"));
}

static void bad_override(void **state)
{
    (void)state;
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("num.partitions"), "invalid override 'num.partitions': expected KEY=VALUE");
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("=3"), "invalid override '=3'");
}

static void failure_leaves_config_zeroed(void **state)
{
    (void)state;
    struct ferry_config c, zero;
    memset(&zero, 0, sizeof zero);
    assert_int_equal(tcu_load(&c, NULL, "listeners=PLAINTEXT://127.0.0.1:70000", NULL), FERRY_EINVAL);
    assert_memory_equal(&c, &zero, sizeof c);
    config_free(&c); /* harmless on a zeroed config */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_message),
        cmocka_unit_test(bad_values_name_key_and_value),
        cmocka_unit_test(values_from_the_file_too),
        cmocka_unit_test(missing_file),
        cmocka_unit_test(malformed_yaml_names_file_and_line),
        cmocka_unit_test(yaml_shape_errors),
        cmocka_unit_test(one_document_one_file),
        cmocka_unit_test(bad_override),
        cmocka_unit_test(failure_leaves_config_zeroed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
