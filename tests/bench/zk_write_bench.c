/* zk_write_bench: ZooKeeper write throughput and latency with the C client's asynchronous API, the
 * baseline that Ferry's metadata quorum is compared against (docs/performance.md).
 *
 *   zk_write_bench --connect H:P[,H:P...] [--clients N] [--inflight K] [--seconds S] [--warmup W]
 *                  [--size BYTES] [--op set|create] [--root /zk_write_bench]
 *
 * N clients, each its own ZooKeeper session (its own zhandle and TCP connection, spread over the hosts of
 * the connect string by the client library), all driven by one single-threaded poll loop
 * (libzookeeper_st: zookeeper_interest / zookeeper_process, the way Ferry's own zk_session drives it).
 * Each client keeps K writes in flight (pipelined: a new write is sent as soon as one completes):
 *   set     zoo_aset of BYTES bytes on the client's own znode ROOT/cI (version -1: unconditional);
 *   create  zoo_acreate of a BYTES-byte persistent sequential znode ROOT/cI/n- (a new znode per write);
 *   multi   zoo_amulti of check(ROOT/epoch, 0) and M (--multi, 100) conditional setData of BYTES bytes on
 *           M of the Z (--znodes, 100,000) znodes ROOT/s/N, taken in turn: what Ferry's legacy controller
 *           writes at failover (partition states, up to 100 per fenced multi). The Z znodes are created
 *           first (pipelined; ROOT must be new). One write = one multi; the RESULT adds ops_per_s.
 * Latency is from the zoo_a* call to its completion callback. Writes completing in the first W seconds are
 * not counted (warm-up); then the writes completing in the next S seconds are counted (throughput) and
 * their latencies kept; no write is sent after that, and the ones in flight are drained. Every write must succeed: any error ends
 * the run with exit status 1. Prints one line "RESULT key=value ..." for tests/bench/zk_ensemble.py.
 *
 * ROOT and everything under it are created if missing and left behind (the benchmark's ensemble is
 * thrown away with its data dirs). A benchmark tool, not part of the broker: it allocates with malloc. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zookeeper/zookeeper.h>

#include "bench_latency.h"

struct opts {
    const char *connect, *op, *root;
    int clients, inflight, size, multi, znodes;
    double seconds, warmup;
};

struct client;

/* One write in flight; its address is the completion's `data`. */
struct slot {
    struct client *c;
    double start;
    /* multi: the ops, their results and paths, and the first of the znodes it writes */
    zoo_op_t *ops;
    zoo_op_result_t *results;
    char (*paths)[96];
    int first;
};

struct client {
    int index;
    zhandle_t *zh;
    bool connected;
    char path[256]; /* set: the znode written; create: the prefix of the sequential znodes */
    struct slot *slots;
};

struct run {
    struct opts o;
    struct client *clients;
    char *value;
    struct bench_latency lat; /* its window: monotonic seconds (start 0: not started yet) */
    bool stopping;
    long long outstanding, errors;
    int first_error;
    int32_t *versions; /* multi: each state znode's version as the writes left it */
    int next_znode;
};

static struct run R;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "zk_write_bench: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: zk_write_bench --connect H:P[,H:P...] [--clients N] [--inflight K] [--seconds S]\n"
                    "                      [--warmup W] [--size BYTES] [--op set|create|multi] [--multi M]\n"
                    "                      [--znodes Z] [--root PATH]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.op = "set", .root = "/zk_write_bench", .clients = 8, .inflight = 16, .size = 100,
                       .multi = 100, .znodes = 100000, .seconds = 10, .warmup = 2};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--connect"))
            o->connect = v;
        else if (!strcmp(a, "--op"))
            o->op = v;
        else if (!strcmp(a, "--root"))
            o->root = v;
        else if (!strcmp(a, "--clients"))
            o->clients = atoi(v);
        else if (!strcmp(a, "--inflight"))
            o->inflight = atoi(v);
        else if (!strcmp(a, "--size"))
            o->size = atoi(v);
        else if (!strcmp(a, "--seconds"))
            o->seconds = atof(v);
        else if (!strcmp(a, "--warmup"))
            o->warmup = atof(v);
        else if (!strcmp(a, "--multi"))
            o->multi = atoi(v);
        else if (!strcmp(a, "--znodes"))
            o->znodes = atoi(v);
        else
            usage();
    }
    if (!o->connect || o->clients < 1 || o->inflight < 1 || o->size < 0 || o->size > 1000000 ||
        o->seconds <= 0 || o->warmup < 0 || (strcmp(o->op, "set") && strcmp(o->op, "create") && strcmp(o->op, "multi")) ||
        o->root[0] != '/' || strlen(o->root) > 60 || o->multi < 1 || o->znodes < 1 ||
        (long long)o->clients * o->inflight * o->multi > o->znodes) /* writes in flight never share a znode */
        usage();
}

