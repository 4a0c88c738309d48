/* produce: Produce v0-v7. Each partition's records are validated batch by batch (magic 2, framing,
 * CRC-32C, size against max.message.bytes) and appended as received; offsets are assigned by the log.
 * Only the partition's leader appends (else NOT_LEADER_OR_FOLLOWER). acks=0 gets no response; acks=1 is
 * answered once the append is done and, when the partition's flush policy asks for it, once it is fsynced
 * (off the loop). acks=all (-1), as Kafka: an ISR smaller than min.insync.replicas refuses the append
 * (NOT_ENOUGH_REPLICAS); after the append the request waits (a purgatory woken by high-watermark moves)
 * until the high watermark covers its batches, then answers NONE, or NOT_ENOUGH_REPLICAS_AFTER_APPEND if
 * the ISR shrank below min.insync.replicas meanwhile; NOT_LEADER_OR_FOLLOWER if leadership moved; at the
 * request's timeout REQUEST_TIMED_OUT. With the leader alone in the ISR the high watermark is the log end,
 * so acks=all answers at once. Magic 0/1 message sets (Produce v0-v2) are refused with
 * UNSUPPORTED_FOR_MESSAGE_FORMAT: Ferry stores record batches v2 only.
 *
 * Every record is checked as Kafka's LogValidator does. For uncompressed batches that walk is cheap and
 * runs on the loop; compressed batches must be inflated first, so when a request holds any, their record
 * checks run in a libuv worker (design principle 3) and the appends follow on the loop. */
#include <string.h>

#include "broker.h"
#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/proto/record_batch.h"

struct produce_ctx {
    uv_work_t work;
    struct broker *broker;
    struct net_request *req;
    struct ProduceRequest body;
    struct ProduceResponse *resp;
    /* per partition, in request order: the inputs and result of the compressed-record check */
    struct record_check *checks;
    int32_t nchecks;
    int pending_flushes;
    bool acks_zero;
    /* acks=all: per partition in request order, the offset the high watermark must reach (-1: none) */
    int64_t *required;
    bool checked;             /* the worker's record checks are done (or none were needed) */
    struct produce_ctx *next; /* in the broker's arrival-order queue */
};

/* What the worker needs to check one partition's compressed batches: read on the loop before it starts. */
struct record_check {
    proto_bytes records;
    size_t max_inflated;
    bool require_keys;
    bool needed; /* the records hold a compressed batch */
    int16_t error;
};

/* Every record of one batch, as Kafka's LogValidator walks them. A compressed batch is inflated into at
 * most max_inflated bytes: room for any real producer's batch, and a bound on what a decompression bomb
 * costs. Kafka refuses broken records with INVALID_RECORD; a payload that does not decompress (Kafka: an
 * internal error) and an unknown codec 5-7 get CORRUPT_MESSAGE; past the bound, MESSAGE_TOO_LARGE (the
 * Java producer then splits the batch). Pure: safe in a worker thread. */
static int16_t check_batch_records(const uint8_t *batch, size_t len, const struct rb_header *h, size_t max_inflated,
                                   bool keys)
{
    int rc = rb_validate_records(batch, len, h, max_inflated, keys);
    if (rc == FERRY_EINVAL)
        return KERR_INVALID_RECORD;
    if (rc == FERRY_ETOOBIG)
        return KERR_MESSAGE_TOO_LARGE;
    if (rc == FERRY_ENOMEM)
        return KERR_UNKNOWN_SERVER_ERROR;
    if (rc)
        return KERR_CORRUPT_MESSAGE; /* FERRY_ECORRUPT, FERRY_EUNSUPPORTED */
    return KERR_NONE;
}

/* max(64 MiB, 4 x max.message.bytes) */
static size_t max_inflated(const struct rp_partition *p)
{
    size_t bound = (size_t)64 << 20;
    if (p->config.max_message_bytes > 0 && (size_t)p->config.max_message_bytes * 4 > bound)
        bound = (size_t)p->config.max_message_bytes * 4;
    return bound;
}

/* A compacted topic needs a key on every record. */
static bool require_keys(const struct rp_partition *p) { return (p->config.cleanup_policy & CONFIG_CLEANUP_COMPACT) != 0; }

