"""A webhook receiver for the alert tests: binds 127.0.0.1 on a free port, writes the port to
PORT_FILE, answers 500 to the first FAIL_FIRST requests, then 204, appending every accepted body
(one per line) to LOG_FILE. With DOWN_FILE, it also answers 503 while that file exists (a webhook
that is down for as long as a test wants). Stops after MAX_SECONDS whatever happens."""
import http.server
import os
import sys
import threading

port_file, log_file, fail_first, max_seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
down_file = sys.argv[5] if len(sys.argv) > 5 else None
seen = {"n": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        seen["n"] += 1
        if down_file and os.path.exists(down_file):
            self.send_response(503)
            self.end_headers()
            return
        if seen["n"] <= fail_first:
            self.send_response(500)
            self.end_headers()
            return
        with open(log_file, "ab") as f:
            f.write(body + b"\n")
        auth = self.headers.get("Authorization", "")
        with open(log_file + ".auth", "a") as f:
            f.write(auth + "\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file, "w") as f:
    f.write(str(server.server_address[1]))
threading.Timer(max_seconds, server.shutdown).start()
server.serve_forever()
