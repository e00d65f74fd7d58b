#!/usr/bin/env python3
"""deploy/ against the code: every file parses; the index template maps exactly the fields the
serializer (core/document.c) and the shipped detectors' annotations emit, and a real run emits
nothing unmapped; every field a Kibana panel or alert rule names is in the template.
Environment: BPPIPE_SOURCE_DIR, and BPPIPE (the executable) for the run."""

import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

SRC = os.environ.get("BPPIPE_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DEPLOY = os.path.join(SRC, "deploy")


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
    """The field names core/document.c writes and the annotations the shipped plugins add."""
    doc = read("core", "document.c")
    fields = set()
    # source_object() writes the members of "source"; everything else is top level.
    start = doc.index("static void source_object")
    end = doc.index("\n}\n", start)
    call = re.compile(r'(?:text_field|number_field|key)\(&?w,\s*"([^"]+)"')
    for name in call.findall(doc[start:end]):
        fields.add(name if name == "source" else "source." + name)
    for name in call.findall(doc[:start] + doc[end:]):
        fields.add(name)
    fields.discard("source")
    for path in glob.glob(os.path.join(SRC, "plugins", "*", "*.c")):
        with open(path) as f:
            text = f.read()
        fields.update(re.findall(r'annotate_(?:number|text|bool)\([^;]*?,\s*"([a-z0-9_.]+)"',
                                 text))
    return fields


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

    def test_template_maps_exactly_the_serializer_fields(self):
        mapped = set(template_fields())
        emitted = serializer_fields()
        self.assertIn("ml_risk_score", emitted)  # the extraction works at all
        self.assertIn("source.offset", emitted)
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
        self.assertEqual(types.count("dashboard"), 1)
        self.assertGreaterEqual(types.count("visualization") + types.count("search"), 6)
        self.assertEqual(sorted(used - mapped), [])
        self.assertIn("ml_risk_score", used)

    def test_alert_rules(self):
        mapped = set(template_fields())
        rules = {}
        for path in glob.glob(os.path.join(DEPLOY, "kibana", "rules", "*.json")):
            with open(path) as f:
                rules[os.path.basename(path)] = json.load(f)
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
                used.update(re.findall(r'"range": \{"([^"]+)"', json.dumps(query)))
                group = "query matched"
            else:
                group = "threshold met"
            self.assertTrue(used - {"@timestamp"} or rule["rule_type_id"] == ".index-threshold")
            self.assertEqual(sorted(used - mapped), [], name)
            for action in rule["actions"]:
                self.assertEqual(action["group"], group, name)
                self.assertEqual(action["id"], "${CONNECTOR_ID}", name)
        critical = json.loads(rules["critical-case.json"]["params"]["esQuery"])
        ranged = {list(f["range"])[0] for f in critical["query"]["bool"]["filter"]}
        self.assertEqual(ranged, {"systolic_pressure", "diastolic_pressure"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
