/* Replication across three brokers in this process. One libuv loop thread runs three brokers, each with
 * its own listeners on free loopback ports and its own log directory. A test metadata source serves them
 * one shared image: the test applies Kafka metadata records to it (RegisterBrokerRecord from each broker's
 * listeners, TopicRecord, PartitionRecord, ConfigRecord, PartitionChangeRecord for leader changes) and
 * publishes the deltas; its alter_partition plays the controller, turning a leader's ISR proposal into a
 * PartitionChangeRecord (after checking the leader and partition epochs), so ISR changes reach the brokers
 * only through the image. Clients are the blocking operator client on the test thread.
 *
 * Covered: replication to followers and their high watermark; acks=all with min.insync.replicas=2; a
 * stopped follower dropped from the ISR (NOT_ENOUGH_REPLICAS_AFTER_APPEND for the waiting request), then
 * NOT_ENOUGH_REPLICAS; consumers never reading past the high
 * watermark; a follower catching up after a restart and rejoining the ISR; a leader change with a diverged
 * follower (its high watermark above the divergence) that truncates by comparing leader epochs
 * (OffsetForLeaderEpoch); NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>
#include <uv.h>

#include "api_support.h"
#include "broker/api/broker.h"
#include "broker/api/repl_fetcher.h"
#include "broker/cli/kclient.h"
#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/metadata/md_delta.h"
#include "broker/proto/record_batch.h"
#include "proto_codec.h"

#define NODES 3
#define TOPIC "rep"
#define DEADLINE_MS 30000

struct cluster;

struct view { /* one broker's handle on the shared source */
    struct cluster *cl;
    int node;
    md_publish_fn publish;
    void *arg;
    bool stopped;
};

struct node {
    struct ferry_config cfg;
    struct broker *b; /* NULL while stopped */
    char dir[256];
    int port;
    struct view view;
};

struct cluster {
    uv_loop_t loop;
    uv_async_t async;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void (*fn)(struct cluster *cl, void *arg);
    void *arg;
    bool done;
    struct md_image img;
    struct md_delta delta;
    int64_t offset;
    proto_uuid topic_id;
    struct node nodes[NODES];
    struct broker *old[32]; /* stopped brokers, freed at the end (libuv may still close their handles) */
    int nold;
    int alters; /* ISR changes accepted */
};

static struct cluster C;

/* ---- running code on the loop thread ---- */

