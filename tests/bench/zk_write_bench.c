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
 *   create  zoo_acreate of a BYTES-byte persistent sequential znode ROOT/cI/n- (a new znode per write).
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

struct opts {
    const char *connect, *op, *root;
    int clients, inflight, size;
    double seconds, warmup;
};

struct client;

/* One write in flight; its address is the completion's `data`. */
struct slot {
    struct client *c;
    double start;
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
    double measure_start, measure_end; /* monotonic seconds */
    bool stopping;
    long long counted, outstanding, errors;
    int first_error;
    double *lat_ms;
    size_t nlat, caplat;
};

static struct run R;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "zk_write_bench: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: zk_write_bench --connect H:P[,H:P...] [--clients N] [--inflight K] [--seconds S]\n"
                    "                      [--warmup W] [--size BYTES] [--op set|create] [--root PATH]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.op = "set", .root = "/zk_write_bench", .clients = 8, .inflight = 16, .size = 100,
                       .seconds = 10, .warmup = 2};
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
        else
            usage();
    }
    if (!o->connect || o->clients < 1 || o->inflight < 1 || o->size < 0 || o->size > 1000000 ||
        o->seconds <= 0 || o->warmup < 0 || (strcmp(o->op, "set") && strcmp(o->op, "create")) ||
        o->root[0] != '/' || strlen(o->root) > 200)
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
    else if (c->connected && R.measure_start > 0)
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
    double deadline = now_s() + 60;
    while (!p->done) {
        if (now_s() > deadline)
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
    }
    double deadline = now_s() + 60;
    for (;;) {
        int up = 0;
        for (int i = 0; i < R.o.clients; i++)
            up += R.clients[i].connected;
        if (up == R.o.clients)
            break;
        if (now_s() > deadline)
            die("not every client connected within 60 s", R.o.connect);
        loop_once(100);
    }
    create_if_missing(&R.clients[0], R.o.root);
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

static void record(double t_done, double start)
{
    if (t_done < R.measure_start || t_done > R.measure_end)
        return;
    R.counted++;
    if (R.nlat == R.caplat) {
        R.caplat = R.caplat ? R.caplat * 2 : 65536;
        R.lat_ms = realloc(R.lat_ms, R.caplat * sizeof *R.lat_ms);
        if (!R.lat_ms)
            die("out of memory", NULL);
    }
    R.lat_ms[R.nlat++] = (t_done - start) * 1000.0;
}

static void write_done(int rc, const void *data)
{
    struct slot *s = (struct slot *)data;
    double t = now_s();
    R.outstanding--;
    if (rc != ZOK) {
        if (!R.errors++)
            R.first_error = rc;
        R.stopping = true;
        return;
    }
    record(t, s->start);
    if (t < R.measure_end && !R.stopping)
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

static void issue(struct slot *s)
{
    struct client *c = s->c;
    s->start = now_s();
    int rc = strcmp(R.o.op, "set")
                 ? zoo_acreate(c->zh, c->path, R.value, R.o.size, &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE, create_done, s)
                 : zoo_aset(c->zh, c->path, R.value, R.o.size, -1, set_done, s);
    if (rc != ZOK)
        die(strcmp(R.o.op, "set") ? "zoo_acreate" : "zoo_aset", zerror(rc));
    R.outstanding++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double p)
{
    if (!R.nlat)
        return 0;
    size_t i = (size_t)(p * (double)(R.nlat - 1) + 0.5);
    return R.lat_ms[i];
}

int main(int argc, char **argv)
{
    parse_args(argc, argv, &R.o);
    R.value = malloc((size_t)R.o.size + 1);
    if (!R.value)
        die("out of memory", NULL);
    memset(R.value, 'v', (size_t)R.o.size);
    connect_all();

    double t0 = now_s();
    R.measure_start = t0 + R.o.warmup;
    R.measure_end = R.measure_start + R.o.seconds;
    for (int i = 0; i < R.o.clients; i++)
        for (int k = 0; k < R.o.inflight; k++) {
            R.clients[i].slots[k].c = &R.clients[i];
            issue(&R.clients[i].slots[k]);
        }
    double drain_deadline = R.measure_end + 60;
    while (R.outstanding > 0) {
        if (now_s() > drain_deadline)
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
    qsort(R.lat_ms, R.nlat, sizeof *R.lat_ms, cmp_double);
    double mean = 0;
    for (size_t i = 0; i < R.nlat; i++)
        mean += R.lat_ms[i];
    mean = R.nlat ? mean / (double)R.nlat : 0;
    printf("RESULT op=%s clients=%d inflight=%d size=%d seconds=%.3f writes=%lld writes_per_s=%.1f "
           "mean_ms=%.3f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
           R.o.op, R.o.clients, R.o.inflight, R.o.size, R.o.seconds, R.counted, (double)R.counted / R.o.seconds,
           mean, pct(0.50), pct(0.99), R.nlat ? R.lat_ms[R.nlat - 1] : 0.0);
    free(R.lat_ms);
    free(R.value);
    for (int i = 0; i < R.o.clients; i++)
        free(R.clients[i].slots);
    free(R.clients);
    return 0;
}