/* The records of every compressed batch (worker thread; the framing was checked on the loop). */
static void check_compressed(struct record_check *c)
{
    struct rb_iter it;
    rb_iter_init(&it, c->records.p, (size_t)c->records.len);
    const uint8_t *batch;
    size_t blen;
    struct rb_header h;
    while (c->error == KERR_NONE && rb_iter_next(&it, &batch, &blen, &h) == 1)
        if (h.attributes & RB_ATTR_COMPRESSION_MASK)
            c->error = check_batch_records(batch, blen, &h, c->max_inflated, c->require_keys);
}

static bool has_compressed_batch(proto_bytes records)
{
    struct rb_iter it;
    rb_iter_init(&it, records.p, records.len > 0 ? (size_t)records.len : 0);
    const uint8_t *batch;
    size_t blen;
    struct rb_header h;
    while (rb_iter_next(&it, &batch, &blen, &h) == 1)
        if (h.attributes & RB_ATTR_COMPRESSION_MASK)
            return true;
    return false;
}

/* The batch framing and headers (CRC, magic, size, control and transactional bits) and the records of
 * uncompressed batches: on the loop. */
static int16_t validate_records(proto_bytes records, const struct rp_partition *p, int16_t version)
{
    if (records.len <= 0)
        return KERR_CORRUPT_MESSAGE;
    if (records.len >= 17 && records.p[16] != 2)
        return KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    struct rb_iter it;
    rb_iter_init(&it, records.p, (size_t)records.len);
    const uint8_t *batch;
    size_t blen;
    struct rb_header h;
    int n = 0, rc;
    while ((rc = rb_iter_next(&it, &batch, &blen, &h)) == 1) {
        n++;
        if (blen > (size_t)p->config.max_message_bytes)
            return KERR_MESSAGE_TOO_LARGE;
        rc = rb_validate(batch, blen, &h);
        if (rc == FERRY_EUNSUPPORTED)
            return KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
        if (rc)
            return KERR_CORRUPT_MESSAGE;
        if (h.attributes & RB_ATTR_CONTROL)
            return KERR_INVALID_RECORD; /* clients may not write control batches */
        if (h.attributes & RB_ATTR_TRANSACTIONAL)
            return KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        if (!(h.attributes & RB_ATTR_COMPRESSION_MASK)) {
            rc = check_batch_records(batch, blen, &h, max_inflated(p), require_keys(p));
            if (rc != KERR_NONE)
                return (int16_t)rc;
        }
    }
    if (rc < 0 || it.partial_tail || n == 0)
        return KERR_CORRUPT_MESSAGE;
    if (version >= 3 && n != 1)
        return KERR_INVALID_RECORD; /* Kafka: v3+ carries exactly one batch per partition */
    return KERR_NONE;
}

/* ---- acks=all: waiting for the high watermark (Kafka's DelayedProduce) ---- */

struct produce_wait {
    struct rp_watcher watcher;
    uv_timer_t timer;
    struct produce_ctx *ctx; /* NULL once answered */
};

static void produce_wait_closed(uv_handle_t *h) { ferry_free(h->data); }

/* Walks the partitions still waiting: answered ones get their final error. Returns true when none waits. */
static bool acks_check(struct produce_ctx *ctx, bool timed_out)
{
    struct broker *b = ctx->broker;
    bool done = true;
    int32_t k = 0;
    for (int32_t t = 0; t < ctx->resp->Responses_n; t++) {
        struct ProduceResponse_TopicProduceResponse *tr = &ctx->resp->Responses[t];
        for (int32_t i = 0; i < tr->PartitionResponses_n; i++, k++) {
            if (ctx->required[k] < 0)
                continue;
            struct ProduceResponse_PartitionProduceResponse *pr = &tr->PartitionResponses[i];
            struct rp_partition *p = rp_partition_get(b->partitions, tr->Name, pr->Index);
            if (!p || !p->is_leader) {
                pr->ErrorCode = KERR_NOT_LEADER_OR_FOLLOWER;
            } else if (rp_leader_reached(&p->repl, ctx->required[k])) {
                /* checkEnoughReplicasReachOffset */
                if (p->repl.nisr < p->config.min_insync_replicas)
                    pr->ErrorCode = KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
            } else if (timed_out) {
                pr->ErrorCode = KERR_REQUEST_TIMED_OUT;
            } else {
                done = false;
                continue;
            }
            ctx->required[k] = -1;
        }
    }
    return done;
}

