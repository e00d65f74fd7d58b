/* `bppipe test FILE...`: declarative pipeline tests (docs/testing.md).
 *
 * A test file is INI: one [test.NAME] section per test naming a pipeline, an input file and
 * expectations about the documents each sink receives. Every test runs its pipeline with the
 * source replaced by source-file reading the input and every sink replaced by sink-capture
 * writing into an anonymous in-memory file (memfd), so nothing is sent or written anywhere;
 * routes and detectors stay as configured. The replacement uses the same -o edits as
 * `bppipe run` (bp_config_apply), after the user's own -o/-u and the test's set./unset keys.
 *
 * All files are read and checked before any test runs: a broken test file exits 2 with
 * file:line and runs nothing. Then one line per test (`ok NAME`, `FAIL NAME: ...`), and the
 * closing line `N passed, M failed`; exit 0 when all passed, 1 otherwise.
 */
#define _GNU_SOURCE /* memfd_create */
#include "cli/commands.h"

#include "base/log.h"
#include "config/options.h"
#include "engine/runner.h"
#include "ops/metrics.h"
#include "pipeline/pipeline.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_BROKEN 2
#define MAX_LINE 4096
#define SHOWN_MAX 60 /* characters of a seen value printed, then "..." */

typedef enum ex_kind { EX_COUNT, EX_EQUALS, EX_ABSENT, EX_PRESENT } ex_kind;

/* One `expect.SINK[SEL_FIELD=SEL_VALUE].WHAT = VALUE` line. */
typedef struct expectation {
    char *text; /* "expect.alerts.count = 1", as printed in a failure */
    char *sink;
    char *sel_field, *sel_value; /* the selector, or NULL: every document */
    char *field;                 /* NULL for count */
    char *value;
    ex_kind kind;
    long long count;
    int line;
} expectation;

typedef struct test_case {
    char *name; /* after "test." */
    const char *file;
    int line;
    char *pipeline, *input, *dir; /* absolute once resolved; dir: chdir, or NULL */
    int pipeline_line, input_line;
    char **edits; /* set.SECTION.KEY = VALUE as "SECTION.KEY=VALUE", unset as "SECTION[.KEY]" */
    bp_edit_kind *edit_kinds;
    size_t n_edits;
    expectation *ex;
    size_t n_ex;
} test_case;

typedef struct test_list {
    test_case *items;
    size_t n;
    bp_errors errs;
} test_list;

/* One captured sink: its name and the documents it received. */
typedef struct captured {
    char *name; /* instance name, "alerts" */
    int fd;
    cJSON **docs;
    size_t n_docs;
} captured;

static void test_usage(FILE *out)
{
    fputs("usage: bppipe test FILE... [-o SECTION.KEY=VALUE]... [-u SECTION[.KEY]]...\n\n"
          "Runs the pipeline tests of each FILE (INI, one [test.NAME] section per test):\n\n"
          "  [test.crisis_alerts_once]\n"
          "  pipeline = ward.ini          ; relative to the test file\n"
          "  input = crisis.ndjson        ; read by source-file in place of the source\n"
          "  expect.alerts.count = 1      ; documents reaching [sink.alerts]\n"
          "  expect.anomalies.bp_category = hypertensive_crisis  ; every document\n"
          "  expect.anomalies[patient_id=p2].severity = critical ; those with patient_id p2\n"
          "  expect.normal.ml_risk_score = <absent>              ; or <present>\n\n"
          "Keys of a test: pipeline, input (both required), chdir (a folder, relative to the\n"
          "test file, to run the pipeline from; default: the current directory, as for\n"
          "'bppipe run'), set.SECTION.KEY = VALUE and unset = SECTION[.KEY]... (edits of\n"
          "this test's pipeline, like -o and -u), and expect.SINK.count = N,\n"
          "expect.SINK.FIELD = VALUE|<absent>|<present>, each optionally with a selector\n"
          "SINK[FIELD=VALUE] (SINK[FIELD=<absent>]: the documents without FIELD; <present>:\n"
          "with it). A number matches a number of the same value (118 = 118.0), true/false a\n"
          "boolean, and a list when one of its items matches. A FIELD expectation fails on a\n"
          "sink (or selection) without documents.\n\n"
          "The source is replaced by source-file reading the input and every sink by\n"
          "sink-capture, which keeps its documents in memory (its route is kept): no Kafka,\n"
          "no Elasticsearch, no file is written. Detectors run as configured. -o and -u\n"
          "edit every pipeline under test as for 'bppipe run', before the test's own edits;\n"
          "tests log warnings and errors only (-o pipeline.log_level=info for more).\n\n"
          "Prints 'ok NAME' or 'FAIL NAME: EXPECTATION, saw WHAT' per test (with the first\n"
          "document that differs), then 'N passed, M failed'. Exit status: 0 all passed,\n"
          "1 a test failed, 2 a broken test file (file:line; then no test runs) or a pipeline\n"
          "under test that does not start.\n",
          out);
}

