/* index_file: see index_file.h. */
#include "index_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "log_fs.h"

int log_idxfile_open(struct log_idxfile *f, char *path, int64_t base_offset, size_t entry_size,
                     int32_t max_entries, bool *trailing)
{
    f->base_offset = base_offset;
    f->entry_size = entry_size;
    f->entries = 0;
    f->written = 0;
    f->tail = NULL;
    f->max_entries = max_entries < 1 ? 1 : max_entries;
    *trailing = false;
    int rc = log_file_open(&f->file, path, true, false);
    if (rc)
        return rc;
    struct stat st;
    if (fstat(f->file.fd, &st) != 0) {
        log_file_close(&f->file);
        return FERRY_EIO;
    }
    uint64_t size = (uint64_t)st.st_size;
    *trailing = size % entry_size != 0;
    uint64_t n = size / entry_size;
    f->entries = n > INT32_MAX ? INT32_MAX : (int32_t)n;
    f->written = f->entries;
    return 0;
}

void log_idxfile_close(struct log_idxfile *f)
{
    if (log_file_is_open(&f->file))
        log_idxfile_write_out(f);
    ferry_free(f->tail);
    f->tail = NULL;
    log_file_close(&f->file);
}

int log_idxfile_read(const struct log_idxfile *f, int32_t i, uint8_t *buf)
{
    if (i < 0 || i >= f->entries)
        return FERRY_ERANGE;
    if (i >= f->written) {
        memcpy(buf, f->tail + (size_t)(i - f->written) * f->entry_size, f->entry_size);
        return 0;
    }
    /* Reopening changes only the descriptor cache, not the index: hence the cast of const. */
    return log_pread_full(log_file_fd((struct log_file *)&f->file), buf, f->entry_size, (off_t)i * (off_t)f->entry_size);
}

int log_idxfile_write_out(struct log_idxfile *f)
{
    if (f->entries == f->written)
        return 0;
    int rc = log_pwrite_full(log_file_fd(&f->file), f->tail, (size_t)(f->entries - f->written) * f->entry_size,
                             (off_t)f->written * (off_t)f->entry_size);
    if (rc == 0)
        f->written = f->entries;
    return rc;
}

int log_idxfile_append(struct log_idxfile *f, const uint8_t *buf)
{
    if (f->entries == INT32_MAX)
        return FERRY_ERANGE;
    if (f->entries - f->written == LOG_IDXFILE_TAIL) {
        int rc = log_idxfile_write_out(f);
        if (rc)
            return rc;
    }
    if (!f->tail) {
        f->tail = ferry_malloc(LOG_IDXFILE_TAIL * f->entry_size);
        if (!f->tail)
            return FERRY_ENOMEM;
    }
    memcpy(f->tail + (size_t)(f->entries - f->written) * f->entry_size, buf, f->entry_size);
    f->entries++;
    return 0;
}

int log_idxfile_truncate(struct log_idxfile *f, int32_t n)
{
    if (n < 0)
        n = 0;
    if (n >= f->written) {
        if (n < f->entries)
            f->entries = n; /* only the in-memory tail shrinks */
        return 0;
    }
    if (ftruncate(log_file_fd(&f->file), (off_t)n * (off_t)f->entry_size) != 0)
        return FERRY_EIO;
    f->entries = f->written = n;
    return 0;
}

int log_idxfile_scan(struct log_idxfile *f, int (*fn)(void *arg, int32_t i, const uint8_t *e), void *arg)
{
    int wrc = log_idxfile_write_out(f);
    if (wrc)
        return wrc;
    enum { CHUNK_ENTRIES = 5460 }; /* 64 KiB of 12-byte entries */
    uint8_t *buf = ferry_malloc(CHUNK_ENTRIES * f->entry_size);
    if (!buf)
        return FERRY_ENOMEM;
    int rc = 0;
    for (int32_t i = 0; i < f->entries && rc == 0;) {
        int32_t n = f->entries - i < CHUNK_ENTRIES ? f->entries - i : CHUNK_ENTRIES;
        rc = log_pread_full(log_file_fd(&f->file), buf, (size_t)n * f->entry_size, (off_t)i * (off_t)f->entry_size);
        for (int32_t k = 0; k < n && rc == 0; k++)
            rc = fn(arg, i + k, buf + (size_t)k * f->entry_size);
        i += n;
    }
    ferry_free(buf);
    return rc;
}
