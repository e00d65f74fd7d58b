/* `bppipe alarms replay PIPELINE`: what-if replay of an archive through two alarm configurations
 * (docs/alarms.md, "What-if replay").
 *
 * The pipeline runs twice over the same input: A as configured (with --base edits of
 * [alarms]), B with the --against edits. Each run has its source's detectors and alarm stage as
 * configured, but delivers nothing: every sink is replaced by sink-capture writing to
 * /dev/null (as `bppipe test` replaces them, with a memfd), no state file is read or written
 * and no listener is started. A burden (src/alarm/burden.h) is fed by each run's alarm stage,
 * and the two are printed side by side. The input is --input (source-file: an NDJSON file, a
 * folder of files, or - for standard input) or the pipeline's own source; a source-kafka
 * source then reads its topics from the beginning with a fresh consumer group per run. */
#define _GNU_SOURCE /* vasprintf */
#include "cli/commands.h"

#include "alarm/burden_feed.h"
#include "alarm/burden_report.h"
#include "base/log.h"
#include "engine/runner.h"
#include "pipeline/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2

static void replay_usage(FILE *out)
{
    fputs("usage: bppipe alarms replay PIPELINE [--input FILE|DIR|-] --against KEY=VALUE...\n"
          "                                     [--base KEY=VALUE]... [-o SECTION.KEY=VALUE]...\n"
          "                                     [-u SECTION[.KEY]]... [--max-records N]\n"
          "                                     [--duration S] [--ack-after S | --no-ack]\n"
          "                                     [--json PATH]\n\n"
          "Runs PIPELINE twice over the same input, its detectors and [alarms] stage as\n"
          "configured, and prints the alarm burden of both side by side: alarms, alarms per\n"
          "patient-day and readings delayed by confirmation, for all alarms, by priority and\n"
          "by condition (docs/alarms.md, 'What-if replay'). Nothing is delivered: every sink\n"
          "is replaced by sink-capture writing to /dev/null, no state file is read or written\n"
          "and no listener starts. Each run's alarm stage goes by the readings' clock (their\n"
          "effective times) and fires no escalation; since nobody acknowledges during a\n"
          "replay, each alarm is acknowledged at the patient's first reading --ack-after\n"
          "seconds or more after the one that raised it (default 0: the next reading), so it\n"
          "can resolve and raise again as on a ward where someone answers.\n\n"
          "  A  the pipeline as configured, with the --base edits\n"
          "  B  the pipeline as configured, with the --against edits\n\n"
          "  --against KEY=VALUE  an edit of [alarms] for B, KEY as in the section:\n"
          "                       crisis.confirm_readings=2; '*.KEY' sets KEY of every\n"
          "                       condition ('*.confirm_readings=2'). Repeatable\n"
          "  --base KEY=VALUE     the same, for A ('*.confirm_readings=1': no confirmation)\n"
          "  --input FILE|DIR|-   read this (source-file: NDJSON, a folder of files, standard\n"
          "                       input) in place of the pipeline's source. Without it the\n"
          "                       pipeline's own source runs; a source-kafka reads from the\n"
          "                       earliest offset with a fresh consumer group per run\n"
          "                       (GROUP-replay-TIME-PID-a and -b, their own state topics);\n"
          "                       bound such a run with\n"
          "                       --max-records or --duration\n"
          "  -o, -u               edit both runs' pipeline, as for 'bppipe run'\n"
          "  --ack-after S        acknowledge each alarm at the patient's first reading S\n"
          "                       seconds (reading time) or more after its raise (default 0)\n"
          "  --no-ack             acknowledge nothing: an alarm stays to the end (latched once\n"
          "                       its condition cleared) and never raises again\n"
          "  --max-records N      stop each run after N readings\n"
          "  --duration S         stop each run after S seconds\n"
          "  --json PATH          also write both burdens as JSON: {\"a\":{\"label\",\"burden\"},\n"
          "                       \"b\":{...}} (the burden object of --summary-json's alarms)\n\n"
          "Exit status: 0 both runs ended, 1 a run failed, 2 usage or configuration error\n"
          "(a pipeline without [alarms], an unknown condition or key).\n",
          out);
}

