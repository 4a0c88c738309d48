/* Unit tests for zkmode/rpc/zkrpc.h: LeaderAndIsr, UpdateMetadata and StopReplica translated into metadata
 * records that are applied to a real md_image, the responses Kafka 3.7 sends, the epoch checks, idempotent
 * replays, and allocation failures that leave the broker state unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/metadata/md_delta.h"
#include "zkmode/rpc/zkrpc.h"

#include "golden/zkrpc_vectors.inc"

#define ME 1
#define MY_EPOCH 4096
#define INTS(...) (int32_t[]){__VA_ARGS__}, (int32_t)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t))
#define NO_INTS NULL, 0

static const proto_uuid ORDERS =
    {{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01}};
static const proto_uuid ORDERS2 =
    {{0x21, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x02}};
static const proto_uuid PAYMENTS =
    {{0x31, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x03}};

struct fixture {
    struct md_image img;
    struct md_delta delta;
    struct zkrpc_broker b;
    struct zkrpc_result res;
    int64_t offset;
};

static int setup(void **state)
{
    static struct fixture f;
    md_image_init(&f.img);
    md_delta_init(&f.delta);
    zkrpc_broker_init(&f.b, ME, MY_EPOCH);
    zkrpc_result_init(&f.res);
    f.offset = 0;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    zkrpc_result_free(&f->res);
    zkrpc_broker_free(&f->b);
    md_delta_free(&f->delta);
    md_image_free(&f->img);
    return 0;
}

/* Applies every record of the last result; every one must apply. Returns the record count. */
static size_t apply(struct fixture *f)
{
    md_delta_reset(&f->delta);
    for (size_t i = 0; i < f->res.nrecords; i++) {
        const struct zkrpc_record *r = &f->res.records[i];
        int rc = md_image_apply(&f->img, r->m, r->data, f->offset++, &f->delta);
        if (rc)
            fail_msg("record %zu (%s) failed to apply: %d", i, r->m->name, rc);
    }
    return f->res.nrecords;
}

static void reset(struct fixture *f)
{
    zkrpc_result_free(&f->res);
}

static void ints_are(const struct md_ints *l, const int32_t *want, int32_t n)
{
    assert_int_equal(l->n, n);
    for (int32_t i = 0; i < n; i++)
        assert_int_equal(l->v[i], want[i]);
}

static const struct md_partition *part(const struct fixture *f, const char *topic, int32_t p)
{
    const struct md_topic *t = md_image_topic(&f->img, topic);
    assert_non_null(t);
    return md_topic_partition(t, p);
}

/* ---- request builders ---- */

typedef struct LeaderAndIsrRequest_LeaderAndIsrPartitionState lisr_ps;

static lisr_ps lps(int32_t index, int32_t leader, int32_t leader_epoch, int32_t partition_epoch, int32_t *replicas,
                   int32_t nreplicas, int32_t *isr, int32_t nisr)
{
    return (lisr_ps){.PartitionIndex = index, .ControllerEpoch = 5, .Leader = leader, .LeaderEpoch = leader_epoch,
                     .Isr = isr, .Isr_n = nisr, .PartitionEpoch = partition_epoch, .Replicas = replicas,
                     .Replicas_n = nreplicas};
}

static struct LeaderAndIsrRequest lisr(int32_t controller_epoch, int64_t broker_epoch,
                                       struct LeaderAndIsrRequest_LeaderAndIsrTopicState *topics, int32_t ntopics)
{
    return (struct LeaderAndIsrRequest){.ControllerId = 2, .ControllerEpoch = controller_epoch,
                                        .BrokerEpoch = broker_epoch, .TopicStates = topics, .TopicStates_n = ntopics};
}

static const struct LeaderAndIsrResponse *lisr_resp(const struct fixture *f)
{
    assert_ptr_equal(f->res.response_m, &proto_msg_LeaderAndIsrResponse);
    return f->res.response;
}

/* Two partitions of orders on brokers 1 and 2: 0 led by 1, 1 led by 2. */
static lisr_ps orders_parts[2];
static struct LeaderAndIsrRequest_LeaderAndIsrTopicState orders_topic[1];

static struct LeaderAndIsrRequest orders_lisr(int32_t leader_epoch)
{
    static int32_t r12[] = {1, 2}, r21[] = {2, 1}, i12[] = {1, 2}, i2[] = {2};
    orders_parts[0] = lps(0, 1, leader_epoch, 10 + leader_epoch, r12, 2, i12, 2);
    orders_parts[1] = lps(1, 2, leader_epoch, 20 + leader_epoch, r21, 2, i2, 1);
    orders_topic[0] = (struct LeaderAndIsrRequest_LeaderAndIsrTopicState){
        proto_str_from("orders"), ORDERS, orders_parts, 2};
    return lisr(5, MY_EPOCH, orders_topic, 1);
}

static void host_orders(struct fixture *f, int32_t leader_epoch)
{
    struct LeaderAndIsrRequest req = orders_lisr(leader_epoch);
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    apply(f);
    reset(f);
}

/* ---- LeaderAndIsr ---- */

