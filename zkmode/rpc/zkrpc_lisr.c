/* zkrpc_lisr: LeaderAndIsr → records (TopicRecord for a topic new to the image, RemoveTopicRecord first when
 * its name belonged to another id, a PartitionRecord for every partition this broker now hosts), the
 * partitions it starts (leads or follows at a newer epoch: the caller's fetchers follow) and the
 * response, as Kafka 3.7's KafkaApis.handleLeaderAndIsrRequest and ReplicaManager.becomeLeaderOrFollower. */
#include <stddef.h>
#include <string.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkrpc_internal.h"

typedef struct LeaderAndIsrRequest_LeaderAndIsrPartitionState lisr_state;
typedef struct LeaderAndIsrRequest_LeaderAndIsrTopicState lisr_topic;

static const struct zr_layout layout = {
    sizeof(lisr_state), offsetof(lisr_state, TopicName), sizeof(lisr_topic), offsetof(lisr_topic, TopicName),
    offsetof(lisr_topic, TopicId), offsetof(lisr_topic, PartitionStates), offsetof(lisr_topic, PartitionStates_n)};

static const lisr_state *state(const struct zr_part *p) { return p->ps; }

/* The response: per partition errors[i] (topic names up to v4, grouped by topic id from v5). */
static int respond(struct zkrpc_result *out, int16_t version, const struct LeaderAndIsrRequest *req,
                   const struct zr_part *parts, size_t n, const int16_t *errors, int16_t top)
{
    struct LeaderAndIsrResponse *r = zr_response(out, &proto_msg_LeaderAndIsrResponse);
    if (!r)
        return FERRY_ENOMEM;
    r->ErrorCode = top;
    if (version < 5) {
        r->PartitionErrors = zr_array(out, n, sizeof *r->PartitionErrors);
        if (!r->PartitionErrors)
            return FERRY_ENOMEM;
        r->PartitionErrors_n = (int32_t)n;
        for (size_t i = 0; i < n; i++)
            r->PartitionErrors[i] = (struct LeaderAndIsrResponse_LeaderAndIsrPartitionError){
                parts[i].topic, state(&parts[i])->PartitionIndex, errors[i]};
        return 0;
    }
    int32_t ntopics = req->TopicStates_n > 0 ? req->TopicStates_n : 0;
    r->Topics = zr_array(out, (size_t)ntopics, sizeof *r->Topics);
    if (!r->Topics)
        return FERRY_ENOMEM;
    r->Topics_n = ntopics;
    size_t k = 0;
    for (int32_t t = 0; t < ntopics; t++) {
        const struct LeaderAndIsrRequest_LeaderAndIsrTopicState *ts = &req->TopicStates[t];
        struct LeaderAndIsrResponse_LeaderAndIsrTopicError *te = &r->Topics[t];
        int32_t np = ts->PartitionStates_n > 0 ? ts->PartitionStates_n : 0;
        te->TopicId = ts->TopicId;
        te->PartitionErrors = zr_array(out, (size_t)np, sizeof *te->PartitionErrors);
        if (!te->PartitionErrors)
            return FERRY_ENOMEM;
        te->PartitionErrors_n = np;
        for (int32_t i = 0; i < np; i++, k++)
            te->PartitionErrors[i] = (struct LeaderAndIsrResponse_LeaderAndIsrPartitionError){
                {NULL, 0}, state(&parts[k])->PartitionIndex, errors[k]};
    }
    return 0;
}

/* Records for a partition this broker now hosts: the topic (if new) and the whole partition state. */
static int host_partition(struct zr_view *v, const struct zr_part *p, int16_t *err)
{
    struct zr_topic *t;
    int16_t kerr = KERR_NONE;
    if (zr_topic_resolve(v, p->topic, p->topic_id, &t, &kerr))
        return FERRY_ENOMEM;
    if (!t) {
        *err = kerr;
        return 0;
    }
    const lisr_state *ps = state(p);
    struct PartitionRecord *r = zr_partition_record(v, t, ps->PartitionIndex);
    if (!r)
        return FERRY_ENOMEM;
    r->Replicas = ps->Replicas;
    r->Replicas_n = ps->Replicas_n;
    r->Isr = ps->Isr;
    r->Isr_n = ps->Isr_n;
    r->AddingReplicas = ps->AddingReplicas;
    r->AddingReplicas_n = ps->AddingReplicas_n;
    r->RemovingReplicas = ps->RemovingReplicas;
    r->RemovingReplicas_n = ps->RemovingReplicas_n;
    r->Leader = ps->Leader;
    r->LeaderEpoch = ps->LeaderEpoch;
    r->PartitionEpoch = ps->PartitionEpoch;
    r->LeaderRecoveryState = ps->LeaderRecoveryState;
    *err = KERR_NONE;
    return 0;
}

