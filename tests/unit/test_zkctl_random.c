/* Randomized test of the ZooKeeper-mode controller core (zkmode/controller/zkctl.h), seeded and replayable:
 * brokers go down, come back, bounce and shut down in a controlled way, leaders send AlterPartition, ticks
 * trigger rebalancing, and znode writes fail now and then (BADVERSION, CONNLOSS before or after the server
 * applied them). After every step, with the simulated ZooKeeper quiescent, it checks:
 *  - the ISR is never empty and stays inside the replicas;
 *  - every partition with an eligible (registered, not shutting down) ISR member has a registered leader
 *    that is in the ISR;
 *  - leader epochs and partition epochs only grow, in ZooKeeper and in the LeaderAndIsr each broker gets;
 *  - every znode write was a multi starting with the /controller_epoch check;
 *  - the controller's view equals what ZooKeeper holds.
 * ZKCTL_SEED=<n> runs one seed; ZKCTL_SEEDS=<n> sets how many seeds run (default 100). A failure names the
 * seed and the step. */
#include "test_zkctl_util.h"

#define NB 5
#define MAXP 16

struct world {
    struct sim s;
    unsigned seed;
    int step;
    uint64_t rng;
    bool up[NB + 1];
    bool sd[NB + 1];
    int64_t epoch[NB + 1];
    int64_t next_epoch;
    uint64_t token;
    /* highest seen per partition (index = topic * MAXP + partition) */
    int32_t max_le[3 * MAXP], max_ver[3 * MAXP];
    int32_t max_lair_le[NB + 1][3 * MAXP];
    size_t lair_seen;
};

static const char *topics[] = {"a", "b", "c"};
static const int n_parts[] = {6, 4, 3};
static const char *assign_json[] = {
    "{\"0\":[1,2,3],\"1\":[2,3,4],\"2\":[3,4,5],\"3\":[4,5,1],\"4\":[5,1,2],\"5\":[1,3,5]}",
    "{\"0\":[1,2],\"1\":[2,3],\"2\":[4,5],\"3\":[5,1]}",
    "{\"0\":[1],\"1\":[3],\"2\":[5]}",
};

static uint32_t rnd(struct world *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return (uint32_t)(w->rng >> 11);
}

#define CHECK(w, cond, ...)                                                                   \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            print_error("seed %u step %d: ", (w)->seed, (w)->step);                          \
            print_error(__VA_ARGS__);                                                         \
            print_error("\n");                                                                \
            fail();                                                                           \
        }                                                                                     \
    } while (0)