static void test_lisr_creates_topic_and_partitions(void **state)
{
    struct fixture *f = *state;
    struct LeaderAndIsrRequest req = orders_lisr(3);
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    const struct LeaderAndIsrResponse *r = lisr_resp(f);
    assert_int_equal(r->ErrorCode, KERR_NONE);
    assert_int_equal(r->Topics_n, 1);
    assert_true(proto_uuid_eq(r->Topics[0].TopicId, ORDERS));
    assert_int_equal(r->Topics[0].PartitionErrors_n, 2);
    assert_int_equal(r->Topics[0].PartitionErrors[0].ErrorCode, KERR_NONE);
    assert_int_equal(r->Topics[0].PartitionErrors[1].PartitionIndex, 1);
    assert_int_equal(r->Topics[0].PartitionErrors[1].ErrorCode, KERR_NONE);
    assert_int_equal(apply(f), 3); /* TopicRecord + 2 PartitionRecords */
    /* both partitions start (their fetchers, should a StopReplica have stopped them) */
    assert_int_equal(f->res.nstarts, 2);
    assert_int_equal(f->res.starts[1].partition, 1);
    assert_memory_equal(f->res.starts[1].topic.p, "orders", 6);
    const struct md_topic *t = md_image_topic(&f->img, "orders");
    assert_non_null(t);
    assert_true(proto_uuid_eq(t->id, ORDERS));
    assert_int_equal(t->nparts, 2);
    const struct md_partition *p = part(f, "orders", 0);
    assert_int_equal(p->leader, 1);
    assert_int_equal(p->leader_epoch, 3);
    assert_int_equal(p->partition_epoch, 13);
    ints_are(&p->replicas, INTS(1, 2));
    ints_are(&p->isr, INTS(1, 2));
    p = part(f, "orders", 1);
    assert_int_equal(p->leader, 2);
    assert_int_equal(p->partition_epoch, 23);
    ints_are(&p->isr, INTS(2));
    const struct md_topic_change *tc = md_delta_topic(&f->delta, ORDERS);
    assert_non_null(tc);
    assert_true(tc->created);
    assert_int_equal(md_topic_change_kind(tc, 1), MD_PART_CREATED);
    assert_int_equal(f->b.controller_epoch, 5);
    assert_int_equal(zkrpc_hosted_leader_epoch(&f->b, "orders", 0), 3);
    assert_int_equal(zkrpc_hosted_leader_epoch(&f->b, "orders", 1), 3);
    assert_int_equal(zkrpc_hosted_leader_epoch(&f->b, "orders", 2), -1);
    reset(f);

    /* Replaying the same request changes nothing: the leader epoch is not newer. */
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    r = lisr_resp(f);
    assert_int_equal(r->ErrorCode, KERR_NONE);
    assert_int_equal(r->Topics[0].PartitionErrors[0].ErrorCode, KERR_STALE_CONTROLLER_EPOCH);
    assert_int_equal(r->Topics[0].PartitionErrors[1].ErrorCode, KERR_STALE_CONTROLLER_EPOCH);
    assert_int_equal(apply(f), 0);
    assert_int_equal(f->res.nstarts, 0); /* a refused partition does not start */
    reset(f);

    /* A newer leader epoch is a change of an existing partition (no TopicRecord). */
    req = orders_lisr(4);
    orders_parts[0].Leader = 2;
    orders_parts[0].Isr_n = 1;
    orders_parts[0].Isr = (int32_t[]){2};
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    assert_int_equal(apply(f), 2);
    p = part(f, "orders", 0);
    assert_int_equal(p->leader, 2);
    assert_int_equal(p->leader_epoch, 4);
    ints_are(&p->isr, INTS(2));
    tc = md_delta_topic(&f->delta, ORDERS);
    assert_false(tc->created);
    assert_int_equal(md_topic_change_kind(tc, 0), MD_PART_CHANGED);
}

/* UpdateMetadata first (as on broker startup), then LeaderAndIsr with the same leader epoch: accepted,
 * because the hosted epoch, not the image's, is what it is checked against. */
static void test_lisr_after_update_metadata_same_epoch(void **state)
{
    struct fixture *f = *state;
    struct UpdateMetadataRequest_UpdateMetadataPartitionState ps[] = {
        {.PartitionIndex = 0, .Leader = 1, .LeaderEpoch = 3, .Isr = (int32_t[]){1, 2}, .Isr_n = 2, .ZkVersion = 13,
         .Replicas = (int32_t[]){1, 2}, .Replicas_n = 2}};
    struct UpdateMetadataRequest_UpdateMetadataTopicState ts[] = {{proto_str_from("orders"), ORDERS, ps, 1}};
    struct UpdateMetadataRequest umr = {.ControllerId = 2, .ControllerEpoch = 5, .BrokerEpoch = MY_EPOCH,
                                        .TopicStates = ts, .TopicStates_n = 1};
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &umr, &f->res), 0);
    assert_int_equal(apply(f), 2);
    reset(f);
    struct LeaderAndIsrRequest req = orders_lisr(3);
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    assert_int_equal(lisr_resp(f)->Topics[0].PartitionErrors[0].ErrorCode, KERR_NONE);
    assert_int_equal(apply(f), 2); /* no TopicRecord: the topic is known */
    /* the partition already in the image is listed as changed, so the data plane reacts */
    assert_int_equal(md_topic_change_kind(md_delta_topic(&f->delta, ORDERS), 0), MD_PART_CHANGED);
}

