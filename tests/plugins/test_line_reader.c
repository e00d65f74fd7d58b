/* source-file's line reader: long lines, CRLF, no final newline, and a quiet pipe that must
 * not block longer than asked. */
#include "check.h"
#include "line_reader.h"

#include <stdlib.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    bp_lines r;
    bp_lines_init(&r, fds[0]);
    const char *line;
    size_t len;
    /* nothing written yet: returns after the timeout, not later */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(bp_lines_next(&r, 50, &line, &len) == BP_LINE_WAIT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(waited >= 0.04 && waited < 1.0);

    /* a line far longer than the buffer, a CRLF line, an empty line, a last line without \n */
    size_t big = 300000;
    char *data = malloc(big + 64);
    memset(data, 'x', big);
    memcpy(data + big, "\nab\r\n\nlast", 10);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        ssize_t w = write(fds[1], data, big + 10);
        _exit(w == (ssize_t)(big + 10) ? 0 : 1);
    }
    close(fds[1]);
    int rc;
    while ((rc = bp_lines_next(&r, 1000, &line, &len)) == BP_LINE_WAIT)
        ;
    CHECK(rc == BP_LINE_OK && len == big && line[0] == 'x' && line[big - 1] == 'x');
    while ((rc = bp_lines_next(&r, 1000, &line, &len)) == BP_LINE_WAIT)
        ;
    CHECK(rc == BP_LINE_OK && len == 2 && memcmp(line, "ab", 2) == 0);
    while ((rc = bp_lines_next(&r, 1000, &line, &len)) == BP_LINE_WAIT)
        ;
    CHECK(rc == BP_LINE_OK && len == 0);
    while ((rc = bp_lines_next(&r, 1000, &line, &len)) == BP_LINE_WAIT)
        ;
    CHECK(rc == BP_LINE_OK && len == 4 && memcmp(line, "last", 4) == 0);
    while ((rc = bp_lines_next(&r, 1000, &line, &len)) == BP_LINE_WAIT)
        ;
    CHECK(rc == BP_LINE_EOF);
    int status = 1;
    waitpid(pid, &status, 0);
    CHECK(status == 0);
    bp_lines_free(&r);
    close(fds[0]);
    free(data);
    return CHECK_DONE();
}
