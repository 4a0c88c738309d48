/* znode_topics: codecs for /brokers/topics/<t> (replica assignment, partition ids as string keys),
 * /brokers/topics/<t>/partitions/<n>/state, and the names under /admin/delete_topics. Decoded structs own
 * their ferry_malloc'd arrays (zk_topic_assignment_free, zk_partition_state_free). */
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "zkmode/znode/znode_json.h"

#define SET(o, k, v)                        \
    do {                                    \
        if (json_object_set_new(o, k, v)) { \
            goto fail;                      \
        }                                   \
    } while (0)

static void replicas_free(zk_partition_replicas *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ferry_free(p[i].replicas);
    ferry_free(p);
}

void zk_topic_assignment_free(zk_topic_assignment *t)
{
    replicas_free(t->partitions, t->n_partitions);
    replicas_free(t->adding, t->n_adding);
    replicas_free(t->removing, t->n_removing);
    memset(t, 0, sizeof *t);
}

/* {"0":[1,2],...}: keys are canonical non-negative decimal int32 strings. */
static int replica_map_decode(json_t *o, const char *field, zk_partition_replicas **out, size_t *n, zk_err *e)
{
    size_t cnt = json_object_size(o);
    zk_partition_replicas *p = ferry_calloc(cnt ? cnt : 1, sizeof *p);
    if (!p) {
        zkj_err(e, "out of memory");
        return FERRY_ENOMEM;
    }
    size_t done = 0;
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(o, k, v) {
        int64_t id;
        if (zkj_parse_dec(k, strlen(k), true, 0, INT32_MAX, &id)) {
            zkj_err(e, "%s.\"%s\": partition key is not a decimal string", field, k);
            rc = FERRY_EPARSE;
            goto fail;
        }
        char f[96];
        snprintf(f, sizeof f, "%s.\"%s\"", field, k);
        if ((rc = zkj_int32_array(v, f, &p[done].replicas, &p[done].n_replicas, e)))
            goto fail;
        p[done].partition = (int32_t)id;
        done++;
    }
    *out = p;
    *n = done;
    return 0;
fail:
    replicas_free(p, done);
    return rc;
}

static json_t *replica_map_encode(const zk_partition_replicas *p, size_t n)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char k[16];
        snprintf(k, sizeof k, "%d", (int)p[i].partition);
        if (json_object_set_new(o, k, zkj_int_array(p[i].replicas, p[i].n_replicas))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

int zk_topic_assignment_decode(const char *data, size_t len, zk_topic_assignment *out, zk_err *e)
{
    memset(out, 0, sizeof *out);
    json_t *r;
    int rc = zkj_load(data, len, &r, e);
    if (rc)
        return rc;
    zk_topic_assignment t = {0};
    int64_t v;
    if ((rc = zkj_version(r, 1, 3, &v, e)))
        goto out;
    t.version = (int32_t)v;
    json_t *o = zkj_obj(r, "partitions", true, e, &rc);
    if (rc || (rc = replica_map_decode(o, "partitions", &t.partitions, &t.n_partitions, e)))
        goto out;
    o = zkj_obj(r, "adding_replicas", false, e, &rc);
    if (rc || (o && (rc = replica_map_decode(o, "adding_replicas", &t.adding, &t.n_adding, e))))
        goto out;
    o = zkj_obj(r, "removing_replicas", false, e, &rc);
    if (rc || (o && (rc = replica_map_decode(o, "removing_replicas", &t.removing, &t.n_removing, e))))
        goto out;
    json_t *id = json_object_get(r, "topic_id");
    if (id) {
        if (!json_is_string(id) || proto_uuid_from_base64(json_string_value(id), &t.topic_id)) {
            zkj_err(e, "topic_id: expected a base64url Uuid string");
            rc = FERRY_EPARSE;
            goto out;
        }
        t.has_topic_id = true;
    }
    *out = t;
    memset(&t, 0, sizeof t);
out:
    zk_topic_assignment_free(&t);
    json_decref(r);
    return rc;
}

int zk_topic_assignment_encode(const zk_topic_assignment *t, char **out, size_t *out_len)
{
    *out = NULL;
    json_t *r = json_object();
    if (!r)
        return FERRY_ENOMEM;
    SET(r, "version", json_integer(t->version));
    SET(r, "partitions", replica_map_encode(t->partitions, t->n_partitions));
    if (t->version >= 2) {
        SET(r, "adding_replicas", replica_map_encode(t->adding, t->n_adding));
        SET(r, "removing_replicas", replica_map_encode(t->removing, t->n_removing));
    }
    if (t->version >= 3 && t->has_topic_id) {
        char b[PROTO_UUID_B64_LEN + 1];
        proto_uuid_to_base64(t->topic_id, b);
        SET(r, "topic_id", json_string(b));
    }
    int rc = zkj_dump(r, out, out_len);
    json_decref(r);
    return rc;
fail:
    json_decref(r);
    return FERRY_ENOMEM;
}

/* ---- partition state ---- */

void zk_partition_state_free(zk_partition_state *s)
{
    ferry_free(s->isr);
    memset(s, 0, sizeof *s);
}

int zk_partition_state_decode(const char *data, size_t len, zk_partition_state *out, zk_err *e)
{
    memset(out, 0, sizeof *out);
    json_t *r;
    int rc = zkj_load(data, len, &r, e);
    if (rc)
        return rc;
    zk_partition_state s = {0};
    int64_t v;
    bool present;
    if ((rc = zkj_version(r, 1, 1, &v, e)))
        goto out;
    if ((rc = zkj_int(r, "controller_epoch", true, INT32_MIN, INT32_MAX, &v, NULL, e)))
        goto out;
    s.controller_epoch = (int32_t)v;
    if ((rc = zkj_int(r, "leader", true, INT32_MIN, INT32_MAX, &v, NULL, e)))
        goto out;
    s.leader = (int32_t)v;
    if ((rc = zkj_int(r, "leader_epoch", true, INT32_MIN, INT32_MAX, &v, NULL, e)))
        goto out;
    s.leader_epoch = (int32_t)v;
    json_t *isr = zkj_arr(r, "isr", e, &rc);
    if (rc || (rc = zkj_int32_array(isr, "isr", &s.isr, &s.n_isr, e)))
        goto out;
    if ((rc = zkj_int(r, "leader_recovery_state", false, 0, 1, &v, &present, e)))
        goto out;
    s.leader_recovery_state = present ? (int8_t)v : 0;
    *out = s;
    memset(&s, 0, sizeof s);
out:
    zk_partition_state_free(&s);
    json_decref(r);
    return rc;
}

int zk_partition_state_encode(const zk_partition_state *s, char **out, size_t *out_len)
{
    *out = NULL;
    json_t *r = json_object();
    if (!r)
        return FERRY_ENOMEM;
    SET(r, "controller_epoch", json_integer(s->controller_epoch));
    SET(r, "leader", json_integer(s->leader));
    SET(r, "version", json_integer(1));
    SET(r, "leader_epoch", json_integer(s->leader_epoch));
    SET(r, "isr", zkj_int_array(s->isr, s->n_isr));
    if (s->leader_recovery_state == 1)
        SET(r, "leader_recovery_state", json_integer(1));
    int rc = zkj_dump(r, out, out_len);
    json_decref(r);
    return rc;
fail:
    json_decref(r);
    return FERRY_ENOMEM;
}

bool zk_topic_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}