static void on_async(uv_async_t *a)
{
    struct cluster *cl = a->data;
    pthread_mutex_lock(&cl->mu);
    void (*fn)(struct cluster *, void *) = cl->fn;
    void *arg = cl->arg;
    pthread_mutex_unlock(&cl->mu);
    if (fn)
        fn(cl, arg);
    pthread_mutex_lock(&cl->mu);
    cl->fn = NULL;
    cl->done = true;
    pthread_cond_broadcast(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
}

static void on_loop(void (*fn)(struct cluster *, void *), void *arg)
{
    pthread_mutex_lock(&C.mu);
    C.fn = fn;
    C.arg = arg;
    C.done = false;
    uv_async_send(&C.async);
    while (!C.done)
        pthread_cond_wait(&C.cv, &C.mu);
    pthread_mutex_unlock(&C.mu);
}

static void *loop_main(void *arg)
{
    uv_run(arg, UV_RUN_DEFAULT);
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the shared metadata source (loop thread) ---- */

static void publish_all(struct cluster *cl)
{
    for (int i = 0; i < NODES; i++) {
        struct view *v = &cl->nodes[i].view;
        if (v->publish && !v->stopped && cl->nodes[i].b)
            v->publish(v->arg, &cl->img, &cl->delta);
    }
    md_delta_reset(&cl->delta);
}

static void apply(struct cluster *cl, const struct proto_message *m, const void *rec)
{
    int rc = md_image_apply(&cl->img, m, rec, cl->offset++, &cl->delta);
    if (rc != 0)
        fprintf(stderr, "apply %s: %s\n", m->name, ferry_strerror(rc));
    assert_int_equal(rc, 0);
}

static const struct md_image *src_image(const void *impl) { return &((const struct view *)impl)->cl->img; }

static void src_set_publisher(void *impl, md_publish_fn publish, void *arg)
{
    struct view *v = impl;
    v->publish = publish;
    v->arg = arg;
    v->stopped = false;
    struct md_delta d;
    md_delta_init(&d);
    d.initial = true;
    size_t n;
    struct md_topic *const *topics = md_image_topics_sorted(&v->cl->img, &n);
    for (size_t i = 0; i < n; i++) {
        md_delta_topic_created(&d, topics[i]->id, topics[i]->name);
        for (int32_t p = 0; p < topics[i]->parts_len; p++)
            if (topics[i]->parts[p].present)
                md_delta_partition(&d, topics[i]->id, topics[i]->name, p, MD_PART_CREATED);
    }
    publish(arg, &v->cl->img, &d);
    md_delta_free(&d);
}

static void src_listeners_bound(void *impl, const char *const *names, const uint16_t *ports, size_t n)
{
    struct view *v = impl;
    struct cluster *cl = v->cl;
    struct RegisterBrokerRecord r;
    proto_struct_init(proto_msg_RegisterBrokerRecord.body, &r);
    struct RegisterBrokerRecord_BrokerEndpoint ep;
    memset(&ep, 0, sizeof ep);
    ep.Name = proto_str_from(names[0]);
    ep.Host = proto_str_from("127.0.0.1");
    ep.Port = ports[0];
    r.BrokerId = v->node + 1;
    r.BrokerEpoch = cl->offset;
    r.IncarnationId.b[0] = (uint8_t)(v->node + 1);
    r.IncarnationId.b[15] = (uint8_t)cl->offset;
    r.EndPoints = &ep;
    r.EndPoints_n = 1;
    r.Features_n = 0;
    r.LogDirs_n = 0;
    r.Fenced = false; /* this test's controller unfences at once */
    cl->nodes[v->node].port = ports[0];
    apply(cl, &proto_msg_RegisterBrokerRecord, &r);
    publish_all(cl);
}

static void src_stop(void *impl) { ((struct view *)impl)->stopped = true; }

/* Operations the brokers never need here: answered later from the loop with nothing done. */
struct later {
    uv_timer_t t;
    md_done_fn done;
    void *arg;
};
static void later_closed(uv_handle_t *h) { ferry_free(h->data); }
static void later_fire(uv_timer_t *t)
{
    struct later *l = t->data;
    if (l->done)
        l->done(l->arg);
    uv_close((uv_handle_t *)t, later_closed);
}
static void later(struct view *v, md_done_fn done, void *arg)
{
    struct later *l = ferry_calloc(1, sizeof *l);
    assert_non_null(l);
    l->done = done;
    l->arg = arg;
    uv_timer_init(&v->cl->loop, &l->t);
    l->t.data = l;
    uv_timer_start(&l->t, later_fire, 0, 0);
}
static void src_create_topics(void *impl, const struct CreateTopicsRequest *req, int16_t version, struct proto_arena *a,
                              struct CreateTopicsResponse *resp, md_done_fn done, void *arg)
{
    later(impl, done, arg);
}
static void src_delete_topics(void *impl, const struct DeleteTopicsRequest *req, int16_t version, struct proto_arena *a,
                              struct DeleteTopicsResponse *resp, md_done_fn done, void *arg)
{
    later(impl, done, arg);
}
static void src_create_partitions(void *impl, const struct CreatePartitionsRequest *req, int16_t version,
                                  struct proto_arena *a, struct CreatePartitionsResponse *resp, md_done_fn done,
                                  void *arg)
{
    later(impl, done, arg);
}
static void src_alter_configs(void *impl, const struct AlterConfigsRequest *req, int16_t version, struct proto_arena *a,
                              struct AlterConfigsResponse *resp, md_done_fn done, void *arg)
{
    later(impl, done, arg);
}
static void src_incremental_alter_configs(void *impl, const struct IncrementalAlterConfigsRequest *req,
                                          int16_t version, struct proto_arena *a,
                                          struct IncrementalAlterConfigsResponse *resp, md_done_fn done, void *arg)
{
    later(impl, done, arg);
}
static void src_allocate_producer_ids(void *impl, int32_t broker_id, int64_t broker_epoch, md_pids_done_fn done,
                                      void *arg)
{
    done(arg, -1, 0, KERR_UNKNOWN_SERVER_ERROR); /* never called: no idempotent producer here */
}
static void src_auto_create_topics(void *impl, const char *const *names, size_t n, md_done_fn done, void *arg)
{
    later(impl, done, arg);
}

/* The controller's side of AlterPartition: checked against the image, applied as a PartitionChangeRecord
 * from the loop (never inside the leader's call). */
struct alter {
    uv_timer_t t;
    struct cluster *cl;
    struct view *v;
    struct md_alter_partition req;
    int32_t isr[NODES + 1];
    md_alter_done_fn done;
    void *arg;
};

static void alter_fire(uv_timer_t *t)
{
    struct alter *al = t->data;
    struct cluster *cl = al->cl;
    const struct md_topic *topic = md_image_topic_by_id(&cl->img, al->req.topic_id);
    const struct md_partition *mp = topic ? md_topic_partition(topic, al->req.partition) : NULL;
    int16_t err = KERR_NONE;
    if (!mp)
        err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    else if (al->req.leader_epoch < mp->leader_epoch)
        err = KERR_FENCED_LEADER_EPOCH;
    else if (mp->leader != al->req.broker_id)
        err = KERR_INVALID_REQUEST;
    else if (al->req.partition_epoch != mp->partition_epoch)
        err = KERR_INVALID_UPDATE_VERSION;
    if (err == KERR_NONE) {
        struct PartitionChangeRecord r;
        proto_struct_init(proto_msg_PartitionChangeRecord.body, &r);
        r.TopicId = al->req.topic_id;
        r.PartitionId = al->req.partition;
        r.Isr = al->isr;
        r.Isr_n = al->req.nisr;
        apply(cl, &proto_msg_PartitionChangeRecord, &r);
        publish_all(cl);
        cl->alters++;
    }
    if (!al->v->stopped) /* md_source: no callback after stop */
        al->done(al->arg, err);
    uv_close((uv_handle_t *)t, later_closed);
}

static void src_alter_partition(void *impl, const struct md_alter_partition *req, md_alter_done_fn done, void *arg)
{
    struct view *v = impl;
    struct alter *al = ferry_calloc(1, sizeof *al);
    assert_non_null(al);
    assert_true(req->nisr <= NODES);
    al->cl = v->cl;
    al->v = v;
    al->req = *req;
    memcpy(al->isr, req->new_isr, sizeof *al->isr * (size_t)req->nisr);
    al->done = done;
    al->arg = arg;
    uv_timer_init(&v->cl->loop, &al->t);
    al->t.data = al;
    uv_timer_start(&al->t, alter_fire, 0, 0);
}

static const struct md_source_ops test_source_ops = {
    .image = src_image,
    .set_publisher = src_set_publisher,
    .listeners_bound = src_listeners_bound,
    .stop = src_stop,
    .create_topics = src_create_topics,
    .delete_topics = src_delete_topics,
    .create_partitions = src_create_partitions,
    .alter_configs = src_alter_configs,
    .incremental_alter_configs = src_incremental_alter_configs,
    .allocate_producer_ids = src_allocate_producer_ids,
    .auto_create_topics = src_auto_create_topics,
    .alter_partition = src_alter_partition,
};

/* ---- loop-thread operations ---- */

struct start_arg {
    int node;
    int rc;
};

static void do_start(struct cluster *cl, void *arg)
{
    struct start_arg *sa = arg;
    struct node *n = &cl->nodes[sa->node];
    struct broker *b = ferry_calloc(1, sizeof *b);
    assert_non_null(b);
    n->view.cl = cl;
    n->view.node = sa->node;
    n->view.stopped = false;
    struct md_source src = {&test_source_ops, &n->view};
    char err[512];
    n->b = b; /* publish_all reaches it during the start */
    sa->rc = broker_start_with_source(b, &cl->loop, &n->cfg, &src, err, sizeof err);
    if (sa->rc) {
        n->b = NULL;
        broker_stop(b);
        cl->old[cl->nold++] = b;
        fprintf(stderr, "node %d: %s\n", sa->node + 1, err);
    }
}

static void start_node(int i)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        struct start_arg sa = {i, 0};
        on_loop(do_start, &sa);
        if (sa.rc == 0)
            return;
        assert_int_equal(sa.rc, FERRY_EEXIST); /* the previous run's directory lock is still being released */
        sleep_ms(100);
    }
    fail_msg("node %d does not start", i + 1);
}

