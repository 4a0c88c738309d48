/* Seeded random sequences of LeaderAndIsr, UpdateMetadata and StopReplica requests (small pools of topic
 * names, ids, partitions and brokers, so that creations, re-creations, deletions, stale epochs and
 * reassignments collide): every record a translation returns must apply to the image, and replaying a
 * request must return no record (requests are well-formed: no topic or partition twice). And the golden
 * request bodies with random bytes changed: what still decodes must translate into records that apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkmode/rpc/zkrpc.h"

#include "golden/zkrpc_vectors.inc"

#define ME 1
#define NTOPICS 3
#define NPARTS 3
#define NBROKERS 4
#define STEPS 1000

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const char *const names[NTOPICS] = {"orders", "payments", "audit"};

/* Two incarnations per name (k 1, 2; 0: no id), never shared between names: a controller does not send one
 * id under two names. */
static proto_uuid topic_id(uint32_t name, uint32_t k)
{
    proto_uuid u = {{0}};
    if (k > 0) {
        u.b[0] = (uint8_t)(name * 4 + k);
        u.b[15] = 0x5a;
    }
    return u;
}

/* A random subset of brokers 1..NBROKERS in random order (at least `min`). */
static int32_t brokers(int32_t *out, int32_t min)
{
    int32_t n = 0;
    for (int32_t b = 1; b <= NBROKERS; b++)
        if (rnd(2))
            out[n++] = b;
    while (n < min)
        out[n++] = (int32_t)(1 + rnd(NBROKERS));
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)rnd((uint32_t)i + 1), t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
    return n;
}

struct world {
    struct md_image img;
    struct zkrpc_broker b;
    int64_t offset;
    int32_t controller_epoch;
    /* request storage, rebuilt each step */
    int32_t ints[NTOPICS * NPARTS * 3][NBROKERS * 2];
    int nints;
    struct LeaderAndIsrRequest_LeaderAndIsrPartitionState lps[NTOPICS][NPARTS];
    struct LeaderAndIsrRequest_LeaderAndIsrTopicState lts[NTOPICS];
    struct UpdateMetadataRequest_UpdateMetadataPartitionState ups[NTOPICS][NPARTS];
    struct UpdateMetadataRequest_UpdateMetadataTopicState uts[NTOPICS];
    struct UpdateMetadataRequest_UpdateMetadataEndpoint eps[NBROKERS];
    struct UpdateMetadataRequest_UpdateMetadataBroker live[NBROKERS];
    struct StopReplicaRequest_StopReplicaPartitionState sps[NTOPICS][NPARTS];
    struct StopReplicaRequest_StopReplicaTopicState sts[NTOPICS];
};

static int32_t *list(struct world *w, int32_t *n, int32_t min)
{
    int32_t *v = w->ints[w->nints++];
    *n = brokers(v, min);
    return v;
}

/* Distinct topics (names) and, per topic, distinct partitions. */
static int32_t pick_topics(uint32_t *which)
{
    int32_t n = 0;
    for (uint32_t t = 0; t < NTOPICS; t++)
        if (rnd(3))
            which[n++] = t;
    return n;
}

static int32_t epoch(struct world *w)
{
    int32_t e = w->controller_epoch + (int32_t)rnd(3) - 1;
    return e < 0 ? 0 : e;
}

/* Records applied per type (api key), to show the sequences reach every kind of change. */
static long applied[32];

static int apply_all(struct world *w, struct zkrpc_result *res)
{
    for (size_t i = 0; i < res->nrecords; i++) {
        applied[res->records[i].m->api_key & 31]++;
        int rc = md_image_apply(&w->img, res->records[i].m, res->records[i].data, w->offset++, NULL);
        if (rc)
            fail_msg("record %zu (%s) failed to apply: %d", i, res->records[i].m->name, rc);
    }
    return (int)res->nrecords;
}

static struct LeaderAndIsrRequest lisr;
static struct UpdateMetadataRequest umr;
static struct StopReplicaRequest stop;

static void build_lisr(struct world *w)
{
    uint32_t which[NTOPICS];
    int32_t nt = pick_topics(which);
    for (int32_t t = 0; t < nt; t++) {
        int32_t np = 0;
        for (int32_t p = 0; p < NPARTS; p++) {
            if (!rnd(2))
                continue;
            struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *ps = &w->lps[t][np++];
            memset(ps, 0, sizeof *ps);
            ps->PartitionIndex = p;
            ps->Replicas = list(w, &ps->Replicas_n, 1);
            ps->Isr = list(w, &ps->Isr_n, 0);
            ps->Leader = rnd(4) ? ps->Replicas[0] : -1;
            ps->LeaderEpoch = (int32_t)rnd(6);
            ps->PartitionEpoch = (int32_t)rnd(6);
        }
        w->lts[t] = (struct LeaderAndIsrRequest_LeaderAndIsrTopicState){
            proto_str_from(names[which[t]]), topic_id(which[t], rnd(3)), w->lps[t], np};
    }
    lisr = (struct LeaderAndIsrRequest){.ControllerId = 9, .isKRaftController = rnd(5) == 0,
                                        .ControllerEpoch = epoch(w), .BrokerEpoch = rnd(8) ? -1 : 0,
                                        .TopicStates = w->lts, .TopicStates_n = nt};
}

