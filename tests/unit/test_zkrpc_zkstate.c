/* Unit tests for zkmode/rpc/zk_to_records.h: ZooKeeper state (znode JSON as Kafka 3.7 writes it) becomes the
 * records Kafka's migration writes, in its order and batches; they apply to a real md_image; malformed or
 * inconsistent znodes fail the load with their path; allocation failures leave nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "zkmode/rpc/zk_to_records.h"

#define ZN(s) ((struct zkrpc_znode){true, (s), sizeof(s) - 1, 0})
#define ZNV(s, v) ((struct zkrpc_znode){true, (s), sizeof(s) - 1, (v)})
#define ABSENT ((struct zkrpc_znode){false, NULL, 0, 0})

#define ORDERS_ID "q2mT0lT5QjWcT7d3bZ0s8A"
#define PAY_ID "AAECAwQFBgcICQoLDA0ODw"
#define CLUSTER "{\"version\":\"1\",\"id\":\"Xy3kP0q9R2ejQ0aB1cD2eA\"}"
#define BROKER(h)                                                                                           \
    "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},"                   \
    "\"endpoints\":[\"PLAINTEXT://" h ":9092\"],\"jmx_port\":-1,\"port\":9092,"                             \
    "\"host\":\"" h "\",\"version\":5,\"timestamp\":\"1712345678901\"}"
#define ORDERS                                                                                              \
    "{\"version\":3,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,4]},\"adding_replicas\":{\"1\":[4]},"          \
    "\"removing_replicas\":{\"1\":[1]},\"topic_id\":\"" ORDERS_ID "\"}"
#define ORDERS_STATE0 "{\"controller_epoch\":7,\"leader\":1,\"version\":1,\"leader_epoch\":4,\"isr\":[1,2]}"
#define PAYMENTS "{\"version\":3,\"partitions\":{\"0\":[3]},\"adding_replicas\":{},\"removing_replicas\":{}," \
                 "\"topic_id\":\"" PAY_ID "\"}"
#define PAY_STATE0                                                                                          \
    "{\"controller_epoch\":7,\"leader\":3,\"version\":1,\"leader_epoch\":2,\"isr\":[3],\"leader_recovery_state\":1}"
#define ORDERS_CONFIG "{\"version\":1,\"config\":{\"retention.ms\":\"86400000\",\"cleanup.policy\":\"compact\"}}"
#define BROKER_CONFIG "{\"version\":1,\"config\":{\"log.cleaner.threads\":\"2\"}}"
#define DEFAULT_CONFIG "{\"version\":1,\"config\":{\"message.max.bytes\":\"2000000\"}}"
#define PID_BLOCK "{\"version\":1,\"broker\":2,\"block_start\":\"5000\",\"block_end\":\"5999\"}"

/* A whole Kafka-3.7-shaped cluster: two topics (one mid-reassignment, one partition without a state znode),
 * a topic pending deletion, broker and default configs, a producer-id block. */
struct cluster {
    struct zkrpc_zk_partition_state orders_states[1], pay_states[1];
    struct zkrpc_zk_topic topics[3];
    struct zkrpc_zk_child brokers[2], configs[2];
    const char *pending[1];
    struct zkrpc_zk_state st;
};

