/* config: mode detection (quorum / legacy / migration / neither), required keys per mode, and Kafka's
 * role rules (node.id among the voters iff controller, controller listeners, advertised listeners). */
#include "test_config_util.h"

#define LISTENERS "listeners: PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093\n"
#define VOTERS "controller.quorum.voters: 1@127.0.0.1:19093,2@127.0.0.1:29093,3@127.0.0.1:39093\n"

static void quorum_combined(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, "process.roles: broker,controller\nnode.id: 2\n" LISTENERS VOTERS
                "controller.listener.names: CONTROLLER\n");
    assert_int_equal(config_mode(&c), FERRY_MODE_QUORUM);
    assert_true(c.role_broker && c.role_controller);
    assert_int_equal(c.n_voters, 3);
    assert_non_null(config_voter(&c, 2));
    assert_null(config_voter(&c, 4));
    config_free(&c);
}

static void quorum_controller_only(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, "process.roles: controller\nnode.id: 1\nlisteners: CONTROLLER://127.0.0.1:19093\n" VOTERS
                "controller.listener.names: CONTROLLER\n");
    assert_int_equal(config_mode(&c), FERRY_MODE_QUORUM);
    assert_false(c.role_broker);
    assert_true(c.role_controller);
    assert_int_equal(c.n_advertised, 0);
    config_free(&c);
}

static void quorum_broker_only(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, "process.roles: broker\nnode.id: 4\nlisteners: PLAINTEXT://127.0.0.1:19094\n" VOTERS
                "controller.listener.names: CONTROLLER\n");
    assert_int_equal(config_mode(&c), FERRY_MODE_QUORUM);
    assert_true(c.role_broker);
    assert_false(c.role_controller);
    /* the controller listener is not listened on, but its protocol is known (PLAINTEXT by default) */
    enum config_security_protocol p = CONFIG_SP_SSL;
    assert_int_equal(config_listener_protocol(&c, "controller", &p), 0);
    assert_int_equal(p, CONFIG_SP_PLAINTEXT);
    assert_null(config_listener(&c, "CONTROLLER"));
    config_free(&c);
}

static void legacy(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, "zookeeper.connect: 127.0.0.1:2181/ferry\nbroker.id: 0\nlisteners: PLAINTEXT://127.0.0.1:19092\n");
    assert_int_equal(config_mode(&c), FERRY_MODE_LEGACY);
    assert_string_equal(config_mode_name(c.mode), "legacy");
    assert_true(c.role_broker);
    assert_false(c.role_controller);
    assert_int_equal(c.broker_id, 0);
    assert_int_equal(c.node_id, 0);
    assert_string_equal(c.zookeeper_connect, "127.0.0.1:2181/ferry");
    assert_false(c.zookeeper_metadata_migration_enable);
    config_free(&c);

    /* broker.id defaults to -1: generated at registration */
    LOAD_OK(&c, "zookeeper.connect: zk:2181\nlisteners: PLAINTEXT://127.0.0.1:19092\n");
    assert_int_equal(c.broker_id, -1);
    assert_int_equal(config_mode(&c), FERRY_MODE_LEGACY);
    config_free(&c);
}

/* Without a file, the built-in keys stay unless overridden: emptying them gives a legacy broker. */
static void legacy_from_builtin(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, NULL, "process.roles=", "controller.listener.names=", "zookeeper.connect=127.0.0.1:2181",
            "listeners=PLAINTEXT://127.0.0.1:19092");
    assert_int_equal(config_mode(&c), FERRY_MODE_LEGACY);
    assert_int_equal(c.broker_id, 1); /* node.id 1 of the built-in node, its synonym */
    config_free(&c);
}

static void legacy_broker_in_migration(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, "zookeeper.connect: zk:2181\nbroker.id: 0\nlisteners: PLAINTEXT://127.0.0.1:19092\n"
                "zookeeper.metadata.migration.enable: true\n" VOTERS "controller.listener.names: CONTROLLER\n");
    assert_int_equal(config_mode(&c), FERRY_MODE_LEGACY);
    assert_true(c.zookeeper_metadata_migration_enable);
    assert_int_equal(c.n_voters, 3);
    config_free(&c);

    LOAD_FAILS(FERRY_EINVAL,
               "zookeeper.connect: zk:2181\nzookeeper.metadata.migration.enable: true\n"
               "controller.listener.names: CONTROLLER\n",
               NULL, "missing required key 'controller.quorum.voters'");
    LOAD_FAILS(FERRY_EINVAL, "zookeeper.connect: zk:2181\nzookeeper.metadata.migration.enable: true\n" VOTERS, NULL,
               "missing required key 'controller.listener.names'");
}

static void migration_controller(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, "process.roles: controller\nnode.id: 1\nlisteners: CONTROLLER://127.0.0.1:19093\n" VOTERS
                "controller.listener.names: CONTROLLER\nzookeeper.metadata.migration.enable: true\n"
                "zookeeper.connect: zk:2181\n");
    assert_int_equal(config_mode(&c), FERRY_MODE_MIGRATION);
    assert_string_equal(config_mode_name(c.mode), "migration");
    config_free(&c);

    /* A quorum broker with the flag (brokers moved to quorum mode during a migration): quorum mode. */
    LOAD_OK(&c, "process.roles: broker\nnode.id: 4\nlisteners: PLAINTEXT://127.0.0.1:19094\n" VOTERS
                "controller.listener.names: CONTROLLER\nzookeeper.metadata.migration.enable: true\n"
                "zookeeper.connect: zk:2181\n");
    assert_int_equal(config_mode(&c), FERRY_MODE_QUORUM);
    config_free(&c);

    LOAD_FAILS(FERRY_EINVAL,
               "process.roles: controller\nnode.id: 1\nlisteners: CONTROLLER://127.0.0.1:19093\n" VOTERS
               "controller.listener.names: CONTROLLER\nzookeeper.metadata.migration.enable: true\n",
               NULL, "missing required key 'zookeeper.connect'", "zookeeper.metadata.migration.enable");
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("zookeeper.metadata.migration.enable=true", "zookeeper.connect=zk:2181"),
               "invalid value 'broker,controller' for key 'process.roles'", "combined");
}

