/* lifecycle: a quorum-mode broker's side of the broker lifecycle (Kafka 3.7's
 * BrokerLifecycleManager): it registers the broker with the active controller (BrokerRegistration v3:
 * its advertised listeners with their bound ports, the metadata.version range it supports, its
 * incarnation id, rack and log directory ids), then sends a BrokerHeartbeat every
 * broker.heartbeat.interval.ms carrying the offset its metadata image has reached; the controller
 * unfences it once that offset reaches its registration, and fences it when the heartbeats stop for
 * broker.session.timeout.ms. At stop it asks for a controlled shutdown (WantShutDown) and keeps
 * heartbeating until the controller answers ShouldShutDown (leadership moved off it) or the shutdown
 * deadline passes.
 *
 * The requests go through the broker's ctrl_channel (ctrl_channel.h): in-process to this node's own
 * controller when it is the active one, else over the wire. A NOT_CONTROLLER answer or a failed call is
 * retried after controller.quorum.retry.backoff.ms (on another controller); STALE_BROKER_EPOCH makes it
 * register again.
 *
 * A registration written for this broker by its own node's start-up path (kraft_node registers the
 * local broker of a combined node when it becomes the active controller) carries the same incarnation
 * id (kraftmode/kraft_broker.h): the manager adopts its epoch instead of registering again.
 *
 * Ownership: created by the broker on the loop thread after its metadata source; stopped before it. */
#ifndef FERRY_LIFECYCLE_H
#define FERRY_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "proto_types.h"

struct ferry_config;
struct kraft_node;
struct ctrl_channel;
struct lifecycle;

/* Starts the manager for cfg's broker, talking through ch. Registration waits for
 * lifecycle_listeners_bound. Returns 0 or FERRY_ENOMEM. */
int lifecycle_start(uv_loop_t *loop, const struct ferry_config *cfg, struct kraft_node *node, struct ctrl_channel *ch,
                    struct lifecycle **out);
/* The ports the broker's listeners got (names[i] -> ports[i], copied): advertised endpoints configured
 * with port 0 are registered with these. */
void lifecycle_listeners_bound(struct lifecycle *lc, const char *const *names, const uint16_t *ports,
                                     size_t n);
/* The broker epoch the controller gave (-1 before registration) and whether it last reported the
 * broker fenced. */
int64_t lifecycle_epoch(const struct lifecycle *lc);
bool lifecycle_fenced(const struct lifecycle *lc);
/* Starts the controlled shutdown; done(arg) runs once the controller answered ShouldShutDown, or after
 * timeout_ms (then the broker stops anyway, as Kafka's does). */
void lifecycle_shutdown(struct lifecycle *lc, int64_t timeout_ms, void (*done)(void *arg), void *arg);
/* Stops at once: no callback runs afterwards; frees itself as the loop runs. */
void lifecycle_stop(struct lifecycle *lc);

#endif
