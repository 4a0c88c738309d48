/* Unit tests for zkmode/zk_alter_queue.h: every proposal queued goes into one request, grouped by topic id
 * in first-proposal order; a second proposal for a waiting (unsent or in-flight) partition is refused, and
 * accepted again once the first was answered; nothing is sent while a request is in flight; a failed
 * request's proposals go back to the head of the queue; an answer is matched to its proposals (a missing
 * partition gets no result, a partition not in flight is ignored). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "proto_codec.h"
#include "zkmode/zk_alter_queue.h"

static const proto_uuid T1 = {{1}}, T2 = {{2}}, T3 = {{3}};
static int32_t isr2[] = {1, 2};

static void noop_done(void *arg, int16_t error)
{
    (void)arg;
    (void)error;
}

static int add(struct zk_alterq *q, proto_uuid topic, int32_t partition, int32_t epoch)
{
    struct md_alter_partition r = {.broker_id = 1, .broker_epoch = 7, .topic_id = topic, .partition = partition,
                                   .leader_epoch = epoch, .new_isr = isr2, .nisr = 2, .partition_epoch = epoch + 10};
    return zk_alterq_add(q, &r, noop_done, NULL);
}

static size_t count(const struct zk_alterq_item *it)
{
    size_t n = 0;
    for (; it; it = it->next)
        n++;
    return n;
}

static void one_request_grouped_by_topic(void **state)
{
    (void)state;
    struct zk_alterq q;
    zk_alterq_init(&q);
    /* 3000 proposals over three topics, interleaved */
    for (int32_t p = 0; p < 1000; p++) {
        assert_int_equal(add(&q, T1, p, 4), 0);
        assert_int_equal(add(&q, T2, p, 5), 0);
        assert_int_equal(add(&q, T3, 999 - p, 6), 0);
    }
    struct proto_arena arena;
    proto_arena_init(&arena);
    struct AlterPartitionRequest req;
    assert_int_equal(zk_alterq_send(&q, &arena, 1, 7, &req), 0);
    assert_int_equal(req.BrokerId, 1);
    assert_int_equal(req.BrokerEpoch, 7);
    assert_int_equal(req.Topics_n, 3);
    const proto_uuid order[] = {T1, T2, T3};
    for (int t = 0; t < 3; t++) {
        assert_memory_equal(req.Topics[t].TopicId.b, order[t].b, 16);
        assert_int_equal(req.Topics[t].Partitions_n, 1000);
        for (int32_t i = 0; i < 1000; i++) {
            const struct AlterPartitionRequest_PartitionData *pd = &req.Topics[t].Partitions[i];
            assert_int_equal(pd->PartitionIndex, t == 2 ? 999 - i : i);
            assert_int_equal(pd->LeaderEpoch, 4 + t);
            assert_int_equal(pd->PartitionEpoch, 14 + t);
            assert_int_equal(pd->NewIsrWithEpochs_n, 2);
            assert_int_equal(pd->NewIsrWithEpochs[1].BrokerId, 2);
            assert_int_equal(pd->NewIsrWithEpochs[1].BrokerEpoch, -1);
        }
    }
    /* in flight: nothing more is sent until it is answered */
    assert_null(q.unsent);
    assert_int_equal(count(q.inflight), 3000);
    assert_int_equal(add(&q, T1, 5000, 4), 0);
    struct AlterPartitionRequest again;
    assert_int_equal(zk_alterq_send(&q, &arena, 1, 7, &again), 1);
    proto_arena_free(&arena);
    zk_alterq_free(&q);
}

static void duplicates_refused_while_waiting(void **state)
{
    (void)state;
    struct zk_alterq q;
    zk_alterq_init(&q);
    assert_int_equal(add(&q, T1, 0, 4), 0);
    assert_int_equal(add(&q, T1, 0, 4), 1); /* unsent */
    assert_int_equal(add(&q, T1, 1, 4), 0); /* another partition */
    assert_int_equal(add(&q, T2, 0, 4), 0); /* another topic */
    struct proto_arena arena;
    proto_arena_init(&arena);
    struct AlterPartitionRequest req;
    assert_int_equal(zk_alterq_send(&q, &arena, 1, 7, &req), 0);
    assert_int_equal(add(&q, T1, 0, 4), 1); /* in flight */
    struct zk_alterq_item *refused = zk_alterq_take_refused(&q);
    assert_int_equal(count(refused), 2);
    assert_null(zk_alterq_take_refused(&q));
    zk_alterq_free_items(refused);
    /* answered: the partition may be proposed again */
    struct zk_alterq_item *done = zk_alterq_finish(&q, NULL);
    assert_int_equal(count(done), 3);
    assert_null(done->result);
    zk_alterq_free_items(done);
    assert_int_equal(add(&q, T1, 0, 5), 0);
    assert_int_equal(count(q.unsent), 1);
    proto_arena_free(&arena);
    zk_alterq_free(&q);
}

