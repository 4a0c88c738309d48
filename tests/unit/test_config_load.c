/* config: defaults (built-in single node and Kafka 3.7's), value forms, override precedence, effective
 * values (retention ms > minutes > hours, roll, flush, ZooKeeper connection timeout). */
#include "test_config_util.h"

#include <stdint.h>

#define QUORUM_YAML                                                                                                    \
    "process.roles: broker,controller\n"                                                                               \
    "node.id: 1\n"                                                                                                     \
    "listeners: PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093\n"                                            \
    "controller.listener.names: CONTROLLER\n"                                                                          \
    "controller.quorum.voters: 1@127.0.0.1:19093\n"                                                                    \
    "log.dirs: /var/lib/ferry\n"

static void builtin_single_node(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, NULL);
    assert_int_equal(config_mode(&c), FERRY_MODE_QUORUM);
    assert_string_equal(config_mode_name(config_mode(&c)), "quorum");
    assert_true(c.role_broker);
    assert_true(c.role_controller);
    assert_int_equal(c.node_id, 1);
    assert_int_equal(c.broker_id, 1);
    assert_int_equal(c.n_listeners, 2);
    assert_string_equal(c.listeners[0].name, "PLAINTEXT");
    assert_string_equal(c.listeners[0].host, "127.0.0.1");
    assert_int_equal(c.listeners[0].port, 9092);
    assert_int_equal(c.listeners[0].protocol, CONFIG_SP_PLAINTEXT);
    assert_string_equal(c.listeners[1].name, "CONTROLLER");
    assert_int_equal(c.listeners[1].port, 9093);
    assert_int_equal(c.listeners[1].protocol, CONFIG_SP_PLAINTEXT);
    assert_int_equal(c.n_advertised, 1);
    assert_string_equal(c.advertised[0].name, "PLAINTEXT");
    assert_string_equal(c.advertised[0].host, "127.0.0.1");
    assert_int_equal(c.advertised[0].port, 9092);
    assert_int_equal(c.controller_listener_names.count, 1);
    assert_string_equal(c.controller_listener_names.items[0], "CONTROLLER");
    assert_int_equal(c.n_voters, 1);
    assert_int_equal(c.voters[0].id, 1);
    assert_string_equal(c.voters[0].host, "127.0.0.1");
    assert_int_equal(c.voters[0].port, 9093);
    assert_string_equal(c.inter_broker_listener_name, "PLAINTEXT");
    assert_int_equal(c.inter_broker_protocol, CONFIG_SP_PLAINTEXT);
    assert_int_equal(c.log_dirs.count, 1);
    assert_string_equal(c.log_dirs.items[0], "./ferry-data");
    assert_string_equal(c.metadata_log_dir, "./ferry-data");
    assert_true(config_is_set(&c, "process.roles"));
    assert_false(config_is_set(&c, "num.partitions"));
    config_free(&c);
}

/* Tests start the built-in node on free ports with --set listeners=...; the voter follows. */
static void builtin_voter_follows_listeners(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, NULL, "listeners=PLAINTEXT://127.0.0.1:41001,CONTROLLER://127.0.0.1:41002", "node.id=7");
    assert_int_equal(c.listeners[0].port, 41001);
    assert_int_equal(c.n_voters, 1);
    assert_int_equal(c.voters[0].id, 7);
    assert_int_equal(c.voters[0].port, 41002);
    assert_int_equal(c.advertised[0].port, 41001);
    config_free(&c);

    LOAD_OK(&c, NULL, "controller.quorum.voters=7@127.0.0.1:9093", "node.id=7");
    assert_int_equal(c.voters[0].port, 9093);
    config_free(&c);
}

