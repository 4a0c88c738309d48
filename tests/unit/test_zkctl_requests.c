/* Unit tests for the ZooKeeper-mode controller core (zkmode/controller/zkctl.h): AlterPartition with Kafka's
 * ZooKeeper-controller checks and error codes, ControlledShutdown (leadership moves first, then the ISR, the
 * answer lists what the broker still leads), topic deletion (StopReplica delete, znode deletion, retries when
 * brokers are down or fail) and preferred-leader rebalancing on ticks. */
#include "test_zkctl_util.h"

static void setup(struct sim *s)
{
    sim_init(s, 1);
    s->epoch = 7;
    s->epoch_zkv = 7;
    sim_add_broker(s, 1, 101);
    sim_add_broker(s, 2, 102);
    sim_add_broker(s, 3, 103);
    sim_topic(s, "orders", "{\"0\":[1,2,3],\"1\":[2,3,1]}", TID);
    sim_state(s, "orders", 0, 1, 4, "[1,2,3]", 7, 9);
    sim_state(s, "orders", 1, 2, 2, "[2,3,1]", 6, 3);
    sim_topic(s, "solo", "{\"0\":[1]}", TID2);
    sim_state(s, "solo", 0, 1, 0, "[1]", 7, 0);
    assert_int_equal(sim_become(s), 0);
    sim_clear_sent(s);
}

#define done sim_done

/* ---- AlterPartition ---- */
struct ap_part {
    int32_t partition, leader_epoch, partition_epoch;
    int8_t lrs;
    size_t n_isr;
    int32_t isr[4];
};

/* Sends one AlterPartition for topic "orders" (by name for v0-1, by id for v2+). */
static void alter(struct sim *s, uint64_t token, int16_t version, int32_t broker, int64_t epoch, const char *topic_id,
                  const struct ap_part *parts, size_t n)
{
    struct AlterPartitionRequest_PartitionData pd[8];
    struct AlterPartitionRequest_BrokerState bs[8][4];
    memset(pd, 0, sizeof(pd));
    for (size_t i = 0; i < n; i++) {
        pd[i].PartitionIndex = parts[i].partition;
        pd[i].LeaderEpoch = parts[i].leader_epoch;
        pd[i].PartitionEpoch = parts[i].partition_epoch;
        pd[i].LeaderRecoveryState = parts[i].lrs;
        if (version >= 3) {
            for (size_t k = 0; k < parts[i].n_isr; k++) {
                bs[i][k].BrokerId = parts[i].isr[k];
                bs[i][k].BrokerEpoch = -1;
            }
            pd[i].NewIsrWithEpochs = bs[i];
            pd[i].NewIsrWithEpochs_n = (int32_t)parts[i].n_isr;
            pd[i].NewIsr_n = 0;
        } else {
            pd[i].NewIsr = (int32_t *)parts[i].isr;
            pd[i].NewIsr_n = (int32_t)parts[i].n_isr;
        }
    }
    struct AlterPartitionRequest_TopicData td = {.TopicName = {"orders", 6}, .Partitions = pd,
                                                 .Partitions_n = (int32_t)n};
    if (version >= 2) {
        td.TopicName.p = NULL;
        td.TopicName.len = -1;
        assert_int_equal(proto_uuid_from_base64(topic_id, &td.TopicId), 0);
    }
    struct AlterPartitionRequest req = {.BrokerId = broker, .BrokerEpoch = epoch, .Topics = &td, .Topics_n = 1};
    assert_int_equal(zkctl_alter_partition(s->c, token, version, &req), 0);
    sim_run(s);
}

static const struct AlterPartitionResponse *ap_resp(struct sim *s, uint64_t token)
{
    const zkctl_action *a = sim_response(s, token);
    assert_non_null(a);
    assert_int_equal(a->api_key, ZKCTL_API_ALTER_PARTITION);
    return a->body;
}