/* ---- the poll loop over every client's handle ---------------------------------------------------------- */

/* Runs the loop once: waits for any handle's socket or timer, then lets every ready handle process. */
static void loop_once(int max_wait_ms)
{
    int n = R.o.clients;
    struct pollfd pfd[n];
    int wait_ms = max_wait_ms;
    for (int i = 0; i < n; i++) {
        int fd = -1, interest = 0;
        struct timeval tv = {0, 0};
        int rc = zookeeper_interest(R.clients[i].zh, &fd, &interest, &tv);
        if (rc != ZOK && rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT && rc != ZNOTHING)
            die("zookeeper_interest", zerror(rc));
        pfd[i].fd = fd;
        pfd[i].events = (short)(((interest & ZOOKEEPER_READ) ? POLLIN : 0) |
                                ((interest & ZOOKEEPER_WRITE) ? POLLOUT : 0));
        pfd[i].revents = 0;
        int ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
        if (ms < wait_ms)
            wait_ms = ms;
    }
    if (poll(pfd, (nfds_t)n, wait_ms < 0 ? 0 : wait_ms) < 0 && errno != EINTR)
        die("poll", strerror(errno));
    for (int i = 0; i < n; i++) {
        int events = ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) ? ZOOKEEPER_READ : 0) |
                     ((pfd[i].revents & POLLOUT) ? ZOOKEEPER_WRITE : 0);
        int rc = zookeeper_process(R.clients[i].zh, events);
        if (rc != ZOK && rc != ZNOTHING && rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT)
            die("zookeeper_process", zerror(rc));
    }
}

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    struct client *c = ctx;
    if (type != ZOO_SESSION_EVENT)
        return;
    if (state == ZOO_CONNECTED_STATE)
        c->connected = true;
    else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE)
        die("session lost", zerror(ZSESSIONEXPIRED));
    else if (c->connected && R.lat.start > 0)
        die("connection lost during the run", NULL);
}

/* ---- set-up: connected sessions and the znodes they write --------------------------------------------- */

struct pending {
    int done, rc;
};

static void create_if_missing_done(int rc, const char *value, const void *data)
{
    struct pending *p = (struct pending *)data;
    p->rc = rc;
    p->done = 1;
}

static void wait_pending(struct pending *p, const char *what, const char *path)
{
    double deadline = bench_now_s() + 60;
    while (!p->done) {
        if (bench_now_s() > deadline)
            die(what, "no answer within 60 s");
        loop_once(100);
    }
    if (p->rc != ZOK && p->rc != ZNODEEXISTS) {
        fprintf(stderr, "zk_write_bench: %s %s: %s\n", what, path, zerror(p->rc));
        exit(1);
    }
}

static void create_if_missing(struct client *c, const char *path)
{
    struct pending p = {0, 0};
    int rc = zoo_acreate(c->zh, path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, create_if_missing_done, &p);
    if (rc != ZOK)
        die("zoo_acreate", zerror(rc));
    wait_pending(&p, "create", path);
}

/* multi: ROOT/epoch and the Z state znodes ROOT/s/N, created pipelined (at most 1000 in flight) */
struct create_state {
    int outstanding, failed_rc;
};