static void kafka_defaults(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, QUORUM_YAML);
    assert_int_equal(c.num_partitions, 1);
    assert_int_equal(c.default_replication_factor, 1);
    assert_true(c.auto_create_topics_enable);
    assert_true(c.delete_topic_enable);
    assert_true(c.auto_leader_rebalance_enable);
    assert_int_equal(c.leader_imbalance_check_interval_seconds, 300);
    assert_false(c.unclean_leader_election_enable);
    assert_int_equal(c.min_insync_replicas, 1);
    assert_int_equal(c.message_max_bytes, 1048588);
    assert_int_equal(c.socket_request_max_bytes, 104857600);
    assert_int_equal(c.socket_send_buffer_bytes, 102400);
    assert_int_equal(c.socket_receive_buffer_bytes, 102400);
    assert_int_equal(c.connections_max_idle_ms, 600000);
    assert_int_equal(c.queued_max_requests, 500);
    assert_int_equal(c.num_network_threads, 3);
    assert_int_equal(c.num_io_threads, 8);
    assert_int_equal(c.num_recovery_threads_per_data_dir, 1);
    assert_int_equal(c.log_segment_bytes, 1073741824);
    assert_int_equal(c.log_roll_hours, 168);
    assert_int_equal(config_log_roll_ms(&c), 168LL * 3600 * 1000);
    assert_int_equal(c.log_roll_jitter_ms, 0);
    assert_int_equal(c.log_retention_hours, 168);
    assert_int_equal(config_log_retention_ms(&c), 604800000);
    assert_int_equal(c.log_retention_bytes, -1);
    assert_int_equal(c.log_retention_check_interval_ms, 300000);
    assert_true(c.log_flush_interval_messages == INT64_MAX);
    assert_true(c.log_flush_scheduler_interval_ms == INT64_MAX);
    assert_true(config_log_flush_interval_ms(&c) == INT64_MAX);
    assert_int_equal(c.log_flush_offset_checkpoint_interval_ms, 60000);
    assert_int_equal(c.log_index_interval_bytes, 4096);
    assert_int_equal(c.log_index_size_max_bytes, 10485760);
    assert_int_equal(c.log_cleanup_policy, CONFIG_CLEANUP_DELETE);
    assert_true(c.log_cleaner_enable);
    assert_int_equal(c.log_cleaner_delete_retention_ms, 86400000);
    assert_true(c.log_cleaner_min_cleanable_ratio == 0.5);
    assert_int_equal(c.log_message_timestamp_type, CONFIG_TIMESTAMP_CREATE_TIME);
    assert_int_equal(c.log_segment_delete_delay_ms, 60000);
    assert_int_equal(c.compression_type, CONFIG_COMPRESSION_PRODUCER);
    assert_null(c.broker_rack);
    assert_int_equal(c.replica_lag_time_max_ms, 30000);
    assert_int_equal(c.replica_fetch_max_bytes, 1048576);
    assert_int_equal(c.replica_fetch_wait_max_ms, 500);
    assert_int_equal(c.num_replica_fetchers, 1);
    assert_int_equal(c.group_initial_rebalance_delay_ms, 3000);
    assert_int_equal(c.group_min_session_timeout_ms, 6000);
    assert_int_equal(c.group_max_session_timeout_ms, 1800000);
    assert_int_equal(c.group_max_size, INT32_MAX);
    assert_int_equal(c.offsets_topic_num_partitions, 50);
    assert_int_equal(c.offsets_topic_replication_factor, 3);
    assert_int_equal(c.offsets_topic_segment_bytes, 104857600);
    assert_int_equal(c.offsets_retention_minutes, 10080);
    assert_int_equal(c.offsets_retention_check_interval_ms, 600000);
    assert_int_equal(c.offsets_commit_timeout_ms, 5000);
    assert_int_equal(c.producer_id_expiration_ms, 86400000);
    assert_int_equal(c.transactional_id_expiration_ms, 604800000);
    assert_int_equal(c.controller_quorum_election_timeout_ms, 1000);
    assert_int_equal(c.controller_quorum_fetch_timeout_ms, 2000);
    assert_int_equal(c.controller_quorum_election_backoff_max_ms, 1000);
    assert_int_equal(c.controller_quorum_request_timeout_ms, 2000);
    assert_int_equal(c.controller_socket_timeout_ms, 30000);
    assert_int_equal(c.controller_quorum_retry_backoff_ms, 20);
    assert_int_equal(c.controller_quorum_append_linger_ms, 25);
    assert_int_equal(c.metadata_log_segment_bytes, 1073741824);
    assert_int_equal(c.metadata_log_max_record_bytes_between_snapshots, 20971520);
    assert_int_equal(c.metadata_log_max_snapshot_interval_ms, 3600000);
    assert_int_equal(c.metadata_max_idle_interval_ms, 500);
    assert_int_equal(c.metadata_max_retention_bytes, 104857600);
    assert_int_equal(c.metadata_max_retention_ms, 604800000);
    assert_int_equal(c.broker_heartbeat_interval_ms, 2000);
    assert_int_equal(c.broker_session_timeout_ms, 9000);
    assert_int_equal(c.initial_broker_registration_timeout_ms, 60000);
    assert_null(c.zookeeper_connect);
    assert_int_equal(c.zookeeper_session_timeout_ms, 18000);
    assert_int_equal(c.zookeeper_connection_timeout_ms, 18000);
    assert_false(c.zookeeper_set_acl);
    assert_int_equal(c.zookeeper_max_in_flight_requests, 10);
    assert_false(c.zookeeper_metadata_migration_enable);
    assert_true(c.broker_id_generation_enable);
    assert_string_equal(c.log_dir, "/tmp/kafka-logs");
    assert_string_equal(c.log_dirs.items[0], "/var/lib/ferry");
    config_free(&c);
}