/* ---------------------------------------------------------------------------------------- */
/* Reading test files                                                                       */
/* ---------------------------------------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Cuts an inline comment: ';' or '#' at the start or after a blank. */
static void cut_comment(char *s)
{
    for (char *p = s; *p; p++)
        if ((*p == ';' || *p == '#') && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
}

static bool name_ok(const char *s, const char *extra)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || strchr(extra, *s)))
            return false;
    return true;
}

/* `path` relative to the folder of the test file `dir` (absolute), or `path` if absolute. */
static char *resolve(const char *dir, const char *path)
{
    char buf[PATH_MAX];
    if (path[0] == '/')
        snprintf(buf, sizeof buf, "%s", path);
    else
        snprintf(buf, sizeof buf, "%s/%s", dir, path);
    return strdup(buf);
}

/* Parses `expect.` + rest = value into `e`. Returns 0 or -1 with `why`. */
static int parse_expectation(expectation *e, const char *key, const char *value, char *why,
                             size_t why_len)
{
    const char *p = key + strlen("expect.");
    size_t n = strcspn(p, ".[");
    e->sink = strndup(p, n);
    p += n;
    if (!e->sink || !name_ok(e->sink, "")) {
        snprintf(why, why_len, "needs a sink's name after 'expect.'");
        return -1;
    }
    if (*p == '[') {
        const char *close = strchr(p, ']');
        const char *eq = strchr(p, '=');
        if (!close || !eq || eq > close || eq == p + 1 || close == eq + 1) {
            snprintf(why, why_len, "a selector is [FIELD=VALUE]");
            return -1;
        }
        e->sel_field = strndup(p + 1, (size_t)(eq - p - 1));
        e->sel_value = strndup(eq + 1, (size_t)(close - eq - 1));
        p = close + 1;
    }
    if (*p != '.' || !p[1]) {
        snprintf(why, why_len, "needs .count or .FIELD after the sink");
        return -1;
    }
    p++;
    e->value = strdup(value);
    if (strcmp(p, "count") == 0) {
        char *end;
        errno = 0;
        e->kind = EX_COUNT;
        e->count = strtoll(value, &end, 10);
        if (!*value || *end || errno || e->count < 0 || !(*value >= '0' && *value <= '9')) {
            snprintf(why, why_len, "count needs a whole number >= 0");
            return -1;
        }
        return 0;
    }
    if (!name_ok(p, ".@")) {
        snprintf(why, why_len, "'%s' is not a field name", p);
        return -1;
    }
    e->field = strdup(p);
    e->kind = strcmp(value, "<absent>") == 0    ? EX_ABSENT
              : strcmp(value, "<present>") == 0 ? EX_PRESENT
                                                : EX_EQUALS;
    if (!*value) {
        snprintf(why, why_len, "needs a value (or <absent>, <present>)");
        return -1;
    }
    return 0;
}

static int push_edit(test_case *t, bp_edit_kind kind, const char *arg)
{
    char **e = realloc(t->edits, (t->n_edits + 1) * sizeof *e);
    if (!e)
        return -1;
    t->edits = e;
    bp_edit_kind *k = realloc(t->edit_kinds, (t->n_edits + 1) * sizeof *k);
    if (!k)
        return -1;
    t->edit_kinds = k;
    if (!(t->edits[t->n_edits] = strdup(arg)))
        return -1;
    t->edit_kinds[t->n_edits++] = kind;
    return 0;
}

typedef struct parse_state {
    test_list *list;
    const char *file;
    const char *dir; /* absolute folder of the file */
    int line;
    test_case *cur;
} parse_state;

