/* znode_json: helpers shared by the znode codecs (internal to zkmode/): strict typed getters over a
 * jansson object that report the field name in a zk_err, and the compact dump that copies jansson's
 * output into a ferry_malloc'd string. jansson values are owned by the caller (json_decref). */
#ifndef FERRY_ZK_ZNODE_JSON_H
#define FERRY_ZK_ZNODE_JSON_H

#include <jansson.h>

#include "zkmode/znode/znode_codec.h"

void zkj_err(zk_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses one JSON object (no trailing bytes, no duplicate keys). */
int zkj_load(const char *data, size_t len, json_t **root, zk_err *e);
/* An integer in [min, max]. *present (may be NULL) tells if it was there; missing and required: EPARSE. */
int zkj_int(json_t *o, const char *key, bool required, int64_t min, int64_t max, int64_t *out, bool *present,
            zk_err *e);
/* A JSON string holding a decimal integer in [min, max] (Kafka's timestamps, producer-id bounds). */
/* The znode's "version" (required integer) within [lo, hi]; FERRY_EUNSUPPORTED outside it, naming it. */
int zkj_version(json_t *o, int64_t lo, int64_t hi, int64_t *out, zk_err *e);
int zkj_strnum(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out, zk_err *e);
/* Strict decimal text (optional '-', digits, no spaces) in [min, max]; canonical: also no leading zeros. */
int zkj_parse_dec(const char *s, size_t len, bool canonical, int64_t min, int64_t max, int64_t *out);
/* A string copied with ferry_strdup; nullable accepts JSON null (-> NULL). Missing: EPARSE if required. */
int zkj_str(json_t *o, const char *key, bool required, bool nullable, char **out, zk_err *e);
/* Required object member of the given kind. */
json_t *zkj_obj(json_t *o, const char *key, bool required, zk_err *e, int *rc);
json_t *zkj_arr(json_t *o, const char *key, zk_err *e, int *rc);
/* An array of int32 (broker ids). */
int zkj_int32_array(json_t *a, const char *field, int32_t **out, size_t *n, zk_err *e);
/* Compact dump, copied into ferry_malloc. */
int zkj_dump(json_t *root, char **out, size_t *out_len);
/* Builds an array of int32 values. NULL on jansson allocation failure. */
json_t *zkj_int_array(const int32_t *v, size_t n);
int zkj_str_map_decode(json_t *o, const char *field, zk_str_map *m, zk_err *e);
json_t *zkj_str_map_encode(const zk_str_map *m);

#endif
