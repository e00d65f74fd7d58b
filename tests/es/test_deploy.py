#!/usr/bin/env python3
"""deploy/ against the code: every file parses; the index template maps exactly the fields the
serializer (src/pipeline/document.c) and the shipped detectors' annotations emit, and a real run emits
nothing unmapped; every field a Kibana panel or alert rule names is in the template.
Environment: BPPIPE_SOURCE_DIR, and BPPIPE (the executable) for the run."""

import glob
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

SRC = os.environ.get("BPPIPE_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DEPLOY = os.path.join(SRC, "deploy")

# What Kibana 8.12's create-rule API (POST /api/alerting/rule/<id>) takes. A predefined <id>
# must look like a UUID (SavedObjectsUtils.isRandomId), or the rule's encrypted saved object is
# refused with 400 "Predefined IDs are not allowed ...".
KIBANA_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
                         re.I)
RULE_KEYS = {"name", "rule_type_id", "consumer", "schedule", "params", "actions"}
RULE_OPTIONAL_KEYS = {"enabled", "tags", "throttle", "notify_when"}
# the action group each stack rule type schedules its actions in
ACTION_GROUP = {".index-threshold": "threshold met", ".es-query": "query matched"}
# rule params: (required, allowed); the params schemas are strict, so an unknown key is a 400
RULE_PARAMS = {
    ".index-threshold": (
        {"index", "timeField", "timeWindowSize", "timeWindowUnit", "thresholdComparator",
         "threshold"},
        {"aggType", "aggField", "groupBy", "termField", "termSize", "filterKuery"}),
    ".es-query": (
        {"searchType", "esQuery", "index", "timeField", "size", "timeWindowSize",
         "timeWindowUnit", "thresholdComparator", "threshold"},
        {"excludeHitsFromPreviousRun", "aggType", "aggField", "groupBy", "termField",
         "termSize"}),
}
# The typeMigrationVersion Kibana 8.12 writes for each type: the last migration of types that
# still have migrations (index-pattern 8.0.0, visualization 8.5.0, dashboard 8.9.0), and for a
# type on model versions the virtual version 10.<model version>.0 (search: model version 1,
# sampleSize, new in 8.12).
KIBANA_8_12_TYPE_VERSIONS = {"index-pattern": "8.0.0", "visualization": "8.5.0",
                             "search": "10.1.0", "dashboard": "8.9.0"}
COMPARATORS = {">", ">=", "<", "<=", "between", "notBetween"}
SERVER_LOG_LEVELS = {"trace", "debug", "info", "warn", "error", "fatal"}
NOTIFY_WHEN = {"onActionGroupChange", "onActiveAlert", "onThrottleInterval"}


def read(*parts):
    with open(os.path.join(SRC, *parts)) as f:
        return f.read()


def template_fields():
    """Every leaf field the template maps, dotted (source.topic), with its type."""
    tpl = json.loads(read("deploy", "elasticsearch", "bp-anomalies-template.json"))
    out = {}

    def walk(props, prefix):
        for name, spec in props.items():
            if "properties" in spec:
                walk(spec["properties"], prefix + name + ".")
            else:
                out[prefix + name] = spec["type"]
    walk(tpl["template"]["mappings"]["properties"], "")
    return out


def serializer_fields():
    """The field names src/pipeline/document.c writes and the annotations the shipped plugins add."""
    doc = read("src", "pipeline", "document.c")
    fields = set()
    # source_object() and hl7v2_object() write the members of "source" and "hl7v2"; everything
    # else is top level.
    # a name is a literal, written LIT("name") (its length known when compiled)
    call = re.compile(r'(?:text_field|number_field|plain_key|key)\(&?w,\s*(?:LIT\()?"([^"]+)"')
    rest = doc
    for obj in ("source", "hl7v2"):
        start = rest.index("static void %s_object" % obj)
        end = rest.index("\n}\n", start)
        for name in call.findall(rest[start:end]):
            if name != obj:
                fields.add(obj + "." + name)
        rest = rest[:start] + rest[end:]
    for name in call.findall(rest):
        fields.add(name)
    for path in glob.glob(os.path.join(SRC, "plugins", "*", "*.c")):
        with open(path) as f:
            text = f.read()
        fields.update(re.findall(r'annotate_(?:number|text|bool)\([^;]*?,\s*"([a-z0-9_.]+)"',
                                 text))
    return fields


