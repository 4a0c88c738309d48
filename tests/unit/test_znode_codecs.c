/* Unit tests for the znode codecs (zkmode/znode/znode_codec.h): the JSON Kafka 3.7 writes (golden strings from
 * shared/reference/zk-layout.md) decodes to the expected struct and re-encodes byte-identically; strict
 * rejections (wrong types, missing keys, versions, malformed/truncated JSON, huge numbers, bad partition
 * keys) with the field named in the error; an allocation-failure sweep over every codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "zkmode/znode/znode_codec.h"

#define G_BROKER                                                                                            \
    "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\",\"SSL\":\"SSL\"},"   \
    "\"endpoints\":[\"PLAINTEXT://b1:9092\",\"SSL://b1:9093\"],\"jmx_port\":-1,\"port\":9092,"              \
    "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1712345678901\",\"rack\":\"rack-a\"}"
#define G_BROKER_NORACK                                                                                     \
    "{\"features\":{\"f\":{\"min_version\":1,\"max_version\":3}},\"listener_security_protocol_map\":{\"CLIENT\":\"SSL\"}," \
    "\"endpoints\":[\"CLIENT://[::1]:9093\"],\"jmx_port\":9999,\"port\":-1,"                               \
    "\"host\":null,\"version\":5,\"timestamp\":\"1\"}"
#define G_CONTROLLER "{\"version\":2,\"brokerid\":1,\"timestamp\":\"1712345678901\",\"kraftControllerEpoch\":-1}"
#define G_CONTROLLER_V1 "{\"version\":1,\"brokerid\":3,\"timestamp\":\"1712345678901\"}"
#define G_TOPIC                                                                                             \
    "{\"version\":3,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1]},\"adding_replicas\":{},"                   \
    "\"removing_replicas\":{},\"topic_id\":\"q2mT0lT5QjWcT7d3bZ0s8A\"}"
#define G_TOPIC_REASSIGN                                                                                    \
    "{\"version\":3,\"partitions\":{\"0\":[1,2,3,4]},\"adding_replicas\":{\"0\":[4]},"                      \
    "\"removing_replicas\":{\"0\":[1]},\"topic_id\":\"q2mT0lT5QjWcT7d3bZ0s8A\"}"
#define G_STATE "{\"controller_epoch\":7,\"leader\":1,\"version\":1,\"leader_epoch\":4,\"isr\":[1,2,3]}"
#define G_STATE_RECOVERING                                                                                  \
    "{\"controller_epoch\":7,\"leader\":2,\"version\":1,\"leader_epoch\":5,\"isr\":[2],\"leader_recovery_state\":1}"
#define G_CONFIG "{\"version\":1,\"config\":{\"retention.ms\":\"86400000\"}}"
#define G_CONFIG_EMPTY "{\"version\":1,\"config\":{}}"
#define G_CHANGE "{\"version\":2,\"entity_path\":\"topics/orders\"}"
#define G_CHANGE_V1 "{\"version\":1,\"entity_type\":\"topics\",\"entity_name\":\"orders\"}"
#define G_CLUSTER "{\"version\":\"1\",\"id\":\"Xy3kP0q9R2ejQ0aB1cD2eA\"}"
#define G_FEATURE "{\"features\":{},\"version\":2,\"status\":1}"
#define G_FEATURE_MV "{\"features\":{\"metadata.version\":{\"max_version_level\":19}},\"version\":2,\"status\":1}"
#define G_PID "{\"version\":1,\"broker\":2,\"block_start\":\"5000\",\"block_end\":\"5999\"}"
#define G_MIGRATION                                                                                         \
    "{\"version\":0,\"kraft_controller_id\":3000,\"kraft_controller_epoch\":5,"                              \
    "\"kraft_metadata_offset\":123456,\"kraft_metadata_epoch\":5}"

/* Decode, encode, free: one round trip per codec. */
typedef int (*rt_fn)(const char *in, size_t len, char **out, zk_err *e);

#define RT(name, type, dec, enc, fr)                                        \
    static int rt_##name(const char *in, size_t len, char **out, zk_err *e) \
    {                                                                       \
        type v;                                                             \
        *out = NULL;                                                        \
        int rc = dec(in, len, &v, e);                                       \
        if (rc)                                                             \
            return rc;                                                      \
        rc = enc(&v, out, NULL);                                            \
        fr(&v);                                                             \
        return rc;                                                          \
    }
