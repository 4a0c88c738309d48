/* Every advertised (API, version) against a live broker: a node runs in this process on its own libuv
 * loop thread (real listeners on free loopback ports, a temporary log directory), and the blocking
 * operator client sends each request at each advertised version, decodes the response at that version and
 * checks its content. A version advertised without a case here fails the test.
 *
 * The node runs in quorum mode. The APIs served only in legacy mode (api_support.h, proto_legacy_apis:
 * LeaderAndIsr, StopReplica, UpdateMetadata, ...) need a ZooKeeper and a legacy-mode broker: their live
 * cases are in tests/it/test_zk_broker_rpc.py (real ZooKeeper, the test playing the controller), which fails
 * when a legacy (key, version) is advertised without one. Here case_api_versions checks that quorum mode
 * advertises none of them (but ElectLeaders and Alter/ListPartitionReassignments, which both modes
 * serve), and that it advertises the quorum ones (proto_quorum_apis: DescribeQuorum, ElectLeaders,
 * AlterPartitionReassignments, ListPartitionReassignments),
 * which are run like the others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>
#include <uv.h>

#include "api_support.h"
#include "broker/api/broker.h"
#include "broker/cli/kclient.h"
#include "broker/common/ferry_err.h"
#include "broker/proto/record_batch.h"

#define TOPIC "everyv"
#define STR_CHECK(s, want) assert_true(proto_str_eq((s), (want)))

struct live {
    uv_loop_t loop;
    uv_async_t stop;
    pthread_t thread;
    struct ferry_config cfg;
    struct broker broker;
    char dir[256];
    int port;
};

static void on_stop(uv_async_t *a)
{
    struct live *l = a->data;
    broker_stop(&l->broker);
    uv_close((uv_handle_t *)&l->stop, NULL);
}

static void *loop_main(void *arg)
{
    struct live *l = arg;
    uv_run(&l->loop, UV_RUN_DEFAULT);
    return NULL;
}

static int setup(void **state)
{
    static struct live l;
    memset(&l, 0, sizeof l);
    const char *base = getenv("FERRY_TEST_TMP");
    snprintf(l.dir, sizeof l.dir, "%s/everyv-XXXXXX", base && *base ? base : "/tmp");
    char mk[300];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", base && *base ? base : "/tmp");
    if (system(mk) != 0 || !mkdtemp(l.dir))
        return -1;
    char logdirs[300];
    snprintf(logdirs, sizeof logdirs, "log.dirs=%s", l.dir);
    const char *sets[] = {"listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0", logdirs,
                          "group.initial.rebalance.delay.ms=0", "offsets.topic.replication.factor=1",
                          "offsets.topic.num.partitions=5"};
    char err[512];
    if (config_load(&l.cfg, NULL, sets, 5, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    uv_loop_init(&l.loop);
    if (broker_start(&l.broker, &l.loop, &l.cfg, true, err, sizeof err) != 0) {
        fprintf(stderr, "broker: %s\n", err);
        return -1;
    }
    l.port = l.broker.bound_ports[0];
    uv_async_init(&l.loop, &l.stop, on_stop);
    l.stop.data = &l;
    pthread_create(&l.thread, NULL, loop_main, &l);
    *state = &l;
    return 0;
}

static int teardown(void **state)
{
    struct live *l = *state;
    uv_async_send(&l->stop);
    pthread_join(l->thread, NULL);
    uv_loop_close(&l->loop);
    config_free(&l->cfg);
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf '%s'", l->dir);
    return system(rm) == 0 ? 0 : -1;
}

/* ---- one case per API: fill the request, check the response ---- */

struct call {
    struct kclient *c;
    struct proto_arena *a;
    int16_t version;
};

static void *req_new(struct call *k, const struct proto_message *m)
{
    void *r = proto_arena_alloc(k->a, m->body->size);
    assert_non_null(r);
    proto_struct_init(m->body, r);
    return r;
}

static void *do_call(struct call *k, int16_t key, const void *req)
{
    const struct proto_message *rm = proto_find(PROTO_KIND_RESPONSE, key);
    void *resp = proto_arena_alloc(k->a, rm->body->size);
    int rc = kclient_call(k->c, key, k->version, req, k->a, resp);
    if (rc != 0)
        fail_msg("api %d v%d: %s", key, k->version, kclient_errmsg(k->c));
    return resp;
}

static proto_bytes one_batch(struct proto_arena *a)
{
    struct proto_writer w;
    proto_writer_init(&w);
    struct rb_builder b;
    rb_builder_begin(&b, &w, 0, -1, 0, 1700000000000LL);
    rb_builder_add(&b, 1700000000000LL, (proto_bytes){(const uint8_t *)"k", 1}, (proto_bytes){(const uint8_t *)"v", 1});
    assert_int_equal(rb_builder_finish(&b), 0);
    uint8_t *p = proto_arena_alloc(a, w.len);
    memcpy(p, w.buf, w.len);
    proto_bytes out = {p, (int32_t)w.len};
    proto_writer_free(&w);
    return out;
}

static void case_produce(struct call *k)
{
    struct ProduceRequest *r = req_new(k, &proto_msg_ProduceRequest);
    r->Acks = 1;
    r->TimeoutMs = 5000;
    r->TopicData = proto_array_new(k->a, &desc_ProduceRequest_TopicProduceData, 1);
    r->TopicData_n = 1;
    r->TopicData[0].Name = proto_str_from(TOPIC);
    r->TopicData[0].PartitionData = proto_array_new(k->a, &desc_ProduceRequest_PartitionProduceData, 1);
    r->TopicData[0].PartitionData_n = 1;
    r->TopicData[0].PartitionData[0].Records = one_batch(k->a);
    struct ProduceResponse *resp = do_call(k, API_PRODUCE, r);
    assert_int_equal(resp->Responses_n, 1);
    assert_int_equal(resp->Responses[0].PartitionResponses_n, 1);
    assert_int_equal(resp->Responses[0].PartitionResponses[0].ErrorCode, 0);
    assert_true(resp->Responses[0].PartitionResponses[0].BaseOffset >= 0);
}

