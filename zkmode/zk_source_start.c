/* zk_source_start: the blocking start-up phase of a legacy-mode broker (see zk_source.h), on a private
 * libuv loop so that nothing of the broker runs before its metadata source is ready:
 *   1. with a chroot in zookeeper.connect: connect without it, create it (with parents) when missing,
 *      close that session (Kafka's createChrootIfNecessary);
 *   2. connect with the chroot; each connection must succeed within zookeeper.connection.timeout.ms;
 *   3. the persistent paths, /cluster/id (created or adopted), meta.properties version 0 in every log dir
 *      (a cluster id or broker id that does not match refuses start-up, as Kafka);
 *   4. the first read of /brokers/ids (and its watch).
 * Then the session moves to the broker's loop. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/log/log.h"
#include "broker/log/logdir.h"
#include "zk_source_internal.h"

enum start_phase { PH_CHROOT_CONNECT, PH_CHROOT_CREATE, PH_CONNECT, PH_SETUP, PH_BROKERS, PH_DONE };

struct zk_start {
    struct zk_src *z;
    uv_loop_t loop;
    uv_timer_t timer;
    struct zk_session *s0; /* without the chroot, to create it */
    char *hosts;
    char *chroot;
    char *digest; /* read from zookeeper.auth.digest.file */
    enum start_phase phase;
    bool done;
    int rc;
    char *err;
    size_t errlen;
};

static void start_fail(struct zk_start *st, int rc, const char *fmt, ...)
{
    if (st->done)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->err, st->errlen, fmt, ap);
    va_end(ap);
    st->rc = rc;
    st->done = true;
}

static void on_connect_timeout(uv_timer_t *t)
{
    struct zk_start *st = t->data;
    const struct ferry_config *cfg = st->z->cfg;
    start_fail(st, FERRY_EIO,
               "cannot connect to ZooKeeper at zookeeper.connect=%s within zookeeper.connection.timeout.ms=%d ms",
               cfg->zookeeper_connect, cfg->zookeeper_connection_timeout_ms);
}

static void arm_timeout(struct zk_start *st)
{
    uv_timer_start(&st->timer, on_connect_timeout, (uint64_t)st->z->cfg->zookeeper_connection_timeout_ms, 0);
}

static int open_session(struct zk_start *st, const char *connect, zk_state_fn fn, void *arg, struct zk_session **out)
{
    const struct ferry_config *cfg = st->z->cfg;
    struct zk_session_conf conf = {
        .connect = connect,
        .session_timeout_ms = cfg->zookeeper_session_timeout_ms,
        .max_in_flight = cfg->zookeeper_max_in_flight_requests,
        .digest = st->digest,
        .secure_acls = cfg->zookeeper_set_acl,
    };
    int rc = zk_session_new(&st->loop, &conf, fn, arg, out);
    if (rc)
        start_fail(st, rc, "zookeeper.connect=%s: the ZooKeeper client refuses it", connect);
    else
        arm_timeout(st);
    return rc;
}

/* ---- meta.properties ---- */

static int check_meta(struct zk_start *st)
{
    struct zk_src *z = st->z;
    const struct config_strlist *dirs = &z->cfg->log_dirs;
    for (size_t i = 0; i < dirs->count; i++) {
        const char *dir = dirs->items[i];
        struct logdir_meta m;
        int rc = logdir_meta_read(dir, &m);
        if (rc == FERRY_ENOTFOUND) {
            memset(&m, 0, sizeof m);
            m.version = 0;
        } else if (rc) {
            start_fail(st, rc, "%s/meta.properties cannot be read: %s", dir, ferry_strerror(rc));
            return rc;
        } else {
            if (m.cluster_id[0] && strcmp(m.cluster_id, z->cluster_id) != 0) {
                start_fail(st, FERRY_EINVAL,
                           "InconsistentClusterIdException: the cluster id %s in ZooKeeper (/cluster/id under "
                           "zookeeper.connect=%s) does not match cluster.id=%s in %s/meta.properties: this log dir "
                           "belongs to another cluster",
                           z->cluster_id, z->cfg->zookeeper_connect, m.cluster_id, dir);
                return FERRY_EINVAL;
            }
            if (m.node_id >= 0 && m.node_id != z->broker_id) {
                start_fail(st, FERRY_EINVAL,
                           "broker.id=%d does not match broker.id=%d stored in %s/meta.properties", z->broker_id,
                           m.node_id, dir);
                return FERRY_EINVAL;
            }
            if (m.cluster_id[0])
                continue;
        }
        m.node_id = z->broker_id;
        snprintf(m.cluster_id, sizeof m.cluster_id, "%s", z->cluster_id);
        rc = logdir_meta_write(dir, &m);
        if (rc) {
            start_fail(st, rc, "cannot write %s/meta.properties: %s", dir, ferry_strerror(rc));
            return rc;
        }
        LOG_INFO("zk", "wrote %s/meta.properties (version %d, broker.id %d, cluster.id %s)", dir, m.version,
                 m.node_id, m.cluster_id);
    }
    return 0;
}

