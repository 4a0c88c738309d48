/* znode_brokers: codecs for the cluster-level znodes: /brokers/ids/<id>, /controller, /controller_epoch,
 * /cluster/id, /feature, /latest_producer_id_block, /brokers/seqid and /migration (see znode_codec.h for
 * ownership: decoded structs own ferry_malloc'd members, encoders return a ferry_malloc'd string). */
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

static char *tsstr(int64_t v, char buf[24])
{
    snprintf(buf, 24, "%lld", (long long)v);
    return buf;
}

/* ---- /brokers/ids/<id> ---- */

void zk_broker_info_free(zk_broker_info *b)
{
    zk_str_map_free(&b->protocol_map);
    for (size_t i = 0; i < b->n_endpoints; i++)
        ferry_free(b->endpoints[i]);
    ferry_free(b->endpoints);
    ferry_free(b->rack);
    ferry_free(b->host);
    for (size_t i = 0; i < b->n_features; i++)
        ferry_free(b->features[i].name);
    ferry_free(b->features);
    memset(b, 0, sizeof *b);
}

static int broker_features(json_t *f, zk_broker_info *b, zk_err *e)
{
    size_t cnt = json_object_size(f);
    b->features = ferry_calloc(cnt ? cnt : 1, sizeof *b->features);
    if (!b->features) {
        zkj_err(e, "out of memory");
        return FERRY_ENOMEM;
    }
    const char *k;
    json_t *v;
    json_object_foreach(f, k, v) {
        if (!json_is_object(v)) {
            zkj_err(e, "features.\"%s\": expected an object", k);
            return FERRY_EPARSE;
        }
        int64_t mn, mx;
        int rc = zkj_int(v, "min_version", true, INT16_MIN, INT16_MAX, &mn, NULL, e);
        if (!rc)
            rc = zkj_int(v, "max_version", true, INT16_MIN, INT16_MAX, &mx, NULL, e);
        if (rc) {
            char m[sizeof e->msg];
            if (e) {
                snprintf(m, sizeof m, "features.\"%s\".%s", k, e->msg);
                memcpy(e->msg, m, sizeof m);
            }
            return rc;
        }
        zk_broker_feature *bf = &b->features[b->n_features];
        bf->name = ferry_strdup(k);
        if (!bf->name) {
            zkj_err(e, "out of memory");
            return FERRY_ENOMEM;
        }
        bf->min_version = (int16_t)mn;
        bf->max_version = (int16_t)mx;
        b->n_features++;
    }
    return 0;
}

int zk_broker_info_decode(const char *data, size_t len, zk_broker_info *out, zk_err *e)
{
    memset(out, 0, sizeof *out);
    json_t *r;
    int rc = zkj_load(data, len, &r, e);
    if (rc)
        return rc;
    zk_broker_info b = {0};
    int64_t v;
    if ((rc = zkj_version(r, 4, 5, &v, e)))
        goto out;
    b.version = (int32_t)v;
    json_t *m = zkj_obj(r, "listener_security_protocol_map", true, e, &rc);
    if (rc || (rc = zkj_str_map_decode(m, "listener_security_protocol_map", &b.protocol_map, e)))
        goto out;
    json_t *eps = zkj_arr(r, "endpoints", e, &rc);
    if (rc)
        goto out;
    size_t cnt = json_array_size(eps);
    b.endpoints = ferry_calloc(cnt ? cnt : 1, sizeof *b.endpoints);
    if (!b.endpoints) {
        zkj_err(e, "out of memory");
        rc = FERRY_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < cnt; i++) {
        json_t *x = json_array_get(eps, i);
        if (!json_is_string(x) || strlen(json_string_value(x)) != json_string_length(x)) {
            zkj_err(e, "endpoints[%zu]: expected a string", i);
            rc = FERRY_EPARSE;
            goto out;
        }
        zk_endpoint ep;
        if ((rc = zk_endpoint_parse(json_string_value(x), &ep))) {
            if (rc == FERRY_ENOMEM)
                zkj_err(e, "out of memory");
            else
                zkj_err(e, "endpoints[%zu]: not LISTENER://host:port", i);
            goto out;
        }
        zk_endpoint_free(&ep);
        if (!(b.endpoints[i] = ferry_strdup(json_string_value(x)))) {
            zkj_err(e, "out of memory");
            rc = FERRY_ENOMEM;
            goto out;
        }
        b.n_endpoints++;
    }
    if ((rc = zkj_str(r, "rack", false, true, &b.rack, e)))
        goto out;
    bool present;
    if ((rc = zkj_int(r, "jmx_port", false, INT32_MIN, INT32_MAX, &v, &present, e)))
        goto out;
    b.jmx_port = present ? (int32_t)v : -1;
    if ((rc = zkj_str(r, "host", true, true, &b.host, e)))
        goto out;
    if ((rc = zkj_int(r, "port", true, -1, 65535, &v, NULL, e)))
        goto out;
    b.port = (int32_t)v;
    if ((rc = zkj_strnum(r, "timestamp", INT64_MIN, INT64_MAX, &b.timestamp, e)))
        goto out;
    if (b.version >= 5) {
        json_t *f = zkj_obj(r, "features", true, e, &rc);
        if (rc || (rc = broker_features(f, &b, e)))
            goto out;
    }
    *out = b;
    memset(&b, 0, sizeof b);
out:
    zk_broker_info_free(&b);
    json_decref(r);
    return rc;
}

