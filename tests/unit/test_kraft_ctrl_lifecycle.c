/* Unit tests for the quorum controller's broker lifecycle decisions (Kafka 3.7's ClusterControlManager,
 * BrokerHeartbeatManager and ReplicationControlManager): BrokerRegistration, BrokerHeartbeat with
 * unfencing, fencing and controlled shutdown, the session-timeout fencing check, UnregisterBroker and
 * ControllerRegistration. Every record is framed, decoded and applied to the image (commit). */
#include "test_kraft_ctrl_fx.h"

#define CLUSTER "MkU3OEVBNTcwNTJENDM2Qg"

static struct fx *lc_new(void)
{
    struct fx *f = fx_new(3);
    snprintf(f->img.cluster_id, sizeof f->img.cluster_id, "%s", CLUSTER);
    assert_int_equal(ctrl_heartbeats_activate(&f->hb, &f->img, 0), 0);
    return f;
}

static int setup(void **state)
{
    *state = lc_new();
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

static struct BrokerRegistrationRequest *reg_req(struct fx *f, int32_t id, uint8_t incarnation)
{
    struct BrokerRegistrationRequest *r = proto_arena_alloc(&f->a, sizeof *r);
    proto_struct_init(proto_msg_BrokerRegistrationRequest.body, r);
    r->BrokerId = id;
    r->ClusterId = proto_str_from(CLUSTER);
    r->IncarnationId = fx_uuid(incarnation, 1);
    r->Listeners = proto_array_new(&f->a, &desc_BrokerRegistrationRequest_Listener, 1);
    r->Listeners_n = 1;
    r->Listeners[0] = (struct BrokerRegistrationRequest_Listener){proto_str_from("PLAINTEXT"),
                                                                 proto_str_from("localhost"), (uint16_t)(9000 + id), 0};
    r->Features = proto_array_new(&f->a, &desc_BrokerRegistrationRequest_Feature, 1);
    r->Features_n = 1;
    r->Features[0] = (struct BrokerRegistrationRequest_Feature){proto_str_from("metadata.version"), 1, 19};
    r->Rack = proto_str_from("rack-a");
    r->LogDirs = proto_arena_alloc(&f->a, 2 * sizeof(proto_uuid));
    r->LogDirs[0] = fx_uuid((uint8_t)id, 0x77);
    r->LogDirs_n = 1;
    return r;
}

static struct BrokerRegistrationResponse reg(struct fx *f, const struct BrokerRegistrationRequest *req, int64_t now)
{
    INIT(BrokerRegistrationResponse, resp);
    assert_int_equal(ctrl_register_broker(&f->img, &f->env, &f->hb, req, 3, f->off, now, &resp, &f->recs), 0);
    return resp;
}

/* A heartbeat with the broker's current epoch and the given metadata offset. */
static struct BrokerHeartbeatResponse beat(struct fx *f, int32_t id, int64_t offset, bool want_fence,
                                           bool want_shutdown, int64_t now)
{
    INIT(BrokerHeartbeatRequest, req);
    const struct md_broker *b = md_image_broker(&f->img, id);
    req.BrokerId = id;
    req.BrokerEpoch = b ? b->epoch : 1234;
    req.CurrentMetadataOffset = offset;
    req.WantFence = want_fence;
    req.WantShutDown = want_shutdown;
    INIT(BrokerHeartbeatResponse, resp);
    assert_int_equal(ctrl_broker_heartbeat(&f->img, &f->env, &f->hb, &req, 1, f->off, now, &resp, &f->recs), 0);
    return resp;
}

static void expect_change(struct fx *f, size_t i, const char *topic, int32_t pid, int32_t leader,
                          const int32_t *isr /* NULL: unchanged */)
{
    const struct PartitionChangeRecord *pc = fx_rec(f, i, &proto_msg_PartitionChangeRecord);
    assert_true(proto_uuid_eq(pc->TopicId, md_image_topic(&f->img, topic)->id));
    assert_int_equal(pc->PartitionId, pid);
    assert_int_equal(pc->Leader, leader);
    if (isr)
        fx_ints(pc->Isr, pc->Isr_n, isr);
    else
        assert_int_equal(pc->Isr_n, -1);
    assert_int_equal(pc->Replicas_n, -1);
}

static void expect_fencing(struct fx *f, size_t i, int32_t id, int8_t fenced)
{
    const struct BrokerRegistrationChangeRecord *c = fx_rec(f, i, &proto_msg_BrokerRegistrationChangeRecord);
    assert_int_equal(f->recs.recs[i].version, 0);
    assert_int_equal(c->BrokerId, id);
    assert_int_equal(c->BrokerEpoch, md_image_broker(&f->img, id)->epoch);
    assert_int_equal(c->Fenced, fenced);
}

/* ---- BrokerRegistration ---- */

static void test_register_broker(void **state)
{
    struct fx *f = *state;
    int64_t at = f->off;
    struct BrokerRegistrationResponse resp = reg(f, reg_req(f, 4, 0xa), 0);
    assert_int_equal(resp.ErrorCode, KERR_NONE);
    assert_int_equal(resp.BrokerEpoch, at);
    assert_int_equal(f->recs.n, 1);
    const struct RegisterBrokerRecord *r = fx_rec(f, 0, &proto_msg_RegisterBrokerRecord);
    assert_int_equal(f->recs.recs[0].version, 3); /* MV 19 */
    assert_int_equal(r->BrokerId, 4);
    assert_int_equal(r->BrokerEpoch, at);
    assert_true(r->Fenced);
    assert_true(proto_uuid_eq(r->IncarnationId, fx_uuid(0xa, 1)));
    assert_int_equal(r->EndPoints_n, 1);
    assert_str(r->EndPoints[0].Host, "localhost");
    assert_int_equal(r->EndPoints[0].Port, 9004);
    assert_int_equal(r->Features_n, 1);
    assert_int_equal(r->Features[0].MaxSupportedVersion, 19);
    assert_str(r->Rack, "rack-a");
    assert_int_equal(r->LogDirs_n, 1);
    commit(f);
    const struct md_broker *b = md_image_broker(&f->img, 4);
    assert_non_null(b);
    assert_true(b->fenced);
    assert_int_equal(b->epoch, at);
    assert_string_equal(b->rack, "rack-a");
    const struct ctrl_hb_broker *h = ctrl_heartbeats_get(&f->hb, 4);
    assert_non_null(h);
    assert_true(h->fenced);
    /* A fenced broker has no session, so placement and ISR checks do not count it. */
    assert_false(ctrl_heartbeats_valid_session(&f->hb, 4, 0));
}

static void test_register_listeners_and_features(void **state)
{
    struct fx *f = *state;
    struct BrokerRegistrationRequest *req = reg_req(f, 4, 0xa);
    /* A repeated listener name keeps its first position and the last value (Kafka's LinkedHashMap). */
    req->Listeners = proto_array_new(&f->a, &desc_BrokerRegistrationRequest_Listener, 3);
    req->Listeners_n = 3;
    req->Listeners[0] = (struct BrokerRegistrationRequest_Listener){proto_str_from("A"), proto_str_from("h1"), 1, 0};
    req->Listeners[1] = (struct BrokerRegistrationRequest_Listener){proto_str_from("B"), proto_str_from("h2"), 2, 1};
    req->Listeners[2] = (struct BrokerRegistrationRequest_Listener){proto_str_from("A"), proto_str_from("h3"), 3, 0};
    /* No metadata.version range: the broker is assumed to support only level 1, which is refused at 19. */
    req->Features[0] = (struct BrokerRegistrationRequest_Feature){proto_str_from("other.feature"), 0, 5};
    assert_int_equal(reg(f, req, 0).ErrorCode, KERR_UNSUPPORTED_VERSION);
    assert_int_equal(f->recs.n, 0);
    req->Features = proto_array_new(&f->a, &desc_BrokerRegistrationRequest_Feature, 2);
    req->Features_n = 2;
    req->Features[0] = (struct BrokerRegistrationRequest_Feature){proto_str_from("other.feature"), 0, 5};
    req->Features[1] = (struct BrokerRegistrationRequest_Feature){proto_str_from("metadata.version"), 19, 20};
    assert_int_equal(reg(f, req, 0).ErrorCode, KERR_NONE);
    const struct RegisterBrokerRecord *r = fx_rec(f, 0, &proto_msg_RegisterBrokerRecord);
    assert_int_equal(r->EndPoints_n, 2);
    assert_str(r->EndPoints[0].Name, "A");
    assert_str(r->EndPoints[0].Host, "h3");
    assert_int_equal(r->EndPoints[0].Port, 3);
    assert_str(r->EndPoints[1].Name, "B");
    assert_int_equal(r->EndPoints[1].SecurityProtocol, 1);
    assert_int_equal(r->Features_n, 2);
    commit(f);
    assert_int_equal(md_image_broker(&f->img, 4)->nendpoints, 2);
}

static void test_register_errors(void **state)
{
    struct fx *f = *state;
    struct BrokerRegistrationRequest *req = reg_req(f, 4, 0xa);
    req->ClusterId = proto_str_from("AAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(reg(f, req, 0).ErrorCode, KERR_INCONSISTENT_CLUSTER_ID);

    req = reg_req(f, 4, 0xa);
    req->Features[0].MaxSupportedVersion = 18;
    struct BrokerRegistrationResponse resp = reg(f, req, 0);
    assert_int_equal(resp.ErrorCode, KERR_UNSUPPORTED_VERSION);
    assert_int_equal(resp.BrokerEpoch, -1);

    req = reg_req(f, 4, 0xa);
    req->LogDirs_n = 0;
    assert_int_equal(reg(f, req, 0).ErrorCode, KERR_INVALID_REGISTRATION);
    req->LogDirs_n = 1;
    req->LogDirs[0] = fx_uuid(0, 99); /* reserved */
    assert_int_equal(reg(f, req, 0).ErrorCode, KERR_INVALID_REGISTRATION);
    req->LogDirs[0] = fx_uuid(4, 0x77);
    req->LogDirs[1] = fx_uuid(4, 0x77);
    req->LogDirs_n = 2;
    assert_int_equal(reg(f, req, 0).ErrorCode, KERR_INVALID_REGISTRATION);
    req->LogDirs_n = 1;
    req->LogDirs[0] = md_image_broker(&f->img, 2)->log_dirs[0]; /* broker 2's directory */
    assert_int_equal(reg(f, req, 0).ErrorCode, KERR_INVALID_REGISTRATION);

    req = reg_req(f, 4, 0xa);
    req->Listeners[0].SecurityProtocol = 7;
    assert_int_equal(reg(f, req, 0).ErrorCode, KERR_UNKNOWN_SERVER_ERROR);

    req = reg_req(f, 4, 0xa);
    req->IsMigratingZkBroker = true; /* no zookeeper.metadata.migration.enable */
    assert_int_equal(reg(f, req, 0).ErrorCode, KERR_BROKER_ID_NOT_REGISTERED);

    assert_int_equal(f->recs.n, 0);
    assert_null(ctrl_heartbeats_get(&f->hb, 4));
    assert_null(md_image_broker(&f->img, 4));
}

static void test_register_incarnations(void **state)
{
    struct fx *f = *state;
    assert_int_equal(reg(f, reg_req(f, 4, 0xa), 0).ErrorCode, KERR_NONE);
    commit(f);
    /* Caught up: unfenced, and its session is live from then on. */
    assert_false(beat(f, 4, f->off, false, false, 10).IsFenced);
    commit(f);
    assert_true(ctrl_heartbeats_valid_session(&f->hb, 4, 10));
    /* Another incarnation while that session lives. */
    assert_int_equal(reg(f, reg_req(f, 4, 0xb), 20).ErrorCode, KERR_DUPLICATE_BROKER_REGISTRATION);
    assert_int_equal(f->recs.n, 0);
    /* The same incarnation again (a retry): registered anew, with a new epoch, fenced. */
    int64_t at = f->off;
    struct BrokerRegistrationResponse resp = reg(f, reg_req(f, 4, 0xa), 30);
    assert_int_equal(resp.ErrorCode, KERR_NONE);
    assert_int_equal(resp.BrokerEpoch, at);
    commit(f);
    assert_true(md_image_broker(&f->img, 4)->fenced);
    assert_int_equal(md_image_broker(&f->img, 4)->epoch, at);
    /* The old epoch is stale now. */
    INIT(BrokerHeartbeatRequest, old);
    old.BrokerId = 4;
    old.BrokerEpoch = at - 3;
    INIT(BrokerHeartbeatResponse, oresp);
    assert_int_equal(ctrl_broker_heartbeat(&f->img, &f->env, &f->hb, &old, 1, f->off, 31, &oresp, &f->recs), 0);
    assert_int_equal(oresp.ErrorCode, KERR_STALE_BROKER_EPOCH);
    assert_int_equal(f->recs.n, 0);
    /* Unfenced again; once its session has expired another incarnation may take over. */
    assert_false(beat(f, 4, f->off, false, false, 40).IsFenced);
    commit(f);
    assert_int_equal(reg(f, reg_req(f, 4, 0xc), 40 + 9000).ErrorCode, KERR_DUPLICATE_BROKER_REGISTRATION);
    assert_int_equal(reg(f, reg_req(f, 4, 0xc), 40 + 9001).ErrorCode, KERR_NONE);
    commit(f);
    assert_true(proto_uuid_eq(md_image_broker(&f->img, 4)->incarnation, fx_uuid(0xc, 1)));
}

/* ---- BrokerHeartbeat ---- */

static void test_heartbeat_unfence(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "orphan");
    fx_partition(f, t, 0, L(4, 1), L(4), MD_NO_LEADER); /* led by nobody; broker 4 is its ISR */
    int64_t at = f->off;
    assert_int_equal(reg(f, reg_req(f, 4, 0xa), 0).ErrorCode, KERR_NONE);
    commit(f);
    /* Behind its registration record: stays fenced. */
    struct BrokerHeartbeatResponse r = beat(f, 4, at - 1, false, false, 5);
    assert_int_equal(r.ErrorCode, KERR_NONE);
    assert_false(r.IsCaughtUp);
    assert_true(r.IsFenced);
    assert_false(r.ShouldShutDown);
    assert_int_equal(f->recs.n, 0);
    /* WantFence keeps it fenced even when caught up. */
    r = beat(f, 4, at, true, false, 6);
    assert_true(r.IsCaughtUp);
    assert_true(r.IsFenced);
    assert_int_equal(f->recs.n, 0);
    /* Caught up: unfenced, and it leads the partition it can lead. */
    r = beat(f, 4, at, false, false, 7);
    assert_true(r.IsCaughtUp);
    assert_false(r.IsFenced);
    assert_int_equal(f->recs.n, 2);
    expect_fencing(f, 0, 4, -1);
    expect_change(f, 1, "orphan", 0, 4, NULL);
    commit(f);
    assert_false(md_image_broker(&f->img, 4)->fenced);
    assert_int_equal(fx_part(f, "orphan", 0)->leader, 4);
    assert_int_equal(fx_part(f, "orphan", 0)->leader_epoch, 1);
    assert_true(ctrl_heartbeats_valid_session(&f->hb, 4, 7));
    /* A plain heartbeat of an unfenced broker writes nothing. */
    r = beat(f, 4, f->off, false, false, 8);
    assert_false(r.IsFenced);
    assert_int_equal(f->recs.n, 0);
}

static void test_heartbeat_stale_epoch(void **state)
{
    struct fx *f = *state;
    INIT(BrokerHeartbeatRequest, req);
    INIT(BrokerHeartbeatResponse, resp);
    req.BrokerId = 2;
    req.BrokerEpoch = md_image_broker(&f->img, 2)->epoch + 1;
    assert_int_equal(ctrl_broker_heartbeat(&f->img, &f->env, &f->hb, &req, 0, f->off, 1, &resp, &f->recs), 0);
    assert_int_equal(resp.ErrorCode, KERR_STALE_BROKER_EPOCH);
    assert_true(resp.IsFenced);
    req.BrokerId = 9; /* never registered */
    assert_int_equal(ctrl_broker_heartbeat(&f->img, &f->env, &f->hb, &req, 0, f->off, 1, &resp, &f->recs), 0);
    assert_int_equal(resp.ErrorCode, KERR_STALE_BROKER_EPOCH);
    assert_int_equal(f->recs.n, 0);
    /* The refused heartbeat did not renew the session. */
    assert_int_equal(ctrl_heartbeats_get(&f->hb, 2)->last_contact_ms, 0);
}

static void test_session_timeout_fencing(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "t");
    fx_partition(f, t, 0, L(2, 1, 3), L(2, 1, 3), 2);
    fx_partition(f, t, 1, L(2), L(2), 2);
    fx_partition(f, t, 2, L(1, 2), L(1, 2), 1);
    beat(f, 1, f->off, false, false, 5000);
    beat(f, 3, f->off, false, false, 5000);
    assert_int_equal(f->recs.n, 0);
    assert_int_equal(ctrl_heartbeats_next_check_ms(&f->hb), 9000); /* broker 2, heard from at 0 */
    int32_t fenced;
    assert_int_equal(ctrl_fence_stale_broker(&f->img, &f->env, &f->hb, 9000, &fenced, &f->recs), 0);
    assert_int_equal(fenced, -1); /* exactly the session timeout: still alive */
    assert_int_equal(f->recs.n, 0);
    assert_int_equal(ctrl_fence_stale_broker(&f->img, &f->env, &f->hb, 9001, &fenced, &f->recs), 0);
    assert_int_equal(fenced, 2);
    assert_int_equal(f->recs.n, 4);
    expect_change(f, 0, "t", 0, 1, L(1, 3));          /* the next ISR replica leads */
    expect_change(f, 1, "t", 1, MD_NO_LEADER, NULL);  /* the last ISR member stays; no leader */
    expect_change(f, 2, "t", 2, MD_LEADER_UNCHANGED, L(1)); /* ISR shrink only (no bump at MV 19) */
    expect_fencing(f, 3, 2, 1);
    commit(f);
    assert_true(md_image_broker(&f->img, 2)->fenced);
    assert_int_equal(fx_part(f, "t", 0)->leader, 1);
    assert_int_equal(fx_part(f, "t", 0)->leader_epoch, 1);
    fx_ints(fx_part(f, "t", 1)->isr.v, fx_part(f, "t", 1)->isr.n, L(2));
    assert_int_equal(fx_part(f, "t", 1)->leader, MD_NO_LEADER);
    assert_int_equal(fx_part(f, "t", 2)->leader_epoch, 0);
    assert_int_equal(fx_part(f, "t", 2)->partition_epoch, 1);
    /* One broker per check; the others are alive. */
    assert_int_equal(ctrl_fence_stale_broker(&f->img, &f->env, &f->hb, 9001, &fenced, &f->recs), 0);
    assert_int_equal(fenced, -1);
    assert_int_equal(ctrl_heartbeats_next_check_ms(&f->hb), 14000);
    /* Broker 2 comes back: unfenced, and it leads the partition left without a leader. */
    struct BrokerHeartbeatResponse r = beat(f, 2, f->off, false, false, 9500);
    assert_false(r.IsFenced);
    assert_int_equal(f->recs.n, 2);
    expect_fencing(f, 0, 2, -1);
    expect_change(f, 1, "t", 1, 2, NULL);
    commit(f);
    assert_int_equal(fx_part(f, "t", 1)->leader, 2);
}

