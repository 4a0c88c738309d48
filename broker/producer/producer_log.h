/* producer_log: the producer state of a partition log on disk: snapshots (broker/log/producer_snapshot)
 * taken when a segment rolls and at clean shutdown, and the rebuild on open (Kafka's
 * ProducerStateManager.truncateAndReload + UnifiedLog.rebuildProducerState): snapshots above the log end
 * (left by a crash that cut the tail) are deleted, the latest remaining one is loaded (an unreadable one
 * is deleted and the next older is tried) and every batch from its offset (or the log start) to the log
 * end is replayed into the state. Runs on the loop thread (blocking file I/O, as the log's own load). */
#ifndef FERRY_PRODUCER_LOG_H
#define FERRY_PRODUCER_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/log/log.h"
#include "producer_state.h"

/* Rebuilds s (cleared first) from the snapshots in log's directory and the log. Returns 0, or an error
 * from reading the log (the state then holds what was replayed so far). */
int prod_log_load(struct prod_state *s, struct plog *log);
/* Writes s as the snapshot at `offset` (the state must reflect every batch below offset); `sync` fsyncs it
 * (clean shutdown). Snapshots taken at a segment roll on the loop are not fsynced, as Kafka's. */
int prod_log_snapshot(const struct prod_state *s, struct plog *log, int64_t offset, bool sync);
/* Replays the producer batches of a blob of whole batches (already in the log) into s. */
int prod_log_replay(struct prod_state *s, const uint8_t *batches, size_t len);

#endif
