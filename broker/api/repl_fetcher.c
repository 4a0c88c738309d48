/* repl_fetcher: see repl_fetcher.h. */
#include "repl_fetcher.h"

#include <stdio.h>
#include <string.h>

#include "api_support.h"
#include "broker.h"
#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/net/net_client.h"
#include "broker/proto/record_batch.h"

#define FETCH_VERSION 11 /* replica id, current leader epoch, log start offset; topics by name */
#define OFLE_VERSION 3   /* replica id, current leader epoch */

enum fstate { F_CONNECTING, F_VERSIONS, F_IDLE, F_EPOCHS, F_FETCHING, F_BACKOFF };

struct repl_fetcher {
    struct repl_fetchers *set;
    int32_t leader;
    struct net_client *client;
    enum fstate state;
    uv_timer_t timer; /* backoff, and the hop to the next round */
    int16_t fetch_version;
    int16_t ofle_version; /* -1: the leader does not serve OffsetForLeaderEpoch */
    struct repl_fetcher *next;
};

struct repl_fetchers {
    struct broker *b;
    struct repl_fetcher *list;
};

int repl_fetchers_new(struct broker *b, struct repl_fetchers **out)
{
    struct repl_fetchers *fs = ferry_calloc(1, sizeof *fs);
    if (!fs)
        return FERRY_ENOMEM;
    fs->b = b;
    *out = fs;
    return 0;
}

static void timer_closed(uv_handle_t *h) { ferry_free(h->data); }

static void fetcher_free(struct repl_fetcher *f)
{
    net_client_close(f->client);
    f->client = NULL;
    uv_timer_stop(&f->timer);
    uv_close((uv_handle_t *)&f->timer, timer_closed);
}

static void start_connect(struct repl_fetcher *f);
static void next_round(struct repl_fetcher *f);

static void on_timer(uv_timer_t *t)
{
    struct repl_fetcher *f = t->data;
    if (f->state == F_BACKOFF)
        start_connect(f);
    else if (f->state == F_IDLE)
        next_round(f);
}

/* Drops the connection and retries after replica.fetch.backoff.ms. */
static void backoff(struct repl_fetcher *f, const char *why)
{
    LOG_INFO("replica", "fetcher for leader %d: %s; retrying in %d ms", f->leader, why,
             f->set->b->cfg->replica_fetch_backoff_ms);
    net_client_close(f->client);
    f->client = NULL;
    f->state = F_BACKOFF;
    uv_timer_start(&f->timer, on_timer, (uint64_t)f->set->b->cfg->replica_fetch_backoff_ms, 0);
}

/* The soonest round: from the loop (never inside a callback chain that may free things). */
static void round_soon(struct repl_fetcher *f, uint64_t delay_ms)
{
    f->state = F_IDLE;
    uv_timer_start(&f->timer, on_timer, delay_ms, 0);
}

/* The partitions of f's leader (those needing an epoch check, or those ready to fetch) grouped by topic: n
 * partitions in v, nt topics; first[t] is the first partition (index into v) of topic t, next[i] the next
 * one of the same topic (-1 at the end), count[t] how many. Used while the request is built. */
struct grouped {
    struct rp_partition **v;
    int32_t n, nt;
    int32_t *first, *next, *count;
};

/* Collects and groups the partitions of f from the manager's list of those following f's leader (not every
 * hosted partition); false when there are none (or memory ran out). */
static bool collect_grouped(struct repl_fetcher *f, struct proto_arena *a, bool epochs, struct grouped *g)
{
    struct rp_manager *m = f->set->b->partitions;
    memset(g, 0, sizeof *g);
    size_t max = rp_following_count(m, f->leader);
    if (max == 0 || max > INT32_MAX / 4)
        return false;
    g->v = proto_arena_alloc(a, sizeof *g->v * max);
    int32_t *scratch = proto_arena_alloc(a, sizeof *scratch * (4 * max + 4));
    if (!g->v || !scratch)
        return false;
    int32_t n = 0;
    for (struct rp_partition *p = rp_following_first(m, f->leader); p && (size_t)n < max; p = rp_following_next(p))
        if (p->truncate_check == epochs)
            g->v[n++] = p;
    if (n == 0)
        return false;
    g->n = n;
    g->first = scratch;
    g->next = scratch + n + 1;
    g->count = scratch + 2 * n + 2;
    int32_t *first = g->first, *next = g->next, *count = g->count;
    int32_t *last = count + n + 1; /* scratch after count */
    int32_t nt = 0;
    for (int32_t i = 0; i < n; i++) {
        next[i] = -1;
        /* a topic's partitions mostly lie together in the list: the previous partition's topic first */
        int32_t t = nt > 0 && i > 0 && strcmp(g->v[i - 1]->topic, g->v[i]->topic) == 0 ? -1 : 0;
        if (t < 0) {
            for (t = nt - 1; last[t] != i - 1; t--)
                ;
        } else {
            while (t < nt && strcmp(g->v[first[t]]->topic, g->v[i]->topic) != 0)
                t++;
        }
        if (t == nt) {
            first[nt] = i;
            last[nt] = i;
            count[nt] = 0;
            nt++;
        } else {
            next[last[t]] = i;
            last[t] = i;
        }
        count[t]++;
    }
    g->nt = nt;
    return true;
}