static void test_fencing_unclean_topic(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "u");
    fx_partition(f, t, 0, L(2, 3), L(2), 2);
    INIT(ConfigRecord, c);
    c.ResourceType = MD_RESOURCE_TOPIC;
    c.ResourceName = proto_str_from("u");
    c.Name = proto_str_from("unclean.leader.election.enable");
    c.Value = proto_str_from("true");
    assert_int_equal(md_image_apply(&f->img, &proto_msg_ConfigRecord, &c, f->off++, NULL), 0);
    /* Broker 2 asks to be fenced: the out-of-sync replica 3 is elected, uncleanly. */
    struct BrokerHeartbeatResponse r = beat(f, 2, f->off, true, false, 1);
    assert_true(r.IsFenced);
    assert_false(r.ShouldShutDown);
    assert_int_equal(f->recs.n, 2);
    expect_change(f, 0, "u", 0, 3, L(3));
    const struct PartitionChangeRecord *pc = fx_rec(f, 0, &proto_msg_PartitionChangeRecord);
    assert_int_equal(pc->LeaderRecoveryState, 1); /* RECOVERING */
    expect_fencing(f, 1, 2, 1);
    commit(f);
    assert_int_equal(fx_part(f, "u", 0)->leader_recovery_state, 1);
    assert_true(ctrl_heartbeats_get(&f->hb, 2)->fenced);
}

