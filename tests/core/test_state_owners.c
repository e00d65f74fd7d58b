/* The registry of keyed-state owners (src/pipeline/state_owners.c), without the store: formats,
 * slots, namespaces, one slot per instance and per namespace. */
#include "check.h"
#include "pipeline/state_owners.h"

#include <stdio.h>
#include <stdlib.h>

static bp_ctx *ctx_new(const char *name)
{
    bp_ctx *c = calloc(1, sizeof *c);
    c->name = strdup(name);
    return c;
}

static void ctx_free(bp_ctx *c)
{
    free(c->name);
    free(c);
}

static void test_formats(void)
{
    CHECK(bp_state_format_ok("trend.1"));
    CHECK(bp_state_format_ok("a_b-c.9"));
    CHECK(!bp_state_format_ok(NULL));
    CHECK(!bp_state_format_ok(""));
    CHECK(!bp_state_format_ok("Trend"));
    CHECK(!bp_state_format_ok("a b"));
    CHECK(!bp_state_format_ok("a/b"));
    char longest[BP_STATE_MAX_FORMAT + 2];
    memset(longest, 'x', sizeof longest);
    longest[BP_STATE_MAX_FORMAT] = '\0';
    CHECK(bp_state_format_ok(longest));
    longest[BP_STATE_MAX_FORMAT] = 'x';
    longest[BP_STATE_MAX_FORMAT + 1] = '\0';
    CHECK(!bp_state_format_ok(longest));
}

static void test_slots(void)
{
    bp_state_owners ow = {0};
    bp_ctx *a = ctx_new("detector.a"), *b = ctx_new("sink.b"), *a2 = ctx_new("detector.a");
    CHECK(!bp_state_owners_any(&ow));
    CHECK(bp_state_owner_of(&ow, a) == -1);

    CHECK(bp_state_owner_claim(&ow, a, "fmt.1", 10, "/x/a.state") == 0);
    CHECK(a->state_owner == 1);
    CHECK(bp_state_owners_any(&ow));
    CHECK(bp_state_owner_of(&ow, a) == 0);
    CHECK_STR(ow.slot[0].ns, "detector.a/fmt.1");
    CHECK_STR(ow.slot[0].file, "/x/a.state");
    CHECK(ow.slot[0].max_keys == 10);
    CHECK(bp_state_owner_claim(&ow, a, "fmt.2", 0, NULL) == BP_EINVAL);  /* once */
    CHECK(bp_state_owner_claim(&ow, a2, "fmt.1", 0, NULL) == BP_EINVAL); /* same ns */
    CHECK(a2->state_owner == 0);

    CHECK(bp_state_owner_claim(&ow, b, "fmt.1", 0, NULL) == 1);
    CHECK(ow.slot[1].file == NULL);
    CHECK(bp_state_owner_by_ns(&ow, "sink.b/fmt.1") == 1);
    CHECK(bp_state_owner_by_ns(&ow, "sink.b/fmt.2") == -1);

    /* a ctx whose number names another's slot is not that owner */
    a2->state_owner = 2;
    CHECK(bp_state_owner_of(&ow, a2) == -1);
    a2->state_owner = BP_STATE_MAX_OWNERS + 1;
    CHECK(bp_state_owner_of(&ow, a2) == -1);
    a2->state_owner = 0;

    /* released: the slot and the namespace are free again */
    bp_state_owner_release(&ow, 0);
    CHECK(bp_state_owner_of(&ow, a) == -1);
    CHECK(bp_state_owner_claim(&ow, a2, "fmt.1", 0, "") == 0);
    CHECK(ow.slot[0].file && ow.slot[0].file[0] == '\0'); /* "" is state.c's to treat as none */

    /* all slots taken */
    bp_ctx *many[BP_STATE_MAX_OWNERS];
    int claimed = 0;
    for (int i = 0; i < BP_STATE_MAX_OWNERS; i++) {
        char name[32];
        snprintf(name, sizeof name, "detector.%d", i);
        many[i] = ctx_new(name);
        claimed += bp_state_owner_claim(&ow, many[i], "f", 0, NULL) >= 0;
    }
    CHECK(claimed == BP_STATE_MAX_OWNERS - 2);
    for (int i = 0; i < BP_STATE_MAX_OWNERS; i++)
        ctx_free(many[i]);

    for (int o = 0; o < BP_STATE_MAX_OWNERS; o++)
        bp_state_owner_release(&ow, o);
    CHECK(!bp_state_owners_any(&ow));
    ctx_free(a);
    ctx_free(a2);
    ctx_free(b);
}

int main(void)
{
    test_formats();
    test_slots();
    return CHECK_DONE();
}
