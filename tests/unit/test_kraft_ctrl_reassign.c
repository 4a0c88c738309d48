/* Unit tests of the quorum controller's partition reassignment (kraftmode/ctrl_reassign.c): each decision
 * of AlterPartitionReassignments (stage 1, immediate completion, cancellation, no change) and each error,
 * the completion by the leader's AlterPartition with leadership moved off a removed replica,
 * ListPartitionReassignments (everything, named partitions, unknown names), the NOT_CONTROLLER answers,
 * and allocation failures. Every record is framed, decoded back and applied (commit()). */
#include "test_kraft_ctrl_fx.h"

#define UNCLEAN_KEY "unclean.leader.election.enable"

static int setup(void **state)
{
    *state = fx_new(4);
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* A request of one topic and up to 4 partitions: pids[i] -> targets[i] (NULL: cancel). */
static struct AlterPartitionReassignmentsRequest *re_req(struct fx *f, const char *topic, int n, const int32_t *pids,
                                                         const int32_t *const *targets)
{
    struct AlterPartitionReassignmentsRequest *r = proto_arena_alloc(&f->a, sizeof *r);
    proto_struct_init(proto_msg_AlterPartitionReassignmentsRequest.body, r);
    r->Topics = proto_array_new(&f->a, &desc_AlterPartitionReassignmentsRequest_ReassignableTopic, 1);
    r->Topics_n = 1;
    r->Topics[0].Name = proto_str_from(topic);
    r->Topics[0].Partitions = proto_array_new(&f->a, &desc_AlterPartitionReassignmentsRequest_ReassignablePartition, n);
    r->Topics[0].Partitions_n = n;
    for (int i = 0; i < n; i++) {
        struct AlterPartitionReassignmentsRequest_ReassignablePartition *p = &r->Topics[0].Partitions[i];
        p->PartitionIndex = pids[i];
        if (targets[i])
            p->Replicas = fx_list(f, targets[i], &p->Replicas_n);
        else
            p->Replicas_n = -1;
    }
    return r;
}

static struct AlterPartitionReassignmentsResponse reassign(struct fx *f, const struct AlterPartitionReassignmentsRequest *req)
{
    INIT(AlterPartitionReassignmentsResponse, resp);
    assert_int_equal(ctrl_alter_partition_reassignments(&f->img, &f->env, req, &f->a, &resp, &f->recs), 0);
    assert_int_equal(resp.ErrorCode, KERR_NONE);
    assert_int_equal(resp.ErrorMessage.len, -1);
    assert_int_equal(resp.Responses_n, req->Topics_n);
    return resp;
}

/* One partition of topic moved to target (NULL: cancelled); its error code, message in *msg if asked. */
static int16_t reassign_one(struct fx *f, const char *topic, int32_t pid, const int32_t *target, proto_str *msg)
{
    const int32_t *targets[1] = {target};
    struct AlterPartitionReassignmentsResponse r = reassign(f, re_req(f, topic, 1, &pid, targets));
    assert_str(r.Responses[0].Name, topic);
    assert_int_equal(r.Responses[0].Partitions_n, 1);
    assert_int_equal(r.Responses[0].Partitions[0].PartitionIndex, pid);
    if (msg)
        *msg = r.Responses[0].Partitions[0].ErrorMessage;
    if (r.Responses[0].Partitions[0].ErrorCode == KERR_NONE)
        assert_int_equal(r.Responses[0].Partitions[0].ErrorMessage.len, -1);
    return r.Responses[0].Partitions[0].ErrorCode;
}

/* The leader's AlterPartition (v2, by topic id) proposing isr at the partition's current epochs. */
static struct AlterPartitionResponse alter_isr(struct fx *f, const char *topic, int32_t pid, const int32_t *isr)
{
    const struct md_partition *mp = fx_part(f, topic, pid);
    struct AlterPartitionRequest *r = proto_arena_alloc(&f->a, sizeof *r);
    proto_struct_init(proto_msg_AlterPartitionRequest.body, r);
    r->BrokerId = mp->leader;
    r->BrokerEpoch = md_image_broker(&f->img, mp->leader)->epoch;
    r->Topics = proto_array_new(&f->a, &desc_AlterPartitionRequest_TopicData, 1);
    r->Topics_n = 1;
    r->Topics[0].TopicId = md_image_topic(&f->img, topic)->id;
    r->Topics[0].Partitions = proto_array_new(&f->a, &desc_AlterPartitionRequest_PartitionData, 1);
    r->Topics[0].Partitions_n = 1;
    struct AlterPartitionRequest_PartitionData *pd = &r->Topics[0].Partitions[0];
    pd->PartitionIndex = pid;
    pd->LeaderEpoch = mp->leader_epoch;
    pd->PartitionEpoch = mp->partition_epoch;
    pd->NewIsr = fx_list(f, isr, &pd->NewIsr_n);
    INIT(AlterPartitionResponse, resp);
    assert_int_equal(ctrl_alter_partition(&f->img, &f->env, r, 2, &f->a, &resp, &f->recs), 0);
    return resp;
}

static void set_unclean(struct fx *f, const char *topic)
{
    INIT(ConfigRecord, c);
    c.ResourceType = MD_RESOURCE_TOPIC;
    c.ResourceName = proto_str_from(topic);
    c.Name = proto_str_from(UNCLEAN_KEY);
    c.Value = proto_str_from("true");
    assert_int_equal(md_image_apply(&f->img, &proto_msg_ConfigRecord, &c, f->off++, NULL), 0);
}

static void assert_part(struct fx *f, const char *topic, int32_t pid, const int32_t *replicas, const int32_t *isr,
                        const int32_t *adding, const int32_t *removing, int32_t leader)
{
    const struct md_partition *p = fx_part(f, topic, pid);
    fx_ints(p->replicas.v, p->replicas.n, replicas);
    fx_ints(p->isr.v, p->isr.n, isr);
    fx_ints(p->adding.v, p->adding.n, adding);
    fx_ints(p->removing.v, p->removing.n, removing);
    assert_int_equal(p->leader, leader);
}

/* [1, 2] -> [2, 3]: stage 1 writes the union with adding [3] and removing [1], the leader stays; the
 * leader's AlterPartition without 3 changes only the ISR; with 3 it completes the reassignment, and
 * leadership leaves the removed replica 1 (NEW_LEADER_ELECTED to it). */
static void test_move_then_complete(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "m");
    fx_partition(f, t, 0, L(1, 2), L(1, 2), 1);
    assert_int_equal(reassign_one(f, "m", 0, L(2, 3), NULL), KERR_NONE);
    assert_int_equal(f->recs.n, 1);
    const struct PartitionChangeRecord *pc = fx_rec(f, 0, &proto_msg_PartitionChangeRecord);
    fx_ints(pc->Replicas, pc->Replicas_n, L(2, 3, 1));
    fx_ints(pc->AddingReplicas, pc->AddingReplicas_n, L(3));
    fx_ints(pc->RemovingReplicas, pc->RemovingReplicas_n, L(1));
    assert_int_equal(pc->Leader, MD_LEADER_UNCHANGED); /* no replica left yet: no leader-epoch bump */
    assert_int_equal(pc->Isr_n, -1);
    assert_int_equal(pc->Directories_n, 3);
    commit(f);
    assert_part(f, "m", 0, L(2, 3, 1), L(1, 2), L(3), L(1), 1);
    fx_check_invariants(f);

    /* the same target again: nothing changes */
    assert_int_equal(reassign_one(f, "m", 0, L(2, 3), NULL), KERR_NONE);
    assert_int_equal(f->recs.n, 0);

    /* an ISR change that does not hold the adding replica: no completion */
    struct AlterPartitionResponse r = alter_isr(f, "m", 0, L(1));
    assert_int_equal(r.Topics[0].Partitions[0].ErrorCode, KERR_NONE);
    commit(f);
    assert_part(f, "m", 0, L(2, 3, 1), L(1), L(3), L(1), 1);
    r = alter_isr(f, "m", 0, L(1, 2, 3));
    assert_int_equal(r.Topics[0].Partitions[0].ErrorCode, KERR_NEW_LEADER_ELECTED);
    pc = fx_rec(f, 0, &proto_msg_PartitionChangeRecord);
    fx_ints(pc->Replicas, pc->Replicas_n, L(2, 3));
    assert_int_equal(pc->AddingReplicas_n, 0);
    assert_int_equal(pc->RemovingReplicas_n, 0);
    assert_int_equal(pc->Leader, 2);
    commit(f);
    assert_part(f, "m", 0, L(2, 3), L(2, 3), NONE_L, NONE_L, 2);
    fx_check_invariants(f);

    /* nothing in progress any more: a cancellation is refused */
    proto_str msg;
    assert_int_equal(reassign_one(f, "m", 0, NULL, &msg), KERR_NO_REASSIGNMENT_IN_PROGRESS);
    assert_str(msg, "No partition reassignment is in progress.");
    assert_int_equal(f->recs.n, 0);
}