static void produce_wait_end(struct produce_wait *w)
{
    struct produce_ctx *ctx = w->ctx;
    w->ctx = NULL;
    rp_unwatch(ctx->broker->partitions, &w->watcher);
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, produce_wait_closed);
    net_respond(ctx->req, &proto_msg_ProduceResponse, ctx->resp);
}

static void produce_wait_notify(struct rp_watcher *watcher, struct rp_partition *p)
{
    struct produce_wait *w = (struct produce_wait *)watcher;
    if (acks_check(w->ctx, false))
        produce_wait_end(w);
}

static void produce_wait_timeout(uv_timer_t *t)
{
    struct produce_wait *w = t->data;
    acks_check(w->ctx, true);
    produce_wait_end(w);
}

static void produce_wait_cancel(struct rp_watcher *watcher)
{
    struct produce_wait *w = (struct produce_wait *)watcher;
    struct produce_ctx *ctx = w->ctx;
    w->ctx = NULL;
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, produce_wait_closed);
    net_close_for(ctx->req, "broker shutting down");
}

/* Answers now, or parks the request until the high watermark covers its appends. */
static void produce_answer(struct produce_ctx *ctx)
{
    if (!ctx->required || acks_check(ctx, false)) {
        net_respond(ctx->req, &proto_msg_ProduceResponse, ctx->resp);
        return;
    }
    struct produce_wait *w = ferry_calloc(1, sizeof *w);
    if (!w) {
        net_close_for(ctx->req, "out of memory");
        return;
    }
    w->ctx = ctx;
    uv_timer_init(ctx->broker->loop, &w->timer);
    w->timer.data = w;
    w->watcher.notify = produce_wait_notify;
    w->watcher.cancel = produce_wait_cancel;
    rp_watch(ctx->broker->partitions, &w->watcher);
    uv_timer_start(&w->timer, produce_wait_timeout, (uint64_t)(ctx->body.TimeoutMs > 0 ? ctx->body.TimeoutMs : 0), 0);
}

static void produce_finish(struct produce_ctx *ctx)
{
    if (ctx->acks_zero)
        net_respond_none(ctx->req);
    else
        produce_answer(ctx);
}

static void flush_done(void *arg, int rc)
{
    struct produce_ctx *ctx = arg;
    if (rc) {
        /* the append is not durable: tell the client so it retries */
        for (int32_t t = 0; t < ctx->resp->Responses_n; t++)
            for (int32_t i = 0; i < ctx->resp->Responses[t].PartitionResponses_n; i++) {
                struct ProduceResponse_PartitionProduceResponse *pr =
                    &ctx->resp->Responses[t].PartitionResponses[i];
                if (pr->ErrorCode == KERR_NONE)
                    pr->ErrorCode = KERR_KAFKA_STORAGE_ERROR;
            }
    }
    if (--ctx->pending_flushes == 0)
        produce_finish(ctx);
}

