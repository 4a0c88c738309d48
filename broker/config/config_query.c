/* config_query: read-only lookups on a loaded config, and the broker's DescribeConfigs enumeration. */
#include <string.h>
#include <strings.h>

#include "broker/common/ferry_err.h"
#include "broker/config/config_internal.h"
#include "broker/config/config_keys.h"

enum ferry_mode config_mode(const struct ferry_config *cfg) { return cfg->mode; }

const char *config_mode_name(enum ferry_mode mode)
{
    switch (mode) {
    case FERRY_MODE_QUORUM: return "quorum";
    case FERRY_MODE_LEGACY: return "legacy";
    case FERRY_MODE_MIGRATION: return "migration";
    }
    return "unknown";
}

static const struct config_listener *find_listener(const struct config_listener *ls, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(ls[i].name, name) == 0)
            return &ls[i];
    return NULL;
}

const struct config_listener *config_listener(const struct ferry_config *cfg, const char *name)
{
    return find_listener(cfg->listeners, cfg->n_listeners, name);
}

const struct config_listener *config_advertised(const struct ferry_config *cfg, const char *name)
{
    return find_listener(cfg->advertised, cfg->n_advertised, name);
}

int config_listener_protocol(const struct ferry_config *cfg, const char *name, enum config_security_protocol *out)
{
    for (size_t i = 0; i < cfg->n_protocol_map; i++) {
        if (strcasecmp(cfg->protocol_map[i].listener_name, name) == 0) {
            *out = cfg->protocol_map[i].protocol;
            return 0;
        }
    }
    return FERRY_ENOTFOUND;
}

const struct config_voter *config_voter(const struct ferry_config *cfg, int32_t id)
{
    for (size_t i = 0; i < cfg->n_voters; i++)
        if (cfg->voters[i].id == id)
            return &cfg->voters[i];
    return NULL;
}

int64_t config_log_roll_ms(const struct ferry_config *cfg) { return cfg->log_roll_ms; }
int64_t config_log_retention_ms(const struct ferry_config *cfg) { return cfg->log_retention_ms; }
int64_t config_log_flush_interval_ms(const struct ferry_config *cfg) { return cfg->log_flush_interval_ms; }

bool config_is_set(const struct ferry_config *cfg, const char *key) { return config_given(cfg, key) != NULL; }

size_t config_key_count(void) { return config_keys_count; }

int config_describe_at(const struct ferry_config *cfg, size_t i, struct config_entry *out)
{
    if (i >= config_keys_count)
        return FERRY_ERANGE;
    const struct config_key *k = &config_keys[i];
    const char *given = cfg && cfg->given ? cfg->given[i] : NULL;
    *out = (struct config_entry){
        .name = k->name,
        .value = given ? given : k->dflt,
        .source = given ? CONFIG_SOURCE_STATIC_BROKER : CONFIG_SOURCE_DEFAULT,
        .type = k->type,
        .read_only = true,
        .sensitive = k->type == CONFIG_TYPE_PASSWORD,
        .doc = k->doc,
    };
    return 0;
}

int config_describe(const struct ferry_config *cfg, const char *name, struct config_entry *out)
{
    int i = config_key_find(name);
    if (i < 0)
        return FERRY_ENOTFOUND;
    return config_describe_at(cfg, (size_t)i, out);
}
