/* source-kafka: a librdkafka consumer-group member. Offsets are committed only for batches the
 * host passed to commit(), which it calls once every reading of the batch is durable in all its
 * sinks or dead-lettered, so the committed position never passes an unacknowledged reading.
 * Batches acknowledged within commit_interval_ms of the last commit are committed together
 * (from a later commit() or poll(), on revoke and on close), unless commit_max_messages of
 * their messages wait: each commit is two round trips on the main thread, and the count keeps
 * what a kill -9 re-reads small when a backlog is read fast. The pipeline's keyed state goes to
 * a compacted changelog topic before the offsets it goes with are committed, and is restored
 * from it when a partition is assigned (kstate.c). */
#include "bppipe/plugin.h"

#include "common/clock.h"
#include "kafka/kafka_conf.h"
#include "kafka/kafka_talk.h"
#include "fetch_wake.h"
#include "pauses.h"
#include "input_send.h"
#include "kstate.h"
#include "positions.h"

#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A sink outage pauses polling; librdkafka's default max.poll.interval.ms (5 minutes) would
 * then evict the member and hand its partitions to another one. Thirty minutes covers a
 * typical Elasticsearch restart; beyond it the partitions are re-read from the last commit,
 * which stays at-least-once. */
#define DEFAULT_MAX_POLL_INTERVAL_MS "1800000"

/* While a commit waits for a rebalance to end, it is sent again this often. */
#define HOLD_POLL_MS 100

/* The first librdkafka whose cooperative-sticky member may be destroyed before its first
 * assignment (2.3.0), and how long close() waits for that assignment with an older one. */
#define FIXED_DESTROY_BEFORE_SYNC 0x020300ff
#define SYNC_WAIT_MS 10000
/* Longest a batch waits for the query that wakes the fetcher (fetch_wake.h): the request is
 * handed to the broker's thread at once, and its answer may wait behind a fetch in flight. */
#define FETCH_WAKE_TIMEOUT_MS 1
/* A consumer handle close() could not destroy (above), kept reachable until the exit. */
static rd_kafka_t *left_to_exit;

typedef struct source {
    const bp_host *h;
    bp_ctx *ctx;
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *topics; /* the subscription */
    bool subscribed;
    bool revoked_in_poll; /* a revocation happened while filling the current batch */
    bool held;            /* a commit was refused by a rebalance: reading paused, `acked` kept */
    int assigned;         /* partitions assigned now (the partitions_assigned counter) */
    bp_kpositions acked;     /* acknowledged by the host, not yet committed */
    bp_kpositions committed; /* last committed position per partition (for the lag) */
    /* The partitions assigned now, kept by the rebalance callback (`next` unused): commit()
     * asks it for every batch, and rd_kafka_assignment() would wait for librdkafka's thread. */
    bp_kpositions owned;
    double lag_reported;     /* the consumer_lag counter's current value */
    size_t batch_size;       /* 0: the host's capacity */
    /* Acknowledged batches wait for the next commit, made once commit_interval_ms has passed
     * since the last one (bp_now_s; 0: none yet). */
    double commit_interval_s;
    double last_commit_s;
    /* ... unless this many messages were acknowledged since (0: no such bound) */
    size_t commit_max_messages;
    size_t acked_messages;
    int poll_timeout_ms;     /* 0: the host's timeout */
    bp_kstate ks;            /* the keyed state's changelog */
    bp_input_sender send;    /* send_input's producer (input_send.c) */
    bp_kafka_talk talk;      /* what librdkafka says, in words (lib/kafka/kafka_talk.h) */
    bool closing;            /* in close(): partitions go, the host judges nothing more */
    bool state_failed;       /* a restore failed: the pipeline stops rather than judge without */
    /* Assigned partitions whose state could not be restored yet (the cluster did not answer):
     * paused, so none of their messages is judged, until a poll restores them. */
    rd_kafka_topic_partition_list_t *unrestored;
    bool synced;             /* the group has sent an assignment (perhaps empty) */
    bool destroy_guard;      /* cooperative-sticky with a librdkafka that aborts: see src_close */
    bp_fetch_wake wake;      /* librdkafka < 2.2 and a small prefetch queue: fetch_wake.h */
    bp_kpauses pauses;       /* the partitions paused here: pauses.h */
    /* Messages and bytes added by the poll() in progress, counted when it returns: the host's
     * count() looks its counter up by name, twice a message was a sixth of the poll. Both are
     * named at the first message, so that the counters keep their place among the others. */
    uint64_t polled_messages, polled_bytes;
    bool counters_named;
} source;

static const bp_option options[] = {
    BP_OPTION_STRING("brokers", "127.0.0.1:9092", 0,
                     "bootstrap servers, host:port[,host:port...] (bootstrap.servers)"),
    BP_OPTION_STRING("topics", "blood-pressure", 0, "topics to consume, comma separated"),
    BP_OPTION_STRING("group", "bppipe", 0, "consumer group id (group.id)"),
    BP_OPTION_ENUM("start", "earliest", "earliest|latest",
                   "where a group with no committed offset starts (auto.offset.reset)"),
    BP_OPTION_INT("batch_size", "0", 0, 100000, 0,
                  "most messages per batch; 0 = [pipeline] batch_size"),
    BP_OPTION_INT("poll_timeout_ms", "0", 0, 60000, 0,
                  "longest wait for the first message of a batch; 0 = [pipeline] poll_timeout_ms"),
    BP_OPTION_INT("commit_interval_ms", "500", 0, 60000, 0,
                  "time between two commits (changelog write, then offset commit), unless "
                  "commit_max_messages come first; batches acknowledged meanwhile are committed "
                  "together; 0 = every batch"),
    BP_OPTION_INT("commit_max_messages", "5000", 0, 10000000, 0,
                  "most messages acknowledged and not committed: reaching it commits at once, "
                  "before commit_interval_ms (it bounds what a crash re-reads); 0 = no bound"),
    BP_OPTION_STRING("state_topic", NULL, 0,
                     "compacted changelog topic of the pipeline's keyed state; default GROUP-state"),
    BP_OPTION_INT("state_partitions", "0", 0, 10000, 0,
                  "partitions of a changelog topic created here; 0 = as many as the input topics"),
    BP_OPTION_PREFIX("kafka.*", "any librdkafka consumer property, e.g. kafka.security.protocol "
                     "(enable.auto.commit is always false)"),
};

