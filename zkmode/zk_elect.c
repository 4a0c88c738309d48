/* zk_elect: see zk_elect.h. */
#include "zk_elect.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkmode/znode/znode_codec.h"

#define CONTROLLER_PATH "/controller"
#define EPOCH_PATH "/controller_epoch"

static void elect_run(struct zk_elect *e);
static void read_both(struct zk_elect *e);

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_controller(struct zk_elect *e, int32_t id)
{
    if (e->controller_id == id)
        return;
    e->controller_id = id;
    if (e->cbs.controller_changed)
        e->cbs.controller_changed(e->arg, id);
}

static void resign(struct zk_elect *e, const char *why)
{
    if (!e->active)
        return;
    e->active = false;
    LOG_WARN("zk", "broker %d resigns as controller (epoch %d): %s", e->broker_id, e->epoch, why);
    if (e->cbs.resigned)
        e->cbs.resigned(e->arg);
}

static void end(struct zk_elect *e)
{
    e->busy = false;
    e->racing = false;
    if (e->again && e->started) {
        e->again = false;
        elect_run(e);
    }
}

static void won(struct zk_elect *e, int32_t epoch, int32_t zkversion)
{
    e->active = true;
    e->epoch = epoch;
    e->epoch_zkversion = zkversion;
    if (epoch > e->known_epoch)
        e->known_epoch = epoch;
    LOG_INFO("zk", "broker %d is the controller: epoch %d (/controller_epoch zkVersion %d)", e->broker_id, epoch,
             zkversion);
    set_controller(e, e->broker_id);
    if (e->cbs.became)
        e->cbs.became(e->arg, epoch, zkversion);
}

static void on_epoch_created(void *arg, const struct zk_result *r)
{
    struct zk_elect *e = arg;
    if (r->rc == ZOK || r->rc == ZNODEEXISTS)
        e->again = true; /* read again, now with an epoch */
    else
        LOG_ERROR("zk", "broker %d: cannot create %s: %s", e->broker_id, EPOCH_PATH, zk_rc_name(r->rc));
    end(e);
}

static void on_race(void *arg, const struct zk_result *r)
{
    struct zk_elect *e = arg;
    if (!e->started) {
        end(e);
        return;
    }
    if (r->rc == ZOK) {
        const struct Stat *st = r->nresults > 1 ? r->results[1].stat : NULL;
        won(e, e->race_epoch, st ? st->version : e->read_epoch_zkversion + 1);
        end(e);
        return;
    }
    if (r->rc == ZNODEEXISTS || r->rc == ZBADVERSION) {
        /* someone else won, or our own earlier attempt did (a retry after CONNECTIONLOSS): read to know */
        e->racing = true;
        read_both(e);
        return;
    }
    LOG_WARN("zk", "broker %d: controller election failed: %s", e->broker_id, zk_rc_name(r->rc));
    end(e);
}

static void on_stale_deleted(void *arg, const struct zk_result *r)
{
    struct zk_elect *e = arg;
    LOG_INFO("zk", "broker %d: deleted its stale %s: %s", e->broker_id, CONTROLLER_PATH, zk_rc_name(r->rc));
    end(e); /* the deletion fires the watch: the election runs again */
}

static void race(struct zk_elect *e)
{
    zk_controller c = {.version = 2, .broker_id = e->broker_id, .timestamp = now_ms(),
                       .has_kraft_controller_epoch = true, .kraft_controller_epoch = -1};
    char *cjson = NULL, *ejson = NULL;
    size_t clen = 0, elen = 0;
    e->race_epoch = e->read_epoch + 1;
    int rc = zk_controller_encode(&c, &cjson, &clen);
    if (rc == 0)
        rc = zk_controller_epoch_encode(e->race_epoch, &ejson, &elen);
    if (rc == 0) {
        struct zk_op ops[2] = {
            {.type = ZK_OP_CREATE, .path = CONTROLLER_PATH, .data = cjson, .len = (int)clen, .flags = ZOO_EPHEMERAL},
            {.type = ZK_OP_SET, .path = EPOCH_PATH, .data = ejson, .len = (int)elen,
             .version = e->read_epoch_zkversion},
        };
        rc = zk_multi(e->s, ops, 2, on_race, e);
    }
    ferry_free(cjson);
    ferry_free(ejson);
    if (rc) {
        LOG_ERROR("zk", "broker %d: cannot send the controller election: %s", e->broker_id, ferry_strerror(rc));
        end(e);
    } else {
        LOG_INFO("zk", "broker %d: racing for %s (epoch %d -> %d)", e->broker_id, CONTROLLER_PATH, e->read_epoch,
                 e->race_epoch);
    }
}

