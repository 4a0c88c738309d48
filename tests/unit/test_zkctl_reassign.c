/* Unit tests for the ZooKeeper-mode controller core's operator requests (zkmode/controller/zkctl_reassign.c,
 * zkctl_admin.c), on the simulated ZooKeeper of test_zkctl_util.h: AlterPartitionReassignments through its
 * phases (the union with adding/removing in the topic znode, LeaderAndIsr carrying them, completion once the
 * target is in the ISR: leadership moved, removed replicas stopped and deleted, the final znode), its errors
 * and cancellation, ListPartitionReassignments, /admin/reassign_partitions (rewritten, then deleted), a
 * reassignment resumed at takeover from the topic znode, ElectLeaders PREFERRED and UNCLEAN with Kafka's
 * errors, /admin/preferred_replica_election, NOT_CONTROLLER while inactive, and allocation failures. */
#include "test_zkctl_util.h"

#define REASSIGN_PATH "/admin/reassign_partitions"
#define PREFERRED_PATH "/admin/preferred_replica_election"

/* Controller 1 of epoch 7 (before it takes over) with brokers 1..n of epochs 101.. */
static void init_brokers(struct sim *s, int n)
{
    sim_init(s, 1);
    s->epoch = 7;
    s->epoch_zkv = 7;
    for (int i = 1; i <= n; i++)
        sim_add_broker(s, i, 100 + i);
}

/* Brokers 1-3; orders-0 on [1,2] led by 1, orders-1 on [2,1] led by 2; solo-0 on [3]. */
static void setup(struct sim *s)
{
    init_brokers(s, 3);
    sim_topic(s, "orders", "{\"0\":[1,2],\"1\":[2,1]}", TID);
    sim_state(s, "orders", 0, 1, 4, "[1,2]", 7, 9);
    sim_state(s, "orders", 1, 2, 2, "[2,1]", 7, 3);
    sim_topic(s, "solo", "{\"0\":[3]}", TID2);
    sim_state(s, "solo", 0, 3, 0, "[3]", 7, 0);
    assert_int_equal(sim_become(s), 0);
    sim_clear_sent(s);
}

#define done sim_done

/* ---- requests ---- */

struct move {
    const char *topic;
    int32_t partition;
    int n;            /* -1: null replicas (cancel) */
    int32_t r[4];
};

static int alter_rc(struct sim *s, uint64_t token, const struct move *m, size_t n)
{
    struct AlterPartitionReassignmentsRequest_ReassignablePartition parts[8];
    struct AlterPartitionReassignmentsRequest_ReassignableTopic topics[8];
    memset(parts, 0, sizeof(parts));
    memset(topics, 0, sizeof(topics));
    for (size_t i = 0; i < n; i++) {
        topics[i].Name = (proto_str){m[i].topic, (int32_t)strlen(m[i].topic)};
        topics[i].Partitions = &parts[i];
        topics[i].Partitions_n = 1;
        parts[i].PartitionIndex = m[i].partition;
        parts[i].Replicas = m[i].n < 0 ? NULL : (int32_t *)m[i].r;
        parts[i].Replicas_n = m[i].n;
    }
    struct AlterPartitionReassignmentsRequest req = {.TimeoutMs = 30000, .Topics = topics,
                                                     .Topics_n = (int32_t)n};
    int rc = zkctl_alter_reassignments(s->c, token, 0, &req);
    sim_run(s);
    return rc;
}

static const struct AlterPartitionReassignmentsResponse *alter(struct sim *s, uint64_t token, const struct move *m,
                                                               size_t n)
{
    assert_int_equal(alter_rc(s, token, m, n), 0);
    const zkctl_action *a = sim_response(s, token);
    assert_non_null(a);
    assert_int_equal(a->api_key, ZKCTL_API_ALTER_PARTITION_REASSIGNMENTS);
    return a->body;
}

/* The error of the i-th (topic, partition) of a successful top level. */
static int16_t alter_err(const struct AlterPartitionReassignmentsResponse *r, size_t i)
{
    assert_int_equal(r->ErrorCode, 0);
    assert_true((int32_t)i < r->Responses_n);
    assert_int_equal(r->Responses[i].Partitions_n, 1);
    return r->Responses[i].Partitions[0].ErrorCode;
}

static const struct ListPartitionReassignmentsResponse *list(struct sim *s, uint64_t token, const char *topic,
                                                             int32_t partition)
{
    struct ListPartitionReassignmentsRequest_ListPartitionReassignmentsTopics t = {
        .Name = {topic, topic ? (int32_t)strlen(topic) : 0}, .PartitionIndexes = &partition, .PartitionIndexes_n = 1};
    struct ListPartitionReassignmentsRequest req = {.TimeoutMs = 1, .Topics = topic ? &t : NULL,
                                                    .Topics_n = topic ? 1 : -1};
    assert_int_equal(zkctl_list_reassignments(s->c, token, 0, &req), 0);
    sim_run(s);
    const zkctl_action *a = sim_response(s, token);
    assert_non_null(a);
    assert_int_equal(a->api_key, ZKCTL_API_LIST_PARTITION_REASSIGNMENTS);
    return a->body;
}