static void build_umr(struct world *w)
{
    uint32_t which[NTOPICS];
    int32_t nt = pick_topics(which);
    for (int32_t t = 0; t < nt; t++) {
        int32_t np = 0;
        bool deleting = rnd(5) == 0;
        for (int32_t p = 0; p < NPARTS; p++) {
            if (!deleting && !rnd(2))
                continue;
            struct UpdateMetadataRequest_UpdateMetadataPartitionState *ps = &w->ups[t][np++];
            memset(ps, 0, sizeof *ps);
            ps->PartitionIndex = p;
            ps->Replicas = list(w, &ps->Replicas_n, 1);
            ps->Isr = list(w, &ps->Isr_n, 0);
            ps->Leader = deleting ? ZKRPC_LEADER_DURING_DELETE : ps->Replicas[0];
            ps->LeaderEpoch = (int32_t)rnd(6);
            ps->ZkVersion = (int32_t)rnd(6);
        }
        w->uts[t] = (struct UpdateMetadataRequest_UpdateMetadataTopicState){
            proto_str_from(names[which[t]]), topic_id(which[t], rnd(3)), w->ups[t], np};
    }
    int32_t nl = 0;
    for (int32_t b = 1; b <= NBROKERS; b++) {
        if (!rnd(4))
            continue;
        w->eps[nl] = (struct UpdateMetadataRequest_UpdateMetadataEndpoint){
            9092 + (int32_t)rnd(2), proto_str_from("h"), proto_str_from("PLAINTEXT"), 0};
        proto_str rack = rnd(2) ? proto_str_from("r") : (proto_str){NULL, -1};
        w->live[nl] = (struct UpdateMetadataRequest_UpdateMetadataBroker){
            .Id = b, .Endpoints = &w->eps[nl], .Endpoints_n = 1, .Rack = rack};
        nl++;
    }
    umr = (struct UpdateMetadataRequest){.ControllerId = 9, .isKRaftController = rnd(4) == 0,
                                         .Type = (int8_t)rnd(3), .ControllerEpoch = epoch(w), .BrokerEpoch = -1,
                                         .TopicStates = w->uts, .TopicStates_n = nt, .LiveBrokers = w->live,
                                         .LiveBrokers_n = nl};
}

static void build_stop(struct world *w)
{
    uint32_t which[NTOPICS];
    int32_t nt = pick_topics(which);
    for (int32_t t = 0; t < nt; t++) {
        int32_t np = 0;
        bool deleting = rnd(3) == 0;
        for (int32_t p = 0; p < NPARTS; p++) {
            if (!deleting && !rnd(2))
                continue;
            w->sps[t][np++] = (struct StopReplicaRequest_StopReplicaPartitionState){
                p, deleting ? ZKRPC_EPOCH_DURING_DELETE : (int32_t)rnd(6) - 1, deleting || rnd(2)};
        }
        w->sts[t] =
            (struct StopReplicaRequest_StopReplicaTopicState){proto_str_from(names[which[t]]), w->sps[t], np};
    }
    stop = (struct StopReplicaRequest){.ControllerId = 9, .ControllerEpoch = epoch(w), .BrokerEpoch = -1,
                                       .TopicStates = w->sts, .TopicStates_n = nt};
}

static void translate(struct world *w, uint32_t kind, struct zkrpc_result *res)
{
    zkrpc_result_init(res);
    int rc = kind == 0   ? zkrpc_leader_and_isr(&w->b, &w->img, 7, &lisr, res)
             : kind == 1 ? zkrpc_update_metadata(&w->b, &w->img, 8, &umr, res)
                         : zkrpc_stop_replica(&w->b, &w->img, 4, &stop, res);
    assert_int_equal(rc, 0);
    assert_non_null(res->response);
}

