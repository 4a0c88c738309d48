/* Unit tests of the controller core (zkmode/controller/zkctl.h) at failover scale: 10,000 partitions led by
 * a broker that is gone when the controller takes over. Every partition gets one state write, all queued at
 * once, grouped into fenced multis of at most 100 writes (one ZooKeeper transaction each); their results
 * come back in a shuffled order, some as a lost connection (every member re-read and found applied), one
 * failing on one member's version (that member re-read, the others written again), one reported twice; each
 * is matched to its partitions by id. Each partition reaches its live replica in a LeaderAndIsr once. */
#include "test_zkctl_util.h"

#define N_TOPICS 10
#define PER_TOPIC 1000
#define N_PARTS (N_TOPICS * PER_TOPIC)

/* Topics "scale-T" with partitions 0..999 on replicas [1, 2 + p % 2], each led by 1 with ISR [1, 2 + p % 2],
 * state zkVersion 3; brokers 2 and 3 are live (1 died with the old controller). */
struct big {
    zk_partition_replicas reps[N_TOPICS][PER_TOPIC];
    int32_t rep_ids[N_TOPICS][PER_TOPIC][2];
    zk_topic_assignment asg[N_TOPICS];
    zk_partition_state st[N_TOPICS][PER_TOPIC];
    zkctl_state_in sin[N_TOPICS][PER_TOPIC];
    zkctl_topic_in tin[N_TOPICS];
    char names[N_TOPICS][16];
    zkctl_endpoint ep[2];
    zkctl_broker brokers[2];
};

static void big_init(struct big *b, zkctl_snapshot *snap)
{
    memset(b, 0, sizeof(*b));
    for (int i = 0; i < 2; i++) {
        b->ep[i] = (zkctl_endpoint){.listener = "PLAINTEXT", .host = "localhost", .port = 9092 + i};
        b->brokers[i] = (zkctl_broker){.id = 2 + i, .epoch = 100 + i, .n_endpoints = 1, .endpoints = &b->ep[i]};
    }
    for (int t = 0; t < N_TOPICS; t++) {
        snprintf(b->names[t], sizeof(b->names[t]), "scale-%d", t);
        for (int p = 0; p < PER_TOPIC; p++) {
            b->rep_ids[t][p][0] = 1;
            b->rep_ids[t][p][1] = 2 + p % 2;
            b->reps[t][p] = (zk_partition_replicas){.partition = p, .n_replicas = 2, .replicas = b->rep_ids[t][p]};
            b->st[t][p] = (zk_partition_state){.controller_epoch = 1, .leader = 1, .leader_epoch = 4, .n_isr = 2,
                                               .isr = b->rep_ids[t][p]};
            b->sin[t][p] = (zkctl_state_in){.partition = p, .state = &b->st[t][p], .zkversion = 3};
        }
        b->asg[t] = (zk_topic_assignment){.version = 3, .n_partitions = PER_TOPIC, .partitions = b->reps[t],
                                          .has_topic_id = true};
        b->asg[t].topic_id.b[0] = (uint8_t)(t + 1);
        b->tin[t] = (zkctl_topic_in){.name = b->names[t], .assignment = &b->asg[t], .n_states = PER_TOPIC,
                                     .states = b->sin[t]};
    }
    *snap = (zkctl_snapshot){.epoch = 2, .epoch_zkversion = 1, .now_ms = 1000, .n_brokers = 2,
                             .brokers = b->brokers, .n_topics = N_TOPICS, .topics = b->tin};
}

/* The actions queued now: znode multis and reads kept (the caller answers them), requests counted. */
struct drained {
    size_t n_multis, n_reads, n_lair, n_um, lair_parts;
    zkctl_action **multis;
    zkctl_action **reads;
};

static void drain(zkctl *c, struct drained *d)
{
    zkctl_action *a;
    while ((a = zkctl_next_action(c))) {
        if (a->kind == ZKCTL_ACT_ZK_MULTI) {
            assert_true(d->n_multis < N_PARTS + 16);
            d->multis[d->n_multis++] = a;
            continue;
        }
        if (a->kind == ZKCTL_ACT_ZK_READ) {
            assert_true(d->n_reads < N_PARTS + 16);
            d->reads[d->n_reads++] = a;
            continue;
        }
        if (a->kind == ZKCTL_ACT_SEND && a->api_key == ZKCTL_API_LEADER_AND_ISR) {
            const struct LeaderAndIsrRequest *r = a->body;
            d->n_lair++;
            for (int32_t i = 0; i < r->TopicStates_n; i++)
                d->lair_parts += (size_t)r->TopicStates[i].PartitionStates_n;
        } else if (a->kind == ZKCTL_ACT_SEND && a->api_key == ZKCTL_API_UPDATE_METADATA) {
            d->n_um++;
        }
        zkctl_action_free(a);
    }
}