static void on_key(parse_state *ps, char *key, char *value)
{
    bp_errors *errs = &ps->list->errs;
    test_case *t = ps->cur;
    char why[256];
    if (!t) {
        bp_errors_add(errs, "%s:%d: key '%s' outside a [test.NAME] section", ps->file, ps->line,
                      key);
        return;
    }
    bool repeated = false;
    if (strcmp(key, "pipeline") == 0 || strcmp(key, "input") == 0 || strcmp(key, "chdir") == 0) {
        char **slot = key[0] == 'p' ? &t->pipeline : key[0] == 'i' ? &t->input : &t->dir;
        repeated = *slot != NULL;
        if (!repeated && !*value) {
            bp_errors_add(errs, "%s:%d: [test.%s] key '%s' needs a path", ps->file, ps->line,
                          t->name, key);
            return;
        }
        if (!repeated) {
            *slot = resolve(ps->dir, value);
            if (key[0] == 'p')
                t->pipeline_line = ps->line;
            else if (key[0] == 'i')
                t->input_line = ps->line;
        }
    } else if (strncmp(key, "set.", 4) == 0) {
        char arg[MAX_LINE * 2];
        snprintf(arg, sizeof arg, "%s=%s", key + 4, value);
        if (!strchr(key + 4, '.')) {
            bp_errors_add(errs, "%s:%d: [test.%s] '%s' needs set.SECTION.KEY", ps->file, ps->line,
                          t->name, key);
            return;
        }
        if (push_edit(t, BP_EDIT_SET, arg) != 0)
            bp_errors_add(errs, "out of memory");
    } else if (strcmp(key, "unset") == 0) {
        for (char *tok = strtok(value, " \t"); tok; tok = strtok(NULL, " \t"))
            if (push_edit(t, BP_EDIT_UNSET, tok) != 0)
                bp_errors_add(errs, "out of memory");
    } else if (strncmp(key, "expect.", 7) == 0) {
        for (size_t i = 0; i < t->n_ex; i++)
            if (strncmp(t->ex[i].text, key, strlen(key)) == 0 &&
                strncmp(t->ex[i].text + strlen(key), " = ", 3) == 0)
                repeated = true;
        if (!repeated) {
            expectation *grown = realloc(t->ex, (t->n_ex + 1) * sizeof *grown);
            if (!grown)
                return;
            t->ex = grown;
            expectation *e = &t->ex[t->n_ex++];
            memset(e, 0, sizeof *e);
            e->line = ps->line;
            size_t len = strlen(key) + strlen(value) + 4;
            if ((e->text = malloc(len)))
                snprintf(e->text, len, "%s = %s", key, value);
            if (parse_expectation(e, key, value, why, sizeof why) != 0)
                bp_errors_add(errs, "%s:%d: [test.%s] %s: %s", ps->file, ps->line, t->name, key,
                              why);
        }
    } else {
        bp_errors_add(errs,
                      "%s:%d: [test.%s] unknown key '%s' (a test takes pipeline, input, "
                      "chdir, set.SECTION.KEY, unset and expect.SINK...)",
                      ps->file, ps->line, t->name, key);
        return;
    }
    if (repeated)
        bp_errors_add(errs, "%s:%d: [test.%s] key '%s' given twice", ps->file, ps->line, t->name,
                      key);
}

static void on_section(parse_state *ps, const char *name)
{
    test_list *l = ps->list;
    ps->cur = NULL;
    if (strncmp(name, "test.", 5) != 0 || !name_ok(name + 5, ".")) {
        bp_errors_add(&l->errs, "%s:%d: [%s] is not a test: sections are [test.NAME]", ps->file,
                      ps->line, name);
        return;
    }
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name + 5) == 0) {
            bp_errors_add(&l->errs, "%s:%d: [%s] is defined twice (first at %s:%d)", ps->file,
                          ps->line, name, l->items[i].file, l->items[i].line);
            return;
        }
    test_case *grown = realloc(l->items, (l->n + 1) * sizeof *grown);
    if (!grown)
        return;
    l->items = grown;
    ps->cur = &l->items[l->n++];
    memset(ps->cur, 0, sizeof *ps->cur);
    ps->cur->name = strdup(name + 5);
    ps->cur->file = ps->file;
    ps->cur->line = ps->line;
}