static void state_created(int rc, const char *value, const void *data)
{
    struct create_state *cs = (struct create_state *)data;
    cs->outstanding--;
    if (rc != ZOK && !cs->failed_rc)
        cs->failed_rc = rc;
}

static void create_states(struct client *c)
{
    char path[128];
    snprintf(path, sizeof path, "%s/epoch", R.o.root);
    create_if_missing(c, path);
    snprintf(path, sizeof path, "%s/s", R.o.root);
    create_if_missing(c, path);
    struct create_state cs = {0, 0};
    double t0 = bench_now_s();
    for (int i = 0; i < R.o.znodes; i++) {
        while (cs.outstanding >= 1000)
            loop_once(50);
        snprintf(path, sizeof path, "%s/s/%d", R.o.root, i);
        int rc = zoo_acreate(c->zh, path, R.value, R.o.size, &ZOO_OPEN_ACL_UNSAFE, 0, state_created, &cs);
        if (rc != ZOK)
            die("zoo_acreate", zerror(rc));
        cs.outstanding++;
    }
    while (cs.outstanding > 0)
        loop_once(50);
    if (cs.failed_rc)
        die("creating the state znodes (a new --root is needed)", zerror(cs.failed_rc));
    fprintf(stderr, "zk_write_bench: %d state znodes created in %.1f s\n", R.o.znodes, bench_now_s() - t0);
    R.versions = calloc((size_t)R.o.znodes, sizeof *R.versions);
    if (!R.versions)
        die("out of memory", NULL);
}

static void connect_all(void)
{
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    R.clients = calloc((size_t)R.o.clients, sizeof *R.clients);
    if (!R.clients)
        die("out of memory", NULL);
    for (int i = 0; i < R.o.clients; i++) {
        struct client *c = &R.clients[i];
        c->index = i;
        c->zh = zookeeper_init(R.o.connect, watcher, 30000, NULL, c, 0);
        if (!c->zh)
            die("zookeeper_init", strerror(errno));
        c->slots = calloc((size_t)R.o.inflight, sizeof *c->slots);
        if (!c->slots)
            die("out of memory", NULL);
        for (int k = 0; k < R.o.inflight && !strcmp(R.o.op, "multi"); k++) {
            struct slot *sl = &c->slots[k];
            sl->ops = calloc((size_t)R.o.multi + 1, sizeof *sl->ops);
            sl->results = calloc((size_t)R.o.multi + 1, sizeof *sl->results);
            sl->paths = calloc((size_t)R.o.multi + 1, sizeof *sl->paths);
            if (!sl->ops || !sl->results || !sl->paths)
                die("out of memory", NULL);
        }
    }
    double deadline = bench_now_s() + 60;
    for (;;) {
        int up = 0;
        for (int i = 0; i < R.o.clients; i++)
            up += R.clients[i].connected;
        if (up == R.o.clients)
            break;
        if (bench_now_s() > deadline)
            die("not every client connected within 60 s", R.o.connect);
        loop_once(100);
    }
    create_if_missing(&R.clients[0], R.o.root);
    if (!strcmp(R.o.op, "multi")) {
        create_states(&R.clients[0]);
        return;
    }
    for (int i = 0; i < R.o.clients; i++) {
        struct client *c = &R.clients[i];
        snprintf(c->path, sizeof c->path, "%s/c%d", R.o.root, i);
        create_if_missing(c, c->path);
        if (!strcmp(R.o.op, "create"))
            strncat(c->path, "/n-", sizeof c->path - strlen(c->path) - 1);
    }
}

/* ---- the measured writes ------------------------------------------------------------------------------ */

static void issue(struct slot *s);

static void write_done(int rc, const void *data)
{
    struct slot *s = (struct slot *)data;
    double t = bench_now_s();
    R.outstanding--;
    if (rc != ZOK) {
        if (!R.errors++)
            R.first_error = rc;
        R.stopping = true;
        return;
    }
    for (int i = 0; s->ops && i < R.o.multi; i++)
        R.versions[(s->first + i) % R.o.znodes]++;
    bench_latency_record(&R.lat, t, s->start);
    if (t < R.lat.end && !R.stopping)
        issue(s);
}

