/* Unit tests for the quorum controller's partition decisions (Kafka 3.7's ReplicationControlManager and
 * PartitionChangeBuilder): ElectLeaders (PREFERRED and UNCLEAN), the periodic preferred-leader rebalance,
 * and AlterPartition with its checks, the PartitionChangeRecord it writes and the response. Every record
 * is framed, decoded and applied to the image (commit). */
#include "test_kraft_ctrl_fx.h"

static int setup(void **state)
{
    *state = fx_new(3);
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* ---- ElectLeaders ---- */

static struct ElectLeadersRequest *el_req(struct fx *f, int8_t type, int ntopics)
{
    struct ElectLeadersRequest *r = proto_arena_alloc(&f->a, sizeof *r);
    proto_struct_init(proto_msg_ElectLeadersRequest.body, r);
    r->ElectionType = type;
    r->TopicPartitions = proto_array_new(&f->a, &desc_ElectLeadersRequest_TopicPartitions, ntopics);
    r->TopicPartitions_n = ntopics;
    return r;
}

/* A copy of a -1-terminated list in the fixture's arena (requests outlive the literals they are built from). */
static void el_topic(struct fx *f, struct ElectLeadersRequest *r, int i, const char *name, const int32_t *parts)
{
    int32_t n;
    r->TopicPartitions[i].Topic = proto_str_from(name);
    r->TopicPartitions[i].Partitions = fx_list(f, parts, &n);
    r->TopicPartitions[i].Partitions_n = n;
}

static struct ElectLeadersResponse elect(struct fx *f, const struct ElectLeadersRequest *req, int16_t version)
{
    INIT(ElectLeadersResponse, resp);
    assert_int_equal(ctrl_elect_leaders(&f->img, &f->env, req, version, &f->a, &resp, &f->recs), 0);
    return resp;
}

/* msg NULL: any message for an error, none for NONE. */
static void expect_result(const struct ElectLeadersResponse_PartitionResult *r, int32_t pid, int16_t code,
                          const char *msg)
{
    assert_int_equal(r->PartitionId, pid);
    assert_int_equal(r->ErrorCode, code);
    if (msg)
        assert_str(r->ErrorMessage, msg);
    else if (code == KERR_NONE)
        assert_int_equal(r->ErrorMessage.len, -1); /* Kafka's ApiError.NONE carries no message */
}

static void test_elect_preferred(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "e");
    fx_partition(f, t, 0, L(1, 2, 3), L(1, 2, 3), 2);
    fx_partition(f, t, 1, L(1, 2), L(1, 2), 1);
    fx_partition(f, t, 2, L(3, 1), L(1), 1);
    fx_partition(f, t, 3, L(1, 2), L(2), MD_NO_LEADER);
    struct ElectLeadersRequest *req = el_req(f, 0, 2);
    el_topic(f, req, 0, "e", L(0, 1, 2, 3, 7));
    el_topic(f, req, 1, "nope", L(0));
    struct ElectLeadersResponse r = elect(f, req, 2);
    assert_int_equal(r.ErrorCode, KERR_NONE);
    assert_int_equal(r.ReplicaElectionResults_n, 2);
    assert_str(r.ReplicaElectionResults[0].Topic, "e");
    assert_int_equal(r.ReplicaElectionResults[0].PartitionResult_n, 5);
    const struct ElectLeadersResponse_PartitionResult *pr = r.ReplicaElectionResults[0].PartitionResult;
    expect_result(&pr[0], 0, KERR_NONE, NULL);
    expect_result(&pr[1], 1, KERR_ELECTION_NOT_NEEDED, "Leader election not needed for topic partition.");
    expect_result(&pr[2], 2, KERR_PREFERRED_LEADER_NOT_AVAILABLE, "The preferred leader was not available.");
    expect_result(&pr[3], 3, KERR_NONE, NULL); /* leaderless: the ISR replica 2 */
    expect_result(&pr[4], 7, KERR_UNKNOWN_TOPIC_OR_PARTITION, "No such partition as e-7");
    expect_result(&r.ReplicaElectionResults[1].PartitionResult[0], 0, KERR_UNKNOWN_TOPIC_OR_PARTITION,
                  "No such topic as nope");
    assert_int_equal(f->recs.n, 2);
    const struct PartitionChangeRecord *pc = fx_rec(f, 0, &proto_msg_PartitionChangeRecord);
    assert_int_equal(pc->PartitionId, 0);
    assert_int_equal(pc->Leader, 1);
    assert_int_equal(pc->Isr_n, -1);
    pc = fx_rec(f, 1, &proto_msg_PartitionChangeRecord);
    assert_int_equal(pc->PartitionId, 3);
    assert_int_equal(pc->Leader, 2);
    commit(f);
    assert_int_equal(fx_part(f, "e", 0)->leader, 1);
    assert_int_equal(fx_part(f, "e", 0)->leader_epoch, 1);
    assert_int_equal(fx_part(f, "e", 3)->leader, 2);
    /* Again: nothing left to do for e-0. */
    req = el_req(f, 0, 1);
    el_topic(f, req, 0, "e", L(0));
    r = elect(f, req, 1);
    expect_result(&r.ReplicaElectionResults[0].PartitionResult[0], 0, KERR_ELECTION_NOT_NEEDED, NULL);
    assert_int_equal(f->recs.n, 0);
}

