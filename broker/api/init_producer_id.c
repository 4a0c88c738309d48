/* init_producer_id: InitProducerId v0-v4 for idempotent (non-transactional) producers. A null
 * TransactionalId gets a new producer id with epoch 0 (Kafka's TransactionCoordinator answers a null id
 * "blindly" with a fresh id, whatever ProducerId/ProducerEpoch v3+ carries). Ids come from the broker's
 * pool (broker/producer/pid_pool.h), refilled in blocks of 1000 from the quorum controller
 * (the metadata source's allocate_producer_ids, AllocateProducerIds' shape); a request that finds the pool empty waits
 * for the block. Transactions are not supported: a non-null TransactionalId gets
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53), the error Produce already gives transactional batches: it
 * is fatal in the clients, so a transactional producer stops at once with a clear error instead of
 * retrying forever (an empty TransactionalId gets INVALID_REQUEST, as in Kafka). */
#include "broker.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"

struct pid_waiter {
    struct pid_waiter *next;
    struct net_request *req;
    struct InitProducerIdResponse *resp;
};

static void respond(struct net_request *req, struct InitProducerIdResponse *resp)
{
    net_respond(req, &proto_msg_InitProducerIdResponse, resp);
}

static void block_arrived(void *arg, int64_t first, int32_t len, int16_t error);

/* Asks the controller for the next block when the pool wants one. */
static void maybe_fetch(struct broker *b)
{
    if (!prod_pid_want_block(&b->pid_pool))
        return;
    const struct md_broker *self = md_image_broker(broker_image(b), b->node_id);
    prod_pid_fetch_started(&b->pid_pool);
    b->meta.ops->allocate_producer_ids(b->meta.impl, b->node_id, self ? self->epoch : -1, block_arrived, b);
}

static void block_arrived(void *arg, int64_t first, int32_t len, int16_t error)
{
    struct broker *b = arg;
    if (error)
        LOG_WARN("producer", "node %d: producer-id block allocation failed: %s", b->node_id, kafka_error_name(error));
    else
        LOG_INFO("producer", "node %d: producer ids %lld..%lld allocated", b->node_id, (long long)first,
                 (long long)(first + len - 1));
    prod_pid_block_arrived(&b->pid_pool, first, error ? 0 : len);
    struct pid_waiter *w = b->pid_waiters;
    b->pid_waiters = NULL;
    while (w) {
        struct pid_waiter *next = w->next;
        int64_t id;
        if (prod_pid_take(&b->pid_pool, &id) == 0) {
            w->resp->ProducerId = id;
            w->resp->ProducerEpoch = 0;
        } else {
            w->resp->ErrorCode = KERR_COORDINATOR_LOAD_IN_PROGRESS; /* retriable: the client asks again */
        }
        respond(w->req, w->resp);
        w = next;
    }
    maybe_fetch(b);
}

void api_handle_init_producer_id(struct broker *b, struct net_request *req)
{
    struct InitProducerIdRequest body;
    if (!api_decode(req, &proto_msg_InitProducerIdRequest, &body))
        return;
    struct InitProducerIdResponse *resp = api_new_response(req, &proto_msg_InitProducerIdResponse);
    if (!resp) {
        net_close_for(req, "out of memory");
        return;
    }
    resp->ProducerId = -1;
    resp->ProducerEpoch = -1;
    if (body.TransactionalId.len == 0) {
        resp->ErrorCode = KERR_INVALID_REQUEST;
        respond(req, resp);
        return;
    }
    if (body.TransactionalId.len > 0) {
        resp->ErrorCode = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        respond(req, resp);
        return;
    }
    int64_t id;
    if (prod_pid_take(&b->pid_pool, &id) == 0) {
        resp->ProducerId = id;
        resp->ProducerEpoch = 0;
        respond(req, resp);
        maybe_fetch(b);
        return;
    }
    struct pid_waiter *w = proto_arena_alloc(&req->arena, sizeof *w);
    if (!w) {
        net_close_for(req, "out of memory");
        return;
    }
    w->req = req;
    w->resp = resp;
    w->next = NULL;
    struct pid_waiter **tail = &b->pid_waiters;
    while (*tail)
        tail = &(*tail)->next;
    *tail = w;
    maybe_fetch(b);
}