/* Edits and the strings made for them, which must outlive each pipeline built from them. */
typedef struct edits {
    bp_edit *items;
    size_t n, cap;
    char **owned;
    size_t n_owned, cap_owned;
} edits;

static int push(edits *l, bp_edit_kind kind, const char *arg, int position)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        bp_edit *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return -1;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = (bp_edit){kind, arg, position};
    return 0;
}

/* Adds an edit whose text is made here (printf-style). */
static int pushf(edits *l, bp_edit_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int pushf(edits *l, bp_edit_kind kind, const char *fmt, ...)
{
    if (l->n_owned == l->cap_owned) {
        size_t cap = l->cap_owned ? l->cap_owned * 2 : 32;
        char **owned = realloc(l->owned, cap * sizeof *owned);
        if (!owned)
            return -1;
        l->owned = owned;
        l->cap_owned = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    l->owned[l->n_owned++] = s;
    return push(l, kind, s, 0);
}

static void edits_free(edits *l)
{
    for (size_t i = 0; i < l->n_owned; i++)
        free(l->owned[i]);
    free(l->owned);
    free(l->items);
    memset(l, 0, sizeof *l);
}

typedef struct replay_args {
    const char *file, *input, *json;
    bp_edit *user; /* -o / -u, for both */
    size_t n_user;
    const char **side[2]; /* --base, --against: KEY=VALUE of [alarms] */
    int *side_pos[2];
    size_t n_side[2];
    bp_run_opts opts;
    int64_t ack_after_ms; /* -1: nobody acknowledges */
    bool help;
} replay_args;

static int number(const char *opt, const char *text, double *out)
{
    char *end;
    errno = 0;
    *out = text ? strtod(text, &end) : 0;
    if (!text || errno || end == text || *end || *out < 0) {
        fprintf(stderr, "error: %s needs a number of 0 or more\n", opt);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, replay_args *a)
{
    memset(a, 0, sizeof *a);
    a->user = calloc((size_t)argc, sizeof *a->user);
    for (int s = 0; s < 2; s++) {
        a->side[s] = calloc((size_t)argc, sizeof *a->side[s]);
        a->side_pos[s] = calloc((size_t)argc, sizeof *a->side_pos[s]);
    }
    if (!a->user || !a->side[0] || !a->side[1] || !a->side_pos[0] || !a->side_pos[1])
        return -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        double v;
        int side = strcmp(arg, "--base") == 0 ? 0 : strcmp(arg, "--against") == 0 ? 1 : -1;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->help = true;
        } else if (side >= 0) {
            if (!next || !strchr(next, '=') || next[0] == '=') {
                fprintf(stderr,
                        "error: %s needs KEY=VALUE, a key of [alarms] "
                        "(crisis.confirm_readings=2, or *.confirm_readings=2 for every "
                        "condition)\n",
                        arg);
                return -1;
            }
            a->side_pos[side][a->n_side[side]] = i + 2;
            a->side[side][a->n_side[side]++] = argv[++i];
        } else if (strcmp(arg, "-o") == 0 || strcmp(arg, "--option") == 0 ||
                   strcmp(arg, "-u") == 0 || strcmp(arg, "--unset") == 0) {
            bool set = arg[1] == 'o' || arg[2] == 'o';
            if (!next) {
                fprintf(stderr, "error: %s needs %s\n", arg,
                        set ? "SECTION.KEY=VALUE" : "SECTION or SECTION.KEY");
                return -1;
            }
            /* argv[0] is "replay", after "bppipe alarms": positions on the whole line */
            a->user[a->n_user++] = (bp_edit){set ? BP_EDIT_SET : BP_EDIT_UNSET, next, i + 3};
            i++;
        } else if (strcmp(arg, "--ack-after") == 0) {
            if (number(arg, next, &v) != 0)
                return -1;
            a->ack_after_ms = (int64_t)(v * 1000.0);
            i++;
        } else if (strcmp(arg, "--no-ack") == 0) {
            a->ack_after_ms = -1;
        } else if (strcmp(arg, "--input") == 0 && next) {
            a->input = argv[++i];
        } else if (strcmp(arg, "--json") == 0 && next) {
            a->json = argv[++i];
        } else if (strcmp(arg, "--max-records") == 0) {
            if (number(arg, next, &v) != 0 || v != (double)(uint64_t)v)
                return -1;
            a->opts.max_records = (uint64_t)v;
            i++;
        } else if (strcmp(arg, "--duration") == 0) {
            if (number(arg, next, &v) != 0)
                return -1;
            a->opts.duration_s = v;
            i++;
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "error: unknown option '%s' (see 'bppipe alarms replay --help')\n",
                    arg);
            return -1;
        } else if (!a->file) {
            a->file = arg;
        } else {
            fprintf(stderr, "error: more than one pipeline file ('%s' and '%s')\n", a->file, arg);
            return -1;
        }
    }
    if (a->help)
        return 0;
    if (!a->file) {
        fprintf(stderr, "error: no pipeline file (usage: bppipe alarms replay PIPELINE "
                        "--against KEY=VALUE...)\n");
        return -1;
    }
    if (!a->n_side[0] && !a->n_side[1]) {
        fprintf(stderr, "error: nothing to compare: give B's change of [alarms] with --against "
                        "KEY=VALUE (e.g. --against '*.confirm_readings=2')\n");
        return -1;
    }
    return 0;
}