static void do_stop(struct cluster *cl, void *arg)
{
    int i = *(int *)arg;
    struct node *n = &cl->nodes[i];
    n->view.stopped = true;
    broker_stop(n->b);
    cl->old[cl->nold++] = n->b;
    n->b = NULL;
}

static void stop_node(int i) { on_loop(do_stop, &i); }

static void do_create_topic(struct cluster *cl, void *arg)
{
    (void)arg;
    struct ConfigRecord c;
    proto_struct_init(proto_msg_ConfigRecord.body, &c);
    c.ResourceType = MD_RESOURCE_TOPIC;
    c.ResourceName = proto_str_from(TOPIC);
    c.Name = proto_str_from("min.insync.replicas");
    c.Value = proto_str_from("2");
    apply(cl, &proto_msg_ConfigRecord, &c);
    struct TopicRecord t;
    proto_struct_init(proto_msg_TopicRecord.body, &t);
    t.Name = proto_str_from(TOPIC);
    cl->topic_id.b[0] = 0x42;
    cl->topic_id.b[15] = 7;
    t.TopicId = cl->topic_id;
    apply(cl, &proto_msg_TopicRecord, &t);
    struct PartitionRecord p;
    proto_struct_init(proto_msg_PartitionRecord.body, &p);
    int32_t reps[] = {1, 2, 3};
    p.PartitionId = 0;
    p.TopicId = cl->topic_id;
    p.Replicas = reps;
    p.Replicas_n = 3;
    p.Isr = reps;
    p.Isr_n = 3;
    p.RemovingReplicas_n = 0;
    p.AddingReplicas_n = 0;
    p.Leader = 1;
    p.LeaderEpoch = 0;
    p.PartitionEpoch = 0;
    apply(cl, &proto_msg_PartitionRecord, &p);
    publish_all(cl);
}

#define OFFSETS "__consumer_offsets"

/* __consumer_offsets with one partition on replicas 1 and 2, led by 1. */
static void do_create_offsets_topic(struct cluster *cl, void *arg)
{
    (void)arg;
    struct TopicRecord t;
    proto_struct_init(proto_msg_TopicRecord.body, &t);
    t.Name = proto_str_from(OFFSETS);
    t.TopicId.b[0] = 0x43;
    t.TopicId.b[15] = 9;
    apply(cl, &proto_msg_TopicRecord, &t);
    struct PartitionRecord p;
    proto_struct_init(proto_msg_PartitionRecord.body, &p);
    int32_t reps[] = {1, 2};
    p.PartitionId = 0;
    p.TopicId = t.TopicId;
    p.Replicas = reps;
    p.Replicas_n = 2;
    p.Isr = reps;
    p.Isr_n = 2;
    p.RemovingReplicas_n = 0;
    p.AddingReplicas_n = 0;
    p.Leader = 1;
    p.LeaderEpoch = 0;
    p.PartitionEpoch = 0;
    apply(cl, &proto_msg_PartitionRecord, &p);
    publish_all(cl);
}

struct leader_change {
    int32_t leader;
    int32_t isr[NODES];
    int32_t nisr;
    const char *topic; /* NULL: TOPIC */
};

static void do_leader_change(struct cluster *cl, void *arg)
{
    struct leader_change *lc = arg;
    struct PartitionChangeRecord r;
    proto_struct_init(proto_msg_PartitionChangeRecord.body, &r);
    r.TopicId = lc->topic ? md_image_topic(&cl->img, lc->topic)->id : cl->topic_id;
    r.PartitionId = 0;
    r.Leader = lc->leader;
    r.Isr = lc->isr;
    r.Isr_n = lc->nisr;
    apply(cl, &proto_msg_PartitionChangeRecord, &r);
    publish_all(cl);
}

/* What the image and a node hold for the partition (read on the loop). */
struct probe {
    int node;
    bool hosted;
    bool is_leader;
    int64_t log_end, hw;
    int32_t leader, leader_epoch, isr_n, isr[NODES];
};

static void do_probe(struct cluster *cl, void *arg)
{
    struct probe *pr = arg;
    const struct md_partition *mp = md_topic_partition(md_image_topic(&cl->img, TOPIC), 0);
    pr->leader = mp->leader;
    pr->leader_epoch = mp->leader_epoch;
    pr->isr_n = mp->isr.n;
    for (int32_t i = 0; i < mp->isr.n && i < NODES; i++)
        pr->isr[i] = mp->isr.v[i];
    struct broker *b = cl->nodes[pr->node].b;
    struct rp_partition *p = b ? rp_partition_get(b->partitions, proto_str_from(TOPIC), 0) : NULL;
    pr->hosted = p != NULL;
    if (p) {
        pr->is_leader = p->is_leader;
        pr->log_end = plog_log_end_offset(p->log);
        pr->hw = p->high_watermark;
    }
}