int zk_broker_info_encode(const zk_broker_info *b, char **out, size_t *out_len)
{
    char ts[24];
    *out = NULL;
    json_t *r = json_object();
    if (!r)
        return FERRY_ENOMEM;
    if (b->version >= 5) {
        json_t *f = json_object();
        SET(r, "features", f);
        for (size_t i = 0; i < b->n_features; i++) {
            json_t *x = json_object();
            SET(f, b->features[i].name, x);
            SET(x, "min_version", json_integer(b->features[i].min_version));
            SET(x, "max_version", json_integer(b->features[i].max_version));
        }
    }
    SET(r, "listener_security_protocol_map", zkj_str_map_encode(&b->protocol_map));
    json_t *eps = json_array();
    SET(r, "endpoints", eps);
    for (size_t i = 0; i < b->n_endpoints; i++)
        if (json_array_append_new(eps, json_string(b->endpoints[i])))
            goto fail;
    SET(r, "jmx_port", json_integer(b->jmx_port));
    SET(r, "port", json_integer(b->port));
    SET(r, "host", b->host ? json_string(b->host) : json_null());
    SET(r, "version", json_integer(b->version));
    SET(r, "timestamp", json_string(tsstr(b->timestamp, ts)));
    if (b->rack)
        SET(r, "rack", json_string(b->rack));
    int rc = zkj_dump(r, out, out_len);
    json_decref(r);
    return rc;
fail:
    json_decref(r);
    return FERRY_ENOMEM;
}

/* ---- /controller ---- */

int zk_controller_decode(const char *data, size_t len, zk_controller *out, zk_err *e)
{
    memset(out, 0, sizeof *out);
    json_t *r;
    int rc = zkj_load(data, len, &r, e);
    if (rc)
        return rc;
    zk_controller c = {0};
    int64_t v;
    bool present;
    if ((rc = zkj_version(r, 1, 2, &v, e)))
        goto out;
    c.version = (int32_t)v;
    if ((rc = zkj_int(r, "brokerid", true, INT32_MIN, INT32_MAX, &v, NULL, e)))
        goto out;
    c.broker_id = (int32_t)v;
    if ((rc = zkj_strnum(r, "timestamp", INT64_MIN, INT64_MAX, &c.timestamp, e)))
        goto out;
    if ((rc = zkj_int(r, "kraftControllerEpoch", false, INT32_MIN, INT32_MAX, &v, &present, e)))
        goto out;
    c.has_kraft_controller_epoch = present;
    c.kraft_controller_epoch = present ? (int32_t)v : -1;
    *out = c;
out:
    json_decref(r);
    return rc;
}