static void test_fencing_old_metadata_version(void **state)
{
    struct fx *f = *state;
    INIT(FeatureLevelRecord, fl);
    fl.Name = proto_str_from("metadata.version");
    fl.FeatureLevel = 5; /* 3.3-IV1: before BrokerRegistrationChangeRecord */
    assert_int_equal(md_image_apply(&f->img, &proto_msg_FeatureLevelRecord, &fl, f->off++, NULL), 0);
    proto_uuid t = fx_topic(f, "old");
    fx_partition(f, t, 0, L(1, 2), L(1, 2), 1);
    beat(f, 1, f->off, true, false, 1);
    assert_int_equal(f->recs.n, 2);
    expect_change(f, 0, "old", 0, 2, L(2));
    assert_int_equal(f->recs.recs[0].version, 0);
    const struct FenceBrokerRecord *fb = fx_rec(f, 1, &proto_msg_FenceBrokerRecord);
    assert_int_equal(fb->Id, 1);
    assert_int_equal(fb->Epoch, md_image_broker(&f->img, 1)->epoch);
    commit(f);
    assert_true(md_image_broker(&f->img, 1)->fenced);
    beat(f, 1, f->off, false, false, 2);
    const struct UnfenceBrokerRecord *ub = fx_rec(f, 0, &proto_msg_UnfenceBrokerRecord);
    assert_int_equal(ub->Id, 1);
    commit(f);
    assert_false(md_image_broker(&f->img, 1)->fenced);
}