static struct probe probe(int node)
{
    struct probe pr = {.node = node};
    on_loop(do_probe, &pr);
    return pr;
}

/* Polls until node's log end and high watermark reach `end` (generous deadline; no duration asserted). */
static void wait_caught_up(int node, int64_t end)
{
    int64_t until = mono_ms() + DEADLINE_MS;
    struct probe pr;
    while ((pr = probe(node)), !(pr.hosted && pr.log_end == end && pr.hw == end)) {
        if (mono_ms() > until)
            fail_msg("node %d: log end %lld, high watermark %lld, want %lld", node + 1, (long long)pr.log_end,
                     (long long)pr.hw, (long long)end);
        sleep_ms(20);
    }
}

/* Polls until every node hosts the partition (a new log is created off the loop). */
static void wait_hosted_everywhere(void)
{
    int64_t until = mono_ms() + DEADLINE_MS;
    for (int i = 0; i < NODES; i++)
        while (!probe(i).hosted) {
            if (mono_ms() > until)
                fail_msg("node %d does not host %s-0", i + 1, TOPIC);
            sleep_ms(20);
        }
}

static void wait_isr(int32_t n)
{
    int64_t until = mono_ms() + DEADLINE_MS;
    struct probe pr;
    while ((pr = probe(0)), pr.isr_n != n) {
        if (mono_ms() > until)
            fail_msg("ISR has %d members, want %d", pr.isr_n, n);
        sleep_ms(20);
    }
}

static bool isr_has(const struct probe *pr, int32_t id)
{
    for (int32_t i = 0; i < pr->isr_n; i++)
        if (pr->isr[i] == id)
            return true;
    return false;
}

/* ---- clients (test thread) ---- */

static void connect_node(struct kclient *c, int node)
{
    kclient_init(c);
    c->timeout_ms = 30000;
    if (kclient_connect(c, "127.0.0.1", C.nodes[node].port) != 0)
        fail_msg("connect node %d: %s", node + 1, kclient_errmsg(c));
}

static proto_bytes batch_of(struct proto_arena *a, const char *value)
{
    struct proto_writer w;
    proto_writer_init(&w);
    struct rb_builder b;
    rb_builder_begin(&b, &w, 0, -1, 0, 1700000000000LL);
    rb_builder_add(&b, 1700000000000LL, (proto_bytes){(const uint8_t *)"k", 1},
                   (proto_bytes){(const uint8_t *)value, (int32_t)strlen(value)});
    assert_int_equal(rb_builder_finish(&b), 0);
    uint8_t *p = proto_arena_alloc(a, w.len);
    memcpy(p, w.buf, w.len);
    proto_bytes out = {p, (int32_t)w.len};
    proto_writer_free(&w);
    return out;
}

/* Produces one record; returns the partition's error code, *offset its base offset. */
static int16_t produce(int node, int16_t acks, int32_t timeout_ms, const char *value, int64_t *offset)
{
    struct kclient c;
    connect_node(&c, node);
    struct proto_arena a;
    proto_arena_init(&a);
    struct ProduceRequest r;
    proto_struct_init(proto_msg_ProduceRequest.body, &r);
    r.Acks = acks;
    r.TimeoutMs = timeout_ms;
    r.TopicData = proto_array_new(&a, &desc_ProduceRequest_TopicProduceData, 1);
    r.TopicData_n = 1;
    r.TopicData[0].Name = proto_str_from(TOPIC);
    r.TopicData[0].PartitionData = proto_array_new(&a, &desc_ProduceRequest_PartitionProduceData, 1);
    r.TopicData[0].PartitionData_n = 1;
    r.TopicData[0].PartitionData[0].Records = batch_of(&a, value);
    struct ProduceResponse resp;
    if (kclient_call(&c, API_PRODUCE, 7, &r, &a, &resp) != 0)
        fail_msg("produce to node %d: %s", node + 1, kclient_errmsg(&c));
    int16_t err = resp.Responses[0].PartitionResponses[0].ErrorCode;
    if (offset)
        *offset = resp.Responses[0].PartitionResponses[0].BaseOffset;
    proto_arena_free(&a);
    kclient_close(&c);
    return err;
}

struct fetched {
    int16_t error;
    int64_t hw;
    int32_t nrecords;  /* records returned */
    int64_t last;      /* last offset returned, -1 if none */
    char values[16][16];
};

/* A consumer (replica_id -1) or replica fetch of one partition from `offset`. */
static struct fetched fetch(int node, int32_t replica_id, int32_t leader_epoch, int64_t offset)
{
    struct kclient c;
    connect_node(&c, node);
    struct proto_arena a;
    proto_arena_init(&a);
    struct FetchRequest r;
    proto_struct_init(proto_msg_FetchRequest.body, &r);
    r.ReplicaId = replica_id;
    r.MaxWaitMs = 0;
    r.MinBytes = 1;
    r.MaxBytes = 1 << 20;
    r.Topics = proto_array_new(&a, &desc_FetchRequest_FetchTopic, 1);
    r.Topics_n = 1;
    r.Topics[0].Topic = proto_str_from(TOPIC);
    r.Topics[0].Partitions = proto_array_new(&a, &desc_FetchRequest_FetchPartition, 1);
    r.Topics[0].Partitions_n = 1;
    r.Topics[0].Partitions[0].FetchOffset = offset;
    r.Topics[0].Partitions[0].CurrentLeaderEpoch = leader_epoch;
    r.Topics[0].Partitions[0].PartitionMaxBytes = 1 << 20;
    struct FetchResponse resp;
    if (kclient_call(&c, API_FETCH, 11, &r, &a, &resp) != 0)
        fail_msg("fetch from node %d: %s", node + 1, kclient_errmsg(&c));
    const struct FetchResponse_PartitionData *pd = &resp.Responses[0].Partitions[0];
    struct fetched f = {.error = pd->ErrorCode, .hw = pd->HighWatermark, .last = -1};
    struct rb_iter it;
    rb_iter_init(&it, pd->Records.p, pd->Records.len > 0 ? (size_t)pd->Records.len : 0);
    const uint8_t *batch;
    size_t blen;
    struct rb_header h;
    while (rb_iter_next(&it, &batch, &blen, &h) == 1) {
        assert_int_equal(rb_validate(batch, blen, &h), 0);
        struct proto_reader rr;
        proto_reader_init(&rr, batch + RB_HEADER_SIZE, blen - RB_HEADER_SIZE);
        for (int32_t i = 0; i < h.record_count; i++) {
            struct rb_record rec;
            assert_int_equal(rb_read_record(&rr, &rec), 0);
            if (f.nrecords < 16)
                snprintf(f.values[f.nrecords], sizeof f.values[0], "%.*s", rec.value.len, rec.value.p);
            f.nrecords++;
        }
        f.last = h.base_offset + h.last_offset_delta;
    }
    proto_arena_free(&a);
    kclient_close(&c);
    return f;
}

