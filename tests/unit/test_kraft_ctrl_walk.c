/* Seeded random walks through the quorum controller core: five brokers heartbeat (sometimes asking to be
 * fenced or to shut down, sometimes pausing past the session timeout), restart with new incarnations,
 * leaders shrink and expand their ISRs, clients ask for elections, the rebalance runs. Every decision is
 * committed to the image (encoded, decoded, applied), and after each one the partition invariants that
 * Kafka's controller keeps must hold (fx_check_invariants). */
#include "test_kraft_ctrl_fx.h"

#define NBROKERS 5
#define STEPS 400
#define SEEDS 100

struct walk {
    struct fx *f;
    uint64_t rng;
    int64_t now;
    int64_t paused_until[NBROKERS + 1]; /* no heartbeats before then */
    bool down[NBROKERS + 1];             /* shut down (told ShouldShutDown): restarts later */
    uint8_t incarnation[NBROKERS + 1];
};

static uint32_t pick(struct walk *w, uint32_t n) { return (uint32_t)(xorshift(&w->rng) % n); }

static void step_heartbeat(struct walk *w)
{
    struct fx *f = w->f;
    int32_t id = (int32_t)pick(w, NBROKERS) + 1;
    if (w->down[id] || w->now < w->paused_until[id])
        return;
    INIT(BrokerHeartbeatRequest, req);
    req.BrokerId = id;
    req.BrokerEpoch = md_image_broker(&f->img, id)->epoch;
    req.CurrentMetadataOffset = pick(w, 5) ? f->off : f->off - 1 - pick(w, 3);
    req.WantFence = pick(w, 40) == 0;
    req.WantShutDown = pick(w, 25) == 0;
    INIT(BrokerHeartbeatResponse, resp);
    assert_int_equal(ctrl_broker_heartbeat(&f->img, &f->env, &f->hb, &req, 1, f->off, w->now, &resp, &f->recs), 0);
    assert_int_equal(resp.ErrorCode, KERR_NONE);
    if (resp.ShouldShutDown) {
        assert_true(resp.IsFenced);
        w->down[id] = true;
        w->paused_until[id] = w->now + 1000 + pick(w, 20000);
    }
}

static void step_restart(struct walk *w)
{
    struct fx *f = w->f;
    int32_t id = (int32_t)pick(w, NBROKERS) + 1;
    if (!w->down[id] || w->now < w->paused_until[id])
        return;
    struct BrokerRegistrationRequest *r = proto_arena_alloc(&f->a, sizeof *r);
    proto_struct_init(proto_msg_BrokerRegistrationRequest.body, r);
    r->BrokerId = id;
    r->ClusterId = proto_str_from(f->img.cluster_id);
    r->IncarnationId = fx_uuid(++w->incarnation[id], (uint8_t)id);
    r->Features = proto_array_new(&f->a, &desc_BrokerRegistrationRequest_Feature, 1);
    r->Features_n = 1;
    r->Features[0] = (struct BrokerRegistrationRequest_Feature){proto_str_from("metadata.version"), 1, 19};
    r->Listeners_n = 0;
    r->LogDirs = proto_arena_alloc(&f->a, sizeof(proto_uuid));
    r->LogDirs[0] = md_image_broker(&f->img, id)->log_dirs[0];
    r->LogDirs_n = 1;
    INIT(BrokerRegistrationResponse, resp);
    assert_int_equal(ctrl_register_broker(&f->img, &f->env, &f->hb, r, 3, f->off, w->now, &resp, &f->recs), 0);
    assert_int_equal(resp.ErrorCode, KERR_NONE); /* it was fenced when it went down: no live session */
    w->down[id] = false;
}

static void step_pause(struct walk *w)
{
    int32_t id = (int32_t)pick(w, NBROKERS) + 1;
    if (!w->down[id])
        w->paused_until[id] = w->now + 5000 + pick(w, 10000);
}

