/* zkrpc_stop: StopReplica → stop actions, records and response, as Kafka 3.7's KafkaApis.handleStopReplicaRequest
 * and ReplicaManager.stopReplicas. Every partition is stopped unless its leader epoch is older than the hosted
 * one (FENCED_LEADER_EPOCH); -2 (topic deletion) and -1 (not given, v0-2) always pass.
 *
 * Records, for partitions stopped with deletion: when the request deletes every partition the image has of a
 * topic with leader epoch -2 (the controller's topic deletion), a RemoveTopicRecord; otherwise a
 * PartitionRecord that keeps the partition's state without this broker among its replicas (a reassignment
 * moved the replica away: in the image, not being a replica is what makes the data plane delete it). A stop
 * without deletion changes nothing in the image: the caller acts on the stop list. */
#include <string.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkrpc_internal.h"

struct stop_part {
    proto_str topic;
    int32_t partition;
    int32_t leader_epoch;
    bool del;
    int16_t error;
};

static struct stop_part *flatten(struct zkrpc_result *out, int16_t version, const struct StopReplicaRequest *req,
                                 size_t *n)
{
    size_t total = 0;
    if (version == 0) {
        total = req->UngroupedPartitions_n > 0 ? (size_t)req->UngroupedPartitions_n : 0;
    } else if (version <= 2) {
        for (int32_t t = 0; t < req->Topics_n; t++)
            total += req->Topics[t].PartitionIndexes_n > 0 ? (size_t)req->Topics[t].PartitionIndexes_n : 0;
    } else {
        for (int32_t t = 0; t < req->TopicStates_n; t++)
            total += req->TopicStates[t].PartitionStates_n > 0 ? (size_t)req->TopicStates[t].PartitionStates_n : 0;
    }
    struct stop_part *parts = zr_array(out, total, sizeof *parts);
    if (!parts)
        return NULL;
    size_t k = 0;
    if (version == 0) {
        for (size_t i = 0; i < total; i++)
            parts[k++] = (struct stop_part){req->UngroupedPartitions[i].TopicName,
                                            req->UngroupedPartitions[i].PartitionIndex, ZKRPC_NO_EPOCH,
                                            req->DeletePartitions, KERR_NONE};
    } else if (version <= 2) {
        for (int32_t t = 0; t < req->Topics_n; t++)
            for (int32_t i = 0; i < req->Topics[t].PartitionIndexes_n; i++)
                parts[k++] = (struct stop_part){req->Topics[t].Name, req->Topics[t].PartitionIndexes[i],
                                                ZKRPC_NO_EPOCH, req->DeletePartitions, KERR_NONE};
    } else {
        for (int32_t t = 0; t < req->TopicStates_n; t++) {
            const struct StopReplicaRequest_StopReplicaTopicState *ts = &req->TopicStates[t];
            for (int32_t i = 0; i < ts->PartitionStates_n; i++)
                parts[k++] = (struct stop_part){ts->TopicName, ts->PartitionStates[i].PartitionIndex,
                                                ts->PartitionStates[i].LeaderEpoch,
                                                ts->PartitionStates[i].DeletePartition, KERR_NONE};
        }
    }
    *n = total;
    return parts;
}

static bool deleted_by_request(const struct stop_part *parts, size_t n, proto_str topic, int32_t partition)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i].partition == partition && parts[i].del && parts[i].error == KERR_NONE &&
            parts[i].leader_epoch == ZKRPC_EPOCH_DURING_DELETE && parts[i].topic.len == topic.len &&
            memcmp(parts[i].topic.p, topic.p, (size_t)topic.len) == 0)
            return true;
    return false;
}

/* Every partition the image has of t is deleted by the request as part of a topic deletion. */
static bool whole_topic_deleted(const struct md_topic *t, const struct stop_part *parts, size_t n)
{
    proto_str name = {t->name, (int32_t)strlen(t->name)};
    for (int32_t p = 0; p < t->parts_len; p++)
        if (t->parts[p].present && !deleted_by_request(parts, n, name, p))
            return false;
    return true;
}

/* n ints of v without id, in the arena (*len the count). */
static int32_t *without(struct zkrpc_result *out, const struct md_ints *v, int32_t id, int32_t *len, bool *oom)
{
    int32_t *r = zr_ints(out, v->v, v->n, oom);
    int32_t k = 0;
    for (int32_t i = 0; r && i < v->n; i++)
        if (v->v[i] != id)
            r[k++] = v->v[i];
    *len = k;
    return r;
}

static int remove_replica(struct zr_view *v, int32_t broker_id, const struct stop_part *p)
{
    bool oom = false;
    struct zr_topic *t = zr_topic_by_name(v, p->topic, &oom);
    if (oom)
        return FERRY_ENOMEM;
    const struct md_partition *ip = t && t->img ? md_topic_partition(t->img, p->partition) : NULL;
    if (!ip || !(md_ints_contains(&ip->replicas, broker_id) || md_ints_contains(&ip->isr, broker_id) ||
                 md_ints_contains(&ip->adding, broker_id) || md_ints_contains(&ip->removing, broker_id)))
        return 0;
    struct PartitionRecord *r = zr_partition_record(v, t, p->partition);
    if (!r)
        return FERRY_ENOMEM;
    r->Replicas = without(v->out, &ip->replicas, broker_id, &r->Replicas_n, &oom);
    r->Isr = without(v->out, &ip->isr, broker_id, &r->Isr_n, &oom);
    r->AddingReplicas = without(v->out, &ip->adding, broker_id, &r->AddingReplicas_n, &oom);
    r->RemovingReplicas = without(v->out, &ip->removing, broker_id, &r->RemovingReplicas_n, &oom);
    r->Leader = ip->leader == broker_id ? MD_NO_LEADER : ip->leader;
    r->LeaderEpoch = ip->leader_epoch;
    r->PartitionEpoch = ip->partition_epoch;
    r->LeaderRecoveryState = ip->leader_recovery_state;
    return oom ? FERRY_ENOMEM : 0;
}