static void test_elect_unclean(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "v");
    fx_partition(f, t, 0, L(3, 2), L(3), MD_NO_LEADER);
    fx_partition(f, t, 1, L(1), L(1), 1);
    fx_partition(f, t, 2, L(3), L(3), MD_NO_LEADER);
    fx_fence(f, 3);
    struct ElectLeadersRequest *req = el_req(f, 1, 1);
    el_topic(f, req, 0, "v", L(0, 1, 2));
    /* v0 has no election type: PREFERRED, whatever the field holds. */
    struct ElectLeadersResponse r = elect(f, req, 0);
    const struct ElectLeadersResponse_PartitionResult *pr = r.ReplicaElectionResults[0].PartitionResult;
    expect_result(&pr[0], 0, KERR_PREFERRED_LEADER_NOT_AVAILABLE, NULL);
    expect_result(&pr[1], 1, KERR_ELECTION_NOT_NEEDED, NULL);
    assert_int_equal(f->recs.n, 0);
    r = elect(f, req, 1);
    pr = r.ReplicaElectionResults[0].PartitionResult;
    expect_result(&pr[0], 0, KERR_NONE, NULL);
    expect_result(&pr[1], 1, KERR_ELECTION_NOT_NEEDED, NULL);
    expect_result(&pr[2], 2, KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE,
                  "Eligible topic partition leaders are not available.");
    assert_int_equal(f->recs.n, 1);
    const struct PartitionChangeRecord *pc = fx_rec(f, 0, &proto_msg_PartitionChangeRecord);
    assert_int_equal(pc->Leader, 2);
    fx_ints(pc->Isr, pc->Isr_n, L(2));
    assert_int_equal(pc->LeaderRecoveryState, 1);
    commit(f);
    const struct md_partition *p = fx_part(f, "v", 0);
    assert_int_equal(p->leader, 2);
    assert_int_equal(p->leader_recovery_state, 1);
    fx_ints(p->isr.v, p->isr.n, L(2));
}

static void test_elect_all_and_bad_requests(void **state)
{
    struct fx *f = *state;
    proto_uuid a = fx_topic(f, "a"), b = fx_topic(f, "b");
    fx_partition(f, a, 0, L(1, 2), L(1, 2), 1);
    fx_partition(f, a, 1, L(2, 1), L(2, 1), 1);
    fx_partition(f, b, 0, L(3), L(3), 3);
    struct ElectLeadersRequest *req = el_req(f, 0, 0);
    req->TopicPartitions = NULL;
    req->TopicPartitions_n = -1;
    struct ElectLeadersResponse r = elect(f, req, 2);
    /* Every topic, without the partitions that need no election. */
    assert_int_equal(r.ReplicaElectionResults_n, 2);
    assert_str(r.ReplicaElectionResults[0].Topic, "a");
    assert_int_equal(r.ReplicaElectionResults[0].PartitionResult_n, 1);
    expect_result(&r.ReplicaElectionResults[0].PartitionResult[0], 1, KERR_NONE, NULL);
    assert_str(r.ReplicaElectionResults[1].Topic, "b");
    assert_int_equal(r.ReplicaElectionResults[1].PartitionResult_n, 0);
    assert_int_equal(f->recs.n, 1);
    ctrl_records_truncate(&f->recs, 0);
    /* An unknown election type fails every listed partition and the request, with no records. */
    req = el_req(f, 5, 1);
    el_topic(f, req, 0, "a", L(1));
    r = elect(f, req, 2);
    assert_int_equal(r.ErrorCode, KERR_INVALID_REQUEST);
    expect_result(&r.ReplicaElectionResults[0].PartitionResult[0], 1, KERR_INVALID_REQUEST, "Unknown election type 5");
    assert_int_equal(f->recs.n, 0);
    /* No partitions at all: an empty answer. */
    req = el_req(f, 0, 0);
    r = elect(f, req, 2);
    assert_int_equal(r.ErrorCode, KERR_NONE);
    assert_int_equal(r.ReplicaElectionResults_n, 0);
    assert_int_equal(f->recs.n, 0);
}

