/* group: the classic consumer-group APIs: JoinGroup v0-5, SyncGroup v0-3, Heartbeat v0-3, LeaveGroup
 * v0-3, OffsetCommit v0-7, OffsetFetch v0-5, DescribeGroups v0-4, ListGroups v0-2, DeleteGroups v0-1,
 * OffsetDelete v0. Each handler decodes the request, turns it into an event of the pure coordinator
 * (broker/group/group_coord.h) and encodes what comes out; JoinGroup and SyncGroup may park, and are
 * answered from the coordinator's sink (api_group_sink) later on the same loop.
 *
 * A group is served only once its __consumer_offsets partition is hosted and loaded (NOT_COORDINATOR /
 * COORDINATOR_LOAD_IN_PROGRESS before); the first FindCoordinator, JoinGroup or OffsetCommit creates the
 * topic, as Kafka does. An OffsetCommit is answered after its records are appended (and flushed when
 * the topic's flush policy asks). */
#include <string.h>

#include "broker.h"
#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/group/group_service.h"

#define OFFSETS_TOPIC "__consumer_offsets"

static struct group_coord *coord(struct broker *b) { return group_service_coord(b->groups); }

static proto_str pstr(const char *s)
{
    proto_str r = {s, s ? (int32_t)strlen(s) : -1};
    return r;
}

/* Kafka's clientHost: "/" + the peer's address. */
static proto_str client_host(struct net_request *req, char *buf, size_t n)
{
    const char *peer = net_request_peer(req);
    const char *colon = strrchr(peer, ':');
    size_t len = colon ? (size_t)(colon - peer) : strlen(peer);
    if (len + 2 > n)
        len = n - 2;
    buf[0] = '/';
    memcpy(buf + 1, peer, len);
    buf[len + 1] = 0;
    return pstr(buf);
}

static void oom(struct net_request *req) { net_close_for(req, "out of memory"); }

/* ---- __consumer_offsets: creation, appends ---- */

/* True when the topic exists; otherwise asks the controller to create it (Kafka creates it on the first
 * FindCoordinator / JoinGroup / OffsetCommit). */
bool api_group_offsets_topic(struct broker *b)
{
    if (md_image_topic(broker_image(b), OFFSETS_TOPIC))
        return true;
    const char *names[] = {OFFSETS_TOPIC};
    b->meta.ops->auto_create_topics(b->meta.impl, names, 1, NULL, NULL);
    return false;
}

/* The error a group request gets while its coordinator is not ready (0: ready). */
static int16_t coordinator_error(struct broker *b, proto_str group)
{
    if (group.len <= 0)
        return 0; /* the core answers INVALID_GROUP_ID */
    int16_t err = group_service_check(b->groups, group);
    if (err == KERR_NOT_COORDINATOR)
        api_group_offsets_topic(b);
    return err;
}

/* An append to __consumer_offsets is done once it is flushed (when the topic's policy asks) and, as Kafka
 * writes offsets with acks=all, once the partition's high watermark covers it (offsets.commit.timeout.ms,
 * then an error the coordinator reports as COORDINATOR_NOT_AVAILABLE). With the leader alone in the ISR the
 * high watermark is the log end and nothing waits. */
struct append_wait {
    struct rp_watcher watcher; /* first: the watcher callbacks cast back */
    uv_timer_t timer;
    struct broker *b;
    int32_t partition;
    int64_t required; /* the high watermark that covers the append */
    group_io_done_fn done;
    void *arg;
    bool watching;
};

static void append_wait_closed(uv_handle_t *h) { ferry_free(h->data); }

static void append_wait_end(struct append_wait *w, int rc)
{
    if (w->watching)
        rp_unwatch(w->b->partitions, &w->watcher);
    w->watching = false;
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, append_wait_closed);
    w->done(w->arg, rc);
}

/* 0 when replicated, FERRY_EINVAL when the partition is no longer led here, 1 while waiting. */
static int append_replicated(struct append_wait *w)
{
    proto_str topic = {OFFSETS_TOPIC, (int32_t)strlen(OFFSETS_TOPIC)};
    struct rp_partition *p = rp_partition_get(w->b->partitions, topic, w->partition);
    if (!p || !p->is_leader)
        return FERRY_EINVAL;
    return p->high_watermark >= w->required ? 0 : 1;
}

