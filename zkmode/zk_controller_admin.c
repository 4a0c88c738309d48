/* zk_controller_admin: the /admin request znodes Kafka's older tools write, for the active controller
 * (Kafka's PartitionReassignmentHandler and PreferredReplicaElectionHandler): /admin/reassign_partitions and
 * /admin/preferred_replica_election are read once the snapshot is loaded and again when created (an exists
 * watch, set again after every event), decoded, and handed to the core (zkctl_reassign_znode,
 * zkctl_preferred_znode), which rewrites or deletes them. A znode that does not decode is logged with its
 * path and left alone. */
#include <inttypes.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zk_controller_internal.h"

#define REASSIGN_PATH "/admin/reassign_partitions"
#define PREFERRED_PATH "/admin/preferred_replica_election"

struct admin_call {
    struct zk_controller *c;
    uint64_t term;
    bool reassign;
    bool read;
};

static const char *path_of(bool reassign) { return reassign ? REASSIGN_PATH : PREFERRED_PATH; }

static bool current(const struct admin_call *k) { return k->term == k->c->term && k->c->loaded; }

static void on_get(void *arg, const struct zk_result *r)
{
    struct admin_call *k = arg;
    struct zk_controller *c = k->c;
    if (current(k) && r->rc == ZOK) {
        zk_admin_partitions d;
        zk_err e = {{0}};
        size_t len = r->data && r->len > 0 ? (size_t)r->len : 0;
        int rc = k->reassign ? zk_reassignment_decode(r->data, len, &d, &e)
                             : zk_preferred_election_decode(r->data, len, &d, &e);
        if (rc) {
            LOG_ERROR(ZKC_MOD, "%s: %s: ignored", path_of(k->reassign), e.msg);
        } else {
            zkc_event_rc(c, path_of(k->reassign),
                         k->reassign ? zkctl_reassign_znode(c->core, &d) : zkctl_preferred_znode(c->core, &d));
            zk_admin_partitions_free(&d);
            zkc_kick(c);
        }
    }
    ferry_free(k);
}

static void on_exists(void *arg, const struct zk_result *r)
{
    struct admin_call *k = arg;
    if (current(k) && r->rc == ZOK && k->read && zk_get(k->c->s, path_of(k->reassign), false, on_get, k) == 0)
        return;
    ferry_free(k);
}

/* Leaves the exists watch; read: also reads the znode if it is there. */
static void check(struct zk_controller *c, bool reassign, bool read)
{
    struct admin_call *k = ferry_calloc(1, sizeof *k);
    if (!k) {
        LOG_ERROR(ZKC_MOD, "out of memory watching %s", path_of(reassign));
        return;
    }
    *k = (struct admin_call){.c = c, .term = c->term, .reassign = reassign, .read = read};
    if (zk_exists(c->s, path_of(reassign), true, on_exists, k) != 0)
        ferry_free(k);
}

static void on_watch(void *arg, int type, const char *path)
{
    struct zk_controller *c = arg;
    if (!c->started || !c->loaded)
        return; /* zkc_admin_load reads both once loaded */
    check(c, strcmp(path, REASSIGN_PATH) == 0, type == ZOO_CREATED_EVENT);
}

int zkc_admin_watches_add(struct zk_controller *c)
{
    int rc = zk_watch_add(c->s, REASSIGN_PATH, on_watch, c);
    if (rc == 0 && (rc = zk_watch_add(c->s, PREFERRED_PATH, on_watch, c)) != 0)
        zk_watch_remove(c->s, REASSIGN_PATH, on_watch, c);
    return rc;
}

void zkc_admin_watches_remove(struct zk_controller *c)
{
    zk_watch_remove(c->s, REASSIGN_PATH, on_watch, c);
    zk_watch_remove(c->s, PREFERRED_PATH, on_watch, c);
}

void zkc_admin_load(struct zk_controller *c)
{
    check(c, true, true);
    check(c, false, true);
}