static bool ints_eq(const int32_t *v, int32_t n, size_t want_n, ...)
{
    if ((size_t)n != want_n)
        return false;
    va_list ap;
    va_start(ap, want_n);
    bool ok = true;
    for (size_t i = 0; i < want_n; i++)
        ok &= v[i] == va_arg(ap, int);
    va_end(ap);
    return ok;
}

/* AlterPartition v1 from the leader of orders-<partition> with the current epochs and a new ISR. */
static void expand_isr(struct sim *s, uint64_t token, int32_t leader, int64_t broker_epoch, int32_t partition,
                       const int32_t *isr, size_t n_isr)
{
    zk_partition_state st;
    int32_t pe = sim_read_state(s, "orders", partition, &st);
    struct AlterPartitionRequest_PartitionData pd = {.PartitionIndex = partition, .LeaderEpoch = st.leader_epoch,
                                                     .NewIsr = (int32_t *)isr, .NewIsr_n = (int32_t)n_isr,
                                                     .PartitionEpoch = pe};
    zk_partition_state_free(&st);
    struct AlterPartitionRequest_TopicData td = {.TopicName = {"orders", 6}, .Partitions = &pd, .Partitions_n = 1};
    struct AlterPartitionRequest req = {.BrokerId = leader, .BrokerEpoch = broker_epoch, .Topics = &td,
                                        .Topics_n = 1};
    assert_int_equal(zkctl_alter_partition(s->c, token, 1, &req), 0);
    sim_run(s);
    const zkctl_action *a = sim_response(s, token);
    assert_non_null(a);
    assert_int_equal(((const struct AlterPartitionResponse *)a->body)->Topics[0].Partitions[0].ErrorCode, 0);
}

static zk_topic_assignment topic_znode(struct sim *s, const char *name)
{
    char path[400];
    snprintf(path, sizeof(path), "/brokers/topics/%s", name);
    struct sim_node *n = sim_node(s, path);
    assert_non_null(n);
    zk_topic_assignment a;
    assert_int_equal(zk_topic_assignment_decode(n->data, n->len, &a, NULL), 0);
    return a;
}

static const zk_partition_replicas *find_pr(const zk_partition_replicas *v, size_t n, int32_t partition)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].partition == partition)
            return &v[i];
    return NULL;
}

/* The topic znode's replicas / adding / removing of partition p ("" for none). */
static bool znode_is(struct sim *s, const char *topic, int32_t p, const char *replicas, const char *adding,
                     const char *removing)
{
    zk_topic_assignment a = topic_znode(s, topic);
    const zk_partition_replicas *lists[3] = {find_pr(a.partitions, a.n_partitions, p),
                                             find_pr(a.adding, a.n_adding, p), find_pr(a.removing, a.n_removing, p)};
    const char *want[3] = {replicas, adding, removing};
    bool ok = a.version == 3 && a.has_topic_id;
    for (int k = 0; k < 3; k++) {
        char got[64] = "";
        size_t len = 0;
        for (size_t i = 0; lists[k] && i < lists[k]->n_replicas; i++)
            len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%d", i ? "," : "", (int)lists[k]->replicas[i]);
        if (lists[k] && lists[k]->n_replicas == 0 && k > 0)
            ok = false; /* an empty list is left out, as Kafka writes it */
        ok &= strcmp(got, want[k]) == 0;
    }
    zk_topic_assignment_free(&a);
    return ok;
}

static bool sr_delete_to(struct sim *s, int32_t broker, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < s->n_sent; i++) {
        const zkctl_action *a = s->sent[i];
        if (a->kind != ZKCTL_ACT_SEND || a->api_key != ZKCTL_API_STOP_REPLICA || a->broker_id != broker)
            continue;
        const struct StopReplicaRequest *r = a->body;
        for (int32_t t = 0; t < r->TopicStates_n; t++)
            for (int32_t k = 0; proto_str_eq(r->TopicStates[t].TopicName, topic) &&
                                k < r->TopicStates[t].PartitionStates_n; k++)
                if (r->TopicStates[t].PartitionStates[k].PartitionIndex == partition &&
                    r->TopicStates[t].PartitionStates[k].DeletePartition)
                    return true;
    }
    return false;
}

/* ---- reassignment ---- */