static void decide(struct zk_elect *e)
{
    if (!e->started) {
        end(e);
        return;
    }
    if (e->epoch_rc == ZOK && e->read_epoch > e->known_epoch)
        e->known_epoch = e->read_epoch;
    if (e->racing) {
        if (e->ctrl_rc == ZOK && e->ctrl_id == e->broker_id && e->epoch_rc == ZOK && e->read_epoch == e->race_epoch) {
            won(e, e->read_epoch, e->read_epoch_zkversion);
        } else {
            if (e->ctrl_rc == ZOK)
                set_controller(e, e->ctrl_id);
            LOG_INFO("zk", "broker %d lost the controller election to %d", e->broker_id,
                     e->ctrl_rc == ZOK ? e->ctrl_id : -1);
            if (e->ctrl_rc == ZNONODE)
                e->again = true; /* the winner is already gone */
        }
        end(e);
        return;
    }
    if (e->ctrl_rc == ZOK) {
        if (e->active && e->ctrl_id != e->broker_id)
            resign(e, "another controller holds /controller");
        set_controller(e, e->ctrl_id);
        if (e->fenced_out && e->ctrl_id == e->broker_id && !e->active) {
            /* a newer epoch exists but /controller still names us: free it (only this exact node) so that
             * a controller with the new epoch can be elected */
            e->fenced_out = false;
            if (zk_delete(e->s, CONTROLLER_PATH, e->ctrl_zkversion, on_stale_deleted, e) == 0)
                return;
        }
        end(e);
        return;
    }
    if (e->ctrl_rc != ZNONODE) {
        end(e); /* session trouble: the new-session handler runs us again */
        return;
    }
    resign(e, "/controller was deleted");
    set_controller(e, -1);
    if (e->epoch_rc == ZNONODE) {
        char *zero = NULL;
        size_t len = 0;
        if (zk_controller_epoch_encode(0, &zero, &len) != 0 ||
            zk_create_path(e->s, EPOCH_PATH, zero, (int)len, ZOO_PERSISTENT, on_epoch_created, e) != 0)
            end(e);
        ferry_free(zero);
        return;
    }
    if (e->epoch_rc != ZOK) {
        end(e);
        return;
    }
    race(e);
}

static void on_epoch(void *arg, const struct zk_result *r)
{
    struct zk_elect *e = arg;
    e->epoch_rc = r->rc;
    if (r->rc == ZOK) {
        zk_err err;
        int32_t epoch;
        if (zk_controller_epoch_decode(r->data ? r->data : "", r->len > 0 ? (size_t)r->len : 0, &epoch, &err) == 0) {
            e->read_epoch = epoch;
            e->read_epoch_zkversion = r->stat->version;
        } else {
            LOG_ERROR("zk", "%s is malformed: %s", EPOCH_PATH, err.msg);
            e->epoch_rc = ZAPIERROR;
        }
    }
    if (--e->pending == 0)
        decide(e);
}

static void on_ctrl(void *arg, const struct zk_result *r)
{
    struct zk_elect *e = arg;
    e->ctrl_rc = r->rc;
    if (r->rc == ZOK) {
        zk_controller c;
        zk_err err;
        if (zk_controller_decode(r->data ? r->data : "", r->len > 0 ? (size_t)r->len : 0, &c, &err) == 0) {
            e->ctrl_id = c.broker_id;
            e->ctrl_zkversion = r->stat->version;
            e->kraft_controller_epoch = c.has_kraft_controller_epoch ? c.kraft_controller_epoch : -1;
        } else {
            /* Kafka reads a malformed /controller as no controller id, but the node is there: no race */
            LOG_ERROR("zk", "%s is malformed: %s", CONTROLLER_PATH, err.msg);
            e->ctrl_id = -1;
        }
    }
    if (--e->pending == 0)
        decide(e);
}