/* The answer of an undecided request (NOT_CONTROLLER from the queue, a forwarding failure): every listed
 * partition and the top level carry the error; every-partition requests get the top level only. */
static void test_elect_error_response(void **state)
{
    struct fx *f = *state;
    struct ElectLeadersRequest *req = el_req(f, 1, 2);
    el_topic(f, req, 0, "a", L(3, 0));
    el_topic(f, req, 1, "zz", L(-1));
    INIT(ElectLeadersResponse, r);
    assert_int_equal(ctrl_elect_leaders_error(req, &f->a, KERR_NOT_CONTROLLER, NULL, &r), 0);
    assert_int_equal(r.ErrorCode, KERR_NOT_CONTROLLER);
    assert_int_equal(r.ReplicaElectionResults_n, 2);
    assert_str(r.ReplicaElectionResults[0].Topic, "a");
    assert_int_equal(r.ReplicaElectionResults[0].PartitionResult_n, 2);
    expect_result(&r.ReplicaElectionResults[0].PartitionResult[0], 3, KERR_NOT_CONTROLLER, NULL);
    expect_result(&r.ReplicaElectionResults[0].PartitionResult[1], 0, KERR_NOT_CONTROLLER, NULL);
    assert_int_equal(r.ReplicaElectionResults[0].PartitionResult[0].ErrorMessage.len, -1);
    assert_int_equal(r.ReplicaElectionResults[1].PartitionResult_n, 0);
    assert_int_equal(ctrl_elect_leaders_error(req, &f->a, KERR_UNKNOWN_SERVER_ERROR, "not forwarded", &r), 0);
    expect_result(&r.ReplicaElectionResults[0].PartitionResult[1], 0, KERR_UNKNOWN_SERVER_ERROR, "not forwarded");
    req->TopicPartitions = NULL;
    req->TopicPartitions_n = -1;
    assert_int_equal(ctrl_elect_leaders_error(req, &f->a, KERR_NOT_CONTROLLER, NULL, &r), 0);
    assert_int_equal(r.ErrorCode, KERR_NOT_CONTROLLER);
    assert_int_equal(r.ReplicaElectionResults_n, 0);
    assert_int_equal(f->recs.n, 0);
}

static void test_rebalance(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "r");
    assert_false(ctrl_leaders_imbalanced(&f->img));
    assert_int_equal(ctrl_rebalance_next_ms(&f->img, &f->env, false, 0), -1); /* nothing to balance */
    for (int32_t p = 0; p < CTRL_MAX_ELECTIONS_PER_IMBALANCE + 1; p++)
        fx_partition(f, t, p, L(1, 2), L(1, 2), 2);
    proto_uuid s = fx_topic(f, "s");
    fx_partition(f, s, 0, L(3, 1), L(1), 1); /* the preferred replica is out of sync: stays */
    fx_partition(f, s, 1, L(1, 2), L(1, 2), 1);
    assert_true(ctrl_leaders_imbalanced(&f->img));
    assert_int_equal(ctrl_rebalance_next_ms(&f->img, &f->env, false, 1000), 1000 + 300000);
    f->env.auto_leader_rebalance_enable = false;
    assert_int_equal(ctrl_rebalance_next_ms(&f->img, &f->env, false, 1000), -1);
    f->env.auto_leader_rebalance_enable = true;
    bool more;
    assert_int_equal(ctrl_balance_partition_leaders(&f->img, &f->env, &more, &f->recs), 0);
    assert_true(more);
    assert_int_equal(ctrl_rebalance_next_ms(&f->img, &f->env, more, 2000), 2010);
    assert_int_equal(f->recs.n, CTRL_MAX_ELECTIONS_PER_IMBALANCE);
    commit(f);
    assert_int_equal(ctrl_balance_partition_leaders(&f->img, &f->env, &more, &f->recs), 0);
    assert_false(more);
    assert_int_equal(f->recs.n, 1);
    commit(f);
    for (int32_t p = 0; p < CTRL_MAX_ELECTIONS_PER_IMBALANCE + 1; p++)
        assert_int_equal(fx_part(f, "r", p)->leader, 1);
    assert_int_equal(fx_part(f, "s", 0)->leader, 1);
    assert_true(ctrl_leaders_imbalanced(&f->img)); /* s-0 stays imbalanced until 3 is back in sync */
    assert_int_equal(ctrl_balance_partition_leaders(&f->img, &f->env, &more, &f->recs), 0);
    assert_int_equal(f->recs.n, 0);
}

