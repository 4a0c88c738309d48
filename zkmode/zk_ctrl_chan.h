/* zk_ctrl_chan: a channel from a legacy-mode broker to the current ZooKeeper-mode controller, as Kafka's
 * BrokerToControllerChannelManager (one per purpose: AlterPartition, ControlledShutdown). The controller is
 * the broker holding /controller (zk_source_controller_id), reached on the endpoint of its inter-broker
 * listener (inter.broker.listener.name) as the source's image registers it. One request at a time over
 * broker/net/net_client; the connection is kept while the controller stays the same and is made again
 * when the controller moved or the connection failed. Retrying is the caller's (after a backoff).
 *
 * Ownership: the zk_src's owner (zkmode/) creates and closes it on the loop. Callbacks run on the loop,
 * never inside the call that started the operation and never after zk_chan_close; the response is valid
 * only during the callback. Not for use outside zkmode/. */
#ifndef FERRY_ZK_CTRL_CHAN_H
#define FERRY_ZK_CTRL_CHAN_H

#include <stdbool.h>
#include <stdint.h>

struct zk_src;
struct zk_chan;

/* rc 0: resp is the decoded response of the controller controller_id; else a negative FERRY_E* (the
 * connection or the request failed, or timed out after request.timeout.ms) and resp NULL. */
typedef void (*zk_chan_done_fn)(void *arg, int rc, int32_t controller_id, void *resp);

/* client_id: the request header's client id (copied). Returns 0 or FERRY_ENOMEM. */
int zk_chan_new(struct zk_src *z, const char *client_id, struct zk_chan **out);
/* Sends req (the generated request struct of api_key, which must stay valid until done runs) at version to
 * the current controller. Returns 0 (done follows), FERRY_ENOTFOUND when no controller is known or the
 * image has no endpoint for it, FERRY_EINVAL when a request is already in flight, FERRY_ENOMEM: no callback
 * then. */
int zk_chan_send(struct zk_chan *c, int16_t api_key, int16_t version, const void *req, zk_chan_done_fn done,
                 void *arg);
/* The owner's timer: fn(arg) runs after ms from the loop, replacing one pending (retries, deferred
 * answers). */
typedef void (*zk_chan_timer_fn)(void *arg);
void zk_chan_later(struct zk_chan *c, uint64_t ms, zk_chan_timer_fn fn, void *arg);
bool zk_chan_later_pending(const struct zk_chan *c);
/* Closes the connection and the timer; no callback runs afterwards. */
void zk_chan_close(struct zk_chan *c);

#endif
