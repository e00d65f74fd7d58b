#!/usr/bin/env bash
# Imports bppipe's Kibana objects with curl: the data view and dashboard (saved_objects.ndjson),
# a server-log connector and the four alert rules (rules/*.json). Safe to run again: objects
# are overwritten, the connector is reused by name, rules are replaced.
#
#   KIBANA_URL=http://127.0.0.1:5601 ES_USER=elastic ES_PASSWORD=... deploy/kibana/setup.sh
#
# With ES_URL set it also installs the index template and ILM policy into Elasticsearch
# (sink-es can do that itself with install_template = true). Without ES_USER the requests go
# unauthenticated (the compose file's laptop mode, security off).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kibana=${KIBANA_URL:-http://127.0.0.1:5601}
auth=()
if [ -n "${ES_USER:-}" ]; then
    auth=(-u "$ES_USER:${ES_PASSWORD:?set ES_PASSWORD (or leave ES_USER unset)}")
fi
kb() { # kb METHOD PATH [curl args...]: one Kibana API call; prints the body, fails on >= 400
    local method=$1 path=$2
    shift 2
    curl -sS --fail-with-body "${auth[@]}" -X "$method" -H 'kbn-xsrf: bppipe-setup' \
        "$kibana$path" "$@"
}

echo "waiting for Kibana at $kibana ..."
for _ in $(seq 60); do
    if kb GET /api/status >/dev/null 2>&1; then break; fi
    sleep 5
done
kb GET /api/status >/dev/null

if [ -n "${ES_URL:-}" ]; then
    es="$here/../elasticsearch"
    curl -sS --fail-with-body "${auth[@]}" -X PUT -H 'Content-Type: application/json' \
        "$ES_URL/_ilm/policy/bp-anomalies" --data-binary "@$es/bp-anomalies-ilm.json"
    echo
    curl -sS --fail-with-body "${auth[@]}" -X PUT -H 'Content-Type: application/json' \
        "$ES_URL/_index_template/bp-anomalies" --data-binary "@$es/bp-anomalies-template.json"
    echo
fi

echo "importing the data view and the dashboard ..."
kb POST '/api/saved_objects/_import?overwrite=true' \
    --form "file=@$here/saved_objects.ndjson"
echo

echo "creating the server-log connector ..."
name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' \
    "$here/rules/server-log-connector.json")
connector=$(kb GET /api/actions/connectors | python3 -c '
import json, sys
name = sys.argv[1]
print(next((c["id"] for c in json.load(sys.stdin) if c["name"] == name), ""))' "$name")
if [ -z "$connector" ]; then
    connector=$(kb POST /api/actions/connector -H 'Content-Type: application/json' \
        --data-binary "@$here/rules/server-log-connector.json" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
fi
echo "connector $connector"

for file in "$here"/rules/*.json; do
    id=bppipe-$(basename "$file" .json)
    [ "$id" = bppipe-server-log-connector ] && continue
    kb DELETE "/api/alerting/rule/$id" >/dev/null 2>&1 || true
    sed "s/\${CONNECTOR_ID}/$connector/" "$file" |
        kb POST "/api/alerting/rule/$id" -H 'Content-Type: application/json' --data-binary @- \
        >/dev/null
    echo "rule $id"
done
echo "done: open $kibana/app/dashboards#/view/bp-anomalies-dashboard"