/* Targets that add no replica complete in the first record: a reordering keeps the leader; a shrink
 * drops the removed replica from replicas and ISR and re-elects when it led. */
static void test_complete_at_once(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "c");
    fx_partition(f, t, 0, L(1, 2), L(1, 2), 1);
    fx_partition(f, t, 1, L(1, 2, 3), L(1, 2, 3), 1);
    assert_int_equal(reassign_one(f, "c", 0, L(2, 1), NULL), KERR_NONE);
    const struct PartitionChangeRecord *pc = fx_rec(f, 0, &proto_msg_PartitionChangeRecord);
    assert_int_equal(pc->Leader, MD_LEADER_UNCHANGED);
    assert_int_equal(pc->AddingReplicas_n, -1);
    commit(f);
    assert_part(f, "c", 0, L(2, 1), L(1, 2), NONE_L, NONE_L, 1);

    assert_int_equal(reassign_one(f, "c", 1, L(3, 2), NULL), KERR_NONE);
    pc = fx_rec(f, 0, &proto_msg_PartitionChangeRecord);
    fx_ints(pc->Replicas, pc->Replicas_n, L(3, 2));
    assert_int_equal(pc->RemovingReplicas_n, -1); /* never set: the partition had none */
    assert_int_equal(pc->Leader, 3);               /* the first target replica in the ISR */
    commit(f);
    assert_part(f, "c", 1, L(3, 2), L(2, 3), NONE_L, NONE_L, 3);
    fx_check_invariants(f);
}

