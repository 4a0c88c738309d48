/* Unit tests for the ZooKeeper-mode controller core (zkmode/controller/zkctl.h): failover requests, leader
 * elections (offline clean/unclean, new partitions), broker failure and bounce, the ISR never empty,
 * conditional writes that fail (BADVERSION -> re-read, CONNLOSS -> re-read), the epoch check on every write and
 * resignation, zombie states, bad input and allocation failures. A simulated ZooKeeper (test_zkctl_util.h)
 * runs the znode actions. */
#include "test_zkctl_util.h"

#include "broker/proto/proto_codec.h"

static void setup_orders(struct sim *s) { sim_setup_orders(s, 1); }

#define done sim_done

static void test_failover_requests(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    assert_int_equal(sim_become(&s), 0);
    assert_true(zkctl_is_active(s.c));
    assert_int_equal(s.n_multis, 0); /* every partition has a live leader: nothing to write */
    /* per broker: UpdateMetadata (brokers), LeaderAndIsr, UpdateMetadata (partitions) */
    int16_t want[] = {ZKCTL_API_UPDATE_METADATA, ZKCTL_API_LEADER_AND_ISR, ZKCTL_API_UPDATE_METADATA};
    for (int32_t b = 1; b <= 3; b++) {
        size_t k = 0;
        for (size_t i = 0; i < s.n_sent; i++)
            if (s.sent[i]->broker_id == b) {
                assert_true(k < 3);
                assert_int_equal(s.sent[i]->api_key, want[k]);
                k++;
            }
        assert_int_equal(k, 3);
    }
    const zkctl_action *a = sim_last(&s, ZKCTL_API_LEADER_AND_ISR, 2);
    assert_int_equal(a->api_version, 7);
    const struct LeaderAndIsrRequest *r = a->body;
    assert_int_equal(r->ControllerId, 1);
    assert_false(r->isKRaftController);
    assert_int_equal(r->ControllerEpoch, 8);
    assert_int_equal(r->BrokerEpoch, 102);
    assert_int_equal(r->Type, 0);
    assert_int_equal(r->TopicStates_n, 1);
    proto_uuid id;
    assert_int_equal(proto_uuid_from_base64(TID, &id), 0);
    assert_true(proto_uuid_eq(r->TopicStates[0].TopicId, id));
    const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *p0 = lair_part(a, "orders", 0);
    assert_non_null(p0);
    assert_int_equal(p0->Leader, 1);
    assert_int_equal(p0->LeaderEpoch, 4);
    assert_int_equal(p0->PartitionEpoch, 9);
    assert_int_equal(p0->ControllerEpoch, 7);
    assert_int_equal(p0->Isr_n, 3);
    assert_int_equal(p0->Replicas_n, 3);
    assert_false(p0->IsNew);
    assert_int_equal(r->LiveLeaders_n, 2);
    assert_int_equal(r->LiveLeaders[0].BrokerId, 1);
    assert_int_equal(r->LiveLeaders[0].Port, 9091);
    assert_int_equal(r->LiveLeaders[0].HostName.len, 2);
    /* the request encodes at v7 */
    struct proto_writer w;
    proto_writer_init(&w);
    assert_int_equal(proto_encode(&proto_msg_LeaderAndIsrRequest, 7, &w, r), 0);
    proto_writer_free(&w);
    const zkctl_action *um = sim_last(&s, ZKCTL_API_UPDATE_METADATA, 3);
    const struct UpdateMetadataRequest *u = um->body;
    assert_int_equal(u->BrokerEpoch, 103);
    assert_int_equal(u->LiveBrokers_n, 3);
    assert_non_null(um_part(um, "orders", 1));
    assert_int_equal(um_part(um, "orders", 1)->ZkVersion, 3);
    proto_writer_init(&w);
    assert_int_equal(proto_encode(&proto_msg_UpdateMetadataRequest, 8, &w, u), 0);
    proto_writer_free(&w);
    done(&s);
}