/* Directories of a partition's replicas, set in the image. */
static void set_dirs(struct fx *f, proto_uuid topic, int32_t pid, proto_uuid d0, proto_uuid d1)
{
    proto_uuid dirs[2] = {d0, d1};
    INIT(PartitionChangeRecord, c);
    c.TopicId = topic;
    c.PartitionId = pid;
    c.Directories = dirs;
    c.Directories_n = 2;
    assert_int_equal(md_image_apply(&f->img, &proto_msg_PartitionChangeRecord, &c, f->off++, NULL), 0);
}

static void test_heartbeat_offline_log_dirs(void **state)
{
    struct fx *f = *state;
    struct BrokerRegistrationRequest *req = reg_req(f, 4, 0xa);
    proto_uuid d1 = fx_uuid(4, 0x71), d2 = fx_uuid(4, 0x72), other = fx_uuid(9, 0x79);
    req->LogDirs[0] = d1;
    req->LogDirs[1] = d2;
    req->LogDirs_n = 2;
    assert_int_equal(reg(f, req, 0).ErrorCode, KERR_NONE);
    commit(f);
    assert_false(beat(f, 4, f->off, false, false, 1).IsFenced);
    commit(f);
    proto_uuid t = fx_topic(f, "d");
    fx_partition(f, t, 0, L(4, 1), L(4, 1), 4);
    fx_partition(f, t, 1, L(4, 2), L(4, 2), 4);
    set_dirs(f, t, 0, d1, md_image_broker(&f->img, 1)->log_dirs[0]);
    set_dirs(f, t, 1, d2, md_image_broker(&f->img, 2)->log_dirs[0]);
    INIT(BrokerHeartbeatRequest, hb);
    hb.BrokerId = 4;
    hb.BrokerEpoch = md_image_broker(&f->img, 4)->epoch;
    hb.CurrentMetadataOffset = f->off;
    proto_uuid offline[2] = {other, d1};
    hb.OfflineLogDirs = offline;
    hb.OfflineLogDirs_n = 2;
    INIT(BrokerHeartbeatResponse, resp);
    assert_int_equal(ctrl_broker_heartbeat(&f->img, &f->env, &f->hb, &hb, 1, f->off, 2, &resp, &f->recs), 0);
    assert_false(resp.IsFenced);
    assert_int_equal(f->recs.n, 2);
    expect_change(f, 0, "d", 0, 1, L(1));
    const struct BrokerRegistrationChangeRecord *c = fx_rec(f, 1, &proto_msg_BrokerRegistrationChangeRecord);
    assert_int_equal(f->recs.recs[1].version, 2);
    assert_int_equal(c->LogDirs_n, 1);
    assert_true(proto_uuid_eq(c->LogDirs[0], d2));
    commit(f);
    const struct md_broker *b = md_image_broker(&f->img, 4);
    assert_int_equal(b->nlog_dirs, 1);
    assert_int_equal(fx_part(f, "d", 0)->leader, 1);
    assert_int_equal(fx_part(f, "d", 1)->leader, 4);
    /* Reported again: nothing newly offline, nothing written. */
    hb.CurrentMetadataOffset = f->off;
    assert_int_equal(ctrl_broker_heartbeat(&f->img, &f->env, &f->hb, &hb, 1, f->off, 3, &resp, &f->recs), 0);
    assert_int_equal(f->recs.n, 0);
}