/* ---- the chain ---- */

static void on_cluster_id(void *arg, int rc, const char *id)
{
    struct zk_start *st = arg;
    struct zk_src *z = st->z;
    if (st->done)
        return;
    if (rc != ZOK || !id || strlen(id) >= sizeof z->cluster_id) {
        start_fail(st, FERRY_EIO, "cannot create or read /cluster/id under zookeeper.connect=%s: %s",
                   z->cfg->zookeeper_connect, rc == ZOK ? "bad id" : zk_rc_name(rc));
        return;
    }
    snprintf(z->cluster_id, sizeof z->cluster_id, "%s", id);
    memcpy(z->img.cluster_id, z->cluster_id, sizeof z->cluster_id);
    if (check_meta(st) != 0)
        return;
    st->phase = PH_BROKERS;
    if (zk_brokers_watch(z) != 0)
        start_fail(st, FERRY_ENOMEM, "out of memory");
}

static void on_paths(void *arg, int rc)
{
    struct zk_start *st = arg;
    if (st->done)
        return;
    if (rc != ZOK) {
        start_fail(st, FERRY_EIO, "cannot create Kafka's persistent znodes under zookeeper.connect=%s: %s%s",
                   st->z->cfg->zookeeper_connect, zk_rc_name(rc),
                   rc == ZNOAUTH ? " (the ACLs need other credentials: zookeeper.auth.digest.file)" : "");
        return;
    }
    proto_uuid u;
    char id[PROTO_UUID_B64_LEN + 1];
    if (log_uuid_random(&u) != 0) {
        start_fail(st, FERRY_EIO, "cannot generate a cluster id");
        return;
    }
    proto_uuid_to_base64(u, id);
    if (zk_cluster_id_get_or_create(st->z->s, id, on_cluster_id, st) != 0)
        start_fail(st, FERRY_ENOMEM, "out of memory");
}

static void on_chroot(void *arg, const struct zk_result *r)
{
    struct zk_start *st = arg;
    if (st->done)
        return;
    if (r->rc != ZOK && r->rc != ZNODEEXISTS) {
        start_fail(st, FERRY_EIO, "cannot create the chroot %s of zookeeper.connect=%s: %s", st->chroot,
                   st->z->cfg->zookeeper_connect, zk_rc_name(r->rc));
        return;
    }
    if (r->rc == ZOK)
        LOG_INFO("zk", "created the chroot %s", st->chroot);
    zk_session_close(st->s0);
    st->s0 = NULL;
    st->phase = PH_CONNECT;
    open_session(st, st->z->cfg->zookeeper_connect, zk_src_on_state, st->z, &st->z->s);
}

static void on_s0_state(void *arg, enum zk_session_event ev)
{
    struct zk_start *st = arg;
    if (st->done || st->phase != PH_CHROOT_CONNECT)
        return;
    if (ev == ZK_EV_AUTH_FAILED) {
        start_fail(st, FERRY_EINVAL, "ZooKeeper refused the credentials of zookeeper.auth.digest.file");
        return;
    }
    if (ev != ZK_EV_CONNECTED && ev != ZK_EV_NEW_SESSION)
        return;
    uv_timer_stop(&st->timer);
    st->phase = PH_CHROOT_CREATE;
    if (zk_create_path(st->s0, st->chroot, NULL, -1, ZOO_PERSISTENT, on_chroot, st) != 0)
        start_fail(st, FERRY_ENOMEM, "out of memory");
}

void zk_start_on_state(struct zk_src *z, enum zk_session_event ev)
{
    struct zk_start *st = z->start;
    if (st->done)
        return;
    if (ev == ZK_EV_AUTH_FAILED) {
        start_fail(st, FERRY_EINVAL, "ZooKeeper refused the credentials of zookeeper.auth.digest.file");
        return;
    }
    if (ev == ZK_EV_EXPIRED) {
        start_fail(st, FERRY_EIO, "the ZooKeeper session expired during start-up (zookeeper.connect=%s)",
                   z->cfg->zookeeper_connect);
        return;
    }
    if (st->phase != PH_CONNECT || (ev != ZK_EV_CONNECTED && ev != ZK_EV_NEW_SESSION))
        return;
    uv_timer_stop(&st->timer);
    st->phase = PH_SETUP;
    if (zk_create_persistent_paths(z->s, on_paths, st) != 0)
        start_fail(st, FERRY_ENOMEM, "out of memory");
}

