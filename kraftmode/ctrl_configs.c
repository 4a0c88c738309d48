/* ctrl_configs: AlterConfigs (replace-all) and IncrementalAlterConfigs on TOPIC and BROKER resources,
 * after Kafka 3.7's broker-side ConfigAdminManager.preprocess and the controller's
 * ConfigurationControlManager (see ctrl.h for the decisions on BROKER resources). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/config/topic_config.h"
#include "kraftmode/ctrl_internal.h"

#define MSG_LEN 1024

enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };

int ctrl_check_topic_configs(const struct ctrl_env *env, const char *const *keys, const char *const *values,
                             size_t n, char *msg, size_t msglen)
{
    struct topic_config tc;
    topic_config_init(&tc, env->broker_cfg);
    for (size_t i = 0; i < n; i++) {
        char err[512] = "";
        int rc = topic_config_set(&tc, keys[i], values[i], err, sizeof err);
        if (rc == FERRY_ENOTFOUND) {
            snprintf(msg, msglen, "Unknown topic config name: %s", keys[i]);
            return KERR_INVALID_CONFIG;
        }
        if (rc) {
            /* Kafka words it "Invalid value <v> for configuration <k>: <reason>" (ConfigException). */
            const char *why = strstr(err, "': ");
            snprintf(msg, msglen, "Invalid value %s for configuration %s: %s", values[i], keys[i],
                     why ? why + 3 : err);
            return KERR_INVALID_CONFIG;
        }
    }
    char err[512] = "";
    if (topic_config_validate(&tc, err, sizeof err)) {
        snprintf(msg, msglen, "%s", err);
        return KERR_INVALID_CONFIG;
    }
    return 0;
}

/* The overrides of one resource after a change: parallel key/value arrays (value NULL = removed). */
struct cfg_map {
    char **keys;
    char **values;
    size_t n, cap;
};

static void cfg_map_free(struct cfg_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        ferry_free(m->keys[i]);
        ferry_free(m->values[i]);
    }
    ferry_free(m->keys);
    ferry_free(m->values);
    memset(m, 0, sizeof *m);
}

static ssize_t cfg_map_find(const struct cfg_map *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0)
            return (ssize_t)i;
    return -1;
}

/* Sets key to value (NULL: removed). 0 or FERRY_ENOMEM. */
static int cfg_map_set(struct cfg_map *m, const char *key, const char *value)
{
    char *v = value ? ferry_strdup(value) : NULL;
    if (value && !v)
        return FERRY_ENOMEM;
    ssize_t i = cfg_map_find(m, key);
    if (i >= 0) {
        ferry_free(m->values[i]);
        m->values[i] = v;
        return 0;
    }
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 8;
        char **k = ferry_realloc(m->keys, ncap * sizeof *k);
        if (k)
            m->keys = k;
        char **vv = k ? ferry_realloc(m->values, ncap * sizeof *vv) : NULL;
        if (!vv) {
            ferry_free(v);
            return FERRY_ENOMEM;
        }
        m->values = vv;
        m->cap = ncap;
    }
    char *k = ferry_strdup(key);
    if (!k) {
        ferry_free(v);
        return FERRY_ENOMEM;
    }
    m->keys[m->n] = k;
    m->values[m->n++] = v;
    return 0;
}

static int cfg_map_from_image(struct cfg_map *m, const struct md_configs *c)
{
    for (int32_t i = 0; c && i < c->n; i++)
        if (cfg_map_set(m, c->entries[i].key, c->entries[i].value))
            return FERRY_ENOMEM;
    return 0;
}

/* Validates the final overrides of a topic (removed keys skipped). */
static int check_topic_map(const struct ctrl_env *env, const struct cfg_map *m, char *msg, size_t msglen)
{
    const char **k = ferry_malloc((m->n ? m->n : 1) * sizeof *k);
    const char **v = ferry_malloc((m->n ? m->n : 1) * sizeof *v);
    int rc = FERRY_ENOMEM;
    if (k && v) {
        size_t n = 0;
        for (size_t i = 0; i < m->n; i++) {
            if (m->values[i]) {
                k[n] = m->keys[i];
                v[n++] = m->values[i];
            }
        }
        rc = ctrl_check_topic_configs(env, k, v, n, msg, msglen);
    }
    ferry_free(k);
    ferry_free(v);
    return rc;
}