static void append_wait_notify(struct rp_watcher *watcher, struct rp_partition *p)
{
    struct append_wait *w = (struct append_wait *)watcher;
    int rc = append_replicated(w);
    if (rc <= 0)
        append_wait_end(w, rc);
}

static void append_wait_timeout(uv_timer_t *t)
{
    struct append_wait *w = t->data;
    LOG_WARN("group", "%s-%d: append not replicated within offsets.commit.timeout.ms", OFFSETS_TOPIC, w->partition);
    append_wait_end(w, FERRY_EIO);
}

static void append_wait_cancel(struct rp_watcher *watcher)
{
    struct append_wait *w = (struct append_wait *)watcher;
    w->watching = false; /* the manager already unwatched it */
    append_wait_end(w, FERRY_EIO);
}

static void append_flushed(void *arg, int rc)
{
    struct append_wait *w = arg;
    if (rc == 0)
        rc = append_replicated(w);
    if (rc <= 0) {
        append_wait_end(w, rc);
        return;
    }
    w->watcher.notify = append_wait_notify;
    w->watcher.cancel = append_wait_cancel;
    rp_watch(w->b->partitions, &w->watcher);
    w->watching = true;
    uv_timer_start(&w->timer, append_wait_timeout, (uint64_t)w->b->cfg->offsets_commit_timeout_ms, 0);
}

static int group_append(void *ctx, int32_t partition, uint8_t *batch, size_t len, group_io_done_fn done, void *arg)
{
    struct broker *b = ctx;
    proto_str topic = {OFFSETS_TOPIC, (int32_t)strlen(OFFSETS_TOPIC)};
    struct rp_partition *p = rp_partition_get(b->partitions, topic, partition);
    if (!p) {
        ferry_free(batch);
        return FERRY_ENOTFOUND;
    }
    struct plog_append_info info;
    int rc = rp_append(b->partitions, p, batch, len, group_service_now(), &info);
    ferry_free(batch);
    if (rc) {
        LOG_WARN("group", "append to %s-%d failed: %s", OFFSETS_TOPIC, partition, ferry_strerror(rc));
        done(arg, rc);
        return 0;
    }
    bool flush = rp_flush_due(b->partitions, p);
    if (!flush && p->high_watermark > info.last_offset) {
        done(arg, 0);
        return 0;
    }
    struct append_wait *w = ferry_calloc(1, sizeof *w);
    if (!w) {
        done(arg, FERRY_ENOMEM);
        return 0;
    }
    w->b = b;
    w->partition = partition;
    w->required = info.last_offset + 1;
    w->done = done;
    w->arg = arg;
    uv_timer_init(b->loop, &w->timer);
    w->timer.data = w;
    if (flush)
        rp_flush(b->partitions, p, append_flushed, w);
    else
        append_flushed(w, 0);
    return 0;
}

void api_group_io(struct broker *b, struct group_io *io)
{
    io->ctx = b;
    io->append = group_append;
}

/* ---- sink: parked JoinGroup / SyncGroup answers ---- */

static void join_done(void *ctx, void *token, const struct group_join_result *r)
{
    struct net_request *req = token;
    int16_t v = req->hdr.api_version;
    struct JoinGroupResponse *resp = api_new_response(req, &proto_msg_JoinGroupResponse);
    if (!resp) {
        oom(req);
        return;
    }
    resp->ErrorCode = r->error;
    resp->GenerationId = r->generation_id;
    resp->ProtocolType = r->protocol_type ? pstr(r->protocol_type) : pstr(NULL);
    resp->ProtocolName = r->protocol_name ? pstr(r->protocol_name) : (v < 7 ? pstr("") : pstr(NULL));
    resp->Leader = pstr(r->leader_id ? r->leader_id : "");
    resp->MemberId = pstr(r->member_id ? r->member_id : "");
    if (r->members_n > 0) {
        resp->Members = proto_array_new(&req->arena, &desc_JoinGroupResponse_JoinGroupResponseMember, r->members_n);
        if (!resp->Members) {
            oom(req);
            return;
        }
        resp->Members_n = r->members_n;
        for (int32_t i = 0; i < r->members_n; i++) {
            resp->Members[i].MemberId = pstr(r->members[i].member_id);
            resp->Members[i].GroupInstanceId = pstr(r->members[i].instance_id);
            resp->Members[i].Metadata.p = r->members[i].metadata;
            resp->Members[i].Metadata.len = r->members[i].metadata ? r->members[i].metadata_len : 0;
        }
    }
    net_respond(req, &proto_msg_JoinGroupResponse, resp);
}

