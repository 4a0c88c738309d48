/* cleaner_ckpt: `<log.dir>/cleaner-offset-checkpoint` (internal), Kafka's checkpoint format
 * ("0\n<n>\n<topic> <partition> <first dirty offset>\n..."), one file per log dir shared by its logs.
 * Read at plog_open; rewritten (tmp + rename, no fsync: a lost update only makes the next clean redo
 * work) on the loop thread by plog_clean_end, and without the log's entry by plog_delete. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "cleaner.h"
#include "log_checkpoint.h"
#include "log_fs.h"
#include "plog_internal.h"

#define CLEANER_CKPT "cleaner-offset-checkpoint"
#define CLEANER_CKPT_MAX (64u << 20)

struct ckpt_find {
    const struct plog *log;
    int64_t offset;
    struct proto_writer *rewrite; /* non-NULL: copy the other entries here */
    int32_t count;
};

static int on_entry(void *arg, char **fields, int nfields)
{
    struct ckpt_find *f = arg;
    int32_t part;
    int64_t off;
    if (nfields != 3 || log_parse_i32(fields[1], &part) != 0 || log_parse_i64(fields[2], &off) != 0)
        return FERRY_EPARSE;
    bool mine = part == f->log->partition && strcmp(fields[0], f->log->topic) == 0;
    if (mine)
        f->offset = off;
    else if (f->rewrite) {
        log_writer_printf(f->rewrite, "%s %d %lld\n", fields[0], part, (long long)off);
        f->count++;
    }
    return 0;
}

static int read_ckpt(const struct plog *log, struct ckpt_find *f)
{
    char *path = log_path_join(log->root, CLEANER_CKPT);
    if (!path)
        return FERRY_ENOMEM;
    char *text = NULL;
    size_t len = 0;
    int rc = log_read_file(path, CLEANER_CKPT_MAX, &text, &len);
    if (rc == 0) {
        rc = log_ckpt_parse(text, len, 0, 3, on_entry, f);
        if (rc)
            LOG_WARN("log", "%s: %s is damaged (%s); ignoring it", log->name, path, ferry_strerror(rc));
    }
    ferry_free(text);
    ferry_free(path);
    return rc;
}

void plog_clean_load_checkpoint(struct plog *log)
{
    struct ckpt_find f = {.log = log, .offset = -1};
    if (read_ckpt(log, &f) == 0)
        log->cleaner_offset = f.offset;
}

static int write_ckpt(struct plog *log, bool keep_mine);

int plog_clean_store_checkpoint(struct plog *log) { return write_ckpt(log, true); }
int plog_clean_forget_checkpoint(struct plog *log) { return write_ckpt(log, false); }

static int write_ckpt(struct plog *log, bool keep_mine)
{
    struct proto_writer others;
    proto_writer_init(&others);
    struct ckpt_find f = {.log = log, .offset = -1, .rewrite = &others};
    if (read_ckpt(log, &f) != 0) {
        others.len = 0; /* a damaged or missing file is replaced */
        f.count = 0;
    }
    struct proto_writer w;
    proto_writer_init(&w);
    log_writer_printf(&w, "0\n%d\n", f.count + (keep_mine ? 1 : 0));
    if (others.len)
        proto_write_raw(&w, others.buf, others.len);
    if (keep_mine)
        log_writer_printf(&w, "%s %d %lld\n", log->topic, log->partition, (long long)log->cleaner_offset);
    int rc = w.err ? w.err : others.err;
    char *path = log_path_join(log->root, CLEANER_CKPT);
    char *tmp = log_path_fmt("%s/" CLEANER_CKPT ".tmp", log->root);
    if (!rc && (!path || !tmp))
        rc = FERRY_ENOMEM;
    if (!rc) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        bool ok = fd >= 0 && log_pwrite_full(fd, w.buf, w.len, 0) == 0;
        if (fd >= 0 && close(fd) != 0)
            ok = false;
        if (!ok || rename(tmp, path) != 0) {
            LOG_WARN("log", "%s: cannot write %s: %s", log->name, path, strerror(errno));
            rc = FERRY_EIO;
        }
    }
    ferry_free(path);
    ferry_free(tmp);
    proto_writer_free(&w);
    proto_writer_free(&others);
    return rc;
}
