/* A replica manager on its own loop for the broker/replica unit tests (test_replica_*.c): one log
 * directory, default configuration plus a high-watermark checkpoint interval. Header-only so that each
 * test executable stays one source file. */
#ifndef FERRY_TEST_REPLICA_NODE_H
#define FERRY_TEST_REPLICA_NODE_H

#include <stdio.h>

#include "broker/config/config.h"
#include "broker/config/topic_config.h"
#include "broker/replica/partitions.h"

struct node {
    char *dir;
    struct ferry_config cfg;
    uv_loop_t loop;
    struct rp_manager *m;
    struct topic_config tc;
};

static inline void node_start(struct node *n, const char *dir, const char *hw_interval_ms)
{
    char logdirs[512], interval[128];
    snprintf(logdirs, sizeof logdirs, "log.dirs=%s", dir);
    snprintf(interval, sizeof interval, "replica.high.watermark.checkpoint.interval.ms=%s", hw_interval_ms);
    const char *sets[] = {logdirs, interval};
    char err[256];
    assert_int_equal(config_load(&n->cfg, NULL, sets, 2, err, sizeof err), 0);
    assert_int_equal(uv_loop_init(&n->loop), 0);
    assert_int_equal(rp_manager_new(&n->loop, &n->cfg, &n->m, err, sizeof err), 0);
    topic_config_init(&n->tc, &n->cfg);
}

static inline void node_stop(struct node *n)
{
    rp_manager_close(n->m, 1);
    uv_run(&n->loop, UV_RUN_DEFAULT); /* until the manager closed its directories */
    assert_int_equal(uv_loop_close(&n->loop), 0);
    config_free(&n->cfg);
}

/* Opens topic-0 and runs the loop until it is hosted (a new log is created by a worker). */
static inline struct rp_partition *node_open(struct node *n, const char *topic, proto_uuid topic_id)
{
    struct rp_partition *p;
    assert_int_equal(rp_partition_open(n->m, topic, 0, topic_id, &n->tc, 0, &p), 0);
    while (!p) {
        assert_true(rp_partition_opening(n->m, topic, 0));
        uv_run(&n->loop, UV_RUN_ONCE);
        p = rp_partition_get(n->m, proto_str_from(topic), 0);
    }
    return p;
}

#endif
