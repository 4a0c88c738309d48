/* epoch_cache: the leader epoch cache of a partition log and its `leader-epoch-checkpoint` file
 * (internal; owned by the plog). Entries (epoch, start offset) are kept strictly increasing in both
 * fields, with Kafka's LeaderEpochFileCache rules for assign / truncateFromEnd / truncateFromStart /
 * endOffsetFor. The file is "0\n<n>\n<epoch> <startOffset>\n..." and is only written by a flush. */
#ifndef FERRY_LOG_EPOCH_CACHE_H
#define FERRY_LOG_EPOCH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

struct log_epoch_cache {
    struct plog_epoch_entry *e;
    size_t n, cap;
};

void log_epochs_free(struct log_epoch_cache *c);
/* Reads the checkpoint file. A missing file gives an empty cache (0); a damaged one FERRY_EPARSE (the
 * cache is then empty). */
int log_epochs_load(struct log_epoch_cache *c, const char *path);
/* Kafka's assign: 1 if the cache changed, 0 if not, FERRY_EINVAL / FERRY_ENOMEM. Entries that would break
 * monotonicity (epoch >= or start >= the new one's) are removed first. */
int log_epochs_assign(struct log_epoch_cache *c, int32_t epoch, int64_t start_offset, const char *log_name);
/* Removes entries whose start offset is >= end_offset. True if anything changed. */
bool log_epochs_truncate_from_end(struct log_epoch_cache *c, int64_t end_offset);
/* Removes entries below start_offset except the last of them, which moves up to start_offset. */
bool log_epochs_truncate_from_start(struct log_epoch_cache *c, int64_t start_offset);
void log_epochs_clear(struct log_epoch_cache *c);
static inline int32_t log_epochs_latest(const struct log_epoch_cache *c) { return c->n ? c->e[c->n - 1].epoch : -1; }
void log_epochs_end_offset_for(const struct log_epoch_cache *c, int32_t epoch, int64_t log_end_offset,
                               int32_t *out_epoch, int64_t *out_offset);
/* The checkpoint text (ferry_malloc'd, NUL-terminated). */
int log_epochs_serialize(const struct log_epoch_cache *c, char **text, size_t *len);

#endif
