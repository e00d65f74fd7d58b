/* A fast path in front of cJSON's parser for the JSON that FHIR messages nearly always are.
 *
 * It builds the very tree cJSON_ParseWithLengthOpts(data, len, &end, false) builds (same node
 * types, strings, numbers, valueint, child/next/prev links, `end`), but only for the text it
 * is sure about: strings without a backslash, numbers of at most 15 significant digits and a
 * power of ten of at most 22 (exact in one IEEE operation, so equal to strtod's), containers
 * nested at most as deep as cJSON allows, no byte-order mark. Anything else, broken JSON
 * included, makes it answer NULL, and the caller parses with cJSON, which then gives the
 * result and the error position it always gave. cJSON parses every value by its own rules
 * (whitespace is any byte up to 32, literals are prefixes); these are followed here, so a text
 * the fast path accepts is one cJSON accepts the same way. Also here: the member lookup the
 * decoder walks its trees with (bp_json_member). */
#ifndef BPPIPE_FHIR_JSON_H
#define BPPIPE_FHIR_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <string.h>

/* Parses data[0..len). Nodes and strings come from `alloc` (never freed one by one: the caller
 * owns the memory; the strings point into one copy of the text, nodes come in slabs, so a tree
 * is never cJSON_Delete'd). Returns the root and sets *end after the value, or returns NULL. */
cJSON *bp_fast_json_parse(const char *data, size_t len, const char **end,
                          void *(*alloc)(size_t));

/* The string of a string node, else NULL (cJSON_IsString's test, inline). */
static inline const char *bp_json_text(const cJSON *v)
{
    return v && (v->type & 0xFF) == cJSON_String ? v->valuestring : NULL;
}

/* cJSON_GetObjectItemCaseSensitive(obj, name), inline and comparing a member's first byte
 * before its whole name: the decoder looks members up by the dozen per resource. Same answer
 * as cJSON's, including its stop at the first child without a name (any array's). */
static inline const cJSON *bp_json_member(const cJSON *obj, const char *name)
{
    if (!obj || !name)
        return NULL;
    for (const cJSON *c = obj->child; c && c->string; c = c->next)
        if (c->string[0] == name[0] && strcmp(c->string, name) == 0)
            return c;
    return NULL;
}

#endif
