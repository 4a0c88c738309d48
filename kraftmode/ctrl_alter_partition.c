/* ctrl_alter_partition: AlterPartition v0-3, the partition leader's ISR changes (Kafka 3.7's
 * ReplicationControlManager.alterPartition and validateAlterPartitionData). */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/ctrl_internal.h"

#define LRS_RECOVERED 0
#define LRS_RECOVERING 1

typedef struct AlterPartitionRequest_PartitionData part_req;
typedef struct AlterPartitionResponse_PartitionData part_resp;

/* The new ISR with broker epochs (v0-2 carry no epochs: -1 skips the check). */
struct isr_entry {
    int32_t id;
    int64_t epoch;
};

/* Replicas.validateIsr: no negative or repeated id, every id a replica. */
static bool isr_valid(const struct md_partition *p, const struct isr_entry *isr, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        if (isr[i].id < 0 || !md_ints_contains(&p->replicas, isr[i].id))
            return false;
        for (int32_t j = 0; j < i; j++)
            if (isr[j].id == isr[i].id)
                return false;
    }
    return true;
}

static bool isr_has(const struct isr_entry *isr, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (isr[i].id == id)
            return true;
    return false;
}

/* validateAlterPartitionData: KERR_NONE or the partition's error. */
static int16_t validate(const struct md_image *img, int32_t broker, const struct md_topic *t,
                        const struct md_partition *p, int16_t version, const part_req *pd,
                        const struct isr_entry *isr, int32_t nisr)
{
    if (!p) {
        LOG_INFO("ctrl", "AlterPartition from %d for unknown partition %s-%d", broker, t->name, pd->PartitionIndex);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (pd->LeaderEpoch > p->leader_epoch || pd->PartitionEpoch > p->partition_epoch)
        return KERR_NOT_CONTROLLER;
    if (pd->LeaderEpoch < p->leader_epoch)
        return KERR_FENCED_LEADER_EPOCH;
    if (broker != p->leader) {
        LOG_INFO("ctrl", "AlterPartition from %d for %s-%d refused: the leader is %d", broker, t->name, p->id,
                 p->leader);
        return KERR_INVALID_REQUEST;
    }
    if (pd->PartitionEpoch < p->partition_epoch)
        return KERR_INVALID_UPDATE_VERSION;
    if (!isr_valid(p, isr, nisr) || !isr_has(isr, nisr, p->leader))
        return KERR_INVALID_REQUEST;
    int8_t lrs = version >= 1 ? pd->LeaderRecoveryState : LRS_RECOVERED;
    if (lrs != LRS_RECOVERED && lrs != LRS_RECOVERING)
        return KERR_INVALID_REQUEST;
    if (lrs == LRS_RECOVERING && nisr > 1)
        return KERR_INVALID_REQUEST;
    if (p->leader_recovery_state == LRS_RECOVERED && lrs == LRS_RECOVERING)
        return KERR_INVALID_REQUEST;
    for (int32_t i = 0; i < nisr; i++) {
        const struct md_broker *b = md_image_broker(img, isr[i].id);
        const char *why = !b ? "not registered"
                          : b->in_controlled_shutdown ? "shutting down"
                          : b->fenced ? "fenced"
                          : isr[i].epoch != -1 && isr[i].epoch != b->epoch ? "broker epoch mismatch"
                          : NULL;
        if (why) {
            LOG_INFO("ctrl", "AlterPartition from %d for %s-%d refused: replica %d is %s", broker, t->name, p->id,
                     isr[i].id, why);
            return version > 1 ? KERR_INELIGIBLE_REPLICA : KERR_OPERATION_NOT_ATTEMPTED;
        }
    }
    return KERR_NONE;
}

/* The partition after rec (PartitionRegistration.merge) into the response. */
static int fill_state(struct proto_arena *a, const struct md_partition *p, const struct PartitionChangeRecord *rec,
                      part_resp *r)
{
    const int32_t *isr = p->isr.v;
    int32_t nisr = p->isr.n;
    r->LeaderId = p->leader;
    r->LeaderEpoch = p->leader_epoch;
    r->PartitionEpoch = p->partition_epoch;
    r->LeaderRecoveryState = p->leader_recovery_state;
    if (rec) {
        if (rec->Isr_n >= 0) {
            isr = rec->Isr;
            nisr = rec->Isr_n;
        }
        if (rec->Leader != MD_LEADER_UNCHANGED) {
            r->LeaderId = rec->Leader;
            r->LeaderEpoch++;
        }
        if (rec->LeaderRecoveryState != -1)
            r->LeaderRecoveryState = rec->LeaderRecoveryState;
        r->PartitionEpoch++;
    }
    r->Isr = proto_arena_alloc(a, (size_t)(nisr > 0 ? nisr : 1) * sizeof *r->Isr);
    if (!r->Isr)
        return FERRY_ENOMEM;
    if (nisr > 0)
        memcpy(r->Isr, isr, (size_t)nisr * sizeof *isr);
    r->Isr_n = nisr;
    return 0;
}

static int alter_one(const struct md_image *img, const struct ctrl_env *env, const struct AlterPartitionRequest *req,
                     int16_t version, const struct md_topic *t, const part_req *pd, struct proto_arena *a,
                     part_resp *r, struct ctrl_records *out)
{
    r->PartitionIndex = pd->PartitionIndex;
    r->Isr_n = 0;
    int32_t nisr = version >= 3 ? pd->NewIsrWithEpochs_n : pd->NewIsr_n;
    nisr = nisr > 0 ? nisr : 0;
    struct isr_entry *isr = ferry_malloc((size_t)(nisr ? nisr : 1) * sizeof *isr);
    int32_t *ids = ferry_malloc((size_t)(nisr ? nisr : 1) * sizeof *ids);
    int rc = isr && ids ? 0 : FERRY_ENOMEM;
    for (int32_t i = 0; !rc && i < nisr; i++) {
        const struct AlterPartitionRequest_BrokerState *bs = version >= 3 ? &pd->NewIsrWithEpochs[i] : NULL;
        isr[i] = bs ? (struct isr_entry){bs->BrokerId, bs->BrokerEpoch} : (struct isr_entry){pd->NewIsr[i], -1};
        ids[i] = isr[i].id;
    }
    const struct md_partition *p = md_topic_partition(t, pd->PartitionIndex);
    if (!rc)
        r->ErrorCode = validate(img, req->BrokerId, t, p, version, pd, isr, nisr);
    if (!rc && r->ErrorCode == KERR_NONE) {
        struct ctrl_pcb b;
        ctrl_pcb_init(&b, img, env, t, p);
        if (ctrl_unclean_enabled(img, env, t))
            b.election = CTRL_ELECT_UNCLEAN;
        b.target_isr = ids;
        b.ntarget_isr = nisr;
        b.target_lrs = version >= 1 ? pd->LeaderRecoveryState : LRS_RECOVERED;
        struct PartitionChangeRecord *rec;
        rc = ctrl_pcb_build(&b, out, &rec);
        if (!rc && rec && rec->Leader != MD_LEADER_UNCHANGED && rec->Leader != req->BrokerId) {
            /* The ISR completed a reassignment that moved leadership: the record stands, the leader must
             * refetch metadata. */
            LOG_INFO("ctrl", "AlterPartition from %d for %s-%d completed a reassignment; new leader %d",
                     req->BrokerId, t->name, p->id, rec->Leader);
            r->ErrorCode = version > 1 ? KERR_NEW_LEADER_ELECTED : KERR_FENCED_LEADER_EPOCH;
        } else if (!rc) {
            rc = fill_state(a, p, rec, r);
        }
    }
    ferry_free(isr);
    ferry_free(ids);
    return rc;
}

int ctrl_alter_partition(const struct md_image *img, const struct ctrl_env *env,
                         const struct AlterPartitionRequest *req, int16_t version, struct proto_arena *a,
                         struct AlterPartitionResponse *resp, struct ctrl_records *out)
{
    struct ctrl_ctx c = {a, false};
    resp->ErrorCode = KERR_NONE;
    resp->Topics_n = 0;
    const struct md_broker *sender = md_image_broker(img, req->BrokerId);
    if (!sender || sender->epoch != req->BrokerEpoch) {
        LOG_INFO("ctrl", "AlterPartition from broker %d with epoch %lld refused: stale broker epoch", req->BrokerId,
                 (long long)req->BrokerEpoch);
        resp->ErrorCode = KERR_STALE_BROKER_EPOCH;
        return 0;
    }
    int32_t nt = req->Topics_n > 0 ? req->Topics_n : 0;
    resp->Topics = proto_array_new(a, &desc_AlterPartitionResponse_TopicData, nt);
    if (!resp->Topics)
        return FERRY_ENOMEM;
    resp->Topics_n = nt;
    size_t mark = out->n;
    int rc = 0;
    for (int32_t i = 0; i < nt && !rc; i++) {
        const struct AlterPartitionRequest_TopicData *td = &req->Topics[i];
        struct AlterPartitionResponse_TopicData *tr = &resp->Topics[i];
        tr->TopicName = ctrl_copy(&c, td->TopicName);
        tr->TopicId = td->TopicId;
        const struct md_topic *t =
            version > 1 ? (proto_uuid_is_zero(td->TopicId) ? NULL : md_image_topic_by_id(img, td->TopicId))
                        : md_image_topic_n(img, td->TopicName.p ? td->TopicName.p : "",
                                           td->TopicName.len > 0 ? (size_t)td->TopicName.len : 0);
        int32_t np = td->Partitions_n > 0 ? td->Partitions_n : 0;
        tr->Partitions = proto_array_new(a, &desc_AlterPartitionResponse_PartitionData, np);
        if (!tr->Partitions) {
            rc = FERRY_ENOMEM;
            break;
        }
        tr->Partitions_n = np;
        for (int32_t k = 0; k < np && !rc; k++) {
            part_resp *pr = &tr->Partitions[k];
            if (!t) {
                pr->PartitionIndex = td->Partitions[k].PartitionIndex;
                pr->ErrorCode = version > 1 ? KERR_UNKNOWN_TOPIC_ID : KERR_UNKNOWN_TOPIC_OR_PARTITION;
                pr->Isr_n = 0;
                continue;
            }
            rc = alter_one(img, env, req, version, t, &td->Partitions[k], a, pr, out);
        }
    }
    if (!rc && c.oom)
        rc = FERRY_ENOMEM;
    if (rc)
        ctrl_records_truncate(out, mark);
    return rc;
}
