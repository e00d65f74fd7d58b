#!/usr/bin/python3
"""Prints 1 when the TCP socket process PID listens with on PORT has TCP_NODELAY set, 0 when it
has not. The socket is borrowed with pidfd_getfd(2) (root, or a ptrace-capable user), since a
process's socket options cannot be read from outside it otherwise. Exits 2 with the reason when
there is no such socket or it cannot be borrowed."""
import ctypes
import os
import socket
import sys

SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture
LIBC = ctypes.CDLL(None, use_errno=True)


def borrow(pidfd, fd):
    got = LIBC.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
    if got < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return got


def main():
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    pidfd = os.pidfd_open(pid)
    try:
        return find(pid, port, pidfd)
    finally:
        os.close(pidfd)


def find(pid, port, pidfd):
    for name in os.listdir("/proc/%d/fd" % pid):
        try:
            if not os.readlink("/proc/%d/fd/%s" % (pid, name)).startswith("socket:"):
                continue
        except OSError:
            continue
        sock = socket.socket(fileno=borrow(pidfd, int(name)))
        try:
            if (sock.family == socket.AF_INET and sock.type == socket.SOCK_STREAM and
                    sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) and
                    sock.getsockname()[1] == port):
                print(1 if sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) else 0)
                return 0
        finally:
            sock.close()
    print("no socket of process %d listens on port %d" % (pid, port), file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as e:
        print("cannot read the socket's options: %s" % e, file=sys.stderr)
        sys.exit(2)