static void test_move_completes_when_the_target_is_in_the_isr(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    struct move m = {"orders", 0, 2, {2, 3}};
    const struct AlterPartitionReassignmentsResponse *r = alter(&s, 1, &m, 1);
    assert_int_equal(alter_err(r, 0), 0);
    assert_true(proto_str_eq(r->Responses[0].Name, "orders"));
    /* the union, target first, with adding and removing */
    assert_true(znode_is(&s, "orders", 0, "2,3,1", "3", "1"));
    assert_true(znode_is(&s, "orders", 1, "2,1", "", ""));
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 10);
    assert_int_equal(st.leader, 1);
    assert_int_equal(st.leader_epoch, 5); /* bumped: every replica hears of the new set */
    assert_true(isr_is(&st, 2, 1, 2));
    zk_partition_state_free(&st);
    const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *ps = sim_lair(&s, 3, "orders", 0);
    assert_non_null(ps);
    assert_true(ints_eq(ps->Replicas, ps->Replicas_n, 3, 2, 3, 1));
    assert_true(ints_eq(ps->AddingReplicas, ps->AddingReplicas_n, 1, 3));
    assert_true(ints_eq(ps->RemovingReplicas, ps->RemovingReplicas_n, 1, 1));
    assert_non_null(sim_lair(&s, 1, "orders", 0));
    zkctl_partition_view v;
    assert_int_equal(zkctl_partition(s.c, "orders", 0, &v), 0);
    assert_true(v.reassigning);
    assert_true(ints_eq(v.adding, (int32_t)v.n_adding, 1, 3));

    const struct ListPartitionReassignmentsResponse *l = list(&s, 2, NULL, 0);
    assert_int_equal(l->ErrorCode, 0);
    assert_int_equal(l->Topics_n, 1);
    assert_int_equal(l->Topics[0].Partitions_n, 1);
    const struct ListPartitionReassignmentsResponse_OngoingPartitionReassignment *op = &l->Topics[0].Partitions[0];
    assert_int_equal(op->PartitionIndex, 0);
    assert_true(ints_eq(op->Replicas, op->Replicas_n, 3, 2, 3, 1));
    assert_true(ints_eq(op->AddingReplicas, op->AddingReplicas_n, 1, 3));
    assert_true(ints_eq(op->RemovingReplicas, op->RemovingReplicas_n, 1, 1));
    assert_int_equal(list(&s, 3, "orders", 1)->Topics_n, 0); /* listed but not reassigning */
    assert_int_equal(list(&s, 4, "orders", 0)->Topics_n, 1);

    /* broker 3 caught up: the leader adds it to the ISR; the reassignment completes */
    sim_clear_sent(&s);
    const int32_t isr[] = {1, 2, 3};
    expand_isr(&s, 5, 1, 101, 0, isr, 3);
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 12);
    assert_int_equal(st.leader, 2); /* the first target replica live and in the ISR */
    assert_int_equal(st.leader_epoch, 6);
    assert_true(isr_is(&st, 2, 2, 3));
    zk_partition_state_free(&st);
    assert_true(znode_is(&s, "orders", 0, "2,3", "", ""));
    assert_true(sr_delete_to(&s, 1, "orders", 0));
    assert_false(sr_delete_to(&s, 2, "orders", 0));
    ps = sim_lair(&s, 3, "orders", 0);
    assert_non_null(ps);
    assert_int_equal(ps->Leader, 2);
    assert_true(ints_eq(ps->Replicas, ps->Replicas_n, 2, 2, 3));
    assert_int_equal(ps->AddingReplicas_n, 0);
    assert_int_equal(ps->RemovingReplicas_n, 0);
    assert_null(sim_lair(&s, 1, "orders", 0)); /* the removed replica gets StopReplica, not LeaderAndIsr */
    assert_int_equal(sim_um(&s, 1, "orders", 0)->Leader, 2);
    assert_int_equal(list(&s, 6, NULL, 0)->Topics_n, 0);
    assert_int_equal(zkctl_partition(s.c, "orders", 0, &v), 0);
    assert_false(v.reassigning);
    done(&s);
}

static void test_move_keeps_a_leader_in_the_target(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    /* [1,2] -> [3,1]: leader 1 stays (it is a live target replica); 2 is removed */
    struct move m = {"orders", 0, 2, {3, 1}};
    assert_int_equal(alter_err(alter(&s, 1, &m, 1), 0), 0);
    assert_true(znode_is(&s, "orders", 0, "3,1,2", "3", "2"));
    const int32_t isr[] = {1, 2, 3};
    expand_isr(&s, 2, 1, 101, 0, isr, 3);
    zk_partition_state st;
    sim_read_state(&s, "orders", 0, &st);
    assert_int_equal(st.leader, 1);
    assert_true(isr_is(&st, 2, 1, 3));
    zk_partition_state_free(&st);
    assert_true(znode_is(&s, "orders", 0, "3,1", "", ""));
    assert_true(sr_delete_to(&s, 2, "orders", 0));
    done(&s);
}