static void set_done(int rc, const struct Stat *stat, const void *data)
{
    write_done(rc, data);
}

static void create_done(int rc, const char *name, const void *data)
{
    write_done(rc, data);
}

static void issue_multi(struct slot *s)
{
    s->first = R.next_znode;
    R.next_znode = (R.next_znode + R.o.multi) % R.o.znodes;
    snprintf(s->paths[0], sizeof s->paths[0], "%s/epoch", R.o.root);
    zoo_check_op_init(&s->ops[0], s->paths[0], 0);
    for (int i = 0; i < R.o.multi; i++) {
        int z = (s->first + i) % R.o.znodes;
        snprintf(s->paths[i + 1], sizeof s->paths[i + 1], "%s/s/%d", R.o.root, z);
        zoo_set_op_init(&s->ops[i + 1], s->paths[i + 1], R.value, R.o.size, R.versions[z], NULL);
    }
    int rc = zoo_amulti(s->c->zh, R.o.multi + 1, s->ops, s->results, write_done, s);
    if (rc != ZOK)
        die("zoo_amulti", zerror(rc));
    R.outstanding++;
}

static void issue(struct slot *s)
{
    struct client *c = s->c;
    s->start = bench_now_s();
    if (s->ops) {
        issue_multi(s);
        return;
    }
    int rc = strcmp(R.o.op, "set")
                 ? zoo_acreate(c->zh, c->path, R.value, R.o.size, &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE, create_done, s)
                 : zoo_aset(c->zh, c->path, R.value, R.o.size, -1, set_done, s);
    if (rc != ZOK)
        die(strcmp(R.o.op, "set") ? "zoo_acreate" : "zoo_aset", zerror(rc));
    R.outstanding++;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv, &R.o);
    R.value = malloc((size_t)R.o.size + 1);
    if (!R.value)
        die("out of memory", NULL);
    memset(R.value, 'v', (size_t)R.o.size);
    connect_all();

    double t0 = bench_now_s();
    R.lat.start = t0 + R.o.warmup;
    R.lat.end = R.lat.start + R.o.seconds;
    for (int i = 0; i < R.o.clients; i++)
        for (int k = 0; k < R.o.inflight; k++) {
            R.clients[i].slots[k].c = &R.clients[i];
            issue(&R.clients[i].slots[k]);
        }
    double drain_deadline = R.lat.end + 60;
    while (R.outstanding > 0) {
        if (bench_now_s() > drain_deadline)
            die("writes still unanswered 60 s after the end of the run", NULL);
        loop_once(50);
    }
    for (int i = 0; i < R.o.clients; i++)
        zookeeper_close(R.clients[i].zh);
    if (R.errors) {
        fprintf(stderr, "zk_write_bench: %lld write(s) failed, the first with %s\n", R.errors,
                zerror(R.first_error));
        return 1;
    }
    struct bench_summary sum = bench_latency_summary(&R.lat);
    int per_write = strcmp(R.o.op, "multi") ? 1 : R.o.multi;
    printf("RESULT op=%s clients=%d inflight=%d size=%d seconds=%.3f writes=%lld writes_per_s=%.1f "
           "ops_per_s=%.1f mean_ms=%.3f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
           R.o.op, R.o.clients, R.o.inflight, R.o.size, R.o.seconds, R.lat.counted,
           (double)R.lat.counted / R.o.seconds, (double)R.lat.counted * per_write / R.o.seconds, sum.mean,
           sum.p50, sum.p99, sum.max);
    free(R.lat.ms);
    free(R.value);
    for (int i = 0; i < R.o.clients; i++) {
        for (int k = 0; k < R.o.inflight; k++) {
            free(R.clients[i].slots[k].ops);
            free(R.clients[i].slots[k].results);
            free(R.clients[i].slots[k].paths);
        }
        free(R.clients[i].slots);
    }
    free(R.clients);
    free(R.versions);
    return 0;
}