/* A test must name a pipeline and an input that exist. */
static void check_test(test_list *l, const test_case *t)
{
    struct stat st;
    if (!t->pipeline)
        bp_errors_add(&l->errs, "%s:%d: [test.%s] missing key 'pipeline'", t->file, t->line,
                      t->name);
    else if (stat(t->pipeline, &st) != 0 || !S_ISREG(st.st_mode))
        bp_errors_add(&l->errs, "%s:%d: [test.%s] pipeline: no such file", t->file,
                      t->pipeline_line, t->name);
    if (!t->input)
        bp_errors_add(&l->errs, "%s:%d: [test.%s] missing key 'input'", t->file, t->line, t->name);
    else if (stat(t->input, &st) != 0)
        bp_errors_add(&l->errs, "%s:%d: [test.%s] input: no such file or folder", t->file,
                      t->input_line, t->name);
    if (t->dir && (stat(t->dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        bp_errors_add(&l->errs, "%s:%d: [test.%s] chdir: no such folder", t->file, t->line,
                      t->name);
    if (!t->n_ex)
        bp_errors_add(&l->errs, "%s:%d: [test.%s] has no expect. key", t->file, t->line, t->name);
}

/* The test-file reader. Pipeline files are read with inih (src/config/config.c), but test files
 * cannot be, with inih as Debian builds it (r55):
 *   - inih ends a key at its first '=' or ':', so `expect.anomalies[patient_id=p2].severity =
 *     critical` would be the key `expect.anomalies[patient_id` with the value
 *     `p2].severity = critical`, and a selector on a time (`[@timestamp=2026-03-01T08:01:00Z]`)
 *     or a `urn:uuid:` id breaks at its ':'. Here the key ends at the first '=' outside [...].
 *   - inih silently cuts a section name to 49 bytes, so two long [test.NAME]s could become
 *     one test, or a failure name a test that is not in the file.
 *   - inih's lines are at most 200 bytes, and expected values (a dead letter's reason, an id)
 *     are often longer: here a line may have MAX_LINE - 2 bytes, and a longer one is an error.
 *   - inih continues the previous key's value on an indented line, which would read here as
 *     the key given twice.
 * Lines are counted here for every error's file:line (Debian's inih passes no line number;
 * config.c counts them in its reader callback). Otherwise the syntax is inih's: [section],
 * KEY = VALUE, a UTF-8 byte-order mark skipped, comments from ';' or '#' at the start of a
 * line or after a blank. */
static void read_test_file(test_list *l, const char *file)
{
    FILE *f = fopen(file, "r");
    char dir[PATH_MAX], copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", file);
    if (!f || !realpath(dirname(copy), dir)) {
        bp_errors_add(&l->errs, "%s: cannot read: %s", file, strerror(errno));
        if (f)
            fclose(f);
        return;
    }
    size_t first = l->n;
    parse_state ps = {l, file, dir, 0, NULL};
    char buf[MAX_LINE];
    while (fgets(buf, sizeof buf, f)) {
        ps.line++;
        size_t len = strlen(buf);
        if (len == sizeof buf - 1 && buf[len - 1] != '\n') {
            bp_errors_add(&l->errs, "%s:%d: line longer than %d bytes", file, ps.line,
                          MAX_LINE - 2);
            break;
        }
        char *s = buf;
        if (ps.line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3;
        s = trim(s);
        if (!*s || *s == ';' || *s == '#')
            continue;
        if (*s == '[') {
            cut_comment(s);
            s = trim(s);
            size_t n = strlen(s);
            if (n < 3 || s[n - 1] != ']') {
                bp_errors_add(&l->errs, "%s:%d: a section is [test.NAME]", file, ps.line);
                continue;
            }
            s[n - 1] = '\0';
            on_section(&ps, trim(s + 1));
            continue;
        }
        /* The key ends at the first '=' outside a [selector]. */
        char *eq = NULL;
        bool in_selector = false;
        for (char *p = s; *p && !eq; p++) {
            if (*p == '[' || *p == ']')
                in_selector = *p == '[';
            else if (*p == '=' && !in_selector)
                eq = p;
        }
        if (!eq) {
            bp_errors_add(&l->errs, "%s:%d: expected KEY = VALUE", file, ps.line);
            continue;
        }
        *eq = '\0';
        cut_comment(eq + 1);
        on_key(&ps, trim(s), trim(eq + 1));
    }
    fclose(f);
    if (first == l->n && !l->errs.n)
        bp_errors_add(&l->errs, "%s: no [test.NAME] section", file);
    for (size_t i = first; i < l->n; i++)
        check_test(l, &l->items[i]);
}

static void free_tests(test_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        test_case *t = &l->items[i];
        for (size_t j = 0; j < t->n_ex; j++) {
            expectation *e = &t->ex[j];
            free(e->text);
            free(e->sink);
            free(e->sel_field);
            free(e->sel_value);
            free(e->field);
            free(e->value);
        }
        for (size_t j = 0; j < t->n_edits; j++)
            free(t->edits[j]);
        free(t->edits);
        free(t->edit_kinds);
        free(t->ex);
        free(t->name);
        free(t->pipeline);
        free(t->input);
        free(t->dir);
    }
    free(l->items);
    bp_errors_free(&l->errs);
}

/* ---------------------------------------------------------------------------------------- */
/* Matching documents                                                                       */
/* ---------------------------------------------------------------------------------------- */

/* The document's FIELD: a top-level key of that exact name (annotations such as
 * "rules.reason" hold dots), else a path through objects ("source.offset"). */
static const cJSON *field_of(const cJSON *doc, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, field);
    if (v || !strchr(field, '.'))
        return v;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", field);
    v = doc;
    for (char *save, *part = strtok_r(buf, ".", &save); part && v;
         part = strtok_r(NULL, ".", &save))
        v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, part) : NULL;
    return v;
}

static bool scalar_matches(const cJSON *v, const char *want)
{
    if (cJSON_IsString(v))
        return strcmp(v->valuestring, want) == 0;
    if (cJSON_IsNumber(v)) {
        double d;
        return bp_parse_double(want, &d) == 0 && d == v->valuedouble;
    }
    if (cJSON_IsBool(v))
        return strcmp(want, cJSON_IsTrue(v) ? "true" : "false") == 0;
    if (cJSON_IsNull(v))
        return strcmp(want, "null") == 0;
    return false;
}

static bool value_matches(const cJSON *v, const char *want)
{
    if (!cJSON_IsArray(v))
        return scalar_matches(v, want);
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        if (scalar_matches(item, want))
            return true;
    }
    return false;
}