static void test_alter_errors(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    struct move bad[] = {
        {"orders", 0, 0, {0}},       /* empty */
        {"orders", 0, 2, {2, 2}},    /* duplicate */
        {"orders", 0, 2, {2, -1}},   /* negative */
        {"orders", 0, 2, {2, 9}},    /* 9 is not a live broker */
        {"orders", 7, 1, {3}},       /* no such partition */
        {"nosuch", 0, 1, {3}},       /* no such topic */
        {"orders", 1, -1, {0}},      /* cancel: nothing running */
        {"nosuch", 0, -1, {0}},      /* cancel of an unknown partition */
    };
    const int16_t want[] = {KERR_INVALID_REPLICA_ASSIGNMENT, KERR_INVALID_REPLICA_ASSIGNMENT,
                            KERR_INVALID_REPLICA_ASSIGNMENT, KERR_INVALID_REPLICA_ASSIGNMENT,
                            KERR_UNKNOWN_TOPIC_OR_PARTITION, KERR_UNKNOWN_TOPIC_OR_PARTITION,
                            KERR_NO_REASSIGNMENT_IN_PROGRESS, KERR_NO_REASSIGNMENT_IN_PROGRESS};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct AlterPartitionReassignmentsResponse *r = alter(&s, 10 + i, &bad[i], 1);
        assert_int_equal(alter_err(r, 0), want[i]);
        if (want[i] == KERR_INVALID_REPLICA_ASSIGNMENT)
            assert_true(r->Responses[0].Partitions[0].ErrorMessage.len > 0);
    }
    assert_true(znode_is(&s, "orders", 0, "1,2", "", ""));
    assert_int_equal(sim_count(&s, ZKCTL_API_LEADER_AND_ISR, -1), 0);
    /* a dead broker may stay in a target when it is not added (it is in the origin) */
    assert_int_equal(sim_gone(&s, 2), 0);
    sim_run(&s);
    struct move keep = {"orders", 0, 2, {2, 1}};
    assert_int_equal(alter_err(alter(&s, 30, &keep, 1), 0), 0);
    /* bad requests */
    struct AlterPartitionReassignmentsRequest req = {.Topics_n = 0};
    assert_int_equal(zkctl_alter_reassignments(s.c, 31, 1, &req), FERRY_EINVAL);
    assert_int_equal(zkctl_alter_reassignments(s.c, 31, 0, NULL), FERRY_EINVAL);
    struct ListPartitionReassignmentsRequest lreq = {.Topics_n = -1};
    assert_int_equal(zkctl_list_reassignments(s.c, 31, 1, &lreq), FERRY_EINVAL);
    done(&s);
}

/* Topic names up to Kafka's 249 bytes are found, moved and listed; a longer one finds no topic and is echoed
 * whole (the names were once copied into a fixed buffer). */
static void test_long_topic_names(void **state)
{
    (void)state;
    struct sim s;
    init_brokers(&s, 3);
    char longest[250], too_long[301];
    memset(longest, 'x', 249);
    longest[249] = 0;
    memset(too_long, 'x', 300);
    too_long[300] = 0;
    sim_topic(&s, longest, "{\"0\":[1,2]}", TID);
    sim_state(&s, longest, 0, 1, 0, "[1,2]", 7, 0);
    assert_int_equal(sim_become(&s), 0);
    struct move m[] = {{longest, 0, 2, {2, 3}}, {too_long, 0, 1, {3}}};
    const struct AlterPartitionReassignmentsResponse *r = alter(&s, 1, m, 2);
    assert_int_equal(alter_err(r, 0), 0);
    assert_true(proto_str_eq(r->Responses[0].Name, longest));
    assert_int_equal(alter_err(r, 1), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_true(proto_str_eq(r->Responses[1].Name, too_long));
    assert_true(znode_is(&s, longest, 0, "2,3,1", "3", "1"));
    const struct ListPartitionReassignmentsResponse *l = list(&s, 2, longest, 0);
    assert_int_equal(l->Topics_n, 1);
    assert_true(proto_str_eq(l->Topics[0].Name, longest));
    assert_int_equal(list(&s, 3, too_long, 0)->Topics_n, 0);
    done(&s);
}

static void test_cancel_returns_to_the_origin(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    struct move m = {"orders", 0, 3, {1, 2, 3}};
    assert_int_equal(alter_err(alter(&s, 1, &m, 1), 0), 0);
    assert_true(znode_is(&s, "orders", 0, "1,2,3", "3", ""));
    sim_clear_sent(&s);
    struct move cancel = {"orders", 0, -1, {0}};
    assert_int_equal(alter_err(alter(&s, 2, &cancel, 1), 0), 0);
    assert_true(znode_is(&s, "orders", 0, "1,2", "", ""));
    assert_true(sr_delete_to(&s, 3, "orders", 0)); /* the replica it had started */
    zk_partition_state st;
    sim_read_state(&s, "orders", 0, &st);
    assert_int_equal(st.leader, 1);
    assert_true(isr_is(&st, 2, 1, 2));
    zk_partition_state_free(&st);
    assert_int_equal(list(&s, 3, NULL, 0)->Topics_n, 0);
    assert_int_equal(alter_err(alter(&s, 4, &cancel, 1), 0), KERR_NO_REASSIGNMENT_IN_PROGRESS);
    done(&s);
}

static void test_new_target_replaces_a_running_one(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    struct move m = {"orders", 0, 2, {1, 3}};
    assert_int_equal(alter_err(alter(&s, 1, &m, 1), 0), 0);
    assert_true(znode_is(&s, "orders", 0, "1,3,2", "3", "2"));
    sim_clear_sent(&s);
    /* the origin is still [1,2]: the new target [2,1] adds nothing; 3 is stopped */
    struct move m2 = {"orders", 0, 2, {2, 1}};
    assert_int_equal(alter_err(alter(&s, 2, &m2, 1), 0), 0);
    assert_true(sr_delete_to(&s, 3, "orders", 0));
    assert_true(znode_is(&s, "orders", 0, "2,1", "", ""));
    assert_int_equal(list(&s, 3, NULL, 0)->Topics_n, 0);
    done(&s);
}

static void test_not_controller(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 1);
    struct move m = {"orders", 0, 1, {2}};
    const struct AlterPartitionReassignmentsResponse *r = alter(&s, 1, &m, 1);
    assert_int_equal(r->ErrorCode, KERR_NOT_CONTROLLER);
    assert_int_equal(r->Responses_n, 0);
    assert_int_equal(list(&s, 2, NULL, 0)->ErrorCode, KERR_NOT_CONTROLLER);
    done(&s);
}

