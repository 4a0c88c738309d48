/* lifecycle: see lifecycle.h. One request at a time; a timer paces registration, heartbeats
 * and retries. The registration's content is the one the node's own start-up path writes
 * (kraft_registration_records), turned into a BrokerRegistrationRequest. */
#include "lifecycle.h"

#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/config/config.h"
#include "api_support.h"
#include "ctrl_channel.h"
#include "kraftmode/kraft_broker.h"
#include "kraftmode/kraft_node.h"

#define REGISTRATION_VERSION 3
#define HEARTBEAT_VERSION 1

/* One request in flight, in-process or on the wire. Freed when answered, or at stop. */
struct lc_call {
    struct lifecycle *lc;
    int16_t key;
    struct proto_arena arena;
    struct BrokerRegistrationRequest reg;
    struct BrokerRegistrationResponse reg_resp;
    struct BrokerHeartbeatRequest hb;
    struct BrokerHeartbeatResponse hb_resp;
};

struct lifecycle {
    uv_loop_t *loop;
    const struct ferry_config *cfg;
    struct kraft_node *node;
    struct ctrl_channel *ch;
    char **bound_names; /* the listeners' bound ports */
    uint16_t *bound_ports;
    size_t nbound;
    bool have_bound;
    int64_t epoch; /* -1: not registered */
    bool fenced;
    bool stopped;
    uv_timer_t timer;
    struct lc_call *call; /* in flight */
    /* controlled shutdown */
    bool want_shutdown;
    int64_t shutdown_deadline; /* on the loop's clock (uv_now), the one the timer runs on */
    void (*shutdown_done)(void *arg);
    void *shutdown_arg;
};

/* The loop's clock, which the timer uses: a deadline read from uv_hrtime (ahead of the loop's time, which is
 * cached at the start of each turn) made the timer fire before the deadline, and a broker whose controllers
 * never answered then waited for that answer forever (see on_timer). */
static int64_t loop_ms(const struct lifecycle *lc) { return (int64_t)uv_now(lc->loop); }

static void on_timer(uv_timer_t *t);

static void schedule(struct lifecycle *lc, int64_t ms)
{
    if (!lc->stopped)
        uv_timer_start(&lc->timer, on_timer, (uint64_t)(ms > 0 ? ms : 0), 0);
}

static void call_free(struct lc_call *c)
{
    if (!c)
        return;
    proto_arena_free(&c->arena);
    ferry_free(c);
}

static void finish_shutdown(struct lifecycle *lc)
{
    void (*done)(void *) = lc->shutdown_done;
    lc->shutdown_done = NULL;
    if (done)
        done(lc->shutdown_arg);
}

/* ---- answers ---- */

static void registration_answered(struct lifecycle *lc, const struct BrokerRegistrationResponse *r)
{
    if (r->ErrorCode == KERR_NONE) {
        lc->epoch = r->BrokerEpoch;
        lc->fenced = true;
        LOG_INFO("lifecycle", "broker %d registered with the controller: broker epoch %lld", lc->cfg->node_id,
                 (long long)lc->epoch);
        schedule(lc, 0);
        return;
    }
    LOG_WARN("lifecycle", "broker %d: BrokerRegistration refused: %s", lc->cfg->node_id,
             kafka_error_name(r->ErrorCode));
    if (r->ErrorCode == KERR_NOT_CONTROLLER)
        ctrl_channel_not_controller(lc->ch);
    schedule(lc, lc->cfg->controller_quorum_retry_backoff_ms);
}

static void heartbeat_answered(struct lifecycle *lc, const struct BrokerHeartbeatResponse *r)
{
    int64_t interval = lc->cfg->broker_heartbeat_interval_ms;
    if (r->ErrorCode == KERR_STALE_BROKER_EPOCH) {
        LOG_WARN("lifecycle", "broker %d: broker epoch %lld is stale: registering again", lc->cfg->node_id,
                 (long long)lc->epoch);
        lc->epoch = -1;
        schedule(lc, 0);
        return;
    }
    if (r->ErrorCode != KERR_NONE) {
        if (r->ErrorCode == KERR_NOT_CONTROLLER)
            ctrl_channel_not_controller(lc->ch);
        schedule(lc, lc->cfg->controller_quorum_retry_backoff_ms);
        return;
    }
    if (lc->fenced != r->IsFenced)
        LOG_INFO("lifecycle", "broker %d is now %s", lc->cfg->node_id, r->IsFenced ? "fenced" : "unfenced");
    lc->fenced = r->IsFenced;
    if (lc->want_shutdown && r->ShouldShutDown) {
        LOG_INFO("lifecycle", "broker %d: controlled shutdown complete", lc->cfg->node_id);
        finish_shutdown(lc);
        return;
    }
    schedule(lc, lc->want_shutdown ? 50 : interval);
}

