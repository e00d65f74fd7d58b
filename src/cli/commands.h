/* The subcommands of the bppipe executable. Each returns the process exit status:
 * 0 ok, 1 runtime failure, 2 usage or configuration error. */
#ifndef BPPIPE_COMMANDS_H
#define BPPIPE_COMMANDS_H

int bp_cmd_run(int argc, char **argv);
int bp_cmd_check(int argc, char **argv);
/* Declarative pipeline tests (docs/testing.md): 0 all passed, 1 one failed, 2 a broken file. */
int bp_cmd_test(int argc, char **argv);
int bp_cmd_plugins(int argc, char **argv);
/* The conformance kit (docs/conform.md): 0 every check passed, 1 one failed, 2 usage. */
int bp_cmd_conform(int argc, char **argv);
int bp_cmd_train(int argc, char **argv);
/* In-memory development Kafka broker (librdkafka mock cluster); runs until SIGINT/SIGTERM. */
int bp_cmd_broker(int argc, char **argv);
/* `bppipe alarms replay`: an archive through two alarm configurations (docs/alarms.md). */
int bp_cmd_alarms(int argc, char **argv);

#endif
