/* zk_apply_bench: the CPU cost of a legacy-mode broker applying big controller requests (issue 4 item 9:
 * the brokers' part of a controller failover), stage by stage: decoding a LeaderAndIsr v7 / UpdateMetadata
 * v8 (the generated codec), translating it into metadata records and applying them to the image
 * (zk_broker_rpc_apply: zkmode/rpc, broker/metadata), and encoding the response. The replica manager's
 * reaction (the publisher) is not in it: legacy_failover.py measures the whole.
 *
 * The cluster is legacy_failover.py's: 3 brokers, replication factor 2, topics of 1000 partitions, this
 * broker id 3. Steps, as a failover shows them to a surviving broker: a LeaderAndIsr creating its 2/3 of
 * the partitions and an UpdateMetadata of all of them; then a new controller resending every state at the
 * current epochs (LeaderAndIsr and UpdateMetadata: nothing changes), then a new leader for the third the
 * dead broker led (LeaderAndIsr of those this broker now leads, UpdateMetadata of them all).
 *
 * Usage: zk_apply_bench [partitions [per-topic]] (defaults 100000, 1000). Prints one line per step: milliseconds decoding,
 * applying (translate + image + delta), encoding the response. Not a ctest test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/metadata/md_delta.h"
#include "broker/metadata/md_image.h"
#include "proto_codec.h"
#include "zkmode/zk_broker_rpc.h"

#define SELF 3
static int32_t PER_TOPIC = 1000; /* partitions per topic (argv[2]) */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int32_t brokers3[] = {1, 2, 3};

struct cluster {
    int32_t partitions, ntopics;
    char (*names)[32];
    proto_uuid *ids;
    int32_t (*replicas)[2]; /* per partition (topic * PER_TOPIC + p) */
    int32_t *leader, *epoch;
};

static void cluster_init(struct cluster *c, int32_t partitions)
{
    c->partitions = partitions;
    c->ntopics = (partitions + PER_TOPIC - 1) / PER_TOPIC;
    c->names = calloc((size_t)c->ntopics, sizeof *c->names);
    c->ids = calloc((size_t)c->ntopics, sizeof *c->ids);
    c->replicas = calloc((size_t)partitions, sizeof *c->replicas);
    c->leader = calloc((size_t)partitions, sizeof *c->leader);
    c->epoch = calloc((size_t)partitions, sizeof *c->epoch);
    for (int32_t t = 0; t < c->ntopics; t++) {
        snprintf(c->names[t], sizeof c->names[t], "bench-lf-%04d", t);
        c->ids[t].b[0] = (uint8_t)(t + 1);
        c->ids[t].b[1] = (uint8_t)((t + 1) >> 8);
        c->ids[t].b[2] = (uint8_t)((t + 1) >> 16);
        c->ids[t].b[15] = 0x5a;
    }
    for (int32_t i = 0; i < partitions; i++) {
        int32_t t = i / PER_TOPIC, p = i % PER_TOPIC;
        c->replicas[i][0] = brokers3[(t + p) % 3];
        c->replicas[i][1] = brokers3[(t + p + 1) % 3];
        c->leader[i] = c->replicas[i][0];
    }
}

static int32_t topic_parts(const struct cluster *c, int32_t t)
{
    int32_t n = c->partitions - t * PER_TOPIC;
    return n > PER_TOPIC ? PER_TOPIC : n;
}

static bool hosts(const struct cluster *c, int32_t i) { return c->replicas[i][0] == SELF || c->replicas[i][1] == SELF; }

/* The fields LeaderAndIsr and UpdateMetadata partition states share (the ISR is both replicas until the
 * second one leads alone). */
#define FILL_STATE(ps, c, i, p, controller_epoch)                                                          \
    do {                                                                                                   \
        (ps)->PartitionIndex = (p);                                                                        \
        (ps)->ControllerEpoch = (controller_epoch);                                                        \
        (ps)->Leader = (c)->leader[i];                                                                     \
        (ps)->LeaderEpoch = (c)->epoch[i];                                                                 \
        bool both = (c)->leader[i] == (c)->replicas[i][0];                                                 \
        (ps)->Isr = both ? (c)->replicas[i] : &(c)->leader[i];                                             \
        (ps)->Isr_n = both ? 2 : 1;                                                                        \
        (ps)->Replicas = (c)->replicas[i];                                                                 \
        (ps)->Replicas_n = 2;                                                                              \
    } while (0)

