/* zk_session: one ZooKeeper session driven from a libuv loop, in the shape of Kafka's ZooKeeperClient.
 *
 * The single-threaded C client (libzookeeper_st) is pumped with zookeeper_interest()/zookeeper_process()
 * from a uv_poll on (a dup of) its socket and a uv_timer for its timeout; only the asynchronous calls are
 * used. Requests are pipelined (at most max_in_flight unanswered, the rest queued in order) and each ends
 * with exactly one completion:
 *  - a request that fails with CONNECTIONLOSS or OPERATIONTIMEOUT is sent again once the session is
 *    connected again (Kafka's retryRequestsUntilConnected): callers must accept NODEEXISTS/BADVERSION/NONODE
 *    caused by their own earlier attempt;
 *  - when the session expires, every request already sent ends with ZSESSIONEXPIRED; requests made after
 *    that wait for the new session. The session is rebuilt at once (retried every second), then
 *    ZK_EV_NEW_SESSION is reported so that owners re-register ephemerals and re-install watches
 *    (Kafka's stateChangeHandlers);
 *  - zk_session_close ends every request with ZCLOSING.
 * Watches go through the handle's one watcher and are dispatched by path to the handlers added with
 * zk_watch_add (Kafka's znodeChangeHandlers); ZooKeeper watches are one-shot: handlers re-read with watch.
 *
 * Completions and state/watch callbacks run on the loop (from zookeeper_process), never inside the call
 * that issued the request, except zk_session_close which ends the outstanding requests inside itself.
 *
 * Ownership: the session owns its handle, its uv handles and copies of every request's path and data; the
 * caller owns the session until zk_session_close (which frees it as the loop runs). */
#ifndef FERRY_ZK_SESSION_H
#define FERRY_ZK_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <zookeeper/zookeeper.h>

struct zk_session;

struct zk_session_conf {
    const char *connect;       /* "host:port[,host:port...][/chroot]" (copied) */
    int32_t session_timeout_ms;
    int32_t max_in_flight;     /* zookeeper.max.in.flight.requests, >= 1 */
    const char *digest;        /* "user:password" for the digest scheme, or NULL (copied) */
    bool secure_acls;          /* zookeeper.set.acl: creator-all + world-read (zk_acl_for) */
};

enum zk_session_event {
    ZK_EV_CONNECTED = 1,    /* (re)connected within the same session */
    ZK_EV_DISCONNECTED = 2, /* the connection dropped; the client reconnects by itself */
    ZK_EV_EXPIRED = 3,      /* the session expired: its ephemerals and watches are gone */
    ZK_EV_NEW_SESSION = 4,  /* a new session after an expiry is connected */
    ZK_EV_AUTH_FAILED = 5,  /* the server refused the digest credentials (fatal for the session) */
};

/* The outcome of one request. rc is ZOK or a ZooKeeper error (ZNONODE, ZNODEEXISTS, ZBADVERSION,
 * ZNOTEMPTY, ZSESSIONEXPIRED, ZCLOSING, ZNOAUTH, ...). The pointers are valid during the callback only. */
struct zk_result {
    int rc;
    const struct Stat *stat;                /* create, set, get, exists (NULL otherwise or on error) */
    const char *data;                       /* get: the data (NULL with len -1 for null data) */
    int len;
    const struct String_vector *children;   /* children */
    const zoo_op_result_t *results;         /* multi: one per op (err of each) */
    int nresults;
};

typedef void (*zk_done_fn)(void *arg, const struct zk_result *r);
typedef void (*zk_state_fn)(void *arg, enum zk_session_event ev);
/* type: ZOO_CREATED_EVENT, ZOO_DELETED_EVENT, ZOO_CHANGED_EVENT or ZOO_CHILD_EVENT. */
typedef void (*zk_watch_fn)(void *arg, int type, const char *path);

/* Starts connecting (nothing blocks). on_state may be NULL. 0, FERRY_ENOMEM or FERRY_EINVAL (a connect
 * string the client refuses). */
int zk_session_new(uv_loop_t *loop, const struct zk_session_conf *conf, zk_state_fn on_state, void *arg,
                   struct zk_session **out);
/* Ends every outstanding request with ZCLOSING, closes the session (its ephemerals go at once) and frees
 * it as the loop runs. Safe from inside a callback of this session. */
void zk_session_close(struct zk_session *s);
/* Moves the session's uv handles to another loop (the old loop must then run until its handles closed). */
int zk_session_move(struct zk_session *s, uv_loop_t *loop);

