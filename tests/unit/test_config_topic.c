/* topic_config: defaults from the broker's synonyms, set / unset / validate, rendering in Kafka's string
 * forms, and the DescribeConfigs enumeration (sources, synonyms, types). */
#include "test_config_util.h"

#include <stdint.h>

#include "broker/config/topic_config.h"

static const char *get(const struct topic_config *tc, const char *key)
{
    static char buf[128];
    if (topic_config_get(tc, key, buf, sizeof buf) != 0)
        fail_msg("topic_config_get(%s) failed", key);
    return buf;
}

static void kafka_defaults_without_broker(void **state)
{
    (void)state;
    struct topic_config tc;
    topic_config_init(&tc, NULL);
    static const char *const expect[][2] = {
        {"cleanup.policy", "delete"},
        {"compression.type", "producer"},
        {"delete.retention.ms", "86400000"},
        {"file.delete.delay.ms", "60000"},
        {"flush.messages", "9223372036854775807"},
        {"flush.ms", "9223372036854775807"},
        {"index.interval.bytes", "4096"},
        {"max.compaction.lag.ms", "9223372036854775807"},
        {"max.message.bytes", "1048588"},
        {"message.downconversion.enable", "true"},
        {"message.timestamp.type", "CreateTime"},
        {"message.timestamp.difference.max.ms", "9223372036854775807"},
        {"min.cleanable.dirty.ratio", "0.5"},
        {"min.compaction.lag.ms", "0"},
        {"min.insync.replicas", "1"},
        {"preallocate", "false"},
        {"retention.bytes", "-1"},
        {"retention.ms", "604800000"},
        {"segment.bytes", "1073741824"},
        {"segment.index.bytes", "10485760"},
        {"segment.jitter.ms", "0"},
        {"segment.ms", "604800000"},
        {"unclean.leader.election.enable", "false"},
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        if (strcmp(get(&tc, expect[i][0]), expect[i][1]) != 0)
            fail_msg("%s = %s, wanted %s", expect[i][0], get(&tc, expect[i][0]), expect[i][1]);
    }
    assert_int_equal(tc.overrides, 0);
    assert_int_equal(tc.cleanup_policy, CONFIG_CLEANUP_DELETE);
    assert_int_equal(tc.retention_ms, 604800000);
}

static void defaults_follow_broker_synonyms(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, NULL, "log.retention.minutes=30", "log.roll.hours=2", "message.max.bytes=2000",
            "log.cleanup.policy=compact,delete", "compression.type=zstd", "log.flush.scheduler.interval.ms=5000",
            "min.insync.replicas=2", "log.message.timestamp.type=LogAppendTime");
    struct topic_config tc;
    topic_config_init(&tc, &c);
    assert_string_equal(get(&tc, "retention.ms"), "1800000");
    assert_string_equal(get(&tc, "segment.ms"), "7200000");
    assert_string_equal(get(&tc, "max.message.bytes"), "2000");
    assert_string_equal(get(&tc, "cleanup.policy"), "compact,delete");
    assert_string_equal(get(&tc, "compression.type"), "zstd");
    assert_string_equal(get(&tc, "flush.ms"), "5000");
    assert_string_equal(get(&tc, "min.insync.replicas"), "2");
    assert_string_equal(get(&tc, "message.timestamp.type"), "LogAppendTime");
    assert_int_equal(tc.compression_type, CONFIG_COMPRESSION_ZSTD);
    assert_int_equal(tc.cleanup_policy, CONFIG_CLEANUP_COMPACT | CONFIG_CLEANUP_DELETE);
    config_free(&c);
}

