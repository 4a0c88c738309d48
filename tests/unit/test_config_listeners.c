/* config: listeners, advertised listeners, listener.security.protocol.map, the inter-broker listener and
 * controller.quorum.voters: parsing, Kafka's defaults and errors. */
#include "test_config_util.h"

static void listener_forms(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(
        &c, NULL,
        "listeners=plaintext://:19092, CONTROLLER://127.0.0.1:19093,INTERNAL://[::1]:19094,EXTERNAL://host-1.example:0",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,INTERNAL:ssl,EXTERNAL:SASL_SSL",
        "advertised.listeners=PLAINTEXT://broker1:19092,INTERNAL://[::1]:19094,EXTERNAL://host-1.example:0");
    assert_int_equal(c.n_listeners, 4);
    assert_string_equal(c.listeners[0].name, "PLAINTEXT");
    assert_string_equal(c.listeners[0].host, "");
    assert_int_equal(c.listeners[0].port, 19092);
    assert_string_equal(c.listeners[2].name, "INTERNAL");
    assert_string_equal(c.listeners[2].host, "::1");
    assert_int_equal(c.listeners[2].protocol, CONFIG_SP_SSL);
    assert_int_equal(c.listeners[3].port, 0);
    assert_int_equal(c.listeners[3].protocol, CONFIG_SP_SASL_SSL);
    const struct config_listener *l = config_listener(&c, "internal");
    assert_non_null(l);
    assert_int_equal(l->port, 19094);
    assert_null(config_listener(&c, "nope"));
    const struct config_listener *a = config_advertised(&c, "PLAINTEXT");
    assert_non_null(a);
    assert_string_equal(a->host, "broker1");
    assert_null(config_advertised(&c, "CONTROLLER"));
    assert_string_equal(config_security_protocol_name(c.listeners[3].protocol), "SASL_SSL");
    config_free(&c);
}

static void advertised_defaults_to_listeners_minus_controllers(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, NULL, "listeners=PLAINTEXT://10.0.0.1:19092,CONTROLLER://127.0.0.1:19093,SSL://10.0.0.1:19094");
    assert_int_equal(c.n_advertised, 2);
    assert_string_equal(c.advertised[0].name, "PLAINTEXT");
    assert_string_equal(c.advertised[0].host, "10.0.0.1");
    assert_string_equal(c.advertised[1].name, "SSL");
    assert_int_equal(c.advertised[1].protocol, CONFIG_SP_SSL);
    config_free(&c);
}

static void empty_host_is_advertised_as_hostname(void **state)
{
    (void)state;
    char host[256] = "";
    assert_int_equal(gethostname(host, sizeof host), 0);
    struct ferry_config c;
    LOAD_OK(&c, NULL, "listeners=PLAINTEXT://:19092,CONTROLLER://127.0.0.1:19093");
    assert_string_equal(c.listeners[0].host, "");
    assert_string_equal(c.advertised[0].host, host);
    config_free(&c);
}

static void zero_address_is_not_advertisable(void **state)
{
    (void)state;
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("listeners=PLAINTEXT://0.0.0.0:19092,CONTROLLER://127.0.0.1:19093"),
               "invalid value 'PLAINTEXT://0.0.0.0:19092,CONTROLLER://127.0.0.1:19093' for key 'listeners'", "0.0.0.0",
               "set advertised.listeners");
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("advertised.listeners=PLAINTEXT://0.0.0.0:19092"),
               "invalid value 'PLAINTEXT://0.0.0.0:19092' for key 'advertised.listeners'", "0.0.0.0");
    struct ferry_config c;
    LOAD_OK(&c, NULL, "listeners=PLAINTEXT://0.0.0.0:19092,CONTROLLER://127.0.0.1:19093",
            "advertised.listeners=PLAINTEXT://broker.example:19092");
    assert_string_equal(c.listeners[0].host, "0.0.0.0");
    assert_string_equal(c.advertised[0].host, "broker.example");
    config_free(&c);
}

