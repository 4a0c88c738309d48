/* config_load: collect the raw texts (built-in single node or YAML file, then --set overrides), parse
 * every key of the table into its typed field, derive Kafka's effective values, then hand over to the
 * listener (config_net.c) and cross-key (config_check.c) steps. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/config/config_internal.h"
#include "broker/config/config_keys.h"

/* `ferry server` with no config file: one node in quorum mode (examples/single-node.yaml). Its voter is
 * derived from the controller listener after overrides (config_net.c), so `--set listeners=...` on other
 * ports keeps a consistent quorum. */
static const char *const builtin_single_node[][2] = {
    {"process.roles", "broker,controller"},
    {"node.id", "1"},
    {"listeners", "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"},
    {"controller.listener.names", "CONTROLLER"},
    {"log.dirs", "./ferry-data"},
    /* one node: __consumer_offsets with one replica, as Kafka's config/kraft/server.properties */
    {"offsets.topic.replication.factor", "1"},
};

int config_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int config_invalid(char *err, size_t errlen, const char *key, const char *value, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "invalid value '%s' for key '%s': ", value ? value : "", key);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return FERRY_EINVAL;
}

const char *config_given(const struct ferry_config *cfg, const char *key)
{
    int i = config_key_find(key);
    return i >= 0 && cfg->given ? cfg->given[i] : NULL;
}

const char *config_text(const struct ferry_config *cfg, const char *key)
{
    int i = config_key_find(key);
    if (i < 0)
        return NULL;
    return cfg->given && cfg->given[i] ? cfg->given[i] : config_keys[i].dflt;
}

/* Record `value` (NULL = back to the default) for `key`; later calls win. Unknown keys are warned about. */
static int give_text(struct ferry_config *cfg, const char *where, const char *key, const char *value)
{
    int i = config_key_find(key);
    if (i < 0) {
        LOG_WARN("config", "%s: unknown configuration key '%s' ignored", where, key);
        return 0;
    }
    char *copy = NULL;
    if (value && !(copy = config_trim_dup(value, strlen(value))))
        return FERRY_ENOMEM;
    ferry_free(cfg->given[i]);
    cfg->given[i] = copy;
    return 0;
}

struct file_ctx {
    struct ferry_config *cfg;
    const char *path;
};

static int give_from_file(void *ctx, const char *key, const char *value, int line)
{
    struct file_ctx *fc = ctx;
    char where[512];
    snprintf(where, sizeof where, "%s:%d", fc->path, line);
    return give_text(fc->cfg, where, key, value);
}

static int give_override(struct ferry_config *cfg, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return config_fail(FERRY_EINVAL, err, errlen, "invalid override '%s': expected KEY=VALUE", kv);
    char *key = config_trim_dup(kv, (size_t)(eq - kv));
    if (!key)
        return config_fail(FERRY_ENOMEM, err, errlen, "out of memory");
    int rc = give_text(cfg, "--set", key, eq + 1);
    ferry_free(key);
    if (rc < 0)
        return config_fail(rc, err, errlen, "out of memory");
    return 0;
}

static int collect(struct ferry_config *cfg, const char *path, const char *const *overrides, size_t n_overrides,
                   char *err, size_t errlen)
{
    int rc = 0;
    if (path) {
        struct file_ctx fc = {cfg, path};
        rc = config_yaml_read(path, give_from_file, &fc, err, errlen);
        if (rc == FERRY_ENOMEM)
            config_fail(rc, err, errlen, "out of memory reading %s", path);
    } else {
        for (size_t i = 0; i < sizeof builtin_single_node / sizeof builtin_single_node[0] && rc == 0; i++)
            rc = give_text(cfg, "built-in", builtin_single_node[i][0], builtin_single_node[i][1]);
        if (rc < 0)
            config_fail(rc, err, errlen, "out of memory");
    }
    for (size_t i = 0; i < n_overrides && rc == 0; i++)
        rc = give_override(cfg, overrides[i], err, errlen);
    return rc;
}

/* Parse each key's given text, else its default, into its field; the given text becomes Kafka's
 * canonical rendering of the value (what DescribeConfigs shows). */
static int parse_fields(struct ferry_config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < config_keys_count; i++) {
        const struct config_key *k = &config_keys[i];
        const char *text = cfg->given[i] ? cfg->given[i] : k->dflt;
        if (k->repr == CONFIG_REPR_NONE || !text)
            continue;
        char why[256];
        int rc = config_value_parse(k, text, cfg, why, sizeof why);
        if (rc == FERRY_ENOMEM)
            return config_fail(rc, err, errlen, "out of memory");
        if (rc < 0)
            return config_invalid(err, errlen, k->name, text, "%s", why);
        if (cfg->given[i] && k->repr != CONFIG_REPR_STRING) {
            char *canon = config_value_render_alloc(k, cfg);
            if (!canon)
                return config_fail(FERRY_ENOMEM, err, errlen, "out of memory");
            ferry_free(cfg->given[i]);
            cfg->given[i] = canon;
        }
    }
    return 0;
}

