/* zk_register: see zk_register.h. */
#include "zk_register.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkmode/znode/znode_codec.h"

const char *const zk_persistent_paths[] = {
    "/consumers",      "/brokers/ids",  "/brokers/topics", "/brokers/seqid", "/config/changes", "/config/topics",
    "/config/clients", "/config/users", "/config/brokers", "/config/ips",    "/admin/delete_topics",
    "/isr_change_notification", "/log_dir_event_notification", "/latest_producer_id_block", NULL,
};

/* ---- persistent paths ---- */

struct paths_ctx {
    int left;
    int first_error;
    zk_rc_fn done;
    void *arg;
};

static void path_done(void *arg, const struct zk_result *r)
{
    struct paths_ctx *c = arg;
    if (r->rc != ZOK && r->rc != ZNODEEXISTS && c->first_error == ZOK) {
        c->first_error = r->rc;
        LOG_ERROR("zk", "cannot create the persistent paths: %s", zk_rc_name(r->rc));
    }
    if (--c->left == 0) {
        c->done(c->arg, c->first_error);
        ferry_free(c);
    }
}

int zk_create_persistent_paths(struct zk_session *s, zk_rc_fn done, void *arg)
{
    struct paths_ctx *c = ferry_calloc(1, sizeof *c);
    if (!c)
        return FERRY_ENOMEM;
    c->done = done;
    c->arg = arg;
    c->left = 1; /* held until every request is queued */
    for (size_t i = 0; zk_persistent_paths[i]; i++) {
        c->left++;
        int rc = zk_create_path(s, zk_persistent_paths[i], NULL, -1, ZOO_PERSISTENT, path_done, c);
        if (rc) {
            c->left--;
            c->first_error = ZSYSTEMERROR;
            break;
        }
    }
    struct zk_result last = {.rc = ZOK, .len = -1};
    path_done(c, &last);
    return 0;
}

/* ---- /cluster/id ---- */

struct cid_ctx {
    struct zk_session *s;
    char *new_id;
    bool created;
    zk_cluster_id_fn done;
    void *arg;
};

static void cid_end(struct cid_ctx *c, int rc, const char *id)
{
    c->done(c->arg, rc, id);
    ferry_free(c->new_id);
    ferry_free(c);
}

static void cid_read(void *arg, const struct zk_result *r);

static void cid_created(void *arg, const struct zk_result *r)
{
    struct cid_ctx *c = arg;
    if (r->rc == ZOK) {
        LOG_INFO("zk", "created /cluster/id %s", c->new_id);
        cid_end(c, ZOK, c->new_id);
        return;
    }
    if (r->rc != ZNODEEXISTS || c->created) {
        LOG_ERROR("zk", "cannot create /cluster/id: %s", zk_rc_name(r->rc));
        cid_end(c, r->rc, NULL);
        return;
    }
    c->created = true; /* another broker won the race: adopt its id */
    if (zk_get(c->s, "/cluster/id", false, cid_read, c) != 0)
        cid_end(c, ZSYSTEMERROR, NULL);
}

static void cid_read(void *arg, const struct zk_result *r)
{
    struct cid_ctx *c = arg;
    if (r->rc == ZNONODE && !c->created) {
        zk_cluster_id cid = {.id = c->new_id};
        char *json = NULL;
        size_t len = 0;
        if (zk_cluster_id_encode(&cid, &json, &len) != 0 ||
            zk_create_path(c->s, "/cluster/id", json, (int)len, ZOO_PERSISTENT, cid_created, c) != 0) {
            ferry_free(json);
            cid_end(c, ZSYSTEMERROR, NULL);
            return;
        }
        ferry_free(json);
        return;
    }
    if (r->rc != ZOK) {
        LOG_ERROR("zk", "cannot read /cluster/id: %s", zk_rc_name(r->rc));
        cid_end(c, r->rc, NULL);
        return;
    }
    zk_cluster_id cid;
    zk_err err;
    if (zk_cluster_id_decode(r->data ? r->data : "", r->len > 0 ? (size_t)r->len : 0, &cid, &err) != 0) {
        LOG_ERROR("zk", "/cluster/id is malformed: %s", err.msg);
        cid_end(c, ZAPIERROR, NULL);
        return;
    }
    cid_end(c, ZOK, cid.id);
    zk_cluster_id_free(&cid);
}

int zk_cluster_id_get_or_create(struct zk_session *s, const char *new_id, zk_cluster_id_fn done, void *arg)
{
    struct cid_ctx *c = ferry_calloc(1, sizeof *c);
    if (!c || !(c->new_id = ferry_strdup(new_id))) {
        ferry_free(c);
        return FERRY_ENOMEM;
    }
    c->s = s;
    c->done = done;
    c->arg = arg;
    int rc = zk_get(s, "/cluster/id", false, cid_read, c);
    if (rc) {
        ferry_free(c->new_id);
        ferry_free(c);
    }
    return rc;
}

/* ---- /brokers/seqid ---- */

struct seq_ctx {
    struct zk_session *s;
    int32_t reserved;
    bool created;
    zk_broker_id_fn done;
    void *arg;
};

static void seq_set(void *arg, const struct zk_result *r);

static void seq_created(void *arg, const struct zk_result *r)
{
    struct seq_ctx *c = arg;
    if ((r->rc == ZOK || r->rc == ZNODEEXISTS) && zk_set(c->s, "/brokers/seqid", "", 0, -1, seq_set, c) == 0)
        return;
    c->done(c->arg, r->rc == ZOK || r->rc == ZNODEEXISTS ? ZSYSTEMERROR : r->rc, -1);
    ferry_free(c);
}