static void failed_request_requeued_first(void **state)
{
    (void)state;
    struct zk_alterq q;
    zk_alterq_init(&q);
    assert_int_equal(add(&q, T1, 0, 4), 0);
    assert_int_equal(add(&q, T1, 1, 4), 0);
    struct proto_arena arena;
    proto_arena_init(&arena);
    struct AlterPartitionRequest req;
    assert_int_equal(zk_alterq_send(&q, &arena, 1, 7, &req), 0);
    assert_int_equal(add(&q, T2, 0, 4), 0);
    zk_alterq_requeue(&q);
    assert_null(q.inflight);
    assert_int_equal(count(q.unsent), 3);
    assert_int_equal(q.unsent->partition, 0);
    assert_int_equal(q.unsent->next->partition, 1);
    assert_memory_equal(q.unsent_tail->topic_id.b, T2.b, 16);
    assert_int_equal(add(&q, T1, 1, 4), 1); /* still waiting */
    proto_arena_free(&arena);
    proto_arena_init(&arena);
    assert_int_equal(zk_alterq_send(&q, &arena, 1, 8, &req), 0);
    assert_int_equal(req.BrokerEpoch, 8);
    assert_int_equal(req.Topics_n, 2);
    assert_int_equal(req.Topics[0].Partitions_n, 2);
    proto_arena_free(&arena);
    zk_alterq_free(&q);
}

static void answers_matched(void **state)
{
    (void)state;
    struct zk_alterq q;
    zk_alterq_init(&q);
    assert_int_equal(add(&q, T1, 0, 4), 0);
    assert_int_equal(add(&q, T1, 1, 4), 0);
    assert_int_equal(add(&q, T2, 3, 4), 0);
    struct proto_arena arena;
    proto_arena_init(&arena);
    struct AlterPartitionRequest req;
    assert_int_equal(zk_alterq_send(&q, &arena, 1, 7, &req), 0);
    assert_int_equal(add(&q, T3, 0, 4), 0); /* unsent: an answer naming it is not its answer */
    /* the controller answers T2-3, T1-0 (twice: the first counts) and T3-0, not T1-1 */
    struct AlterPartitionResponse_PartitionData p1[] = {{.PartitionIndex = 0, .ErrorCode = 0, .LeaderEpoch = 4},
                                                        {.PartitionIndex = 0, .ErrorCode = 3}};
    struct AlterPartitionResponse_PartitionData p2[] = {{.PartitionIndex = 3, .ErrorCode = KERR_FENCED_LEADER_EPOCH}};
    struct AlterPartitionResponse_PartitionData p3[] = {{.PartitionIndex = 0, .ErrorCode = 0}};
    struct AlterPartitionResponse_TopicData tds[] = {{.TopicId = T2, .Partitions = p2, .Partitions_n = 1},
                                                     {.TopicId = T1, .Partitions = p1, .Partitions_n = 2},
                                                     {.TopicId = T3, .Partitions = p3, .Partitions_n = 1}};
    struct AlterPartitionResponse resp = {.Topics = tds, .Topics_n = 3};
    struct zk_alterq_item *done = zk_alterq_finish(&q, &resp);
    assert_int_equal(count(done), 3);
    assert_ptr_equal(done->result, &p1[0]);
    assert_memory_equal(done->result_topic.b, T1.b, 16);
    assert_null(done->next->result);
    assert_ptr_equal(done->next->next->result, &p2[0]);
    assert_null(q.unsent->result);
    zk_alterq_free_items(done);
    assert_int_equal(add(&q, T3, 0, 4), 1); /* still unsent */
    assert_int_equal(add(&q, T2, 3, 4), 0); /* answered */
    proto_arena_free(&arena);
    zk_alterq_free(&q);
}

/* Failed allocations: an add that fails queues nothing and leaves the partition free; a send that fails
 * leaves its proposals in flight and zk_alterq_requeue puts them back, so that the next send carries every
 * queued proposal once; every proposal is answered through zk_alterq_finish and nothing leaks. */
static void alloc_failures(void **state)
{
    (void)state;
    bool sent_despite_failure = false;
    for (long n = 0; !sent_despite_failure; n++) {
        assert_true(n < 1000);
        struct zk_alterq q;
        zk_alterq_init(&q);
        struct proto_arena arena;
        proto_arena_init(&arena);
        ferry_alloc_fail_after(n);
        size_t queued = 0;
        for (int32_t p = 0; p < 40; p++) {
            int rc = add(&q, p % 2 ? T1 : T2, p, 4);
            assert_true(rc == 0 || rc == FERRY_ENOMEM);
            queued += rc == 0;
        }
        struct AlterPartitionRequest req;
        int rc = zk_alterq_send(&q, &arena, 1, 7, &req);
        ferry_alloc_fail_after(-1);
        sent_despite_failure = queued == 40 && rc == 0;
        if (rc == FERRY_ENOMEM) {
            assert_null(q.unsent);
            zk_alterq_requeue(&q);
            proto_arena_free(&arena);
            proto_arena_init(&arena);
            rc = zk_alterq_send(&q, &arena, 1, 7, &req);
        }
        assert_int_equal(rc, queued ? 0 : 1);
        size_t in_req = 0;
        for (int32_t t = 0; queued && t < req.Topics_n; t++)
            in_req += (size_t)req.Topics[t].Partitions_n;
        assert_int_equal(in_req, queued);
        struct zk_alterq_item *items = zk_alterq_finish(&q, NULL);
        assert_int_equal(count(items), queued);
        zk_alterq_free_items(items);
        for (int32_t p = 0; p < 40; p++) /* nothing waits any more */
            assert_int_equal(add(&q, p % 2 ? T1 : T2, p, 4), 0);
        proto_arena_free(&arena);
        zk_alterq_free(&q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_request_grouped_by_topic),
        cmocka_unit_test(duplicates_refused_while_waiting),
        cmocka_unit_test(failed_request_requeued_first),
        cmocka_unit_test(answers_matched),
        cmocka_unit_test(alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