/* ---- OffsetForLeaderEpoch: where the logs agree ---- */

static void truncate_to(struct broker *b, struct rp_partition *p, int64_t offset, bool done)
{
    int rc = rp_partition_truncate(b->partitions, p, offset);
    if (rc == FERRY_EEXIST)
        return; /* a flush or compaction holds the log: checked again next round */
    if (rc)
        LOG_ERROR("replica", "%s-%d: truncation to %lld failed: %s", p->topic, p->index, (long long)offset,
                  ferry_strerror(rc));
    if (done || rc)
        p->truncate_check = false;
}

static void on_epochs(void *arg, int rc, void *resp_)
{
    struct repl_fetcher *f = arg;
    struct broker *b = f->set->b;
    if (rc) {
        backoff(f, "OffsetForLeaderEpoch failed");
        return;
    }
    const struct OffsetForLeaderEpochResponse *resp = resp_;
    for (int32_t t = 0; t < resp->Topics_n; t++) {
        const struct OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult *tr = &resp->Topics[t];
        for (int32_t i = 0; i < tr->Partitions_n; i++) {
            const struct OffsetForLeaderEpochResponse_EpochEndOffset *eo = &tr->Partitions[i];
            struct rp_partition *p = rp_partition_get(b->partitions, tr->Topic, eo->Partition);
            if (!p || !rp_partition_fetches_from(p, f->leader) || !p->truncate_check)
                continue;
            if (eo->ErrorCode != KERR_NONE) {
                LOG_INFO("replica", "%s-%d: leader %d answered OffsetForLeaderEpoch with %s", p->topic, p->index,
                         f->leader, kafka_error_name(eo->ErrorCode));
                continue; /* wait for the metadata to catch up */
            }
            int64_t end = plog_log_end_offset(p->log);
            /* Kafka's AbstractFetcherThread.getOffsetTruncationState */
            if (eo->EndOffset < 0) {
                truncate_to(b, p, p->high_watermark, true);
            } else if (eo->LeaderEpoch < 0) {
                truncate_to(b, p, eo->EndOffset < end ? eo->EndOffset : end, true);
            } else {
                int32_t fe;
                int64_t fo;
                plog_end_offset_for_epoch(p->log, eo->LeaderEpoch, &fe, &fo);
                if (fe < 0 || fo < 0) {
                    truncate_to(b, p, eo->EndOffset < end ? eo->EndOffset : end, true);
                } else if (fe != eo->LeaderEpoch) {
                    /* the follower lacks the leader's epoch: cut to its own end of that range and ask again */
                    truncate_to(b, p, fo < end ? fo : end, false);
                } else {
                    int64_t to = eo->EndOffset < fo ? eo->EndOffset : fo;
                    truncate_to(b, p, to < end ? to : end, true);
                }
            }
        }
    }
    round_soon(f, 0);
}

