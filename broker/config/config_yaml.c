/* config_yaml: read a Ferry config file with libyaml. The file is one mapping of Kafka property names to
 * scalars ("broker,controller", 1, true) or lists of scalars ([broker, controller]). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/config/config_internal.h"

static int line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

static bool is_null_scalar(const yaml_node_t *n)
{
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

/* A sequence of scalars joined with ',' (Kafka's list form), in a fresh string. */
static int join_sequence(yaml_document_t *doc, const yaml_node_t *seq, char **out)
{
    size_t len = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(doc, *it);
        if (!item || item->type != YAML_SCALAR_NODE)
            return FERRY_EPARSE;
        len += item->data.scalar.length + 1;
    }
    char *s = ferry_malloc(len + 1);
    if (!s)
        return FERRY_ENOMEM;
    size_t used = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(doc, *it);
        if (used)
            s[used++] = ',';
        memcpy(s + used, item->data.scalar.value, item->data.scalar.length);
        used += item->data.scalar.length;
    }
    s[used] = '\0';
    *out = s;
    return 0;
}

static int first_line_of_key(yaml_document_t *doc, const yaml_node_t *map, const yaml_node_pair_t *upto,
                             const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < upto; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return line_of(k);
    }
    return 0;
}

static int give_pair(yaml_document_t *doc, const yaml_node_t *map, const yaml_node_pair_t *pair, const char *path,
                     config_give_fn give, void *ctx, char *err, size_t errlen)
{
    yaml_node_t *k = yaml_document_get_node(doc, pair->key);
    yaml_node_t *v = yaml_document_get_node(doc, pair->value);
    if (!k || !v || k->type != YAML_SCALAR_NODE)
        return config_fail(FERRY_EPARSE, err, errlen, "%s:%d: malformed YAML: keys must be Kafka property names", path,
                           k ? line_of(k) : 0);
    const char *key = (const char *)k->data.scalar.value;
    int first = first_line_of_key(doc, map, pair, key);
    if (first)
        return config_fail(FERRY_EPARSE, err, errlen, "%s:%d: malformed YAML: duplicate key '%s' (first at line %d)",
                           path, line_of(k), key, first);
    if (v->type == YAML_SCALAR_NODE)
        return give(ctx, key, is_null_scalar(v) ? NULL : (const char *)v->data.scalar.value, line_of(k));
    if (v->type == YAML_SEQUENCE_NODE) {
        char *joined = NULL;
        int rc = join_sequence(doc, v, &joined);
        if (rc == FERRY_EPARSE)
            return config_fail(rc, err, errlen, "%s:%d: malformed YAML: the list of '%s' must hold only scalars", path,
                               line_of(v), key);
        if (rc < 0)
            return config_fail(rc, err, errlen, "out of memory reading %s", path);
        rc = give(ctx, key, joined, line_of(k));
        ferry_free(joined);
        return rc;
    }
    return config_fail(FERRY_EPARSE, err, errlen,
                       "%s:%d: malformed YAML: the value of '%s' must be a scalar or a list of scalars", path,
                       line_of(v), key);
}

static int parser_error(const yaml_parser_t *parser, const char *path, char *err, size_t errlen)
{
    if (parser->error == YAML_MEMORY_ERROR)
        return config_fail(FERRY_ENOMEM, err, errlen, "out of memory reading %s", path);
    const yaml_mark_t *m = &parser->problem_mark;
    if (parser->error == YAML_READER_ERROR)
        return config_fail(FERRY_EPARSE, err, errlen, "%s: malformed YAML at byte %zu: %s", path,
                           parser->problem_offset, parser->problem ? parser->problem : "unreadable input");
    return config_fail(FERRY_EPARSE, err, errlen, "%s:%zu:%zu: malformed YAML: %s%s%s", path, m->line + 1,
                       m->column + 1, parser->problem ? parser->problem : "syntax error", parser->context ? " " : "",
                       parser->context ? parser->context : "");
}

/* A config file holds one document; a second one (after `---`) is refused rather than ignored. */
static int refuse_second_document(yaml_parser_t *parser, const char *path, char *err, size_t errlen)
{
    yaml_document_t next;
    if (!yaml_parser_load(parser, &next))
        return parser_error(parser, path, err, errlen);
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&next);
    if (root)
        rc = config_fail(FERRY_EPARSE, err, errlen,
                         "%s:%d: malformed YAML: a config file holds one document, found a second one", path,
                         line_of(root));
    yaml_document_delete(&next);
    return rc;
}

int config_yaml_read(const char *path, config_give_fn give, void *ctx, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return config_fail(errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO, err, errlen,
                           "cannot open config file '%s': %s", path, strerror(errno));

    int rc = 0;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = config_fail(FERRY_EIO, err, errlen, "cannot read config file '%s': it is a directory", path);
        goto close_file;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        rc = config_fail(FERRY_ENOMEM, err, errlen, "out of memory reading %s", path);
        goto close_file;
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = parser_error(&parser, path, err, errlen);
        goto delete_parser;
    }

    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        goto delete_document; /* an empty file: no keys */
    if (root->type != YAML_MAPPING_NODE) {
        rc = config_fail(FERRY_EPARSE, err, errlen,
                         "%s:%d: malformed YAML: the file must be a mapping of Kafka property names to values", path,
                         line_of(root));
        goto delete_document;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top && rc == 0; p++)
        rc = give_pair(&doc, root, p, path, give, ctx, err, errlen);
    if (rc == 0)
        rc = refuse_second_document(&parser, path, err, errlen);

delete_document:
    yaml_document_delete(&doc);
delete_parser:
    yaml_parser_delete(&parser);
close_file:
    fclose(f);
    return rc;
}