/* A short rendering of `v` as JSON for a failure line; "<absent>" for NULL. */
static void show(const cJSON *v, char *out, size_t len)
{
    char *text = v ? cJSON_PrintUnformatted(v) : NULL;
    const char *s = v ? (text ? text : "?") : "<absent>";
    if (strlen(s) > SHOWN_MAX)
        snprintf(out, len, "%.*s...", SHOWN_MAX, s);
    else
        snprintf(out, len, "%s", s);
    cJSON_free(text);
}

/* [FIELD=VALUE] selects the documents whose FIELD matches VALUE; [FIELD=<absent>] those
 * without FIELD (a dead letter of a payload that was not JSON has no patient_id), and
 * [FIELD=<present>] those with it. */
static bool selected(const cJSON *doc, const expectation *e)
{
    if (!e->sel_field)
        return true;
    const cJSON *v = field_of(doc, e->sel_field);
    if (strcmp(e->sel_value, "<absent>") == 0)
        return v == NULL;
    if (strcmp(e->sel_value, "<present>") == 0)
        return v != NULL;
    return v && value_matches(v, e->sel_value);
}

static bool doc_passes(const cJSON *doc, const expectation *e)
{
    const cJSON *v = field_of(doc, e->field);
    return e->kind == EX_ABSENT    ? !v
           : e->kind == EX_PRESENT ? v != NULL
                                   : v && value_matches(v, e->value);
}

/* What identifies a document in a failure: its ids and values, those that it has. */
static void identify(const cJSON *doc, char *out, size_t len)
{
    static const char *const keys[] = {"stable_id",  "logical_id",        "revision",
                                       "patient_id", "systolic_pressure", "diastolic_pressure",
                                       "route"};
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && used < len; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, keys[i]);
        if (!v)
            continue;
        char shown[SHOWN_MAX + 8];
        show(v, shown, sizeof shown);
        int n = snprintf(out + used, len - used, "%s%s %s", used ? ", " : "", keys[i], shown);
        used += n > 0 ? (size_t)n : 0;
    }
}

/* Judges one expectation. On failure writes the "saw ..." part to `saw` and a line about the
 * first document that differs (or "") to `detail`. */
static bool judge(const expectation *e, const captured *c, char *saw, size_t saw_len, char *detail,
                  size_t detail_len)
{
    size_t n_sel = 0, n_bad = 0, first_bad = 0, first_bad_pos = 0;
    detail[0] = '\0';
    for (size_t i = 0; i < c->n_docs; i++) {
        if (!selected(c->docs[i], e))
            continue;
        n_sel++;
        if (e->kind != EX_COUNT && !doc_passes(c->docs[i], e) && n_bad++ == 0) {
            first_bad = i;
            first_bad_pos = n_sel;
        }
    }
    if (e->kind == EX_COUNT) {
        snprintf(saw, saw_len, "%zu", n_sel);
        return (long long)n_sel == e->count;
    }
    if (n_sel == 0) {
        if (e->sel_field)
            snprintf(saw, saw_len, "saw no document with %s = %s (of %zu)", e->sel_field,
                     e->sel_value, c->n_docs);
        else
            snprintf(saw, saw_len, "saw no documents");
        return false;
    }
    if (n_bad == 0)
        return true;
    const cJSON *doc = c->docs[first_bad];
    char shown[SHOWN_MAX + 8], who[512];
    show(field_of(doc, e->field), shown, sizeof shown);
    snprintf(saw, saw_len, "saw %s in %zu of %zu documents", shown, n_bad, n_sel);
    identify(doc, who, sizeof who);
    snprintf(detail, detail_len, "  first that differs: document %zu of %zu%s%s%s: %s = %s",
             first_bad_pos, n_sel, *who ? " (" : "", who, *who ? ")" : "", e->field, shown);
    return false;
}

