/* zk_alter: md_source alter_partition for a legacy-mode broker, after Kafka 3.7's AlterPartitionManager:
 * proposals are queued, at most one per partition (a second one while the first waits is answered
 * OPERATION_NOT_ATTEMPTED), and sent together in one AlterPartition request at a time to the current
 * controller over a zk_ctrl_chan.
 *
 * Version: 3 (topic ids, NewIsrWithEpochs), what a Kafka 3.7 ZooKeeper-mode broker at IBP 3.7 negotiates
 * with a 3.7 controller (AlterPartition 0-3) when every topic has an id; in legacy mode the image only
 * holds topics with ids (zkrpc refuses LeaderAndIsr for a topic without one). The ISR members' broker
 * epochs are -1, as Kafka's ZooKeeper-mode leaders send them (their followers fetch below Fetch v15 and do
 * not report an epoch).
 *
 * Retries, as Kafka's broker-to-controller channel: a connection failure, a timeout, no known controller,
 * or a top-level error (NOT_CONTROLLER when the controller moved, STALE_BROKER_EPOCH, ...) puts the
 * proposals back and sends them again after a backoff (100 ms doubling to 2 s), to whichever broker then
 * holds /controller; the broker epoch is read at each send. A per-partition error answers that proposal
 * (done(error)). An accepted proposal's returned state (leader epoch unchanged, newer partition epoch) is
 * applied to the image as a PartitionRecord and published, as Kafka's Partition applies the response; the
 * controller's UpdateMetadata with the same state then changes nothing. */
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/metadata/md_delta.h"
#include "proto_codec.h"
#include "zk_broker_api.h"
#include "zk_ctrl_chan.h"
#include "zk_source_internal.h"

#define ALTER_VERSION 3
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

struct alter_item {
    struct alter_item *next;
    proto_uuid topic_id;
    int32_t partition;
    int32_t leader_epoch;
    int32_t partition_epoch;
    int32_t *isr;
    int32_t nisr;
    md_alter_done_fn done;
    void *arg;
};

struct zk_alter {
    struct zk_src *z;
    struct zk_chan *chan;
    struct alter_item *unsent, *unsent_tail;
    struct alter_item *inflight;  /* the proposals of the request in flight */
    struct alter_item *refused;   /* answered OPERATION_NOT_ATTEMPTED from the timer */
    struct proto_arena arena;     /* the request in flight */
    struct AlterPartitionRequest req;
    uint64_t backoff_ms;
};

static void free_item(struct alter_item *it)
{
    ferry_free(it->isr);
    ferry_free(it);
}

static void free_list(struct alter_item *it)
{
    while (it) {
        struct alter_item *n = it->next;
        free_item(it);
        it = n;
    }
}

void zk_alter_free(struct zk_alter *a)
{
    if (!a)
        return;
    zk_chan_close(a->chan);
    free_list(a->unsent);
    free_list(a->inflight);
    free_list(a->refused);
    proto_arena_free(&a->arena);
    ferry_free(a);
}

static void on_timer(void *arg);

static int alter_new(struct zk_src *z, struct zk_alter **out)
{
    struct zk_alter *a = ferry_calloc(1, sizeof *a);
    if (!a)
        return FERRY_ENOMEM;
    a->z = z;
    proto_arena_init(&a->arena);
    char client_id[64];
    snprintf(client_id, sizeof client_id, "ferry-broker-%d-alter-partition", z->broker_id);
    if (zk_chan_new(z, client_id, &a->chan)) {
        ferry_free(a);
        return FERRY_ENOMEM;
    }
    *out = a;
    return 0;
}

static bool same_partition(const struct alter_item *it, proto_uuid topic_id, int32_t partition)
{
    return it->partition == partition && memcmp(it->topic_id.b, topic_id.b, sizeof topic_id.b) == 0;
}

static bool waiting(const struct zk_alter *a, proto_uuid topic_id, int32_t partition)
{
    for (const struct alter_item *it = a->unsent; it; it = it->next)
        if (same_partition(it, topic_id, partition))
            return true;
    for (const struct alter_item *it = a->inflight; it; it = it->next)
        if (same_partition(it, topic_id, partition))
            return true;
    return false;
}

static void schedule(struct zk_alter *a, uint64_t after_ms) { zk_chan_later(a->chan, after_ms, on_timer, a); }