/* Validates, appends and answers: on the loop, after any compressed-record checks have run. */
static void produce_apply(struct produce_ctx *ctx)
{
    struct broker *b = ctx->broker;
    struct net_request *req = ctx->req;
    const struct ProduceRequest *body = &ctx->body;
    struct ProduceResponse *resp = ctx->resp;
    int16_t version = req->hdr.api_version;
    int32_t ntopics = body->TopicData_n > 0 ? body->TopicData_n : 0;
    resp->Responses = proto_array_new(&req->arena, &desc_ProduceResponse_TopicProduceResponse, ntopics);
    if (!resp->Responses) {
        net_close_for(req, "out of memory");
        return;
    }
    resp->Responses_n = ntopics;
    bool bad_acks = body->Acks != 0 && body->Acks != 1 && body->Acks != -1;
    bool transactional = body->TransactionalId.len >= 0;
    int64_t now = rp_now_ms();
    int32_t k = 0; /* index into ctx->checks, one per partition in request order */
    struct rp_partition **to_flush = proto_arena_alloc(&req->arena, sizeof *to_flush * (size_t)(ctx->nchecks + 1));
    if (!to_flush) {
        net_close_for(req, "out of memory");
        return;
    }
    int nflush = 0;
    bool acks_all = body->Acks == -1;
    if (acks_all) {
        ctx->required = proto_arena_alloc(&req->arena, sizeof *ctx->required * (size_t)(ctx->nchecks + 1));
        if (!ctx->required) {
            net_close_for(req, "out of memory");
            return;
        }
        for (int32_t i = 0; i < ctx->nchecks; i++)
            ctx->required[i] = -1;
    }
    for (int32_t t = 0; t < ntopics; t++) {
        const struct ProduceRequest_TopicProduceData *td = &body->TopicData[t];
        struct ProduceResponse_TopicProduceResponse *tr = &resp->Responses[t];
        tr->Name = td->Name;
        int32_t np = td->PartitionData_n > 0 ? td->PartitionData_n : 0;
        tr->PartitionResponses =
            proto_array_new(&req->arena, &desc_ProduceResponse_PartitionProduceResponse, np);
        if (!tr->PartitionResponses) {
            net_close_for(req, "out of memory");
            return;
        }
        tr->PartitionResponses_n = np;
        for (int32_t i = 0; i < np; i++) {
            const struct ProduceRequest_PartitionProduceData *pd = &td->PartitionData[i];
            struct ProduceResponse_PartitionProduceResponse *pr = &tr->PartitionResponses[i];
            const struct record_check *check = &ctx->checks[k++];
            pr->Index = pd->Index;
            pr->BaseOffset = -1;
            pr->LogAppendTimeMs = -1;
            pr->LogStartOffset = -1;
            struct rp_partition *p = rp_partition_get(b->partitions, td->Name, pd->Index);
            if (bad_acks) {
                pr->ErrorCode = KERR_INVALID_REQUIRED_ACKS;
                continue;
            }
            if (transactional) {
                pr->ErrorCode = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
                continue;
            }
            if (!p) {
                pr->ErrorCode = broker_not_hosted_error(b, td->Name, pd->Index);
                continue;
            }
            if (!p->is_leader) {
                pr->ErrorCode = KERR_NOT_LEADER_OR_FOLLOWER;
                continue;
            }
            pr->ErrorCode = validate_records(pd->Records, p, version);
            if (pr->ErrorCode == KERR_NONE && check->needed) {
                pr->ErrorCode = check->error;
            } else if (pr->ErrorCode == KERR_NONE && has_compressed_batch(pd->Records)) {
                /* the partition appeared while the worker ran: check here (rare) */
                struct record_check late = {pd->Records, max_inflated(p), require_keys(p), true, KERR_NONE};
                check_compressed(&late);
                pr->ErrorCode = late.error;
            }
            if (pr->ErrorCode != KERR_NONE) {
                LOG_INFO("produce", "%.*s-%d from %s: rejected with %s", td->Name.len, td->Name.p, pd->Index,
                         net_request_peer(req), kafka_error_name(pr->ErrorCode));
                continue;
            }
            /* idempotent producers (broker/producer/producer_state.h): a duplicate of one of the last 5
             * batches is answered with its original offsets and not appended (Kafka's
             * DUPLICATE_SEQUENCE_NUMBER is internal); epoch and sequence errors refuse the batch */
            struct prod_verdict pv = prod_state_check_records(&p->producers, pd->Records.p, (size_t)pd->Records.len);
            if (pv.error) {
                pr->ErrorCode = pv.error;
                LOG_INFO("produce", "%.*s-%d from %s: rejected with %s", td->Name.len, td->Name.p, pd->Index,
                         net_request_peer(req), kafka_error_name(pv.error));
                continue;
            }
            if (pv.duplicate) {
                pr->BaseOffset = pv.dup_first_offset;
                pr->LogAppendTimeMs = pv.dup_timestamp; /* as UnifiedLog.append answers a duplicate */
                pr->LogStartOffset = plog_log_start_offset(p->log);
                continue;
            }
            if (acks_all && p->repl.nisr < p->config.min_insync_replicas) {
                pr->ErrorCode = KERR_NOT_ENOUGH_REPLICAS;
                LOG_INFO("produce", "%s-%d: ISR of %d below min.insync.replicas %d: NOT_ENOUGH_REPLICAS", p->topic,
                         p->index, p->repl.nisr, p->config.min_insync_replicas);
                continue;
            }
            struct plog_append_info info;
            int rc = rp_append(b->partitions, p, (uint8_t *)pd->Records.p, (size_t)pd->Records.len, now, &info);
            if (rc) {
                pr->ErrorCode = rc == FERRY_ETOOBIG ? KERR_RECORD_LIST_TOO_LARGE : KERR_KAFKA_STORAGE_ERROR;
                LOG_ERROR("produce", "%s-%d: append failed: %s", p->topic, p->index, ferry_strerror(rc));
                continue;
            }
            pr->BaseOffset = info.first_offset;
            pr->LogAppendTimeMs = info.log_append_time;
            pr->LogStartOffset = info.log_start_offset;
            if (acks_all)
                ctx->required[k - 1] = info.last_offset + 1;
            if (rp_flush_due(b->partitions, p))
                to_flush[nflush++] = p;
        }
    }
    if (nflush == 0) {
        produce_finish(ctx);
        return;
    }
    ctx->pending_flushes = nflush + 1;
    for (int i = 0; i < nflush; i++)
        rp_flush(b->partitions, to_flush[i], flush_done, ctx);
    flush_done(ctx, 0);
}

