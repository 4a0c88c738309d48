/* fetch: Fetch v0-v11 for consumers and follower replicas. Only the partition's leader answers (else
 * NOT_LEADER_OR_FOLLOWER), after the CurrentLeaderEpoch check (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH).
 * A consumer (ReplicaId < 0) reads whole batches up to the high watermark, never past it; a follower
 * (ReplicaId >= 0, one of the partition's replicas) reads up to the log end, and its fetch offset is its
 * log end offset for the leader's replication state (leader_state.h: high watermark, ISR). Honouring max_bytes
 * (v3+), each partition's partition_max_bytes and KIP-74 (the first batch of the first partition with
 * data is returned whole). When less than min_bytes is available the request parks (long poll) until an
 * append brings enough data or max_wait_ms passes. Every requested partition is answered, records are
 * never null, and there are no fetch sessions (SessionId 0: every request is a full fetch). Batches are
 * served as stored (record batch v2); Fetch v0-v3 clients get them without down-conversion. */
#include <string.h>

#include "broker.h"
#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "replication.h"

struct fetch_wait {
    struct rp_watcher watcher;
    uv_timer_t timer;
    struct broker *broker;
    struct net_request *req;
    struct FetchRequest body;
    bool timer_started;
};

static int32_t replica_id(const struct net_request *req, const struct FetchRequest *body)
{
    return req->hdr.api_version >= 15 ? body->ReplicaState.ReplicaId : body->ReplicaId;
}

/* Reads every partition into a new response; returns the number of record bytes gathered and sets
 * *errors when a partition got an error. `first`: the request's first read (a follower's fetch offset is
 * recorded then, not again when a parked fetch re-reads). */
static size_t fetch_read(struct broker *b, struct net_request *req, const struct FetchRequest *body, bool first,
                         struct FetchResponse **out, bool *errors)
{
    *errors = false;
    int32_t replica = replica_id(req, body);
    int16_t version = req->hdr.api_version;
    struct FetchResponse *resp = api_new_response(req, &proto_msg_FetchResponse);
    *out = resp;
    if (!resp)
        return 0;
    int32_t ntopics = body->Topics_n > 0 ? body->Topics_n : 0;
    resp->Responses = proto_array_new(&req->arena, &desc_FetchResponse_FetchableTopicResponse, ntopics);
    if (!resp->Responses) {
        *out = NULL;
        return 0;
    }
    resp->Responses_n = ntopics;
    size_t total = 0;
    int64_t response_left = version >= 3 && body->MaxBytes > 0 ? body->MaxBytes : INT64_MAX;
    for (int32_t t = 0; t < ntopics; t++) {
        const struct FetchRequest_FetchTopic *ft = &body->Topics[t];
        struct FetchResponse_FetchableTopicResponse *tr = &resp->Responses[t];
        tr->Topic = ft->Topic;
        tr->TopicId = ft->TopicId;
        int32_t np = ft->Partitions_n > 0 ? ft->Partitions_n : 0;
        tr->Partitions = proto_array_new(&req->arena, &desc_FetchResponse_PartitionData, np);
        if (!tr->Partitions) {
            *out = NULL;
            return 0;
        }
        tr->Partitions_n = np;
        for (int32_t i = 0; i < np; i++) {
            const struct FetchRequest_FetchPartition *fp = &ft->Partitions[i];
            struct FetchResponse_PartitionData *pd = &tr->Partitions[i];
            pd->PartitionIndex = fp->Partition;
            pd->HighWatermark = -1;
            pd->LastStableOffset = -1;
            pd->LogStartOffset = -1;
            pd->AbortedTransactions_n = version >= 4 ? 0 : -1;
            pd->PreferredReadReplica = -1;
            pd->Records = (proto_bytes){(const uint8_t *)"", 0};
            struct rp_partition *p = rp_partition_get(b->partitions, ft->Topic, fp->Partition);
            if (!p) {
                pd->ErrorCode = broker_not_hosted_error(b, ft->Topic, fp->Partition);
                *errors = true;
                continue;
            }
            if (version >= 9 && fp->CurrentLeaderEpoch >= 0 && fp->CurrentLeaderEpoch != p->leader_epoch) {
                pd->ErrorCode = fp->CurrentLeaderEpoch < p->leader_epoch ? KERR_FENCED_LEADER_EPOCH
                                                                         : KERR_UNKNOWN_LEADER_EPOCH;
                *errors = true;
                continue;
            }
            if (!p->is_leader) {
                pd->ErrorCode = KERR_NOT_LEADER_OR_FOLLOWER;
                *errors = true;
                continue;
            }
            int64_t end = plog_log_end_offset(p->log);
            pd->LogStartOffset = plog_log_start_offset(p->log);
            /* followers read to the log end, consumers to the high watermark */
            int64_t limit = replica >= 0 ? end : p->high_watermark;
            if (fp->FetchOffset < pd->LogStartOffset || fp->FetchOffset > limit) {
                pd->HighWatermark = p->high_watermark;
                pd->LastStableOffset = p->high_watermark;
                pd->ErrorCode = KERR_OFFSET_OUT_OF_RANGE;
                *errors = true;
                continue;
            }
            if (replica >= 0 && first) {
                if (!rp_partition_follower_fetched(b->partitions, p, replica, fp->FetchOffset)) {
                    pd->ErrorCode = KERR_NOT_LEADER_OR_FOLLOWER; /* not a replica of the partition */
                    *errors = true;
                    continue;
                }
                api_repl_isr_check(b, p); /* a follower that caught up may join the ISR */
            }
            pd->HighWatermark = p->high_watermark;
            pd->LastStableOffset = p->high_watermark;
            if (fp->FetchOffset == limit || response_left <= 0)
                continue;
            size_t max = (size_t)(fp->PartitionMaxBytes > 0 ? fp->PartitionMaxBytes : 0);
            if ((int64_t)max > response_left)
                max = (size_t)response_left;
            struct plog_read_result rr;
            int rc = plog_read(p->log, fp->FetchOffset, max, total == 0, replica >= 0 ? -1 : p->high_watermark, &rr);
            if (rc == FERRY_ERANGE) {
                pd->ErrorCode = KERR_OFFSET_OUT_OF_RANGE;
                continue;
            }
            if (rc) {
                pd->ErrorCode = KERR_KAFKA_STORAGE_ERROR;
                LOG_ERROR("fetch", "%s-%d: read at %lld failed: %s", p->topic, p->index,
                          (long long)fp->FetchOffset, ferry_strerror(rc));
                continue;
            }
            if (rr.len == 0)
                continue;
            if (!net_request_adopt(req, rr.data)) {
                *out = NULL;
                return 0;
            }
            pd->Records = (proto_bytes){rr.data, (int32_t)rr.len};
            total += rr.len;
            response_left -= (int64_t)rr.len;
        }
    }
    return total;
}