static void test_failover_elects_offline(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    sim_remove_broker(&s, 1);
    sim_state(&s, "orders", 0, 1, 4, "[1,2]", 7, 9);
    assert_int_equal(sim_become(&s), 0);
    zk_partition_state st;
    /* clean election: first replica live and in the ISR; ISR restricted to live brokers */
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 10);
    assert_int_equal(st.leader, 2);
    assert_int_equal(st.leader_epoch, 5);
    assert_int_equal(st.controller_epoch, 8);
    assert_true(isr_is(&st, 1, 2));
    zk_partition_state_free(&st);
    const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *p =
        sim_lair(&s, 3, "orders", 0);
    assert_non_null(p);
    assert_int_equal(p->Leader, 2);
    assert_int_equal(p->PartitionEpoch, 10);
    assert_int_equal(p->ControllerEpoch, 8);
    assert_null(sim_last(&s, ZKCTL_API_LEADER_AND_ISR, 1)); /* dead */
    /* partition 1's leader (2) is live and stays; the dead broker 1 leaves its ISR (Kafka's
     * ReplicaStateMachine.startup moves replicas on dead brokers to OfflineReplica) */
    assert_int_equal(sim_read_state(&s, "orders", 1, &st), 4);
    assert_int_equal(st.leader, 2);
    assert_int_equal(st.leader_epoch, 3);
    assert_true(isr_is(&st, 2, 2, 3));
    zk_partition_state_free(&st);
    done(&s);
}

static void test_unclean_election(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 2);
    sim_add_broker(&s, 2, 102);
    sim_topic(&s, "u", "{\"0\":[1,2]}", TID);
    sim_state(&s, "u", 0, 1, 3, "[1]", 0, 5);
    assert_int_equal(sim_become(&s), 0);
    zk_partition_state st;
    /* no live ISR member, unclean off: the dead leader goes OfflineReplica (leader -1, the ISR keeps its last
     * member) */
    assert_int_equal(sim_read_state(&s, "u", 0, &st), 6);
    assert_int_equal(st.leader, -1);
    assert_int_equal(st.leader_epoch, 4);
    assert_true(isr_is(&st, 1, 1));
    zk_partition_state_free(&st);
    assert_int_equal(zkctl_topic_config(s.c, "u", true, true), 0);
    sim_run(&s);
    assert_int_equal(sim_read_state(&s, "u", 0, &st), 7);
    assert_int_equal(st.leader, 2);
    assert_int_equal(st.leader_epoch, 5);
    assert_true(isr_is(&st, 1, 2));
    assert_int_equal(st.leader_recovery_state, 1);
    zk_partition_state_free(&st);
    assert_non_null(strstr(sim_node(&s, "/brokers/topics/u/partitions/0/state")->data, "\"leader_recovery_state\":1"));
    const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *p =
        sim_lair(&s, 2, "u", 0);
    assert_int_equal(p->LeaderRecoveryState, 1);
    assert_int_equal(zkctl_topic_config(s.c, "nope", false, false), FERRY_ENOTFOUND);
    done(&s);

    /* the override read from /config/topics/<t> at failover */
    sim_init(&s, 2);
    sim_add_broker(&s, 2, 102);
    sim_topic(&s, "u", "{\"0\":[1,2]}", TID);
    sim_put(&s, "/config/topics/u", "{\"version\":1,\"config\":{\"unclean.leader.election.enable\":\"true\"}}");
    sim_state(&s, "u", 0, 1, 3, "[1]", 0, 5);
    assert_int_equal(sim_become(&s), 0);
    assert_int_equal(sim_read_state(&s, "u", 0, &st), 6);
    assert_int_equal(st.leader, 2);
    zk_partition_state_free(&st);
    done(&s);
}