/* The TOPIC resource checks that follow the change itself (ControllerConfigurationValidator, then the
 * existence check): 0 or a KERR_* with msg. */
static int check_topic_resource(const struct md_image *img, const struct ctrl_env *env, const char *name,
                                const struct cfg_map *final_map, char *msg, size_t msglen)
{
    size_t len = strlen(name);
    if (len == 0) {
        snprintf(msg, msglen, "Default topic resources are not allowed.");
        return KERR_INVALID_REQUEST;
    }
    int rc = ctrl_validate_topic_name(name, len, msg, msglen);
    if (rc)
        return rc;
    rc = check_topic_map(env, final_map, msg, msglen);
    if (rc)
        return rc;
    if (!md_image_topic(img, name)) {
        snprintf(msg, msglen, "The topic '%s' does not exist.", name);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    return 0;
}

/* BROKER resource name: empty (cluster default) or this node's id. 0 or KERR_INVALID_REQUEST. */
static int check_broker_name(const struct ctrl_env *env, const char *name, char *msg, size_t msglen)
{
    if (!name[0])
        return 0;
    char *end;
    long id = strtol(name, &end, 10);
    if (*end || end == name || id < INT32_MIN || id > INT32_MAX) {
        snprintf(msg, msglen, "Node id must be an integer, but it is: %s", name);
        return KERR_INVALID_REQUEST;
    }
    if (id != env->node_id) {
        snprintf(msg, msglen, "Unexpected broker id, expected %d, but received %s", env->node_id, name);
        return KERR_INVALID_REQUEST;
    }
    return 0;
}

/* "Set(a, b)" as Scala prints the set of keys Kafka refuses to update dynamically. */
static void static_keys_message(char *msg, size_t msglen, const char *const *keys, size_t n)
{
    size_t used = (size_t)snprintf(msg, msglen, "Cannot update these configs dynamically: Set(");
    for (size_t i = 0; i < n && used < msglen; i++)
        used += (size_t)snprintf(msg + used, msglen - used, "%s%s", i ? ", " : "", keys[i]);
    if (used < msglen)
        snprintf(msg + used, msglen - used, ")");
}

static bool duplicate_keys(proto_str *names, size_t stride, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        const proto_str *a = (const proto_str *)((const char *)names + (size_t)i * stride);
        for (int32_t j = i + 1; j < n; j++) {
            const proto_str *b = (const proto_str *)((const char *)names + (size_t)j * stride);
            if (ctrl_str_same(*a, *b))
                return true;
        }
    }
    return false;
}

/* Same (type, name) as an earlier or later resource of the request. */
/* True when resource i appears again in the request (same type and name). */
static bool resource_duplicated(const int8_t *types, const proto_str *names, int32_t n, int32_t i)
{
    for (int32_t j = 0; j < n; j++)
        if (j != i && types[j] == types[i] && ctrl_str_same(names[j], names[i]))
            return true;
    return false;
}

/* Emits ConfigRecords turning `before` (the image) into `after`: changed keys get their value, keys of
 * `after` with a NULL value are deleted. `always`: emit even when unchanged (BROKER resources, as Kafka's
 * KAFKA-14136). */
static int emit_changes(struct ctrl_records *out, int8_t type, const char *name, const struct md_configs *before,
                        const struct cfg_map *after, bool always)
{
    for (size_t i = 0; i < after->n; i++) {
        const char *old = md_configs_get(before, after->keys[i]);
        const char *nv = after->values[i];
        bool same = (!old && !nv) || (old && nv && strcmp(old, nv) == 0);
        if (same && !always)
            continue;
        if (ctrl_add_config_record(out, type, name, after->keys[i], nv))
            return FERRY_ENOMEM;
    }
    return 0;
}

/* ---- AlterConfigs (legacy, replace-all) ---- */

