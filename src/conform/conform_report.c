/* What a check says and how a check's process talks to the kit that runs it (src/cli/
 * cmd_conform.c forks one process per check): the check's one line, progress lines on the pipe,
 * and the kit's sleep. Kept here, below the command, so the checks never call up into the CLI. */
#include "conform/conform.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

cf_status cf_say(cf_out *out, cf_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->msg, sizeof out->msg, fmt, ap);
    va_end(ap);
    return status;
}

static int report_fd = -1; /* a check's process: its end of the pipe to the kit */

void cf_report_to(int fd)
{
    report_fd = fd;
}

void cf_progress(const char *fmt, ...)
{
    if (report_fd < 0)
        return;
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    for (char *c = line; *c; c++)
        if (*c == '\n')
            *c = ' ';
    dprintf(report_fd, "P%s\n", line);
}

void cf_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