static void nofree(void *p)
{
    (void)p;
}
RT(broker, zk_broker_info, zk_broker_info_decode, zk_broker_info_encode, zk_broker_info_free)
RT(controller, zk_controller, zk_controller_decode, zk_controller_encode, nofree)
RT(topic, zk_topic_assignment, zk_topic_assignment_decode, zk_topic_assignment_encode, zk_topic_assignment_free)
RT(state, zk_partition_state, zk_partition_state_decode, zk_partition_state_encode, zk_partition_state_free)
RT(config, zk_config_entity, zk_config_entity_decode, zk_config_entity_encode, zk_config_entity_free)
RT(change, zk_config_change, zk_config_change_decode, zk_config_change_encode, zk_config_change_free)
RT(cluster, zk_cluster_id, zk_cluster_id_decode, zk_cluster_id_encode, zk_cluster_id_free)
RT(feature, zk_feature_znode, zk_feature_decode, zk_feature_encode, zk_feature_free)
RT(pid, zk_producer_id_block, zk_producer_id_block_decode, zk_producer_id_block_encode, nofree)
RT(migration, zk_migration_state, zk_migration_decode, zk_migration_encode, nofree)

static int rt_epoch(const char *in, size_t len, char **out, zk_err *e)
{
    int32_t ep;
    *out = NULL;
    int rc = zk_controller_epoch_decode(in, len, &ep, e);
    return rc ? rc : zk_controller_epoch_encode(ep, out, NULL);
}

static const struct {
    const char *name;
    rt_fn fn;
    const char *json;
} goldens[] = {
    {"broker", rt_broker, G_BROKER},
    {"broker-norack", rt_broker, G_BROKER_NORACK},
    {"controller", rt_controller, G_CONTROLLER},
    {"controller-v1", rt_controller, G_CONTROLLER_V1},
    {"controller_epoch", rt_epoch, "5"},
    {"controller_epoch-0", rt_epoch, "0"},
    {"topic", rt_topic, G_TOPIC},
    {"topic-reassign", rt_topic, G_TOPIC_REASSIGN},
    {"state", rt_state, G_STATE},
    {"state-recovering", rt_state, G_STATE_RECOVERING},
    {"config", rt_config, G_CONFIG},
    {"config-empty", rt_config, G_CONFIG_EMPTY},
    {"change", rt_change, G_CHANGE},
    {"change-v1", rt_change, G_CHANGE_V1},
    {"cluster", rt_cluster, G_CLUSTER},
    {"feature", rt_feature, G_FEATURE},
    {"feature-mv", rt_feature, G_FEATURE_MV},
    {"pid", rt_pid, G_PID},
    {"migration", rt_migration, G_MIGRATION},
};

static void test_golden_round_trips(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof goldens / sizeof goldens[0]; i++) {
        char *out = NULL;
        zk_err e = {{0}};
        int rc = goldens[i].fn(goldens[i].json, strlen(goldens[i].json), &out, &e);
        if (rc)
            print_error("%s: %d %s\n", goldens[i].name, rc, e.msg);
        assert_int_equal(rc, 0);
        if (strcmp(out, goldens[i].json) != 0)
            print_error("%s:\n got  %s\n want %s\n", goldens[i].name, out, goldens[i].json);
        assert_string_equal(out, goldens[i].json);
        ferry_free(out);
    }
}

static void test_broker_fields(void **state)
{
    (void)state;
    zk_broker_info b;
    zk_err e = {{0}};
    assert_int_equal(zk_broker_info_decode(G_BROKER, strlen(G_BROKER), &b, &e), 0);
    assert_int_equal(b.version, 5);
    assert_int_equal(b.protocol_map.n, 2);
    assert_string_equal(zk_str_map_get(&b.protocol_map, "SSL"), "SSL");
    assert_int_equal(b.n_endpoints, 2);
    assert_string_equal(b.endpoints[1], "SSL://b1:9093");
    assert_string_equal(b.rack, "rack-a");
    assert_string_equal(b.host, "b1");
    assert_int_equal(b.jmx_port, -1);
    assert_int_equal(b.port, 9092);
    assert_int_equal(b.timestamp, 1712345678901LL);
    assert_int_equal(b.n_features, 0);
    zk_broker_info_free(&b);
    assert_null(b.endpoints);
    zk_broker_info_free(&b); /* a zeroed struct is fine */

    assert_int_equal(zk_broker_info_decode(G_BROKER_NORACK, strlen(G_BROKER_NORACK), &b, &e), 0);
    assert_null(b.rack);
    assert_null(b.host);
    assert_int_equal(b.port, -1);
    assert_int_equal(b.n_features, 1);
    assert_string_equal(b.features[0].name, "f");
    assert_int_equal(b.features[0].min_version, 1);
    assert_int_equal(b.features[0].max_version, 3);
    zk_broker_info_free(&b);

    /* version 4: no features */
    const char *v4 = "{\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},\"endpoints\":[\"PLAINTEXT://h:1\"],"
                     "\"jmx_port\":-1,\"port\":1,\"host\":\"h\",\"version\":4,\"timestamp\":\"2\"}";
    assert_int_equal(zk_broker_info_decode(v4, strlen(v4), &b, &e), 0);
    assert_int_equal(b.version, 4);
    char *out;
    assert_int_equal(zk_broker_info_encode(&b, &out, NULL), 0);
    assert_string_equal(out, v4);
    ferry_free(out);
    zk_broker_info_free(&b);
}