static int alter_one(const struct md_image *img, const struct ctrl_env *env,
                     const struct AlterConfigsRequest_AlterConfigsResource *res, const char *name,
                     struct ctrl_records *out, char *msg, size_t msglen)
{
    int32_t n = res->Configs_n > 0 ? res->Configs_n : 0;
    if (n && duplicate_keys(&res->Configs[0].Name, sizeof *res->Configs, n)) {
        snprintf(msg, msglen, "Error due to duplicate config keys");
        return KERR_INVALID_REQUEST;
    }
    size_t used = 0;
    for (int32_t i = 0; i < n; i++) {
        if (res->Configs[i].Value.len < 0) {
            int w = snprintf(msg + used, msglen - used, "%s%.*s", used ? ", " : "Null value not supported for : ",
                             (int)res->Configs[i].Name.len, res->Configs[i].Name.p);
            if (w > 0 && (size_t)w < msglen - used)
                used += (size_t)w;
        }
    }
    if (used)
        return KERR_INVALID_REQUEST;
    const struct md_configs *cur = md_image_configs(img, res->ResourceType, name);
    struct cfg_map after = {0};
    int rc = 0;
    /* Replace-all: every given key set, every other current key deleted. */
    for (int32_t i = 0; i < n && !rc; i++) {
        char *k = ferry_strndup(res->Configs[i].Name.p, (size_t)res->Configs[i].Name.len);
        char *v = ferry_strndup(res->Configs[i].Value.p, (size_t)res->Configs[i].Value.len);
        rc = k && v ? cfg_map_set(&after, k, v) : FERRY_ENOMEM;
        ferry_free(k);
        ferry_free(v);
    }
    for (int32_t i = 0; cur && i < cur->n && !rc; i++)
        if (cfg_map_find(&after, cur->entries[i].key) < 0)
            rc = cfg_map_set(&after, cur->entries[i].key, NULL);
    if (rc)
        goto out;
    if (res->ResourceType == MD_RESOURCE_BROKER) {
        rc = check_broker_name(env, name, msg, msglen);
        if (!rc && n > 0) {
            const char **keys = ferry_malloc((size_t)n * sizeof *keys);
            if (!keys) {
                rc = FERRY_ENOMEM;
                goto out;
            }
            for (int32_t i = 0; i < n; i++)
                keys[i] = after.keys[i];
            static_keys_message(msg, msglen, keys, (size_t)n);
            ferry_free(keys);
            rc = KERR_INVALID_REQUEST;
        }
        if (!rc)
            rc = emit_changes(out, res->ResourceType, name, cur, &after, true);
    } else {
        rc = check_topic_resource(img, env, name, &after, msg, msglen);
        if (!rc)
            rc = emit_changes(out, res->ResourceType, name, cur, &after, false);
    }
out:
    cfg_map_free(&after);
    return rc;
}

static int resource_type_check(int8_t type, bool incremental, char *msg, size_t msglen)
{
    if (type == MD_RESOURCE_TOPIC || type == MD_RESOURCE_BROKER)
        return 0;
    if (type == MD_RESOURCE_BROKER_LOGGER && incremental)
        snprintf(msg, msglen, "BROKER_LOGGER resources are not supported by this broker.");
    else if (type == MD_RESOURCE_CLIENT_METRICS)
        snprintf(msg, msglen, "CLIENT_METRICS resources are not supported by this broker.");
    else
        snprintf(msg, msglen, "Unknown resource type %d", type);
    return KERR_INVALID_REQUEST;
}

/* Changes one resource of the request (index i) and appends its records; returns a Kafka error code (with
 * msg) or a negative FERRY_E*. */
typedef int (*alter_resource_fn)(const struct md_image *img, const struct ctrl_env *env, const void *req, int32_t i,
                                 const char *name, struct ctrl_records *out, char *msg, size_t msglen);

/* The loop AlterConfigs and IncrementalAlterConfigs share: per resource the duplicate, name and type checks,
 * then `alter`; a failed resource's records are dropped; an operation over the record limit fails as a
 * whole (POLICY_VIOLATION); validate_only keeps no records. Fills codes[i] and msgs[i]. */