static void test_lisr_not_a_replica(void **state)
{
    struct fixture *f = *state;
    lisr_ps ps[] = {lps(0, 2, 1, 1, INTS(2, 3), INTS(2, 3))};
    struct LeaderAndIsrRequest_LeaderAndIsrTopicState ts[] = {{proto_str_from("orders"), ORDERS, ps, 1}};
    struct LeaderAndIsrRequest req = lisr(5, MY_EPOCH, ts, 1);
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    assert_int_equal(lisr_resp(f)->Topics[0].PartitionErrors[0].ErrorCode, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(apply(f), 0);
    assert_int_equal(zkrpc_hosted_leader_epoch(&f->b, "orders", 0), -1);
}

static void test_lisr_stale_epochs(void **state)
{
    struct fixture *f = *state;
    host_orders(f, 3);
    /* an older controller epoch: the whole request, every partition */
    struct LeaderAndIsrRequest req = orders_lisr(9);
    req.ControllerEpoch = 4;
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    const struct LeaderAndIsrResponse *r = lisr_resp(f);
    assert_int_equal(r->ErrorCode, KERR_STALE_CONTROLLER_EPOCH);
    assert_int_equal(r->Topics[0].PartitionErrors[0].ErrorCode, KERR_STALE_CONTROLLER_EPOCH);
    assert_int_equal(r->Topics[0].PartitionErrors[1].ErrorCode, KERR_STALE_CONTROLLER_EPOCH);
    assert_int_equal(apply(f), 0);
    assert_int_equal(f->b.controller_epoch, 5);
    reset(f);
    /* an older broker epoch (a request meant for this broker's previous life) */
    req = orders_lisr(9);
    req.BrokerEpoch = MY_EPOCH - 1;
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    r = lisr_resp(f);
    assert_int_equal(r->ErrorCode, KERR_STALE_BROKER_EPOCH);
    assert_int_equal(r->Topics[0].PartitionErrors[1].ErrorCode, KERR_STALE_BROKER_EPOCH);
    assert_int_equal(apply(f), 0);
    reset(f);
    /* an older leader epoch for one partition, a newer one for the other */
    req = orders_lisr(2);
    orders_parts[1].LeaderEpoch = 4;
    req.ControllerEpoch = 6;
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    r = lisr_resp(f);
    assert_int_equal(r->ErrorCode, KERR_NONE);
    assert_int_equal(r->Topics[0].PartitionErrors[0].ErrorCode, KERR_STALE_CONTROLLER_EPOCH);
    assert_int_equal(r->Topics[0].PartitionErrors[1].ErrorCode, KERR_NONE);
    assert_int_equal(apply(f), 1);
    assert_int_equal(f->res.nstarts, 1);
    assert_int_equal(f->res.starts[0].partition, 1);
    assert_int_equal(part(f, "orders", 0)->leader_epoch, 3);
    assert_int_equal(part(f, "orders", 1)->leader_epoch, 4);
    assert_int_equal(f->b.controller_epoch, 6);
    reset(f);
    /* the same leader epoch from a KRaft controller (migration) is accepted; the broker epoch -1 is not checked */
    req = orders_lisr(3);
    req.ControllerEpoch = 6;
    req.isKRaftController = true;
    req.BrokerEpoch = -1;
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    r = lisr_resp(f);
    assert_int_equal(r->Topics[0].PartitionErrors[0].ErrorCode, KERR_NONE);
    assert_int_equal(r->Topics[0].PartitionErrors[1].ErrorCode, KERR_STALE_CONTROLLER_EPOCH); /* 3 < 4 */
    assert_int_equal(apply(f), 1);
}

static void test_lisr_topic_ids(void **state)
{
    struct fixture *f = *state;
    host_orders(f, 3);
    /* another id for a hosted partition */
    struct LeaderAndIsrRequest req = orders_lisr(7);
    orders_topic[0].TopicId = ORDERS2;
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    assert_int_equal(lisr_resp(f)->Topics[0].PartitionErrors[0].ErrorCode, KERR_INCONSISTENT_TOPIC_ID);
    assert_int_equal(apply(f), 0);
    reset(f);
    /* v4 has no topic ids: a known topic is used as it is, an unknown one cannot enter the image */
    lisr_ps ps[] = {lps(2, 1, 0, 0, INTS(1), INTS(1))};
    lisr_ps ps2[] = {lps(0, 1, 0, 0, INTS(1), INTS(1))};
    struct LeaderAndIsrRequest_LeaderAndIsrTopicState ts[] = {{proto_str_from("orders"), {{0}}, ps, 1},
                                                             {proto_str_from("payments"), {{0}}, ps2, 1}};
    req = lisr(5, MY_EPOCH, ts, 2);
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 4, &req, &f->res), 0);
    const struct LeaderAndIsrResponse *r = lisr_resp(f);
    assert_int_equal(r->PartitionErrors_n, 2);
    assert_true(proto_str_eq(r->PartitionErrors[0].TopicName, "orders"));
    assert_int_equal(r->PartitionErrors[0].PartitionIndex, 2);
    assert_int_equal(r->PartitionErrors[0].ErrorCode, KERR_NONE);
    assert_true(proto_str_eq(r->PartitionErrors[1].TopicName, "payments"));
    assert_int_equal(r->PartitionErrors[1].ErrorCode, KERR_UNKNOWN_TOPIC_ID);
    assert_int_equal(apply(f), 1);
    assert_int_equal(md_image_topic(&f->img, "orders")->nparts, 3);
    assert_null(md_image_topic(&f->img, "payments"));
    reset(f);
    /* v0-1: ungrouped states, each naming its topic */
    lisr_ps ungrouped[] = {lps(3, 1, 0, 0, INTS(1), INTS(1)), lps(4, 1, 0, 0, INTS(1), INTS(1))};
    ungrouped[0].TopicName = ungrouped[1].TopicName = proto_str_from("orders");
    req = (struct LeaderAndIsrRequest){.ControllerEpoch = 5, .BrokerEpoch = -1,
                                       .UngroupedPartitionStates = ungrouped, .UngroupedPartitionStates_n = 2};
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 1, &req, &f->res), 0);
    r = lisr_resp(f);
    assert_int_equal(r->PartitionErrors_n, 2);
    assert_int_equal(r->PartitionErrors[1].PartitionIndex, 4);
    assert_int_equal(r->PartitionErrors[1].ErrorCode, KERR_NONE);
    assert_int_equal(apply(f), 2);
    assert_int_equal(md_image_topic(&f->img, "orders")->nparts, 5);
}

