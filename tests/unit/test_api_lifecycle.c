/* The broker lifecycle manager on a real single-voter combined node, talking to its own controller
 * in-process (ctrl_channel -> kraft_ctrl): heartbeats adopt the node's own registration, and a stop made
 * from inside a controller callback (as broker_stop runs from the metadata quorum's resign callback) while
 * a heartbeat of the manager is decided in the same batch never runs that heartbeat's completion on the
 * memory lifecycle_stop freed (ASan: heap-use-after-free before the node dropped the callbacks of
 * operations still completing after its stop). */
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
#include "broker/api/lifecycle.h"
#include "broker/common/ferry_err.h"
#include "kraftmode/kraft_ctrl_rpc.h"
#include "kraftmode/kraft_node.h"
#include "proto_codec.h"

struct fx {
    char dir[512];
    struct ferry_config cfg;
    uv_loop_t loop;
    struct kraft_node *node;
    struct kraft_ctrl *ctrl;
    struct ctrl_channel *ch;
    struct lifecycle *lc;
    uv_timer_t trigger;
    struct proto_arena a;
    struct AllocateProducerIdsRequest pids_req;
    struct AllocateProducerIdsResponse pids_resp;
    bool stopped;
};

static void stop_all(struct fx *f)
{
    if (f->stopped)
        return;
    f->stopped = true;
    /* broker_stop's order */
    lifecycle_stop(f->lc);
    ctrl_channel_stop(f->ch);
    kraft_ctrl_stop(f->ctrl);
    kraft_node_stop(f->node);
}

static void pids_done(void *arg) { stop_all(arg); }

/* In the loop turn where the lifecycle sends its first heartbeat, just before it: an operation whose
 * completion stops everything, decided in the same batch. */
static void on_trigger(uv_timer_t *t)
{
    struct fx *f = t->data;
    const struct md_broker *b = md_image_broker(kraft_node_image(f->node), f->cfg.node_id);
    f->pids_req.BrokerId = f->cfg.node_id;
    f->pids_req.BrokerEpoch = b ? b->epoch : -1;
    proto_struct_init(proto_msg_AllocateProducerIdsResponse.body, &f->pids_resp);
    assert_int_equal(kraft_ctrl_call(f->ctrl, 67, 0, &f->pids_req, &f->a, &f->pids_resp, pids_done, f), 0);
}

static void test_stop_inside_a_controller_callback(void **state)
{
    (void)state;
    struct fx *f = calloc(1, sizeof *f);
    kraft_fixture_config(f->dir, sizeof f->dir, "api-lifecycle", &f->cfg);
    char err[512];
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(kraft_node_start(&f->loop, &f->cfg, true, &f->node, err, sizeof err), 0);
    assert_int_equal(kraft_ctrl_new(&f->loop, f->node, 600000, &f->ctrl), 0);
    assert_int_equal(ctrl_channel_new(&f->loop, &f->cfg, f->node, f->ctrl, &f->ch), 0);
    assert_true(ctrl_channel_is_local(f->ch));
    assert_non_null(md_image_broker(kraft_node_image(f->node), f->cfg.node_id)); /* registered at start */
    proto_arena_init(&f->a);
    uv_timer_init(&f->loop, &f->trigger);
    f->trigger.data = f;
    uv_timer_start(&f->trigger, on_trigger, 0, 0); /* before the lifecycle's first timer */
    assert_int_equal(lifecycle_start(&f->loop, &f->cfg, f->node, f->ch, &f->lc), 0);
    for (int i = 0; i < 100000 && !f->stopped; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(f->stopped);
    uv_close((uv_handle_t *)&f->trigger, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    proto_arena_free(&f->a);
    config_free(&f->cfg);
    kraft_fixture_remove_dir(f->dir);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_inside_a_controller_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
