/* ctrl_elect: ElectLeaders (Kafka 3.7's ReplicationControlManager.electLeaders/electLeader, with
 * ControllerApis' and ElectLeadersRequest's error shapes) and the periodic preferred-leader rebalance
 * (maybeBalancePartitionLeaders). */
#include <string.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/ctrl_internal.h"

#define ELECTION_PREFERRED 0
#define ELECTION_UNCLEAN 1

typedef struct ElectLeadersResponse_ReplicaElectionResult topic_result;
typedef struct ElectLeadersResponse_PartitionResult part_result;

static const char *const MSG_NOT_NEEDED = "Leader election not needed for topic partition.";

/* electLeader for one partition: the Kafka error (NONE when a record was appended) and its message. */
static int16_t elect_one(const struct md_image *img, const struct ctrl_env *env, const struct md_topic *t,
                         proto_str topic, int32_t pid, int8_t type, struct ctrl_ctx *c, proto_str *msg,
                         struct ctrl_records *out, int *rc)
{
    *msg = (proto_str){NULL, -1};
    const struct md_partition *p = t ? md_topic_partition(t, pid) : NULL;
    if (!t || !p) {
        *msg = t ? ctrl_strf(c, "No such partition as %.*s-%d", (int)topic.len, topic.p, pid)
                 : ctrl_strf(c, "No such topic as %.*s", (int)topic.len, topic.p);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    bool has_preferred = p->replicas.n > 0 && p->leader == p->replicas.v[0];
    if ((type == ELECTION_PREFERRED && has_preferred) || (type == ELECTION_UNCLEAN && p->leader != MD_NO_LEADER)) {
        *msg = ctrl_strf(c, "%s", MSG_NOT_NEEDED);
        return KERR_ELECTION_NOT_NEEDED;
    }
    struct ctrl_pcb b;
    ctrl_pcb_init(&b, img, env, t, p);
    b.election = type == ELECTION_UNCLEAN ? CTRL_ELECT_UNCLEAN : CTRL_ELECT_PREFERRED;
    struct PartitionChangeRecord *rec;
    *rc = ctrl_pcb_build(&b, out, &rec);
    if (*rc || rec)
        return KERR_NONE;
    if (type == ELECTION_PREFERRED) {
        *msg = ctrl_strf(c, "The preferred leader was not available.");
        return KERR_PREFERRED_LEADER_NOT_AVAILABLE;
    }
    *msg = ctrl_strf(c, "Eligible topic partition leaders are not available.");
    return KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
}

/* A topic's result with room for n partition results (none filled). */
static int topic_result_init(struct ctrl_ctx *c, topic_result *tr, proto_str topic, int32_t n)
{
    tr->Topic = ctrl_copy(c, topic);
    tr->PartitionResult = proto_array_new(c->a, &desc_ElectLeadersResponse_PartitionResult, n);
    tr->PartitionResult_n = 0;
    return tr->PartitionResult && !c->oom ? 0 : FERRY_ENOMEM;
}

/* Every partition of every topic (null TopicPartitions), leaving out ELECTION_NOT_NEEDED. */
static int elect_all(const struct md_image *img, const struct ctrl_env *env, int8_t type, struct ctrl_ctx *c,
                     struct ElectLeadersResponse *resp, struct ctrl_records *out)
{
    size_t nt;
    struct md_topic *const *topics = md_image_topics_sorted(img, &nt);
    if (!topics && md_image_topic_count(img) > 0)
        return FERRY_ENOMEM;
    resp->ReplicaElectionResults = proto_array_new(c->a, &desc_ElectLeadersResponse_ReplicaElectionResult,
                                                   (int32_t)nt);
    if (!resp->ReplicaElectionResults)
        return FERRY_ENOMEM;
    resp->ReplicaElectionResults_n = (int32_t)nt;
    for (size_t i = 0; i < nt; i++) {
        const struct md_topic *t = topics[i];
        topic_result *tr = &resp->ReplicaElectionResults[i];
        if (topic_result_init(c, tr, proto_str_from(t->name), t->nparts))
            return FERRY_ENOMEM;
        for (int32_t pid = 0; pid < t->parts_len; pid++) {
            if (!md_topic_partition(t, pid))
                continue;
            proto_str msg;
            int rc = 0;
            int16_t code = elect_one(img, env, t, tr->Topic, pid, type, c, &msg, out, &rc);
            if (rc)
                return rc;
            if (code != KERR_ELECTION_NOT_NEEDED)
                tr->PartitionResult[tr->PartitionResult_n++] = (part_result){pid, code, msg};
        }
    }
    return c->oom ? FERRY_ENOMEM : 0;
}

/* The listed partitions, each elected; or, with fail_code set (ElectLeadersRequest.getErrorResponse),
 * each failed with fail_code and fail_msg. */
static int elect_listed(const struct md_image *img, const struct ctrl_env *env, const struct ElectLeadersRequest *req,
                        int8_t type, struct ctrl_ctx *c, int16_t fail_code, proto_str fail_msg,
                        struct ElectLeadersResponse *resp, struct ctrl_records *out)
{
    int32_t nt = req->TopicPartitions_n > 0 ? req->TopicPartitions_n : 0;
    resp->ReplicaElectionResults = proto_array_new(c->a, &desc_ElectLeadersResponse_ReplicaElectionResult, nt);
    if (!resp->ReplicaElectionResults)
        return FERRY_ENOMEM;
    resp->ReplicaElectionResults_n = nt;
    for (int32_t i = 0; i < nt; i++) {
        const struct ElectLeadersRequest_TopicPartitions *tp = &req->TopicPartitions[i];
        topic_result *tr = &resp->ReplicaElectionResults[i];
        int32_t np = tp->Partitions_n > 0 ? tp->Partitions_n : 0;
        if (topic_result_init(c, tr, tp->Topic, np))
            return FERRY_ENOMEM;
        const struct md_topic *t = !img ? NULL
                                   : md_image_topic_n(img, tp->Topic.p ? tp->Topic.p : "",
                                                      tp->Topic.len > 0 ? (size_t)tp->Topic.len : 0);
        for (int32_t k = 0; k < np; k++) {
            proto_str msg = fail_msg;
            int16_t code = fail_code;
            int rc = 0;
            if (code == KERR_NONE)
                code = elect_one(img, env, t, tp->Topic, tp->Partitions[k], type, c, &msg, out, &rc);
            if (rc)
                return rc;
            tr->PartitionResult[tr->PartitionResult_n++] = (part_result){tp->Partitions[k], code, msg};
        }
    }
    return c->oom ? FERRY_ENOMEM : 0;
}

/* Every listed partition and the top level fail with code. */
static int error_response(const struct ElectLeadersRequest *req, struct ctrl_ctx *c, int16_t code, proto_str msg,
                          struct ElectLeadersResponse *resp)
{
    resp->ErrorCode = code;
    return elect_listed(NULL, NULL, req, 0, c, code, msg, resp, NULL);
}

int ctrl_elect_leaders_error(const struct ElectLeadersRequest *req, struct proto_arena *a, int16_t code,
                             const char *msg, struct ElectLeadersResponse *resp)
{
    struct ctrl_ctx c = {a, false};
    proto_str m = msg ? ctrl_strf(&c, "%s", msg) : (proto_str){NULL, -1};
    resp->ReplicaElectionResults_n = 0;
    return c.oom ? FERRY_ENOMEM : error_response(req, &c, code, m, resp);
}

int ctrl_elect_leaders(const struct md_image *img, const struct ctrl_env *env, const struct ElectLeadersRequest *req,
                       int16_t version, struct proto_arena *a, struct ElectLeadersResponse *resp,
                       struct ctrl_records *out)
{
    struct ctrl_ctx c = {a, false};
    resp->ErrorCode = KERR_NONE;
    resp->ReplicaElectionResults_n = 0;
    int8_t type = version >= 1 ? req->ElectionType : ELECTION_PREFERRED;
    if (req->TopicPartitions_n == 0)
        return 0; /* nothing to do (QuorumController answers at once) */
    if (type != ELECTION_PREFERRED && type != ELECTION_UNCLEAN)
        return error_response(req, &c, KERR_INVALID_REQUEST, ctrl_strf(&c, "Unknown election type %d", type), resp);
    size_t mark = out->n;
    int rc = req->TopicPartitions_n < 0
                 ? elect_all(img, env, type, &c, resp, out)
                 : elect_listed(img, env, req, type, &c, KERR_NONE, (proto_str){NULL, -1}, resp, out);
    if (rc) {
        ctrl_records_truncate(out, mark);
        return rc;
    }
    if (out->n - mark > CTRL_MAX_RECORDS_PER_OP) {
        ctrl_records_truncate(out, mark);
        return error_response(req, &c, KERR_POLICY_VIOLATION, ctrl_strf(&c, CTRL_TOO_LARGE_MESSAGE), resp);
    }
    if (out->n > mark)
        LOG_INFO("ctrl", "ElectLeaders (%s): %zu partition(s) get a new leader",
                 type == ELECTION_UNCLEAN ? "unclean" : "preferred", out->n - mark);
    return 0;
}

static bool imbalanced(const struct md_partition *p, void *arg)
{
    (void)arg;
    return p->replicas.n > 0 && p->leader != p->replicas.v[0];
}

bool ctrl_leaders_imbalanced(const struct md_image *img) { return ctrl_any_partition(img, imbalanced, NULL); }

int64_t ctrl_rebalance_next_ms(const struct md_image *img, const struct ctrl_env *env, bool more, int64_t now_ms)
{
    if (!env->auto_leader_rebalance_enable || !ctrl_leaders_imbalanced(img))
        return -1;
    return now_ms + (more ? 10 : env->leader_imbalance_check_interval_ms);
}

int ctrl_balance_partition_leaders(const struct md_image *img, const struct ctrl_env *env, bool *more,
                                   struct ctrl_records *out)
{
    *more = false;
    size_t mark = out->n, nt;
    struct md_topic *const *topics = md_image_topics_sorted(img, &nt);
    if (!topics && md_image_topic_count(img) > 0)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < nt; i++) {
        for (int32_t pid = 0; pid < topics[i]->parts_len; pid++) {
            const struct md_partition *p = md_topic_partition(topics[i], pid);
            if (!p || !imbalanced(p, NULL))
                continue;
            if (out->n - mark >= CTRL_MAX_ELECTIONS_PER_IMBALANCE) {
                *more = true;
                return 0;
            }
            struct ctrl_pcb b;
            ctrl_pcb_init(&b, img, env, topics[i], p);
            b.election = CTRL_ELECT_PREFERRED;
            struct PartitionChangeRecord *rec;
            int rc = ctrl_pcb_build(&b, out, &rec);
            if (rc) {
                ctrl_records_truncate(out, mark);
                return rc;
            }
        }
    }
    return 0;
}