static int16_t ap_err(struct sim *s, uint64_t token, size_t i)
{
    const struct AlterPartitionResponse *r = ap_resp(s, token);
    assert_int_equal(r->ErrorCode, 0);
    assert_int_equal(r->Topics_n, 1);
    assert_true((int32_t)i < r->Topics[0].Partitions_n);
    return r->Topics[0].Partitions[i].ErrorCode;
}

static void test_alter_partition_success(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    struct ap_part p = {.partition = 0, .leader_epoch = 4, .partition_epoch = 9, .n_isr = 2, .isr = {1, 2}};
    alter(&s, 1, 1, 1, 101, NULL, &p, 1);
    const struct AlterPartitionResponse *r = ap_resp(&s, 1);
    assert_int_equal(r->Topics[0].TopicName.len, 6);
    const struct AlterPartitionResponse_PartitionData *d = &r->Topics[0].Partitions[0];
    assert_int_equal(d->ErrorCode, 0);
    assert_int_equal(d->LeaderId, 1);
    assert_int_equal(d->LeaderEpoch, 4);
    assert_int_equal(d->PartitionEpoch, 10);
    assert_int_equal(d->Isr_n, 2);
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 10);
    assert_true(isr_is(&st, 2, 1, 2));
    assert_int_equal(st.leader_epoch, 4); /* AlterPartition keeps the leader epoch */
    assert_int_equal(st.controller_epoch, 8);
    zk_partition_state_free(&st);
    /* UpdateMetadata to every broker with the new partition epoch; no LeaderAndIsr */
    for (int32_t b = 1; b <= 3; b++)
        assert_int_equal(sim_um(&s, b, "orders", 0)->ZkVersion, 10);
    assert_int_equal(sim_count(&s, ZKCTL_API_LEADER_AND_ISR, -1), 0);
    /* the same request again: already the state, answered with the current partition epoch */
    alter(&s, 2, 1, 1, 101, NULL, &p, 1);
    assert_int_equal(ap_err(&s, 2, 0), 0);
    assert_int_equal(ap_resp(&s, 2)->Topics[0].Partitions[0].PartitionEpoch, 10);
    /* expand back by topic id (v2) and with broker epochs (v3) */
    struct ap_part q = {.partition = 0, .leader_epoch = 4, .partition_epoch = 10, .n_isr = 3, .isr = {1, 2, 3}};
    alter(&s, 3, 3, 1, 101, TID, &q, 1);
    assert_int_equal(ap_err(&s, 3, 0), 0);
    proto_uuid id;
    assert_int_equal(proto_uuid_from_base64(TID, &id), 0);
    assert_true(proto_uuid_eq(ap_resp(&s, 3)->Topics[0].TopicId, id));
    assert_int_equal(ap_resp(&s, 3)->Topics[0].TopicName.len, -1);
    assert_int_equal(ap_resp(&s, 3)->Topics[0].Partitions[0].PartitionEpoch, 11);
    done(&s);
}

