/* epoch_cache: see epoch_cache.h. */
#include "epoch_cache.h"

#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "log_checkpoint.h"
#include "log_fs.h"

void log_epochs_free(struct log_epoch_cache *c)
{
    ferry_free(c->e);
    c->e = NULL;
    c->n = c->cap = 0;
}

void log_epochs_clear(struct log_epoch_cache *c) { c->n = 0; }

static int push(struct log_epoch_cache *c, int32_t epoch, int64_t start)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct plog_epoch_entry *ne = ferry_realloc(c->e, cap * sizeof *ne);
        if (!ne)
            return FERRY_ENOMEM;
        c->e = ne;
        c->cap = cap;
    }
    c->e[c->n++] = (struct plog_epoch_entry){epoch, start};
    return 0;
}

int log_epochs_assign(struct log_epoch_cache *c, int32_t epoch, int64_t start_offset, const char *log_name)
{
    if (epoch < 0 || start_offset < 0)
        return FERRY_EINVAL;
    if (c->n > 0) {
        const struct plog_epoch_entry *last = &c->e[c->n - 1];
        if (last->epoch == epoch && last->start_offset <= start_offset)
            return 0;
    }
    size_t keep = c->n;
    while (keep > 0 && (c->e[keep - 1].epoch >= epoch || c->e[keep - 1].start_offset >= start_offset))
        keep--;
    size_t removed = c->n - keep;
    if (removed > 1 || (removed == 1 && c->e[keep].start_offset != start_offset))
        LOG_WARN("log", "%s: new epoch entry (%d, %lld) truncated %zu conflicting entries of the epoch cache",
                 log_name ? log_name : "?", epoch, (long long)start_offset, removed);
    c->n = keep;
    int rc = push(c, epoch, start_offset);
    return rc ? rc : 1;
}

bool log_epochs_truncate_from_end(struct log_epoch_cache *c, int64_t end_offset)
{
    size_t old = c->n;
    while (c->n > 0 && c->e[c->n - 1].start_offset >= end_offset)
        c->n--;
    return c->n != old;
}

bool log_epochs_truncate_from_start(struct log_epoch_cache *c, int64_t start_offset)
{
    size_t below = 0;
    while (below < c->n && c->e[below].start_offset <= start_offset)
        below++;
    if (below == 0)
        return false;
    /* Keep the last entry at or below start_offset, moved up to it. */
    struct plog_epoch_entry kept = {c->e[below - 1].epoch, start_offset};
    bool changed = below > 1 || c->e[0].start_offset != start_offset;
    memmove(c->e + 1, c->e + below, (c->n - below) * sizeof *c->e);
    c->n = c->n - below + 1;
    c->e[0] = kept;
    return changed;
}

void log_epochs_end_offset_for(const struct log_epoch_cache *c, int32_t epoch, int64_t log_end_offset,
                               int32_t *out_epoch, int64_t *out_offset)
{
    *out_epoch = -1;
    *out_offset = -1;
    if (epoch == -1)
        return;
    if (c->n > 0 && c->e[c->n - 1].epoch == epoch) {
        *out_epoch = epoch;
        *out_offset = log_end_offset;
        return;
    }
    size_t higher = 0;
    while (higher < c->n && c->e[higher].epoch <= epoch)
        higher++;
    if (higher == c->n)
        return; /* above every known epoch */
    *out_offset = c->e[higher].start_offset;
    *out_epoch = higher == 0 ? epoch : c->e[higher - 1].epoch;
}

struct load_state {
    struct log_epoch_cache *c;
};

static int load_entry(void *arg, char **f, int nf)
{
    (void)nf;
    struct load_state *st = arg;
    int32_t epoch;
    int64_t start;
    if (log_parse_i32(f[0], &epoch) || log_parse_i64(f[1], &start) || epoch < 0 || start < 0)
        return FERRY_EPARSE;
    struct log_epoch_cache *c = st->c;
    if (c->n > 0 && (epoch <= c->e[c->n - 1].epoch || start < c->e[c->n - 1].start_offset))
        return FERRY_EPARSE;
    return push(c, epoch, start);
}

int log_epochs_load(struct log_epoch_cache *c, const char *path)
{
    c->n = 0;
    char *text;
    size_t len;
    int rc = log_read_file(path, 16u << 20, &text, &len);
    if (rc == FERRY_ENOTFOUND)
        return 0;
    if (rc)
        return rc == FERRY_ETOOBIG ? FERRY_EPARSE : rc;
    struct load_state st = {c};
    rc = log_ckpt_parse(text, len, 0, 2, load_entry, &st);
    ferry_free(text);
    if (rc) {
        c->n = 0;
        return rc == FERRY_ENOMEM ? rc : FERRY_EPARSE;
    }
    return 0;
}

int log_epochs_serialize(const struct log_epoch_cache *c, char **text, size_t *len)
{
    struct proto_writer w;
    proto_writer_init(&w);
    log_writer_printf(&w, "0\n%zu\n", c->n);
    for (size_t i = 0; i < c->n; i++)
        log_writer_printf(&w, "%d %lld\n", c->e[i].epoch, (long long)c->e[i].start_offset);
    proto_write_i8(&w, 0); /* NUL-terminated for the caller, not counted */
    if (w.err) {
        proto_writer_free(&w);
        return FERRY_ENOMEM;
    }
    *text = (char *)w.buf;
    *len = w.len - 1;
    return 0;
}