/* ---- committing ---------------------------------------------------------------------- */

static rd_kafka_topic_partition_list_t *to_list(const bp_kpositions *p)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)p->n);
    for (size_t i = 0; i < p->n; i++)
        rd_kafka_topic_partition_list_add(l, p->items[i].topic, p->items[i].partition)->offset =
            p->items[i].next;
    return l;
}

/* Errors of a group that is rebalancing, or that rebalanced without this member's knowing
 * yet. They say nothing about the positions: what the host acknowledged stays acknowledged, and
 * is committed once the rebalance is over for the partitions this member still owns (the revoke
 * callback drops the others). */
static bool refused_by_rebalance(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
           e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION || e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
           e == RD_KAFKA_RESP_ERR__STATE;
}

/* Pauses or resumes `parts` (NULL: the whole assignment but the partitions still waiting for
 * their state), only those whose state changes (pauses.h says why). librdkafka keeps a
 * partition's pause across rebalances. Pausing also drops what was fetched and not yet polled;
 * it is fetched again on resume. */
static void set_paused(source *s, const rd_kafka_topic_partition_list_t *parts, bool pause)
{
    rd_kafka_topic_partition_list_t *all = NULL;
    if (!parts) {
        if (rd_kafka_assignment(s->rk, &all) != RD_KAFKA_RESP_ERR_NO_ERROR)
            return;
        for (int i = 0; i < s->unrestored->cnt; i++)
            rd_kafka_topic_partition_list_del(all, s->unrestored->elems[i].topic,
                                              s->unrestored->elems[i].partition);
        parts = all;
    }
    if (parts->cnt)
        bp_kpauses_set(&s->pauses, s->rk, parts, pause);
    if (all)
        rd_kafka_topic_partition_list_destroy(all);
}

/* Reading stops while a commit waits for the group: batches read now could not be committed,
 * and the next owner of their partitions would read them all again. */
static void hold(source *s)
{
    if (s->held)
        return;
    s->held = true;
    s->h->count(s->ctx, "commits_deferred", 1);
    set_paused(s, NULL, true);
}

static void release(source *s, const char *why)
{
    if (!s->held)
        return;
    s->held = false;
    set_paused(s, NULL, false); /* those waiting for their state stay paused until it is back */
    s->h->log(s->ctx, BP_LOG_INFO, "%s; reading resumed", why);
}

static void count_assigned(source *s, int delta)
{
    s->assigned += delta;
    s->h->count(s->ctx, "partitions_assigned", (double)delta);
}

