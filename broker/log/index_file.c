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
    f->fd = -1;
    f->path = path;
    f->base_offset = base_offset;
    f->entry_size = entry_size;
    f->entries = 0;
    f->written = 0;
    f->tail = NULL;
    f->max_entries = max_entries < 1 ? 1 : max_entries;
    *trailing = false;
    if (!path)
        return FERRY_ENOMEM;
    f->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f->fd < 0)
        goto free_path;
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        goto close_fd;
    uint64_t size = (uint64_t)st.st_size;
    *trailing = size % entry_size != 0;
    uint64_t n = size / entry_size;
    f->entries = n > INT32_MAX ? INT32_MAX : (int32_t)n;
    f->written = f->entries;
    return 0;
close_fd:
    close(f->fd);
    f->fd = -1;
free_path:
    ferry_free(f->path);
    f->path = NULL;
    return FERRY_EIO;
}

void log_idxfile_close(struct log_idxfile *f)
{
    if (f->fd >= 0) {
        log_idxfile_write_out(f);
        close(f->fd);
    }
    ferry_free(f->tail);
    f->tail = NULL;
    f->fd = -1;
    ferry_free(f->path);
    f->path = NULL;
}

int log_idxfile_read(const struct log_idxfile *f, int32_t i, uint8_t *buf)
{
    if (i < 0 || i >= f->entries)
        return FERRY_ERANGE;
    if (i >= f->written) {
        memcpy(buf, f->tail + (size_t)(i - f->written) * f->entry_size, f->entry_size);
        return 0;
    }
    return log_pread_full(f->fd, buf, f->entry_size, (off_t)i * (off_t)f->entry_size);
}

int log_idxfile_write_out(struct log_idxfile *f)
{
    if (f->entries == f->written)
        return 0;
    int rc = log_pwrite_full(f->fd, f->tail, (size_t)(f->entries - f->written) * f->entry_size,
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
    if (ftruncate(f->fd, (off_t)n * (off_t)f->entry_size) != 0)
        return FERRY_EIO;
    f->entries = f->written = n;
    return 0;
}

int log_idxfile_rename(struct log_idxfile *f, char *new_path)
{
    if (!new_path)
        return FERRY_ENOMEM;
    if (rename(f->path, new_path) != 0 && errno != ENOENT) {
        ferry_free(new_path);
        return FERRY_EIO;
    }
    ferry_free(f->path);
    f->path = new_path;
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
        rc = log_pread_full(f->fd, buf, (size_t)n * f->entry_size, (off_t)i * (off_t)f->entry_size);
        for (int32_t k = 0; k < n && rc == 0; k++)
            rc = fn(arg, i + k, buf + (size_t)k * f->entry_size);
        i += n;
    }
    ferry_free(buf);
    return rc;
}