/* Hostile partition indexes and names get an error (or are skipped) and never reach the image. */
static void test_invalid_partitions(void **state)
{
    struct fixture *f = *state;
    lisr_ps ps[] = {lps(-1, 1, 1, 1, INTS(1), INTS(1)), lps(1 << 24, 1, 1, 1, INTS(1), INTS(1))};
    lisr_ps ps2[] = {lps(0, 1, 1, 1, INTS(1), INTS(1))};
    struct LeaderAndIsrRequest_LeaderAndIsrTopicState ts[] = {{proto_str_from("orders"), ORDERS, ps, 2},
                                                             {proto_str_from(""), PAYMENTS, ps2, 1}};
    struct LeaderAndIsrRequest req = lisr(5, MY_EPOCH, ts, 2);
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    const struct LeaderAndIsrResponse *r = lisr_resp(f);
    assert_int_equal(r->Topics[0].PartitionErrors[0].ErrorCode, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(r->Topics[0].PartitionErrors[1].ErrorCode, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(r->Topics[1].PartitionErrors[0].ErrorCode, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(apply(f), 0);
    assert_int_equal(f->b.nhosted, 0);
    reset(f);
    struct UpdateMetadataRequest_UpdateMetadataPartitionState ups[] = {
        {.PartitionIndex = -3, .Leader = 1, .Isr = (int32_t[]){1}, .Isr_n = 1, .Replicas = (int32_t[]){1},
         .Replicas_n = 1}};
    struct UpdateMetadataRequest_UpdateMetadataTopicState uts[] = {{proto_str_from("orders"), ORDERS, ups, 1},
                                                                   {proto_str_from(""), PAYMENTS, ups, 1}};
    struct UpdateMetadataRequest umr_req = {.ControllerEpoch = 5, .BrokerEpoch = -1, .TopicStates = uts,
                                            .TopicStates_n = 2};
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &umr_req, &f->res), 0);
    assert_int_equal(apply(f), 0);
}

/* ---- UpdateMetadata ---- */

static struct UpdateMetadataRequest_UpdateMetadataEndpoint ep1[] = {
    {9092, {"h1", 2}, {"PLAINTEXT", 9}, 0}, {9093, {"h1", 2}, {"INTERNAL", 8}, 1}};
static struct UpdateMetadataRequest_UpdateMetadataEndpoint ep2[] = {{9092, {"h2", 2}, {"PLAINTEXT", 9}, 0}};

static struct UpdateMetadataRequest umr(struct UpdateMetadataRequest_UpdateMetadataBroker *live, int32_t nlive,
                                        struct UpdateMetadataRequest_UpdateMetadataTopicState *ts, int32_t nts)
{
    return (struct UpdateMetadataRequest){.ControllerId = 2, .ControllerEpoch = 5, .BrokerEpoch = MY_EPOCH,
                                          .TopicStates = ts, .TopicStates_n = nts, .LiveBrokers = live,
                                          .LiveBrokers_n = nlive};
}

static void test_umr_brokers(void **state)
{
    struct fixture *f = *state;
    struct UpdateMetadataRequest_UpdateMetadataBroker live[] = {
        {.Id = 1, .Endpoints = ep1, .Endpoints_n = 2, .Rack = {"rack-a", 6}},
        {.Id = 2, .Endpoints = ep2, .Endpoints_n = 1, .Rack = {NULL, -1}}};
    struct UpdateMetadataRequest req = umr(live, 2, NULL, 0);
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(((const struct UpdateMetadataResponse *)f->res.response)->ErrorCode, KERR_NONE);
    assert_int_equal(apply(f), 2);
    const struct md_broker *b1 = md_image_broker(&f->img, 1), *b2 = md_image_broker(&f->img, 2);
    assert_non_null(b1);
    assert_non_null(b2);
    assert_int_equal(b1->epoch, MY_EPOCH);
    assert_false(b1->fenced);
    assert_string_equal(b1->rack, "rack-a");
    assert_int_equal(b1->nendpoints, 2);
    assert_string_equal(b1->endpoints[1].name, "INTERNAL");
    assert_string_equal(b1->endpoints[1].host, "h1");
    assert_int_equal(b1->endpoints[1].port, 9093);
    assert_int_equal(b1->endpoints[1].security_protocol, 1);
    assert_null(b2->rack);
    assert_false(b2->fenced);
    assert_int_equal(f->b.controller_id, 2);
    reset(f);
    /* replay: nothing */
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 0);
    reset(f);
    /* broker 2 leaves: fenced, kept */
    req.LiveBrokers_n = 1;
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 1);
    assert_true(md_image_broker(&f->img, 2)->fenced);
    assert_true(md_delta_broker_changed(&f->delta, 2));
    reset(f);
    /* back, same endpoints: unfenced */
    req.LiveBrokers_n = 2;
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 1);
    assert_false(md_image_broker(&f->img, 2)->fenced);
    reset(f);
    /* new port: registered again */
    ep2[0].Port = 19092;
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    ep2[0].Port = 9092;
    assert_int_equal(apply(f), 1);
    assert_int_equal(md_image_broker(&f->img, 2)->endpoints[0].port, 19092);
}

static void test_umr_v2_and_invalid_endpoint(void **state)
{
    struct fixture *f = *state;
    /* v1-2 have no listener name: it is the security protocol's */
    struct UpdateMetadataRequest_UpdateMetadataEndpoint ep[] = {{9094, {"h3", 2}, {NULL, 0}, 2}};
    struct UpdateMetadataRequest_UpdateMetadataBroker live[] = {{.Id = 3, .Endpoints = ep, .Endpoints_n = 1}};
    struct UpdateMetadataRequest req = umr(live, 1, NULL, 0);
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 2, &req, &f->res), 0);
    assert_int_equal(apply(f), 1);
    assert_string_equal(md_image_broker(&f->img, 3)->endpoints[0].name, "SASL_PLAINTEXT");
    reset(f);
    /* a port out of range: the request is refused whole, nothing changes */
    ep[0].Port = 70000;
    req.ControllerEpoch = 9;
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(((const struct UpdateMetadataResponse *)f->res.response)->ErrorCode, KERR_INVALID_REQUEST);
    assert_int_equal(apply(f), 0);
    assert_int_equal(f->b.controller_epoch, 5);
    reset(f);
    /* stale broker and controller epochs */
    ep[0].Port = 9094;
    req.BrokerEpoch = MY_EPOCH - 1;
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(((const struct UpdateMetadataResponse *)f->res.response)->ErrorCode, KERR_STALE_BROKER_EPOCH);
    reset(f);
    req.BrokerEpoch = MY_EPOCH;
    req.ControllerEpoch = 4;
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(((const struct UpdateMetadataResponse *)f->res.response)->ErrorCode,
                     KERR_STALE_CONTROLLER_EPOCH);
    assert_int_equal(apply(f), 0);
}