/* ---- controlled shutdown ---- */

static void test_controlled_shutdown(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "s");
    fx_partition(f, t, 0, L(1, 2), L(1, 2), 1);
    fx_partition(f, t, 1, L(1), L(1), 1);
    fx_partition(f, t, 2, L(2, 1), L(2, 1), 2);
    int64_t first = f->off;
    struct BrokerHeartbeatResponse r = beat(f, 1, f->off, false, true, 100);
    assert_false(r.IsFenced);
    assert_false(r.ShouldShutDown);
    assert_int_equal(f->recs.n, 4);
    const struct BrokerRegistrationChangeRecord *c = fx_rec(f, 0, &proto_msg_BrokerRegistrationChangeRecord);
    assert_int_equal(f->recs.recs[0].version, 1);
    assert_int_equal(c->InControlledShutdown, 1);
    assert_int_equal(c->Fenced, 0);
    expect_change(f, 1, "s", 0, 2, L(2));
    expect_change(f, 2, "s", 1, MD_NO_LEADER, NULL); /* its only ISR member: left leaderless, as Kafka */
    expect_change(f, 3, "s", 2, MD_LEADER_UNCHANGED, L(2));
    /* Shutdown completes once active brokers have the last record of that heartbeat. */
    assert_int_equal(ctrl_heartbeats_get(&f->hb, 1)->shutdown_offset, first + 3);
    commit(f);
    assert_true(md_image_broker(&f->img, 1)->in_controlled_shutdown);
    assert_false(md_image_broker(&f->img, 1)->fenced);
    /* A broker in controlled shutdown gets no new replicas. */
    int32_t placed[3];
    char msg[256];
    assert_int_equal(ctrl_place_replicas(&f->img, &f->env, 1, 3, placed, msg, sizeof msg),
                     KERR_INVALID_REPLICATION_FACTOR);
    assert_string_equal(msg, "The target replication factor of 3 cannot be reached because only 2 broker(s) are "
                             "registered.");
    /* The I/O reports where the batch really ended: one further (as if wrapped in a transaction). */
    ctrl_heartbeats_batch_end(&f->hb, 1, first + 4);
    ctrl_heartbeats_batch_end(&f->hb, 2, 999); /* not shutting down: no effect */
    assert_int_equal(ctrl_heartbeats_get(&f->hb, 2)->shutdown_offset, -1);
    /* It leads nothing now, but brokers 2 and 3 have not reported that offset yet. */
    r = beat(f, 1, f->off, false, true, 200);
    assert_false(r.ShouldShutDown);
    assert_false(r.IsFenced);
    assert_int_equal(f->recs.n, 0);
    beat(f, 2, first + 4, false, false, 300);
    beat(f, 3, first + 3, false, false, 300);
    r = beat(f, 1, f->off, false, true, 310);
    assert_false(r.ShouldShutDown); /* broker 3 still behind */
    beat(f, 3, first + 4, false, false, 320);
    r = beat(f, 1, f->off, false, true, 330);
    assert_true(r.ShouldShutDown);
    assert_true(r.IsFenced);
    assert_int_equal(f->recs.n, 1); /* s-1 keeps its last ISR member: only the fencing record */
    expect_fencing(f, 0, 1, 1);
    commit(f);
    assert_true(md_image_broker(&f->img, 1)->fenced);
}