int zk_controller_encode(const zk_controller *c, char **out, size_t *out_len)
{
    char ts[24];
    *out = NULL;
    json_t *r = json_object();
    if (!r)
        return FERRY_ENOMEM;
    SET(r, "version", json_integer(c->version));
    SET(r, "brokerid", json_integer(c->broker_id));
    SET(r, "timestamp", json_string(tsstr(c->timestamp, ts)));
    if (c->has_kraft_controller_epoch)
        SET(r, "kraftControllerEpoch", json_integer(c->kraft_controller_epoch));
    int rc = zkj_dump(r, out, out_len);
    json_decref(r);
    return rc;
fail:
    json_decref(r);
    return FERRY_ENOMEM;
}

/* ---- /controller_epoch ---- */

int zk_controller_epoch_decode(const char *data, size_t len, int32_t *epoch, zk_err *e)
{
    int64_t v;
    if (!data || len == 0) {
        zkj_err(e, "controller_epoch: empty");
        return FERRY_EPARSE;
    }
    int rc = zkj_parse_dec(data, len, false, INT32_MIN, INT32_MAX, &v);
    if (rc) {
        zkj_err(e, "controller_epoch: %s", rc == FERRY_ERANGE ? "out of int32 range" : "not a decimal integer");
        return rc;
    }
    *epoch = (int32_t)v;
    return 0;
}

int zk_controller_epoch_encode(int32_t epoch, char **out, size_t *out_len)
{
    char buf[16];
    int n = snprintf(buf, sizeof buf, "%d", (int)epoch);
    *out = ferry_strdup(buf);
    if (!*out)
        return FERRY_ENOMEM;
    if (out_len)
        *out_len = (size_t)n;
    return 0;
}

/* ---- /cluster/id ---- */

void zk_cluster_id_free(zk_cluster_id *c)
{
    ferry_free(c->id);
    c->id = NULL;
}

int zk_cluster_id_decode(const char *data, size_t len, zk_cluster_id *out, zk_err *e)
{
    memset(out, 0, sizeof *out);
    json_t *r;
    int rc = zkj_load(data, len, &r, e);
    if (rc)
        return rc;
    json_t *v = json_object_get(r, "version");
    if (!v) {
        zkj_err(e, "version: missing");
        rc = FERRY_EPARSE;
    } else if (!json_is_string(v)) {
        zkj_err(e, "version: expected a string");
        rc = FERRY_EPARSE;
    } else if (strcmp(json_string_value(v), "1") != 0) {
        zkj_err(e, "version: \"%s\" is not supported (\"1\")", json_string_value(v));
        rc = FERRY_EUNSUPPORTED;
    } else if (!(rc = zkj_str(r, "id", true, false, &out->id, e)) && out->id[0] == '\0') {
        zkj_err(e, "id: empty");
        zk_cluster_id_free(out);
        rc = FERRY_EPARSE;
    }
    json_decref(r);
    return rc;
}

int zk_cluster_id_encode(const zk_cluster_id *c, char **out, size_t *out_len)
{
    *out = NULL;
    json_t *r = json_object();
    if (!r)
        return FERRY_ENOMEM;
    SET(r, "version", json_string("1"));
    SET(r, "id", json_string(c->id ? c->id : ""));
    int rc = zkj_dump(r, out, out_len);
    json_decref(r);
    return rc;
fail:
    json_decref(r);
    return FERRY_ENOMEM;
}

/* ---- /feature ---- */

void zk_feature_free(zk_feature_znode *f)
{
    for (size_t i = 0; i < f->n_features; i++)
        ferry_free(f->features[i].name);
    ferry_free(f->features);
    memset(f, 0, sizeof *f);
}