static void test_alter_partition_errors(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    struct ap_part p = {.partition = 0, .leader_epoch = 4, .partition_epoch = 9, .n_isr = 2, .isr = {1, 2}};
    alter(&s, 1, 1, 1, 100, NULL, &p, 1); /* stale broker epoch */
    assert_int_equal(ap_resp(&s, 1)->ErrorCode, KERR_STALE_BROKER_EPOCH);
    assert_int_equal(ap_resp(&s, 1)->Topics_n, 0);
    alter(&s, 2, 1, 9, 109, NULL, &p, 1); /* unknown broker */
    assert_int_equal(ap_resp(&s, 2)->ErrorCode, KERR_STALE_BROKER_EPOCH);
    struct ap_part many[] = {
        {.partition = 0, .leader_epoch = 3, .partition_epoch = 9, .n_isr = 1, .isr = {1}},       /* old leader epoch */
        {.partition = 0, .leader_epoch = 5, .partition_epoch = 9, .n_isr = 1, .isr = {1}},       /* newer than ours */
        {.partition = 0, .leader_epoch = 4, .partition_epoch = 8, .n_isr = 1, .isr = {1}},       /* old partition epoch */
        {.partition = 0, .leader_epoch = 4, .partition_epoch = 10, .n_isr = 1, .isr = {1}},      /* newer than ours */
        {.partition = 7, .leader_epoch = 0, .partition_epoch = 0, .n_isr = 1, .isr = {1}},       /* no such partition */
        {.partition = 0, .leader_epoch = 4, .partition_epoch = 9, .n_isr = 2, .isr = {1, 4}},    /* 4 is not live */
        {.partition = 0, .leader_epoch = 4, .partition_epoch = 9, .lrs = 1, .n_isr = 2, .isr = {1, 2}}, /* RECOVERED->RECOVERING */
    };
    alter(&s, 3, 1, 1, 101, NULL, many, 7);
    assert_int_equal(ap_err(&s, 3, 0), KERR_FENCED_LEADER_EPOCH);
    assert_int_equal(ap_err(&s, 3, 1), KERR_NOT_CONTROLLER);
    assert_int_equal(ap_err(&s, 3, 2), KERR_INVALID_UPDATE_VERSION);
    assert_int_equal(ap_err(&s, 3, 3), KERR_NOT_CONTROLLER);
    assert_int_equal(ap_err(&s, 3, 4), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(ap_err(&s, 3, 5), KERR_OPERATION_NOT_ATTEMPTED); /* v1 */
    assert_int_equal(ap_err(&s, 3, 6), KERR_INVALID_REQUEST);
    alter(&s, 4, 2, 1, 101, TID, &many[5], 1);
    assert_int_equal(ap_err(&s, 4, 0), KERR_INELIGIBLE_REPLICA); /* v2+ */
    alter(&s, 5, 2, 1, 101, "BBBBBBBBBBBBBBBBBBBBBQ", &p, 1);
    assert_int_equal(ap_err(&s, 5, 0), KERR_UNKNOWN_TOPIC_ID);
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 9); /* none of these wrote */
    zk_partition_state_free(&st);
    /* the conditional write loses a race: INVALID_UPDATE_VERSION, and the core re-reads */
    s.inject_path = "orders/partitions/0/state";
    s.inject_rc = ZKCTL_ZK_BADVERSION;
    alter(&s, 6, 1, 1, 101, NULL, &p, 1);
    assert_int_equal(ap_err(&s, 6, 0), KERR_INVALID_UPDATE_VERSION);
    zkctl_partition_view v;
    assert_int_equal(zkctl_partition(s.c, "orders", 0, &v), 0);
    assert_int_equal(v.zkversion, 9);
    assert_int_equal(v.n_isr, 3);
    /* malformed requests are refused and change nothing */
    struct AlterPartitionRequest bad = {.BrokerId = 1, .BrokerEpoch = 101, .Topics = NULL, .Topics_n = 2};
    assert_int_equal(zkctl_alter_partition(s.c, 7, 1, &bad), FERRY_EINVAL);
    assert_int_equal(zkctl_alter_partition(s.c, 7, 4, &bad), FERRY_EINVAL);
    assert_null(sim_response(&s, 7));
    done(&s);
}

static void test_alter_partition_waits_for_write(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    /* broker 3 dies: the ISR shrink of orders-0 is in flight when the leader's AlterPartition arrives */
    s.hold = true;
    sim_remove_broker(&s, 3);
    assert_int_equal(zkctl_broker_gone(s.c, 3), 0);
    struct ap_part p = {.partition = 0, .leader_epoch = 4, .partition_epoch = 9, .n_isr = 2, .isr = {1, 2}};
    alter(&s, 1, 1, 1, 101, NULL, &p, 1);
    assert_null(sim_response(&s, 1));
    s.hold = false;
    sim_run(&s);
    /* decided after the controller's write (leader epoch 5): the leader's epoch is fenced */
    assert_int_equal(ap_err(&s, 1, 0), KERR_FENCED_LEADER_EPOCH);
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 10);
    assert_int_equal(st.leader_epoch, 5);
    zk_partition_state_free(&st);
    done(&s);
}