/* ---- AlterPartition ---- */

static struct AlterPartitionRequest *ap_req(struct fx *f, int32_t broker, const char *topic, int32_t pid,
                                            int32_t leader_epoch, int32_t part_epoch, const int32_t *isr)
{
    struct AlterPartitionRequest *r = proto_arena_alloc(&f->a, sizeof *r);
    proto_struct_init(proto_msg_AlterPartitionRequest.body, r);
    const struct md_broker *b = md_image_broker(&f->img, broker);
    r->BrokerId = broker;
    r->BrokerEpoch = b ? b->epoch : -1;
    r->Topics = proto_array_new(&f->a, &desc_AlterPartitionRequest_TopicData, 1);
    r->Topics_n = 1;
    struct AlterPartitionRequest_TopicData *td = &r->Topics[0];
    const struct md_topic *t = md_image_topic(&f->img, topic);
    td->TopicName = proto_str_from(topic);
    td->TopicId = t ? t->id : fx_uuid(0x99, 0x99);
    td->Partitions = proto_array_new(&f->a, &desc_AlterPartitionRequest_PartitionData, 1);
    td->Partitions_n = 1;
    struct AlterPartitionRequest_PartitionData *pd = &td->Partitions[0];
    int32_t n;
    pd->PartitionIndex = pid;
    pd->LeaderEpoch = leader_epoch;
    pd->PartitionEpoch = part_epoch;
    pd->NewIsr = fx_list(f, isr, &n);
    pd->NewIsr_n = n;
    pd->NewIsrWithEpochs = proto_array_new(&f->a, &desc_AlterPartitionRequest_BrokerState, n);
    pd->NewIsrWithEpochs_n = n;
    for (int32_t i = 0; i < n; i++) {
        const struct md_broker *m = md_image_broker(&f->img, isr[i]);
        pd->NewIsrWithEpochs[i] = (struct AlterPartitionRequest_BrokerState){isr[i], m ? m->epoch : -1};
    }
    return r;
}

static struct AlterPartitionResponse ap(struct fx *f, const struct AlterPartitionRequest *req, int16_t version)
{
    INIT(AlterPartitionResponse, resp);
    assert_int_equal(ctrl_alter_partition(&f->img, &f->env, req, version, &f->a, &resp, &f->recs), 0);
    return resp;
}

/* The one partition's error code. */
static int16_t ap_code(struct fx *f, const struct AlterPartitionRequest *req, int16_t version)
{
    struct AlterPartitionResponse r = ap(f, req, version);
    assert_int_equal(r.ErrorCode, KERR_NONE);
    assert_int_equal(r.Topics_n, 1);
    assert_int_equal(r.Topics[0].Partitions_n, 1);
    return r.Topics[0].Partitions[0].ErrorCode;
}

