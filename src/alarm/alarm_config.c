/* [alarms]: the conditions (CONDITION.KEY = VALUE) and the stage's own keys, validated with the
 * file and line of every mistake and what to write instead (docs/alarms.md, "Configuration"). */
#include "alarm/alarm.h"

#include "base/suggest.h"
#include "config/options.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The stage's own keys; users_file and audit_file are read by the acknowledgement path. */
static const char *const global_keys[] = {"state_file", "max_keys", "users_file", "audit_file",
                                          NULL};
static const char *const cond_keys[] = {
    "match",          "priority",   "confirm_readings", "confirm_within_s",
    "clear_readings", "cooldown_s", "escalate_after",   NULL};

const char *const *bp_alarm_condition_keys(void)
{
    return cond_keys;
}

static bool in_list(const char *const *list, const char *key)
{
    for (; *list; list++)
        if (strcmp(*list, key) == 0)
            return true;
    return false;
}

static bool word_ok(const char *w, size_t n)
{
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((w[i] >= 'a' && w[i] <= 'z') || (w[i] >= '0' && w[i] <= '9') || w[i] == '_' ||
              w[i] == '-'))
            return false;
    return true;
}

/* The condition named `name` (added when new). NULL when there are too many. */
static bp_alarm_condition *cond_of(bp_alarm_config *c, const char *name, size_t n)
{
    for (int i = 0; i < c->n_conds; i++)
        if (strlen(c->conds[i].name) == n && strncmp(c->conds[i].name, name, n) == 0)
            return &c->conds[i];
    if (c->n_conds >= BP_ALARM_MAX_CONDITIONS)
        return NULL;
    bp_alarm_condition *cond = &c->conds[c->n_conds];
    memset(cond, 0, sizeof *cond);
    if (!(cond->name = strndup(name, n)))
        return NULL;
    cond->priority = BP_ALARM_MEDIUM;
    cond->confirm_readings = 1;
    cond->clear_readings = 1;
    cond->n_terms = -1; /* no match key yet */
    c->n_conds++;
    return cond;
}

static int parse_field(const char *f, size_t n, bp_alarm_field *out)
{
    static const struct {
        const char *name;
        bp_alarm_field field;
    } fields[] = {{"reason", BP_AF_REASON},
                  {"category", BP_AF_CATEGORY},
                  {"severity", BP_AF_SEVERITY},
                  {"type", BP_AF_TYPE}};
    for (size_t i = 0; i < 4; i++)
        if (strlen(fields[i].name) == n && strncmp(f, fields[i].name, n) == 0) {
            *out = fields[i].field;
            return 0;
        }
    return -1;
}

/* match = TERM[, TERM...] where TERM = FIELD=VALUE[+FIELD=VALUE...]. 0, or -1 with `why`. */
static int parse_match(bp_alarm_condition *cond, const char *text, char *why, size_t why_len)
{
    cond->n_terms = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '|')
            p++;
        if (!*p)
            break;
        if (cond->n_terms >= BP_ALARM_MAX_TERMS) {
            snprintf(why, why_len, "more than %d alternatives", BP_ALARM_MAX_TERMS);
            return -1;
        }
        bp_alarm_term *t = &cond->terms[cond->n_terms++];
        t->n_parts = 0;
        for (;;) {
            size_t len = strcspn(p, ",| +");
            const char *eq = memchr(p, '=', len);
            if (t->n_parts >= 4) {
                snprintf(why, why_len, "more than 4 parts joined by '+'");
                return -1;
            }
            bp_alarm_part *part = &t->parts[t->n_parts];
            if (!eq || parse_field(p, (size_t)(eq - p), &part->field) != 0 ||
                !word_ok(eq + 1, len - (size_t)(eq + 1 - p))) {
                snprintf(why, why_len,
                         "'%.*s' is not FIELD=VALUE with FIELD one of reason, "
                         "category, severity, type and VALUE of [a-z0-9_-]",
                         (int)len, p);
                return -1;
            }
            if (!(part->value = strndup(eq + 1, len - (size_t)(eq + 1 - p))))
                return -1;
            t->n_parts++;
            if (part->field == BP_AF_SEVERITY && strcmp(part->value, "warning") != 0 &&
                strcmp(part->value, "critical") != 0) {
                snprintf(why, why_len,
                         "severity=%s: a severity is warning or critical "
                         "(at least that severe)",
                         part->value);
                return -1;
            }
            p += len;
            while (*p == ' ')
                p++;
            if (*p != '+')
                break;
            p++;
            while (*p == ' ')
                p++;
        }
    }
    if (cond->n_terms == 0) {
        snprintf(why, why_len, "empty");
        return -1;
    }
    return 0;
}

