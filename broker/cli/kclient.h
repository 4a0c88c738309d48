/* kclient: a small blocking Kafka client for the operator tools (`ferry topics`, later `ferry quorum
 * describe` and `ferry migrate ...`).
 *
 * One kclient is one TCP connection to one broker, used by one thread: connect (with a timeout), the
 * ApiVersions handshake (v3 first, falling back as librdkafka does), then any number of request/response
 * round trips, one at a time. Requests and responses are the generated structs of proto_messages.h,
 * encoded and decoded by proto_codec; header versions follow from (api key, version). Versions are
 * negotiated as min(what this client's codec knows, what the broker advertises).
 *
 * Ownership: the kclient owns its socket and nothing else. A decoded response lives in the caller's
 * arena (its strings point into a copy of the response bytes held in the same arena), so it stays valid
 * until the caller frees that arena. Every failure leaves a one-line human-readable explanation in
 * kclient_errmsg(). */
#ifndef FERRY_KCLIENT_H
#define FERRY_KCLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/common/ferry_err.h"
#include "proto_buf.h"

/* Errors specific to talking to a broker, beside the FERRY_E* codes (FERRY_EPARSE: a response that does
 * not decode; FERRY_ENOMEM; FERRY_EINVAL: a bad "host:port"). */
enum kclient_err {
    KCLIENT_ECONNREFUSED = -100, /* nothing listens at the address */
    KCLIENT_ETIMEDOUT = -101,    /* connect, send or receive took longer than the timeout */
    KCLIENT_ECLOSED = -102,      /* the broker closed the connection (a truncated response included) */
    KCLIENT_ERESOLVE = -103,     /* the host name does not resolve */
    KCLIENT_EUNSUPPORTED = -104, /* the broker does not serve a version of this API that we know */
    KCLIENT_ENOCONTROLLER = -105, /* Metadata names no reachable controller */
    KCLIENT_ENET = -106,         /* any other socket error */
};

/* The API ranges a broker advertised (at most this many distinct keys are kept). */
#define KCLIENT_MAX_APIS 128

struct kclient_api {
    int16_t api_key, min_version, max_version;
};

struct kclient {
    int fd; /* -1 when not connected */
    char host[256];
    int port;
    int32_t node_id; /* the broker's node id once known (from Metadata), else -1 */
    int timeout_ms;  /* for connect, and for each request's send + receive */
    const char *client_id;
    int32_t next_correlation_id;
    int16_t api_versions_version; /* the ApiVersions version the broker accepted */
    struct kclient_api apis[KCLIENT_MAX_APIS];
    int napis;
    char errmsg[512];
};

/* Sets defaults (no connection, 30 s timeout, client id "ferry-cli"). */
void kclient_init(struct kclient *c);

/* Splits "host:port" (or "[v6addr]:port"; a comma-separated bootstrap list uses its first entry) into
 * host (NUL-terminated, at most hostcap bytes with the NUL) and port. Returns 0 or FERRY_EINVAL. */
int kclient_parse_hostport(const char *s, char *host, size_t hostcap, int *port);

/* Connects to host:port and performs the ApiVersions handshake. Returns 0 or a negative error. */
int kclient_connect(struct kclient *c, const char *host, int port);
/* Same, from a "host:port" bootstrap string. */
int kclient_connect_bootstrap(struct kclient *c, const char *bootstrap);

/* Closes the connection (safe to call twice); the kclient can connect again afterwards. */
void kclient_close(struct kclient *c);

/* The version to use for api_key: min(our codec's max, broker's max), checked against both minimums and
 * against `need_min` (the lowest version the caller can work with). Returns the version, or
 * KCLIENT_EUNSUPPORTED (with errmsg set) when there is none. */
int kclient_pick_version(struct kclient *c, int16_t api_key, int16_t need_min);

/* The broker's advertised range for api_key, or NULL. */
const struct kclient_api *kclient_broker_api(const struct kclient *c, int16_t api_key);

/* Sends one request (`req` is the generated struct for api_key's request, encoded at `version`) and
 * waits for its response, decoded into `resp` (the generated response struct) in arena `a`. Returns 0
 * or a negative error; Kafka error codes inside the response are the caller's to read. */
int kclient_call(struct kclient *c, int16_t api_key, int16_t version, const void *req, struct proto_arena *a,
                 void *resp);

/* Finds the controller as Kafka's admin client does (Metadata v1+ ControllerId, then that broker's
 * address from the same answer) and, if it is another broker, reconnects to it. Retries for up to the
 * timeout while no controller is known. Returns 0 or a negative error. */
int kclient_connect_controller(struct kclient *c);

/* The last failure, as one line without a trailing newline ("" when none). */
const char *kclient_errmsg(const struct kclient *c);

/* A short name for a kclient or ferry error code. */
const char *kclient_strerror(int err);

/* Kafka's default message for an error code (Errors.java), for responses that carry no message. */
const char *kclient_kafka_message(int16_t code);


#endif