static void test_new_topic_and_partitions(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 1);
    sim_add_broker(&s, 1, 101);
    sim_add_broker(&s, 2, 102);
    assert_int_equal(sim_become(&s), 0);
    sim_clear_sent(&s);
    sim_topic_changed(&s, "t", "{\"0\":[3,1,2],\"1\":[2,1]}", TID2);
    assert_non_null(sim_node(&s, "/brokers/topics/t/partitions"));
    assert_non_null(sim_node(&s, "/brokers/topics/t/partitions/0"));
    zk_partition_state st;
    /* leader = first live replica, ISR = live replicas, leader epoch 0, partition epoch 0 */
    assert_int_equal(sim_read_state(&s, "t", 0, &st), 0);
    assert_int_equal(st.leader, 1);
    assert_int_equal(st.leader_epoch, 0);
    assert_int_equal(st.controller_epoch, 1);
    assert_true(isr_is(&st, 2, 1, 2));
    zk_partition_state_free(&st);
    assert_int_equal(sim_read_state(&s, "t", 1, &st), 0);
    assert_int_equal(st.leader, 2);
    zk_partition_state_free(&st);
    const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *p =
        sim_lair(&s, 1, "t", 0);
    assert_non_null(p);
    assert_true(p->IsNew);
    assert_int_equal(p->PartitionEpoch, 0);
    assert_int_equal(p->Replicas_n, 3);
    assert_non_null(sim_um(&s, 2, "t", 0));

    /* a partition added to the assignment; one whose replicas are all down waits for them */
    sim_clear_sent(&s);
    sim_topic_changed(&s, "t", "{\"0\":[3,1,2],\"1\":[2,1],\"2\":[1,2],\"3\":[3]}", TID2);
    assert_int_equal(sim_read_state(&s, "t", 2, &st), 0);
    assert_int_equal(st.leader, 1);
    zk_partition_state_free(&st);
    assert_null(sim_node(&s, "/brokers/topics/t/partitions/3/state"));
    assert_int_equal(sim_register(&s, 3, 103), 0);
    assert_int_equal(sim_read_state(&s, "t", 3, &st), 0);
    assert_int_equal(st.leader, 3);
    zk_partition_state_free(&st);
    done(&s);
}

/* A new topic's partitions are announced as Kafka's controller does: the state znodes of all of them are
 * written first, then ONE LeaderAndIsr and one UpdateMetadata per broker carry every partition (not one
 * request per partition as each znode result arrives). */
static void test_new_topic_one_request_per_broker(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 1);
    sim_add_broker(&s, 1, 101);
    sim_add_broker(&s, 2, 102);
    assert_int_equal(sim_become(&s), 0);
    sim_clear_sent(&s);
    sim_topic_changed(&s, "t", "{\"0\":[1,2],\"1\":[2,1],\"2\":[1,2],\"3\":[2,1],\"4\":[1,2],\"5\":[2,1]}", TID2);
    for (int32_t b = 1; b <= 2; b++) {
        assert_int_equal(sim_count(&s, ZKCTL_API_LEADER_AND_ISR, b), 1);
        assert_int_equal(sim_count(&s, ZKCTL_API_UPDATE_METADATA, b), 1);
        for (int32_t p = 0; p < 6; p++) {
            assert_non_null(sim_lair(&s, b, "t", p));
            assert_non_null(sim_um(&s, b, "t", p));
        }
    }
    done(&s);
}

static void test_broker_failure(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    sim_topic(&s, "solo", "{\"0\":[1]}", TID2);
    sim_state(&s, "solo", 0, 1, 0, "[1]", 7, 0);
    sim_state(&s, "orders", 1, 2, 2, "[2,1]", 6, 3);
    assert_int_equal(sim_become(&s), 0);
    sim_clear_sent(&s);
    assert_int_equal(sim_gone(&s, 1), 0);
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 10);
    assert_int_equal(st.leader, 2);
    assert_int_equal(st.leader_epoch, 5);
    assert_true(isr_is(&st, 2, 2, 3));
    zk_partition_state_free(&st);
    /* a follower died: out of the ISR, leader kept, leader epoch bumped */
    assert_int_equal(sim_read_state(&s, "orders", 1, &st), 4);
    assert_int_equal(st.leader, 2);
    assert_int_equal(st.leader_epoch, 3);
    assert_true(isr_is(&st, 1, 2));
    zk_partition_state_free(&st);
    /* the last ISR member died: it stays in the ISR, no leader */
    assert_int_equal(sim_read_state(&s, "solo", 0, &st), 1);
    assert_int_equal(st.leader, -1);
    assert_int_equal(st.leader_epoch, 1);
    assert_true(isr_is(&st, 1, 1));
    zk_partition_state_free(&st);
    assert_null(sim_last(&s, ZKCTL_API_LEADER_AND_ISR, 1));
    const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *p =
        sim_lair(&s, 3, "orders", 0);
    assert_non_null(p);
    assert_int_equal(p->Leader, 2);
    /* UpdateMetadata tells the survivors broker 1 is gone, and lists it offline */
    const zkctl_action *um = sim_last(&s, ZKCTL_API_UPDATE_METADATA, 2);
    assert_int_equal(((const struct UpdateMetadataRequest *)um->body)->LiveBrokers_n, 2);
    assert_int_equal(sim_um(&s, 2, "solo", 0)->OfflineReplicas_n, 1);
    assert_int_equal(zkctl_broker_gone(s.c, 1), FERRY_ENOTFOUND);
    /* broker 1 returns: a full UpdateMetadata first, then LeaderAndIsr for its replicas; the leaderless
     * partition gets it back as leader */
    sim_clear_sent(&s);
    assert_int_equal(sim_register(&s, 1, 201), 0);
    size_t first_um = s.n_sent, first_lair = s.n_sent;
    for (size_t i = s.n_sent; i-- > 0;) {
        if (s.sent[i]->broker_id == 1 && s.sent[i]->api_key == ZKCTL_API_UPDATE_METADATA)
            first_um = i;
        if (s.sent[i]->broker_id == 1 && s.sent[i]->api_key == ZKCTL_API_LEADER_AND_ISR)
            first_lair = i;
    }
    assert_true(first_um < first_lair && first_lair < s.n_sent);
    assert_int_equal(((const struct UpdateMetadataRequest *)s.sent[first_um]->body)->TopicStates_n, 2);
    assert_non_null(lair_part(s.sent[first_lair], "orders", 0));
    assert_int_equal(sim_read_state(&s, "solo", 0, &st), 2);
    assert_int_equal(st.leader, 1);
    assert_int_equal(st.leader_epoch, 2);
    zk_partition_state_free(&st);
    done(&s);
}

