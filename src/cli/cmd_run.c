/* `bppipe run` and `bppipe check`: the same parsing and validation, then either the batch loop
 * or only each plugin's open/close. */
#include "cli/commands.h"

#include "alarm/ack_config.h"
#include "alarm/burden_feed.h"
#include "alarm/burden_report.h"
#include "base/log.h"
#include "config/options.h"
#include "engine/runner.h"
#include "ops/metrics.h"
#include "ops/sd_notify.h"
#include "pipeline/instance.h"
#include "pipeline/pipeline.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2

typedef struct run_args {
    const char *file;
    bp_edit *edits; /* -o and -u, in command-line order */
    size_t n_edits;
    bp_run_opts opts;
    const char *summary_json;
    bool help;
    bool offline;         /* check: the services are not asked */
    double probe_timeout; /* check: seconds each service may take */
} run_args;

static void run_usage(FILE *out, bool check)
{
    if (check) {
        fputs("usage: bppipe check FILE [-o SECTION.KEY=VALUE]... [-u SECTION[.KEY]]...\n"
              "                         [--offline] [--timeout SECONDS]\n\n"
              "Validates a pipeline without running it: the INI syntax, every key against the\n"
              "options its plugin declares, that each plugin loads, and each plugin's open()\n"
              "then close(). What open() checks is the plugin's own (docs/plugins/): folders\n"
              "it writes are created and must be writable, files it reads (a model, profiles,\n"
              "an index template) must parse, kafka.* keys must be accepted by librdkafka.\n"
              "Then it asks each service the pipeline talks to whether it answers, within the\n"
              "timeout (default 5 s): the Kafka brokers of source-kafka and sink-kafka for\n"
              "their metadata (and whether the topics exist), each Elasticsearch of sink-es\n"
              "for what it is and whether it takes the credentials. A service that does not\n"
              "answer, or answers wrongly, is a problem. check reads nothing from a source and\n"
              "writes nothing to a sink; webhooks are not called.\n\n"
              "options:\n"
              "  --offline              skip the services: check the file and the plugins alone\n"
              "  --timeout SECONDS      how long each service may take to answer (default 5)\n\n"
              "Exit 0 when it would start, 2 otherwise, with one line per problem naming\n"
              "file, line, section and key. FILE, -o and -u are read as by 'bppipe run'.\n",
              out);
        return;
    }
    fputs("usage: bppipe run FILE [-o SECTION.KEY=VALUE]... [-u SECTION[.KEY]]...\n"
          "                       [--max-records N] [--duration SECONDS]\n"
          "                       [--summary-json PATH]\n\n"
          "Runs the pipeline in FILE until its source ends, a limit is reached, or\n"
          "SIGINT/SIGTERM arrives. Each sink delivers on its own thread from its own queue\n"
          "(lane_max_records, lane_max_bytes; a sink section may set its own): one that is\n"
          "down or slow holds back only its readings, and when its queue is full the source\n"
          "is paused, nothing dropped. A sink section with buffer = disk and buffer_path\n"
          "(buffer_max_bytes, default 1 GiB) writes what its sink cannot take now to a\n"
          "durable spool, which counts as delivered for the commit and is delivered from\n"
          "when the sink is back (docs/spool.md). On the first signal polling stops, the\n"
          "sinks deliver what is in flight, the source commits, and bppipe exits 0. A sink\n"
          "that cannot deliver (a cluster that is down) is waited for, and the log says so;\n"
          "a second signal abandons what is in flight (not committed, so it is delivered\n"
          "again later) and bppipe exits 1. --max-records and --duration stop polling and\n"
          "give the sinks drain_timeout_ms; what is not delivered then stays uncommitted.\n\n"
          "FILE is a regular file of at most 1 MiB of INI text (a UTF-8 byte-order mark at\n"
          "its start is skipped); a device, pipe or folder is refused.\n\n"
          "options:\n"
          "  -o SECTION.KEY=VALUE   set a key, adding the section when it is not there\n"
          "                         (SECTION is 'pipeline' or KIND.NAME; repeatable)\n"
          "  -o SECTION.plugin=NAME swap a stage's plugin: the file's keys for it that NAME\n"
          "                         does not declare are dropped (one info line names\n"
          "                         them), the ones it declares (a sink's route) stay, and\n"
          "                         the other -o of that section apply, before or after it\n"
          "  -u SECTION[.KEY]       remove a section, or one key of it (repeatable); one\n"
          "                         that is not there is an error\n"
          "                         -o and -u apply in the order given; a Kafka source\n"
          "                         replaced by a file: -u source.kafka\n"
          "                         -o source.in.plugin=source-file -o source.in.path=F.\n"
          "                         An undefined ${VAR} in a key so removed or dropped is\n"
          "                         no error. Errors about -o and -u name SECTION.KEY or\n"
          "                         the argument's position, never a value: it may be secret\n"
          "  --max-records N        stop reading after N readings\n"
          "  --duration SECONDS     stop reading after this long\n"
          "  --summary-json PATH    also write the run summary as JSON to PATH\n\n"
          "A status line goes to stderr every stats_interval seconds (naming a sink whose\n"
          "queue is full or that is retrying, with its backlog) and a summary at exit:\n"
          "readings in = anomaly + normal + invalid (+ in flight); skipped resources (valid\n"
          "FHIR that is not blood pressure) are not readings and are counted beside it.\n"
          "With [alarms], the summary (and --summary-json's alarms) ends with the burden:\n"
          "alarms per patient-day, share acknowledged, time to acknowledge, escalations,\n"
          "readings delayed by confirmation, by priority and condition (docs/alarms.md).\n"
          "With http_listen = HOST:PORT (a bare PORT: 127.0.0.1; 0: any free port) one HTTP\n"
          "listener serves /metrics (Prometheus text), /healthz and /readyz, optionally\n"
          "behind a bearer token (http_token_env; docs/operations.md).\n\n"
          "[pipeline] keys:\n",
          out);
    size_t n;
    const bp_option *o = bp_pipeline_options(&n);
    bp_options_print(out, o, n);
    fputs("\nStage sections: [source.NAME], [detector.NAME] (run in file order), [sink.NAME],\n"
          "each with plugin = NAME (a plugin's name, never a path; when two folders of the\n"
          "search path hold one, the first is used and the other is named in a warning).\n"
          "Sinks also take route = anomaly|normal|all|critical|invalid|skipped|alarm (default\n"
          "all; critical = severity critical; invalid = dead letters; skipped = valid FHIR\n"
          "that is not blood pressure, never part of all; alarm = the alarm stage's events,\n"
          "with alarm_min_tier = K for those of alarms escalated to tier K or more).\n"
          "[alarms]: conditions that turn verdicts into alarms, CONDITION.match, .priority\n"
          "(high|medium|low), .confirm_readings, .confirm_within_s, .clear_readings,\n"
          ".cooldown_s, .escalate_after (seconds, per tier); and state_file, max_keys.\n"
          "Set one with -o alarms.CONDITION.KEY=VALUE (docs/alarms.md).\n"
          "users_file (NAME TOKEN lines, mode 0600) and audit_file: who may acknowledge an\n"
          "alarm with POST /api/alarms/ALARM_ID/ack on http_listen, and where each request\n"
          "is written down (docs/alarms.md, \"The API\").\n"
          "Values may use ${VAR} and ${VAR:-default}.\n"
          "Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error.\n",
          out);
}