static void update_lag(source *s)
{
    rd_kafka_topic_partition_list_t *assigned = NULL;
    if (rd_kafka_assignment(s->rk, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    double lag = 0;
    for (int i = 0; i < assigned->cnt; i++) {
        const char *t = assigned->elems[i].topic;
        int32_t part = assigned->elems[i].partition;
        const bp_kpos *c = bp_kpos_find(&s->committed, t, part);
        int64_t lo, hi;
        /* Cached from fetch responses: no network round trip. */
        if (c && rd_kafka_get_watermark_offsets(s->rk, t, part, &lo, &hi) == 0 && hi > c->next)
            lag += (double)(hi - c->next);
    }
    rd_kafka_topic_partition_list_destroy(assigned);
    s->h->count(s->ctx, "consumer_lag", lag - s->lag_reported);
    s->lag_reported = lag;
}

/* A commit that failed may still have gone through (a timeout after the broker took it): asks
 * the group, and the partitions it shows committed have their pending state confirmed, so that
 * the next checkpoint's `before` is the value as of that commit. */
static void resolve_ambiguous(source *s)
{
    rd_kafka_topic_partition_list_t *l = to_list(&s->acked);
    if (rd_kafka_committed(s->rk, l, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < l->cnt; i++) {
            const bp_kpos *a = bp_kpos_find(&s->acked, l->elems[i].topic, l->elems[i].partition);
            if (a && l->elems[i].offset >= a->next) {
                bp_kstate_confirmed_partition(&s->ks, l->elems[i].topic, l->elems[i].partition);
                bp_kpos_raise(&s->committed, l->elems[i].topic, l->elems[i].partition,
                              l->elems[i].offset);
            }
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Synchronously commits every acknowledged position. Returns BP_OK (also when the group refused
 * it while rebalancing: the positions are kept, `held` is set, and the commit is sent again
 * after the rebalance), BP_RETRY on another transient failure (positions are kept and sent
 * again), or BP_FATAL. */
static int commit_acked(source *s)
{
    if (s->acked.n == 0) {
        s->acked_messages = 0; /* their partitions were revoked */
        release(s, "nothing left to commit");
        return BP_OK;
    }
    /* The state these positions stand for goes to the changelog first: a crash between the two
     * leaves records whose `before` is still the value as of the committed offset. */
    int wrc = bp_kstate_write(&s->ks, &s->acked);
    if (wrc != BP_OK)
        return wrc;
    rd_kafka_topic_partition_list_t *l = to_list(&s->acked);
    rd_kafka_resp_err_t e = rd_kafka_commit(s->rk, l, 0);
    rd_kafka_topic_partition_list_destroy(l);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR__NO_OFFSET) {
        s->h->count(s->ctx, "commits", 1);
        s->last_commit_s = bp_now_s();
        s->acked_messages = 0;
        bp_kstate_confirmed(&s->ks);
        if (bp_kpos_merge(&s->committed, &s->acked) != 0)
            return BP_FATAL;
        bp_kpos_clear(&s->acked);
        update_lag(s);
        release(s, "acknowledged offsets committed after the rebalance");
        return BP_OK;
    }
    if (refused_by_rebalance(e)) {
        if (!s->held)
            s->h->log(s->ctx, BP_LOG_WARN, "offset commit refused while the group rebalances "
                      "(%s): reading paused; the acknowledged positions are committed after "
                      "the rebalance for the partitions still assigned", rd_kafka_err2str(e));
        hold(s);
        return BP_OK;
    }
    s->h->count(s->ctx, "commit_failures", 1);
    resolve_ambiguous(s);
    if (rd_kafka_fatal_error(s->rk, NULL, 0)) {
        s->h->log(s->ctx, BP_LOG_ERROR, "offset commit failed: %s", rd_kafka_err2str(e));
        return BP_FATAL;
    }
    s->h->log(s->ctx, BP_LOG_WARN, "offset commit failed (%s); will retry",
              rd_kafka_err2str(e));
    return BP_RETRY;
}

/* Whether the acknowledged positions are to be committed now: commit_interval_ms has passed
 * since the last commit, or commit_max_messages were acknowledged since. Between two commits
 * the batches' positions and state changes gather in `acked` and the pending map, so that one
 * changelog write and one offset commit take them all. The count matters when a backlog is read:
 * at tens of thousands of messages a second, the interval alone would leave a whole backlog
 * acknowledged and uncommitted, to be read again after a crash. */
static bool commit_due(const source *s)
{
    if (s->commit_max_messages && s->acked_messages >= s->commit_max_messages)
        return true;
    return bp_now_s() - s->last_commit_s >= s->commit_interval_s;
}

/* Milliseconds until the acknowledged positions are due (0: now), or `limit` when nothing
 * waits or it is sooner: a poll waits no longer, so that a quiet stream commits on time. */
static int ms_until_due(const source *s, int limit)
{
    if (s->acked.n == 0 || s->held)
        return limit;
    double left = (s->last_commit_s + s->commit_interval_s - bp_now_s()) * 1000.0;
    if (left <= 0)
        return 0;
    return left < (double)limit ? (int)ceil(left) : limit;
}

/* ---- partitions waiting for their state ------------------------------------------------- */

static bool in_list(const rd_kafka_topic_partition_list_t *l, const char *topic, int32_t partition)
{
    for (int i = 0; l && i < l->cnt; i++)
        if (l->elems[i].partition == partition && strcmp(l->elems[i].topic, topic) == 0)
            return true;
    return false;
}

/* "topic [0, 3], other [1]" of `l` (sorted) into out, cut short when it does not fit. */
static void name_partitions(const rd_kafka_topic_partition_list_t *l, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < l->cnt && n < cap; i++) {
        bool same = i > 0 && strcmp(l->elems[i - 1].topic, l->elems[i].topic) == 0;
        int w = same ? snprintf(out + n, cap - n, ", %" PRId32, l->elems[i].partition)
                     : snprintf(out + n, cap - n, "%s%s [%" PRId32, i ? "], " : "",
                                l->elems[i].topic, l->elems[i].partition);
        n += w > 0 ? (size_t)w : 0;
    }
    if (l->cnt && n + 1 < cap)
        snprintf(out + n, cap - n, "]");
}

/* The restore of `parts` must wait for the cluster: they are kept paused. Said at warn; the
 * same words each time, so the host's rate limit holds the retries to a line a while. */
static void say_unrestored(source *s)
{
    char names[256];
    name_partitions(s->unrestored, names, sizeof names);
    s->h->log(s->ctx, BP_LOG_WARN, "state: the keyed state of %s cannot be restored yet (%s); "
              "none of their readings is read until it is, and the restore is tried again. "
              "Check that the brokers (%s) answer and that the leader of %s is up",
              names, s->ks.later, s->h->opt_string(s->ctx, "brokers"), s->ks.topic);
}

static void keep_unrestored(source *s, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++)
        if (!in_list(s->unrestored, parts->elems[i].topic, parts->elems[i].partition))
            rd_kafka_topic_partition_list_add(s->unrestored, parts->elems[i].topic,
                                              parts->elems[i].partition);
    rd_kafka_topic_partition_list_sort(s->unrestored, NULL, NULL);
    say_unrestored(s);
}

/* `parts` are given up: their state is their next owner's to restore. */
static void drop_unrestored(source *s, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++)
        rd_kafka_topic_partition_list_del(s->unrestored, parts->elems[i].topic,
                                          parts->elems[i].partition);
}

/* A message of a partition still waiting for its state (librdkafka fetched it before the
 * pause took, or the partition was new to librdkafka and could not be paused before its
 * assignment: it is paused now, its fetch having started): not judged; the partition is sent
 * back to it, to be read after the restore. The pause comes first: it remembers the position
 * after the last message polled, and the seek then sets it back to this one. */
static bool held_back(source *s, const rd_kafka_message_t *m)
{
    if (!s->unrestored->cnt || m->err || !m->rkt ||
        !in_list(s->unrestored, rd_kafka_topic_name(m->rkt), m->partition))
        return false;
    bp_kpauses_pause_one(&s->pauses, s->rk, rd_kafka_topic_name(m->rkt), m->partition);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)->offset =
        m->offset;
    rd_kafka_error_t *error = rd_kafka_seek_partitions(s->rk, l, 0);
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(l);
    return true;
}

/* A new batch while partitions wait for their state: tries the restore again. BP_OK when it
 * is done (they are read from now on), BP_RETRY while the cluster still does not answer (the
 * host backs off and polls again), BP_FATAL when a retry cannot help. */