static void test_bounce(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    sim_topic(&s, "solo", "{\"0\":[1]}", TID2);
    sim_state(&s, "solo", 0, 1, 0, "[1]", 7, 0);
    assert_int_equal(sim_become(&s), 0);
    sim_clear_sent(&s);
    /* same id, larger epoch: a failure then a start */
    assert_int_equal(sim_register(&s, 1, 201), 0);
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 10);
    assert_int_equal(st.leader, 2);
    assert_true(isr_is(&st, 2, 2, 3));
    zk_partition_state_free(&st);
    assert_int_equal(sim_read_state(&s, "solo", 0, &st), 2);
    assert_int_equal(st.leader, 1);
    assert_int_equal(st.leader_epoch, 2);
    zk_partition_state_free(&st);
    const zkctl_action *a = sim_last(&s, ZKCTL_API_LEADER_AND_ISR, 1);
    assert_non_null(a);
    assert_int_equal(((const struct LeaderAndIsrRequest *)a->body)->BrokerEpoch, 201);
    assert_non_null(sim_lair(&s, 1, "orders", 0));
    /* an older epoch is refused; the same epoch unchanged (a re-read) does nothing */
    assert_int_equal(sim_register(&s, 1, 150), FERRY_EINVAL);
    size_t writes = s.n_multis;
    sim_clear_sent(&s);
    assert_int_equal(sim_register(&s, 1, 201), 0);
    assert_int_equal(s.n_multis, writes);
    assert_int_equal(s.n_sent, 0);
    done(&s);
}

/* The port of broker 1's endpoint in the last UpdateMetadata to `to`, and its rack (NULL: none). */
static int32_t umr_port_of_1(struct sim *s, int32_t to, const char **rack)
{
    const zkctl_action *a = sim_last(s, ZKCTL_API_UPDATE_METADATA, to);
    assert_non_null(a);
    const struct UpdateMetadataRequest *r = a->body;
    for (int32_t i = 0; i < r->LiveBrokers_n; i++)
        if (r->LiveBrokers[i].Id == 1) {
            assert_int_equal(r->LiveBrokers[i].Endpoints_n, 1);
            *rack = r->LiveBrokers[i].Rack.p;
            return r->LiveBrokers[i].Endpoints[0].Port;
        }
    fail_msg("broker 1 is not in the UpdateMetadata");
    return -1;
}

/* Kafka's BrokerModification: /brokers/ids/1 rewritten within its registration (same czxid). A new endpoint or
 * rack goes to every broker in UpdateMetadata, with no znode write and no leadership change. */