static bool send_epochs(struct repl_fetcher *f, struct proto_arena *a)
{
    struct broker *b = f->set->b;
    struct grouped g;
    if (!collect_grouped(f, a, true, &g))
        return false;
    if (f->ofle_version < 0) { /* a leader without OffsetForLeaderEpoch: cut to the high watermark */
        for (int32_t i = 0; i < g.n; i++)
            truncate_to(b, g.v[i], g.v[i]->high_watermark, true);
        return false;
    }
    int32_t nt = g.nt;
    struct OffsetForLeaderEpochRequest req;
    proto_struct_init(proto_msg_OffsetForLeaderEpochRequest.body, &req);
    req.ReplicaId = b->node_id;
    req.Topics = proto_array_new(a, &desc_OffsetForLeaderEpochRequest_OffsetForLeaderTopic, nt);
    if (!req.Topics)
        return false;
    req.Topics_n = nt;
    for (int32_t t = 0; t < nt; t++) {
        struct OffsetForLeaderEpochRequest_OffsetForLeaderTopic *rt = &req.Topics[t];
        rt->Topic = proto_str_from(g.v[g.first[t]]->topic);
        rt->Partitions = proto_array_new(a, &desc_OffsetForLeaderEpochRequest_OffsetForLeaderPartition, g.count[t]);
        if (!rt->Partitions)
            return false;
        int32_t k = 0;
        for (int32_t i = g.first[t]; i >= 0; i = g.next[i]) {
            struct rp_partition *p = g.v[i];
            int32_t latest = plog_latest_epoch(p->log);
            if (latest < 0) { /* nothing local to compare */
                p->truncate_check = false;
                continue;
            }
            rt->Partitions[k].Partition = p->index;
            rt->Partitions[k].CurrentLeaderEpoch = p->leader_epoch;
            rt->Partitions[k].LeaderEpoch = latest;
            k++;
        }
        rt->Partitions_n = k;
    }
    if (net_client_send(f->client, API_KEY_OFFSET_FOR_LEADER_EPOCH, f->ofle_version, &req, on_epochs, f) != 0)
        return false;
    f->state = F_EPOCHS;
    return true;
}

/* ---- Fetch ---- */

/* Checks and appends the batches the leader sent; false when they are unusable (logged). */
static void append_records(struct broker *b, struct rp_partition *p, const struct FetchResponse_PartitionData *pd)
{
    if (pd->Records.len <= 0)
        return;
    /* whole batches only (the leader may cut the last one), each with a good CRC, above our log end */
    struct rb_iter it;
    rb_iter_init(&it, pd->Records.p, (size_t)pd->Records.len);
    const uint8_t *batch;
    size_t blen;
    struct rb_header h;
    size_t start = SIZE_MAX, len = 0;
    int64_t end = plog_log_end_offset(p->log);
    int rc;
    while ((rc = rb_iter_next(&it, &batch, &blen, &h)) == 1) {
        if (rb_validate(batch, blen, &h) != 0) {
            LOG_ERROR("replica", "%s-%d: batch at offset %lld from leader %d fails its checks; not appended",
                      p->topic, p->index, (long long)h.base_offset, p->leader_id);
            break;
        }
        if (h.base_offset < end)
            continue;
        if (start == SIZE_MAX)
            start = (size_t)(batch - pd->Records.p);
        len = (size_t)(batch - pd->Records.p) + blen - start;
    }
    if (start == SIZE_MAX)
        return;
    uint8_t *copy = ferry_malloc(len);
    if (!copy)
        return;
    memcpy(copy, pd->Records.p + start, len);
    struct plog_append_info info;
    rc = rp_append_follower(b->partitions, p, copy, len, &info);
    if (rc)
        LOG_ERROR("replica", "%s-%d: follower append at %lld failed: %s", p->topic, p->index, (long long)end,
                  ferry_strerror(rc));
    ferry_free(copy);
}

