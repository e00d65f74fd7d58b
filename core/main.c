/* bppipe: the command line. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "bppipe/plugin.h"

static void usage(FILE *out)
{
    fputs("bppipe - real-time blood-pressure monitoring pipeline\n\n"
          "usage:\n"
          "  bppipe run FILE [-o SECTION.KEY=VALUE]... [--max-records N] [--duration S]\n"
          "  bppipe check FILE [-o SECTION.KEY=VALUE]...\n"
          "  bppipe plugins [NAME]\n"
          "  bppipe train --out FILE [--features basic|clinical] [--data FILE.csv] ...\n"
          "  bppipe broker [--topic NAME[:PARTITIONS]]... [--bootstrap-file PATH]\n"
          "  bppipe version\n\n"
          "commands:\n"
          "  run       run a pipeline (FHIR readings in, judged readings out by route)\n"
          "  check     validate a pipeline and its plugins without running it\n"
          "  plugins   list the plugins found, or show one plugin's options\n"
          "  train     fit the logistic-regression model of detector-logreg\n"
          "  broker    run an in-memory Kafka broker on 127.0.0.1 (development only)\n"
          "  version   print the version and plugin ABI\n\n"
          "'bppipe COMMAND --help' describes a command. Exit status: 0 ok, 1 runtime failure,\n"
          "2 usage or configuration error.\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("bppipe %s (plugin ABI %d.%d)\n", BPPIPE_VERSION, BP_ABI_MAJOR, BP_ABI_MINOR);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return bp_cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return bp_cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "plugins") == 0)
        return bp_cmd_plugins(argc - 1, argv + 1);
    if (strcmp(cmd, "train") == 0)
        return bp_cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "broker") == 0)
        return bp_cmd_broker(argc - 1, argv + 1);
    fprintf(stderr, "error: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