/* LeaderAndIsr v7 of the partitions `want` selects (those this broker hosts). */
static void encode_lisr(const struct cluster *c, int32_t controller_epoch, bool (*want)(const struct cluster *, int32_t),
                        struct proto_writer *w)
{
    struct proto_arena a;
    proto_arena_init(&a);
    struct LeaderAndIsrRequest req;
    proto_struct_init(proto_msg_LeaderAndIsrRequest.body, &req);
    req.ControllerId = 1;
    req.ControllerEpoch = controller_epoch;
    req.BrokerEpoch = 4096;
    req.TopicStates = proto_array_new(&a, &desc_LeaderAndIsrRequest_LeaderAndIsrTopicState, c->ntopics);
    req.TopicStates_n = 0;
    for (int32_t t = 0; t < c->ntopics; t++) {
        struct LeaderAndIsrRequest_LeaderAndIsrTopicState *ts = &req.TopicStates[req.TopicStates_n];
        ts->TopicName = proto_str_from(c->names[t]);
        ts->TopicId = c->ids[t];
        ts->PartitionStates = proto_array_new(&a, &desc_LeaderAndIsrRequest_LeaderAndIsrPartitionState,
                                              topic_parts(c, t));
        ts->PartitionStates_n = 0;
        for (int32_t p = 0; p < topic_parts(c, t); p++) {
            int32_t i = t * PER_TOPIC + p;
            if (!want(c, i))
                continue;
            struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *ps = &ts->PartitionStates[ts->PartitionStates_n++];
            FILL_STATE(ps, c, i, p, controller_epoch);
            ps->PartitionEpoch = c->epoch[i];
            ps->AddingReplicas_n = 0;
            ps->RemovingReplicas_n = 0;
        }
        if (ts->PartitionStates_n)
            req.TopicStates_n++;
    }
    req.LiveLeaders_n = 0;
    proto_encode(&proto_msg_LeaderAndIsrRequest, 7, w, &req);
    proto_arena_free(&a);
}

static void encode_umr(const struct cluster *c, int32_t controller_epoch, struct proto_writer *w)
{
    struct proto_arena a;
    proto_arena_init(&a);
    struct UpdateMetadataRequest req;
    proto_struct_init(proto_msg_UpdateMetadataRequest.body, &req);
    req.ControllerId = 1;
    req.ControllerEpoch = controller_epoch;
    req.BrokerEpoch = 4096;
    req.LiveBrokers = proto_array_new(&a, &desc_UpdateMetadataRequest_UpdateMetadataBroker, 3);
    req.LiveBrokers_n = 3;
    for (int32_t b = 0; b < 3; b++) {
        struct UpdateMetadataRequest_UpdateMetadataBroker *lb = &req.LiveBrokers[b];
        lb->Id = b + 1;
        lb->Endpoints = proto_array_new(&a, &desc_UpdateMetadataRequest_UpdateMetadataEndpoint, 1);
        lb->Endpoints_n = 1;
        lb->Endpoints[0] = (struct UpdateMetadataRequest_UpdateMetadataEndpoint){9092 + b, proto_str_from("127.0.0.1"),
                                                                                 proto_str_from("PLAINTEXT"), 0};
        lb->Rack = (proto_str){NULL, -1};
    }
    req.TopicStates = proto_array_new(&a, &desc_UpdateMetadataRequest_UpdateMetadataTopicState, c->ntopics);
    req.TopicStates_n = c->ntopics;
    for (int32_t t = 0; t < c->ntopics; t++) {
        struct UpdateMetadataRequest_UpdateMetadataTopicState *ts = &req.TopicStates[t];
        ts->TopicName = proto_str_from(c->names[t]);
        ts->TopicId = c->ids[t];
        ts->PartitionStates = proto_array_new(&a, &desc_UpdateMetadataRequest_UpdateMetadataPartitionState,
                                              topic_parts(c, t));
        ts->PartitionStates_n = topic_parts(c, t);
        for (int32_t p = 0; p < topic_parts(c, t); p++) {
            int32_t i = t * PER_TOPIC + p;
            struct UpdateMetadataRequest_UpdateMetadataPartitionState *ps = &ts->PartitionStates[p];
            FILL_STATE(ps, c, i, p, controller_epoch);
            ps->ZkVersion = c->epoch[i];
            ps->OfflineReplicas_n = 0;
        }
    }
    proto_encode(&proto_msg_UpdateMetadataRequest, 8, w, &req);
    proto_arena_free(&a);
}

