/* bppipe-broker: an in-memory Kafka broker for development and tests, built on librdkafka's
 * mock cluster. It speaks the real Kafka protocol on 127.0.0.1, so any client (bppipe's own
 * plugins, kcat, ...) can produce and consume through it. Data lives in memory only.
 *
 * A helper executable of its own, packaged with the Kafka plugins (bppipe-kafka), so that
 * bppipe itself links no librdkafka: `bppipe broker ARGS` finds it and runs it with ARGS
 * (src/cli/cmd_broker.c), which is how it is used and what its messages call it. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define EXIT_USAGE 2
#define MAX_TOPICS 64
#define DEFAULT_TOPIC "blood-pressure"
#define DEFAULT_PARTITIONS 3
/* How often the partitions' low watermarks are read to notice dropped messages. */
#define WATCH_INTERVAL_S 2
#define MAX_WATCHED 4096

typedef struct broker_topic {
    char name[250];
    int partitions;
    int leader; /* the broker leading every partition; 0: the mock's choice */
} broker_topic;

typedef struct broker_args {
    int brokers;
    broker_topic topics[MAX_TOPICS];
    int n_topics;
    broker_topic coordinators[MAX_TOPICS]; /* a group (name) and its coordinator (leader) */
    int n_coordinators;
    int outage; /* the broker SIGUSR1 takes down and SIGUSR2 brings back; 0: none */
    const char *bootstrap_file;
    int quiet;
    int help;
} broker_args;

static void broker_usage(FILE *out)
{
    fputs("usage: bppipe broker [--brokers N] [--topic NAME[:PARTITIONS][@BROKER]]...\n"
          "                     [--coordinator GROUP@BROKER]... [--outage BROKER]\n"
          "                     [--bootstrap-file PATH] [--quiet]\n\n"
          "Starts an in-memory Kafka cluster (librdkafka's mock cluster) listening on\n"
          "127.0.0.1, prints its bootstrap address and runs until SIGINT or SIGTERM.\n"
          "For development and tests only: every message is kept in memory and lost on exit,\n"
          "each partition keeps only its most recent ~5 MiB (older messages are dropped;\n"
          "the broker warns on stderr when a partition's low watermark moves), and there is\n"
          "no security. Use more partitions for more data (100 000 readings of ~1 KiB need\n"
          "about 20).\n\n"
          "options:\n"
          "  --brokers N               brokers in the cluster (1-16, default 1)\n"
          "  --topic NAME[:PARTITIONS][@BROKER]\n"
          "                            create a topic (repeatable; default blood-pressure:3),\n"
          "                            every partition led by BROKER when given; other topics\n"
          "                            are created on first use\n"
          "  --coordinator GROUP@BROKER\n"
          "                            BROKER coordinates consumer group GROUP (repeatable)\n"
          "  --outage BROKER           SIGUSR1 takes BROKER down (its connections closed, new\n"
          "                            ones refused, its partitions keeping their leader) and\n"
          "                            SIGUSR2 brings it back: a broker outage for tests\n"
          "  --bootstrap-file PATH     also write the bootstrap address to PATH (written\n"
          "                            atomically once the cluster is up, removed on exit)\n"
          "  --quiet                   print only the bootstrap address\n\n"
          "example:\n"
          "  bppipe broker --bootstrap-file /tmp/bppipe-broker &\n"
          "  KAFKA_BROKERS=$(cat /tmp/bppipe-broker) bppipe run pipelines/ward.ini\n",
          out);
}

/* A broker id 1..brokers from `text`, or 0 after printing why. */
static int parse_broker_id(const char *text, int brokers, const char *what)
{
    char *end;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (errno || *end || end == text || n < 1 || n > brokers) {
        fprintf(stderr, "error: %s needs a broker from 1 to %d (--brokers), got '%s'\n", what,
                brokers, text);
        return 0;
    }
    return (int)n;
}

/* Parses "name", "name:partitions", either with "@broker", into `t`. Returns 0, or -1 after
 * printing why. */