static int restore_unrestored(source *s)
{
    int rc = bp_kstate_assign(&s->ks, s->unrestored, &s->committed);
    if (rc == BP_KSTATE_FAILED) {
        s->state_failed = true;
        return BP_FATAL;
    }
    if (rc == BP_KSTATE_LATER) {
        say_unrestored(s);
        return BP_RETRY;
    }
    char names[256];
    name_partitions(s->unrestored, names, sizeof names);
    s->h->log(s->ctx, BP_LOG_INFO, "state: the keyed state of %s is restored; reading them",
              names);
    if (!s->held)
        set_paused(s, s->unrestored, false);
    rd_kafka_topic_partition_list_destroy(s->unrestored);
    s->unrestored = rd_kafka_topic_partition_list_new(4);
    return BP_OK;
}

/* ---- rebalancing (runs inside rd_kafka_consumer_poll or rd_kafka_consumer_close) -------- */

/* What the next owner of `parts` reads again, counted before they are given up: per partition,
 * from the committed offset (the low watermark when the group has none) to the position, the
 * offset after the last message polled. `*refused` are those the sinks acknowledged and the group
 * did not take (librdkafka's mock cluster refuses commits while the group rebalances; a real
 * Kafka takes the revoke callback's commit), `*in_flight` those not yet acknowledged. */
static void count_uncommitted(source *s, const rd_kafka_topic_partition_list_t *parts,
                              int64_t *in_flight, int64_t *refused)
{
    *in_flight = *refused = 0;
    rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_copy(parts);
    if (rd_kafka_position(s->rk, pos) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(pos);
        return;
    }
    for (int i = 0; i < pos->cnt; i++) {
        const char *t = pos->elems[i].topic;
        int32_t part = pos->elems[i].partition;
        int64_t polled = pos->elems[i].offset, lo, hi;
        const bp_kpos *c = bp_kpos_find(&s->committed, t, part);
        const bp_kpos *a = bp_kpos_find(&s->acked, t, part);
        int64_t base = c ? c->next : -1;
        if (base < 0 && rd_kafka_get_watermark_offsets(s->rk, t, part, &lo, &hi) == 0)
            base = lo;
        if (polled < 0 || base < 0 || polled <= base)
            continue; /* nothing polled since the partition was assigned */
        int64_t stored = a && a->next > base ? (a->next < polled ? a->next : polled) : base;
        *refused += stored - base;
        *in_flight += polled - stored;
    }
    rd_kafka_topic_partition_list_destroy(pos);
}

/* Forgets everything of `parts`, which this member gives up: what it acknowledged and could
 * not commit. Batches read before and committed later do not commit them either: src_commit
 * takes only the partitions assigned at the time (their next owner reads them again). */
static void forget(source *s, const rd_kafka_topic_partition_list_t *parts)
{
    size_t dropped = 0;
    for (int i = 0; i < parts->cnt; i++) {
        const char *t = parts->elems[i].topic;
        int32_t part = parts->elems[i].partition;
        dropped += bp_kpos_find(&s->acked, t, part) != NULL;
        bp_kpos_remove(&s->acked, t, part);
        bp_kpos_remove(&s->committed, t, part);
    }
    if (dropped)
        s->h->log(s->ctx, BP_LOG_WARN, "acknowledged positions of %zu partition(s) could not be "
                  "committed before they were given up; their next owner reads the "
                  "uncommitted batch again (at-least-once)", dropped);
    if (s->acked.n == 0)
        release(s, "nothing left to commit for the partitions still assigned");
}

/* `parts` were assigned: added to `owned` (incremental), or all of it (eager). */
static void own(source *s, const rd_kafka_topic_partition_list_t *parts, bool incremental)
{
    if (!incremental)
        bp_kpos_clear(&s->owned);
    for (int i = 0; i < parts->cnt; i++)
        if (bp_kpos_raise(&s->owned, parts->elems[i].topic, parts->elems[i].partition, 0) != 0)
            s->state_failed = true; /* out of memory: the next poll stops the pipeline */
}