static int alter_resources(const struct md_image *img, const struct ctrl_env *env, struct ctrl_ctx *c,
                           const void *req, int32_t n, const int8_t *types, const proto_str *names, bool incremental,
                           bool validate_only, alter_resource_fn alter, struct ctrl_records *out, int16_t *codes,
                           proto_str *msgs)
{
    size_t rec_start = out->n;
    int rc = 0;
    for (int32_t i = 0; i < n && !rc; i++) {
        char msg[MSG_LEN] = "";
        const char *name = ctrl_cstr(c, names[i]);
        size_t before = out->n;
        int code;
        if (resource_duplicated(types, names, n, i)) {
            snprintf(msg, sizeof msg, "Each resource must appear at most once.");
            code = KERR_INVALID_REQUEST;
        } else if (!name) {
            code = names[i].len < 0 ? KERR_INVALID_REQUEST : FERRY_ENOMEM;
            snprintf(msg, sizeof msg, "Invalid null resource name.");
        } else if ((code = resource_type_check(types[i], incremental, msg, sizeof msg)) == 0) {
            code = alter(img, env, req, i, name, out, msg, sizeof msg);
        }
        if (code < 0) {
            rc = code;
            break;
        }
        codes[i] = (int16_t)code;
        msgs[i] = code ? ctrl_strf(c, "%s", msg) : (proto_str){NULL, -1};
        if (code)
            ctrl_records_truncate(out, before);
    }
    if (!rc && out->n - rec_start > CTRL_MAX_RECORDS_PER_OP) {
        for (int32_t i = 0; i < n; i++) {
            codes[i] = KERR_POLICY_VIOLATION;
            msgs[i] = ctrl_strf(c, CTRL_TOO_LARGE_MESSAGE);
        }
        ctrl_records_truncate(out, rec_start);
    }
    if (validate_only || rc)
        ctrl_records_truncate(out, rec_start);
    return rc;
}

static int alter_resource(const struct md_image *img, const struct ctrl_env *env, const void *req, int32_t i,
                          const char *name, struct ctrl_records *out, char *msg, size_t msglen)
{
    return alter_one(img, env, &((const struct AlterConfigsRequest *)req)->Resources[i], name, out, msg, msglen);
}

int ctrl_alter_configs(const struct md_image *img, const struct ctrl_env *env, const struct AlterConfigsRequest *req,
                       int16_t version, struct proto_arena *a, struct AlterConfigsResponse *resp,
                       struct ctrl_records *out)
{
    (void)version;
    struct ctrl_ctx c = {a, false};
    proto_struct_init(proto_msg_AlterConfigsResponse.body, resp);
    int32_t n = req->Resources_n > 0 ? req->Resources_n : 0;
    resp->Responses = proto_array_new(a, &desc_AlterConfigsResponse_AlterConfigsResourceResponse, n);
    resp->Responses_n = n;
    int8_t *types = proto_arena_alloc(a, sizeof *types * (size_t)(n + 1));
    proto_str *names = proto_arena_alloc(a, sizeof *names * (size_t)(n + 1));
    int16_t *codes = proto_arena_alloc(a, sizeof *codes * (size_t)(n + 1));
    proto_str *msgs = proto_arena_alloc(a, sizeof *msgs * (size_t)(n + 1));
    if (!resp->Responses || !types || !names || !codes || !msgs)
        return FERRY_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        types[i] = req->Resources[i].ResourceType;
        names[i] = req->Resources[i].ResourceName;
    }
    int rc = alter_resources(img, env, &c, req, n, types, names, false, req->ValidateOnly, alter_resource, out,
                             codes, msgs);
    for (int32_t i = 0; i < n; i++) {
        struct AlterConfigsResponse_AlterConfigsResourceResponse *r = &resp->Responses[i];
        r->ResourceType = types[i];
        r->ResourceName = ctrl_copy(&c, names[i]);
        r->ErrorCode = codes[i];
        r->ErrorMessage = msgs[i];
    }
    return rc ? rc : c.oom ? FERRY_ENOMEM : 0;
}

/* ---- IncrementalAlterConfigs ---- */

static bool key_is_list(const char *key)
{
    int idx = topic_config_index(key);
    if (idx < 0)
        return false;
    struct topic_config tc;
    topic_config_init(&tc, NULL);
    struct topic_config_entry e;
    char buf[512];
    return topic_config_describe_at(&tc, (size_t)idx, &e, buf, sizeof buf) == 0 && e.type == CONFIG_TYPE_LIST;
}

