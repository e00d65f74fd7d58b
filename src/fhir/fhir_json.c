#include "fhir/fhir_json.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Nodes are taken from slabs of the allocator, a few dozen at a time, rather than one call per
 * node: the first slab holds what a usual FHIR resource needs, later ones double. */
#define FIRST_SLAB 32
#define LAST_SLAB 1024

typedef struct parser {
    unsigned char *p, *end; /* in `text`, the parser's own copy of the input */
    unsigned char *text;
    void *(*alloc)(size_t);
    cJSON *slab;             /* the next free node of the current slab */
    size_t slab_left, slab_size;
    size_t depth;
    bool backslashes; /* the input holds a backslash: each string is checked for escapes */
} parser;

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* cJSON's white space: any byte up to 32. */
static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && *ps->p <= 32)
        ps->p++;
}

static cJSON *new_node(parser *ps)
{
    if (ps->slab_left == 0) {
        ps->slab_size = ps->slab_size ? ps->slab_size * 2 : FIRST_SLAB;
        if (ps->slab_size > LAST_SLAB)
            ps->slab_size = LAST_SLAB;
        ps->slab = ps->alloc(ps->slab_size * sizeof *ps->slab);
        if (!ps->slab)
            return NULL;
        ps->slab_left = ps->slab_size;
    }
    ps->slab_left--;
    cJSON *n = ps->slab++;
    memset(n, 0, sizeof *n);
    return n;
}

/* A string without escapes at ps->p (the opening quote); NULL to give up. It stays where it is
 * in the parser's copy of the input, its closing quote overwritten by the terminating NUL (the
 * parser never looks back at a byte it has passed). */
static char *parse_text(parser *ps)
{
    unsigned char *start = ps->p + 1;
    unsigned char *close = memchr(start, '"', (size_t)(ps->end - start));
    if (!close || (ps->backslashes && memchr(start, '\\', (size_t)(close - start))))
        return NULL;
    *close = '\0';
    ps->p = close + 1;
    return (char *)start;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* cJSON takes the run of [0-9+-eE.] and strtod's reading of it. Only a run that is one whole
 * JSON number of at most 15 significant digits and a small power of ten is taken here. */
static bool parse_number(parser *ps, cJSON *n)
{
    unsigned char *p = ps->p, *run = p;
    while (run < ps->end && run - p < 63 &&
           (is_digit(*run) || *run == '+' || *run == '-' || *run == 'e' || *run == 'E' ||
            *run == '.'))
        run++;
    if (run - p == 63)
        return false; /* cJSON reads at most 63 characters of a number */
    bool negative = *p == '-';
    if (negative)
        p++;
    if (p == run || !is_digit(*p) || (*p == '0' && p + 1 < run && is_digit(p[1])))
        return false;
    uint64_t mantissa = 0;
    int digits = 0, scale = 0;
    for (; p < run && is_digit(*p); p++)
        if (digits || *p != '0') {
            mantissa = mantissa * 10 + (uint64_t)(*p - '0');
            if (++digits > 15)
                return false;
        }
    if (p < run && *p == '.') {
        p++;
        if (p == run || !is_digit(*p))
            return false;
        for (; p < run && is_digit(*p); p++, scale--)
            if (digits || *p != '0') {
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
                if (++digits > 15)
                    return false;
            }
    }
    if (p < run && (*p == 'e' || *p == 'E')) {
        p++;
        bool minus = p < run && *p == '-';
        if (p < run && (*p == '-' || *p == '+'))
            p++;
        if (p == run || !is_digit(*p))
            return false;
        int e = 0;
        for (; p < run && is_digit(*p); p++)
            if ((e = e * 10 + (*p - '0')) > 400)
                return false;
        scale += minus ? -e : e;
    }
    if (p != run || scale < -22 || scale > 22)
        return false;
    double v = (double)mantissa;
    if (mantissa)
        v = scale < 0 ? v / pow10_exact[-scale] : v * pow10_exact[scale];
    if (negative)
        v = -v;
    n->type = cJSON_Number;
    n->valuedouble = v;
    n->valueint = v >= INT_MAX ? INT_MAX : v <= (double)INT_MIN ? INT_MIN : (int)v;
    ps->p = run;
    return true;
}

static bool parse_value(parser *ps, cJSON *n);

/* The members or elements up to `close`; `object` reads "key": before each value. */
static bool parse_container(parser *ps, cJSON *n, bool object, unsigned char close)
{
    if (ps->depth >= CJSON_NESTING_LIMIT)
        return false;
    ps->depth++;
    ps->p++; /* the opening bracket */
    skip_ws(ps);
    cJSON *head = NULL, *last = NULL;
    if (ps->p < ps->end && *ps->p == close)
        goto done;
    for (;;) {
        cJSON *item = new_node(ps);
        if (!item)
            return false;
        if (last) {
            last->next = item;
            item->prev = last;
        } else {
            head = item;
        }
        last = item;
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"' || !(item->string = parse_text(ps)))
                return false;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return false;
            ps->p++;
            skip_ws(ps);
        }
        if (!parse_value(ps, item))
            return false;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return false;
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p != close)
            return false;
        break;
    }
done:
    ps->depth--;
    if (head)
        head->prev = last;
    n->type = object ? cJSON_Object : cJSON_Array;
    n->child = head;
    ps->p++; /* the closing bracket */
    return true;
}

static bool literal(parser *ps, const char *word, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static bool parse_value(parser *ps, cJSON *n)
{
    if (ps->p >= ps->end)
        return false;
    switch (*ps->p) {
    case '"':
        n->type = cJSON_String;
        return (n->valuestring = parse_text(ps)) != NULL;
    case '{':
        return parse_container(ps, n, true, '}');
    case '[':
        return parse_container(ps, n, false, ']');
    case 'n':
        n->type = cJSON_NULL;
        return literal(ps, "null", 4);
    case 'f':
        n->type = cJSON_False;
        return literal(ps, "false", 5);
    case 't':
        n->type = cJSON_True;
        n->valueint = 1;
        return literal(ps, "true", 4);
    default:
        return (*ps->p == '-' || is_digit(*ps->p)) && parse_number(ps, n);
    }
}

cJSON *bp_fast_json_parse(const char *data, size_t len, const char **end,
                          void *(*alloc)(size_t))
{
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        return NULL; /* cJSON skips a byte-order mark; leave that to it */
    /* One copy of the whole text instead of one allocation and copy per string. */
    unsigned char *text = alloc(len ? len : 1);
    if (!text)
        return NULL;
    memcpy(text, data, len);
    parser ps = {.p = text, .end = text + len, .text = text, .alloc = alloc,
                 .backslashes = memchr(data, '\\', len) != NULL};
    skip_ws(&ps);
    cJSON *root = new_node(&ps);
    if (!root || !parse_value(&ps, root))
        return NULL;
    *end = data + (ps.p - ps.text);
    return root;
}
