/*
 * bppipe plugin ABI, version 1.
 *
 * This header is the whole contract between the bppipe host and its plugins. A plugin needs
 * this file and nothing else: it never links against the bppipe executable, it reaches every
 * host service through the function table (bp_host) handed to its open() call.
 *
 * Rules that hold everywhere below:
 *   - Ownership. The host owns batches, records and every string it returns; such pointers
 *     stay valid until the stage call that received them returns, unless a function says
 *     otherwise. A plugin copies whatever it keeps longer. Strings a plugin passes in are
 *     copied by the host before the call returns.
 *   - Threads. The host never calls one plugin instance from two threads at once. Host
 *     functions may be called only from inside a stage call of the instance that owns the
 *     context (open, poll, commit, detect, write, flush, close), on the thread making that call.
 *     Sources and detectors are called from the host's main thread. Since ABI 1.3 each sink
 *     instance delivers on a thread of its own (its delivery lane): write(), flush() and
 *     reload() of a sink may run on that thread, or on the main thread once the lane has
 *     stopped, never on two threads at once for one instance; open() and close() run on the
 *     main thread. Two sinks' write() calls do run at the same time, on the same records: a
 *     sink reads records (text, number, payload, document are safe for that) and reports
 *     outcomes, and the verdict functions (flag, raise_severity, set_text, annotate_*) answer
 *     BP_EINVAL to a sink. A sink whose library keeps per-thread state (an HTTP handle, a
 *     producer) is fine as long as it belongs to the instance, not to the thread that opened it.
 *   - NULL. Host functions accept NULL for optional pointers as documented; a NULL where a
 *     value is required makes the function return BP_EINVAL (or NULL / NaN for getters)
 *     instead of crashing.
 *   - Versions. 1.0: the first ABI. 1.1: bp_plugin.reload (SIGHUP). 1.2: bp_plugin.caps
 *     (BP_CAP_POLL_APPENDS, which lets [pipeline] linger_ms gather a batch over several
 *     polls). 1.3: a sink's write(), flush() and reload() may run on the sink's own delivery
 *     thread (see Threads); BP_CAP_BATCH_COMMIT lets a source with commit() be polled again
 *     before its earlier batches are committed. 1.4: bp_plugin.probe (`bppipe check` reaches
 *     the services). 1.5: keyed state (bp_host.state_*, BP_CAP_KEYED_STATE): per-key state the
 *     host keeps per input partition, consistent with the source's commits. 1.6:
 *     bp_host.add_rejected, a payload the source itself found unusable, dead-lettered with the
 *     source's reason and never decoded. 1.7: the BP_F_ALARM_* fields of alarm events
 *     (route = alarm), and bp_plugin.send_input, a source appends a message to its own input
 *     (an alarm acknowledgement, for the partition that owns the alarm). 1.8: revisions: the
 *     BP_F_LOGICAL_ID, BP_F_VERSION, BP_F_REVISION and BP_F_STATUS fields and BP_CAP_REVISIONS
 *     (a corrected or retracted reading taken back everywhere it went). Plugins built for 1.0
 *     to 1.7 keep working: the host never calls one instance from two threads at once, a
 *     source with commit() but without BP_CAP_BATCH_COMMIT gets one batch in flight at a time,
 *     as before, and members a plugin's header did not have are never read.
 *   - Growth. Every struct that crosses the boundary starts with struct_size. New members and
 *     new host functions are only ever appended; the minor number grows with them (a plugin
 *     tests a host member newer than the minor it requires with BP_HOST_HAS). A change
 *     that breaks existing plugins bumps the major number, and the loader refuses plugins of
 *     another major with a clear message.
 *
 * C99, no includes beyond <stddef.h> and <stdint.h>.
 */
#ifndef BPPIPE_PLUGIN_H
#define BPPIPE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_ABI_MAJOR 1
#define BP_ABI_MINOR 8

/* The one symbol every plugin exports. Its signature never changes across ABI majors, so the
 * loader can always read the descriptor and tell the user which ABI a plugin was built for. */
#define BP_ENTRY_SYMBOL "bppipe_plugin"

#if defined(__GNUC__) || defined(__clang__)
#define BP_EXPORT __attribute__((visibility("default")))
#define BP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define BP_EXPORT
#define BP_PRINTF(fmt, args)
#endif

/* ------------------------------------------------------------------------------------------ */
/* Status codes                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* Every stage call and most host functions return one of these. */
enum {
    BP_OK = 0,      /* done */
    BP_END = 1,     /* poll only: the source has nothing more, ever (a finite file, a count) */
    BP_RETRY = -1,  /* transient failure: the host backs off (capped, jittered) and calls again */
    BP_FATAL = -2,  /* permanent failure: the host stops the pipeline cleanly; log why first */
    BP_EINVAL = -3, /* host function: an argument was invalid (NULL, unknown key, wrong type) */
    BP_ENOMEM = -4  /* host function: out of memory */
};

/* ------------------------------------------------------------------------------------------ */
/* Opaque handles                                                                              */
/* ------------------------------------------------------------------------------------------ */

