/* Unit tests for the pure quorum-controller decisions: CreateTopics, DeleteTopics, CreatePartitions,
 * AlterConfigs, IncrementalAlterConfigs and auto-creation, with Kafka's error codes and messages. Every
 * produced record is framed, decoded back and applied to the image, so that records and image agree. */
#include "test_kraft_ctrl_fx.h"

static int setup1(void **state)
{
    *state = fx_new(1);
    return 0;
}
static int setup3(void **state)
{
    *state = fx_new(3);
    return 0;
}
static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* ---- request builders ---- */

static struct CreateTopicsRequest *ct_req(struct fx *f, int n)
{
    struct CreateTopicsRequest *req = proto_arena_alloc(&f->a, sizeof *req);
    proto_struct_init(proto_msg_CreateTopicsRequest.body, req);
    req->Topics = proto_array_new(&f->a, &desc_CreateTopicsRequest_CreatableTopic, n);
    req->Topics_n = n;
    for (int i = 0; i < n; i++) {
        req->Topics[i].Assignments_n = 0;
        req->Topics[i].Configs_n = 0;
    }
    return req;
}

static void ct_topic(struct CreateTopicsRequest *req, int i, const char *name, int32_t np, int16_t rf)
{
    req->Topics[i].Name = proto_str_from(name);
    req->Topics[i].NumPartitions = np;
    req->Topics[i].ReplicationFactor = rf;
}

static void ct_configs(struct fx *f, struct CreateTopicsRequest *req, int i, const char *const *kv, int n)
{
    struct CreateTopicsRequest_CreatableTopic *t = &req->Topics[i];
    t->Configs = proto_array_new(&f->a, &desc_CreateTopicsRequest_CreateableTopicConfig, n);
    t->Configs_n = n;
    for (int j = 0; j < n; j++) {
        t->Configs[j].Name = proto_str_from(kv[2 * j]);
        t->Configs[j].Value = proto_str_from(kv[2 * j + 1]);
    }
}

static struct CreateTopicsResponse create(struct fx *f, struct CreateTopicsRequest *req, int16_t version)
{
    struct CreateTopicsResponse resp;
    assert_int_equal(ctrl_create_topics(&f->img, &f->env, req, version, &f->a, &resp, &f->recs), 0);
    return resp;
}

static struct CreateTopicsResponse create1(struct fx *f, const char *name, int32_t np, int16_t rf)
{
    struct CreateTopicsRequest *req = ct_req(f, 1);
    ct_topic(req, 0, name, np, rf);
    return create(f, req, 5);
}

static void expect_error(struct CreateTopicsResponse r, int16_t code, const char *msg)
{
    assert_int_equal(r.Topics_n, 1);
    assert_int_equal(r.Topics[0].ErrorCode, code);
    if (msg) {
        if (!proto_str_eq(r.Topics[0].ErrorMessage, msg))
            fail_msg("message: got '%.*s', want '%s'", (int)r.Topics[0].ErrorMessage.len, r.Topics[0].ErrorMessage.p,
                     msg);
    }
}

/* ---- CreateTopics ---- */

static void test_create_topic_records(void **state)
{
    struct fx *f = *state;
    struct CreateTopicsResponse r = create1(f, "orders", 3, 1);
    assert_int_equal(r.Topics_n, 1);
    assert_int_equal(r.Topics[0].ErrorCode, 0);
    assert_str(r.Topics[0].Name, "orders");
    assert_int_equal(r.Topics[0].NumPartitions, 3);
    assert_int_equal(r.Topics[0].ReplicationFactor, 1);
    assert_false(proto_uuid_is_zero(r.Topics[0].TopicId));
    assert_true(r.Topics[0].Configs_n > 10); /* v5: effective configs, sorted */
    for (int32_t i = 1; i < r.Topics[0].Configs_n; i++)
        assert_true(memcmp(r.Topics[0].Configs[i - 1].Name.p, r.Topics[0].Configs[i].Name.p, 1) <= 0);

    assert_int_equal(f->recs.n, 4);
    assert_ptr_equal(f->recs.recs[0].m, &proto_msg_TopicRecord);
    for (int i = 1; i < 4; i++) {
        assert_ptr_equal(f->recs.recs[i].m, &proto_msg_PartitionRecord);
        assert_int_equal(f->recs.recs[i].version, 1); /* MV 19: directories */
        const struct PartitionRecord *p = f->recs.recs[i].data;
        assert_int_equal(p->PartitionId, i - 1);
        assert_int_equal(p->Leader, 1);
        assert_int_equal(p->LeaderEpoch, 0);
        assert_int_equal(p->PartitionEpoch, 0);
        assert_int_equal(p->Isr_n, 1);
        assert_int_equal(p->Directories_n, 1);
        assert_int_equal(p->Directories[0].b[15], 7); /* the broker's only log dir */
    }
    commit(f);
    const struct md_topic *t = md_image_topic(&f->img, "orders");
    assert_non_null(t);
    assert_true(proto_uuid_eq(t->id, r.Topics[0].TopicId));
    assert_int_equal(t->nparts, 3);
    assert_int_equal(md_topic_partition(t, 2)->leader, 1);

    /* Again: already exists. */
    expect_error(create1(f, "orders", 1, 1), KERR_TOPIC_ALREADY_EXISTS, "Topic 'orders' already exists.");
    assert_int_equal(f->recs.n, 0);
}