static void sync_done(void *ctx, void *token, const struct group_sync_result *r)
{
    struct net_request *req = token;
    struct SyncGroupResponse *resp = api_new_response(req, &proto_msg_SyncGroupResponse);
    if (!resp) {
        oom(req);
        return;
    }
    resp->ErrorCode = r->error;
    resp->ProtocolType = pstr(r->protocol_type);
    resp->ProtocolName = pstr(r->protocol_name);
    static const uint8_t none[1];
    resp->Assignment.p = r->assignment ? r->assignment : none;
    resp->Assignment.len = r->assignment ? r->assignment_len : 0;
    net_respond(req, &proto_msg_SyncGroupResponse, resp);
}

void api_group_sink(struct broker *b, struct group_sink *sink)
{
    memset(sink, 0, sizeof *sink);
    sink->ctx = b;
    sink->join_done = join_done;
    sink->sync_done = sync_done;
}

/* ---- handlers ---- */

void api_handle_join_group(struct broker *b, struct net_request *req)
{
    struct JoinGroupRequest body;
    if (!api_decode(req, &proto_msg_JoinGroupRequest, &body))
        return;
    int16_t cerr = coordinator_error(b, body.GroupId);
    if (cerr) {
        struct group_join_result jr = {.error = cerr, .generation_id = -1, .leader_id = "", .member_id = ""};
        join_done(b, req, &jr);
        return;
    }
    int32_t n = body.Protocols_n > 0 ? body.Protocols_n : 0;
    struct group_protocol_in *protos = n ? proto_arena_alloc(&req->arena, (size_t)n * sizeof *protos) : NULL;
    if (n && !protos) {
        oom(req);
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        protos[i].name = body.Protocols[i].Name;
        protos[i].metadata = body.Protocols[i].Metadata;
    }
    char host[96];
    struct group_join_req r = {
        .version = req->hdr.api_version,
        .group_id = body.GroupId,
        .member_id = body.MemberId,
        .instance_id = req->hdr.api_version >= 5 ? body.GroupInstanceId : pstr(NULL),
        .protocol_type = body.ProtocolType,
        .client_id = req->hdr.client_id,
        .client_host = client_host(req, host, sizeof host),
        .session_timeout_ms = body.SessionTimeoutMs,
        .rebalance_timeout_ms = req->hdr.api_version >= 1 ? body.RebalanceTimeoutMs : -1,
        .protocols = protos,
        .protocols_n = n,
    };
    group_coord_join(coord(b), group_service_now(), &r, req);
    group_service_rearm(b->groups);
}

void api_handle_sync_group(struct broker *b, struct net_request *req)
{
    struct SyncGroupRequest body;
    if (!api_decode(req, &proto_msg_SyncGroupRequest, &body))
        return;
    int16_t cerr = coordinator_error(b, body.GroupId);
    if (cerr) {
        struct group_sync_result sr = {.error = cerr};
        sync_done(b, req, &sr);
        return;
    }
    int32_t n = body.Assignments_n > 0 ? body.Assignments_n : 0;
    struct group_assignment_in *as = n ? proto_arena_alloc(&req->arena, (size_t)n * sizeof *as) : NULL;
    if (n && !as) {
        oom(req);
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        as[i].member_id = body.Assignments[i].MemberId;
        as[i].assignment = body.Assignments[i].Assignment;
    }
    struct group_sync_req r = {
        .version = req->hdr.api_version,
        .group_id = body.GroupId,
        .generation_id = body.GenerationId,
        .member_id = body.MemberId,
        .instance_id = req->hdr.api_version >= 3 ? body.GroupInstanceId : pstr(NULL),
        .protocol_type = req->hdr.api_version >= 5 ? body.ProtocolType : pstr(NULL),
        .protocol_name = req->hdr.api_version >= 5 ? body.ProtocolName : pstr(NULL),
        .assignments = as,
        .assignments_n = n,
    };
    group_coord_sync(coord(b), group_service_now(), &r, req);
    group_service_rearm(b->groups);
}