int zk_feature_decode(const char *data, size_t len, zk_feature_znode *out, zk_err *e)
{
    memset(out, 0, sizeof *out);
    json_t *r;
    int rc = zkj_load(data, len, &r, e);
    if (rc)
        return rc;
    zk_feature_znode f = {0};
    int64_t v;
    if ((rc = zkj_version(r, 1, 2, &v, e)))
        goto out;
    f.version = (int32_t)v;
    if ((rc = zkj_int(r, "status", true, 0, 1, &v, NULL, e)))
        goto out;
    f.status = (int32_t)v;
    json_t *fo = zkj_obj(r, "features", true, e, &rc);
    if (rc)
        goto out;
    size_t cnt = json_object_size(fo);
    f.features = ferry_calloc(cnt ? cnt : 1, sizeof *f.features);
    if (!f.features) {
        zkj_err(e, "out of memory");
        rc = FERRY_ENOMEM;
        goto out;
    }
    const char *k;
    json_t *x;
    json_object_foreach(fo, k, x) {
        zk_feature_level *l = &f.features[f.n_features];
        if (!json_is_object(x)) {
            zkj_err(e, "features.\"%s\": expected an object", k);
            rc = FERRY_EPARSE;
            goto out;
        }
        bool has_min;
        int64_t mn = 0, mx;
        if ((rc = zkj_int(x, "min_version_level", f.version == 1, INT16_MIN, INT16_MAX, &mn, &has_min, e)) ||
            (rc = zkj_int(x, "max_version_level", true, INT16_MIN, INT16_MAX, &mx, NULL, e))) {
            if (e) {
                char m[sizeof e->msg];
                snprintf(m, sizeof m, "features.\"%s\".%s", k, e->msg);
                memcpy(e->msg, m, sizeof m);
            }
            goto out;
        }
        if (!(l->name = ferry_strdup(k))) {
            zkj_err(e, "out of memory");
            rc = FERRY_ENOMEM;
            goto out;
        }
        l->has_min = has_min;
        l->min_version_level = (int16_t)mn;
        l->max_version_level = (int16_t)mx;
        f.n_features++;
    }
    *out = f;
    memset(&f, 0, sizeof f);
out:
    zk_feature_free(&f);
    json_decref(r);
    return rc;
}

int zk_feature_encode(const zk_feature_znode *f, char **out, size_t *out_len)
{
    *out = NULL;
    json_t *r = json_object();
    if (!r)
        return FERRY_ENOMEM;
    json_t *fo = json_object();
    SET(r, "features", fo);
    for (size_t i = 0; i < f->n_features; i++) {
        json_t *x = json_object();
        SET(fo, f->features[i].name, x);
        if (f->features[i].has_min || f->version == 1)
            SET(x, "min_version_level", json_integer(f->features[i].min_version_level));
        SET(x, "max_version_level", json_integer(f->features[i].max_version_level));
    }
    SET(r, "version", json_integer(f->version));
    SET(r, "status", json_integer(f->status));
    int rc = zkj_dump(r, out, out_len);
    json_decref(r);
    return rc;
fail:
    json_decref(r);
    return FERRY_ENOMEM;
}

/* ---- /latest_producer_id_block ---- */

int zk_producer_id_block_decode(const char *data, size_t len, zk_producer_id_block *out, zk_err *e)
{
    memset(out, 0, sizeof *out);
    json_t *r;
    int rc = zkj_load(data, len, &r, e);
    if (rc)
        return rc;
    zk_producer_id_block p = {0};
    int64_t v;
    if ((rc = zkj_version(r, 1, 1, &v, e)))
        goto out;
    if ((rc = zkj_int(r, "broker", true, INT32_MIN, INT32_MAX, &v, NULL, e)))
        goto out;
    p.broker = (int32_t)v;
    if ((rc = zkj_strnum(r, "block_start", 0, INT64_MAX, &p.block_start, e)) ||
        (rc = zkj_strnum(r, "block_end", 0, INT64_MAX, &p.block_end, e)))
        goto out;
    if (p.block_end < p.block_start) {
        zkj_err(e, "block_end: below block_start");
        rc = FERRY_ERANGE;
        goto out;
    }
    *out = p;
out:
    json_decref(r);
    return rc;
}

int zk_producer_id_block_encode(const zk_producer_id_block *p, char **out, size_t *out_len)
{
    char a[24], b[24];
    *out = NULL;
    json_t *r = json_object();
    if (!r)
        return FERRY_ENOMEM;
    SET(r, "version", json_integer(1));
    SET(r, "broker", json_integer(p->broker));
    SET(r, "block_start", json_string(tsstr(p->block_start, a)));
    SET(r, "block_end", json_string(tsstr(p->block_end, b)));
    int rc = zkj_dump(r, out, out_len);
    json_decref(r);
    return rc;
fail:
    json_decref(r);
    return FERRY_ENOMEM;
}

