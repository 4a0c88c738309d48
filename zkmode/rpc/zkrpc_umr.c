/* zkrpc_umr: UpdateMetadata → records and response, as Kafka 3.7's KafkaApis.handleUpdateMetadataRequest,
 * ReplicaManager.maybeUpdateMetadataCache and ZkMetadataCache.updateMetadata:
 *  - the live brokers replace the broker list: a broker new to the image, or whose endpoints, rack or
 *    epoch changed, gets a RegisterBrokerRecord (unfenced); a fenced one that is live again an unfencing
 *    BrokerRegistrationChangeRecord; a registered broker missing from the list a fencing one;
 *  - a partition state that differs from the image (leader, leader epoch, ISR, replicas, partition epoch
 *    = ZkVersion) gets a PartitionRecord (and its topic a TopicRecord when new to the image);
 *  - leader -2 marks a partition deleted: when every partition of a topic is, a RemoveTopicRecord. The
 *    image cannot drop single partitions, so a deletion of only some is logged and left out. Deletions
 *    are applied before the other states, so that a topic deleted and re-created in one request ends as
 *    the new one;
 *  - a FULL request (v8+, Type 2) from a KRaft controller to a broker with migration enabled first removes
 *    the topics whose id it does not list (ZkMetadataCache.transformKRaftControllerFullMetadataRequest). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkrpc_internal.h"

typedef struct UpdateMetadataRequest_UpdateMetadataPartitionState umr_state;
typedef struct UpdateMetadataRequest_UpdateMetadataTopicState umr_topic;

static const struct zr_layout layout = {
    sizeof(umr_state), offsetof(umr_state, TopicName), sizeof(umr_topic), offsetof(umr_topic, TopicName),
    offsetof(umr_topic, TopicId), offsetof(umr_topic, PartitionStates), offsetof(umr_topic, PartitionStates_n)};

static const umr_state *state(const struct zr_part *p) { return p->ps; }

/* ---- brokers ---- */

static const char *const protocol_names[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};

/* A live broker's endpoints as the image keeps them (v0: one PLAINTEXT endpoint; v1-2: the listener is
 * named after its security protocol). NULL with *n = -1 when one is invalid. */
typedef struct UpdateMetadataRequest_UpdateMetadataBroker umr_broker;

static struct RegisterBrokerRecord_BrokerEndpoint *endpoints(struct zkrpc_result *out, int16_t version,
                                                             const umr_broker *lb, int32_t *n, bool *oom)
{
    int32_t cnt = version == 0 ? 1 : (lb->Endpoints_n > 0 ? lb->Endpoints_n : 0);
    struct RegisterBrokerRecord_BrokerEndpoint *eps = zr_array(out, (size_t)cnt, sizeof *eps);
    if (!eps) {
        *oom = true;
        return NULL;
    }
    *n = cnt;
    for (int32_t i = 0; i < cnt; i++) {
        int32_t port = version == 0 ? lb->V0Port : lb->Endpoints[i].Port;
        int16_t protocol = version == 0 ? 0 : lb->Endpoints[i].SecurityProtocol;
        if (port < 0 || port > 65535 || protocol < 0 || protocol > 3) {
            LOG_ERROR("zkrpc", "UpdateMetadata: broker %d has an endpoint with port %d, security protocol %d",
                      lb->Id, port, protocol);
            *n = -1;
            return NULL;
        }
        eps[i].Port = (uint16_t)port;
        eps[i].SecurityProtocol = protocol;
        eps[i].Host = version == 0 ? lb->V0Host : lb->Endpoints[i].Host;
        eps[i].Name = version >= 3 ? lb->Endpoints[i].Listener : proto_str_from(protocol_names[protocol]);
    }
    return eps;
}

static bool same_registration(const struct md_broker *ib, int64_t epoch, const struct RegisterBrokerRecord *r)
{
    if (ib->epoch != epoch || ib->in_controlled_shutdown || ib->nendpoints != r->EndPoints_n)
        return false;
    if ((ib->rack == NULL) != (r->Rack.len < 0) || (ib->rack && !proto_str_eq(r->Rack, ib->rack)))
        return false;
    for (int32_t i = 0; i < ib->nendpoints; i++) {
        const struct md_endpoint *e = &ib->endpoints[i];
        const struct RegisterBrokerRecord_BrokerEndpoint *x = &r->EndPoints[i];
        if (!proto_str_eq(x->Name, e->name) || !proto_str_eq(x->Host, e->host) || x->Port != e->port ||
            x->SecurityProtocol != e->security_protocol)
            return false;
    }
    return true;
}

