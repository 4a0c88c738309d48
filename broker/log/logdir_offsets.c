/* logdir_offsets: recovery-point-offset-checkpoint / log-start-offset-checkpoint files. See logdir.h. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "log_checkpoint.h"
#include "log_fs.h"
#include "logdir.h"

struct read_state {
    struct logdir_tp_offset *e;
    size_t n, cap;
};

static int read_entry(void *arg, char **f, int nf)
{
    (void)nf;
    struct read_state *st = arg;
    struct logdir_tp_offset e;
    size_t tl = strlen(f[0]);
    if (tl == 0 || tl >= sizeof e.topic || log_parse_i32(f[1], &e.partition) || e.partition < 0 ||
        log_parse_i64(f[2], &e.offset))
        return FERRY_EPARSE;
    memcpy(e.topic, f[0], tl + 1);
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 16;
        struct logdir_tp_offset *ne = ferry_realloc(st->e, cap * sizeof *ne);
        if (!ne)
            return FERRY_ENOMEM;
        st->e = ne;
        st->cap = cap;
    }
    st->e[st->n++] = e;
    return 0;
}

int logdir_offsets_read(const char *path, struct logdir_tp_offset **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char *text;
    size_t len;
    int rc = log_read_file(path, 256u << 20, &text, &len);
    if (rc)
        return rc == FERRY_ETOOBIG ? FERRY_EPARSE : rc;
    struct read_state st = {0};
    rc = log_ckpt_parse(text, len, 0, 3, read_entry, &st);
    ferry_free(text);
    if (rc) {
        ferry_free(st.e);
        return rc == FERRY_ENOMEM ? rc : FERRY_EPARSE;
    }
    *out = st.e;
    *n = st.n;
    return 0;
}

int logdir_offsets_write(const char *path, const struct logdir_tp_offset *e, size_t n)
{
    struct proto_writer w;
    proto_writer_init(&w);
    log_writer_printf(&w, "0\n%zu\n", n);
    for (size_t i = 0; i < n; i++)
        log_writer_printf(&w, "%s %d %lld\n", e[i].topic, e[i].partition, (long long)e[i].offset);
    if (w.err) {
        proto_writer_free(&w);
        return FERRY_ENOMEM;
    }
    int rc = log_write_file_atomic(path, w.buf, w.len);
    proto_writer_free(&w);
    return rc;
}