typedef struct bp_ctx bp_ctx;       /* one configured plugin instance, as the host sees it */
typedef struct bp_batch bp_batch;   /* an ordered set of records, owned by the host */
typedef struct bp_record bp_record; /* one payload (source side) or one reading */

/* ------------------------------------------------------------------------------------------ */
/* Declared options                                                                            */
/* ------------------------------------------------------------------------------------------ */

typedef enum bp_opt_type {
    BP_OPT_STRING = 1, /* any text */
    BP_OPT_INT = 2,    /* 64-bit signed integer, decimal; bounds apply */
    BP_OPT_DOUBLE = 3, /* finite number; bounds apply */
    BP_OPT_BOOL = 4,   /* true/false, yes/no, on/off, 1/0 */
    BP_OPT_ENUM = 5,   /* one of the words in `choices` ("a|b|c") */
    BP_OPT_PREFIX = 6  /* `name` ends in ".*": any key with that prefix is accepted as a string
                          and handed through unvalidated (e.g. "kafka.*"); see opt_each */
} bp_opt_type;

/* Flags for bp_option.flags. */
#define BP_OPT_REQUIRED 0x1u /* the key must be given; `default_value` is ignored */
#define BP_OPT_SECRET 0x2u   /* never echoed in logs, `bppipe check` or error messages */

/* One key a plugin accepts in its INI section. The host validates every key of a section
 * against this table before anything starts: unknown keys, wrong types, out-of-bounds values
 * and missing required keys are configuration errors that name file, line, section and key.
 * The same table prints the plugin's help (`bppipe plugins NAME`). */
typedef struct bp_option {
    uint32_t struct_size;      /* sizeof(bp_option) as the plugin was built */
    const char *name;          /* key as written in the INI, lower case, e.g. "path" */
    bp_opt_type type;          /* see bp_opt_type */
    uint32_t flags;            /* BP_OPT_* flags */
    const char *default_value; /* text as it would be written in the INI; NULL = no default */
    double min, max;           /* inclusive bounds for INT and DOUBLE; ignored when min > max;
                                * an infinite bound, or for INT one of magnitude 2^53 or more
                                * (9007199254740992.0), leaves that side open: "no limit" */
    const char *choices;       /* ENUM only: "ndjson|per-record" */
    const char *help;          /* one line, no trailing period needed */
} bp_option;

/* Convenience initialisers that fill struct_size and leave unused members neutral. */
#define BP_OPTION_STRING(n, def, fl, h) {sizeof(bp_option), n, BP_OPT_STRING, fl, def, 1, 0, NULL, h}
#define BP_OPTION_INT(n, def, lo, hi, fl, h) \
    {sizeof(bp_option), n, BP_OPT_INT, fl, def, lo, hi, NULL, h}
#define BP_OPTION_DOUBLE(n, def, lo, hi, fl, h) \
    {sizeof(bp_option), n, BP_OPT_DOUBLE, fl, def, lo, hi, NULL, h}
#define BP_OPTION_BOOL(n, def, h) {sizeof(bp_option), n, BP_OPT_BOOL, 0, def, 1, 0, NULL, h}
#define BP_OPTION_ENUM(n, def, ch, h) {sizeof(bp_option), n, BP_OPT_ENUM, 0, def, 1, 0, ch, h}
#define BP_OPTION_PREFIX(n, h) {sizeof(bp_option), n, BP_OPT_PREFIX, 0, NULL, 1, 0, NULL, h}