static void test_resumed_at_takeover(void **state)
{
    (void)state;
    struct sim s;
    init_brokers(&s, 3);
    /* a reassignment [1,2] -> [2,3] left by an earlier controller, the target already in the ISR */
    sim_put(&s, "/brokers/topics/moved",
            "{\"version\":3,\"partitions\":{\"0\":[2,3,1]},\"adding_replicas\":{\"0\":[3]},"
            "\"removing_replicas\":{\"0\":[1]},\"topic_id\":\"" TID "\"}");
    sim_state(&s, "moved", 0, 1, 3, "[1,2,3]", 7, 5);
    /* and one that still waits for broker 3 */
    sim_put(&s, "/brokers/topics/waiting",
            "{\"version\":3,\"partitions\":{\"0\":[2,3,1]},\"adding_replicas\":{\"0\":[3]},"
            "\"removing_replicas\":{\"0\":[1]},\"topic_id\":\"" TID2 "\"}");
    sim_state(&s, "waiting", 0, 1, 3, "[1,2]", 7, 5);
    assert_int_equal(sim_become(&s), 0);
    assert_true(znode_is(&s, "moved", 0, "2,3", "", ""));
    zk_partition_state st;
    sim_read_state(&s, "moved", 0, &st);
    assert_int_equal(st.leader, 2);
    assert_true(isr_is(&st, 2, 2, 3));
    zk_partition_state_free(&st);
    assert_true(znode_is(&s, "waiting", 0, "2,3,1", "3", "1"));
    const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *ps = sim_lair(&s, 3, "waiting", 0);
    assert_non_null(ps);
    assert_true(ints_eq(ps->AddingReplicas, ps->AddingReplicas_n, 1, 3));
    const struct ListPartitionReassignmentsResponse *l = list(&s, 1, NULL, 0);
    assert_int_equal(l->Topics_n, 1);
    assert_true(proto_str_eq(l->Topics[0].Name, "waiting"));
    /* a topic that appears later with adding/removing replicas is created as written: nothing resumes (as
     * Kafka, which resumes reassignments only at failover) */
    const char *later = "{\"version\":3,\"partitions\":{\"0\":[2,3,1]},\"adding_replicas\":{\"0\":[3]},"
                        "\"removing_replicas\":{\"0\":[1]},\"topic_id\":\"" TID "\"}";
    sim_put(&s, "/brokers/topics/later", later);
    zk_topic_assignment a;
    assert_int_equal(zk_topic_assignment_decode(later, strlen(later), &a, NULL), 0);
    assert_int_equal(zkctl_topic_changed(s.c, "later", &a), 0);
    zk_topic_assignment_free(&a);
    sim_run(&s);
    assert_string_equal(sim_node(&s, "/brokers/topics/later")->data, later);
    zk_partition_state st2;
    sim_read_state(&s, "later", 0, &st2);
    assert_true(isr_is(&st2, 3, 2, 3, 1));
    zk_partition_state_free(&st2);
    assert_int_equal(list(&s, 2, NULL, 0)->Topics_n, 1);
    done(&s);
}

/* ---- /admin/reassign_partitions ---- */

static void reassign_znode(struct sim *s, const char *json)
{
    sim_put(s, REASSIGN_PATH, json);
    zk_admin_partitions d;
    assert_int_equal(zk_reassignment_decode(json, strlen(json), &d, NULL), 0);
    assert_int_equal(zkctl_reassign_znode(s->c, &d), 0);
    zk_admin_partitions_free(&d);
    sim_run(s);
}