static void args_free(replay_args *a)
{
    free(a->user);
    for (int s = 0; s < 2; s++) {
        free(a->side[s]);
        free(a->side_pos[s]);
    }
}

/* The conditions [alarms] names (the NAME of its NAME.KEY keys), for '*.KEY'. */
static size_t conditions(const bp_section *s, char names[][72], size_t max)
{
    size_t n = 0;
    for (size_t i = 0; s && i < s->n_kvs; i++) {
        const char *dot = strchr(s->kvs[i].key, '.');
        size_t len = dot ? (size_t)(dot - s->kvs[i].key) : 0;
        if (!len || len >= 72)
            continue;
        size_t k = 0;
        while (k < n && !(strlen(names[k]) == len && strncmp(names[k], s->kvs[i].key, len) == 0))
            k++;
        if (k == n && n < max) {
            memcpy(names[n], s->kvs[i].key, len);
            names[n++][len] = '\0';
        }
    }
    return n;
}

/* The [alarms] edits of one side as alarms.KEY=VALUE, '*.KEY' made one per condition. */
static int side_edits(const replay_args *a, int side, const bp_config *cfg, edits *out,
                      bp_errors *errs)
{
    char names[64][72];
    size_t n = conditions(bp_config_find(cfg, "alarms"), names, 64);
    for (size_t i = 0; i < a->n_side[side]; i++) {
        const char *e = a->side[side][i];
        if (strncmp(e, "*.", 2) != 0) {
            if (pushf(out, BP_EDIT_SET, "alarms.%s", e) != 0)
                return -1;
            continue;
        }
        if (!n)
            bp_errors_add(errs, "%s %s: [alarms] has no condition for '*' to stand for",
                          side ? "--against" : "--base", e);
        for (size_t k = 0; k < n; k++)
            if (pushf(out, BP_EDIT_SET, "alarms.%s%s", names[k], e + 1) != 0)
                return -1;
    }
    return 0;
}

/* Every edit of one run: quiet, the user's, the side's, then what makes it deliver nothing
 * (learnt from the pipeline as edited so far). */