static void answered(struct lc_call *c)
{
    struct lifecycle *lc = c->lc;
    lc->call = NULL;
    if (c->key == API_BROKER_REGISTRATION)
        registration_answered(lc, &c->reg_resp);
    else
        heartbeat_answered(lc, &c->hb_resp);
    call_free(c);
}

/* The channel's answer: rc 0 (the response is filled) or a transport failure (retried after the backoff). */
static void call_done(void *arg, int rc)
{
    struct lc_call *c = arg;
    struct lifecycle *lc = c->lc;
    if (rc == 0) {
        answered(c);
        return;
    }
    lc->call = NULL;
    call_free(c);
    schedule(lc, lc->cfg->controller_quorum_retry_backoff_ms);
}

static void send_call(struct lifecycle *lc, struct lc_call *c)
{
    lc->call = c;
    if (lc->want_shutdown) /* the deadline holds even while this call waits on a controller that is gone */
        schedule(lc, lc->shutdown_deadline - loop_ms(lc));
    if (c->key == API_BROKER_REGISTRATION)
        ctrl_channel_call(lc->ch, c->key, REGISTRATION_VERSION, &c->reg, NULL, &c->arena, &c->reg_resp, call_done, c);
    else
        ctrl_channel_call(lc->ch, c->key, HEARTBEAT_VERSION, &c->hb, NULL, &c->arena, &c->hb_resp, call_done, c);
}

static struct lc_call *call_new(struct lifecycle *lc, int16_t key)
{
    struct lc_call *c = ferry_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->lc = lc;
    c->key = key;
    proto_arena_init(&c->arena);
    proto_struct_init(proto_msg_BrokerRegistrationRequest.body, &c->reg);
    proto_struct_init(proto_msg_BrokerRegistrationResponse.body, &c->reg_resp);
    proto_struct_init(proto_msg_BrokerHeartbeatRequest.body, &c->hb);
    proto_struct_init(proto_msg_BrokerHeartbeatResponse.body, &c->hb_resp);
    return c;
}

static int build_registration(struct lifecycle *lc, struct lc_call *c)
{
    return kraft_broker_registration_request(lc->node, (const char *const *)lc->bound_names, lc->bound_ports,
                                             lc->nbound, &c->arena, &c->reg);
}

/* A registration of this broker in the image made by this process (the node's own start-up path). */
static void adopt_registration(struct lifecycle *lc)
{
    const struct md_broker *b = md_image_broker(kraft_node_image(lc->node), lc->cfg->node_id);
    if (!b || !proto_uuid_eq(b->incarnation, kraft_incarnation_id()))
        return;
    lc->epoch = b->epoch;
    lc->fenced = b->fenced;
    LOG_INFO("lifecycle", "broker %d: heartbeating with the registration of broker epoch %lld", lc->cfg->node_id,
             (long long)lc->epoch);
}