/* Kafka's getParts + APPEND/SUBTRACT: the list value after the operation, in a ferry_malloc'd string. */
static char *list_op(const char *current, const char *operand, bool append)
{
    size_t cap = (current ? strlen(current) : 0) + strlen(operand) + 2;
    char *out = ferry_malloc(cap);
    char *cur = current ? ferry_strdup(current) : ferry_strdup("");
    char *ops = ferry_strdup(operand);
    if (!out || !cur || !ops) {
        ferry_free(out);
        ferry_free(cur);
        ferry_free(ops);
        return NULL;
    }
    /* Parts of the current value (non-empty). */
    char *parts[256];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(cur, ",", &save); t && n < 256; t = strtok_r(NULL, ",", &save))
        parts[n++] = t;
    for (char *save = NULL, *t = strtok_r(ops, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < n && strcmp(parts[i], t) != 0)
            i++;
        if (append && i == n && n < 256)
            parts[n++] = t;
        else if (!append && i < n) {
            memmove(&parts[i], &parts[i + 1], (n - i - 1) * sizeof *parts);
            n--;
        }
    }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(out, ",");
        strcat(out, parts[i]);
    }
    ferry_free(cur);
    ferry_free(ops);
    return out;
}

static int incremental_one(const struct md_image *img, const struct ctrl_env *env,
                           const struct IncrementalAlterConfigsRequest_AlterConfigsResource *res, const char *name,
                           struct ctrl_records *out, char *msg, size_t msglen)
{
    int32_t n = res->Configs_n > 0 ? res->Configs_n : 0;
    if (n && duplicate_keys(&res->Configs[0].Name, sizeof *res->Configs, n)) {
        snprintf(msg, msglen, "Error due to duplicate config keys");
        return KERR_INVALID_REQUEST;
    }
    size_t used = 0;
    for (int32_t i = 0; i < n; i++) {
        const struct IncrementalAlterConfigsRequest_AlterableConfig *cf = &res->Configs[i];
        if (cf->ConfigOperation != OP_DELETE && cf->Value.len < 0) {
            int w = snprintf(msg + used, msglen - used, "%s%.*s", used ? ", " : "Null value not supported for : ",
                             (int)cf->Name.len, cf->Name.p);
            if (w > 0 && (size_t)w < msglen - used)
                used += (size_t)w;
        }
    }
    if (used)
        return KERR_INVALID_REQUEST;
    for (int32_t i = 0; i < n; i++) {
        if (res->Configs[i].ConfigOperation < OP_SET || res->Configs[i].ConfigOperation > OP_SUBTRACT) {
            snprintf(msg, msglen, "Unknown operations type %d", res->Configs[i].ConfigOperation);
            return KERR_INVALID_REQUEST;
        }
    }
    bool broker = res->ResourceType == MD_RESOURCE_BROKER;
    if (broker) {
        int rc = check_broker_name(env, name, msg, msglen);
        if (rc)
            return rc;
        const char **keys = ferry_malloc((size_t)(n ? n : 1) * sizeof *keys);
        if (!keys)
            return FERRY_ENOMEM;
        struct ctrl_ctx kc = {out->a, false};
        size_t k = 0;
        for (int32_t i = 0; i < n; i++)
            if (res->Configs[i].ConfigOperation != OP_DELETE)
                keys[k++] = ctrl_cstr(&kc, res->Configs[i].Name);
        for (size_t i = 0; i < k; i++)
            if (!keys[i])
                rc = FERRY_ENOMEM;
        if (!rc && k) {
            static_keys_message(msg, msglen, keys, k);
            rc = KERR_INVALID_REQUEST;
        }
        ferry_free(keys);
        if (rc)
            return rc;
    }
    const struct md_configs *cur = md_image_configs(img, res->ResourceType, name);
    struct cfg_map changes = {0}, final_map = {0};
    int rc = cfg_map_from_image(&final_map, cur);
    for (int32_t i = 0; i < n && !rc; i++) {
        const struct IncrementalAlterConfigsRequest_AlterableConfig *cf = &res->Configs[i];
        char *key = ferry_strndup(cf->Name.p ? cf->Name.p : "", (size_t)(cf->Name.len > 0 ? cf->Name.len : 0));
        char *val = cf->Value.len >= 0 ? ferry_strndup(cf->Value.p ? cf->Value.p : "", (size_t)cf->Value.len) : NULL;
        char *nv = NULL;
        if (!key || (cf->Value.len >= 0 && !val)) {
            rc = FERRY_ENOMEM;
        } else if (cf->ConfigOperation == OP_SET) {
            rc = cfg_map_set(&changes, key, val);
        } else if (cf->ConfigOperation == OP_DELETE) {
            rc = cfg_map_set(&changes, key, NULL);
        } else if (!key_is_list(key)) {
            snprintf(msg, msglen, "Can't %s to key %s because its type is not LIST.",
                     cf->ConfigOperation == OP_APPEND ? "APPEND" : "SUBTRACT", key);
            rc = KERR_INVALID_CONFIG;
        } else {
            const char *current = md_configs_get(cur, key);
            char dflt[512];
            if (!current) {
                struct topic_config tc;
                topic_config_init(&tc, env->broker_cfg);
                if (topic_config_get(&tc, key, dflt, sizeof dflt) == 0)
                    current = dflt;
            }
            nv = list_op(current, val, cf->ConfigOperation == OP_APPEND);
            rc = nv ? cfg_map_set(&changes, key, nv) : FERRY_ENOMEM;
        }
        ferry_free(key);
        ferry_free(val);
        ferry_free(nv);
    }
    for (size_t i = 0; i < changes.n && !rc; i++)
        rc = cfg_map_set(&final_map, changes.keys[i], changes.values[i]);
    if (!rc && !broker)
        rc = check_topic_resource(img, env, name, &final_map, msg, msglen);
    if (!rc)
        rc = emit_changes(out, res->ResourceType, name, cur, &changes, broker);
    cfg_map_free(&changes);
    cfg_map_free(&final_map);
    return rc;
}

