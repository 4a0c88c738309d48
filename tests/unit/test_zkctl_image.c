/* Unit tests of the controller core's image takeover (zkmode/controller/zkctl.h: zkctl_state_in.from_image,
 * zkctl_states_read): a new controller decides from the partition states its broker's metadata image holds,
 * writes at the image's zkVersions, re-reads and decides again on BADVERSION, and adopts what the
 * background read of every state znode finds newer. Each case runs the same tree through a controller that
 * read everything (Kafka's failover) and checks that the znodes end up identical. Also: elections are written
 * before ISR shrinks, a controller that resigns mid-way, bad input and allocation failures. */
#include "test_zkctl_util.h"

static void setup_orders(struct sim *s) { sim_setup_orders(s, 2); }

#define done sim_done

/* Every node of b's tree is in a's with the same data and version, and the other way round. */
static void assert_same_tree(struct sim *a, struct sim *b)
{
    assert_int_equal(a->n_nodes, b->n_nodes);
    for (size_t i = 0; i < a->n_nodes; i++) {
        struct sim_node *n = sim_node(b, a->nodes[i].path);
        assert_non_null(n);
        assert_int_equal(n->version, a->nodes[i].version);
        if (a->nodes[i].data)
            assert_string_equal(n->data, a->nodes[i].data);
        else
            assert_null(n->data);
    }
}

static void copy_tree(struct sim *to, const struct sim *from)
{
    for (size_t i = 0; i < from->n_nodes; i++) {
        sim_put(to, from->nodes[i].path, from->nodes[i].data);
        sim_node(to, from->nodes[i].path)->version = from->nodes[i].version;
    }
}

/* Runs the takeover on s (image as captured) and on a full-read twin of the same tree; the states read
 * behind the takeover are fed in; both trees must be equal. */
static void takeover_and_compare(struct sim *s)
{
    struct sim twin;
    sim_init(&twin, 2);
    twin.epoch = s->epoch;
    twin.epoch_zkv = s->epoch_zkv;
    for (size_t i = 0; i < s->n_brokers; i++)
        sim_add_broker(&twin, s->brokers[i].id, s->brokers[i].epoch);
    copy_tree(&twin, s);
    assert_int_equal(sim_become(s), 0);
    assert_int_equal(sim_states_read(s), 0);
    assert_int_equal(sim_become(&twin), 0);
    assert_same_tree(s, &twin);
    done(&twin);
}

static void test_image_decides_like_full_read(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    sim_image_capture(&s);
    sim_remove_broker(&s, 1); /* the old controller's broker died */
    takeover_and_compare(&s);
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 10);
    assert_int_equal(st.leader, 2);
    assert_int_equal(st.leader_epoch, 5);
    assert_int_equal(st.controller_epoch, 8);
    assert_true(isr_is(&st, 2, 2, 3));
    zk_partition_state_free(&st);
    const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *p = sim_lair(&s, 3, "orders", 0);
    assert_non_null(p);
    assert_int_equal(p->Leader, 2);
    assert_int_equal(p->PartitionEpoch, 10);
    /* orders-1 keeps its leader, 1 leaves the ISR */
    assert_int_equal(sim_read_state(&s, "orders", 1, &st), 4);
    assert_int_equal(st.leader, 2);
    assert_true(isr_is(&st, 2, 2, 3));
    zk_partition_state_free(&st);
    /* two state writes in all: nothing was written twice */
    assert_int_equal(s.n_writes, 2);
    done(&s);
}

static void test_stale_image_badversion_rereads(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    sim_image_capture(&s);
    /* a state changed behind the image's back (zkVersion 9 -> 10): the image's write fails */
    sim_put(&s, "/brokers/topics/orders/partitions/0/state",
            "{\"controller_epoch\":7,\"leader\":1,\"version\":1,\"leader_epoch\":5,\"isr\":[1,3]}");
    sim_remove_broker(&s, 1);
    takeover_and_compare(&s);
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 11);
    assert_int_equal(st.leader, 3); /* from the state read again, not the image's ISR [1,2,3] */
    assert_int_equal(st.leader_epoch, 6);
    assert_true(isr_is(&st, 1, 3));
    zk_partition_state_free(&st);
    const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *p = sim_lair(&s, 3, "orders", 0);
    assert_non_null(p);
    assert_int_equal(p->Leader, 3);
    assert_int_equal(p->LeaderEpoch, 6);
    assert_int_equal(p->PartitionEpoch, 11);
    done(&s);
}

