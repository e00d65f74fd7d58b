/* bppipe: the command line. */
#include "base/log.h"
#include "cli/commands.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bppipe/plugin.h"

static void usage(FILE *out)
{
    fputs("bppipe - real-time blood-pressure monitoring pipeline\n\n"
          "usage:\n"
          "  bppipe run FILE [-o SECTION.KEY=VALUE]... [-u SECTION[.KEY]]... [--max-records N]\n"
          "             [--duration S]\n"
          "  bppipe check FILE [-o SECTION.KEY=VALUE]... [-u SECTION[.KEY]]...\n"
          "  bppipe test FILE... [-o SECTION.KEY=VALUE]... [-u SECTION[.KEY]]...\n"
          "  bppipe plugins [NAME]\n"
          "  bppipe conform NAME|PATH.so [-o KEY=VALUE]... [--timeout S] [--cycles N]\n"
          "  bppipe train --out FILE [--model logreg|gbtree] [--features ...] [--data FILE] ...\n"
          "  bppipe broker [--topic NAME[:PARTITIONS]]... [--bootstrap-file PATH]\n"
          "  bppipe alarms replay FILE --against KEY=VALUE... [--input FILE|DIR|-] ...\n"
          "  bppipe version\n"
          "  bppipe help [COMMAND]\n\n"
          "commands:\n"
          "  run       run a pipeline (FHIR readings in, judged readings out by route)\n"
          "  check     validate a pipeline and its plugins without running it\n"
          "  test      run declarative pipeline tests: input file in, expectations about\n"
          "            the documents each sink receives (docs/testing.md)\n"
          "  plugins   list the plugins found, or show one plugin's options\n"
          "  conform   run the plugin contract against one plugin, each check in a child\n"
          "            process (docs/conform.md)\n"
          "  train     fit the logistic-regression model of detector-logreg, or with --model\n"
          "            gbtree XGBoost trees for detector-xgboost (docs/model.md)\n"
          "  broker    run an in-memory Kafka broker on 127.0.0.1 (development only; the\n"
          "            helper bppipe-broker, in the bppipe-kafka package)\n"
          "  alarms    'alarms replay': an archive through two alarm configurations, their\n"
          "            burdens side by side (docs/alarms.md)\n"
          "  version   print the version and plugin ABI\n\n"
          "'bppipe help COMMAND' or 'bppipe COMMAND --help' describes a command. Exit status:\n"
          "0 ok, 1 runtime failure, 2 usage or configuration error.\n",
          out);
}

static int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        puts("usage: bppipe version\n\nPrints the version of bppipe and the plugin ABI it "
             "speaks (MAJOR.MINOR):\nplugins built for the same major and at most this minor "
             "load.");
        return 0;
    }
    printf("bppipe %s (plugin ABI %d.%d)\n", BPPIPE_VERSION, BP_ABI_MAJOR, BP_ABI_MINOR);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    {"run", bp_cmd_run},         {"check", bp_cmd_check},   {"test", bp_cmd_test},
    {"plugins", bp_cmd_plugins}, {"train", bp_cmd_train},   {"broker", bp_cmd_broker},
    {"conform", bp_cmd_conform}, {"alarms", bp_cmd_alarms}, {"version", cmd_version},
};

static int (*find_command(const char *name))(int, char **)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].fn;
    return NULL;
}

/* `bppipe help COMMAND` is `bppipe COMMAND --help`. */
static int help(int argc, char **argv)
{
    if (argc < 3) {
        usage(stdout);
        return 0;
    }
    int (*fn)(int, char **) = find_command(argv[2]);
    if (!fn || argc > 3) {
        fprintf(stderr, "error: %s (usage: bppipe help [COMMAND])\n\n",
                fn ? "one command at a time" : "no such command");
        usage(stderr);
        return 2;
    }
    char flag[] = "--help";
    char *args[] = {argv[2], flag, NULL};
    return fn(2, args);
}

/* glibc's malloc, bounded for a pipeline's memory (docs/kafka.md, "The ward's memory"):
 * - each thread that allocates gets an arena of its own, up to 8 per core (the main thread, the
 *   decode thread, each lane, librdkafka's threads): one here, shared by every thread (2 held
 *   the ward's peak 1-5 MiB higher, at the same speed: docs/kafka.md);
 * - a block of at least BP_MALLOC_MMAP_THRESHOLD is mapped on its own and unmapped when freed.
 *   glibc raises that threshold to the size of any mapped block freed (up to 32 MiB), after
 *   which the batches' arena chunks and librdkafka's fetch buffers (256 KiB to 4 MiB) are
 *   carved out of the heaps, and the holes they leave stay resident; a fixed threshold keeps
 *   them out of the heaps (the ward's peak RSS 56-57 MiB -> 45-53 MiB, for about 3-4 CPU us
 *   a reading: one mapping per such block).
 * A site that sets MALLOC_ARENA_MAX / MALLOC_MMAP_THRESHOLD_ or the same glibc.malloc tunables
 * in GLIBC_TUNABLES keeps its own. */
#define BP_MALLOC_ARENAS 1
#define BP_MALLOC_MMAP_THRESHOLD (256 * 1024)

static void bound_malloc(void)
{
#if defined(M_ARENA_MAX) && defined(M_MMAP_THRESHOLD)
    const char *tunables = getenv("GLIBC_TUNABLES");
    if (!getenv("MALLOC_ARENA_MAX") && !(tunables && strstr(tunables, "glibc.malloc.arena_max")))
        mallopt(M_ARENA_MAX, BP_MALLOC_ARENAS);
    if (!getenv("MALLOC_MMAP_THRESHOLD_") &&
        !(tunables && strstr(tunables, "glibc.malloc.mmap_threshold")))
        mallopt(M_MMAP_THRESHOLD, BP_MALLOC_MMAP_THRESHOLD);
#endif
}

int main(int argc, char **argv)
{
    bound_malloc();
    bp_log_format_from_env();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "help") == 0)
        return help(argc, argv);
    if (strcmp(cmd, "--version") == 0)
        cmd = "version";
    int (*fn)(int, char **) = find_command(cmd);
    if (fn)
        return fn(argc - 1, argv + 1);
    fprintf(stderr, "error: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
