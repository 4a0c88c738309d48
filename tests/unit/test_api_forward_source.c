/* forward_source on a real single-voter combined node whose controller it reaches in-process (ctrl_channel
 * -> kraft_ctrl): the broker's own controller calls (AllocateProducerIds, AlterPartition, auto-creation)
 * still in flight when the broker stops (broker_stop's order: channel, controller, then the source, which
 * stops the node) get no callback, as every call at stop, and their memory goes with the source (LeakSanitizer
 * failed the test before: a broker stopped with an ISR change or a producer-id block pending leaked it); a
 * forwarded DescribeQuorum answered in-process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_kraft_fixture.h"
#include <uv.h>

#include "broker/api/ctrl_channel.h"
#include "broker/api/forward_source.h"
#include "api_support.h"
#include "broker/common/ferry_err.h"
#include "kraftmode/kraft_ctrl_rpc.h"
#include "kraftmode/kraft_node.h"
#include "kraftmode/kraft_source.h"
#include "proto_codec.h"

static int callbacks;

/* A single-voter combined node with its controller, the in-process channel to it and the forward_source under
 * test wrapped around the node's own source. */
struct fwd_node {
    char dir[512];
    struct ferry_config cfg;
    uv_loop_t loop;
    struct kraft_node *node;
    struct kraft_ctrl *ctrl;
    struct ctrl_channel *ch;
    struct md_source inner, src;
};

static void fwd_node_start(struct fwd_node *f, const char *name)
{
    memset(f, 0, sizeof *f);
    kraft_fixture_config(f->dir, sizeof f->dir, name, &f->cfg);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    char err[512];
    assert_int_equal(kraft_node_start(&f->loop, &f->cfg, true, &f->node, err, sizeof err), 0);
    assert_int_equal(kraft_ctrl_new(&f->loop, f->node, 600000, &f->ctrl), 0);
    assert_int_equal(ctrl_channel_new(&f->loop, &f->cfg, f->node, f->ctrl, &f->ch), 0);
    assert_true(ctrl_channel_is_local(f->ch));
    kraft_source_init(f->node, &f->inner);
    assert_int_equal(forward_source_new(&f->inner, f->ch, &f->cfg, &f->src), 0);
}

/* broker_stop's order: channel, controller, then the source (which stops the node); then the loop drains */
static void fwd_node_stop(struct fwd_node *f)
{
    ctrl_channel_stop(f->ch);
    kraft_ctrl_stop(f->ctrl);
    f->src.ops->stop(f->src.impl);
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void fwd_node_free(struct fwd_node *f)
{
    assert_int_equal(uv_loop_close(&f->loop), 0);
    config_free(&f->cfg);
    kraft_fixture_remove_dir(f->dir);
}

static void on_pids(void *arg, int64_t first, int32_t len, int16_t error)
{
    (void)arg;
    (void)first;
    (void)len;
    (void)error;
    callbacks++;
}

static void on_alter(void *arg, int16_t error)
{
    (void)arg;
    (void)error;
    callbacks++;
}

static void test_stop_with_own_calls_in_flight(void **state)
{
    (void)state;
    struct fwd_node f;
    fwd_node_start(&f, "api-forward");

    callbacks = 0;
    f.src.ops->allocate_producer_ids(f.src.impl, f.cfg.node_id, 1, on_pids, NULL);
    int32_t isr[] = {1};
    struct md_alter_partition q = {.broker_id = f.cfg.node_id, .broker_epoch = 1, .partition = 0, .leader_epoch = 0,
                                   .new_isr = isr, .nisr = 1};
    f.src.ops->alter_partition(f.src.impl, &q, on_alter, NULL);
    /* stopped before the loop ran the calls */
    fwd_node_stop(&f);
    assert_int_equal(callbacks, 0);
    fwd_node_free(&f);
}

static void on_done(void *arg) { (*(int *)arg)++; }

/* A client's DescribeQuorum handed to forward_admin (a broker listener's) on the active controller's node
 * goes to its controller in-process, which answers from the Raft core at once: the leader's view. */
static void test_forwarded_describe_quorum_in_process(void **state)
{
    (void)state;
    struct fwd_node f;
    fwd_node_start(&f, "api-forward-dq");

    struct proto_arena a;
    proto_arena_init(&a);
    struct DescribeQuorumRequest_PartitionData part = {0};
    struct DescribeQuorumRequest_TopicData topic = {proto_str_from("__cluster_metadata"), &part, 1};
    struct DescribeQuorumRequest req;
    proto_struct_init(proto_msg_DescribeQuorumRequest.body, &req);
    req.Topics = &topic;
    req.Topics_n = 1;
    struct DescribeQuorumResponse resp;
    proto_struct_init(proto_msg_DescribeQuorumResponse.body, &resp);
    int answered = 0;
    f.src.ops->forward_admin(f.src.impl, API_DESCRIBE_QUORUM, &req, 1, NULL, &a, &resp, on_done, &answered);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    assert_int_equal(answered, 1);
    assert_int_equal(resp.ErrorCode, 0);
    assert_int_equal(resp.Topics_n, 1);
    assert_int_equal(resp.Topics[0].Partitions_n, 1);
    const struct DescribeQuorumResponse_PartitionData *p = &resp.Topics[0].Partitions[0];
    assert_int_equal(p->ErrorCode, 0);
    assert_int_equal(p->LeaderId, f.cfg.node_id);
    assert_true(p->LeaderEpoch >= 1);
    assert_int_equal(p->CurrentVoters_n, 1);
    assert_int_equal(p->CurrentVoters[0].ReplicaId, f.cfg.node_id);
    proto_arena_free(&a);

    fwd_node_stop(&f);
    fwd_node_free(&f);
}

/* A source that is not a quorum node's refuses to be wrapped, and keeps nothing. */
static void test_wrong_inner_refused(void **state)
{
    (void)state;
    static const struct md_source_ops no_quorum = {0};
    struct md_source inner = {&no_quorum, NULL}, out;
    assert_int_equal(forward_source_new(&inner, NULL, NULL, &out), FERRY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_with_own_calls_in_flight),
        cmocka_unit_test(test_forwarded_describe_quorum_in_process),
        cmocka_unit_test(test_wrong_inner_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
