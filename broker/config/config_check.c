/* config_check: roles, the mode, and the rules Kafka 3.7 checks across keys (KafkaConfig.validateValues):
 * required keys per mode, voters vs node.id, controller listeners vs listeners and advertised listeners,
 * the inter-broker listener, log time settings, replica fetch timeouts. */
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_err.h"
#include "broker/config/config_internal.h"

static const char *text_of(const struct ferry_config *cfg, const char *key)
{
    const char *t = config_text(cfg, key);
    return t ? t : "";
}

static int missing(char *err, size_t errlen, const char *key, const char *when)
{
    return config_fail(FERRY_EINVAL, err, errlen, "missing required key '%s' (%s)", key, when);
}

static int parse_roles(struct ferry_config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->process_roles.count; i++) {
        const char *r = cfg->process_roles.items[i];
        bool *flag = strcmp(r, "broker") == 0 ? &cfg->role_broker : &cfg->role_controller;
        if (*flag)
            return config_invalid(err, errlen, "process.roles", text_of(cfg, "process.roles"), "duplicate role '%s'",
                                  r);
        *flag = true;
    }
    return 0;
}

static int detect_mode(struct ferry_config *cfg, char *err, size_t errlen)
{
    bool quorum = cfg->process_roles.count > 0;
    bool migrating = cfg->zookeeper_metadata_migration_enable;
    if (!quorum && !cfg->zookeeper_connect)
        return config_fail(FERRY_EINVAL, err, errlen,
                           "neither 'process.roles' nor 'zookeeper.connect' is set: set process.roles (quorum mode) "
                           "or zookeeper.connect (legacy ZooKeeper mode)");
    if (!quorum) {
        cfg->mode = FERRY_MODE_LEGACY;
        cfg->role_broker = true;
        return 0;
    }
    cfg->mode = FERRY_MODE_QUORUM;
    if (!migrating)
        return 0;
    if (!cfg->zookeeper_connect)
        return missing(err, errlen, "zookeeper.connect",
                       "zookeeper.metadata.migration.enable is true and process.roles is set");
    if (cfg->role_controller && cfg->role_broker)
        return config_invalid(err, errlen, "process.roles", text_of(cfg, "process.roles"),
                              "a ZooKeeper migration is not supported on combined broker,controller nodes");
    if (cfg->role_controller)
        cfg->mode = FERRY_MODE_MIGRATION;
    return 0;
}

static bool names_contain(const struct config_strlist *names, const char *name)
{
    for (size_t i = 0; i < names->count; i++)
        if (strcmp(names->items[i], name) == 0)
            return true;
    return false;
}

static bool listeners_contain(const struct config_listener *ls, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ls[i].name, name) == 0)
            return true;
    return false;
}

