#!/usr/bin/python3
"""MLLP test client of tests/mllp: PCD-01 messages made up for the tests, and the ways of sending
them the tests need (one at a time waiting for each answer, many connections without waiting,
bad input). Answers are read as MLLP frames; each is reported as "CONTROL_ID CODE".

  gen N FILE [--first K] [--mode original|enhanced] [--pad BYTES]
  send PORT_FILE FILE ACKED [--skip ACKED_BEFORE]   one connection, wait for each answer
  pipeline PORT_FILE FILE STATUS --conns C           C connections, send without waiting
  bad PORT_FILE MAX_FRAME                             the bad-input sequence, one connection
  feed PORT_FILE SECONDS                              keep sending to whatever listens there now
"""
import socket
import sys
import threading
import time

SB, EB, CR = b"\x0b", b"\x1c", b"\r"


def message(i, mode, pad=0, patient=None):
    """ORU^R01 as an IHE PCD-01 gateway writes it: NIBP systolic, diastolic, mean and pulse in
    one channel (OBX-4 1.1.1.x), a filler order number and time of its own per message."""
    t = time.gmtime(1704067200 + i * 60)
    ts = time.strftime("%Y%m%d%H%M%S", t) + "+0000"
    acks = "" if mode == "original" else "|||AL|NE"
    pid = patient or "PAT%04d" % (i % 97)
    sys_v, dia_v = 110 + i % 60, 70 + i % 30
    note = ("NTE|1||" + "x" * pad + "\r") if pad else ""
    seg = [
        "MSH|^~\\&|GW^0800190000000001^EUI-64|WARD1|BPPIPE|HOSP|%s||ORU^R01^ORU_R01|M%06d|P|2.6%s"
        % (ts, i, acks),
        "PID|||%s^^^HOSP^MR||Doe^Jane" % pid,
        "PV1||I|ICU^1^%d" % (i % 20),
        "OBR|1|F%06d^GW|F%06d^GW|182777000^monitoring of patient^SCT|||%s" % (i, i, ts),
        "OBX|1|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.1.1.1|%d|266016^MDC_DIM_MMHG^MDC|||||F|||%s"
        % (sys_v, ts),
        "OBX|2|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.1.1.2|%d|266016^MDC_DIM_MMHG^MDC|||||F|||%s"
        % (dia_v, ts),
        "OBX|3|NM|150023^MDC_PRESS_BLD_NONINV_MEAN^MDC|1.1.1.3|%d|266016^MDC_DIM_MMHG^MDC|||||F|||%s"
        % ((sys_v + 2 * dia_v) // 3, ts),
        "OBX|4|NM|149546^MDC_PULS_RATE_NON_INV^MDC|1.1.1.4|%d|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F|||%s"
        % (60 + i % 40, ts),
    ]
    return ("\r".join(seg) + "\r" + note).encode()


def frame(m):
    return SB + m + EB + CR


class Answers:
    """Reads MLLP frames from a socket; next() gives (control id of MSA-2, MSA-1 code)."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def next(self):
        while True:
            end = self.buf.find(EB + CR)
            if end >= 0:
                start = self.buf.find(SB)
                body = self.buf[start + 1:end]
                self.buf = self.buf[end + 2:]
                for seg in body.split(CR):
                    if seg.startswith(b"MSA"):
                        f = seg.split(seg[3:4])
                        return (f[2].decode() if len(f) > 2 else ""), f[1].decode(), body
                return "", "??", body
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed")
            self.buf += data


def connect(port_file):
    host, port = open(port_file).read().strip().rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # an answer that never comes fails the test instead of hanging it (the backpressure test
    # waits up to 30 s of outage for its answers)
    s.settimeout(120)
    return s


def read_frames(path):
    data = open(path, "rb").read()
    return [p[p.find(SB) + 1:] for p in data.split(EB + CR) if SB in p]


def control_id(m):
    return m.split(b"\r", 1)[0].split(b"|")[9].decode()


def cmd_gen(args):
    n, path = int(args[0]), args[1]
    first = int(args[args.index("--first") + 1]) if "--first" in args else 0
    mode = args[args.index("--mode") + 1] if "--mode" in args else "original"
    pad = int(args[args.index("--pad") + 1]) if "--pad" in args else 0
    with open(path, "wb") as f:
        for i in range(first, first + n):
            f.write(frame(message(i, mode, pad)))


def cmd_send(args):
    port_file, path, acked = args[0], args[1], args[2]
    skip = set()
    if "--skip" in args:
        skip = {line.split()[0] for line in open(args[args.index("--skip") + 1]) if line.strip()}
    msgs = [m for m in read_frames(path) if control_id(m) not in skip]
    s = connect(port_file)
    answers = Answers(s)
    with open(acked, "a") as out:
        for m in msgs:
            s.sendall(frame(m))
            cid, code, _ = answers.next()
            out.write("%s %s\n" % (cid, code))
            out.flush()
    s.close()


def cmd_pipeline(args):
    port_file, path, status = args[0], args[1], args[2]
    conns = int(args[args.index("--conns") + 1]) if "--conns" in args else 1
    msgs = read_frames(path)
    state = {"sent": 0, "acked": 0, "codes": {}}
    lock = threading.Lock()

    def write_status():
        with open(status + ".tmp", "w") as f:
            f.write("%d %d %s\n" % (state["sent"], state["acked"],
                                    ",".join("%s=%d" % kv for kv in sorted(state["codes"].items()))))
        import os
        os.replace(status + ".tmp", status)

    def one(part):
        s = connect(port_file)
        answers = Answers(s)

        def reader():
            for _ in part:
                _, code, _ = answers.next()
                with lock:
                    state["acked"] += 1
                    state["codes"][code] = state["codes"].get(code, 0) + 1
                    write_status()

        r = threading.Thread(target=reader)
        r.start()
        for m in part:
            s.sendall(frame(m))
            with lock:
                state["sent"] += 1
                write_status()
        r.join()
        s.close()

    threads = [threading.Thread(target=one, args=(msgs[k::conns],)) for k in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    write_status()


def cmd_bad(args):
    """Each case on one connection, then a good message on the same connection: prints
    "CASE CODE ERR-TEXT" for each answer it reads."""
    port_file, max_frame = args[0], int(args[1])
    s = connect(port_file)
    answers = Answers(s)
    good = lambda i: frame(message(900000 + i, "original"))

    def expect(case, n=1):
        for _ in range(n):
            cid, code, body = answers.next()
            err = b""
            for seg in body.split(CR):
                if seg.startswith(b"ERR"):
                    err = seg.split(b"|")[-1]
            print("%s %s %s %s" % (case, code, cid or "-", err.decode(errors="replace")))
            sys.stdout.flush()

    # a frame cut short by the next start block, then a whole one
    cut = message(1, "original")
    s.sendall(SB + cut[:len(cut) // 2] + good(1))
    expect("cut", 2)
    # binary garbage between frames is skipped; the next frame is answered
    s.sendall(bytes(range(256)).replace(SB, b"") + good(2))
    expect("garbage")
    # an oversized frame: answered AR, and the connection goes on
    big = message(3, "original", pad=max_frame + 1000)
    s.sendall(frame(big) + good(4))
    expect("oversized", 2)
    # wrong delimiters: MSH-2 repeats the field separator
    s.sendall(frame(b"MSH||||A|B|C|D|2024||ORU^R01|WD1|P|2.6\rPID|||P\r") + good(5))
    expect("delimiters", 2)
    # not ORU^R01
    s.sendall(frame(b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|ADT1|P|2.6\rPID|||P\r") + good(6))
    expect("not_oru", 2)
    # an OBX without a value
    lines = message(7, "original").split(b"\r")
    lines = [b"|".join(l.split(b"|")[:5] + [b""] + l.split(b"|")[6:])
             if l.startswith(b"OBX|1|") else l for l in lines]
    s.sendall(frame(b"\r".join(lines)) + good(8))
    expect("obx_no_value", 2)
    # not HL7 at all inside a frame
    s.sendall(frame(b'{"resourceType":"Observation"}') + good(9))
    expect("not_hl7", 2)
    # a frame without its end block, then the connection closes: no answer can come
    s.sendall(SB + message(10, "original"))
    s.shutdown(socket.SHUT_WR)
    expect("no_end_block")
    s.close()


def cmd_feed(args):
    """For bppipe conform, which opens and closes the source many times: sends messages one at a
    time to the address in the port file, reconnecting whenever it changes or fails, until the
    time is up."""
    port_file, until = args[0], time.time() + float(args[1])
    i = 0
    while time.time() < until:
        try:
            s = connect(port_file)
            s.settimeout(2)
            answers = Answers(s)
            while time.time() < until:
                s.sendall(frame(message(i, "original")))
                i += 1
                answers.next()
        except (OSError, ValueError, ConnectionError):
            time.sleep(0.05)


if __name__ == "__main__":
    {"gen": cmd_gen, "send": cmd_send, "pipeline": cmd_pipeline, "bad": cmd_bad,
     "feed": cmd_feed}[sys.argv[1]](
        sys.argv[2:])