static void checks_run(uv_work_t *w)
{
    struct produce_ctx *ctx = w->data;
    for (int32_t k = 0; k < ctx->nchecks; k++)
        if (ctx->checks[k].needed)
            check_compressed(&ctx->checks[k]);
}

/* Applies queued requests in arrival order while the head's checks are done, so that pipelined requests
 * to a partition are appended in the order they were sent, whichever worker finished first. */
static void drain(struct broker *b)
{
    while (b->produce_head && b->produce_head->checked) {
        struct produce_ctx *ctx = b->produce_head;
        b->produce_head = ctx->next;
        if (!b->produce_head)
            b->produce_tail = NULL;
        if (!ctx->req->conn)
            net_close_for(ctx->req, "client gone"); /* orphaned (client left or broker stopping): free it */
        else
            produce_apply(ctx);
    }
}

static void enqueue(struct broker *b, struct produce_ctx *ctx)
{
    if (b->produce_tail)
        b->produce_tail->next = ctx;
    else
        b->produce_head = ctx;
    b->produce_tail = ctx;
}

static void checks_done(uv_work_t *w, int status)
{
    struct produce_ctx *ctx = w->data;
    if (status < 0) { /* cancelled: refuse the compressed partitions rather than append unchecked */
        for (int32_t k = 0; k < ctx->nchecks; k++)
            if (ctx->checks[k].needed)
                ctx->checks[k].error = KERR_UNKNOWN_SERVER_ERROR;
    }
    ctx->checked = true;
    drain(ctx->broker);
}

void api_handle_produce(struct broker *b, struct net_request *req)
{
    struct produce_ctx *ctx = proto_arena_alloc(&req->arena, sizeof *ctx);
    if (!ctx) {
        net_close_for(req, "out of memory");
        return;
    }
    if (!api_decode(req, &proto_msg_ProduceRequest, &ctx->body))
        return;
    ctx->broker = b;
    ctx->req = req;
    ctx->resp = api_new_response(req, &proto_msg_ProduceResponse);
    ctx->acks_zero = ctx->body.Acks == 0;
    int32_t ntopics = ctx->body.TopicData_n > 0 ? ctx->body.TopicData_n : 0;
    for (int32_t t = 0; t < ntopics; t++)
        ctx->nchecks += ctx->body.TopicData[t].PartitionData_n > 0 ? ctx->body.TopicData[t].PartitionData_n : 0;
    ctx->checks = proto_arena_alloc(&req->arena, sizeof *ctx->checks * (size_t)(ctx->nchecks + 1));
    if (!ctx->resp || !ctx->checks) {
        net_close_for(req, "out of memory");
        return;
    }
    bool any = false;
    int32_t k = 0;
    for (int32_t t = 0; t < ntopics; t++) {
        const struct ProduceRequest_TopicProduceData *td = &ctx->body.TopicData[t];
        for (int32_t i = 0; i < (td->PartitionData_n > 0 ? td->PartitionData_n : 0); i++) {
            struct record_check *c = &ctx->checks[k++];
            const struct rp_partition *p = rp_partition_get(b->partitions, td->Name, td->PartitionData[i].Index);
            c->records = td->PartitionData[i].Records;
            if (!p || c->records.len <= 0 || !has_compressed_batch(c->records))
                continue;
            c->needed = true;
            c->max_inflated = max_inflated(p);
            c->require_keys = require_keys(p);
            any = true;
        }
    }
    if (!any && !b->produce_head) {
        produce_apply(ctx); /* nothing to wait for and nothing queued before it */
        return;
    }
    enqueue(b, ctx);
    if (!any) {
        ctx->checked = true; /* waits only for the requests queued before it */
        return;
    }
    ctx->work.data = ctx;
    uv_queue_work(b->loop, &ctx->work, checks_run, checks_done);
}