/* Quorum nodes and migrating controllers: node.id, voters, controller listeners. */
static int check_quorum_node(struct ferry_config *cfg, char *err, size_t errlen)
{
    const struct config_strlist *cln = &cfg->controller_listener_names;
    if (cfg->n_voters == 0)
        return missing(err, errlen, "controller.quorum.voters", "required when process.roles is set");
    if (cln->count == 0)
        return missing(err, errlen, "controller.listener.names", "required when process.roles is set");
    if (config_given(cfg, "advertised.listeners") && cfg->role_broker) {
        for (size_t i = 0; i < cfg->n_advertised; i++)
            if (names_contain(cln, cfg->advertised[i].name))
                return config_invalid(err, errlen, "advertised.listeners", text_of(cfg, "advertised.listeners"),
                                      "must not contain the controller listener '%s' (clients only talk to brokers)",
                                      cfg->advertised[i].name);
    }
    bool voter = config_voter(cfg, cfg->node_id) != NULL;
    if (cfg->role_controller) {
        if (!voter)
            return config_invalid(err, errlen, "controller.quorum.voters", text_of(cfg, "controller.quorum.voters"),
                                  "node.id %d is not a voter, but process.roles contains controller",
                                  (int)cfg->node_id);
        for (size_t i = 0; i < cln->count; i++)
            if (!listeners_contain(cfg->listeners, cfg->n_listeners, cln->items[i]))
                return config_invalid(err, errlen, "controller.listener.names",
                                      text_of(cfg, "controller.listener.names"),
                                      "listener '%s' is not in listeners '%s' (required on controllers)", cln->items[i],
                                      text_of(cfg, "listeners"));
    } else {
        if (voter)
            return config_invalid(err, errlen, "controller.quorum.voters", text_of(cfg, "controller.quorum.voters"),
                                  "node.id %d must not be a voter when process.roles is just broker",
                                  (int)cfg->node_id);
        for (size_t i = 0; i < cln->count; i++) {
            enum config_security_protocol p;
            if (listeners_contain(cfg->listeners, cfg->n_listeners, cln->items[i]))
                return config_invalid(err, errlen, "listeners", text_of(cfg, "listeners"),
                                      "must not contain the controller listener '%s' when process.roles is just broker",
                                      cln->items[i]);
            if (config_listener_protocol(cfg, cln->items[i], &p) < 0)
                return config_invalid(err, errlen, "listener.security.protocol.map",
                                      text_of(cfg, "listener.security.protocol.map"),
                                      "no security protocol for controller listener '%s'", cln->items[i]);
        }
    }
    if (cfg->role_controller && !cfg->role_broker) {
        if (config_given(cfg, "advertised.listeners"))
            return config_invalid(err, errlen, "advertised.listeners", text_of(cfg, "advertised.listeners"),
                                  "must be unset when process.roles is just controller");
        if (cfg->n_advertised > 0)
            return config_invalid(err, errlen, "listeners", text_of(cfg, "listeners"),
                                  "must only contain controller listeners (%s) when process.roles is just controller",
                                  text_of(cfg, "controller.listener.names"));
    }
    return 0;
}

static int check_legacy_node(struct ferry_config *cfg, char *err, size_t errlen)
{
    int32_t id = cfg->broker_id;
    if (cfg->broker_id_generation_enable && (id < -1 || id > cfg->reserved_broker_max_id))
        return config_invalid(err, errlen, "broker.id", text_of(cfg, "broker.id"),
                              "must be between -1 and reserved.broker.max.id (%d)", (int)cfg->reserved_broker_max_id);
    if (!cfg->broker_id_generation_enable && id < 0)
        return config_invalid(err, errlen, "broker.id", text_of(cfg, "broker.id"),
                              "must be at least 0 when broker.id.generation.enable is false");
    if (cfg->zookeeper_metadata_migration_enable) {
        if (cfg->n_voters == 0)
            return missing(err, errlen, "controller.quorum.voters",
                           "required when zookeeper.metadata.migration.enable is true");
    } else if (cfg->controller_listener_names.count > 0) {
        return config_invalid(err, errlen, "controller.listener.names", text_of(cfg, "controller.listener.names"),
                              "must be unset in legacy (ZooKeeper) mode");
    }
    return 0;
}

/* Every node with the broker role: something to advertise, the inter-broker listener among it. */
static int check_broker_listeners(struct ferry_config *cfg, char *err, size_t errlen)
{
    const char *adv_key = config_given(cfg, "advertised.listeners") ? "advertised.listeners" : "listeners";
    if (cfg->n_advertised == 0)
        return config_invalid(err, errlen, adv_key, text_of(cfg, adv_key),
                              "there must be at least one advertised listener that is not a controller listener");
    if (!listeners_contain(cfg->advertised, cfg->n_advertised, cfg->inter_broker_listener_name)) {
        const char *key = config_given(cfg, "inter.broker.listener.name") ? "inter.broker.listener.name"
                                                                          : "security.inter.broker.protocol";
        return config_invalid(err, errlen, key, text_of(cfg, key),
                              "the inter-broker listener '%s' is not advertised (%s)", cfg->inter_broker_listener_name,
                              text_of(cfg, adv_key));
    }
    for (size_t i = 0; i < cfg->n_advertised; i++)
        if (!listeners_contain(cfg->listeners, cfg->n_listeners, cfg->advertised[i].name))
            return config_invalid(err, errlen, "advertised.listeners", text_of(cfg, "advertised.listeners"),
                                  "listener '%s' is not in listeners", cfg->advertised[i].name);
    return 0;
}