static void set_and_unset(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, NULL, "log.retention.hours=1");
    struct topic_config tc;
    topic_config_init(&tc, &c);
    char err[256];
    assert_int_equal(topic_config_set(&tc, "retention.ms", "-1", err, sizeof err), 0);
    assert_int_equal(tc.retention_ms, -1);
    assert_true(topic_config_is_override(&tc, "retention.ms"));
    assert_int_equal(topic_config_set(&tc, "cleanup.policy", "delete, compact", err, sizeof err), 0);
    assert_string_equal(get(&tc, "cleanup.policy"), "compact,delete");
    assert_int_equal(topic_config_set(&tc, "cleanup.policy", "compact", err, sizeof err), 0);
    assert_int_equal(tc.cleanup_policy, CONFIG_CLEANUP_COMPACT);
    assert_int_equal(topic_config_set(&tc, "min.cleanable.dirty.ratio", "0.01", err, sizeof err), 0);
    assert_string_equal(get(&tc, "min.cleanable.dirty.ratio"), "0.01");
    assert_int_equal(topic_config_set(&tc, "min.cleanable.dirty.ratio", "1", err, sizeof err), 0);
    assert_string_equal(get(&tc, "min.cleanable.dirty.ratio"), "1.0");
    assert_int_equal(topic_config_set(&tc, "min.cleanable.dirty.ratio", "0.0001", err, sizeof err), 0);
    assert_string_equal(get(&tc, "min.cleanable.dirty.ratio"), "1.0E-4");
    assert_int_equal(topic_config_set(&tc, "preallocate", "TRUE", err, sizeof err), 0);
    assert_string_equal(get(&tc, "preallocate"), "true");
    assert_int_equal(topic_config_set(&tc, "message.timestamp.type", "LogAppendTime", err, sizeof err), 0);
    assert_int_equal(tc.message_timestamp_type, CONFIG_TIMESTAMP_LOG_APPEND_TIME);
    assert_int_equal(topic_config_set(&tc, "segment.bytes", "14", err, sizeof err), 0);
    assert_int_equal(tc.segment_bytes, 14);

    assert_int_equal(topic_config_unset(&tc, "retention.ms"), 0);
    assert_int_equal(tc.retention_ms, 3600000);
    assert_false(topic_config_is_override(&tc, "retention.ms"));
    assert_true(topic_config_is_override(&tc, "cleanup.policy"));
    assert_int_equal(topic_config_unset(&tc, "cleanup.policy"), 0);
    assert_int_equal(tc.cleanup_policy, CONFIG_CLEANUP_DELETE);
    assert_int_equal(topic_config_unset(&tc, "no.such"), FERRY_ENOTFOUND);
    config_free(&c);
}