/* ---- ControlledShutdown ---- */
static const struct ControlledShutdownResponse *cs(struct sim *s, uint64_t token, int32_t broker, int64_t epoch)
{
    struct ControlledShutdownRequest req = {.BrokerId = broker, .BrokerEpoch = epoch};
    assert_int_equal(zkctl_controlled_shutdown(s->c, token, 3, &req), 0);
    sim_run(s);
    const zkctl_action *a = sim_response(s, token);
    assert_non_null(a);
    assert_int_equal(a->api_key, ZKCTL_API_CONTROLLED_SHUTDOWN);
    return a->body;
}

static void test_controlled_shutdown(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    assert_int_equal(cs(&s, 1, 1, 100)->ErrorCode, KERR_STALE_BROKER_EPOCH);
    assert_int_equal(cs(&s, 2, 9, -1)->ErrorCode, KERR_BROKER_NOT_AVAILABLE);
    assert_int_equal(s.n_multis, 0);
    const struct ControlledShutdownResponse *r = cs(&s, 3, 1, 101);
    assert_int_equal(r->ErrorCode, 0);
    /* it still leads only the partition without another replica */
    assert_int_equal(r->RemainingPartitions_n, 1);
    assert_int_equal(r->RemainingPartitions[0].TopicName.len, 4);
    assert_int_equal(r->RemainingPartitions[0].PartitionIndex, 0);
    zk_partition_state st;
    /* led by 1: leadership moves to the first live ISR replica, 1 leaves the ISR */
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 10);
    assert_int_equal(st.leader, 2);
    assert_int_equal(st.leader_epoch, 5);
    assert_true(isr_is(&st, 2, 2, 3));
    zk_partition_state_free(&st);
    /* followed by 1: 1 leaves the ISR; StopReplica(delete=false) to 1, LeaderAndIsr to the others only */
    assert_int_equal(sim_read_state(&s, "orders", 1, &st), 4);
    assert_int_equal(st.leader, 2);
    assert_true(isr_is(&st, 2, 2, 3));
    zk_partition_state_free(&st);
    assert_non_null(sim_lair(&s, 1, "orders", 0));
    assert_null(sim_lair(&s, 1, "orders", 1));
    assert_non_null(sim_lair(&s, 3, "orders", 1));
    const zkctl_action *sr = sim_last(&s, ZKCTL_API_STOP_REPLICA, 1);
    assert_non_null(sr);
    const struct StopReplicaRequest *srr = sr->body;
    assert_int_equal(srr->BrokerEpoch, 101);
    assert_int_equal(srr->TopicStates_n, 1);
    assert_false(srr->TopicStates[0].PartitionStates[0].DeletePartition);
    assert_int_equal(srr->TopicStates[0].PartitionStates[0].PartitionIndex, 1);
    /* a shutting-down broker cannot join an ISR again */
    struct ap_part p = {.partition = 1, .leader_epoch = 3, .partition_epoch = 4, .n_isr = 3, .isr = {2, 3, 1}};
    alter(&s, 4, 2, 2, 102, TID, &p, 1);
    assert_int_equal(ap_err(&s, 4, 0), KERR_INELIGIBLE_REPLICA);
    /* when it goes away the single-replica partition loses its leader; the rest is untouched */
    size_t writes = s.n_multis;
    assert_int_equal(sim_gone(&s, 1), 0);
    assert_int_equal(s.n_multis, writes + 1);
    assert_int_equal(sim_read_state(&s, "solo", 0, &st), 1);
    assert_int_equal(st.leader, -1);
    zk_partition_state_free(&st);
    done(&s);
}