static void string_and_list_forms(void **state)
{
    (void)state;
    static const char *const forms[] = {
        "process.roles: broker,controller\n",
        "process.roles: 'broker, controller'\n",
        "process.roles: [broker, controller]\n",
        "process.roles:\n  - broker\n  - controller\n",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml,
                 "%snode.id: 1\nlisteners: [PLAINTEXT://127.0.0.1:19092, CONTROLLER://127.0.0.1:19093]\n"
                 "controller.listener.names: [CONTROLLER]\ncontroller.quorum.voters: ['1@127.0.0.1:19093']\n"
                 "log.dirs:\n  - /a\n  - /b\n",
                 forms[i]);
        struct ferry_config c;
        LOAD_OK(&c, yaml);
        assert_int_equal(c.process_roles.count, 2);
        assert_string_equal(c.process_roles.items[0], "broker");
        assert_string_equal(c.process_roles.items[1], "controller");
        assert_int_equal(c.n_listeners, 2);
        assert_int_equal(c.log_dirs.count, 2);
        assert_string_equal(c.log_dirs.items[1], "/b");
        struct config_entry e;
        assert_int_equal(config_describe(&c, "process.roles", &e), 0);
        assert_string_equal(e.value, "broker,controller");
        config_free(&c);
    }
}

static void yaml_scalars(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, QUORUM_YAML "auto.create.topics.enable: false\n"
                            "delete.topic.enable: 'FALSE'\n"
                            "num.partitions: 12\n"
                            "log.retention.bytes: \"1073741824\"\n"
                            "log.cleaner.min.cleanable.ratio: 0.25\n"
                            "broker.rack: rack-1\n"
                            "offsets.topic.replication.factor: 1\n");
    assert_false(c.auto_create_topics_enable);
    assert_false(c.delete_topic_enable);
    assert_int_equal(c.num_partitions, 12);
    assert_int_equal(c.log_retention_bytes, 1073741824);
    assert_true(c.log_cleaner_min_cleanable_ratio == 0.25);
    assert_string_equal(c.broker_rack, "rack-1");
    assert_int_equal(c.offsets_topic_replication_factor, 1);
    config_free(&c);
}

static void overrides_win(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, QUORUM_YAML "num.partitions: 3\n", "num.partitions=5", "num.partitions = 6 ",
            "default.replication.factor=2");
    assert_int_equal(c.num_partitions, 6);
    assert_int_equal(c.default_replication_factor, 2);
    config_free(&c);

    /* An invalid file value replaced by an override is not an error. */
    LOAD_OK(&c, QUORUM_YAML "num.partitions: abc\n", "num.partitions=4");
    assert_int_equal(c.num_partitions, 4);
    config_free(&c);

    /* A YAML null puts a key back to its default. */
    LOAD_OK(&c, QUORUM_YAML "num.partitions: ~\nbroker.rack:\n");
    assert_int_equal(c.num_partitions, 1);
    assert_null(c.broker_rack);
    assert_false(config_is_set(&c, "num.partitions"));
    config_free(&c);

    /* The built-in node takes overrides too. */
    LOAD_OK(&c, NULL, "log.dirs=/data/a,/data/b", "metadata.log.dir=/meta");
    assert_int_equal(c.log_dirs.count, 2);
    assert_string_equal(c.metadata_log_dir, "/meta");
    config_free(&c);
}

static void retention_precedence(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, QUORUM_YAML "log.retention.hours: 2\n");
    assert_int_equal(config_log_retention_ms(&c), 2 * 3600 * 1000);
    config_free(&c);

    LOAD_OK(&c, QUORUM_YAML "log.retention.hours: 2\nlog.retention.minutes: 3\n");
    assert_int_equal(config_log_retention_ms(&c), 3 * 60 * 1000);
    config_free(&c);

    LOAD_OK(&c, QUORUM_YAML "log.retention.hours: 2\nlog.retention.minutes: 3\nlog.retention.ms: 4000\n");
    assert_int_equal(config_log_retention_ms(&c), 4000);
    config_free(&c);

    LOAD_OK(&c, QUORUM_YAML "log.retention.ms: -1\n");
    assert_int_equal(config_log_retention_ms(&c), -1);
    config_free(&c);

    /* Any negative value means unlimited. */
    LOAD_OK(&c, QUORUM_YAML "log.retention.hours: -5\n");
    assert_int_equal(config_log_retention_ms(&c), -1);
    config_free(&c);

    LOAD_OK(&c, QUORUM_YAML "log.retention.minutes: -1\nlog.retention.hours: 1\n");
    assert_int_equal(config_log_retention_ms(&c), -1);
    config_free(&c);
}

