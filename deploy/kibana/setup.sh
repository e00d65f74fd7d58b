#!/usr/bin/env bash
# Imports bppipe's Kibana objects with curl: the data view and dashboard (saved_objects.ndjson),
# a server-log connector and the four alert rules (rules/*.json). Safe to run again: objects
# are overwritten, the connector is reused by name, rules are deleted and created again under
# fixed ids (rule_id below; Kibana takes only a UUID as a rule id chosen by the caller).
# Needs bash, curl 7.76 or later (--fail-with-body) and python3 (to read the JSON answers).
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
    curl -sS --fail-with-body ${auth[@]+"${auth[@]}"} -X "$method" -H 'kbn-xsrf: bppipe-setup' \
        "$kibana$path" "$@"
}
rule_id() { # rule_id NAME: the fixed id of rules/NAME.json
    case $1 in
        anomaly-spike) echo b39b55ba-7ba0-4a5a-8270-5442bd24e36a ;;
        critical-case) echo 07496bdc-4bdf-45d0-90fc-6d1f236c97fc ;;
        diastolic-hypertension) echo c80cff04-ec02-4460-ad3e-bfa15b3213a7 ;;
        systolic-hypertension) echo fc48c7b3-deca-44d7-ba8d-f464be7d17e4 ;;
        *) echo "rules/$1.json has no id: give it a UUID in rule_id() in $0" >&2; return 1 ;;
    esac
}

echo "waiting for Kibana at $kibana ..."
for _ in $(seq 60); do
    if kb GET /api/status >/dev/null 2>&1; then break; fi
    sleep 5
done
kb GET /api/status >/dev/null

if [ -n "${ES_URL:-}" ]; then
    es="$here/../elasticsearch"
    curl -sS --fail-with-body ${auth[@]+"${auth[@]}"} -X PUT -H 'Content-Type: application/json' \
        "$ES_URL/_ilm/policy/bp-anomalies" --data-binary "@$es/bp-anomalies-ilm.json"
    echo
    curl -sS --fail-with-body ${auth[@]+"${auth[@]}"} -X PUT -H 'Content-Type: application/json' \
        "$ES_URL/_index_template/bp-anomalies" --data-binary "@$es/bp-anomalies-template.json"
    echo
fi

echo "importing the data view and the dashboard ..."
# the import answers 200 even when objects fail; "success" and "errors" say what happened
kb POST '/api/saved_objects/_import?overwrite=true' \
    --form "file=@$here/saved_objects.ndjson" | python3 -c '
import json, sys
answer = json.load(sys.stdin)
if not answer.get("success"):
    sys.exit("import failed: " + json.dumps(answer.get("errors", answer)))
print("imported %d objects" % answer.get("successCount", 0))'

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
    rule=$(basename "$file" .json)
    [ "$rule" = server-log-connector ] && continue
    id=$(rule_id "$rule")
    kb DELETE "/api/alerting/rule/$id" >/dev/null 2>&1 || true  # 404 the first time
    if ! answer=$(sed "s/\${CONNECTOR_ID}/$connector/" "$file" |
        kb POST "/api/alerting/rule/$id" -H 'Content-Type: application/json' --data-binary @-)
    then
        echo "creating rule $rule failed: $answer" >&2
        exit 1
    fi
    echo "rule $rule ($id)"
done
echo "done: open $kibana/app/dashboards#/view/bp-anomalies-dashboard"