/* ---------------------------------------------------------------------------------------- */
/* Running a test                                                                           */
/* ---------------------------------------------------------------------------------------- */

typedef struct run_ctx {
    const bp_edit *user_edits; /* -o and -u of the command line */
    size_t n_user_edits;
} run_ctx;

static void free_captured(captured *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < c[i].n_docs; j++)
            cJSON_Delete(c[i].docs[j]);
        free(c[i].docs);
        free(c[i].name);
        if (c[i].fd >= 0)
            close(c[i].fd);
    }
    free(c);
}

/* Reads back what a capture sink wrote: one document per line. */
static int read_captured(captured *c)
{
    struct stat st;
    if (fstat(c->fd, &st) != 0)
        return -1;
    size_t size = (size_t)st.st_size;
    char *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, c->fd, 0) : NULL;
    if (size && map == MAP_FAILED)
        return -1;
    int rc = 0;
    for (size_t at = 0; at < size && rc == 0;) {
        const char *nl = memchr(map + at, '\n', size - at);
        size_t len = nl ? (size_t)(nl - (map + at)) : size - at;
        cJSON **grown = realloc(c->docs, (c->n_docs + 1) * sizeof *grown);
        cJSON *doc = grown ? cJSON_ParseWithLength(map + at, len) : NULL;
        if (grown)
            c->docs = grown;
        if (!doc)
            rc = -1;
        else
            c->docs[c->n_docs++] = doc;
        at += len + 1;
    }
    if (size)
        munmap(map, size);
    return rc;
}

/* The edits applied to a pipeline under test, in order; `owned` holds the strings made here. */
typedef struct edit_list {
    bp_edit *items;
    size_t n, cap;
    char **owned;
    size_t n_owned;
} edit_list;

static int add_edit(edit_list *l, bp_edit_kind kind, const char *arg, int position, bool copy)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        bp_edit *items = realloc(l->items, cap * sizeof *items);
        char **owned = realloc(l->owned, cap * sizeof *owned);
        if (items)
            l->items = items;
        if (owned)
            l->owned = owned;
        if (!items || !owned)
            return -1;
        l->cap = cap;
    }
    if (copy) {
        char *s = strdup(arg);
        if (!s)
            return -1;
        l->owned[l->n_owned++] = s;
        arg = s;
    }
    l->items[l->n++] = (bp_edit){kind, arg, position};
    return 0;
}

static int add_editf(edit_list *l, const char *fmt, const char *a, const char *b)
{
    char buf[PATH_MAX + 256];
    snprintf(buf, sizeof buf, fmt, a, b);
    return add_edit(l, BP_EDIT_SET, buf, 0, true);
}

static void free_edits(edit_list *l)
{
    for (size_t i = 0; i < l->n_owned; i++)
        free(l->owned[i]);
    free(l->owned);
    free(l->items);
}

/* The edits that make the pipeline a test: quiet logs and no status lines, the user's -o/-u,
 * the test's set./unset, then (learnt by loading the pipeline with those) the source read from
 * the input and every sink captured into a new memfd, recorded in `caps`. Pipeline errors go
 * to `errs`. Returns 0 or -1. */
