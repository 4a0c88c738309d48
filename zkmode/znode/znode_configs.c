/* znode_configs: codecs for /config/<type>/<entity> (version 1, string values) and the change
 * notifications /config/changes/config_change_N (version 2 entity_path; version 1 read), plus the parser
 * of sequential child names. Decoded structs own their ferry_malloc'd strings (zk_*_free). */
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

void zk_config_entity_free(zk_config_entity *c)
{
    zk_str_map_free(&c->config);
}

int zk_config_entity_decode(const char *data, size_t len, zk_config_entity *out, zk_err *e)
{
    memset(out, 0, sizeof *out);
    json_t *r;
    int rc = zkj_load(data, len, &r, e);
    if (rc)
        return rc;
    int64_t v;
    if ((rc = zkj_version(r, 1, 1, &v, e)))
        goto out;
    json_t *o = zkj_obj(r, "config", true, e, &rc);
    if (!rc)
        rc = zkj_str_map_decode(o, "config", &out->config, e);
out:
    json_decref(r);
    return rc;
}

int zk_config_entity_encode(const zk_config_entity *c, char **out, size_t *out_len)
{
    *out = NULL;
    json_t *r = json_object();
    if (!r)
        return FERRY_ENOMEM;
    SET(r, "version", json_integer(1));
    SET(r, "config", zkj_str_map_encode(&c->config));
    int rc = zkj_dump(r, out, out_len);
    json_decref(r);
    return rc;
fail:
    json_decref(r);
    return FERRY_ENOMEM;
}

void zk_config_change_free(zk_config_change *c)
{
    ferry_free(c->entity_path);
    ferry_free(c->entity_type);
    ferry_free(c->entity_name);
    memset(c, 0, sizeof *c);
}

int zk_config_change_decode(const char *data, size_t len, zk_config_change *out, zk_err *e)
{
    memset(out, 0, sizeof *out);
    json_t *r;
    int rc = zkj_load(data, len, &r, e);
    if (rc)
        return rc;
    zk_config_change c = {0};
    int64_t v;
    if ((rc = zkj_version(r, 1, 2, &v, e)))
        goto out;
    c.version = (int32_t)v;
    if (v == 2) {
        if ((rc = zkj_str(r, "entity_path", true, false, &c.entity_path, e)))
            goto out;
        if (!c.entity_path[0]) {
            zkj_err(e, "entity_path: empty");
            rc = FERRY_EPARSE;
            goto out;
        }
    } else if ((rc = zkj_str(r, "entity_type", true, false, &c.entity_type, e)) ||
               (rc = zkj_str(r, "entity_name", true, false, &c.entity_name, e))) {
        goto out;
    }
    *out = c;
    memset(&c, 0, sizeof c);
out:
    zk_config_change_free(&c);
    json_decref(r);
    return rc;
}

int zk_config_change_encode(const zk_config_change *c, char **out, size_t *out_len)
{
    *out = NULL;
    json_t *r = json_object();
    if (!r)
        return FERRY_ENOMEM;
    SET(r, "version", json_integer(c->version));
    if (c->version == 1) {
        SET(r, "entity_type", json_string(c->entity_type ? c->entity_type : ""));
        SET(r, "entity_name", json_string(c->entity_name ? c->entity_name : ""));
    } else {
        SET(r, "entity_path", json_string(c->entity_path ? c->entity_path : ""));
    }
    int rc = zkj_dump(r, out, out_len);
    json_decref(r);
    return rc;
fail:
    json_decref(r);
    return FERRY_ENOMEM;
}

int zk_sequential_parse(const char *prefix, const char *name, int64_t *seq)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0)
        return FERRY_EPARSE;
    const char *d = name + pl;
    if (strlen(d) != 10)
        return FERRY_EPARSE;
    return zkj_parse_dec(d, 10, false, 0, INT32_MAX, seq) ? FERRY_EPARSE : 0;
}