def query_fields(query):
    """The fields an Elasticsearch query names in range, term, terms, match and exists."""
    found = set()
    if isinstance(query, dict):
        for key, value in query.items():
            if key in ("range", "term", "terms", "match", "match_phrase") and \
                    isinstance(value, dict):
                found.update(value)
            elif key == "exists" and isinstance(value, dict):
                found.add(value["field"])
            else:
                found |= query_fields(value)
    elif isinstance(query, list):
        for item in query:
            found |= query_fields(item)
    return found


def observation(obs_id, systolic, diastolic, minute=0):
    """A FHIR R4 blood-pressure Observation of patient P-<obs_id>."""
    def component(code, value):
        return {"code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "valueQuantity": {"value": value, "unit": "mmHg",
                                  "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
    return {"resourceType": "Observation", "id": obs_id, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "subject": {"reference": "Patient/P-" + obs_id},
            "effectiveDateTime": "2026-03-01T10:%02d:00Z" % minute,
            "component": [component("8480-6", systolic), component("8462-4", diastolic)]}


def run_rules(exe, readings, extra=""):
    """The documents bppipe writes for (id, systolic, diastolic) readings judged by
    detector-rules (and whatever `extra` sections add), all routes."""
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "in.ndjson")
        with open(source, "w") as f:
            for n, (obs_id, s, d) in enumerate(readings):
                f.write(json.dumps(observation(obs_id, s, d, n)) + "\n")
        ini = os.path.join(tmp, "p.ini")
        with open(ini, "w") as f:
            f.write("[pipeline]\nstats_interval = 0\n[source.s]\nplugin = source-file\n"
                    "path = %s\n[detector.rules]\nplugin = detector-rules\n%s"
                    "[sink.all]\nplugin = sink-file\npath = %s\nlayout = ndjson\n"
                    % (source, extra, os.path.join(tmp, "out")))
        subprocess.run([exe, "run", ini], check=True, capture_output=True)
        docs = []
        for path in sorted(glob.glob(os.path.join(tmp, "out", "*.ndjson"))):
            with open(path) as f:
                docs.extend(json.loads(line) for line in f if line.strip())
    return docs


class Emulator:
    """tests/es/es_emulator.py on a free port of 127.0.0.1, stopped by close()."""

    def __init__(self):
        self.dir = tempfile.mkdtemp()
        port_file = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen([sys.executable, os.path.join(SRC, "tests", "es",
                                                                    "es_emulator.py"),
                                      "--port", "0", "--port-file", port_file],
                                     stdout=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(port_file) and os.path.getsize(port_file):
                break
            time.sleep(0.05)
        with open(port_file) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read())

    def call(self, method, path, body=None, ndjson=False):
        data = None
        headers = {}
        if body is not None:
            data = body.encode() if ndjson else json.dumps(body).encode()
            headers["Content-Type"] = "application/x-ndjson" if ndjson else "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=30) as answer:
            return json.load(answer)

    def bulk(self, index, docs):
        lines = []
        for doc in docs:
            lines.append(json.dumps({"create": {"_index": index, "_id": doc["stable_id"]}}))
            lines.append(json.dumps(doc))
        answer = self.call("POST", "/_bulk", "\n".join(lines) + "\n", ndjson=True)
        if answer["errors"]:
            raise AssertionError("bulk refused: %s" % [i for i in answer["items"]
                                                      if list(i.values())[0].get("error")])
        self.call("POST", "/%s/_refresh" % index)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def rule_files():
    rules = {}
    for path in glob.glob(os.path.join(DEPLOY, "kibana", "rules", "*.json")):
        with open(path) as f:
            rules[os.path.basename(path)] = json.load(f)
    return rules


def version_tuple(text):
    return tuple(int(n) for n in text.split("."))


def flatten(doc, prefix=""):
    for key, value in doc.items():
        if isinstance(value, dict):
            yield from flatten(value, prefix + key + ".")
        else:
            yield prefix + key


