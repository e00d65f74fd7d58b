/* The revision ledger (src/pipeline/revisions.c, docs/revisions.md "The ledger"): every rule on
 * its own, then the ledger over keyed state in batch order (two versions in one batch), per
 * partition, across a restart through its snapshot file, and its bound (oldest out, counted). */
#include "check.h"
#include "pipeline/record.h"
#include "pipeline/revisions.h"
#include "pipeline/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NONE BP_REVISION_NONE
#define REPLACE BP_REVISION_REPLACE
#define RETRACT BP_REVISION_RETRACT
#define UNKNOWN BP_VERSION_NONE

static void rules(void)
{
    bp_ledger_entry plain = {3, false, 0}, gone = {3, true, 0};
    bp_ledger_entry plain_unknown = {UNKNOWN, false, 0}, gone_unknown = {UNKNOWN, true, 0};
    /* nothing known of the logical id: whatever it is, it is accepted */
    CHECK(bp_ledger_decide(NULL, 1, NONE) == BP_LEDGER_ACCEPT);
    CHECK(bp_ledger_decide(NULL, UNKNOWN, REPLACE) == BP_LEDGER_ACCEPT);
    CHECK(bp_ledger_decide(NULL, 5, RETRACT) == BP_LEDGER_ACCEPT);
    /* retracted: only a newer known version comes back; the rest, a second copy too, is not */
    for (int rev = NONE; rev <= RETRACT; rev++) {
        CHECK(bp_ledger_decide(&gone, 2, (bp_revision)rev) == BP_LEDGER_RETRACTED);
        CHECK(bp_ledger_decide(&gone, 3, (bp_revision)rev) == BP_LEDGER_RETRACTED);
        CHECK(bp_ledger_decide(&gone, UNKNOWN, (bp_revision)rev) == BP_LEDGER_RETRACTED);
        CHECK(bp_ledger_decide(&gone_unknown, 9, (bp_revision)rev) == BP_LEDGER_RETRACTED);
        CHECK(bp_ledger_decide(&gone, 4, (bp_revision)rev) == BP_LEDGER_ACCEPT);
    }
    /* replaced, both versions known: only a newer one */
    for (int rev = NONE; rev <= RETRACT; rev++) {
        CHECK(bp_ledger_decide(&plain, 2, (bp_revision)rev) == BP_LEDGER_SUPERSEDED);
        CHECK(bp_ledger_decide(&plain, 3, (bp_revision)rev) == BP_LEDGER_SUPERSEDED);
        CHECK(bp_ledger_decide(&plain, 4, (bp_revision)rev) == BP_LEDGER_ACCEPT);
    }
    /* a version unknown: an original never undoes its correction, a revision wins */
    CHECK(bp_ledger_decide(&plain, UNKNOWN, NONE) == BP_LEDGER_SUPERSEDED);
    CHECK(bp_ledger_decide(&plain_unknown, 7, NONE) == BP_LEDGER_SUPERSEDED);
    CHECK(bp_ledger_decide(&plain, UNKNOWN, REPLACE) == BP_LEDGER_ACCEPT);
    CHECK(bp_ledger_decide(&plain_unknown, 7, REPLACE) == BP_LEDGER_ACCEPT);
    CHECK(bp_ledger_decide(&plain_unknown, UNKNOWN, RETRACT) == BP_LEDGER_ACCEPT);
}

static void value_format(void)
{
    bp_ledger_entry e = {-2, true, 1700000000123}, back;
    unsigned char buf[BP_LEDGER_VALUE_LEN + 3];
    CHECK(bp_ledger_entry_encode(&e, buf, 5) == 0);
    CHECK(bp_ledger_entry_encode(&e, buf, sizeof buf) == BP_LEDGER_VALUE_LEN);
    CHECK(bp_ledger_entry_decode(&back, buf, BP_LEDGER_VALUE_LEN) == 0);
    CHECK(back.version == -2 && back.retracted && back.applied_ms == 1700000000123);
    CHECK(bp_ledger_entry_decode(&back, buf, BP_LEDGER_VALUE_LEN - 1) != 0);
    buf[8] = 2; /* unknown flags */
    CHECK(bp_ledger_entry_decode(&back, buf, BP_LEDGER_VALUE_LEN) != 0);
}