/* ---- LeaderAndIsr responses: offline log dirs ---- */
static void test_offline_log_dir(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    /* v5+ layout (topics by id): broker 1's replica of orders-0 is on a failed log dir */
    struct LeaderAndIsrResponse_LeaderAndIsrPartitionError pe = {.PartitionIndex = 0,
                                                                 .ErrorCode = KERR_KAFKA_STORAGE_ERROR};
    struct LeaderAndIsrResponse_LeaderAndIsrTopicError te = {.PartitionErrors = &pe, .PartitionErrors_n = 1};
    assert_int_equal(proto_uuid_from_base64(TID, &te.TopicId), 0);
    struct LeaderAndIsrResponse resp = {.ErrorCode = 0, .Topics = &te, .Topics_n = 1};
    assert_int_equal(zkctl_leader_and_isr_response(s.c, 1, &resp), 0);
    sim_run(&s);
    zk_partition_state st;
    assert_int_equal(sim_read_state(&s, "orders", 0, &st), 10);
    assert_int_equal(st.leader, 2);
    assert_int_equal(st.leader_epoch, 5);
    assert_true(isr_is(&st, 2, 2, 3));
    zk_partition_state_free(&st);
    assert_int_equal(sim_read_state(&s, "orders", 1, &st), 3); /* its other replicas are fine */
    zk_partition_state_free(&st);
    const struct UpdateMetadataRequest_UpdateMetadataPartitionState *u = sim_um(&s, 2, "orders", 0);
    assert_int_equal(u->OfflineReplicas_n, 1);
    assert_int_equal(u->OfflineReplicas[0], 1);
    /* v0-4 layout (by name), a follower: it leaves the ISR; other errors change nothing */
    struct LeaderAndIsrResponse_LeaderAndIsrPartitionError old[] = {
        {.TopicName = {"orders", 6}, .PartitionIndex = 1, .ErrorCode = KERR_KAFKA_STORAGE_ERROR},
        {.TopicName = {"solo", 4}, .PartitionIndex = 0, .ErrorCode = KERR_NOT_LEADER_OR_FOLLOWER},
    };
    struct LeaderAndIsrResponse resp4 = {.PartitionErrors = old, .PartitionErrors_n = 2};
    assert_int_equal(zkctl_leader_and_isr_response(s.c, 3, &resp4), 0);
    sim_run(&s);
    assert_int_equal(sim_read_state(&s, "orders", 1, &st), 4);
    assert_int_equal(st.leader, 2);
    assert_true(isr_is(&st, 2, 2, 1));
    zk_partition_state_free(&st);
    assert_int_equal(sim_read_state(&s, "solo", 0, &st), 0);
    zk_partition_state_free(&st);
    /* the broker restarts: its replicas count again */
    assert_int_equal(sim_register(&s, 1, 201), 0);
    assert_int_equal(sim_um(&s, 2, "orders", 0)->OfflineReplicas_n, 0);
    struct LeaderAndIsrResponse bad = {.Topics = NULL, .Topics_n = 1};
    assert_int_equal(zkctl_leader_and_isr_response(s.c, 1, &bad), FERRY_EINVAL);
    assert_int_equal(zkctl_leader_and_isr_response(s.c, 1, NULL), FERRY_EINVAL);
    done(&s);
}