static void test_shutdown_without_leaderships(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "n");
    fx_partition(f, t, 0, L(2, 3), L(2, 3), 2); /* broker 3 follows only */
    struct BrokerHeartbeatResponse r = beat(f, 3, f->off, false, true, 1);
    assert_true(r.ShouldShutDown);
    assert_true(r.IsFenced);
    assert_int_equal(f->recs.n, 2);
    expect_change(f, 0, "n", 0, MD_LEADER_UNCHANGED, L(2));
    expect_fencing(f, 1, 3, 1);
    commit(f);
    /* Fenced now: a further WantShutDown is granted at once (and fences again, as Kafka). */
    r = beat(f, 3, f->off, false, true, 2);
    assert_true(r.ShouldShutDown);
    assert_int_equal(f->recs.n, 1);
    expect_fencing(f, 0, 3, 1);
    commit(f);
}

/* ---- UnregisterBroker, ControllerRegistration ---- */

static void test_unregister_broker(void **state)
{
    struct fx *f = *state;
    proto_uuid t = fx_topic(f, "x");
    fx_partition(f, t, 0, L(2, 1), L(2, 1), 2);
    INIT(UnregisterBrokerRequest, req);
    INIT(UnregisterBrokerResponse, resp);
    req.BrokerId = 9;
    assert_int_equal(ctrl_unregister_broker(&f->img, &f->env, &f->hb, &req, &f->a, &resp, &f->recs), 0);
    assert_int_equal(resp.ErrorCode, KERR_BROKER_ID_NOT_REGISTERED);
    assert_int_equal(resp.ErrorMessage.len, -1); /* ControllerApis sends the code alone */
    assert_int_equal(f->recs.n, 0);
    req.BrokerId = 2;
    int64_t epoch = md_image_broker(&f->img, 2)->epoch;
    assert_int_equal(ctrl_unregister_broker(&f->img, &f->env, &f->hb, &req, &f->a, &resp, &f->recs), 0);
    assert_int_equal(resp.ErrorCode, KERR_NONE);
    assert_int_equal(f->recs.n, 2);
    expect_change(f, 0, "x", 0, 1, L(1));
    const struct UnregisterBrokerRecord *u = fx_rec(f, 1, &proto_msg_UnregisterBrokerRecord);
    assert_int_equal(u->BrokerId, 2);
    assert_int_equal(u->BrokerEpoch, epoch);
    commit(f);
    assert_null(md_image_broker(&f->img, 2));
    assert_null(ctrl_heartbeats_get(&f->hb, 2));
    assert_int_equal(fx_part(f, "x", 0)->leader, 1);
}