static void test_controller_and_epoch(void **state)
{
    (void)state;
    zk_controller c;
    assert_int_equal(zk_controller_decode(G_CONTROLLER, strlen(G_CONTROLLER), &c, NULL), 0);
    assert_int_equal(c.broker_id, 1);
    assert_int_equal(c.timestamp, 1712345678901LL);
    assert_true(c.has_kraft_controller_epoch);
    assert_int_equal(c.kraft_controller_epoch, -1);
    assert_int_equal(zk_controller_decode(G_CONTROLLER_V1, strlen(G_CONTROLLER_V1), &c, NULL), 0);
    assert_false(c.has_kraft_controller_epoch);
    assert_int_equal(c.kraft_controller_epoch, -1);

    int32_t ep;
    assert_int_equal(zk_controller_epoch_decode("42", 2, &ep, NULL), 0);
    assert_int_equal(ep, 42);
    /* not NUL-terminated: only len bytes count */
    assert_int_equal(zk_controller_epoch_decode("7xyz", 1, &ep, NULL), 0);
    assert_int_equal(ep, 7);
    zk_err e = {{0}};
    assert_int_equal(zk_controller_epoch_decode("", 0, &ep, &e), FERRY_EPARSE);
    assert_int_equal(zk_controller_epoch_decode(" 5", 2, &ep, &e), FERRY_EPARSE);
    assert_int_equal(zk_controller_epoch_decode("5\n", 2, &ep, &e), FERRY_EPARSE);
    assert_int_equal(zk_controller_epoch_decode("{\"a\":1}", 7, &ep, &e), FERRY_EPARSE);
    assert_int_equal(zk_controller_epoch_decode("2147483648", 10, &ep, &e), FERRY_ERANGE);
    assert_non_null(strstr(e.msg, "controller_epoch"));
    assert_int_equal(zk_controller_epoch_decode("99999999999999999999999", 23, &ep, &e), FERRY_ERANGE);
}

static void test_topic_fields(void **state)
{
    (void)state;
    zk_topic_assignment t;
    assert_int_equal(zk_topic_assignment_decode(G_TOPIC_REASSIGN, strlen(G_TOPIC_REASSIGN), &t, NULL), 0);
    assert_int_equal(t.version, 3);
    assert_int_equal(t.n_partitions, 1);
    assert_int_equal(t.partitions[0].n_replicas, 4);
    assert_int_equal(t.partitions[0].replicas[3], 4);
    assert_int_equal(t.n_adding, 1);
    assert_int_equal(t.adding[0].replicas[0], 4);
    assert_int_equal(t.n_removing, 1);
    assert_int_equal(t.removing[0].replicas[0], 1);
    assert_true(t.has_topic_id);
    char b[PROTO_UUID_B64_LEN + 1];
    proto_uuid_to_base64(t.topic_id, b);
    assert_string_equal(b, "q2mT0lT5QjWcT7d3bZ0s8A");
    zk_topic_assignment_free(&t);

    /* absent keys mean empty; no topic_id (IBP < 2.8) */
    const char *old = "{\"version\":1,\"partitions\":{\"10\":[1],\"2\":[]}}";
    assert_int_equal(zk_topic_assignment_decode(old, strlen(old), &t, NULL), 0);
    assert_int_equal(t.n_partitions, 2);
    assert_int_equal(t.partitions[0].partition, 10);
    assert_int_equal(t.partitions[1].n_replicas, 0);
    assert_int_equal(t.n_adding, 0);
    assert_false(t.has_topic_id);
    char *out;
    assert_int_equal(zk_topic_assignment_encode(&t, &out, NULL), 0);
    assert_string_equal(out, old);
    ferry_free(out);
    zk_topic_assignment_free(&t);

    zk_partition_state s;
    assert_int_equal(zk_partition_state_decode(G_STATE, strlen(G_STATE), &s, NULL), 0);
    assert_int_equal(s.controller_epoch, 7);
    assert_int_equal(s.leader, 1);
    assert_int_equal(s.leader_epoch, 4);
    assert_int_equal(s.n_isr, 3);
    assert_int_equal(s.isr[2], 3);
    assert_int_equal(s.leader_recovery_state, 0);
    zk_partition_state_free(&s);
    /* leader_recovery_state 0 reads as 0 and is not written back, as Java does */
    const char *zero = "{\"controller_epoch\":7,\"leader\":-1,\"version\":1,\"leader_epoch\":4,\"isr\":[3],"
                       "\"leader_recovery_state\":0}";
    assert_int_equal(zk_partition_state_decode(zero, strlen(zero), &s, NULL), 0);
    assert_int_equal(s.leader, -1);
    assert_int_equal(zk_partition_state_encode(&s, &out, NULL), 0);
    assert_string_equal(out, "{\"controller_epoch\":7,\"leader\":-1,\"version\":1,\"leader_epoch\":4,\"isr\":[3]}");
    ferry_free(out);
    zk_partition_state_free(&s);
}

