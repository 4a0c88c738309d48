/* net: libuv listeners and Kafka client connections.
 *
 * The network layer frames requests (int32 size prefix, bounded by socket.request.max.bytes), parses
 * the request header, and hands each request to the listener's dispatch function. Requests on one
 * connection may be processed concurrently (a Fetch may park while a Produce behind it completes), but
 * responses are written strictly in request order. A connection whose unsent responses exceed a bound
 * stops being read until they drain (backpressure). Idle connections are closed after
 * connections.max.idle.ms.
 *
 * Ownership: the server owns its connections; a connection owns its in-flight requests until each is
 * completed with net_respond / net_respond_none. A request whose connection closed stays valid until
 * its handler completes it (the response is then dropped), so handlers never see freed memory. */
#ifndef FERRY_NET_H
#define FERRY_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "broker/proto/proto_buf.h"
#include "broker/proto/proto_header.h"
#include "broker/proto/proto_types.h"

struct net_conn;
struct net_server;
struct net_owned;

struct net_request {
    struct net_conn *conn; /* NULL once the connection has closed */
    struct proto_request_header hdr;
    struct proto_reader body;  /* the request body, after the header */
    struct proto_arena arena;  /* for the decoded request and the response struct */
    void *handler_data;        /* free for the handler's use */
    /* private to net: */
    struct net_owned *owned; /* buffers freed with the request */
    uint8_t *frame;
    size_t frame_len;
    struct proto_writer out;
    bool done;
    bool no_response;
    struct net_request *next;
};

/* Called for every well-framed request whose header parsed. The handler must eventually call
 * net_respond, net_respond_none or net_close_for. */
typedef void (*net_dispatch_fn)(void *ctx, struct net_request *req);

/* Backpressure defaults: a connection is not read while it has this many requests whose responses are
 * not yet written to the socket (being handled, waiting for their turn, or queued for writing), or this
 * many response bytes queued. Kafka itself handles one request per connection at a time. */
#define NET_DEFAULT_MAX_INFLIGHT 100
#define NET_DEFAULT_MAX_UNSENT_BYTES (16u * 1024 * 1024)

struct net_limits {
    int64_t max_request_bytes;   /* socket.request.max.bytes */
    int64_t idle_timeout_ms;     /* connections.max.idle.ms; <= 0 disables */
    size_t max_unsent_bytes;     /* stop reading above this many queued response bytes (0: default) */
    uint32_t max_inflight;       /* stop reading at this many requests not yet answered (0: default) */
};

int net_server_new(uv_loop_t *loop, const struct net_limits *limits, struct net_server **out);
/* Starts listening on host:port (port 0 = any free port; the chosen port is returned in *bound_port).
 * Every request accepted there goes to dispatch(ctx, req). */
int net_server_listen(struct net_server *s, const char *name, const char *host, int port, net_dispatch_fn dispatch,
                      void *ctx, int *bound_port);
/* Closes listeners and connections; in-flight requests are orphaned. Frees the server once libuv has
 * closed every handle (run the loop afterwards). */
void net_server_close(struct net_server *s);

/* Encodes `resp` (a struct of type m) at the request's version, with the matching response header, and
 * queues it in order. Frees the request once written (or immediately if orphaned). */
void net_respond(struct net_request *req, const struct proto_message *m, const void *resp);
/* The same, encoding the body at an explicit version (ApiVersions answers unknown versions with v0). */
void net_respond_at(struct net_request *req, const struct proto_message *m, int16_t version, const void *resp);
/* Completes a request that gets no response (Produce with acks=0). */
void net_respond_none(struct net_request *req);
/* Closes the request's connection (Kafka's answer to an unknown API key or version), logging why. */
void net_close_for(struct net_request *req, const char *why);

/* Hands a ferry_malloc'd buffer to the request: it is freed when the request is (e.g. records read for a
 * Fetch response). Returns false (and frees buf) on out of memory. */
bool net_request_adopt(struct net_request *req, void *buf);

/* The peer address of a request's connection as "ip:port" ("-" if orphaned). */
const char *net_request_peer(const struct net_request *req);
/* The name of the listener the request arrived on ("-" if orphaned). */
const char *net_request_listener(const struct net_request *req);

#endif