static void step_fence_check(struct walk *w)
{
    struct fx *f = w->f;
    int32_t fenced;
    assert_int_equal(ctrl_fence_stale_broker(&f->img, &f->env, &f->hb, w->now, &fenced, &f->recs), 0);
    if (fenced >= 0)
        assert_false(ctrl_heartbeats_valid_session(&f->hb, fenced, w->now));
}

/* A random partition (of the two topics). */
static const struct md_partition *any_partition(struct walk *w, const struct md_topic **t)
{
    *t = md_image_topic(&w->f->img, pick(w, 2) ? "p" : "q");
    return md_topic_partition(*t, (int32_t)pick(w, (uint32_t)(*t)->nparts)); /* ids 0..nparts-1 */
}

static void step_alter_partition(struct walk *w)
{
    struct fx *f = w->f;
    const struct md_topic *t;
    const struct md_partition *p = any_partition(w, &t);
    if (p->leader == MD_NO_LEADER)
        return;
    INIT(AlterPartitionRequest, req);
    req.BrokerId = p->leader;
    req.BrokerEpoch = md_image_broker(&f->img, p->leader)->epoch;
    req.Topics = proto_array_new(&f->a, &desc_AlterPartitionRequest_TopicData, 1);
    req.Topics_n = 1;
    req.Topics[0].TopicId = t->id;
    req.Topics[0].Partitions = proto_array_new(&f->a, &desc_AlterPartitionRequest_PartitionData, 1);
    req.Topics[0].Partitions_n = 1;
    struct AlterPartitionRequest_PartitionData *pd = &req.Topics[0].Partitions[0];
    pd->PartitionIndex = p->id;
    pd->LeaderEpoch = p->leader_epoch;
    pd->PartitionEpoch = p->partition_epoch;
    pd->NewIsrWithEpochs = proto_array_new(&f->a, &desc_AlterPartitionRequest_BrokerState, p->replicas.n);
    int32_t n = 0;
    bool eligible = true;
    for (int32_t k = 0; k < p->replicas.n; k++) {
        int32_t r = p->replicas.v[k];
        const struct md_broker *b = md_image_broker(&f->img, r);
        if (r != p->leader && pick(w, 3) == 0)
            continue; /* this follower is out of sync */
        if (r != p->leader && pick(w, 4) == 0) {
            eligible &= md_broker_is_active(b);
        } else if (r != p->leader && !md_broker_is_active(b)) {
            continue;
        }
        pd->NewIsrWithEpochs[n++] = (struct AlterPartitionRequest_BrokerState){r, b->epoch};
    }
    pd->NewIsrWithEpochs_n = n;
    INIT(AlterPartitionResponse, resp);
    assert_int_equal(ctrl_alter_partition(&f->img, &f->env, &req, 3, &f->a, &resp, &f->recs), 0);
    const struct AlterPartitionResponse_PartitionData *r = &resp.Topics[0].Partitions[0];
    assert_int_equal(r->ErrorCode, eligible ? KERR_NONE : KERR_INELIGIBLE_REPLICA);
    if (r->ErrorCode != KERR_NONE)
        return;
    /* The answer is the partition as the image will hold it. */
    int32_t pid = p->id;
    commit(f);
    p = md_topic_partition(md_image_topic(&f->img, t->name), pid);
    assert_int_equal(r->LeaderId, p->leader);
    assert_int_equal(r->LeaderEpoch, p->leader_epoch);
    assert_int_equal(r->PartitionEpoch, p->partition_epoch);
    assert_int_equal(r->Isr_n, p->isr.n);
    assert_memory_equal(r->Isr, p->isr.v, (size_t)p->isr.n * sizeof *r->Isr);
}