static void disown(source *s, const rd_kafka_topic_partition_list_t *parts, bool incremental)
{
    if (!incremental)
        bp_kpos_clear(&s->owned);
    for (int i = 0; incremental && i < parts->cnt; i++)
        bp_kpos_remove(&s->owned, parts->elems[i].topic, parts->elems[i].partition);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    source *s = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    s->h->count(s->ctx, "rebalances", 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        s->synced = true;
        s->h->log(s->ctx, BP_LOG_INFO, "assigned %d partition(s)%s", parts->cnt,
                  s->closing ? " while stopping: taken and given back unread" : "");
        /* Their state as of the committed offsets, before any of their messages is polled.
         * While closing nothing more is judged, so nothing is restored. When the cluster does
         * not answer, they are assigned paused and restored by a later poll. */
        int restored = s->closing ? BP_KSTATE_RESTORED
                                  : bp_kstate_assign(&s->ks, parts, &s->committed);
        if (restored == BP_KSTATE_FAILED)
            s->state_failed = true;
        /* Paused or resumed before the assignment queues their fetch start, never after
         * (pauses.h). A partition new to librdkafka is left running: held_back() pauses it at
         * its first message if its state is still missing; while a commit is held, what it
         * brings is kept in the batch (poll_held). */
        set_paused(s, parts, s->held || restored == BP_KSTATE_LATER);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            e = rd_kafka_assign(rk, parts);
        if (!error && !e) {
            count_assigned(s, cooperative ? parts->cnt : parts->cnt - s->assigned);
            own(s, parts, cooperative);
            if (restored == BP_KSTATE_LATER)
                keep_unrestored(s, parts);
        }
    } else {
        bool lost = rd_kafka_assignment_lost(rk);
        /* What the host acknowledged goes out before the partitions do (a real broker takes
         * commits while the group prepares a rebalance). A lost assignment cannot commit. */
        if (!lost && commit_acked(s) == BP_RETRY)
            s->h->log(s->ctx, BP_LOG_WARN, "could not commit acknowledged offsets before "
                      "losing partitions; the next owner re-reads them (at-least-once)");
        int64_t in_flight, refused;
        count_uncommitted(s, parts, &in_flight, &refused);
        s->h->count(s->ctx, "revoked_in_flight", (double)in_flight);
        s->h->count(s->ctx, "revoked_refused", (double)refused);
        if (in_flight + refused)
            s->h->log(s->ctx, BP_LOG_INFO, "%s %d partition(s); uncommitted at revoke, read "
                      "again by their next owner: %" PRId64 " polled and not yet stored, %" PRId64
                      " stored but refused by the group", lost ? "lost" : "revoked", parts->cnt,
                      in_flight, refused);
        else
            s->h->log(s->ctx, BP_LOG_INFO, "%s %d partition(s)", lost ? "lost" : "revoked",
                      parts->cnt);
        forget(s, parts);
        drop_unrestored(s, parts);
        bp_kstate_revoke(&s->ks, parts, !s->closing);
        s->revoked_in_poll = true;
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            e = rd_kafka_assign(rk, NULL);
        if (!error && !e) {
            count_assigned(s, cooperative ? -parts->cnt : -s->assigned);
            disown(s, parts, cooperative);
        }
    }
    if (error) {
        s->h->log(s->ctx, BP_LOG_ERROR, "rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (e) {
        s->h->log(s->ctx, BP_LOG_ERROR, "rebalance: %s", rd_kafka_err2str(e));
    }
}

/* librdkafka's log and error callbacks are served from the consumer queue (log.queue), so they
 * run inside poll/close and may use the host; lib/kafka says what they mean. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    source *s = rd_kafka_opaque(rk);
    bp_kafka_talk_log(&s->talk, level, fac, buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    source *s = opaque;
    bp_kafka_talk_error(&s->talk, err, reason);
}

/* librdkafka's threads, at each certificate of a broker's chain: remembers why one was refused */
static int on_verify(rd_kafka_t *rk, const char *broker, int32_t id, int *x509_error, int depth,
                     const char *der, size_t size, char *errstr, size_t errstr_size, void *opaque)
{
    (void)rk, (void)broker, (void)id, (void)depth, (void)der, (void)size;
    source *s = opaque;
    return bp_kafka_talk_verify(&s->talk, *x509_error, errstr, errstr_size);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static int build_conf(source *s, rd_kafka_conf_t *conf)
{
    const bp_host *h = s->h;
    bp_ctx *ctx = s->ctx;
    if (bp_kafka_set(h, ctx, conf, "brokers", "bootstrap.servers",
                     h->opt_string(ctx, "brokers")) ||
        bp_kafka_set(h, ctx, conf, "group", "group.id", h->opt_string(ctx, "group")) ||
        bp_kafka_set(h, ctx, conf, "start", "auto.offset.reset", h->opt_string(ctx, "start")) ||
        bp_kafka_set(h, ctx, conf, "kafka.max.poll.interval.ms", "max.poll.interval.ms",
                     DEFAULT_MAX_POLL_INTERVAL_MS))
        return -1;
    if (bp_kafka_apply_passthrough(h, ctx, conf) != 0)
        return -1;
    /* A small prefetch queue (ward.ini) refilled soon after it drains: fetch_wake.h. */
    if (rd_kafka_version() >= BP_FETCH_WAKES_ITSELF &&
        !bp_kafka_user_value(h, ctx, "fetch.queue.backoff.ms") &&
        bp_kafka_set(h, ctx, conf, "(default)", "fetch.queue.backoff.ms",
                     BP_FETCH_QUEUE_BACKOFF_MS))
        return -1;
    const char *auto_commit = bp_kafka_user_value(h, ctx, "enable.auto.commit");
    if (auto_commit && bp_kafka_bool(auto_commit) != 0)
        h->log(ctx, BP_LOG_WARN, "kafka.enable.auto.commit = %s ignored: offsets are committed "
               "only after the sinks acknowledged the readings", auto_commit);
    /* Forced last, whatever the section said: automatic commits or offset stores would move
     * the committed position past readings no sink has yet. */
    if (bp_kafka_set(h, ctx, conf, "(forced)", "enable.auto.commit", "false") ||
        bp_kafka_set(h, ctx, conf, "(forced)", "enable.auto.offset.store", "false") ||
        bp_kafka_set(h, ctx, conf, "(forced)", "enable.partition.eof", "false") ||
        bp_kafka_set(h, ctx, conf, "(forced)", "log.queue", "true"))
        return -1;
    char strategy[256];
    size_t len = sizeof strategy;
    s->destroy_guard = rd_kafka_version() < FIXED_DESTROY_BEFORE_SYNC &&
                       rd_kafka_conf_get(conf, "partition.assignment.strategy", strategy, &len) ==
                           RD_KAFKA_CONF_OK &&
                       strstr(strategy, "cooperative-sticky") != NULL;
    bp_fetch_wake_init(&s->wake, conf);
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    bp_kafka_talk_init(&s->talk, h, ctx, NULL);
    if (bp_kafka_talk_wants_verify(&s->talk))
        rd_kafka_conf_set_ssl_cert_verify_cb(conf, on_verify);
    return 0;
}

static int parse_topics(source *s)
{
    const char *list = s->h->opt_string(s->ctx, "topics");
    char *copy = strdup(list ? list : "");
    if (!copy)
        return -1;
    s->topics = rd_kafka_topic_partition_list_new(4);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        size_t n = strlen(t);
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            t[--n] = '\0';
        if (n)
            rd_kafka_topic_partition_list_add(s->topics, t, RD_KAFKA_PARTITION_UA);
    }
    free(copy);
    if (s->topics->cnt == 0) {
        s->h->log(s->ctx, BP_LOG_ERROR, "topics: no topic given (e.g. topics = blood-pressure)");
        return -1;
    }
    return 0;
}

static void src_close(void *state);

static int src_open(const bp_host *h, bp_ctx *ctx, void **state)
{
    source *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->h = h;
    s->ctx = ctx;
    s->batch_size = (size_t)h->opt_int(ctx, "batch_size", 0);
    s->commit_interval_s = (double)h->opt_int(ctx, "commit_interval_ms", 0) / 1000.0;
    s->commit_max_messages = (size_t)h->opt_int(ctx, "commit_max_messages", 0);
    s->poll_timeout_ms = (int)h->opt_int(ctx, "poll_timeout_ms", 0);
    s->unrestored = rd_kafka_topic_partition_list_new(4);
    bp_kpauses_init(&s->pauses);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    if (parse_topics(s) != 0 || build_conf(s, conf) != 0) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!s->rk) {
        rd_kafka_conf_destroy(conf);
        h->log(ctx, BP_LOG_ERROR, "cannot create the Kafka consumer: %s", err);
        goto fail;
    }
    if (bp_kstate_init(&s->ks, h, ctx, s->rk, s->topics) != 0)
        goto fail;
    /* One queue for messages, rebalances, logs and errors, served by consumer_poll. */
    rd_kafka_poll_set_consumer(s->rk);
    rd_kafka_set_log_queue(s->rk, NULL);
    count_assigned(s, 0); /* shown as "waiting for partition assignment" until the group answers */
    *state = s;
    return BP_OK;
fail:
    src_close(s);
    return BP_FATAL;
}