static void test_create_topic_defaults_and_configs(void **state)
{
    struct fx *f = *state;
    f->env.num_partitions = 2;
    struct CreateTopicsRequest *req = ct_req(f, 1);
    ct_topic(req, 0, "c", -1, -1);
    const char *kv[] = {"cleanup.policy", "compact", "retention.ms", "1000", "retention.ms", "2000"};
    ct_configs(f, req, 0, kv, 3);
    struct CreateTopicsResponse r = create(f, req, 4);
    assert_int_equal(r.Topics[0].ErrorCode, 0);
    assert_int_equal(r.Topics[0].NumPartitions, 2);
    /* TopicRecord, ConfigRecords (duplicates last-wins), then PartitionRecords. */
    assert_int_equal(f->recs.n, 1 + 2 + 2);
    assert_ptr_equal(f->recs.recs[1].m, &proto_msg_ConfigRecord);
    assert_ptr_equal(f->recs.recs[2].m, &proto_msg_ConfigRecord);
    assert_ptr_equal(f->recs.recs[3].m, &proto_msg_PartitionRecord);
    commit(f);
    const struct md_configs *c = md_image_configs(&f->img, MD_RESOURCE_TOPIC, "c");
    assert_string_equal(md_configs_get(c, "retention.ms"), "2000");
    assert_string_equal(md_configs_get(c, "cleanup.policy"), "compact");
}

static void test_create_topic_invalid_names(void **state)
{
    struct fx *f = *state;
    char longname[251];
    memset(longname, 'a', 250);
    longname[250] = '\0';
    expect_error(create1(f, "", 1, 1), KERR_INVALID_TOPIC_EXCEPTION,
                 "Topic name is invalid: the empty string is not allowed");
    expect_error(create1(f, ".", 1, 1), KERR_INVALID_TOPIC_EXCEPTION, "Topic name is invalid: '.' is not allowed");
    expect_error(create1(f, "..", 1, 1), KERR_INVALID_TOPIC_EXCEPTION, "Topic name is invalid: '..' is not allowed");
    expect_error(create1(f, longname, 1, 1), KERR_INVALID_TOPIC_EXCEPTION, NULL);
    expect_error(create1(f, "a b", 1, 1), KERR_INVALID_TOPIC_EXCEPTION,
                 "Topic name is invalid: 'a b' contains one or more characters other than ASCII alphanumerics, '.', "
                 "'_' and '-'");
    longname[249] = '\0';
    assert_int_equal(create1(f, longname, 1, 1).Topics[0].ErrorCode, 0); /* 249 is fine */
    assert_int_equal(create1(f, "Az09._-", 1, 1).Topics[0].ErrorCode, 0);
    commit(f);
    /* '.' and '_' collide with an existing topic. */
    expect_error(create1(f, "Az09__-", 1, 1), KERR_INVALID_TOPIC_EXCEPTION,
                 "Topic 'Az09__-' collides with existing topic: Az09._-");
    assert_int_equal(f->recs.n, 0);
}

static void test_create_topic_bad_counts(void **state)
{
    struct fx *f = *state;
    const char *rf_msg = "Replication factor must be larger than 0, or -1 to use the default value.";
    expect_error(create1(f, "t", 1, 0), KERR_INVALID_REPLICATION_FACTOR, rf_msg);
    expect_error(create1(f, "t", 1, -2), KERR_INVALID_REPLICATION_FACTOR, rf_msg);
    const char *np_msg = "Number of partitions was set to an invalid non-positive value.";
    expect_error(create1(f, "t", 0, 1), KERR_INVALID_PARTITIONS, np_msg);
    expect_error(create1(f, "t", -5, 1), KERR_INVALID_PARTITIONS, np_msg);
    expect_error(create1(f, "t", 1, 2), KERR_INVALID_REPLICATION_FACTOR,
                 "Unable to replicate the partition 2 time(s): The target replication factor of 2 cannot be reached "
                 "because only 1 broker(s) are registered.");
    f->env.default_replication_factor = 3;
    expect_error(create1(f, "t", 1, -1), KERR_INVALID_REPLICATION_FACTOR,
                 "Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached "
                 "because only 1 broker(s) are registered.");
    /* Too many records for one operation. */
    expect_error(create1(f, "t", 20000, 1), KERR_POLICY_VIOLATION, "Unable to perform excessively large batch operation.");
    assert_int_equal(f->recs.n, 0);
}

static void test_create_topic_fenced(void **state)
{
    struct fx *f = *state;
    fx_fence(f, 1);
    expect_error(create1(f, "t", 1, 1), KERR_INVALID_REPLICATION_FACTOR,
                 "Unable to replicate the partition 1 time(s): All brokers are currently fenced.");
}

static void test_create_topic_configs_invalid(void **state)
{
    struct fx *f = *state;
    struct CreateTopicsRequest *req = ct_req(f, 3);
    ct_topic(req, 0, "a", 1, 1);
    ct_topic(req, 1, "b", 1, 1);
    ct_topic(req, 2, "c", 1, 1);
    const char *unknown[] = {"no.such.config", "1"};
    const char *bad[] = {"retention.ms", "soon"};
    const char *null_value[] = {"retention.ms", NULL};
    ct_configs(f, req, 0, unknown, 1);
    ct_configs(f, req, 1, bad, 1);
    ct_configs(f, req, 2, null_value, 1);
    struct CreateTopicsResponse r = create(f, req, 5);
    assert_int_equal(r.Topics_n, 3);
    assert_int_equal(r.Topics[0].ErrorCode, KERR_INVALID_CONFIG);
    assert_str(r.Topics[0].ErrorMessage, "Unknown topic config name: no.such.config");
    assert_int_equal(r.Topics[1].ErrorCode, KERR_INVALID_CONFIG);
    assert_true(r.Topics[1].ErrorMessage.len > 0);
    assert_int_equal(memcmp(r.Topics[1].ErrorMessage.p, "Invalid value soon for configuration retention.ms: ", 51), 0);
    assert_int_equal(r.Topics[2].ErrorCode, KERR_INVALID_CONFIG);
    assert_str(r.Topics[2].ErrorMessage, "Null value not supported for topic configs: retention.ms");
    assert_int_equal(f->recs.n, 0);
}

