"""The simulated ward's PCD-01 messages read by python3-hl7, a parser that is not ours: every
field a PCD-01 receiver reads holds what the simulated reading says, and each deliberately
broken message is broken the way it says.

    pcd01_dump N SEED INVALID_RATE | /usr/bin/python3 pcd01_hl7.py
"""
import datetime
import json
import re
import sys

import hl7

failures = []


def check(ok, what, seq):
    if not ok:
        failures.append("reading %s: %s" % (seq, what))


def utc_ms(dtm):
    """HL7 DTM with milliseconds and zone, YYYYMMDDHHMMSS.fff+ZZZZ, to ms since the epoch."""
    m = re.fullmatch(r"(\d{14})\.(\d{3})([+-])(\d{2})(\d{2})", dtm)
    if not m:
        return None
    t = datetime.datetime.strptime(m.group(1), "%Y%m%d%H%M%S").replace(tzinfo=datetime.timezone.utc)
    off = (int(m.group(4)) * 60 + int(m.group(5))) * 60 * (1 if m.group(3) == "+" else -1)
    return int((t.timestamp() - off) * 1000) + int(m.group(2))


RULES = {  # OBX-3 identifier -> (OBX-4, value key, OBX-6)
    "150021": ("1.1.1.1", "sys", "266016^MDC_DIM_MMHG^MDC"),
    "150022": ("1.1.1.2", "dia", "266016^MDC_DIM_MMHG^MDC"),
    "150023": ("1.1.1.3", "mean", "266016^MDC_DIM_MMHG^MDC"),
    "149546": ("1.1.1.4", "pulse", "264864^MDC_DIM_BEAT_PER_MIN^MDC"),
}

seen = {"readings": 0, "broken": 0}
for line in sys.stdin:
    want = json.loads(line)
    seq, raw = want["seq"], want["message"]
    check(raw.endswith("\r") or want["broken"] == 1, "segments end with CR", seq)
    msg = hl7.parse(raw)
    msh = msg.segment("MSH")
    if want["broken"] == 2:
        check(str(msh[9]) == "ADT^A01^ADT_A01", "broken 2 is not an ORU^R01", seq)
        seen["broken"] += 1
        continue
    check(str(msh[9]) == "ORU^R01^ORU_R01", "MSH-9 ORU^R01^ORU_R01, not %s" % msh[9], seq)
    check(str(msh[12]) == "2.6", "MSH-12 2.6", seq)
    check(str(msh[11]) == "P", "MSH-11 P", seq)
    check(str(msh[15]) == "AL" and str(msh[16]) == "NE", "MSH-15 AL, MSH-16 NE", seq)
    check(str(msh[21]) == "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO",
          "MSH-21 the PCD-01 profile, not %s" % msh[21], seq)
    check(str(msh[4]) == "BPPIPE-WARD", "MSH-4 the facility", seq)
    check(str(msh(3)(1)(2)) == want["eui"], "MSH-3.2 the monitor's EUI-64", seq)
    check(bool(str(msh[10])), "MSH-10 a control id", seq)
    check(utc_ms(str(msh[7])) == want["ms"], "MSH-7 the reading's time", seq)
    pid = msg.segment("PID")
    if want["broken"] == 3:
        check(str(pid[3]) == "", "broken 3 has no PID-3", seq)
        seen["broken"] += 1
        continue
    check(str(pid(3)(1)(1)) == want["patient"], "PID-3.1 %s, not %s" % (want["patient"], pid[3]), seq)
    check(str(pid(3)(1)(4)) == "BPPIPE-WARD", "PID-3.4 the assigning authority", seq)
    pv1 = msg.segment("PV1")
    check(str(pv1(3)(1)(3)) == "BED-%03d" % want["bed"], "PV1-3.3 the bed, not %s" % pv1[3], seq)
    if want["broken"] == 1:
        # cut off halfway: the NIBP rows never arrive
        check(not any(str(o[3]).startswith("150022") for o in msg.segments("OBX")),
              "broken 1 is cut before the diastolic", seq)
        seen["broken"] += 1
        continue
    obr = msg.segment("OBR")
    check(str(obr(3)(1)(4)) == "EUI-64" and len(str(obr(3)(1)(1))) == 16,
          "OBR-3 a filler order number of the monitor", seq)
    check(utc_ms(str(obr[7])) == want["ms"], "OBR-7 the reading's time", seq)
    obx = msg.segments("OBX")
    check([str(o[4]) for o in obx] == ["1.0.0.0", "1.1.0.0", "1.1.1.0", "1.1.1.1", "1.1.1.2",
                                      "1.1.1.3", "1.1.1.4"], "OBX-4 the containment tree", seq)
    check([str(o[1]) for o in obx] == [str(i) for i in range(1, 8)], "OBX-1 set ids 1-7", seq)
    check(str(obx[0](3)(1)(1)) == "69965" and str(obx[0][11]) == "X", "OBX 1 the MDS", seq)
    check(str(obx[0](18)(1)(1)) == want["eui"], "OBX 1's OBX-18 the monitor", seq)
    check(str(obx[2](3)(1)(1)) == "150020", "OBX 3 the NIBP compound", seq)
    for o in obx[3:]:
        code = str(o(3)(1)(1))
        sub, key, unit = RULES.get(code, (None, None, None))
        check(sub is not None, "unexpected OBX-3 %s" % o[3], seq)
        if sub is None:
            continue
        check(str(o[2]) == "NM", "OBX-2 NM", seq)
        check(str(o[4]) == sub, "%s at %s" % (code, sub), seq)
        check(int(str(o[5])) == want[key], "%s value %s, not %s" % (code, o[5], want[key]), seq)
        if want["broken"] == 4 and key != "pulse":
            check(str(o[6]) == "cm^cm^UCUM", "broken 4 in centimetres", seq)
        else:
            check(str(o[6]) == unit, "%s unit %s, not %s" % (code, o[6], unit), seq)
        check(str(o[11]) == "F", "OBX-11 F", seq)
        check(utc_ms(str(o[14])) == want["ms"], "OBX-14 %s with zone" % o[14], seq)
        check(str(o(17)(1)(1)) == "AMEAS", "OBX-17 auto-measurement", seq)
        check(str(o(18)(1)(1)) == want["eui"] and str(o(18)(1)(4)) == "EUI-64",
              "OBX-18 the monitor's EUI-64, not %s" % o[18], seq)
    if want["broken"]:
        seen["broken"] += 1
    else:
        seen["readings"] += 1

print("python3-hl7 read %d readings and %d deliberately broken messages" %
      (seen["readings"], seen["broken"]))
check(seen["readings"] > 0, "no reading at all", "-")
for f in failures[:20]:
    print("FAIL " + f)
sys.exit(1 if failures else 0)
