/* zk_shutdown: a legacy-mode broker's controlled shutdown (md_source controlled_shutdown), as Kafka 3.7's
 * KafkaServer.controlledShutdown in ZooKeeper mode: before the session is closed, ControlledShutdown v3
 * (BrokerId, BrokerEpoch = the czxid of our registration) goes to the current controller over a
 * zk_ctrl_chan, which then moves leadership off this broker while it still serves. It succeeds when the
 * controller answers NONE with no remaining partition; otherwise (an error, partitions still led here,
 * no controller known, a connection failure or a timeout after request.timeout.ms) it is tried again
 * after controlled.shutdown.retry.backoff.ms, controlled.shutdown.max.retries attempts in all, and then
 * the stop proceeds anyway ("unclean shutdown"), as Kafka's. Nothing is sent when
 * controlled.shutdown.enable is false or the broker is not registered. */
#include <stdio.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "proto_codec.h"
#include "zk_broker_api.h"
#include "zk_ctrl_chan.h"
#include "zk_source_internal.h"

#define CONTROLLED_SHUTDOWN_KEY 7
#define CONTROLLED_SHUTDOWN_VERSION 3

struct zk_shutdown {
    struct zk_src *z;
    struct zk_chan *chan;
    int32_t attempts_left;
    bool finished;
    md_done_fn done;
    void *arg;
    struct ControlledShutdownRequest req;
};

void zk_shutdown_free(struct zk_shutdown *s)
{
    if (!s)
        return;
    zk_chan_close(s->chan);
    ferry_free(s);
}

static void on_timer(void *arg);

static void finish(struct zk_shutdown *s)
{
    s->finished = true;
    zk_chan_later(s->chan, 0, on_timer, s); /* done runs from the timer */
}

static void attempt_failed(struct zk_shutdown *s)
{
    if (s->attempts_left > 0) {
        zk_chan_later(s->chan, (uint64_t)s->z->cfg->controlled_shutdown_retry_backoff_ms, on_timer, s);
        return;
    }
    LOG_WARN("zk", "broker %d: proceeding to do an unclean shutdown as all the controlled shutdown attempts failed",
             s->z->broker_id);
    finish(s);
}

static void on_response(void *arg, int rc, int32_t controller_id, void *resp_v)
{
    struct zk_shutdown *s = arg;
    const struct ControlledShutdownResponse *resp = resp_v;
    if (rc) {
        LOG_WARN("zk", "broker %d: controlled shutdown request to controller %d failed: %s", s->z->broker_id,
                 controller_id, ferry_strerror(rc));
    } else if (resp->ErrorCode != KERR_NONE) {
        LOG_WARN("zk", "broker %d: controller %d answered the controlled shutdown with %s", s->z->broker_id,
                 controller_id, kafka_error_name(resp->ErrorCode));
    } else if (resp->RemainingPartitions_n > 0) {
        LOG_INFO("zk", "broker %d: %d partition(s) still to move before the controlled shutdown (first: %.*s-%d)",
                 s->z->broker_id, resp->RemainingPartitions_n, (int)resp->RemainingPartitions[0].TopicName.len,
                 resp->RemainingPartitions[0].TopicName.p, resp->RemainingPartitions[0].PartitionIndex);
    } else {
        LOG_INFO("zk", "broker %d: controlled shutdown succeeded (controller %d)", s->z->broker_id, controller_id);
        finish(s);
        return;
    }
    attempt_failed(s);
}

static void attempt(struct zk_shutdown *s)
{
    struct zk_src *z = s->z;
    s->attempts_left--;
    s->req.BrokerId = z->broker_id;
    s->req.BrokerEpoch = zk_source_broker_epoch(z);
    LOG_INFO("zk", "broker %d: starting controlled shutdown (controller %d, attempts left %d)", z->broker_id,
             zk_source_controller_id(z), s->attempts_left);
    int rc = zk_chan_send(s->chan, CONTROLLED_SHUTDOWN_KEY, CONTROLLED_SHUTDOWN_VERSION, &s->req, on_response, s);
    if (rc) {
        LOG_WARN("zk", "broker %d: controlled shutdown request not sent: %s", z->broker_id,
                 rc == FERRY_ENOTFOUND ? "no controller known" : ferry_strerror(rc));
        attempt_failed(s);
    }
}

static void on_timer(void *arg)
{
    struct zk_shutdown *s = arg;
    if (!s->finished) {
        attempt(s);
        return;
    }
    md_done_fn done = s->done;
    s->done = NULL;
    if (done)
        done(s->arg);
}

void zk_controlled_shutdown(void *impl, md_done_fn done, void *arg)
{
    struct zk_src *z = impl;
    struct zk_bapi *b = zk_bapi_get(z);
    struct zk_shutdown *s = b ? b->shutdown : NULL;
    if (b && !s) {
        s = ferry_calloc(1, sizeof *s);
        char client_id[64];
        snprintf(client_id, sizeof client_id, "ferry-broker-%d-controlled-shutdown", z->broker_id);
        if (s && zk_chan_new(z, client_id, &s->chan) == 0) {
            s->z = z;
            b->shutdown = s;
        } else {
            ferry_free(s);
            s = NULL;
        }
    }
    if (!s || s->done) {
        /* out of memory, or one already running: nothing to wait for from here */
        LOG_ERROR("zk", "broker %d: %s: stopping without a controlled shutdown", z->broker_id,
                  s ? "a controlled shutdown is already running" : "out of memory");
        if (done)
            done(arg); /* the documented exception (md_source.h): answered at once */
        return;
    }
    s->done = done;
    s->arg = arg;
    s->finished = false;
    s->attempts_left = z->cfg->controlled_shutdown_max_retries;
    if (!z->cfg->controlled_shutdown_enable || !z->registered || z->stopping || s->attempts_left <= 0) {
        finish(s);
        return;
    }
    zk_chan_later(s->chan, 0, on_timer, s);
}