static void test_alter_partition_isr(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "a");
    fx_partition(f, t, 0, L(1, 2, 3), L(1, 2, 3), 1);
    struct AlterPartitionResponse r = ap(f, ap_req(f, 1, "a", 0, 0, 0, L(1, 2)), 2);
    const struct AlterPartitionResponse_PartitionData *pd = &r.Topics[0].Partitions[0];
    assert_true(proto_uuid_eq(r.Topics[0].TopicId, t));
    assert_int_equal(pd->ErrorCode, KERR_NONE);
    assert_int_equal(pd->LeaderId, 1);
    assert_int_equal(pd->LeaderEpoch, 0); /* an ISR shrink does not bump the leader epoch from 3.6 */
    assert_int_equal(pd->PartitionEpoch, 1);
    fx_ints(pd->Isr, pd->Isr_n, L(1, 2));
    assert_int_equal(f->recs.n, 1);
    const struct PartitionChangeRecord *pc = fx_rec(f, 0, &proto_msg_PartitionChangeRecord);
    assert_int_equal(pc->Leader, MD_LEADER_UNCHANGED);
    fx_ints(pc->Isr, pc->Isr_n, L(1, 2));
    commit(f);
    const struct md_partition *p = fx_part(f, "a", 0);
    assert_int_equal(p->partition_epoch, 1);
    fx_ints(p->isr.v, p->isr.n, L(1, 2));
    /* A request at the old partition epoch is stale now. */
    assert_int_equal(ap_code(f, ap_req(f, 1, "a", 0, 0, 0, L(1, 2, 3)), 2), KERR_INVALID_UPDATE_VERSION);
    /* Expand (v3 with broker epochs), then the same ISR again: no change, the current state. */
    r = ap(f, ap_req(f, 1, "a", 0, 0, 1, L(1, 2, 3)), 3);
    assert_int_equal(r.Topics[0].Partitions[0].PartitionEpoch, 2);
    commit(f);
    r = ap(f, ap_req(f, 1, "a", 0, 0, 2, L(1, 2, 3)), 3);
    pd = &r.Topics[0].Partitions[0];
    assert_int_equal(pd->ErrorCode, KERR_NONE);
    assert_int_equal(pd->PartitionEpoch, 2);
    fx_ints(pd->Isr, pd->Isr_n, L(1, 2, 3));
    assert_int_equal(f->recs.n, 0);
}

