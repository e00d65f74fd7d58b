#include "alarm/audit.h"

#include "common/io.h"
#include "common/json_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bp_audit {
    int fd;
    pthread_mutex_t mu; /* one line at a time, and its fsync, per request */
};

/* Why the open file `fd` may not hold the audit (NULL: it may); buf holds the longer reasons. */
static const char *refusal(int fd, char *buf, size_t size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return strerror(errno);
    if (!S_ISREG(st.st_mode))
        return "is not a regular file;";
    if (st.st_uid != geteuid()) {
        snprintf(buf, size,
                 "is owned by uid %u, not by the user bppipe runs as (uid %u): chown it, then",
                 (unsigned)st.st_uid, (unsigned)geteuid());
        return buf;
    }
    if (st.st_mode & 077) {
        snprintf(buf, size,
                 "has mode %04o: it names who acknowledged which patient's alarm, so only its "
                 "owner may read it;",
                 (unsigned)(st.st_mode & 0777));
        return buf;
    }
    return NULL;
}

int bp_audit_check_path(const char *path, char *err, size_t err_len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        char buf[160];
        const char *why = refusal(fd, buf, sizeof buf);
        close(fd);
        if (why)
            snprintf(err, err_len, "audit_file = %s %s chmod 600 %s", path, why, path);
        return why ? -1 : 0;
    }
    if (errno == ELOOP) {
        snprintf(err, err_len, "audit_file = %s is a symbolic link; name the file itself", path);
        return -1;
    }
    if (errno != ENOENT) {
        snprintf(err, err_len, "audit_file = %s cannot be opened (%s)", path, strerror(errno));
        return -1;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
             slash ? path : ".");
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_len,
                 "audit_file = %s: its folder %s does not exist; create it (bppipe creates the "
                 "file itself, mode 0600)",
                 path, dir);
        return -1;
    }
    return 0;
}

bp_audit *bp_audit_open(const char *path, char *err, size_t err_len)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == ELOOP)
            snprintf(err, err_len, "audit_file = %s is a symbolic link; name the file itself",
                     path);
        else
            snprintf(err, err_len,
                     "audit_file = %s cannot be opened for appending (%s); name a file in a "
                     "folder bppipe may write",
                     path, strerror(errno));
        return NULL;
    }
    char buf[160];
    const char *why = refusal(fd, buf, sizeof buf);
    bp_audit *a = why ? NULL : calloc(1, sizeof *a);
    if (!a) {
        if (why)
            snprintf(err, err_len, "audit_file = %s %s chmod 600 %s", path, why, path);
        else
            snprintf(err, err_len, "audit_file = %s: out of memory", path);
        close(fd);
        return NULL;
    }
    /* The file is on disk with its name before the first line depends on it. */
    int dir_fd = -1;
    const char *slash = strrchr(path, '/');
    if (slash) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path) + (slash == path), path);
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else
        dir_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        fsync(dir_fd);
        close(dir_fd);
    }
    a->fd = fd;
    pthread_mutex_init(&a->mu, NULL);
    return a;
}

static void json_or_null(bp_buf *b, const char *s)
{
    if (s)
        bp_buf_json_string(b, s, strlen(s));
    else
        bp_buf_puts(b, "null");
}

size_t bp_audit_format(const bp_audit_entry *e, char *out, size_t size)
{
    bp_buf b;
    bp_buf_init(&b);
    bp_buf_puts(&b, "{\"time\":\"");
    bp_buf_iso_time(&b, (long long)e->time_ms);
    bp_buf_puts(&b, "\",\"user\":");
    json_or_null(&b, e->user);
    bp_buf_puts(&b, ",\"alarm_id\":");
    json_or_null(&b, e->alarm_id);
    bp_buf_puts(&b, ",\"remote\":");
    json_or_null(&b, e->remote);
    bp_buf_puts(&b, ",\"outcome\":");
    json_or_null(&b, e->outcome);
    bp_buf_puts(&b, "}\n");
    size_t n = b.failed || b.len >= size ? 0 : b.len;
    if (n)
        memcpy(out, b.data, n);
    bp_buf_free(&b);
    return n;
}

int bp_audit_append(bp_audit *a, const bp_audit_entry *e)
{
    char line[2048];
    size_t n = bp_audit_format(e, line, sizeof line);
    if (!a || n == 0) {
        errno = a ? EMSGSIZE : EINVAL;
        return -1;
    }
    pthread_mutex_lock(&a->mu);
    /* One write of the whole line with O_APPEND: lines of two writers never interleave. */
    int rc = bp_write_all(a->fd, line, n) == 0 && fsync(a->fd) == 0 ? 0 : -1;
    int saved = errno;
    pthread_mutex_unlock(&a->mu);
    errno = saved;
    return rc;
}

void bp_audit_close(bp_audit *a)
{
    if (!a)
        return;
    close(a->fd);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
