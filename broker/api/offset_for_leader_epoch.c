/* offset_for_leader_epoch: OffsetForLeaderEpoch v0-v4 (API 23), answered by the partition's leader from its
 * leader-epoch cache (Kafka's endOffsetFor): for the leader's latest epoch its log end offset; for an older
 * epoch the start offset of the next epoch above it, paired with the largest epoch at or below the one
 * asked; -1/-1 when the epoch is unknown or above every epoch. Followers use it to find where their log
 * diverged after a leader change (repl_fetcher.c). Checks, in Kafka's order: a partition not hosted
 * (UNKNOWN_TOPIC_OR_PARTITION, or NOT_LEADER_OR_FOLLOWER when the image knows it), CurrentLeaderEpoch
 * (v2+: FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), not the leader (NOT_LEADER_OR_FOLLOWER: consumers and
 * replicas alike, as Kafka). */
#include "broker.h"
#include "broker/common/ferry_err.h"

static void answer(struct broker *b, proto_str topic, const struct OffsetForLeaderEpochRequest_OffsetForLeaderPartition *rq,
                   struct OffsetForLeaderEpochResponse_EpochEndOffset *out)
{
    out->Partition = rq->Partition;
    out->LeaderEpoch = -1;
    out->EndOffset = -1;
    struct rp_partition *p = rp_partition_get(b->partitions, topic, rq->Partition);
    if (!p) {
        out->ErrorCode = broker_not_hosted_error(b, topic, rq->Partition);
        return;
    }
    if (rq->CurrentLeaderEpoch >= 0 && rq->CurrentLeaderEpoch != p->leader_epoch) {
        out->ErrorCode = rq->CurrentLeaderEpoch < p->leader_epoch ? KERR_FENCED_LEADER_EPOCH : KERR_UNKNOWN_LEADER_EPOCH;
        return;
    }
    if (!p->is_leader) {
        out->ErrorCode = KERR_NOT_LEADER_OR_FOLLOWER;
        return;
    }
    plog_end_offset_for_epoch(p->log, rq->LeaderEpoch, &out->LeaderEpoch, &out->EndOffset);
}

void api_handle_offset_for_leader_epoch(struct broker *b, struct net_request *req)
{
    struct OffsetForLeaderEpochRequest body;
    if (!api_decode(req, &proto_msg_OffsetForLeaderEpochRequest, &body))
        return;
    struct OffsetForLeaderEpochResponse *resp = api_new_response(req, &proto_msg_OffsetForLeaderEpochResponse);
    int32_t nt = body.Topics_n > 0 ? body.Topics_n : 0;
    if (!resp ||
        !(resp->Topics = proto_array_new(&req->arena, &desc_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult, nt)))
        goto oom;
    resp->Topics_n = nt;
    for (int32_t t = 0; t < nt; t++) {
        const struct OffsetForLeaderEpochRequest_OffsetForLeaderTopic *rt = &body.Topics[t];
        struct OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult *tr = &resp->Topics[t];
        int32_t np = rt->Partitions_n > 0 ? rt->Partitions_n : 0;
        tr->Topic = rt->Topic;
        tr->Partitions = proto_array_new(&req->arena, &desc_OffsetForLeaderEpochResponse_EpochEndOffset, np);
        if (!tr->Partitions)
            goto oom;
        tr->Partitions_n = np;
        for (int32_t i = 0; i < np; i++)
            answer(b, rt->Topic, &rt->Partitions[i], &tr->Partitions[i]);
    }
    net_respond(req, &proto_msg_OffsetForLeaderEpochResponse, resp);
    return;
oom:
    net_close_for(req, "out of memory");
}