static int parse_priority(const char *v, bp_alarm_priority *out)
{
    if (strcmp(v, "high") == 0)
        *out = BP_ALARM_HIGH;
    else if (strcmp(v, "medium") == 0)
        *out = BP_ALARM_MEDIUM;
    else if (strcmp(v, "low") == 0)
        *out = BP_ALARM_LOW;
    else
        return -1;
    return 0;
}

/* Whole seconds from 0 to a week, as milliseconds. */
static int parse_seconds(const char *v, int64_t min, int64_t *ms)
{
    int64_t s;
    if (bp_parse_int(v, &s) != 0 || s < min || s > 7 * 86400)
        return -1;
    *ms = s * 1000;
    return 0;
}

/* escalate_after = 120, 300: seconds from the raise to tier 1, then from tier 1 to tier 2... */
static int parse_tiers(bp_alarm_condition *cond, const char *v)
{
    cond->n_escalate = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (cond->n_escalate >= BP_ALARM_MAX_TIERS ||
            parse_seconds(tok, 1, &cond->escalate_after_ms[cond->n_escalate]) != 0)
            return -1;
        cond->n_escalate++;
    }
    return 0;
}

static void unknown_key(const bp_kv *kv, const char *cond, const char *key, bp_errors *errs)
{
    char where[512];
    bp_where(kv->file, kv->line, where, sizeof where);
    bp_suggest sg;
    bp_suggest_init(&sg, key);
    for (const char *const *k = cond ? cond_keys : global_keys; *k; k++)
        bp_suggest_offer(&sg, *k);
    const char *near = bp_suggest_result(&sg, bp_suggest_max_edits(key, false));
    char hint[128] = "";
    if (near)
        snprintf(hint, sizeof hint, " (did you mean '%s%s%s'?)", cond ? cond : "", cond ? "." : "",
                 near);
    if (cond)
        bp_errors_add(errs,
                      "%s: [alarms] key '%s.%s': unknown condition key%s; a condition "
                      "takes match, priority, confirm_readings, confirm_within_s, "
                      "clear_readings, cooldown_s, escalate_after",
                      where, cond, key, hint);
    else
        bp_errors_add(errs,
                      "%s: [alarms] key '%s': unknown key%s; [alarms] takes state_file, "
                      "max_keys, users_file, audit_file and CONDITION.KEY (e.g. crisis.match)",
                      where, key, hint);
}

/* One CONDITION.KEY = VALUE. */
static void read_cond_key(bp_alarm_config *c, const bp_kv *kv, const char *dot, bp_errors *errs)
{
    char where[512], why[256] = "";
    bp_where(kv->file, kv->line, where, sizeof where);
    size_t n = (size_t)(dot - kv->key);
    const char *key = dot + 1, *v = kv->value;
    if (!word_ok(kv->key, n)) {
        bp_errors_add(errs,
                      "%s: [alarms] key '%s': a condition's name is 1 to 64 of "
                      "[a-z0-9_-] (e.g. crisis.match)",
                      where, kv->key);
        return;
    }
    bp_alarm_condition *cond = cond_of(c, kv->key, n);
    if (!cond) {
        bp_errors_add(errs, "%s: [alarms] key '%s': at most %d conditions", where, kv->key,
                      BP_ALARM_MAX_CONDITIONS);
        return;
    }
    int64_t i;
    if (strcmp(key, "match") == 0) {
        if (parse_match(cond, v, why, sizeof why) != 0)
            bp_errors_add(errs,
                          "%s: [alarms] key '%s': %s (e.g. category=hypertensive_crisis, "
                          "or severity=critical+type=hypotension)",
                          where, kv->key, why);
    } else if (strcmp(key, "priority") == 0) {
        if (parse_priority(v, &cond->priority) != 0)
            bp_errors_add(errs, "%s: [alarms] key '%s': '%s' is not one of high, medium, low",
                          where, kv->key, v);
    } else if (strcmp(key, "confirm_readings") == 0 || strcmp(key, "clear_readings") == 0) {
        if (bp_parse_int(v, &i) != 0 || i < 1 || i > 100)
            bp_errors_add(errs, "%s: [alarms] key '%s': '%s' is not an integer from 1 to 100",
                          where, kv->key, v);
        else if (key[1] == 'o')
            cond->confirm_readings = (int)i;
        else
            cond->clear_readings = (int)i;
    } else if (strcmp(key, "confirm_within_s") == 0 || strcmp(key, "cooldown_s") == 0) {
        int64_t *to =
            key[1] == 'o' && key[2] == 'n' ? &cond->confirm_within_ms : &cond->cooldown_ms;
        if (parse_seconds(v, 0, to) != 0)
            bp_errors_add(errs,
                          "%s: [alarms] key '%s': '%s' is not whole seconds from 0 to "
                          "604800 (a week)",
                          where, kv->key, v);
    } else if (strcmp(key, "escalate_after") == 0) {
        if (parse_tiers(cond, v) != 0)
            bp_errors_add(errs,
                          "%s: [alarms] key '%s': '%s' is not a list of up to %d whole "
                          "seconds from 1 to 604800, e.g. 120, 300 (tier 1 two minutes after "
                          "the raise, tier 2 five minutes after that)",
                          where, kv->key, v, BP_ALARM_MAX_TIERS);
    } else {
        char name[80];
        snprintf(name, sizeof name, "%.*s", (int)n, kv->key);
        unknown_key(kv, name, key, errs);
    }
}