/* One partition, as becomeLeaderOrFollower checks it against the hosted state. */
static int one_partition(struct zkrpc_broker *b, struct zr_view *v, struct zr_staged *staged,
                         const struct LeaderAndIsrRequest *req, const struct zr_part *p, int16_t *err,
                         size_t *same_epoch)
{
    const lisr_state *ps = state(p);
    if (ps->PartitionIndex < 0 || ps->PartitionIndex > ZR_MAX_PARTITION_ID || p->topic.len <= 0) {
        LOG_WARN("zkrpc", "LeaderAndIsr for %.*s-%d ignored: invalid topic or partition", ZR_STR(p->topic),
                 ps->PartitionIndex);
        *err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return 0;
    }
    long h = zr_hosted_find(b, p->topic, ps->PartitionIndex);
    int32_t current = h >= 0 ? b->hosted[h].leader_epoch : -1;
    proto_uuid log_id = h >= 0 ? b->hosted[h].topic_id : (proto_uuid){{0}};
    bool req_has_id = !proto_uuid_is_zero(p->topic_id), log_has_id = !proto_uuid_is_zero(log_id);
    struct zr_hosted_change hosted = {p->topic, ps->PartitionIndex, ps->LeaderEpoch,
                                      req_has_id ? p->topic_id : log_id, false};
    if (req_has_id && log_has_id && !proto_uuid_eq(p->topic_id, log_id)) {
        LOG_ERROR("zkrpc", "LeaderAndIsr for %.*s-%d: topic id does not match the hosted partition's",
                  ZR_STR(p->topic), ps->PartitionIndex);
        *err = KERR_INCONSISTENT_TOPIC_ID;
    } else if (ps->LeaderEpoch > current || (ps->LeaderEpoch == current && req->isKRaftController)) {
        if (!zr_ints_has(ps->Replicas, ps->Replicas_n, b->broker_id)) {
            LOG_WARN("zkrpc", "LeaderAndIsr for %.*s-%d ignored: broker %d is not in its replica list",
                     ZR_STR(p->topic), ps->PartitionIndex, b->broker_id);
            *err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            return 0;
        }
        if (host_partition(v, p, err))
            return FERRY_ENOMEM;
        if (*err == KERR_NONE && zr_stage(v->out, staged, hosted))
            return FERRY_ENOMEM;
        if (*err == KERR_NONE)
            v->out->starts[v->out->nstarts++] = (struct zkrpc_start){p->topic, ps->PartitionIndex};
    } else if (ps->LeaderEpoch < current) {
        LOG_WARN("zkrpc", "LeaderAndIsr for %.*s-%d ignored: leader epoch %d is older than %d", ZR_STR(p->topic),
                 ps->PartitionIndex, ps->LeaderEpoch, current);
        *err = KERR_STALE_CONTROLLER_EPOCH;
    } else if (req_has_id && !log_has_id) {
        /* Same epoch: the controller is assigning the topic id (upgrade to topic ids). */
        hosted.leader_epoch = current;
        if (zr_stage(v->out, staged, hosted))
            return FERRY_ENOMEM;
        *err = KERR_NONE;
    } else if (!req_has_id && log_has_id && ps->Leader != b->broker_id) {
        *err = KERR_NONE; /* a downgrade away from topic ids: nothing for the image */
    } else {
        /* a new controller resends every partition's state at its current epoch: one summary line */
        LOG_DEBUG("zkrpc", "LeaderAndIsr for %.*s-%d ignored: leader epoch %d is the current one", ZR_STR(p->topic),
                  ps->PartitionIndex, ps->LeaderEpoch);
        (*same_epoch)++;
        *err = KERR_STALE_CONTROLLER_EPOCH;
    }
    return 0;
}

int zkrpc_leader_and_isr(struct zkrpc_broker *b, const struct md_image *img, int16_t version,
                         const struct LeaderAndIsrRequest *req, struct zkrpc_result *out)
{
    size_t n = 0;
    struct zr_part *parts = version < 2
                                ? zr_flatten(out, &layout, false, req->UngroupedPartitionStates,
                                             req->UngroupedPartitionStates_n, &n)
                                : zr_flatten(out, &layout, true, req->TopicStates, req->TopicStates_n, &n);
    int16_t *errors = parts ? zr_array(out, n, sizeof *errors) : NULL;
    out->starts = errors ? zr_array(out, n, sizeof *out->starts) : NULL;
    if (!out->starts)
        goto nomem;
    int16_t top = KERR_NONE;
    if (req->BrokerEpoch != ZKRPC_UNKNOWN_BROKER_EPOCH && req->BrokerEpoch < b->broker_epoch) {
        LOG_INFO("zkrpc", "LeaderAndIsr from controller %d (epoch %d) ignored: broker epoch %lld is older than %lld",
                 req->ControllerId, req->ControllerEpoch, (long long)req->BrokerEpoch, (long long)b->broker_epoch);
        top = KERR_STALE_BROKER_EPOCH;
    } else if (req->ControllerEpoch < b->controller_epoch) {
        LOG_WARN("zkrpc", "LeaderAndIsr from controller %d ignored: controller epoch %d is older than %d",
                 req->ControllerId, req->ControllerEpoch, b->controller_epoch);
        top = KERR_STALE_CONTROLLER_EPOCH;
    }
    if (top != KERR_NONE) {
        for (size_t i = 0; i < n; i++)
            errors[i] = top;
        if (respond(out, version, req, parts, n, errors, top))
            goto nomem;
        return 0;
    }
    struct zr_view v;
    zr_view_init(&v, img, out);
    struct zr_staged staged = {NULL, 0, 0};
    size_t same_epoch = 0;
    for (size_t i = 0; i < n; i++)
        if (one_partition(b, &v, &staged, req, &parts[i], &errors[i], &same_epoch))
            goto nomem;
    if (respond(out, version, req, parts, n, errors, KERR_NONE) || zr_commit(b, &staged))
        goto nomem;
    b->controller_epoch = req->ControllerEpoch;
    LOG_INFO("zkrpc", "LeaderAndIsr from controller %d (epoch %d) for %zu partition(s): %zu hosted change(s), "
             "%zu record(s), %zu ignored at their current leader epoch",
             req->ControllerId, req->ControllerEpoch, n, staged.n, out->nrecords, same_epoch);
    return 0;
nomem:
    zkrpc_result_free(out);
    return FERRY_ENOMEM;
}