static int parse_number(const char *flag, const char *text, double *out)
{
    if (!text || bp_parse_double(text, out) != 0 || *out < 0) {
        fprintf(stderr, "error: %s needs a non-negative number, got '%s'\n", flag,
                text ? text : "nothing");
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, bool check, run_args *a)
{
    memset(a, 0, sizeof *a);
    a->probe_timeout = 5;
    a->edits = calloc((size_t)argc, sizeof *a->edits);
    if (!a->edits)
        return -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        double v;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->help = true;
        } else if (strcmp(arg, "-o") == 0 || strcmp(arg, "--option") == 0) {
            if (!next) {
                fprintf(stderr, "error: -o needs SECTION.KEY=VALUE\n");
                return -1;
            }
            /* argv[0] is the command, so i + 1 is the position on the whole command line */
            a->edits[a->n_edits++] = (bp_edit){BP_EDIT_SET, argv[i + 1], i + 2};
            i++;
        } else if (strcmp(arg, "-u") == 0 || strcmp(arg, "--unset") == 0) {
            if (!next) {
                fprintf(stderr, "error: -u needs SECTION or SECTION.KEY\n");
                return -1;
            }
            a->edits[a->n_edits++] = (bp_edit){BP_EDIT_UNSET, argv[i + 1], i + 2};
            i++;
        } else if (!check && strcmp(arg, "--max-records") == 0) {
            if (parse_number(arg, next, &v) != 0 || v != (double)(uint64_t)v)
                return -1;
            a->opts.max_records = (uint64_t)v;
            i++;
        } else if (!check && strcmp(arg, "--duration") == 0) {
            if (parse_number(arg, next, &v) != 0)
                return -1;
            a->opts.duration_s = v;
            i++;
        } else if (check && strcmp(arg, "--offline") == 0) {
            a->offline = true;
        } else if (check && strcmp(arg, "--timeout") == 0) {
            if (parse_number(arg, next, &a->probe_timeout) != 0 || a->probe_timeout > 600)
                return -1;
            i++;
        } else if (!check && strcmp(arg, "--summary-json") == 0 && next) {
            a->summary_json = argv[++i];
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "error: unknown option '%s' (see 'bppipe %s --help')\n", arg,
                    check ? "check" : "run");
            return -1;
        } else if (!a->file) {
            a->file = arg;
        } else {
            fprintf(stderr, "error: more than one pipeline file ('%s' and '%s')\n", a->file, arg);
            return -1;
        }
    }
    if (!a->file && !a->help) {
        fprintf(stderr, "error: no pipeline file (usage: bppipe %s FILE ...)\n",
                check ? "check" : "run");
        return -1;
    }
    return 0;
}

