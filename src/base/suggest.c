#include "base/suggest.h"

#include <string.h>

size_t bp_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 100 || lb > 100)
        return 100;
    size_t row[101]; /* one row of the table: distances from a[0..i) to each b[0..j) */
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

size_t bp_suggest_max_edits(const char *want, bool scaled)
{
    size_t len = strlen(want);
    if (len <= 4)
        return 1;
    return scaled && len / 4 > 2 ? len / 4 : 2;
}

void bp_suggest_init(bp_suggest *s, const char *want)
{
    s->want = want;
    s->best = NULL;
    s->best_d = (size_t)-1;
}

void bp_suggest_offer(bp_suggest *s, const char *name)
{
    size_t d = bp_edit_distance(s->want, name);
    if (d < s->best_d) {
        s->best_d = d;
        s->best = name;
    }
}

const char *bp_suggest_result(const bp_suggest *s, size_t max_edits)
{
    return s->best_d <= max_edits ? s->best : NULL;
}
