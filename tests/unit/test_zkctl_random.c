/* Randomized test of the ZooKeeper-mode controller core (zkmode/controller/zkctl.h), seeded and replayable:
 * brokers go down, come back, bounce and shut down in a controlled way, leaders send AlterPartition, ticks
 * trigger rebalancing, topics are created and deleted (StopReplica failing now and then), replicas land on
 * offline log dirs (LeaderAndIsr KAFKA_STORAGE_ERROR), and znode writes fail (BADVERSION, CONNLOSS before or after the server
 * applied them). After every step, with the simulated ZooKeeper quiescent, it checks:
 *  - the ISR is never empty and stays inside the replicas;
 *  - every partition with an eligible (registered, not shutting down, log dir online) ISR member has a
 *    registered leader with its log dir online that is in the ISR;
 *  - leader epochs and partition epochs only grow, in ZooKeeper and in the LeaderAndIsr each broker gets;
 *  - every znode write was a multi starting with the /controller_epoch check;
 *  - the controller's view equals what ZooKeeper holds;
 *  - a deleted topic leaves nothing behind (its znodes, config and marker).
 * ZKCTL_SEED=<n> runs one seed; ZKCTL_SEEDS=<n> sets how many seeds run (default 60). A failure names the
 * seed and the step. */
#include "test_zkctl_util.h"

#define NB 5
#define MAXP 16
#define MAXT 12

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
    /* topics: a, b, c from the start, then created and deleted ones */
    size_t n_topics;
    char names[MAXT][8];
    int n_parts[MAXT];
    bool deleting[MAXT];
    bool deleted[MAXT];
    bool offline[MAXT][MAXP][NB + 1]; /* replicas reported on an offline log dir, until the broker restarts */
    int created;
    /* highest seen per partition (index = topic * MAXP + partition) */
    int32_t max_le[MAXT * MAXP], max_ver[MAXT * MAXP];
    int32_t max_lair_le[NB + 1][MAXT * MAXP];
    size_t lair_seen;
};

static unsigned deletions_done; /* over all seeds: the randomized run must reach the end of a deletion */