/* Serves the consumer queue until the group's first assignment arrives, for at most
 * SYNC_WAIT_MS. The messages read meanwhile are dropped unread: not handed to the host, so
 * never committed, and read again by whoever owns their partitions next. */
static void wait_first_assignment(source *s)
{
    s->h->log(s->ctx, BP_LOG_INFO, "stopping before the group's first assignment: waiting up "
              "to %d s for it, so that the consumer can be closed cleanly", SYNC_WAIT_MS / 1000);
    for (int waited = 0; !s->synced && waited < SYNC_WAIT_MS; waited += 100) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 100);
        if (m)
            rd_kafka_message_destroy(m);
    }
}

static void src_close(void *state)
{
    source *s = state;
    if (!s)
        return;
    /* librdkafka before 2.3.0 aborts in rd_kafka_destroy() when the cooperative-sticky
     * assignor was chosen but no assignment has arrived yet (its assignor state is still NULL;
     * librdkafka issue 4312). A ward stopped while the group forms hit it. So such a member
     * waits for its first assignment, and if none comes, its handle is left to the process's
     * exit (the plugin is loaded RTLD_NODELETE, librdkafka with it) instead of destroyed. */
    bool guard = s->rk && s->subscribed && s->destroy_guard && !s->synced;
    if (s->rk) {
        s->closing = true;
        if (guard)
            wait_first_assignment(s);
        /* What was acknowledged and waits for its interval is committed now (the revoke
         * callback below would too, but a member without an assignment gets none). */
        if (s->subscribed && s->acked.n && !s->held && commit_acked(s) != BP_OK)
            s->h->log(s->ctx, BP_LOG_WARN, "stopping: the acknowledged offsets could not be "
                      "committed; their readings are read again at the next start "
                      "(at-least-once)");
        if (s->subscribed) {
            /* Leaves the group; the revoke callback commits what was acknowledged since. */
            rd_kafka_resp_err_t e = rd_kafka_consumer_close(s->rk);
            if (e)
                s->h->log(s->ctx, BP_LOG_WARN, "closing the consumer: %s", rd_kafka_err2str(e));
        }
    }
    bp_input_send_free(&s->send);
    bp_kstate_free(&s->ks);
    if (guard && !s->synced) {
        left_to_exit = s->rk;
        s->h->log(s->ctx, BP_LOG_WARN, "no assignment came from the group within %d s: the "
                  "consumer left the group but its handle is not destroyed (librdkafka %s would "
                  "abort; 2.3.0 and later do not)", SYNC_WAIT_MS / 1000, rd_kafka_version_str());
    } else if (s->rk) {
        rd_kafka_destroy(s->rk);
    }
    if (s->topics)
        rd_kafka_topic_partition_list_destroy(s->topics);
    if (s->unrestored)
        rd_kafka_topic_partition_list_destroy(s->unrestored);
    bp_kpauses_free(&s->pauses);
    bp_kpos_free(&s->acked);
    bp_kpos_free(&s->committed);
    bp_kpos_free(&s->owned);
    free(s);
}

/* ---- stage calls ------------------------------------------------------------------------- */

/* Handles a message that carries an error instead of data. Returns BP_OK to go on. */
static int message_error(source *s, const rd_kafka_message_t *m)
{
    s->h->count(s->ctx, "consume_errors", 1);
    if (rd_kafka_fatal_error(s->rk, NULL, 0)) {
        s->h->log(s->ctx, BP_LOG_ERROR, "consumer failed: %s", rd_kafka_message_errstr(m));
        return BP_FATAL;
    }
    s->h->log(s->ctx, BP_LOG_WARN, "consume: %s%s%s", rd_kafka_message_errstr(m),
              m->rkt ? " on topic " : "", m->rkt ? rd_kafka_topic_name(m->rkt) : "");
    return BP_OK;
}

static int add_message(source *s, bp_batch *batch, const rd_kafka_message_t *m)
{
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    const char *topic = rd_kafka_topic_name(m->rkt);
    bp_origin o = {
        .struct_size = sizeof o,
        .topic = topic,
        .partition = m->partition,
        .offset = m->offset,
        .key = m->key,
        .key_len = m->key ? m->key_len : 0,
        .timestamp_ms = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts,
    };
    /* A tombstone (no value) is passed on as an empty payload: the decoder dead-letters it
     * with its position, and it is committed like any other message. */
    const void *data = m->payload ? m->payload : "";
    int rc = s->h->add_payload(batch, data, m->payload ? m->len : 0, &o);
    if (rc != BP_OK) {
        s->h->log(s->ctx, BP_LOG_ERROR, "cannot queue a message of %zu bytes (status %d)",
                  m->len, rc);
        return BP_FATAL;
    }
    if (!s->counters_named) {
        s->h->count(s->ctx, "messages", 0);
        s->h->count(s->ctx, "bytes", 0);
        s->counters_named = true;
    }
    s->polled_messages++;
    s->polled_bytes += m->len;
    return BP_OK;
}