/* Builds and opens the pipeline; on failure prints every error and returns 2. */
static int prepare(bp_pipeline *p, run_args *a)
{
    bp_errors errs = {0};
    int rc = bp_pipeline_build(p, a->file, a->edits, a->n_edits, &errs);
    if (bp_alarms_build(&a->opts.alarms, &p->cfg, &errs) != 0)
        rc = -1; /* [alarms] is checked with the rest, every mistake in one go */
    /* [alarms] users_file and audit_file: refused by check as by run, before anything opens. */
    if (rc == 0 && bp_alarm_ack_check(&p->cfg, &errs) != 0)
        rc = -1;
    if (rc == 0)
        rc = bp_pipeline_open(p, &errs);
    if (rc == 0 && bp_alarms_open(a->opts.alarms) != BP_OK) {
        bp_errors_add(&errs, "%s: [alarms] the alarm state could not be kept (see above)",
                      a->file);
        rc = -1;
    }
    if (rc != 0 || errs.n) {
        bp_errors_print(&errs);
        if (bp_log_get_format() == BP_LOG_JSON)
            bp_log("config", BP_LOG_ERROR, "%s: %zu problem%s found", a->file, errs.n,
                   errs.n == 1 ? "" : "s");
        else
            fprintf(stderr, "bppipe: %s: %zu problem%s found\n", a->file, errs.n,
                    errs.n == 1 ? "" : "s");
        bp_errors_free(&errs);
        return EXIT_USAGE;
    }
    bp_errors_free(&errs);
    return 0;
}

/* The probe() of an instance, when its descriptor is recent enough (ABI 1.4) to have one. */
static int (*probe_fn(const bp_ctx *c))(void *, int)
{
    const bp_plugin *d = c->plugin->desc;
    return BP_DESC_HAS(d, probe) ? d->probe : NULL;
}

/* check: every instance that can asks its service whether it answers. Returns 0 when all did,
 * -1 after one line per service that did not (the plugin said why just before). */
static int probe_services(bp_pipeline *p, const run_args *a)
{
    bp_ctx *all[1 + 64 + BP_MAX_SINKS];
    size_t n = 0, failed = 0;
    all[n++] = p->source;
    for (size_t i = 0; i < p->n_detectors && n < 65; i++)
        all[n++] = p->detectors[i];
    for (size_t i = 0; i < p->n_sinks; i++)
        all[n++] = p->sinks[i];
    int timeout_ms = (int)(a->probe_timeout * 1000.0);
    for (size_t i = 0; i < n; i++) {
        int (*fn)(void *, int) = probe_fn(all[i]);
        if (!fn)
            continue;
        int rc = fn(all[i]->state, timeout_ms);
        if (rc == BP_OK)
            continue;
        failed++;
        bp_log(all[i]->name, BP_LOG_ERROR, "%s", rc == BP_RETRY ?
               "its service does not answer (see above); a run would wait for it" :
               "its service answers wrongly (see above); a run would stop");
    }
    if (!failed)
        return 0;
    if (bp_log_get_format() == BP_LOG_JSON)
        bp_log("config", BP_LOG_ERROR, "%s: %zu service(s) not usable; --offline checks the "
               "file alone", a->file, failed);
    else
        fprintf(stderr, "bppipe: %s: %zu service(s) not usable; --offline checks the file "
                "alone\n", a->file, failed);
    return -1;
}