static void test_create_topics_duplicates_and_reserved(void **state)
{
    struct fx *f = *state;
    struct CreateTopicsRequest *req = ct_req(f, 4);
    ct_topic(req, 0, "dup", 1, 1);
    ct_topic(req, 1, "ok", 1, 1);
    ct_topic(req, 2, "dup", 1, 1);
    ct_topic(req, 3, "__cluster_metadata", 1, 1);
    struct CreateTopicsResponse r = create(f, req, 4);
    assert_int_equal(r.Topics_n, 3);
    assert_str(r.Topics[0].Name, "ok");
    assert_int_equal(r.Topics[0].ErrorCode, 0);
    assert_str(r.Topics[1].Name, "dup");
    assert_int_equal(r.Topics[1].ErrorCode, KERR_INVALID_REQUEST);
    assert_str(r.Topics[1].ErrorMessage, "Duplicate topic name.");
    assert_str(r.Topics[2].Name, "__cluster_metadata");
    assert_int_equal(r.Topics[2].ErrorCode, KERR_TOPIC_AUTHORIZATION_FAILED);
    assert_int_equal(f->recs.n, 2);
    commit(f);
    assert_non_null(md_image_topic(&f->img, "ok"));
    assert_null(md_image_topic(&f->img, "dup"));
}

static void test_create_topic_validate_only(void **state)
{
    struct fx *f = *state;
    struct CreateTopicsRequest *req = ct_req(f, 1);
    ct_topic(req, 0, "v", 2, 1);
    req->validateOnly = true;
    struct CreateTopicsResponse r = create(f, req, 4);
    assert_int_equal(r.Topics[0].ErrorCode, 0);
    assert_int_equal(r.Topics[0].NumPartitions, 2);
    assert_int_equal(f->recs.n, 0);
}

static void set_assignment(struct fx *f, struct CreateTopicsRequest *req, int t, int idx, int32_t pidx,
                           const int32_t *ids, int n)
{
    struct CreateTopicsRequest_CreatableReplicaAssignment *as = &req->Topics[t].Assignments[idx];
    as->PartitionIndex = pidx;
    as->BrokerIds = proto_arena_alloc(&f->a, sizeof(int32_t) * (size_t)(n ? n : 1));
    memcpy(as->BrokerIds, ids, sizeof(int32_t) * (size_t)n);
    as->BrokerIds_n = n;
}

static struct CreateTopicsResponse create_manual(struct fx *f, int16_t np, int16_t rf, const int32_t (*rows)[4],
                                                 const int32_t *pidx, const int *lens, int n)
{
    struct CreateTopicsRequest *req = ct_req(f, 1);
    ct_topic(req, 0, "m", np, rf);
    req->Topics[0].Assignments = proto_array_new(&f->a, &desc_CreateTopicsRequest_CreatableReplicaAssignment, n);
    req->Topics[0].Assignments_n = n;
    for (int i = 0; i < n; i++)
        set_assignment(f, req, 0, i, pidx[i], rows[i], lens[i]);
    return create(f, req, 4);
}

static void test_create_topic_manual_assignment(void **state)
{
    struct fx *f = *state;
    const int32_t good[2][4] = {{2, 3}, {3, 1}};
    const int32_t p01[] = {0, 1}, p10[] = {1, 0}, p00[] = {0, 0}, p02[] = {0, 2};
    const int two[] = {2, 2};
    struct CreateTopicsResponse r = create_manual(f, -1, -1, good, p10, two, 2);
    assert_int_equal(r.Topics[0].ErrorCode, 0);
    assert_int_equal(r.Topics[0].NumPartitions, 2);
    assert_int_equal(r.Topics[0].ReplicationFactor, 2);
    const struct PartitionRecord *p0 = f->recs.recs[1].data;
    assert_int_equal(p0->PartitionId, 0);
    assert_int_equal(p0->Replicas[0], 3); /* partition 0 was given second */
    assert_int_equal(p0->Leader, 3);
    ctrl_records_truncate(&f->recs, 0);

    expect_error(create_manual(f, -1, 2, good, p01, two, 2), KERR_INVALID_REQUEST,
                 "A manual partition assignment was specified, but replication factor was not set to -1.");
    expect_error(create_manual(f, 2, -1, good, p01, two, 2), KERR_INVALID_REQUEST,
                 "A manual partition assignment was specified, but numPartitions was not set to -1.");
    expect_error(create_manual(f, -1, -1, good, p00, two, 2), KERR_INVALID_REPLICA_ASSIGNMENT,
                 "Found multiple manual partition assignments for partition 0");
    expect_error(create_manual(f, -1, -1, good, p02, two, 2), KERR_INVALID_REPLICA_ASSIGNMENT,
                 "partitions should be a consecutive 0-based integer sequence");
    const int32_t unknown[1][4] = {{1, 9}};
    const int one_two[] = {2};
    expect_error(create_manual(f, -1, -1, unknown, p01, one_two, 1), KERR_INVALID_REPLICA_ASSIGNMENT,
                 "The manual partition assignment includes broker 9, but no such broker is registered.");
    const int32_t twice[1][4] = {{2, 2}};
    expect_error(create_manual(f, -1, -1, twice, p01, one_two, 1), KERR_INVALID_REPLICA_ASSIGNMENT,
                 "The manual partition assignment includes the broker 2 more than once.");
    const int32_t uneven[2][4] = {{1, 2}, {3}};
    const int lens[] = {2, 1};
    expect_error(create_manual(f, -1, -1, uneven, p01, lens, 2), KERR_INVALID_REPLICA_ASSIGNMENT,
                 "The manual partition assignment includes a partition with 1 replica(s), but this is not consistent "
                 "with previous partitions, which have 2 replica(s).");
    const int zero[] = {0};
    expect_error(create_manual(f, -1, -1, good, p01, zero, 1), KERR_INVALID_REPLICA_ASSIGNMENT,
                 "The manual partition assignment includes an empty replica list.");
    /* Every broker of the assignment fenced. */
    INIT(FenceBrokerRecord, fe);
    fe.Id = 2;
    fe.Epoch = md_image_broker(&f->img, 2)->epoch;
    assert_int_equal(md_image_apply(&f->img, &proto_msg_FenceBrokerRecord, &fe, f->off++, NULL), 0);
    const int32_t only2[1][4] = {{2}};
    const int one[] = {1};
    expect_error(create_manual(f, -1, -1, only2, p01, one, 1), KERR_INVALID_REPLICA_ASSIGNMENT,
                 "All brokers specified in the manual partition assignment for partition 0 are fenced or in controlled "
                 "shutdown.");
    assert_int_equal(f->recs.n, 0);
}

