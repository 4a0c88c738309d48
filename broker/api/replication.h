/* replication: the broker's side of partition replication, driven only by the metadata image (design
 * principle 1).
 *  - Roles: the publisher calls api_repl_partition for every changed partition this broker hosts; the
 *    image's leader, leader epoch, replicas and ISR make it the leader (broker/replica/leader_state.h) or a
 *    follower of the leader named there.
 *  - ISR: a timer every replica.lag.time.max.ms / 2 (and every follower fetch, for expansion) asks the
 *    leader core for an ISR change and proposes it through md_source's alter_partition; it takes effect
 *    when it comes back through the image.
 *  - Followers: one fetcher per leader broker (repl_fetcher.h) pulls the partitions this broker follows.
 *
 * Ownership: everything belongs to the broker and its loop; api_repl_start after the listeners,
 * api_repl_stop first in broker_stop. */
#ifndef FERRY_API_REPLICATION_H
#define FERRY_API_REPLICATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/metadata/md_image.h"
#include "broker/metadata/md_source.h"
#include "broker/replica/partitions.h"

struct broker;

/* Applies the image's view of a hosted partition: leader or follower. Returns true when the partition
 * fetches from a leader now or did before: the fetchers then follow at the next api_repl_fetchers_sync
 * (once per delta: a sync looks at every hosted partition). */
bool api_repl_partition(struct broker *b, const struct md_topic *t, const struct md_partition *mp,
                        struct rp_partition *p);
/* One fetcher per leader broker that this broker follows partitions of (started, stopped, or moved to a
 * registration's new endpoint): after partitions changed roles or brokers changed in the image. */
void api_repl_fetchers_sync(struct broker *b);
/* Turns the replica fetching of hosted partitions off or on, as a controller request said
 * (md_fetch_switch: StopReplica without deletion, LeaderAndIsr); a partition whose log is being created
 * keeps the setting once hosted, unknown partitions are ignored. The fetchers are synced once for the whole
 * list, when a hosted partition's fetching changed. */
void api_repl_set_fetching(struct broker *b, const struct md_fetch_switch *switches, size_t n);
/* Asks the leader core for an ISR change of p and proposes it (no-op unless p is led here). */
void api_repl_isr_check(struct broker *b, struct rp_partition *p);

int api_repl_start(struct broker *b);
void api_repl_stop(struct broker *b);

#endif