static int incremental_resource(const struct md_image *img, const struct ctrl_env *env, const void *req, int32_t i,
                                const char *name, struct ctrl_records *out, char *msg, size_t msglen)
{
    return incremental_one(img, env, &((const struct IncrementalAlterConfigsRequest *)req)->Resources[i], name, out,
                           msg, msglen);
}

int ctrl_incremental_alter_configs(const struct md_image *img, const struct ctrl_env *env,
                                   const struct IncrementalAlterConfigsRequest *req, int16_t version,
                                   struct proto_arena *a, struct IncrementalAlterConfigsResponse *resp,
                                   struct ctrl_records *out)
{
    (void)version;
    struct ctrl_ctx c = {a, false};
    proto_struct_init(proto_msg_IncrementalAlterConfigsResponse.body, resp);
    int32_t n = req->Resources_n > 0 ? req->Resources_n : 0;
    resp->Responses = proto_array_new(a, &desc_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse, n);
    resp->Responses_n = n;
    int8_t *types = proto_arena_alloc(a, sizeof *types * (size_t)(n + 1));
    proto_str *names = proto_arena_alloc(a, sizeof *names * (size_t)(n + 1));
    int16_t *codes = proto_arena_alloc(a, sizeof *codes * (size_t)(n + 1));
    proto_str *msgs = proto_arena_alloc(a, sizeof *msgs * (size_t)(n + 1));
    if (!resp->Responses || !types || !names || !codes || !msgs)
        return FERRY_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        types[i] = req->Resources[i].ResourceType;
        names[i] = req->Resources[i].ResourceName;
    }
    int rc = alter_resources(img, env, &c, req, n, types, names, true, req->ValidateOnly, incremental_resource, out,
                             codes, msgs);
    for (int32_t i = 0; i < n; i++) {
        struct IncrementalAlterConfigsResponse_AlterConfigsResourceResponse *r = &resp->Responses[i];
        r->ResourceType = types[i];
        r->ResourceName = ctrl_copy(&c, names[i]);
        r->ErrorCode = codes[i];
        r->ErrorMessage = msgs[i];
    }
    return rc ? rc : c.oom ? FERRY_ENOMEM : 0;
}
