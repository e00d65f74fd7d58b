#include "config/options.h"

#include "base/suggest.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *bp_where(const char *file, int line, char *buf, size_t len)
{
    if (line > 0)
        snprintf(buf, len, "%s:%d", file, line);
    else
        snprintf(buf, len, "%s", file ? file : "-o");
    return buf;
}

int bp_parse_int(const char *text, int64_t *out)
{
    if (!text || !*text)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int bp_parse_double(const char *text, double *out)
{
    if (!text || !*text)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int bp_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; text && i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

bool bp_choice_ok(const char *choices, const char *text)
{
    size_t n = strlen(text);
    for (const char *p = choices; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, text, n) == 0)
            return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

const bp_option *bp_options_find(const bp_option *opts, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        const bp_option *o = &opts[i];
        if (o->type == BP_OPT_PREFIX) {
            size_t plen = strlen(o->name);
            if (plen >= 1 && o->name[plen - 1] == '*' &&
                strncmp(key, o->name, plen - 1) == 0 && key[plen - 1])
                return o;
        } else if (strcmp(o->name, key) == 0) {
            return o;
        }
    }
    return NULL;
}

static bool in_list(const char *const *list, const char *key)
{
    for (; list && *list; list++)
        if (strcmp(*list, key) == 0)
            return true;
    return false;
}

/* The closest known name, when it is close enough to be a likely typo. */
static const char *suggest(const char *key, const bp_option *opts, size_t n,
                           const char *const *host_keys)
{
    bp_suggest s;
    bp_suggest_init(&s, key);
    for (size_t i = 0; i < n; i++)
        bp_suggest_offer(&s, opts[i].name);
    for (; host_keys && *host_keys; host_keys++)
        bp_suggest_offer(&s, *host_keys);
    return bp_suggest_result(&s, bp_suggest_max_edits(key, false));
}

/* An INT bound at or beyond 2^53 (where doubles stop holding every integer: plugins write
 * 9007199254740992.0 for "any count"), or an infinite bound, leaves that side open. */
static bool open_side(const bp_option *o, double bound)
{
    return isinf(bound) || (o->type == BP_OPT_INT && fabs(bound) >= 9007199254740992.0);
}

static const char *bound_text(const bp_option *o, double bound, char *buf, size_t len)
{
    if (open_side(o, bound))
        snprintf(buf, len, "no limit");
    else if (bound == floor(bound) && fabs(bound) < 9007199254740992.0)
        snprintf(buf, len, "%lld", (long long)bound);
    else
        snprintf(buf, len, "%.15g", bound);
    return buf;
}

/* "[1, 100]", "[0, no limit]"; "" when the option has no bounds or both sides are open. */
static const char *range_text(const bp_option *o, char *buf, size_t len)
{
    char lo[32], hi[32];
    if (o->min > o->max || (open_side(o, o->min) && open_side(o, o->max)))
        snprintf(buf, len, "%s", "");
    else
        snprintf(buf, len, "[%s, %s]", bound_text(o, o->min, lo, sizeof lo),
                 bound_text(o, o->max, hi, sizeof hi));
    return buf;
}

static bool out_of_bounds(const bp_option *o, double v)
{
    if (o->min > o->max)
        return false;
    return (!open_side(o, o->min) && v < o->min) || (!open_side(o, o->max) && v > o->max);
}

static void check_value(const bp_section *s, const bp_kv *kv, const bp_option *o,
                        bp_errors *errs)
{
    char where[512];
    bp_where(kv->file, kv->line, where, sizeof where);
    const char *shown = (o->flags & BP_OPT_SECRET) ? "(secret)" : kv->value;
    char range[80];
    int64_t i;
    double d;
    bool b;
    switch (o->type) {
    case BP_OPT_INT:
        if (bp_parse_int(kv->value, &i) != 0) {
            bp_errors_add(errs, "%s: [%s] key '%s': '%s' is not an integer", where, s->name,
                          kv->key, shown);
        } else if (out_of_bounds(o, (double)i)) {
            bp_errors_add(errs, "%s: [%s] key '%s': %s is out of bounds %s", where, s->name,
                          kv->key, shown, range_text(o, range, sizeof range));
        }
        break;
    case BP_OPT_DOUBLE:
        if (bp_parse_double(kv->value, &d) != 0) {
            bp_errors_add(errs, "%s: [%s] key '%s': '%s' is not a number", where, s->name,
                          kv->key, shown);
        } else if (out_of_bounds(o, d)) {
            bp_errors_add(errs, "%s: [%s] key '%s': %s is out of bounds %s", where, s->name,
                          kv->key, shown, range_text(o, range, sizeof range));
        }
        break;
    case BP_OPT_BOOL:
        if (bp_parse_bool(kv->value, &b) != 0)
            bp_errors_add(errs, "%s: [%s] key '%s': '%s' is not a boolean (true/false)", where,
                          s->name, kv->key, shown);
        break;
    case BP_OPT_ENUM:
        if (!bp_choice_ok(o->choices, kv->value))
            bp_errors_add(errs, "%s: [%s] key '%s': '%s' is not one of %s", where, s->name,
                          kv->key, shown, o->choices);
        break;
    default:
        break;
    }
}

void bp_options_validate(const bp_section *s, const bp_option *opts, size_t n,
                         const char *const *host_keys, bp_errors *errs)
{
    char where[512];
    for (size_t k = 0; k < s->n_kvs; k++) {
        const bp_kv *kv = &s->kvs[k];
        if (in_list(host_keys, kv->key))
            continue;
        const bp_option *o = bp_options_find(opts, n, kv->key);
        if (!o) {
            const char *hint = suggest(kv->key, opts, n, host_keys);
            bp_where(kv->file, kv->line, where, sizeof where);
            if (hint)
                bp_errors_add(errs, "%s: [%s] unknown key '%s' (did you mean '%s'?)", where,
                              s->name, kv->key, hint);
            else
                bp_errors_add(errs, "%s: [%s] unknown key '%s' (see the keys it takes with "
                              "'bppipe plugins %s')", where, s->name, kv->key,
                              bp_section_value(s, "plugin") ? bp_section_value(s, "plugin")
                                                            : "NAME");
            continue;
        }
        check_value(s, kv, o, errs);
    }
    for (size_t i = 0; i < n; i++) {
        const bp_option *o = &opts[i];
        if ((o->flags & BP_OPT_REQUIRED) && o->type != BP_OPT_PREFIX &&
            !bp_section_get(s, o->name))
            bp_errors_add(errs, "%s: [%s] missing required key '%s' (%s)",
                          bp_where(s->file, s->line, where, sizeof where), s->name, o->name,
                          o->help ? o->help : "no description");
    }
}

static const char *type_name(bp_opt_type t)
{
    switch (t) {
    case BP_OPT_STRING: return "string";
    case BP_OPT_INT: return "int";
    case BP_OPT_DOUBLE: return "number";
    case BP_OPT_BOOL: return "bool";
    case BP_OPT_ENUM: return "enum";
    case BP_OPT_PREFIX: return "pass-through";
    }
    return "?";
}

void bp_options_print(FILE *out, const bp_option *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const bp_option *o = &opts[i];
        char range[128] = "", bounds[80];
        if (o->type == BP_OPT_ENUM)
            snprintf(range, sizeof range, " one of %s", o->choices);
        else if ((o->type == BP_OPT_INT || o->type == BP_OPT_DOUBLE) &&
                 *range_text(o, bounds, sizeof bounds))
            snprintf(range, sizeof range, " in %s", bounds);
        const char *dflt = (o->flags & BP_OPT_REQUIRED) ? "required"
                           : o->default_value           ? o->default_value
                                                        : "unset";
        fprintf(out, "  %-22s %-12s default: %-12s%s\n", o->name, type_name(o->type),
                (o->flags & BP_OPT_SECRET) && o->default_value ? "(secret)" : dflt, range);
        fprintf(out, "  %-22s %s\n", "", o->help ? o->help : "");
    }
}