/* Cancellation reverts to the original replicas; the ISR loses the adding replicas. A reassignment whose
 * adding replicas are the whole ISR reverts only with unclean leader election allowed. A new target
 * while one is in progress starts from the current (union) replicas, as Kafka. */
static void test_cancel(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "x");
    fx_partition(f, t, 0, L(1, 2), L(1, 2), 1);
    fx_partition(f, t, 1, L(1), L(1), 1);
    assert_int_equal(reassign_one(f, "x", 0, L(3, 4), NULL), KERR_NONE);
    commit(f);
    assert_part(f, "x", 0, L(3, 4, 1, 2), L(1, 2), L(3, 4), L(1, 2), 1);
    assert_int_equal(alter_isr(f, "x", 0, L(1, 2, 3)).Topics[0].Partitions[0].ErrorCode, KERR_NONE);
    commit(f);
    assert_part(f, "x", 0, L(3, 4, 1, 2), L(1, 2, 3), L(3, 4), L(1, 2), 1);
    assert_int_equal(reassign_one(f, "x", 0, NULL, NULL), KERR_NONE);
    const struct PartitionChangeRecord *pc = fx_rec(f, 0, &proto_msg_PartitionChangeRecord);
    fx_ints(pc->Replicas, pc->Replicas_n, L(1, 2));
    fx_ints(pc->Isr, pc->Isr_n, L(1, 2));
    assert_int_equal(pc->AddingReplicas_n, 0);
    assert_int_equal(pc->RemovingReplicas_n, 0);
    commit(f);
    assert_part(f, "x", 0, L(1, 2), L(1, 2), NONE_L, NONE_L, 1);

    /* [1] -> [2], then 1 is fenced and leaves the ISR to 2 (as if 2 had caught up and 1 then failed
     * before completion is written: an ISR of adding replicas only) */
    assert_int_equal(reassign_one(f, "x", 1, L(2), NULL), KERR_NONE);
    commit(f);
    assert_part(f, "x", 1, L(2, 1), L(1), L(2), L(1), 1);
    INIT(PartitionChangeRecord, ch);
    ch.TopicId = t;
    ch.PartitionId = 1;
    ch.Isr = (int32_t *)L(2);
    ch.Isr_n = 1;
    ch.Leader = 2;
    assert_int_equal(md_image_apply(&f->img, &proto_msg_PartitionChangeRecord, &ch, f->off++, NULL), 0);
    proto_str msg;
    assert_int_equal(reassign_one(f, "x", 1, NULL, &msg), KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_str(msg, "Unable to revert partition assignment for x:1 because it would require an unclean leader "
                    "election.");
    assert_int_equal(f->recs.n, 0);
    set_unclean(f, "x");
    assert_int_equal(reassign_one(f, "x", 1, NULL, NULL), KERR_NONE);
    pc = fx_rec(f, 0, &proto_msg_PartitionChangeRecord);
    fx_ints(pc->Replicas, pc->Replicas_n, L(1));
    fx_ints(pc->Isr, pc->Isr_n, L(1));
    assert_int_equal(pc->Leader, 1);
    commit(f);
    assert_part(f, "x", 1, L(1), L(1), NONE_L, NONE_L, 1);
}

