#!/usr/bin/env python3
"""A small Elasticsearch 8 emulator for bppipe's tests (standard library only).

It answers the part of the REST API that sink-es and the tests use, with the response shapes
and error types of a real 8.x node (see the REST spec and samples the project keeps beside the
repository): GET / (info, X-Elastic-Product header), _bulk (NDJSON with per-item results, 409 on
a duplicate create, external versions on index and delete with their 409s, deletes with 404
not_found and tombstones kept for index.gc_deletes, the request-level errors of a malformed
body), _count, a minimal _search,
_refresh, composable index templates (their mappings are applied to new indices, including
"dynamic": "strict" and numeric/date/boolean type checks; under "dynamic": true new fields are
mapped by the dynamic_templates or the default dynamic mapping, and GET <index>/_mapping shows
them) and ILM policies.

It is not a search engine: documents live in memory, queries are match_all / term / terms /
range on top-level fields.

Faults for the tests, set on the command line or at run time with
POST /_emulator/faults {"item_429": N, ...} (GET /_emulator/stats reads the counters):
  item_429 N      the next N bulk items fail with 429 es_rejected_execution_exception
  item_429_every K  from now on every K-th create/index item (counted over all requests, retries
                  included) fails with 429, the way a busy write queue sheds load; 0 stops it
  request_503 N   the next N _bulk requests fail as a whole with 503
  request_429 N   the next N _bulk requests fail as a whole with 429 (circuit breaker)
  request_413 N   the next N _bulk requests larger than 1 item fail with 413
  proxy_413 N     the next N _bulk requests, whatever their size, fail with 413 and the HTML page
                  a reverse proxy (nginx) sends when a body is over its limit
  slow_ms MS      every _bulk response is delayed by MS (the documents are still indexed)
  slow_next N     the next N _bulk responses are delayed by slow_next_ms (default 2000), after
                  indexing: a client that times out and retries must not duplicate anything
  gc_deletes_s S  how long a delete's tombstone keeps its version (index.gc_deletes, 60 s;
                  also --gc-deletes-s)
  refuse_s S      stop listening (and drop open connections) for S seconds, then come back
                  on the same port
--opensearch answers like OpenSearch 2.x (no product header, distribution "opensearch").
--api-key KEY / --basic USER:PASS require that Authorization (401 security_exception else).
--tls-cert FILE --tls-key FILE serve HTTPS.
--bulk-log FILE appends every _bulk request body to FILE exactly as received (after gzip
decoding), one request after the other, before anything is parsed: the bytes a client sent, where
_search shows documents re-serialised by this emulator (tests/golden uses it).

Usage: es_emulator.py [--port 0] [--port-file FILE] [options]; prints "port N" when listening.
"""

import argparse
import base64
import fnmatch
import gzip
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import uuid
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ES_VERSION = "8.12.1"
OS_VERSION = "2.11.0"
NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float",
           "unsigned_long"}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$")
BAD_INDEX_CHARS = set('\\/*?"<>| ,#:')


def error_body(status, etype, reason, **extra):
    """The whole-request error envelope Elasticsearch sends: error.root_cause[], type, reason."""
    cause = {"type": etype, "reason": reason}
    cause.update(extra)
    err = {"root_cause": [dict(cause)]}
    err.update(cause)
    return {"error": err, "status": status}


class Index:
    def __init__(self, name, mappings):
        self.name = name
        self.uuid = base64.urlsafe_b64encode(uuid.uuid4().bytes)[:22].decode()
        self.mappings = mappings or {}
        self.docs = {}  # _id -> (version, seq_no, source)
        # _id -> (version, monotonic time of the delete): what a delete leaves, as Elasticsearch
        # keeps it for index.gc_deletes, so an older external version is still refused
        self.tombstones = {}
        self.seq_no = 0

    def current_version(self, doc_id, gc_deletes_s):
        """The version an external version is compared with: the document's, else that of its
        delete while the tombstone lasts, else None."""
        if doc_id in self.docs:
            return self.docs[doc_id][0]
        stone = self.tombstones.get(doc_id)
        if stone and time.monotonic() - stone[1] < gc_deletes_s:
            return stone[0]
        self.tombstones.pop(doc_id, None)
        return None