static void test_broker_modification(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    assert_int_equal(sim_become(&s), 0);
    size_t writes = s.n_multis;
    sim_clear_sent(&s);
    zkctl_broker b;
    struct sim_ep_store st;
    sim_fill_broker(&b, &st, 1, 101);
    st.ep.port = 19091;
    assert_int_equal(zkctl_broker_registered(s.c, &b), 0);
    sim_run(&s);
    assert_int_equal(s.n_multis, writes);
    assert_int_equal(sim_count(&s, ZKCTL_API_UPDATE_METADATA, -1), 3);
    assert_int_equal(sim_count(&s, ZKCTL_API_LEADER_AND_ISR, -1), 0);
    const char *rack = "x";
    for (int32_t to = 1; to <= 3; to++) {
        assert_int_equal(umr_port_of_1(&s, to, &rack), 19091);
        assert_null(rack);
    }
    /* the rack changes */
    sim_clear_sent(&s);
    b.rack = "rack-a";
    assert_int_equal(zkctl_broker_registered(s.c, &b), 0);
    sim_run(&s);
    assert_int_equal(sim_count(&s, ZKCTL_API_UPDATE_METADATA, -1), 3);
    assert_int_equal(umr_port_of_1(&s, 2, &rack), 19091);
    assert_string_equal(rack, "rack-a");
    /* the same again: nothing */
    sim_clear_sent(&s);
    assert_int_equal(zkctl_broker_registered(s.c, &b), 0);
    sim_run(&s);
    assert_int_equal(s.n_sent, 0);
    assert_int_equal(s.n_multis, writes);
    done(&s);
}

/* New partitions arrive while a change's batch waits for its state writes: the batch still names the right
 * partitions when it goes out (it once kept pointers into the partition array, which the new partitions move). */
static void test_new_partitions_while_a_batch_waits(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    assert_int_equal(sim_become(&s), 0);
    sim_clear_sent(&s);
    s.hold = true;
    assert_int_equal(sim_gone(&s, 1), 0); /* orders-0 elected, orders-1's ISR shrunk: two writes */
    /* the first write succeeds (its partition joins the batch), the second is still in flight */
    zkctl_action *a = zkctl_next_action(s.c);
    assert_non_null(a);
    assert_int_equal(a->kind, ZKCTL_ACT_ZK_MULTI);
    assert_int_equal(a->ops[1].kind, ZKCTL_OP_SET);
    sim_put(&s, a->ops[1].path, a->ops[1].data);
    assert_int_equal(zkctl_zk_result(s.c, a->id, ZKCTL_ZK_OK, 0, sim_node(&s, a->ops[1].path)->version), 0);
    zkctl_action_free(a);
    char parts[512] = "{\"0\":[1,2,3],\"1\":[2,3,1]";
    for (int p = 2; p < 16; p++)
        snprintf(parts + strlen(parts), sizeof parts - strlen(parts), ",\"%d\":[3,2]", p);
    strcat(parts, "}");
    sim_topic_changed(&s, "orders", parts, TID);
    s.hold = false;
    sim_run(&s);
    const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *ps = sim_lair(&s, 2, "orders", 0);
    assert_non_null(ps);
    assert_int_equal(ps->Leader, 2);
    assert_int_equal(ps->PartitionIndex, 0);
    ps = sim_lair(&s, 2, "orders", 15);
    assert_non_null(ps);
    assert_int_equal(ps->Leader, 3);
    assert_true(ps->IsNew);
    done(&s);
}

static void test_badversion_rereads(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    assert_int_equal(sim_become(&s), 0);
    /* someone rewrote the state behind the controller's back (zkVersion 9 -> 10) */
    sim_put(&s, "/brokers/topics/orders/partitions/0/state",
            "{\"controller_epoch\":8,\"leader\":1,\"version\":1,\"leader_epoch\":5,\"isr\":[1,3]}");
    assert_int_equal(sim_gone(&s, 1), 0);
    zk_partition_state st;
    /* the conditional write failed, the core re-read and decided again from the fresh state */
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 11);
    assert_int_equal(st.leader, 3);
    assert_int_equal(st.leader_epoch, 6);
    assert_true(isr_is(&st, 1, 3));
    zk_partition_state_free(&st);
    done(&s);
}

