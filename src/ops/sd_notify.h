/* systemd's readiness protocol without libsystemd: when the service manager set NOTIFY_SOCKET
 * (Type=notify), one datagram per state change ("READY=1", "STOPPING=1", "STATUS=..."). Without
 * it nothing happens. See sd_notify(3) for the protocol. */
#ifndef BPPIPE_SD_NOTIFY_H
#define BPPIPE_SD_NOTIFY_H

/* Sends `state` to $NOTIFY_SOCKET. Returns 1 when sent, 0 when there is no socket to tell,
 * -1 when sending failed (logged at debug: readiness is a courtesy, never a reason to stop). */
int bp_sd_notify(const char *state);

#endif
