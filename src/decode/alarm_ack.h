/* Alarm acknowledgements as input (issue 25, docs/alarms.md): a payload
 * {"bppipe":"alarm-ack","alarm_id":"...","by":"NAME","at":"ISO time","from":"ADDRESS"} decodes to
 * one command item (bp_decoded.ack_*), so an acknowledgement travels with the readings of the
 * partition that owns the alarm and is applied in order, exactly once, by the alarm stage. */
#ifndef BPPIPE_ALARM_ACK_H
#define BPPIPE_ALARM_ACK_H

#include "fhir/fhir_decode.h"

#include <stdbool.h>
#include <stddef.h>

/* The longest alarm_id taken (a Kafka topic of 249 characters, '~', a partition, '~', 16 hex
 * digits) and the longest other member; longer ones make the payload a dead letter, never cut.
 * src/alarm/alarm_machine.h sizes the alarm state to hold them whole. */
#define BP_ALARM_ACK_ID_MAX 287
#define BP_ALARM_ACK_TEXT_MAX 200

/* A JSON object whose first key is "bppipe" (whitespace allowed). */
bool bp_alarm_ack_sniff(const char *data, size_t len);
/* One item: the command, or a dead letter saying what is wrong with it. Same contract as
 * bp_fhir_decode. */
int bp_alarm_ack_decode(const char *data, size_t len, bp_decode_emit emit, void *user);

#endif
