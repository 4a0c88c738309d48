/* config_internal (internal to broker/config): the steps of config_load() shared between its files.
 *
 * Loading runs: collect raw texts (built-in single node or YAML file, then --set overrides) into
 * cfg->given -> parse every key of the table into its field (config_load.c) -> roles, mode and required
 * keys (config_check.c) -> listeners, protocol map, voters, inter-broker listener (config_net.c) -> Kafka's
 * cross-key rules (config_check.c).
 * Every step writes its error message into (err, errlen) and returns a negative FERRY_E* code. */
#ifndef FERRY_CONFIG_INTERNAL_H
#define FERRY_CONFIG_INTERNAL_H

#include "broker/config/config.h"

/* Called for each top-level key of the YAML file: `value` is its text (a list joined with ','), or NULL
 * for a YAML null; `line` is 1-based. */
typedef int (*config_give_fn)(void *ctx, const char *key, const char *value, int line);

/* Read `path` and call `give` for each key. FERRY_ENOTFOUND / FERRY_EIO / FERRY_EPARSE with a message
 * naming the file (and line); any error `give` returns is passed through. */
int config_yaml_read(const char *path, config_give_fn give, void *ctx, char *err, size_t errlen);

/* The text set in the file or by --set for `key`, or NULL. */
const char *config_given(const struct ferry_config *cfg, const char *key);
/* The given text, else Kafka's default (NULL when null). */
const char *config_text(const struct ferry_config *cfg, const char *key);

/* Listeners, protocol map, controller listener names, advertised listeners, inter-broker listener and
 * voters. `builtin`: the built-in single node, whose voter follows its controller listener. */
int config_net_parse(struct ferry_config *cfg, bool builtin, char *err, size_t errlen);
void config_net_free(struct ferry_config *cfg);

/* Roles, the mode and the keys it requires (before config_net_parse). */
int config_check_mode(struct ferry_config *cfg, char *err, size_t errlen);
/* The rules Kafka checks across keys (after config_net_parse). */
int config_check(struct ferry_config *cfg, char *err, size_t errlen);

/* snprintf into err; returns `rc`. */
int config_fail(int rc, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "invalid value '<value>' for key '<key>': <why>"; returns FERRY_EINVAL. */
int config_invalid(char *err, size_t errlen, const char *key, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