static void test_alter_partition_errors(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "a");
    fx_partition(f, t, 0, L(1, 2, 3), L(1, 2, 3), 1);
    struct AlterPartitionRequest *req = ap_req(f, 1, "a", 0, 0, 0, L(1, 2));
    req->BrokerEpoch = 77;
    struct AlterPartitionResponse r = ap(f, req, 2);
    assert_int_equal(r.ErrorCode, KERR_STALE_BROKER_EPOCH);
    assert_int_equal(r.Topics_n, 0);
    assert_int_equal(ap_code(f, ap_req(f, 1, "zz", 0, 0, 0, L(1)), 2), KERR_UNKNOWN_TOPIC_ID);
    assert_int_equal(ap_code(f, ap_req(f, 1, "zz", 0, 0, 0, L(1)), 1), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(ap_code(f, ap_req(f, 1, "a", 9, 0, 0, L(1)), 2), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(ap_code(f, ap_req(f, 1, "a", 0, 1, 0, L(1)), 2), KERR_NOT_CONTROLLER);
    assert_int_equal(ap_code(f, ap_req(f, 1, "a", 0, 0, 1, L(1)), 2), KERR_NOT_CONTROLLER);
    assert_int_equal(ap_code(f, ap_req(f, 1, "a", 0, -1, 0, L(1)), 2), KERR_FENCED_LEADER_EPOCH);
    assert_int_equal(ap_code(f, ap_req(f, 2, "a", 0, 0, 0, L(1, 2)), 2), KERR_INVALID_REQUEST); /* not the leader */
    assert_int_equal(ap_code(f, ap_req(f, 1, "a", 0, 0, 0, L(2, 3)), 2), KERR_INVALID_REQUEST); /* leader left out */
    assert_int_equal(ap_code(f, ap_req(f, 1, "a", 0, 0, 0, L(1, 4)), 2), KERR_INVALID_REQUEST); /* not a replica */
    assert_int_equal(ap_code(f, ap_req(f, 1, "a", 0, 0, 0, L(1, 1)), 2), KERR_INVALID_REQUEST); /* repeated */
    req = ap_req(f, 1, "a", 0, 0, 0, L(1, 2));
    req->Topics[0].Partitions[0].LeaderRecoveryState = 1; /* RECOVERED -> RECOVERING, and two members */
    assert_int_equal(ap_code(f, req, 2), KERR_INVALID_REQUEST);
    req = ap_req(f, 1, "a", 0, 0, 0, L(1, 2));
    req->Topics[0].Partitions[0].NewIsrWithEpochs[1].BrokerEpoch = 1000;
    assert_int_equal(ap_code(f, req, 3), KERR_INELIGIBLE_REPLICA);
    req->Topics[0].Partitions[0].NewIsrWithEpochs[1].BrokerEpoch = -1; /* no check */
    assert_int_equal(ap_code(f, req, 3), KERR_NONE);
    ctrl_records_truncate(&f->recs, 0);
    fx_fence(f, 3);
    assert_int_equal(ap_code(f, ap_req(f, 1, "a", 0, 0, 0, L(1, 2, 3)), 2), KERR_INELIGIBLE_REPLICA);
    assert_int_equal(ap_code(f, ap_req(f, 1, "a", 0, 0, 0, L(1, 2, 3)), 1), KERR_OPERATION_NOT_ATTEMPTED);
    assert_int_equal(f->recs.n, 0);
}

static void test_alter_partition_old_mv_and_recovery(void **state)
{
    struct fx *f = *state;
    INIT(FeatureLevelRecord, fl);
    fl.Name = proto_str_from("metadata.version");
    fl.FeatureLevel = 11; /* 3.5-IV2: an ISR shrink bumps the leader epoch */
    assert_int_equal(md_image_apply(&f->img, &proto_msg_FeatureLevelRecord, &fl, f->off++, NULL), 0);
    proto_uuid t = fx_topic(f, "o");
    fx_partition(f, t, 0, L(1, 2), L(1, 2), 1);
    struct AlterPartitionResponse r = ap(f, ap_req(f, 1, "o", 0, 0, 0, L(1)), 2);
    assert_int_equal(r.Topics[0].Partitions[0].LeaderEpoch, 1);
    const struct PartitionChangeRecord *pc = fx_rec(f, 0, &proto_msg_PartitionChangeRecord);
    assert_int_equal(pc->Leader, 1);
    commit(f);
    assert_int_equal(fx_part(f, "o", 0)->leader_epoch, 1);
    /* A leader that recovered from an unclean election reports RECOVERED. */
    INIT(PartitionChangeRecord, rec);
    rec.TopicId = t;
    rec.PartitionId = 0;
    rec.LeaderRecoveryState = 1;
    assert_int_equal(md_image_apply(&f->img, &proto_msg_PartitionChangeRecord, &rec, f->off++, NULL), 0);
    struct AlterPartitionRequest *req = ap_req(f, 1, "o", 0, 1, 2, L(1));
    req->Topics[0].Partitions[0].LeaderRecoveryState = 0;
    r = ap(f, req, 2);
    assert_int_equal(r.Topics[0].Partitions[0].ErrorCode, KERR_NONE);
    assert_int_equal(r.Topics[0].Partitions[0].LeaderRecoveryState, 0);
    pc = fx_rec(f, 0, &proto_msg_PartitionChangeRecord);
    assert_int_equal(pc->LeaderRecoveryState, 0);
    assert_int_equal(pc->Isr_n, -1);
    commit(f);
    assert_int_equal(fx_part(f, "o", 0)->leader_recovery_state, 0);
}

static void test_alter_partition_completes_reassignment(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "m");
    /* Moving from [1, 2] to [2, 3]: replicas [1, 2, 3], removing [1], adding [3]. */
    INIT(PartitionRecord, p);
    p.TopicId = t;
    p.PartitionId = 0;
    p.Replicas = (int32_t *)L(1, 2, 3);
    p.Replicas_n = 3;
    p.Isr = (int32_t *)L(1, 2);
    p.Isr_n = 2;
    p.RemovingReplicas = (int32_t *)L(1);
    p.RemovingReplicas_n = 1;
    p.AddingReplicas = (int32_t *)L(3);
    p.AddingReplicas_n = 1;
    p.Leader = 1;
    p.LeaderEpoch = 0;
    p.PartitionEpoch = 0;
    assert_int_equal(md_image_apply(&f->img, &proto_msg_PartitionRecord, &p, f->off++, NULL), 0);
    /* Replica 3 caught up: the reassignment completes, and leadership leaves the removed replica 1. */
    assert_int_equal(ap_code(f, ap_req(f, 1, "m", 0, 0, 0, L(1, 2, 3)), 1), KERR_FENCED_LEADER_EPOCH);
    ctrl_records_truncate(&f->recs, 0);
    assert_int_equal(ap_code(f, ap_req(f, 1, "m", 0, 0, 0, L(1, 2, 3)), 2), KERR_NEW_LEADER_ELECTED);
    assert_int_equal(f->recs.n, 1);
    const struct PartitionChangeRecord *pc = fx_rec(f, 0, &proto_msg_PartitionChangeRecord);
    assert_int_equal(pc->Leader, 2);
    fx_ints(pc->Isr, pc->Isr_n, L(2, 3));
    fx_ints(pc->Replicas, pc->Replicas_n, L(2, 3));
    assert_int_equal(pc->RemovingReplicas_n, 0);
    assert_int_equal(pc->AddingReplicas_n, 0);
    assert_int_equal(pc->Directories_n, 2);
    commit(f);
    const struct md_partition *mp = fx_part(f, "m", 0);
    fx_ints(mp->replicas.v, mp->replicas.n, L(2, 3));
    assert_int_equal(mp->removing.n, 0);
    assert_int_equal(mp->adding.n, 0);
    assert_int_equal(mp->leader, 2);
}