/* ------------------------------------------------------------------------------------------ */
/* Records                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Fields readable with bp_host.text() and bp_host.number(). Values are only appended. */
typedef enum bp_field {
    /* reading (set by the host's FHIR decoder) */
    BP_F_STABLE_ID = 1,      /* text: deterministic id for idempotent sinks (never a counter) */
    BP_F_OBSERVATION_ID = 2, /* text: Observation.id, NULL when the resource had none */
    BP_F_PATIENT_ID = 3,     /* text */
    BP_F_PRACTITIONER_ID = 4, /* text, NULL when there is no practitioner */
    BP_F_DEVICE_ID = 5,      /* text, NULL when absent */
    BP_F_EFFECTIVE_MS = 6,   /* number: effective time, milliseconds since 1970-01-01T00:00Z */
    BP_F_SYSTOLIC = 7,       /* number, mmHg; NaN when absent */
    BP_F_DIASTOLIC = 8,      /* number, mmHg; NaN when absent */
    BP_F_HEART_RATE = 9,     /* number, beats/min; NaN when absent */
    /* revisions (appended in ABI 1.8; docs/revisions.md): a result can be corrected or taken
     * back after it was sent. A record is a version of a logical id; a newer version replaces
     * the older ones everywhere, a retraction removes them. */
    BP_F_LOGICAL_ID = 10, /* text: what the reading is a version of (FHIR: Observation.id, else
                             the entry's fullUrl; HL7 v2: the observation's identity without
                             its status); NULL when unknown: no later record can replace it */
    BP_F_VERSION = 11,    /* number: the version's place among the logical id's versions
                             (FHIR: meta.versionId when it is a whole number, else
                             meta.lastUpdated in ms; HL7 v2: MSH-7 in ms); NaN when unknown */
    BP_F_REVISION = 12,   /* text: NULL for a record that replaces nothing (a first version);
                             "replace": this record replaces every earlier version of its
                             logical id (amended, corrected: write it over the old one);
                             "retract": no version of the logical id should exist any more
                             (entered-in-error, or a correction moved it to another route: a
                             sink of that route gets the "replace"); remove or tombstone what
                             you hold under the logical id. A retraction has no values (NaN)
                             and is never judged. Only a sink or detector with
                             BP_CAP_REVISIONS ever receives a "retract". */
    BP_F_STATUS = 13,     /* text: the status as FHIR names it (final, amended, corrected,
                             preliminary, entered-in-error; HL7 v2 OBX-11 mapped the same way),
                             NULL when absent */
    /* source position (set by the source through add_payload) */
    BP_F_SOURCE_TOPIC = 20,     /* text, NULL when the source has no topics */
    BP_F_SOURCE_PARTITION = 21, /* number, NaN when not applicable */
    BP_F_SOURCE_OFFSET = 22,    /* number (exact up to 2^53), NaN when not applicable */
    BP_F_SOURCE_KEY = 23,       /* text (NUL-terminated copy of the key), NULL when none */
    BP_F_SOURCE_TIMESTAMP_MS = 24, /* number, NaN when unknown */
    BP_F_SOURCE_KEY_LEN = 25,   /* number: bytes in the source key, which may hold NUL bytes
                                   that end the BP_F_SOURCE_KEY text early; NaN when no key (a
                                   host older than this field answers NaN too) */
    /* verdict (set by detectors through the host) */
    BP_F_ANOMALY = 40,      /* number: 1 when any detector flagged the reading, else 0 */
    BP_F_SEVERITY = 41,     /* number: a bp_severity value */
    BP_F_CATEGORY = 42,     /* text: guideline category, e.g. "hypertension_stage_2"; may be NULL */
    BP_F_ANOMALY_TYPE = 43, /* text: "hypertension", "hypotension", ... "normal"; may be NULL.
                               A flagged reading is never "normal": see set_text() */
    BP_F_INVALID_REASON = 44, /* text: why the record is on the invalid route, NULL otherwise */
    /* alarm events (route = alarm, docs/alarms.md; appended in ABI 1.7): the record is an alarm
     * event, not a reading, when BP_F_ALARM_ID is not NULL. A reading, or an older host,
     * answers NULL and NaN. */
    BP_F_ALARM_ID = 60,        /* text: deterministic, the same on a replay */
    BP_F_ALARM_EVENT = 61,     /* text: raised | acknowledged | escalated | resolved | withdrawn */
    BP_F_ALARM_PRIORITY = 62,  /* text: high | medium | low (IEC 60601-1-8) */
    BP_F_ALARM_CONDITION = 63, /* text: the [alarms] condition's name */
    BP_F_ALARM_STATE = 64,     /* text: raised | acknowledged | latched | resolved */
    BP_F_ALARM_BY = 65,        /* text: who acknowledged (acknowledged events), else NULL */
    BP_F_ALARM_TIER = 66,      /* number: escalation tier reached, 0 before any */
    BP_F_ALARM_RAISED_AT_MS = 67, /* number: when the alarm was raised, ms since the epoch */
    BP_F_ALARM_EVENT_MS = 68   /* number: when this transition happened, ms since the epoch */
} bp_field;

typedef enum bp_severity {
    BP_SEV_NORMAL = 0,
    BP_SEV_WARNING = 1,
    BP_SEV_CRITICAL = 2
} bp_severity;

/* Where a payload came from. The host copies every member during add_payload. */
typedef struct bp_origin {
    uint32_t struct_size;  /* sizeof(bp_origin) */
    const char *topic;     /* may be NULL */
    int32_t partition;     /* -1 when not applicable */
    int64_t offset;        /* -1 when not applicable */
    const void *key;       /* may be NULL */
    size_t key_len;        /* bytes in key */
    int64_t timestamp_ms;  /* -1 when unknown */
} bp_origin;

/* Per-record outcomes a sink reports through bp_host.set_outcome(). */
typedef enum bp_outcome {
    BP_DELIVERED = 0, /* durable; also for an idempotent duplicate (e.g. 409 on create) */
    BP_AGAIN = 1,     /* transient failure of this record: the host retries only these */
    BP_REJECTED = 2   /* permanent refusal: the host dead-letters the record with the reason */
} bp_outcome;

/* Flags for bp_host.document(). */
#define BP_DOC_PRETTY 0x1u /* indented with two spaces and newlines instead of one line */

/* ------------------------------------------------------------------------------------------ */
/* Host services                                                                               */
/* ------------------------------------------------------------------------------------------ */

typedef enum bp_log_level {
    BP_LOG_ERROR = 0,
    BP_LOG_WARN = 1,
    BP_LOG_INFO = 2,
    BP_LOG_DEBUG = 3 /* the only level at which a plugin may log patient data or payloads */
} bp_log_level;

/* Called by opt_each for every key matching a prefix. Return 0 to go on, non-zero to stop
 * (opt_each then returns that value). */
typedef int (*bp_opt_visit)(void *user, const char *key, const char *value);

/* One change of keyed state, as a source that keeps the state (BP_CAP_KEYED_STATE) sees it in
 * state_changes() during commit(). Every pointer lives until the visit returns. */
