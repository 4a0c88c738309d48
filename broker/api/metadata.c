/* metadata: Metadata v0-v5 from the metadata image. Brokers are the unfenced ones with an endpoint on
 * the request's listener; the controller id is this node's (in KRaft, Kafka names a live broker there,
 * since clients cannot reach controllers). Unknown topics are created when auto-creation is allowed
 * (v4+: the request's flag and auto.create.topics.enable; below v4: the broker setting alone) and
 * answered LEADER_NOT_AVAILABLE meanwhile, as Kafka does; otherwise UNKNOWN_TOPIC_OR_PARTITION.
 * In v0 an empty topic list means all topics; from v1 null means all and empty means none. A partition this
 * broker leads whose new log is still being created (rp_partition_opening) has no leader yet in the answer
 * (LEADER_NOT_AVAILABLE): a produce would get NOT_LEADER_OR_FOLLOWER until the log exists. */
#include <string.h>

#include "broker.h"
#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "cluster.h"
#include "kraftmode/ctrl.h"

static bool fill_partitions(struct broker *b, struct net_request *req, const struct md_topic *t,
                            struct MetadataResponse_MetadataResponseTopic *tr)
{
    tr->Partitions = proto_array_new(&req->arena, &desc_MetadataResponse_MetadataResponsePartition, t->nparts);
    if (!tr->Partitions)
        return false;
    int32_t n = 0;
    for (int32_t i = 0; i < t->parts_len; i++) {
        const struct md_partition *mp = &t->parts[i];
        if (!mp->present)
            continue;
        struct MetadataResponse_MetadataResponsePartition *pr = &tr->Partitions[n++];
        pr->PartitionIndex = mp->id;
        /* led here but its new log still being created off the loop: no leader yet, as for a new topic */
        bool opening = mp->leader == b->node_id && rp_partition_opening(b->partitions, t->name, mp->id);
        pr->LeaderId = opening ? -1 : mp->leader;
        pr->LeaderEpoch = mp->leader_epoch;
        pr->ErrorCode = pr->LeaderId < 0 ? KERR_LEADER_NOT_AVAILABLE : KERR_NONE;
        pr->ReplicaNodes = mp->replicas.v;
        pr->ReplicaNodes_n = mp->replicas.n;
        pr->IsrNodes = mp->isr.v;
        pr->IsrNodes_n = mp->isr.n;
        pr->OfflineReplicas_n = 0;
    }
    tr->Partitions_n = n;
    return true;
}

static bool fill_topic(struct broker *b, struct net_request *req, const struct md_topic *t,
                       struct MetadataResponse_MetadataResponseTopic *tr)
{
    tr->Name = proto_str_from(t->name);
    tr->TopicId = t->id;
    tr->IsInternal = strcmp(t->name, "__consumer_offsets") == 0 || strcmp(t->name, "__transaction_state") == 0;
    return fill_partitions(b, req, t, tr);
}

static void auto_create_done(void *arg) { (void)arg; }

void api_handle_metadata(struct broker *b, struct net_request *req)
{
    struct MetadataRequest body;
    if (!api_decode(req, &proto_msg_MetadataRequest, &body))
        return;
    int16_t version = req->hdr.api_version;
    const struct md_image *img = broker_image(b);
    struct MetadataResponse *resp = api_new_response(req, &proto_msg_MetadataResponse);
    const struct md_broker **live = proto_arena_alloc(&req->arena, sizeof *live * (size_t)(img->nbrokers + 1));
    if (!resp || !live)
        goto oom;
    const char *listener = net_request_listener(req);
    int32_t nb = cluster_live_brokers(b, listener, live, img->nbrokers);
    resp->Brokers = proto_array_new(&req->arena, &desc_MetadataResponse_MetadataResponseBroker, nb);
    if (!resp->Brokers)
        goto oom;
    resp->Brokers_n = nb;
    for (int32_t i = 0; i < nb; i++) {
        const struct md_endpoint *ep = cluster_endpoint(live[i], listener);
        resp->Brokers[i] = (struct MetadataResponse_MetadataResponseBroker){
            live[i]->id, proto_str_from(ep->host), ep->port, proto_str_from(live[i]->rack)};
    }
    resp->ClusterId = proto_str_from(img->cluster_id);
    resp->ControllerId = nb > 0 ? broker_controller_id(b) : -1;

    bool all = body.Topics_n < 0 || (version == 0 && body.Topics_n == 0);
    if (all) {
        size_t n;
        struct md_topic *const *sorted = md_image_topics_sorted(img, &n);
        resp->Topics = proto_array_new(&req->arena, &desc_MetadataResponse_MetadataResponseTopic, (int32_t)n);
        if (!resp->Topics)
            goto oom;
        resp->Topics_n = (int32_t)n;
        for (size_t i = 0; i < n; i++)
            if (!fill_topic(b, req, sorted[i], &resp->Topics[i]))
                goto oom;
        net_respond(req, &proto_msg_MetadataResponse, resp);
        return;
    }
    bool may_create = b->cfg->auto_create_topics_enable && (version < 4 || body.AllowAutoTopicCreation);
    resp->Topics = proto_array_new(&req->arena, &desc_MetadataResponse_MetadataResponseTopic, body.Topics_n);
    const char **create = proto_arena_alloc(&req->arena, sizeof *create * (size_t)(body.Topics_n + 1));
    if (!resp->Topics || !create)
        goto oom;
    resp->Topics_n = body.Topics_n;
    size_t ncreate = 0;
    for (int32_t i = 0; i < body.Topics_n; i++) {
        proto_str name = body.Topics[i].Name;
        struct MetadataResponse_MetadataResponseTopic *tr = &resp->Topics[i];
        tr->Name = name;
        tr->Partitions_n = 0;
        const struct md_topic *t = name.len >= 0 ? md_image_topic_n(img, name.p, (size_t)name.len) : NULL;
        if (t) {
            if (!fill_topic(b, req, t, tr))
                goto oom;
            continue;
        }
        char *cname = proto_arena_strdup(&req->arena, name);
        if (!cname)
            goto oom;
        char why[256];
        if (name.len < 0 || ctrl_validate_topic_name(cname, (size_t)name.len, why, sizeof why) != 0) {
            tr->ErrorCode = KERR_INVALID_TOPIC_EXCEPTION;
        } else if (may_create) {
            tr->ErrorCode = KERR_LEADER_NOT_AVAILABLE;
            create[ncreate++] = cname;
        } else {
            tr->ErrorCode = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    if (ncreate > 0)
        b->meta.ops->auto_create_topics(b->meta.impl, create, ncreate, auto_create_done, NULL);
    net_respond(req, &proto_msg_MetadataResponse, resp);
    return;
oom:
    net_close_for(req, "out of memory");
}