static bp_arena arena;
static uint64_t seq;

/* A reading (or retraction) of `logical` polled in the current batch from partition `part`. */
static bp_record *rec(int32_t part, const char *logical, int64_t version, bp_revision rev)
{
    bp_record *r = bp_record_new(&arena);
    r->topic = "bp";
    r->partition = part;
    r->logical_id = logical;
    r->version = version;
    r->revision = rev;
    bp_state_stamp(r, seq);
    return r;
}

static void next_batch(void)
{
    bp_state_begin_poll(++seq);
}

/* The ledger's answer for a new record, with its skip reason when suppressed. */
static int apply(bp_revisions *lg, bp_record *r, int64_t now)
{
    int rc = bp_revisions_apply(lg, r, now);
    CHECK(rc >= 0);
    CHECK((rc == 1) == (r->skip_reason != NULL));
    return rc;
}

static void ledger(const char *file)
{
    unlink(file);
    bp_state_configure(false, 0);
    bp_revisions *lg = bp_revisions_open(file, 0);
    CHECK(lg != NULL);
    next_batch();
    /* a first version: accepted untouched, and nothing remembered (a replay of it is too) */
    bp_record *r = rec(0, "Observation/a", 1, NONE);
    CHECK(apply(lg, r, 10) == 0 && r->revision == NONE);
    CHECK(apply(lg, rec(0, "Observation/a", 1, NONE), 10) == 0);
    CHECK(apply(lg, rec(0, NULL, 1, NONE), 10) == 0); /* no logical id: nothing to do */
    /* its correction, then in the same batch a replay of both: the correction stands */
    CHECK(apply(lg, rec(0, "Observation/a", 2, REPLACE), 11) == 0);
    r = rec(0, "Observation/a", 1, NONE);
    CHECK(apply(lg, r, 12) == 1);
    CHECK_STR(r->skip_reason, BP_SKIP_SUPERSEDED);
    CHECK(apply(lg, rec(0, "Observation/a", 2, REPLACE), 12) == 1);
    /* two corrections in one batch, in order: both applied, the older one again is not */
    CHECK(apply(lg, rec(0, "Observation/a", 3, REPLACE), 13) == 0);
    CHECK(apply(lg, rec(0, "Observation/a", 4, REPLACE), 13) == 0);
    CHECK(apply(lg, rec(0, "Observation/a", 3, REPLACE), 13) == 1);
    next_batch();
    /* a newer version without revision after a correction: it replaces too */
    r = rec(0, "Observation/a", 5, NONE);
    CHECK(apply(lg, r, 14) == 0 && r->revision == REPLACE);
    /* retracted: a second copy of the retraction and every older version are skipped */
    CHECK(apply(lg, rec(0, "Observation/a", 6, RETRACT), 15) == 0);
    r = rec(0, "Observation/a", 6, RETRACT);
    CHECK(apply(lg, r, 16) == 1);
    CHECK_STR(r->skip_reason, BP_SKIP_RETRACTED);
    CHECK(apply(lg, rec(0, "Observation/a", 2, REPLACE), 16) == 1);
    CHECK(apply(lg, rec(0, "Observation/a", UNKNOWN, REPLACE), 16) == 1);
    /* a retraction before its reading (a replay, a reordering): the late reading is skipped */
    CHECK(apply(lg, rec(0, "Observation/late", 2, RETRACT), 17) == 0);
    r = rec(0, "Observation/late", 1, NONE);
    CHECK(apply(lg, r, 17) == 1);
    CHECK_STR(r->skip_reason, BP_SKIP_RETRACTED);
    CHECK(apply(lg, rec(0, "Observation/late", UNKNOWN, NONE), 17) == 1);
    /* versions unknown: an original never undoes its correction, a later correction wins */
    CHECK(apply(lg, rec(0, "Observation/u", UNKNOWN, REPLACE), 18) == 0);
    CHECK(apply(lg, rec(0, "Observation/u", UNKNOWN, NONE), 18) == 1);
    CHECK(apply(lg, rec(0, "Observation/u", UNKNOWN, REPLACE), 18) == 0);
    /* per input partition: partition 1 knows nothing of partition 0's logical ids */
    CHECK(apply(lg, rec(1, "Observation/late", 1, NONE), 19) == 0);
    /* a logical id longer than a key is kept by its hash, the same every time */
    char big[2048];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(apply(lg, rec(0, big, 2, REPLACE), 20) == 0);
    CHECK(apply(lg, rec(0, big, 1, NONE), 20) == 1);

    /* restart: what was committed is in the snapshot file and the ledger goes on from it */
    bp_state_commit(seq);
    CHECK(bp_state_checkpoint(true) == 0);
    bp_revisions_close(lg);
    bp_state_reset();
    bp_state_configure(false, 0);
    lg = bp_revisions_open(file, 0);
    CHECK(lg != NULL);
    next_batch();
    CHECK(apply(lg, rec(0, "Observation/a", 6, RETRACT), 30) == 1);
    CHECK(apply(lg, rec(0, "Observation/a", 1, NONE), 30) == 1);
    CHECK(apply(lg, rec(0, "Observation/late", 1, NONE), 30) == 1);
    CHECK(apply(lg, rec(0, "Observation/u", UNKNOWN, NONE), 30) == 1);
    CHECK(apply(lg, rec(0, big, 1, NONE), 30) == 1);
    CHECK(apply(lg, rec(0, "Observation/a", 7, REPLACE), 30) == 0); /* newer than retracted */
    /* what was not committed before a crash is not there: it is read again and applied again */
    next_batch();
    CHECK(apply(lg, rec(0, "Observation/new", 2, REPLACE), 31) == 0);
    bp_revisions_close(lg); /* no commit, no checkpoint: the crash */
    bp_state_reset();
    bp_state_configure(false, 0);
    lg = bp_revisions_open(file, 0);
    next_batch();
    CHECK(apply(lg, rec(0, "Observation/new", 2, REPLACE), 32) == 0);
    bp_revisions_close(lg);
    bp_state_reset();
    unlink(file);
}

