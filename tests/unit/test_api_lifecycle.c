/* The broker lifecycle manager on a real single-voter combined node, talking to its own controller
 * in-process (ctrl_channel -> kraft_ctrl): heartbeats adopt the node's own registration, and a stop made
 * from inside a controller callback (as broker_stop runs from the metadata quorum's resign callback) while
 * a heartbeat of the manager is decided in the same batch never runs that heartbeat's completion on the
 * memory lifecycle_stop freed (ASan: heap-use-after-free before the node dropped the callbacks of
 * operations still completing after its stop); and a controlled shutdown whose heartbeat the controller
 * never answers ends at its deadline, even when the loop's clock lags the real one at the request (the
 * deadline was once taken from uv_hrtime: the timer fired before it, found the heartbeat still waiting and
 * was not armed again, so a broker whose controllers were stopped ignored SIGTERM). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

static void shutdown_done(void *arg) { *(bool *)arg = true; }

/* A listening socket on 127.0.0.1 that is never accepted from: connections complete (the kernel's backlog)
 * and requests are never answered, as from a SIGSTOPped controller. Returns the fd; *port its port. */
static int silent_listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_shutdown_ends_at_the_deadline_without_answers(void **state)
{
    (void)state;
    struct fx *f = calloc(1, sizeof *f);
    kraft_fixture_config(f->dir, sizeof f->dir, "api-lifecycle", &f->cfg);
    uint16_t port;
    int lfd = silent_listener(&port);
    char err[512];
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(kraft_node_start(&f->loop, &f->cfg, true, &f->node, err, sizeof err), 0);
    /* the channel goes over the wire (no local controller) to the silent "controller" */
    f->cfg.voters[0].port = port;
    f->cfg.controller_socket_timeout_ms = 600000;
    assert_int_equal(ctrl_channel_new(&f->loop, &f->cfg, f->node, NULL, &f->ch), 0);
    assert_int_equal(lifecycle_start(&f->loop, &f->cfg, f->node, f->ch, &f->lc), 0);
    /* its first heartbeat (with the node's own registration) goes out and is never answered */
    for (int i = 0; i < 100000 && lifecycle_epoch(f->lc) < 0; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(lifecycle_epoch(f->lc) >= 0);
    for (int i = 0; i < 20; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    /* the request comes late in a loop turn: the loop's cached time lags the real one by 300 ms */
    uv_sleep(300);
    bool done = false;
    lifecycle_shutdown(f->lc, 500, shutdown_done, &done);
    assert_false(done);
    uint64_t give_up = uv_hrtime() / 1000000 + 20000;
    while (!done && uv_hrtime() / 1000000 < give_up)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(done);
    f->ctrl = NULL;
    stop_all(f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    close(lfd);
    config_free(&f->cfg);
    kraft_fixture_remove_dir(f->dir);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_inside_a_controller_callback),
        cmocka_unit_test(test_shutdown_ends_at_the_deadline_without_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
