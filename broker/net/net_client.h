/* net_client: one outbound Kafka connection on the event loop (a follower's fetcher talking to its
 * leader; a broker forwarding to the controller). Resolves and connects without blocking, sends requests
 * (framed, with the request header its (api key, version) needs; one at a time, or several pipelined) and
 * decodes each response into the generated response struct.
 *
 * Every failure (resolution, connect, write, a closed connection, a response that does not decode, no
 * answer within the request timeout) is reported once, through the pending callback, and leaves the
 * client broken: the owner then calls net_client_close and may make a new one (after a backoff).
 *
 * Ownership: the owner creates and closes it on the loop thread. Callbacks run on the loop, never from
 * inside the call that started the operation, and never after net_client_close. The decoded response and
 * its arena belong to the client and are valid only during the callback. */
#ifndef FERRY_NET_CLIENT_H
#define FERRY_NET_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "broker/proto/proto_buf.h"

struct net_client;

typedef void (*net_client_connect_fn)(void *arg, int rc);
/* rc 0: resp is the decoded response struct; else a negative FERRY_E* and resp NULL. */
typedef void (*net_client_response_fn)(void *arg, int rc, void *resp);

/* Starts connecting to host:port; connected(arg, rc) follows. timeout_ms bounds the connect and each
 * request. Returns 0 or FERRY_ENOMEM. */
int net_client_connect(uv_loop_t *loop, const char *host, uint16_t port, const char *client_id, int64_t timeout_ms,
                       net_client_connect_fn connected, void *arg, struct net_client **out);
/* Sends `req` (the generated request struct of api_key) at `version`; done(arg, rc, resp) follows. Up to
 * the pipeline's size in flight (one unless net_client_set_pipeline), answered in order: FERRY_EINVAL if
 * that many are in flight or the client is not connected; FERRY_EINVAL or FERRY_ENOMEM when it does not
 * encode (no callback then). A failure is reported to every request in flight, oldest first, until the
 * owner closes the client. */
int net_client_send(struct net_client *c, int16_t api_key, int16_t version, const void *req,
                    net_client_response_fn done, void *arg);
#define NET_CLIENT_MAX_PIPELINE 64
/* Up to max_in_flight requests (1..NET_CLIENT_MAX_PIPELINE) in flight at once on this connection; those
 * sent in one loop turn (or while a write is under way) go out together in one write. Each has the
 * timeout of its own. */
void net_client_set_pipeline(struct net_client *c, size_t max_in_flight);
size_t net_client_in_flight(const struct net_client *c);
/* After a failure: whether the peer itself closed the connection or refused it (EOF, ECONNRESET, EPIPE,
 * ECONNREFUSED: its process is gone or restarted), as opposed to a timeout or a local error. */
bool net_client_closed_by_peer(const struct net_client *c);
/* Closes the connection; no callback runs afterwards; freed once libuv is done with it. */
void net_client_close(struct net_client *c);

#endif
