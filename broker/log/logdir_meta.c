/* logdir_meta: meta.properties (Java properties format) reading and writing. See logdir.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "log_checkpoint.h"
#include "log_fs.h"
#include "logdir.h"

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\f'; }

/* Decodes a Java-properties escaped run [p, end) into out (NUL-terminated, at most cap-1 bytes);
 * stops at an unescaped key terminator when `key`. Returns the position after what was consumed. */
static const char *unescape(const char *p, const char *end, bool key, char *out, size_t cap, bool *overflow)
{
    size_t n = 0;
    while (p < end) {
        char c = *p;
        if (key && (c == '=' || c == ':' || is_blank(c)))
            break;
        p++;
        if (c == '\\' && p < end) {
            c = *p++;
            switch (c) {
            case 't': c = '\t'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned v = 0;
                int k = 0;
                for (; k < 4 && p < end; k++, p++) {
                    char h = *p;
                    v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                            : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 0);
                }
                c = v < 0x80 ? (char)v : '?'; /* our keys and values are ASCII */
                break;
            }
            default: break;
            }
        }
        if (n + 1 < cap)
            out[n++] = c;
        else
            *overflow = true;
    }
    out[n] = '\0';
    return p;
}

struct props_cb {
    struct logdir_meta *m;
    bool have_version, have_node, have_broker, have_cluster;
    int32_t node_id, broker_id;
    int err;
};

static void on_property(struct props_cb *cb, const char *key, const char *val)
{
    struct logdir_meta *m = cb->m;
    if (strcmp(key, "version") == 0) {
        cb->have_version = log_parse_i32(val, &m->version) == 0;
        if (!cb->have_version)
            cb->err = FERRY_EPARSE;
    } else if (strcmp(key, "node.id") == 0) {
        cb->have_node = log_parse_i32(val, &cb->node_id) == 0;
        if (!cb->have_node)
            cb->err = FERRY_EPARSE;
    } else if (strcmp(key, "broker.id") == 0) {
        cb->have_broker = log_parse_i32(val, &cb->broker_id) == 0;
        if (!cb->have_broker)
            cb->err = FERRY_EPARSE;
    } else if (strcmp(key, "cluster.id") == 0) {
        if (strlen(val) >= sizeof m->cluster_id) {
            cb->err = FERRY_EPARSE;
            return;
        }
        strcpy(m->cluster_id, val);
        cb->have_cluster = val[0] != '\0';
    } else if (strcmp(key, "directory.id") == 0) {
        m->has_directory_id = proto_uuid_from_base64(val, &m->directory_id) == 0;
        if (!m->has_directory_id)
            cb->err = FERRY_EPARSE;
    }
}

int logdir_meta_parse(const char *text, size_t len, struct logdir_meta *out)
{
    memset(out, 0, sizeof *out);
    out->node_id = -1;
    out->version = -1;
    struct props_cb cb = {.m = out};
    char *logical = ferry_malloc(len + 1);
    if (!logical)
        return FERRY_ENOMEM;
    const char *p = text, *end = text + len;
    while (p < end && cb.err == 0) {
        /* One logical line: natural lines joined while they end in an odd number of backslashes. */
        size_t n = 0;
        bool first = true, comment = false;
        for (;;) {
            const char *ls = p;
            while (p < end && *p != '\n' && *p != '\r')
                p++;
            const char *le = p;
            if (p < end && *p == '\r')
                p++;
            if (p < end && *p == '\n')
                p++;
            while (ls < le && is_blank(*ls))
                ls++;
            if (first && ls < le && (*ls == '#' || *ls == '!'))
                comment = true;
            first = false;
            size_t backslashes = 0;
            for (const char *q = le; q > ls && q[-1] == '\\'; q--)
                backslashes++;
            bool cont = !comment && backslashes % 2 == 1;
            size_t take = (size_t)(le - ls) - (cont ? 1 : 0);
            memcpy(logical + n, ls, take);
            n += take;
            if (!cont || p >= end)
                break;
        }
        if (comment || n == 0)
            continue;
        char key[128], val[256];
        bool overflow = false;
        const char *lp = logical, *lend = logical + n;
        lp = unescape(lp, lend, true, key, sizeof key, &overflow);
        while (lp < lend && is_blank(*lp))
            lp++;
        if (lp < lend && (*lp == '=' || *lp == ':'))
            lp++;
        while (lp < lend && is_blank(*lp))
            lp++;
        unescape(lp, lend, false, val, sizeof val, &overflow);
        if (overflow)
            continue; /* not one of ours */
        on_property(&cb, key, val);
    }
    ferry_free(logical);
    if (cb.err)
        return cb.err;
    if (!cb.have_version)
        return FERRY_EPARSE;
    if (out->version == 1) {
        if (!cb.have_node || !cb.have_cluster)
            return FERRY_EPARSE;
        out->node_id = cb.node_id;
    } else if (out->version == 0) {
        if (!cb.have_broker)
            return FERRY_EPARSE;
        out->node_id = cb.broker_id;
    } else {
        return FERRY_EPARSE;
    }
    return 0;
}