static int records(const struct zkrpc_broker *b, struct zr_view *v, const struct stop_part *parts, size_t n)
{
    const struct md_topic *checked = NULL; /* the last topic found not wholly deleted */
    for (size_t i = 0; i < n; i++) {
        const struct stop_part *p = &parts[i];
        if (!p->del || p->error != KERR_NONE)
            continue;
        bool oom = false;
        struct zr_topic *t = zr_topic_by_name(v, p->topic, &oom);
        if (oom)
            return FERRY_ENOMEM;
        bool whole = t && t->img && t->img != checked && whole_topic_deleted(t->img, parts, n);
        if (t && t->img && !whole)
            checked = t->img;
        if (whole) {
            LOG_INFO("zkrpc", "StopReplica deletes every partition of %.*s: topic removed", ZR_STR(t->name));
            if (zr_topic_remove(v, t))
                return FERRY_ENOMEM;
            continue;
        }
        if (remove_replica(v, b->broker_id, p))
            return FERRY_ENOMEM;
    }
    return 0;
}

int zkrpc_stop_replica(struct zkrpc_broker *b, const struct md_image *img, int16_t version,
                       const struct StopReplicaRequest *req, struct zkrpc_result *out)
{
    struct StopReplicaResponse *resp = zr_response(out, &proto_msg_StopReplicaResponse);
    if (!resp)
        goto nomem;
    if (req->BrokerEpoch != ZKRPC_UNKNOWN_BROKER_EPOCH && req->BrokerEpoch < b->broker_epoch) {
        LOG_INFO("zkrpc", "StopReplica from controller %d (epoch %d) ignored: broker epoch %lld is older than %lld",
                 req->ControllerId, req->ControllerEpoch, (long long)req->BrokerEpoch, (long long)b->broker_epoch);
        resp->ErrorCode = KERR_STALE_BROKER_EPOCH;
        return 0;
    }
    if (req->ControllerEpoch < b->controller_epoch) {
        LOG_WARN("zkrpc", "StopReplica from controller %d ignored: controller epoch %d is older than %d",
                 req->ControllerId, req->ControllerEpoch, b->controller_epoch);
        resp->ErrorCode = KERR_STALE_CONTROLLER_EPOCH;
        return 0;
    }
    size_t n = 0;
    struct stop_part *parts = flatten(out, version, req, &n);
    out->stops = parts ? zr_array(out, n, sizeof *out->stops) : NULL;
    resp->PartitionErrors = out->stops ? zr_array(out, n, sizeof *resp->PartitionErrors) : NULL;
    if (!resp->PartitionErrors)
        goto nomem;
    struct zr_staged staged = {NULL, 0, 0};
    for (size_t i = 0; i < n; i++) {
        struct stop_part *p = &parts[i];
        long h = zr_hosted_find(b, p->topic, p->partition);
        int32_t current = h >= 0 ? b->hosted[h].leader_epoch : -1;
        if (h >= 0 && p->leader_epoch != ZKRPC_EPOCH_DURING_DELETE && p->leader_epoch != ZKRPC_NO_EPOCH &&
            p->leader_epoch < current) {
            LOG_WARN("zkrpc", "StopReplica for %.*s-%d ignored: leader epoch %d is older than %d", ZR_STR(p->topic),
                     p->partition, p->leader_epoch, current);
            p->error = KERR_FENCED_LEADER_EPOCH;
        } else {
            out->stops[out->nstops++] = (struct zkrpc_stop){p->topic, p->partition, p->del};
            if (p->del && h >= 0 &&
                zr_stage(out, &staged, (struct zr_hosted_change){p->topic, p->partition, 0, {{0}}, true}))
                goto nomem;
        }
        resp->PartitionErrors[i] = (struct StopReplicaResponse_StopReplicaPartitionError){p->topic, p->partition,
                                                                                           p->error};
    }
    resp->PartitionErrors_n = (int32_t)n;
    struct zr_view v;
    zr_view_init(&v, img, out);
    if (records(b, &v, parts, n) || zr_commit(b, &staged))
        goto nomem;
    b->controller_epoch = req->ControllerEpoch;
    resp->ErrorCode = KERR_NONE;
    LOG_INFO("zkrpc", "StopReplica from controller %d (epoch %d): %zu partition(s), %zu stopped, %zu record(s)",
             req->ControllerId, req->ControllerEpoch, n, out->nstops, out->nrecords);
    return 0;
nomem:
    zkrpc_result_free(out);
    return FERRY_ENOMEM;
}