static void cluster_init(struct cluster *c)
{
    memset(c, 0, sizeof *c);
    c->orders_states[0] = (struct zkrpc_zk_partition_state){0, ZNV(ORDERS_STATE0, 6)};
    c->pay_states[0] = (struct zkrpc_zk_partition_state){0, ZNV(PAY_STATE0, 9)};
    c->topics[0] = (struct zkrpc_zk_topic){"orders", ZN(ORDERS), c->orders_states, 1, ZN(ORDERS_CONFIG)};
    c->topics[1] = (struct zkrpc_zk_topic){"doomed", ZN("not even JSON"), NULL, 0, ABSENT};
    c->topics[2] = (struct zkrpc_zk_topic){"payments", ZN(PAYMENTS), c->pay_states, 1, ABSENT};
    c->brokers[0] = (struct zkrpc_zk_child){"3", ZN(BROKER("b3"))};
    c->brokers[1] = (struct zkrpc_zk_child){"1", ZN(BROKER("b1"))};
    c->configs[0] = (struct zkrpc_zk_child){"2", ZN(BROKER_CONFIG)};
    c->configs[1] = (struct zkrpc_zk_child){"<default>", ZN(DEFAULT_CONFIG)};
    c->pending[0] = "doomed";
    c->st = (struct zkrpc_zk_state){ZN(CLUSTER), c->brokers, 2, c->topics, 3, c->pending, 1, c->configs, 2,
                                    ZN(PID_BLOCK)};
}

static const void *rec(const struct zkrpc_zk_records *out, size_t i, const struct proto_message *m)
{
    assert_true(i < out->r.nrecords);
    if (out->r.records[i].m != m)
        fail_msg("record %zu is %s, want %s", i, out->r.records[i].m->name, m->name);
    return out->r.records[i].data;
}

static void ints(const int32_t *v, int32_t n, const int32_t *want, int32_t wn)
{
    assert_int_equal(n, wn);
    for (int32_t i = 0; i < n; i++)
        assert_int_equal(v[i], want[i]);
}
#define INTS(v, n, ...) ints((v), (n), (const int32_t[]){__VA_ARGS__}, \
                             (int32_t)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)))

static void config_is(const struct ConfigRecord *c, int8_t type, const char *resource, const char *key,
                      const char *value)
{
    assert_int_equal(c->ResourceType, type);
    assert_true(proto_str_eq(c->ResourceName, resource));
    assert_true(proto_str_eq(c->Name, key));
    assert_true(proto_str_eq(c->Value, value));
}