int logdir_meta_format(const struct logdir_meta *m, int64_t now_ms, char **text, size_t *len)
{
    if ((m->version != 0 && m->version != 1) || (m->version == 1 && !m->cluster_id[0]))
        return FERRY_EINVAL;
    for (const char *c = m->cluster_id; *c; c++)
        if (*c == '\\' || *c == '\n' || *c == '\r' || *c == '=' || *c == ':' || *c == '#' || *c == '!' || is_blank(*c))
            return FERRY_EINVAL;
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[64];
    strftime(date, sizeof date, "%a %b %d %H:%M:%S UTC %Y", &tm); /* java.util.Date.toString */
    struct proto_writer w;
    proto_writer_init(&w);
    log_writer_printf(&w, "#\n#%s\n", date);
    if (m->version == 1)
        log_writer_printf(&w, "node.id=%d\n", m->node_id);
    else
        log_writer_printf(&w, "broker.id=%d\n", m->node_id);
    if (m->has_directory_id) {
        char id[PROTO_UUID_B64_LEN + 1];
        proto_uuid_to_base64(m->directory_id, id);
        log_writer_printf(&w, "directory.id=%s\n", id);
    }
    log_writer_printf(&w, "version=%d\n", m->version);
    if (m->cluster_id[0])
        log_writer_printf(&w, "cluster.id=%s\n", m->cluster_id);
    proto_write_i8(&w, 0); /* NUL-terminated for the caller, not counted */
    if (w.err) {
        proto_writer_free(&w);
        return FERRY_ENOMEM;
    }
    *text = (char *)w.buf;
    *len = w.len - 1;
    return 0;
}

int logdir_meta_read(const char *dir, struct logdir_meta *out)
{
    char *path = log_path_join(dir, LOGDIR_META_FILE);
    if (!path)
        return FERRY_ENOMEM;
    char *text;
    size_t len;
    int rc = log_read_file(path, 1 << 16, &text, &len);
    if (rc == 0) {
        rc = logdir_meta_parse(text, len, out);
        ferry_free(text);
        if (rc == FERRY_EPARSE)
            LOG_ERROR("log", "%s is not a valid meta.properties file", path);
    } else if (rc == FERRY_ETOOBIG) {
        rc = FERRY_EPARSE;
    }
    ferry_free(path);
    return rc;
}

int logdir_meta_write(const char *dir, const struct logdir_meta *m)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char *text;
    size_t len;
    int rc = logdir_meta_format(m, (int64_t)ts.tv_sec * 1000, &text, &len);
    if (rc)
        return rc;
    char *path = log_path_join(dir, LOGDIR_META_FILE);
    if (!path) {
        ferry_free(text);
        return FERRY_ENOMEM;
    }
    rc = log_write_file_atomic(path, text, len);
    if (rc)
        LOG_ERROR("log", "cannot write %s: %s", path, ferry_strerror(rc));
    ferry_free(path);
    ferry_free(text);
    return rc;
}