/* A new target while a reassignment is in progress: computed against the union, as Kafka. */
static void test_retarget(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "r");
    fx_partition(f, t, 0, L(1, 2), L(1, 2), 1);
    assert_int_equal(reassign_one(f, "r", 0, L(2, 3), NULL), KERR_NONE);
    commit(f);
    assert_int_equal(reassign_one(f, "r", 0, L(4), NULL), KERR_NONE);
    commit(f);
    assert_part(f, "r", 0, L(4, 1, 2, 3), L(1, 2), L(4), L(1, 2, 3), 1);
    assert_int_equal(alter_isr(f, "r", 0, L(1, 2, 4)).Topics[0].Partitions[0].ErrorCode, KERR_NEW_LEADER_ELECTED);
    commit(f);
    assert_part(f, "r", 0, L(4), L(4), NONE_L, NONE_L, 4);
    fx_check_invariants(f);
}

/* Kafka's errors, each for its own partition of one request, with no record for a failed one. */
static void test_errors(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "e");
    fx_partition(f, t, 0, L(1, 2), L(1, 2), 1);
    proto_str msg;
    assert_int_equal(reassign_one(f, "nosuch", 0, L(1), &msg), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_str(msg, "Unable to find a topic named nosuch.");
    assert_int_equal(reassign_one(f, "e", 5, L(1), &msg), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_str(msg, "Unable to find partition e:5.");
    assert_int_equal(reassign_one(f, "e", 0, NONE_L, &msg), KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_str(msg, "The manual partition assignment includes an empty replica list.");
    assert_int_equal(reassign_one(f, "e", 0, L(1, 9), &msg), KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_str(msg, "The manual partition assignment includes broker 9, but no such broker is registered.");
    assert_int_equal(reassign_one(f, "e", 0, L(2, 2), &msg), KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_str(msg, "The manual partition assignment includes the broker 2 more than once.");
    assert_int_equal(reassign_one(f, "e", 0, NULL, &msg), KERR_NO_REASSIGNMENT_IN_PROGRESS);
    assert_int_equal(f->recs.n, 0);

    /* several partitions: the valid one is written, the others fail on their own */
    const int32_t pids[3] = {0, 7, 0};
    const int32_t *targets[3] = {L(3), L(1), L(9)};
    struct AlterPartitionReassignmentsResponse r = reassign(f, re_req(f, "e", 3, pids, targets));
    assert_int_equal(r.Responses[0].Partitions_n, 3);
    assert_int_equal(r.Responses[0].Partitions[0].ErrorCode, KERR_NONE);
    assert_int_equal(r.Responses[0].Partitions[1].ErrorCode, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(r.Responses[0].Partitions[1].PartitionIndex, 7);
    assert_int_equal(r.Responses[0].Partitions[2].ErrorCode, KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_int_equal(f->recs.n, 1);
    commit(f);
    assert_part(f, "e", 0, L(3, 1, 2), L(1, 2), L(3), L(1, 2), 1);

    /* a fenced target broker is still a valid target (registered): it joins once it catches up */
    fx_fence(f, 4);
    assert_int_equal(reassign_one(f, "e", 0, L(4), NULL), KERR_NONE);
}

/* ListPartitionReassignments: everything (topic-name order), named partitions, unknown names left out. */
static void test_list(void **state)
{
    struct fx *f = *state;
    proto_uuid a = fx_topic(f, "a"), b = fx_topic(f, "b");
    fx_partition(f, a, 0, L(1, 2), L(1, 2), 1);
    fx_partition(f, a, 1, L(1, 2), L(1, 2), 1);
    fx_partition(f, b, 0, L(1, 2), L(1, 2), 1);
    assert_int_equal(reassign_one(f, "b", 0, L(3, 4), NULL), KERR_NONE);
    assert_int_equal(reassign_one(f, "a", 1, L(1, 3), NULL), KERR_NONE);
    commit(f);

    INIT(ListPartitionReassignmentsRequest, all);
    INIT(ListPartitionReassignmentsResponse, resp);
    assert_int_equal(all.Topics_n, -1);
    assert_int_equal(ctrl_list_partition_reassignments(&f->img, &all, &f->a, &resp), 0);
    assert_int_equal(resp.ErrorCode, KERR_NONE);
    assert_int_equal(resp.ErrorMessage.len, -1);
    assert_int_equal(resp.Topics_n, 2);
    assert_str(resp.Topics[0].Name, "a");
    assert_int_equal(resp.Topics[0].Partitions_n, 1);
    const struct ListPartitionReassignmentsResponse_OngoingPartitionReassignment *p = &resp.Topics[0].Partitions[0];
    assert_int_equal(p->PartitionIndex, 1);
    fx_ints(p->Replicas, p->Replicas_n, L(1, 3, 2));
    fx_ints(p->AddingReplicas, p->AddingReplicas_n, L(3));
    fx_ints(p->RemovingReplicas, p->RemovingReplicas_n, L(2));
    assert_str(resp.Topics[1].Name, "b");
    p = &resp.Topics[1].Partitions[0];
    fx_ints(p->Replicas, p->Replicas_n, L(3, 4, 1, 2));
    fx_ints(p->AddingReplicas, p->AddingReplicas_n, L(3, 4));
    fx_ints(p->RemovingReplicas, p->RemovingReplicas_n, L(1, 2));

    /* named: a [0, 1, 9] and an unknown topic: only a-1 */
    INIT(ListPartitionReassignmentsRequest, named);
    named.Topics = proto_array_new(&f->a, &desc_ListPartitionReassignmentsRequest_ListPartitionReassignmentsTopics, 2);
    named.Topics_n = 2;
    named.Topics[0].Name = proto_str_from("a");
    named.Topics[0].PartitionIndexes = fx_list(f, L(9, 0, 1), &named.Topics[0].PartitionIndexes_n);
    named.Topics[1].Name = proto_str_from("zzz");
    named.Topics[1].PartitionIndexes = fx_list(f, L(0), &named.Topics[1].PartitionIndexes_n);
    INIT(ListPartitionReassignmentsResponse, r2);
    assert_int_equal(ctrl_list_partition_reassignments(&f->img, &named, &f->a, &r2), 0);
    assert_int_equal(r2.Topics_n, 1);
    assert_str(r2.Topics[0].Name, "a");
    assert_int_equal(r2.Topics[0].Partitions_n, 1);
    assert_int_equal(r2.Topics[0].Partitions[0].PartitionIndex, 1);

    /* a topic with nothing in progress is left out; an empty list lists nothing */
    named.Topics_n = 1;
    named.Topics[0].PartitionIndexes_n = 1; /* a-9 only */
    INIT(ListPartitionReassignmentsResponse, r3);
    assert_int_equal(ctrl_list_partition_reassignments(&f->img, &named, &f->a, &r3), 0);
    assert_int_equal(r3.Topics_n, 0);
    named.Topics_n = 0;
    assert_int_equal(ctrl_list_partition_reassignments(&f->img, &named, &f->a, &r3), 0);
    assert_int_equal(r3.Topics_n, 0);
}

/* NOT_CONTROLLER (or a failed forward): every listed entry and the top level carry the error. */
static void test_error_responses(void **state)
{
    struct fx *f = *state;
    const int32_t pids[2] = {3, 4};
    const int32_t *targets[2] = {L(1), NULL};
    struct AlterPartitionReassignmentsRequest *req = re_req(f, "t", 2, pids, targets);
    INIT(AlterPartitionReassignmentsResponse, r);
    assert_int_equal(ctrl_alter_partition_reassignments_error(req, &f->a, KERR_NOT_CONTROLLER, NULL, &r), 0);
    assert_int_equal(r.ErrorCode, KERR_NOT_CONTROLLER);
    assert_int_equal(r.ErrorMessage.len, -1);
    assert_int_equal(r.Responses_n, 1);
    assert_str(r.Responses[0].Name, "t");
    assert_int_equal(r.Responses[0].Partitions_n, 2);
    assert_int_equal(r.Responses[0].Partitions[1].PartitionIndex, 4);
    assert_int_equal(r.Responses[0].Partitions[1].ErrorCode, KERR_NOT_CONTROLLER);
    INIT(AlterPartitionReassignmentsResponse, r2);
    assert_int_equal(ctrl_alter_partition_reassignments_error(req, &f->a, KERR_UNKNOWN_SERVER_ERROR, "gone", &r2), 0);
    assert_str(r2.ErrorMessage, "gone");
    assert_str(r2.Responses[0].Partitions[0].ErrorMessage, "gone");

    INIT(ListPartitionReassignmentsRequest, lr);
    lr.Topics = proto_array_new(&f->a, &desc_ListPartitionReassignmentsRequest_ListPartitionReassignmentsTopics, 1);
    lr.Topics_n = 1;
    lr.Topics[0].Name = proto_str_from("t");
    lr.Topics[0].PartitionIndexes = fx_list(f, L(2, 5), &lr.Topics[0].PartitionIndexes_n);
    INIT(ListPartitionReassignmentsResponse, l);
    assert_int_equal(ctrl_list_partition_reassignments_error(&lr, &f->a, KERR_NOT_CONTROLLER, NULL, &l), 0);
    assert_int_equal(l.ErrorCode, KERR_NOT_CONTROLLER);
    assert_int_equal(l.Topics_n, 1);
    assert_int_equal(l.Topics[0].Partitions_n, 2);
    assert_int_equal(l.Topics[0].Partitions[1].PartitionIndex, 5);
    assert_int_equal(l.Topics[0].Partitions[1].Replicas_n, 0);
    INIT(ListPartitionReassignmentsRequest, all);
    INIT(ListPartitionReassignmentsResponse, l2);
    assert_int_equal(ctrl_list_partition_reassignments_error(&all, &f->a, KERR_NOT_CONTROLLER, NULL, &l2), 0);
    assert_int_equal(l2.Topics_n, 0);
}

/* ---- allocation failures: FERRY_ENOMEM and no record ---- */

static struct fx *reassign_fx(void)
{
    struct fx *f = fx_new(4);
    proto_uuid t = fx_topic(f, "m");
    fx_partition(f, t, 0, L(1, 2), L(1, 2), 1);
    fx_partition(f, t, 1, L(1, 2), L(1, 2), 1);
    fx_partition(f, t, 2, L(1, 2, 3), L(1, 2, 3), 1);
    /* partition 1 already moving to [3], to be cancelled */
    const int32_t *targets[1] = {L(3)};
    const int32_t pid = 1;
    INIT(AlterPartitionReassignmentsResponse, resp);
    assert_int_equal(ctrl_alter_partition_reassignments(&f->img, &f->env, re_req(f, "m", 1, &pid, targets), &f->a,
                                                        &resp, &f->recs),
                     0);
    commit(f);
    const int32_t pids[3] = {0, 1, 2};
    const int32_t *all[3] = {L(2, 3), NULL, L(3, 2)};
    f->req = re_req(f, "m", 3, pids, all);
    return f;
}

static int decide_reassign(struct fx *f)
{
    INIT(AlterPartitionReassignmentsResponse, resp);
    return ctrl_alter_partition_reassignments(&f->img, &f->env, f->req, &f->a, &resp, &f->recs);
}

static int decide_list(struct fx *f)
{
    INIT(ListPartitionReassignmentsRequest, all);
    INIT(ListPartitionReassignmentsResponse, resp);
    int rc = ctrl_list_partition_reassignments(&f->img, &all, &f->a, &resp);
    if (rc == 0)
        assert_int_equal(resp.Topics_n, 1);
    return rc;
}

static void test_allocation_failures(void **state)
{
    (void)state;
    fx_alloc_sweep(reassign_fx, decide_reassign, 3);
    fx_alloc_sweep(reassign_fx, decide_list, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_move_then_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retarget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_responses, setup, teardown),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