static void test_umr_partitions_and_deletion(void **state)
{
    struct fixture *f = *state;
    struct UpdateMetadataRequest_UpdateMetadataPartitionState ps[] = {
        {.PartitionIndex = 0, .Leader = 1, .LeaderEpoch = 3, .Isr = (int32_t[]){1, 2}, .Isr_n = 2, .ZkVersion = 13,
         .Replicas = (int32_t[]){1, 2}, .Replicas_n = 2},
        {.PartitionIndex = 1, .Leader = 2, .LeaderEpoch = 4, .Isr = (int32_t[]){2}, .Isr_n = 1, .ZkVersion = 9,
         .Replicas = (int32_t[]){2, 1}, .Replicas_n = 2}};
    struct UpdateMetadataRequest_UpdateMetadataPartitionState pay[] = {
        {.PartitionIndex = 0, .Leader = 3, .LeaderEpoch = 0, .Isr = (int32_t[]){3}, .Isr_n = 1, .ZkVersion = 0,
         .Replicas = (int32_t[]){3}, .Replicas_n = 1}};
    struct UpdateMetadataRequest_UpdateMetadataTopicState ts[] = {{proto_str_from("orders"), ORDERS, ps, 2},
                                                                  {proto_str_from("payments"), PAYMENTS, pay, 1}};
    struct UpdateMetadataRequest req = umr(NULL, 0, ts, 2);
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 5);
    assert_int_equal(part(f, "orders", 1)->partition_epoch, 9);
    assert_int_equal(part(f, "payments", 0)->leader, 3);
    reset(f);
    /* replay: nothing; one changed ISR: one record */
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 0);
    reset(f);
    ps[1].Isr = (int32_t[]){2, 1};
    ps[1].Isr_n = 2;
    ps[1].ZkVersion = 10;
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 1);
    ints_are(&part(f, "orders", 1)->isr, INTS(2, 1));
    reset(f);
    /* only some partitions of orders marked deleted: the image keeps it */
    ps[0].Leader = ZKRPC_LEADER_DURING_DELETE;
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 0);
    assert_non_null(md_image_topic(&f->img, "orders"));
    reset(f);
    /* all of them: removed (payments stays) */
    ps[1].Leader = ZKRPC_LEADER_DURING_DELETE;
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 1);
    assert_null(md_image_topic(&f->img, "orders"));
    assert_non_null(md_image_topic(&f->img, "payments"));
    assert_int_equal(f->delta.ndeleted, 1);
    assert_int_equal(f->delta.deleted[0].partitions, 2);
    reset(f);
    /* and again: nothing */
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 0);
}

static void test_umr_recreated_topic(void **state)
{
    struct fixture *f = *state;
    host_orders(f, 3);
    /* orders has a new id: the old topic leaves the image, the new one enters it */
    struct UpdateMetadataRequest_UpdateMetadataPartitionState ps[] = {
        {.PartitionIndex = 0, .Leader = 2, .LeaderEpoch = 0, .Isr = (int32_t[]){2}, .Isr_n = 1, .ZkVersion = 0,
         .Replicas = (int32_t[]){2}, .Replicas_n = 1}};
    struct UpdateMetadataRequest_UpdateMetadataTopicState ts[] = {{proto_str_from("orders"), ORDERS2, ps, 1}};
    struct UpdateMetadataRequest req = umr(NULL, 0, ts, 1);
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 3);
    const struct md_topic *t = md_image_topic(&f->img, "orders");
    assert_true(proto_uuid_eq(t->id, ORDERS2));
    assert_int_equal(t->nparts, 1);
    assert_int_equal(f->delta.ndeleted, 1);
    assert_true(proto_uuid_eq(f->delta.deleted[0].id, ORDERS));
    assert_true(md_delta_topic(&f->delta, ORDERS2)->created);
    reset(f);
    /* an id that belongs to another name cannot be given to a second topic */
    struct UpdateMetadataRequest_UpdateMetadataTopicState clash[] = {{proto_str_from("refunds"), ORDERS2, ps, 1}};
    req = umr(NULL, 0, clash, 1);
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 0);
    assert_null(md_image_topic(&f->img, "refunds"));
}

/* One request deleting a topic (leader -2 under its old id) and carrying its new incarnation. */
static void test_umr_delete_and_recreate(void **state)
{
    struct fixture *f = *state;
    host_orders(f, 3);
    struct UpdateMetadataRequest_UpdateMetadataPartitionState fresh[] = {
        {.PartitionIndex = 0, .Leader = 2, .Isr = (int32_t[]){2}, .Isr_n = 1, .Replicas = (int32_t[]){2},
         .Replicas_n = 1}};
    struct UpdateMetadataRequest_UpdateMetadataPartitionState gone[] = {
        {.PartitionIndex = 0, .Leader = ZKRPC_LEADER_DURING_DELETE}, {.PartitionIndex = 1, .Leader = -2}};
    struct UpdateMetadataRequest_UpdateMetadataTopicState ts[] = {{proto_str_from("orders"), ORDERS2, fresh, 1},
                                                                  {proto_str_from("orders"), ORDERS, gone, 2}};
    struct UpdateMetadataRequest req = umr(NULL, 0, ts, 2);
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 3);
    assert_true(proto_uuid_eq(f->res.records[0].m == &proto_msg_RemoveTopicRecord
                                  ? ((const struct RemoveTopicRecord *)f->res.records[0].data)->TopicId
                                  : (proto_uuid){{0}},
                              ORDERS));
    const struct md_topic *t = md_image_topic(&f->img, "orders");
    assert_true(proto_uuid_eq(t->id, ORDERS2));
    assert_int_equal(t->nparts, 1);
    reset(f);
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 0);
}

/* A FULL UpdateMetadata from a KRaft controller (migration) drops the topics it does not list. */
static void test_umr_full_from_kraft(void **state)
{
    struct fixture *f = *state;
    host_orders(f, 3);
    struct UpdateMetadataRequest_UpdateMetadataPartitionState pay[] = {
        {.PartitionIndex = 0, .Leader = 3, .Isr = (int32_t[]){3}, .Isr_n = 1, .Replicas = (int32_t[]){3},
         .Replicas_n = 1}};
    struct UpdateMetadataRequest_UpdateMetadataTopicState ts[] = {{proto_str_from("payments"), PAYMENTS, pay, 1}};
    struct UpdateMetadataRequest req = umr(NULL, 0, ts, 1);
    req.isKRaftController = true;
    req.Type = 2;
    /* without migration enabled on this broker: not a full update */
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 2);
    assert_non_null(md_image_topic(&f->img, "orders"));
    assert_true(f->b.controller_is_kraft);
    reset(f);
    f->b.zk_migration_enabled = true;
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 1);
    assert_null(md_image_topic(&f->img, "orders"));
    assert_non_null(md_image_topic(&f->img, "payments"));
    reset(f);
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res), 0);
    assert_int_equal(apply(f), 0);
}

/* ---- StopReplica ---- */