/* ---- topic deletion ---- */
static void test_delete_topic(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    s.auto_stop_replica = true;
    sim_put(&s, "/admin/delete_topics/orders", NULL);
    assert_int_equal(zkctl_delete_requested(s.c, "orders"), 0);
    sim_run(&s);
    /* UpdateMetadata with leader -2 first, StopReplica(delete, epoch -2) to every replica */
    const struct UpdateMetadataRequest_UpdateMetadataPartitionState *u = sim_um(&s, 3, "orders", 1);
    assert_non_null(u);
    assert_int_equal(u->Leader, -2);
    for (int32_t b = 1; b <= 3; b++) {
        const struct StopReplicaRequest *r = sim_last(&s, ZKCTL_API_STOP_REPLICA, b)->body;
        assert_int_equal(r->TopicStates_n, 1);
        assert_int_equal(r->TopicStates[0].PartitionStates_n, 2);
        assert_true(r->TopicStates[0].PartitionStates[0].DeletePartition);
        assert_int_equal(r->TopicStates[0].PartitionStates[0].LeaderEpoch, -2);
    }
    /* every znode of the topic is gone, then its config, then the marker */
    assert_null(sim_node(&s, "/brokers/topics/orders"));
    assert_null(sim_node(&s, "/brokers/topics/orders/partitions/0/state"));
    assert_null(sim_node(&s, "/brokers/topics/orders/partitions"));
    assert_null(sim_node(&s, "/config/topics/orders"));
    assert_null(sim_node(&s, "/admin/delete_topics/orders"));
    assert_non_null(sim_node(&s, "/brokers/topics/solo"));
    zkctl_partition_view v;
    assert_int_equal(zkctl_partition(s.c, "orders", 0, &v), FERRY_ENOTFOUND);
    /* a marker for a topic that does not exist is removed */
    sim_put(&s, "/admin/delete_topics/ghost", NULL);
    assert_int_equal(zkctl_delete_requested(s.c, "ghost"), 0);
    sim_run(&s);
    assert_null(sim_node(&s, "/admin/delete_topics/ghost"));
    done(&s);
}

static void test_delete_topic_retries(void **state)
{
    (void)state;
    struct sim s;
    setup(&s);
    s.auto_stop_replica = true;
    sim_gone(&s, 3);
    sim_clear_sent(&s);
    sim_put(&s, "/admin/delete_topics/orders", NULL);
    assert_int_equal(zkctl_delete_requested(s.c, "orders"), 0);
    sim_run(&s);
    /* broker 3 is down: its replicas wait, the topic stays */
    assert_non_null(sim_last(&s, ZKCTL_API_STOP_REPLICA, 1));
    assert_null(sim_last(&s, ZKCTL_API_STOP_REPLICA, 3));
    assert_non_null(sim_node(&s, "/brokers/topics/orders"));
    zkctl_partition_view v;
    assert_int_equal(zkctl_partition(s.c, "orders", 0, &v), 0);
    assert_true(v.deleting);
    /* partitions added meanwhile are skipped and the assignment written back (Kafka restores it) */
    sim_topic(&s, "orders", "{\"0\":[1,2,3],\"1\":[2,3,1],\"2\":[1,2,3]}", TID);
    struct sim_node *tn = sim_node(&s, "/brokers/topics/orders");
    zk_topic_assignment a;
    assert_int_equal(zk_topic_assignment_decode(tn->data, tn->len, &a, NULL), 0);
    assert_int_equal(zkctl_topic_changed(s.c, "orders", &a), 0);
    zk_topic_assignment_free(&a);
    sim_run(&s);
    tn = sim_node(&s, "/brokers/topics/orders");
    assert_int_equal(zk_topic_assignment_decode(tn->data, tn->len, &a, NULL), 0);
    assert_int_equal(a.n_partitions, 2);
    assert_true(a.has_topic_id);
    assert_int_equal(a.partitions[1].replicas[0], 2);
    zk_topic_assignment_free(&a);
    assert_null(sim_node(&s, "/brokers/topics/orders/partitions/2/state"));
    /* broker 3 starts: the deletion resumes, now with a failing replica on it */
    s.stop_replica_error = KERR_KAFKA_STORAGE_ERROR;
    assert_int_equal(sim_register(&s, 3, 203), 0);
    assert_non_null(sim_last(&s, ZKCTL_API_STOP_REPLICA, 3));
    assert_non_null(sim_node(&s, "/brokers/topics/orders"));
    /* it bounces and succeeds */
    s.stop_replica_error = 0;
    assert_int_equal(sim_register(&s, 3, 303), 0);
    assert_null(sim_node(&s, "/brokers/topics/orders"));
    assert_null(sim_node(&s, "/admin/delete_topics/orders"));
    assert_int_equal(zkctl_partition(s.c, "orders", 0, &v), FERRY_ENOTFOUND);
    done(&s);
}