static int plan(const replay_args *a, int side, int devnull, edits *out, bp_errors *errs)
{
    static const char *const quiet[] = {"pipeline.log_level=warn", "pipeline.stats_interval=0"};
    for (size_t i = 0; i < 2; i++)
        if (push(out, BP_EDIT_SET, quiet[i], 0) != 0)
            return -1;
    for (size_t i = 0; i < a->n_user; i++)
        if (push(out, a->user[i].kind, a->user[i].arg, a->user[i].position) != 0)
            return -1;
    bp_config cfg = {0};
    int rc = bp_config_load(&cfg, a->file, errs);
    if (rc == 0)
        rc = bp_config_apply(&cfg, out->items, out->n, errs);
    if (rc == 0 && !bp_config_find(&cfg, "alarms")) {
        bp_errors_add(errs,
                      "%s has no [alarms] section: the replay compares two alarm "
                      "configurations (docs/alarms.md)",
                      a->file);
        rc = -1;
    }
    if (rc == 0 && side_edits(a, side, &cfg, out, errs) != 0)
        rc = -1;
    /* learn the sections once the side's edits are in too */
    if (rc == 0 && (bp_config_free(&cfg), memset(&cfg, 0, sizeof cfg),
                    bp_config_load(&cfg, a->file, errs) != 0 ||
                        bp_config_apply(&cfg, out->items, out->n, errs) != 0))
        rc = -1;
    const char *keep[] = {"state_file", "users_file", "audit_file"};
    for (size_t i = 0; rc == 0 && i < cfg.n_sections; i++) {
        const bp_section *s = &cfg.sections[i];
        const char *plugin = bp_section_value(s, "plugin");
        if (s->kind == BP_SEC_PIPELINE) {
            const char *listener[] = {"http_listen", "http_port_file"};
            for (size_t k = 0; k < 2; k++)
                if (bp_section_get(s, listener[k]))
                    rc |= pushf(out, BP_EDIT_UNSET, "%s.%s", s->name, listener[k]);
        } else if (s->kind == BP_SEC_SOURCE && a->input) {
            rc |= pushf(out, BP_EDIT_SET, "%s.plugin=source-file", s->name);
            rc |= pushf(out, BP_EDIT_SET, "%s.path=%s", s->name, a->input);
        } else if (s->kind == BP_SEC_SOURCE && plugin && strcmp(plugin, "source-kafka") == 0) {
            const char *group = bp_section_value(s, "group");
            rc |= pushf(out, BP_EDIT_SET, "%s.group=%s-replay-%lld-%d-%c", s->name,
                        group ? group : "bppipe", (long long)time(NULL), (int)getpid(),
                        side ? 'b' : 'a');
            rc |= pushf(out, BP_EDIT_SET, "%s.start=earliest", s->name);
            /* the keyed state's changelog then follows the fresh group, never the ward's */
            if (bp_section_get(s, "state_topic"))
                rc |= pushf(out, BP_EDIT_UNSET, "%s.state_topic", s->name);
        } else if (s->kind == BP_SEC_SINK) {
            rc |= pushf(out, BP_EDIT_SET, "%s.plugin=sink-capture", s->name);
            rc |= pushf(out, BP_EDIT_SET, "%s.fd=%d", s->name, devnull);
            const char *spool[] = {"buffer", "buffer_path", "buffer_max_bytes"};
            for (size_t k = 0; k < 3; k++)
                if (bp_section_get(s, spool[k]))
                    rc |= pushf(out, BP_EDIT_UNSET, "%s.%s", s->name, spool[k]);
        } else {
            /* detectors and [alarms]: their state is neither restored nor written */
            for (size_t k = 0; k < 3; k++)
                if (bp_section_get(s, keep[k]))
                    rc |= pushf(out, BP_EDIT_UNSET, "%s.%s", s->name, keep[k]);
        }
    }
    bp_config_free(&cfg);
    return rc || errs->n ? -1 : 0;
}