static int fencing(struct zkrpc_result *out, const struct md_broker *ib, int8_t fenced)
{
    struct BrokerRegistrationChangeRecord *c = zr_emit(out, &proto_msg_BrokerRegistrationChangeRecord, 0);
    if (!c)
        return FERRY_ENOMEM;
    c->BrokerId = ib->id;
    c->BrokerEpoch = ib->epoch;
    c->Fenced = fenced;
    return 0;
}

static bool later_duplicate(const struct UpdateMetadataRequest *req, int32_t i)
{
    for (int32_t j = i + 1; j < req->LiveBrokers_n; j++)
        if (req->LiveBrokers[j].Id == req->LiveBrokers[i].Id)
            return true;
    return false;
}

/* Returns 0, FERRY_ENOMEM or FERRY_EPARSE (an invalid endpoint: nothing emitted that matters, the caller
 * drops the result). */
static int brokers(const struct zkrpc_broker *b, const struct md_image *img, int16_t version,
                   const struct UpdateMetadataRequest *req, struct zkrpc_result *out)
{
    bool oom = false;
    for (int32_t i = 0; i < req->LiveBrokers_n; i++) {
        const umr_broker *lb = &req->LiveBrokers[i];
        int32_t n = 0;
        struct RegisterBrokerRecord_BrokerEndpoint *eps = endpoints(out, version, lb, &n, &oom);
        if (oom)
            return FERRY_ENOMEM;
        if (n < 0)
            return FERRY_EPARSE; /* logged by endpoints() */
        if (lb->Id < 0) {
            LOG_ERROR("zkrpc", "UpdateMetadata: live broker with id %d", lb->Id);
            return FERRY_EPARSE;
        }
        if (later_duplicate(req, i))
            continue; /* the last entry for an id wins, as in ZkMetadataCache */
        const struct md_broker *ib = md_image_broker(img, lb->Id);
        int64_t epoch = lb->Id == b->broker_id ? b->broker_epoch : (ib ? ib->epoch : -1);
        struct RegisterBrokerRecord probe = {.EndPoints = eps, .EndPoints_n = n, .Rack = lb->Rack};
        if (ib && same_registration(ib, epoch, &probe)) {
            if (ib->fenced && fencing(out, ib, -1))
                return FERRY_ENOMEM;
            continue;
        }
        struct RegisterBrokerRecord *r = zr_emit(out, &proto_msg_RegisterBrokerRecord, 0);
        if (!r)
            return FERRY_ENOMEM;
        r->BrokerId = lb->Id;
        r->BrokerEpoch = epoch;
        r->EndPoints = eps;
        r->EndPoints_n = n;
        r->Rack = lb->Rack;
        r->Fenced = false;
    }
    for (int32_t i = 0; i < img->nbrokers; i++) {
        const struct md_broker *ib = img->brokers[i];
        bool live = false;
        for (int32_t j = 0; j < req->LiveBrokers_n && !live; j++)
            live = req->LiveBrokers[j].Id == ib->id;
        if (!live && !ib->fenced && fencing(out, ib, 1))
            return FERRY_ENOMEM;
    }
    return 0;
}

/* ---- partitions ---- */

static int partition_state(struct zr_view *v, const struct zr_part *p)
{
    const umr_state *ps = state(p);
    struct zr_topic *t;
    int16_t kerr = KERR_NONE;
    if (zr_topic_resolve(v, p->topic, p->topic_id, &t, &kerr))
        return FERRY_ENOMEM;
    if (!t)
        return 0; /* logged by zr_topic_resolve */
    const struct md_partition *ip = t->img ? md_topic_partition(t->img, ps->PartitionIndex) : NULL;
    if (ip && ip->leader == ps->Leader && ip->leader_epoch == ps->LeaderEpoch &&
        ip->partition_epoch == ps->ZkVersion && zr_ints_eq(ip->isr.v, ip->isr.n, ps->Isr, ps->Isr_n) &&
        zr_ints_eq(ip->replicas.v, ip->replicas.n, ps->Replicas, ps->Replicas_n))
        return 0;
    struct PartitionRecord *r = zr_partition_record(v, t, ps->PartitionIndex);
    if (!r)
        return FERRY_ENOMEM;
    r->Replicas = ps->Replicas;
    r->Replicas_n = ps->Replicas_n;
    r->Isr = ps->Isr;
    r->Isr_n = ps->Isr_n;
    r->Leader = ps->Leader;
    r->LeaderEpoch = ps->LeaderEpoch;
    r->PartitionEpoch = ps->ZkVersion;
    if (ip) { /* what UpdateMetadata does not carry stays as it was */
        bool oom = false;
        r->AddingReplicas = zr_ints(v->out, ip->adding.v, ip->adding.n, &oom);
        r->AddingReplicas_n = ip->adding.n;
        r->RemovingReplicas = zr_ints(v->out, ip->removing.v, ip->removing.n, &oom);
        r->RemovingReplicas_n = ip->removing.n;
        r->LeaderRecoveryState = ip->leader_recovery_state;
        if (oom)
            return FERRY_ENOMEM;
    }
    return 0;
}