static void test_misc_fields(void **state)
{
    (void)state;
    zk_config_entity c;
    assert_int_equal(zk_config_entity_decode(G_CONFIG, strlen(G_CONFIG), &c, NULL), 0);
    assert_string_equal(zk_str_map_get(&c.config, "retention.ms"), "86400000");
    assert_null(zk_str_map_get(&c.config, "x"));
    zk_config_entity_free(&c);

    zk_config_change ch;
    assert_int_equal(zk_config_change_decode(G_CHANGE, strlen(G_CHANGE), &ch, NULL), 0);
    assert_string_equal(ch.entity_path, "topics/orders");
    zk_config_change_free(&ch);
    assert_int_equal(zk_config_change_decode(G_CHANGE_V1, strlen(G_CHANGE_V1), &ch, NULL), 0);
    assert_string_equal(ch.entity_type, "topics");
    assert_string_equal(ch.entity_name, "orders");
    assert_null(ch.entity_path);
    zk_config_change_free(&ch);

    int64_t seq;
    assert_int_equal(zk_sequential_parse("config_change_", "config_change_0000000042", &seq), 0);
    assert_int_equal(seq, 42);
    assert_int_equal(zk_sequential_parse("config_change_", "config_change_42", &seq), FERRY_EPARSE);
    assert_int_equal(zk_sequential_parse("config_change_", "isr_change_0000000042", &seq), FERRY_EPARSE);
    assert_int_equal(zk_sequential_parse("config_change_", "config_change_00000000x2", &seq), FERRY_EPARSE);
    assert_int_equal(zk_sequential_parse("config_change_", "config_change_-000000042", &seq), FERRY_EPARSE);

    assert_true(zk_topic_name_valid("orders"));
    assert_true(zk_topic_name_valid("a.b_c-D9"));
    assert_false(zk_topic_name_valid(""));
    assert_false(zk_topic_name_valid("."));
    assert_false(zk_topic_name_valid(".."));
    assert_false(zk_topic_name_valid("a/b"));
    assert_false(zk_topic_name_valid("a b"));
    char longname[251];
    memset(longname, 'a', 250);
    longname[250] = 0;
    assert_false(zk_topic_name_valid(longname));
    longname[249] = 0;
    assert_true(zk_topic_name_valid(longname));

    zk_cluster_id id;
    assert_int_equal(zk_cluster_id_decode(G_CLUSTER, strlen(G_CLUSTER), &id, NULL), 0);
    assert_string_equal(id.id, "Xy3kP0q9R2ejQ0aB1cD2eA");
    zk_cluster_id_free(&id);

    zk_feature_znode f;
    assert_int_equal(zk_feature_decode(G_FEATURE_MV, strlen(G_FEATURE_MV), &f, NULL), 0);
    assert_int_equal(f.version, 2);
    assert_int_equal(f.status, 1);
    assert_int_equal(f.n_features, 1);
    assert_string_equal(f.features[0].name, "metadata.version");
    assert_int_equal(f.features[0].max_version_level, 19);
    zk_feature_free(&f);
    const char *v1 = "{\"features\":{\"x\":{\"min_version_level\":1,\"max_version_level\":2}},\"version\":1,\"status\":0}";
    char *out;
    assert_int_equal(zk_feature_decode(v1, strlen(v1), &f, NULL), 0);
    assert_int_equal(zk_feature_encode(&f, &out, NULL), 0);
    assert_string_equal(out, v1);
    ferry_free(out);
    zk_feature_free(&f);

    zk_producer_id_block p;
    assert_int_equal(zk_producer_id_block_decode(G_PID, strlen(G_PID), &p, NULL), 0);
    assert_int_equal(p.broker, 2);
    assert_int_equal(p.block_start, 5000);
    assert_int_equal(p.block_end, 5999);

    zk_migration_state m;
    assert_int_equal(zk_migration_decode(G_MIGRATION, strlen(G_MIGRATION), &m, NULL), 0);
    assert_int_equal(m.kraft_controller_id, 3000);
    assert_int_equal(m.kraft_metadata_offset, 123456);

    int32_t bid;
    assert_int_equal(zk_seqid_broker_id(1, ZK_RESERVED_BROKER_MAX_ID, &bid), 0);
    assert_int_equal(bid, 1001);
    assert_int_equal(zk_seqid_broker_id(INT32_MAX, ZK_RESERVED_BROKER_MAX_ID, &bid), FERRY_ERANGE);
}

