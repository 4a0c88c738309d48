/* Golden byte vectors for the controller-to-broker RPCs of legacy mode (LeaderAndIsr, UpdateMetadata,
 * StopReplica, ControlledShutdown, AlterPartition) and the client admin requests a legacy-mode broker gives
 * its controller (ElectLeaders, Alter/ListPartitionReassignments): message bodies written by scripts/golden_zkrpc.py, an
 * encoder independent of Ferry's codec, into golden/zkrpc_vectors.inc.
 *
 * For every vector: the body decodes with the generic codec with nothing left over; the decoded fields
 * have the generator's values (written out again below: keep them in step with the script); re-encoding
 * gives the same bytes; every truncation fails with FERRY_EPARSE; and failing each allocation in turn
 * gives FERRY_ENOMEM without a leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "api_support.h"
#include "proto_codec.h"

#include "golden/zkrpc_vectors.inc"

#define NVEC (sizeof zkrpc_goldens / sizeof zkrpc_goldens[0])

/* ---- helpers ---- */

static void str_is(proto_str s, const char *want)
{
    if (!proto_str_eq(s, want))
        fail_msg("got %s%.*s, want \"%s\"", s.len < 0 ? "null" : "", s.len < 0 ? 0 : (int)s.len,
                 s.len < 0 ? "" : s.p, want);
}

static void ints_are(const int32_t *v, int32_t n, const int32_t *want, int32_t want_n)
{
    assert_int_equal(n, want_n);
    for (int32_t i = 0; i < n; i++)
        assert_int_equal(v[i], want[i]);
}
#define INTS(v, n, ...)                                                                                     \
    do {                                                                                                    \
        const int32_t want_[] = {__VA_ARGS__};                                                              \
        ints_are((v), (n), want_, (int32_t)(sizeof want_ / sizeof want_[0]));                               \
    } while (0)
#define NO_INTS(v, n) assert_int_equal((n), 0)
/* One per-partition error of the layouts that carry the topic name. */
#define NAMED_ERROR(e, name, index, code)                                                                   \
    do {                                                                                                    \
        str_is((e).TopicName, (name));                                                                      \
        assert_int_equal((e).PartitionIndex, (index));                                                      \
        assert_int_equal((e).ErrorCode, (code));                                                            \
    } while (0)

/* The generator's uuid_bytes(first): byte i is first + 17 * i. */
static void uuid_is(proto_uuid u, uint8_t first)
{
    for (int i = 0; i < 16; i++)
        assert_int_equal(u.b[i], (uint8_t)(first + 17 * i));
}

static const struct proto_message *vector_message(const struct zkrpc_golden *g)
{
    const struct proto_message *m = proto_find(g->response ? PROTO_KIND_RESPONSE : PROTO_KIND_REQUEST, g->api_key);
    assert_non_null(m);
    return m;
}

/* ---- per-message checks: the values scripts/golden_zkrpc.py encodes ---- */