static void test_reassign_znode_rewritten_then_deleted(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    reassign_znode(&s, "{\"version\":1,\"partitions\":[{\"topic\":\"orders\",\"partition\":0,\"replicas\":[2,3]},"
                       "{\"topic\":\"nosuch\",\"partition\":0,\"replicas\":[1]},"
                       "{\"topic\":\"orders\",\"partition\":1,\"replicas\":[]},"
                       "{\"topic\":\"solo\",\"partition\":0,\"replicas\":[1,2]}]}");
    /* the failures are dropped from the znode; the others run */
    struct sim_node *n = sim_node(&s, REASSIGN_PATH);
    assert_non_null(n);
    zk_admin_partitions d;
    assert_int_equal(zk_reassignment_decode(n->data, n->len, &d, NULL), 0);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.partitions[0].topic, "orders");
    assert_string_equal(d.partitions[1].topic, "solo");
    zk_admin_partitions_free(&d);
    assert_string_equal(n->data, "{\"version\":1,\"partitions\":[{\"topic\":\"orders\",\"partition\":0,"
                                 "\"replicas\":[2,3]},{\"topic\":\"solo\",\"partition\":0,\"replicas\":[1,2]}]}");
    assert_true(znode_is(&s, "orders", 0, "2,3,1", "3", "1"));
    /* an API request for solo-0 takes it over: out of the znode */
    struct move m = {"solo", 0, 2, {2, 3}};
    assert_int_equal(alter_err(alter(&s, 1, &m, 1), 0), 0);
    n = sim_node(&s, REASSIGN_PATH);
    assert_non_null(n);
    assert_null(strstr(n->data, "solo"));
    /* orders-0 completes: the znode is empty, so deleted */
    const int32_t isr[] = {1, 2, 3};
    expand_isr(&s, 2, 1, 101, 0, isr, 3);
    assert_true(znode_is(&s, "orders", 0, "2,3", "", ""));
    assert_null(sim_node(&s, REASSIGN_PATH));
    done(&s);
}

static void test_reassign_znode_with_nothing_usable_is_deleted(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    reassign_znode(&s, "{\"version\":1,\"partitions\":[{\"topic\":\"nosuch\",\"partition\":0,\"replicas\":[1]}]}");
    assert_null(sim_node(&s, REASSIGN_PATH));
    reassign_znode(&s, "{\"version\":1,\"partitions\":[]}");
    assert_null(sim_node(&s, REASSIGN_PATH));
    assert_true(znode_is(&s, "orders", 0, "1,2", "", ""));
    /* inactive: ignored */
    struct sim s2;
    sim_init(&s2, 1);
    zk_admin_partitions none = {0};
    assert_int_equal(zkctl_reassign_znode(s2.c, &none), 0);
    assert_int_equal(zkctl_preferred_znode(s2.c, &none), 0);
    assert_int_equal(zkctl_reassign_znode(s2.c, NULL), FERRY_EINVAL);
    done(&s2);
    done(&s);
}

/* ---- ElectLeaders ---- */

struct tp {
    const char *topic;
    int32_t partition;
};

static const struct ElectLeadersResponse *elect(struct sim *s, uint64_t token, int16_t version, int8_t type,
                                               const struct tp *tps, int n)
{
    struct ElectLeadersRequest_TopicPartitions t[8];
    int32_t parts[8];
    for (int i = 0; i < n; i++) {
        t[i] = (struct ElectLeadersRequest_TopicPartitions){
            .Topic = {tps[i].topic, (int32_t)strlen(tps[i].topic)}, .Partitions = &parts[i], .Partitions_n = 1};
        parts[i] = tps[i].partition;
    }
    struct ElectLeadersRequest req = {.ElectionType = type, .TopicPartitions = n < 0 ? NULL : t,
                                      .TopicPartitions_n = n, .TimeoutMs = 30000};
    assert_int_equal(zkctl_elect_leaders(s->c, token, version, &req), 0);
    sim_run(s);
    const zkctl_action *a = sim_response(s, token);
    assert_non_null(a);
    assert_int_equal(a->api_key, ZKCTL_API_ELECT_LEADERS);
    assert_int_equal(a->api_version, version);
    return a->body;
}

/* The error for (topic, partition), -1 if absent. */
static int elect_err(const struct ElectLeadersResponse *r, const char *topic, int32_t partition)
{
    for (int32_t i = 0; i < r->ReplicaElectionResults_n; i++) {
        const struct ElectLeadersResponse_ReplicaElectionResult *t = &r->ReplicaElectionResults[i];
        for (int32_t k = 0; proto_str_eq(t->Topic, topic) && k < t->PartitionResult_n; k++)
            if (t->PartitionResult[k].PartitionId == partition)
                return t->PartitionResult[k].ErrorCode;
    }
    return -1;
}

static int32_t leader_of(struct sim *s, const char *topic, int32_t partition)
{
    zk_partition_state st;
    sim_read_state(s, topic, partition, &st);
    int32_t l = st.leader;
    zk_partition_state_free(&st);
    return l;
}