static void drained_init(struct drained *d)
{
    memset(d, 0, sizeof(*d));
    d->multis = calloc(N_PARTS + 16, sizeof(*d->multis));
    d->reads = calloc(N_PARTS + 16, sizeof(*d->reads));
    assert_non_null(d->multis);
    assert_non_null(d->reads);
}

static void drained_free(struct drained *d)
{
    for (size_t i = 0; i < d->n_multis; i++)
        zkctl_action_free(d->multis[i]);
    for (size_t i = 0; i < d->n_reads; i++)
        zkctl_action_free(d->reads[i]);
    free(d->multis);
    free(d->reads);
}

static size_t ops_of(const struct drained *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_multis; i++) {
        const zkctl_action *a = d->multis[i];
        assert_true(a->n_ops >= 2 && a->n_ops <= 101);
        assert_int_equal(a->ops[0].kind, ZKCTL_OP_CHECK);
        assert_string_equal(a->ops[0].path, "/controller_epoch");
        n += a->n_ops - 1;
    }
    return n;
}

/* Controller 2 of epoch 2 over the snapshot of big_init, its first actions in d: a setData of every
 * partition's state in group multis (the requests among them are Kafka's onControllerFailover LeaderAndIsr
 * of the states read). */
static zkctl *started(struct big *b, zkctl_snapshot *snap, struct drained *d)
{
    big_init(b, snap);
    zkctl_config cfg;
    zkctl_config_default(&cfg, 2);
    zkctl *c = NULL;
    assert_int_equal(zkctl_new(&cfg, &c), 0);
    assert_int_equal(zkctl_become_controller(c, snap), 0);
    drained_init(d);
    drain(c, d);
    assert_int_equal(ops_of(d), N_PARTS);
    assert_true(d->n_multis <= N_PARTS / 50);
    for (size_t i = 0; i < d->n_multis; i++)
        for (size_t k = 1; k < d->multis[i]->n_ops; k++) {
            assert_int_equal(d->multis[i]->ops[k].kind, ZKCTL_OP_SET);
            assert_int_equal(d->multis[i]->ops[k].version, 3);
        }
    return c;
}

/* Answers a group: OK with every set's new version = its expected version + 1. */
static void answer_ok(zkctl *c, const zkctl_action *a)
{
    int32_t versions[128] = {0};
    for (size_t k = 1; k < a->n_ops; k++)
        versions[k] = a->ops[k].version + 1;
    assert_int_equal(zkctl_zk_multi_result(c, a->id, ZKCTL_ZK_OK, 0, versions, a->n_ops), 0);
}