/* The first line of the digest file: "user:password". */
static int read_digest(struct zk_start *st, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        start_fail(st, FERRY_EINVAL, "zookeeper.auth.digest.file %s cannot be read: %s", path, strerror(errno));
        return FERRY_EINVAL;
    }
    char line[1024];
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (got)
        line[strcspn(line, "\r\n")] = 0;
    const char *colon = got ? strchr(line, ':') : NULL;
    if (!colon || colon == line || !colon[1]) {
        start_fail(st, FERRY_EINVAL, "zookeeper.auth.digest.file %s: the first line must be user:password", path);
        return FERRY_EINVAL;
    }
    st->digest = ferry_strdup(line);
    if (!st->digest) {
        start_fail(st, FERRY_ENOMEM, "out of memory");
        return FERRY_ENOMEM;
    }
    return 0;
}

static int check_config(struct zk_start *st)
{
    const struct ferry_config *cfg = st->z->cfg;
    if (cfg->broker_id < 0) {
        start_fail(st, FERRY_EINVAL,
                   "broker.id is not set: generated broker ids (/brokers/seqid) are not wired into the broker yet "
                   "in legacy mode; set broker.id");
        return FERRY_EINVAL;
    }
    if (cfg->zookeeper_set_acl && !cfg->zookeeper_auth_digest_file) {
        start_fail(st, FERRY_EINVAL,
                   "zookeeper.set.acl is true but zookeeper.auth.digest.file is not set: secure ACLs need "
                   "authenticated brokers");
        return FERRY_EINVAL;
    }
    if (cfg->zookeeper_auth_digest_file && read_digest(st, cfg->zookeeper_auth_digest_file) != 0)
        return FERRY_EINVAL;
    if (cfg->zookeeper_session_timeout_ms <= 0 || cfg->zookeeper_connection_timeout_ms <= 0) {
        start_fail(st, FERRY_EINVAL, "zookeeper.session.timeout.ms and zookeeper.connection.timeout.ms must be > 0");
        return FERRY_EINVAL;
    }
    char msg[256];
    int rc = zk_connect_split(cfg->zookeeper_connect, &st->hosts, &st->chroot, msg, sizeof msg);
    if (rc)
        start_fail(st, rc, "%s", msg);
    return rc;
}

int zk_source_start(uv_loop_t *loop, const struct ferry_config *cfg, struct md_source *out, char *err, size_t errlen)
{
    struct zk_src *z;
    int rc = zk_src_new(loop, cfg, &z);
    if (rc) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    struct zk_start st = {.z = z, .err = err, .errlen = errlen};
    z->start = &st;
    z->broker_id = cfg->broker_id;
    int uvrc = uv_loop_init(&st.loop);
    if (uvrc) {
        /* e.g. EMFILE: the process is out of file descriptors (ulimit -n) */
        snprintf(err, errlen, "cannot create the start-up event loop: %s", uv_strerror(uvrc));
        LOG_ERROR("zk", "legacy-mode start-up failed: %s", err);
        zk_src_free_unstarted(z);
        return FERRY_EIO;
    }
    uv_timer_init(&st.loop, &st.timer);
    st.timer.data = &st;
    if (check_config(&st) == 0) {
        LOG_INFO("zk", "broker %d: connecting to ZooKeeper at %s (session timeout %d ms)", z->broker_id,
                 cfg->zookeeper_connect, cfg->zookeeper_session_timeout_ms);
        if (st.chroot[0]) {
            st.phase = PH_CHROOT_CONNECT;
            open_session(&st, st.hosts, on_s0_state, &st, &st.s0);
        } else {
            st.phase = PH_CONNECT;
            open_session(&st, cfg->zookeeper_connect, zk_src_on_state, z, &z->s);
        }
    }
    while (!st.done) {
        if (st.phase == PH_BROKERS && !z->brk_busy) {
            st.done = true;
            st.phase = PH_DONE;
            break;
        }
        uv_run(&st.loop, UV_RUN_ONCE);
    }
    z->start = NULL;
    uv_timer_stop(&st.timer);
    uv_close((uv_handle_t *)&st.timer, NULL);
    if (st.s0)
        zk_session_close(st.s0);
    if (st.phase == PH_DONE) {
        rc = zk_session_move(z->s, loop);
        if (rc)
            snprintf(err, errlen, "out of memory");
    } else {
        rc = st.rc ? st.rc : FERRY_EIO;
        if (z->s)
            zk_session_close(z->s);
        z->s = NULL;
    }
    uv_run(&st.loop, UV_RUN_DEFAULT); /* the closed handles */
    uv_loop_close(&st.loop);
    ferry_free(st.hosts);
    ferry_free(st.chroot);
    ferry_free(st.digest);
    if (rc) {
        LOG_ERROR("zk", "legacy-mode start-up failed: %s", err);
        zk_src_free_unstarted(z);
        return rc;
    }
    LOG_INFO("zk", "broker %d: ZooKeeper ready, cluster id %s, %d live broker(s)", z->broker_id, z->cluster_id,
             z->img.nbrokers);
    return zk_src_finish_start(z, out, err, errlen);
}