static void test_endpoints(void **state)
{
    (void)state;
    zk_endpoint ep;
    assert_int_equal(zk_endpoint_parse("PLAINTEXT://b1:9092", &ep), 0);
    assert_string_equal(ep.listener, "PLAINTEXT");
    assert_string_equal(ep.host, "b1");
    assert_int_equal(ep.port, 9092);
    zk_endpoint_free(&ep);
    assert_int_equal(zk_endpoint_parse("CLIENT://[::1]:9093", &ep), 0);
    assert_string_equal(ep.host, "::1");
    assert_int_equal(ep.port, 9093);
    zk_endpoint_free(&ep);
    assert_int_equal(zk_endpoint_parse("INTERNAL://:0", &ep), 0);
    assert_string_equal(ep.host, "");
    zk_endpoint_free(&ep);
    assert_int_equal(zk_endpoint_parse("b1:9092", &ep), FERRY_EPARSE);
    assert_int_equal(zk_endpoint_parse("://b1:9092", &ep), FERRY_EPARSE);
    assert_int_equal(zk_endpoint_parse("A://b1", &ep), FERRY_EPARSE);
    assert_int_equal(zk_endpoint_parse("A://b1:x", &ep), FERRY_EPARSE);
    assert_int_equal(zk_endpoint_parse("A://b 1:1", &ep), FERRY_EPARSE);
    assert_int_equal(zk_endpoint_parse("A://[::1:1", &ep), FERRY_EPARSE);
    assert_int_equal(zk_endpoint_parse("A://b1:65536", &ep), FERRY_ERANGE);
    assert_null(ep.listener);
    for (long n = 0; n < 10; n++) {
        ferry_alloc_fail_after(n);
        int rc = zk_endpoint_parse("PLAINTEXT://b1:9092", &ep);
        ferry_alloc_fail_after(-1);
        if (rc == 0) {
            zk_endpoint_free(&ep);
            break;
        }
        assert_int_equal(rc, FERRY_ENOMEM);
        assert_null(ep.listener);
    }
}