typedef struct bp_state_change {
    uint32_t struct_size;  /* sizeof(bp_state_change) as the host was built */
    const char *topic;     /* the input partition the state belongs to; NULL: no topics */
    int32_t partition;     /* -1 when not applicable */
    const char *ns;        /* the owner: "SECTION/FORMAT", e.g. "detector.trend/trend.1" */
    const void *key;       /* the key as the plugin gave it */
    size_t key_len;
    int had_before;        /* 1: `before` is the value as of the previous commit; 0: none */
    const void *before;
    size_t before_len;
    int has_after;         /* 1: `after` is the value as of this batch; 0: deleted */
    const void *after;
    size_t after_len;
} bp_state_change;

/* Called by state_changes() for every change. Return 0 to go on, non-zero to stop (state_changes
 * then returns that value). */
typedef int (*bp_state_visit)(void *user, const bp_state_change *change);

/* Bounds of keyed state. */
#define BP_STATE_MAX_KEY 1024        /* bytes in a key */
#define BP_STATE_MAX_VALUE 65536     /* bytes in a value */
#define BP_STATE_MAX_FORMAT 64       /* characters of a format name ([a-z0-9_.-]) */

/* The function table every plugin receives in open(). It lives as long as the process. */
typedef struct bp_host {
    uint32_t struct_size; /* sizeof(bp_host) as the host was built; check before using a member
                             appended after ABI 1.0, with BP_HOST_HAS() */
    uint16_t abi_major, abi_minor;

    /* -- logging -- */
    /* Logs one line prefixed with the instance name. Never pass patient data above
     * BP_LOG_DEBUG. Repeated identical messages are rate-limited by the host. */
    void (*log)(bp_ctx *ctx, bp_log_level level, const char *fmt, ...) BP_PRINTF(3, 4);

    /* -- options (validated before open(); a declared option always has a value or, when it
     *    has no default and was not given, reads as absent) -- */
    /* Text of an option as given (after ${VAR} expansion) or its default; NULL when absent.
     * The string lives until close(). */
    const char *(*opt_string)(bp_ctx *ctx, const char *name);
    /* Parsed values; `fallback` is returned when the option is absent or not of that type. */
    int64_t (*opt_int)(bp_ctx *ctx, const char *name, int64_t fallback);
    double (*opt_double)(bp_ctx *ctx, const char *name, double fallback);
    int (*opt_bool)(bp_ctx *ctx, const char *name, int fallback);
    /* Visits every key given in the section that starts with `prefix` (e.g. "kafka."), in file
     * order, with the full key. Returns 0 or the first non-zero value a visit returned. */
    int (*opt_each)(bp_ctx *ctx, const char *prefix, bp_opt_visit visit, void *user);

    /* -- batches -- */
    size_t (*batch_count)(const bp_batch *batch);
    /* The i-th record, NULL when i >= count. */
    bp_record *(*batch_at)(const bp_batch *batch, size_t i);
    /* Source poll only: appends a payload (copied) with its origin (copied; may be NULL).
     * Returns BP_OK, BP_EINVAL or BP_ENOMEM. */
    int (*add_payload)(bp_batch *batch, const void *data, size_t len, const bp_origin *origin);
    /* The most payloads the host wants per poll. */
    size_t (*batch_capacity)(const bp_batch *batch);

    /* -- reading records -- */
    /* Text field or NULL when absent or when `field` is not a text field. */
    const char *(*text)(const bp_record *rec, bp_field field);
    /* Number field or NaN when absent or when `field` is not a number field. */
    double (*number)(const bp_record *rec, bp_field field);
    /* The payload the record was decoded from; *len receives its length (len may be NULL).
     * Several readings decoded from one payload (a Bundle) share it. */
    const void *(*payload)(const bp_record *rec, size_t *len);
    /* The host's JSON document for the record: the judged reading with every annotation, or,
     * on the invalid route, the reason, the source position and the payload; on the skipped
     * route (route = skipped: valid FHIR that is not blood pressure, never judged), the
     * skip_reason, resource_type and resource_code and the source position. The same bytes
     * go to every sink. NUL-terminated; *len receives the length without the NUL (len may be
     * NULL). Owned by the record. Returns NULL only on BP_ENOMEM. */
    const char *(*document)(bp_ctx *ctx, const bp_record *rec, unsigned flags, size_t *len);

    /* -- verdicts (detectors) -- */
    /* Flags the reading as an anomaly with a short reason code ([a-z0-9_]+, e.g.
     * "hypertension_systolic") appended to anomaly_details, and raises its severity to at
     * least `severity`. Returns BP_OK or BP_EINVAL. */
    int (*flag)(bp_ctx *ctx, bp_record *rec, const char *reason, bp_severity severity);
    /* Raises the severity (never lowers it). */
    int (*raise_severity)(bp_ctx *ctx, bp_record *rec, bp_severity severity);
    /* Sets BP_F_CATEGORY or BP_F_ANOMALY_TYPE (copied, 1 to 64 of [a-z0-9_]; BP_EINVAL for
     * another field or value); the last call wins.
     * A detector that flags a reading names the kind of anomaly with
     * set_text(BP_F_ANOMALY_TYPE, "...") after flag(), e.g. "hypertension", "rapid_change";
     * keep a type an earlier detector set (read it with text()) unless yours is more precise.
     * Setting "normal" on a flagged reading changes nothing (a detector that found nothing
     * does not judge another's finding). A flagged reading no detector typed reads (and is
     * serialized) as "hypertension" or "hypotension" when one of its reason codes contains
     * that word (the first such code decides), else "other"; never "normal". A reading no
     * detector flagged reads as the type set on it, or NULL (serialized "normal"). */
    int (*set_text)(bp_ctx *ctx, bp_record *rec, bp_field field, const char *value);
    /* Adds a named annotation serialized as a top-level field of the judged reading's
     * document, after the verdict fields and before "source", in the order first set.
     * Setting a key again replaces its value (and type). Every refusal below returns
     * BP_EINVAL, changes nothing, and is neither logged nor counted by the host: check the
     * return value.
     *   - Keys: 1 to 64 characters of [a-z0-9_.]. Prefer a prefix of your plugin's own
     *     ("trend_", "ml_").
     *   - Reserved: the document's own top-level names, which no annotation may use, alone
     *     or before a '.' ("source.offset" is refused as "source" is): @timestamp stable_id
     *     observation_id patient_id practitioner_id device_id status systolic_pressure
     *     diastolic_pressure heart_rate identified_by anomaly anomaly_type anomaly_details
     *     bp_category severity route invalid_reason skip_reason resource_type resource_code
     *     source payload effective_time mean_pressure hl7v2 (the last two since bppipe read
     *     HL7 v2, with no ABI change: an annotation of either name was refused from then on,
     *     and none shipped used them) logical_id version revision (since ABI 1.8, the same
     *     way). Change a verdict through flag/set_text instead.
     *   - Values: annotate_number refuses NaN and ±Inf (JSON has neither): the key is left
     *     out of the document (or keeps the value set before). annotate_text needs a non-NULL
     *     value (any text; it is escaped as JSON). annotate_bool stores value != 0.
     *   - Who sees them: every sink the reading is routed to, in the same document bytes.
     *     Dead letters and skipped resources carry none: detectors never see them (see
     *     detect()), and a reading a sink refuses is dead-lettered without its annotations.
     *   - Elasticsearch: sink-es sends the whole document, so every annotation is stored in
     *     _source. With bppipe's index template (deploy/elasticsearch/, docs/elasticsearch.md)
     *     a key no one mapped is mapped by the JSON type of its first value through dynamic
     *     templates: number: double, bool: boolean, text: keyword (indexed up to 1024
     *     characters; a longer value is kept in _source only). So an annotation is searchable
     *     and aggregatable with no template change. A dotted key ("acme.model") is an object
     *     path there. Give one key one type: a number field that later receives text keeps
     *     the document but does not index that value (ignore_malformed); a boolean field that
     *     receives text makes Elasticsearch refuse the document and sink-es dead-letters it.
     *     Keys made up per reading would reach the index's limit of 1000 fields. */
    int (*annotate_number)(bp_ctx *ctx, bp_record *rec, const char *key, double value);
    int (*annotate_text)(bp_ctx *ctx, bp_record *rec, const char *key, const char *value);
    int (*annotate_bool)(bp_ctx *ctx, bp_record *rec, const char *key, int value);

    /* -- sink results -- */
    /* Reports one record's outcome from inside write(). Records of a batch that get no call
     * take the batch result: BP_OK → delivered, BP_RETRY → retried, BP_FATAL → pipeline stops.
     * `reason` (copied) is required for BP_REJECTED and logged/dead-lettered with it. */
    int (*set_outcome)(bp_ctx *ctx, bp_record *rec, bp_outcome outcome, const char *reason);

    /* -- metrics -- */
    /* Adds `delta` to a named per-instance counter (created at the first call; a non-finite
     * delta is ignored), shown in the run summary and written to `bppipe run --summary-json`
     * as "counters": {"INSTANCE": {"NAME": value}}, e.g. {"sink.alerts": {"alerts_sent": 3}}
     * (instances that counted nothing are left out). A source's counters also ride on the
     * periodic status line; a source assigned partitions by a group counts them as
     * "partitions_assigned" (a delta of 0 creates it), and while that is 0 the status line
     * says it is waiting for partition assignment. */
    void (*count)(bp_ctx *ctx, const char *name, double delta);

    /* -- keyed state (ABI 1.5; test with BP_HOST_HAS(host, state_open)) --
     *
     * State a detector or sink keeps per key (a patient, a patient and a reason) lives in the
     * host, not in the plugin, so that it can follow the input's partitions: the host keeps it
     * per input partition (the record's BP_F_SOURCE_TOPIC and BP_F_SOURCE_PARTITION; a source
     * without partitions has one), and checkpoints it at the same watermark as the source's
     * commits. The state restored after a crash or a rebalance is the state as of the committed
     * position, so a replayed reading is judged exactly as it was the first time.
     *   - Where it persists: with a source that has BP_CAP_KEYED_STATE (source-kafka: a
     *     compacted changelog topic named after the consumer group), through the source; with
     *     any other source, in the instance's snapshot file when it names one (written
     *     atomically after commits, at most once per [pipeline] state_interval_ms, and at the
     *     end), else in memory only.
     *   - What a plugin must do: keep no per-key state of its own; read it with state_get for
     *     the record being judged or written and store the new value with state_put before the
     *     stage call returns. Values are the plugin's own bytes; version them through `format`
     *     (a stored value of another format is never handed back).
     *   - Who may call: a detector in detect(), a sink in write() (on its delivery lane); the
     *     record passed is one of the batch being judged or written. Each instance has its own
     *     state: two instances never see each other's keys.
     *   - Cost: a hash lookup and a copy of the value per call. Memory: about 190 bytes per key
     *     plus key and value, per partition held (the entry, its bucket, and the block that
     *     holds the committed value, as laid out; detector-trend measured 213 to 218 bytes per
     *     patient in all when that was about 150), and the values changed by batches not yet
     *     committed. */
    /* Declares in open() that the instance keeps keyed state of `format` (1 to 64 of
     * [a-z0-9_.-], e.g. "trend.1"; change it when the value's layout changes), at most
     * `max_keys` keys per input partition (0: no limit; a put of a new key beyond it answers
     * BP_ENOMEM), persisted in `snapshot_file` when the source does not keep state itself (NULL:
     * none). A snapshot that cannot be read (damaged, another owner's or format) is logged and
     * ignored: the instance starts with no state and the file is replaced at the first commit.
     * Returns BP_OK, BP_EINVAL (a bad format, a second call for one instance) or BP_ENOMEM. */
    int (*state_open)(bp_ctx *ctx, const char *format, uint64_t max_keys,
                      const char *snapshot_file);
    /* Copies the value of `key` in `rec`'s partition into `out` (at most out_size bytes) and
     * sets *len to its length. Returns BP_OK (found), BP_END (no value), BP_ENOMEM (out_size is
     * less than *len: nothing copied) or BP_EINVAL. */
    int (*state_get)(bp_ctx *ctx, const bp_record *rec, const void *key, size_t key_len,
                     void *out, size_t out_size, size_t *len);
    /* Sets (copies) the value of `key` in `rec`'s partition; state_delete removes it. Returns
     * BP_OK, BP_EINVAL (bounds above; an instance that did not call state_open) or BP_ENOMEM
     * (out of memory, or max_keys reached). */
    int (*state_put)(bp_ctx *ctx, const bp_record *rec, const void *key, size_t key_len,
                     const void *value, size_t len);
    int (*state_delete)(bp_ctx *ctx, const bp_record *rec, const void *key, size_t key_len);

    /* The source's side (a source with BP_CAP_KEYED_STATE; BP_EINVAL for anyone else). */
    /* In commit(batch): visits every key whose value the readings of `batch` changed, with its
     * value as of the previous commit and as of `batch`. The source persists them with the
     * positions it commits; what it cannot persist yet it keeps, and gives up with the
     * partition (a later restore then hands back the value as of the committed position). */
    int (*state_changes)(bp_ctx *ctx, const bp_batch *batch, bp_state_visit visit, void *user);
    /* In poll(), before the first payload of a newly assigned partition is added: hands the
     * host one key's value as of the partition's committed position (`ns` as in
     * bp_state_change). A value for an owner that no longer exists is ignored and counted
     * (state_restore_ignored). Returns BP_OK, BP_EINVAL or BP_ENOMEM. */
    int (*state_restore)(bp_ctx *ctx, const char *topic, int32_t partition, const char *ns,
                         const void *key, size_t key_len, const void *value, size_t len);
    /* In poll(), when a partition is revoked or lost: the host forgets its state once the
     * payloads added before this call are judged; changes those payloads make are never
     * handed to state_changes. */
    int (*state_drop)(bp_ctx *ctx, const char *topic, int32_t partition);

    /* -- rejected payloads (ABI 1.6; test with BP_HOST_HAS(host, add_rejected)) -- */
    /* Source poll only: appends a payload the source itself found unusable (a frame cut short,
     * too large, not the message type it takes); the host does not decode it: it becomes one
     * dead letter (route invalid, no resource index) whose invalid_reason is `reason` (copied,
     * required, one line: no CR or LF), with the payload and origin kept as for add_payload,
     * and it takes part in commit() like any payload (its record's BP_F_INVALID_REASON is
     * `reason`). It counts against batch_capacity() like any payload. Returns BP_OK, BP_EINVAL
     * (a NULL or empty reason, one with a line break, or what add_payload refuses) or
     * BP_ENOMEM. */
    int (*add_rejected)(bp_batch *batch, const void *data, size_t len, const bp_origin *origin,
                        const char *reason);
} bp_host;