static int64_t list_latest(int node, int16_t *error)
{
    struct kclient c;
    connect_node(&c, node);
    struct proto_arena a;
    proto_arena_init(&a);
    struct ListOffsetsRequest r;
    proto_struct_init(proto_msg_ListOffsetsRequest.body, &r);
    r.ReplicaId = -1;
    r.Topics = proto_array_new(&a, &desc_ListOffsetsRequest_ListOffsetsTopic, 1);
    r.Topics_n = 1;
    r.Topics[0].Name = proto_str_from(TOPIC);
    r.Topics[0].Partitions = proto_array_new(&a, &desc_ListOffsetsRequest_ListOffsetsPartition, 1);
    r.Topics[0].Partitions_n = 1;
    r.Topics[0].Partitions[0].Timestamp = -1;
    struct ListOffsetsResponse resp;
    if (kclient_call(&c, API_LIST_OFFSETS, 1, &r, &a, &resp) != 0)
        fail_msg("list offsets on node %d: %s", node + 1, kclient_errmsg(&c));
    *error = resp.Topics[0].Partitions[0].ErrorCode;
    int64_t off = resp.Topics[0].Partitions[0].Offset;
    proto_arena_free(&a);
    kclient_close(&c);
    return off;
}

/* ---- setup ---- */

static int setup(void **state)
{
    memset(&C, 0, sizeof C);
    const char *base = getenv("FERRY_TEST_TMP");
    char mk[300];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", base && *base ? base : "/tmp");
    if (system(mk) != 0)
        return -1;
    for (int i = 0; i < NODES; i++) {
        struct node *n = &C.nodes[i];
        snprintf(n->dir, sizeof n->dir, "%s/repl-%d-XXXXXX", base && *base ? base : "/tmp", i + 1);
        if (!mkdtemp(n->dir))
            return -1;
        char logdirs[300], nodeid[32];
        snprintf(logdirs, sizeof logdirs, "log.dirs=%s", n->dir);
        snprintf(nodeid, sizeof nodeid, "node.id=%d", i + 1);
        const char *sets[] = {"listeners=PLAINTEXT://127.0.0.1:0", "controller.listener.names=CONTROLLER",
                              logdirs,
                              nodeid,
                              "controller.quorum.voters=9@127.0.0.1:9",
                              "process.roles=broker",
                              "replica.lag.time.max.ms=1500",
                              "replica.fetch.wait.max.ms=100",
                              "replica.fetch.backoff.ms=50",
                              "offsets.topic.replication.factor=2",
                              "offsets.topic.num.partitions=1",
                              "group.initial.rebalance.delay.ms=0"};
        char err[512];
        if (config_load(&n->cfg, NULL, sets, sizeof sets / sizeof sets[0], err, sizeof err) != 0) {
            fprintf(stderr, "config: %s\n", err);
            return -1;
        }
    }
    if (getenv("REPL_DEBUG"))
        ferry_log_set_level(FERRY_LOG_DEBUG);
    md_image_init(&C.img);
    md_delta_init(&C.delta);
    pthread_mutex_init(&C.mu, NULL);
    pthread_cond_init(&C.cv, NULL);
    uv_loop_init(&C.loop);
    uv_async_init(&C.loop, &C.async, on_async);
    C.async.data = &C;
    pthread_create(&C.thread, NULL, loop_main, &C.loop);
    for (int i = 0; i < NODES; i++)
        start_node(i);
    on_loop(do_create_topic, NULL);
    wait_hosted_everywhere();
    *state = &C;
    return 0;
}

static void do_shutdown(struct cluster *cl, void *arg)
{
    (void)arg;
    for (int i = 0; i < NODES; i++)
        if (cl->nodes[i].b) {
            int k = i;
            do_stop(cl, &k);
        }
    uv_close((uv_handle_t *)&cl->async, NULL);
}

static int teardown(void **state)
{
    (void)state;
    pthread_mutex_lock(&C.mu);
    C.fn = do_shutdown;
    C.done = false;
    uv_async_send(&C.async);
    pthread_mutex_unlock(&C.mu);
    pthread_join(C.thread, NULL); /* the loop ends once every handle is closed */
    uv_loop_close(&C.loop);
    for (int i = 0; i < C.nold; i++)
        ferry_free(C.old[i]);
    md_delta_free(&C.delta);
    md_image_free(&C.img);
    int rc = 0;
    for (int i = 0; i < NODES; i++) {
        config_free(&C.nodes[i].cfg);
        char rm[300];
        snprintf(rm, sizeof rm, "rm -rf '%s'", C.nodes[i].dir);
        rc |= system(rm);
    }
    return rc == 0 ? 0 : -1;
}

/* ---- the scenario, in order ---- */

