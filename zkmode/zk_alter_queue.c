/* zk_alter_queue: see zk_alter_queue.h. */
#include "zk_alter_queue.h"

#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "proto_codec.h"

/* A partition's hash key: the topic id's 16 bytes, then the partition index. */
enum { KEY_LEN = 16 + sizeof(int32_t) };

static void key_of(proto_uuid topic_id, int32_t partition, char key[KEY_LEN])
{
    memcpy(key, topic_id.b, 16);
    memcpy(key + 16, &partition, sizeof partition);
}

void zk_alterq_init(struct zk_alterq *q)
{
    memset(q, 0, sizeof *q);
    md_map_init(&q->waiting);
}

void zk_alterq_free_items(struct zk_alterq_item *it)
{
    while (it) {
        struct zk_alterq_item *n = it->next;
        ferry_free(it->isr);
        ferry_free(it);
        it = n;
    }
}

void zk_alterq_free(struct zk_alterq *q)
{
    zk_alterq_free_items(q->unsent);
    zk_alterq_free_items(q->inflight);
    zk_alterq_free_items(q->refused);
    md_map_free(&q->waiting);
    zk_alterq_init(q);
}

int zk_alterq_add(struct zk_alterq *q, const struct md_alter_partition *req, md_alter_done_fn done, void *arg)
{
    struct zk_alterq_item *it = ferry_calloc(1, sizeof *it);
    int32_t *isr = ferry_malloc(sizeof *isr * (size_t)(req->nisr > 0 ? req->nisr : 1));
    if (!it || !isr) {
        ferry_free(it);
        ferry_free(isr);
        return FERRY_ENOMEM;
    }
    if (req->nisr > 0)
        memcpy(isr, req->new_isr, sizeof *isr * (size_t)req->nisr);
    *it = (struct zk_alterq_item){NULL, req->topic_id, req->partition, req->leader_epoch, req->partition_epoch,
                                  isr, req->nisr > 0 ? req->nisr : 0, done, arg, false, NULL, {{0}}};
    char key[KEY_LEN];
    key_of(req->topic_id, req->partition, key);
    if (md_map_get(&q->waiting, key, sizeof key)) {
        it->next = q->refused;
        q->refused = it;
        return 1;
    }
    if (md_map_put(&q->waiting, key, sizeof key, it)) {
        zk_alterq_free_items(it);
        return FERRY_ENOMEM;
    }
    if (q->unsent_tail)
        q->unsent_tail->next = it;
    else
        q->unsent = it;
    q->unsent_tail = it;
    return 0;
}

struct zk_alterq_item *zk_alterq_take_refused(struct zk_alterq *q)
{
    struct zk_alterq_item *r = q->refused;
    q->refused = NULL;
    return r;
}

void zk_alterq_requeue(struct zk_alterq *q)
{
    struct zk_alterq_item *last = q->inflight;
    if (!last)
        return;
    last->in_flight = false;
    while (last->next) {
        last = last->next;
        last->in_flight = false;
    }
    last->next = q->unsent;
    if (!q->unsent)
        q->unsent_tail = last;
    q->unsent = q->inflight;
    q->inflight = NULL;
}