static void bound(void)
{
    bp_state_configure(false, 0);
    bp_revisions *lg = bp_revisions_open(NULL, 16);
    CHECK(lg != NULL);
    next_batch();
    char id[32];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "Observation/b%d", i);
        CHECK(apply(lg, rec(0, id, 2, REPLACE), 100 + i) == 0);
        if (i == 20)
            next_batch(); /* across batches too */
    }
    /* another partition has its own bound: its one key evicts nothing */
    CHECK(apply(lg, rec(3, "Observation/b0", 2, REPLACE), 200) == 0);
    bp_revision_counts c;
    bp_revisions_get_counts(lg, &c);
    CHECK(c.evicted == 24 && c.lost == 0);
    bp_state_commit(seq);
    CHECK(bp_state_keys() == 17);
    /* the oldest were forgotten (a replay of their original is delivered again), the newest
     * are remembered */
    next_batch();
    CHECK(apply(lg, rec(0, "Observation/b0", 1, NONE), 300) == 0);
    CHECK(apply(lg, rec(0, "Observation/b23", 1, NONE), 300) == 0);
    CHECK(apply(lg, rec(0, "Observation/b24", 1, NONE), 300) == 1);
    CHECK(apply(lg, rec(0, "Observation/b39", 1, NONE), 300) == 1);
    CHECK(apply(lg, rec(3, "Observation/b0", 1, NONE), 300) == 1);
    bp_revisions_close(lg);
    bp_state_reset();
}

int main(void)
{
    rules();
    value_format();
    bp_arena_init_growing(&arena, 4096);
    char dir[] = "/tmp/bppipe-revisions-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char file[sizeof dir + 32];
    snprintf(file, sizeof file, "%s/ledger.state", dir);
    ledger(file);
    bound();
    rmdir(dir);
    bp_arena_free(&arena);
    return CHECK_DONE();
}
