/* zk_brokers: /brokers/ids into the metadata image (see zk_source_internal.h). Each reload lists the
 * children with a child watch, reads every child (pipelined), then applies one RegisterBrokerRecord per
 * new or bounced broker (broker epoch = czxid, as Kafka's controller sees it) and one
 * UnregisterBrokerRecord per broker that went. A malformed znode is logged with its path and skipped. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/metadata/md_delta.h"
#include "proto_messages.h"
#include "zk_admin.h"
#include "zk_source_internal.h"
#include "zkmode/controller/zkctl.h"
#include "zkmode/znode/znode_codec.h"

#define IDS_PATH "/brokers/ids"

struct brk_slot {
    struct brk_reload *rl;
    int32_t id;
    bool ok;
    int64_t czxid;
    zk_broker_info info;
};

struct brk_reload {
    struct zk_src *z;
    int n;
    int left;
    struct brk_slot *slots;
};

static void reload_end(struct zk_src *z)
{
    z->brk_busy = false;
    if (z->brk_again && !z->stopping) {
        z->brk_again = false;
        zk_brokers_reload(z);
    }
}

void zk_src_publish(struct zk_src *z, struct md_delta *d)
{
    if (z->publish && !z->stopping && !md_delta_is_empty(d)) {
        z->publish(z->publish_arg, &z->img, d);
        /* CreateTopics/DeleteTopics waiting for the image to show their writes are answered now, as Kafka
         * completes its DelayedCreatePartitions on the metadata update, not at the admin timer's next check */
        if (z->admin_timer && uv_is_active((uv_handle_t *)z->admin_timer))
            zk_admin_tick(z);
    }
    md_delta_free(d);
}

/* Applies one RegisterBrokerRecord for a decoded /brokers/ids/<id> (endpoints and protocols read as the
 * controller core reads them: zkctl_broker_from_znode). */
static int register_one(struct zk_src *z, const struct brk_slot *b, struct md_delta *d)
{
    zkctl_broker_buf buf;
    int rc = zkctl_broker_from_znode(b->id, b->czxid, &b->info, &buf);
    if (rc) {
        LOG_ERROR("zk", "%s/%d: %s: broker skipped", IDS_PATH, b->id,
                  rc == FERRY_EPARSE ? "an endpoint is malformed or has no known security protocol"
                                     : ferry_strerror(rc));
        return rc;
    }
    const zkctl_broker *zb = &buf.broker;
    struct RegisterBrokerRecord r;
    memset(&r, 0, sizeof r);
    r.BrokerId = zb->id;
    r.BrokerEpoch = zb->epoch;
    r.Rack = proto_str_from(zb->rack);
    struct RegisterBrokerRecord_BrokerEndpoint *eps = ferry_calloc(zb->n_endpoints + 1, sizeof *eps);
    rc = eps ? 0 : FERRY_ENOMEM;
    for (size_t i = 0; rc == 0 && i < zb->n_endpoints; i++) {
        const zkctl_endpoint *e = &zb->endpoints[i];
        eps[i] = (struct RegisterBrokerRecord_BrokerEndpoint){proto_str_from(e->listener), proto_str_from(e->host),
                                                              (uint16_t)e->port, e->security_protocol};
    }
    if (rc == 0) {
        r.EndPoints = eps;
        r.EndPoints_n = (int32_t)zb->n_endpoints;
        rc = md_image_apply(&z->img, &proto_msg_RegisterBrokerRecord, &r, z->next_offset++, d);
    }
    ferry_free(eps);
    zkctl_broker_buf_free(&buf);
    return rc;
}

static void reload_apply(struct brk_reload *rl)
{
    struct zk_src *z = rl->z;
    struct md_delta d;
    md_delta_init(&d);
    /* gone */
    for (int32_t i = z->img.nbrokers - 1; i >= 0; i--) {
        const struct md_broker *mb = z->img.brokers[i];
        bool present = false;
        for (int k = 0; k < rl->n; k++)
            if (rl->slots[k].ok && rl->slots[k].id == mb->id)
                present = true;
        if (present)
            continue;
        struct UnregisterBrokerRecord u = {.BrokerId = mb->id, .BrokerEpoch = mb->epoch};
        LOG_INFO("zk", "broker %d left %s (epoch %" PRId64 ")", mb->id, IDS_PATH, mb->epoch);
        md_image_apply(&z->img, &proto_msg_UnregisterBrokerRecord, &u, z->next_offset++, &d);
    }
    /* new or bounced */
    for (int k = 0; k < rl->n; k++) {
        struct brk_slot *b = &rl->slots[k];
        if (!b->ok)
            continue;
        const struct md_broker *mb = md_image_broker(&z->img, b->id);
        if (mb && mb->epoch == b->czxid)
            continue;
        if (register_one(z, b, &d) != 0)
            LOG_ERROR("zk", "%s/%d could not be added to the metadata image", IDS_PATH, b->id);
    }
    zk_src_publish(z, &d);
}

