#include "alarm/users.h"

#include "common/io.h"
#include "common/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct bp_user {
    char name[BP_USERS_MAX_NAME + 1];
    uint8_t digest[32]; /* SHA-256 of the token: the token itself is never kept */
} bp_user;

struct bp_users {
    bp_user *items;
    size_t n, cap;
};

/* Opens the file without following a link and checks what the descriptor is, so the file read
 * is the file checked. Returns the descriptor, or -1 with err set. */
static int open_checked(const char *path, char *err, size_t err_len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP)
            snprintf(err, err_len,
                     "users_file = %s is a symbolic link; name the file itself (a regular file, "
                     "chmod 600 %s)",
                     path, path);
        else
            snprintf(err, err_len,
                     "users_file = %s cannot be opened (%s); it holds one `NAME TOKEN` line per "
                     "user and must be readable by its owner only (chmod 600 %s)",
                     path, strerror(errno), path);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, err_len, "users_file = %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    const char *why = NULL;
    char buf[160];
    if (!S_ISREG(st.st_mode))
        why = "is not a regular file";
    else if (st.st_uid != geteuid()) {
        snprintf(buf, sizeof buf,
                 "is owned by uid %u, not by the user bppipe runs as (uid %u): chown it to that "
                 "user, then",
                 (unsigned)st.st_uid, (unsigned)geteuid());
        why = buf;
    } else if ((st.st_mode & 0777) != 0600 && (st.st_mode & 0777) != 0400) {
        snprintf(buf, sizeof buf, "has mode %04o: its tokens must be readable by its owner only;",
                 (unsigned)(st.st_mode & 0777));
        why = buf;
    } else if (st.st_size > BP_USERS_MAX_BYTES)
        why = "is larger than 1 MiB, which no users file is;";
    if (why) {
        snprintf(err, err_len, "users_file = %s %s chmod 600 %s", path, why, path);
        close(fd);
        return -1;
    }
    return fd;
}

int bp_users_check_file(const char *path, char *err, size_t err_len)
{
    int fd = open_checked(path, err, err_len);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '@' || c == '-';
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Digests compared in full: the time does not depend on where they differ. */
static bool same_digest(const uint8_t *a, const uint8_t *b)
{
    unsigned diff = 0;
    for (size_t i = 0; i < 32; i++)
        diff |= (unsigned)(a[i] ^ b[i]);
    return diff == 0;
}

/* One line (without its '\n'): 0 when it is blank or a comment, 1 when it gave a user (in
 * *out), -1 with err set when it is malformed. */
static int parse_line(const char *path, int line_no, char *line, size_t len, bp_user *out,
                      char *err, size_t err_len)
{
    size_t i = 0;
    while (i < len && blank(line[i]))
        i++;
    if (i == len || line[i] == '#')
        return 0;
    size_t name_at = i;
    while (i < len && !blank(line[i]))
        i++;
    size_t name_len = i - name_at;
    while (i < len && blank(line[i]))
        i++;
    size_t token_at = i;
    while (i < len && !blank(line[i]))
        i++;
    size_t token_len = i - token_at;
    while (i < len && blank(line[i]))
        i++;
    if (token_len == 0 || i != len) {
        snprintf(err, err_len,
                 "users_file = %s line %d: expected `NAME TOKEN` (two words, nothing else)", path,
                 line_no);
        return -1;
    }
    if (name_len > BP_USERS_MAX_NAME) {
        snprintf(err, err_len, "users_file = %s line %d: the name is longer than %d characters",
                 path, line_no, BP_USERS_MAX_NAME);
        return -1;
    }
    for (size_t k = 0; k < name_len; k++) {
        if (!name_char(line[name_at + k])) {
            snprintf(err, err_len,
                     "users_file = %s line %d: a name holds letters, digits and . _ @ - only", path,
                     line_no);
            return -1;
        }
    }
    if (token_len < BP_USERS_MIN_TOKEN) {
        snprintf(err, err_len,
                 "users_file = %s line %d: the token is shorter than %d characters; make a "
                 "longer one (e.g. `openssl rand -hex 16`)",
                 path, line_no, BP_USERS_MIN_TOKEN);
        return -1;
    }
    memcpy(out->name, line + name_at, name_len);
    out->name[name_len] = '\0';
    bp_sha256(line + token_at, token_len, out->digest);
    return 1;
}

static int add_user(bp_users *u, const bp_user *user, const char *path, int line_no, char *err,
                    size_t err_len)
{
    for (size_t k = 0; k < u->n; k++) {
        bool same_name = strcmp(u->items[k].name, user->name) == 0;
        if (same_name || same_digest(u->items[k].digest, user->digest)) {
            snprintf(err, err_len,
                     "users_file = %s line %d: %s given twice; every user needs a name and a "
                     "token of their own",
                     path, line_no, same_name ? "this name is" : "this token is");
            return -1;
        }
    }
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 8;
        bp_user *grown = realloc(u->items, cap * sizeof *grown);
        if (!grown) {
            snprintf(err, err_len, "users_file = %s: out of memory", path);
            return -1;
        }
        u->items = grown;
        u->cap = cap;
    }
    u->items[u->n++] = *user;
    return 0;
}

bp_users *bp_users_load(const char *path, char *err, size_t err_len)
{
    int fd = open_checked(path, err, err_len);
    if (fd < 0)
        return NULL;
    char *text = malloc(BP_USERS_MAX_BYTES + 1);
    bp_users *u = calloc(1, sizeof *u);
    ssize_t got = text && u ? bp_read_full(fd, text, BP_USERS_MAX_BYTES + 1) : -1;
    close(fd);
    if (got < 0 || got > BP_USERS_MAX_BYTES) {
        snprintf(err, err_len, "users_file = %s could not be read (%s)", path,
                 got < 0 ? (text && u ? strerror(errno) : "out of memory") : "over 1 MiB");
        free(text);
        free(u);
        return NULL;
    }
    int line_no = 0, rc = 0;
    for (size_t at = 0; at < (size_t)got && rc == 0;) {
        char *nl = memchr(text + at, '\n', (size_t)got - at);
        size_t len = nl ? (size_t)(nl - (text + at)) : (size_t)got - at;
        bp_user user;
        line_no++;
        int r = parse_line(path, line_no, text + at, len, &user, err, err_len);
        if (r < 0 || (r == 1 && add_user(u, &user, path, line_no, err, err_len) != 0))
            rc = -1;
        at += len + 1;
    }
    /* The tokens were in this buffer: wipe it before it goes back to the allocator. */
    memset(text, 0, (size_t)got);
    free(text);
    if (rc == 0 && u->n == 0) {
        snprintf(err, err_len,
                 "users_file = %s names no user: add one `NAME TOKEN` line per person who may "
                 "acknowledge alarms",
                 path);
        rc = -1;
    }
    if (rc != 0) {
        bp_users_free(u);
        return NULL;
    }
    return u;
}

const char *bp_users_find(const bp_users *u, const char *token, size_t len)
{
    if (!u || !token)
        return NULL;
    uint8_t digest[32];
    bp_sha256(token, len, digest);
    const char *found = NULL;
    /* Every user is compared; which one matched changes nothing of the work done. */
    for (size_t k = 0; k < u->n; k++) {
        bool same = same_digest(u->items[k].digest, digest);
        found = same ? u->items[k].name : found;
    }
    return found;
}

size_t bp_users_count(const bp_users *u)
{
    return u ? u->n : 0;
}

void bp_users_free(bp_users *u)
{
    if (!u)
        return;
    free(u->items);
    free(u);
}