static void case_fetch(struct call *k)
{
    struct FetchRequest *r = req_new(k, &proto_msg_FetchRequest);
    r->ReplicaId = -1;
    r->MaxWaitMs = 0;
    r->MinBytes = 1;
    r->MaxBytes = 1 << 20;
    r->Topics = proto_array_new(k->a, &desc_FetchRequest_FetchTopic, 1);
    r->Topics_n = 1;
    r->Topics[0].Topic = proto_str_from(TOPIC);
    r->Topics[0].Partitions = proto_array_new(k->a, &desc_FetchRequest_FetchPartition, 1);
    r->Topics[0].Partitions_n = 1;
    r->Topics[0].Partitions[0].PartitionMaxBytes = 1 << 20;
    struct FetchResponse *resp = do_call(k, API_FETCH, r);
    assert_int_equal(resp->Responses_n, 1);
    struct FetchResponse_PartitionData *pd = &resp->Responses[0].Partitions[0];
    assert_int_equal(pd->ErrorCode, 0);
    assert_true(pd->HighWatermark >= 1);
    assert_true(pd->Records.len > RB_HEADER_SIZE);
    size_t first = (size_t)proto_be32(pd->Records.p + 8) + RB_LOG_OVERHEAD;
    assert_true(first <= (size_t)pd->Records.len);
    struct rb_header h;
    assert_int_equal(rb_validate(pd->Records.p, first, &h), 0);
}

static void case_list_offsets(struct call *k)
{
    struct ListOffsetsRequest *r = req_new(k, &proto_msg_ListOffsetsRequest);
    r->ReplicaId = -1;
    r->Topics = proto_array_new(k->a, &desc_ListOffsetsRequest_ListOffsetsTopic, 1);
    r->Topics_n = 1;
    r->Topics[0].Name = proto_str_from(TOPIC);
    r->Topics[0].Partitions = proto_array_new(k->a, &desc_ListOffsetsRequest_ListOffsetsPartition, 1);
    r->Topics[0].Partitions_n = 1;
    r->Topics[0].Partitions[0].Timestamp = -1;
    r->Topics[0].Partitions[0].MaxNumOffsets = 1;
    struct ListOffsetsResponse *resp = do_call(k, API_LIST_OFFSETS, r);
    struct ListOffsetsResponse_ListOffsetsPartitionResponse *p = &resp->Topics[0].Partitions[0];
    assert_int_equal(p->ErrorCode, 0);
    if (k->version == 0) {
        assert_int_equal(p->OldStyleOffsets_n, 1);
        assert_true(p->OldStyleOffsets[0] >= 1);
    } else {
        assert_true(p->Offset >= 1);
    }
}

static void case_metadata(struct call *k)
{
    struct MetadataRequest *r = req_new(k, &proto_msg_MetadataRequest);
    r->Topics = proto_array_new(k->a, &desc_MetadataRequest_MetadataRequestTopic, 1);
    r->Topics_n = 1;
    r->Topics[0].Name = proto_str_from(TOPIC);
    struct MetadataResponse *resp = do_call(k, API_METADATA, r);
    assert_int_equal(resp->Brokers_n, 1);
    assert_int_equal(resp->Brokers[0].NodeId, 1);
    assert_int_equal(resp->Topics_n, 1);
    assert_int_equal(resp->Topics[0].ErrorCode, 0);
    assert_true(resp->Topics[0].Partitions_n >= 1);
    assert_int_equal(resp->Topics[0].Partitions[0].LeaderId, 1);
}

static void case_find_coordinator(struct call *k)
{
    struct FindCoordinatorRequest *r = req_new(k, &proto_msg_FindCoordinatorRequest);
    r->Key = proto_str_from("group-a");
    struct FindCoordinatorResponse *resp = do_call(k, API_FIND_COORDINATOR, r);
    assert_int_equal(resp->ErrorCode, 0);
    assert_int_equal(resp->NodeId, 1);
    assert_true(resp->Port > 0);
}

static void case_api_versions(struct call *k)
{
    struct ApiVersionsRequest *r = req_new(k, &proto_msg_ApiVersionsRequest);
    r->ClientSoftwareName = proto_str_from("every-version");
    r->ClientSoftwareVersion = proto_str_from("1.0");
    struct ApiVersionsResponse *resp = do_call(k, API_API_VERSIONS, r);
    assert_int_equal(resp->ErrorCode, 0);
    /* quorum mode: the client table, then the quorum-only one (proto_quorum_apis) */
    assert_int_equal(resp->ApiKeys_n, (int32_t)(proto_broker_apis_count + proto_quorum_apis_count));
    /* none of the legacy-only ones (those served in both modes are in both tables) */
    for (int32_t i = 0; i < resp->ApiKeys_n; i++)
        assert_true(!proto_legacy_api_lookup(resp->ApiKeys[i].ApiKey) ||
                    proto_quorum_api_lookup(resp->ApiKeys[i].ApiKey));
    for (size_t i = 0; i < proto_quorum_apis_count; i++) {
        const struct ApiVersionsResponse_ApiVersion *e = &resp->ApiKeys[proto_broker_apis_count + i];
        assert_int_equal(e->ApiKey, proto_quorum_apis[i].api_key);
        assert_int_equal(e->MinVersion, proto_quorum_apis[i].min_version);
        assert_int_equal(e->MaxVersion, proto_quorum_apis[i].max_version);
    }
}