static void on_exists(void *arg, const struct zk_result *r)
{
    (void)arg;
    (void)r; /* only leaves the watch; the get that follows it tells the content */
}

static void read_both(struct zk_elect *e)
{
    e->pending = 2;
    e->epoch_rc = e->ctrl_rc = ZSYSTEMERROR;
    int rc = zk_exists(e->s, CONTROLLER_PATH, true, on_exists, e);
    if (rc == 0)
        rc = zk_get(e->s, EPOCH_PATH, false, on_epoch, e);
    if (rc == 0 && zk_get(e->s, CONTROLLER_PATH, false, on_ctrl, e) != 0) {
        /* the epoch read is out: let it finish the round */
        e->ctrl_rc = ZSYSTEMERROR;
        e->pending--;
        return;
    }
    if (rc != 0)
        end(e);
}

static void elect_run(struct zk_elect *e)
{
    if (!e->started)
        return;
    if (e->busy) {
        e->again = true;
        return;
    }
    e->busy = true;
    read_both(e);
}

static void on_watch(void *arg, int type, const char *path)
{
    struct zk_elect *e = arg;
    (void)path;
    LOG_DEBUG("zk", "broker %d: %s changed (event %d)", e->broker_id, CONTROLLER_PATH, type);
    elect_run(e);
}

int zk_elect_start(struct zk_elect *e, struct zk_session *s, int32_t broker_id, const struct zk_elect_cbs *cbs,
                   void *arg)
{
    memset(e, 0, sizeof *e);
    e->s = s;
    e->broker_id = broker_id;
    if (cbs)
        e->cbs = *cbs;
    e->arg = arg;
    e->controller_id = -1;
    e->kraft_controller_epoch = -1;
    e->known_epoch = -1;
    int rc = zk_watch_add(s, CONTROLLER_PATH, on_watch, e);
    if (rc)
        return rc;
    e->started = true;
    elect_run(e);
    return 0;
}

void zk_elect_session_expired(struct zk_elect *e) { resign(e, "the ZooKeeper session expired"); }

void zk_elect_new_session(struct zk_elect *e) { elect_run(e); }

void zk_elect_stop(struct zk_elect *e)
{
    if (!e->started)
        return;
    e->started = false;
    e->active = false;
    zk_watch_remove(e->s, CONTROLLER_PATH, on_watch, e);
}

struct fenced_ctx {
    struct zk_elect *e;
    zk_done_fn done;
    void *arg;
};

void zk_elect_controller_moved(struct zk_elect *e)
{
    resign(e, "the /controller_epoch check failed: the controller moved");
    e->fenced_out = true;
    elect_run(e);
}

static void on_fenced(void *arg, const struct zk_result *r)
{
    struct fenced_ctx *c = arg;
    if (r->nresults > 0 && r->results[0].err == ZBADVERSION)
        zk_elect_controller_moved(c->e);
    c->done(c->arg, r);
    ferry_free(c);
}

int zk_elect_fenced_multi(struct zk_elect *e, const struct zk_op *ops, int n, zk_done_fn done, void *arg)
{
    if (!e->active)
        return FERRY_EINVAL;
    struct zk_op *all = ferry_calloc((size_t)n + 1, sizeof *all);
    struct fenced_ctx *c = ferry_calloc(1, sizeof *c);
    if (!all || !c) {
        ferry_free(all);
        ferry_free(c);
        return FERRY_ENOMEM;
    }
    all[0] = (struct zk_op){.type = ZK_OP_CHECK, .path = EPOCH_PATH, .version = e->epoch_zkversion};
    memcpy(all + 1, ops, (size_t)n * sizeof *ops);
    *c = (struct fenced_ctx){e, done, arg};
    int rc = zk_multi(e->s, all, n + 1, on_fenced, c);
    ferry_free(all);
    if (rc)
        ferry_free(c);
    return rc;
}

bool zk_elect_stale_epoch(struct zk_elect *e, int32_t controller_epoch)
{
    if (controller_epoch < e->known_epoch)
        return true;
    e->known_epoch = controller_epoch;
    return false;
}