static void test_create_topic_striped_placement(void **state)
{
    struct fx *f = *state;
    struct CreateTopicsResponse r = create1(f, "s", 6, 2);
    assert_int_equal(r.Topics[0].ErrorCode, 0);
    int leaders[4] = {0}, replicas[4] = {0};
    for (int i = 1; i <= 6; i++) {
        const struct PartitionRecord *p = f->recs.recs[i].data;
        assert_int_equal(p->Replicas_n, 2);
        assert_int_not_equal(p->Replicas[0], p->Replicas[1]);
        assert_int_equal(p->Leader, p->Replicas[0]);
        leaders[p->Leader]++;
        replicas[p->Replicas[0]]++;
        replicas[p->Replicas[1]]++;
    }
    for (int b = 1; b <= 3; b++) {
        assert_int_equal(leaders[b], 2);
        assert_int_equal(replicas[b], 4);
    }
    ctrl_records_truncate(&f->recs, 0);
    /* A fenced broker may hold a replica but is left out of the ISR and leadership. */
    INIT(FenceBrokerRecord, fe);
    fe.Id = 3;
    fe.Epoch = md_image_broker(&f->img, 3)->epoch;
    assert_int_equal(md_image_apply(&f->img, &proto_msg_FenceBrokerRecord, &fe, f->off++, NULL), 0);
    r = create1(f, "s3", 4, 3);
    assert_int_equal(r.Topics[0].ErrorCode, 0);
    for (int i = 1; i <= 4; i++) {
        const struct PartitionRecord *p = f->recs.recs[i].data;
        assert_int_equal(p->Replicas_n, 3);
        assert_int_equal(p->Isr_n, 2);
        assert_int_not_equal(p->Leader, 3);
    }
}

static void test_placement_racks(void **state)
{
    (void)state;
    struct fx *f = fx_new(0);
    add_broker(f, 1, "r1", false);
    add_broker(f, 2, "r1", false);
    add_broker(f, 3, "r2", false);
    add_broker(f, 4, "r2", false);
    int32_t out[8 * 2];
    char msg[256];
    assert_int_equal(ctrl_place_replicas(&f->img, &f->env, 8, 2, out, msg, sizeof msg), 0);
    for (int p = 0; p < 8; p++) {
        const char *ra = md_image_broker(&f->img, out[2 * p])->rack, *rb = md_image_broker(&f->img, out[2 * p + 1])->rack;
        assert_string_not_equal(ra, rb); /* one replica per rack */
    }
    assert_int_equal(ctrl_place_replicas(&f->img, &f->env, 1, 0, out, msg, sizeof msg), KERR_INVALID_REPLICATION_FACTOR);
    assert_string_equal(msg, "Invalid replication factor 0: the replication factor must be positive.");
    fx_free(f);
}

/* ---- DeleteTopics ---- */

static struct DeleteTopicsResponse del_names(struct fx *f, const char *const *names, int n, int16_t version)
{
    INIT(DeleteTopicsRequest, req);
    req.TopicNames = proto_arena_alloc(&f->a, sizeof(proto_str) * (size_t)n);
    for (int i = 0; i < n; i++)
        req.TopicNames[i] = proto_str_from(names[i]);
    req.TopicNames_n = n;
    struct DeleteTopicsResponse resp;
    assert_int_equal(ctrl_delete_topics(&f->img, &f->env, &req, version, &f->a, &resp, &f->recs), 0);
    return resp;
}