static const struct {
    rt_fn fn;
    const char *json;
    int rc;
    const char *msg; /* substring the error must contain */
} rejects[] = {
    /* malformed / truncated / not an object */
    {rt_broker, "", FERRY_EPARSE, "empty"},
    {rt_broker, "{", FERRY_EPARSE, "malformed"},
    {rt_controller, "{\"version\":2,\"brokerid\":1,\"timestamp\":\"17", FERRY_EPARSE, "malformed"},
    {rt_topic, "{\"version\":3,\"partitions\":{\"0\":[1,2", FERRY_EPARSE, "malformed"},
    {rt_state, "[1,2]", FERRY_EPARSE, "object"},
    {rt_state, G_STATE "x", FERRY_EPARSE, "malformed"},
    {rt_state, "{\"version\":1,\"version\":1}", FERRY_EPARSE, "malformed"},
    {rt_config, "null", FERRY_EPARSE, "malformed"},
    /* brokers: wrong types */
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":1712345678901}", FERRY_EPARSE, "timestamp"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":\"9092\","
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "port"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":\"5\",\"timestamp\":\"1\"}", FERRY_EPARSE, "version"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{\"A\":1},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "listener_security_protocol_map"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[1],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "endpoints[0]"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[\"b1:9092\"],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "endpoints[0]"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[\"A://h:99999\"],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_ERANGE, "endpoints[0]"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":\"x\",\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "endpoints"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":7,\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "host"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\",\"rack\":5}", FERRY_EPARSE, "rack"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":\"-1\",\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "jmx_port"},
    {rt_broker, "{\"features\":[],\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "features"},
    {rt_broker, "{\"features\":{\"f\":{\"min_version\":1}},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "features.\"f\".max_version"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"12a\"}", FERRY_EPARSE, "timestamp"},
    /* brokers: missing keys, versions, ranges */
    {rt_broker, "{\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "features: missing"},
    {rt_broker, "{\"features\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "listener_security_protocol_map: missing"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "endpoints: missing"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "port: missing"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"version\":5,\"timestamp\":\"1\"}", FERRY_EPARSE, "host: missing"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"timestamp\":\"1\"}", FERRY_EPARSE, "version: missing"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5}", FERRY_EPARSE, "timestamp: missing"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":6,\"timestamp\":\"1\"}", FERRY_EUNSUPPORTED, "version"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":70000,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\"}", FERRY_ERANGE, "port"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"99999999999999999999\"}", FERRY_ERANGE, "timestamp"},
    {rt_broker, "{\"features\":{},\"listener_security_protocol_map\":{},\"endpoints\":[],\"jmx_port\":-1,\"port\":9092,"
                "\"host\":\"b1\",\"version\":5,\"timestamp\":\"1\",\"x\":99999999999999999999999}", FERRY_EPARSE, "malformed"},
    /* controller */
    {rt_controller, "{\"version\":2,\"brokerid\":1,\"timestamp\":1712345678901}", FERRY_EPARSE, "timestamp"},
    {rt_controller, "{\"version\":2,\"brokerid\":\"1\",\"timestamp\":\"1\"}", FERRY_EPARSE, "brokerid"},
    {rt_controller, "{\"version\":2,\"timestamp\":\"1\"}", FERRY_EPARSE, "brokerid: missing"},
    {rt_controller, "{\"version\":2,\"brokerid\":1}", FERRY_EPARSE, "timestamp: missing"},
    {rt_controller, "{\"brokerid\":1,\"timestamp\":\"1\"}", FERRY_EPARSE, "version: missing"},
    {rt_controller, "{\"version\":3,\"brokerid\":1,\"timestamp\":\"1\"}", FERRY_EUNSUPPORTED, "version"},
    {rt_controller, "{\"version\":2,\"brokerid\":1,\"timestamp\":\"1\",\"kraftControllerEpoch\":\"5\"}", FERRY_EPARSE,
     "kraftControllerEpoch"},
    {rt_controller, "{\"version\":2,\"brokerid\":4294967296,\"timestamp\":\"1\"}", FERRY_ERANGE, "brokerid"},
    {rt_controller, "{\"version\":2,\"brokerid\":1.5,\"timestamp\":\"1\"}", FERRY_EPARSE, "brokerid"},
    /* topic assignment */
    {rt_topic, "{\"version\":3,\"partitions\":{\"x\":[1]}}", FERRY_EPARSE, "partitions.\"x\": partition key"},
    {rt_topic, "{\"version\":3,\"partitions\":{\"-1\":[1]}}", FERRY_EPARSE, "partition key"},
    {rt_topic, "{\"version\":3,\"partitions\":{\"01\":[1]}}", FERRY_EPARSE, "partition key"},
    {rt_topic, "{\"version\":3,\"partitions\":{\" 1\":[1]}}", FERRY_EPARSE, "partition key"},
    {rt_topic, "{\"version\":3,\"partitions\":{\"\":[1]}}", FERRY_EPARSE, "partition key"},
    {rt_topic, "{\"version\":3,\"partitions\":{\"2147483648\":[1]}}", FERRY_EPARSE, "partition key"},
    {rt_topic, "{\"version\":3,\"partitions\":{\"0\":[\"1\"]}}", FERRY_EPARSE, "partitions.\"0\"[0]"},
    {rt_topic, "{\"version\":3,\"partitions\":{\"0\":1}}", FERRY_EPARSE, "partitions.\"0\""},
    {rt_topic, "{\"version\":3,\"partitions\":{\"0\":[4294967296]}}", FERRY_ERANGE, "partitions.\"0\"[0]"},
    {rt_topic, "{\"version\":3,\"partitions\":[]}", FERRY_EPARSE, "partitions"},
    {rt_topic, "{\"version\":3}", FERRY_EPARSE, "partitions: missing"},
    {rt_topic, "{\"partitions\":{}}", FERRY_EPARSE, "version: missing"},
    {rt_topic, "{\"version\":4,\"partitions\":{}}", FERRY_EUNSUPPORTED, "version"},
    {rt_topic, "{\"version\":3,\"partitions\":{},\"adding_replicas\":[]}", FERRY_EPARSE, "adding_replicas"},
    {rt_topic, "{\"version\":3,\"partitions\":{},\"removing_replicas\":{\"a\":[]}}", FERRY_EPARSE, "removing_replicas"},
    {rt_topic, "{\"version\":3,\"partitions\":{},\"topic_id\":5}", FERRY_EPARSE, "topic_id"},
    {rt_topic, "{\"version\":3,\"partitions\":{},\"topic_id\":\"not-a-uuid\"}", FERRY_EPARSE, "topic_id"},
    /* partition state */
    {rt_state, "{\"controller_epoch\":\"7\",\"leader\":1,\"version\":1,\"leader_epoch\":4,\"isr\":[1]}", FERRY_EPARSE,
     "controller_epoch"},
    {rt_state, "{\"controller_epoch\":7,\"leader\":\"1\",\"version\":1,\"leader_epoch\":4,\"isr\":[1]}", FERRY_EPARSE, "leader"},
    {rt_state, "{\"controller_epoch\":7,\"leader\":1,\"version\":1,\"leader_epoch\":4,\"isr\":\"1\"}", FERRY_EPARSE, "isr"},
    {rt_state, "{\"controller_epoch\":7,\"leader\":1,\"version\":1,\"leader_epoch\":4,\"isr\":[true]}", FERRY_EPARSE, "isr[0]"},
    {rt_state, "{\"controller_epoch\":7,\"leader\":1,\"version\":1,\"isr\":[1]}", FERRY_EPARSE, "leader_epoch: missing"},
    {rt_state, "{\"controller_epoch\":7,\"version\":1,\"leader_epoch\":4,\"isr\":[1]}", FERRY_EPARSE, "leader: missing"},
    {rt_state, "{\"leader\":1,\"version\":1,\"leader_epoch\":4,\"isr\":[1]}", FERRY_EPARSE, "controller_epoch: missing"},
    {rt_state, "{\"controller_epoch\":7,\"leader\":1,\"version\":1,\"leader_epoch\":4}", FERRY_EPARSE, "isr: missing"},
    {rt_state, "{\"controller_epoch\":7,\"leader\":1,\"version\":2,\"leader_epoch\":4,\"isr\":[1]}", FERRY_EUNSUPPORTED, "version"},
    {rt_state, "{\"controller_epoch\":7,\"leader\":1,\"version\":1,\"leader_epoch\":4,\"isr\":[1],\"leader_recovery_state\":2}",
     FERRY_ERANGE, "leader_recovery_state"},
    {rt_state, "{\"controller_epoch\":7,\"leader\":1,\"version\":1,\"leader_epoch\":2147483648,\"isr\":[1]}", FERRY_ERANGE,
     "leader_epoch"},
    /* configs */
    {rt_config, "{\"version\":1,\"config\":{\"retention.ms\":86400000}}", FERRY_EPARSE, "config.\"retention.ms\""},
    {rt_config, "{\"version\":1,\"config\":{\"a\":null}}", FERRY_EPARSE, "config.\"a\""},
    {rt_config, "{\"version\":1}", FERRY_EPARSE, "config: missing"},
    {rt_config, "{\"config\":{}}", FERRY_EPARSE, "version: missing"},
    {rt_config, "{\"version\":2,\"config\":{}}", FERRY_EUNSUPPORTED, "version"},
    {rt_config, "{\"version\":1,\"config\":[]}", FERRY_EPARSE, "config"},
    {rt_change, "{\"version\":2}", FERRY_EPARSE, "entity_path: missing"},
    {rt_change, "{\"version\":2,\"entity_path\":5}", FERRY_EPARSE, "entity_path"},
    {rt_change, "{\"version\":2,\"entity_path\":\"\"}", FERRY_EPARSE, "entity_path"},
    {rt_change, "{\"version\":1,\"entity_type\":\"topics\"}", FERRY_EPARSE, "entity_name: missing"},
    {rt_change, "{\"version\":3,\"entity_path\":\"topics/a\"}", FERRY_EUNSUPPORTED, "version"},
    /* cluster id */
    {rt_cluster, "{\"version\":1,\"id\":\"Xy3kP0q9R2ejQ0aB1cD2eA\"}", FERRY_EPARSE, "version"},
    {rt_cluster, "{\"version\":\"2\",\"id\":\"Xy3kP0q9R2ejQ0aB1cD2eA\"}", FERRY_EUNSUPPORTED, "version"},
    {rt_cluster, "{\"version\":\"1\"}", FERRY_EPARSE, "id: missing"},
    {rt_cluster, "{\"version\":\"1\",\"id\":5}", FERRY_EPARSE, "id"},
    {rt_cluster, "{\"version\":\"1\",\"id\":\"\"}", FERRY_EPARSE, "id"},
    {rt_cluster, "{\"id\":\"x\"}", FERRY_EPARSE, "version: missing"},
    /* feature */
    {rt_feature, "{\"features\":{},\"version\":3,\"status\":1}", FERRY_EUNSUPPORTED, "version"},
    {rt_feature, "{\"features\":{},\"version\":2,\"status\":\"1\"}", FERRY_EPARSE, "status"},
    {rt_feature, "{\"features\":{},\"version\":2,\"status\":2}", FERRY_ERANGE, "status"},
    {rt_feature, "{\"features\":{},\"version\":2}", FERRY_EPARSE, "status: missing"},
    {rt_feature, "{\"version\":2,\"status\":1}", FERRY_EPARSE, "features: missing"},
    {rt_feature, "{\"features\":{\"a\":{}},\"version\":2,\"status\":1}", FERRY_EPARSE, "features.\"a\".max_version_level"},
    {rt_feature, "{\"features\":{\"a\":{\"max_version_level\":1}},\"version\":1,\"status\":1}", FERRY_EPARSE,
     "min_version_level"},
    {rt_feature, "{\"features\":{\"a\":{\"max_version_level\":\"1\"}},\"version\":2,\"status\":1}", FERRY_EPARSE,
     "max_version_level"},
    {rt_feature, "{\"features\":{\"a\":{\"max_version_level\":40000}},\"version\":2,\"status\":1}", FERRY_ERANGE,
     "max_version_level"},
    /* producer id block */
    {rt_pid, "{\"version\":1,\"broker\":2,\"block_start\":5000,\"block_end\":\"5999\"}", FERRY_EPARSE, "block_start"},
    {rt_pid, "{\"version\":1,\"broker\":2,\"block_start\":\"5000\",\"block_end\":5999}", FERRY_EPARSE, "block_end"},
    {rt_pid, "{\"version\":1,\"broker\":\"2\",\"block_start\":\"5000\",\"block_end\":\"5999\"}", FERRY_EPARSE, "broker"},
    {rt_pid, "{\"version\":1,\"block_start\":\"5000\",\"block_end\":\"5999\"}", FERRY_EPARSE, "broker: missing"},
    {rt_pid, "{\"version\":1,\"broker\":2,\"block_end\":\"5999\"}", FERRY_EPARSE, "block_start: missing"},
    {rt_pid, "{\"version\":1,\"broker\":2,\"block_start\":\"5000\"}", FERRY_EPARSE, "block_end: missing"},
    {rt_pid, "{\"version\":2,\"broker\":2,\"block_start\":\"5000\",\"block_end\":\"5999\"}", FERRY_EUNSUPPORTED, "version"},
    {rt_pid, "{\"version\":1,\"broker\":2,\"block_start\":\"5000\",\"block_end\":\"99999999999999999999\"}", FERRY_ERANGE,
     "block_end"},
    {rt_pid, "{\"version\":1,\"broker\":2,\"block_start\":\"5000\",\"block_end\":\"4999\"}", FERRY_ERANGE, "block_end"},
    {rt_pid, "{\"version\":1,\"broker\":2,\"block_start\":\"-1\",\"block_end\":\"5\"}", FERRY_ERANGE, "block_start"},
    {rt_pid, "{\"version\":1,\"broker\":2,\"block_start\":\"\",\"block_end\":\"5\"}", FERRY_EPARSE, "block_start"},
    /* migration */
    {rt_migration, "{\"version\":1,\"kraft_controller_id\":3000,\"kraft_controller_epoch\":5,\"kraft_metadata_offset\":1,"
                   "\"kraft_metadata_epoch\":5}", FERRY_EUNSUPPORTED, "version"},
    {rt_migration, "{\"version\":0,\"kraft_controller_id\":\"3000\",\"kraft_controller_epoch\":5,\"kraft_metadata_offset\":1,"
                   "\"kraft_metadata_epoch\":5}", FERRY_EPARSE, "kraft_controller_id"},
    {rt_migration, "{\"version\":0,\"kraft_controller_id\":3000,\"kraft_controller_epoch\":5,"
                   "\"kraft_metadata_epoch\":5}", FERRY_EPARSE, "kraft_metadata_offset: missing"},
    {rt_migration, "{\"version\":0,\"kraft_controller_id\":3000,\"kraft_metadata_offset\":1,"
                   "\"kraft_metadata_epoch\":5}", FERRY_EPARSE, "kraft_controller_epoch: missing"},
    {rt_migration, "{\"version\":0,\"kraft_controller_id\":3000,\"kraft_controller_epoch\":5,\"kraft_metadata_offset\":1}",
     FERRY_EPARSE, "kraft_metadata_epoch: missing"},
    {rt_migration, "{\"version\":0,\"kraft_controller_epoch\":5,\"kraft_metadata_offset\":1,\"kraft_metadata_epoch\":5}",
     FERRY_EPARSE, "kraft_controller_id: missing"},
};

static void test_rejections(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
        char *out = (char *)"untouched";
        zk_err e = {{0}};
        int rc = rejects[i].fn(rejects[i].json, strlen(rejects[i].json), &out, &e);
        if (rc != rejects[i].rc || !strstr(e.msg, rejects[i].msg))
            print_error("reject #%zu (%s): rc %d want %d, msg \"%s\" want \"%s\"\n", i, rejects[i].json, rc,
                        rejects[i].rc, e.msg, rejects[i].msg);
        assert_int_equal(rc, rejects[i].rc);
        assert_non_null(strstr(e.msg, rejects[i].msg));
        assert_null(out);
    }
}

/* Every truncation of every golden string is refused cleanly (no crash, no leak). */
static void test_truncations(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof goldens / sizeof goldens[0]; i++) {
        size_t n = strlen(goldens[i].json);
        if (goldens[i].fn == rt_epoch)
            continue;
        for (size_t cut = 0; cut < n; cut++) {
            char *out = NULL;
            int rc = goldens[i].fn(goldens[i].json, cut, &out, NULL);
            assert_int_equal(rc, FERRY_EPARSE);
            assert_null(out);
        }
    }
}