static bool has(const int32_t *v, size_t n, int32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static bool eligible(const struct world *w, int32_t b) { return b >= 1 && b <= NB && w->up[b] && !w->sd[b]; }

static void check_invariants(struct world *w)
{
    struct sim *s = &w->s;
    CHECK(w, !s->unchecked_write, "a znode write without the epoch check");
    CHECK(w, zkctl_is_active(s->c), "the controller resigned");
    for (int t = 0; t < 3; t++) {
        for (int p = 0; p < n_parts[t]; p++) {
            char path[128];
            snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state", topics[t], p);
            struct sim_node *n = sim_node(s, path);
            zkctl_partition_view v;
            CHECK(w, zkctl_partition(s->c, topics[t], p, &v) == 0, "%s-%d unknown to the controller", topics[t], p);
            if (!n) {
                CHECK(w, !v.has_state, "%s-%d: the controller has a state ZooKeeper does not", topics[t], p);
                continue;
            }
            zk_partition_state st;
            CHECK(w, zk_partition_state_decode(n->data, n->len, &st, NULL) == 0, "%s undecodable", path);
            CHECK(w, st.n_isr > 0, "%s: empty ISR", path);
            bool any_eligible = false;
            for (size_t i = 0; i < st.n_isr; i++) {
                CHECK(w, has(v.replicas, v.n_replicas, st.isr[i]), "%s: ISR member %d not a replica", path,
                      (int)st.isr[i]);
                any_eligible |= eligible(w, st.isr[i]);
            }
            if (any_eligible) {
                bool leader_ok = st.leader >= 1 && st.leader <= NB && w->up[st.leader] &&
                                 has(st.isr, st.n_isr, st.leader);
                CHECK(w, leader_ok, "%s: an eligible ISR member but leader %d", path, (int)st.leader);
            }
            int k = t * MAXP + p;
            CHECK(w, st.leader_epoch >= w->max_le[k], "%s: leader epoch went back %d -> %d", path, w->max_le[k],
                  (int)st.leader_epoch);
            CHECK(w, n->version >= w->max_ver[k], "%s: zkVersion went back", path);
            w->max_le[k] = st.leader_epoch;
            w->max_ver[k] = n->version;
            /* the controller's view is what ZooKeeper holds */
            CHECK(w, v.has_state && v.leader == st.leader && v.leader_epoch == st.leader_epoch &&
                         v.n_isr == st.n_isr && !memcmp(v.isr, st.isr, st.n_isr * sizeof(int32_t)) &&
                         v.zkversion == n->version,
                  "%s: controller view (leader %d epoch %d zkv %d) differs from ZooKeeper (leader %d epoch %d zkv %d)",
                  path, (int)v.leader, (int)v.leader_epoch, (int)v.zkversion, (int)st.leader, (int)st.leader_epoch,
                  (int)n->version);
            zk_partition_state_free(&st);
        }
    }
    /* LeaderAndIsr leader epochs never go back for a broker */
    for (size_t i = w->lair_seen; i < s->n_sent; i++) {
        const zkctl_action *a = s->sent[i];
        if (a->kind != ZKCTL_ACT_SEND || a->api_key != ZKCTL_API_LEADER_AND_ISR)
            continue;
        const struct LeaderAndIsrRequest *r = a->body;
        CHECK(w, r->BrokerEpoch == w->epoch[a->broker_id], "LeaderAndIsr to %d with broker epoch %lld, not %lld",
              (int)a->broker_id, (long long)r->BrokerEpoch, (long long)w->epoch[a->broker_id]);
        for (int32_t ti = 0; ti < r->TopicStates_n; ti++) {
            int t = r->TopicStates[ti].TopicName.p[0] - 'a';
            for (int32_t j = 0; j < r->TopicStates[ti].PartitionStates_n; j++) {
                const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *ps = &r->TopicStates[ti].PartitionStates[j];
                int k = t * MAXP + ps->PartitionIndex;
                CHECK(w, ps->LeaderEpoch >= w->max_lair_le[a->broker_id][k], "LeaderAndIsr epoch went back");
                w->max_lair_le[a->broker_id][k] = ps->LeaderEpoch;
            }
        }
    }
    sim_clear_sent(s);
    w->lair_seen = 0;
}

static void maybe_fault(struct world *w)
{
    uint32_t r = rnd(w) % 10;
    if (r == 0) {
        w->s.inject_path = "/state";
        w->s.inject_rc = ZKCTL_ZK_BADVERSION;
        w->s.inject_apply = false;
    } else if (r == 1) {
        w->s.inject_path = "/state";
        w->s.inject_rc = ZKCTL_ZK_CONNLOSS;
        w->s.inject_apply = rnd(w) % 2;
    }
}

static void step_alter(struct world *w)
{
    struct sim *s = &w->s;
    int t = (int)(rnd(w) % 3), p = (int)(rnd(w) % (uint32_t)n_parts[t]);
    zkctl_partition_view v;
    if (zkctl_partition(s->c, topics[t], p, &v) || !v.has_state || v.leader < 1 || !w->up[v.leader])
        return;
    int32_t isr[8];
    size_t n = v.n_isr;
    memcpy(isr, v.isr, n * sizeof(int32_t));
    int32_t pick = v.replicas[rnd(w) % v.n_replicas];
    bool valid = true;
    if (has(isr, n, pick)) {
        if (pick == v.leader || n == 1)
            return;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (isr[i] != pick)
                isr[k++] = isr[i];
        n = k;
    } else {
        isr[n++] = pick;
    }
    for (size_t i = 0; i < n; i++)
        valid &= eligible(w, isr[i]);
    bool stale = rnd(w) % 5 == 0;
    struct AlterPartitionRequest_PartitionData pd = {.PartitionIndex = p, .LeaderEpoch = v.leader_epoch,
                                                     .PartitionEpoch = v.zkversion - (stale ? 1 : 0),
                                                     .NewIsr = isr, .NewIsr_n = (int32_t)n};
    struct AlterPartitionRequest_TopicData td = {.TopicName = {topics[t], 1}, .Partitions = &pd, .Partitions_n = 1};
    struct AlterPartitionRequest req = {.BrokerId = v.leader, .BrokerEpoch = w->epoch[v.leader], .Topics = &td,
                                        .Topics_n = 1};
    uint64_t token = ++w->token;
    bool faulty = w->s.inject_path != NULL;
    CHECK(w, zkctl_alter_partition(s->c, token, 1, &req) == 0, "AlterPartition refused");
    sim_run(s);
    const zkctl_action *a = sim_response(s, token);
    CHECK(w, a != NULL, "AlterPartition not answered");
    const struct AlterPartitionResponse *r = a->body;
    CHECK(w, r->ErrorCode == 0 && r->Topics_n == 1, "AlterPartition top-level error %d", r->ErrorCode);
    int16_t err = r->Topics[0].Partitions[0].ErrorCode;
    if (faulty) /* an injected write failure: answered with INVALID_UPDATE_VERSION or OPERATION_NOT_ATTEMPTED */
        CHECK(w, err == 0 || err == KERR_INVALID_UPDATE_VERSION || err == KERR_OPERATION_NOT_ATTEMPTED,
              "AlterPartition with a failed write answered %d", err);
    else if (stale)
        CHECK(w, err == KERR_INVALID_UPDATE_VERSION, "stale AlterPartition answered %d", err);
    else if (!valid)
        CHECK(w, err == KERR_OPERATION_NOT_ATTEMPTED, "ineligible AlterPartition answered %d", err);
    else
        CHECK(w, err == 0, "valid AlterPartition answered %d", err);
}

static void step_shutdown(struct world *w, int32_t b)
{
    struct sim *s = &w->s;
    uint64_t token = ++w->token;
    struct ControlledShutdownRequest req = {.BrokerId = b, .BrokerEpoch = w->epoch[b]};
    w->sd[b] = true;
    CHECK(w, zkctl_controlled_shutdown(s->c, token, 3, &req) == 0, "ControlledShutdown refused");
    sim_run(s);
    const zkctl_action *a = sim_response(s, token);
    CHECK(w, a != NULL, "ControlledShutdown not answered");
    const struct ControlledShutdownResponse *r = a->body;
    CHECK(w, r->ErrorCode == 0, "ControlledShutdown error %d", r->ErrorCode);
    /* what it still leads has no other eligible ISR member, or no other replica */
    for (int32_t i = 0; i < r->RemainingPartitions_n; i++) {
        int t = r->RemainingPartitions[i].TopicName.p[0] - 'a';
        zkctl_partition_view v;
        CHECK(w, zkctl_partition(s->c, topics[t], r->RemainingPartitions[i].PartitionIndex, &v) == 0, "unknown");
        CHECK(w, v.leader == b, "a remaining partition not led by the broker");
        for (size_t k = 0; k < v.n_isr && v.n_replicas > 1; k++)
            CHECK(w, !eligible(w, v.isr[k]), "%s-%d still led by %d with eligible ISR member %d", topics[t],
                  (int)r->RemainingPartitions[i].PartitionIndex, (int)b, (int)v.isr[k]);
    }
}

static void run_seed(unsigned seed, int steps)
{
    struct world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    w->seed = seed;
    w->rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed * 0x100000001B3ull);
    if (!w->rng)
        w->rng = 1;
    sim_init(&w->s, 1);
    w->next_epoch = 100;
    for (int32_t b = 1; b <= NB; b++) {
        w->up[b] = rnd(w) % 4 != 0;
        if (w->up[b]) {
            w->epoch[b] = ++w->next_epoch;
            sim_add_broker(&w->s, b, w->epoch[b]);
        }
    }
    for (int t = 0; t < 3; t++)
        sim_topic(&w->s, topics[t], assign_json[t], t == 0 ? TID : t == 1 ? TID2 : "AAAAAAAAAAAAAAAAAAAAAg");
    w->step = -1;
    CHECK(w, sim_become(&w->s) == 0, "become_controller failed");
    int64_t now = 1000;
    check_invariants(w);
    for (w->step = 0; w->step < steps; w->step++) {
        maybe_fault(w);
        int32_t b = (int32_t)(rnd(w) % NB) + 1;
        switch (rnd(w) % 8) {
        case 0:
        case 1:
            if (w->up[b]) {
                w->up[b] = w->sd[b] = false;
                CHECK(w, sim_gone(&w->s, b) == 0, "broker_gone failed");
            } else {
                w->up[b] = true;
                w->epoch[b] = ++w->next_epoch;
                CHECK(w, sim_register(&w->s, b, w->epoch[b]) == 0, "register failed");
            }
            break;
        case 2:
            if (w->up[b]) { /* bounce */
                w->sd[b] = false;
                w->epoch[b] = ++w->next_epoch;
                CHECK(w, sim_register(&w->s, b, w->epoch[b]) == 0, "bounce failed");
            }
            break;
        case 3:
            if (w->up[b] && !w->sd[b])
                step_shutdown(w, b);
            break;
        case 4:
        case 5:
            step_alter(w);
            break;
        case 6:
            now += (int64_t)(rnd(w) % 200000);
            CHECK(w, zkctl_tick(w->s.c, now) == 0, "tick failed");
            sim_run(&w->s);
            break;
        case 7: {
            int t = (int)(rnd(w) % 3);
            bool on = rnd(w) % 2;
            CHECK(w, zkctl_topic_config(w->s.c, topics[t], true, on) == 0, "config failed");
            sim_run(&w->s);
            break;
        }
        }
        w->s.inject_path = NULL;
        check_invariants(w);
    }
    sim_free(&w->s);
    free(w);
}

static void test_random(void **state)
{
    (void)state;
    const char *one = getenv("ZKCTL_SEED");
    if (one) {
        run_seed((unsigned)strtoul(one, NULL, 10), 300);
        return;
    }
    const char *ns = getenv("ZKCTL_SEEDS");
    unsigned n = ns ? (unsigned)strtoul(ns, NULL, 10) : 100;
    for (unsigned seed = 1; seed <= n; seed++)
        run_seed(seed, 300);
}

int main(void)
{
    ferry_log_set_level(FERRY_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
