/* config_value (internal to broker/config): the key descriptor shared by the broker table
 * (config_keys.c) and the topic table (topic_config.c), and the typed codec that parses one value from
 * Kafka's string form into a C field, checks it against the key's validator and renders it back.
 *
 * Ownership: descriptors are static. Parsing into a STRING or LIST field allocates (ferry_alloc) and the
 * owner of the struct releases it with config_value_release(). */
#ifndef FERRY_CONFIG_VALUE_H
#define FERRY_CONFIG_VALUE_H

#include "broker/config/config.h"

/* How a value is held in its C field. */
enum config_repr {
    CONFIG_REPR_NONE = 0,    /* no typed field: the key is parsed by its own step (listeners, voters, ...) */
    CONFIG_REPR_BOOL,        /* bool */
    CONFIG_REPR_I16,         /* int16_t */
    CONFIG_REPR_I32,         /* int32_t */
    CONFIG_REPR_I64,         /* int64_t */
    CONFIG_REPR_DOUBLE,      /* double */
    CONFIG_REPR_STRING,      /* char *, owned, NULL = null */
    CONFIG_REPR_LIST,        /* struct config_strlist, owned */
    CONFIG_REPR_CLEANUP,     /* unsigned, CONFIG_CLEANUP_* bits */
    CONFIG_REPR_COMPRESSION, /* enum config_compression */
    CONFIG_REPR_TIMESTAMP,   /* enum config_timestamp_type */
};

/* Kafka's validators: atLeast / between (numbers), in (strings), ValidList.in (list elements). */
struct config_check {
    bool has_min, has_max;
    int64_t min, max;
    const char *const *choices; /* NULL-terminated */
};

#define CHECK_AT_LEAST(n) {.has_min = true, .min = (n)}
#define CHECK_BETWEEN(a, b) {.has_min = true, .has_max = true, .min = (a), .max = (b)}
#define CHECK_IN(list) {.choices = (list)}

#define CONFIG_MAX_SYNONYMS 3

struct config_key {
    const char *name;
    enum config_type type;    /* Kafka's type, as DescribeConfigs reports it */
    enum config_repr repr;
    size_t field;             /* offsetof in the owning struct (unused for CONFIG_REPR_NONE) */
    const char *dflt;         /* Kafka 3.7's default in its string form; NULL = null */
    struct config_check check;
    const char *doc;          /* one line: what Ferry does with it */
    /* topic keys only: the broker keys the default comes from, in Kafka's order of precedence, and the
     * field of struct ferry_config holding the effective broker value (same repr as `field`). */
    const char *synonyms[CONFIG_MAX_SYNONYMS];
    size_t broker_field;
};

/* Parse `text` (Kafka's string form; surrounding blanks ignored) into the field of `base`. On failure
 * returns FERRY_EINVAL (or FERRY_ENOMEM) with the reason (e.g. "not an integer") in `why`; the field is
 * unchanged. A STRING or LIST field's previous value is released on success. */
int config_value_parse(const struct config_key *k, const char *text, void *base, char *why, size_t whylen);

/* Render the field in Kafka's string form, snprintf-style: returns the length needed (without the NUL).
 * A null STRING renders as "" and returns -1. */
int config_value_render(const struct config_key *k, const void *base, char *buf, size_t len);

/* Render into a fresh ferry_malloc'd string; NULL on allocation failure or a null STRING. */
char *config_value_render_alloc(const struct config_key *k, const void *base);

/* Free a STRING or LIST field and zero it; no-op for other representations. */
void config_value_release(const struct config_key *k, void *base);

/* Copy a field between two structs of possibly different types (topic <- broker). Not for STRING/LIST. */
void config_value_copy(enum config_repr repr, void *dst, const void *src);

/* Small string helpers shared by the module. */
char *config_trim_dup(const char *s, size_t n);        /* copy without surrounding blanks */
int config_split_csv(const char *s, struct config_strlist *out); /* "a, b,,c" -> [a, b, c] */
void config_strlist_free(struct config_strlist *l);
int config_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out); /* whole string, decimal */

#endif