static void on_timer(uv_timer_t *t)
{
    struct lifecycle *lc = t->data;
    if (lc->stopped)
        return;
    if (lc->want_shutdown && loop_ms(lc) >= lc->shutdown_deadline) {
        LOG_WARN("lifecycle", "broker %d: controlled shutdown not confirmed by the controller in time",
                 lc->cfg->node_id);
        finish_shutdown(lc); /* a call still in flight is dropped by lifecycle_stop */
        return;
    }
    if (lc->call) {
        /* its answer schedules the next step; until then only the shutdown deadline may end the wait (a
         * timer that fired before it must not leave a broker whose controllers never answer running) */
        if (lc->want_shutdown)
            schedule(lc, lc->shutdown_deadline - loop_ms(lc)); /* > 0: checked above */
        return;
    }
    if (lc->epoch < 0)
        adopt_registration(lc);
    if (lc->epoch < 0 && !lc->have_bound)
        return; /* lifecycle_listeners_bound schedules */
    struct lc_call *c = call_new(lc, lc->epoch < 0 ? API_BROKER_REGISTRATION : API_BROKER_HEARTBEAT);
    int rc = c ? 0 : FERRY_ENOMEM;
    if (!rc && c->key == API_BROKER_REGISTRATION) {
        rc = build_registration(lc, c);
    } else if (!rc) {
        c->hb.BrokerId = lc->cfg->node_id;
        c->hb.BrokerEpoch = lc->epoch;
        c->hb.CurrentMetadataOffset = kraft_node_committed_offset(lc->node);
        c->hb.WantFence = false;
        c->hb.WantShutDown = lc->want_shutdown;
    }
    if (rc) {
        LOG_ERROR("lifecycle", "broker %d: cannot build a %s: %s", lc->cfg->node_id,
                  c && c->key == API_BROKER_REGISTRATION ? "BrokerRegistration" : "BrokerHeartbeat", ferry_strerror(rc));
        call_free(c);
        schedule(lc, lc->cfg->controller_quorum_retry_backoff_ms);
        return;
    }
    send_call(lc, c);
}

/* ---- entry points ---- */

int lifecycle_start(uv_loop_t *loop, const struct ferry_config *cfg, struct kraft_node *node,
                          struct ctrl_channel *ch, struct lifecycle **out)
{
    struct lifecycle *lc = ferry_calloc(1, sizeof *lc);
    if (!lc)
        return FERRY_ENOMEM;
    lc->loop = loop;
    lc->cfg = cfg;
    lc->node = node;
    lc->ch = ch;
    lc->epoch = -1;
    lc->fenced = true;
    uv_timer_init(loop, &lc->timer);
    lc->timer.data = lc;
    schedule(lc, 0);
    *out = lc;
    return 0;
}

void lifecycle_listeners_bound(struct lifecycle *lc, const char *const *names, const uint16_t *ports,
                                     size_t n)
{
    lc->bound_names = ferry_calloc(n ? n : 1, sizeof *lc->bound_names);
    lc->bound_ports = ferry_calloc(n ? n : 1, sizeof *lc->bound_ports);
    for (size_t i = 0; lc->bound_names && lc->bound_ports && i < n; i++) {
        if (!(lc->bound_names[i] = ferry_strdup(names[i] ? names[i] : "")))
            break;
        lc->bound_ports[i] = ports[i];
        lc->nbound = i + 1;
    }
    lc->have_bound = lc->nbound == n;
    if (!lc->have_bound)
        LOG_ERROR("lifecycle", "broker %d: out of memory keeping the bound listener ports", lc->cfg->node_id);
    if (!lc->call)
        schedule(lc, 0);
}

int64_t lifecycle_epoch(const struct lifecycle *lc) { return lc->epoch; }
bool lifecycle_fenced(const struct lifecycle *lc) { return lc->fenced; }

void lifecycle_shutdown(struct lifecycle *lc, int64_t timeout_ms, void (*done)(void *arg), void *arg)
{
    lc->want_shutdown = true;
    lc->shutdown_deadline = loop_ms(lc) + timeout_ms;
    lc->shutdown_done = done;
    lc->shutdown_arg = arg;
    if (lc->epoch < 0) {
        finish_shutdown(lc); /* never registered: nothing to hand over */
        return;
    }
    schedule(lc, lc->call ? timeout_ms : 0);
}

static void on_closed(uv_handle_t *h)
{
    struct lifecycle *lc = h->data;
    for (size_t i = 0; i < lc->nbound; i++)
        ferry_free(lc->bound_names[i]);
    ferry_free(lc->bound_names);
    ferry_free(lc->bound_ports);
    ferry_free(lc);
}

void lifecycle_stop(struct lifecycle *lc)
{
    if (!lc || lc->stopped)
        return;
    lc->stopped = true;
    lc->shutdown_done = NULL;
    /* a call still queued in the channel or on the node is dropped there unanswered: the broker stops the
     * channel and the node right after this */
    call_free(lc->call);
    lc->call = NULL;
    uv_timer_stop(&lc->timer);
    uv_close((uv_handle_t *)&lc->timer, on_closed);
}