static void test_failover_10000_out_of_order(void **state)
{
    (void)state;
    static struct big b;
    zkctl_snapshot snap;
    struct drained d;
    zkctl *c = started(&b, &snap, &d);

    /* the groups answered in a shuffled order (fixed seed) */
    zkctl_action **order = d.multis;
    size_t n = d.n_multis;
    uint64_t x = 0x2545F4914F6CDD1DULL;
    for (size_t i = n - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t j = (size_t)(x % (i + 1));
        zkctl_action *tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    struct drained later;
    drained_init(&later);
    const char *stale_path = order[1]->ops[5].path;
    size_t lost = 0;
    for (size_t i = 0; i < n; i++) {
        const zkctl_action *a = order[i];
        if (i % 7 == 3) {
            /* a lost connection: every member re-read */
            assert_int_equal(zkctl_zk_multi_result(c, a->id, ZKCTL_ZK_CONNLOSS, 0, NULL, 0), 0);
            lost += a->n_ops - 1;
        } else if (i == 1) {
            /* op 5's partition was changed meanwhile: nothing of the group applied */
            assert_int_equal(zkctl_zk_multi_result(c, a->id, ZKCTL_ZK_BADVERSION, 5, NULL, 0), 0);
        } else {
            answer_ok(c, a);
        }
        if (i == 0)
            assert_int_equal(zkctl_zk_result(c, a->id, ZKCTL_ZK_OK, 0, 4), FERRY_ENOTFOUND);
        drain(c, &later);
    }
    assert_int_equal(later.n_reads, lost + 1);
    /* the other 99 of the failed group are written again, in one group */
    assert_int_equal(ops_of(&later), order[1]->n_ops - 2);

    /* until nothing is left: re-reads find the lost writes applied (the stale one finds a newer version of
     * the old state and is written again at that version), writes succeed */
    for (int round = 0; later.n_reads || later.n_multis; round++) {
        assert_true(round < 10);
        struct drained next;
        drained_init(&next);
        next.n_lair = later.n_lair;
        next.lair_parts = later.lair_parts;
        for (size_t i = 0; i < later.n_reads; i++) {
            const zkctl_action *rd = later.reads[i];
            if (strcmp(rd->path, stale_path) == 0) {
                const char *old = "{\"controller_epoch\":1,\"leader\":1,\"version\":1,\"leader_epoch\":4,\"isr\":[1,3]}";
                const char *old2 = "{\"controller_epoch\":1,\"leader\":1,\"version\":1,\"leader_epoch\":4,\"isr\":[1,2]}";
                zk_partition_state st;
                const char *use = old;
                /* the ISR it had: [1, 2 + p % 2] */
                for (size_t k = 1; k < order[1]->n_ops; k++)
                    if (strcmp(order[1]->ops[k].path, stale_path) == 0 &&
                        zk_partition_state_decode(order[1]->ops[k].data, order[1]->ops[k].len, &st, NULL) == 0) {
                        use = st.leader == 2 ? old2 : old;
                        zk_partition_state_free(&st);
                    }
                assert_int_equal(zkctl_zk_read_result(c, rd->id, ZKCTL_ZK_OK, use, strlen(use), 7), 0);
                continue;
            }
            const zkctl_zk_op *w = NULL;
            for (size_t g = 0; g < n && !w; g++)
                for (size_t k = 1; k < order[g]->n_ops && !w; k++)
                    if (strcmp(order[g]->ops[k].path, rd->path) == 0)
                        w = &order[g]->ops[k];
            assert_non_null(w);
            assert_int_equal(zkctl_zk_read_result(c, rd->id, ZKCTL_ZK_OK, w->data, w->len, 4), 0);
        }
        for (size_t i = 0; i < later.n_multis; i++)
            answer_ok(c, later.multis[i]);
        drain(c, &next);
        drained_free(&later);
        later = next;
    }
    /* each partition went to its one live replica exactly once, one LeaderAndIsr per broker and batch */
    assert_int_equal(later.lair_parts, N_PARTS);
    for (int t = 0; t < N_TOPICS; t++)
        for (int p = 0; p < PER_TOPIC; p++) {
            zkctl_partition_view v;
            char path[64];
            snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state", b.names[t], p);
            assert_int_equal(zkctl_partition(c, b.names[t], p, &v), 0);
            assert_int_equal(v.leader, 2 + p % 2);
            assert_int_equal(v.leader_epoch, 5);
            assert_int_equal(v.zkversion, strcmp(path, stale_path) == 0 ? 8 : 4);
            assert_int_equal(v.n_isr, 1);
            assert_int_equal(v.isr[0], 2 + p % 2);
        }
    /* an AlterPartition decides no partition but its own (after a failover the leaders send them by the
     * thousand; each used to decide all 10,000) */
    size_t decided = zkctl_partitions_decided(c);
    struct AlterPartitionRequest_PartitionData apd = {.PartitionIndex = 0, .LeaderEpoch = 5, .PartitionEpoch = 4,
                                                      .NewIsr = (int32_t[]){2}, .NewIsr_n = 1};
    struct AlterPartitionRequest_TopicData atd = {.TopicName = {b.names[0], (int32_t)strlen(b.names[0])},
                                                  .Partitions = &apd, .Partitions_n = 1};
    struct AlterPartitionRequest areq = {.BrokerId = 2, .BrokerEpoch = 100, .Topics = &atd, .Topics_n = 1};
    assert_int_equal(zkctl_alter_partition(c, 77, 1, &areq), 0);
    assert_true(zkctl_partitions_decided(c) - decided < 10);
    drained_free(&d);
    drained_free(&later);
    zkctl_free(c);
}

/* Half of the groups answered (from the last backwards), then a new term: the other half's results are
 * unknown (they belong to the previous term), and the new term writes every partition again. */
static void test_results_after_new_term(void **state)
{
    (void)state;
    static struct big b;
    zkctl_snapshot snap;
    struct drained d;
    zkctl *c = started(&b, &snap, &d);
    for (size_t i = d.n_multis; i-- > d.n_multis / 2;)
        answer_ok(c, d.multis[i]);
    snap.epoch = 3;
    snap.epoch_zkversion = 2;
    assert_int_equal(zkctl_become_controller(c, &snap), 0);
    for (size_t i = 0; i < d.n_multis / 2; i++)
        assert_int_equal(zkctl_zk_result(c, d.multis[i]->id, ZKCTL_ZK_OK, 0, 4), FERRY_ENOTFOUND);
    for (size_t i = 0; i < d.n_multis; i++)
        zkctl_action_free(d.multis[i]);
    d.n_multis = 0;
    drain(c, &d);
    assert_int_equal(ops_of(&d), N_PARTS);
    drained_free(&d);
    zkctl_free(c);
}

int main(void)
{
    ferry_log_set_level(FERRY_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_10000_out_of_order),
        cmocka_unit_test(test_results_after_new_term),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