static void test_whole_cluster(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c);
    struct zkrpc_zk_records out;
    zkrpc_zk_records_init(&out);
    assert_int_equal(zkrpc_zk_to_records(&c.st, &out), 0);
    assert_string_equal(out.cluster_id, "Xy3kP0q9R2ejQ0aB1cD2eA");
    ints(out.registered, (int32_t)out.nregistered, (const int32_t[]){1, 3}, 2);
    INTS(out.required, (int32_t)out.nrequired, 1, 2, 3, 4); /* 4 is only adding; 2 from its config */

    /* orders: TopicRecord, its configs, then its partitions (doomed skipped) */
    const struct TopicRecord *t = rec(&out, 0, &proto_msg_TopicRecord);
    assert_true(proto_str_eq(t->Name, "orders"));
    char ids[23];
    proto_uuid_to_base64(t->TopicId, ids);
    assert_string_equal(ids, ORDERS_ID);
    config_is(rec(&out, 1, &proto_msg_ConfigRecord), 2, "orders", "retention.ms", "86400000");
    config_is(rec(&out, 2, &proto_msg_ConfigRecord), 2, "orders", "cleanup.policy", "compact");
    const struct PartitionRecord *p = rec(&out, 3, &proto_msg_PartitionRecord);
    assert_int_equal(p->PartitionId, 0);
    INTS(p->Replicas, p->Replicas_n, 1, 2, 3);
    INTS(p->Isr, p->Isr_n, 1, 2);
    assert_int_equal(p->Leader, 1);
    assert_int_equal(p->LeaderEpoch, 4);
    assert_int_equal(p->PartitionEpoch, 6); /* the state znode's version */
    assert_int_equal(p->AddingReplicas_n, 0);
    p = rec(&out, 4, &proto_msg_PartitionRecord); /* no state znode: ISR = replicas, first replica leads */
    assert_int_equal(p->PartitionId, 1);
    INTS(p->Replicas, p->Replicas_n, 2, 3, 4);
    INTS(p->Isr, p->Isr_n, 2, 3, 4);
    INTS(p->AddingReplicas, p->AddingReplicas_n, 4);
    INTS(p->RemovingReplicas, p->RemovingReplicas_n, 1);
    assert_int_equal(p->Leader, 2);
    assert_int_equal(p->LeaderEpoch, 0);
    assert_int_equal(p->PartitionEpoch, 0);
    /* payments */
    t = rec(&out, 5, &proto_msg_TopicRecord);
    assert_true(proto_str_eq(t->Name, "payments"));
    p = rec(&out, 6, &proto_msg_PartitionRecord);
    assert_int_equal(p->Leader, 3);
    assert_int_equal(p->LeaderRecoveryState, 1);
    assert_int_equal(p->PartitionEpoch, 9);
    /* broker configs, then the producer-id block */
    config_is(rec(&out, 7, &proto_msg_ConfigRecord), 4, "2", "log.cleaner.threads", "2");
    config_is(rec(&out, 8, &proto_msg_ConfigRecord), 4, "", "message.max.bytes", "2000000");
    const struct ProducerIdsRecord *pid = rec(&out, 9, &proto_msg_ProducerIdsRecord);
    assert_int_equal(pid->BrokerId, 2);
    assert_int_equal(pid->BrokerEpoch, -1);
    assert_int_equal(pid->NextProducerId, 6000);
    assert_int_equal(out.r.nrecords, 10);
    /* batches: orders, payments, broker 2, <default>, producer ids */
    assert_int_equal(out.nbatches, 5);
    const size_t ends[] = {5, 7, 8, 9, 10};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(out.batch_ends[i], ends[i]);

    /* every record applies to a real image */
    struct md_image img;
    md_image_init(&img);
    for (size_t i = 0; i < out.r.nrecords; i++)
        assert_int_equal(md_image_apply(&img, out.r.records[i].m, out.r.records[i].data, (int64_t)i, NULL), 0);
    const struct md_topic *mt = md_image_topic(&img, "orders");
    assert_non_null(mt);
    assert_int_equal(mt->nparts, 2);
    assert_string_equal(md_configs_get(md_image_configs(&img, MD_RESOURCE_TOPIC, "orders"), "cleanup.policy"),
                        "compact");
    assert_string_equal(md_configs_get(md_image_configs(&img, MD_RESOURCE_BROKER, ""), "message.max.bytes"),
                        "2000000");
    assert_null(md_image_topic(&img, "doomed"));
    assert_int_equal(img.producer_ids.next_producer_id, 6000);
    md_image_free(&img);
    zkrpc_zk_records_free(&out);
}

static void test_empty_cluster(void **state)
{
    (void)state;
    struct zkrpc_zk_state st = {.cluster_id = ABSENT, .producer_id_block = {true, "", 0, 0}};
    struct zkrpc_zk_records out;
    zkrpc_zk_records_init(&out);
    assert_int_equal(zkrpc_zk_to_records(&st, &out), 0);
    assert_int_equal(out.r.nrecords, 0);
    assert_int_equal(out.nbatches, 0);
    assert_string_equal(out.cluster_id, "");
    zkrpc_zk_records_free(&out);
}

/* Each bad znode fails the load, names its path, and leaves no record. */
static void expect_failure(struct cluster *c, int want_rc, const char *want_in_err)
{
    struct zkrpc_zk_records out;
    zkrpc_zk_records_init(&out);
    int rc = zkrpc_zk_to_records(&c->st, &out);
    if (rc != want_rc)
        fail_msg("rc %d, want %d (err: %s)", rc, want_rc, out.err);
    if (!strstr(out.err, want_in_err))
        fail_msg("error \"%s\" does not mention \"%s\"", out.err, want_in_err);
    assert_int_equal(out.r.nrecords, 0);
    assert_int_equal(out.nbatches, 0);
    zkrpc_zk_records_free(&out);
    cluster_init(c);
}