static void set_errors(void **state)
{
    (void)state;
    struct topic_config tc, before;
    topic_config_init(&tc, NULL);
    before = tc;
    char err[256];
    static const struct {
        const char *key, *value, *why;
    } rows[] = {
        {"retention.ms", "abc", "not an integer"},
        {"retention.ms", "-2", "at least -1"},
        {"segment.bytes", "13", "at least 14"},
        {"segment.ms", "0", "at least 1"},
        {"max.message.bytes", "4294967296", "out of range for a 32-bit integer"},
        {"cleanup.policy", "compact,remove", "unknown cleanup policy 'remove'"},
        {"cleanup.policy", "", "empty cleanup policy"},
        {"compression.type", "brotli", "must be one of"},
        {"message.timestamp.type", "NoTime", "CreateTime, LogAppendTime"},
        {"min.cleanable.dirty.ratio", "2", "between 0 and 1"},
        {"min.cleanable.dirty.ratio", "x", "not a number"},
        {"unclean.leader.election.enable", "1", "not a boolean"},
        {"min.insync.replicas", "0", "at least 1"},
        {"flush.messages", "0", "at least 1"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        err[0] = '\0';
        int rc = topic_config_set(&tc, rows[i].key, rows[i].value, err, sizeof err);
        if (rc != FERRY_EINVAL)
            fail_msg("%s=%s: rc %d", rows[i].key, rows[i].value, rc);
        char want[200];
        snprintf(want, sizeof want, "invalid value '%s' for key '%s': ", rows[i].value, rows[i].key);
        if (!strstr(err, want) || !strstr(err, rows[i].why))
            fail_msg("message '%s' lacks '%s' or '%s'", err, want, rows[i].why);
        assert_memory_equal(&tc, &before, sizeof tc); /* unchanged */
    }
    assert_int_equal(topic_config_set(&tc, "message.format.version", "3.0", err, sizeof err), FERRY_ENOTFOUND);
    assert_non_null(strstr(err, "message.format.version"));
    assert_int_equal(topic_config_set(&tc, "retention.ms", NULL, err, sizeof err), FERRY_EINVAL);
}

static void cross_key_validation(void **state)
{
    (void)state;
    struct topic_config tc;
    topic_config_init(&tc, NULL);
    char err[256];
    assert_int_equal(topic_config_set(&tc, "min.compaction.lag.ms", "5000", err, sizeof err), 0);
    assert_int_equal(topic_config_validate(&tc, err, sizeof err), 0);
    assert_int_equal(topic_config_set(&tc, "max.compaction.lag.ms", "1000", err, sizeof err), 0);
    assert_int_equal(topic_config_validate(&tc, err, sizeof err), FERRY_EINVAL);
    assert_non_null(strstr(err, "invalid value '5000' for key 'min.compaction.lag.ms'"));
    assert_non_null(strstr(err, "max.compaction.lag.ms (1000)"));
}

static void get_errors(void **state)
{
    (void)state;
    struct topic_config tc;
    topic_config_init(&tc, NULL);
    char small[4];
    assert_int_equal(topic_config_get(&tc, "retention.ms", small, sizeof small), FERRY_ERANGE);
    assert_int_equal(topic_config_get(&tc, "nope", small, sizeof small), FERRY_ENOTFOUND);
}

static void timestamp_bounds(void **state)
{
    (void)state;
    struct topic_config tc;
    topic_config_init(&tc, NULL);
    assert_true(topic_config_timestamp_before_max_ms(&tc) == INT64_MAX);
    char err[128];
    assert_int_equal(topic_config_set(&tc, "message.timestamp.difference.max.ms", "1000", err, sizeof err), 0);
    assert_int_equal(topic_config_timestamp_before_max_ms(&tc), 1000);
    assert_int_equal(topic_config_timestamp_after_max_ms(&tc), 1000);
    assert_int_equal(topic_config_set(&tc, "message.timestamp.after.max.ms", "50", err, sizeof err), 0);
    assert_int_equal(topic_config_timestamp_after_max_ms(&tc), 50);
    assert_int_equal(topic_config_timestamp_before_max_ms(&tc), 1000);
}

static void enumeration(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, "process.roles: broker,controller\nnode.id: 1\n"
                "listeners: PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093\n"
                "controller.listener.names: CONTROLLER\ncontroller.quorum.voters: 1@127.0.0.1:19093\n"
                "log.retention.minutes: 10\nmessage.max.bytes: 5000\n");
    struct topic_config tc;
    topic_config_init(&tc, &c);
    char err[128];
    assert_int_equal(topic_config_set(&tc, "segment.bytes", "1048576", err, sizeof err), 0);

    size_t n = topic_config_count();
    assert_true(n >= 23);
    assert_null(topic_config_key_at(n));
    assert_int_equal(topic_config_index("segment.bytes") >= 0, 1);
    assert_int_equal(topic_config_index("bogus"), -1);
    bool seen_retention = false, seen_segment = false, seen_max = false, seen_ratio = false;
    for (size_t i = 0; i < n; i++) {
        struct topic_config_entry e;
        char buf[64];
        assert_int_equal(topic_config_describe_at(&tc, i, &e, buf, sizeof buf), 0);
        assert_string_equal(e.name, topic_config_key_at(i));
        assert_non_null(e.synonym);
        assert_non_null(e.doc);
        if (strcmp(e.name, "retention.ms") == 0) {
            seen_retention = true;
            assert_string_equal(e.value, "600000");
            assert_int_equal(e.source, CONFIG_SOURCE_STATIC_BROKER);
            assert_string_equal(e.synonym, "log.retention.minutes");
            assert_int_equal(e.type, CONFIG_TYPE_LONG);
        } else if (strcmp(e.name, "segment.bytes") == 0) {
            seen_segment = true;
            assert_string_equal(e.value, "1048576");
            assert_int_equal(e.source, CONFIG_SOURCE_DYNAMIC_TOPIC);
            assert_string_equal(e.synonym, "log.segment.bytes");
            assert_int_equal(e.type, CONFIG_TYPE_INT);
        } else if (strcmp(e.name, "max.message.bytes") == 0) {
            seen_max = true;
            assert_string_equal(e.value, "5000");
            assert_int_equal(e.source, CONFIG_SOURCE_STATIC_BROKER);
            assert_string_equal(e.synonym, "message.max.bytes");
        } else if (strcmp(e.name, "min.cleanable.dirty.ratio") == 0) {
            seen_ratio = true;
            assert_int_equal(e.source, CONFIG_SOURCE_DEFAULT);
            assert_string_equal(e.synonym, "log.cleaner.min.cleanable.ratio");
            assert_int_equal(e.type, CONFIG_TYPE_DOUBLE);
        } else if (strcmp(e.name, "cleanup.policy") == 0) {
            assert_int_equal(e.type, CONFIG_TYPE_LIST);
        } else if (strcmp(e.name, "preallocate") == 0) {
            assert_int_equal(e.type, CONFIG_TYPE_BOOLEAN);
        } else if (strcmp(e.name, "compression.type") == 0) {
            assert_int_equal(e.type, CONFIG_TYPE_STRING);
        }
    }
    assert_true(seen_retention && seen_segment && seen_max && seen_ratio);
    struct topic_config_entry e;
    char buf[4];
    assert_int_equal(topic_config_describe_at(&tc, n, &e, buf, sizeof buf), FERRY_ERANGE);
    assert_int_equal(topic_config_describe_at(&tc, 0, &e, buf, 2), FERRY_ERANGE);
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kafka_defaults_without_broker),
        cmocka_unit_test(defaults_follow_broker_synonyms),
        cmocka_unit_test(set_and_unset),
        cmocka_unit_test(set_errors),
        cmocka_unit_test(cross_key_validation),
        cmocka_unit_test(get_errors),
        cmocka_unit_test(timestamp_bounds),
        cmocka_unit_test(enumeration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