static void listener_errors(void **state)
{
    (void)state;
    static const struct {
        const char *value, *why;
    } rows[] = {
        {"PLAINTEXT://h:70000,CONTROLLER://h:9093", "out of range 0-65535"},
        {"PLAINTEXT://h:-1,CONTROLLER://h:9093", "out of range 0-65535"},
        {"PLAINTEXT://h,CONTROLLER://h:9093", "cannot parse 'PLAINTEXT://h' as NAME://host:port"},
        {"PLAINTEXT://h:abc,CONTROLLER://h:9093", "cannot parse"},
        {"h:9092,CONTROLLER://h:9093", "cannot parse 'h:9092'"},
        {"PLAINTEXT://h/x:1,CONTROLLER://h:9093", "cannot parse"},
        {"FOO://h:1,CONTROLLER://h:9093", "no security protocol for listener 'FOO'"},
        {"PLAINTEXT://h:1,plaintext://h:2,CONTROLLER://h:9093", "listener name 'PLAINTEXT' appears twice"},
        {"PLAINTEXT://h:1,SSL://h:1,CONTROLLER://h:9093", "port 1 is used by two listeners"},
        {"PLAINTEXT://127.0.0.1:1,SSL://10.0.0.1:1,CONTROLLER://h:9093", "port 1 is used by two listeners"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char set[256], want[300];
        snprintf(set, sizeof set, "listeners=%s", rows[i].value);
        snprintf(want, sizeof want, "invalid value '%s' for key 'listeners': ", rows[i].value);
        LOAD_FAILS(FERRY_EINVAL, NULL, SETS(set), want, rows[i].why);
    }
}

static void shared_ports_kafka_allows(void **state)
{
    (void)state;
    struct ferry_config c;
    /* one IPv4 and one IPv6 literal may share a port; port 0 may repeat */
    LOAD_OK(&c, NULL,
            "listeners=PLAINTEXT://127.0.0.1:19092,SSL://[::1]:19092,SASL_PLAINTEXT://h:0,SASL_SSL://h:0,"
            "CONTROLLER://127.0.0.1:19093");
    assert_int_equal(c.n_listeners, 5);
    config_free(&c);
    /* advertised listeners may share ports */
    LOAD_OK(&c, NULL, "listeners=PLAINTEXT://127.0.0.1:19092,SSL://127.0.0.1:19094,CONTROLLER://127.0.0.1:19093",
            "advertised.listeners=PLAINTEXT://lb:9092,SSL://lb:9092");
    assert_int_equal(c.n_advertised, 2);
    config_free(&c);
}

static void protocol_map(void **state)
{
    (void)state;
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:TLS"),
               "invalid value 'PLAINTEXT:PLAINTEXT,CONTROLLER:TLS' for key 'listener.security.protocol.map'",
               "unknown security protocol 'TLS' for listener 'CONTROLLER'");
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("listener.security.protocol.map=PLAINTEXT"),
               "for key 'listener.security.protocol.map'", "entry 'PLAINTEXT' is not NAME:PROTOCOL");
    /* an explicit map must name the controller listener (Ferry only adds it when the map is unset) */
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("listener.security.protocol.map=PLAINTEXT:PLAINTEXT"), "for key 'listeners'",
               "no security protocol for listener 'CONTROLLER'");

    struct ferry_config c;
    LOAD_OK(&c, NULL);
    /* Kafka's default map plus the controller listener, PLAINTEXT */
    static const char *const names[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL", "CONTROLLER"};
    static const enum config_security_protocol protos[] = {CONFIG_SP_PLAINTEXT, CONFIG_SP_SSL, CONFIG_SP_SASL_PLAINTEXT,
                                                           CONFIG_SP_SASL_SSL, CONFIG_SP_PLAINTEXT};
    for (size_t i = 0; i < 5; i++) {
        enum config_security_protocol p;
        assert_int_equal(config_listener_protocol(&c, names[i], &p), 0);
        assert_int_equal(p, protos[i]);
    }
    enum config_security_protocol p;
    assert_int_equal(config_listener_protocol(&c, "OTHER", &p), FERRY_ENOTFOUND);
    struct config_entry e;
    assert_int_equal(config_describe(&c, "listener.security.protocol.map", &e), 0);
    assert_string_equal(e.value, "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL");
    assert_int_equal(e.source, CONFIG_SOURCE_DEFAULT);
    config_free(&c);

    LOAD_OK(&c, NULL, "listener.security.protocol.map=PLAINTEXT:PLAINTEXT, CONTROLLER:SSL");
    assert_int_equal(config_listener(&c, "CONTROLLER")->protocol, CONFIG_SP_SSL);
    assert_int_equal(config_listener_protocol(&c, "SSL", &p), FERRY_ENOTFOUND);
    config_free(&c);
}