int bp_alarm_config_read(bp_alarm_config *c, const bp_section *s, bp_errors *errs)
{
    memset(c, 0, sizeof *c);
    size_t before = errs->n;
    for (size_t k = 0; s && k < s->n_kvs; k++) {
        bp_kv *kv = &s->kvs[k];
        if (!kv->value)
            continue; /* unresolved: reported by the pipeline */
        kv->used = true;
        const char *dot = strchr(kv->key, '.');
        char where[512];
        bp_where(kv->file, kv->line, where, sizeof where);
        if (dot) {
            read_cond_key(c, kv, dot, errs);
        } else if (strcmp(kv->key, "state_file") == 0) {
            free(c->state_file);
            c->state_file = *kv->value ? strdup(kv->value) : NULL;
        } else if (strcmp(kv->key, "max_keys") == 0) {
            int64_t v;
            if (bp_parse_int(kv->value, &v) != 0 || v < 0)
                bp_errors_add(errs,
                              "%s: [alarms] key 'max_keys': '%s' is not an integer of 0 "
                              "(no bound) or more",
                              where, kv->value);
            else
                c->max_keys = (uint64_t)v;
        } else if (!in_list(global_keys, kv->key)) {
            unknown_key(kv, NULL, kv->key, errs);
        }
    }
    for (int i = 0; i < c->n_conds; i++)
        if (c->conds[i].n_terms < 0) {
            char where[512];
            bp_where(s->file, s->line, where, sizeof where);
            bp_errors_add(errs,
                          "%s: [alarms] condition '%s' has no %s.match: say which "
                          "verdicts raise it (e.g. %s.match = category=hypertensive_crisis)",
                          where, c->conds[i].name, c->conds[i].name, c->conds[i].name);
        }
    return errs->n == before ? 0 : -1;
}

void bp_alarm_config_free(bp_alarm_config *c)
{
    for (int i = 0; i < c->n_conds; i++) {
        for (int t = 0; t < c->conds[i].n_terms; t++)
            for (int p = 0; p < c->conds[i].terms[t].n_parts; p++)
                free(c->conds[i].terms[t].parts[p].value);
        free(c->conds[i].name);
    }
    free(c->state_file);
    memset(c, 0, sizeof *c);
}

static bool has_reason(const bp_record *r, const char *code)
{
    for (const bp_reason *it = r->reasons; it; it = it->next)
        if (strcmp(it->code, code) == 0)
            return true;
    return false;
}

static bool part_holds(const bp_alarm_part *p, const bp_record *r)
{
    const char *type;
    switch (p->field) {
    case BP_AF_REASON: return has_reason(r, p->value);
    case BP_AF_CATEGORY: return r->category && strcmp(r->category, p->value) == 0;
    case BP_AF_SEVERITY:
        return r->severity >=
               (strcmp(p->value, "critical") == 0 ? BP_SEV_CRITICAL : BP_SEV_WARNING);
    case BP_AF_TYPE: type = bp_record_anomaly_type(r); return type && strcmp(type, p->value) == 0;
    }
    return false;
}

bool bp_alarm_condition_matches(const bp_alarm_condition *cond, const bp_record *r)
{
    for (int t = 0; t < cond->n_terms; t++) {
        bool all = true;
        for (int p = 0; p < cond->terms[t].n_parts && all; p++)
            all = part_holds(&cond->terms[t].parts[p], r);
        if (all)
            return true;
    }
    return false;
}