static void reload_free(struct brk_reload *rl)
{
    for (int k = 0; k < rl->n; k++)
        zk_broker_info_free(&rl->slots[k].info);
    ferry_free(rl->slots);
    ferry_free(rl);
}

static void on_broker(void *arg, const struct zk_result *r)
{
    struct brk_slot *b = arg;
    struct brk_reload *rl = b->rl;
    if (r->rc == ZOK) {
        zk_err err;
        if (zk_broker_info_decode(r->data ? r->data : "", r->len > 0 ? (size_t)r->len : 0, &b->info, &err) == 0) {
            b->ok = true;
            b->czxid = r->stat->czxid;
        } else {
            LOG_ERROR("zk", "%s/%d is malformed, broker ignored: %s", IDS_PATH, b->id, err.msg);
        }
    } else if (r->rc != ZNONODE) {
        LOG_WARN("zk", "cannot read %s/%d: %s", IDS_PATH, b->id, zk_rc_name(r->rc));
    }
    if (--rl->left > 0)
        return;
    struct zk_src *z = rl->z;
    if (!z->stopping)
        reload_apply(rl);
    reload_free(rl);
    reload_end(z);
}

static void on_children(void *arg, const struct zk_result *r)
{
    struct zk_src *z = arg;
    if (r->rc != ZOK || z->stopping) {
        if (r->rc != ZOK && r->rc != ZCLOSING)
            LOG_WARN("zk", "cannot list %s: %s", IDS_PATH, zk_rc_name(r->rc));
        reload_end(z);
        return;
    }
    struct brk_reload *rl = ferry_calloc(1, sizeof *rl);
    int32_t count = r->children->count;
    if (rl)
        rl->slots = ferry_calloc((size_t)count + 1, sizeof *rl->slots);
    if (!rl || !rl->slots) {
        ferry_free(rl);
        LOG_ERROR("zk", "out of memory reading %s", IDS_PATH);
        reload_end(z);
        return;
    }
    rl->z = z;
    rl->left = 1;
    for (int32_t i = 0; i < count; i++) {
        const char *name = r->children->data[i];
        char *end;
        long id = strtol(name, &end, 10);
        if (*end || end == name || id < 0 || id > INT32_MAX) {
            LOG_WARN("zk", "%s/%s is not a broker id: ignored", IDS_PATH, name);
            continue;
        }
        struct brk_slot *b = &rl->slots[rl->n++];
        b->rl = rl;
        b->id = (int32_t)id;
        char path[64];
        snprintf(path, sizeof path, IDS_PATH "/%s", name);
        rl->left++;
        if (zk_get(z->s, path, false, on_broker, b) != 0)
            rl->left--;
    }
    struct zk_result none = {.rc = ZNONODE, .len = -1};
    struct brk_slot dummy = {.rl = rl, .id = -1};
    on_broker(&dummy, &none); /* drops the hold taken above */
}

static void on_ids_watch(void *arg, int type, const char *path)
{
    (void)type;
    (void)path;
    zk_brokers_reload(arg);
}

void zk_brokers_reload(struct zk_src *z)
{
    if (z->stopping)
        return;
    if (z->brk_busy) {
        z->brk_again = true;
        return;
    }
    z->brk_busy = true;
    if (zk_children(z->s, IDS_PATH, true, on_children, z) != 0)
        z->brk_busy = false;
}

int zk_brokers_watch(struct zk_src *z)
{
    int rc = zk_watch_add(z->s, IDS_PATH, on_ids_watch, z);
    if (rc == 0)
        zk_brokers_reload(z);
    return rc;
}