static void run_seed(uint64_t seed)
{
    static struct world w;
    memset(&w, 0, sizeof w);
    rng = seed * 0x9e3779b97f4a7c15ULL + 1;
    md_image_init(&w.img);
    zkrpc_broker_init(&w.b, ME, 0);
    w.b.zk_migration_enabled = true;
    for (int step = 0; step < STEPS; step++) {
        w.nints = 0;
        if (rnd(10) == 0)
            w.controller_epoch++;
        uint32_t kind = rnd(3);
        if (kind == 0)
            build_lisr(&w);
        else if (kind == 1)
            build_umr(&w);
        else
            build_stop(&w);
        struct zkrpc_result res;
        translate(&w, kind, &res);
        apply_all(&w, &res);
        zkrpc_result_free(&res);
        /* the same request again: nothing (but a KRaft controller's equal leader epochs are accepted again) */
        translate(&w, kind, &res);
        if (res.nrecords && !(kind == 0 && lisr.isKRaftController))
            fail_msg("seed %llu step %d: replayed request %u gave %zu record(s), the first a %s",
                     (unsigned long long)seed, step, kind, res.nrecords, res.records[0].m->name);
        apply_all(&w, &res);
        zkrpc_result_free(&res);
    }
    zkrpc_broker_free(&w.b);
    md_image_free(&w.img);
}

static void test_random_sequences(void **state)
{
    (void)state;
    ferry_log_set_level((enum ferry_log_level)(FERRY_LOG_ERROR + 1));
    for (uint64_t seed = 1; seed <= 20; seed++)
        run_seed(seed);
    const struct proto_message *kinds[] = {&proto_msg_TopicRecord, &proto_msg_PartitionRecord,
                                           &proto_msg_RemoveTopicRecord, &proto_msg_RegisterBrokerRecord,
                                           &proto_msg_BrokerRegistrationChangeRecord};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (applied[kinds[i]->api_key] == 0)
            fail_msg("no %s in any sequence", kinds[i]->name);
}

/* The golden request bodies with random bytes changed: whatever still decodes is hostile but well-typed
 * input, and its records must apply all the same (to an image the earlier mutants built up). */
static void test_mutated_requests(void **state)
{
    (void)state;
    ferry_log_set_level((enum ferry_log_level)(FERRY_LOG_ERROR + 1));
    static const struct {
        const char *name;
        const struct proto_message *m;
    } reqs[] = {{"leader_and_isr_req_v7", &proto_msg_LeaderAndIsrRequest},
                {"update_metadata_req_v8", &proto_msg_UpdateMetadataRequest},
                {"stop_replica_req_v4", &proto_msg_StopReplicaRequest}};
    struct md_image img;
    md_image_init(&img);
    struct zkrpc_broker b;
    zkrpc_broker_init(&b, ME, -1);
    int64_t offset = 0;
    long decoded = 0;
    rng = 42;
    for (int iter = 0; iter < 5000; iter++) {
        uint32_t k = rnd(3);
        const struct zkrpc_golden *g = NULL;
        for (size_t i = 0; i < sizeof zkrpc_goldens / sizeof zkrpc_goldens[0]; i++)
            if (strcmp(zkrpc_goldens[i].name, reqs[k].name) == 0)
                g = &zkrpc_goldens[i];
        assert_non_null(g);
        uint8_t buf[512];
        assert_true(g->len <= sizeof buf);
        memcpy(buf, g->bytes, g->len);
        for (uint32_t n = 1 + rnd(3); n > 0; n--)
            buf[rnd((uint32_t)g->len)] = (uint8_t)(rnd(4) ? rnd(256) : rnd(8));
        struct proto_arena a;
        proto_arena_init(&a);
        void *msg = proto_arena_alloc(&a, reqs[k].m->body->size);
        struct proto_reader r;
        proto_reader_init(&r, buf, g->len);
        if (proto_decode(reqs[k].m, g->version, &r, &a, msg) == 0) {
            decoded++;
            b.controller_epoch = 0; /* a mutated epoch must not fence every later request */
            struct zkrpc_result res;
            zkrpc_result_init(&res);
            int rc = k == 0   ? zkrpc_leader_and_isr(&b, &img, g->version, msg, &res)
                     : k == 1 ? zkrpc_update_metadata(&b, &img, g->version, msg, &res)
                              : zkrpc_stop_replica(&b, &img, g->version, msg, &res);
            assert_int_equal(rc, 0);
            for (size_t i = 0; i < res.nrecords; i++)
                if (md_image_apply(&img, res.records[i].m, res.records[i].data, offset++, NULL))
                    fail_msg("iteration %d: a %s from a mutated %s failed to apply", iter, res.records[i].m->name,
                             g->name);
            struct proto_writer w;
            proto_writer_init(&w);
            assert_int_equal(proto_encode(res.response_m, g->version, &w, res.response), 0);
            proto_writer_free(&w);
            zkrpc_result_free(&res);
        }
        proto_arena_free(&a);
    }
    assert_true(decoded > 1000);
    assert_true(offset > 1000); /* records were produced and applied, not only refusals */
    zkrpc_broker_free(&b);
    md_image_free(&img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_sequences),
        cmocka_unit_test(test_mutated_requests),
    };
    return cmocka_run_group_tests_name("zkrpc_random", tests, NULL, NULL);
}