static void test_partition_missing_from_image(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    sim_image_capture(&s);
    /* a topic the image never heard of, and a partition added to orders */
    sim_topic(&s, "fresh", "{\"0\":[1,3]}", TID2);
    sim_state(&s, "fresh", 0, 1, 3, "[1,3]", 7, 5);
    sim_topic(&s, "orders", "{\"0\":[1,2,3],\"1\":[2,3,1],\"2\":[3,1,2]}", TID);
    sim_state(&s, "orders", 2, 1, 0, "[3,1,2]", 7, 0);
    sim_remove_broker(&s, 1);
    takeover_and_compare(&s);
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "fresh", 0, &st), 6);
    assert_int_equal(st.leader, 3);
    zk_partition_state_free(&st);
    assert_int_equal(sim_read_state(&s, "orders", 2, &st), 1);
    assert_int_equal(st.leader, 3);
    assert_true(isr_is(&st, 2, 3, 2));
    zk_partition_state_free(&st);
    done(&s);
}

static void test_background_read_finds_newer(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    sim_image_capture(&s);
    /* every broker lives, so nothing is written at takeover; orders-1 moved to leader 3 behind the image's
     * back (the old controller wrote it and died before telling anyone) */
    sim_state(&s, "orders", 1, 3, 3, "[3,1]", 7, 4);
    assert_int_equal(sim_become(&s), 0);
    assert_int_equal(s.n_multis, 0);
    const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *p = sim_lair(&s, 3, "orders", 1);
    assert_non_null(p);
    assert_int_equal(p->Leader, 2); /* the image's, for now */
    sim_clear_sent(&s);
    assert_int_equal(sim_states_read(&s), 0);
    /* ZooKeeper's newer state reaches the replicas and every broker */
    p = sim_lair(&s, 3, "orders", 1);
    assert_non_null(p);
    assert_int_equal(p->Leader, 3);
    assert_int_equal(p->LeaderEpoch, 3);
    assert_int_equal(p->PartitionEpoch, 4);
    assert_null(lair_part(sim_last(&s, ZKCTL_API_LEADER_AND_ISR, 3), "orders", 0)); /* unchanged: not sent */
    assert_non_null(sim_um(&s, 2, "orders", 1));
    assert_int_equal(sim_um(&s, 2, "orders", 1)->Leader, 3);
    zkctl_partition_view v;
    assert_int_equal(zkctl_partition(s.c, "orders", 1, &v), 0);
    assert_int_equal(v.zkversion, 4);
    assert_int_equal(s.n_multis, 0);
    /* a second read finding the same: nothing more */
    sim_clear_sent(&s);
    assert_int_equal(sim_states_read(&s), 0);
    assert_int_equal(sim_count(&s, ZKCTL_API_LEADER_AND_ISR, -1), 0);
    done(&s);
}

static void test_background_read_same_version_other_contents(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    /* the image does not carry everything a state znode holds (leader_recovery_state, from LeaderAndIsr
     * only): at the same zkVersion, the znode's contents win */
    sim_image_capture(&s);
    sim_put(&s, "/brokers/topics/orders/partitions/1/state",
            "{\"controller_epoch\":6,\"leader\":2,\"version\":1,\"leader_epoch\":2,\"isr\":[2],"
            "\"leader_recovery_state\":1}");
    sim_node(&s, "/brokers/topics/orders/partitions/1/state")->version = 3;
    assert_int_equal(sim_become(&s), 0);
    assert_int_equal(sim_states_read(&s), 0);
    zkctl_partition_view v;
    assert_int_equal(zkctl_partition(s.c, "orders", 1, &v), 0);
    assert_int_equal(v.leader_recovery_state, 1);
    assert_int_equal(v.n_isr, 1);
    done(&s);
}

