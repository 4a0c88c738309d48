/* zk_alter_queue: the pure core of a legacy-mode broker's AlterPartition proposals (zk_alter.c is its
 * adapter: channel, timers, image), after Kafka 3.7's AlterPartitionManager:
 *  - at most one proposal per partition waits (unsent or in flight); a second one is refused (the adapter
 *    answers it OPERATION_NOT_ATTEMPTED). The check is a hash lookup on (topic id, partition): after a
 *    failover a leader proposes tens of thousands of ISR changes at once;
 *  - everything unsent goes into one request when nothing is in flight, the partitions grouped under one
 *    TopicData per topic id, as Kafka's manager sends everything pending in one request;
 *  - a failed request's proposals go back to the head of the queue (the adapter retries after a backoff);
 *  - an answer is matched to the proposals in flight through the same hash (each proposal gets its
 *    partition's result, NULL when the response lacks it).
 * Not thread-safe; no I/O. */
#ifndef FERRY_ZK_ALTER_QUEUE_H
#define FERRY_ZK_ALTER_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/metadata/md_map.h"
#include "broker/metadata/md_source.h"
#include "proto_messages.h"

struct zk_alterq_item {
    struct zk_alterq_item *next;
    proto_uuid topic_id;
    int32_t partition;
    int32_t leader_epoch;
    int32_t partition_epoch;
    int32_t *isr;
    int32_t nisr;
    md_alter_done_fn done;
    void *arg;
    bool in_flight;
    /* set by zk_alterq_finish: the partition's result and its topic's id, or NULL when the response lacks it */
    const struct AlterPartitionResponse_PartitionData *result;
    proto_uuid result_topic;
};

struct zk_alterq {
    struct zk_alterq_item *unsent, *unsent_tail;
    struct zk_alterq_item *inflight; /* the proposals of the request in flight, in queue order */
    struct zk_alterq_item *refused;  /* duplicates to answer OPERATION_NOT_ATTEMPTED */
    struct md_map waiting;           /* (topic id, partition) of every unsent or in-flight proposal -> item */
};

void zk_alterq_init(struct zk_alterq *q);
/* Frees every proposal without answering it. */
void zk_alterq_free(struct zk_alterq *q);
void zk_alterq_free_items(struct zk_alterq_item *list);

/* Queues a copy of req with its callback: 0 when queued, 1 when refused (one for the partition already
 * waits: the item goes to q->refused), FERRY_ENOMEM when nothing was queued. */
int zk_alterq_add(struct zk_alterq *q, const struct md_alter_partition *req, md_alter_done_fn done, void *arg);
/* Detaches the refused proposals (the caller answers and frees them). */
struct zk_alterq_item *zk_alterq_take_refused(struct zk_alterq *q);
/* When nothing is in flight and something is unsent: puts every unsent proposal in flight and fills *req
 * (allocated in arena) for them; returns 0. 1 when there is nothing to send now (q unchanged);
 * FERRY_ENOMEM (the proposals are then in flight: zk_alterq_requeue puts them back). */
int zk_alterq_send(struct zk_alterq *q, struct proto_arena *arena, int32_t broker_id, int64_t broker_epoch,
                   struct AlterPartitionRequest *req);
/* Puts the proposals in flight back at the head of the queue, in their order (a failed request). */
void zk_alterq_requeue(struct zk_alterq *q);
/* The request in flight was answered: detaches its proposals (they no longer wait) with each one's result
 * from resp set; the caller answers and frees them. resp must outlive the results' use. */
struct zk_alterq_item *zk_alterq_finish(struct zk_alterq *q, const struct AlterPartitionResponse *resp);

#endif