static void neither_mode(void **state)
{
    (void)state;
    LOAD_FAILS(FERRY_EINVAL, "num.partitions: 3\n", NULL, "'process.roles'", "'zookeeper.connect'");
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("process.roles="), "'process.roles'", "'zookeeper.connect'");
}

static void quorum_required_keys(void **state)
{
    (void)state;
    LOAD_FAILS(FERRY_EINVAL,
               "process.roles: broker,controller\n" LISTENERS VOTERS "controller.listener.names: CONTROLLER\n", NULL,
               "missing required key 'node.id'");
    LOAD_FAILS(FERRY_EINVAL,
               "process.roles: broker,controller\nnode.id: 1\n" LISTENERS "controller.listener.names: CONTROLLER\n",
               NULL, "missing required key 'controller.quorum.voters'");
    LOAD_FAILS(FERRY_EINVAL, "process.roles: broker,controller\nnode.id: 1\n" LISTENERS VOTERS, NULL,
               "missing required key 'controller.listener.names'");
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("node.id=-3"), "invalid value '-3' for key 'node.id'", "at least 0");
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("node.id=2", "broker.id=3"), "invalid value '2' for key 'node.id'",
               "broker.id (3)");
}

static void role_rules(void **state)
{
    (void)state;
    /* a controller must be a voter */
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("node.id=5", "controller.quorum.voters=1@127.0.0.1:9093"),
               "invalid value '1@127.0.0.1:9093' for key 'controller.quorum.voters'", "node.id 5 is not a voter");
    /* a broker-only node must not be */
    LOAD_FAILS(FERRY_EINVAL,
               "process.roles: broker\nnode.id: 1\nlisteners: PLAINTEXT://127.0.0.1:19092\n" VOTERS
               "controller.listener.names: CONTROLLER\n",
               NULL, "for key 'controller.quorum.voters'", "must not be a voter");
    /* controller listener names must be listened on by controllers */
    LOAD_FAILS(FERRY_EINVAL, NULL,
               SETS("controller.listener.names=CTRL", "listeners=PLAINTEXT://127.0.0.1:9092",
                    "controller.quorum.voters=1@127.0.0.1:9093"),
               "invalid value 'CTRL' for key 'controller.listener.names'", "'CTRL' is not in listeners");
    /* and not by broker-only nodes */
    LOAD_FAILS(FERRY_EINVAL,
               "process.roles: broker\nnode.id: 4\n" LISTENERS VOTERS "controller.listener.names: CONTROLLER\n", NULL,
               "for key 'listeners'", "must not contain the controller listener 'CONTROLLER'");
    /* advertised listeners never contain a controller listener */
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("advertised.listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"),
               "for key 'advertised.listeners'", "controller listener 'CONTROLLER'");
    /* controller-only: no advertised.listeners, only controller listeners */
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("process.roles=controller", "advertised.listeners=PLAINTEXT://127.0.0.1:9092"),
               "for key 'advertised.listeners'", "must be unset");
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("process.roles=controller"),
               "invalid value 'PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093' for key 'listeners'",
               "only contain controller listeners");
    /* a broker needs something to advertise */
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("listeners=CONTROLLER://127.0.0.1:9093"), "for key 'listeners'",
               "at least one advertised listener");
}

static void legacy_rules(void **state)
{
    (void)state;
    LOAD_FAILS(FERRY_EINVAL, "zookeeper.connect: zk:2181\nbroker.id: 1001\n", NULL,
               "invalid value '1001' for key 'broker.id'", "reserved.broker.max.id (1000)");
    LOAD_FAILS(FERRY_EINVAL, "zookeeper.connect: zk:2181\nbroker.id.generation.enable: false\n", NULL,
               "invalid value '-1' for key 'broker.id'", "broker.id.generation.enable");
    LOAD_FAILS(FERRY_EINVAL, "zookeeper.connect: zk:2181\ncontroller.listener.names: CONTROLLER\n", NULL,
               "invalid value 'CONTROLLER' for key 'controller.listener.names'", "legacy");
    struct ferry_config c;
    LOAD_OK(&c, "zookeeper.connect: zk:2181\nbroker.id: 1500\nreserved.broker.max.id: 2000\n");
    assert_int_equal(c.broker_id, 1500);
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quorum_combined),
        cmocka_unit_test(quorum_controller_only),
        cmocka_unit_test(quorum_broker_only),
        cmocka_unit_test(legacy),
        cmocka_unit_test(legacy_from_builtin),
        cmocka_unit_test(legacy_broker_in_migration),
        cmocka_unit_test(migration_controller),
        cmocka_unit_test(neither_mode),
        cmocka_unit_test(quorum_required_keys),
        cmocka_unit_test(role_rules),
        cmocka_unit_test(legacy_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