static void test_delete_disabled_and_at_failover(void **state)
{
    (void)state;
    struct sim s;
    zkctl_config cfg;
    zkctl_config_default(&cfg, 1);
    cfg.delete_topic_enable = false;
    sim_init_cfg(&s, &cfg);
    sim_add_broker(&s, 1, 101);
    sim_topic(&s, "t", "{\"0\":[1]}", TID);
    sim_state(&s, "t", 0, 1, 0, "[1]", 0, 0);
    sim_put(&s, "/admin/delete_topics/t", NULL);
    assert_int_equal(sim_become(&s), 0); /* the marker found at failover */
    assert_null(sim_node(&s, "/admin/delete_topics/t"));
    assert_non_null(sim_node(&s, "/brokers/topics/t"));
    done(&s);

    sim_init(&s, 1);
    s.auto_stop_replica = true;
    sim_add_broker(&s, 1, 101);
    sim_topic(&s, "t", "{\"0\":[1]}", TID);
    sim_state(&s, "t", 0, 1, 0, "[1]", 0, 0);
    sim_put(&s, "/admin/delete_topics/t", NULL);
    assert_int_equal(sim_become(&s), 0);
    assert_null(sim_node(&s, "/brokers/topics/t"));
    assert_null(sim_node(&s, "/admin/delete_topics/t"));
    done(&s);
}

/* ---- preferred-leader rebalancing ---- */
static void test_preferred_rebalance(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, 1);
    sim_add_broker(&s, 1, 101);
    sim_add_broker(&s, 2, 102);
    /* 20 partitions preferring broker 1; 2 of them (10%) led by broker 2: not above the threshold */
    char parts[1024] = "{";
    for (int i = 0; i < 20; i++)
        snprintf(parts + strlen(parts), sizeof(parts) - strlen(parts), "%s\"%d\":[1,2]", i ? "," : "", i);
    strcat(parts, "}");
    sim_topic(&s, "r", parts, TID);
    for (int i = 0; i < 20; i++)
        sim_state(&s, "r", i, i < 2 ? 2 : 1, 1, "[1,2]", 1, 1);
    assert_int_equal(sim_become(&s), 0); /* now_ms 1000: first check at 6000 */
    assert_int_equal(zkctl_tick(s.c, 300000), 0);
    sim_run(&s);
    assert_int_equal(s.n_multis, 0);
    /* a third one moves (15% > 10%); not checked again before the interval */
    zk_partition_state st;
    assert_int_equal(zkctl_resign(s.c), 0);
    sim_state(&s, "r", 2, 2, 1, "[1,2]", 1, 1);
    assert_int_equal(sim_become(&s), 0);
    assert_int_equal(zkctl_tick(s.c, 5999), 0);
    sim_run(&s);
    assert_int_equal(s.n_multis, 0);
    assert_int_equal(zkctl_tick(s.c, 6000), 0);
    sim_run(&s);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sim_read_state(&s, "r", i, &st), 2);
        assert_int_equal(st.leader, 1);
        assert_int_equal(st.leader_epoch, 2);
        assert_true(isr_is(&st, 2, 1, 2));
        zk_partition_state_free(&st);
    }
    assert_int_equal(s.n_writes, 3);
    /* a preferred replica out of the ISR is not elected */
    sim_state(&s, "r", 3, 2, 1, "[2]", 1, 1);
    sim_state(&s, "r", 4, 2, 1, "[2]", 1, 1);
    sim_state(&s, "r", 5, 2, 1, "[2]", 1, 1);
    assert_int_equal(zkctl_resign(s.c), 0);
    assert_int_equal(sim_become(&s), 0);
    size_t writes = s.n_multis;
    assert_int_equal(zkctl_tick(s.c, 10000), 0);
    sim_run(&s);
    assert_int_equal(s.n_multis, writes);
    done(&s);
}