/* The single-voter node leads its quorum and is caught up with itself; v1 adds the timestamps. */
static void case_describe_quorum(struct call *k)
{
    struct DescribeQuorumRequest *r = req_new(k, &proto_msg_DescribeQuorumRequest);
    r->Topics = proto_array_new(k->a, &desc_DescribeQuorumRequest_TopicData, 1);
    r->Topics_n = 1;
    r->Topics[0].TopicName = proto_str_from("__cluster_metadata");
    r->Topics[0].Partitions = proto_array_new(k->a, &desc_DescribeQuorumRequest_PartitionData, 1);
    r->Topics[0].Partitions_n = 1;
    struct DescribeQuorumResponse *resp = do_call(k, API_DESCRIBE_QUORUM, r);
    assert_int_equal(resp->ErrorCode, 0);
    assert_int_equal(resp->Topics_n, 1);
    assert_int_equal(resp->Topics[0].Partitions_n, 1);
    const struct DescribeQuorumResponse_PartitionData *p = resp->Topics[0].Partitions;
    assert_int_equal(p->ErrorCode, 0);
    assert_int_equal(p->LeaderId, 1);
    assert_true(p->LeaderEpoch >= 1);
    assert_true(p->HighWatermark > 0);
    assert_int_equal(p->CurrentVoters_n, 1);
    assert_int_equal(p->CurrentVoters[0].ReplicaId, 1);
    assert_true(p->CurrentVoters[0].LogEndOffset >= p->HighWatermark);
    if (k->version >= 1)
        assert_true(p->CurrentVoters[0].LastFetchTimestamp > 0 && p->CurrentVoters[0].LastCaughtUpTimestamp > 0);
    else
        assert_int_equal(p->CurrentVoters[0].LastFetchTimestamp, -1);
    assert_int_equal(p->Observers_n, 0);
    /* another partition: UNKNOWN_TOPIC_OR_PARTITION for it */
    r->Topics[0].Partitions[0].PartitionIndex = 3;
    resp = do_call(k, API_DESCRIBE_QUORUM, r);
    assert_int_equal(resp->Topics[0].Partitions[0].PartitionIndex, 3);
    assert_int_equal(resp->Topics[0].Partitions[0].ErrorCode, KERR_UNKNOWN_TOPIC_OR_PARTITION);
}

/* The single node leads everything it hosts: no election needed (PREFERRED, and UNCLEAN from v1); an
 * unknown partition is named; every-partition requests leave out what needs no election. */