static void check_lisr_req(const struct zkrpc_golden *g, const void *msg)
{
    (void)g;
    const struct LeaderAndIsrRequest *r = msg;
    assert_int_equal(r->ControllerId, 3000);
    assert_true(r->isKRaftController);
    assert_int_equal(r->ControllerEpoch, 21);
    assert_int_equal(r->BrokerEpoch, 4294967301LL);
    assert_int_equal(r->Type, 2);
    assert_int_equal(r->TopicStates_n, 2);
    const struct LeaderAndIsrRequest_LeaderAndIsrTopicState *a = &r->TopicStates[0], *b = &r->TopicStates[1];
    str_is(a->TopicName, "orders");
    uuid_is(a->TopicId, 0x11);
    assert_int_equal(a->PartitionStates_n, 2);
    const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *p = &a->PartitionStates[0];
    assert_int_equal(p->PartitionIndex, 0);
    assert_int_equal(p->ControllerEpoch, 21);
    assert_int_equal(p->Leader, 1);
    assert_int_equal(p->LeaderEpoch, 7);
    INTS(p->Isr, p->Isr_n, 1, 2, 3);
    assert_int_equal(p->PartitionEpoch, 13);
    INTS(p->Replicas, p->Replicas_n, 1, 2, 3);
    NO_INTS(p->AddingReplicas, p->AddingReplicas_n);
    NO_INTS(p->RemovingReplicas, p->RemovingReplicas_n);
    assert_false(p->IsNew);
    assert_int_equal(p->LeaderRecoveryState, 0);
    p = &a->PartitionStates[1];
    assert_int_equal(p->PartitionIndex, 5);
    assert_int_equal(p->ControllerEpoch, 22);
    assert_int_equal(p->Leader, 3);
    assert_int_equal(p->LeaderEpoch, 9);
    INTS(p->Isr, p->Isr_n, 3);
    assert_int_equal(p->PartitionEpoch, 31);
    INTS(p->Replicas, p->Replicas_n, 3, 1, 4);
    INTS(p->AddingReplicas, p->AddingReplicas_n, 4);
    INTS(p->RemovingReplicas, p->RemovingReplicas_n, 1);
    assert_true(p->IsNew);
    assert_int_equal(p->LeaderRecoveryState, 1);
    str_is(b->TopicName, "payments.eu");
    uuid_is(b->TopicId, 0x42);
    assert_int_equal(b->PartitionStates_n, 1);
    p = &b->PartitionStates[0];
    assert_int_equal(p->PartitionIndex, 2);
    assert_int_equal(p->ControllerEpoch, 23);
    assert_int_equal(p->Leader, -1);
    assert_int_equal(p->LeaderEpoch, 0);
    NO_INTS(p->Isr, p->Isr_n);
    assert_int_equal(p->PartitionEpoch, 0);
    INTS(p->Replicas, p->Replicas_n, 2);
    assert_true(p->IsNew);
    assert_int_equal(r->LiveLeaders_n, 2);
    assert_int_equal(r->LiveLeaders[0].BrokerId, 1);
    str_is(r->LiveLeaders[0].HostName, "broker-1.example");
    assert_int_equal(r->LiveLeaders[0].Port, 9092);
    assert_int_equal(r->LiveLeaders[1].BrokerId, 3);
    str_is(r->LiveLeaders[1].HostName, "b3");
    assert_int_equal(r->LiveLeaders[1].Port, 19093);
}