static void test_replicates_to_followers(void **state)
{
    (void)state;
    int64_t off;
    assert_int_equal(produce(0, -1, 30000, "a0", &off), KERR_NONE);
    assert_int_equal(off, 0);
    assert_int_equal(produce(0, -1, 30000, "a1", &off), KERR_NONE);
    assert_int_equal(off, 1);
    /* acks=all answered: the whole ISR holds both records, so the leader's high watermark covers them */
    struct probe leader = probe(0);
    assert_true(leader.is_leader);
    assert_true(leader.hw >= 2);
    wait_caught_up(1, 2);
    wait_caught_up(2, 2);
    struct fetched f = fetch(0, -1, -1, 0);
    assert_int_equal(f.error, KERR_NONE);
    assert_int_equal(f.nrecords, 2);
    assert_string_equal(f.values[0], "a0");
    assert_string_equal(f.values[1], "a1");
}

static void test_not_leader_and_epochs(void **state)
{
    (void)state;
    int64_t off;
    assert_int_equal(produce(1, 1, 30000, "x", &off), KERR_NOT_LEADER_OR_FOLLOWER);
    assert_int_equal(fetch(2, -1, -1, 0).error, KERR_NOT_LEADER_OR_FOLLOWER);
    int16_t err;
    list_latest(1, &err);
    assert_int_equal(err, KERR_NOT_LEADER_OR_FOLLOWER);
    struct probe pr = probe(0);
    assert_int_equal(fetch(0, -1, pr.leader_epoch + 1, 0).error, KERR_UNKNOWN_LEADER_EPOCH);
    assert_int_equal(fetch(0, -1, pr.leader_epoch, 0).error, KERR_NONE);
    /* a replica id that is not a replica of the partition */
    assert_int_equal(fetch(0, 9, pr.leader_epoch, 0).error, KERR_NOT_LEADER_OR_FOLLOWER);
}

static void test_consumers_stop_at_high_watermark(void **state)
{
    (void)state;
    stop_node(2); /* follower 3 stops fetching; it stays in the ISR until the lag passes */
    int64_t off;
    assert_int_equal(produce(0, 1, 30000, "b0", &off), KERR_NONE);
    assert_int_equal(off, 2);
    struct probe pr = probe(0);
    if (isr_has(&pr, 3)) { /* the ISR still waits for 3: the record is not committed yet */
        assert_int_equal(pr.log_end, 3);
        struct fetched f = fetch(0, -1, -1, 0);
        assert_int_equal(f.error, KERR_NONE);
        assert_true(f.last < f.hw);
        int16_t err;
        int64_t latest = list_latest(0, &err);
        assert_int_equal(err, KERR_NONE);
        assert_true(latest <= f.hw);
    }
    /* the leader drops 3 from the ISR through the image; then the record is committed */
    wait_isr(2);
    pr = probe(0);
    assert_false(isr_has(&pr, 3));
    wait_caught_up(0, 3);
    struct fetched f = fetch(0, -1, -1, 0);
    assert_int_equal(f.nrecords, 3);
    assert_int_equal(f.hw, 3);
    assert_string_equal(f.values[2], "b0");
    /* a follower reads to the log end, a consumer never past the high watermark: both end at 3 here */
    assert_int_equal(produce(0, -1, 30000, "b1", &off), KERR_NONE);
    assert_int_equal(off, 3);
}

