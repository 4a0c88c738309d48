/* zk_controller_chan: the controller's channels to brokers, as Kafka's ControllerChannelManager: one
 * connection per live broker to its inter-broker endpoint, made when the first request is queued; requests go
 * one at a time in queue order; a failed connection or request is retried after a backoff (100 ms doubling to
 * 5 s) with the unanswered request sent again; a channel is dropped with its queue when its broker goes or
 * bounces (the core learns that from the broker events) or the controller stops, and reconnects with its
 * queue when the broker's endpoint changes within its registration. LeaderAndIsr and
 * StopReplica responses go back to the core. */
#include <inttypes.h>
#include <stdio.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/net/net_client.h"
#include "zk_controller_internal.h"

#define REQUEST_TIMEOUT_MS 30000 /* controller.socket.timeout.ms */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct ctl_chan {
    struct ctl_chan *next;
    struct zk_controller *c;
    int32_t broker_id;
    char *host;
    uint16_t port;
    struct net_client *nc;
    bool connected, in_flight;
    zkctl_action *head, *tail;
    uv_timer_t *retry;
    uint64_t backoff_ms;
    bool failing; /* logged once per run of failures */
};

static void chan_pump(struct ctl_chan *ch);

static void on_retry_closed(uv_handle_t *h)
{
    struct ctl_chan *ch = h->data;
    ferry_free(h);
    ferry_free(ch->host);
    ferry_free(ch);
}

static void chan_free(struct ctl_chan *ch)
{
    if (ch->nc)
        net_client_close(ch->nc);
    for (zkctl_action *a = ch->head, *n; a; a = n) {
        n = a->next;
        zkctl_action_free(a);
    }
    uv_timer_stop(ch->retry);
    uv_close((uv_handle_t *)ch->retry, on_retry_closed);
}

static void on_retry(uv_timer_t *t)
{
    struct ctl_chan *ch = t->data;
    chan_pump(ch);
}

static void chan_fail(struct ctl_chan *ch, const char *what, int rc)
{
    if (!ch->failing)
        LOG_WARN(ZKC_MOD, "controller channel to broker %" PRId32 " (%s:%u): %s failed: %s; retrying", ch->broker_id,
                 ch->host, ch->port, what, ferry_strerror(rc));
    ch->failing = true;
    if (ch->nc)
        net_client_close(ch->nc);
    ch->nc = NULL;
    ch->connected = ch->in_flight = false;
    uv_timer_start(ch->retry, on_retry, ch->backoff_ms, 0);
    ch->backoff_ms = ch->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ch->backoff_ms * 2;
}

static void on_response(void *arg, int rc, void *resp)
{
    struct ctl_chan *ch = arg;
    struct zk_controller *c = ch->c;
    ch->in_flight = false;
    if (rc) {
        chan_fail(ch, "a request", rc);
        return;
    }
    ch->failing = false;
    ch->backoff_ms = BACKOFF_MIN_MS;
    zkctl_action *a = ch->head;
    ch->head = a->next;
    if (!ch->head)
        ch->tail = NULL;
    if (a->api_key == ZKCTL_API_LEADER_AND_ISR)
        zkc_event_rc(c, "LeaderAndIsr response", zkctl_leader_and_isr_response(c->core, ch->broker_id, resp));
    else if (a->api_key == ZKCTL_API_STOP_REPLICA)
        zkc_event_rc(c, "StopReplica response", zkctl_stop_replica_response(c->core, ch->broker_id, resp));
    zkctl_action_free(a);
    zkc_kick(c);
    chan_pump(ch);
}

static void on_connected(void *arg, int rc)
{
    struct ctl_chan *ch = arg;
    if (rc) {
        chan_fail(ch, "connecting", rc);
        return;
    }
    ch->connected = true;
    chan_pump(ch);
}

