/* Unit tests for kraft_ctrl_rpc on a real single-voter node and loop: a second broker's registration is
 * fenced until a heartbeat shows it caught up, the unfencing is in the image, a stale epoch is refused,
 * silence for broker.session.timeout.ms fences every silent broker (the node's own too: nothing heartbeats
 * for it here), a registration without log directories is refused, unknown api keys are refused
 * without a callback, ElectLeaders elects the preferred replica once it is in the ISR, and a fencing whose
 * leader lost the lead before it committed is not logged as done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_kraft_fixture.h"
#include <uv.h>

#include "broker/common/ferry_err.h"
#include "broker/config/config.h"
#include "kraftmode/kraft_ctrl_rpc.h"
#include "kraftmode/kraft_node.h"
#include "kraftmode/kraft_node_internal.h"
#include "proto_codec.h"

#define SESSION_MS 300

struct fx {
    char dir[512];
    struct ferry_config cfg;
    uv_loop_t loop;
    struct kraft_node *node;
    struct kraft_ctrl *ctrl;
    struct proto_arena a;
    int done;
};

static int setup_session(void **state, int64_t session_ms)
{
    struct fx *f = calloc(1, sizeof *f);
    kraft_fixture_config(f->dir, sizeof f->dir, "kraft-ctrl-rpc", &f->cfg);
    char err[512];
    uv_loop_init(&f->loop);
    assert_int_equal(kraft_node_start(&f->loop, &f->cfg, true, &f->node, err, sizeof err), 0);
    assert_int_equal(kraft_ctrl_new(&f->loop, f->node, session_ms, &f->ctrl), 0);
    proto_arena_init(&f->a);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_session(state, SESSION_MS); }
/* No broker is fenced for silence during the test, however slow the machine. */
static int setup_no_fencing(void **state) { return setup_session(state, 600000); }

static int teardown(void **state)
{
    struct fx *f = *state;
    kraft_ctrl_stop(f->ctrl);
    kraft_node_stop(f->node);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    proto_arena_free(&f->a);
    config_free(&f->cfg);
    kraft_fixture_remove_dir(f->dir);
    free(f);
    return 0;
}

static void on_done(void *arg) { ((struct fx *)arg)->done++; }

/* Runs the loop until `done` grew (the controller's timer keeps the loop alive: stepped by UV_RUN_ONCE). */
static void wait_done(struct fx *f, int before)
{
    for (int i = 0; i < 100000 && f->done == before; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->done, before + 1);
}

static void call(struct fx *f, int16_t key, int16_t version, const void *req, void *resp)
{
    int before = f->done;
    assert_int_equal(kraft_ctrl_call(f->ctrl, key, version, req, &f->a, resp, on_done, f), 0);
    assert_int_equal(f->done, before); /* never from inside the call */
    wait_done(f, before);
}

static int16_t do_register(struct fx *f, int16_t version, bool with_dirs, int64_t *epoch)
{
    static proto_uuid dir = {{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}};
    static proto_uuid inc = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};
    struct BrokerRegistrationRequest_Listener l = {proto_str_from("PLAINTEXT"), proto_str_from("127.0.0.1"), 19092, 0};
    struct BrokerRegistrationRequest_Feature feat = {proto_str_from("metadata.version"), 1, 19};
    struct BrokerRegistrationRequest q;
    proto_struct_init(proto_msg_BrokerRegistrationRequest.body, &q);
    q.BrokerId = 2;
    q.ClusterId = proto_str_from(kraft_node_cluster_id(f->node));
    q.IncarnationId = inc;
    q.Listeners = &l;
    q.Listeners_n = 1;
    q.Features = &feat;
    q.Features_n = 1;
    q.LogDirs = with_dirs ? &dir : NULL;
    q.LogDirs_n = with_dirs ? 1 : 0;
    struct BrokerRegistrationResponse r;
    proto_struct_init(proto_msg_BrokerRegistrationResponse.body, &r);
    call(f, 62, version, &q, &r);
    *epoch = r.BrokerEpoch;
    return r.ErrorCode;
}