static int cmp_deletion(const void *a, const void *b)
{
    const struct zr_part *x = a, *y = b;
    int32_t n = x->topic.len < y->topic.len ? x->topic.len : y->topic.len;
    int c = memcmp(x->topic.p, y->topic.p, (size_t)n);
    if (c)
        return c;
    if (x->topic.len != y->topic.len)
        return x->topic.len < y->topic.len ? -1 : 1;
    int32_t px = state(x)->PartitionIndex, py = state(y)->PartitionIndex;
    return px < py ? -1 : px > py;
}

/* dels[0..n): partitions with leader -2, sorted by topic. */
static int deletions(struct zr_view *v, struct zr_part *dels, size_t n)
{
    qsort(dels, n, sizeof *dels, cmp_deletion);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && dels[j].topic.len == dels[i].topic.len &&
                        memcmp(dels[j].topic.p, dels[i].topic.p, (size_t)dels[i].topic.len) == 0;
             j++)
            ;
        bool oom = false;
        struct zr_topic *t = zr_topic_by_name(v, dels[i].topic, &oom);
        if (oom)
            return FERRY_ENOMEM;
        if (!t || !t->img)
            continue; /* already gone */
        if (!proto_uuid_is_zero(dels[i].topic_id) && !proto_uuid_eq(dels[i].topic_id, t->id)) {
            LOG_WARN("zkrpc", "UpdateMetadata deletes %.*s with another topic id than the image's: ignored",
                     ZR_STR(t->name));
            continue;
        }
        bool *gone = zr_array(v->out, (size_t)t->img->parts_len, sizeof *gone);
        if (!gone)
            return FERRY_ENOMEM;
        for (size_t k = i; k < j; k++)
            if (state(&dels[k])->PartitionIndex < t->img->parts_len)
                gone[state(&dels[k])->PartitionIndex] = true;
        int32_t covered = 0;
        for (int32_t p = 0; p < t->img->parts_len; p++)
            covered += t->img->parts[p].present && gone[p];
        if (covered == t->img->nparts) {
            if (zr_topic_remove(v, t))
                return FERRY_ENOMEM;
        } else {
            LOG_WARN("zkrpc", "UpdateMetadata deletes %d of the %d partitions of %.*s: the image keeps the topic",
                     covered, t->img->nparts, ZR_STR(t->name));
        }
    }
    return 0;
}

#define UMR_TYPE_FULL 2

static int cmp_uuid(const void *a, const void *b) { return memcmp(a, b, sizeof(proto_uuid)); }

/* A FULL request from a KRaft controller lists every topic: the others were deleted meanwhile. */
static int unlisted_topics(struct zr_view *v, const struct UpdateMetadataRequest *req)
{
    size_t n = req->TopicStates_n > 0 ? (size_t)req->TopicStates_n : 0;
    proto_uuid *listed = zr_array(v->out, n, sizeof *listed);
    if (!listed)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < n; i++)
        listed[i] = req->TopicStates[i].TopicId;
    qsort(listed, n, sizeof *listed, cmp_uuid);
    size_t pos = 0;
    const void *key;
    size_t klen;
    void *val;
    while (md_map_next(&v->img->topics_by_id, &pos, &key, &klen, &val)) {
        const struct md_topic *t = val;
        if (bsearch(&t->id, listed, n, sizeof *listed, cmp_uuid))
            continue;
        bool oom = false;
        struct zr_topic *zt = zr_topic_by_id(v, t->id, &oom);
        if (oom)
            return FERRY_ENOMEM;
        if (zt) {
            LOG_INFO("zkrpc", "topic %s is not in a full UpdateMetadata from the KRaft controller: removed", t->name);
            if (zr_topic_remove(v, zt))
                return FERRY_ENOMEM;
        }
    }
    return 0;
}

