/* repl_fetcher: the follower side of replication. One fetcher per leader broker, on the loop: an outbound
 * connection (net_client) to the leader's endpoint for the inter-broker listener, as the image registers
 * it; ApiVersions; then, for the partitions this broker follows under that leader:
 *  - when a partition's leader or epoch changed (truncate_check), OffsetForLeaderEpoch with its latest local
 *    epoch, and truncation to where the logs agree (Kafka's AbstractFetcherThread rules, repeated until the
 *    epochs match);
 *  - Fetch as replica (ReplicaId = this broker, CurrentLeaderEpoch, replica.fetch.wait.max.ms,
 *    replica.fetch.min.bytes, replica.fetch.max.bytes per partition, replica.fetch.response.max.bytes):
 *    batches are checked (framing, CRC) and appended as a follower (the leader's offsets and epochs kept),
 *    the high watermark follows the response's, the log start offset follows the leader's.
 * A failed connection is retried after replica.fetch.backoff.ms, looking the leader's endpoint up again.
 * Which fetchers exist follows the image (repl_fetchers_sync after every delta), leaving out partitions whose
 * fetching is stopped (rp_set_fetching: legacy StopReplica without deletion). A round and a resync
 * visit only the partitions that follow a leader (the replica manager's lists, rp_following_*), not every
 * hosted partition.
 *
 * Ownership: the broker owns the set; everything runs on its loop. */
#ifndef FERRY_REPL_FETCHER_H
#define FERRY_REPL_FETCHER_H

#include <stddef.h>

struct broker;
struct repl_fetchers;

int repl_fetchers_new(struct broker *b, struct repl_fetchers **out);
/* Starts fetchers for leaders this broker now follows and stops those it no longer needs. */
void repl_fetchers_sync(struct repl_fetchers *fs);
/* How many fetchers run (one per leader followed). */
size_t repl_fetchers_count(const struct repl_fetchers *fs);
/* Stops every fetcher (no callbacks afterwards) and frees the set as the loop runs. */
void repl_fetchers_close(struct repl_fetchers *fs);

#endif