void api_handle_heartbeat(struct broker *b, struct net_request *req)
{
    struct HeartbeatRequest body;
    if (!api_decode(req, &proto_msg_HeartbeatRequest, &body))
        return;
    struct HeartbeatResponse *resp = api_new_response(req, &proto_msg_HeartbeatResponse);
    if (!resp) {
        oom(req);
        return;
    }
    int16_t cerr = coordinator_error(b, body.GroupId);
    if (cerr) {
        resp->ErrorCode = cerr;
        net_respond(req, &proto_msg_HeartbeatResponse, resp);
        return;
    }
    resp->ErrorCode = group_coord_heartbeat(coord(b), group_service_now(), body.GroupId, body.GenerationId,
                                            body.MemberId,
                                            req->hdr.api_version >= 3 ? body.GroupInstanceId : pstr(NULL));
    group_service_rearm(b->groups);
    net_respond(req, &proto_msg_HeartbeatResponse, resp);
}

void api_handle_leave_group(struct broker *b, struct net_request *req)
{
    struct LeaveGroupRequest body;
    if (!api_decode(req, &proto_msg_LeaveGroupRequest, &body))
        return;
    struct LeaveGroupResponse *resp = api_new_response(req, &proto_msg_LeaveGroupResponse);
    if (!resp) {
        oom(req);
        return;
    }
    int16_t cerr = coordinator_error(b, body.GroupId);
    if (cerr) {
        resp->ErrorCode = cerr;
        net_respond(req, &proto_msg_LeaveGroupResponse, resp);
        return;
    }
    bool batch = req->hdr.api_version >= 3;
    int32_t n = batch ? (body.Members_n > 0 ? body.Members_n : 0) : 1;
    struct group_member_identity *who = proto_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *who);
    int16_t *errs = proto_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *errs);
    if (!who || !errs) {
        oom(req);
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        who[i].member_id = batch ? body.Members[i].MemberId : body.MemberId;
        who[i].instance_id = batch ? body.Members[i].GroupInstanceId : pstr(NULL);
    }
    int16_t top = group_coord_leave(coord(b), group_service_now(), body.GroupId, who, n, errs);
    group_service_rearm(b->groups);
    if (!batch) {
        resp->ErrorCode = top ? top : errs[0];
    } else {
        resp->ErrorCode = top;
        if (!top && n) {
            resp->Members = proto_array_new(&req->arena, &desc_LeaveGroupResponse_MemberResponse, n);
            if (!resp->Members) {
                oom(req);
                return;
            }
            resp->Members_n = n;
            for (int32_t i = 0; i < n; i++) {
                resp->Members[i].MemberId = who[i].member_id;
                resp->Members[i].GroupInstanceId = who[i].instance_id;
                resp->Members[i].ErrorCode = errs[i];
            }
        }
    }
    net_respond(req, &proto_msg_LeaveGroupResponse, resp);
}

static bool partition_exists(struct broker *b, proto_str topic, int32_t partition)
{
    if (topic.len <= 0)
        return false;
    const struct md_topic *t = md_image_topic_n(broker_image(b), topic.p, (size_t)topic.len);
    return t && md_topic_partition(t, partition) != NULL;
}

static void commit_written(void *arg, int16_t err)
{
    struct net_request *req = arg;
    struct OffsetCommitResponse *resp = req->handler_data;
    for (int32_t t = 0; err && t < resp->Topics_n; t++)
        for (int32_t i = 0; i < resp->Topics[t].Partitions_n; i++)
            if (resp->Topics[t].Partitions[i].ErrorCode == 0)
                resp->Topics[t].Partitions[i].ErrorCode = err;
    net_respond(req, &proto_msg_OffsetCommitResponse, resp);
}

