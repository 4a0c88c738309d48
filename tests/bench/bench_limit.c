/* bench_limit: the ceiling a single-connection broker is compared against, measured on the same machine.
 *
 *   bench_limit --bytes N --file PATH [--chunk BYTES] [--fsync-every BYTES]
 *
 * produce limit: one loopback TCP connection carries N bytes (written in CHUNK-sized writes, like a
 * client's batches); the receiver writes everything it reads into PATH, fsyncing every FSYNC-EVERY bytes
 * (0: never, which is Kafka's default flush policy) and once at the end if asked. The clock runs from
 * connect until the last byte is in the file.
 * consume limit: the same file is read back and sent over a fresh loopback connection to a receiver that
 * discards it (the file is in the page cache, as freshly produced log segments are).
 * Prints "RESULT limit_produce_mbps=... limit_consume_mbps=..." (MB = 10^6 bytes). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { BUF_SIZE = 1 << 20 };

struct limit_opts {
    long long bytes;
    long long chunk;
    long long fsync_every;
    const char *file;
};

struct receiver {
    int listen_fd;
    int out_fd; /* -1: discard */
    long long fsync_every;
    long long received;
    double done; /* monotonic seconds when the last byte was handled */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        die("listen");
    *port = ntohs(sa.sin_port);
    return fd;
}

static int connect_loopback(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void write_all(int fd, const char *p, size_t n, const char *what)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k <= 0)
            die(what);
        p += k;
        n -= (size_t)k;
    }
}

static void *receive(void *arg)
{
    struct receiver *r = arg;
    int fd = accept(r->listen_fd, NULL, NULL);
    if (fd < 0)
        die("accept");
    char *buf = malloc(BUF_SIZE);
    if (!buf)
        die("malloc");
    long long since_sync = 0;
    ssize_t k;
    while ((k = read(fd, buf, BUF_SIZE)) > 0) {
        r->received += k;
        if (r->out_fd < 0)
            continue;
        write_all(r->out_fd, buf, (size_t)k, "write file");
        since_sync += k;
        if (r->fsync_every > 0 && since_sync >= r->fsync_every) {
            fdatasync(r->out_fd);
            since_sync = 0;
        }
    }
    if (r->out_fd >= 0 && r->fsync_every > 0)
        fdatasync(r->out_fd);
    r->done = now_s();
    free(buf);
    close(fd);
    return NULL;
}

/* Sends `total` bytes, from `in_fd` if >= 0 (else a constant buffer), in `chunk`-sized writes; returns MB/s
 * measured from connect to the receiver's last byte. */
static double transfer(struct receiver *r, int in_fd, long long total, long long chunk)
{
    int port;
    r->listen_fd = listen_loopback(&port);
    pthread_t th;
    if (pthread_create(&th, NULL, receive, r) != 0)
        die("pthread_create");
    char *buf = malloc((size_t)chunk);
    if (!buf)
        die("malloc");
    memset(buf, 'x', (size_t)chunk);
    double start = now_s();
    int fd = connect_loopback(port);
    for (long long sent = 0; sent < total;) {
        size_t n = (size_t)(total - sent < chunk ? total - sent : chunk);
        if (in_fd >= 0) {
            ssize_t k = read(in_fd, buf, n);
            if (k <= 0)
                die("read file");
            n = (size_t)k;
        }
        write_all(fd, buf, n, "send");
        sent += (long long)n;
    }
    close(fd);
    pthread_join(th, NULL);
    close(r->listen_fd);
    free(buf);
    return (double)r->received / (r->done - start) / 1e6;
}

int main(int argc, char **argv)
{
    struct limit_opts o = {.bytes = 512LL << 20, .chunk = 1 << 20, .fsync_every = 0, .file = NULL};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--bytes") == 0)
            o.bytes = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--chunk") == 0)
            o.chunk = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--fsync-every") == 0)
            o.fsync_every = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--file") == 0)
            o.file = argv[i + 1];
    }
    if (!o.file || o.bytes <= 0 || o.chunk <= 0) {
        fprintf(stderr, "usage: bench_limit --bytes N --file PATH [--chunk BYTES] [--fsync-every BYTES]\n");
        return 2;
    }
    int out = open(o.file, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (out < 0)
        die(o.file);
    struct receiver prod = {.out_fd = out, .fsync_every = o.fsync_every};
    double produce_mbps = transfer(&prod, -1, o.bytes, o.chunk);
    close(out);

    int in = open(o.file, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        die(o.file);
    struct receiver cons = {.out_fd = -1};
    double consume_mbps = transfer(&cons, in, o.bytes, o.chunk);
    close(in);
    printf("RESULT limit_produce_mbps=%.2f limit_consume_mbps=%.2f bytes=%lld chunk=%lld fsync_every=%lld\n",
           produce_mbps, consume_mbps, o.bytes, o.chunk, o.fsync_every);
    return 0;
}