static void on_fetch(void *arg, int rc, void *resp_)
{
    struct repl_fetcher *f = arg;
    struct broker *b = f->set->b;
    if (rc) {
        backoff(f, "Fetch failed");
        return;
    }
    const struct FetchResponse *resp = resp_;
    bool progress = resp->ErrorCode == KERR_NONE;
    bool errors = resp->ErrorCode != KERR_NONE;
    for (int32_t t = 0; t < resp->Responses_n; t++) {
        const struct FetchResponse_FetchableTopicResponse *tr = &resp->Responses[t];
        for (int32_t i = 0; i < tr->Partitions_n; i++) {
            const struct FetchResponse_PartitionData *pd = &tr->Partitions[i];
            struct rp_partition *p = rp_partition_get(b->partitions, tr->Topic, pd->PartitionIndex);
            if (!p || !rp_partition_fetches_from(p, f->leader) || p->truncate_check)
                continue;
            if (pd->ErrorCode == KERR_OFFSET_OUT_OF_RANGE) {
                int64_t end = plog_log_end_offset(p->log);
                if (pd->LogStartOffset > end) { /* the leader deleted what we lack: start over at its log start */
                    LOG_INFO("replica", "%s-%d: behind the leader's log start %lld, restarting the log there",
                             p->topic, p->index, (long long)pd->LogStartOffset);
                    rp_partition_restart_log(b->partitions, p, pd->LogStartOffset);
                } else {
                    p->truncate_check = true; /* ahead of the leader: compare epochs */
                }
                continue;
            }
            if (pd->ErrorCode != KERR_NONE) {
                errors = true;
                LOG_DEBUG("replica", "%s-%d: leader %d answered Fetch with %s", p->topic, p->index, f->leader,
                          kafka_error_name(pd->ErrorCode));
                continue;
            }
            append_records(b, p, pd);
            if (pd->LogStartOffset > plog_log_start_offset(p->log) &&
                pd->LogStartOffset <= plog_log_end_offset(p->log))
                rp_partition_advance_log_start(b->partitions, p, pd->LogStartOffset);
            rp_partition_follower_hw(b->partitions, p, pd->HighWatermark);
        }
    }
    /* errors the image will resolve (a new leader or epoch): pause for a backoff, else go on at once */
    round_soon(f, errors && !progress ? (uint64_t)b->cfg->replica_fetch_backoff_ms : 0);
}

static bool send_fetch(struct repl_fetcher *f, struct proto_arena *a)
{
    struct broker *b = f->set->b;
    const struct ferry_config *cfg = b->cfg;
    struct grouped g;
    if (!collect_grouped(f, a, false, &g))
        return false;
    int32_t nt = g.nt;
    struct FetchRequest req;
    proto_struct_init(proto_msg_FetchRequest.body, &req);
    req.ReplicaId = b->node_id;
    req.MaxWaitMs = cfg->replica_fetch_wait_max_ms;
    req.MinBytes = cfg->replica_fetch_min_bytes;
    req.MaxBytes = cfg->replica_fetch_response_max_bytes;
    req.Topics = proto_array_new(a, &desc_FetchRequest_FetchTopic, nt);
    req.ForgottenTopicsData_n = 0;
    if (!req.Topics)
        return false;
    req.Topics_n = nt;
    for (int32_t t = 0; t < nt; t++) {
        struct FetchRequest_FetchTopic *ft = &req.Topics[t];
        ft->Topic = proto_str_from(g.v[g.first[t]]->topic);
        ft->Partitions = proto_array_new(a, &desc_FetchRequest_FetchPartition, g.count[t]);
        if (!ft->Partitions)
            return false;
        int32_t k = 0;
        for (int32_t i = g.first[t]; i >= 0; i = g.next[i]) {
            struct rp_partition *p = g.v[i];
            struct FetchRequest_FetchPartition *fp = &ft->Partitions[k++];
            fp->Partition = p->index;
            fp->CurrentLeaderEpoch = p->leader_epoch;
            fp->FetchOffset = plog_log_end_offset(p->log);
            fp->LogStartOffset = plog_log_start_offset(p->log);
            fp->PartitionMaxBytes = cfg->replica_fetch_max_bytes;
        }
        ft->Partitions_n = k;
    }
    if (net_client_send(f->client, API_FETCH, f->fetch_version, &req, on_fetch, f) != 0)
        return false;
    f->state = F_FETCHING;
    return true;
}

static void next_round(struct repl_fetcher *f)
{
    if (!f->client) {
        start_connect(f);
        return;
    }
    struct proto_arena a;
    proto_arena_init(&a);
    bool sent = send_epochs(f, &a) || send_fetch(f, &a);
    proto_arena_free(&a);
    if (!sent)
        round_soon(f, (uint64_t)f->set->b->cfg->replica_fetch_backoff_ms); /* nothing to fetch yet */
}

/* ---- connection ---- */

static void on_versions(void *arg, int rc, void *resp_)
{
    struct repl_fetcher *f = arg;
    if (rc) {
        backoff(f, "ApiVersions failed");
        return;
    }
    const struct ApiVersionsResponse *resp = resp_;
    f->fetch_version = -1;
    f->ofle_version = -1;
    for (int32_t i = 0; i < resp->ApiKeys_n; i++) {
        const struct ApiVersionsResponse_ApiVersion *v = &resp->ApiKeys[i];
        if (v->ApiKey == API_FETCH && v->MaxVersion >= 9)
            f->fetch_version = v->MaxVersion < FETCH_VERSION ? v->MaxVersion : FETCH_VERSION;
        if (v->ApiKey == API_KEY_OFFSET_FOR_LEADER_EPOCH && v->MaxVersion >= 3 && v->MinVersion <= OFLE_VERSION)
            f->ofle_version = v->MaxVersion < OFLE_VERSION ? v->MaxVersion : OFLE_VERSION;
    }
    if (resp->ErrorCode != KERR_NONE || f->fetch_version < 0) {
        backoff(f, "the leader does not serve Fetch v9+");
        return;
    }
    round_soon(f, 0);
}