class State:
    """Everything the emulator knows; one lock, because handlers run on many threads."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.indices = {}
        self.templates = {}
        self.policies = {}
        self.faults = {"item_429": args.item_429, "request_503": args.request_503,
                       "request_429": args.request_429, "request_413": args.request_413,
                       "slow_ms": args.slow_ms, "item_429_every": args.item_429_every,
                       "proxy_413": 0, "gc_deletes_s": args.gc_deletes_s}
        self.items_seen = 0  # create/index items, for item_429_every
        self.stats = {"requests": 0, "bulk_requests": 0, "connections": 0, "items": 0,
                      "created": 0, "updated": 0, "conflicts": 0, "item_errors": 0,
                      "deleted": 0, "not_found": 0, "version_conflicts": 0,
                      "injected_item_429": 0, "injected_503": 0, "injected_429": 0,
                      "injected_413": 0, "expect_100": 0, "gzip_requests": 0, "bytes_in": 0,
                      "busy_s": 0.0, "content_types": [], "auth_failures": 0,
                      "max_bulk_items": 0, "max_bulk_bytes": 0, "user_agents": [], "pipelines": []}
        self.refuse = threading.Event()
        self.refuse_s = 0.0

    def take(self, name):
        """Consumes one unit of a counted fault; True when it fires."""
        if self.faults.get(name, 0) > 0:
            self.faults[name] -= 1
            return True
        return False

    def index_for(self, name):
        idx = self.indices.get(name)
        if idx is None:
            # a copy: fields mapped dynamically belong to this index, not to the template
            idx = Index(name, json.loads(json.dumps(self.template_mappings(name) or {})))
            self.indices[name] = idx
        return idx

    def template_mappings(self, name):
        """The mappings of the highest-priority template whose pattern matches `name`."""
        best, best_prio = None, -1
        for tpl in self.templates.values():
            for pattern in tpl.get("index_patterns", []):
                if re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), name):
                    prio = tpl.get("priority", 0)
                    if prio > best_prio:
                        best, best_prio = tpl, prio
        if best is None:
            return None
        return (best.get("template") or {}).get("mappings")

    def resolve(self, expr):
        """Indices named by a comma list of names and wildcards; None = all."""
        if expr is None or expr in ("_all", "*"):
            return list(self.indices.values())
        out = []
        for part in expr.split(","):
            rx = re.compile(re.escape(part).replace(r"\*", ".*"))
            out.extend(i for n, i in sorted(self.indices.items()) if rx.fullmatch(n))
        return out


def check_index_name(name):
    """None or the reason Elasticsearch gives for an invalid index name."""
    if name != name.lower():
        return "Invalid index name [%s], must be lowercase" % name
    if name.startswith(("_", "-", "+")):
        return "Invalid index name [%s], must not start with '_', '-', or '+'" % name
    if any(c in BAD_INDEX_CHARS for c in name):
        return ("Invalid index name [%s], must not contain the following characters "
                "['\\\\','/','*','?','\"','<','>','|',' ',',','#',':']" % name)
    if not name:
        return "Invalid index name [], must not be empty"
    return None


def type_ok(mtype, value):
    if value is None:
        return True
    if mtype in NUMERIC:
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float)):
            return True
        if isinstance(value, str):
            try:
                float(value)
                return True
            except ValueError:
                return False
        return False
    if mtype == "date":
        return isinstance(value, (int, float)) or (isinstance(value, str) and
                                                   bool(DATE_RE.match(value)))
    if mtype == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if mtype in ("keyword", "text", "wildcard"):
        return not isinstance(value, dict)
    return True


def check_mapping(mappings, source, doc_id, path="", dynamic=None):
    """None or (type, reason) for a document the mappings refuse, as Elasticsearch words it."""
    if not mappings:
        return None
    props = mappings.get("properties", {})
    dyn = str(mappings.get("dynamic", dynamic if dynamic is not None else "true")).lower()
    for key, value in source.items():
        full = path + key
        spec = props.get(key)
        if spec is None:
            if dyn == "strict":
                return ("strict_dynamic_mapping_exception",
                        "[1:2] mapping set to strict, dynamic introduction of [%s] within "
                        "[%s] is not allowed" % (key, path[:-1] or "_doc"))
            continue
        if "properties" in spec and isinstance(value, dict):
            bad = check_mapping(spec, value, doc_id, full + ".", dyn)
            if bad:
                return bad
            continue
        mtype = spec.get("type", "object")
        values = value if isinstance(value, list) else [value]
        for v in values:
            if not type_ok(mtype, v) and not spec.get("ignore_malformed"):
                preview = v if not isinstance(v, (dict, list)) else json.dumps(v)
                return ("document_parsing_exception",
                        "[1:2] failed to parse field [%s] of type [%s] in document with id "
                        "'%s'. Preview of field's value: '%s'" % (full, mtype, doc_id, preview))
    return None


def dynamic_mapping(root, name, value):
    """The mapping Elasticsearch gives a new field from its first value: the first of the
    root's dynamic_templates whose match_mapping_type (and match, if any) fits, else the
    default dynamic mapping. None for a value that maps nothing (null, empty array)."""
    if isinstance(value, list):
        value = next((v for v in value if v is not None), None)
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, int):
        kind = "long"
    elif isinstance(value, float):
        kind = "double"
    elif isinstance(value, str):
        date = root.get("date_detection", True) not in (False, "false") and DATE_RE.match(value)
        kind = "date" if date else "string"
    else:
        return None
    for entry in root.get("dynamic_templates", []):
        (_, tpl), = entry.items()
        want = tpl.get("match_mapping_type", "*")
        want = want if isinstance(want, list) else [want]
        if ("*" in want or kind in want) and fnmatch.fnmatchcase(name, tpl.get("match", "*")):
            return dict(tpl["mapping"])
    return {"boolean": {"type": "boolean"}, "long": {"type": "long"},
            "double": {"type": "float"}, "date": {"type": "date"},
            "string": {"type": "text",
                       "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}}[kind]


def map_new_fields(root, mappings, source, dynamic=None):
    """Adds the fields of an accepted document that `mappings` lacks, as Elasticsearch does
    under "dynamic": true (a dotted name is an object path); "false" and "strict" add none."""
    dyn = str(mappings.get("dynamic", dynamic if dynamic is not None else "true")).lower()
    props = mappings.setdefault("properties", {})
    for key, value in source.items():
        head, _, rest = key.partition(".")
        if rest:
            key, value = head, {rest: value}
        spec = props.get(key)
        if isinstance(value, dict):
            if spec is None and dyn == "true":
                spec = props[key] = {"properties": {}}
            if spec is not None and "properties" in spec:
                map_new_fields(root, spec, value, dyn)
        elif spec is None and dyn == "true":
            mapping = dynamic_mapping(root, key, value)
            if mapping:
                props[key] = mapping


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Elasticsearch does
    # Headers and body are two writes; with Nagle's algorithm the body would wait for the
    # client's delayed ACK (~40 ms a request). Elasticsearch sets TCP_NODELAY too.
    disable_nagle_algorithm = True
    server_version = "es-emulator"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet: tests read stats, not access logs
        if self.server.state.args.verbose:
            sys.stderr.write("es-emulator: " + fmt % args + "\n")

    def setup(self):
        super().setup()
        st = self.server.state
        with st.lock:
            st.stats["connections"] += 1
        self.server.track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def handle_expect_100(self):
        st = self.server.state
        with st.lock:
            st.stats["expect_100"] += 1
        return super().handle_expect_100()

    # -- plumbing --

    def send_proxy_413(self):
        """What nginx in front of a cluster answers to a body over client_max_body_size: its
        HTML page (padded, as error pages with styles and scripts are), no Elasticsearch header."""
        page = ("<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
                "<center><h1>413 Request Entity Too Large</h1></center>\r\n"
                "<hr><center>nginx/1.22.1</center>\r\n" + "<!-- a padding to disable MSIE "
                "and Chrome friendly error page -->\r\n" * 40 + "</body>\r\n</html>\r\n")
        data = page.encode()
        self.send_response(413)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def send_json(self, status, body, head=False):
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        if not self.server.state.args.opensearch:
            self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "0" if head else str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="security" charset="UTF-8"')
            self.send_header("WWW-Authenticate", "ApiKey")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            data = b"".join(chunks)
        st = self.server.state
        with st.lock:
            st.stats["bytes_in"] += len(data)
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            with st.lock:
                st.stats["gzip_requests"] += 1
            data = gzip.decompress(data)
        return data

    def authorised(self):
        args = self.server.state.args
        if not args.api_key and not args.basic:
            return True
        got = self.headers.get("Authorization", "")
        if args.api_key and got == "ApiKey " + args.api_key:
            return True
        if args.basic and got == "Basic " + base64.b64encode(args.basic.encode()).decode():
            return True
        return False

    def dispatch(self, method):
        st = self.server.state
        t0 = time.monotonic()
        path, _, query = self.path.partition("?")
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        parts = [p for p in path.split("/") if p]
        with st.lock:
            st.stats["requests"] += 1
            ua = self.headers.get("User-Agent", "")
            if ua and ua not in st.stats["user_agents"]:
                st.stats["user_agents"].append(ua)
        try:
            body = self.read_body() if method in ("POST", "PUT") else b""
        except (OSError, ValueError) as exc:
            self.send_json(400, error_body(400, "parse_exception", "cannot read body: %s" % exc))
            return
        if parts[:1] == ["_emulator"]:
            self.control(method, parts[1:], body)
            return
        if not self.authorised():
            with st.lock:
                st.stats["auth_failures"] += 1
            self.send_json(401, error_body(401, "security_exception",
                                           "missing authentication credentials for REST request "
                                           "[%s]" % path))
            return
        try:
            self.route(method, parts, params, body)
        finally:
            with st.lock:
                st.stats["busy_s"] += time.monotonic() - t0

    def route(self, method, parts, params, body):
        head = method == "HEAD"
        if not parts and method in ("GET", "HEAD"):
            self.send_json(200, self.info(), head=head)
        elif parts[-1:] == ["_bulk"] and method in ("POST", "PUT") and len(parts) <= 2:
            self.bulk(parts[0] if len(parts) == 2 else None, params, body)
        elif parts[-1:] == ["_count"] and len(parts) <= 2:
            self.count(parts[0] if len(parts) == 2 else None, body)
        elif parts[-1:] == ["_search"] and len(parts) <= 2:
            self.search(parts[0] if len(parts) == 2 else None, params, body)
        elif parts[-1:] == ["_refresh"] and len(parts) <= 2:
            n = len(self.server.state.resolve(parts[0] if len(parts) == 2 else None))
            self.send_json(200, {"_shards": {"total": n, "successful": n, "failed": 0}})
        elif parts[-1:] == ["_mapping"] and len(parts) == 2 and method == "GET":
            self.mapping(parts[0])
        elif parts[:1] == ["_index_template"] and len(parts) == 2:
            self.template(method, parts[1], body)
        elif parts[:2] == ["_ilm", "policy"] and len(parts) == 3:
            self.policy(method, parts[2], body)
        elif len(parts) == 3 and parts[1] in ("_doc", "_create") and method == "GET":
            self.get_doc(parts[0], parts[2])
        else:
            self.send_json(400, error_body(400, "illegal_argument_exception",
                                           "no handler found for uri [%s] and method [%s]"
                                           % (self.path, method)))

    def do_GET(self):
        self.dispatch("GET")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # -- API --

    def info(self):
        if self.server.state.args.opensearch:
            return {"name": "emulator", "cluster_name": "bppipe-test",
                    "cluster_uuid": "bppipe-emulator-uuid",
                    "version": {"distribution": "opensearch", "number": OS_VERSION,
                                "build_type": "tar", "build_snapshot": False,
                                "lucene_version": "9.7.0",
                                "minimum_wire_compatibility_version": "7.10.0",
                                "minimum_index_compatibility_version": "7.0.0"},
                    "tagline": "The OpenSearch Project: https://opensearch.org/"}
        return {"name": "emulator", "cluster_name": "bppipe-test",
                "cluster_uuid": "bppipe-emulator-uuid",
                "version": {"number": self.server.state.args.version, "build_flavor": "default",
                            "build_type": "docker", "build_hash": "0" * 40,
                            "build_date": "2024-02-01T13:07:13.727175297Z",
                            "build_snapshot": False, "lucene_version": "9.9.2",
                            "minimum_wire_compatibility_version": "7.17.0",
                            "minimum_index_compatibility_version": "7.0.0"},
                "tagline": "You Know, for Search"}

    def bulk(self, default_index, params, body):
        st = self.server.state
        ctype = self.headers.get("Content-Type", "")
        with st.lock:
            if st.args.bulk_log:
                with open(st.args.bulk_log, "ab") as log:
                    log.write(body)
            st.stats["bulk_requests"] += 1
            if ctype not in st.stats["content_types"]:
                st.stats["content_types"].append(ctype)
            if "pipeline" in params and params["pipeline"] not in st.stats["pipelines"]:
                st.stats["pipelines"].append(params["pipeline"])
        mime = ctype.split(";")[0].strip().lower()
        if mime not in ("application/x-ndjson", "application/json",
                        "application/vnd.elasticsearch+x-ndjson"):
            self.send_json(406, {"error": "Content-Type header [%s] is not supported" % ctype,
                                 "status": 406})
            return
        if not body:
            self.send_json(400, error_body(400, "action_request_validation_exception",
                                           "Validation Failed: 1: no requests added;"))
            return
        if not body.endswith(b"\n"):
            self.send_json(400, error_body(400, "illegal_argument_exception",
                                           "The bulk request must be terminated by a newline "
                                           "[\\n]"))
            return
        ops, err = self.parse_bulk(body, default_index)
        if err:
            self.send_json(400, err)
            return
        with st.lock:
            fault503 = st.take("request_503")
            fault429 = not fault503 and st.take("request_429")
            fault413 = not fault503 and not fault429 and len(ops) > 1 and st.take("request_413")
            proxy413 = not (fault503 or fault429 or fault413) and st.take("proxy_413")
            slow = st.faults.get("slow_ms", 0)
            if not (fault503 or fault429 or fault413) and st.take("slow_next"):
                slow = max(slow, st.faults.get("slow_next_ms", 2000))
            st.stats["max_bulk_items"] = max(st.stats["max_bulk_items"], len(ops))
            st.stats["max_bulk_bytes"] = max(st.stats["max_bulk_bytes"], len(body))
        if fault503:
            with st.lock:
                st.stats["injected_503"] += 1
            self.send_json(503, error_body(503, "unavailable_shards_exception",
                                           "[bp][0] primary shard is not active Timeout: [1m]"))
            return
        if fault429:
            with st.lock:
                st.stats["injected_429"] += 1
            self.send_json(429, error_body(429, "circuit_breaking_exception",
                                           "[parent] Data too large, data for [<http_request>] "
                                           "would be larger than limit",
                                           bytes_wanted=len(body), durability="TRANSIENT"))
            return
        if fault413:
            with st.lock:
                st.stats["injected_413"] += 1
            self.send_json(413, {"error": "Request Entity Too Large", "status": 413})
            return
        if proxy413:
            with st.lock:
                st.stats["injected_413"] += 1
            self.send_proxy_413()
            return
        t0 = time.monotonic()
        items = []
        errors = False
        with st.lock:
            for action, meta, source in ops:
                item = self.apply(action, meta, source, params)
                if "error" in item:
                    errors = True
                items.append({action: item})
        if slow:
            time.sleep(slow / 1000.0)
        took = int((time.monotonic() - t0) * 1000)
        self.send_json(200, {"errors": errors, "took": took, "items": items})

    def parse_bulk(self, body, default_index):
        """[(action, meta, source)] or (None, error) for a body Elasticsearch refuses whole."""
        lines = body.split(b"\n")[:-1]
        ops = []
        i = 0
        while i < len(lines):
            raw = lines[i]
            lineno = i + 1
            i += 1
            if not raw.strip():
                continue
            try:
                action_obj = json.loads(raw)
            except ValueError:
                return None, error_body(400, "x_content_parse_exception",
                                        "[%d:1] Malformed action/metadata line [%d], expected "
                                        "START_OBJECT but found [VALUE_STRING]" % (lineno, lineno))
            if not isinstance(action_obj, dict) or len(action_obj) != 1:
                return None, error_body(400, "illegal_argument_exception",
                                        "Malformed action/metadata line [%d], expected "
                                        "START_OBJECT or END_OBJECT but found [START_ARRAY]"
                                        % lineno)
            action, meta = next(iter(action_obj.items()))
            if action not in ("create", "index", "update", "delete"):
                return None, error_body(400, "illegal_argument_exception",
                                        "Malformed action/metadata line [%d], expected one of "
                                        "[create, delete, index, update] but found [%s]"
                                        % (lineno, action))
            if not isinstance(meta, dict):
                return None, error_body(400, "illegal_argument_exception",
                                        "Malformed action/metadata line [%d], expected "
                                        "START_OBJECT but found [%s]" % (lineno, type(meta)))
            for key in meta:
                if key not in ("_index", "_id", "routing", "pipeline", "require_alias",
                               "if_seq_no", "if_primary_term", "version", "version_type",
                               "dynamic_templates", "retry_on_conflict", "_source"):
                    return None, error_body(400, "illegal_argument_exception",
                                            "Action/metadata line [%d] contains an unknown "
                                            "parameter [%s]" % (lineno, key))
            vtype = meta.get("version_type", "internal")
            if vtype not in ("internal", "external", "external_gte"):
                return None, error_body(400, "illegal_argument_exception",
                                        "No version type match [%s]" % vtype)
            if "version" in meta and vtype == "internal":
                return None, error_body(400, "action_request_validation_exception",
                                        "Validation Failed: 1: internal versioning can not be "
                                        "used for optimistic concurrency control. Please use "
                                        "`if_seq_no` and `if_primary_term` instead;")
            if vtype != "internal" and action == "create":
                return None, error_body(400, "action_request_validation_exception",
                                        "Validation Failed: 1: create operations only support "
                                        "internal versioning. use index instead;")
            if vtype != "internal" and not (isinstance(meta.get("version"), int) and
                                            meta["version"] >= 0):
                return None, error_body(400, "action_request_validation_exception",
                                        "Validation Failed: 1: illegal version value [%s] for "
                                        "version type [%s];" % (meta.get("version", -3),
                                                                vtype.upper()))
            meta = dict(meta)
            meta.setdefault("_index", default_index)
            if meta["_index"] is None:
                return None, error_body(400, "action_request_validation_exception",
                                        "Validation Failed: 1: index is missing;")
            source = None
            if action != "delete":
                if i >= len(lines):
                    return None, error_body(400, "illegal_argument_exception",
                                            "The bulk request must be terminated by a newline "
                                            "[\\n]")
                source = lines[i]
                i += 1
            ops.append((action, meta, source))
        if not ops:
            return None, error_body(400, "action_request_validation_exception",
                                    "Validation Failed: 1: no requests added;")
        return ops, None

    def apply(self, action, meta, raw, params):
        """One bulk item under the state lock; returns its result object."""
        st = self.server.state
        st.stats["items"] += 1
        name = meta["_index"]
        doc_id = meta.get("_id")
        bad = check_index_name(name)
        if bad:
            st.stats["item_errors"] += 1
            return {"_index": name, "_id": doc_id, "status": 400,
                    "error": {"type": "invalid_index_name_exception", "reason": bad,
                              "index_uuid": "_na_", "index": name}}
        every = st.faults.get("item_429_every", 0) if action in ("create", "index") else 0
        if every:
            st.items_seen += 1
        if action in ("create", "index") and (st.take("item_429") or
                                              (every and st.items_seen % every == 0)):
            st.stats["injected_item_429"] += 1
            return {"_index": name, "_id": doc_id, "status": 429,
                    "error": {"type": "es_rejected_execution_exception",
                              "reason": "rejected execution of primary operation [coordinating_"
                                        "and_primary_bytes=0, replica_bytes=0, all_bytes=0, "
                                        "primary_operation_bytes=%d, max_coordinating_and_"
                                        "primary_bytes=0]" % len(raw or b"")}}
        vtype = meta.get("version_type", "internal")
        if action == "delete" and name not in st.indices and vtype == "internal":
            # Elasticsearch does not create an index for a delete (it does for one with an
            # external version, to keep its tombstone)
            st.stats["item_errors"] += 1
            return {"_index": name, "_id": doc_id, "status": 404,
                    "error": {"type": "index_not_found_exception",
                              "reason": "no such index [%s]" % name,
                              "resource.type": "index_expression", "resource.id": name,
                              "index_uuid": "_na_", "index": name}}
        idx = st.index_for(name)
        if doc_id is None:
            doc_id = base64.urlsafe_b64encode(uuid.uuid4().bytes)[:20].decode()
        base = {"_index": name, "_id": doc_id}

        def item_error(status, etype, reason):
            st.stats["item_errors"] += 1
            out = dict(base)
            out["status"] = status
            out["error"] = {"type": etype, "reason": reason, "index_uuid": idx.uuid,
                            "shard": "0", "index": name}
            return out

        current = idx.current_version(doc_id, st.faults.get("gc_deletes_s", 60))
        given = meta.get("version")
        if vtype != "internal" and current is not None and (
                given < current if vtype == "external_gte" else given <= current):
            # the reason Elasticsearch's VersionType gives for an external version
            st.stats["conflicts"] += 1
            st.stats["version_conflicts"] += 1
            return item_error(409, "version_conflict_engine_exception",
                              "[%s]: version conflict, current version [%d] is higher or equal "
                              "to the one provided [%d]" % (doc_id, current, given)
                              if vtype == "external" else
                              "[%s]: version conflict, current version [%d] is higher than the "
                              "one provided [%d]" % (doc_id, current, given))
        if vtype != "internal":
            version = given
        else:
            version = (current or 0) + 1

        if action == "delete":
            existed = idx.docs.pop(doc_id, None)
            idx.seq_no += 1
            if existed or vtype != "internal":
                idx.tombstones[doc_id] = (version, time.monotonic())
            st.stats["deleted" if existed else "not_found"] += 1
            out = dict(base)
            out.update({"_version": version if (existed or vtype != "internal") else 1,
                        "result": "deleted" if existed else "not_found",
                        "_shards": {"total": 2, "successful": 1, "failed": 0},
                        "_seq_no": idx.seq_no - 1, "_primary_term": 1,
                        "status": 200 if existed else 404})
            return out
        if action == "update":
            return item_error(400, "illegal_argument_exception",
                              "the emulator does not implement update")
        try:
            source = json.loads(raw)
        except ValueError as exc:
            return item_error(400, "document_parsing_exception",
                              "[1:%d] failed to parse: %s" % (getattr(exc, "colno", 1), exc))
        if not isinstance(source, dict):
            return item_error(400, "document_parsing_exception",
                              "[1:1] failed to parse: the document is not a JSON object")
        if action == "create" and doc_id in idx.docs:
            st.stats["conflicts"] += 1
            return item_error(409, "version_conflict_engine_exception",
                              "[%s]: version conflict, document already exists (current version "
                              "[%d])" % (doc_id, idx.docs[doc_id][0]))
        bad = check_mapping(idx.mappings, source, doc_id)
        if bad:
            return item_error(400, bad[0], bad[1])
        if idx.mappings:
            map_new_fields(idx.mappings, idx.mappings, source)
        old = idx.docs.get(doc_id)
        idx.docs[doc_id] = (version, idx.seq_no, source)
        idx.tombstones.pop(doc_id, None)
        idx.seq_no += 1
        st.stats["updated" if old else "created"] += 1
        out = dict(base)
        out.update({"_version": version, "result": "updated" if old else "created",
                    "_shards": {"total": 2, "successful": 1, "failed": 0},
                    "_seq_no": idx.seq_no - 1, "_primary_term": 1,
                    "status": 200 if old else 201})
        return out

    def matches(self, query, source, doc_id):
        if not query or "match_all" in query:
            return True
        if "term" in query or "match" in query:
            (field, want), = (query.get("term") or query.get("match")).items()
            if isinstance(want, dict):
                want = want.get("value", want.get("query"))
            got = doc_id if field == "_id" else self.field(source, field)
            return got == want or (isinstance(got, list) and want in got)
        if "terms" in query:
            (field, wants), = query["terms"].items()
            got = doc_id if field == "_id" else self.field(source, field)
            return got in wants
        if "range" in query:
            (field, bounds), = query["range"].items()
            got = self.field(source, field)
            if got is None:
                return False
            ops = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
                   "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b}
            return all(ops[k](got, v) for k, v in bounds.items() if k in ops)
        if "bool" in query:
            must = query["bool"].get("must", []) + query["bool"].get("filter", [])
            must = must if isinstance(must, list) else [must]
            return all(self.matches(q, source, doc_id) for q in must)
        raise ValueError("query [%s] is not supported by the emulator" % next(iter(query)))

    @staticmethod
    def field(source, dotted):
        value = source
        for part in dotted.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    def query_docs(self, expr, body):
        st = self.server.state
        req = json.loads(body) if body.strip() else {}
        query = req.get("query")
        with st.lock:
            found = []
            for idx in st.resolve(expr):
                for doc_id, (_, seq, source) in idx.docs.items():
                    if self.matches(query, source, doc_id):
                        found.append((idx.name, seq, doc_id, source))
        found.sort(key=lambda f: (f[0], f[1]))
        return req, found

    def count(self, expr, body):
        try:
            _, found = self.query_docs(expr, body)
        except (ValueError, TypeError) as exc:
            self.send_json(400, error_body(400, "parsing_exception", str(exc)))
            return
        n = len(self.server.state.resolve(expr))
        self.send_json(200, {"count": len(found), "_shards": {"total": n, "successful": n,
                                                              "skipped": 0, "failed": 0}})

    def search(self, expr, params, body):
        try:
            req, found = self.query_docs(expr, body)
        except (ValueError, TypeError) as exc:
            self.send_json(400, error_body(400, "parsing_exception", str(exc)))
            return
        size = int(params.get("size", req.get("size", 10)))
        n = len(self.server.state.resolve(expr))
        hits = [{"_index": i, "_id": d, "_score": 1.0, "_source": s}
                for i, _, d, s in found[:size]]
        self.send_json(200, {"took": 1, "timed_out": False,
                             "_shards": {"total": n, "successful": n, "skipped": 0, "failed": 0},
                             "hits": {"total": {"value": len(found), "relation": "eq"},
                                      "max_score": 1.0 if hits else None, "hits": hits}})

    def mapping(self, expr):
        """GET <index>/_mapping: each index's mappings, the dynamically added fields included."""
        st = self.server.state
        with st.lock:
            found = {i.name: {"mappings": json.loads(json.dumps(i.mappings))}
                     for i in st.resolve(expr)}
        if not found:
            self.send_json(404, error_body(404, "index_not_found_exception",
                                           "no such index [%s]" % expr, index=expr))
        else:
            self.send_json(200, found)

    def template(self, method, name, body):
        st = self.server.state
        if method == "GET":
            with st.lock:
                tpl = st.templates.get(name)
            if tpl is None:
                self.send_json(404, error_body(404, "resource_not_found_exception",
                                               "index template matching [%s] not found" % name))
            else:
                self.send_json(200, {"index_templates": [{"name": name,
                                                          "index_template": tpl}]})
            return
        if method not in ("PUT", "POST"):
            self.send_json(405, error_body(405, "illegal_argument_exception", "method"))
            return
        try:
            tpl = json.loads(body)
        except ValueError as exc:
            self.send_json(400, error_body(400, "x_content_parse_exception", str(exc)))
            return
        if not isinstance(tpl, dict) or not tpl.get("index_patterns"):
            self.send_json(400, error_body(400, "action_request_validation_exception",
                                           "Validation Failed: 1: index patterns are missing;"))
            return
        with st.lock:
            st.templates[name] = tpl
        self.send_json(200, {"acknowledged": True})

    def policy(self, method, name, body):
        st = self.server.state
        if method == "GET":
            with st.lock:
                pol = st.policies.get(name)
            if pol is None:
                self.send_json(404, error_body(404, "resource_not_found_exception",
                                               "Lifecycle policy not found: %s" % name))
            else:
                self.send_json(200, {name: {"version": 1, "policy": pol.get("policy")}})
            return
        try:
            pol = json.loads(body)
        except ValueError as exc:
            self.send_json(400, error_body(400, "x_content_parse_exception", str(exc)))
            return
        if not isinstance(pol, dict) or "policy" not in pol:
            self.send_json(400, error_body(400, "parse_exception", "required [policy]"))
            return
        with st.lock:
            st.policies[name] = pol
        self.send_json(200, {"acknowledged": True})

    def get_doc(self, name, doc_id):
        st = self.server.state
        with st.lock:
            idx = st.indices.get(name)
            doc = idx.docs.get(doc_id) if idx else None
        if doc is None:
            self.send_json(404, {"_index": name, "_id": doc_id, "found": False})
        else:
            self.send_json(200, {"_index": name, "_id": doc_id, "_version": doc[0],
                                 "_seq_no": doc[1], "_primary_term": 1, "found": True,
                                 "_source": doc[2]})

    def control(self, method, parts, body):
        st = self.server.state
        if parts == ["stats"]:
            with st.lock:
                out = dict(st.stats)
                out["faults"] = dict(st.faults)
                out["documents"] = sum(len(i.docs) for i in st.indices.values())
                out["indices"] = sorted(st.indices)
            self.send_json(200, out)
        elif parts == ["faults"] and method in ("POST", "PUT"):
            req = json.loads(body or b"{}")
            with st.lock:
                for key, value in req.items():
                    if key != "refuse_s":
                        st.faults[key] = value
            self.send_json(200, {"acknowledged": True})
            if req.get("refuse_s"):
                st.refuse_s = float(req["refuse_s"])
                st.refuse.set()
        else:
            self.send_json(404, {"error": "unknown emulator control endpoint", "status": 404})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, state):
        self.state = state
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, Handler)
        if state.args.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(state.args.tls_cert, state.args.tls_key)
            self.socket = ctx.wrap_socket(self.socket, server_side=True)

    def track(self, conn, add):
        with self.conns_lock:
            (self.conns.add if add else self.conns.discard)(conn)

    def drop_connections(self):
        with self.conns_lock:
            for conn in list(self.conns):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--opensearch", action="store_true")
    ap.add_argument("--version", default=ES_VERSION, help="version number GET / reports")
    ap.add_argument("--gc-deletes-s", type=float, default=60.0,
                    help="how long a delete's tombstone keeps its version (index.gc_deletes)")
    ap.add_argument("--api-key")
    ap.add_argument("--basic", help="USER:PASS")
    ap.add_argument("--item-429", type=int, default=0)
    ap.add_argument("--item-429-every", type=int, default=0)
    ap.add_argument("--request-503", type=int, default=0)
    ap.add_argument("--request-429", type=int, default=0)
    ap.add_argument("--request-413", type=int, default=0)
    ap.add_argument("--slow-ms", type=int, default=0)
    ap.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate")
    ap.add_argument("--tls-key", help="and this PEM key")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--bulk-log", help="append every _bulk request body, as received, to this file")
    args = ap.parse_args()
    state = State(args)
    port = args.port
    first = True
    while True:
        srv = Server((args.host, port), state)
        port = srv.server_address[1]
        if first:
            first = False
            print("port %d" % port, flush=True)
            if args.port_file:
                with open(args.port_file + ".tmp", "w") as f:
                    f.write("%d\n" % port)
                os.replace(args.port_file + ".tmp", args.port_file)
        thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            while not state.refuse.wait(0.5):
                pass
        except KeyboardInterrupt:
            return 0
        state.refuse.clear()
        time.sleep(0.05)  # let the control request's answer go out
        srv.shutdown()
        srv.server_close()
        srv.drop_connections()
        time.sleep(state.refuse_s)


if __name__ == "__main__":
    sys.exit(main())