static void chan_pump(struct ctl_chan *ch)
{
    if (!ch->head || ch->in_flight || uv_is_active((uv_handle_t *)ch->retry))
        return;
    if (!ch->nc) {
        char client_id[32];
        snprintf(client_id, sizeof client_id, "%" PRId32, ch->c->broker_id);
        int rc = net_client_connect(ch->c->loop, ch->host, ch->port, client_id, REQUEST_TIMEOUT_MS, on_connected, ch,
                                    &ch->nc);
        if (rc) {
            ch->nc = NULL;
            chan_fail(ch, "connecting", rc);
        }
        return;
    }
    if (!ch->connected)
        return;
    zkctl_action *a = ch->head;
    int rc = net_client_send(ch->nc, a->api_key, a->api_version, a->body, on_response, ch);
    if (rc == 0) {
        ch->in_flight = true;
        return;
    }
    /* a request that does not encode would fail again: drop it */
    LOG_ERROR(ZKC_MOD, "request (api %d v%d) to broker %" PRId32 " does not encode: %s: dropped", a->api_key,
              a->api_version, ch->broker_id, ferry_strerror(rc));
    ch->head = a->next;
    if (!ch->head)
        ch->tail = NULL;
    zkctl_action_free(a);
    chan_pump(ch);
}

static struct ctl_chan *chan_get(struct zk_controller *c, int32_t broker_id)
{
    for (struct ctl_chan *ch = c->chans; ch; ch = ch->next)
        if (ch->broker_id == broker_id)
            return ch;
    const struct ctl_broker *b = zkc_broker_find(c, broker_id);
    if (!b || !b->host)
        return NULL;
    struct ctl_chan *ch = ferry_calloc(1, sizeof *ch);
    if (ch) {
        ch->retry = ferry_calloc(1, sizeof *ch->retry);
        ch->host = ferry_strdup(b->host);
    }
    if (!ch || !ch->retry || !ch->host) {
        if (ch) {
            ferry_free(ch->retry);
            ferry_free(ch->host);
        }
        ferry_free(ch);
        return NULL;
    }
    uv_timer_init(c->loop, ch->retry);
    ch->retry->data = ch;
    ch->c = c;
    ch->broker_id = broker_id;
    ch->port = b->port;
    ch->backoff_ms = BACKOFF_MIN_MS;
    ch->next = c->chans;
    c->chans = ch;
    return ch;
}

void zkc_chan_send(struct zk_controller *c, zkctl_action *a)
{
    struct ctl_chan *ch = chan_get(c, a->broker_id);
    if (!ch) {
        LOG_DEBUG(ZKC_MOD, "request (api %d) to broker %" PRId32 " dropped: no channel", a->api_key, a->broker_id);
        zkctl_action_free(a);
        return;
    }
    a->next = NULL;
    if (ch->tail)
        ch->tail->next = a;
    else
        ch->head = a;
    ch->tail = a;
    chan_pump(ch);
}

void zkc_chan_drop(struct zk_controller *c, int32_t broker_id)
{
    for (struct ctl_chan **pp = &c->chans; *pp; pp = &(*pp)->next) {
        struct ctl_chan *ch = *pp;
        if (ch->broker_id == broker_id) {
            *pp = ch->next;
            chan_free(ch);
            return;
        }
    }
}

void zkc_chan_moved(struct zk_controller *c, int32_t broker_id)
{
    struct ctl_chan *ch = c->chans;
    while (ch && ch->broker_id != broker_id)
        ch = ch->next;
    const struct ctl_broker *b = zkc_broker_find(c, broker_id);
    if (!ch || !b)
        return;
    if (!b->host) { /* no inter-broker endpoint any more: nothing can reach it */
        zkc_chan_drop(c, broker_id);
        return;
    }
    char *host = ferry_strdup(b->host);
    if (!host) {
        LOG_ERROR(ZKC_MOD, "out of memory moving the controller channel to broker %" PRId32, broker_id);
        return; /* it keeps the old endpoint */
    }
    LOG_INFO(ZKC_MOD, "controller channel to broker %" PRId32 ": %s:%u -> %s:%u", broker_id, ch->host, ch->port,
             host, b->port);
    ferry_free(ch->host);
    ch->host = host;
    ch->port = b->port;
    if (ch->nc)
        net_client_close(ch->nc); /* no callback: the request in flight is sent again */
    ch->nc = NULL;
    ch->connected = ch->in_flight = ch->failing = false;
    ch->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_stop(ch->retry);
    chan_pump(ch);
}

void zkc_chan_drop_all(struct zk_controller *c)
{
    while (c->chans) {
        struct ctl_chan *ch = c->chans;
        c->chans = ch->next;
        chan_free(ch);
    }
}