static struct BrokerHeartbeatResponse heartbeat(struct fx *f, int64_t epoch, int64_t offset)
{
    struct BrokerHeartbeatRequest q;
    proto_struct_init(proto_msg_BrokerHeartbeatRequest.body, &q);
    q.BrokerId = 2;
    q.BrokerEpoch = epoch;
    q.CurrentMetadataOffset = offset;
    struct BrokerHeartbeatResponse r;
    proto_struct_init(proto_msg_BrokerHeartbeatResponse.body, &r);
    call(f, 63, 1, &q, &r);
    return r;
}

static bool fenced(struct fx *f, int32_t id)
{
    const struct md_broker *b = md_image_broker(kraft_node_image(f->node), id);
    assert_non_null(b);
    return b->fenced;
}

static void test_register_unfence_fence(void **state)
{
    struct fx *f = *state;
    int64_t epoch = -1;
    assert_int_equal(do_register(f, 3, true, &epoch), KERR_NONE);
    assert_true(epoch > 0);
    assert_true(fenced(f, 2));
    assert_int_equal(md_image_broker(kraft_node_image(f->node), 2)->epoch, epoch);

    struct BrokerHeartbeatResponse r = heartbeat(f, epoch, epoch - 1);
    assert_int_equal(r.ErrorCode, KERR_NONE);
    assert_false(r.IsCaughtUp);
    assert_true(r.IsFenced);
    assert_true(fenced(f, 2));

    assert_int_equal(heartbeat(f, epoch + 5, epoch).ErrorCode, KERR_STALE_BROKER_EPOCH);

    r = heartbeat(f, epoch, epoch);
    assert_int_equal(r.ErrorCode, KERR_NONE);
    assert_true(r.IsCaughtUp);
    assert_false(fenced(f, 2));
    assert_false(fenced(f, 1));

    /* silence: the fencing timer fences both brokers (no heartbeats for the node's own broker here) */
    uint64_t deadline = uv_hrtime() / 1000000 + 30000;
    while ((!fenced(f, 2) || !fenced(f, 1)) && uv_hrtime() / 1000000 < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(fenced(f, 2));
    assert_true(fenced(f, 1));

    /* caught up again: unfenced by its next heartbeat */
    r = heartbeat(f, epoch, kraft_node_committed_offset(f->node));
    assert_int_equal(r.ErrorCode, KERR_NONE);
    assert_false(fenced(f, 2));
}

/* metadata.version 3.7-IV4: v0-1 carry no log directories and are refused; v2 without any too. */
static void test_registration_needs_log_dirs(void **state)
{
    struct fx *f = *state;
    int64_t epoch;
    assert_int_equal(do_register(f, 1, false, &epoch), KERR_INVALID_REGISTRATION);
    assert_int_equal(do_register(f, 2, false, &epoch), KERR_INVALID_REGISTRATION);
    assert_null(md_image_broker(kraft_node_image(f->node), 2));
    assert_int_equal(do_register(f, 2, true, &epoch), KERR_NONE);
    assert_non_null(md_image_broker(kraft_node_image(f->node), 2));
}

static void test_unknown_key_refused(void **state)
{
    struct fx *f = *state;
    assert_false(kraft_ctrl_serves(3));
    assert_false(kraft_ctrl_serves(58)); /* Envelope is unwrapped by the listener */
    assert_true(kraft_ctrl_serves(62));
    struct MetadataRequest q;
    proto_struct_init(proto_msg_MetadataRequest.body, &q);
    int before = f->done;
    assert_int_equal(kraft_ctrl_call(f->ctrl, 3, 1, &q, &f->a, NULL, on_done, f), FERRY_EINVAL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->done, before);
}

/* AllocateProducerIds through the controller RPC: a block for the registered epoch, STALE otherwise. */
static void test_allocate_producer_ids(void **state)
{
    struct fx *f = *state;
    int64_t epoch;
    assert_int_equal(do_register(f, 3, true, &epoch), KERR_NONE);
    struct AllocateProducerIdsRequest q = {2, epoch};
    struct AllocateProducerIdsResponse r;
    proto_struct_init(proto_msg_AllocateProducerIdsResponse.body, &r);
    call(f, 67, 0, &q, &r);
    assert_int_equal(r.ErrorCode, KERR_NONE);
    assert_int_equal(r.ProducerIdLen, 1000);
    q.BrokerEpoch = epoch + 1;
    call(f, 67, 0, &q, &r);
    assert_int_equal(r.ErrorCode, KERR_STALE_BROKER_EPOCH);
}

static const struct md_partition *partition0(struct fx *f, const char *topic)
{
    const struct md_topic *t = md_image_topic(kraft_node_image(f->node), topic);
    assert_non_null(t);
    const struct md_partition *p = md_topic_partition(t, 0);
    assert_non_null(p);
    return p;
}

/* ElectLeaders v0-2 for topic [pids...] (-1 ends), type PREFERRED (0) or UNCLEAN (1). */
static struct ElectLeadersResponse elect(struct fx *f, int16_t version, int8_t type, const char *topic,
                                         const int32_t *pids)
{
    struct ElectLeadersRequest q;
    proto_struct_init(proto_msg_ElectLeadersRequest.body, &q);
    int32_t n = 0;
    while (pids[n] >= 0)
        n++;
    struct ElectLeadersRequest_TopicPartitions tp = {proto_str_from(topic), (int32_t *)pids, n};
    q.ElectionType = type;
    q.TopicPartitions = &tp;
    q.TopicPartitions_n = 1;
    struct ElectLeadersResponse r;
    proto_struct_init(proto_msg_ElectLeadersResponse.body, &r);
    call(f, 43, version, &q, &r);
    assert_int_equal(r.ErrorCode, KERR_NONE);
    assert_int_equal(r.ReplicaElectionResults_n, 1);
    assert_int_equal(r.ReplicaElectionResults[0].PartitionResult_n, n);
    return r;
}

/* Topic "el" on [2, 1] while broker 2 is fenced (leader 1, ISR [1]); broker 2 unfenced; PREFERRED then
 * fails until broker 1's AlterPartition puts 2 in the ISR, after which it moves leadership to 2 (committed
 * to the image before the answer); UNCLEAN with a leader is not needed; an unknown partition is named. */
static void test_elect_leaders(void **state)
{
    struct fx *f = *state;
    assert_true(kraft_ctrl_serves(43));
    int64_t epoch;
    assert_int_equal(do_register(f, 3, true, &epoch), KERR_NONE);
    struct CreateTopicsRequest_CreatableReplicaAssignment as = {0, (int32_t[]){2, 1}, 2};
    struct CreateTopicsRequest_CreatableTopic t;
    proto_struct_init(&desc_CreateTopicsRequest_CreatableTopic, &t);
    t.Name = proto_str_from("el");
    t.NumPartitions = -1;
    t.ReplicationFactor = -1;
    t.Assignments = &as;
    t.Assignments_n = 1;
    struct CreateTopicsRequest cq;
    proto_struct_init(proto_msg_CreateTopicsRequest.body, &cq);
    cq.Topics = &t;
    cq.Topics_n = 1;
    struct CreateTopicsResponse cr;
    proto_struct_init(proto_msg_CreateTopicsResponse.body, &cr);
    call(f, 19, 4, &cq, &cr);
    assert_int_equal(cr.Topics[0].ErrorCode, KERR_NONE);
    assert_int_equal(partition0(f, "el")->leader, 1);
    assert_false(heartbeat(f, epoch, kraft_node_committed_offset(f->node)).IsFenced);

    struct ElectLeadersResponse r = elect(f, 2, 0, "el", (const int32_t[]){0, 4, -1});
    assert_int_equal(r.ReplicaElectionResults[0].PartitionResult[0].ErrorCode, KERR_PREFERRED_LEADER_NOT_AVAILABLE);
    assert_int_equal(r.ReplicaElectionResults[0].PartitionResult[1].ErrorCode, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(partition0(f, "el")->leader, 1);

    const struct md_partition *p = partition0(f, "el");
    struct AlterPartitionRequest_PartitionData pd;
    proto_struct_init(&desc_AlterPartitionRequest_PartitionData, &pd);
    pd.PartitionIndex = 0;
    pd.LeaderEpoch = p->leader_epoch;
    pd.NewIsr = (int32_t[]){1, 2};
    pd.NewIsr_n = 2;
    pd.PartitionEpoch = p->partition_epoch;
    struct AlterPartitionRequest_TopicData td;
    proto_struct_init(&desc_AlterPartitionRequest_TopicData, &td);
    td.TopicId = md_image_topic(kraft_node_image(f->node), "el")->id;
    td.Partitions = &pd;
    td.Partitions_n = 1;
    struct AlterPartitionRequest aq;
    proto_struct_init(proto_msg_AlterPartitionRequest.body, &aq);
    aq.BrokerId = 1;
    aq.BrokerEpoch = md_image_broker(kraft_node_image(f->node), 1)->epoch;
    aq.Topics = &td;
    aq.Topics_n = 1;
    struct AlterPartitionResponse ar;
    proto_struct_init(proto_msg_AlterPartitionResponse.body, &ar);
    call(f, 56, 2, &aq, &ar);
    assert_int_equal(ar.ErrorCode, KERR_NONE);
    assert_int_equal(ar.Topics[0].Partitions[0].ErrorCode, KERR_NONE);

    for (int16_t v = 0; v <= 2; v++) {
        r = elect(f, v, 0, "el", (const int32_t[]){0, -1});
        assert_int_equal(r.ReplicaElectionResults[0].PartitionResult[0].ErrorCode,
                         v == 0 ? KERR_NONE : KERR_ELECTION_NOT_NEEDED);
        assert_int_equal(partition0(f, "el")->leader, 2);
    }
    r = elect(f, 1, 1, "el", (const int32_t[]){0, -1});
    assert_int_equal(r.ReplicaElectionResults[0].PartitionResult[0].ErrorCode, KERR_ELECTION_NOT_NEEDED);
}

/* Loses the lead (as a new leader's BeginQuorumEpoch would make it) once a fencing is proposed: run
 * before the loop polls, so the proposal's fsync cannot have committed it yet. */
static void lose_lead_once_fencing_proposed(uv_prepare_t *p)
{
    struct fx *f = p->data;
    if (f->node->ninflight == 0 || f->done)
        return;
    kraft_node_lost_leadership(f->node);
    f->done = 1;
}

static void test_fencing_not_logged_when_the_lead_is_lost_before_it_commits(void **state)
{
    struct fx *f = *state;
    int64_t epoch = -1;
    assert_int_equal(do_register(f, 3, true, &epoch), KERR_NONE);
    assert_int_equal(heartbeat(f, epoch, epoch).ErrorCode, KERR_NONE);
    assert_false(fenced(f, 2));
    f->done = 0;
    uv_prepare_t p;
    uv_prepare_init(&f->loop, &p);
    p.data = f;
    uv_prepare_start(&p, lose_lead_once_fencing_proposed);
    FILE *cap = tmpfile();
    assert_non_null(cap);
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(cap), 2);
    uint64_t deadline = uv_hrtime() / 1000000 + 30000;
    while (!f->done && uv_hrtime() / 1000000 < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    uv_close((uv_handle_t *)&p, NULL);
    char text[8192];
    rewind(cap);
    text[fread(text, 1, sizeof text - 1, cap)] = '\0';
    fclose(cap);
    fputs(text, stderr);
    assert_int_equal(f->done, 1);
    assert_non_null(strstr(text, "lost the lead before the fencing of broker"));
    assert_null(strstr(text, "fenced: no heartbeat"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_unfence_fence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_needs_log_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocate_producer_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elect_leaders, setup_no_fencing, teardown),
        cmocka_unit_test_setup_teardown(test_fencing_not_logged_when_the_lead_is_lost_before_it_commits, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