static void test_register_controller(void **state)
{
    struct fx *f = *state;
    INIT(ControllerRegistrationRequest, req);
    req.ControllerId = 3000;
    req.IncarnationId = fx_uuid(0x30, 1);
    req.ZkMigrationReady = false;
    req.Listeners = proto_array_new(&f->a, &desc_ControllerRegistrationRequest_Listener, 1);
    req.Listeners_n = 1;
    req.Listeners[0] = (struct ControllerRegistrationRequest_Listener){proto_str_from("CONTROLLER"),
                                                                      proto_str_from("127.0.0.1"), 9093, 0};
    req.Features = proto_array_new(&f->a, &desc_ControllerRegistrationRequest_Feature, 1);
    req.Features_n = 1;
    req.Features[0] = (struct ControllerRegistrationRequest_Feature){proto_str_from("metadata.version"), 1, 19};
    INIT(ControllerRegistrationResponse, resp);
    assert_int_equal(ctrl_register_controller(&f->img, &req, &f->a, &resp, &f->recs), 0);
    assert_int_equal(resp.ErrorCode, KERR_NONE);
    const struct RegisterControllerRecord *r = fx_rec(f, 0, &proto_msg_RegisterControllerRecord);
    assert_int_equal(r->ControllerId, 3000);
    assert_int_equal(r->EndPoints_n, 1);
    assert_int_equal(r->EndPoints[0].Port, 9093);
    assert_int_equal(r->Features_n, 1);
    commit(f);
    const struct md_controller *mc = md_image_controller(&f->img, 3000);
    assert_non_null(mc);
    assert_int_equal(mc->nendpoints, 1);
    /* A bad security protocol, then a metadata.version before 3.7-IV0. */
    req.Listeners[0].SecurityProtocol = -1;
    assert_int_equal(ctrl_register_controller(&f->img, &req, &f->a, &resp, &f->recs), 0);
    assert_int_equal(resp.ErrorCode, KERR_UNKNOWN_SERVER_ERROR);
    assert_str(resp.ErrorMessage, "The server experienced an unexpected error when processing the request.");
    f->img.metadata_version = 14;
    assert_int_equal(ctrl_register_controller(&f->img, &req, &f->a, &resp, &f->recs), 0);
    assert_int_equal(resp.ErrorCode, KERR_UNSUPPORTED_VERSION);
    assert_str(resp.ErrorMessage, "The version of API is not supported.");
    assert_int_equal(f->recs.n, 0);
}

/* ---- a cluster's life: every decision against the image the previous ones built ---- */

static void join(struct fx *f, int32_t id, uint8_t incarnation, int64_t now)
{
    assert_int_equal(reg(f, reg_req(f, id, incarnation), now).ErrorCode, KERR_NONE);
    commit(f);
    assert_false(beat(f, id, f->off, false, false, now).IsFenced);
    commit(f);
    fx_check_invariants(f);
}

static void test_cluster_life(void **state)
{
    (void)state;
    struct fx *f = fx_new(0);
    snprintf(f->img.cluster_id, sizeof f->img.cluster_id, "%s", CLUSTER);
    for (int32_t id = 1; id <= 3; id++)
        join(f, id, (uint8_t)id, 0);
    /* A topic placed over the three brokers. */
    INIT(CreateTopicsRequest, ct);
    ct.Topics = proto_array_new(&f->a, &desc_CreateTopicsRequest_CreatableTopic, 1);
    ct.Topics_n = 1;
    ct.Topics[0].Name = proto_str_from("w");
    ct.Topics[0].NumPartitions = 6;
    ct.Topics[0].ReplicationFactor = 3;
    ct.Topics[0].Assignments_n = 0;
    ct.Topics[0].Configs_n = 0;
    INIT(CreateTopicsResponse, ctr);
    assert_int_equal(ctrl_create_topics(&f->img, &f->env, &ct, 5, &f->a, &ctr, &f->recs), 0);
    assert_int_equal(ctr.Topics[0].ErrorCode, KERR_NONE);
    commit(f);
    fx_check_invariants(f);
    assert_false(ctrl_leaders_imbalanced(&f->img));
    /* Broker 2 goes silent and is fenced: it leads nothing and is in no ISR. */
    beat(f, 1, f->off, false, false, 5000);
    beat(f, 3, f->off, false, false, 5000);
    int32_t fenced;
    assert_int_equal(ctrl_fence_stale_broker(&f->img, &f->env, &f->hb, 9001, &fenced, &f->recs), 0);
    assert_int_equal(fenced, 2);
    commit(f);
    fx_check_invariants(f);
    for (int32_t pid = 0; pid < 6; pid++)
        assert_false(md_ints_contains(&fx_part(f, "w", pid)->isr, 2));
    assert_true(ctrl_leaders_imbalanced(&f->img));
    /* It restarts (a new incarnation), catches up and is unfenced; the leaders add it back to their ISRs. */
    join(f, 2, 0x22, 9500);
    for (int32_t pid = 0; pid < 6; pid++) {
        const struct md_partition *p = fx_part(f, "w", pid);
        INIT(AlterPartitionRequest, req);
        req.BrokerId = p->leader;
        req.BrokerEpoch = md_image_broker(&f->img, p->leader)->epoch;
        req.Topics = proto_array_new(&f->a, &desc_AlterPartitionRequest_TopicData, 1);
        req.Topics_n = 1;
        req.Topics[0].TopicId = md_image_topic(&f->img, "w")->id;
        req.Topics[0].Partitions = proto_array_new(&f->a, &desc_AlterPartitionRequest_PartitionData, 1);
        req.Topics[0].Partitions_n = 1;
        struct AlterPartitionRequest_PartitionData *pd = &req.Topics[0].Partitions[0];
        pd->PartitionIndex = pid;
        pd->LeaderEpoch = p->leader_epoch;
        pd->PartitionEpoch = p->partition_epoch;
        pd->NewIsrWithEpochs = proto_array_new(&f->a, &desc_AlterPartitionRequest_BrokerState, 3);
        pd->NewIsrWithEpochs_n = 3;
        for (int32_t k = 0; k < 3; k++) {
            int32_t r = p->replicas.v[k];
            pd->NewIsrWithEpochs[k] = (struct AlterPartitionRequest_BrokerState){r, md_image_broker(&f->img, r)->epoch};
        }
        INIT(AlterPartitionResponse, resp);
        assert_int_equal(ctrl_alter_partition(&f->img, &f->env, &req, 3, &f->a, &resp, &f->recs), 0);
        assert_int_equal(resp.Topics[0].Partitions[0].ErrorCode, KERR_NONE);
        assert_int_equal(resp.Topics[0].Partitions[0].Isr_n, 3);
        commit(f);
        fx_check_invariants(f);
    }
    /* The periodic rebalance gives broker 2 back the partitions it prefers. */
    bool more;
    assert_int_equal(ctrl_balance_partition_leaders(&f->img, &f->env, &more, &f->recs), 0);
    assert_false(more);
    assert_true(f->recs.n > 0);
    commit(f);
    fx_check_invariants(f);
    assert_false(ctrl_leaders_imbalanced(&f->img));
    fx_free(f);
}

