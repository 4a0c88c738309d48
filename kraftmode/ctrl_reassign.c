/* ctrl_reassign: partition reassignment in quorum mode (Kafka 3.7's
 * ReplicationControlManager.alterPartitionReassignments / listPartitionReassignments, with
 * PartitionReassignmentReplicas and PartitionReassignmentRevert, and the error shapes of
 * AlterPartitionReassignmentsRequest / ListPartitionReassignmentsRequest.getErrorResponse).
 *
 * A reassignment is one PartitionChangeRecord with replicas = target + removing, AddingReplicas and
 * RemovingReplicas (stage 1); the partition leader's AlterPartition that brings every adding replica into
 * the ISR completes it (ctrl_partition_change.c: stage 3, the removing replicas dropped, a new leader if
 * the old one was removed). A target that needs no new replica completes in the first record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/ctrl_internal.h"

typedef struct AlterPartitionReassignmentsRequest_ReassignablePartition reassign_req;
typedef struct AlterPartitionReassignmentsResponse_ReassignableTopicResponse topic_resp;
typedef struct AlterPartitionReassignmentsResponse_ReassignablePartitionResponse part_resp;
typedef struct ListPartitionReassignmentsResponse_OngoingTopicReassignment ongoing_topic;
typedef struct ListPartitionReassignmentsResponse_OngoingPartitionReassignment ongoing_part;

bool ctrl_reassignment_in_progress(const struct md_partition *p)
{
    return p->removing.n > 0 || p->adding.n > 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

/* `from` minus the members of `drop`, ascending and without repeats (Kafka's TreeSet difference), into
 * out (capacity from_n). Returns the count. */
static int32_t sorted_difference(const int32_t *from, int32_t from_n, const int32_t *drop, int32_t drop_n,
                                 int32_t *out)
{
    int32_t n = 0;
    for (int32_t i = 0; i < from_n; i++) {
        bool skip = false;
        for (int32_t k = 0; k < drop_n && !skip; k++)
            skip = drop[k] == from[i];
        for (int32_t k = 0; k < n && !skip; k++)
            skip = out[k] == from[i];
        if (!skip)
            out[n++] = from[i];
    }
    qsort(out, (size_t)n, sizeof *out, cmp_i32);
    return n;
}

/* changePartitionReassignment: the target checked as a manual assignment, then stage 1 (or at once
 * stage 3). KERR_NONE or the error with its message in msg; *rc = FERRY_ENOMEM on OOM. */