/* A partition's state could not be restored: judging its readings without it would not be the
 * judging of one ward, so the pipeline stops (its offsets stay where they were). */
static int state_failure(source *s)
{
    s->h->log(s->ctx, BP_LOG_ERROR, "stopping: the keyed state of an assigned partition could not "
              "be restored from %s (see above); nothing of it was judged", s->ks.topic);
    return BP_FATAL;
}

/* A new batch while a commit waits for the group: sends the commit again; while the group
 * still refuses it, serves the group for a short while (its callbacks run in consumer_poll).
 * The partitions are paused, so a message is rare; one that comes is kept in the batch. */
static int poll_held(source *s, bp_batch *batch, int timeout_ms)
{
    int rc = commit_acked(s);
    if (rc != BP_OK || !s->held)
        return rc; /* BP_RETRY: nothing was polled, the host backs off and calls again */
    rd_kafka_message_t *m =
        rd_kafka_consumer_poll(s->rk, timeout_ms < HOLD_POLL_MS ? timeout_ms : HOLD_POLL_MS);
    if (!m)
        return BP_OK;
    rc = s->state_failed ? state_failure(s)
         : held_back(s, m) ? BP_OK
         : m->err          ? message_error(s, m)
                           : add_message(s, batch, m);
    rd_kafka_message_destroy(m);
    return rc;
}

/* The restore must wait: the group's callbacks and librdkafka's words are still served (they
 * come through the consumer queue), and the partitions already restored are read. BP_RETRY
 * when nothing was read, so that the host backs off before the next attempt. */
static int serve_while_unrestored(source *s, bp_batch *batch)
{
    size_t cap = s->h->batch_capacity(batch);
    if (s->batch_size && s->batch_size < cap)
        cap = s->batch_size;
    int rc = BP_OK;
    while (rc == BP_OK && !s->state_failed && s->h->batch_count(batch) < cap) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 0);
        if (!m)
            break;
        if (!held_back(s, m))
            rc = m->err ? message_error(s, m) : add_message(s, batch, m);
        rd_kafka_message_destroy(m);
    }
    if (s->state_failed)
        return state_failure(s);
    return rc != BP_OK || s->h->batch_count(batch) ? rc : BP_RETRY;
}

static int poll_batch(source *s, bp_batch *batch, int timeout_ms)
{
    if (!s->subscribed) {
        rd_kafka_resp_err_t e = rd_kafka_subscribe(s->rk, s->topics);
        if (e) {
            s->h->log(s->ctx, BP_LOG_ERROR, "cannot subscribe: %s", rd_kafka_err2str(e));
            return BP_FATAL;
        }
        s->subscribed = true;
    }
    if (s->state_failed)
        return state_failure(s);
    size_t had = s->h->batch_count(batch);
    if (had == 0) {
        /* A new batch: a revocation during an earlier one closed that one, not this. */
        s->revoked_in_poll = false;
        if (s->unrestored->cnt) {
            int rc = restore_unrestored(s);
            if (rc == BP_FATAL)
                return state_failure(s);
            if (rc == BP_RETRY)
                return serve_while_unrestored(s, batch);
        }
        if (s->held)
            return poll_held(s, batch, timeout_ms);
        /* Batches acknowledged since the last commit, due now (nothing new came to commit()
         * them): committed before anything more is read. */
        if (s->acked.n && commit_due(s)) {
            int rc = commit_acked(s);
            if (rc != BP_OK || s->held)
                return rc; /* BP_RETRY: the host backs off and polls again, which retries */
        }
    } else if (s->revoked_in_poll || s->held) {
        return BP_OK; /* appending (linger_ms): a revocation closes the batch early, see below */
    }
    size_t cap = s->h->batch_capacity(batch);
    if (s->batch_size && s->batch_size < cap)
        cap = s->batch_size;
    /* Appending, the host's time left is the limit; a host that asks for no wait (a poll ahead
     * of a judged batch, [pipeline] decode_ahead) gets none. */
    if (s->poll_timeout_ms && had == 0 && timeout_ms > 0)
        timeout_ms = s->poll_timeout_ms;
    if (had == 0)
        timeout_ms = ms_until_due(s, timeout_ms);
    int rc = BP_OK;
    uint64_t bytes_before = s->polled_bytes;
    if (had == 0)
        bp_fetch_wake_poke(&s->wake, s->rk, cap, FETCH_WAKE_TIMEOUT_MS);
    while (s->h->batch_count(batch) < cap) {
        /* Wait only for the first message of this call; then take what is already fetched. */
        int wait = s->h->batch_count(batch) > had ? 0 : timeout_ms;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, wait);
        if (s->state_failed) {
            if (m)
                rd_kafka_message_destroy(m);
            return state_failure(s);
        }
        if (!m)
            break;
        if (held_back(s, m)) {
            rd_kafka_message_destroy(m);
            continue;
        }
        rc = m->err ? message_error(s, m) : add_message(s, batch, m);
        rd_kafka_message_destroy(m);
        /* After a revocation the rest of this batch may belong to another member now; close
         * the batch early so it is committed (or refused) soon. */
        if (rc != BP_OK || s->revoked_in_poll)
            break;
    }
    bp_fetch_wake_note_batch(&s->wake, s->h->batch_count(batch) - had, cap - had,
                             (size_t)(s->polled_bytes - bytes_before));
    return rc;
}