/* Puts the proposals of the failed request back at the head of the queue and retries after a backoff. */
static void retry_later(struct zk_alter *a)
{
    struct alter_item *last = a->inflight;
    if (last) {
        while (last->next)
            last = last->next;
        last->next = a->unsent;
        if (!a->unsent)
            a->unsent_tail = last;
        a->unsent = a->inflight;
        a->inflight = NULL;
    }
    proto_arena_free(&a->arena);
    a->backoff_ms = a->backoff_ms ? a->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (a->backoff_ms > BACKOFF_MAX_MS)
        a->backoff_ms = BACKOFF_MAX_MS;
    schedule(a, a->backoff_ms);
}

/* The returned state of an accepted proposal into the image, when it is newer than the image's. */
static void apply_returned(struct zk_alter *a, proto_uuid topic_id, const struct AlterPartitionResponse_PartitionData *p)
{
    struct zk_src *z = a->z;
    const struct md_topic *t = md_image_topic_by_id(&z->img, topic_id);
    const struct md_partition *mp = md_topic_partition(t, p->PartitionIndex);
    if (!mp || p->LeaderEpoch != mp->leader_epoch || p->PartitionEpoch <= mp->partition_epoch || p->Isr_n < 0)
        return;
    struct PartitionRecord r;
    proto_struct_init(proto_msg_PartitionRecord.body, &r);
    r.PartitionId = p->PartitionIndex;
    r.TopicId = topic_id;
    r.Replicas = mp->replicas.v;
    r.Replicas_n = mp->replicas.n;
    r.Isr = p->Isr;
    r.Isr_n = p->Isr_n;
    r.RemovingReplicas = mp->removing.v;
    r.RemovingReplicas_n = mp->removing.n;
    r.AddingReplicas = mp->adding.v;
    r.AddingReplicas_n = mp->adding.n;
    r.Leader = p->LeaderId;
    r.LeaderRecoveryState = p->LeaderRecoveryState;
    r.LeaderEpoch = p->LeaderEpoch;
    r.PartitionEpoch = p->PartitionEpoch;
    struct md_delta d;
    md_delta_init(&d);
    int rc = md_image_apply(&z->img, &proto_msg_PartitionRecord, &r, z->next_offset, &d);
    if (rc == 0)
        z->next_offset++;
    else
        LOG_WARN("zk", "%s-%d: the controller's new ISR did not apply: %s", t->name, p->PartitionIndex,
                 ferry_strerror(rc));
    zk_src_publish(z, &d);
}

static const struct AlterPartitionResponse_PartitionData *
find_result(const struct AlterPartitionResponse *resp, const struct alter_item *it, proto_uuid *topic_id)
{
    for (int32_t t = 0; t < resp->Topics_n; t++) {
        const struct AlterPartitionResponse_TopicData *td = &resp->Topics[t];
        if (memcmp(td->TopicId.b, it->topic_id.b, sizeof it->topic_id.b) != 0)
            continue;
        for (int32_t p = 0; p < td->Partitions_n; p++)
            if (td->Partitions[p].PartitionIndex == it->partition) {
                *topic_id = td->TopicId;
                return &td->Partitions[p];
            }
    }
    return NULL;
}

static void on_response(void *arg, int rc, int32_t controller_id, void *resp_v)
{
    struct zk_alter *a = arg;
    const struct AlterPartitionResponse *resp = resp_v;
    if (rc || resp->ErrorCode != KERR_NONE) {
        if (rc == 0)
            LOG_WARN("zk", "broker %d: AlterPartition to controller %d answered %s: retrying", a->z->broker_id,
                     controller_id, kafka_error_name(resp->ErrorCode));
        retry_later(a);
        return;
    }
    a->backoff_ms = 0;
    struct alter_item *items = a->inflight;
    a->inflight = NULL;
    /* answer every proposal before freeing the request (done may propose again: it queues) */
    for (struct alter_item *it = items; it; it = it->next) {
        proto_uuid id;
        const struct AlterPartitionResponse_PartitionData *p = find_result(resp, it, &id);
        int16_t error = p ? p->ErrorCode : KERR_UNKNOWN_SERVER_ERROR;
        if (!p)
            LOG_WARN("zk", "broker %d: AlterPartition response from controller %d lacks partition %d", a->z->broker_id,
                     controller_id, it->partition);
        else if (error == KERR_NONE)
            apply_returned(a, id, p);
        it->done(it->arg, error);
    }
    free_list(items);
    proto_arena_free(&a->arena);
    if (a->unsent)
        schedule(a, 0);
}