static void case_elect_leaders(struct call *k)
{
    struct ElectLeadersRequest *r = req_new(k, &proto_msg_ElectLeadersRequest);
    r->ElectionType = k->version >= 1 ? 1 : 0;
    r->TopicPartitions = proto_array_new(k->a, &desc_ElectLeadersRequest_TopicPartitions, 1);
    r->TopicPartitions_n = 1;
    r->TopicPartitions[0].Topic = proto_str_from(TOPIC);
    r->TopicPartitions[0].Partitions = proto_arena_alloc(k->a, 2 * sizeof(int32_t));
    r->TopicPartitions[0].Partitions[0] = 0;
    r->TopicPartitions[0].Partitions[1] = 9;
    r->TopicPartitions[0].Partitions_n = 2;
    struct ElectLeadersResponse *resp = do_call(k, API_ELECT_LEADERS, r);
    assert_int_equal(resp->ErrorCode, 0);
    assert_int_equal(resp->ReplicaElectionResults_n, 1);
    STR_CHECK(resp->ReplicaElectionResults[0].Topic, TOPIC);
    assert_int_equal(resp->ReplicaElectionResults[0].PartitionResult_n, 2);
    const struct ElectLeadersResponse_PartitionResult *p = resp->ReplicaElectionResults[0].PartitionResult;
    assert_int_equal(p[0].PartitionId, 0);
    assert_int_equal(p[0].ErrorCode, KERR_ELECTION_NOT_NEEDED);
    assert_int_equal(p[1].PartitionId, 9);
    assert_int_equal(p[1].ErrorCode, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    r->TopicPartitions = NULL;
    r->TopicPartitions_n = -1;
    resp = do_call(k, API_ELECT_LEADERS, r);
    assert_int_equal(resp->ErrorCode, 0);
    for (int32_t i = 0; i < resp->ReplicaElectionResults_n; i++)
        assert_int_equal(resp->ReplicaElectionResults[i].PartitionResult_n, 0);
}

/* The single node holds the only replica: a target of itself changes nothing, an unknown broker and a
 * cancellation with nothing in progress are refused, and nothing is listed as reassigning. */
static void case_alter_partition_reassignments(struct call *k)
{
    struct AlterPartitionReassignmentsRequest *r = req_new(k, &proto_msg_AlterPartitionReassignmentsRequest);
    r->Topics = proto_array_new(k->a, &desc_AlterPartitionReassignmentsRequest_ReassignableTopic, 1);
    r->Topics_n = 1;
    r->Topics[0].Name = proto_str_from(TOPIC);
    r->Topics[0].Partitions = proto_array_new(k->a, &desc_AlterPartitionReassignmentsRequest_ReassignablePartition, 3);
    r->Topics[0].Partitions_n = 3;
    static int32_t self[] = {1}, unknown[] = {7};
    r->Topics[0].Partitions[0] = (struct AlterPartitionReassignmentsRequest_ReassignablePartition){0, self, 1};
    r->Topics[0].Partitions[1] = (struct AlterPartitionReassignmentsRequest_ReassignablePartition){0, unknown, 1};
    r->Topics[0].Partitions[2] = (struct AlterPartitionReassignmentsRequest_ReassignablePartition){0, NULL, -1};
    struct AlterPartitionReassignmentsResponse *resp = do_call(k, API_ALTER_PARTITION_REASSIGNMENTS, r);
    assert_int_equal(resp->ErrorCode, 0);
    assert_int_equal(resp->Responses_n, 1);
    STR_CHECK(resp->Responses[0].Name, TOPIC);
    assert_int_equal(resp->Responses[0].Partitions_n, 3);
    assert_int_equal(resp->Responses[0].Partitions[0].ErrorCode, KERR_NONE);
    assert_int_equal(resp->Responses[0].Partitions[1].ErrorCode, KERR_INVALID_REPLICA_ASSIGNMENT);
    assert_int_equal(resp->Responses[0].Partitions[2].ErrorCode, KERR_NO_REASSIGNMENT_IN_PROGRESS);
}

static void case_list_partition_reassignments(struct call *k)
{
    struct ListPartitionReassignmentsRequest *r = req_new(k, &proto_msg_ListPartitionReassignmentsRequest);
    struct ListPartitionReassignmentsResponse *resp = do_call(k, API_LIST_PARTITION_REASSIGNMENTS, r);
    assert_int_equal(resp->ErrorCode, 0);
    assert_int_equal(resp->Topics_n, 0);
    r->Topics = proto_array_new(k->a, &desc_ListPartitionReassignmentsRequest_ListPartitionReassignmentsTopics, 1);
    r->Topics_n = 1;
    r->Topics[0].Name = proto_str_from(TOPIC);
    static int32_t parts[] = {0, 3};
    r->Topics[0].PartitionIndexes = parts;
    r->Topics[0].PartitionIndexes_n = 2;
    resp = do_call(k, API_LIST_PARTITION_REASSIGNMENTS, r);
    assert_int_equal(resp->ErrorCode, 0);
    assert_int_equal(resp->Topics_n, 0);
}

static void topic_name(struct call *k, const char *prefix, char *out, size_t len)
{
    snprintf(out, len, "%s-v%d", prefix, k->version);
}

static void create_topic(struct call *k, const char *name)
{
    struct CreateTopicsRequest *r = req_new(k, &proto_msg_CreateTopicsRequest);
    r->timeoutMs = 10000;
    r->Topics = proto_array_new(k->a, &desc_CreateTopicsRequest_CreatableTopic, 1);
    r->Topics_n = 1;
    r->Topics[0].Name = proto_str_from(name);
    r->Topics[0].NumPartitions = 1;
    r->Topics[0].ReplicationFactor = 1;
    struct CreateTopicsResponse *resp = do_call(k, API_CREATE_TOPICS, r);
    assert_int_equal(resp->Topics_n, 1);
    assert_int_equal(resp->Topics[0].ErrorCode, 0);
}

static void case_create_topics(struct call *k)
{
    char name[64];
    topic_name(k, "created", name, sizeof name);
    create_topic(k, name);
}

static void case_delete_topics(struct call *k)
{
    char name[64];
    topic_name(k, "deleted", name, sizeof name);
    struct call create = *k;
    create.version = 4; /* any served version: the topic to delete */
    create_topic(&create, name);
    struct DeleteTopicsRequest *r = req_new(k, &proto_msg_DeleteTopicsRequest);
    r->TimeoutMs = 10000;
    r->TopicNames = proto_arena_alloc(k->a, sizeof(proto_str));
    r->TopicNames[0] = proto_str_from(proto_arena_strdup(k->a, proto_str_from(name)));
    r->TopicNames_n = 1;
    struct DeleteTopicsResponse *resp = do_call(k, API_DELETE_TOPICS, r);
    assert_int_equal(resp->Responses_n, 1);
    assert_int_equal(resp->Responses[0].ErrorCode, 0);
}

static void case_describe_configs(struct call *k)
{
    struct DescribeConfigsRequest *r = req_new(k, &proto_msg_DescribeConfigsRequest);
    r->Resources = proto_array_new(k->a, &desc_DescribeConfigsRequest_DescribeConfigsResource, 2);
    r->Resources_n = 2;
    r->Resources[0].ResourceType = 2;
    r->Resources[0].ResourceName = proto_str_from(TOPIC);
    r->Resources[0].ConfigurationKeys_n = -1;
    r->Resources[1].ResourceType = 4;
    r->Resources[1].ResourceName = proto_str_from("1");
    r->Resources[1].ConfigurationKeys_n = -1;
    r->IncludeSynonyms = true;
    struct DescribeConfigsResponse *resp = do_call(k, API_DESCRIBE_CONFIGS, r);
    assert_int_equal(resp->Results_n, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(resp->Results[i].ErrorCode, 0);
        assert_true(resp->Results[i].Configs_n > 10);
    }
}

static void case_alter_configs(struct call *k)
{
    struct AlterConfigsRequest *r = req_new(k, &proto_msg_AlterConfigsRequest);
    r->Resources = proto_array_new(k->a, &desc_AlterConfigsRequest_AlterConfigsResource, 1);
    r->Resources_n = 1;
    r->Resources[0].ResourceType = 2;
    r->Resources[0].ResourceName = proto_str_from(TOPIC);
    r->Resources[0].Configs = proto_array_new(k->a, &desc_AlterConfigsRequest_AlterableConfig, 1);
    r->Resources[0].Configs_n = 1;
    r->Resources[0].Configs[0].Name = proto_str_from("retention.ms");
    r->Resources[0].Configs[0].Value = proto_str_from("86400000");
    struct AlterConfigsResponse *resp = do_call(k, API_ALTER_CONFIGS, r);
    assert_int_equal(resp->Responses_n, 1);
    assert_int_equal(resp->Responses[0].ErrorCode, 0);
}

static void case_incremental_alter_configs(struct call *k)
{
    struct IncrementalAlterConfigsRequest *r = req_new(k, &proto_msg_IncrementalAlterConfigsRequest);
    r->Resources = proto_array_new(k->a, &desc_IncrementalAlterConfigsRequest_AlterConfigsResource, 1);
    r->Resources_n = 1;
    r->Resources[0].ResourceType = 2;
    r->Resources[0].ResourceName = proto_str_from(TOPIC);
    r->Resources[0].Configs = proto_array_new(k->a, &desc_IncrementalAlterConfigsRequest_AlterableConfig, 1);
    r->Resources[0].Configs_n = 1;
    r->Resources[0].Configs[0].Name = proto_str_from("segment.ms");
    r->Resources[0].Configs[0].ConfigOperation = 0; /* SET */
    r->Resources[0].Configs[0].Value = proto_str_from("3600000");
    struct IncrementalAlterConfigsResponse *resp = do_call(k, API_INCREMENTAL_ALTER_CONFIGS, r);
    assert_int_equal(resp->Responses_n, 1);
    assert_int_equal(resp->Responses[0].ErrorCode, 0);
}

static void case_create_partitions(struct call *k)
{
    char name[64];
    topic_name(k, "grown", name, sizeof name);
    struct call create = *k;
    create.version = 4;
    create_topic(&create, name);
    struct CreatePartitionsRequest *r = req_new(k, &proto_msg_CreatePartitionsRequest);
    r->TimeoutMs = 10000;
    r->Topics = proto_array_new(k->a, &desc_CreatePartitionsRequest_CreatePartitionsTopic, 1);
    r->Topics_n = 1;
    r->Topics[0].Name = proto_str_from(proto_arena_strdup(k->a, proto_str_from(name)));
    r->Topics[0].Count = 3;
    r->Topics[0].Assignments_n = -1;
    struct CreatePartitionsResponse *resp = do_call(k, API_CREATE_PARTITIONS, r);
    assert_int_equal(resp->Results_n, 1);
    assert_int_equal(resp->Results[0].ErrorCode, 0);
}

static void case_describe_cluster(struct call *k)
{
    struct DescribeClusterRequest *r = req_new(k, &proto_msg_DescribeClusterRequest);
    struct DescribeClusterResponse *resp = do_call(k, API_DESCRIBE_CLUSTER, r);
    assert_int_equal(resp->ErrorCode, 0);
    assert_int_equal(resp->Brokers_n, 1);
    assert_int_equal(resp->ControllerId, 1);
    assert_int_equal(resp->ClusterId.len, 22);
}

static void case_init_producer_id(struct call *k)
{
    static int64_t last_id = -1;
    struct InitProducerIdRequest *r = req_new(k, &proto_msg_InitProducerIdRequest);
    r->TransactionalId = (proto_str){NULL, -1}; /* an idempotent producer */
    r->TransactionTimeoutMs = 60000;
    struct InitProducerIdResponse *resp = do_call(k, API_INIT_PRODUCER_ID, r);
    assert_int_equal(resp->ErrorCode, 0);
    assert_true(resp->ProducerId > last_id); /* a new id every time */
    assert_int_equal(resp->ProducerEpoch, 0);
    last_id = resp->ProducerId;
    r = req_new(k, &proto_msg_InitProducerIdRequest);
    r->TransactionalId = proto_str_from("txn-1"); /* transactions are not supported */
    resp = do_call(k, API_INIT_PRODUCER_ID, r);
    assert_int_equal(resp->ErrorCode, 53);
    assert_int_equal(resp->ProducerId, -1);
}


/* ---- the group APIs: each case uses its own group, so versions never share state ---- */

static const char *grp(struct call *k, const char *prefix)
{
    char name[64];
    snprintf(name, sizeof name, "%s-v%d", prefix, k->version);
    return proto_arena_strdup(k->a, proto_str_from(name));
}

/* Joins `group` alone at version v (MEMBER_ID_REQUIRED handled); returns the member id. */
static const char *join_alone(struct call *k, int16_t v, const char *group, int32_t *generation)
{
    struct call j = *k;
    j.version = v;
    proto_str member = proto_str_from("");
    for (int attempt = 0; attempt < 2; attempt++) {
        struct JoinGroupRequest *r = req_new(&j, &proto_msg_JoinGroupRequest);
        r->GroupId = proto_str_from(group);
        r->SessionTimeoutMs = 10000;
        r->RebalanceTimeoutMs = 10000;
        r->MemberId = member;
        r->ProtocolType = proto_str_from("consumer");
        r->Protocols = proto_array_new(k->a, &desc_JoinGroupRequest_JoinGroupRequestProtocol, 1);
        r->Protocols_n = 1;
        r->Protocols[0].Name = proto_str_from("range");
        static const uint8_t meta[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        r->Protocols[0].Metadata.p = meta;
        r->Protocols[0].Metadata.len = sizeof meta;
        struct JoinGroupResponse *resp = do_call(&j, API_JOIN_GROUP, r);
        if (resp->ErrorCode == KERR_MEMBER_ID_REQUIRED && attempt == 0) {
            assert_true(v >= 4);
            member = resp->MemberId;
            continue;
        }
        assert_int_equal(resp->ErrorCode, 0);
        assert_int_equal(resp->GenerationId, 1);
        assert_true(proto_str_eq(resp->Leader, proto_arena_strdup(k->a, resp->MemberId)));
        assert_int_equal(resp->Members_n, 1);
        STR_CHECK(resp->ProtocolName, "range");
        *generation = resp->GenerationId;
        return proto_arena_strdup(k->a, resp->MemberId);
    }
    fail_msg("join did not complete");
    return NULL;
}

static void sync_alone(struct call *k, int16_t v, const char *group, const char *member, int32_t gen)
{
    struct call s = *k;
    s.version = v;
    struct SyncGroupRequest *r = req_new(&s, &proto_msg_SyncGroupRequest);
    r->GroupId = proto_str_from(group);
    r->GenerationId = gen;
    r->MemberId = proto_str_from(member);
    r->Assignments = proto_array_new(k->a, &desc_SyncGroupRequest_SyncGroupRequestAssignment, 1);
    r->Assignments_n = 1;
    r->Assignments[0].MemberId = proto_str_from(member);
    r->Assignments[0].Assignment.p = (const uint8_t *)"assigned";
    r->Assignments[0].Assignment.len = 8;
    struct SyncGroupResponse *resp = do_call(&s, API_SYNC_GROUP, r);
    assert_int_equal(resp->ErrorCode, 0);
    assert_int_equal(resp->Assignment.len, 8);
    assert_memory_equal(resp->Assignment.p, "assigned", 8);
}

static void commit_one(struct call *k, int16_t v, const char *group, int64_t offset)
{
    struct call c = *k;
    c.version = v;
    struct OffsetCommitRequest *r = req_new(&c, &proto_msg_OffsetCommitRequest);
    r->GroupId = proto_str_from(group);
    r->GenerationIdOrMemberEpoch = -1;
    r->MemberId = proto_str_from("");
    r->Topics = proto_array_new(k->a, &desc_OffsetCommitRequest_OffsetCommitRequestTopic, 1);
    r->Topics_n = 1;
    r->Topics[0].Name = proto_str_from(TOPIC);
    r->Topics[0].Partitions = proto_array_new(k->a, &desc_OffsetCommitRequest_OffsetCommitRequestPartition, 1);
    r->Topics[0].Partitions_n = 1;
    r->Topics[0].Partitions[0].PartitionIndex = 0;
    r->Topics[0].Partitions[0].CommittedOffset = offset;
    r->Topics[0].Partitions[0].CommittedMetadata = proto_str_from("md");
    struct OffsetCommitResponse *resp = do_call(&c, API_OFFSET_COMMIT, r);
    assert_int_equal(resp->Topics_n, 1);
    assert_int_equal(resp->Topics[0].Partitions_n, 1);
    assert_int_equal(resp->Topics[0].Partitions[0].ErrorCode, 0);
}

static void case_join_group(struct call *k)
{
    int32_t gen;
    join_alone(k, k->version, grp(k, "join"), &gen);
}

static void case_sync_group(struct call *k)
{
    int32_t gen;
    const char *g = grp(k, "sync");
    const char *m = join_alone(k, 2, g, &gen);
    sync_alone(k, k->version, g, m, gen);
}

static void case_heartbeat(struct call *k)
{
    int32_t gen;
    const char *g = grp(k, "hb");
    const char *m = join_alone(k, 2, g, &gen);
    sync_alone(k, 1, g, m, gen);
    struct HeartbeatRequest *r = req_new(k, &proto_msg_HeartbeatRequest);
    r->GroupId = proto_str_from(g);
    r->GenerationId = gen;
    r->MemberId = proto_str_from(m);
    struct HeartbeatResponse *resp = do_call(k, API_HEARTBEAT, r);
    assert_int_equal(resp->ErrorCode, 0);
    r->MemberId = proto_str_from("nobody");
    resp = do_call(k, API_HEARTBEAT, r);
    assert_int_equal(resp->ErrorCode, KERR_UNKNOWN_MEMBER_ID);
}

static void case_leave_group(struct call *k)
{
    int32_t gen;
    const char *g = grp(k, "leave");
    const char *m = join_alone(k, 2, g, &gen);
    struct LeaveGroupRequest *r = req_new(k, &proto_msg_LeaveGroupRequest);
    r->GroupId = proto_str_from(g);
    if (k->version >= 3) {
        r->Members = proto_array_new(k->a, &desc_LeaveGroupRequest_MemberIdentity, 2);
        r->Members_n = 2;
        r->Members[0].MemberId = proto_str_from(m);
        r->Members[1].MemberId = proto_str_from("ghost");
    } else {
        r->MemberId = proto_str_from(m);
    }
    struct LeaveGroupResponse *resp = do_call(k, API_LEAVE_GROUP, r);
    assert_int_equal(resp->ErrorCode, 0);
    if (k->version >= 3) {
        assert_int_equal(resp->Members_n, 2);
        assert_int_equal(resp->Members[0].ErrorCode, 0);
        assert_int_equal(resp->Members[1].ErrorCode, KERR_UNKNOWN_MEMBER_ID);
    }
}

static void case_offset_commit(struct call *k)
{
    commit_one(k, k->version, grp(k, "commit"), 10 + k->version);
}

static void case_offset_fetch(struct call *k)
{
    const char *g = grp(k, "fetch");
    commit_one(k, 2, g, 77);
    struct OffsetFetchRequest *r = req_new(k, &proto_msg_OffsetFetchRequest);
    r->GroupId = proto_str_from(g);
    r->Topics = proto_array_new(k->a, &desc_OffsetFetchRequest_OffsetFetchRequestTopic, 1);
    r->Topics_n = 1;
    r->Topics[0].Name = proto_str_from(TOPIC);
    r->Topics[0].PartitionIndexes = proto_arena_alloc(k->a, 2 * sizeof(int32_t));
    r->Topics[0].PartitionIndexes[0] = 0;
    r->Topics[0].PartitionIndexes[1] = 5;
    r->Topics[0].PartitionIndexes_n = 2;
    struct OffsetFetchResponse *resp = do_call(k, API_OFFSET_FETCH, r);
    assert_int_equal(resp->ErrorCode, 0);
    assert_int_equal(resp->Topics_n, 1);
    assert_int_equal(resp->Topics[0].Partitions_n, 2);
    assert_int_equal(resp->Topics[0].Partitions[0].CommittedOffset, 77);
    STR_CHECK(resp->Topics[0].Partitions[0].Metadata, "md");
    assert_int_equal(resp->Topics[0].Partitions[1].CommittedOffset, -1);
    if (k->version >= 2) { /* null topics: every committed offset */
        r->Topics_n = -1;
        r->Topics = NULL;
        resp = do_call(k, API_OFFSET_FETCH, r);
        assert_int_equal(resp->Topics_n, 1);
        assert_int_equal(resp->Topics[0].Partitions_n, 1);
        assert_int_equal(resp->Topics[0].Partitions[0].CommittedOffset, 77);
    }
}

static void case_describe_groups(struct call *k)
{
    int32_t gen;
    const char *g = grp(k, "describe");
    const char *m = join_alone(k, 2, g, &gen);
    sync_alone(k, 1, g, m, gen);
    struct DescribeGroupsRequest *r = req_new(k, &proto_msg_DescribeGroupsRequest);
    r->Groups = proto_arena_alloc(k->a, 2 * sizeof(proto_str));
    r->Groups[0] = proto_str_from(g);
    r->Groups[1] = proto_str_from("no-such-group");
    r->Groups_n = 2;
    struct DescribeGroupsResponse *resp = do_call(k, API_DESCRIBE_GROUPS, r);
    assert_int_equal(resp->Groups_n, 2);
    assert_int_equal(resp->Groups[0].ErrorCode, 0);
    STR_CHECK(resp->Groups[0].GroupState, "Stable");
    STR_CHECK(resp->Groups[0].ProtocolType, "consumer");
    STR_CHECK(resp->Groups[0].ProtocolData, "range");
    assert_int_equal(resp->Groups[0].Members_n, 1);
    assert_int_equal(resp->Groups[0].Members[0].MemberAssignment.len, 8);
    STR_CHECK(resp->Groups[1].GroupState, "Dead");
}

static void case_list_groups(struct call *k)
{
    commit_one(k, 2, grp(k, "listed"), 1);
    struct ListGroupsRequest *r = req_new(k, &proto_msg_ListGroupsRequest);
    struct ListGroupsResponse *resp = do_call(k, API_LIST_GROUPS, r);
    assert_int_equal(resp->ErrorCode, 0);
    bool found = false;
    for (int32_t i = 0; i < resp->Groups_n; i++)
        found |= proto_str_eq(resp->Groups[i].GroupId, grp(k, "listed"));
    assert_true(found);
}

static void case_delete_groups(struct call *k)
{
    const char *g = grp(k, "deleted-group");
    commit_one(k, 2, g, 1);
    struct DeleteGroupsRequest *r = req_new(k, &proto_msg_DeleteGroupsRequest);
    r->GroupsNames = proto_arena_alloc(k->a, 2 * sizeof(proto_str));
    r->GroupsNames[0] = proto_str_from(g);
    r->GroupsNames[1] = proto_str_from("no-such-group");
    r->GroupsNames_n = 2;
    struct DeleteGroupsResponse *resp = do_call(k, API_DELETE_GROUPS, r);
    assert_int_equal(resp->Results_n, 2);
    assert_int_equal(resp->Results[0].ErrorCode, 0);
    assert_int_equal(resp->Results[1].ErrorCode, KERR_GROUP_ID_NOT_FOUND);
}

static void case_offset_delete(struct call *k)
{
    const char *g = grp(k, "offset-deleted");
    commit_one(k, 2, g, 1);
    struct OffsetDeleteRequest *r = req_new(k, &proto_msg_OffsetDeleteRequest);
    r->GroupId = proto_str_from(g);
    r->Topics = proto_array_new(k->a, &desc_OffsetDeleteRequest_OffsetDeleteRequestTopic, 1);
    r->Topics_n = 1;
    r->Topics[0].Name = proto_str_from(TOPIC);
    r->Topics[0].Partitions = proto_array_new(k->a, &desc_OffsetDeleteRequest_OffsetDeleteRequestPartition, 1);
    r->Topics[0].Partitions_n = 1;
    struct OffsetDeleteResponse *resp = do_call(k, API_OFFSET_DELETE, r);
    assert_int_equal(resp->ErrorCode, 0);
    assert_int_equal(resp->Topics_n, 1);
    assert_int_equal(resp->Topics[0].Partitions[0].ErrorCode, 0);
}

/* Runs after the produce cases: the partition holds records at leader epoch 0 (a single node's new topic). */
static void case_offset_for_leader_epoch(struct call *k)
{
    struct OffsetForLeaderEpochRequest *r = req_new(k, &proto_msg_OffsetForLeaderEpochRequest);
    r->ReplicaId = -1; /* a consumer (v3+) */
    r->Topics = proto_array_new(k->a, &desc_OffsetForLeaderEpochRequest_OffsetForLeaderTopic, 1);
    r->Topics_n = 1;
    r->Topics[0].Topic = proto_str_from(TOPIC);
    r->Topics[0].Partitions = proto_array_new(k->a, &desc_OffsetForLeaderEpochRequest_OffsetForLeaderPartition, 3);
    r->Topics[0].Partitions_n = 3;
    struct OffsetForLeaderEpochRequest_OffsetForLeaderPartition *p = r->Topics[0].Partitions;
    p[0] = (struct OffsetForLeaderEpochRequest_OffsetForLeaderPartition){0, 0, 0};
    p[1] = (struct OffsetForLeaderEpochRequest_OffsetForLeaderPartition){99, -1, 0};
    p[2] = (struct OffsetForLeaderEpochRequest_OffsetForLeaderPartition){0, 5, 0}; /* a leader epoch from the future */
    struct OffsetForLeaderEpochResponse *resp = do_call(k, 23, r);
    assert_int_equal(resp->Topics_n, 1);
    STR_CHECK(resp->Topics[0].Topic, TOPIC);
    assert_int_equal(resp->Topics[0].Partitions_n, 3);
    const struct OffsetForLeaderEpochResponse_EpochEndOffset *e = resp->Topics[0].Partitions;
    assert_int_equal(e[0].ErrorCode, 0);
    assert_int_equal(e[0].Partition, 0);
    assert_int_equal(e[0].LeaderEpoch, k->version >= 1 ? 0 : -1);
    assert_true(e[0].EndOffset >= 8); /* the latest epoch ends at the log end: 8 produce cases ran */
    assert_int_equal(e[1].ErrorCode, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    /* CurrentLeaderEpoch exists from v2 */
    assert_int_equal(e[2].ErrorCode, k->version >= 2 ? KERR_UNKNOWN_LEADER_EPOCH : KERR_NONE);
}

static const struct {
    int16_t key;
    void (*run)(struct call *k);
} cases[] = {
    {API_PRODUCE, case_produce},
    {API_FETCH, case_fetch},
    {API_LIST_OFFSETS, case_list_offsets},
    {23 /* OffsetForLeaderEpoch */, case_offset_for_leader_epoch},
    {API_METADATA, case_metadata},
    {API_FIND_COORDINATOR, case_find_coordinator},
    {API_API_VERSIONS, case_api_versions},
    {API_CREATE_TOPICS, case_create_topics},
    {API_DELETE_TOPICS, case_delete_topics},
    {API_DESCRIBE_CONFIGS, case_describe_configs},
    {API_ALTER_CONFIGS, case_alter_configs},
    {API_CREATE_PARTITIONS, case_create_partitions},
    {API_INCREMENTAL_ALTER_CONFIGS, case_incremental_alter_configs},
    {API_DESCRIBE_CLUSTER, case_describe_cluster},
    {API_JOIN_GROUP, case_join_group},
    {API_SYNC_GROUP, case_sync_group},
    {API_HEARTBEAT, case_heartbeat},
    {API_LEAVE_GROUP, case_leave_group},
    {API_OFFSET_COMMIT, case_offset_commit},
    {API_OFFSET_FETCH, case_offset_fetch},
    {API_DESCRIBE_GROUPS, case_describe_groups},
    {API_LIST_GROUPS, case_list_groups},
    {API_DELETE_GROUPS, case_delete_groups},
    {API_OFFSET_DELETE, case_offset_delete},
    {API_INIT_PRODUCER_ID, case_init_producer_id},
    {API_DESCRIBE_QUORUM, case_describe_quorum}, /* proto_quorum_apis */
    {API_ELECT_LEADERS, case_elect_leaders},     /* proto_quorum_apis */
    {API_ALTER_PARTITION_REASSIGNMENTS, case_alter_partition_reassignments}, /* proto_quorum_apis */
    {API_LIST_PARTITION_REASSIGNMENTS, case_list_partition_reassignments},   /* proto_quorum_apis */
};

static void test_every_advertised_version(void **state)
{
    struct live *l = *state;
    struct kclient c;
    kclient_init(&c);
    assert_int_equal(kclient_connect(&c, "127.0.0.1", l->port), 0);
    struct proto_arena a;
    proto_arena_init(&a);
    struct call setup_call = {&c, &a, 4};
    create_topic(&setup_call, TOPIC);
    /* the topic's partition must be hosted before the first produce */
    for (int tries = 0; tries < 200; tries++) {
        struct call md = {&c, &a, 1};
        struct MetadataRequest *r = req_new(&md, &proto_msg_MetadataRequest);
        r->Topics = proto_array_new(&a, &desc_MetadataRequest_MetadataRequestTopic, 1);
        r->Topics_n = 1;
        r->Topics[0].Name = proto_str_from(TOPIC);
        struct MetadataResponse *resp = do_call(&md, API_METADATA, r);
        if (resp->Topics_n == 1 && resp->Topics[0].ErrorCode == 0)
            break;
        usleep(50000);
    }
    /* the first FindCoordinator creates __consumer_offsets; groups are served once it is loaded */
    for (int tries = 0; tries < 400; tries++) {
        struct call fc = {&c, &a, 2};
        struct FindCoordinatorRequest *r = req_new(&fc, &proto_msg_FindCoordinatorRequest);
        r->Key = proto_str_from("probe");
        struct FindCoordinatorResponse *resp = do_call(&fc, API_FIND_COORDINATOR, r);
        struct call hb = {&c, &a, 0};
        struct HeartbeatRequest *h = req_new(&hb, &proto_msg_HeartbeatRequest);
        h->GroupId = proto_str_from("everyv-probe"); /* UNKNOWN_MEMBER_ID once its coordinator is ready */
        h->MemberId = proto_str_from("m");
        if (resp->ErrorCode == 0 &&
            ((struct HeartbeatResponse *)do_call(&hb, API_HEARTBEAT, h))->ErrorCode == KERR_UNKNOWN_MEMBER_ID)
            break;
        usleep(50000);
    }
    for (size_t i = 0; i < proto_broker_apis_count + proto_quorum_apis_count; i++) {
        const struct proto_api_range *range =
            i < proto_broker_apis_count ? &proto_broker_apis[i] : &proto_quorum_apis[i - proto_broker_apis_count];
        void (*run)(struct call *) = NULL;
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
            if (cases[k].key == range->api_key)
                run = cases[k].run;
        if (!run)
            fail_msg("api %d is advertised but this test has no case for it", range->api_key);
        for (int16_t v = range->min_version; v <= range->max_version; v++) {
            struct call k = {&c, &a, v};
            run(&k);
        }
    }
    proto_arena_free(&a);
    kclient_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_advertised_version, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