static int16_t change(const struct md_image *img, const struct ctrl_env *env, const struct md_topic *t,
                      const struct md_partition *p, const int32_t *target, int32_t ntarget, char *msg,
                      size_t msglen, struct ctrl_records *out, int *rc)
{
    int err = ctrl_check_assignment(img, target, ntarget, -1, msg, msglen);
    if (err == FERRY_ENOMEM)
        *rc = FERRY_ENOMEM;
    if (err)
        return err == FERRY_ENOMEM ? KERR_UNKNOWN_SERVER_ERROR : (int16_t)err;
    int32_t cap = ntarget + p->replicas.n;
    int32_t *buf = ferry_malloc((size_t)cap * 3 * sizeof *buf);
    if (!buf) {
        *rc = FERRY_ENOMEM;
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    struct md_ints removing = {buf, 0}, adding = {buf + cap, 0}, replicas = {buf + 2 * cap, 0};
    removing.n = sorted_difference(p->replicas.v, p->replicas.n, target, ntarget, removing.v);
    adding.n = sorted_difference(target, ntarget, p->replicas.v, p->replicas.n, adding.v);
    memcpy(replicas.v, target, (size_t)ntarget * sizeof *target);
    memcpy(replicas.v + ntarget, removing.v, (size_t)removing.n * sizeof *removing.v);
    replicas.n = ntarget + removing.n;

    struct ctrl_pcb b;
    ctrl_pcb_init(&b, img, env, t, p);
    b.target_replicas = &replicas;
    if (removing.n > 0)
        b.target_removing = &removing;
    if (adding.n > 0)
        b.target_adding = &adding;
    struct PartitionChangeRecord *rec;
    *rc = ctrl_pcb_build(&b, out, &rec);
    ferry_free(buf);
    return KERR_NONE;
}

/* cancelPartitionReassignment with PartitionReassignmentRevert: the replicas without the adding ones, the
 * ISR without them (or, when that empties it, the first remaining replica: an unclean election, refused
 * unless the topic allows one). */
static int16_t cancel(const struct md_image *img, const struct ctrl_env *env, const struct md_topic *t,
                      const struct md_partition *p, char *msg, size_t msglen, struct ctrl_records *out, int *rc)
{
    if (!ctrl_reassignment_in_progress(p)) {
        snprintf(msg, msglen, "%s", ctrl_default_message(KERR_NO_REASSIGNMENT_IN_PROGRESS));
        return KERR_NO_REASSIGNMENT_IN_PROGRESS;
    }
    int32_t cap = p->replicas.n + p->isr.n + 2;
    int32_t *buf = ferry_malloc((size_t)cap * sizeof *buf);
    if (!buf) {
        *rc = FERRY_ENOMEM;
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    struct md_ints replicas = {buf, 0}, isr = {buf + p->replicas.n + 1, 0}, none = {buf, 0};
    for (int32_t i = 0; i < p->replicas.n; i++)
        if (!md_ints_contains(&p->adding, p->replicas.v[i]))
            replicas.v[replicas.n++] = p->replicas.v[i];
    for (int32_t i = 0; i < p->isr.n; i++)
        if (!md_ints_contains(&p->adding, p->isr.v[i]))
            isr.v[isr.n++] = p->isr.v[i];
    bool unclean_allowed = ctrl_unclean_enabled(img, env, t);
    int16_t err = KERR_NONE;
    if (isr.n == 0 && replicas.n == 0) {
        snprintf(msg, msglen, "Invalid replica assignment: addingReplicas contains all replicas.");
        err = KERR_INVALID_REPLICA_ASSIGNMENT;
    } else if (isr.n == 0 && !unclean_allowed) {
        snprintf(msg, msglen,
                 "Unable to revert partition assignment for %s:%d because it would require an unclean leader "
                 "election.",
                 t->name, p->id);
        err = KERR_INVALID_REPLICA_ASSIGNMENT;
    } else {
        if (isr.n == 0)
            isr.v[isr.n++] = replicas.v[0];
        struct ctrl_pcb b;
        ctrl_pcb_init(&b, img, env, t, p);
        if (unclean_allowed)
            b.election = CTRL_ELECT_UNCLEAN;
        b.target_isr = isr.v;
        b.ntarget_isr = isr.n;
        b.target_replicas = &replicas;
        b.target_removing = &none;
        b.target_adding = &none;
        struct PartitionChangeRecord *rec;
        *rc = ctrl_pcb_build(&b, out, &rec);
    }
    ferry_free(buf);
    return err;
}

/* alterPartitionReassignment for one partition. */
static int16_t alter_one(const struct md_image *img, const struct ctrl_env *env, proto_str topic,
                         const reassign_req *rq, size_t first_record, char *msg, size_t msglen,
                         struct ctrl_records *out, int *rc)
{
    const struct md_topic *t = md_image_topic_n(img, topic.p ? topic.p : "", topic.len > 0 ? (size_t)topic.len : 0);
    if (!t) {
        snprintf(msg, msglen, "Unable to find a topic named %.*s.", (int)(topic.len > 0 ? topic.len : 0),
                 topic.p ? topic.p : "");
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    const struct md_partition *p = md_topic_partition(t, rq->PartitionIndex);
    if (!p) {
        snprintf(msg, msglen, "Unable to find partition %s:%d.", t->name, rq->PartitionIndex);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (out->n - first_record >= CTRL_MAX_RECORDS_PER_OP) {
        /* BoundedList refuses the record: the partition fails as an unexpected error */
        msg[0] = '\0';
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    return rq->Replicas_n < 0 ? cancel(img, env, t, p, msg, msglen, out, rc)
                              : change(img, env, t, p, rq->Replicas, rq->Replicas_n, msg, msglen, out, rc);
}

int ctrl_alter_partition_reassignments(const struct md_image *img, const struct ctrl_env *env,
                                       const struct AlterPartitionReassignmentsRequest *req, struct proto_arena *a,
                                       struct AlterPartitionReassignmentsResponse *resp, struct ctrl_records *out)
{
    struct ctrl_ctx c = {a, false};
    resp->ErrorCode = KERR_NONE;
    resp->ErrorMessage = (proto_str){NULL, -1};
    int32_t nt = req->Topics_n > 0 ? req->Topics_n : 0;
    resp->Responses = proto_array_new(a, &desc_AlterPartitionReassignmentsResponse_ReassignableTopicResponse, nt);
    if (!resp->Responses)
        return FERRY_ENOMEM;
    resp->Responses_n = nt;
    size_t mark = out->n;
    int rc = 0, done = 0, total = 0;
    for (int32_t i = 0; i < nt && !rc; i++) {
        const struct AlterPartitionReassignmentsRequest_ReassignableTopic *rt = &req->Topics[i];
        topic_resp *tr = &resp->Responses[i];
        tr->Name = ctrl_copy(&c, rt->Name);
        int32_t np = rt->Partitions_n > 0 ? rt->Partitions_n : 0;
        tr->Partitions = proto_array_new(a, &desc_AlterPartitionReassignmentsResponse_ReassignablePartitionResponse, np);
        if (!tr->Partitions) {
            rc = FERRY_ENOMEM;
            break;
        }
        tr->Partitions_n = np;
        for (int32_t k = 0; k < np && !rc; k++) {
            const reassign_req *rq = &rt->Partitions[k];
            part_resp *pr = &tr->Partitions[k];
            char msg[256] = "";
            pr->PartitionIndex = rq->PartitionIndex;
            pr->ErrorCode = alter_one(img, env, rt->Name, rq, mark, msg, sizeof msg, out, &rc);
            pr->ErrorMessage = msg[0] ? ctrl_strf(&c, "%s", msg) : (proto_str){NULL, -1};
            total++;
            if (pr->ErrorCode == KERR_NONE)
                done++;
            else
                LOG_INFO("ctrl", "unable to alter the reassignment of %.*s:%d: %s (%s)",
                         (int)(rt->Name.len > 0 ? rt->Name.len : 0), rt->Name.p ? rt->Name.p : "",
                         rq->PartitionIndex, kafka_error_name(pr->ErrorCode), msg);
        }
    }
    if (!rc && c.oom)
        rc = FERRY_ENOMEM;
    if (rc) {
        ctrl_records_truncate(out, mark);
        return rc;
    }
    LOG_INFO("ctrl", "altered %d of %d partition reassignment(s)", done, total);
    return 0;
}

int ctrl_alter_partition_reassignments_error(const struct AlterPartitionReassignmentsRequest *req,
                                             struct proto_arena *a, int16_t code, const char *msg,
                                             struct AlterPartitionReassignmentsResponse *resp)
{
    struct ctrl_ctx c = {a, false};
    proto_str m = msg ? ctrl_strf(&c, "%s", msg) : (proto_str){NULL, -1};
    resp->ErrorCode = code;
    resp->ErrorMessage = m;
    int32_t nt = req->Topics_n > 0 ? req->Topics_n : 0;
    resp->Responses = proto_array_new(a, &desc_AlterPartitionReassignmentsResponse_ReassignableTopicResponse, nt);
    resp->Responses_n = resp->Responses ? nt : 0;
    for (int32_t i = 0; i < resp->Responses_n; i++) {
        const struct AlterPartitionReassignmentsRequest_ReassignableTopic *rt = &req->Topics[i];
        topic_resp *tr = &resp->Responses[i];
        int32_t np = rt->Partitions_n > 0 ? rt->Partitions_n : 0;
        tr->Name = ctrl_copy(&c, rt->Name);
        tr->Partitions = proto_array_new(a, &desc_AlterPartitionReassignmentsResponse_ReassignablePartitionResponse, np);
        tr->Partitions_n = tr->Partitions ? np : 0;
        if (!tr->Partitions)
            c.oom = true;
        for (int32_t k = 0; k < tr->Partitions_n; k++) {
            tr->Partitions[k].PartitionIndex = rt->Partitions[k].PartitionIndex;
            tr->Partitions[k].ErrorCode = code;
            tr->Partitions[k].ErrorMessage = m;
        }
    }
    return c.oom || !resp->Responses ? FERRY_ENOMEM : 0;
}

/* ---- ListPartitionReassignments ---- */

static int fill_ongoing(struct ctrl_ctx *c, const struct md_partition *p, ongoing_part *op)
{
    op->PartitionIndex = p->id;
    const struct md_ints *src[3] = {&p->replicas, &p->adding, &p->removing};
    int32_t **dst[3] = {&op->Replicas, &op->AddingReplicas, &op->RemovingReplicas};
    int32_t *dst_n[3] = {&op->Replicas_n, &op->AddingReplicas_n, &op->RemovingReplicas_n};
    for (int i = 0; i < 3; i++) {
        *dst[i] = proto_arena_alloc(c->a, (size_t)(src[i]->n > 0 ? src[i]->n : 1) * sizeof(int32_t));
        if (!*dst[i])
            return FERRY_ENOMEM;
        if (src[i]->n > 0)
            memcpy(*dst[i], src[i]->v, (size_t)src[i]->n * sizeof(int32_t));
        *dst_n[i] = src[i]->n;
    }
    return 0;
}

/* listReassigningTopic: the listed partitions of t that are reassigning (every one when ids is NULL), as
 * one more topic of the response when there is any. */
static int list_topic(struct ctrl_ctx *c, const struct md_topic *t, const int32_t *ids, int32_t nids,
                      struct ListPartitionReassignmentsResponse *resp, int32_t *cap)
{
    int32_t n = ids ? nids : t->parts_len;
    const struct md_partition **found = ferry_malloc((size_t)(n > 0 ? n : 1) * sizeof *found);
    if (!found)
        return FERRY_ENOMEM;
    int32_t nf = 0;
    for (int32_t i = 0; i < n; i++) {
        const struct md_partition *p = md_topic_partition(t, ids ? ids[i] : i);
        if (p && ctrl_reassignment_in_progress(p))
            found[nf++] = p;
    }
    int rc = 0;
    if (nf > 0) {
        if (resp->Topics_n == *cap) {
            int32_t ncap = *cap ? *cap * 2 : 8;
            ongoing_topic *grown = proto_array_new(c->a, &desc_ListPartitionReassignmentsResponse_OngoingTopicReassignment, ncap);
            if (!grown) {
                ferry_free(found);
                return FERRY_ENOMEM;
            }
            if (resp->Topics_n > 0)
                memcpy(grown, resp->Topics, (size_t)resp->Topics_n * sizeof *grown);
            resp->Topics = grown;
            *cap = ncap;
        }
        ongoing_topic *ot = &resp->Topics[resp->Topics_n++];
        ot->Name = ctrl_strf(c, "%s", t->name);
        ot->Partitions = proto_array_new(c->a, &desc_ListPartitionReassignmentsResponse_OngoingPartitionReassignment, nf);
        ot->Partitions_n = ot->Partitions ? nf : 0;
        rc = ot->Partitions ? 0 : FERRY_ENOMEM;
        for (int32_t i = 0; !rc && i < nf; i++)
            rc = fill_ongoing(c, found[i], &ot->Partitions[i]);
    }
    ferry_free(found);
    return rc;
}

int ctrl_list_partition_reassignments(const struct md_image *img, const struct ListPartitionReassignmentsRequest *req,
                                      struct proto_arena *a, struct ListPartitionReassignmentsResponse *resp)
{
    struct ctrl_ctx c = {a, false};
    resp->ErrorCode = KERR_NONE;
    resp->ErrorMessage = (proto_str){NULL, -1};
    resp->Topics = proto_array_new(a, &desc_ListPartitionReassignmentsResponse_OngoingTopicReassignment, 0);
    resp->Topics_n = 0;
    int32_t cap = 0;
    int rc = 0;
    if (req->Topics_n < 0) {
        size_t nt;
        struct md_topic *const *topics = md_image_topics_sorted(img, &nt);
        if (!topics && md_image_topic_count(img) > 0)
            return FERRY_ENOMEM;
        for (size_t i = 0; i < nt && !rc; i++)
            rc = list_topic(&c, topics[i], NULL, 0, resp, &cap);
    } else {
        for (int32_t i = 0; i < req->Topics_n && !rc; i++) {
            const struct ListPartitionReassignmentsRequest_ListPartitionReassignmentsTopics *lt = &req->Topics[i];
            const struct md_topic *t = md_image_topic_n(img, lt->Name.p ? lt->Name.p : "",
                                                        lt->Name.len > 0 ? (size_t)lt->Name.len : 0);
            if (t)
                rc = list_topic(&c, t, lt->PartitionIndexes, lt->PartitionIndexes_n > 0 ? lt->PartitionIndexes_n : 0,
                                resp, &cap);
        }
    }
    return rc || c.oom ? FERRY_ENOMEM : 0;
}

int ctrl_list_partition_reassignments_error(const struct ListPartitionReassignmentsRequest *req,
                                            struct proto_arena *a, int16_t code, const char *msg,
                                            struct ListPartitionReassignmentsResponse *resp)
{
    struct ctrl_ctx c = {a, false};
    resp->ErrorCode = code;
    resp->ErrorMessage = msg ? ctrl_strf(&c, "%s", msg) : (proto_str){NULL, -1};
    int32_t nt = req->Topics_n > 0 ? req->Topics_n : 0;
    resp->Topics = proto_array_new(a, &desc_ListPartitionReassignmentsResponse_OngoingTopicReassignment, nt);
    resp->Topics_n = resp->Topics ? nt : 0;
    for (int32_t i = 0; i < resp->Topics_n; i++) {
        const struct ListPartitionReassignmentsRequest_ListPartitionReassignmentsTopics *lt = &req->Topics[i];
        int32_t np = lt->PartitionIndexes_n > 0 ? lt->PartitionIndexes_n : 0;
        ongoing_topic *ot = &resp->Topics[i];
        ot->Name = ctrl_copy(&c, lt->Name);
        ot->Partitions = proto_array_new(a, &desc_ListPartitionReassignmentsResponse_OngoingPartitionReassignment, np);
        ot->Partitions_n = ot->Partitions ? np : 0;
        if (!ot->Partitions)
            c.oom = true;
        for (int32_t k = 0; k < ot->Partitions_n; k++)
            ot->Partitions[k].PartitionIndex = lt->PartitionIndexes[k];
    }
    return c.oom || !resp->Topics ? FERRY_ENOMEM : 0;
}