static void test_alloc_failures(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof goldens / sizeof goldens[0]; i++) {
        int rc = -1;
        long n;
        for (n = 0; n < 1000; n++) {
            char *out = NULL;
            ferry_alloc_fail_after(n);
            rc = goldens[i].fn(goldens[i].json, strlen(goldens[i].json), &out, NULL);
            ferry_alloc_fail_after(-1);
            if (rc == 0) {
                assert_string_equal(out, goldens[i].json);
                ferry_free(out);
                break;
            }
            assert_int_equal(rc, FERRY_ENOMEM);
            assert_null(out);
        }
        assert_int_equal(rc, 0);
    }
    /* the str_map helper on its own */
    for (long n = 0; n < 20; n++) {
        zk_str_map m = {0};
        ferry_alloc_fail_after(n);
        int a = zk_str_map_add(&m, "a", "1");
        int b = a ? a : zk_str_map_add(&m, "b", "2");
        ferry_alloc_fail_after(-1);
        zk_str_map_free(&m);
        if (!a && !b)
            break;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_round_trips), cmocka_unit_test(test_broker_fields),
        cmocka_unit_test(test_controller_and_epoch), cmocka_unit_test(test_topic_fields),
        cmocka_unit_test(test_misc_fields),         cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_truncations),         cmocka_unit_test(test_alloc_failures), cmocka_unit_test(test_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