static int plan(const test_case *t, const run_ctx *rc, edit_list *edits, captured **caps,
                size_t *n_caps, bp_errors *errs)
{
    if (add_edit(edits, BP_EDIT_SET, "pipeline.log_level=warn", 0, false) != 0 ||
        add_edit(edits, BP_EDIT_SET, "pipeline.stats_interval=0", 0, false) != 0)
        return -1;
    for (size_t i = 0; i < rc->n_user_edits; i++)
        if (add_edit(edits, rc->user_edits[i].kind, rc->user_edits[i].arg,
                     rc->user_edits[i].position, false) != 0)
            return -1;
    for (size_t i = 0; i < t->n_edits; i++)
        if (add_edit(edits, t->edit_kinds[i], t->edits[i], 0, false) != 0)
            return -1;
    bp_config cfg = {0};
    int status = bp_config_load(&cfg, t->pipeline, errs);
    if (status == 0)
        status = bp_config_apply(&cfg, edits->items, edits->n, errs);
    *caps = calloc(cfg.n_sections + 1, sizeof **caps);
    *n_caps = 0;
    for (size_t i = 0; status == 0 && *caps && i < cfg.n_sections; i++) {
        const bp_section *s = &cfg.sections[i];
        if (s->kind == BP_SEC_SOURCE) {
            status |= add_editf(edits, "%s.plugin=source-file%s", s->name, "");
            status |= add_editf(edits, "%s.path=%s", s->name, t->input);
        } else if (s->kind == BP_SEC_SINK) {
            captured *c = &(*caps)[(*n_caps)++];
            c->name = strdup(s->instance);
            c->fd = memfd_create(s->name, MFD_CLOEXEC);
            char fd[32];
            snprintf(fd, sizeof fd, "%d", c->fd);
            if (!c->name || c->fd < 0) {
                bp_errors_add(errs, "[%s] cannot capture: %s", s->name, strerror(errno));
                status = -1;
            }
            status |= add_editf(edits, "%s.plugin=sink-capture%s", s->name, "");
            status |= add_editf(edits, "%s.fd=%s", s->name, fd);
            /* in memory only: a disk buffer (buffer = disk) would write a spool */
            static const char *const spool_keys[] = {"buffer", "buffer_path", "buffer_max_bytes"};
            for (size_t k = 0; k < 3; k++) {
                char key[512];
                snprintf(key, sizeof key, "%s.%s", s->name, spool_keys[k]);
                if (bp_section_get(s, spool_keys[k]))
                    status |= add_edit(edits, BP_EDIT_UNSET, key, 0, true);
            }
        }
    }
    if (!*caps || errs->n)
        status = -1;
    bp_config_free(&cfg);
    return status ? -1 : 0;
}

/* Every expectation must name a sink of the pipeline. */
static int check_sinks(const test_case *t, const captured *caps, size_t n_caps, bp_errors *errs)
{
    for (size_t i = 0; i < t->n_ex; i++) {
        size_t j = 0;
        while (j < n_caps && strcmp(caps[j].name, t->ex[i].sink) != 0)
            j++;
        if (j == n_caps)
            bp_errors_add(errs, "%s:%d: [test.%s] %s: the pipeline has no [sink.%s]", t->file,
                          t->ex[i].line, t->name, t->ex[i].text, t->ex[i].sink);
    }
    return errs->n ? -1 : 0;
}

static const captured *find_captured(const captured *caps, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(caps[i].name, name) == 0)
            return &caps[i];
    return NULL;
}

/* Runs the pipeline under test. Returns 0 when it ran, 1 when the run failed, 2 when it
 * would not build or open (printed). */
