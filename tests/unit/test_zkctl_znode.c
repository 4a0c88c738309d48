/* Unit tests for zkctl_broker_from_znode (zkmode/controller/zkctl.h): a /brokers/ids/<id> znode as Kafka 3.7
 * writes it becomes the controller's broker input (endpoints parsed, protocols from the listener map, rack),
 * bad endpoints and unknown protocols are refused, and the result drives UpdateMetadata's LiveBrokers. */
#include "test_zkctl_util.h"

#define G_BROKER                                                                                          \
    "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\",\"INTERNAL\":\"SSL\"}," \
    "\"endpoints\":[\"PLAINTEXT://b1:9092\",\"INTERNAL://[::1]:9093\"],\"jmx_port\":-1,\"port\":9092,"    \
    "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1712345678901\",\"rack\":\"rack-a\"}"

static void decode(const char *json, zk_broker_info *info)
{
    assert_int_equal(zk_broker_info_decode(json, strlen(json), info, NULL), 0);
}

static void test_from_znode(void **state)
{
    (void)state;
    zk_broker_info info;
    decode(G_BROKER, &info);
    zkctl_broker_buf b;
    assert_int_equal(zkctl_broker_from_znode(4, 0x100000042LL, &info, &b), 0);
    assert_int_equal(b.broker.id, 4);
    assert_int_equal(b.broker.epoch, 0x100000042LL);
    assert_int_equal(b.broker.n_endpoints, 2);
    assert_string_equal(b.broker.endpoints[0].listener, "PLAINTEXT");
    assert_string_equal(b.broker.endpoints[0].host, "b1");
    assert_int_equal(b.broker.endpoints[0].port, 9092);
    assert_int_equal(b.broker.endpoints[0].security_protocol, 0);
    assert_string_equal(b.broker.endpoints[1].listener, "INTERNAL");
    assert_string_equal(b.broker.endpoints[1].host, "::1");
    assert_int_equal(b.broker.endpoints[1].security_protocol, 1);
    assert_string_equal(b.broker.rack, "rack-a");

    /* the controller sends it to everyone with its endpoints and rack, LiveLeaders on the inter-broker listener */
    struct sim s;
    zkctl_config cfg;
    zkctl_config_default(&cfg, 4);
    cfg.inter_broker_listener = "INTERNAL";
    sim_init_cfg(&s, &cfg);
    sim_topic(&s, "t", "{\"0\":[4]}", TID);
    assert_int_equal(sim_become(&s), 0);
    assert_int_equal(zkctl_broker_registered(s.c, &b.broker), 0);
    sim_run(&s);
    const zkctl_action *um = sim_last(&s, ZKCTL_API_UPDATE_METADATA, 4);
    assert_non_null(um);
    const struct UpdateMetadataRequest *r = um->body;
    assert_int_equal(r->BrokerEpoch, 0x100000042LL);
    assert_int_equal(r->LiveBrokers_n, 1);
    assert_int_equal(r->LiveBrokers[0].Endpoints_n, 2);
    assert_int_equal(r->LiveBrokers[0].Endpoints[1].SecurityProtocol, 1);
    assert_int_equal(r->LiveBrokers[0].Rack.len, 6);
    const zkctl_action *lair = sim_last(&s, ZKCTL_API_LEADER_AND_ISR, 4);
    assert_non_null(lair);
    const struct LeaderAndIsrRequest *l = lair->body;
    assert_int_equal(l->LiveLeaders_n, 1);
    assert_int_equal(l->LiveLeaders[0].Port, 9093);
    sim_free(&s);
    zkctl_broker_buf_free(&b);
    zk_broker_info_free(&info);
}

static void test_from_znode_refusals(void **state)
{
    (void)state;
    zk_broker_info info;
    zkctl_broker_buf b;
    /* a listener name that is no protocol, without a map */
    decode("{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[\"CLIENT://h:1\"],"
           "\"jmx_port\":-1,\"port\":-1,\"host\":null,\"version\":5,\"timestamp\":\"1\"}",
           &info);
    assert_int_equal(zkctl_broker_from_znode(1, 1, &info, &b), FERRY_EPARSE);
    assert_int_equal(b.n, 0);
    assert_null(b.endpoints);
    zk_broker_info_free(&info);
    /* a protocol Kafka does not have */
    decode("{\"features\":{},\"listener_security_protocol_map\":{\"X\":\"TLS\"},\"endpoints\":[\"X://h:1\"],"
           "\"jmx_port\":-1,\"port\":-1,\"host\":null,\"version\":5,\"timestamp\":\"1\"}",
           &info);
    assert_int_equal(zkctl_broker_from_znode(1, 1, &info, &b), FERRY_EPARSE);
    zk_broker_info_free(&info);
    assert_int_equal(zkctl_broker_from_znode(-1, 1, NULL, &b), FERRY_EINVAL);
    assert_int_equal(zkctl_security_protocol_id("SASL_SSL"), 3);
    assert_int_equal(zkctl_security_protocol_id(NULL), FERRY_EPARSE);
    /* allocation failures: an error, nothing leaked */
    decode(G_BROKER, &info);
    for (long n = 0; n < 64; n++) {
        ferry_alloc_fail_after(n);
        int rc = zkctl_broker_from_znode(1, 1, &info, &b);
        ferry_alloc_fail_after(-1);
        assert_true(rc == 0 || rc == FERRY_ENOMEM);
        zkctl_broker_buf_free(&b);
        if (rc == 0)
            break;
    }
    zk_broker_info_free(&info);
}

int main(void)
{
    ferry_log_set_level(FERRY_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_znode),
        cmocka_unit_test(test_from_znode_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
