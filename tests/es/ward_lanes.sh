# The simulated ward for the delivery-lane tests (sourced): ~100 readings/s (20 patients at 5/s),
# detector-rules with a lower crisis line so that critical readings are frequent, anomalies to
# sink-es, normal readings to sink-file, critical ones to sink-alert (every one an alert: no
# cooldown), dead letters to a file. ward_ini FILE ES_PORT [extra lines for sink.alerts...]
ward_ini() {
    local file=$1 port=$2
    shift 2
    {
        cat <<INI
[pipeline]
batch_size = 20
stats_interval = 1
retry_initial_ms = 50
retry_max_ms = 1000
[source.ward]
plugin = source-faker
patients = 20
rate = 5
seed = 12
[detector.rules]
plugin = detector-rules
critical_systolic_high = 150
[sink.es]
plugin = sink-es
route = anomaly
url = http://127.0.0.1:$port
timeout_ms = 2000
connect_timeout_ms = 500
[sink.normal]
plugin = sink-file
route = normal
path = $t/normal
[sink.dead]
plugin = sink-file
route = invalid
path = $t/dead
[sink.alerts]
plugin = sink-alert
route = critical
cooldown = 0
INI
        for kv in "$@"; do echo "$kv"; done
    } >"$file"
}
normal_count() { cat "$t"/normal/*.ndjson 2>/dev/null | wc -l | tr -d ' '; }
j() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }
