/* zk_alter: md_source alter_partition for a legacy-mode broker, after Kafka 3.7's AlterPartitionManager:
 * proposals are queued (zk_alter_queue.h: at most one per partition; a second one while the first waits is
 * answered OPERATION_NOT_ATTEMPTED), and everything queued goes in one AlterPartition request at a time,
 * grouped by topic, to the current controller over a zk_ctrl_chan: the first proposal arms a timer for the
 * next loop turn, so the proposals of one turn (an ISR check over every led partition) travel together,
 * and what is proposed while a request is in flight follows in the next one.
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
 * (done(error)). The accepted proposals' returned states (leader epoch unchanged, newer partition epoch)
 * are applied to the image as PartitionRecords and published once per response, as Kafka's Partition
 * applies the response; the controller's UpdateMetadata with the same states then changes nothing. */
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/metadata/md_delta.h"
#include "proto_codec.h"
#include "zk_alter_queue.h"
#include "zk_broker_api.h"
#include "zk_ctrl_chan.h"
#include "zk_source_internal.h"

#define ALTER_VERSION 3
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

struct zk_alter {
    struct zk_src *z;
    struct zk_chan *chan;
    struct zk_alterq q;
    struct proto_arena arena; /* the request in flight */
    struct AlterPartitionRequest req;
    uint64_t backoff_ms;
};

void zk_alter_free(struct zk_alter *a)
{
    if (!a)
        return;
    zk_chan_close(a->chan);
    zk_alterq_free(&a->q);
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
    zk_alterq_init(&a->q);
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

static void schedule(struct zk_alter *a, uint64_t after_ms) { zk_chan_later(a->chan, after_ms, on_timer, a); }

/* Puts the proposals of the failed request back at the head of the queue and retries after a backoff. */
static void retry_later(struct zk_alter *a)
{
    zk_alterq_requeue(&a->q);
    proto_arena_free(&a->arena);
    a->backoff_ms = a->backoff_ms ? a->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (a->backoff_ms > BACKOFF_MAX_MS)
        a->backoff_ms = BACKOFF_MAX_MS;
    schedule(a, a->backoff_ms);
}

/* The returned state of an accepted proposal into the image (into d), when it is newer than the image's. */
static void apply_returned(struct zk_alter *a, proto_uuid topic_id, const struct AlterPartitionResponse_PartitionData *p,
                           struct md_delta *d)
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
    int rc = md_image_apply(&z->img, &proto_msg_PartitionRecord, &r, z->next_offset, d);
    if (rc == 0)
        z->next_offset++;
    else
        LOG_WARN("zk", "%s-%d: the controller's new ISR did not apply: %s", t->name, p->PartitionIndex,
                 ferry_strerror(rc));
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
    struct zk_alterq_item *items = zk_alterq_finish(&a->q, resp);
    /* every accepted state into the image and one publication, then the answers (done may propose again:
     * it queues), all before the response is freed */
    struct md_delta d;
    md_delta_init(&d);
    size_t missing = 0;
    for (struct zk_alterq_item *it = items; it; it = it->next) {
        if (!it->result)
            missing++;
        else if (it->result->ErrorCode == KERR_NONE)
            apply_returned(a, it->result_topic, it->result, &d);
    }
    zk_src_publish(a->z, &d);
    if (missing)
        LOG_WARN("zk", "broker %d: AlterPartition response from controller %d lacks %zu partition(s)", a->z->broker_id,
                 controller_id, missing);
    for (struct zk_alterq_item *it = items; it; it = it->next)
        it->done(it->arg, it->result ? it->result->ErrorCode : KERR_UNKNOWN_SERVER_ERROR);
    zk_alterq_free_items(items);
    proto_arena_free(&a->arena);
    if (a->q.unsent)
        schedule(a, 0);
}

static void on_timer(void *arg)
{
    struct zk_alter *a = arg;
    struct zk_alterq_item *refused = zk_alterq_take_refused(&a->q);
    for (struct zk_alterq_item *it = refused; it; it = it->next)
        it->done(it->arg, KERR_OPERATION_NOT_ATTEMPTED);
    zk_alterq_free_items(refused);
    int rc = zk_alterq_send(&a->q, &a->arena, a->z->broker_id, zk_source_broker_epoch(a->z), &a->req);
    if (rc == 1)
        return; /* nothing unsent, or a request in flight (its answer sends the rest) */
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
    int rc = a ? zk_alterq_add(&a->q, req, done, arg) : FERRY_ENOMEM;
    if (rc < 0) {
        LOG_ERROR("zk", "broker %d: out of memory proposing an ISR change: not proposed", z->broker_id);
        return; /* done never runs: the caller's proposal stays pending, as for a lost request */
    }
    /* one timer turn sends everything proposed until then (and answers a refused duplicate) */
    if ((!a->q.inflight || rc == 1) && !zk_chan_later_pending(a->chan))
        schedule(a, 0);
}