static void test_elect_preferred(void **state)
{
    (void)state;
    struct sim s;
    init_brokers(&s, 3);
    sim_topic(&s, "orders", "{\"0\":[1,2],\"1\":[2,1],\"2\":[3,1]}", TID);
    sim_state(&s, "orders", 0, 2, 4, "[1,2]", 7, 9); /* preferred 1 in the ISR, 2 leads */
    sim_state(&s, "orders", 1, 2, 2, "[2,1]", 7, 3); /* led by its preferred replica */
    sim_state(&s, "orders", 2, 1, 2, "[1]", 7, 3);   /* preferred 3 not in the ISR */
    assert_int_equal(sim_become(&s), 0);
    const struct tp tps[] = {{"orders", 0}, {"orders", 1}, {"orders", 2}, {"orders", 9}, {"nosuch", 0}};
    for (int16_t v = 0; v <= 2; v++) {
        const struct ElectLeadersResponse *r = elect(&s, 1 + (uint64_t)v, v, 0, tps, 5);
        assert_int_equal(r->ErrorCode, 0);
        assert_int_equal(elect_err(r, "orders", 0), v == 0 ? 0 : KERR_ELECTION_NOT_NEEDED);
        assert_int_equal(elect_err(r, "orders", 1), KERR_ELECTION_NOT_NEEDED);
        assert_int_equal(elect_err(r, "orders", 2), KERR_PREFERRED_LEADER_NOT_AVAILABLE);
        assert_int_equal(elect_err(r, "orders", 9), KERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(elect_err(r, "nosuch", 0), KERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(r->ReplicaElectionResults_n, 2);
    }
    assert_int_equal(leader_of(&s, "orders", 0), 1);
    assert_int_equal(sim_lair(&s, 2, "orders", 0)->Leader, 1);
    /* every partition: those needing no election are left out */
    sim_state(&s, "orders", 0, 2, 6, "[1,2]", 8, 11); /* written behind its back: re-read on BADVERSION */
    const struct ElectLeadersResponse *r = elect(&s, 10, 2, 0, NULL, -1);
    assert_int_equal(elect_err(r, "orders", 1), -1);
    assert_int_equal(elect_err(r, "orders", 2), KERR_PREFERRED_LEADER_NOT_AVAILABLE);
    done(&s);
}

static void test_elect_unclean(void **state)
{
    (void)state;
    struct sim s;
    init_brokers(&s, 2);
    sim_topic(&s, "orders", "{\"0\":[2,1],\"1\":[1,2],\"2\":[3]}", TID);
    sim_state(&s, "orders", 0, -1, 4, "[3]", 7, 9);   /* only 3 (dead) in the ISR */
    sim_state(&s, "orders", 1, 1, 2, "[1,2]", 7, 3);  /* a live leader */
    sim_state(&s, "orders", 2, -1, 2, "[3]", 7, 3);   /* no live replica at all */
    assert_int_equal(sim_become(&s), 0);
    assert_int_equal(leader_of(&s, "orders", 0), -1); /* unclean.leader.election.enable is false */
    const struct tp tps[] = {{"orders", 0}, {"orders", 1}, {"orders", 2}};
    const struct ElectLeadersResponse *r = elect(&s, 1, 1, 1, tps, 3);
    assert_int_equal(elect_err(r, "orders", 0), 0);
    assert_int_equal(elect_err(r, "orders", 1), KERR_ELECTION_NOT_NEEDED);
    assert_int_equal(elect_err(r, "orders", 2), KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE);
    zk_partition_state st;
    sim_read_state(&s, "orders", 0, &st);
    assert_int_equal(st.leader, 2);
    assert_true(isr_is(&st, 1, 2));
    assert_int_equal(st.leader_recovery_state, 1);
    zk_partition_state_free(&st);
    /* bad election type */
    struct ElectLeadersRequest bad = {.ElectionType = 5, .TopicPartitions_n = -1};
    assert_int_equal(zkctl_elect_leaders(s.c, 2, 1, &bad), FERRY_EINVAL);
    assert_int_equal(zkctl_elect_leaders(s.c, 2, 3, &bad), FERRY_EINVAL);
    done(&s);
}

static void test_elect_waits_for_a_busy_partition_and_resign(void **state)
{
    (void)state;
    struct sim s;
    init_brokers(&s, 2);
    sim_topic(&s, "orders", "{\"0\":[1,2]}", TID);
    sim_state(&s, "orders", 0, 2, 4, "[1,2]", 7, 9);
    assert_int_equal(sim_become(&s), 0);
    s.hold = true;
    const struct tp tp = {"orders", 0};
    struct ElectLeadersRequest_TopicPartitions t = {.Topic = {"orders", 6}, .Partitions = (int32_t *)&tp.partition,
                                                    .Partitions_n = 1};
    struct ElectLeadersRequest req = {.ElectionType = 0, .TopicPartitions = &t, .TopicPartitions_n = 1,
                                      .TimeoutMs = 30000};
    assert_int_equal(zkctl_elect_leaders(s.c, 7, 2, &req), 0);
    assert_null(sim_response(&s, 7));
    /* the controller resigns with the election in flight: NOT_CONTROLLER */
    assert_int_equal(zkctl_resign(s.c), 0);
    s.hold = false;
    sim_run(&s);
    const zkctl_action *a = sim_response(&s, 7);
    assert_non_null(a);
    assert_int_equal(elect_err(a->body, "orders", 0), KERR_NOT_CONTROLLER);
    /* inactive: per partition, or the top level for every partition */
    const struct ElectLeadersResponse *r = elect(&s, 8, 2, 0, &tp, 1);
    assert_int_equal(elect_err(r, "orders", 0), KERR_NOT_CONTROLLER);
    r = elect(&s, 9, 2, 0, NULL, -1);
    assert_int_equal(r->ErrorCode, KERR_NOT_CONTROLLER);
    assert_int_equal(r->ReplicaElectionResults_n, 0);
    done(&s);
}

static void test_preferred_znode(void **state)
{
    (void)state;
    struct sim s;
    init_brokers(&s, 2);
    sim_topic(&s, "orders", "{\"0\":[1,2],\"1\":[2,1]}", TID);
    sim_state(&s, "orders", 0, 2, 4, "[1,2]", 7, 9);
    sim_state(&s, "orders", 1, 1, 2, "[2,1]", 7, 3);
    assert_int_equal(sim_become(&s), 0);
    const char *json = "{\"version\":1,\"partitions\":[{\"topic\":\"orders\",\"partition\":0},"
                       "{\"topic\":\"nosuch\",\"partition\":0}]}";
    sim_put(&s, PREFERRED_PATH, json);
    zk_admin_partitions d;
    assert_int_equal(zk_preferred_election_decode(json, strlen(json), &d, NULL), 0);
    assert_int_equal(zkctl_preferred_znode(s.c, &d), 0);
    zk_admin_partitions_free(&d);
    sim_run(&s);
    assert_int_equal(leader_of(&s, "orders", 0), 1);
    assert_int_equal(leader_of(&s, "orders", 1), 1); /* not listed: left alone */
    assert_null(sim_node(&s, PREFERRED_PATH));
    done(&s);
}

/* ---- allocation failures ---- */

static void test_alloc_failures(void **state)
{
    (void)state;
    for (long n = 0; n < 20000; n++) {
        struct sim s;
        setup(&s);
        const char *json = "{\"version\":1,\"partitions\":[{\"topic\":\"orders\",\"partition\":1,\"replicas\":[1,3]},"
                           "{\"topic\":\"nosuch\",\"partition\":0,\"replicas\":[1]}]}";
        zk_admin_partitions d;
        assert_int_equal(zk_reassignment_decode(json, strlen(json), &d, NULL), 0);
        s.auto_stop_replica = true;
        s.arm_fail = true;
        ferry_alloc_fail_after(n);
        struct move m = {"orders", 0, 2, {2, 3}};
        SIM_OK(&s, alter_rc(&s, 1, &m, 1));
        /* the leader's AlterPartition adds 3 to the ISR: the reassignment completes */
        int32_t isr[] = {1, 2, 3};
        struct AlterPartitionRequest_PartitionData pd = {.PartitionIndex = 0, .LeaderEpoch = 5, .PartitionEpoch = 10,
                                                         .NewIsr = isr, .NewIsr_n = 3};
        struct AlterPartitionRequest_TopicData td = {.TopicName = {"orders", 6}, .Partitions = &pd, .Partitions_n = 1};
        struct AlterPartitionRequest req = {.BrokerId = 1, .BrokerEpoch = 101, .Topics = &td, .Topics_n = 1};
        SIM_OK(&s, zkctl_alter_partition(s.c, 2, 1, &req));
        sim_run(&s);
        SIM_OK(&s, zkctl_reassign_znode(s.c, &d));
        sim_run(&s);
        SIM_OK(&s, zkctl_preferred_znode(s.c, &d));
        sim_run(&s);
        int32_t p1 = 1;
        struct ElectLeadersRequest_TopicPartitions t = {.Topic = {"orders", 6}, .Partitions = &p1, .Partitions_n = 1};
        struct ElectLeadersRequest er = {.ElectionType = 0, .TopicPartitions = &t, .TopicPartitions_n = 1};
        SIM_OK(&s, zkctl_elect_leaders(s.c, 3, 2, &er));
        sim_run(&s);
        struct ListPartitionReassignmentsRequest lreq = {.Topics_n = -1};
        SIM_OK(&s, zkctl_list_reassignments(s.c, 4, 0, &lreq));
        sim_run(&s);
        struct move cancel = {"orders", 1, -1, {0}};
        SIM_OK(&s, alter_rc(&s, 5, &cancel, 1));
        bool end = sim_sweep_step_done(&s, n);
        zk_admin_partitions_free(&d);
        if (end)
            break;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_move_completes_when_the_target_is_in_the_isr),
        cmocka_unit_test(test_move_keeps_a_leader_in_the_target),
        cmocka_unit_test(test_alter_errors),
        cmocka_unit_test(test_long_topic_names),
        cmocka_unit_test(test_cancel_returns_to_the_origin),
        cmocka_unit_test(test_new_target_replaces_a_running_one),
        cmocka_unit_test(test_not_controller),
        cmocka_unit_test(test_resumed_at_takeover),
        cmocka_unit_test(test_reassign_znode_rewritten_then_deleted),
        cmocka_unit_test(test_reassign_znode_with_nothing_usable_is_deleted),
        cmocka_unit_test(test_elect_preferred),
        cmocka_unit_test(test_elect_unclean),
        cmocka_unit_test(test_elect_waits_for_a_busy_partition_and_resign),
        cmocka_unit_test(test_preferred_znode),
        cmocka_unit_test(test_alloc_failures),
    };
    ferry_log_set_level(FERRY_LOG_ERROR + 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
