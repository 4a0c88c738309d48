/* config: the broker's DescribeConfigs enumeration (values in Kafka's string form, sources, types), and
 * the files that must agree with the key tables: docs/configuration.md and examples/. */
#include "test_config_util.h"

#include <dirent.h>

#include "broker/config/topic_config.h"

static void broker_enumeration(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c,
            "process.roles: [broker, controller]\nnode.id: 1\n"
            "listeners: PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093\n"
            "controller.listener.names: CONTROLLER\ncontroller.quorum.voters: 1@127.0.0.1:19093\n"
            "num.partitions: ' 5 '\nauto.create.topics.enable: FALSE\nlog.cleanup.policy: [delete, compact]\n"
            "log.cleaner.min.cleanable.ratio: 0.50\n",
            "log.retention.minutes=30");
    size_t n = config_key_count();
    assert_true(n >= 100);
    for (size_t i = 0; i < n; i++) {
        struct config_entry e;
        assert_int_equal(config_describe_at(&c, i, &e), 0);
        assert_non_null(e.name);
        assert_non_null(e.doc);
        assert_true(e.read_only);
        assert_false(e.sensitive);
        assert_true(e.type >= CONFIG_TYPE_BOOLEAN && e.type <= CONFIG_TYPE_PASSWORD);
        assert_true(e.source == CONFIG_SOURCE_STATIC_BROKER || e.source == CONFIG_SOURCE_DEFAULT);
        assert_int_equal(e.source == CONFIG_SOURCE_STATIC_BROKER, config_is_set(&c, e.name));
        for (size_t j = 0; j < i; j++) {
            struct config_entry o;
            config_describe_at(&c, j, &o);
            if (strcmp(o.name, e.name) == 0)
                fail_msg("key %s listed twice", e.name);
        }
    }
    struct config_entry e;
    assert_int_equal(config_describe_at(&c, n, &e), FERRY_ERANGE);
    assert_int_equal(config_describe(&c, "no.such.key", &e), FERRY_ENOTFOUND);

    static const struct {
        const char *key, *value;
        enum config_source source;
        enum config_type type;
    } rows[] = {
        {"process.roles", "broker,controller", CONFIG_SOURCE_STATIC_BROKER, CONFIG_TYPE_LIST},
        {"num.partitions", "5", CONFIG_SOURCE_STATIC_BROKER, CONFIG_TYPE_INT},
        {"auto.create.topics.enable", "false", CONFIG_SOURCE_STATIC_BROKER, CONFIG_TYPE_BOOLEAN},
        {"log.cleanup.policy", "compact,delete", CONFIG_SOURCE_STATIC_BROKER, CONFIG_TYPE_LIST},
        {"log.cleaner.min.cleanable.ratio", "0.5", CONFIG_SOURCE_STATIC_BROKER, CONFIG_TYPE_DOUBLE},
        {"log.retention.minutes", "30", CONFIG_SOURCE_STATIC_BROKER, CONFIG_TYPE_INT},
        {"log.retention.hours", "168", CONFIG_SOURCE_DEFAULT, CONFIG_TYPE_INT},
        {"message.max.bytes", "1048588", CONFIG_SOURCE_DEFAULT, CONFIG_TYPE_INT},
        {"offsets.topic.replication.factor", "3", CONFIG_SOURCE_DEFAULT, CONFIG_TYPE_SHORT},
        {"log.flush.interval.messages", "9223372036854775807", CONFIG_SOURCE_DEFAULT, CONFIG_TYPE_LONG},
        {"compression.type", "producer", CONFIG_SOURCE_DEFAULT, CONFIG_TYPE_STRING},
        {"listeners", "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093", CONFIG_SOURCE_STATIC_BROKER,
         CONFIG_TYPE_STRING},
        {"zookeeper.session.timeout.ms", "18000", CONFIG_SOURCE_DEFAULT, CONFIG_TYPE_INT},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_int_equal(config_describe(&c, rows[i].key, &e), 0);
        if (!e.value || strcmp(e.value, rows[i].value) != 0)
            fail_msg("%s = %s, wanted %s", rows[i].key, e.value ? e.value : "(null)", rows[i].value);
        assert_int_equal(e.source, rows[i].source);
        assert_int_equal(e.type, rows[i].type);
    }
    /* null defaults stay null until set */
    static const char *const nulls[] = {"log.retention.ms",  "log.roll.ms", "advertised.listeners",
                                        "zookeeper.connect", "broker.rack", "log.flush.interval.ms",
                                        "metadata.log.dir"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++) {
        assert_int_equal(config_describe(&c, nulls[i], &e), 0);
        if (e.value)
            fail_msg("%s = %s, wanted null", nulls[i], e.value);
        assert_int_equal(e.source, CONFIG_SOURCE_DEFAULT);
    }
    config_free(&c);
}