static void test_malformed_znodes(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c);
    c.topics[2].assignment = ZN("{\"version\":3,\"partitions\":{\"0\":[3]");
    expect_failure(&c, FERRY_EPARSE, "/brokers/topics/payments:");
    c.topics[2].assignment = ZN("{\"version\":3,\"partitions\":{\"0\":[3]},\"adding_replicas\":{},"
                                "\"removing_replicas\":{}}");
    expect_failure(&c, FERRY_EINVAL, "/brokers/topics/payments: no topic_id");
    c.pay_states[0].state =
        ZN("{\"controller_epoch\":7,\"leader\":\"3\",\"version\":1,\"leader_epoch\":2,\"isr\":[3]}");
    expect_failure(&c, FERRY_EPARSE, "/brokers/topics/payments/partitions/0/state:");
    c.topics[0].config = ZN("{\"version\":1,\"config\":{\"retention.ms\":86400000}}");
    expect_failure(&c, FERRY_EPARSE, "/config/topics/orders:");
    c.configs[0].name = "two";
    expect_failure(&c, FERRY_EINVAL, "/config/brokers/two:");
    c.configs[0].node = ZN("{\"version\":1,\"config\":{\"listener.name.int.ssl.keystore.password\":\"enc\"}}");
    expect_failure(&c, FERRY_EINVAL, "/config/brokers/2: listener.name.int.ssl.keystore.password");
    c.brokers[1].name = "-1";
    expect_failure(&c, FERRY_EINVAL, "/brokers/ids/-1:");
    c.brokers[1].node = ZN("{\"version\":5}");
    expect_failure(&c, FERRY_EPARSE, "/brokers/ids/1:");
    c.st.cluster_id = ZN("{\"version\":\"1\",\"id\":\"short\"}");
    expect_failure(&c, FERRY_EPARSE, "/cluster/id:");
    c.st.producer_id_block = ZN("{\"version\":1,\"broker\":2}");
    expect_failure(&c, FERRY_EPARSE, "/latest_producer_id_block:");
    c.topics[2].name = "orders";
    c.topics[2].assignment = ZN(ORDERS);
    expect_failure(&c, FERRY_EINVAL, "/brokers/topics/orders: listed twice");
    c.topics[2].assignment = ZN(ORDERS); /* payments with orders' id */
    expect_failure(&c, FERRY_EINVAL, "/brokers/topics/payments: topic id " ORDERS_ID);
    c.topics[2].name = "bad/name";
    expect_failure(&c, FERRY_EINVAL, "/brokers/topics/bad/name: not a legal topic name");
    c.topics[2].assignment = ZN("{\"version\":3,\"partitions\":{\"0\":[]},\"adding_replicas\":{},"
                                "\"removing_replicas\":{},\"topic_id\":\"" PAY_ID "\"}");
    c.pay_states[0].state = ABSENT;
    expect_failure(&c, FERRY_EINVAL, "/brokers/topics/payments/partitions/0/state: absent");
}

static void test_alloc_failures(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c);
    bool done = false;
    for (long n = 0; n < 2000 && !done; n++) {
        struct zkrpc_zk_records out;
        zkrpc_zk_records_init(&out);
        ferry_alloc_fail_after(n);
        int rc = zkrpc_zk_to_records(&c.st, &out);
        ferry_alloc_fail_after(-1);
        if (rc == 0) {
            assert_int_equal(out.r.nrecords, 10);
            done = true;
        } else {
            assert_int_equal(rc, FERRY_ENOMEM);
            assert_int_equal(out.r.nrecords, 0);
        }
        zkrpc_zk_records_free(&out);
    }
    assert_true(done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_cluster),
        cmocka_unit_test(test_empty_cluster),
        cmocka_unit_test(test_malformed_znodes),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests_name("zkrpc_zkstate", tests, NULL, NULL);
}