static void check_lisr_resp(const struct zkrpc_golden *g, const void *msg)
{
    const struct LeaderAndIsrResponse *r = msg;
    assert_int_equal(r->ErrorCode, 0);
    if (g->version >= 5) {
        assert_int_equal(r->Topics_n, 2);
        uuid_is(r->Topics[0].TopicId, 0x11);
        assert_int_equal(r->Topics[0].PartitionErrors_n, 2);
        assert_int_equal(r->Topics[0].PartitionErrors[0].PartitionIndex, 0);
        assert_int_equal(r->Topics[0].PartitionErrors[0].ErrorCode, 0);
        assert_int_equal(r->Topics[0].PartitionErrors[1].PartitionIndex, 5);
        assert_int_equal(r->Topics[0].PartitionErrors[1].ErrorCode, KERR_STALE_CONTROLLER_EPOCH);
        uuid_is(r->Topics[1].TopicId, 0x42);
        assert_int_equal(r->Topics[1].PartitionErrors_n, 1);
        assert_int_equal(r->Topics[1].PartitionErrors[0].PartitionIndex, 2);
        assert_int_equal(r->Topics[1].PartitionErrors[0].ErrorCode, KERR_INCONSISTENT_TOPIC_ID);
    } else {
        assert_int_equal(r->PartitionErrors_n, 3);
        NAMED_ERROR(r->PartitionErrors[0], "orders", 0, 0);
        NAMED_ERROR(r->PartitionErrors[1], "orders", 5, KERR_FENCED_LEADER_EPOCH);
        NAMED_ERROR(r->PartitionErrors[2], "payments.eu", 2, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    }
}

static void check_umr_req(const struct zkrpc_golden *g, const void *msg)
{
    (void)g;
    const struct UpdateMetadataRequest *r = msg;
    assert_int_equal(r->ControllerId, 3000);
    assert_false(r->isKRaftController);
    assert_int_equal(r->Type, 2); /* tagged field 0 */
    assert_int_equal(r->ControllerEpoch, 22);
    assert_int_equal(r->BrokerEpoch, 4294967302LL);
    assert_int_equal(r->TopicStates_n, 1);
    str_is(r->TopicStates[0].TopicName, "orders");
    uuid_is(r->TopicStates[0].TopicId, 0x11);
    assert_int_equal(r->TopicStates[0].PartitionStates_n, 2);
    const struct UpdateMetadataRequest_UpdateMetadataPartitionState *p = &r->TopicStates[0].PartitionStates[0];
    assert_int_equal(p->PartitionIndex, 0);
    assert_int_equal(p->ControllerEpoch, 21);
    assert_int_equal(p->Leader, 1);
    assert_int_equal(p->LeaderEpoch, 7);
    INTS(p->Isr, p->Isr_n, 1, 2);
    assert_int_equal(p->ZkVersion, 13);
    INTS(p->Replicas, p->Replicas_n, 1, 2, 3);
    INTS(p->OfflineReplicas, p->OfflineReplicas_n, 3);
    p = &r->TopicStates[0].PartitionStates[1];
    assert_int_equal(p->PartitionIndex, 1);
    assert_int_equal(p->ControllerEpoch, 22);
    assert_int_equal(p->Leader, -2);
    assert_int_equal(p->LeaderEpoch, 8);
    NO_INTS(p->Isr, p->Isr_n);
    assert_int_equal(p->ZkVersion, 14);
    INTS(p->Replicas, p->Replicas_n, 2, 1);
    NO_INTS(p->OfflineReplicas, p->OfflineReplicas_n);
    assert_int_equal(r->LiveBrokers_n, 2);
    const struct UpdateMetadataRequest_UpdateMetadataBroker *b = &r->LiveBrokers[0];
    assert_int_equal(b->Id, 1);
    assert_int_equal(b->Endpoints_n, 2);
    assert_int_equal(b->Endpoints[0].Port, 9092);
    str_is(b->Endpoints[0].Host, "broker-1.example");
    str_is(b->Endpoints[0].Listener, "PLAINTEXT");
    assert_int_equal(b->Endpoints[0].SecurityProtocol, 0);
    assert_int_equal(b->Endpoints[1].Port, 9093);
    str_is(b->Endpoints[1].Listener, "SSL_INT");
    assert_int_equal(b->Endpoints[1].SecurityProtocol, 1);
    str_is(b->Rack, "rack-a");
    b = &r->LiveBrokers[1];
    assert_int_equal(b->Id, 2);
    assert_int_equal(b->Endpoints_n, 1);
    assert_int_equal(b->Endpoints[0].Port, 29092);
    str_is(b->Endpoints[0].Host, "10.0.0.2");
    assert_int_equal(b->Rack.len, -1);
}

static void check_umr_resp(const struct zkrpc_golden *g, const void *msg)
{
    (void)g;
    assert_int_equal(((const struct UpdateMetadataResponse *)msg)->ErrorCode, KERR_STALE_BROKER_EPOCH);
}

static void check_stop_req(const struct zkrpc_golden *g, const void *msg)
{
    (void)g;
    const struct StopReplicaRequest *r = msg;
    assert_int_equal(r->ControllerId, 3000);
    assert_true(r->isKRaftController);
    assert_int_equal(r->ControllerEpoch, 23);
    assert_int_equal(r->BrokerEpoch, 4294967303LL);
    assert_int_equal(r->TopicStates_n, 2);
    str_is(r->TopicStates[0].TopicName, "orders");
    assert_int_equal(r->TopicStates[0].PartitionStates_n, 2);
    const struct StopReplicaRequest_StopReplicaPartitionState *p = r->TopicStates[0].PartitionStates;
    assert_int_equal(p[0].PartitionIndex, 0);
    assert_int_equal(p[0].LeaderEpoch, 7);
    assert_true(p[0].DeletePartition);
    assert_int_equal(p[1].PartitionIndex, 5);
    assert_int_equal(p[1].LeaderEpoch, -2);
    assert_false(p[1].DeletePartition);
    str_is(r->TopicStates[1].TopicName, "payments.eu");
    assert_int_equal(r->TopicStates[1].PartitionStates_n, 1);
    p = r->TopicStates[1].PartitionStates;
    assert_int_equal(p[0].PartitionIndex, 2);
    assert_int_equal(p[0].LeaderEpoch, -1);
    assert_true(p[0].DeletePartition);
}

static void check_stop_resp(const struct zkrpc_golden *g, const void *msg)
{
    (void)g;
    const struct StopReplicaResponse *r = msg;
    assert_int_equal(r->ErrorCode, 0);
    assert_int_equal(r->PartitionErrors_n, 3);
    NAMED_ERROR(r->PartitionErrors[0], "orders", 0, 0);
    NAMED_ERROR(r->PartitionErrors[1], "orders", 5, KERR_FENCED_LEADER_EPOCH);
    NAMED_ERROR(r->PartitionErrors[2], "payments.eu", 2, KERR_KAFKA_STORAGE_ERROR);
}

static void check_cs_req(const struct zkrpc_golden *g, const void *msg)
{
    const struct ControlledShutdownRequest *r = msg;
    assert_int_equal(r->BrokerId, 2);
    assert_int_equal(r->BrokerEpoch, g->version >= 2 ? 4294967304LL : -1); /* v0-1: the schema's default */
}

static void check_cs_resp(const struct zkrpc_golden *g, const void *msg)
{
    (void)g;
    const struct ControlledShutdownResponse *r = msg;
    assert_int_equal(r->ErrorCode, 0);
    assert_int_equal(r->RemainingPartitions_n, 2);
    str_is(r->RemainingPartitions[0].TopicName, "orders");
    assert_int_equal(r->RemainingPartitions[0].PartitionIndex, 5);
    str_is(r->RemainingPartitions[1].TopicName, "payments.eu");
    assert_int_equal(r->RemainingPartitions[1].PartitionIndex, 2);
}

static void check_ap_isr(const struct AlterPartitionRequest_PartitionData *p, int v, const int32_t *want, int32_t n)
{
    if (v <= 2) {
        ints_are(p->NewIsr, p->NewIsr_n, want, n);
        assert_int_equal(p->NewIsrWithEpochs_n, 0);
    } else {
        assert_int_equal(p->NewIsrWithEpochs_n, n);
        for (int32_t i = 0; i < n; i++) {
            assert_int_equal(p->NewIsrWithEpochs[i].BrokerId, want[i]);
            assert_int_equal(p->NewIsrWithEpochs[i].BrokerEpoch, 100 + want[i]);
        }
        assert_int_equal(p->NewIsr_n, 0);
    }
}

static void check_ap_req(const struct zkrpc_golden *g, const void *msg)
{
    const struct AlterPartitionRequest *r = msg;
    int v = g->version;
    assert_int_equal(r->BrokerId, 1);
    assert_int_equal(r->BrokerEpoch, 4294967305LL);
    assert_int_equal(r->Topics_n, 2);
    if (v <= 1) {
        str_is(r->Topics[0].TopicName, "orders");
        str_is(r->Topics[1].TopicName, "payments.eu");
    } else {
        uuid_is(r->Topics[0].TopicId, 0x11);
        uuid_is(r->Topics[1].TopicId, 0x42);
    }
    assert_int_equal(r->Topics[0].Partitions_n, 2);
    const struct AlterPartitionRequest_PartitionData *p = r->Topics[0].Partitions;
    assert_int_equal(p[0].PartitionIndex, 0);
    assert_int_equal(p[0].LeaderEpoch, 7);
    check_ap_isr(&p[0], v, (const int32_t[]){1, 2}, 2);
    assert_int_equal(p[0].LeaderRecoveryState, 0);
    assert_int_equal(p[0].PartitionEpoch, 13);
    assert_int_equal(p[1].PartitionIndex, 5);
    assert_int_equal(p[1].LeaderEpoch, 9);
    check_ap_isr(&p[1], v, (const int32_t[]){3, 4}, 2);
    assert_int_equal(p[1].LeaderRecoveryState, v >= 1 ? 1 : 0);
    assert_int_equal(p[1].PartitionEpoch, 31);
    assert_int_equal(r->Topics[1].Partitions_n, 1);
    p = r->Topics[1].Partitions;
    assert_int_equal(p[0].PartitionIndex, 2);
    assert_int_equal(p[0].LeaderEpoch, 1);
    check_ap_isr(&p[0], v, (const int32_t[]){2}, 1);
    assert_int_equal(p[0].PartitionEpoch, 4);
}

static void check_ap_resp(const struct zkrpc_golden *g, const void *msg)
{
    const struct AlterPartitionResponse *r = msg;
    int v = g->version;
    assert_int_equal(r->ThrottleTimeMs, 17);
    assert_int_equal(r->ErrorCode, 0);
    assert_int_equal(r->Topics_n, 1);
    if (v <= 1)
        str_is(r->Topics[0].TopicName, "orders");
    else
        uuid_is(r->Topics[0].TopicId, 0x11);
    assert_int_equal(r->Topics[0].Partitions_n, 2);
    const struct AlterPartitionResponse_PartitionData *p = r->Topics[0].Partitions;
    assert_int_equal(p[0].PartitionIndex, 0);
    assert_int_equal(p[0].ErrorCode, 0);
    assert_int_equal(p[0].LeaderId, 1);
    assert_int_equal(p[0].LeaderEpoch, 7);
    INTS(p[0].Isr, p[0].Isr_n, 1, 2);
    assert_int_equal(p[0].LeaderRecoveryState, 0);
    assert_int_equal(p[0].PartitionEpoch, 14);
    assert_int_equal(p[1].PartitionIndex, 5);
    assert_int_equal(p[1].ErrorCode, 58);
    assert_int_equal(p[1].LeaderId, 3);
    assert_int_equal(p[1].LeaderEpoch, 9);
    INTS(p[1].Isr, p[1].Isr_n, 3);
    assert_int_equal(p[1].LeaderRecoveryState, v >= 1 ? 1 : 0);
    assert_int_equal(p[1].PartitionEpoch, 31);
}

static void check_el_req(const struct zkrpc_golden *g, const void *msg)
{
    const struct ElectLeadersRequest *r = msg;
    assert_int_equal(r->ElectionType, g->version >= 1 ? 1 : 0);
    assert_int_equal(r->TopicPartitions_n, 2);
    str_is(r->TopicPartitions[0].Topic, "orders");
    INTS(r->TopicPartitions[0].Partitions, r->TopicPartitions[0].Partitions_n, 2, 0);
    str_is(r->TopicPartitions[1].Topic, "payments.eu");
    NO_INTS(r->TopicPartitions[1].Partitions, r->TopicPartitions[1].Partitions_n);
    assert_int_equal(r->TimeoutMs, 45000);
}

static void check_el_resp(const struct zkrpc_golden *g, const void *msg)
{
    const struct ElectLeadersResponse *r = msg;
    assert_int_equal(r->ThrottleTimeMs, 12);
    assert_int_equal(r->ErrorCode, g->version >= 1 ? 41 : 0);
    assert_int_equal(r->ReplicaElectionResults_n, 1);
    const struct ElectLeadersResponse_ReplicaElectionResult *t = &r->ReplicaElectionResults[0];
    str_is(t->Topic, "orders");
    assert_int_equal(t->PartitionResult_n, 2);
    assert_int_equal(t->PartitionResult[0].PartitionId, 2);
    assert_int_equal(t->PartitionResult[0].ErrorCode, 0);
    assert_true(t->PartitionResult[0].ErrorMessage.len < 0);
    assert_int_equal(t->PartitionResult[1].PartitionId, 0);
    assert_int_equal(t->PartitionResult[1].ErrorCode, 84);
    str_is(t->PartitionResult[1].ErrorMessage, "no election needed");
}

static void check_apr_req(const struct zkrpc_golden *g, const void *msg)
{
    (void)g;
    const struct AlterPartitionReassignmentsRequest *r = msg;
    assert_int_equal(r->TimeoutMs, 30000);
    assert_int_equal(r->Topics_n, 2);
    str_is(r->Topics[0].Name, "orders");
    assert_int_equal(r->Topics[0].Partitions_n, 2);
    assert_int_equal(r->Topics[0].Partitions[0].PartitionIndex, 0);
    INTS(r->Topics[0].Partitions[0].Replicas, r->Topics[0].Partitions[0].Replicas_n, 4, 5, 6);
    assert_int_equal(r->Topics[0].Partitions[1].PartitionIndex, 3);
    assert_int_equal(r->Topics[0].Partitions[1].Replicas_n, -1); /* null: cancel */
    str_is(r->Topics[1].Name, "payments.eu");
    assert_int_equal(r->Topics[1].Partitions_n, 1);
    assert_int_equal(r->Topics[1].Partitions[0].PartitionIndex, 1);
    assert_int_equal(r->Topics[1].Partitions[0].Replicas_n, 0); /* empty, not null */
}

static void check_apr_resp(const struct zkrpc_golden *g, const void *msg)
{
    (void)g;
    const struct AlterPartitionReassignmentsResponse *r = msg;
    assert_int_equal(r->ThrottleTimeMs, 7);
    assert_int_equal(r->ErrorCode, 0);
    assert_true(r->ErrorMessage.len < 0);
    assert_int_equal(r->Responses_n, 1);
    str_is(r->Responses[0].Name, "orders");
    assert_int_equal(r->Responses[0].Partitions_n, 2);
    assert_int_equal(r->Responses[0].Partitions[0].PartitionIndex, 0);
    assert_int_equal(r->Responses[0].Partitions[0].ErrorCode, 0);
    assert_true(r->Responses[0].Partitions[0].ErrorMessage.len < 0);
    assert_int_equal(r->Responses[0].Partitions[1].PartitionIndex, 3);
    assert_int_equal(r->Responses[0].Partitions[1].ErrorCode, 85);
    str_is(r->Responses[0].Partitions[1].ErrorMessage, "no reassignment");
}

static void check_lpr_req(const struct zkrpc_golden *g, const void *msg)
{
    const struct ListPartitionReassignmentsRequest *r = msg;
    assert_int_equal(r->TimeoutMs, 30000);
    if (strstr(g->name, "_all")) {
        assert_int_equal(r->Topics_n, -1);
        return;
    }
    assert_int_equal(r->Topics_n, 2);
    str_is(r->Topics[0].Name, "orders");
    INTS(r->Topics[0].PartitionIndexes, r->Topics[0].PartitionIndexes_n, 0, 3);
    str_is(r->Topics[1].Name, "payments.eu");
    NO_INTS(r->Topics[1].PartitionIndexes, r->Topics[1].PartitionIndexes_n);
}

static void check_lpr_resp(const struct zkrpc_golden *g, const void *msg)
{
    (void)g;
    const struct ListPartitionReassignmentsResponse *r = msg;
    assert_int_equal(r->ThrottleTimeMs, 3);
    assert_int_equal(r->ErrorCode, 0);
    assert_true(r->ErrorMessage.len < 0);
    assert_int_equal(r->Topics_n, 1);
    str_is(r->Topics[0].Name, "orders");
    assert_int_equal(r->Topics[0].Partitions_n, 2);
    const struct ListPartitionReassignmentsResponse_OngoingPartitionReassignment *p = r->Topics[0].Partitions;
    assert_int_equal(p[0].PartitionIndex, 0);
    INTS(p[0].Replicas, p[0].Replicas_n, 4, 5, 1, 2);
    INTS(p[0].AddingReplicas, p[0].AddingReplicas_n, 4, 5);
    INTS(p[0].RemovingReplicas, p[0].RemovingReplicas_n, 1, 2);
    assert_int_equal(p[1].PartitionIndex, 3);
    INTS(p[1].Replicas, p[1].Replicas_n, 7);
    NO_INTS(p[1].AddingReplicas, p[1].AddingReplicas_n);
    NO_INTS(p[1].RemovingReplicas, p[1].RemovingReplicas_n);
}

static void check_fields(const struct zkrpc_golden *g, const void *msg)
{
    switch (g->api_key * 2 + g->response) {
    case 4 * 2: check_lisr_req(g, msg); break;
    case 4 * 2 + 1: check_lisr_resp(g, msg); break;
    case 6 * 2: check_umr_req(g, msg); break;
    case 6 * 2 + 1: check_umr_resp(g, msg); break;
    case 5 * 2: check_stop_req(g, msg); break;
    case 5 * 2 + 1: check_stop_resp(g, msg); break;
    case 7 * 2: check_cs_req(g, msg); break;
    case 7 * 2 + 1: check_cs_resp(g, msg); break;
    case 56 * 2: check_ap_req(g, msg); break;
    case 56 * 2 + 1: check_ap_resp(g, msg); break;
    case 43 * 2: check_el_req(g, msg); break;
    case 43 * 2 + 1: check_el_resp(g, msg); break;
    case 45 * 2: check_apr_req(g, msg); break;
    case 45 * 2 + 1: check_apr_resp(g, msg); break;
    case 46 * 2: check_lpr_req(g, msg); break;
    case 46 * 2 + 1: check_lpr_resp(g, msg); break;
    default: fail_msg("%s: no field check", g->name);
    }
}

/* ---- the three runs per vector ---- */

static void run_vector(void **state)
{
    const struct zkrpc_golden *g = *state;
    const struct proto_message *m = vector_message(g);
    struct proto_arena a;
    proto_arena_init(&a);
    void *msg = proto_arena_alloc(&a, m->body->size);
    assert_non_null(msg);
    struct proto_reader r;
    proto_reader_init(&r, g->bytes, g->len);
    assert_int_equal(proto_decode(m, g->version, &r, &a, msg), 0);
    assert_int_equal(proto_reader_left(&r), 0);
    check_fields(g, msg);
    struct proto_writer w;
    proto_writer_init(&w);
    assert_int_equal(proto_encode(m, g->version, &w, msg), 0);
    assert_int_equal(w.len, g->len);
    assert_memory_equal(w.buf, g->bytes, g->len);
    proto_writer_free(&w);
    proto_arena_free(&a);
}

static void run_truncations(void **state)
{
    const struct zkrpc_golden *g = *state;
    const struct proto_message *m = vector_message(g);
    for (size_t cut = 0; cut < g->len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size, so ASan sees any read past the cut */
        assert_non_null(copy);
        memcpy(copy, g->bytes, cut);
        struct proto_arena a;
        proto_arena_init(&a);
        void *msg = proto_arena_alloc(&a, m->body->size);
        assert_non_null(msg);
        struct proto_reader r;
        proto_reader_init(&r, copy, cut);
        int rc = proto_decode(m, g->version, &r, &a, msg);
        if (rc != FERRY_EPARSE)
            fail_msg("%s: cut at %zu of %zu decoded with %d, want FERRY_EPARSE", g->name, cut, g->len, rc);
        proto_arena_free(&a);
        free(copy);
    }
}

static void run_alloc_failures(void **state)
{
    const struct zkrpc_golden *g = *state;
    const struct proto_message *m = vector_message(g);
    bool completed = false;
    for (long n = 0; n < 1000 && !completed; n++) {
        struct proto_arena a;
        proto_arena_init(&a);
        ferry_alloc_fail_after(n);
        void *msg = proto_arena_alloc(&a, m->body->size);
        int rc = FERRY_ENOMEM;
        if (msg) {
            struct proto_reader r;
            proto_reader_init(&r, g->bytes, g->len);
            rc = proto_decode(m, g->version, &r, &a, msg);
        }
        ferry_alloc_fail_after(-1);
        if (rc == 0) {
            check_fields(g, msg);
            completed = true;
        } else {
            assert_int_equal(rc, FERRY_ENOMEM);
        }
        proto_arena_free(&a);
    }
    assert_true(completed);
}

/* ---- coverage of the legacy-only table ---- */

static bool have_vector(int16_t key, int16_t version, int response)
{
    for (size_t i = 0; i < NVEC; i++)
        if (zkrpc_goldens[i].api_key == key && zkrpc_goldens[i].version == version &&
            zkrpc_goldens[i].response == response)
            return true;
    return false;
}

/* Every (key, version) of proto_legacy_apis (the APIs served only in legacy mode) has a request and a
 * response vector here, and the codec knows it: the golden-vector rule of api_support.h. */
static void every_legacy_version_has_vectors(void **state)
{
    (void)state;
    int missing = 0;
    assert_true(proto_legacy_apis_count > 0);
    for (size_t i = 0; i < proto_legacy_apis_count; i++) {
        const struct proto_api_range *ar = &proto_legacy_apis[i];
        assert_true(ar->min_version <= ar->max_version);
        assert_null(proto_api_lookup(ar->api_key)); /* never in the table quorum mode serves */
        for (int16_t v = ar->min_version; v <= ar->max_version; v++) {
            for (int response = 0; response <= 1; response++) {
                if (!have_vector(ar->api_key, v, response)) {
                    print_error("no golden %s vector for api %d version %d\n", response ? "response" : "request",
                                ar->api_key, v);
                    missing++;
                }
                const struct proto_message *m =
                    proto_find(response ? PROTO_KIND_RESPONSE : PROTO_KIND_REQUEST, ar->api_key);
                assert_non_null(m);
                assert_true(v >= m->min_version && v <= m->max_version);
            }
        }
    }
    if (missing)
        fail_msg("%d advertised legacy (api, version, direction) combinations have no golden vector; add them to "
                 "scripts/golden_zkrpc.py and re-run it", missing);
}

int main(void)
{
    enum { PER_VECTOR = 3 };
    static struct CMUnitTest tests[NVEC * PER_VECTOR + 1];
    static char names[NVEC * PER_VECTOR][80];
    static const struct {
        const char *suffix;
        CMUnitTestFunction fn;
    } kinds[PER_VECTOR] = {{"", run_vector}, {" truncated", run_truncations}, {" alloc-failures", run_alloc_failures}};
    size_t n = 0;
    for (size_t k = 0; k < PER_VECTOR; k++)
        for (size_t i = 0; i < NVEC; i++) {
            snprintf(names[n], sizeof names[0], "%s%s", zkrpc_goldens[i].name, kinds[k].suffix);
            tests[n] = (struct CMUnitTest){names[n], kinds[k].fn, NULL, NULL, (void *)&zkrpc_goldens[i]};
            n++;
        }
    tests[n++] = (struct CMUnitTest){"every legacy version has vectors", every_legacy_version_has_vectors, NULL, NULL,
                                     NULL};
    return _cmocka_run_group_tests("zkrpc_golden", tests, n, NULL, NULL);
}
