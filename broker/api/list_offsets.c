/* list_offsets: ListOffsets v0-v2, answered by the partition's leader only (else NOT_LEADER_OR_FOLLOWER):
 * earliest (-2), latest (-1, the high watermark) and by timestamp
 * (the first offset whose timestamp is at or after it; -1/-1 when there is none, as Kafka). v0 answers
 * with the old-style offsets array holding that one offset. */
#include "broker.h"
#include "broker/common/ferry_err.h"

static void lookup(struct broker *b, proto_str topic, const struct ListOffsetsRequest_ListOffsetsPartition *rq,
                   struct ListOffsetsResponse_ListOffsetsPartitionResponse *pr)
{
    pr->PartitionIndex = rq->PartitionIndex;
    pr->Timestamp = -1;
    pr->Offset = -1;
    struct rp_partition *p = rp_partition_get(b->partitions, topic, rq->PartitionIndex);
    if (!p) {
        pr->ErrorCode = broker_not_hosted_error(b, topic, rq->PartitionIndex);
        return;
    }
    if (!p->is_leader) {
        pr->ErrorCode = KERR_NOT_LEADER_OR_FOLLOWER;
        return;
    }
    pr->LeaderEpoch = p->leader_epoch;
    if (rq->Timestamp == PLOG_TS_LATEST) {
        pr->Offset = p->high_watermark;
    } else if (rq->Timestamp == PLOG_TS_EARLIEST) {
        pr->Offset = plog_log_start_offset(p->log);
    } else {
        int64_t off, ts;
        int rc = plog_offset_for_timestamp(p->log, rq->Timestamp, &off, &ts);
        if (rc == 0 && off < p->high_watermark) {
            pr->Offset = off;
            pr->Timestamp = ts;
        } else if (rc != 0 && rc != FERRY_ENOTFOUND) {
            pr->ErrorCode = KERR_KAFKA_STORAGE_ERROR;
        }
    }
}

void api_handle_list_offsets(struct broker *b, struct net_request *req)
{
    struct ListOffsetsRequest body;
    if (!api_decode(req, &proto_msg_ListOffsetsRequest, &body))
        return;
    struct ListOffsetsResponse *resp = api_new_response(req, &proto_msg_ListOffsetsResponse);
    int32_t nt = body.Topics_n > 0 ? body.Topics_n : 0;
    if (!resp || !(resp->Topics = proto_array_new(&req->arena, &desc_ListOffsetsResponse_ListOffsetsTopicResponse, nt)))
        goto oom;
    resp->Topics_n = nt;
    for (int32_t t = 0; t < nt; t++) {
        const struct ListOffsetsRequest_ListOffsetsTopic *rt = &body.Topics[t];
        struct ListOffsetsResponse_ListOffsetsTopicResponse *tr = &resp->Topics[t];
        int32_t np = rt->Partitions_n > 0 ? rt->Partitions_n : 0;
        tr->Name = rt->Name;
        tr->Partitions = proto_array_new(&req->arena, &desc_ListOffsetsResponse_ListOffsetsPartitionResponse, np);
        if (!tr->Partitions)
            goto oom;
        tr->Partitions_n = np;
        for (int32_t i = 0; i < np; i++) {
            struct ListOffsetsResponse_ListOffsetsPartitionResponse *pr = &tr->Partitions[i];
            lookup(b, rt->Name, &rt->Partitions[i], pr);
            if (req->hdr.api_version == 0) {
                pr->OldStyleOffsets = proto_arena_alloc(&req->arena, sizeof(int64_t));
                if (!pr->OldStyleOffsets)
                    goto oom;
                pr->OldStyleOffsets_n = pr->Offset >= 0 && rt->Partitions[i].MaxNumOffsets > 0 ? 1 : 0;
                pr->OldStyleOffsets[0] = pr->Offset;
            }
        }
    }
    net_respond(req, &proto_msg_ListOffsetsResponse, resp);
    return;
oom:
    net_close_for(req, "out of memory");
}
