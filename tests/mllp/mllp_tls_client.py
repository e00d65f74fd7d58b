#!/usr/bin/python3
"""TLS clients of tests/mllp/mllp_tls.sh, on Python's ssl module (not bppipe's code): MLLP frames
inside TLS, each answer reported as "CONTROL_ID CODE"; a connection the listener refuses is
reported as "refused: REASON" (exit status 3).

  send PORT_FILE FILE CA [--cert CERT --key KEY]     one connection, wait for each answer
  pipelined PORT_FILE FILE CA [--fat BYTES]          send all without reading (a small receive
                                                     buffer, answers of BYTES more each: the
                                                     listener's writes must wait), then read
                                                     every answer
  plain PORT_FILE FILE                               MLLP without TLS on the TLS port: prints
                                                     "answered" or "closed without an answer"
  stall PORT_FILE                                    connect, send nothing; prints "closed by the
                                                     listener" once it closes (the idle timeout)
"""
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mllp_tool import Answers, frame, read_frames  # noqa: E402


def address(port_file):
    host, port = open(port_file).read().strip().rsplit(":", 1)
    return host, int(port)


def tls_connect(port_file, ca, cert=None, key=None, rcvbuf=None):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    raw.settimeout(60)
    raw.connect(address(port_file))
    # the server's certificate is checked too: issued by CA, for 127.0.0.1
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def opt(args, name):
    return args[args.index(name) + 1] if name in args else None


def cmd_send(args):
    port_file, path, ca = args[0], args[1], args[2]
    try:
        s = tls_connect(port_file, ca, opt(args, "--cert"), opt(args, "--key"))
        answers = Answers(s)
        for m in read_frames(path):
            s.sendall(frame(m))
            cid, code, _ = answers.next()
            print(cid, code, flush=True)
        s.close()
    except (OSError, ConnectionError) as e:  # ssl.SSLError is an OSError
        print("refused:", e, flush=True)
        sys.exit(3)


def cmd_pipelined(args):
    port_file, path, ca = args[0], args[1], args[2]
    s = tls_connect(port_file, ca, rcvbuf=4096)
    # MSH-5 (receiving application) grown by --fat bytes comes back in each answer's MSH-3: more
    # answers than the sockets' buffers hold (up to 4 MiB), so the listener's writes must wait
    fat = b"x" * int(opt(args, "--fat") or 0)
    msgs = [m.replace(b"|BPPIPE|", b"|BPPIPE^" + fat + b"|", 1) for m in read_frames(path)]
    # one TLS object is not for two threads at once: everything is sent first, then read
    s.sendall(b"".join(frame(m) for m in msgs))
    answers = Answers(s)
    for _ in msgs:
        cid, code, _ = answers.next()
        print(cid, code, flush=True)
    s.close()


def cmd_plain(args):
    port_file, path = args[0], args[1]
    s = socket.create_connection(address(port_file), timeout=60)
    got = b""
    try:
        s.sendall(b"".join(frame(m) for m in read_frames(path)))
        while True:
            data = s.recv(65536)
            if not data:
                break
            got += data
    except ConnectionError:
        pass
    print("answered" if b"MSA" in got else "closed without an answer", flush=True)


def cmd_stall(args):
    s = socket.create_connection(address(args[0]), timeout=120)
    try:
        data = s.recv(1)
    except ConnectionError:
        data = b""
    print("closed by the listener" if not data else "got bytes", flush=True)


if __name__ == "__main__":
    {"send": cmd_send, "pipelined": cmd_pipelined, "plain": cmd_plain,
     "stall": cmd_stall}[sys.argv[1]](sys.argv[2:])