static int64_t mul_sat(int64_t v, int64_t unit)
{
    if (v > INT64_MAX / unit)
        return INT64_MAX;
    if (v < INT64_MIN / unit)
        return INT64_MIN;
    return v * unit;
}

/* node.id and broker.id are synonyms: one given sets both; both given must agree. */
static int resolve_node_id(struct ferry_config *cfg, char *err, size_t errlen)
{
    const char *node = config_given(cfg, "node.id"), *broker = config_given(cfg, "broker.id");
    if (node && broker && cfg->node_id != cfg->broker_id)
        return config_invalid(err, errlen, "node.id", node, "must be the same as broker.id (%s)", broker);
    if (node)
        cfg->broker_id = cfg->node_id;
    else if (broker)
        cfg->node_id = cfg->broker_id;
    return 0;
}

/* Kafka's effective values for keys that fall back on others. */
static int derive_effective(struct ferry_config *cfg, char *err, size_t errlen)
{
    int rc = resolve_node_id(cfg, err, errlen);
    if (rc < 0)
        return rc;
    const int64_t minute = 60 * 1000, hour = 60 * minute;
    if (!config_given(cfg, "log.roll.ms"))
        cfg->log_roll_ms = mul_sat(cfg->log_roll_hours, hour);
    if (!config_given(cfg, "log.roll.jitter.ms"))
        cfg->log_roll_jitter_ms = mul_sat(cfg->log_roll_jitter_hours, hour);
    if (!config_given(cfg, "log.retention.ms")) {
        if (config_given(cfg, "log.retention.minutes"))
            cfg->log_retention_ms = mul_sat(cfg->log_retention_minutes, minute);
        else
            cfg->log_retention_ms = mul_sat(cfg->log_retention_hours, hour);
    }
    if (cfg->log_retention_ms < 0)
        cfg->log_retention_ms = -1;
    if (!config_given(cfg, "log.flush.interval.ms"))
        cfg->log_flush_interval_ms = cfg->log_flush_scheduler_interval_ms;
    if (!config_given(cfg, "zookeeper.connection.timeout.ms"))
        cfg->zookeeper_connection_timeout_ms = cfg->zookeeper_session_timeout_ms;

    const char *dirs = config_given(cfg, "log.dirs");
    if (config_split_csv(dirs ? dirs : cfg->log_dir, &cfg->log_dirs) < 0)
        return config_fail(FERRY_ENOMEM, err, errlen, "out of memory");
    if (cfg->log_dirs.count == 0)
        return config_invalid(err, errlen, dirs ? "log.dirs" : "log.dir", dirs ? dirs : cfg->log_dir,
                              "at least one log directory must be given in log.dirs or log.dir");
    if (!cfg->metadata_log_dir && !(cfg->metadata_log_dir = ferry_strdup(cfg->log_dirs.items[0])))
        return config_fail(FERRY_ENOMEM, err, errlen, "out of memory");
    return 0;
}

int config_load(struct ferry_config *cfg, const char *path, const char *const *overrides, size_t n_overrides, char *err,
                size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    if (err && errlen)
        err[0] = '\0';
    int rc;
    cfg->given = ferry_calloc(config_keys_count, sizeof *cfg->given);
    if (!cfg->given) {
        rc = config_fail(FERRY_ENOMEM, err, errlen, "out of memory");
        goto free_config;
    }
    if ((rc = collect(cfg, path, overrides, n_overrides, err, errlen)) < 0)
        goto free_config;
    if ((rc = parse_fields(cfg, err, errlen)) < 0)
        goto free_config;
    if ((rc = derive_effective(cfg, err, errlen)) < 0)
        goto free_config;
    if ((rc = config_check_mode(cfg, err, errlen)) < 0)
        goto free_config;
    if ((rc = config_net_parse(cfg, path == NULL, err, errlen)) < 0)
        goto free_config;
    if ((rc = config_check(cfg, err, errlen)) < 0)
        goto free_config;
    return 0;

free_config:
    config_free(cfg);
    return rc;
}

void config_free(struct ferry_config *cfg)
{
    for (size_t i = 0; i < config_keys_count; i++) {
        config_value_release(&config_keys[i], cfg);
        if (cfg->given)
            ferry_free(cfg->given[i]);
    }
    ferry_free(cfg->given);
    config_strlist_free(&cfg->log_dirs);
    config_net_free(cfg);
    memset(cfg, 0, sizeof *cfg);
}