static struct StopReplicaRequest stop(struct StopReplicaRequest_StopReplicaTopicState *ts, int32_t n)
{
    return (struct StopReplicaRequest){.ControllerId = 2, .ControllerEpoch = 5, .BrokerEpoch = MY_EPOCH,
                                       .TopicStates = ts, .TopicStates_n = n};
}

static const struct StopReplicaResponse *stop_resp(const struct fixture *f)
{
    assert_ptr_equal(f->res.response_m, &proto_msg_StopReplicaResponse);
    return f->res.response;
}

static void test_stop_topic_deletion(void **state)
{
    struct fixture *f = *state;
    host_orders(f, 3);
    struct StopReplicaRequest_StopReplicaPartitionState ps[] = {{0, ZKRPC_EPOCH_DURING_DELETE, true},
                                                                {1, ZKRPC_EPOCH_DURING_DELETE, true}};
    struct StopReplicaRequest_StopReplicaTopicState ts[] = {{proto_str_from("orders"), ps, 2}};
    struct StopReplicaRequest req = stop(ts, 1);
    assert_int_equal(zkrpc_stop_replica(&f->b, &f->img, 4, &req, &f->res), 0);
    const struct StopReplicaResponse *r = stop_resp(f);
    assert_int_equal(r->ErrorCode, KERR_NONE);
    assert_int_equal(r->PartitionErrors_n, 2);
    assert_true(proto_str_eq(r->PartitionErrors[1].TopicName, "orders"));
    assert_int_equal(r->PartitionErrors[1].ErrorCode, KERR_NONE);
    assert_int_equal(f->res.nstops, 2);
    assert_true(f->res.stops[0].del);
    assert_int_equal(apply(f), 1);
    assert_null(md_image_topic(&f->img, "orders"));
    assert_int_equal(f->b.nhosted, 0);
    reset(f);
    /* replay: stopped again (nothing hosted), no record */
    assert_int_equal(zkrpc_stop_replica(&f->b, &f->img, 4, &req, &f->res), 0);
    assert_int_equal(stop_resp(f)->PartitionErrors[0].ErrorCode, KERR_NONE);
    assert_int_equal(f->res.nstops, 2);
    assert_int_equal(apply(f), 0);
}

static void test_stop_replica_moved_away(void **state)
{
    struct fixture *f = *state;
    host_orders(f, 3);
    /* an older leader epoch is fenced; partition 0 (led by this broker) moves away */
    struct StopReplicaRequest_StopReplicaPartitionState ps[] = {{0, 3, true}, {1, 2, true}};
    struct StopReplicaRequest_StopReplicaTopicState ts[] = {{proto_str_from("orders"), ps, 2}};
    struct StopReplicaRequest req = stop(ts, 1);
    assert_int_equal(zkrpc_stop_replica(&f->b, &f->img, 4, &req, &f->res), 0);
    const struct StopReplicaResponse *r = stop_resp(f);
    assert_int_equal(r->PartitionErrors[0].ErrorCode, KERR_NONE);
    assert_int_equal(r->PartitionErrors[1].ErrorCode, KERR_FENCED_LEADER_EPOCH);
    assert_int_equal(f->res.nstops, 1);
    assert_int_equal(apply(f), 1);
    const struct md_partition *p = part(f, "orders", 0);
    ints_are(&p->replicas, INTS(2));
    ints_are(&p->isr, INTS(2));
    assert_int_equal(p->leader, MD_NO_LEADER);
    assert_int_equal(p->leader_epoch, 3);
    assert_int_equal(zkrpc_hosted_leader_epoch(&f->b, "orders", 0), -1);
    assert_int_equal(zkrpc_hosted_leader_epoch(&f->b, "orders", 1), 3);
    reset(f);
    /* without deletion: a stop action only */
    ps[1] = (struct StopReplicaRequest_StopReplicaPartitionState){1, 3, false};
    ts[0].PartitionStates = &ps[1];
    ts[0].PartitionStates_n = 1;
    assert_int_equal(zkrpc_stop_replica(&f->b, &f->img, 4, &req, &f->res), 0);
    assert_int_equal(f->res.nstops, 1);
    assert_false(f->res.stops[0].del);
    assert_int_equal(apply(f), 0);
    assert_int_equal(zkrpc_hosted_leader_epoch(&f->b, "orders", 1), 3);
    reset(f);
    /* stale epochs */
    req.ControllerEpoch = 4;
    assert_int_equal(zkrpc_stop_replica(&f->b, &f->img, 4, &req, &f->res), 0);
    assert_int_equal(stop_resp(f)->ErrorCode, KERR_STALE_CONTROLLER_EPOCH);
    assert_int_equal(stop_resp(f)->PartitionErrors_n, 0);
    assert_int_equal(f->res.nstops, 0);
    reset(f);
    req.ControllerEpoch = 5;
    req.BrokerEpoch = 1;
    assert_int_equal(zkrpc_stop_replica(&f->b, &f->img, 4, &req, &f->res), 0);
    assert_int_equal(stop_resp(f)->ErrorCode, KERR_STALE_BROKER_EPOCH);
}

static void test_stop_v1_layout(void **state)
{
    struct fixture *f = *state;
    host_orders(f, 3);
    struct StopReplicaRequest_StopReplicaTopicV1 topics[] = {{proto_str_from("orders"), (int32_t[]){1}, 1}};
    struct StopReplicaRequest req = {.ControllerId = 2, .ControllerEpoch = 5, .BrokerEpoch = -1,
                                     .DeletePartitions = true, .Topics = topics, .Topics_n = 1};
    assert_int_equal(zkrpc_stop_replica(&f->b, &f->img, 1, &req, &f->res), 0);
    assert_int_equal(stop_resp(f)->PartitionErrors_n, 1);
    assert_int_equal(stop_resp(f)->PartitionErrors[0].ErrorCode, KERR_NONE);
    assert_int_equal(apply(f), 1);
    ints_are(&part(f, "orders", 1)->replicas, INTS(2));
    assert_int_equal(part(f, "orders", 1)->leader, 2);
}

/* ---- from the wire: the golden request bodies, decoded, translated, the responses encoded and read back ---- */