static int parse_topic(const char *arg, broker_topic *t, int brokers)
{
    char text[300];
    snprintf(text, sizeof text, "%s", arg);
    char *at = strrchr(text, '@');
    t->leader = 0;
    if (at) {
        *at = '\0';
        if (!(t->leader = parse_broker_id(at + 1, brokers, "--topic NAME@BROKER")))
            return -1;
    }
    const char *colon = strrchr(text, ':');
    size_t len = colon ? (size_t)(colon - text) : strlen(text);
    t->partitions = DEFAULT_PARTITIONS;
    if (len == 0 || len >= sizeof t->name) {
        fprintf(stderr, "error: --topic needs NAME[:PARTITIONS], got '%s'\n", text);
        return -1;
    }
    memcpy(t->name, text, len);
    t->name[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        char c = t->name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            fprintf(stderr, "error: topic name '%s' may only use letters, digits, '.', '_' and "
                    "'-'\n", t->name);
            return -1;
        }
    }
    if (colon) {
        char *end;
        errno = 0;
        long n = strtol(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || n < 1 || n > 1000) {
            fprintf(stderr, "error: partitions of topic '%s' must be 1-1000, got '%s'\n",
                    t->name, colon + 1);
            return -1;
        }
        t->partitions = (int)n;
    }
    return 0;
}

static int parse_broker_args(int argc, char **argv, broker_args *a)
{
    memset(a, 0, sizeof *a);
    a->brokers = 1;
    /* --brokers first: the other options name brokers by number */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--brokers") == 0) {
            char *end;
            long n = strtol(argv[i + 1], &end, 10);
            a->brokers = *end || n < 1 || n > 16 ? 1 : (int)n;
        }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->help = 1;
        } else if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) {
            a->quiet = 1;
        } else if (strcmp(arg, "--brokers") == 0) {
            char *end;
            long n = next ? strtol(next, &end, 10) : 0;
            if (!next || *end || n < 1 || n > 16) {
                fprintf(stderr, "error: --brokers needs a number from 1 to 16\n");
                return -1;
            }
            a->brokers = (int)n;
            i++;
        } else if (strcmp(arg, "--topic") == 0) {
            if (!next) {
                fprintf(stderr, "error: --topic needs NAME[:PARTITIONS]\n");
                return -1;
            }
            if (a->n_topics == MAX_TOPICS) {
                fprintf(stderr, "error: at most %d --topic options\n", MAX_TOPICS);
                return -1;
            }
            if (parse_topic(next, &a->topics[a->n_topics], a->brokers) != 0)
                return -1;
            a->n_topics++;
            i++;
        } else if (strcmp(arg, "--coordinator") == 0) {
            const char *at = next ? strrchr(next, '@') : NULL;
            broker_topic *c = &a->coordinators[a->n_coordinators];
            if (!at || at == next || (size_t)(at - next) >= sizeof c->name) {
                fprintf(stderr, "error: --coordinator needs GROUP@BROKER\n");
                return -1;
            }
            if (a->n_coordinators == MAX_TOPICS) {
                fprintf(stderr, "error: at most %d --coordinator options\n", MAX_TOPICS);
                return -1;
            }
            snprintf(c->name, sizeof c->name, "%.*s", (int)(at - next), next);
            if (!(c->leader = parse_broker_id(at + 1, a->brokers, "--coordinator GROUP@BROKER")))
                return -1;
            a->n_coordinators++;
            i++;
        } else if (strcmp(arg, "--outage") == 0) {
            if (!next || !(a->outage = parse_broker_id(next, a->brokers, "--outage")))
                return -1;
            i++;
        } else if (strcmp(arg, "--bootstrap-file") == 0) {
            if (!next) {
                fprintf(stderr, "error: --bootstrap-file needs a path\n");
                return -1;
            }
            a->bootstrap_file = next;
            i++;
        } else {
            fprintf(stderr, "error: unknown argument '%s' (see 'bppipe broker --help')\n", arg);
            return -1;
        }
    }
    if (a->n_topics == 0) {
        snprintf(a->topics[0].name, sizeof a->topics[0].name, "%s", DEFAULT_TOPIC);
        a->topics[0].partitions = DEFAULT_PARTITIONS;
        a->n_topics = 1;
    }
    return 0;
}

/* Writes `text` to `path` through a temporary file and rename, so a reader polling for the
 * file never sees it half written. */
static int write_bootstrap_file(const char *path, const char *text)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (!f)
        goto done;
    int bad = fprintf(f, "%s\n", text) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        goto done;
    }
    rc = 0;
done:
    free(tmp);
    return rc;
}