struct broker_state {
    struct md_image img;
    int64_t next_offset;
    struct zkrpc_broker rpc;
};

/* Decodes, applies and answers one request; prints the stage times. */
static void step(struct broker_state *s, const char *what, const struct proto_message *m, int16_t version,
                 const struct proto_writer *w)
{
    double t0 = now_ms();
    struct proto_arena a;
    proto_arena_init(&a);
    void *body = proto_arena_alloc(&a, m->body->size);
    struct proto_reader r;
    proto_reader_init(&r, w->buf, w->len);
    if (proto_decode(m, version, &r, &a, body)) {
        fprintf(stderr, "%s: does not decode\n", what);
        exit(1);
    }
    double t1 = now_ms();
    struct zkrpc_result res;
    zkrpc_result_init(&res);
    struct md_delta d;
    md_delta_init(&d);
    int rc = zk_broker_rpc_apply(&s->img, &s->next_offset, &s->rpc, m->api_key, version, body, &res, &d);
    if (rc) {
        fprintf(stderr, "%s: %d\n", what, rc);
        exit(1);
    }
    double t2 = now_ms();
    int32_t changed = 0;
    for (int32_t i = 0; i < d.ntopics; i++)
        changed += d.topics[i]->npartitions;
    md_delta_free(&d);
    struct proto_writer out;
    proto_writer_init(&out);
    proto_encode(res.response_m, version, &out, res.response);
    double t3 = now_ms();
    printf("%-52s %7zu KiB  decode %7.1f ms  apply %7.1f ms  (%zu records, %d partitions in the delta)  response "
           "%6.1f ms\n",
           what, w->len / 1024, t1 - t0, t2 - t1, res.nrecords, changed, t3 - t2);
    proto_writer_free(&out);
    zkrpc_result_free(&res);
    proto_arena_free(&a);
}

static bool all_hosted(const struct cluster *c, int32_t i) { return hosts(c, i); }
static bool moved_here(const struct cluster *c, int32_t i) { return c->leader[i] == SELF && c->replicas[i][0] == 2; }

int main(int argc, char **argv)
{
    int32_t n = argc > 1 ? atoi(argv[1]) : 100000;
    if (argc > 2)
        PER_TOPIC = atoi(argv[2]);
    if (n <= 0 || PER_TOPIC <= 0) {
        fprintf(stderr, "usage: zk_apply_bench [partitions [per-topic]]\n");
        return 2;
    }
    struct cluster c;
    cluster_init(&c, n);
    struct broker_state s;
    md_image_init(&s.img);
    s.next_offset = 0;
    zkrpc_broker_init(&s.rpc, SELF, 4096);
    struct proto_writer w;

    proto_writer_init(&w);
    encode_lisr(&c, 1, all_hosted, &w);
    step(&s, "LeaderAndIsr: create this broker's partitions", &proto_msg_LeaderAndIsrRequest, 7, &w);
    proto_writer_free(&w);
    proto_writer_init(&w);
    encode_umr(&c, 1, &w);
    step(&s, "UpdateMetadata: every partition, new", &proto_msg_UpdateMetadataRequest, 8, &w);
    proto_writer_free(&w);

    /* broker 2 dies; a new controller (epoch 2) resends everything, then moves broker 2's leaderships */
    proto_writer_init(&w);
    encode_lisr(&c, 2, all_hosted, &w);
    step(&s, "LeaderAndIsr: resent at the current epochs", &proto_msg_LeaderAndIsrRequest, 7, &w);
    proto_writer_free(&w);
    proto_writer_init(&w);
    encode_umr(&c, 2, &w);
    step(&s, "UpdateMetadata: resent, unchanged", &proto_msg_UpdateMetadataRequest, 8, &w);
    proto_writer_free(&w);
    for (int32_t i = 0; i < n; i++)
        if (c.leader[i] == 2) {
            c.leader[i] = c.replicas[i][1];
            c.epoch[i]++;
        }
    proto_writer_init(&w);
    encode_lisr(&c, 2, moved_here, &w);
    step(&s, "LeaderAndIsr: broker 2's leaderships moved here", &proto_msg_LeaderAndIsrRequest, 7, &w);
    proto_writer_free(&w);
    proto_writer_init(&w);
    encode_umr(&c, 2, &w);
    step(&s, "UpdateMetadata: every partition, a third changed", &proto_msg_UpdateMetadataRequest, 8, &w);
    proto_writer_free(&w);
    zkrpc_broker_free(&s.rpc);
    md_image_free(&s.img);
    return 0;
}
