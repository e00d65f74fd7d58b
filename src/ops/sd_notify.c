#include "ops/sd_notify.h"

#include "base/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int bp_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t len = strlen(path);
    /* "/run/systemd/notify", or "@name" for an abstract socket (its first byte is NUL) */
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof addr.sun_path) {
        bp_log("core", BP_LOG_DEBUG, "NOTIFY_SOCKET is not a socket path; readiness not sent");
        return -1;
    }
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, alen);
    int err = errno;
    close(fd);
    if (n < 0) {
        bp_log("core", BP_LOG_DEBUG, "could not tell the service manager '%s': %s", state,
               strerror(err));
        return -1;
    }
    return 1;
}