/* Whether `port` is one of the "host:port,host:port" in `bootstrap`. */
static int bootstrap_has_port(const char *bootstrap, unsigned port)
{
    for (const char *p = bootstrap; p && *p;) {
        const char *colon = strchr(p, ':');
        if (!colon)
            return 0;
        if (strtoul(colon + 1, NULL, 10) == port)
            return 1;
        p = strchr(colon, ',');
        p = p ? p + 1 : NULL;
    }
    return 0;
}

/* Sets TCP_NODELAY on the mock brokers' listening sockets, which their connections inherit.
 * librdkafka's mock cluster leaves Nagle's algorithm on, so a response written while an
 * earlier one is still unacknowledged waits for the client's delayed ACK (40 ms on Linux):
 * with librdkafka 2.0.2 a producer's flush() of a few partitions took 50 ms instead of 10. A
 * real Kafka broker disables Nagle on every connection. The mock offers no handle on its
 * sockets, so they are found among this process's descriptors by their port. Returns how many
 * were set. */
static int disable_nagle(const char *bootstrap)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    int set = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int fd = atoi(de->d_name), listening = 0, on = 1;
        socklen_t len = sizeof listening;
        struct sockaddr_in addr;
        socklen_t alen = sizeof addr;
        if (fd <= 2 || fd == dirfd(d) ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening ||
            getsockname(fd, (struct sockaddr *)&addr, &alen) != 0 || addr.sin_family != AF_INET ||
            !bootstrap_has_port(bootstrap, ntohs(addr.sin_port)))
            continue;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0)
            set++;
    }
    closedir(d);
    return set;
}

/* The mock cluster logs through its host handle; keep only warnings and errors. */
static void broker_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 4)
        fprintf(stderr, "broker: %s: %s\n", fac, buf);
}

/* Watches the partitions' low watermarks through a client of the cluster: the mock drops a
 * partition's oldest messages past ~5 MiB and says nothing, so the broker says it. */
typedef struct watched {
    char topic[250];
    int32_t partition;
    int64_t low; /* the low watermark last seen */
} watched;

typedef struct watcher {
    rd_kafka_t *rk;
    watched parts[MAX_WATCHED];
    int n;
    int64_t dropped; /* messages dropped so far, over every partition */
} watcher;

static int watcher_open(watcher *w, const char *bootstrap)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, broker_log);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    w->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!w->rk) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    return 0;
}

static watched *watcher_find(watcher *w, const char *topic, int32_t partition)
{
    for (int i = 0; i < w->n; i++)
        if (w->parts[i].partition == partition && strcmp(w->parts[i].topic, topic) == 0)
            return &w->parts[i];
    if (w->n == MAX_WATCHED || strlen(topic) >= sizeof w->parts[0].topic)
        return NULL;
    watched *p = &w->parts[w->n++];
    snprintf(p->topic, sizeof p->topic, "%s", topic);
    p->partition = partition;
    p->low = 0;
    return p;
}

/* Reads every partition's low watermark (topics created on first use included) and warns about
 * each one that moved since the last look. */
