/* zk_ctrl_chan: see zk_ctrl_chan.h. */
#include "zk_ctrl_chan.h"

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/net/net_client.h"
#include "zk_source_internal.h"

struct zk_chan {
    struct zk_src *z;
    char *client_id;
    struct net_client *client;
    int32_t client_ctrl; /* the controller the client connects to, -1 without a client */
    bool connected;
    /* the request in flight (sent or waiting for the connection) */
    bool busy;
    int16_t api_key, version;
    const void *req;
    zk_chan_done_fn done;
    void *arg;
    /* the owner's timer */
    uv_timer_t *timer;
    zk_chan_timer_fn timer_fn;
    void *timer_arg;
};

static void on_timer_closed(uv_handle_t *h) { ferry_free(h); }

static void on_timer(uv_timer_t *t)
{
    struct zk_chan *c = t->data;
    c->timer_fn(c->timer_arg);
}

void zk_chan_later(struct zk_chan *c, uint64_t ms, zk_chan_timer_fn fn, void *arg)
{
    c->timer_fn = fn;
    c->timer_arg = arg;
    uv_timer_start(c->timer, on_timer, ms, 0);
}

bool zk_chan_later_pending(const struct zk_chan *c) { return uv_is_active((const uv_handle_t *)c->timer); }

int zk_chan_new(struct zk_src *z, const char *client_id, struct zk_chan **out)
{
    struct zk_chan *c = ferry_calloc(1, sizeof *c);
    if (!c || !(c->client_id = ferry_strdup(client_id)) || !(c->timer = ferry_calloc(1, sizeof *c->timer))) {
        if (c)
            ferry_free(c->client_id);
        ferry_free(c);
        return FERRY_ENOMEM;
    }
    uv_timer_init(z->loop, c->timer);
    c->timer->data = c;
    c->z = z;
    c->client_ctrl = -1;
    *out = c;
    return 0;
}

static void drop_client(struct zk_chan *c)
{
    if (c->client)
        net_client_close(c->client);
    c->client = NULL;
    c->client_ctrl = -1;
    c->connected = false;
}

static void finish(struct zk_chan *c, int rc, void *resp)
{
    int32_t ctrl = c->client_ctrl;
    zk_chan_done_fn done = c->done;
    void *arg = c->arg;
    c->busy = false;
    c->done = NULL;
    c->req = NULL;
    if (rc)
        drop_client(c); /* broken: the next send connects again, maybe to a new controller */
    done(arg, rc, ctrl, resp);
}

static void on_response(void *arg, int rc, void *resp)
{
    struct zk_chan *c = arg;
    if (rc)
        LOG_WARN("zk", "broker %d: request %d to controller %d failed: %s", c->z->broker_id, c->api_key,
                 c->client_ctrl, ferry_strerror(rc));
    finish(c, rc, resp);
}

static void send_now(struct zk_chan *c)
{
    int rc = net_client_send(c->client, c->api_key, c->version, c->req, on_response, c);
    if (rc) { /* does not encode (no callback from the client): we run from the loop, answer now */
        LOG_ERROR("zk", "broker %d: request %d v%d to the controller does not encode: %s", c->z->broker_id,
                  c->api_key, c->version, ferry_strerror(rc));
        finish(c, rc, NULL);
    }
}

static void on_connected(void *arg, int rc)
{
    struct zk_chan *c = arg;
    if (rc) {
        LOG_WARN("zk", "broker %d: cannot connect to controller %d: %s", c->z->broker_id, c->client_ctrl,
                 ferry_strerror(rc));
        finish(c, rc, NULL);
        return;
    }
    c->connected = true;
    send_now(c);
}

int zk_chan_send(struct zk_chan *c, int16_t api_key, int16_t version, const void *req, zk_chan_done_fn done,
                 void *arg)
{
    if (c->busy)
        return FERRY_EINVAL;
    int32_t ctrl = zk_source_controller_id(c->z);
    if (c->client && ctrl != c->client_ctrl)
        drop_client(c); /* the controller moved */
    if (ctrl < 0)
        return FERRY_ENOTFOUND;
    c->busy = true;
    c->api_key = api_key;
    c->version = version;
    c->req = req;
    c->done = done;
    c->arg = arg;
    if (c->client && c->connected) {
        int rc = net_client_send(c->client, api_key, version, req, on_response, c);
        if (rc == 0)
            return 0;
        drop_client(c);
        c->busy = false;
        return rc;
    }
    const struct md_endpoint *ep = md_image_broker_endpoint(&c->z->img, ctrl, c->z->cfg->inter_broker_listener_name);
    if (!ep) {
        c->busy = false;
        return FERRY_ENOTFOUND;
    }
    int rc = net_client_connect(c->z->loop, ep->host, ep->port, c->client_id, c->z->cfg->request_timeout_ms,
                                on_connected, c, &c->client);
    if (rc) {
        c->client = NULL;
        c->busy = false;
        return rc;
    }
    c->client_ctrl = ctrl;
    return 0;
}

void zk_chan_close(struct zk_chan *c)
{
    if (!c)
        return;
    drop_client(c);
    uv_timer_stop(c->timer);
    uv_close((uv_handle_t *)c->timer, on_timer_closed);
    ferry_free(c->client_id);
    ferry_free(c);
}