/* ---- allocation failures: FERRY_ENOMEM and no record ---- */

static struct fx *elect_fx(void)
{
    struct fx *f = fx_new(3);
    proto_uuid t = fx_topic(f, "e");
    fx_partition(f, t, 0, L(1, 2, 3), L(1, 2, 3), 2);
    fx_partition(f, t, 1, L(1, 2), L(1, 2), 1);
    fx_partition(f, t, 2, L(2, 1), L(1), MD_NO_LEADER);
    struct ElectLeadersRequest *req = el_req(f, 0, 2);
    el_topic(f, req, 0, "e", L(0, 1, 2));
    el_topic(f, req, 1, "nope", L(0));
    f->req = req;
    return f;
}

static int decide_elect(struct fx *f)
{
    INIT(ElectLeadersResponse, resp);
    return ctrl_elect_leaders(&f->img, &f->env, f->req, 2, &f->a, &resp, &f->recs);
}

static int decide_elect_all(struct fx *f)
{
    struct ElectLeadersRequest *req = f->req;
    req->TopicPartitions_n = -1;
    return decide_elect(f);
}

static int decide_balance(struct fx *f)
{
    bool more;
    return ctrl_balance_partition_leaders(&f->img, &f->env, &more, &f->recs);
}

static struct fx *alter_fx(void)
{
    struct fx *f = fx_new(3);
    proto_uuid t = fx_topic(f, "a");
    fx_partition(f, t, 0, L(1, 2, 3), L(1, 2, 3), 1);
    fx_partition(f, t, 1, L(1, 2, 3), L(1, 2, 3), 1);
    struct AlterPartitionRequest *req = ap_req(f, 1, "a", 0, 0, 0, L(1, 2));
    /* Both partitions shrink. */
    struct AlterPartitionRequest_TopicData *td = &req->Topics[0];
    struct AlterPartitionRequest_PartitionData *pd =
        proto_array_new(&f->a, &desc_AlterPartitionRequest_PartitionData, 2);
    pd[0] = td->Partitions[0];
    pd[1] = td->Partitions[0];
    pd[1].PartitionIndex = 1;
    td->Partitions = pd;
    td->Partitions_n = 2;
    f->req = req;
    return f;
}

static int decide_alter(struct fx *f)
{
    INIT(AlterPartitionResponse, resp);
    return ctrl_alter_partition(&f->img, &f->env, f->req, 3, &f->a, &resp, &f->recs);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    fx_alloc_sweep(elect_fx, decide_elect, 2);
    fx_alloc_sweep(elect_fx, decide_elect_all, 2);
    fx_alloc_sweep(elect_fx, decide_balance, 2);
    fx_alloc_sweep(alter_fx, decide_alter, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_elect_preferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elect_unclean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elect_all_and_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elect_error_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebalance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alter_partition_isr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alter_partition_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alter_partition_old_mv_and_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alter_partition_completes_reassignment, setup, teardown),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