bool zk_session_connected(const struct zk_session *s);

/* Bulk mode (returns the previous mode): requests made while it is on may be in flight up to
 * ZK_BULK_IN_FLIGHT at once instead of max_in_flight. For the controller's failover, which reads every
 * partition state and writes the changed ones in one go (Kafka keeps those to
 * zookeeper.max.in.flight.requests too; docs/compatibility.md). Requests still go out in the order they
 * were made: a request of the normal kind at the head of the queue waits until fewer than max_in_flight
 * are unanswered. Half of ZooKeeper's globalOutstandingLimit (1000, for the whole server). */
#define ZK_BULK_IN_FLIGHT 500
bool zk_session_bulk(struct zk_session *s, bool on);
/* Ends every request made in bulk mode that is still queued (not sent yet) with ZCLOSING, from the loop
 * (never inside this call); requests already in flight run their course. Returns how many. For bulk work
 * its owner gave up: the controller stopped (resigned, or its session expired), whose failover reads and
 * writes left in the queue would otherwise go out ahead of everything made after them, the broker's
 * re-registration and election on the next session and the next term's load included. */
size_t zk_session_drop_bulk(struct zk_session *s);
/* Requests sent and not yet answered. */
int zk_session_in_flight(const struct zk_session *s);
/* The current session id (0 before the first connection). */
int64_t zk_session_id(const struct zk_session *s);
const struct ACL_vector *zk_session_acl(const struct zk_session *s, const char *path);

/* Requests: 0 (done will run once) or FERRY_ENOMEM / FERRY_EINVAL (session closing; done will not run).
 * data NULL means null data. flags: ZOO_PERSISTENT, ZOO_EPHEMERAL, ZOO_PERSISTENT_SEQUENTIAL, ... */
int zk_create(struct zk_session *s, const char *path, const char *data, int len, int flags, zk_done_fn done,
              void *arg);
/* zk_create after the missing ancestors of path (null data, persistent, their errors ignored), all
 * pipelined in one go: ZooKeeper applies a session's requests in order. done gets the last create's rc. */
int zk_create_path(struct zk_session *s, const char *path, const char *data, int len, int flags, zk_done_fn done,
                   void *arg);
int zk_set(struct zk_session *s, const char *path, const char *data, int len, int version, zk_done_fn done,
           void *arg);
int zk_delete(struct zk_session *s, const char *path, int version, zk_done_fn done, void *arg);
/* watch: leave a one-shot watch that zk_watch_add handlers of path receive. */
int zk_get(struct zk_session *s, const char *path, bool watch, zk_done_fn done, void *arg);
int zk_exists(struct zk_session *s, const char *path, bool watch, zk_done_fn done, void *arg);
int zk_children(struct zk_session *s, const char *path, bool watch, zk_done_fn done, void *arg);

/* One operation of a multi. */
enum zk_op_type { ZK_OP_CREATE = 1, ZK_OP_SET, ZK_OP_DELETE, ZK_OP_CHECK };
struct zk_op {
    enum zk_op_type type;
    const char *path;
    const char *data; /* create/set; NULL = null data */
    int len;
    int version;      /* set/delete/check */
    int flags;        /* create */
};
/* All ops or none. r->results[i].err tells each op's outcome; r->results[i].stat is the Stat of a set. */
int zk_multi(struct zk_session *s, const struct zk_op *ops, int n, zk_done_fn done, void *arg);

/* Watch handlers by exact path (several per path allowed). 0 or FERRY_ENOMEM. */
int zk_watch_add(struct zk_session *s, const char *path, zk_watch_fn fn, void *arg);
void zk_watch_remove(struct zk_session *s, const char *path, zk_watch_fn fn, void *arg);

/* The ACL Kafka gives a znode at path (ZkData.defaultAcls): open when !secure and for /consumers itself;
 * otherwise creator-all, plus world-read except under /config/users, /config/brokers and
 * /delegation_token/tokens. */
const struct ACL_vector *zk_acl_for(bool secure, const char *path);

/* Splits zookeeper.connect into hosts and chroot ("" when none, else "/a/b" without a trailing slash).
 * FERRY_EINVAL (with a reason in err) for an empty host list, a host without a port, or a chroot that is
 * not a valid path (empty components, trailing slash). hosts and chroot are ferry_malloc'd. */
int zk_connect_split(const char *connect, char **hosts, char **chroot, char *err, size_t errlen);

/* A short name for a ZooKeeper return code. */
const char *zk_rc_name(int rc);

#endif