static void test_rebalance_disabled(void **state)
{
    (void)state;
    struct sim s;
    zkctl_config cfg;
    zkctl_config_default(&cfg, 1);
    cfg.auto_leader_rebalance_enable = false;
    sim_init_cfg(&s, &cfg);
    sim_add_broker(&s, 1, 101);
    sim_add_broker(&s, 2, 102);
    sim_topic(&s, "r", "{\"0\":[1,2]}", TID);
    sim_state(&s, "r", 0, 2, 1, "[1,2]", 1, 1);
    assert_int_equal(sim_become(&s), 0);
    assert_int_equal(zkctl_tick(s.c, 1000000), 0);
    sim_run(&s);
    assert_int_equal(s.n_multis, 0);
    done(&s);
}

/* AlterPartition, ControlledShutdown, a LeaderAndIsr response, a deletion and a tick with the Nth allocation
 * failing, for every N: each call returns 0 or FERRY_ENOMEM, nothing crashes or leaks. */
static void test_alloc_failures(void **state)
{
    (void)state;
    for (long n = 0; n < 5000; n++) {
        struct sim s;
        setup(&s);
        s.auto_stop_replica = true;
        s.arm_fail = true;
        ferry_alloc_fail_after(n);
        int32_t isr[] = {1, 2};
        struct AlterPartitionRequest_PartitionData pd = {.PartitionIndex = 0, .LeaderEpoch = 4, .PartitionEpoch = 9,
                                                         .NewIsr = isr, .NewIsr_n = 2};
        struct AlterPartitionRequest_TopicData td = {.TopicName = {"orders", 6}, .Partitions = &pd, .Partitions_n = 1};
        struct AlterPartitionRequest req = {.BrokerId = 1, .BrokerEpoch = 101, .Topics = &td, .Topics_n = 1};
        SIM_OK(&s, zkctl_alter_partition(s.c, 1, 1, &req));
        sim_run(&s);
        struct ControlledShutdownRequest cs = {.BrokerId = 2, .BrokerEpoch = 102};
        SIM_OK(&s, zkctl_controlled_shutdown(s.c, 2, 3, &cs));
        sim_run(&s);
        struct LeaderAndIsrResponse_LeaderAndIsrPartitionError pe = {
            .TopicName = {"orders", 6}, .PartitionIndex = 1, .ErrorCode = KERR_KAFKA_STORAGE_ERROR};
        struct LeaderAndIsrResponse resp = {.PartitionErrors = &pe, .PartitionErrors_n = 1};
        SIM_OK(&s, zkctl_leader_and_isr_response(s.c, 3, &resp));
        sim_run(&s);
        SIM_OK(&s, zkctl_delete_requested(s.c, "orders"));
        sim_run(&s);
        SIM_OK(&s, zkctl_tick(s.c, 400000));
        sim_run(&s);
        if (sim_sweep_step_done(&s, n))
            break;
    }
}

int main(void)
{
    ferry_log_set_level(FERRY_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alter_partition_success),
        cmocka_unit_test(test_alter_partition_errors),
        cmocka_unit_test(test_alter_partition_waits_for_write),
        cmocka_unit_test(test_controlled_shutdown),
        cmocka_unit_test(test_offline_log_dir),
        cmocka_unit_test(test_delete_topic),
        cmocka_unit_test(test_delete_topic_retries),
        cmocka_unit_test(test_delete_disabled_and_at_failover),
        cmocka_unit_test(test_preferred_rebalance),
        cmocka_unit_test(test_rebalance_disabled),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