static void step_elect(struct walk *w)
{
    struct fx *f = w->f;
    const struct md_topic *t;
    const struct md_partition *p = any_partition(w, &t);
    INIT(ElectLeadersRequest, req);
    req.ElectionType = 0;
    req.TopicPartitions = proto_array_new(&f->a, &desc_ElectLeadersRequest_TopicPartitions, 1);
    req.TopicPartitions_n = 1;
    req.TopicPartitions[0].Topic = proto_str_from(t->name);
    int32_t *pid = proto_arena_alloc(&f->a, sizeof *pid);
    *pid = p->id;
    req.TopicPartitions[0].Partitions = pid;
    req.TopicPartitions[0].Partitions_n = 1;
    INIT(ElectLeadersResponse, resp);
    assert_int_equal(ctrl_elect_leaders(&f->img, &f->env, &req, 2, &f->a, &resp, &f->recs), 0);
    int16_t code = resp.ReplicaElectionResults[0].PartitionResult[0].ErrorCode;
    bool preferred_ok = md_ints_contains(&p->isr, p->replicas.v[0]) &&
                        md_broker_is_active(md_image_broker(&f->img, p->replicas.v[0]));
    if (p->leader == p->replicas.v[0])
        assert_int_equal(code, KERR_ELECTION_NOT_NEEDED);
    else if (preferred_ok)
        assert_int_equal(code, KERR_NONE);
    else
        assert_int_equal(code, KERR_PREFERRED_LEADER_NOT_AVAILABLE);
}

static void step_rebalance(struct walk *w)
{
    bool more;
    assert_int_equal(ctrl_balance_partition_leaders(&w->f->img, &w->f->env, &more, &w->f->recs), 0);
    assert_false(more);
}

static void create_topic(struct fx *f, const char *name, int32_t partitions, int16_t rf)
{
    INIT(CreateTopicsRequest, ct);
    ct.Topics = proto_array_new(&f->a, &desc_CreateTopicsRequest_CreatableTopic, 1);
    ct.Topics_n = 1;
    ct.Topics[0].Name = proto_str_from(name);
    ct.Topics[0].NumPartitions = partitions;
    ct.Topics[0].ReplicationFactor = rf;
    ct.Topics[0].Assignments_n = 0;
    ct.Topics[0].Configs_n = 0;
    INIT(CreateTopicsResponse, resp);
    assert_int_equal(ctrl_create_topics(&f->img, &f->env, &ct, 5, &f->a, &resp, &f->recs), 0);
    assert_int_equal(resp.Topics[0].ErrorCode, KERR_NONE);
    commit(f);
}

static void walk(uint64_t seed)
{
    struct walk w = {.rng = seed * 0x9e3779b97f4a7c15ULL + 1};
    struct fx *f = w.f = fx_new(NBROKERS);
    snprintf(f->img.cluster_id, sizeof f->img.cluster_id, "MkU3OEVBNTcwNTJENDM2Qg");
    assert_int_equal(ctrl_heartbeats_activate(&f->hb, &f->img, 0), 0);
    create_topic(f, "p", 12, 3);
    create_topic(f, "q", 4, 2);
    INIT(ConfigRecord, unclean); /* q may elect out-of-sync replicas when its ISR is gone */
    unclean.ResourceType = MD_RESOURCE_TOPIC;
    unclean.ResourceName = proto_str_from("q");
    unclean.Name = proto_str_from("unclean.leader.election.enable");
    unclean.Value = proto_str_from("true");
    assert_int_equal(md_image_apply(&f->img, &proto_msg_ConfigRecord, &unclean, f->off++, NULL), 0);
    fx_check_invariants(f);
    for (int step = 0; step < STEPS; step++) {
        w.now += pick(&w, 800);
        uint32_t what = pick(&w, 100);
        if (what < 45)
            step_heartbeat(&w);
        else if (what < 55)
            step_fence_check(&w);
        else if (what < 65)
            step_restart(&w);
        else if (what < 68)
            step_pause(&w);
        else if (what < 85)
            step_alter_partition(&w);
        else if (what < 95)
            step_elect(&w);
        else
            step_rebalance(&w);
        commit(f);
        fx_check_invariants(f);
    }
    fx_free(f);
}

static void test_random_walks(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= SEEDS; seed++)
        walk(seed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_walks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