/* True when the running host's table has `member`: its struct_size covers the member as this
 * header lays bp_host out. Every member from `log` to `count` is in ABI 1.0 and always there;
 * the keyed-state members (state_open to state_drop) were appended in ABI 1.5, add_rejected in
 * ABI 1.6, and a member appended after 1.0 is tested before it is called:
 *
 *     if (BP_HOST_HAS(host, add_rejected))
 *         host->add_rejected(batch, data, len, &origin, "frame cut short");
 *     else
 *         ... what the plugin does on a 1.0 to 1.5 host ...
 *
 * A plugin that cannot work without the member sets abi_minor to the minor that added it
 * instead, and older hosts refuse to load it. `host` is evaluated more than once. */
#define BP_HOST_HAS(host, member) \
    ((host) != NULL &&            \
     (size_t)(host)->struct_size >= offsetof(bp_host, member) + sizeof((host)->member))

/* ------------------------------------------------------------------------------------------ */
/* The descriptor                                                                              */
/* ------------------------------------------------------------------------------------------ */

typedef enum bp_kind {
    BP_KIND_SOURCE = 1,
    BP_KIND_DETECTOR = 2,
    BP_KIND_SINK = 3
} bp_kind;

/* What a plugin's entry symbol returns: a static, constant description. The stage functions a
 * kind does not use are NULL. `state` is whatever open() stored; the host passes it back and
 * never looks inside. */