static void inter_broker_listener(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, NULL,
            "listeners=PLAINTEXT://127.0.0.1:19092,REPLICATION://127.0.0.1:19094,CONTROLLER://127.0.0.1:19093",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,REPLICATION:SSL,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=replication");
    assert_string_equal(c.inter_broker_listener_name, "REPLICATION");
    assert_int_equal(c.inter_broker_protocol, CONFIG_SP_SSL);
    config_free(&c);

    LOAD_OK(&c, NULL, "listeners=SSL://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
            "security.inter.broker.protocol=SSL");
    assert_string_equal(c.inter_broker_listener_name, "SSL");
    assert_int_equal(c.inter_broker_protocol, CONFIG_SP_SSL);
    config_free(&c);

    LOAD_FAILS(FERRY_EINVAL, NULL,
               SETS("inter.broker.listener.name=PLAINTEXT", "security.inter.broker.protocol=PLAINTEXT"),
               "invalid value 'PLAINTEXT' for key 'inter.broker.listener.name'", "only one of");
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("inter.broker.listener.name=NOPE"),
               "invalid value 'NOPE' for key 'inter.broker.listener.name'", "not in listener.security.protocol.map");
    LOAD_FAILS(FERRY_EINVAL, NULL, SETS("security.inter.broker.protocol=SSL"),
               "invalid value 'SSL' for key 'security.inter.broker.protocol'", "'SSL' is not advertised");
    LOAD_FAILS(FERRY_EINVAL, NULL,
               SETS("listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
                    "advertised.listeners=SSL://h:19092"),
               "for key 'security.inter.broker.protocol'", "not advertised");
    LOAD_FAILS(FERRY_EINVAL, NULL,
               SETS("listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
                    "advertised.listeners=PLAINTEXT://h:19092,SSL://h:19092"),
               "invalid value 'PLAINTEXT://h:19092,SSL://h:19092' for key 'advertised.listeners'",
               "listener 'SSL' is not in listeners");
}

static void voters(void **state)
{
    (void)state;
    struct ferry_config c;
    LOAD_OK(&c, NULL, "controller.quorum.voters=1@127.0.0.1:9093, 2@[::1]:9094,3@ctrl-3.example:9095");
    assert_int_equal(c.n_voters, 3);
    assert_int_equal(c.voters[1].id, 2);
    assert_string_equal(c.voters[1].host, "::1");
    assert_int_equal(c.voters[1].port, 9094);
    assert_string_equal(config_voter(&c, 3)->host, "ctrl-3.example");
    config_free(&c);

    static const struct {
        const char *value, *why;
    } rows[] = {
        {"1@127.0.0.1", "entry '1@127.0.0.1' is not in the form id@host:port"},
        {"127.0.0.1:9093", "not in the form id@host:port"},
        {"1@h@h:1", "not in the form id@host:port"},
        {"one@h:9093", "voter id of 'one@h:9093' is not an integer"},
        {"-1@h:9093", "must not be negative"},
        {"1@h:99999", "port of '1@h:99999' is out of range 0-65535"},
        {"1@:9093", "not in the form id@host:port"},
        {"1@h:9093,1@h:9094", "voter id 1 appears twice"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char set[256], want[300];
        snprintf(set, sizeof set, "controller.quorum.voters=%s", rows[i].value);
        snprintf(want, sizeof want, "invalid value '%s' for key 'controller.quorum.voters': ", rows[i].value);
        LOAD_FAILS(FERRY_EINVAL, NULL, SETS(set), want, rows[i].why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listener_forms),
        cmocka_unit_test(advertised_defaults_to_listeners_minus_controllers),
        cmocka_unit_test(empty_host_is_advertised_as_hostname),
        cmocka_unit_test(zero_address_is_not_advertisable),
        cmocka_unit_test(listener_errors),
        cmocka_unit_test(shared_ports_kafka_allows),
        cmocka_unit_test(protocol_map),
        cmocka_unit_test(inter_broker_listener),
        cmocka_unit_test(voters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