static void test_resign_midway(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    sim_image_capture(&s);
    sim_remove_broker(&s, 1);
    s.hold = true;
    assert_int_equal(sim_become(&s), 0);
    /* another controller won before anything ran: the takeover's writes are dropped, the background read
     * that comes in later changes nothing */
    assert_int_equal(zkctl_resign(s.c), 0);
    s.hold = false;
    sim_run(&s);
    assert_int_equal(s.n_multis, 0);
    assert_int_equal(sim_states_read(&s), 0);
    assert_int_equal(s.n_multis, 0);
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 9);
    zk_partition_state_free(&st);
    /* a write answered after the epoch moved resigns */
    s.use_image = true;
    s.hold = true;
    assert_int_equal(sim_become(&s), 0);
    s.epoch_zkv++; /* a newer controller */
    s.hold = false;
    sim_run(&s);
    assert_true(s.resigned);
    assert_false(zkctl_is_active(s.c));
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 9);
    zk_partition_state_free(&st);
    done(&s);
}

static void test_elections_before_isr_shrinks(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 2);
    s.epoch = 3;
    s.epoch_zkv = 3;
    sim_add_broker(&s, 2, 102);
    sim_add_broker(&s, 3, 103);
    /* partition 0 only loses a follower (1); partition 1 loses its leader (1) */
    sim_topic(&s, "t", "{\"0\":[2,1],\"1\":[1,3],\"2\":[3,1]}", TID);
    sim_state(&s, "t", 0, 2, 1, "[2,1]", 3, 1);
    sim_state(&s, "t", 1, 1, 1, "[1,3]", 3, 1);
    sim_state(&s, "t", 2, 3, 1, "[3,1]", 3, 1);
    s.hold = true;
    assert_int_equal(sim_become(&s), 0);
    zkctl_action *a;
    size_t k = 0;
    const char *want[] = {"/brokers/topics/t/partitions/1/state", "/brokers/topics/t/partitions/0/state",
                          "/brokers/topics/t/partitions/2/state"};
    while ((a = zkctl_next_action(s.c))) {
        if (a->kind == ZKCTL_ACT_ZK_MULTI)
            for (size_t i = 1; i < a->n_ops; i++) {
                assert_true(k < 3);
                assert_string_equal(a->ops[i].path, want[k++]);
            }
        zkctl_action_free(a);
    }
    assert_int_equal(k, 3);
    done(&s);
}

static void test_bad_input(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    assert_int_equal(zkctl_states_read(s.c, NULL, 1), FERRY_EINVAL);
    zkctl_topic_in t = {.name = NULL};
    assert_int_equal(zkctl_states_read(s.c, &t, 1), FERRY_EINVAL);
    zkctl_state_in in = {.partition = 0, .state = NULL, .zkversion = 1};
    t = (zkctl_topic_in){.name = "orders", .n_states = 1, .states = &in};
    assert_int_equal(zkctl_states_read(s.c, &t, 1), FERRY_EINVAL);
    /* unknown topics and partitions: ignored */
    assert_int_equal(sim_become(&s), 0);
    zk_partition_state ps = {.controller_epoch = 7, .leader = 1, .leader_epoch = 1, .n_isr = 0};
    in.state = &ps;
    t.name = "nope";
    assert_int_equal(zkctl_states_read(s.c, &t, 1), 0);
    t.name = "orders";
    in.partition = 7;
    assert_int_equal(zkctl_states_read(s.c, &t, 1), 0);
    sim_run(&s);
    assert_int_equal(s.n_multis, 0);
    done(&s);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    for (long n = 0; n < 3000; n++) {
        struct sim s;
        setup_orders(&s);
        sim_image_capture(&s);
        sim_state(&s, "orders", 1, 3, 3, "[3,1]", 7, 4);
        sim_remove_broker(&s, 1);
        s.arm_fail = true;
        s.fail_at = n;
        int rc = sim_become(&s);
        assert_true(rc == 0 || rc == FERRY_ENOMEM);
        if (zkctl_is_active(s.c)) {
            rc = sim_states_read(&s);
            assert_true(rc == 0 || rc == FERRY_ENOMEM);
        }
        if (sim_sweep_step_done(&s, n))
            break;
    }
}

int main(void)
{
    ferry_log_set_level(FERRY_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_decides_like_full_read),
        cmocka_unit_test(test_stale_image_badversion_rereads),
        cmocka_unit_test(test_partition_missing_from_image),
        cmocka_unit_test(test_background_read_finds_newer),
        cmocka_unit_test(test_background_read_same_version_other_contents),
        cmocka_unit_test(test_resign_midway),
        cmocka_unit_test(test_elections_before_isr_shrinks),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
