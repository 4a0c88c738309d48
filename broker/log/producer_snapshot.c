/* producer_snapshot: see producer_snapshot.h (Kafka's producer-state snapshot files). */
#include "producer_snapshot.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/proto/crc32c.h"
#include "log_fs.h"

#define HEADER 10 /* version, crc, count */
#define CRC_FROM 6

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

int log_psnap_encode(const struct log_psnap_entry *e, size_t n, uint8_t **out, size_t *out_len)
{
    size_t len = HEADER + n * LOG_PSNAP_ENTRY_SIZE;
    uint8_t *b = ferry_malloc(len);
    if (!b)
        return FERRY_ENOMEM;
    put16(b, LOG_PSNAP_VERSION);
    put32(b + 6, (uint32_t)n);
    uint8_t *p = b + HEADER;
    for (size_t i = 0; i < n; i++, p += LOG_PSNAP_ENTRY_SIZE) {
        put64(p, (uint64_t)e[i].producer_id);
        put16(p + 8, (uint16_t)e[i].epoch);
        put32(p + 10, (uint32_t)e[i].last_seq);
        put64(p + 14, (uint64_t)e[i].last_offset);
        put32(p + 22, (uint32_t)e[i].offset_delta);
        put64(p + 26, (uint64_t)e[i].timestamp);
        put32(p + 34, (uint32_t)e[i].coordinator_epoch);
        put64(p + 38, (uint64_t)e[i].txn_first_offset);
    }
    put32(b + 2, crc32c(0, b + CRC_FROM, len - CRC_FROM));
    *out = b;
    *out_len = len;
    return 0;
}

int log_psnap_decode(const uint8_t *b, size_t len, struct log_psnap_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (len < HEADER)
        return FERRY_ECORRUPT;
    if ((int16_t)get16(b) != LOG_PSNAP_VERSION)
        return FERRY_EUNSUPPORTED;
    if (get32(b + 2) != crc32c(0, b + CRC_FROM, len - CRC_FROM))
        return FERRY_ECORRUPT;
    int32_t count = (int32_t)get32(b + 6);
    if (count < 0 || (len - HEADER) / LOG_PSNAP_ENTRY_SIZE != (size_t)count ||
        (len - HEADER) % LOG_PSNAP_ENTRY_SIZE != 0)
        return FERRY_ECORRUPT;
    if (count == 0)
        return 0;
    struct log_psnap_entry *e = ferry_calloc((size_t)count, sizeof *e);
    if (!e)
        return FERRY_ENOMEM;
    const uint8_t *p = b + HEADER;
    for (int32_t i = 0; i < count; i++, p += LOG_PSNAP_ENTRY_SIZE) {
        e[i].producer_id = (int64_t)get64(p);
        e[i].epoch = (int16_t)get16(p + 8);
        e[i].last_seq = (int32_t)get32(p + 10);
        e[i].last_offset = (int64_t)get64(p + 14);
        e[i].offset_delta = (int32_t)get32(p + 22);
        e[i].timestamp = (int64_t)get64(p + 26);
        e[i].coordinator_epoch = (int32_t)get32(p + 34);
        e[i].txn_first_offset = (int64_t)get64(p + 38);
    }
    *out = e;
    *n = (size_t)count;
    return 0;
}

int log_psnap_write(const char *dir, int64_t offset, const struct log_psnap_entry *e, size_t n, bool sync)
{
    uint8_t *buf;
    size_t len;
    int rc = log_psnap_encode(e, n, &buf, &len);
    if (rc)
        return rc;
    char *path = log_segment_path(dir, offset, ".snapshot");
    rc = path ? log_write_file_replace(path, buf, len, sync) : FERRY_ENOMEM;
    if (rc && path)
        LOG_ERROR("log", "cannot write producer snapshot %s: %s", path, ferry_strerror(rc));
    ferry_free(path);
    ferry_free(buf);
    return rc;
}

int log_psnap_read(const char *dir, int64_t offset, struct log_psnap_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char *path = log_segment_path(dir, offset, ".snapshot");
    if (!path)
        return FERRY_ENOMEM;
    char *data;
    size_t len;
    int rc = log_read_file(path, (size_t)1 << 30, &data, &len);
    if (rc == 0) {
        rc = log_psnap_decode((const uint8_t *)data, len, out, n);
        ferry_free(data);
        if (rc)
            LOG_WARN("log", "producer snapshot %s is unreadable: %s", path, ferry_strerror(rc));
    }
    ferry_free(path);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int log_psnap_list(const char *dir, int64_t **offsets, size_t *n)
{
    *offsets = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return FERRY_EIO;
    int64_t *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        int64_t off;
        if (log_parse_segment_name(de->d_name, ".snapshot.tmp", &off)) {
            char *p = log_path_join(dir, de->d_name);
            if (p)
                unlink(p);
            ferry_free(p);
            continue;
        }
        if (!log_parse_segment_name(de->d_name, ".snapshot", &off))
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 8;
            int64_t *nv = ferry_realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = FERRY_ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[cnt++] = off;
    }
    closedir(d);
    if (rc) {
        ferry_free(v);
        return rc;
    }
    if (cnt > 1)
        qsort(v, cnt, sizeof *v, cmp_i64);
    *offsets = v;
    *n = cnt;
    return 0;
}

static int delete_where(const char *dir, int64_t offset, int above)
{
    int64_t *v;
    size_t n;
    int rc = log_psnap_list(dir, &v, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (above ? v[i] <= offset : v[i] >= offset)
            continue;
        char *p = log_segment_path(dir, v[i], ".snapshot");
        if (!p) {
            rc = FERRY_ENOMEM;
            break;
        }
        if (unlink(p) != 0)
            rc = FERRY_EIO;
        ferry_free(p);
    }
    ferry_free(v);
    return rc;
}

int log_psnap_delete_above(const char *dir, int64_t offset) { return delete_where(dir, offset, 1); }
int log_psnap_delete_below(const char *dir, int64_t offset) { return delete_where(dir, offset, 0); }