static int run_pipeline(const test_case *t, const edit_list *edits)
{
    bp_pipeline p;
    bp_errors errs = {0};
    int status = EXIT_BROKEN;
    int cwd = -1;
    if (t->dir && ((cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || chdir(t->dir))) {
        fprintf(stderr, "bppipe test: [test.%s] chdir: %s\n", t->name, strerror(errno));
        if (cwd >= 0)
            close(cwd);
        return EXIT_BROKEN;
    }
    bp_alarms *alarms = NULL;
    if (bp_pipeline_build(&p, t->pipeline, edits->items, edits->n, &errs) == 0 &&
        bp_alarms_build(&alarms, &p.cfg, &errs) == 0 && bp_pipeline_open(&p, &errs) == 0) {
        bp_run_opts opts = {.alarms = alarms};
        bp_stats st;
        bp_metrics metrics; /* a pipeline under test with http_listen serves it, as in `run` */
        if (bp_alarms_open(alarms) != BP_OK)
            bp_errors_add(&errs, "[alarms] the alarm state could not be kept (see above)");
        else
            status = bp_run(&p, &opts, bp_metrics_observer(&metrics, &p), &st) == 0 ? 0 : 1;
    }
    bp_alarms_free(alarms);
    bp_pipeline_free(&p); /* flushes and closes the sinks */
    if (errs.n) {
        bp_errors_print(&errs);
        fprintf(stderr, "bppipe test: [test.%s] %s: %zu problem%s found\n", t->name, t->pipeline,
                errs.n, errs.n == 1 ? "" : "s");
    }
    bp_errors_free(&errs);
    if (cwd >= 0) {
        if (fchdir(cwd) != 0)
            status = EXIT_BROKEN;
        close(cwd);
    }
    return status;
}

/* Prints the test's line(s). Returns true when every expectation held. */
static bool report(const test_case *t, const captured *caps, size_t n_caps)
{
    bool ok = true;
    for (size_t i = 0; i < t->n_ex; i++) {
        const expectation *e = &t->ex[i];
        char saw[1024], detail[1024];
        if (judge(e, find_captured(caps, n_caps, e->sink), saw, sizeof saw, detail, sizeof detail))
            continue;
        if (ok)
            printf("FAIL %s: %s, %s%s\n", t->name, e->text, e->kind == EX_COUNT ? "saw " : "", saw);
        else
            printf("  also: %s, %s%s\n", e->text, e->kind == EX_COUNT ? "saw " : "", saw);
        if (*detail)
            printf("%s\n", detail);
        ok = false;
    }
    if (ok)
        printf("ok %s\n", t->name);
    return ok;
}

/* Runs one test: 0 passed, 1 failed, 2 broken. */
static int run_test(const test_case *t, const run_ctx *rc)
{
    edit_list edits = {0};
    captured *caps = NULL;
    size_t n_caps = 0;
    bp_errors errs = {0};
    int status = EXIT_BROKEN;
    if (plan(t, rc, &edits, &caps, &n_caps, &errs) != 0 ||
        check_sinks(t, caps, n_caps, &errs) != 0) {
        bp_errors_print(&errs);
        printf("FAIL %s: the test or its pipeline is broken (see above)\n", t->name);
        goto done;
    }
    status = run_pipeline(t, &edits);
    if (status == EXIT_BROKEN) {
        printf("FAIL %s: the pipeline %s does not start (see above)\n", t->name, t->pipeline);
        goto done;
    }
    for (size_t i = 0; i < n_caps; i++)
        if (read_captured(&caps[i]) != 0) {
            printf("FAIL %s: could not read back what [sink.%s] received\n", t->name, caps[i].name);
            status = 1;
            goto done;
        }
    if (status == 1) {
        printf("FAIL %s: the run failed (see the log above)\n", t->name);
        goto done;
    }
    status = report(t, caps, n_caps) ? 0 : 1;
done:
    fflush(stdout);
    bp_errors_free(&errs);
    free_captured(caps, n_caps);
    free_edits(&edits);
    return status;
}

/* ---------------------------------------------------------------------------------------- */
/* The command                                                                              */
/* ---------------------------------------------------------------------------------------- */

int bp_cmd_test(int argc, char **argv)
{
    test_list tests = {0};
    bp_edit *user = calloc((size_t)argc + 1, sizeof *user);
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t n_user = 0, n_files = 0;
    int status = EXIT_BROKEN;
    if (!user || !files)
        goto done;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool set = strcmp(arg, "-o") == 0 || strcmp(arg, "--option") == 0;
        bool unset = strcmp(arg, "-u") == 0 || strcmp(arg, "--unset") == 0;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            test_usage(stdout);
            status = 0;
            goto done;
        } else if (set || unset) {
            if (i + 1 >= argc) {
                fprintf(stderr, "error: %s needs %s\n", arg,
                        set ? "SECTION.KEY=VALUE" : "SECTION or SECTION.KEY");
                goto done;
            }
            user[n_user++] = (bp_edit){set ? BP_EDIT_SET : BP_EDIT_UNSET, argv[i + 1], i + 2};
            i++;
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "error: unknown option '%s' (see 'bppipe test --help')\n", arg);
            goto done;
        } else {
            files[n_files++] = arg;
        }
    }
    if (!n_files) {
        fprintf(stderr, "error: no test file (usage: bppipe test FILE... [-o ...] [-u ...])\n");
        goto done;
    }
    for (size_t i = 0; i < n_files; i++)
        read_test_file(&tests, files[i]);
    if (tests.errs.n) {
        bp_errors_print(&tests.errs);
        fprintf(stderr, "bppipe test: %zu problem%s found, no test run\n", tests.errs.n,
                tests.errs.n == 1 ? "" : "s");
        goto done;
    }
    bp_runner_install_signals();
    run_ctx rc = {user, n_user};
    size_t passed = 0, failed = 0;
    bool broken = false;
    for (size_t i = 0; i < tests.n; i++) {
        int r = run_test(&tests.items[i], &rc);
        passed += r == 0;
        failed += r != 0;
        broken |= r == EXIT_BROKEN;
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    status = broken ? EXIT_BROKEN : failed ? 1 : 0;
done:
    free_tests(&tests);
    free(user);
    free(files);
    return status;
}
