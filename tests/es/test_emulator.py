#!/usr/bin/env python3
"""The emulator against the real Elasticsearch 8 samples in tests/data/es: every
response it gives has the keys (and types) of the real one, and its errors are the real ones.
BPPIPE_TEST_DATA names tests/data (ctest sets it); standard library only."""

import base64
import gzip
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.environ.get("BPPIPE_TEST_DATA") or os.path.join(HERE, "..", "data"), "es")


def sample(name):
    with open(os.path.join(DATA, name)) as f:
        return json.load(f)


def shape(value):
    """Keys and JSON types, recursively (first element of lists), ignoring values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


class Emulator:
    def __init__(self, *args):
        self.dir = tempfile.mkdtemp()
        port_file = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "es_emulator.py"),
                                      "--port-file", port_file] + list(args),
                                     stdout=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        with open(port_file) as f:
            self.port = int(f.read())

    def request(self, method, path, body=None, headers=None, raw=False):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp, (data if raw else (json.loads(data) if data else None))

    def bulk(self, ndjson, path="/_bulk", headers=None):
        hdrs = {"Content-Type": "application/x-ndjson"}
        hdrs.update(headers or {})
        return self.request("POST", path, ndjson, hdrs)

    def stats(self):
        return self.request("GET", "/_emulator/stats")[2]

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


def ndjson(*objs):
    return "".join(json.dumps(o) + "\n" for o in objs)


class EmulatorTest(unittest.TestCase):
    def setUp(self):
        self.es = Emulator()

    def tearDown(self):
        self.es.close()

    def test_root_info_has_real_shape_and_product_header(self):
        status, resp, body = self.es.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertEqual(resp.getheader("X-Elastic-Product"), "Elasticsearch")
        self.assertEqual(shape(body), shape(sample("spec-example_root-info-response-8.12.1.json")))
        self.assertTrue(body["version"]["number"].startswith("8."))

    def test_bulk_create_then_duplicate_is_409_like_the_real_one(self):
        body = ndjson({"create": {"_index": "test", "_id": "1"}}, {"a": 1})
        status, _, first = self.es.bulk(body)
        self.assertEqual(status, 200)
        self.assertFalse(first["errors"])
        real = sample("go-elasticsearch_bulk-response_create-409.json")
        created = first["items"][0]["create"]
        self.assertEqual(created["status"], 201)
        self.assertEqual(created["result"], "created")
        self.assertEqual(set(created), set(real["items"][0]["index"]))
        status, _, again = self.es.bulk(body)
        self.assertTrue(again["errors"])
        conflict = again["items"][0]["create"]
        real_conflict = real["items"][1]["create"]
        self.assertEqual(shape(conflict), shape(real_conflict))
        self.assertEqual(conflict["status"], 409)
        self.assertEqual(conflict["error"]["type"], real_conflict["error"]["type"])
        self.assertEqual(conflict["error"]["reason"], real_conflict["error"]["reason"])
        self.assertEqual(self.es.stats()["documents"], 1)

    def test_bulk_response_keys_and_mixed_items(self):
        body = ndjson({"index": {"_index": "index1", "_id": "5"}}, {"x": 1},
                      {"delete": {"_index": "index1", "_id": "nope"}},
                      {"create": {"_index": "index1", "_id": "7"}}, {"x": 2})
        _, _, resp = self.es.bulk(body)
        mixed = sample("spec-example_bulk-response_mixed-success.json")
        self.assertEqual(set(resp), set(mixed))
        self.assertNotIn("_type", json.dumps(resp))
        self.assertEqual([next(iter(i)) for i in resp["items"]], ["index", "delete", "create"])
        self.assertEqual([next(iter(i.values()))["status"] for i in resp["items"]],
                         [201, 404, 201])
        self.assertEqual(resp["items"][1]["delete"]["result"], "not_found")
        self.assertFalse(resp["errors"])  # a delete of nothing is not an error, as in ES

    def item(self, resp, k=0):
        return next(iter(resp["items"][k].values()))

    def test_external_versions_on_index(self):
        v = lambda n: {"index": {"_index": "t", "_id": "obs", "version": n,
                                 "version_type": "external"}}
        _, _, resp = self.es.bulk(ndjson(v(2), {"sys": 150}))
        self.assertEqual((self.item(resp)["status"], self.item(resp)["result"],
                          self.item(resp)["_version"]), (201, "created", 2))
        # an older and an equal version are refused the way Elasticsearch refuses them
        _, _, resp = self.es.bulk(ndjson(v(1), {"sys": 1}, v(2), {"sys": 2}))
        self.assertTrue(resp["errors"])
        real = sample("go-elasticsearch_bulk-response_create-409.json")["items"][1]["create"]
        for k, given in ((0, 1), (1, 2)):
            item = self.item(resp, k)
            self.assertEqual(item["status"], 409)
            self.assertEqual(shape(item), shape(real))
            self.assertEqual(item["error"]["type"], "version_conflict_engine_exception")
            self.assertEqual(item["error"]["reason"], "[obs]: version conflict, current version "
                             "[2] is higher or equal to the one provided [%d]" % given)
        _, _, resp = self.es.bulk(ndjson(v(3), {"sys": 120}))
        self.assertEqual((self.item(resp)["status"], self.item(resp)["result"],
                          self.item(resp)["_version"]), (200, "updated", 3))
        status, _, doc = self.es.request("GET", "/t/_doc/obs")
        self.assertEqual((doc["_version"], doc["_source"]), (3, {"sys": 120}))
        # an index without a version replaces whatever is there (internal: version + 1)
        _, _, resp = self.es.bulk(ndjson({"index": {"_index": "t", "_id": "obs"}}, {"sys": 9}))
        self.assertEqual((self.item(resp)["status"], self.item(resp)["_version"]), (200, 4))
        self.assertEqual(self.es.stats()["documents"], 1)

    def test_delete_leaves_a_tombstone_with_its_version(self):
        ext = lambda action, n, i="obs": {action: {"_index": "t", "_id": i, "version": n,
                                                   "version_type": "external"}}
        self.es.bulk(ndjson(ext("index", 2), {"sys": 150}))
        _, _, resp = self.es.bulk(ndjson(ext("delete", 4)))
        item = self.item(resp)
        self.assertEqual((item["status"], item["result"], item["_version"]), (200, "deleted", 4))
        self.assertNotIn("error", item)
        # the same delete again, and an older index inside gc_deletes: 409
        _, _, resp = self.es.bulk(ndjson(ext("delete", 4), ext("index", 3), {"sys": 1}))
        self.assertEqual([self.item(resp, k)["status"] for k in (0, 1)], [409, 409])
        self.assertIn("current version [4] is higher or equal to the one provided [3]",
                      self.item(resp, 1)["error"]["reason"])
        status, _, _ = self.es.request("GET", "/t/_doc/obs")
        self.assertEqual(status, 404)
        # create (internal versions) on a deleted id works
        _, _, resp = self.es.bulk(ndjson({"create": {"_index": "t", "_id": "obs"}}, {"sys": 7}))
        self.assertEqual(self.item(resp)["status"], 201)
        # a delete of an id never stored: 404 not_found, not an error; with an external version
        # it still leaves the tombstone, so the older reading arriving late is refused
        _, _, resp = self.es.bulk(ndjson(ext("delete", 5, "never"), ext("index", 1, "never"),
                                         {"sys": 1}))
        self.assertEqual((self.item(resp)["status"], self.item(resp)["result"]),
                         (404, "not_found"))
        self.assertNotIn("error", self.item(resp))
        self.assertEqual(self.item(resp, 1)["status"], 409)
        # a plain delete in an index that does not exist: index_not_found, no index created
        _, _, resp = self.es.bulk(ndjson({"delete": {"_index": "none", "_id": "x"}}))
        self.assertEqual((self.item(resp)["status"], self.item(resp)["error"]["type"]),
                         (404, "index_not_found_exception"))
        self.assertNotIn("none", self.es.stats()["indices"])
        stats = self.es.stats()
        self.assertEqual((stats["deleted"], stats["not_found"]), (1, 1))

    def test_tombstones_end_after_gc_deletes(self):
        ext = lambda action, n: {action: {"_index": "t", "_id": "obs", "version": n,
                                          "version_type": "external"}}
        self.es.request("POST", "/_emulator/faults", {"gc_deletes_s": 0})
        self.es.bulk(ndjson(ext("index", 2), {"sys": 150}, ext("delete", 4)))
        _, _, resp = self.es.bulk(ndjson(ext("index", 1), {"sys": 150}))
        self.assertEqual(self.item(resp)["status"], 201)  # what bppipe's own ledger is for

    def test_version_parameters_validated_like_elasticsearch(self):
        status, _, resp = self.es.bulk(ndjson({"create": {"_index": "t", "_id": "1", "version": 2,
                                                          "version_type": "external"}}, {"a": 1}))
        self.assertEqual(status, 400)
        self.assertIn("create operations only support internal versioning",
                      resp["error"]["reason"])
        status, _, resp = self.es.bulk(ndjson({"index": {"_index": "t", "_id": "1",
                                                         "version": 2}}, {"a": 1}))
        self.assertEqual(status, 400)
        self.assertIn("internal versioning can not be used", resp["error"]["reason"])
        self.assertEqual(self.es.stats()["documents"], 0)

    def test_default_index_from_path(self):
        _, _, resp = self.es.bulk(ndjson({"create": {"_id": "a"}}, {"x": 1}), "/idx-1/_bulk")
        self.assertEqual(resp["items"][0]["create"]["_index"], "idx-1")
        _, _, resp = self.es.bulk(ndjson({"create": {"_id": "a"}}, {"x": 1}))
        self.assertEqual(resp["error"]["type"], "action_request_validation_exception")

    def test_request_level_errors_are_the_real_ones(self):
        status, _, resp = self.es.bulk('{"create":{"_index":"t"}}\n{"a":1}')
        self.assertEqual(status, 400)
        self.assertEqual(resp["status"], 400)
        self.assertEqual(resp["error"]["type"], "illegal_argument_exception")
        self.assertIn("must be terminated by a newline", resp["error"]["reason"])
        self.assertEqual(resp["error"]["root_cause"][0]["type"], "illegal_argument_exception")
        status, _, resp = self.es.bulk(ndjson({"upsert": {"_index": "t"}}, {"a": 1}))
        self.assertEqual(status, 400)
        self.assertIn("expected one of [create, delete, index, update] but found [upsert]",
                      resp["error"]["reason"])
        status, _, resp = self.es.bulk("not json\n")
        self.assertEqual(status, 400)
        self.assertIn("Malformed action/metadata line [1]", resp["error"]["reason"])
        status, _, resp = self.es.bulk("")
        self.assertEqual(resp["error"]["reason"], "Validation Failed: 1: no requests added;")
        status, _, resp = self.es.request("POST", "/_bulk", ndjson({"a": 1}),
                                          {"Content-Type": "text/plain"})
        self.assertEqual(status, 406)
        self.assertEqual(self.es.stats()["documents"], 0)

    def test_item_level_errors(self):
        _, _, resp = self.es.bulk(ndjson({"create": {"_index": "Upper", "_id": "1"}}, {"a": 1},
                                         {"create": {"_index": "ok", "_id": "2"}}, "{bad",
                                         {"create": {"_index": "ok", "_id": "3"}}, {"a": 1}))
        self.assertTrue(resp["errors"])
        statuses = [i["create"]["status"] for i in resp["items"]]
        self.assertEqual(statuses, [400, 400, 201])
        self.assertEqual(resp["items"][0]["create"]["error"]["type"],
                         "invalid_index_name_exception")
        self.assertEqual(resp["items"][1]["create"]["error"]["type"],
                         "document_parsing_exception")
        real = sample("spec-example_bulk-response_errors-true.json")["items"][0]["update"]
        self.assertEqual(set(resp["items"][1]["create"]["error"]), set(real["error"]))

    def test_count_and_search_shapes(self):
        self.es.bulk(ndjson({"create": {"_index": "bp-a", "_id": "1"}}, {"p": "x", "n": 5},
                            {"create": {"_index": "bp-b", "_id": "2"}}, {"p": "y", "n": 9}))
        _, _, resp = self.es.request("GET", "/bp-*/_count")
        self.assertEqual(shape(resp), shape(sample("spec-example_count-response.json")))
        self.assertEqual(resp["count"], 2)
        _, _, resp = self.es.request("POST", "/bp-*/_count", {"query": {"term": {"p": "y"}}})
        self.assertEqual(resp["count"], 1)
        _, _, resp = self.es.request("POST", "/_search", {"query": {"range": {"n": {"gt": 6}}}})
        real = sample("spec-example_search-response.json")
        self.assertEqual(set(resp), set(real))
        self.assertEqual(set(resp["hits"]), set(real["hits"]))
        self.assertEqual(set(resp["hits"]["hits"][0]), set(real["hits"]["hits"][0]))
        self.assertEqual(resp["hits"]["total"], {"value": 1, "relation": "eq"})
        self.assertEqual(resp["hits"]["hits"][0]["_id"], "2")

    def test_strict_template_and_types_reject_items(self):
        tpl = {"index_patterns": ["bp-*"], "priority": 200,
               "template": {"mappings": {"dynamic": "strict", "properties": {
                   "n": {"type": "float"}, "t": {"type": "date"},
                   "o": {"properties": {"k": {"type": "keyword"}}}}}}}
        status, _, resp = self.es.request("PUT", "/_index_template/bp", tpl)
        self.assertEqual((status, resp), (200, {"acknowledged": True}))
        _, _, resp = self.es.bulk(ndjson(
            {"create": {"_index": "bp-1", "_id": "a"}}, {"n": 1.5, "t": "2026-01-02T03:04:05Z",
                                                         "o": {"k": "v"}},
            {"create": {"_index": "bp-1", "_id": "b"}}, {"n": "high"},
            {"create": {"_index": "bp-1", "_id": "c"}}, {"extra": 1},
            {"create": {"_index": "other", "_id": "d"}}, {"extra": 1}))
        items = [i["create"] for i in resp["items"]]
        self.assertEqual([i["status"] for i in items], [201, 400, 400, 201])
        self.assertEqual(items[1]["error"]["type"], "document_parsing_exception")
        self.assertIn("failed to parse field [n] of type [float]", items[1]["error"]["reason"])
        self.assertEqual(items[2]["error"]["type"], "strict_dynamic_mapping_exception")
        self.assertIn("dynamic introduction of [extra]", items[2]["error"]["reason"])

    def test_faults(self):
        self.es.request("POST", "/_emulator/faults", {"item_429": 1, "request_503": 1})
        body = ndjson({"create": {"_index": "f", "_id": "1"}}, {"a": 1},
                      {"create": {"_index": "f", "_id": "2"}}, {"a": 1})
        status, _, resp = self.es.bulk(body)
        self.assertEqual(status, 503)
        self.assertEqual(resp["error"]["type"], "unavailable_shards_exception")
        status, _, resp = self.es.bulk(body)
        self.assertEqual([i["create"]["status"] for i in resp["items"]], [429, 201])
        self.assertEqual(resp["items"][0]["create"]["error"]["type"],
                         "es_rejected_execution_exception")
        status, _, resp = self.es.bulk(body)
        self.assertEqual([i["create"]["status"] for i in resp["items"]], [201, 409])
        self.assertEqual(self.es.stats()["documents"], 2)

    def test_refused_for_a_period_then_back_on_the_same_port(self):
        self.es.request("POST", "/_emulator/faults", {"refuse_s": 1.0})
        time.sleep(0.3)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", self.es.port), timeout=2).close()
        time.sleep(1.2)
        status, _, _ = self.es.request("GET", "/")
        self.assertEqual(status, 200)

    def test_slow_responses(self):
        self.es.request("POST", "/_emulator/faults", {"slow_ms": 300})
        t0 = time.monotonic()
        self.es.bulk(ndjson({"create": {"_index": "s", "_id": "1"}}, {"a": 1}))
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)

    def test_gzip_body(self):
        body = gzip.compress(ndjson({"create": {"_index": "g", "_id": "1"}}, {"a": 1}).encode())
        _, _, resp = self.es.bulk(body, headers={"Content-Encoding": "gzip"})
        self.assertEqual(resp["items"][0]["create"]["status"], 201)
        self.assertEqual(self.es.stats()["gzip_requests"], 1)


class ModesTest(unittest.TestCase):
    def test_opensearch_has_no_product_header(self):
        es = Emulator("--opensearch")
        try:
            status, resp, body = es.request("GET", "/")
            self.assertEqual(status, 200)
            self.assertIsNone(resp.getheader("X-Elastic-Product"))
            self.assertEqual(body["version"]["distribution"], "opensearch")
        finally:
            es.close()

    def test_credentials_required(self):
        es = Emulator("--api-key", "k1", "--basic", "elastic:pw")
        try:
            status, resp, body = es.request("GET", "/")
            self.assertEqual(status, 401)
            self.assertEqual(body["error"]["type"], "security_exception")
            self.assertEqual(es.request("GET", "/", headers={"Authorization": "ApiKey k1"})[0],
                             200)
            basic = "Basic " + base64.b64encode(b"elastic:pw").decode()
            self.assertEqual(es.request("GET", "/", headers={"Authorization": basic})[0], 200)
            self.assertEqual(es.request("GET", "/", headers={"Authorization": "ApiKey no"})[0],
                             401)
        finally:
            es.close()


if __name__ == "__main__":
    if not os.path.isdir(DATA):
        sys.exit("the Elasticsearch samples are missing (looked in %s; they live in tests/data/es)"
                 % DATA)
    unittest.main(verbosity=2)
