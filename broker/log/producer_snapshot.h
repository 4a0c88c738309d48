/* producer_snapshot: producer-state snapshot files beside a partition's segments, in Kafka 3.7's format
 * (ProducerStateManager): `<20-digit offset>.snapshot`, holding the producer state as of that offset
 * (every batch below it applied). Big-endian:
 *
 *     int16 version (1) | uint32 CRC-32C of everything after this field | int32 count |
 *     count x { int64 producer id, int16 epoch, int32 last sequence, int64 last offset,
 *               int32 offset delta, int64 timestamp, int32 coordinator epoch, int64 current txn first
 *               offset (-1: none) }
 *
 * This module only reads and writes the files (written to .tmp, fsynced, renamed); what the entries
 * mean belongs to the producer-state machine (broker/producer). Nothing here touches plog's own files, and
 * plog's loader ignores .snapshot files. Thread-safe (no shared state). */
#ifndef FERRY_PRODUCER_SNAPSHOT_H
#define FERRY_PRODUCER_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_PSNAP_VERSION 1
#define LOG_PSNAP_ENTRY_SIZE 46

struct log_psnap_entry {
    int64_t producer_id;
    int16_t epoch;
    int32_t last_seq;
    int64_t last_offset;
    int32_t offset_delta;
    int64_t timestamp;
    int32_t coordinator_epoch;
    int64_t txn_first_offset;
};

/* Pure encoding: the file's bytes (ferry_malloc'd) / decoding them (entries ferry_malloc'd, NULL when
 * none). Decoding fails with FERRY_ECORRUPT on a short or long file, a bad CRC or a negative count, and
 * FERRY_EUNSUPPORTED on another version. */
int log_psnap_encode(const struct log_psnap_entry *e, size_t n, uint8_t **out, size_t *out_len);
int log_psnap_decode(const uint8_t *buf, size_t len, struct log_psnap_entry **out, size_t *n);

/* Writes <dir>/<offset>.snapshot atomically (tmp + rename); with sync, fsynced too. An unsynced snapshot
 * lost or torn by a crash is skipped at load (CRC) and the state is replayed from the log instead. */
int log_psnap_write(const char *dir, int64_t offset, const struct log_psnap_entry *e, size_t n, bool sync);
/* Reads <dir>/<offset>.snapshot: FERRY_ENOTFOUND, FERRY_ECORRUPT, ... */
int log_psnap_read(const char *dir, int64_t offset, struct log_psnap_entry **out, size_t *n);
/* The offsets of the snapshot files in dir, ascending (ferry_malloc'd, NULL when none). Left-over
 * .snapshot.tmp files are removed. */
int log_psnap_list(const char *dir, int64_t **offsets, size_t *n);
/* Deletes the snapshots whose offset is above `offset` (truncation) / below `offset` (retention). */
int log_psnap_delete_above(const char *dir, int64_t offset);
int log_psnap_delete_below(const char *dir, int64_t offset);

#endif
