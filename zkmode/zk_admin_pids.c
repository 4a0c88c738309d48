/* zk_admin_pids: producer-id blocks from /latest_producer_id_block, as Kafka's ZkProducerIdManager: read the
 * node and its zkVersion; null or empty data means the next block is 0..999, otherwise it starts after the
 * stored block_end; write {"version":1,"broker":N,"block_start":"S","block_end":"E"} with a setData
 * conditional on the zkVersion read, and start again on BADVERSION (another broker took that block).
 * Also the controller's /feature set-up (KafkaController.enableFeatureVersioning). */
#include <inttypes.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zk_admin_internal.h"

#define PID_PATH "/latest_producer_id_block"
#define PID_BLOCK_SIZE CTRL_PRODUCER_ID_BLOCK_SIZE
#define PID_MAX_ATTEMPTS 1000
#define FEATURE_PATH "/feature"

struct pid_op {
    struct zk_src *z;
    md_pids_done_fn done;
    void *arg;
    int attempts;
    int64_t start;
};

static void pid_end(struct pid_op *p, int64_t first, int32_t len, int16_t error)
{
    if (!p->z->stopping)
        p->done(p->arg, first, len, error);
    ferry_free(p);
}

static void pid_read(struct pid_op *p);

static void on_pid_set(void *arg, const struct zk_result *r)
{
    struct pid_op *p = arg;
    if (r->rc == ZOK) {
        LOG_INFO("zk", "broker %d: producer-id block %" PRId64 "-%" PRId64 " allocated", p->z->broker_id, p->start,
                 p->start + PID_BLOCK_SIZE - 1);
        pid_end(p, p->start, PID_BLOCK_SIZE, KERR_NONE);
    } else if (r->rc == ZBADVERSION && !p->z->stopping) {
        pid_read(p); /* another broker took the block: read again */
    } else {
        LOG_WARN("zk", "broker %d: cannot write %s: %s", p->z->broker_id, PID_PATH, zk_rc_name(r->rc));
        pid_end(p, -1, 0, KERR_UNKNOWN_SERVER_ERROR);
    }
}

static void on_pid_get(void *arg, const struct zk_result *r)
{
    struct pid_op *p = arg;
    if (r->rc != ZOK) {
        LOG_WARN("zk", "broker %d: cannot read %s: %s", p->z->broker_id, PID_PATH, zk_rc_name(r->rc));
        pid_end(p, -1, 0, KERR_UNKNOWN_SERVER_ERROR);
        return;
    }
    int64_t start = 0;
    if (r->data && r->len > 0) {
        zk_producer_id_block cur;
        zk_err err;
        if (zk_producer_id_block_decode(r->data, (size_t)r->len, &cur, &err) != 0) {
            LOG_ERROR("zk", "%s is malformed: %s: no producer ids can be allocated", PID_PATH, err.msg);
            pid_end(p, -1, 0, KERR_UNKNOWN_SERVER_ERROR);
            return;
        }
        if (cur.block_end > INT64_MAX - PID_BLOCK_SIZE) {
            LOG_ERROR("zk", "%s: exhausted all producer ids", PID_PATH);
            pid_end(p, -1, 0, KERR_UNKNOWN_SERVER_ERROR);
            return;
        }
        start = cur.block_end + 1;
    }
    p->start = start;
    zk_producer_id_block next = {.broker = p->z->broker_id, .block_start = start, .block_end = start + PID_BLOCK_SIZE - 1};
    char *json = NULL;
    size_t len;
    int rc = zk_producer_id_block_encode(&next, &json, &len);
    if (rc == 0 && ++p->attempts <= PID_MAX_ATTEMPTS)
        rc = zk_set(p->z->s, PID_PATH, json, (int)len, r->stat->version, on_pid_set, p);
    else if (rc == 0)
        rc = FERRY_EIO;
    ferry_free(json);
    if (rc)
        pid_end(p, -1, 0, KERR_UNKNOWN_SERVER_ERROR);
}