/* The request for the proposals in flight: one TopicData per topic id, in first-proposal order. */
static int build(const struct zk_alterq *q, struct proto_arena *arena, struct AlterPartitionRequest *req)
{
    size_t n = 0;
    for (const struct zk_alterq_item *it = q->inflight; it; it = it->next)
        n++;
    /* pass 1: each proposal's topic index, and the partition count per topic */
    int32_t *topic_of = proto_arena_alloc(arena, n * sizeof *topic_of);
    int32_t *count = proto_arena_alloc(arena, n * sizeof *count);
    if (!topic_of || !count)
        return FERRY_ENOMEM;
    struct md_map topics; /* topic id -> index + 1 */
    md_map_init(&topics);
    int32_t ntopics = 0;
    size_t k = 0;
    for (const struct zk_alterq_item *it = q->inflight; it; it = it->next, k++) {
        uintptr_t idx = (uintptr_t)md_map_get(&topics, it->topic_id.b, 16);
        if (!idx) {
            idx = (uintptr_t)++ntopics;
            count[idx - 1] = 0;
            if (md_map_put(&topics, it->topic_id.b, 16, (void *)idx)) {
                md_map_free(&topics);
                return FERRY_ENOMEM;
            }
        }
        topic_of[k] = (int32_t)idx - 1;
        count[idx - 1]++;
    }
    md_map_free(&topics);
    req->Topics = proto_array_new(arena, &desc_AlterPartitionRequest_TopicData, ntopics);
    if (!req->Topics)
        return FERRY_ENOMEM;
    req->Topics_n = ntopics;
    for (int32_t t = 0; t < ntopics; t++) {
        req->Topics[t].Partitions = proto_array_new(arena, &desc_AlterPartitionRequest_PartitionData, count[t]);
        if (!req->Topics[t].Partitions)
            return FERRY_ENOMEM;
    }
    /* pass 2: fill, in queue order within each topic */
    k = 0;
    for (const struct zk_alterq_item *it = q->inflight; it; it = it->next, k++) {
        struct AlterPartitionRequest_TopicData *td = &req->Topics[topic_of[k]];
        td->TopicId = it->topic_id;
        struct AlterPartitionRequest_PartitionData *pd = &td->Partitions[td->Partitions_n++];
        pd->PartitionIndex = it->partition;
        pd->LeaderEpoch = it->leader_epoch;
        pd->PartitionEpoch = it->partition_epoch;
        pd->LeaderRecoveryState = 0; /* RECOVERED: Ferry's leaders never propose RECOVERING */
        pd->NewIsrWithEpochs = proto_array_new(arena, &desc_AlterPartitionRequest_BrokerState, it->nisr);
        if (it->nisr > 0 && !pd->NewIsrWithEpochs)
            return FERRY_ENOMEM;
        pd->NewIsrWithEpochs_n = it->nisr;
        for (int32_t i = 0; i < it->nisr; i++) /* -1: ZooKeeper-mode followers report no broker epoch */
            pd->NewIsrWithEpochs[i] = (struct AlterPartitionRequest_BrokerState){it->isr[i], -1};
    }
    return 0;
}

int zk_alterq_send(struct zk_alterq *q, struct proto_arena *arena, int32_t broker_id, int64_t broker_epoch,
                   struct AlterPartitionRequest *req)
{
    if (q->inflight || !q->unsent)
        return 1;
    q->inflight = q->unsent;
    q->unsent = q->unsent_tail = NULL;
    for (struct zk_alterq_item *it = q->inflight; it; it = it->next)
        it->in_flight = true;
    memset(req, 0, sizeof *req);
    proto_struct_init(proto_msg_AlterPartitionRequest.body, req);
    req->BrokerId = broker_id;
    req->BrokerEpoch = broker_epoch;
    return build(q, arena, req);
}

struct zk_alterq_item *zk_alterq_finish(struct zk_alterq *q, const struct AlterPartitionResponse *resp)
{
    struct zk_alterq_item *items = q->inflight;
    q->inflight = NULL;
    char key[KEY_LEN];
    for (int32_t t = 0; resp && t < resp->Topics_n; t++) {
        const struct AlterPartitionResponse_TopicData *td = &resp->Topics[t];
        for (int32_t p = 0; p < td->Partitions_n; p++) {
            key_of(td->TopicId, td->Partitions[p].PartitionIndex, key);
            struct zk_alterq_item *it = md_map_get(&q->waiting, key, sizeof key);
            if (it && it->in_flight && !it->result) { /* the first result for a partition counts */
                it->result = &td->Partitions[p];
                it->result_topic = td->TopicId;
            }
        }
    }
    for (struct zk_alterq_item *it = items; it; it = it->next) {
        key_of(it->topic_id, it->partition, key);
        md_map_remove(&q->waiting, key, sizeof key);
    }
    return items;
}