static void test_delete_topics(void **state)
{
    struct fx *f = *state;
    create1(f, "x", 2, 1);
    create1(f, "y", 1, 1);
    commit(f);
    const char *names[] = {"x", "nope", "y", "y"};
    struct DeleteTopicsResponse r = del_names(f, names, 4, 4);
    assert_int_equal(r.Responses_n, 3);
    assert_str(r.Responses[0].Name, "y");
    assert_int_equal(r.Responses[0].ErrorCode, KERR_INVALID_REQUEST);
    assert_str(r.Responses[0].ErrorMessage, "Duplicate topic name.");
    assert_str(r.Responses[1].Name, "x");
    assert_int_equal(r.Responses[1].ErrorCode, 0);
    assert_str(r.Responses[2].Name, "nope");
    assert_int_equal(r.Responses[2].ErrorCode, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(f->recs.n, 1);
    assert_ptr_equal(f->recs.recs[0].m, &proto_msg_RemoveTopicRecord);
    commit(f);
    assert_null(md_image_topic(&f->img, "x"));
    assert_non_null(md_image_topic(&f->img, "y"));

    /* v6: by id; unknown id; name and id both; neither. */
    proto_uuid yid = md_image_topic(&f->img, "y")->id, bogus = yid;
    bogus.b[3] ^= 0xff;
    INIT(DeleteTopicsRequest, req);
    req.Topics = proto_array_new(&f->a, &desc_DeleteTopicsRequest_DeleteTopicState, 4);
    req.Topics_n = 4;
    req.Topics[0].Name = (proto_str){NULL, -1};
    req.Topics[0].TopicId = yid;
    req.Topics[1].Name = (proto_str){NULL, -1};
    req.Topics[1].TopicId = bogus;
    req.Topics[2].Name = proto_str_from("y");
    req.Topics[2].TopicId = yid;
    req.Topics[3].Name = (proto_str){NULL, -1};
    struct DeleteTopicsResponse r6;
    assert_int_equal(ctrl_delete_topics(&f->img, &f->env, &req, 6, &f->a, &r6, &f->recs), 0);
    assert_int_equal(r6.Responses_n, 4);
    int ok = 0, unknown_id = 0, invalid = 0;
    for (int i = 0; i < 4; i++) {
        if (r6.Responses[i].ErrorCode == 0) {
            ok++;
            assert_str(r6.Responses[i].Name, "y");
        }
        unknown_id += r6.Responses[i].ErrorCode == KERR_UNKNOWN_TOPIC_ID;
        invalid += r6.Responses[i].ErrorCode == KERR_INVALID_REQUEST;
    }
    assert_int_equal(ok, 1);
    assert_int_equal(unknown_id, 1);
    assert_int_equal(invalid, 2);
    commit(f);
    assert_int_equal(md_image_topic_count(&f->img), 0);
}

static void test_delete_topics_disabled(void **state)
{
    struct fx *f = *state;
    create1(f, "keep", 1, 1);
    commit(f);
    f->env.delete_topic_enable = false;
    const char *names[] = {"keep"};
    struct DeleteTopicsResponse r = del_names(f, names, 1, 2);
    assert_int_equal(r.Responses[0].ErrorCode, KERR_INVALID_REQUEST);
    r = del_names(f, names, 1, 3);
    assert_int_equal(r.Responses[0].ErrorCode, KERR_TOPIC_DELETION_DISABLED);
    assert_int_equal(f->recs.n, 0);
}

/* ---- CreatePartitions ---- */

static struct CreatePartitionsResponse add_parts(struct fx *f, const char *name, int32_t count, bool validate_only)
{
    INIT(CreatePartitionsRequest, req);
    req.Topics = proto_array_new(&f->a, &desc_CreatePartitionsRequest_CreatePartitionsTopic, 1);
    req.Topics_n = 1;
    req.Topics[0].Name = proto_str_from(name);
    req.Topics[0].Count = count;
    req.Topics[0].Assignments_n = -1;
    req.ValidateOnly = validate_only;
    struct CreatePartitionsResponse resp;
    assert_int_equal(ctrl_create_partitions(&f->img, &f->env, &req, 1, &f->a, &resp, &f->recs), 0);
    return resp;
}

static void test_create_partitions(void **state)
{
    struct fx *f = *state;
    create1(f, "p", 1, 1);
    commit(f);
    struct CreatePartitionsResponse r = add_parts(f, "p", 3, true);
    assert_int_equal(r.Results[0].ErrorCode, 0);
    assert_int_equal(f->recs.n, 0); /* validate only */
    r = add_parts(f, "p", 3, false);
    assert_int_equal(r.Results[0].ErrorCode, 0);
    assert_int_equal(r.Results[0].ErrorMessage.len, -1);
    assert_int_equal(f->recs.n, 2);
    assert_int_equal(((const struct PartitionRecord *)f->recs.recs[1].data)->PartitionId, 2);
    commit(f);
    assert_int_equal(md_image_topic(&f->img, "p")->nparts, 3);

    r = add_parts(f, "p", 3, false);
    assert_int_equal(r.Results[0].ErrorCode, KERR_INVALID_PARTITIONS);
    assert_str(r.Results[0].ErrorMessage, "Topic already has 3 partition(s).");
    r = add_parts(f, "p", 2, false);
    assert_int_equal(r.Results[0].ErrorCode, KERR_INVALID_PARTITIONS);
    assert_str(r.Results[0].ErrorMessage, "The topic p currently has 3 partition(s); 2 would not be an increase.");
    r = add_parts(f, "zz", 2, false);
    assert_int_equal(r.Results[0].ErrorCode, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    r = add_parts(f, "p", 30000, false);
    assert_int_equal(r.Results[0].ErrorCode, KERR_POLICY_VIOLATION);

    /* Assignments: wrong count, then a good one. */
    INIT(CreatePartitionsRequest, req);
    req.Topics = proto_array_new(&f->a, &desc_CreatePartitionsRequest_CreatePartitionsTopic, 2);
    req.Topics_n = 2;
    req.Topics[0].Name = proto_str_from("p");
    req.Topics[0].Count = 5;
    req.Topics[0].Assignments = proto_array_new(&f->a, &desc_CreatePartitionsRequest_CreatePartitionsAssignment, 1);
    req.Topics[0].Assignments_n = 1;
    int32_t one = 1;
    req.Topics[0].Assignments[0].BrokerIds = &one;
    req.Topics[0].Assignments[0].BrokerIds_n = 1;
    req.Topics[1] = req.Topics[0];
    struct CreatePartitionsResponse dup;
    assert_int_equal(ctrl_create_partitions(&f->img, &f->env, &req, 1, &f->a, &dup, &f->recs), 0);
    assert_int_equal(dup.Results_n, 1);
    assert_int_equal(dup.Results[0].ErrorCode, KERR_INVALID_REQUEST);
    assert_str(dup.Results[0].ErrorMessage, "Duplicate topic name.");
    req.Topics_n = 1;
    struct CreatePartitionsResponse bad;
    assert_int_equal(ctrl_create_partitions(&f->img, &f->env, &req, 1, &f->a, &bad, &f->recs), 0);
    assert_int_equal(bad.Results[0].ErrorCode, KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_str(bad.Results[0].ErrorMessage, "Attempted to add 2 additional partition(s), but only 1 assignment(s) were "
                                            "specified.");
    req.Topics[0].Count = 4;
    struct CreatePartitionsResponse good;
    assert_int_equal(ctrl_create_partitions(&f->img, &f->env, &req, 1, &f->a, &good, &f->recs), 0);
    assert_int_equal(good.Results[0].ErrorCode, 0);
    assert_int_equal(f->recs.n, 1);
    commit(f);
    assert_int_equal(md_image_topic(&f->img, "p")->nparts, 4);
}

/* ---- AlterConfigs / IncrementalAlterConfigs ---- */

static struct AlterConfigsResponse alter(struct fx *f, int8_t type, const char *name, const char *const *kv, int n,
                                         bool validate_only)
{
    INIT(AlterConfigsRequest, req);
    req.Resources = proto_array_new(&f->a, &desc_AlterConfigsRequest_AlterConfigsResource, 1);
    req.Resources_n = 1;
    req.Resources[0].ResourceType = type;
    req.Resources[0].ResourceName = proto_str_from(name);
    req.Resources[0].Configs = proto_array_new(&f->a, &desc_AlterConfigsRequest_AlterableConfig, n);
    req.Resources[0].Configs_n = n;
    for (int i = 0; i < n; i++) {
        req.Resources[0].Configs[i].Name = proto_str_from(kv[2 * i]);
        req.Resources[0].Configs[i].Value = proto_str_from(kv[2 * i + 1]);
    }
    req.ValidateOnly = validate_only;
    struct AlterConfigsResponse resp;
    assert_int_equal(ctrl_alter_configs(&f->img, &f->env, &req, 1, &f->a, &resp, &f->recs), 0);
    return resp;
}

static void expect_alter(struct AlterConfigsResponse r, int16_t code, const char *msg)
{
    assert_int_equal(r.Responses_n, 1);
    if (r.Responses[0].ErrorCode != code || (msg && !proto_str_eq(r.Responses[0].ErrorMessage, msg)))
        fail_msg("got %d '%.*s', want %d '%s'", r.Responses[0].ErrorCode, (int)r.Responses[0].ErrorMessage.len,
                 r.Responses[0].ErrorMessage.p, code, msg ? msg : "");
}

static void test_alter_configs(void **state)
{
    struct fx *f = *state;
    struct CreateTopicsRequest *req = ct_req(f, 1);
    ct_topic(req, 0, "t", 1, 1);
    const char *initial[] = {"retention.ms", "1", "cleanup.policy", "compact"};
    ct_configs(f, req, 0, initial, 2);
    create(f, req, 4);
    commit(f);

    /* Replace-all: retention.ms changes, cleanup.policy goes away. */
    const char *kv[] = {"retention.ms", "2"};
    expect_alter(alter(f, MD_RESOURCE_TOPIC, "t", kv, 1, true), 0, NULL);
    assert_int_equal(f->recs.n, 0);
    expect_alter(alter(f, MD_RESOURCE_TOPIC, "t", kv, 1, false), 0, NULL);
    assert_int_equal(f->recs.n, 2);
    commit(f);
    const struct md_configs *c = md_image_configs(&f->img, MD_RESOURCE_TOPIC, "t");
    assert_string_equal(md_configs_get(c, "retention.ms"), "2");
    assert_null(md_configs_get(c, "cleanup.policy"));
    /* Same again: nothing changes, no records. */
    expect_alter(alter(f, MD_RESOURCE_TOPIC, "t", kv, 1, false), 0, NULL);
    assert_int_equal(f->recs.n, 0);

    expect_alter(alter(f, MD_RESOURCE_TOPIC, "gone", kv, 1, false), KERR_UNKNOWN_TOPIC_OR_PARTITION,
                 "The topic 'gone' does not exist.");
    expect_alter(alter(f, MD_RESOURCE_TOPIC, "", kv, 1, false), KERR_INVALID_REQUEST,
                 "Default topic resources are not allowed.");
    expect_alter(alter(f, MD_RESOURCE_TOPIC, "a b", kv, 1, false), KERR_INVALID_TOPIC_EXCEPTION, NULL);
    const char *unknown[] = {"bogus", "1"};
    expect_alter(alter(f, MD_RESOURCE_TOPIC, "t", unknown, 1, false), KERR_INVALID_CONFIG,
                 "Unknown topic config name: bogus");
    const char *dupkeys[] = {"retention.ms", "1", "retention.ms", "2"};
    expect_alter(alter(f, MD_RESOURCE_TOPIC, "t", dupkeys, 2, false), KERR_INVALID_REQUEST,
                 "Error due to duplicate config keys");
    const char *nullv[] = {"retention.ms", NULL};
    expect_alter(alter(f, MD_RESOURCE_TOPIC, "t", nullv, 1, false), KERR_INVALID_REQUEST,
                 "Null value not supported for : retention.ms");
    const char *broker_kv[] = {"log.retention.ms", "5"};
    expect_alter(alter(f, MD_RESOURCE_BROKER, "1", broker_kv, 1, false), KERR_INVALID_REQUEST,
                 "Cannot update these configs dynamically: Set(log.retention.ms)");
    expect_alter(alter(f, MD_RESOURCE_BROKER, "", broker_kv, 1, false), KERR_INVALID_REQUEST,
                 "Cannot update these configs dynamically: Set(log.retention.ms)");
    expect_alter(alter(f, MD_RESOURCE_BROKER, "2", broker_kv, 1, false), KERR_INVALID_REQUEST,
                 "Unexpected broker id, expected 1, but received 2");
    expect_alter(alter(f, MD_RESOURCE_BROKER, "x", broker_kv, 1, false), KERR_INVALID_REQUEST,
                 "Node id must be an integer, but it is: x");
    expect_alter(alter(f, MD_RESOURCE_BROKER, "1", NULL, 0, false), 0, NULL);
    expect_alter(alter(f, 3, "t", kv, 1, false), KERR_INVALID_REQUEST, "Unknown resource type 3");
    assert_int_equal(f->recs.n, 0);

    /* The same resource twice. */
    INIT(AlterConfigsRequest, twice);
    twice.Resources = proto_array_new(&f->a, &desc_AlterConfigsRequest_AlterConfigsResource, 2);
    twice.Resources_n = 2;
    for (int i = 0; i < 2; i++) {
        twice.Resources[i].ResourceType = MD_RESOURCE_TOPIC;
        twice.Resources[i].ResourceName = proto_str_from("t");
        twice.Resources[i].Configs_n = 0;
    }
    struct AlterConfigsResponse tr;
    assert_int_equal(ctrl_alter_configs(&f->img, &f->env, &twice, 1, &f->a, &tr, &f->recs), 0);
    assert_int_equal(tr.Responses[0].ErrorCode, KERR_INVALID_REQUEST);
    assert_str(tr.Responses[1].ErrorMessage, "Each resource must appear at most once.");
}

struct op {
    const char *key;
    int8_t op;
    const char *value;
};

static struct IncrementalAlterConfigsResponse incr(struct fx *f, int8_t type, const char *name, const struct op *ops,
                                                   int n)
{
    INIT(IncrementalAlterConfigsRequest, req);
    req.Resources = proto_array_new(&f->a, &desc_IncrementalAlterConfigsRequest_AlterConfigsResource, 1);
    req.Resources_n = 1;
    req.Resources[0].ResourceType = type;
    req.Resources[0].ResourceName = proto_str_from(name);
    req.Resources[0].Configs = proto_array_new(&f->a, &desc_IncrementalAlterConfigsRequest_AlterableConfig, n);
    req.Resources[0].Configs_n = n;
    for (int i = 0; i < n; i++) {
        req.Resources[0].Configs[i].Name = proto_str_from(ops[i].key);
        req.Resources[0].Configs[i].ConfigOperation = ops[i].op;
        req.Resources[0].Configs[i].Value = proto_str_from(ops[i].value);
    }
    struct IncrementalAlterConfigsResponse resp;
    assert_int_equal(ctrl_incremental_alter_configs(&f->img, &f->env, &req, 1, &f->a, &resp, &f->recs), 0);
    return resp;
}

static void expect_incr(struct IncrementalAlterConfigsResponse r, int16_t code, const char *msg)
{
    assert_int_equal(r.Responses_n, 1);
    if (r.Responses[0].ErrorCode != code || (msg && !proto_str_eq(r.Responses[0].ErrorMessage, msg)))
        fail_msg("got %d '%.*s', want %d '%s'", r.Responses[0].ErrorCode, (int)r.Responses[0].ErrorMessage.len,
                 r.Responses[0].ErrorMessage.p, code, msg ? msg : "");
}

static void test_incremental_alter_configs(void **state)
{
    struct fx *f = *state;
    create1(f, "t", 1, 1);
    commit(f);
    const struct op set[] = {{"retention.ms", 0, "100"}, {"segment.ms", 0, "200000"}};
    expect_incr(incr(f, MD_RESOURCE_TOPIC, "t", set, 2), 0, NULL);
    assert_int_equal(f->recs.n, 2);
    commit(f);
    const struct op del[] = {{"segment.ms", 1, NULL}, {"retention.ms", 0, "100"}}; /* the SET changes nothing */
    expect_incr(incr(f, MD_RESOURCE_TOPIC, "t", del, 2), 0, NULL);
    assert_int_equal(f->recs.n, 1);
    commit(f);
    const struct md_configs *c = md_image_configs(&f->img, MD_RESOURCE_TOPIC, "t");
    assert_null(md_configs_get(c, "segment.ms"));
    assert_string_equal(md_configs_get(c, "retention.ms"), "100");

    /* APPEND to a list starts from the default (delete); SUBTRACT removes. */
    const struct op app[] = {{"cleanup.policy", 2, "compact"}};
    expect_incr(incr(f, MD_RESOURCE_TOPIC, "t", app, 1), 0, NULL);
    commit(f);
    c = md_image_configs(&f->img, MD_RESOURCE_TOPIC, "t");
    assert_string_equal(md_configs_get(c, "cleanup.policy"), "delete,compact");
    const struct op sub[] = {{"cleanup.policy", 3, "delete"}};
    expect_incr(incr(f, MD_RESOURCE_TOPIC, "t", sub, 1), 0, NULL);
    commit(f);
    c = md_image_configs(&f->img, MD_RESOURCE_TOPIC, "t");
    assert_string_equal(md_configs_get(c, "cleanup.policy"), "compact");

    const struct op app_bad[] = {{"retention.ms", 2, "5"}};
    expect_incr(incr(f, MD_RESOURCE_TOPIC, "t", app_bad, 1), KERR_INVALID_CONFIG,
                "Can't APPEND to key retention.ms because its type is not LIST.");
    const struct op bad_op[] = {{"retention.ms", 7, "5"}};
    expect_incr(incr(f, MD_RESOURCE_TOPIC, "t", bad_op, 1), KERR_INVALID_REQUEST, "Unknown operations type 7");
    const struct op bad_val[] = {{"retention.ms", 0, "x"}};
    expect_incr(incr(f, MD_RESOURCE_TOPIC, "t", bad_val, 1), KERR_INVALID_CONFIG, NULL);
    const struct op null_set[] = {{"retention.ms", 0, NULL}};
    expect_incr(incr(f, MD_RESOURCE_TOPIC, "t", null_set, 1), KERR_INVALID_REQUEST,
                "Null value not supported for : retention.ms");
    expect_incr(incr(f, MD_RESOURCE_TOPIC, "nope", set, 1), KERR_UNKNOWN_TOPIC_OR_PARTITION,
                "The topic 'nope' does not exist.");
    assert_int_equal(f->recs.n, 0);

    /* BROKER: SET is refused (static configs); DELETE writes the null record as Kafka does. */
    const struct op bset[] = {{"log.retention.ms", 0, "1"}};
    expect_incr(incr(f, MD_RESOURCE_BROKER, "1", bset, 1), KERR_INVALID_REQUEST,
                "Cannot update these configs dynamically: Set(log.retention.ms)");
    const struct op bdel[] = {{"log.retention.ms", 1, NULL}};
    expect_incr(incr(f, MD_RESOURCE_BROKER, "1", bdel, 1), 0, NULL);
    assert_int_equal(f->recs.n, 1);
    const struct ConfigRecord *cr = f->recs.recs[0].data;
    assert_int_equal(cr->ResourceType, MD_RESOURCE_BROKER);
    assert_int_equal(cr->Value.len, -1);
    commit(f);
    expect_incr(incr(f, MD_RESOURCE_BROKER_LOGGER, "1", bset, 1), KERR_INVALID_REQUEST, NULL);
}

/* ---- auto-creation ---- */

static void test_auto_create(void **state)
{
    struct fx *f = *state;
    f->env.num_partitions = 2;
    f->env.offsets_topic_replication_factor = 1;
    f->env.offsets_topic_num_partitions = 3;
    create1(f, "exists", 1, 1);
    commit(f);
    proto_str names[] = {proto_str_from("a"), proto_str_from("a"), proto_str_from("exists"), proto_str_from("bad name"),
                         proto_str_from("__consumer_offsets")};
    int16_t errors[5];
    assert_int_equal(ctrl_auto_create_topics(&f->img, &f->env, names, 5, errors, &f->recs), 0);
    assert_int_equal(errors[0], 0);
    assert_int_equal(errors[1], 0);
    assert_int_equal(errors[2], 0);
    assert_int_equal(errors[3], KERR_INVALID_TOPIC_EXCEPTION);
    assert_int_equal(errors[4], 0);
    commit(f);
    assert_int_equal(md_image_topic(&f->img, "a")->nparts, 2);
    assert_int_equal(md_image_topic(&f->img, "__consumer_offsets")->nparts, 3);
    const struct md_configs *c = md_image_configs(&f->img, MD_RESOURCE_TOPIC, "__consumer_offsets");
    assert_string_equal(md_configs_get(c, "cleanup.policy"), "compact");
    assert_string_equal(md_configs_get(c, "segment.bytes"), "104857600");
    /* Default replication factor above the broker count fails as in Kafka. */
    f->env.default_replication_factor = 2;
    proto_str b = proto_str_from("b");
    assert_int_equal(ctrl_auto_create_topics(&f->img, &f->env, &b, 1, errors, &f->recs), 0);
    assert_int_equal(errors[0], KERR_INVALID_REPLICATION_FACTOR);
    assert_int_equal(f->recs.n, 0);
}

static void test_topic_ids(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 200; i++) {
        proto_uuid u = ctrl_random_topic_id(&f->img, &f->env);
        assert_int_equal(u.b[6] >> 4, 4);      /* version 4 */
        assert_int_equal(u.b[8] & 0xc0, 0x80); /* IETF variant */
        char s[23];
        proto_uuid_to_base64(u, s);
        assert_true(s[0] != '-');
    }
    assert_int_equal(ctrl_partition_record_version(19), 1);
    assert_int_equal(ctrl_partition_record_version(14), 0);
    assert_int_equal(ctrl_partition_record_version(20), 2);
    assert_int_equal(ctrl_register_broker_record_version(19), 3);
    assert_true(ctrl_mv_supports_transactions(19));
    assert_false(ctrl_mv_supports_transactions(12));
}

/* AllocateProducerIds (ProducerIdControlManager): blocks of 1000 from 0, the broker epoch checked, one
 * ProducerIdsRecord per block, and the end of the id space refused. */
static void test_allocate_producer_ids(void **state)
{
    struct fx *f = *state;
    int64_t epoch = md_image_broker(&f->img, 1)->epoch;
    INIT(AllocateProducerIdsRequest, req);
    req.BrokerId = 1;
    req.BrokerEpoch = epoch;
    for (int64_t block = 0; block < 3; block++) {
        INIT(AllocateProducerIdsResponse, resp);
        assert_int_equal(ctrl_allocate_producer_ids(&f->img, &req, &resp, &f->recs), 0);
        assert_int_equal(resp.ErrorCode, 0);
        assert_int_equal(resp.ProducerIdStart, block * 1000);
        assert_int_equal(resp.ProducerIdLen, 1000);
        assert_int_equal(f->recs.n, 1);
        const struct ProducerIdsRecord *r = f->recs.recs[0].data;
        assert_ptr_equal(f->recs.recs[0].m, &proto_msg_ProducerIdsRecord);
        assert_int_equal(r->BrokerId, 1);
        assert_int_equal(r->BrokerEpoch, epoch);
        assert_int_equal(r->NextProducerId, (block + 1) * 1000);
        commit(f);
    }
    assert_int_equal(f->img.producer_ids.next_producer_id, 3000);
    /* a stale epoch or an unknown broker: STALE_BROKER_EPOCH, no record */
    const int32_t ids[] = {1, 9};
    const int64_t epochs[] = {epoch + 1, epoch};
    for (int i = 0; i < 2; i++) {
        INIT(AllocateProducerIdsResponse, resp);
        req.BrokerId = ids[i];
        req.BrokerEpoch = epochs[i];
        assert_int_equal(ctrl_allocate_producer_ids(&f->img, &req, &resp, &f->recs), 0);
        assert_int_equal(resp.ErrorCode, KERR_STALE_BROKER_EPOCH);
        assert_int_equal(resp.ProducerIdStart, -1);
        assert_int_equal(f->recs.n, 0);
    }
    /* the id space is exhausted */
    f->img.producer_ids.next_producer_id = INT64_MAX - 999;
    INIT(AllocateProducerIdsResponse, resp);
    req.BrokerId = 1;
    req.BrokerEpoch = epoch;
    assert_int_equal(ctrl_allocate_producer_ids(&f->img, &req, &resp, &f->recs), 0);
    assert_int_equal(resp.ErrorCode, KERR_UNKNOWN_SERVER_ERROR);
    assert_int_equal(f->recs.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_topic_records, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_create_topic_defaults_and_configs, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_create_topic_invalid_names, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_create_topic_bad_counts, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_create_topic_fenced, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_create_topic_configs_invalid, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_create_topics_duplicates_and_reserved, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_create_topic_validate_only, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_create_topic_manual_assignment, setup3, teardown),
        cmocka_unit_test_setup_teardown(test_create_topic_striped_placement, setup3, teardown),
        cmocka_unit_test(test_placement_racks),
        cmocka_unit_test_setup_teardown(test_delete_topics, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_delete_topics_disabled, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_create_partitions, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_alter_configs, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_alter_configs, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_auto_create, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_topic_ids, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_allocate_producer_ids, setup1, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