/* Many topics and partitions in an order unlike the hosted table's (sorted by name, then partition): every
 * one becomes hosted at its epoch; a second request updating some and adding others, and a StopReplica
 * deleting every third, leave exactly the expected set, still sorted. */
#define MANY_TOPICS 40
#define MANY_PARTS 50

static void test_many_hosted_out_of_order(void **state)
{
    struct fixture *f = *state;
    static int32_t r12[] = {1, 2}, i12[] = {1, 2};
    static char names[MANY_TOPICS][16];
    static lisr_ps ps[MANY_TOPICS][MANY_PARTS];
    static struct LeaderAndIsrRequest_LeaderAndIsrTopicState ts[MANY_TOPICS];
    /* topics from the last name to the first, partitions odd ones descending then even ones ascending */
    for (int t = 0; t < MANY_TOPICS; t++) {
        int topic = MANY_TOPICS - 1 - t;
        snprintf(names[t], sizeof names[t], "many-%02d", topic);
        proto_uuid id = {{0x77, (uint8_t)topic}};
        for (int k = 0; k < MANY_PARTS; k++) {
            int32_t p = k < MANY_PARTS / 2 ? MANY_PARTS - 1 - 2 * k : 2 * (k - MANY_PARTS / 2);
            ps[t][k] = lps(p, 1, topic + p, 1, r12, 2, i12, 2);
        }
        ts[t] = (struct LeaderAndIsrRequest_LeaderAndIsrTopicState){proto_str_from(names[t]), id, ps[t], MANY_PARTS};
    }
    struct LeaderAndIsrRequest req = lisr(5, MY_EPOCH, ts, MANY_TOPICS);
    /* the first half of the topics first, then all of them at a newer epoch for the even partitions */
    req.TopicStates_n = MANY_TOPICS / 2;
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    apply(f);
    reset(f);
    assert_int_equal(f->b.nhosted, MANY_TOPICS / 2 * MANY_PARTS);
    for (int t = 0; t < MANY_TOPICS; t++)
        for (int k = 0; k < MANY_PARTS; k++)
            if (ps[t][k].PartitionIndex % 2 == 0)
                ps[t][k].LeaderEpoch += 100;
    req.TopicStates_n = MANY_TOPICS;
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res), 0);
    apply(f);
    reset(f);
    assert_int_equal(f->b.nhosted, MANY_TOPICS * MANY_PARTS);
    for (size_t i = 1; i < f->b.nhosted; i++) {
        int c = strcmp(f->b.hosted[i - 1].topic, f->b.hosted[i].topic);
        assert_true(c < 0 || (c == 0 && f->b.hosted[i - 1].partition < f->b.hosted[i].partition));
    }
    for (int topic = 0; topic < MANY_TOPICS; topic++) {
        char name[16];
        snprintf(name, sizeof name, "many-%02d", topic);
        for (int32_t p = 0; p < MANY_PARTS; p++)
            assert_int_equal(zkrpc_hosted_leader_epoch(&f->b, name, p), topic + p + (p % 2 == 0 ? 100 : 0));
    }
    /* StopReplica with deletion of every third partition of every topic, in request order */
    static struct StopReplicaRequest_StopReplicaPartitionState sps[MANY_TOPICS][MANY_PARTS];
    static struct StopReplicaRequest_StopReplicaTopicState sts[MANY_TOPICS];
    for (int t = 0; t < MANY_TOPICS; t++) {
        int n = 0;
        for (int k = 0; k < MANY_PARTS; k++)
            if (ps[t][k].PartitionIndex % 3 == 0)
                sps[t][n++] = (struct StopReplicaRequest_StopReplicaPartitionState){ps[t][k].PartitionIndex,
                                                                                    ps[t][k].LeaderEpoch + 1, true};
        sts[t] = (struct StopReplicaRequest_StopReplicaTopicState){proto_str_from(names[t]), sps[t], n};
    }
    struct StopReplicaRequest sreq = stop(sts, MANY_TOPICS);
    assert_int_equal(zkrpc_stop_replica(&f->b, &f->img, 4, &sreq, &f->res), 0);
    apply(f);
    reset(f);
    size_t kept = 0;
    for (int topic = 0; topic < MANY_TOPICS; topic++) {
        char name[16];
        snprintf(name, sizeof name, "many-%02d", topic);
        for (int32_t p = 0; p < MANY_PARTS; p++) {
            int32_t want = p % 3 == 0 ? -1 : topic + p + (p % 2 == 0 ? 100 : 0);
            assert_int_equal(zkrpc_hosted_leader_epoch(&f->b, name, p), want);
            kept += want >= 0;
        }
    }
    assert_int_equal(f->b.nhosted, kept);
}

static void *decode_golden(struct proto_arena *a, const char *name, const struct proto_message *m)
{
    for (size_t i = 0; i < sizeof zkrpc_goldens / sizeof zkrpc_goldens[0]; i++) {
        const struct zkrpc_golden *g = &zkrpc_goldens[i];
        if (strcmp(g->name, name) != 0)
            continue;
        void *msg = proto_arena_alloc(a, m->body->size);
        struct proto_reader r;
        proto_reader_init(&r, g->bytes, g->len);
        assert_int_equal(proto_decode(m, g->version, &r, a, msg), 0);
        return msg;
    }
    fail_msg("no golden vector %s", name);
    return NULL;
}

/* Encodes the result's response at version and decodes it again into a. */
static void *round_trip(struct fixture *f, struct proto_arena *a, int16_t version)
{
    struct proto_writer w;
    proto_writer_init(&w);
    assert_int_equal(proto_encode(f->res.response_m, version, &w, f->res.response), 0);
    size_t len = w.len;
    uint8_t *copy = proto_arena_alloc(a, len);
    memcpy(copy, w.buf, len);
    proto_writer_free(&w);
    void *msg = proto_arena_alloc(a, f->res.response_m->body->size);
    struct proto_reader r;
    proto_reader_init(&r, copy, len);
    assert_int_equal(proto_decode(f->res.response_m, version, &r, a, msg), 0);
    assert_int_equal(proto_reader_left(&r), 0);
    return msg;
}