static void pid_read(struct pid_op *p)
{
    if (zk_get(p->z->s, PID_PATH, false, on_pid_get, p) != 0)
        pid_end(p, -1, 0, KERR_UNKNOWN_SERVER_ERROR);
}

void zk_admin_allocate_producer_ids(void *impl, int32_t broker_id, int64_t broker_epoch, md_pids_done_fn done,
                                    void *arg)
{
    (void)broker_id; /* the block is this broker's: it is the one that writes the znode */
    (void)broker_epoch;
    struct zk_src *z = impl;
    struct pid_op *p = ferry_calloc(1, sizeof *p);
    if (!p) {
        zk_src_defer(z, NULL, done, KERR_UNKNOWN_SERVER_ERROR, arg);
        return;
    }
    *p = (struct pid_op){.z = z, .done = done, .arg = arg};
    if (zk_get(z->s, PID_PATH, false, on_pid_get, p) != 0) {
        ferry_free(p);
        zk_src_defer(z, NULL, done, KERR_UNKNOWN_SERVER_ERROR, arg);
    }
}

/* ---- /feature ---- */

static void on_feature_written(void *arg, const struct zk_result *r)
{
    struct zk_src *z = arg;
    if (r->rc == ZOK)
        LOG_INFO("zk", "broker %d: %s enabled (version 2, status 1)", z->broker_id, FEATURE_PATH);
    else if (r->rc != ZCLOSING)
        LOG_WARN("zk", "broker %d: cannot write %s: %s", z->broker_id, FEATURE_PATH, zk_rc_name(r->rc));
}

static void on_feature(void *arg, const struct zk_result *r)
{
    struct zk_src *z = arg;
    if (z->stopping || (r->rc != ZOK && r->rc != ZNONODE)) {
        if (r->rc != ZCLOSING && r->rc != ZOK)
            LOG_WARN("zk", "broker %d: cannot read %s: %s", z->broker_id, FEATURE_PATH, zk_rc_name(r->rc));
        return;
    }
    zk_feature_znode f = {.version = 2, .status = 1};
    zk_feature_znode cur = {0};
    bool exists = r->rc == ZOK;
    if (exists) {
        zk_err err;
        if (zk_feature_decode(r->data ? r->data : "", r->len > 0 ? (size_t)r->len : 0, &cur, &err) != 0) {
            LOG_ERROR("zk", "%s is malformed, left as it is: %s", FEATURE_PATH, err.msg);
            return;
        }
        if (cur.status == 1 && cur.version == 2) {
            zk_feature_free(&cur);
            return; /* enabled already: adopted */
        }
        if (cur.status == 1) { /* keep the finalized features, in the version 2 form */
            f.n_features = cur.n_features;
            f.features = cur.features;
        } else if (cur.n_features > 0) {
            LOG_WARN("zk", "%s was disabled with finalized features: they are cleared, as Kafka does", FEATURE_PATH);
        }
    }
    char *json = NULL;
    size_t len;
    int rc = zk_feature_encode(&f, &json, &len);
    if (rc == 0)
        rc = exists ? zk_set(z->s, FEATURE_PATH, json, (int)len, -1, on_feature_written, z)
                    : zk_create_path(z->s, FEATURE_PATH, json, (int)len, ZOO_PERSISTENT, on_feature_written, z);
    if (rc)
        LOG_WARN("zk", "broker %d: cannot write %s: %s", z->broker_id, FEATURE_PATH, ferry_strerror(rc));
    ferry_free(json);
    zk_feature_free(&cur);
}

void zk_admin_setup_feature(struct zk_src *z)
{
    if (!z->stopping && zk_get(z->s, FEATURE_PATH, false, on_feature, z) != 0)
        LOG_WARN("zk", "broker %d: cannot read %s", z->broker_id, FEATURE_PATH);
}