static int topic_index(const struct world *w, const char *name, size_t len)
{
    for (size_t i = 0; i < w->n_topics; i++)
        if (strlen(w->names[i]) == len && !memcmp(w->names[i], name, len))
            return (int)i;
    return -1;
}
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
    for (int t = 0; t < (int)w->n_topics; t++) {
        const char *name = w->names[t];
        if (w->deleting[t]) {
            /* once the core forgets it, nothing of it is left in ZooKeeper */
            zkctl_partition_view v;
            char path[128];
            if (zkctl_partition(s->c, name, 0, &v) == FERRY_ENOTFOUND) {
                if (!w->deleted[t])
                    deletions_done++;
                w->deleted[t] = true;
                for (const char *fmt = "/brokers/topics/%s"; fmt; fmt = !strcmp(fmt, "/brokers/topics/%s") ?
                     "/config/topics/%s" : !strcmp(fmt, "/config/topics/%s") ? "/admin/delete_topics/%s" : NULL) {
                    snprintf(path, sizeof(path), fmt, name);
                    CHECK(w, !sim_node(s, path) && !sim_has_children(s, path), "%s left after deletion", path);
                }
            }
            continue;
        }
        for (int p = 0; p < w->n_parts[t]; p++) {
            char path[128];
            snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state", name, p);
            struct sim_node *n = sim_node(s, path);
            zkctl_partition_view v;
            CHECK(w, zkctl_partition(s->c, name, p, &v) == 0, "%s-%d unknown to the controller", name, p);
            if (!n) {
                CHECK(w, !v.has_state, "%s-%d: the controller has a state ZooKeeper does not", name, p);
                continue;
            }
            zk_partition_state st;
            CHECK(w, zk_partition_state_decode(n->data, n->len, &st, NULL) == 0, "%s undecodable", path);
            CHECK(w, st.n_isr > 0, "%s: empty ISR", path);
            bool any_eligible = false;
            for (size_t i = 0; i < st.n_isr; i++) {
                CHECK(w, has(v.replicas, v.n_replicas, st.isr[i]), "%s: ISR member %d not a replica", path,
                      (int)st.isr[i]);
                any_eligible |= eligible(w, st.isr[i]) && !w->offline[t][p][st.isr[i]];
            }
            if (any_eligible) {
                bool leader_ok = st.leader >= 1 && st.leader <= NB && w->up[st.leader] &&
                                 has(st.isr, st.n_isr, st.leader) && !w->offline[t][p][st.leader];
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
            int t = topic_index(w, r->TopicStates[ti].TopicName.p, (size_t)r->TopicStates[ti].TopicName.len);
            CHECK(w, t >= 0, "LeaderAndIsr for an unknown topic");
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
    int t = (int)(rnd(w) % w->n_topics), p = (int)(rnd(w) % (uint32_t)w->n_parts[t]);
    zkctl_partition_view v;
    if (w->deleting[t] || zkctl_partition(s->c, w->names[t], p, &v) || !v.has_state || v.leader < 1 ||
        !w->up[v.leader])
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
    struct AlterPartitionRequest_TopicData td = {.TopicName = {w->names[t], (int32_t)strlen(w->names[t])},
                                                 .Partitions = &pd, .Partitions_n = 1};
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
        int t = topic_index(w, r->RemainingPartitions[i].TopicName.p, (size_t)r->RemainingPartitions[i].TopicName.len);
        CHECK(w, t >= 0, "a remaining partition of an unknown topic");
        if (w->deleting[t])
            continue;
        zkctl_partition_view v;
        CHECK(w, zkctl_partition(s->c, w->names[t], r->RemainingPartitions[i].PartitionIndex, &v) == 0, "unknown");
        CHECK(w, v.leader == b, "a remaining partition not led by the broker");
        for (size_t k = 0; k < v.n_isr && v.n_replicas > 1; k++)
            CHECK(w, !eligible(w, v.isr[k]) || w->offline[t][r->RemainingPartitions[i].PartitionIndex][v.isr[k]],
                  "%s-%d still led by %d with eligible ISR member %d", w->names[t],
                  (int)r->RemainingPartitions[i].PartitionIndex, (int)b, (int)v.isr[k]);
    }
}

static void step_create(struct world *w)
{
    if (w->n_topics >= MAXT)
        return;
    int t = (int)w->n_topics;
    snprintf(w->names[t], sizeof(w->names[t]), "d%d", w->created++);
    int np = 1 + (int)(rnd(w) % 3), rf = 1 + (int)(rnd(w) % 3);
    char json[256] = "{";
    for (int p = 0; p < np; p++) {
        int first = 1 + (int)(rnd(w) % NB);
        snprintf(json + strlen(json), sizeof(json) - strlen(json), "%s\"%d\":[", p ? "," : "", p);
        for (int r = 0; r < rf; r++)
            snprintf(json + strlen(json), sizeof(json) - strlen(json), "%s%d", r ? "," : "", (first - 1 + r) % NB + 1);
        strcat(json, "]");
    }
    strcat(json, "}");
    char id[23];
    snprintf(id, sizeof(id), "AAAAAAAAAAAAAAAAAAA%c%cA", 'B' + t, 'A' + (w->created % 26)); /* unique, valid */
    sim_topic(&w->s, w->names[t], json, id);
    w->n_parts[t] = np;
    w->deleting[t] = false;
    w->n_topics++;
    char path[64];
    snprintf(path, sizeof(path), "/brokers/topics/%s", w->names[t]);
    struct sim_node *n = sim_node(&w->s, path);
    zk_topic_assignment a;
    CHECK(w, zk_topic_assignment_decode(n->data, n->len, &a, NULL) == 0, "assignment");
    CHECK(w, zkctl_topic_changed(w->s.c, w->names[t], &a) == 0, "topic_changed failed");
    zk_topic_assignment_free(&a);
    sim_run(&w->s);
}

static void step_delete(struct world *w)
{
    int t = 3 + (int)(rnd(w) % 9);
    if (t >= (int)w->n_topics || w->deleting[t])
        return;
    char path[64];
    snprintf(path, sizeof(path), "/admin/delete_topics/%s", w->names[t]);
    sim_put(&w->s, path, NULL);
    w->deleting[t] = true;
    CHECK(w, zkctl_delete_requested(w->s.c, w->names[t]) == 0, "delete_requested failed");
    sim_run(&w->s);
}

static void forget_offline(struct world *w, int32_t b)
{
    for (int t = 0; t < MAXT; t++)
        for (int p = 0; p < MAXP; p++)
            w->offline[t][p][b] = false;
}

/* A broker answers a LeaderAndIsr with KAFKA_STORAGE_ERROR for one of its replicas. */
static void step_offline_dir(struct world *w)
{
    int t = (int)(rnd(w) % w->n_topics), p = (int)(rnd(w) % (uint32_t)w->n_parts[t]);
    zkctl_partition_view v;
    if (w->deleting[t] || zkctl_partition(w->s.c, w->names[t], p, &v))
        return;
    int32_t b = v.replicas[rnd(w) % v.n_replicas];
    if (!w->up[b])
        return;
    struct LeaderAndIsrResponse_LeaderAndIsrPartitionError pe = {
        .TopicName = {w->names[t], (int32_t)strlen(w->names[t])}, .PartitionIndex = p,
        .ErrorCode = KERR_KAFKA_STORAGE_ERROR};
    struct LeaderAndIsrResponse resp = {.PartitionErrors = &pe, .PartitionErrors_n = 1};
    w->offline[t][p][b] = true;
    CHECK(w, zkctl_leader_and_isr_response(w->s.c, b, &resp) == 0, "LeaderAndIsr response refused");
    sim_run(&w->s);
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
    static const int initial_parts[] = {6, 4, 3};
    for (int t = 0; t < 3; t++) {
        snprintf(w->names[t], sizeof(w->names[t]), "%c", 'a' + t);
        w->n_parts[t] = initial_parts[t];
        sim_topic(&w->s, w->names[t], assign_json[t], t == 0 ? TID : t == 1 ? TID2 : "AAAAAAAAAAAAAAAAAAAAAg");
    }
    w->n_topics = 3;
    w->s.auto_stop_replica = true;
    w->step = -1;
    CHECK(w, sim_become(&w->s) == 0, "become_controller failed");
    int64_t now = 1000;
    check_invariants(w);
    for (w->step = 0; w->step < steps; w->step++) {
        maybe_fault(w);
        int32_t b = (int32_t)(rnd(w) % NB) + 1;
        w->s.stop_replica_error = rnd(w) % 6 == 0 ? KERR_KAFKA_STORAGE_ERROR : 0;
        switch (rnd(w) % 11) {
        case 0:
        case 1:
            if (w->up[b]) {
                w->up[b] = w->sd[b] = false;
                forget_offline(w, b);
                CHECK(w, sim_gone(&w->s, b) == 0, "broker_gone failed");
            } else {
                w->up[b] = true;
                forget_offline(w, b);
                w->epoch[b] = ++w->next_epoch;
                CHECK(w, sim_register(&w->s, b, w->epoch[b]) == 0, "register failed");
            }
            break;
        case 2:
            if (w->up[b]) { /* bounce */
                w->sd[b] = false;
                forget_offline(w, b);
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
            CHECK(w, zkctl_topic_config(w->s.c, w->names[t], true, on) == 0, "config failed");
            sim_run(&w->s);
            break;
        }
        case 8:
            step_create(w);
            break;
        case 9:
            step_delete(w);
            break;
        case 10:
            step_offline_dir(w);
            break;
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
    unsigned n = ns ? (unsigned)strtoul(ns, NULL, 10) : 60;
    for (unsigned seed = 1; seed <= n; seed++)
        run_seed(seed, 300);
    print_message("%u topic deletions completed over %u seeds\n", deletions_done, n);
    assert_true(n < 10 || deletions_done > 0);
}

int main(void)
{
    ferry_log_set_level(FERRY_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