/* check: one line per sink or detector that does not honour revisions (BP_CAP_REVISIONS,
 * docs/revisions.md) and so misses part of them. Said, never refused: such a pipeline runs as
 * it always did. A sink of route = invalid, skipped or alarm misses nothing. */
static void report_revisions(const bp_pipeline *p)
{
    for (size_t i = 0; i < p->n_sinks; i++) {
        const bp_ctx *s = p->sinks[i];
        if (!(s->routes & (BP_ROUTES_ALL | BP_ROUTE_CRITICAL)) ||
            bp_desc_takes_revisions(s->plugin->desc))
            continue;
        bp_log(s->name, BP_LOG_INFO,
               "%s does not honour revisions: a corrected reading reaches "
               "it as a new record beside the old one, a retraction (entered-in-error) never "
               "(docs/revisions.md)",
               s->plugin->desc->name);
    }
    for (size_t i = 0; i < p->n_detectors; i++) {
        const bp_ctx *d = p->detectors[i];
        if (bp_desc_takes_revisions(d->plugin->desc))
            continue;
        bp_log(d->name, BP_LOG_INFO,
               "%s does not honour revisions: it judges a corrected "
               "reading as a new one beside the old, and never sees a retraction "
               "(docs/revisions.md)",
               d->plugin->desc->name);
    }
}

static int run_or_check(int argc, char **argv, bool check)
{
    run_args a;
    int status = EXIT_USAGE;
    bp_pipeline p;
    memset(&p, 0, sizeof p);
    if (parse_args(argc, argv, check, &a) != 0)
        goto done;
    if (a.help) {
        run_usage(stdout, check);
        status = 0;
        goto done;
    }
    if (!check)
        bp_runner_install_signals(); /* before open(), so a slow start can be interrupted */
    status = prepare(&p, &a);
    if (status != 0)
        goto done;
    if (check && !a.offline && probe_services(&p, &a) != 0) {
        status = EXIT_USAGE;
        goto done;
    }
    if (check) {
        report_revisions(&p);
        if (bp_log_get_format() == BP_LOG_JSON)
            bp_log("config", BP_LOG_INFO, "%s is valid: source %s, %zu detector(s), %zu sink(s)",
                   a.file, p.source->plugin->desc->name, p.n_detectors, p.n_sinks);
        else
            fprintf(stderr, "bppipe: %s is valid: source %s, %zu detector(s), %zu sink(s)\n",
                    a.file, p.source->plugin->desc->name, p.n_detectors, p.n_sinks);
        goto done;
    }
    bp_stats st;
    bp_metrics metrics; /* /metrics, /healthz, /readyz and the live page when http_listen is set */
    /* The burden of [alarms] (docs/alarms.md): on /metrics and the live page, then in the
     * summary */
    bp_burden *burden = a.opts.alarms ? bp_burden_new() : NULL;
    if (burden)
        bp_burden_attach(burden, a.opts.alarms);
    else if (a.opts.alarms)
        bp_log("core", BP_LOG_WARN, "out of memory for the alarm burden; it is not measured");
    const bp_run_observer *observer = bp_metrics_observer(&metrics, &p);
    metrics.burden = burden;
    bp_sd_notify("READY=1"); /* every stage open: systemd's Type=notify */
    metrics.alarms = a.opts.alarms; /* /api/alarms lists its active alarms */
    status = bp_run(&p, &a.opts, observer, &st);
    bp_sd_notify("STOPPING=1");
    bp_pipeline_close(&p); /* flush before the summary, so it reports what is durable */
    bp_buf alarms_json;
    bp_buf_init(&alarms_json);
    if (burden) {
        bp_burden_write_json(burden, &alarms_json);
        st.alarms_json = alarms_json.failed ? NULL : bp_buf_cstr(&alarms_json);
    }
    bp_stats_print_summary(&st, &p);
    if (burden && bp_log_get_format() != BP_LOG_JSON)
        bp_burden_print(burden, stderr);
    if (a.summary_json && bp_stats_write_json(&st, &p, a.summary_json) != 0) {
        fprintf(stderr, "error: could not write the summary to %s\n", a.summary_json);
        status = status ? status : 1;
    }
    bp_buf_free(&alarms_json);
    bp_burden_free(burden);
done:
    bp_pipeline_free(&p);
    bp_alarms_free(a.opts.alarms);
    free(a.edits);
    return status;
}

int bp_cmd_run(int argc, char **argv)
{
    return run_or_check(argc, argv, false);
}

int bp_cmd_check(int argc, char **argv)
{
    return run_or_check(argc, argv, true);
}