/* Every key of both tables has a row in docs/configuration.md. */
static void docs_list_every_key(void **state)
{
    (void)state;
    const char *path = tcu_source_path("docs/configuration.md");
    assert_non_null(path);
    char *doc = tcu_read_file(path);
    if (!doc)
        fail_msg("cannot read %s", path);
    char row[160];
    for (size_t i = 0; i < config_key_count(); i++) {
        struct config_entry e;
        config_describe_at(NULL, i, &e);
        snprintf(row, sizeof row, "| `%s` |", e.name);
        if (!strstr(doc, row))
            fail_msg("docs/configuration.md has no row for broker key %s", e.name);
    }
    for (size_t i = 0; i < topic_config_count(); i++) {
        snprintf(row, sizeof row, "| `%s` |", topic_config_key_at(i));
        if (!strstr(doc, row))
            fail_msg("docs/configuration.md has no row for topic key %s", topic_config_key_at(i));
    }
    free(doc);
}

/* Every .yaml file of examples/ loads, in the mode its name promises; single-node.yaml is the built-in node. */
static void examples_load(void **state)
{
    (void)state;
    const char *dir_path = tcu_source_path("examples");
    assert_non_null(dir_path);
    char dir_copy[1024];
    snprintf(dir_copy, sizeof dir_copy, "%s", dir_path);
    DIR *dir = opendir(dir_copy);
    if (!dir)
        fail_msg("cannot open %s", dir_copy);
    int loaded = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir_copy, de->d_name);
        struct ferry_config c;
        char err[512];
        int rc = config_load(&c, path, NULL, 0, err, sizeof err);
        if (rc != 0)
            fail_msg("%s: %s", de->d_name, err);
        enum ferry_mode want =
            strncmp(de->d_name, "migration-controller", 20) == 0 ? FERRY_MODE_MIGRATION
            : strncmp(de->d_name, "zookeeper", 9) == 0 || strncmp(de->d_name, "migration-broker", 16) == 0
                ? FERRY_MODE_LEGACY
                : FERRY_MODE_QUORUM;
        if (config_mode(&c) != want)
            fail_msg("%s: mode %s", de->d_name, config_mode_name(config_mode(&c)));
        if (strcmp(de->d_name, "single-node.yaml") == 0) {
            struct ferry_config b;
            assert_int_equal(config_load(&b, NULL, NULL, 0, err, sizeof err), 0);
            for (size_t i = 0; i < config_key_count(); i++) {
                struct config_entry x, y;
                config_describe_at(&c, i, &x);
                config_describe_at(&b, i, &y);
                if ((x.value == NULL) != (y.value == NULL) || (x.value && strcmp(x.value, y.value) != 0) ||
                    x.source != y.source)
                    fail_msg("single-node.yaml differs from the built-in node at %s", x.name);
            }
            config_free(&b);
        }
        config_free(&c);
        loaded++;
    }
    closedir(dir);
    assert_true(loaded >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(broker_enumeration),
        cmocka_unit_test(docs_list_every_key),
        cmocka_unit_test(examples_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