/* One run into `burden`. Returns 0, 1 (the run failed) or 2 (it would not build or open). */
static int run_side(const replay_args *a, int side, int devnull, bp_burden *burden)
{
    edits e = {0};
    bp_errors errs = {0};
    bp_pipeline p;
    memset(&p, 0, sizeof p);
    bp_alarms *alarms = NULL;
    int status = EXIT_USAGE;
    if (plan(a, side, devnull, &e, &errs) == 0 &&
        bp_pipeline_build(&p, a->file, e.items, e.n, &errs) == 0 &&
        bp_alarms_build(&alarms, &p.cfg, &errs) == 0 && bp_pipeline_open(&p, &errs) == 0) {
        if (bp_alarms_open(alarms) != BP_OK) {
            bp_errors_add(&errs, "[alarms] the alarm state could not be set up (see above)");
        } else {
            bp_burden_attach(burden, alarms);
            bp_alarms_set_replay(alarms, a->ack_after_ms);
            bp_run_opts opts = a->opts;
            opts.alarms = alarms;
            bp_stats st;
            status = bp_run(&p, &opts, NULL, &st) == 0 ? 0 : 1;
        }
    }
    bp_alarms_free(alarms);
    bp_pipeline_free(&p);
    if (errs.n) {
        bp_errors_print(&errs);
        fprintf(stderr, "bppipe alarms replay: %s (%s): %zu problem%s found\n", a->file,
                side ? "B" : "A", errs.n, errs.n == 1 ? "" : "s");
    }
    bp_errors_free(&errs);
    edits_free(&e);
    return status;
}

/* "as configured", or the side's edits joined. */
static void label(const replay_args *a, int side, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    if (!a->n_side[side])
        snprintf(out, size, "as configured");
    for (size_t i = 0; i < a->n_side[side] && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, "%s%s", i ? ", " : "", a->side[side][i]);
}

static int write_json(const char *path, bp_burden *const b[2], const char *const labels[2])
{
    bp_buf out;
    bp_buf_init(&out);
    bp_buf_puts(&out, "{");
    for (int s = 0; s < 2; s++) {
        bp_buf_puts(&out, s ? ",\"b\":{\"label\":" : "\"a\":{\"label\":");
        bp_buf_json_string(&out, labels[s], strlen(labels[s]));
        bp_buf_puts(&out, ",\"burden\":");
        bp_burden_write_json(b[s], &out);
        bp_buf_puts(&out, "}");
    }
    bp_buf_puts(&out, "}\n");
    FILE *f = out.failed ? NULL : fopen(path, "w");
    int rc = f && fwrite(out.data, 1, out.len, f) == out.len ? 0 : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    bp_buf_free(&out);
    return rc;
}

static int cmd_replay(int argc, char **argv)
{
    replay_args a;
    int status = EXIT_USAGE;
    bp_burden *b[2] = {NULL, NULL};
    int devnull = -1;
    if (parse_args(argc, argv, &a) != 0)
        goto done;
    if (a.help) {
        replay_usage(stdout);
        status = 0;
        goto done;
    }
    if ((devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "error: /dev/null: %s\n", strerror(errno));
        status = 1;
        goto done;
    }
    bp_runner_install_signals();
    for (int s = 0; s < 2; s++) {
        if (!(b[s] = bp_burden_new())) {
            fprintf(stderr, "error: out of memory\n");
            status = 1;
            goto done;
        }
        status = run_side(&a, s, devnull, b[s]);
        if (status != 0)
            goto done;
    }
    char la[1024], lb[1024];
    label(&a, 0, la, sizeof la);
    label(&a, 1, lb, sizeof lb);
    bp_burden_print_compare(b[0], la, b[1], lb, stdout);
    const char *const labels[2] = {la, lb};
    if (a.json && write_json(a.json, b, labels) != 0) {
        fprintf(stderr, "error: could not write %s: %s\n", a.json, strerror(errno));
        status = 1;
    }
done:
    if (devnull >= 0)
        close(devnull);
    bp_burden_free(b[0]);
    bp_burden_free(b[1]);
    args_free(&a);
    return status;
}

static void alarms_usage(FILE *out)
{
    fputs("usage: bppipe alarms replay PIPELINE --against KEY=VALUE... [options]\n\n"
          "  replay   run an archive through two alarm configurations and print their\n"
          "           burdens side by side ('bppipe alarms replay --help')\n",
          out);
}

int bp_cmd_alarms(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "replay") == 0)
        return cmd_replay(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        alarms_usage(stdout);
        return 0;
    }
    if (argc >= 2)
        fprintf(stderr, "error: unknown alarms command '%s'\n\n", argv[1]);
    alarms_usage(stderr);
    return EXIT_USAGE;
}