static void seq_set(void *arg, const struct zk_result *r)
{
    struct seq_ctx *c = arg;
    if (r->rc == ZNONODE && !c->created) {
        c->created = true;
        if (zk_create_path(c->s, "/brokers/seqid", NULL, -1, ZOO_PERSISTENT, seq_created, c) == 0)
            return;
    }
    int32_t id = -1;
    int rc = r->rc;
    if (rc == ZOK && zk_seqid_broker_id(r->stat->version, c->reserved, &id) != 0)
        rc = ZAPIERROR;
    if (rc == ZOK)
        LOG_INFO("zk", "generated broker id %d (/brokers/seqid version %d)", id, r->stat->version);
    c->done(c->arg, rc, id);
    ferry_free(c);
}

int zk_generate_broker_id(struct zk_session *s, int32_t reserved_broker_max_id, zk_broker_id_fn done, void *arg)
{
    struct seq_ctx *c = ferry_calloc(1, sizeof *c);
    if (!c)
        return FERRY_ENOMEM;
    *c = (struct seq_ctx){.s = s, .reserved = reserved_broker_max_id, .done = done, .arg = arg};
    int rc = zk_set(s, "/brokers/seqid", "", 0, -1, seq_set, c);
    if (rc)
        ferry_free(c);
    return rc;
}

/* ---- checked ephemeral registration ---- */

static int reg_send(struct zk_registration *r);

static void reg_end(struct zk_registration *r, int rc)
{
    r->busy = false;
    if (r->done)
        r->done(r->arg, rc, r->czxid);
}

static void reg_deleted(void *arg, const struct zk_result *res)
{
    struct zk_registration *r = arg;
    if (res->rc != ZOK && res->rc != ZNONODE && res->rc != ZBADVERSION) {
        reg_end(r, res->rc);
        return;
    }
    if (reg_send(r) != 0)
        reg_end(r, ZSYSTEMERROR);
}

static void reg_owner(void *arg, const struct zk_result *res)
{
    struct zk_registration *r = arg;
    if (res->rc == ZNONODE) { /* gone meanwhile: create again */
        if (reg_send(r) != 0)
            reg_end(r, ZSYSTEMERROR);
        return;
    }
    if (res->rc != ZOK) {
        reg_end(r, res->rc);
        return;
    }
    int64_t owner = res->stat->ephemeralOwner;
    int64_t current = zk_session_id(r->s);
    if (owner == current) {
        r->czxid = res->stat->czxid;
        r->owner_session = current;
        LOG_INFO("zk", "broker %d: %s already registered by this session (epoch %" PRId64 ")", r->broker_id, r->path,
                 r->czxid);
        reg_end(r, ZOK);
    } else if (owner == r->owner_session && owner != 0) {
        LOG_INFO("zk", "broker %d: deleting %s left by our expired session 0x%" PRIx64, r->broker_id, r->path, owner);
        if (zk_delete(r->s, r->path, res->stat->version, reg_deleted, r) != 0)
            reg_end(r, ZSYSTEMERROR);
    } else {
        LOG_ERROR("zk", "broker %d: %s exists and belongs to session 0x%" PRIx64 " (ours is 0x%" PRIx64 "): another broker "
                  "has this broker.id, or it restarted within zookeeper.session.timeout.ms",
                  r->broker_id, r->path, owner, current);
        reg_end(r, ZNODEEXISTS);
    }
}

static void reg_multi(void *arg, const struct zk_result *res)
{
    struct zk_registration *r = arg;
    if (res->rc == ZOK) {
        r->czxid = res->results[1].stat ? res->results[1].stat->czxid : -1;
        r->owner_session = zk_session_id(r->s);
        LOG_INFO("zk", "broker %d registered at %s, broker epoch %" PRId64 " (session 0x%" PRIx64 ")", r->broker_id,
                 r->path, r->czxid, r->owner_session);
        reg_end(r, ZOK);
        return;
    }
    if (res->rc == ZNODEEXISTS) {
        if (zk_get(r->s, r->path, false, reg_owner, r) != 0)
            reg_end(r, ZSYSTEMERROR);
        return;
    }
    LOG_ERROR("zk", "broker %d: cannot register %s: %s", r->broker_id, r->path, zk_rc_name(res->rc));
    reg_end(r, res->rc);
}

static int reg_send(struct zk_registration *r)
{
    struct zk_op ops[2] = {
        {.type = ZK_OP_CREATE, .path = r->path, .data = NULL, .len = -1, .flags = ZOO_EPHEMERAL},
        {.type = ZK_OP_SET, .path = r->path, .data = r->json, .len = r->len, .version = 0},
    };
    return zk_multi(r->s, ops, 2, reg_multi, r);
}

int zk_registration_run(struct zk_registration *r, struct zk_session *s, int32_t broker_id, const char *json,
                        void (*done)(void *arg, int rc, int64_t czxid), void *arg)
{
    if (r->busy)
        return FERRY_EINVAL;
    char *copy = ferry_strdup(json);
    if (!copy)
        return FERRY_ENOMEM;
    ferry_free(r->json);
    r->json = copy;
    r->len = (int)strlen(copy);
    r->s = s;
    r->broker_id = broker_id;
    snprintf(r->path, sizeof r->path, "/brokers/ids/%d", broker_id);
    r->czxid = -1;
    r->done = done;
    r->arg = arg;
    int rc = reg_send(r);
    if (rc == 0)
        r->busy = true;
    return rc;
}

void zk_registration_free(struct zk_registration *r)
{
    ferry_free(r->json);
    r->json = NULL;
}