/* ---- /brokers/seqid ---- */

int zk_seqid_broker_id(int32_t seq_zkversion, int32_t reserved_broker_max_id, int32_t *broker_id)
{
    if (seq_zkversion < 0 || reserved_broker_max_id < 0 || seq_zkversion > INT32_MAX - reserved_broker_max_id)
        return FERRY_ERANGE;
    *broker_id = seq_zkversion + reserved_broker_max_id;
    return 0;
}

/* ---- /migration ---- */

int zk_migration_decode(const char *data, size_t len, zk_migration_state *out, zk_err *e)
{
    memset(out, 0, sizeof *out);
    json_t *r;
    int rc = zkj_load(data, len, &r, e);
    if (rc)
        return rc;
    zk_migration_state m = {0};
    int64_t v;
    if ((rc = zkj_version(r, 0, 0, &v, e)))
        goto out;
    if ((rc = zkj_int(r, "kraft_controller_id", true, INT32_MIN, INT32_MAX, &v, NULL, e)))
        goto out;
    m.kraft_controller_id = (int32_t)v;
    if ((rc = zkj_int(r, "kraft_controller_epoch", true, INT32_MIN, INT32_MAX, &v, NULL, e)))
        goto out;
    m.kraft_controller_epoch = (int32_t)v;
    if ((rc = zkj_int(r, "kraft_metadata_offset", true, INT64_MIN, INT64_MAX, &m.kraft_metadata_offset, NULL, e)))
        goto out;
    if ((rc = zkj_int(r, "kraft_metadata_epoch", true, INT32_MIN, INT32_MAX, &v, NULL, e)))
        goto out;
    m.kraft_metadata_epoch = (int32_t)v;
    *out = m;
out:
    json_decref(r);
    return rc;
}

int zk_migration_encode(const zk_migration_state *m, char **out, size_t *out_len)
{
    *out = NULL;
    json_t *r = json_object();
    if (!r)
        return FERRY_ENOMEM;
    SET(r, "version", json_integer(0));
    SET(r, "kraft_controller_id", json_integer(m->kraft_controller_id));
    SET(r, "kraft_controller_epoch", json_integer(m->kraft_controller_epoch));
    SET(r, "kraft_metadata_offset", json_integer(m->kraft_metadata_offset));
    SET(r, "kraft_metadata_epoch", json_integer(m->kraft_metadata_epoch));
    int rc = zkj_dump(r, out, out_len);
    json_decref(r);
    return rc;
fail:
    json_decref(r);
    return FERRY_ENOMEM;
}

/* ---- endpoint strings ---- */

void zk_endpoint_free(zk_endpoint *ep)
{
    ferry_free(ep->listener);
    ferry_free(ep->host);
    memset(ep, 0, sizeof *ep);
}

int zk_endpoint_parse(const char *s, zk_endpoint *out)
{
    memset(out, 0, sizeof *out);
    const char *sep = strstr(s, "://");
    if (!sep || sep == s)
        return FERRY_EPARSE;
    const char *h = sep + 3;
    const char *colon = strrchr(h, ':');
    if (!colon)
        return FERRY_EPARSE;
    const char *he = colon;
    if (*h == '[') {
        if (he == h + 1 || he[-1] != ']')
            return FERRY_EPARSE;
        h++;
        he--;
    }
    for (const char *c = h; c < he; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '%' || *c == '.' || *c == '_' || *c == ':'))
            return FERRY_EPARSE;
    }
    int64_t port;
    int rc = zkj_parse_dec(colon + 1, strlen(colon + 1), false, 0, 65535, &port);
    if (rc)
        return rc;
    out->listener = ferry_strndup(s, (size_t)(sep - s));
    out->host = ferry_strndup(h, (size_t)(he - h));
    if (!out->listener || !out->host) {
        zk_endpoint_free(out);
        return FERRY_ENOMEM;
    }
    out->port = (int32_t)port;
    return 0;
}