/* ---- allocation failures: FERRY_ENOMEM, no record, the tracker as before ---- */

static struct fx *shutdown_fx(void)
{
    struct fx *f = lc_new();
    proto_uuid t = fx_topic(f, "s");
    fx_partition(f, t, 0, L(1, 2), L(1, 2), 1);
    fx_partition(f, t, 1, L(1), L(1), 1);
    fx_partition(f, t, 2, L(2, 1), L(2, 1), 2);
    return f;
}

static int decide_shutdown(struct fx *f)
{
    INIT(BrokerHeartbeatRequest, req);
    req.BrokerId = 1;
    req.BrokerEpoch = md_image_broker(&f->img, 1)->epoch;
    req.CurrentMetadataOffset = f->off;
    req.WantShutDown = true;
    INIT(BrokerHeartbeatResponse, resp);
    int rc = ctrl_broker_heartbeat(&f->img, &f->env, &f->hb, &req, 1, f->off, 100, &resp, &f->recs);
    const struct ctrl_hb_broker *h = ctrl_heartbeats_get(&f->hb, 1);
    assert_int_equal(h->shutdown_offset >= 0, rc == 0);
    assert_int_equal(h->last_contact_ms, rc == 0 ? 100 : 0);
    return rc;
}

static int decide_fence_stale(struct fx *f)
{
    int32_t fenced;
    int rc = ctrl_fence_stale_broker(&f->img, &f->env, &f->hb, 10000, &fenced, &f->recs);
    assert_int_equal(ctrl_heartbeats_get(&f->hb, 1)->fenced, rc == 0);
    return rc;
}

static struct fx *register_fx(void)
{
    struct fx *f = shutdown_fx();
    f->req = reg_req(f, 4, 0xa);
    return f;
}

static int decide_register(struct fx *f)
{
    INIT(BrokerRegistrationResponse, resp);
    int rc = ctrl_register_broker(&f->img, &f->env, &f->hb, f->req, 3, f->off, 0, &resp, &f->recs);
    assert_int_equal(ctrl_heartbeats_get(&f->hb, 4) != NULL, rc == 0);
    return rc;
}

static int decide_unregister(struct fx *f)
{
    INIT(UnregisterBrokerRequest, req);
    INIT(UnregisterBrokerResponse, resp);
    req.BrokerId = 1;
    int rc = ctrl_unregister_broker(&f->img, &f->env, &f->hb, &req, &f->a, &resp, &f->recs);
    assert_int_equal(ctrl_heartbeats_get(&f->hb, 1) == NULL, rc == 0);
    return rc;
}

static struct fx *controller_fx(void)
{
    struct fx *f = lc_new();
    struct ControllerRegistrationRequest *req = proto_arena_alloc(&f->a, sizeof *req);
    proto_struct_init(proto_msg_ControllerRegistrationRequest.body, req);
    req->ControllerId = 3000;
    req->Listeners = proto_array_new(&f->a, &desc_ControllerRegistrationRequest_Listener, 1);
    req->Listeners_n = 1;
    req->Listeners[0] = (struct ControllerRegistrationRequest_Listener){proto_str_from("CONTROLLER"),
                                                                       proto_str_from("127.0.0.1"), 9093, 0};
    req->Features_n = 0;
    f->req = req;
    return f;
}

static int decide_register_controller(struct fx *f)
{
    INIT(ControllerRegistrationResponse, resp);
    return ctrl_register_controller(&f->img, f->req, &f->a, &resp, &f->recs);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    fx_alloc_sweep(shutdown_fx, decide_shutdown, 4);
    fx_alloc_sweep(shutdown_fx, decide_fence_stale, 4); /* broker 1 (lowest id) goes first */
    fx_alloc_sweep(register_fx, decide_register, 1);
    fx_alloc_sweep(shutdown_fx, decide_unregister, 4);
    fx_alloc_sweep(controller_fx, decide_register_controller, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_broker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_listeners_and_features, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_incarnations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_unfence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_stale_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_timeout_fencing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fencing_unclean_topic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fencing_old_metadata_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_offline_log_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_controlled_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_without_leaderships, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unregister_broker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_controller, setup, teardown),
        cmocka_unit_test(test_cluster_life),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