static void fetch_respond(struct fetch_wait *w, struct FetchResponse *resp)
{
    if (!resp) {
        net_close_for(w->req, "out of memory");
        return;
    }
    net_respond(w->req, &proto_msg_FetchResponse, resp);
}

static void wait_timer_closed(uv_handle_t *h) { ferry_free(h->data); }

static void wait_finish(struct fetch_wait *w)
{
    rp_unwatch(w->broker->partitions, &w->watcher);
    struct FetchResponse *resp;
    bool errors;
    fetch_read(w->broker, w->req, &w->body, false, &resp, &errors);
    fetch_respond(w, resp);
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, wait_timer_closed);
}

static void wait_timeout(uv_timer_t *t) { wait_finish(t->data); }

static bool wants_partition(const struct FetchRequest *body, const struct rp_partition *p)
{
    for (int32_t t = 0; t < body->Topics_n; t++) {
        const struct FetchRequest_FetchTopic *ft = &body->Topics[t];
        if (ft->Topic.len != (int32_t)strlen(p->topic) || memcmp(ft->Topic.p, p->topic, (size_t)ft->Topic.len) != 0)
            continue;
        for (int32_t i = 0; i < ft->Partitions_n; i++)
            if (ft->Partitions[i].Partition == p->index)
                return true;
    }
    return false;
}

static void wait_notify(struct rp_watcher *watcher, struct rp_partition *p)
{
    struct fetch_wait *w = (struct fetch_wait *)watcher;
    if (!wants_partition(&w->body, p))
        return;
    if (!w->req->conn) {
        wait_finish(w); /* the client is gone: complete and free */
        return;
    }
    /* Re-read to see whether min_bytes is reached now (page-cache reads; with the default min_bytes of 1
     * the first append to a wanted partition completes the fetch). */
    struct FetchResponse *resp;
    bool errors; /* e.g. leadership moved away: answer now, as Kafka's DelayedFetch does */
    size_t bytes = fetch_read(w->broker, w->req, &w->body, false, &resp, &errors);
    if (resp && (errors || bytes >= (size_t)(w->body.MinBytes > 0 ? w->body.MinBytes : 1))) {
        rp_unwatch(w->broker->partitions, &w->watcher);
        fetch_respond(w, resp);
        uv_timer_stop(&w->timer);
        uv_close((uv_handle_t *)&w->timer, wait_timer_closed);
    }
}

/* Shutdown: the partitions are going away; drop the parked request. */
static void wait_cancel(struct rp_watcher *watcher)
{
    struct fetch_wait *w = (struct fetch_wait *)watcher;
    net_close_for(w->req, "broker shutting down");
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, wait_timer_closed);
}

void api_handle_fetch(struct broker *b, struct net_request *req)
{
    struct fetch_wait *w = ferry_calloc(1, sizeof *w);
    if (!w) {
        net_close_for(req, "out of memory");
        return;
    }
    if (!api_decode(req, &proto_msg_FetchRequest, &w->body)) {
        ferry_free(w);
        return;
    }
    w->broker = b;
    w->req = req;
    struct FetchResponse *resp;
    bool has_error;
    size_t bytes = fetch_read(b, req, &w->body, true, &resp, &has_error);
    if (!resp || has_error || w->body.MaxWaitMs <= 0 || bytes >= (size_t)(w->body.MinBytes > 0 ? w->body.MinBytes : 1) ||
        w->body.Topics_n <= 0) {
        fetch_respond(w, resp);
        ferry_free(w);
        return;
    }
    /* park: woken by appends, or answered at max_wait_ms */
    uv_timer_init(b->loop, &w->timer);
    w->timer.data = w;
    w->watcher.notify = wait_notify;
    w->watcher.cancel = wait_cancel;
    rp_watch(b->partitions, &w->watcher);
    uv_timer_start(&w->timer, wait_timeout, (uint64_t)w->body.MaxWaitMs, 0);
}