static void on_connected(void *arg, int rc)
{
    struct repl_fetcher *f = arg;
    if (rc) {
        backoff(f, "cannot connect");
        return;
    }
    struct ApiVersionsRequest req;
    proto_struct_init(proto_msg_ApiVersionsRequest.body, &req);
    if (net_client_send(f->client, API_API_VERSIONS, 0, &req, on_versions, f) != 0) {
        backoff(f, "cannot send ApiVersions");
        return;
    }
    f->state = F_VERSIONS;
}

static void start_connect(struct repl_fetcher *f)
{
    struct broker *b = f->set->b;
    const struct md_endpoint *ep = md_image_broker_endpoint(broker_image(b), f->leader,
                                                            b->cfg->inter_broker_listener_name);
    if (!ep) {
        f->state = F_BACKOFF;
        uv_timer_start(&f->timer, on_timer, (uint64_t)b->cfg->replica_fetch_backoff_ms, 0);
        return;
    }
    char client_id[64];
    snprintf(client_id, sizeof client_id, "ferry-replica-%d", b->node_id);
    int64_t timeout = b->cfg->replica_socket_timeout_ms + b->cfg->replica_fetch_wait_max_ms;
    f->state = F_CONNECTING;
    if (net_client_connect(b->loop, ep->host, ep->port, client_id, timeout, on_connected, f, &f->client) != 0) {
        f->client = NULL;
        backoff(f, "out of memory");
    }
}

/* ---- the set ---- */

static void ensure_fetcher(struct repl_fetchers *fs, int32_t leader)
{
    if (leader < 0 || leader == fs->b->node_id)
        return;
    for (struct repl_fetcher *f = fs->list; f; f = f->next)
        if (f->leader == leader)
            return;
    struct repl_fetcher *f = ferry_calloc(1, sizeof *f);
    if (!f) {
        LOG_ERROR("replica", "out of memory starting a fetcher for leader %d", leader);
        return;
    }
    f->set = fs;
    f->leader = leader;
    uv_timer_init(fs->b->loop, &f->timer);
    f->timer.data = f;
    f->next = fs->list;
    fs->list = f;
    LOG_INFO("replica", "node %d: fetcher for leader %d started", fs->b->node_id, f->leader);
    start_connect(f);
}

void repl_fetchers_sync(struct repl_fetchers *fs)
{
    struct rp_manager *m = fs->b->partitions;
    int32_t leaders[64];
    size_t n = rp_following_leaders(m, leaders, sizeof leaders / sizeof *leaders);
    int32_t *all = n <= sizeof leaders / sizeof *leaders ? leaders : ferry_malloc(sizeof *all * n);
    if (all && all != leaders)
        rp_following_leaders(m, all, n);
    for (size_t i = 0; all && i < n; i++)
        ensure_fetcher(fs, all[i]);
    if (!all)
        LOG_ERROR("replica", "out of memory listing the leaders to fetch from");
    if (all != leaders)
        ferry_free(all);
    for (struct repl_fetcher **pp = &fs->list; *pp;) {
        struct repl_fetcher *f = *pp;
        if (rp_following_count(m, f->leader) > 0) {
            pp = &f->next;
            continue;
        }
        *pp = f->next;
        LOG_INFO("replica", "node %d: fetcher for leader %d stopped", fs->b->node_id, f->leader);
        fetcher_free(f);
    }
}

size_t repl_fetchers_count(const struct repl_fetchers *fs)
{
    size_t n = 0;
    for (const struct repl_fetcher *f = fs ? fs->list : NULL; f; f = f->next)
        n++;
    return n;
}

void repl_fetchers_close(struct repl_fetchers *fs)
{
    while (fs->list) {
        struct repl_fetcher *f = fs->list;
        fs->list = f->next;
        fetcher_free(f);
    }
    ferry_free(fs);
}