typedef struct bp_plugin {
    uint32_t struct_size; /* sizeof(bp_plugin) as the plugin was built */
    uint16_t abi_major;   /* BP_ABI_MAJOR the plugin was built against */
    uint16_t abi_minor;   /* the lowest host minor the plugin needs (usually BP_ABI_MINOR) */
    const char *name;     /* must equal the file name without ".so", e.g. "sink-file": 1 to 64
                           * lower-case letters, digits, '-' and '_', starting with a letter
                           * or digit (the loader refuses any other) */
    const char *version;  /* the plugin's own version, e.g. "1.0.0" */
    bp_kind kind;
    const char *description;     /* one line */
    const bp_option *options;    /* may be NULL when n_options is 0 */
    size_t n_options;

    /* Called once per configured instance after its options validated. Store your state in
     * *state. `host` and `ctx` stay valid until close() returns. Return BP_OK, or BP_FATAL after
     * logging why (`bppipe check` calls open and close too, so open must not start consuming
     * or writing anything). */
    int (*open)(const bp_host *host, bp_ctx *ctx, void **state);
    /* Releases everything; called exactly once after a successful open, also on errors. */
    void (*close)(void *state);

    /* SOURCE: append up to batch_capacity() payloads with add_payload, waiting at most
     * timeout_ms for the first one. Return BP_OK (zero payloads is fine), BP_END when the
     * source is exhausted (payloads added in that same call are still processed), BP_RETRY or
     * BP_FATAL. A source that sets BP_CAP_POLL_APPENDS in caps may be called again for the
     * same batch while it is not full (batch_count() > 0 then): it appends to what it added
     * before, and the whole batch is one batch for commit(). Without the capability the host
     * polls once per batch. */
    int (*poll)(void *state, bp_batch *batch, int timeout_ms);
    /* SOURCE (may be NULL): every reading decoded from the payloads of `batch` (the batch the
     * source filled in poll) has been delivered to all its sinks or dead-lettered; positions up
     * to them may be committed. Called in poll order, once per polled batch, after every
     * earlier batch was committed. With BP_CAP_BATCH_COMMIT later batches may have been polled
     * already, so commit the positions of `batch` itself (its records' BP_F_SOURCE_*), not
     * those of the last poll; without it the host polls again only after this call. Every
     * payload the source added is in `batch`, also one that decoded into nothing but dead
     * letters or skipped resources. A payload's BP_F_INVALID_REASON there is the reason of the
     * first of its readings that became a dead letter (undecodable, invalid, implausible, or
     * refused by a sink), or the source's own reason for one it added with add_rejected (ABI
     * 1.6), NULL when every reading was delivered or skipped (a host older than this rule
     * answers NULL). */
    int (*commit)(void *state, const bp_batch *batch);

    /* DETECTOR: judge every reading of `batch` through flag/set_text/annotate_*. The batch
     * holds the readings of one polled batch that passed decoding and the plausibility gate
     * ([pipeline] plausible_*), in payload order, with the verdicts of the detectors before
     * this one ([detector.*] sections in file order). It never holds a dead letter (an
     * undecodable payload, invalid FHIR, an implausible value: route = invalid, whose
     * BP_F_INVALID_REASON is set) nor a skipped resource (valid FHIR that is not blood
     * pressure, a heart-rate Observation say: route = skipped); those reach their sinks
     * unjudged. (A reading a sink later refuses is dead-lettered after it was judged.) A
     * batch with no reading left is not passed in at all. Readings with a missing
     * value (NaN systolic or diastolic, see BP_F_SYSTOLIC) are still passed in. Return BP_OK,
     * BP_RETRY (the host backs off and calls detect() again on the same batch, with what this
     * and earlier calls set kept) or BP_FATAL. */
    int (*detect)(void *state, bp_batch *batch);

    /* SINK: make every record of `batch` durable before returning, reporting per-record
     * outcomes with set_outcome where they differ. On BP_RETRY the host calls write() again
     * later with only the records not yet delivered or rejected. Runs on the sink's delivery
     * thread (ABI 1.3): a slow or retrying write() holds back only this sink's records. */
    int (*write)(void *state, bp_batch *batch);
    /* SINK (may be NULL): push out anything buffered; called before close and on shutdown. */
    int (*flush)(void *state);

    /* --- ABI 1.1 (read only when struct_size covers it) --- */

    /* ANY KIND (may be NULL): re-read external files (profiles, lists) without a restart. The
     * host calls it between batches after SIGHUP. Return BP_OK, or BP_RETRY to keep the
     * previous configuration (log why first); the pipeline goes on either way. */
    int (*reload)(void *state);

    /* --- ABI 1.2 (read only when struct_size covers it) --- */

    /* What the plugin can do beyond the 1.0 contract: BP_CAP_* bits, 0 for none. */
    uint32_t caps;

    /* --- ABI 1.4 (read only when struct_size covers it) --- */

    /* ANY KIND (may be NULL): `bppipe check` (unless --offline) asks each instance, after
     * open(), whether the service it talks to answers, within `timeout_ms`, without consuming
     * or writing anything (source-kafka and sink-kafka: cluster metadata; sink-es: GET /).
     * Return BP_OK when it answers; BP_RETRY when it cannot be reached now; BP_FATAL when it
     * answers wrongly (credentials refused, not the expected service). Log why first, at
     * error level, naming the address and what to check. `run` never calls it: a run waits
     * for a service that is down. Called on the main thread, never during a stage call. */
    int (*probe)(void *state, int timeout_ms);

    /* --- ABI 1.7 (read only when struct_size covers it) --- */

    /* SOURCE (may be NULL): appends one message to the source's own input, at `partition` of
     * `topic` (a topic it reads), keyed by `key` (may be NULL), and returns once the message is
     * durable there (Kafka: acknowledged by every in-sync replica) or after timeout_ms. The
     * host sends what one process received for a partition another process may own (an alarm
     * acknowledgement, docs/alarms.md); the owner reads it back through poll() in order with
     * the rest. Return BP_OK (durable), BP_EINVAL (not a topic or partition of this input: the
     * host answers "not found"), BP_RETRY (not durable in time; it may still arrive, so what is
     * sent must be idempotent) or BP_FATAL. Called on the main thread, between stage calls,
     * never during one; `data`, `topic` and `key` are the host's until the call returns. */
    int (*send_input)(void *state, const char *topic, int32_t partition, const void *key,
                      size_t key_len, const void *data, size_t len, int timeout_ms);
} bp_plugin;