static void test_connloss_rereads(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 1);
    sim_add_broker(&s, 1, 101);
    assert_int_equal(sim_become(&s), 0);
    sim_topic(&s, "c", "{\"0\":[1]}", TID2);
    zk_topic_assignment a;
    struct sim_node *n = sim_node(&s, "/brokers/topics/c");
    assert_int_equal(zk_topic_assignment_decode(n->data, n->len, &a, NULL), 0);
    /* the create reached the server, the answer was lost */
    s.inject_path = "/partitions/0/state";
    s.inject_rc = ZKCTL_ZK_CONNLOSS;
    s.inject_apply = true;
    assert_int_equal(zkctl_topic_changed(s.c, "c", &a), 0);
    zk_topic_assignment_free(&a);
    sim_run(&s);
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "c", 0, &st), 0);
    assert_int_equal(st.leader, 1);
    zk_partition_state_free(&st);
    const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *p =
        sim_lair(&s, 1, "c", 0);
    assert_non_null(p);
    assert_true(p->IsNew);
    /* the connection broke before a set reached the server: re-read, then written again */
    sim_add_broker(&s, 2, 102);
    assert_int_equal(sim_register(&s, 2, 102), 0);
    s.inject_path = "/partitions/0/state";
    s.inject_rc = ZKCTL_ZK_CONNLOSS;
    s.inject_apply = false;
    assert_int_equal(zkctl_topic_config(s.c, "c", true, false), 0); /* nothing to write */
    sim_run(&s);
    assert_int_equal(sim_gone(&s, 1), 0); /* leader -1, ISR [1]: the write is lost once, then retried */
    assert_int_equal(sim_read_state(&s, "c", 0, &st), 1);
    assert_int_equal(st.leader, -1);
    assert_int_equal(st.leader_epoch, 1);
    zk_partition_state_free(&st);
    done(&s);
}

static void test_epoch_check_resigns(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    assert_int_equal(sim_become(&s), 0);
    s.epoch_zkv++; /* another broker won an election */
    struct AlterPartitionRequest_PartitionData pd = {.PartitionIndex = 0, .LeaderEpoch = 4, .PartitionEpoch = 9};
    int32_t isr[] = {1, 2};
    pd.NewIsr = isr;
    pd.NewIsr_n = 2;
    struct AlterPartitionRequest_TopicData td = {.TopicName = {"orders", 6}, .Partitions = &pd, .Partitions_n = 1};
    struct AlterPartitionRequest req = {.BrokerId = 1, .BrokerEpoch = 101, .Topics = &td, .Topics_n = 1};
    s.hold = true;
    assert_int_equal(zkctl_alter_partition(s.c, 77, 1, &req), 0);
    s.hold = false;
    sim_run(&s);
    assert_true(s.resigned);
    assert_false(zkctl_is_active(s.c));
    const zkctl_action *r = sim_response(&s, 77);
    assert_non_null(r);
    assert_int_equal(((const struct AlterPartitionResponse *)r->body)->ErrorCode, KERR_NOT_CONTROLLER);
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 9); /* nothing written */
    zk_partition_state_free(&st);
    /* inactive: requests are answered NOT_CONTROLLER, other events ignored */
    struct ControlledShutdownRequest cs = {.BrokerId = 2, .BrokerEpoch = 102};
    assert_int_equal(zkctl_controlled_shutdown(s.c, 78, 3, &cs), 0);
    sim_run(&s);
    assert_int_equal(((const struct ControlledShutdownResponse *)sim_response(&s, 78)->body)->ErrorCode,
                     KERR_NOT_CONTROLLER);
    assert_int_equal(zkctl_broker_gone(s.c, 2), 0);
    assert_null(zkctl_next_action(s.c));
    /* a later election makes it active again with the new epoch */
    assert_int_equal(sim_become(&s), 0);
    assert_true(zkctl_is_active(s.c));
    done(&s);
}

static void test_resign_event(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    assert_int_equal(sim_become(&s), 0);
    assert_int_equal(zkctl_resign(s.c), 0);
    assert_false(zkctl_is_active(s.c));
    zkctl_partition_view v;
    assert_int_equal(zkctl_partition(s.c, "orders", 0, &v), FERRY_ENOTFOUND);
    /* elected twice before the adapter ran anything: only the new term's actions are left */
    s.hold = true;
    sim_remove_broker(&s, 1);
    assert_int_equal(sim_become(&s), 0);
    assert_int_equal(sim_become(&s), 0);
    s.hold = false;
    size_t multis = 0;
    zkctl_action *a;
    while ((a = zkctl_next_action(s.c))) {
        if (a->kind == ZKCTL_ACT_ZK_MULTI) {
            assert_int_equal(a->ops[0].version, s.epoch_zkv);
            multis += a->n_ops - 1; /* the state writes of one event share a multi */
        }
        if (a->kind == ZKCTL_ACT_SEND && a->api_key == ZKCTL_API_LEADER_AND_ISR)
            assert_int_equal(((const struct LeaderAndIsrRequest *)a->body)->ControllerEpoch, s.epoch);
        zkctl_action_free(a);
    }
    assert_int_equal(multis, 2); /* orders-0 elected and orders-1's ISR shrunk once, by the second term */
    done(&s);
}

