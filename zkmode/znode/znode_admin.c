/* znode_admin: codecs for the admin request znodes Kafka's older tools write and its controller consumes:
 * /admin/reassign_partitions ({"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[4,5,6]}]})
 * and /admin/preferred_replica_election (the same without "replicas"). Kafka's ReassignPartitionsZNode and
 * PreferredReplicaElectionZNode; see znode_codec.h for the rules every codec follows. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "zkmode/znode/znode_json.h"

void zk_admin_partitions_free(zk_admin_partitions *r)
{
    for (size_t i = 0; i < r->n; i++) {
        ferry_free(r->partitions[i].topic);
        ferry_free(r->partitions[i].replicas);
    }
    ferry_free(r->partitions);
    memset(r, 0, sizeof *r);
}

static int decode(const char *data, size_t len, bool with_replicas, zk_admin_partitions *out, zk_err *e)
{
    memset(out, 0, sizeof *out);
    json_t *r;
    int rc = zkj_load(data, len, &r, e);
    if (rc)
        return rc;
    zk_admin_partitions d = {0};
    int64_t v;
    json_t *a = NULL;
    if ((rc = zkj_version(r, 1, 1, &v, e)) || !(a = zkj_arr(r, "partitions", e, &rc)))
        goto out;
    size_t n = json_array_size(a);
    d.partitions = ferry_calloc(n ? n : 1, sizeof *d.partitions);
    if (!d.partitions) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(a, i);
        zk_admin_partition *p = &d.partitions[d.n++]; /* counted now: freed with d whatever fails below */
        int64_t part;
        if (!json_is_object(o)) {
            zkj_err(e, "partitions[%zu]: expected an object", i);
            rc = FERRY_EPARSE;
            goto out;
        }
        if ((rc = zkj_str(o, "topic", true, false, &p->topic, e)) ||
            (rc = zkj_int(o, "partition", true, 0, INT32_MAX, &part, NULL, e)))
            goto out;
        p->partition = (int32_t)part;
        if (with_replicas) {
            json_t *reps = json_object_get(o, "replicas");
            if (!reps) {
                zkj_err(e, "partitions[%zu].replicas: missing", i);
                rc = FERRY_EPARSE;
                goto out;
            }
            if ((rc = zkj_int32_array(reps, "replicas", &p->replicas, &p->n_replicas, e)))
                goto out;
        }
    }
    *out = d;
    memset(&d, 0, sizeof d);
out:
    zk_admin_partitions_free(&d);
    json_decref(r);
    return rc;
}

static int encode(const zk_admin_partitions *d, bool with_replicas, char **out, size_t *out_len)
{
    *out = NULL;
    json_t *r = json_object(), *a = json_array();
    int rc = FERRY_ENOMEM;
    if (!r || !a || json_object_set_new(r, "version", json_integer(1)))
        goto fail;
    for (size_t i = 0; i < d->n; i++) {
        const zk_admin_partition *p = &d->partitions[i];
        json_t *o = json_object();
        if (!o || json_array_append_new(a, o) || json_object_set_new(o, "topic", json_string(p->topic)) ||
            json_object_set_new(o, "partition", json_integer(p->partition)) ||
            (with_replicas && json_object_set_new(o, "replicas", zkj_int_array(p->replicas, p->n_replicas))))
            goto fail;
    }
    if (json_object_set(r, "partitions", a))
        goto fail;
    rc = zkj_dump(r, out, out_len);
fail:
    json_decref(a);
    json_decref(r);
    return rc;
}

int zk_reassignment_decode(const char *data, size_t len, zk_admin_partitions *out, zk_err *err)
{
    return decode(data, len, true, out, err);
}

int zk_reassignment_encode(const zk_admin_partitions *r, char **out, size_t *out_len)
{
    return encode(r, true, out, out_len);
}

int zk_preferred_election_decode(const char *data, size_t len, zk_admin_partitions *out, zk_err *err)
{
    return decode(data, len, false, out, err);
}

int zk_preferred_election_encode(const zk_admin_partitions *r, char **out, size_t *out_len)
{
    return encode(r, false, out, out_len);
}