/* bp_plugin.caps bits. */
enum {
    /* SOURCE: poll() appends to a batch that already holds payloads (see poll). */
    BP_CAP_POLL_APPENDS = 1u << 0,
    /* SOURCE: its payloads are whole files (a patient's Bundle of several MB), not messages.
     * Unless [pipeline] max_payload_bytes is set, the host decodes payloads of up to 64 MiB
     * from it instead of the 1 MiB kept for message sources (Kafka's own message.max.bytes).
     * A host that predates the bit ignores it and keeps 1 MiB. */
    BP_CAP_WHOLE_FILES = 1u << 1,
    /* SOURCE (ABI 1.3): commit(batch) commits exactly the positions of `batch`, so the host may
     * poll further batches while earlier ones are still being delivered (each sink on its own
     * lane). Without it a source that has commit() gets one batch in flight at a time. A source
     * without commit() has no positions to keep and is always polled ahead. */
    BP_CAP_BATCH_COMMIT = 1u << 2,
    /* SOURCE (ABI 1.5): the source keeps the pipeline's keyed state with its positions: in
     * commit() it persists state_changes() before (or atomically with) the positions, on
     * assignment it restores with state_restore(), on revoke it calls state_drop(). The host
     * then writes no snapshot files. */
    BP_CAP_KEYED_STATE = 1u << 3,
    /* SINK or DETECTOR (ABI 1.8, docs/revisions.md): the plugin honours BP_F_REVISION. A sink
     * writes a "replace" over what it holds for the record's BP_F_LOGICAL_ID (never over a
     * newer BP_F_VERSION: a replay must not undo a correction) and removes or tombstones the
     * logical id on a "retract"; the same record delivered twice changes nothing. A detector
     * that keeps history (a patient's readings) replaces or removes the logical id's entry, and
     * receives "retract" records in detect() (verdict functions refuse them with BP_EINVAL).
     * A sink answers a "retract" of a logical id it never held as delivered: the host sends
     * one to every capable sink of route normal, anomaly, all or critical that does not get a
     * correction, since the old version may be there (docs/revisions.md, "Routing"). The bit
     * alone decides, whatever abi_minor a plugin asks for (a plugin needing only a 1.0 host may
     * set it; an older host ignores it). Without the bit a sink gets a correction as a new
     * record beside the old one and never a retraction, a detector never a retraction;
     * `bppipe check` says so for each such plugin. */
    BP_CAP_REVISIONS = 1u << 4
};

/* The signature of the entry symbol. */
typedef const bp_plugin *(*bp_entry_fn)(void);

/* Declares the entry symbol. Use once per plugin:  BP_PLUGIN(my_descriptor)  */
#define BP_PLUGIN(descriptor)                        \
    BP_EXPORT const bp_plugin *bppipe_plugin(void);  \
    BP_EXPORT const bp_plugin *bppipe_plugin(void) { return &(descriptor); }

#ifdef __cplusplus
}
#endif
#endif /* BPPIPE_PLUGIN_H */