/* The request for the proposals now in flight, in a->arena. */
static int build_request(struct zk_alter *a)
{
    struct zk_src *z = a->z;
    memset(&a->req, 0, sizeof a->req);
    proto_struct_init(proto_msg_AlterPartitionRequest.body, &a->req);
    a->req.BrokerId = z->broker_id;
    a->req.BrokerEpoch = zk_source_broker_epoch(z);
    int32_t n = 0;
    for (const struct alter_item *it = a->inflight; it; it = it->next)
        n++;
    /* one TopicData per proposal: the controller accepts a topic listed more than once */
    a->req.Topics = proto_array_new(&a->arena, &desc_AlterPartitionRequest_TopicData, n);
    if (!a->req.Topics)
        return FERRY_ENOMEM;
    a->req.Topics_n = n;
    int32_t k = 0;
    for (const struct alter_item *it = a->inflight; it; it = it->next, k++) {
        struct AlterPartitionRequest_TopicData *td = &a->req.Topics[k];
        td->TopicId = it->topic_id;
        td->Partitions = proto_array_new(&a->arena, &desc_AlterPartitionRequest_PartitionData, 1);
        if (!td->Partitions)
            return FERRY_ENOMEM;
        td->Partitions_n = 1;
        struct AlterPartitionRequest_PartitionData *pd = &td->Partitions[0];
        pd->PartitionIndex = it->partition;
        pd->LeaderEpoch = it->leader_epoch;
        pd->PartitionEpoch = it->partition_epoch;
        pd->LeaderRecoveryState = 0; /* RECOVERED: Ferry's leaders never propose RECOVERING */
        pd->NewIsrWithEpochs = proto_array_new(&a->arena, &desc_AlterPartitionRequest_BrokerState, it->nisr);
        if (it->nisr > 0 && !pd->NewIsrWithEpochs)
            return FERRY_ENOMEM;
        pd->NewIsrWithEpochs_n = it->nisr;
        for (int32_t i = 0; i < it->nisr; i++)
            pd->NewIsrWithEpochs[i] = (struct AlterPartitionRequest_BrokerState){it->isr[i], -1};
    }
    return 0;
}

static void on_timer(void *arg)
{
    struct zk_alter *a = arg;
    struct alter_item *refused = a->refused;
    a->refused = NULL;
    for (struct alter_item *it = refused; it; it = it->next)
        it->done(it->arg, KERR_OPERATION_NOT_ATTEMPTED);
    free_list(refused);
    if (a->inflight || !a->unsent)
        return;
    a->inflight = a->unsent;
    a->unsent = a->unsent_tail = NULL;
    int rc = build_request(a);
    if (rc == 0)
        rc = zk_chan_send(a->chan, 56 /* AlterPartition */, ALTER_VERSION, &a->req, on_response, a);
    if (rc) {
        if (rc != FERRY_ENOTFOUND || a->backoff_ms == 0)
            LOG_INFO("zk", "broker %d: AlterPartition not sent (%s): retrying", a->z->broker_id,
                     rc == FERRY_ENOTFOUND ? "no controller known" : ferry_strerror(rc));
        retry_later(a);
    }
}

void zk_alter_partition(void *impl, const struct md_alter_partition *req, md_alter_done_fn done, void *arg)
{
    struct zk_src *z = impl;
    struct zk_bapi *s = zk_bapi_get(z);
    struct zk_alter *a = s ? s->alter : NULL;
    if (s && !a && alter_new(z, &s->alter) == 0)
        a = s->alter;
    struct alter_item *it = ferry_calloc(1, sizeof *it);
    int32_t *isr = ferry_malloc(sizeof *isr * (size_t)(req->nisr + 1));
    if (!a || !it || !isr) {
        LOG_ERROR("zk", "broker %d: out of memory proposing an ISR change: not proposed", z->broker_id);
        ferry_free(it);
        ferry_free(isr);
        return; /* done never runs: the caller's proposal stays pending, as for a lost request */
    }
    memcpy(isr, req->new_isr, sizeof *isr * (size_t)req->nisr);
    *it = (struct alter_item){NULL, req->topic_id, req->partition, req->leader_epoch, req->partition_epoch, isr,
                              req->nisr, done, arg};
    if (waiting(a, req->topic_id, req->partition)) {
        it->next = a->refused;
        a->refused = it;
    } else {
        if (a->unsent_tail)
            a->unsent_tail->next = it;
        else
            a->unsent = it;
        a->unsent_tail = it;
    }
    if (!a->inflight && !zk_chan_later_pending(a->chan))
        schedule(a, 0);
    else if (a->refused == it)
        schedule(a, 0); /* answer it now; the queue is sent by the next timer or response */
}