static void test_zombie_state_left_alone(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    sim_remove_broker(&s, 1);
    sim_state(&s, "orders", 0, 1, 4, "[1,2]", 20, 9); /* decided by controller epoch 20 > ours (8) */
    assert_int_equal(sim_become(&s), 0);
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 9);
    assert_int_equal(st.leader, 1);
    zk_partition_state_free(&st);
    done(&s);
}

static void test_bad_input(void **state)
{
    (void)state;
    struct sim s;
    setup_orders(&s);
    assert_int_equal(zkctl_become_controller(s.c, NULL), FERRY_EINVAL);
    zkctl_broker b[2];
    struct sim_ep_store eps[2];
    sim_fill_broker(&b[0], &eps[0], 1, 1);
    sim_fill_broker(&b[1], &eps[1], 1, 2);
    zkctl_snapshot snap = {.epoch = 1, .epoch_zkversion = 1, .n_brokers = 2, .brokers = b};
    assert_int_equal(zkctl_become_controller(s.c, &snap), FERRY_EINVAL); /* duplicate id */
    assert_false(zkctl_is_active(s.c));
    zk_topic_assignment a = {0};
    zk_partition_replicas pr = {.partition = 0, .n_replicas = 2, .replicas = (int32_t[]){1, 1}};
    a.n_partitions = 1;
    a.partitions = &pr;
    zkctl_topic_in ti = {.name = "t", .assignment = &a};
    snap.n_brokers = 1;
    snap.n_topics = 1;
    snap.topics = &ti;
    assert_int_equal(zkctl_become_controller(s.c, &snap), FERRY_EINVAL); /* duplicate replica */
    ti.name = "bad/name";
    pr.replicas = (int32_t[]){1, 2};
    assert_int_equal(zkctl_become_controller(s.c, &snap), FERRY_EINVAL);
    assert_int_equal(sim_become(&s), 0);
    b[0].id = -1;
    assert_int_equal(zkctl_broker_registered(s.c, &b[0]), FERRY_EINVAL);
    assert_int_equal(zkctl_topic_changed(s.c, "..", &a), FERRY_EINVAL);
    assert_int_equal(zkctl_delete_requested(s.c, ""), FERRY_EINVAL);
    assert_int_equal(zkctl_zk_result(s.c, 999999, ZKCTL_ZK_OK, 0, 0), FERRY_ENOTFOUND);
    assert_int_equal(zkctl_alter_partition(s.c, 1, 9, NULL), FERRY_EINVAL);
    assert_int_equal(zkctl_controlled_shutdown(s.c, 1, 3, NULL), FERRY_EINVAL);
    /* nothing above changed the model */
    zkctl_partition_view v;
    assert_int_equal(zkctl_partition(s.c, "orders", 0, &v), 0);
    assert_int_equal(v.leader, 1);
    assert_int_equal(v.zkversion, 9);
    /* an undecodable state znode found on a re-read: that partition is left alone, the others go on */
    sim_put(&s, "/brokers/topics/orders/partitions/0/state", "{\"leader\":");
    assert_int_equal(sim_gone(&s, 1), 0);
    assert_string_equal(sim_node(&s, "/brokers/topics/orders/partitions/0/state")->data, "{\"leader\":");
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "orders", 1, &st), 4);
    assert_true(isr_is(&st, 2, 2, 3));
    zk_partition_state_free(&st);
    done(&s);
}

static int fixed_id(void *arg, proto_uuid *out)
{
    int *calls = arg;
    (*calls)++;
    for (int i = 0; i < 16; i++)
        out->b[i] = (uint8_t)(i + *calls);
    return 0;
}

#define OLD_TOPIC "{\"version\":2,\"partitions\":{\"0\":[1]},\"adding_replicas\":{},\"removing_replicas\":{}}"