void api_handle_offset_commit(struct broker *b, struct net_request *req)
{
    struct OffsetCommitRequest body;
    if (!api_decode(req, &proto_msg_OffsetCommitRequest, &body))
        return;
    int16_t v = req->hdr.api_version;
    struct OffsetCommitResponse *resp = api_new_response(req, &proto_msg_OffsetCommitResponse);
    int32_t nt = body.Topics_n > 0 ? body.Topics_n : 0;
    if (!resp || !(resp->Topics = proto_array_new(&req->arena, &desc_OffsetCommitResponse_OffsetCommitResponseTopic, nt)))
        goto oom;
    resp->Topics_n = nt;
    int32_t total = 0;
    for (int32_t t = 0; t < nt; t++)
        total += body.Topics[t].Partitions_n > 0 ? body.Topics[t].Partitions_n : 0;
    struct group_commit_partition *parts = proto_arena_alloc(&req->arena, (size_t)(total ? total : 1) * sizeof *parts);
    if (!parts)
        goto oom;
    int32_t k = 0;
    for (int32_t t = 0; t < nt; t++) {
        const struct OffsetCommitRequest_OffsetCommitRequestTopic *rt = &body.Topics[t];
        for (int32_t i = 0; i < (rt->Partitions_n > 0 ? rt->Partitions_n : 0); i++, k++) {
            const struct OffsetCommitRequest_OffsetCommitRequestPartition *rp = &rt->Partitions[i];
            parts[k].topic = rt->Name;
            parts[k].partition = rp->PartitionIndex;
            parts[k].offset = rp->CommittedOffset;
            parts[k].leader_epoch = v >= 6 ? rp->CommittedLeaderEpoch : -1;
            parts[k].metadata = rp->CommittedMetadata;
            parts[k].error = partition_exists(b, rt->Name, rp->PartitionIndex) ? 0 : KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    int32_t generation = v >= 1 ? body.GenerationIdOrMemberEpoch : -1;
    proto_str member = v >= 1 ? body.MemberId : pstr("");
    int16_t top = coordinator_error(b, body.GroupId);
    if (!top)
        top = group_coord_commit(coord(b), group_service_now(), body.GroupId, generation, member,
                                 v >= 7 ? body.GroupInstanceId : pstr(NULL), parts, total);
    k = 0;
    for (int32_t t = 0; t < nt; t++) {
        const struct OffsetCommitRequest_OffsetCommitRequestTopic *rt = &body.Topics[t];
        struct OffsetCommitResponse_OffsetCommitResponseTopic *tr = &resp->Topics[t];
        int32_t np = rt->Partitions_n > 0 ? rt->Partitions_n : 0;
        tr->Name = rt->Name;
        if (!(tr->Partitions = proto_array_new(&req->arena, &desc_OffsetCommitResponse_OffsetCommitResponsePartition, np)))
            goto oom;
        tr->Partitions_n = np;
        for (int32_t i = 0; i < np; i++, k++) {
            tr->Partitions[i].PartitionIndex = rt->Partitions[i].PartitionIndex;
            tr->Partitions[i].ErrorCode = parts[k].error == KERR_UNKNOWN_TOPIC_OR_PARTITION ? parts[k].error
                                          : top                                           ? top
                                                                                          : parts[k].error;
        }
    }
    req->handler_data = resp;
    group_service_persist(b->groups, commit_written, req); /* answered once the records are appended */
    group_service_rearm(b->groups);
    return;
oom:
    oom(req);
}

struct fetch_all {
    struct net_request *req;
    struct OffsetFetchResponse *resp;
    bool failed;
};

static struct OffsetFetchResponse_OffsetFetchResponseTopic *topic_slot(struct fetch_all *fa, const char *topic)
{
    struct OffsetFetchResponse *resp = fa->resp;
    for (int32_t i = 0; i < resp->Topics_n; i++)
        if (proto_str_eq(resp->Topics[i].Name, topic))
            return &resp->Topics[i];
    return NULL;
}

static void count_topic(void *arg, const char *topic, int32_t partition, const struct group_committed *c)
{
    struct fetch_all *fa = arg;
    struct OffsetFetchResponse *resp = fa->resp;
    struct OffsetFetchResponse_OffsetFetchResponseTopic *t = topic_slot(fa, topic);
    if (!t) {
        t = &resp->Topics[resp->Topics_n++];
        t->Name = pstr(topic);
        t->Partitions_n = 0;
    }
    t->Partitions_n++; /* a count for now */
}

static void fill_topic(void *arg, const char *topic, int32_t partition, const struct group_committed *c)
{
    struct fetch_all *fa = arg;
    struct OffsetFetchResponse_OffsetFetchResponseTopic *t = topic_slot(fa, topic);
    if (!t || fa->failed)
        return;
    if (!t->Partitions) {
        int32_t n = t->Partitions_n;
        t->Partitions = proto_array_new(&fa->req->arena, &desc_OffsetFetchResponse_OffsetFetchResponsePartition, n);
        if (!t->Partitions) {
            fa->failed = true;
            return;
        }
        t->Partitions_n = 0;
    }
    struct OffsetFetchResponse_OffsetFetchResponsePartition *p = &t->Partitions[t->Partitions_n++];
    p->PartitionIndex = partition;
    p->CommittedOffset = c->offset;
    p->CommittedLeaderEpoch = c->leader_epoch;
    p->Metadata = pstr(c->metadata ? c->metadata : "");
    /* the strings point into the coordinator, which does not change before the response is encoded */
}

static void count_all(void *arg, const char *topic, int32_t partition, const struct group_committed *c)
{
    (*(int32_t *)arg)++;
}

void api_handle_offset_fetch(struct broker *b, struct net_request *req)
{
    struct OffsetFetchRequest body;
    if (!api_decode(req, &proto_msg_OffsetFetchRequest, &body))
        return;
    struct OffsetFetchResponse *resp = api_new_response(req, &proto_msg_OffsetFetchResponse);
    if (!resp)
        goto oom;
    int16_t cerr = coordinator_error(b, body.GroupId);
    if (cerr && req->hdr.api_version >= 2) {
        resp->ErrorCode = cerr;
        net_respond(req, &proto_msg_OffsetFetchResponse, resp);
        return;
    }
    if (cerr) { /* v0-1: the error on every partition */
        int32_t nt = body.Topics_n > 0 ? body.Topics_n : 0;
        if (!(resp->Topics = proto_array_new(&req->arena, &desc_OffsetFetchResponse_OffsetFetchResponseTopic, nt)))
            goto oom;
        resp->Topics_n = nt;
        for (int32_t t = 0; t < nt; t++) {
            int32_t np = body.Topics[t].PartitionIndexes_n > 0 ? body.Topics[t].PartitionIndexes_n : 0;
            resp->Topics[t].Name = body.Topics[t].Name;
            resp->Topics[t].Partitions =
                proto_array_new(&req->arena, &desc_OffsetFetchResponse_OffsetFetchResponsePartition, np);
            if (!resp->Topics[t].Partitions)
                goto oom;
            resp->Topics[t].Partitions_n = np;
            for (int32_t i = 0; i < np; i++) {
                resp->Topics[t].Partitions[i].PartitionIndex = body.Topics[t].PartitionIndexes[i];
                resp->Topics[t].Partitions[i].CommittedOffset = -1;
                resp->Topics[t].Partitions[i].Metadata = pstr("");
                resp->Topics[t].Partitions[i].ErrorCode = cerr;
            }
        }
        net_respond(req, &proto_msg_OffsetFetchResponse, resp);
        return;
    }
    if (body.Topics_n < 0) {
        /* every committed offset of the group (v2+) */
        int32_t total = 0;
        group_coord_each_offset(coord(b), body.GroupId, count_all, &total);
        resp->Topics = proto_array_new(&req->arena, &desc_OffsetFetchResponse_OffsetFetchResponseTopic, total);
        if (!resp->Topics)
            goto oom;
        resp->Topics_n = 0;
        struct fetch_all fa = {req, resp, false};
        group_coord_each_offset(coord(b), body.GroupId, count_topic, &fa);
        group_coord_each_offset(coord(b), body.GroupId, fill_topic, &fa);
        if (fa.failed)
            goto oom;
    } else {
        int32_t nt = body.Topics_n;
        resp->Topics = proto_array_new(&req->arena, &desc_OffsetFetchResponse_OffsetFetchResponseTopic, nt);
        if (!resp->Topics)
            goto oom;
        resp->Topics_n = nt;
        for (int32_t t = 0; t < nt; t++) {
            const struct OffsetFetchRequest_OffsetFetchRequestTopic *rt = &body.Topics[t];
            struct OffsetFetchResponse_OffsetFetchResponseTopic *tr = &resp->Topics[t];
            int32_t np = rt->PartitionIndexes_n > 0 ? rt->PartitionIndexes_n : 0;
            tr->Name = rt->Name;
            tr->Partitions = proto_array_new(&req->arena, &desc_OffsetFetchResponse_OffsetFetchResponsePartition, np);
            if (!tr->Partitions)
                goto oom;
            tr->Partitions_n = np;
            for (int32_t i = 0; i < np; i++) {
                struct group_committed c;
                group_coord_fetch_offset(coord(b), body.GroupId, rt->Name, rt->PartitionIndexes[i], &c);
                struct OffsetFetchResponse_OffsetFetchResponsePartition *p = &tr->Partitions[i];
                p->PartitionIndex = rt->PartitionIndexes[i];
                p->CommittedOffset = c.offset;
                p->CommittedLeaderEpoch = c.leader_epoch;
                p->Metadata = pstr(c.metadata ? c.metadata : "");
            }
        }
    }
    net_respond(req, &proto_msg_OffsetFetchResponse, resp);
    return;
oom:
    oom(req);
}

struct describe_ctx {
    struct net_request *req;
    struct DescribeGroupsResponse_DescribedGroup *g;
    bool failed;
};

static void describe_one(void *arg, const struct group_summary *s)
{
    struct describe_ctx *dc = arg;
    struct DescribeGroupsResponse_DescribedGroup *g = dc->g;
    g->GroupState = pstr(s->state);
    g->ProtocolType = pstr(s->protocol_type);
    g->ProtocolData = pstr(s->protocol_name);
    if (s->members_n <= 0)
        return;
    g->Members = proto_array_new(&dc->req->arena, &desc_DescribeGroupsResponse_DescribedGroupMember, s->members_n);
    if (!g->Members) {
        dc->failed = true;
        return;
    }
    g->Members_n = s->members_n;
    static const uint8_t none[1];
    for (int32_t i = 0; i < s->members_n; i++) {
        const struct group_member_summary *m = &s->members[i];
        struct DescribeGroupsResponse_DescribedGroupMember *o = &g->Members[i];
        /* the coordinator's strings stay put until the response is encoded below */
        o->MemberId = pstr(m->member_id);
        o->GroupInstanceId = pstr(m->instance_id);
        o->ClientId = pstr(m->client_id);
        o->ClientHost = pstr(m->client_host);
        o->MemberMetadata.p = m->metadata ? m->metadata : none;
        o->MemberMetadata.len = m->metadata ? m->metadata_len : 0;
        o->MemberAssignment.p = m->assignment ? m->assignment : none;
        o->MemberAssignment.len = m->assignment ? m->assignment_len : 0;
    }
}

void api_handle_describe_groups(struct broker *b, struct net_request *req)
{
    struct DescribeGroupsRequest body;
    if (!api_decode(req, &proto_msg_DescribeGroupsRequest, &body))
        return;
    struct DescribeGroupsResponse *resp = api_new_response(req, &proto_msg_DescribeGroupsResponse);
    int32_t n = body.Groups_n > 0 ? body.Groups_n : 0;
    if (!resp || !(resp->Groups = proto_array_new(&req->arena, &desc_DescribeGroupsResponse_DescribedGroup, n)))
        goto oom;
    resp->Groups_n = n;
    for (int32_t i = 0; i < n; i++) {
        resp->Groups[i].GroupId = body.Groups[i];
        int16_t cerr = coordinator_error(b, body.Groups[i]);
        if (cerr) {
            resp->Groups[i].ErrorCode = cerr;
            resp->Groups[i].GroupState = pstr("");
            resp->Groups[i].ProtocolType = pstr("");
            resp->Groups[i].ProtocolData = pstr("");
            continue;
        }
        struct describe_ctx dc = {req, &resp->Groups[i], false};
        group_coord_describe(coord(b), body.Groups[i], describe_one, &dc);
        if (dc.failed)
            goto oom;
    }
    net_respond(req, &proto_msg_DescribeGroupsResponse, resp);
    return;
oom:
    oom(req);
}

struct list_ctx {
    struct ListGroupsResponse *resp;
    int32_t cap;
};

static void list_count(void *arg, const char *g, const char *pt, const char *st) { (*(int32_t *)arg)++; }

static void list_one(void *arg, const char *g, const char *pt, const char *st)
{
    struct list_ctx *lc = arg;
    if (lc->resp->Groups_n >= lc->cap)
        return;
    struct ListGroupsResponse_ListedGroup *o = &lc->resp->Groups[lc->resp->Groups_n++];
    o->GroupId = pstr(g);
    o->ProtocolType = pstr(pt);
    o->GroupState = pstr(st);
}

void api_handle_list_groups(struct broker *b, struct net_request *req)
{
    struct ListGroupsRequest body;
    if (!api_decode(req, &proto_msg_ListGroupsRequest, &body))
        return;
    struct ListGroupsResponse *resp = api_new_response(req, &proto_msg_ListGroupsResponse);
    int32_t n = 0;
    group_coord_list(coord(b), list_count, &n);
    if (!resp || !(resp->Groups = proto_array_new(&req->arena, &desc_ListGroupsResponse_ListedGroup, n))) {
        oom(req);
        return;
    }
    resp->Groups_n = 0;
    struct list_ctx lc = {resp, n};
    group_coord_list(coord(b), list_one, &lc);
    if (group_service_loading(b->groups)) /* the groups known so far, as Kafka */
        resp->ErrorCode = KERR_COORDINATOR_LOAD_IN_PROGRESS;
    net_respond(req, &proto_msg_ListGroupsResponse, resp);
}

void api_handle_delete_groups(struct broker *b, struct net_request *req)
{
    struct DeleteGroupsRequest body;
    if (!api_decode(req, &proto_msg_DeleteGroupsRequest, &body))
        return;
    struct DeleteGroupsResponse *resp = api_new_response(req, &proto_msg_DeleteGroupsResponse);
    int32_t n = body.GroupsNames_n > 0 ? body.GroupsNames_n : 0;
    if (!resp || !(resp->Results = proto_array_new(&req->arena, &desc_DeleteGroupsResponse_DeletableGroupResult, n))) {
        oom(req);
        return;
    }
    resp->Results_n = n;
    for (int32_t i = 0; i < n; i++) {
        resp->Results[i].GroupId = body.GroupsNames[i];
        int16_t cerr = coordinator_error(b, body.GroupsNames[i]);
        resp->Results[i].ErrorCode = cerr ? cerr : group_coord_delete_group(coord(b), body.GroupsNames[i]);
    }
    group_service_rearm(b->groups);
    net_respond(req, &proto_msg_DeleteGroupsResponse, resp);
}

void api_handle_offset_delete(struct broker *b, struct net_request *req)
{
    struct OffsetDeleteRequest body;
    if (!api_decode(req, &proto_msg_OffsetDeleteRequest, &body))
        return;
    struct OffsetDeleteResponse *resp = api_new_response(req, &proto_msg_OffsetDeleteResponse);
    int32_t nt = body.Topics_n > 0 ? body.Topics_n : 0;
    if (!resp || !(resp->Topics = proto_array_new(&req->arena, &desc_OffsetDeleteResponse_OffsetDeleteResponseTopic, nt)))
        goto oom;
    resp->Topics_n = nt;
    resp->ErrorCode = coordinator_error(b, body.GroupId);
    for (int32_t t = 0; t < nt && !resp->ErrorCode; t++) {
        const struct OffsetDeleteRequest_OffsetDeleteRequestTopic *rt = &body.Topics[t];
        struct OffsetDeleteResponse_OffsetDeleteResponseTopic *tr = &resp->Topics[t];
        int32_t np = rt->Partitions_n > 0 ? rt->Partitions_n : 0;
        tr->Name = rt->Name;
        if (!(tr->Partitions = proto_array_new(&req->arena, &desc_OffsetDeleteResponse_OffsetDeleteResponsePartition, np)))
            goto oom;
        tr->Partitions_n = np;
        for (int32_t i = 0; i < np; i++) {
            int16_t ge = 0;
            int32_t pi = rt->Partitions[i].PartitionIndex;
            tr->Partitions[i].PartitionIndex = pi;
            if (!partition_exists(b, rt->Name, pi)) {
                tr->Partitions[i].ErrorCode = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            tr->Partitions[i].ErrorCode = group_coord_delete_offset(coord(b), body.GroupId, rt->Name, pi, &ge);
            if (ge) {
                resp->ErrorCode = ge;
                break;
            }
        }
    }
    if (resp->ErrorCode) {
        resp->Topics_n = 0; /* a group-level error answers without topics, as Kafka */
    }
    group_service_rearm(b->groups); /* the tombstones */
    net_respond(req, &proto_msg_OffsetDeleteResponse, resp);
    return;
oom:
    oom(req);
}