class DeployTest(unittest.TestCase):
    def test_every_file_parses(self):
        files = glob.glob(os.path.join(DEPLOY, "**", "*"), recursive=True)
        self.assertTrue(files)
        for path in files:
            if path.endswith(".json"):
                with open(path) as f:
                    json.load(f)
            elif path.endswith(".ndjson"):
                with open(path) as f:
                    for n, line in enumerate(f, 1):
                        self.assertTrue(line.strip(), "%s:%d is empty" % (path, n))
                        json.loads(line)
            elif path.endswith(".sh"):
                subprocess.run(["bash", "-n", path], check=True)
                self.assertTrue(os.access(path, os.X_OK), path + " is not executable")

    def test_compose_file(self):
        text = read("deploy", "docker-compose.yml")
        for service in ("kafka", "elasticsearch", "kibana"):
            self.assertRegex(text, r"\n  %s:\n    image: " % service)
        self.assertRegex(text, r"elasticsearch/elasticsearch:8\.")
        self.assertRegex(text, r"kibana/kibana:8\.")
        self.assertIn("KAFKA_PROCESS_ROLES: broker,controller", text)  # KRaft
        self.assertIn("xpack.security.enabled", text)
        for port in re.findall(r'ports: \["([^"]+)"\]', text):
            self.assertTrue(port.startswith("127.0.0.1:"), "%s is open to the network" % port)
        self.assertNotIn("\t", text)
        import yaml  # python3-yaml, installed by scripts/setup-debian.sh
        services = yaml.safe_load(text)["services"]
        self.assertRegex(services["elasticsearch"]["image"],
                         r"^docker\.elastic\.co/elasticsearch/elasticsearch:8\.12\.\d+$")
        self.assertRegex(services["kibana"]["image"], r"^docker\.elastic\.co/kibana/kibana:8\.12\.\d+$")
        es = services["elasticsearch"]["environment"]
        self.assertEqual(es["discovery.type"], "single-node")
        self.assertRegex(es["ES_JAVA_OPTS"], r"-Xms\S+ -Xmx\S+")
        key = services["kibana"]["environment"]["XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY"]
        default = re.fullmatch(r"\$\{\w+:-(.*)\}", key)
        self.assertGreaterEqual(len(default.group(1) if default else key), 32)
        kafka = services["kafka"]
        env = kafka["environment"]
        self.assertIn("PLAINTEXT://127.0.0.1:9092", env["KAFKA_ADVERTISED_LISTENERS"])
        self.assertIn(env["KAFKA_CONTROLLER_LISTENER_NAMES"], env["KAFKA_LISTENERS"])
        # the apache/kafka image ignores its default server.properties once KAFKA_* is set, so
        # the data goes where KAFKA_LOG_DIRS says, which must be the mounted volume
        mounts = [v.split(":")[1] for v in kafka["volumes"]]
        self.assertIn(env.get("KAFKA_LOG_DIRS"), mounts)
        for name, service in services.items():
            for port in service.get("ports", []):
                self.assertTrue(port.startswith("127.0.0.1:"), name + " " + port)

    def test_template_maps_exactly_the_serializer_fields(self):
        mapped = set(template_fields())
        emitted = serializer_fields()
        self.assertIn("ml_risk_score", emitted)  # the extraction works at all
        self.assertIn("source.offset", emitted)
        self.assertIn("hl7v2.control_id", emitted)
        self.assertEqual(sorted(emitted - mapped), [], "emitted but not mapped")
        self.assertEqual(sorted(mapped - emitted), [], "mapped but never emitted")

    def test_template_types(self):
        types = template_fields()
        self.assertEqual(types["@timestamp"], "date")
        for name in ("systolic_pressure", "diastolic_pressure", "heart_rate", "ml_risk_score"):
            self.assertIn(types[name], ("float", "double", "scaled_float"))
        for name in ("patient_id", "stable_id", "anomaly_type", "severity", "anomaly_details"):
            self.assertEqual(types[name], "keyword")
        self.assertEqual(types["anomaly"], "boolean")
        self.assertEqual(types["source.offset"], "long")
        tpl = json.loads(read("deploy", "elasticsearch", "bp-anomalies-template.json"))
        self.assertEqual(tpl["index_patterns"], ["bp-anomalies*"])
        policy = tpl["template"]["settings"]["index.lifecycle.name"]
        ilm = json.loads(read("deploy", "elasticsearch", "bp-anomalies-ilm.json"))
        self.assertEqual(policy, "bp-anomalies")
        self.assertIn("delete", ilm["policy"]["phases"])

    def test_template_maps_unknown_annotations_by_type(self):
        """A new detector's fields are mapped by the dynamic templates, by JSON type: numbers
        (whole or not) double, booleans boolean, strings keyword; no date guessing, which
        would map a field after its first value and refuse the next reading's."""
        tpl = json.loads(read("deploy", "elasticsearch", "bp-anomalies-template.json"))
        mappings = tpl["template"]["mappings"]
        self.assertEqual(str(mappings["dynamic"]).lower(), "true")
        self.assertIs(mappings["date_detection"], False)
        self.assertIn(mappings.get("numeric_detection", False), (False,))
        by_kind = {}
        for entry in mappings["dynamic_templates"]:
            (name, spec), = entry.items()
            self.assertEqual(set(spec) - {"match_mapping_type", "mapping"}, set(), name)
            by_kind.setdefault(spec["match_mapping_type"], spec["mapping"])
        for kind in ("long", "double"):
            self.assertIn(by_kind[kind]["type"], ("double", "float"), kind)
            self.assertIs(by_kind[kind].get("ignore_malformed"), True, kind)
        self.assertEqual(by_kind["boolean"]["type"], "boolean")
        self.assertEqual(by_kind["string"]["type"], "keyword")
        # Lucene keeps terms up to 32766 bytes: 8191 characters of 4-byte UTF-8
        self.assertTrue(256 <= by_kind["string"]["ignore_above"] <= 8191)

    def test_third_party_annotations_are_mapped_in_the_emulator(self):
        """A run with a third-party detector (test-annotator: ext_score, ext.model, ext_seen)
        into sink-es with the template installed: its fields get searchable, aggregatable
        types, the core fields keep theirs, and no document is refused."""
        exe = os.environ.get("BPPIPE")
        if not exe:
            self.skipTest("BPPIPE not set")
        plugins = os.path.join(os.path.dirname(exe), "tests", "runner", "plugins")
        self.assertTrue(os.path.exists(os.path.join(plugins, "test-annotator.so")), plugins)
        emulator = Emulator()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                ini = os.path.join(tmp, "p.ini")
                es = os.path.join(DEPLOY, "elasticsearch")
                with open(ini, "w") as f:
                    f.write("[pipeline]\nstats_interval = 0\nplugin_path = %s\n"
                            "[source.s]\nplugin = source-faker\npatients = 10\nrate = 0\n"
                            "count = 300\nseed = 5\nstart_time = 2026-03-01T00:00:00Z\n"
                            "[detector.rules]\nplugin = detector-rules\n"
                            "[detector.ext]\nplugin = test-annotator\n"
                            "[sink.es]\nplugin = sink-es\nroute = all\nurl = %s\n"
                            "install_template = true\ntemplate = %s\nilm_policy = %s\n"
                            % (plugins, emulator.url,
                               os.path.join(es, "bp-anomalies-template.json"),
                               os.path.join(es, "bp-anomalies-ilm.json")))
                done = subprocess.run([exe, "run", ini], capture_output=True, text=True)
                self.assertEqual(done.returncode, 0, done.stderr)
            stats = emulator.call("GET", "/_emulator/stats")
            self.assertEqual(stats["created"], 300)
            self.assertEqual(stats["item_errors"], 0)
            answer = emulator.call("GET", "/bp-anomalies-2026.03/_mapping")
            props = answer["bp-anomalies-2026.03"]["mappings"]["properties"]
            self.assertIn(props.get("ext_score", {}).get("type"), ("double", "float"))
            self.assertEqual(props.get("ext_seen", {}).get("type"), "boolean")
            self.assertEqual(props.get("ext", {}).get("properties", {}).get("model", {})
                             .get("type"), "keyword")
            self.assertEqual(props["systolic_pressure"]["type"], "float")
            self.assertEqual(props["patient_id"]["type"], "keyword")
            found = emulator.call("POST", "/bp-anomalies*/_count",
                                  {"query": {"range": {"ext_score": {"gt": 0.1}}}})
            self.assertGreater(found["count"], 0)
        finally:
            emulator.close()

    def test_a_real_run_emits_nothing_unmapped(self):
        exe = os.environ.get("BPPIPE")
        if not exe:
            self.skipTest("BPPIPE not set")
        mapped = set(template_fields())
        with tempfile.TemporaryDirectory() as tmp:
            ini = os.path.join(tmp, "p.ini")
            with open(ini, "w") as f:
                f.write("[pipeline]\nstats_interval = 0\n"
                        "[source.s]\nplugin = source-faker\npatients = 30\nrate = 0\n"
                        "count = 4000\ninvalid_rate = 0.02\nseed = 3\n"
                        "[detector.rules]\nplugin = detector-rules\n"
                        "[detector.ml]\nplugin = detector-logreg\nmodel = %s\n"
                        "[detector.trend]\nplugin = detector-trend\n"
                        % os.path.join(SRC, "models", "bp_logreg.json"))
                for route in ("anomaly", "normal", "invalid"):
                    f.write("[sink.%s]\nplugin = sink-file\nroute = %s\npath = %s\n"
                            "layout = ndjson\n" % (route, route, os.path.join(tmp, route)))
            subprocess.run([exe, "run", ini], check=True, capture_output=True)
            seen = set()
            for path in glob.glob(os.path.join(tmp, "*", "*.ndjson")):
                with open(path) as f:
                    for line in f:
                        seen.update(flatten(json.loads(line)))
        self.assertIn("trend_z", seen)
        self.assertIn("invalid_reason", seen)
        self.assertEqual(sorted(seen - mapped), [])
        self.assertEqual(sorted(seen - serializer_fields()), [], "the extraction misses fields")

    def test_kibana_objects_name_only_mapped_fields(self):
        mapped = set(template_fields())
        used = set()
        types = []
        with open(os.path.join(DEPLOY, "kibana", "saved_objects.ndjson")) as f:
            objs = [json.loads(line) for line in f]
        ids = {(o["type"], o["id"]) for o in objs}
        for obj in objs:
            types.append(obj["type"])
            attrs = obj["attributes"]
            for ref in obj.get("references", []):
                self.assertIn((ref["type"], ref["id"]), ids, "dangling reference")
            if obj["type"] == "index-pattern":
                self.assertEqual(attrs["title"], "bp-anomalies*")
                used.add(attrs["timeFieldName"])
            if "visState" in attrs:
                for agg in json.loads(attrs["visState"])["aggs"]:
                    if "field" in agg["params"]:
                        used.add(agg["params"]["field"])
            used.update(attrs.get("columns", []))
            used.update(s[0] for s in attrs.get("sort", []))
            search = attrs.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
            if search:
                query = json.loads(search)["query"]["query"]
                used.update(re.findall(r"([A-Za-z_@][\w.]*)\s*:", query))
        for obj in objs:
            refs = {r["name"] for r in obj.get("references", [])}
            # Kibana refuses an import whose versions are newer than it knows, and migrates
            # an object with no typeMigrationVersion from the oldest format on
            self.assertLessEqual(version_tuple(obj["coreMigrationVersion"]), (8, 12, 0), obj["id"])
            self.assertEqual(obj.get("typeMigrationVersion"), KIBANA_8_12_TYPE_VERSIONS[obj["type"]],
                             obj["id"])
            attrs = obj["attributes"]
            search = attrs.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
            self.assertTrue(search is None or isinstance(search, str), obj["id"])
            if search and "indexRefName" in json.loads(search):
                self.assertIn(json.loads(search)["indexRefName"], refs, obj["id"])
            if obj["type"] in ("visualization", "search"):
                self.assertIn("kibanaSavedObjectMeta.searchSourceJSON.index", refs, obj["id"])
            if "visState" in attrs:
                self.assertIsInstance(attrs["visState"], str)
                for agg in json.loads(attrs["visState"])["aggs"]:
                    if agg["type"] == "histogram" and "extended_bounds" in agg["params"]:
                        # Kibana sends extended_bounds only with has_extended_bounds, and
                        # Elasticsearch only fills empty buckets with min_doc_count 0 (true)
                        self.assertTrue(agg["params"].get("has_extended_bounds"), obj["id"])
                        self.assertTrue(agg["params"].get("min_doc_count"), obj["id"])
            if obj["type"] == "dashboard":
                self.assertIsInstance(attrs["panelsJSON"], str)
                panels = json.loads(attrs["panelsJSON"])
                names = [p["panelRefName"] for p in panels]
                self.assertEqual(names, ["panel_%d" % i for i in range(len(panels))])
                self.assertEqual(set(names), refs)
        # every saved search or visualisation about critical cases selects what the pipeline
        # judged, never the pressures again
        critical = [o for o in objs if o["type"] in ("search", "visualization") and
                    "critical" in (o["attributes"]["title"] + " " +
                                   o["attributes"].get("description", "")).lower()]
        self.assertTrue(critical)
        for obj in critical:
            source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
            self.assertEqual(source["query"], {"query": 'severity : "critical"',
                                               "language": "kuery"}, obj["id"])
            self.assertEqual(source.get("filter", []), [], obj["id"])
            if "visState" in obj["attributes"]:
                self.assertNotIn("pressure", obj["attributes"]["visState"], obj["id"])
        self.assertEqual(types.count("dashboard"), 1)
        self.assertGreaterEqual(types.count("visualization") + types.count("search"), 6)
        self.assertEqual(sorted(used - mapped), [])
        self.assertIn("ml_risk_score", used)

    def test_alert_rules(self):
        mapped = set(template_fields())
        rules = rule_files()
        connector = rules.pop("server-log-connector.json")
        self.assertEqual(connector["connector_type_id"], ".server-log")
        self.assertEqual(len(rules), 4)
        kinds = sorted(r["rule_type_id"] for r in rules.values())
        self.assertEqual(kinds, [".es-query"] * 3 + [".index-threshold"])
        for name, rule in rules.items():
            params = rule["params"]
            self.assertEqual(params["index"], ["bp-anomalies*"], name)
            used = {params["timeField"]}
            if rule["rule_type_id"] == ".es-query":
                query = json.loads(params["esQuery"])
                used.update(query_fields(query))
                group = "query matched"
            else:
                group = "threshold met"
            self.assertTrue(used - {"@timestamp"} or rule["rule_type_id"] == ".index-threshold")
            self.assertEqual(sorted(used - mapped), [], name)
            for action in rule["actions"]:
                self.assertEqual(action["group"], group, name)
                self.assertEqual(action["id"], "${CONNECTOR_ID}", name)
        for name, rule in rules.items():
            self.assertEqual(set(rule) - RULE_KEYS - RULE_OPTIONAL_KEYS, set(), name)
            self.assertEqual(RULE_KEYS - set(rule), set(), name)
            self.assertRegex(rule["schedule"]["interval"], r"^\d+[smhd]$", name)
            required, optional = RULE_PARAMS[rule["rule_type_id"]]
            params = rule["params"]
            self.assertEqual(required - set(params), set(), name)
            self.assertEqual(set(params) - required - optional, set(), name)
            self.assertIn(params["thresholdComparator"], COMPARATORS, name)
            self.assertIsInstance(params["threshold"], list, name)
            self.assertIn(len(params["threshold"]),
                          (2,) if "etween" in params["thresholdComparator"] else (1,), name)
            self.assertIn(params["timeWindowUnit"], ("s", "m", "h", "d"), name)
            self.assertIn(params.get("aggType", "count"), ("count", "avg", "sum", "min", "max"))
            if params.get("aggType", "count") != "count":
                self.assertIn("aggField", params, name)
            self.assertIn(params.get("groupBy", "all"), ("all", "top"), name)
            if params.get("groupBy") == "top":
                self.assertIn("termField", params, name)
                self.assertIn("termSize", params, name)
            if rule["rule_type_id"] == ".es-query":
                self.assertEqual(params["searchType"], "esQuery", name)
                self.assertIsInstance(params["esQuery"], str, name)  # a JSON string, not an object
                self.assertIn("query", json.loads(params["esQuery"]), name)
                self.assertTrue(0 <= params["size"] <= 10000, name)
            self.assertTrue(rule["actions"], name)
            for action in rule["actions"]:
                self.assertEqual(set(action) - {"group", "id", "params", "frequency", "uuid"},
                                 set(), name)
                self.assertEqual(action["group"], ACTION_GROUP[rule["rule_type_id"]], name)
                # 8.x: per-action frequency, or notify_when on the rule, not both
                if "frequency" in action:
                    self.assertNotIn("notify_when", rule, name)
                    self.assertEqual(set(action["frequency"]),
                                     {"summary", "notify_when", "throttle"}, name)
                    self.assertIn(action["frequency"]["notify_when"], NOTIFY_WHEN, name)
                else:
                    self.assertIn(rule.get("notify_when"), NOTIFY_WHEN, name)
                # the server-log connector's params schema: message, level (no "warning")
                self.assertEqual(set(action["params"]), {"message", "level"}, name)
                self.assertIsInstance(action["params"]["message"], str, name)
                self.assertIn(action["params"]["level"], SERVER_LOG_LEVELS, name)
                for var in re.findall(r"\{\{\s*([\w.]+)\s*\}\}", action["params"]["message"]):
                    self.assertRegex(var, r"^(context|rule|alert|date)\.", name)
        # one definition of critical: the rule selects what the pipeline judged
        # (detector-rules' severity), it does not derive criticality from the pressures again
        critical = json.loads(rules["critical-case.json"]["params"]["esQuery"])
        self.assertEqual(critical["query"]["bool"]["filter"], [{"term": {"severity": "critical"}}])
        self.assertEqual(query_fields(critical), {"severity"})
        for name, rule in rules.items():
            text = (rule["name"] + " " + json.dumps(rule["actions"])).lower()
            if "critical" in text or "critical" in rule.get("tags", []):
                self.assertEqual(name, "critical-case.json", "another rule about criticality")

    def test_critical_rule_selects_what_the_pipeline_judged(self):
        """Readings judged by detector-rules, indexed into the emulator, counted with the
        critical-case rule's query: exactly the documents with severity critical, including a
        crisis on one value only (the rule once wanted both)."""
        exe = os.environ.get("BPPIPE")
        if not exe:
            self.skipTest("BPPIPE not set")
        readings = [("crisis-sys", 190, 80), ("crisis-dia", 150, 125), ("crisis-both", 185, 125),
                    ("critical-low", 65, 50), ("warning", 150, 95), ("normal", 118, 76)]
        docs = run_rules(exe, readings)
        judged = {d["observation_id"] for d in docs if d.get("severity") == "critical"}
        self.assertEqual(judged, {"crisis-sys", "crisis-dia", "crisis-both", "critical-low"})
        query = json.loads(rule_files()["critical-case.json"]["params"]["esQuery"])
        emulator = Emulator()
        try:
            emulator.bulk("bp-anomalies-2026.03", docs)
            answer = emulator.call("POST", "/bp-anomalies*/_search?size=100", query)
        finally:
            emulator.close()
        found = {h["_source"]["observation_id"] for h in answer["hits"]["hits"]}
        self.assertEqual(found, judged)


    def test_setup_script(self):
        text = read("deploy", "kibana", "setup.sh")
        self.assertIn("\nset -euo pipefail\n", text)
        self.assertIn("kbn-xsrf:", text)
        for api in ("/api/saved_objects/_import", "/api/actions/connectors",
                    "/api/actions/connector", "/api/alerting/rule/"):
            self.assertIn(api, text)
        # one fixed UUID per rule file (Kibana refuses other predefined ids)
        ids = dict(re.findall(r"^\s+([\w-]+)\) echo (\S+) ;;$", text, re.M))
        names = {n[:-5] for n in rule_files() if n != "server-log-connector.json"}
        self.assertEqual(set(ids), names)
        for name, rule_id in ids.items():
            self.assertRegex(rule_id, KIBANA_UUID, name)
        self.assertEqual(len(set(ids.values())), len(ids))

    def test_setup_against_a_fake_kibana(self):
        """setup.sh run twice against a stand-in for Kibana's HTTP API: the second run
        succeeds and leaves one connector and four rules, each pointing at the connector."""
        if not shutil.which("curl"):
            self.skipTest("no curl")
        kibana = FakeKibana()
        try:
            env = dict(os.environ, KIBANA_URL=kibana.url)
            env.pop("ES_URL", None)
            env.pop("ES_USER", None)
            script = os.path.join(DEPLOY, "kibana", "setup.sh")
            for run in (1, 2):
                done = subprocess.run(["bash", script], env=env, capture_output=True, text=True,
                                      timeout=60)
                self.assertEqual(done.returncode, 0, "run %d: %s%s" % (run, done.stdout,
                                                                      done.stderr))
            self.assertEqual(kibana.refused, [])
            self.assertEqual(len(kibana.connectors), 1)
            connector = next(iter(kibana.connectors))
            self.assertEqual(len(kibana.rules), 4)
            for rule in kibana.rules.values():
                self.assertEqual({a["id"] for a in rule["actions"]}, {connector})
            self.assertEqual(kibana.imports, 2)
            # an import Kibana answers with success: false stops the script
            kibana.import_fails = True
            done = subprocess.run(["bash", script], env=env, capture_output=True, text=True,
                                  timeout=60)
            self.assertNotEqual(done.returncode, 0)
            self.assertIn("import failed", done.stderr)
        finally:
            kibana.close()


