# One FHIR R4 blood-pressure Observation per line, for the script tests (sourced), so that each
# test states only what differs between its readings: id, patient, values and time.
#
#   fhir_bp ID PATIENT SYSTOLIC DIASTOLIC TIME
#       prints the Observation (LOINC 85354-9, components 8480-6 and 8462-4 in UCUM mm[Hg],
#       effectiveDateTime TIME, e.g. 2026-03-01T09:00:00Z) on one line.
fhir_bp() {
    local q='"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"'
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"%s","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,%s}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,%s}}]}\n' \
        "$1" "$2" "$5" "$3" "$q" "$4" "$q"
}