static int src_poll(void *state, bp_batch *batch, int timeout_ms)
{
    source *s = state;
    int rc = poll_batch(s, batch, timeout_ms);
    if (s->polled_messages) {
        s->h->count(s->ctx, "messages", (double)s->polled_messages);
        s->h->count(s->ctx, "bytes", (double)s->polled_bytes);
        s->polled_messages = s->polled_bytes = 0;
    }
    return rc;
}

/* A state change of a partition the batch read nothing from (the host's alarm stage escalates
 * on time, in a batch of no payload): the partition's committed position is acknowledged again,
 * so the change is persisted with the tag of that position (the offset commit moves nothing).
 * Restored at that position it is the value after the change, which is exact: the change's
 * events were delivered before this commit, and a crash before it leaves the older record,
 * after which the host makes the same change again. */
typedef struct reack_ctx {
    source *s;
    int rc;
    /* the last partition found acknowledged (a batch's changes come in runs of one partition;
     * the host's topic pointer stays the same string through one state_changes call) */
    const char *acked_topic;
    int32_t acked_partition;
} reack_ctx;

static int reack_one(void *user, const bp_state_change *ch)
{
    reack_ctx *r = user;
    if (!ch->topic || ch->partition < 0 ||
        (ch->topic == r->acked_topic && ch->partition == r->acked_partition))
        return 0;
    if (bp_kpos_find(&r->s->acked, ch->topic, ch->partition)) {
        r->acked_topic = ch->topic;
        r->acked_partition = ch->partition;
        return 0;
    }
    const bp_kpos *c = bp_kpos_find(&r->s->committed, ch->topic, ch->partition);
    if (c && c->next > 0 && bp_kpos_raise(&r->s->acked, ch->topic, ch->partition, c->next) != 0) {
        r->rc = BP_FATAL;
        return 1;
    }
    return 0;
}

/* The positions committed are those of `batch` itself, read from its payloads: the host polls
 * further batches while this one is delivered (BP_CAP_BATCH_COMMIT) and commits in poll order,
 * so what was polled since is never committed with it. Partitions given up since the batch was
 * read are left out: their next owner reads them again. */
static int src_commit(void *state, const bp_batch *batch)
{
    source *s = state;
    const bp_host *h = s->h;
    int rc = BP_OK;
    /* librdkafka hands out a partition's messages in runs: each run's last offset is noted
     * once (the lookups compare topic names), not every record's. */
    const char *run_topic = NULL;
    int32_t run_part = -1;
    int64_t run_last = -1;
    for (size_t i = 0; rc == BP_OK && i <= h->batch_count(batch); i++) {
        const char *topic = NULL;
        double part = NAN, off = NAN;
        if (i < h->batch_count(batch)) {
            const bp_record *r = h->batch_at(batch, i);
            topic = h->text(r, BP_F_SOURCE_TOPIC);
            part = h->number(r, BP_F_SOURCE_PARTITION);
            off = h->number(r, BP_F_SOURCE_OFFSET);
            if (!topic || isnan(part) || isnan(off))
                continue;
            if (run_topic && (int32_t)part == run_part && strcmp(topic, run_topic) == 0) {
                run_last = (int64_t)off > run_last ? (int64_t)off : run_last;
                continue;
            }
        }
        /* the run ends (a record of another partition, or the batch's end) */
        if (run_topic && bp_kpos_find(&s->owned, run_topic, run_part) &&
            bp_kpos_note(&s->acked, run_topic, run_part, run_last) != 0)
            rc = BP_FATAL;
        if (!topic)
            break;
        run_topic = topic;
        run_part = (int32_t)part;
        run_last = (int64_t)off;
    }
    reack_ctx ra = {s, BP_OK, NULL, -1};
    if (rc == BP_OK && BP_HOST_HAS(h, state_changes) &&
        (h->state_changes(s->ctx, batch, reack_one, &ra) < 0 || ra.rc != BP_OK))
        rc = BP_FATAL;
    /* the state changes of the same readings, for the same partitions */
    if (rc == BP_OK)
        rc = bp_kstate_merge(&s->ks, batch, &s->acked, &s->committed);
    if (rc != BP_OK)
        return rc;
    h->count(s->ctx, "batches_acknowledged", 1);
    s->acked_messages += h->batch_count(batch);
    /* Within commit_interval_ms of the last commit the batch waits for the next one, made by a
     * later commit() or poll(), the revoke callback or close(). */
    return s->held || commit_due(s) ? commit_acked(s) : BP_OK;
}

/* `bppipe check`: the cluster answers, and the topics exist (without joining the group). */
static int src_probe(void *state, int timeout_ms)
{
    source *s = state;
    const char *names[64];
    size_t n = 0;
    for (int i = 0; i < s->topics->cnt && n < 64; i++)
        names[n++] = s->topics->elems[i].topic;
    return bp_kafka_probe(s->h, s->ctx, s->rk, s->h->opt_string(s->ctx, "brokers"), names, n,
                          timeout_ms);
}

/* ABI 1.7: an alarm acknowledgement for the process that owns its partition (input_send.c). */
static int src_send_input(void *state, const char *topic, int32_t partition, const void *key,
                          size_t key_len, const void *data, size_t len, int timeout_ms)
{
    source *s = state;
    return bp_input_send(&s->send, &s->ks, s->topics, topic, partition, key, key_len, data, len,
                         timeout_ms);
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "source-kafka",
    .version = "1.0.0",
    .kind = BP_KIND_SOURCE,
    .description = "consumes FHIR readings from Kafka topics; commits offsets only after the "
                   "sinks acknowledged; keeps the keyed state in a compacted changelog topic",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = src_open,
    .close = src_close,
    .poll = src_poll,
    .commit = src_commit,
    /* linger_ms may gather a batch over several polls; commit() takes the batch's own
     * positions, so batches are polled while earlier ones are still being delivered */
    .caps = BP_CAP_POLL_APPENDS | BP_CAP_BATCH_COMMIT | BP_CAP_KEYED_STATE,
    .probe = src_probe,
    .send_input = src_send_input,
};

BP_PLUGIN(descriptor)
