"""A tiny MLLP listener for bppipe-monitor's test, built on python3-hl7's MLLP streams (not our
code): it parses every message with python3-hl7 and answers with the ACK python3-hl7 builds.

    ack_server.py PORT_FILE LOG_FILE [--code AA|AE|AR] [--silent-first N] [--close-first N]
                  [--delay-ms MS]

--silent-first N leaves the first N messages unanswered (the monitor must time out and send them
again); --close-first N closes the connection instead of answering the first N; --delay-ms waits
before each ACK. LOG_FILE gets one line per message: control id, MSH-9, PID-3.1, systolic.
"""
import argparse
import asyncio
import signal

import hl7
from hl7.mllp import start_hl7_server

ap = argparse.ArgumentParser()
ap.add_argument("port_file")
ap.add_argument("log_file")
ap.add_argument("--code", default="AA")
ap.add_argument("--silent-first", type=int, default=0)
ap.add_argument("--close-first", type=int, default=0)
ap.add_argument("--delay-ms", type=int, default=0)
args = ap.parse_args()
seen = {"n": 0}
log = open(args.log_file, "w", buffering=1)


def systolic(msg):
    """OBX-5 of the 150021 row; "-" when a (deliberately broken) message has none."""
    try:
        for obx in msg.segments("OBX"):
            if str(obx(3)(1)(1)) == "150021":
                return str(obx[5]) or "-"
    except (KeyError, IndexError, TypeError):
        pass
    return "-"


def patient(msg):
    """PID-3.1; "-" when a (deliberately broken) message has none."""
    try:
        return str(msg.segment("PID")(3)(1)(1)) or "-"
    except (KeyError, IndexError, TypeError):
        return "-"


async def handle(reader, writer):
    try:
        while not writer.is_closing():
            msg = await reader.readmessage()
            seen["n"] += 1
            n = seen["n"]
            log.write("%s %s %s %s\n" % (msg.segment("MSH")[10], msg.segment("MSH")[9],
                                         patient(msg), systolic(msg)))
            if n <= args.close_first:
                writer.close()
                return
            if n <= args.close_first + args.silent_first:
                continue
            if args.delay_ms:
                await asyncio.sleep(args.delay_ms / 1000)
            writer.writemessage(msg.create_ack(ack_code=args.code))
            await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        if not writer.is_closing():
            writer.close()


async def main():
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    async with await start_hl7_server(handle, host="127.0.0.1", port=0) as server:
        port = server.sockets[0].getsockname()[1]
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
        await stop.wait()


asyncio.run(main())