static void test_golden_requests(void **state)
{
    struct fixture *f = *state;
    struct proto_arena a;
    proto_arena_init(&a);
    f->b.broker_epoch = 4294967301LL;
    /* LeaderAndIsr v7: orders 0 and 5 are this broker's (1), payments.eu 2 is not */
    const struct LeaderAndIsrRequest *lreq = decode_golden(&a, "leader_and_isr_req_v7", &proto_msg_LeaderAndIsrRequest);
    assert_int_equal(zkrpc_leader_and_isr(&f->b, &f->img, 7, lreq, &f->res), 0);
    assert_int_equal(apply(f), 3);
    const struct LeaderAndIsrResponse *lr = round_trip(f, &a, 7);
    assert_int_equal(lr->ErrorCode, KERR_NONE);
    assert_int_equal(lr->Topics_n, 2);
    assert_int_equal(lr->Topics[0].PartitionErrors[0].ErrorCode, KERR_NONE);
    assert_int_equal(lr->Topics[0].PartitionErrors[1].PartitionIndex, 5);
    assert_int_equal(lr->Topics[0].PartitionErrors[1].ErrorCode, KERR_NONE);
    assert_int_equal(lr->Topics[1].PartitionErrors[0].ErrorCode, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    const struct md_partition *p = part(f, "orders", 5);
    ints_are(&p->adding, INTS(4));
    ints_are(&p->removing, INTS(1));
    assert_int_equal(p->leader_recovery_state, 1);
    assert_int_equal(zkrpc_hosted_leader_epoch(&f->b, "orders", 0), 7);
    reset(f);
    /* UpdateMetadata v8: two live brokers, a new ISR for orders-0, a partial deletion (kept) */
    f->b.broker_epoch = 4294967302LL;
    const struct UpdateMetadataRequest *ureq = decode_golden(&a, "update_metadata_req_v8",
                                                             &proto_msg_UpdateMetadataRequest);
    assert_int_equal(zkrpc_update_metadata(&f->b, &f->img, 8, ureq, &f->res), 0);
    assert_int_equal(apply(f), 3);
    assert_int_equal(((const struct UpdateMetadataResponse *)round_trip(f, &a, 8))->ErrorCode, KERR_NONE);
    ints_are(&part(f, "orders", 0)->isr, INTS(1, 2));
    assert_string_equal(md_image_broker(&f->img, 1)->endpoints[1].name, "SSL_INT");
    assert_null(md_image_broker(&f->img, 2)->rack);
    assert_non_null(part(f, "orders", 5));
    reset(f);
    /* StopReplica v4: orders-0 moves away from this broker, orders-5 stops without deletion */
    f->b.broker_epoch = 4294967303LL;
    const struct StopReplicaRequest *sreq = decode_golden(&a, "stop_replica_req_v4", &proto_msg_StopReplicaRequest);
    assert_int_equal(zkrpc_stop_replica(&f->b, &f->img, 4, sreq, &f->res), 0);
    assert_int_equal(apply(f), 1);
    const struct StopReplicaResponse *sr = round_trip(f, &a, 4);
    assert_int_equal(sr->ErrorCode, KERR_NONE);
    assert_int_equal(sr->PartitionErrors_n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sr->PartitionErrors[i].ErrorCode, KERR_NONE);
    assert_true(proto_str_eq(sr->PartitionErrors[2].TopicName, "payments.eu"));
    ints_are(&part(f, "orders", 0)->replicas, INTS(2, 3));
    ints_are(&part(f, "orders", 0)->isr, INTS(2));
    assert_int_equal(part(f, "orders", 0)->leader, MD_NO_LEADER);
    assert_int_equal(f->res.nstops, 3);
    assert_false(f->res.stops[1].del);
    proto_arena_free(&a);
}

/* ---- allocation failures: FERRY_ENOMEM, an empty result, the broker unchanged; eventually success ---- */

static void test_alloc_failures(void **state)
{
    struct fixture *f = *state;
    for (int kind = 0; kind < 3; kind++) {
        bool done = false;
        for (long n = 0; n < 500 && !done; n++) {
            struct zkrpc_broker before = f->b;
            ferry_alloc_fail_after(n);
            int rc;
            if (kind == 0) {
                struct LeaderAndIsrRequest req = orders_lisr(3 + (int32_t)f->b.nhosted);
                rc = zkrpc_leader_and_isr(&f->b, &f->img, 7, &req, &f->res);
            } else if (kind == 1) {
                struct UpdateMetadataRequest_UpdateMetadataBroker live[] = {{.Id = 1, .Endpoints = ep1,
                                                                             .Endpoints_n = 2}};
                struct UpdateMetadataRequest req = umr(live, 1, NULL, 0);
                rc = zkrpc_update_metadata(&f->b, &f->img, 8, &req, &f->res);
            } else {
                struct StopReplicaRequest_StopReplicaPartitionState ps[] = {{0, -2, true}, {1, -2, true}};
                struct StopReplicaRequest_StopReplicaTopicState ts[] = {{proto_str_from("orders"), ps, 2}};
                struct StopReplicaRequest req = stop(ts, 1);
                rc = zkrpc_stop_replica(&f->b, &f->img, 4, &req, &f->res);
            }
            ferry_alloc_fail_after(-1);
            if (rc == FERRY_ENOMEM) {
                assert_int_equal(f->res.nrecords, 0);
                assert_null(f->res.response);
                assert_int_equal(f->b.nhosted, before.nhosted);
                assert_int_equal(f->b.controller_epoch, before.controller_epoch);
                continue;
            }
            assert_int_equal(rc, 0);
            assert_true(apply(f) > 0);
            reset(f);
            done = true;
        }
        assert_true(done);
    }
    assert_null(md_image_topic(&f->img, "orders"));
    assert_non_null(md_image_broker(&f->img, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lisr_creates_topic_and_partitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lisr_after_update_metadata_same_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lisr_not_a_replica, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lisr_stale_epochs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lisr_topic_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_partitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_umr_brokers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_umr_v2_and_invalid_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_umr_partitions_and_deletion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_umr_recreated_topic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_umr_delete_and_recreate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_umr_full_from_kraft, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_topic_deletion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_replica_moved_away, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_v1_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_hosted_out_of_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_golden_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests_name("zkrpc_translate", tests, NULL, NULL);
}