/* The key that decided an effective value, for error messages. */
static const char *deciding_key(const struct ferry_config *cfg, const char *const *keys, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (config_given(cfg, keys[i]))
            return keys[i];
    return keys[n - 1];
}

static int check_values(struct ferry_config *cfg, char *err, size_t errlen)
{
    static const char *const roll[] = {"log.roll.ms", "log.roll.hours"};
    static const char *const retention[] = {"log.retention.ms", "log.retention.minutes", "log.retention.hours"};
    if (cfg->log_roll_ms < 1) {
        const char *key = deciding_key(cfg, roll, 2);
        return config_invalid(err, errlen, key, text_of(cfg, key), "log.roll.ms must be at least 1");
    }
    if (cfg->log_roll_jitter_ms < 0)
        return config_invalid(err, errlen, "log.roll.jitter.ms", text_of(cfg, "log.roll.jitter.ms"),
                              "must be at least 0");
    if (cfg->log_retention_ms == 0) {
        const char *key = deciding_key(cfg, retention, 3);
        return config_invalid(err, errlen, key, text_of(cfg, key),
                              "log.retention.ms must be unlimited (-1) or at least 1");
    }
    if (cfg->replica_fetch_wait_max_ms > cfg->replica_socket_timeout_ms)
        return config_invalid(err, errlen, "replica.fetch.wait.max.ms", text_of(cfg, "replica.fetch.wait.max.ms"),
                              "must not exceed replica.socket.timeout.ms (%d)", (int)cfg->replica_socket_timeout_ms);
    if (cfg->replica_fetch_wait_max_ms > cfg->replica_lag_time_max_ms)
        return config_invalid(err, errlen, "replica.fetch.wait.max.ms", text_of(cfg, "replica.fetch.wait.max.ms"),
                              "must not exceed replica.lag.time.max.ms (%lld)",
                              (long long)cfg->replica_lag_time_max_ms);
    return 0;
}

/* Keys a mode cannot do without, checked before the listeners are parsed so that the message names the
 * missing key rather than a consequence of it. */
static int check_required(struct ferry_config *cfg, char *err, size_t errlen)
{
    bool has_names = config_text(cfg, "controller.listener.names") && *config_text(cfg, "controller.listener.names");
    if (cfg->mode == FERRY_MODE_LEGACY) {
        if (cfg->zookeeper_metadata_migration_enable && !has_names)
            return missing(err, errlen, "controller.listener.names",
                           "required when zookeeper.metadata.migration.enable is true");
        return 0;
    }
    if (!config_given(cfg, "node.id") && !config_given(cfg, "broker.id"))
        return missing(err, errlen, "node.id", "required when process.roles is set");
    if (cfg->node_id < 0)
        return config_invalid(err, errlen, "node.id", text_of(cfg, "node.id"),
                              "must be at least 0 when process.roles is set");
    if (!has_names)
        return missing(err, errlen, "controller.listener.names", "required when process.roles is set");
    return 0;
}

int config_check_mode(struct ferry_config *cfg, char *err, size_t errlen)
{
    int rc;
    if ((rc = parse_roles(cfg, err, errlen)) < 0)
        return rc;
    if ((rc = detect_mode(cfg, err, errlen)) < 0)
        return rc;
    return check_required(cfg, err, errlen);
}

int config_check(struct ferry_config *cfg, char *err, size_t errlen)
{
    int rc;
    if (cfg->mode == FERRY_MODE_LEGACY)
        rc = check_legacy_node(cfg, err, errlen);
    else
        rc = check_quorum_node(cfg, err, errlen);
    if (rc < 0)
        return rc;
    if (cfg->role_broker && (rc = check_broker_listeners(cfg, err, errlen)) < 0)
        return rc;
    return check_values(cfg, err, errlen);
}