static void test_topic_id_written(void **state)
{
    (void)state;
    int calls = 0;
    zkctl_config cfg;
    zkctl_config_default(&cfg, 1);
    cfg.new_topic_id = fixed_id;
    cfg.new_topic_id_arg = &calls;
    struct sim s;
    sim_init_cfg(&s, &cfg);
    sim_add_broker(&s, 1, 101);
    sim_put(&s, "/brokers/topics/old", OLD_TOPIC);
    assert_int_equal(sim_become(&s), 0);
    assert_int_equal(calls, 1);
    /* the znode now carries the id, version 3, same assignment; the requests carry it too */
    struct sim_node *n = sim_node(&s, "/brokers/topics/old");
    assert_int_equal(n->version, 1);
    zk_topic_assignment a;
    assert_int_equal(zk_topic_assignment_decode(n->data, n->len, &a, NULL), 0);
    assert_int_equal(a.version, 3);
    assert_true(a.has_topic_id);
    proto_uuid want;
    fixed_id(&(int){0}, &want);
    assert_true(proto_uuid_eq(a.topic_id, want));
    assert_int_equal(a.n_partitions, 1);
    assert_int_equal(a.partitions[0].replicas[0], 1);
    zk_topic_assignment_free(&a);
    const struct LeaderAndIsrRequest *r = sim_last(&s, ZKCTL_API_LEADER_AND_ISR, 1)->body;
    assert_true(proto_uuid_eq(r->TopicStates[0].TopicId, want));
    /* the znode rewritten without the id later: the same id is written back, no new one made */
    sim_put(&s, "/brokers/topics/old", "{\"version\":2,\"partitions\":{\"0\":[1],\"1\":[1]},\"adding_replicas\":{},\"removing_replicas\":{}}");
    n = sim_node(&s, "/brokers/topics/old");
    assert_int_equal(zk_topic_assignment_decode(n->data, n->len, &a, NULL), 0);
    assert_int_equal(zkctl_topic_changed(s.c, "old", &a), 0);
    zk_topic_assignment_free(&a);
    sim_run(&s);
    assert_int_equal(calls, 1);
    n = sim_node(&s, "/brokers/topics/old");
    assert_int_equal(zk_topic_assignment_decode(n->data, n->len, &a, NULL), 0);
    assert_true(a.has_topic_id && proto_uuid_eq(a.topic_id, want));
    assert_int_equal(a.n_partitions, 2);
    zk_topic_assignment_free(&a);
    done(&s);

    /* without an id source the topic is used with a zero id and its znode is left as it is */
    sim_init(&s, 1);
    sim_add_broker(&s, 1, 101);
    sim_put(&s, "/brokers/topics/old", OLD_TOPIC);
    assert_int_equal(sim_become(&s), 0);
    assert_int_equal(sim_node(&s, "/brokers/topics/old")->version, 0);
    r = sim_last(&s, ZKCTL_API_LEADER_AND_ISR, 1)->body;
    assert_true(proto_uuid_is_zero(r->TopicStates[0].TopicId));
    done(&s);
}

/* Failover, a failure and a new topic with the Nth allocation failing, for every N: no crash, no leak, and
 * each call returns 0 or FERRY_ENOMEM. */
static void test_alloc_failures(void **state)
{
    (void)state;
    for (long n = 0; n < 3000; n++) {
        struct sim s;
        setup_orders(&s);
        s.arm_fail = true;
        s.fail_at = n;
        int rc = sim_become(&s);
        assert_true(rc == 0 || rc == FERRY_ENOMEM);
        if (zkctl_is_active(s.c)) {
            sim_remove_broker(&s, 1);
            rc = zkctl_broker_gone(s.c, 1);
            assert_true(rc == 0 || rc == FERRY_ENOMEM);
            sim_run(&s);
        }
        if (sim_sweep_step_done(&s, n))
            break;
    }
}

int main(void)
{
    ferry_log_set_level(FERRY_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_requests),
        cmocka_unit_test(test_failover_elects_offline),
        cmocka_unit_test(test_unclean_election),
        cmocka_unit_test(test_new_topic_and_partitions),
        cmocka_unit_test(test_new_topic_one_request_per_broker),
        cmocka_unit_test(test_broker_failure),
        cmocka_unit_test(test_bounce),
        cmocka_unit_test(test_broker_modification),
        cmocka_unit_test(test_new_partitions_while_a_batch_waits),
        cmocka_unit_test(test_badversion_rereads),
        cmocka_unit_test(test_connloss_rereads),
        cmocka_unit_test(test_epoch_check_resigns),
        cmocka_unit_test(test_resign_event),
        cmocka_unit_test(test_zombie_state_left_alone),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_topic_id_written),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