int zkrpc_update_metadata(struct zkrpc_broker *b, const struct md_image *img, int16_t version,
                          const struct UpdateMetadataRequest *req, struct zkrpc_result *out)
{
    struct UpdateMetadataResponse *resp = zr_response(out, &proto_msg_UpdateMetadataResponse);
    if (!resp)
        goto nomem;
    if (req->BrokerEpoch != ZKRPC_UNKNOWN_BROKER_EPOCH && req->BrokerEpoch < b->broker_epoch) {
        LOG_INFO("zkrpc", "UpdateMetadata from controller %d (epoch %d) ignored: broker epoch %lld is older than %lld",
                 req->ControllerId, req->ControllerEpoch, (long long)req->BrokerEpoch, (long long)b->broker_epoch);
        resp->ErrorCode = KERR_STALE_BROKER_EPOCH;
        return 0;
    }
    if (req->ControllerEpoch < b->controller_epoch) {
        LOG_WARN("zkrpc", "UpdateMetadata from controller %d ignored: controller epoch %d is older than %d",
                 req->ControllerId, req->ControllerEpoch, b->controller_epoch);
        resp->ErrorCode = KERR_STALE_CONTROLLER_EPOCH;
        return 0;
    }
    int rc = brokers(b, img, version, req, out);
    if (rc == FERRY_EPARSE) {
        /* Drop whatever was emitted: the request is refused as a whole. */
        out->nrecords = 0;
        resp->ErrorCode = KERR_INVALID_REQUEST;
        return 0;
    }
    if (rc)
        goto nomem;
    size_t n = 0, ndel = 0;
    struct zr_part *parts = version < 5 ? zr_flatten(out, &layout, false, req->UngroupedPartitionStates,
                                                     req->UngroupedPartitionStates_n, &n)
                                        : zr_flatten(out, &layout, true, req->TopicStates, req->TopicStates_n, &n);
    struct zr_part *dels = parts ? zr_array(out, n, sizeof *dels) : NULL;
    if (!dels)
        goto nomem;
    struct zr_view v;
    zr_view_init(&v, img, out);
    if (req->isKRaftController && req->Type == UMR_TYPE_FULL && version >= 8 && b->zk_migration_enabled &&
        unlisted_topics(&v, req))
        goto nomem;
    /* Deletions first (as the KRaft controller's full requests put them): a name deleted and re-created
     * in one request then ends as the new topic, and an id freed by a deletion can be reused. */
    for (size_t i = 0; i < n; i++) {
        const struct zr_part *p = &parts[i];
        bool valid = state(p)->PartitionIndex >= 0 && state(p)->PartitionIndex <= ZR_MAX_PARTITION_ID &&
                     p->topic.len > 0;
        if (!valid)
            LOG_WARN("zkrpc", "UpdateMetadata: state of %.*s-%d ignored: invalid topic or partition",
                     ZR_STR(p->topic), state(p)->PartitionIndex);
        if (valid && state(p)->Leader == ZKRPC_LEADER_DURING_DELETE)
            dels[ndel++] = *p;
    }
    if (deletions(&v, dels, ndel))
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        const struct zr_part *p = &parts[i];
        if (state(p)->PartitionIndex >= 0 && state(p)->PartitionIndex <= ZR_MAX_PARTITION_ID && p->topic.len > 0 &&
            state(p)->Leader != ZKRPC_LEADER_DURING_DELETE && partition_state(&v, p))
            goto nomem;
    }
    b->controller_epoch = req->ControllerEpoch;
    b->controller_id = req->ControllerId < 0 ? -1 : req->ControllerId;
    b->controller_is_kraft = req->isKRaftController;
    resp->ErrorCode = KERR_NONE;
    LOG_INFO("zkrpc", "UpdateMetadata from controller %d (epoch %d): %d live broker(s), %zu partition state(s), "
             "%zu record(s)", req->ControllerId, req->ControllerEpoch, req->LiveBrokers_n, n, out->nrecords);
    return 0;
nomem:
    zkrpc_result_free(out);
    return FERRY_ENOMEM;
}