class FakeKibana:
    """The few Kibana 8 endpoints setup.sh calls, with the checks Kibana makes that matter
    here: kbn-xsrf on writes, UUID rule ids, 409 on an existing id, known connector ids."""

    def __init__(self):
        self.connectors = {}
        self.rules = {}
        self.refused = []
        self.imports = 0
        self.import_fails = False
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body=None):
                data = json.dumps(body if body is not None else {}).encode()
                if status >= 400:
                    fake.refused.append((self.command, self.path, status, body))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def body(self):
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_GET(self):
                path = urllib.parse.urlparse(self.path).path
                if path == "/api/status":
                    self.answer(200, {"status": {"overall": {"level": "available"}}})
                elif path == "/api/actions/connectors":
                    self.answer(200, list(fake.connectors.values()))
                else:
                    self.answer(404, {"message": "not found"})

            def do_DELETE(self):
                self.write(delete=True)

            def do_POST(self):
                self.write(delete=False)

            def write(self, delete):
                path = urllib.parse.urlparse(self.path).path
                body = b"" if delete else self.body()
                if not self.headers.get("kbn-xsrf"):
                    return self.answer(400, {"message": "Request must contain a kbn-xsrf header."})
                rule = re.fullmatch(r"/api/alerting/rule/([^/]+)", path)
                if delete:
                    if rule and rule.group(1) in fake.rules:
                        del fake.rules[rule.group(1)]
                        self.send_response(204)
                        self.end_headers()
                    else:
                        self.send_response(404)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    return
                if path == "/api/saved_objects/_import":
                    fake.imports += 1
                    count = len(re.findall(rb'^\{"type":', body, re.M))
                    if fake.import_fails or not count:
                        return self.answer(200, {"success": False, "successCount": 0,
                                                 "errors": [{"id": "x", "error": {}}]})
                    return self.answer(200, {"success": True, "successCount": count})
                if path == "/api/actions/connector":
                    spec = json.loads(body)
                    if spec.get("connector_type_id") != ".server-log":
                        return self.answer(400, {"message": "bad connector"})
                    cid = "%08x-0000-4000-8000-%012x" % (len(fake.connectors) + 1, 1)
                    fake.connectors[cid] = {"id": cid, "name": spec["name"],
                                            "connector_type_id": ".server-log"}
                    return self.answer(200, fake.connectors[cid])
                if rule:
                    rid = rule.group(1)
                    if not KIBANA_UUID.match(rid):
                        return self.answer(400, {"message": "Predefined IDs are not allowed for "
                                                 "saved objects with encrypted attributes "
                                                 "unless the ID is a UUID."})
                    if rid in fake.rules:
                        return self.answer(409, {"message": "conflict"})
                    spec = json.loads(body)
                    for action in spec["actions"]:
                        if action["id"] not in fake.connectors:
                            return self.answer(400, {"message": "unknown connector " +
                                                     action["id"]})
                    fake.rules[rid] = spec
                    return self.answer(200, dict(spec, id=rid))
                self.answer(404, {"message": "not found"})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