static void watcher_check(watcher *w)
{
    const struct rd_kafka_metadata *md = NULL;
    if (!w->rk || rd_kafka_metadata(w->rk, 1, NULL, &md, 2000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    for (int t = 0; t < md->topic_cnt; t++) {
        const rd_kafka_metadata_topic_t *mt = &md->topics[t];
        for (int i = 0; i < mt->partition_cnt; i++) {
            int64_t lo, hi;
            watched *p = watcher_find(w, mt->topic, mt->partitions[i].id);
            if (!p || rd_kafka_query_watermark_offsets(w->rk, mt->topic, p->partition, &lo, &hi,
                                                       1000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                continue;
            if (lo <= p->low)
                continue;
            w->dropped += lo - p->low;
            fprintf(stderr, "bppipe broker: warning: topic %s partition %" PRId32 " dropped its "
                    "%" PRId64 " oldest message(s) (over the ~5 MiB it keeps; it now holds "
                    "offsets %" PRId64 "-%" PRId64 "); %" PRId64 " dropped in all. Use more "
                    "partitions.\n", mt->topic, p->partition, lo - p->low, lo, hi - 1,
                    w->dropped);
            p->low = lo;
        }
    }
    rd_kafka_metadata_destroy(md);
}

int main(int argc, char **argv)
{
    broker_args a;
    if (parse_broker_args(argc, argv, &a) != 0)
        return EXIT_USAGE;
    if (a.help) {
        broker_usage(stdout);
        return 0;
    }

    /* Block the stop signals before librdkafka starts its threads (they inherit the mask), so
     * only sigwait() below ever sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGUSR1);
    sigaddset(&stop, SIGUSR2);
    sigprocmask(SIG_BLOCK, &stop, NULL);

    int status = 1;
    char err[512];
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    int wrote_file = 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, broker_log);
    /* The hosting handle is never used to produce; it only owns the cluster's thread. */
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "error: cannot start librdkafka: %s\n", err);
        goto done;
    }
    mc = rd_kafka_mock_cluster_new(rk, a.brokers);
    if (!mc) {
        fprintf(stderr, "error: cannot create the mock cluster (are loopback sockets "
                "allowed?)\n");
        goto done;
    }
    for (int i = 0; i < a.n_topics; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, a.topics[i].name,
                                                           a.topics[i].partitions, 1);
        for (int p = 0; !e && a.topics[i].leader && p < a.topics[i].partitions; p++)
            e = rd_kafka_mock_partition_set_leader(mc, a.topics[i].name, p, a.topics[i].leader);
        if (e) {
            fprintf(stderr, "error: cannot create topic '%s': %s\n", a.topics[i].name,
                    rd_kafka_err2str(e));
            goto done;
        }
    }
    for (int i = 0; i < a.n_coordinators; i++)
        rd_kafka_mock_coordinator_set(mc, "group", a.coordinators[i].name,
                                      a.coordinators[i].leader);
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    if (disable_nagle(bootstrap) < a.brokers)
        fprintf(stderr, "bppipe broker: warning: cannot set TCP_NODELAY on every broker's "
                "socket: some responses may wait up to 40 ms\n");
    if (a.bootstrap_file) {
        if (write_bootstrap_file(a.bootstrap_file, bootstrap) != 0) {
            fprintf(stderr, "error: cannot write the bootstrap address to %s: %s\n",
                    a.bootstrap_file, strerror(errno));
            goto done;
        }
        wrote_file = 1;
    }
    if (a.quiet) {
        printf("%s\n", bootstrap);
    } else {
        printf("bppipe broker: in-memory Kafka (development only, data is lost on exit;\n"
               "  each partition keeps only its most recent ~5 MiB, older messages are dropped)\n");
        printf("bootstrap: %s\n", bootstrap);
        for (int i = 0; i < a.n_topics; i++)
            printf("topic: %s (%d partition%s)\n", a.topics[i].name, a.topics[i].partitions,
                   a.topics[i].partitions == 1 ? "" : "s");
        printf("stop with Ctrl-C or SIGTERM\n");
    }
    fflush(stdout);

    watcher *w = calloc(1, sizeof *w);
    if (w && watcher_open(w, bootstrap) != 0)
        fprintf(stderr, "bppipe broker: warning: cannot watch for dropped messages\n");
    int sig = -1, down = 0;
    const struct timespec every = {.tv_sec = WATCH_INTERVAL_S};
    while (sig != SIGINT && sig != SIGTERM) {
        sig = sigtimedwait(&stop, NULL, &every);
        /* not while a broker is down: the watcher's rd_kafka_query_watermark_offsets would wait
         * for it forever before librdkafka 2.3.0, and the signal that brings it back with it */
        if (sig < 0 && w && !down)
            watcher_check(w);
        if ((sig == SIGUSR1 || sig == SIGUSR2) && a.outage) {
            down = sig == SIGUSR1;
            (sig == SIGUSR1 ? rd_kafka_mock_broker_set_down
                            : rd_kafka_mock_broker_set_up)(mc, a.outage);
            /* the mock listens anew on its own thread: its new socket is awaited (1 s) */
            for (int i = 0; !down && i < 100 && disable_nagle(bootstrap) < a.brokers; i++)
                nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
            fprintf(stderr, "bppipe broker: broker %d %s\n", a.outage,
                    sig == SIGUSR1 ? "down (SIGUSR1)" : "up again (SIGUSR2)");
        }
    }
    if (w && w->dropped)
        fprintf(stderr, "bppipe broker: %" PRId64 " message(s) were dropped in all (the "
                "~5 MiB per partition limit)\n", w->dropped);
    if (!a.quiet)
        fprintf(stderr, "bppipe broker: stopping on %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    if (w && w->rk)
        rd_kafka_destroy(w->rk);
    free(w);
    status = 0;
done:
    if (wrote_file)
        remove(a.bootstrap_file);
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (rk)
        rd_kafka_destroy(rk);
    return status;
}
