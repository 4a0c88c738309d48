/* Unit tests of the controller core (zkmode/controller/zkctl.h) at failover scale: 10,000 partitions led by
 * a broker that is gone when the controller takes over. Every partition gets one fenced state write, all
 * queued at once (none waits for another); their results come back in a shuffled order, some as a lost
 * connection (re-read, found applied) and one reported twice, and each is matched to its partition by id.
 * The LeaderAndIsr and UpdateMetadata requests go out after the last write, one per broker. */
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

/* The actions queued now, split into znode multis (kept) and the rest (counted per kind, then freed). */
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
            d->multis[d->n_multis++] = a;
            continue;
        }
        if (a->kind == ZKCTL_ACT_ZK_READ) {
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

/* Controller 2 of epoch 2 over the snapshot of big_init, its first actions in d: one fenced setData per
 * partition, all at once (the requests among them are Kafka's onControllerFailover LeaderAndIsr of the
 * states read). */
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
    assert_int_equal(d->n_multis, N_PARTS);
    return c;
}

static void test_failover_10000_out_of_order(void **state)
{
    (void)state;
    static struct big b;
    zkctl_snapshot snap;
    struct drained d;
    zkctl *c = started(&b, &snap, &d);
    for (size_t i = 0; i < d.n_multis; i++) {
        assert_int_equal(d.multis[i]->n_ops, 2);
        assert_int_equal(d.multis[i]->ops[0].kind, ZKCTL_OP_CHECK);
        assert_string_equal(d.multis[i]->ops[0].path, "/controller_epoch");
        assert_int_equal(d.multis[i]->ops[1].kind, ZKCTL_OP_SET);
        assert_int_equal(d.multis[i]->ops[1].version, 3);
    }

    /* results in a shuffled order (fixed seed): every 97th a lost connection, answered by a re-read that
     * finds the write applied; the first result reported twice is unknown the second time */
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
    size_t lost = 0;
    for (size_t i = 0; i < n; i++) {
        zkctl_action *a = order[i];
        if (i % 97 == 5) {
            assert_int_equal(zkctl_zk_result(c, a->id, ZKCTL_ZK_CONNLOSS, 1, 0), 0);
            lost++;
        } else {
            assert_int_equal(zkctl_zk_result(c, a->id, ZKCTL_ZK_OK, 0, 4), 0);
        }
        if (i == 0)
            assert_int_equal(zkctl_zk_result(c, a->id, ZKCTL_ZK_OK, 0, 4), FERRY_ENOTFOUND);
        drain(c, &later);
        if (i + 1 < n)
            assert_int_equal(later.n_lair, 0); /* nothing sent while writes are in flight */
    }
    /* after the last write: one LeaderAndIsr per live broker for the partitions written */
    assert_int_equal(later.n_lair, 2);
    assert_int_equal(later.lair_parts, N_PARTS - lost);
    assert_int_equal(later.n_um, 2);
    /* the re-reads: each finds exactly the write it lost (applied by the server) */
    assert_int_equal(later.n_reads, lost);
    assert_int_equal(later.n_multis, 0);
    for (size_t i = 0; i < later.n_reads; i++) {
        zkctl_action *rd = later.reads[i];
        const zkctl_action *w = NULL;
        for (size_t k = 0; k < n && !w; k++)
            if (strcmp(order[k]->ops[1].path, rd->path) == 0)
                w = order[k];
        assert_non_null(w);
        assert_int_equal(zkctl_zk_read_result(c, rd->id, ZKCTL_ZK_OK, w->ops[1].data, w->ops[1].len, 4), 0);
        zkctl_action_free(rd);
    }
    later.n_reads = 0;
    drain(c, &later);
    assert_int_equal(later.n_multis, 0);
    /* each partition went to its one live replica exactly once */
    assert_int_equal(later.lair_parts, N_PARTS);
    assert_true(later.n_lair <= 2 + lost);

    for (int t = 0; t < N_TOPICS; t++)
        for (int p = 0; p < PER_TOPIC; p++) {
            zkctl_partition_view v;
            assert_int_equal(zkctl_partition(c, b.names[t], p, &v), 0);
            assert_int_equal(v.leader, 2 + p % 2);
            assert_int_equal(v.leader_epoch, 5);
            assert_int_equal(v.zkversion, 4);
            assert_int_equal(v.n_isr, 1);
            assert_int_equal(v.isr[0], 2 + p % 2);
        }
    drained_free(&d);
    drained_free(&later);
    zkctl_free(c);
}

/* Half of the writes answered (from the last backwards), then a new term: the other half's results are
 * unknown (they belong to the previous term), and the new term writes every partition again. */
static void test_results_after_new_term(void **state)
{
    (void)state;
    static struct big b;
    zkctl_snapshot snap;
    struct drained d;
    zkctl *c = started(&b, &snap, &d);
    /* half answered from the end backwards, then a new term: the other half's ids are unknown */
    for (size_t i = d.n_multis; i-- > d.n_multis / 2;)
        assert_int_equal(zkctl_zk_result(c, d.multis[i]->id, ZKCTL_ZK_OK, 0, 4), 0);
    snap.epoch = 3;
    snap.epoch_zkversion = 2;
    assert_int_equal(zkctl_become_controller(c, &snap), 0);
    for (size_t i = 0; i < d.n_multis / 2; i++)
        assert_int_equal(zkctl_zk_result(c, d.multis[i]->id, ZKCTL_ZK_OK, 0, 4), FERRY_ENOTFOUND);
    for (size_t i = 0; i < d.n_multis; i++)
        zkctl_action_free(d.multis[i]);
    d.n_multis = 0;
    drain(c, &d);
    assert_int_equal(d.n_multis, N_PARTS);
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