static void roll_flush_zk_fallbacks(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, QUORUM_YAML "log.roll.hours: 1\nlog.roll.jitter.hours: 2\nlog.flush.scheduler.interval.ms: 3000\n"
                            "zookeeper.session.timeout.ms: 6000\n");
    assert_int_equal(config_log_roll_ms(&c), 3600000);
    assert_int_equal(c.log_roll_jitter_ms, 7200000);
    assert_int_equal(config_log_flush_interval_ms(&c), 3000);
    assert_int_equal(c.zookeeper_connection_timeout_ms, 6000);
    config_free(&c);

    LOAD_OK(&c, QUORUM_YAML "log.roll.hours: 1\nlog.roll.ms: 500\nlog.roll.jitter.ms: 7\n"
                            "log.flush.interval.ms: 1000\nlog.flush.scheduler.interval.ms: 3000\n"
                            "zookeeper.connection.timeout.ms: 1234\n");
    assert_int_equal(config_log_roll_ms(&c), 500);
    assert_int_equal(c.log_roll_jitter_ms, 7);
    assert_int_equal(config_log_flush_interval_ms(&c), 1000);
    assert_int_equal(c.zookeeper_connection_timeout_ms, 1234);
    config_free(&c);
}

static void node_id_broker_id_synonyms(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, NULL, "node.id=4", "controller.quorum.voters=4@127.0.0.1:9093");
    assert_int_equal(c.broker_id, 4);
    config_free(&c);

    LOAD_OK(&c, "process.roles: broker,controller\nbroker.id: 3\n"
                "listeners: PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093\n"
                "controller.listener.names: CONTROLLER\ncontroller.quorum.voters: 3@127.0.0.1:19093\n");
    assert_int_equal(c.node_id, 3);
    assert_int_equal(c.broker_id, 3);
    config_free(&c);
}

static void unknown_key_warns(void **state)
{
    (void)state;
    struct ferry_config c;
    tcu_capture_start();
    int rc = tcu_load(&c, QUORUM_YAML "no.such.key: 1\n", "another.unknown=2", NULL);
    const char *out = tcu_capture_stop();
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "WARN config"));
    assert_non_null(strstr(out, "unknown configuration key 'no.such.key' ignored"));
    assert_non_null(strstr(out, ":7: unknown")); /* file and line */
    assert_non_null(strstr(out, "--set: unknown configuration key 'another.unknown' ignored"));
    config_free(&c);
}

static void empty_file_has_no_mode(void **state)
{
    (void)state;
    LOAD_FAILS(FERRY_EINVAL, "# nothing here\n", NULL, "'process.roles'", "'zookeeper.connect'");
}

/* Every allocation failure is reported as FERRY_ENOMEM and leaks nothing (ASan checks leaks at exit). */
static void allocation_failures(void **state)
{
    (void)state;
    const char *path = tcu_write(QUORUM_YAML "num.partitions: [3]\nadvertised.listeners: PLAINTEXT://h:1\n");
    const char *sets[] = {"log.retention.minutes=5",
                          "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:SSL"};
    for (long n = 0;; n++) {
        struct ferry_config c;
        char err[256];
        ferry_alloc_fail_after(n);
        int rc = config_load(&c, path, sets, 2, err, sizeof err);
        ferry_alloc_fail_after(-1);
        if (rc == 0) {
            assert_true(n > 10);
            config_free(&c);
            break;
        }
        if (rc != FERRY_ENOMEM)
            fail_msg("after %ld allocations: rc %d (%s)", n, rc, err);
        struct ferry_config zero;
        memset(&zero, 0, sizeof zero);
        assert_memory_equal(&c, &zero, sizeof c);
    }
    for (long n = 0;; n++) {
        struct ferry_config c;
        char err[256];
        ferry_alloc_fail_after(n);
        int rc = config_load(&c, NULL, NULL, 0, err, sizeof err);
        ferry_alloc_fail_after(-1);
        if (rc == 0) {
            config_free(&c);
            break;
        }
        assert_int_equal(rc, FERRY_ENOMEM);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_single_node),
        cmocka_unit_test(builtin_voter_follows_listeners),
        cmocka_unit_test(kafka_defaults),
        cmocka_unit_test(string_and_list_forms),
        cmocka_unit_test(yaml_scalars),
        cmocka_unit_test(overrides_win),
        cmocka_unit_test(retention_precedence),
        cmocka_unit_test(roll_flush_zk_fallbacks),
        cmocka_unit_test(node_id_broker_id_synonyms),
        cmocka_unit_test(unknown_key_warns),
        cmocka_unit_test(empty_file_has_no_mode),
        cmocka_unit_test(allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