static void test_min_insync(void **state)
{
    (void)state;
    stop_node(1); /* now only the leader is left */
    /* a follower at the log end is in sync (Kafka's isCaughtUp): this record makes the stopped one lag. The
     * ISR still has 2 members when it is appended; the request waits for the high watermark, which moves
     * only once the ISR shrank to the leader alone: NOT_ENOUGH_REPLICAS_AFTER_APPEND */
    int64_t off;
    assert_int_equal(produce(0, -1, 30000, "c1", &off), KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    wait_isr(1);
    struct fetched f = fetch(0, -1, -1, 4);
    assert_int_equal(f.nrecords, 1);
    assert_string_equal(f.values[0], "c1");
    assert_int_equal(produce(0, -1, 30000, "c0", &off), KERR_NOT_ENOUGH_REPLICAS);
    assert_int_equal(probe(0).log_end, 5); /* refused before the append */
}

static void test_restart_catches_up(void **state)
{
    (void)state;
    start_node(1);
    /* node 2 fetches what it missed and rejoins the ISR through the image */
    wait_isr(2);
    struct probe pr = probe(0);
    assert_true(isr_has(&pr, 2));
    wait_caught_up(1, 5);
    int64_t off;
    assert_int_equal(produce(0, -1, 30000, "d0", &off), KERR_NONE);
    assert_int_equal(off, 5);
    wait_caught_up(1, 6);
}

static void test_leader_change_truncates(void **state)
{
    (void)state;
    stop_node(1); /* 2 has offsets 0..5 */
    int64_t off;
    /* records only the old leader gets (acks=1): they never become committed */
    assert_int_equal(produce(0, 1, 30000, "lost0", &off), KERR_NONE);
    assert_int_equal(off, 6);
    assert_int_equal(produce(0, 1, 30000, "lost1", &off), KERR_NONE);
    /* 2 drops out of the ISR, so 1 alone commits them: its high watermark is 8, above where the logs will
     * diverge, and only the epoch comparison (OffsetForLeaderEpoch) can find the divergence */
    wait_isr(1);
    wait_caught_up(0, 8);
    struct probe old = probe(0);
    assert_int_equal(old.log_end, 8);
    /* an unclean election of 2 (out of the ISR, behind): 1 becomes its follower */
    struct leader_change lc = {.leader = 2, .isr = {2}, .nisr = 1};
    on_loop(do_leader_change, &lc);
    struct probe pr = probe(0);
    assert_int_equal(pr.leader, 2);
    assert_int_equal(pr.leader_epoch, old.leader_epoch + 1);
    assert_false(pr.is_leader);
    /* the old leader refuses clients now */
    assert_int_equal(produce(0, 1, 30000, "x", &off), KERR_NOT_LEADER_OR_FOLLOWER);
    start_node(1);
    /* the new leader writes at its epoch, over the offsets 1 wrote alone */
    assert_int_equal(produce(1, 1, 30000, "new0", &off), KERR_NONE);
    assert_int_equal(off, 6);
    /* a fetch at the old epoch is fenced */
    assert_int_equal(fetch(1, -1, old.leader_epoch, 0).error, KERR_FENCED_LEADER_EPOCH);
    /* 1 truncates its diverged suffix and copies the leader's records */
    wait_isr(2);
    assert_int_equal(produce(1, -1, 30000, "new1", &off), KERR_NONE);
    assert_int_equal(off, 7);
    wait_caught_up(0, 8);
    struct fetched f = fetch(1, -1, -1, 0);
    assert_int_equal(f.nrecords, 8);
    assert_string_equal(f.values[6], "new0");
    assert_string_equal(f.values[7], "new1");
    /* what 1 holds is the leader's log, read as a replica from 1 once it leads again */
    struct leader_change back = {.leader = 1, .isr = {1, 2}, .nisr = 2};
    on_loop(do_leader_change, &back);
    pr = probe(0);
    assert_true(pr.is_leader);
    f = fetch(0, -1, -1, 0);
    assert_int_equal(f.error, KERR_NONE);
    assert_int_equal(f.nrecords, 8);
    assert_string_equal(f.values[5], "d0");
    assert_string_equal(f.values[6], "new0");
    assert_string_equal(f.values[7], "new1");
}

/* ---- groups follow __consumer_offsets leadership ---- */

static int32_t find_coordinator(int node, const char *group)
{
    struct kclient c;
    connect_node(&c, node);
    struct proto_arena a;
    proto_arena_init(&a);
    struct FindCoordinatorRequest r;
    proto_struct_init(proto_msg_FindCoordinatorRequest.body, &r);
    r.Key = proto_str_from(group);
    struct FindCoordinatorResponse resp;
    if (kclient_call(&c, API_FIND_COORDINATOR, 1, &r, &a, &resp) != 0)
        fail_msg("FindCoordinator on node %d: %s", node + 1, kclient_errmsg(&c));
    int32_t id = resp.ErrorCode == KERR_NONE ? resp.NodeId : -1;
    proto_arena_free(&a);
    kclient_close(&c);
    return id;
}

static int16_t heartbeat(int node, const char *group)
{
    struct kclient c;
    connect_node(&c, node);
    struct proto_arena a;
    proto_arena_init(&a);
    struct HeartbeatRequest r;
    proto_struct_init(proto_msg_HeartbeatRequest.body, &r);
    r.GroupId = proto_str_from(group);
    r.MemberId = proto_str_from("m");
    struct HeartbeatResponse resp;
    if (kclient_call(&c, API_HEARTBEAT, 0, &r, &a, &resp) != 0)
        fail_msg("Heartbeat on node %d: %s", node + 1, kclient_errmsg(&c));
    proto_arena_free(&a);
    kclient_close(&c);
    return resp.ErrorCode;
}

/* A standalone commit (generation -1) of TOPIC-0 at `offset`; returns the partition's error. */
static int16_t commit(int node, const char *group, int64_t offset)
{
    struct kclient c;
    connect_node(&c, node);
    struct proto_arena a;
    proto_arena_init(&a);
    struct OffsetCommitRequest r;
    proto_struct_init(proto_msg_OffsetCommitRequest.body, &r);
    r.GroupId = proto_str_from(group);
    r.GenerationIdOrMemberEpoch = -1;
    r.MemberId = proto_str_from("");
    r.Topics = proto_array_new(&a, &desc_OffsetCommitRequest_OffsetCommitRequestTopic, 1);
    r.Topics_n = 1;
    r.Topics[0].Name = proto_str_from(TOPIC);
    r.Topics[0].Partitions = proto_array_new(&a, &desc_OffsetCommitRequest_OffsetCommitRequestPartition, 1);
    r.Topics[0].Partitions_n = 1;
    r.Topics[0].Partitions[0].CommittedOffset = offset;
    r.Topics[0].Partitions[0].CommittedMetadata = proto_str_from("");
    struct OffsetCommitResponse resp;
    if (kclient_call(&c, API_OFFSET_COMMIT, 2, &r, &a, &resp) != 0)
        fail_msg("OffsetCommit on node %d: %s", node + 1, kclient_errmsg(&c));
    int16_t err = resp.Topics[0].Partitions[0].ErrorCode;
    proto_arena_free(&a);
    kclient_close(&c);
    return err;
}

/* The committed offset of TOPIC-0 (-1: none); *error gets the partition's or the top-level error. */
static int64_t committed(int node, const char *group, int16_t *error)
{
    struct kclient c;
    connect_node(&c, node);
    struct proto_arena a;
    proto_arena_init(&a);
    struct OffsetFetchRequest r;
    proto_struct_init(proto_msg_OffsetFetchRequest.body, &r);
    r.GroupId = proto_str_from(group);
    int32_t parts[] = {0};
    r.Topics = proto_array_new(&a, &desc_OffsetFetchRequest_OffsetFetchRequestTopic, 1);
    r.Topics_n = 1;
    r.Topics[0].Name = proto_str_from(TOPIC);
    r.Topics[0].PartitionIndexes = parts;
    r.Topics[0].PartitionIndexes_n = 1;
    struct OffsetFetchResponse resp;
    if (kclient_call(&c, API_OFFSET_FETCH, 2, &r, &a, &resp) != 0)
        fail_msg("OffsetFetch on node %d: %s", node + 1, kclient_errmsg(&c));
    *error = resp.ErrorCode != KERR_NONE ? resp.ErrorCode : resp.Topics[0].Partitions[0].ErrorCode;
    int64_t off = resp.Topics[0].Partitions[0].CommittedOffset;
    proto_arena_free(&a);
    kclient_close(&c);
    return off;
}

/* The log ends of __consumer_offsets-0 on nodes 1 and 2 (-1: not hosted). */
static void do_offsets_ends(struct cluster *cl, void *arg)
{
    int64_t *ends = arg;
    for (int i = 0; i < 2; i++) {
        struct rp_partition *p =
            cl->nodes[i].b ? rp_partition_get(cl->nodes[i].b->partitions, proto_str_from(OFFSETS), 0) : NULL;
        ends[i] = p ? plog_log_end_offset(p->log) : -1;
    }
}

static void wait_offsets_replicated(void)
{
    int64_t until = mono_ms() + DEADLINE_MS;
    int64_t ends[2];
    while (on_loop(do_offsets_ends, ends), !(ends[0] > 0 && ends[1] == ends[0])) {
        if (mono_ms() > until)
            fail_msg("__consumer_offsets-0 log ends: node 1 %lld, node 2 %lld", (long long)ends[0], (long long)ends[1]);
        sleep_ms(20);
    }
}

/* Polls until node answers the group's Heartbeat with `want` (its coordinator loaded or unloaded). */
static void wait_heartbeat(int node, const char *group, int16_t want)
{
    int64_t until = mono_ms() + DEADLINE_MS;
    int16_t got;
    while ((got = heartbeat(node, group)) != want) {
        if (mono_ms() > until)
            fail_msg("node %d answers Heartbeat with %d, want %d", node + 1, got, want);
        sleep_ms(20);
    }
}

static void test_groups_follow_leadership(void **state)
{
    (void)state;
    on_loop(do_create_offsets_topic, NULL);
    const char *g = "payments";
    assert_int_equal(find_coordinator(1, g), 1);
    assert_int_equal(find_coordinator(0, g), 1);
    wait_heartbeat(0, g, KERR_UNKNOWN_MEMBER_ID); /* node 1 coordinates once the partition is loaded */
    assert_int_equal(heartbeat(1, g), KERR_NOT_COORDINATOR);
    assert_int_equal(commit(1, g, 5), KERR_NOT_COORDINATOR);
    assert_int_equal(commit(0, g, 5), KERR_NONE);
    int16_t err;
    assert_int_equal(committed(0, g, &err), 5);
    assert_int_equal(err, KERR_NONE);
    /* the commit record reaches follower 2; then leadership of __consumer_offsets-0 moves to 2: 1 unloads
     * the group, 2 loads what it replicated */
    wait_offsets_replicated();
    struct leader_change lc = {.leader = 2, .isr = {2, 1}, .nisr = 2, .topic = OFFSETS};
    on_loop(do_leader_change, &lc);
    assert_int_equal(heartbeat(0, g), KERR_NOT_COORDINATOR);
    assert_int_equal(find_coordinator(0, g), 2);
    wait_heartbeat(1, g, KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(committed(1, g, &err), 5);
    assert_int_equal(err, KERR_NONE);
}

/* acks=all with a zero timeout: the leader appends, but the request expires before any follower can fetch
 * (its next fetch arrives on a later loop turn than the expiry), as Kafka's DelayedProduce. */
static void test_acks_all_timeout(void **state)
{
    (void)state;
    struct probe pr = probe(0);
    assert_true(pr.is_leader);
    int64_t end = pr.log_end;
    int64_t off;
    assert_int_equal(produce(0, -1, 0, "late", &off), KERR_REQUEST_TIMED_OUT);
    /* the record was appended all the same and is replicated */
    wait_caught_up(1, end + 1);
    struct fetched f = fetch(0, -1, -1, end);
    assert_int_equal(f.nrecords, 1);
    assert_string_equal(f.values[0], "late");
}

/* Every topic deleted: no partition is followed any more, so no fetcher runs (before, a deleted topic's
 * follower kept its fetcher, connection and periodic walk of every partition until some other role
 * change synced the set). */
static void do_delete_all_topics(struct cluster *cl, void *arg)
{
    (void)arg;
    size_t n;
    struct md_topic *const *ts = md_image_topics_sorted(&cl->img, &n);
    proto_uuid ids[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        ids[i] = ts[i]->id;
    for (size_t i = 0; i < n; i++) {
        struct RemoveTopicRecord r;
        proto_struct_init(proto_msg_RemoveTopicRecord.body, &r);
        r.TopicId = ids[i];
        apply(cl, &proto_msg_RemoveTopicRecord, &r);
    }
    publish_all(cl);
}

struct fetcher_counts {
    size_t n[NODES];
};

static void do_count_fetchers(struct cluster *cl, void *arg)
{
    struct fetcher_counts *fc = arg;
    for (int i = 0; i < NODES; i++)
        fc->n[i] = cl->nodes[i].b ? repl_fetchers_count(cl->nodes[i].b->fetchers) : 0;
}

static void test_deleted_topics_stop_their_fetchers(void **state)
{
    (void)state;
    struct fetcher_counts fc;
    on_loop(do_count_fetchers, &fc);
    assert_true(fc.n[0] + fc.n[1] + fc.n[2] > 0); /* the followers fetch */
    on_loop(do_delete_all_topics, NULL);
    on_loop(do_count_fetchers, &fc);
    for (int i = 0; i < NODES; i++)
        assert_int_equal(fc.n[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replicates_to_followers),
        cmocka_unit_test(test_not_leader_and_epochs),
        cmocka_unit_test(test_consumers_stop_at_high_watermark),
        cmocka_unit_test(test_min_insync),
        cmocka_unit_test(test_restart_catches_up),
        cmocka_unit_test(test_leader_change_truncates),
        cmocka_unit_test(test_groups_follow_leadership),
        cmocka_unit_test(test_acks_all_timeout),
        cmocka_unit_test(test_deleted_topics_stop_their_fetchers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
