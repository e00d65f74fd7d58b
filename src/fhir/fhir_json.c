#include "fhir/fhir_json.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Nodes are taken from slabs of the allocator, a few dozen at a time, rather than one call per
 * node: the first slab holds what a usual FHIR resource needs, later ones double. */
#define FIRST_SLAB 32
#define LAST_SLAB 1024

/* The parser's copy of the text is followed by PAD bytes: one that nothing in JSON starts with
 * or continues with (END_MARK), so the parser needs no bounds check to see that the text ended
 * (the byte at `end` fails every test just as the end would), then quotes, so the search for a
 * string's closing quote needs no bounds check either and may read sixteen bytes at a time. */
#define PAD 16
#define END_MARK 0xFF

/* The position in the text is passed and returned by value (NULL: give up), so it stays in a
 * register while the nodes are written. */
typedef struct parser {
    unsigned char *end; /* of the parser's copy of the input */
    void *(*alloc)(size_t);
    cJSON *slab; /* the next free node of the current slab */
    size_t slab_left, slab_size;
    size_t depth;
    bool backslashes; /* the input holds a backslash: each string is checked for escapes */
} parser;

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* cJSON's white space: any byte up to 32. END_MARK ends the run at the end of the text. */
static inline unsigned char *skip_ws(unsigned char *p)
{
    while (*p <= 32)
        p++;
    return p;
}

static inline cJSON *new_node(parser *ps)
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

/* The first '"' from q on; the quotes after the text stop the search. */
static inline unsigned char *find_quote(unsigned char *q)
{
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    for (;; q += 16) {
        unsigned hits = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)q), quote));
        if (hits)
            return q + __builtin_ctz(hits);
    }
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
    /* Eight bytes at a time: a byte of w ^ '"'... is zero where w has a quote, and the lowest
     * flag of the zero-byte test is exact (a borrow only runs upwards from a zero byte). */
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    for (;; q += 8) {
        uint64_t w;
        memcpy(&w, q, 8);
        w ^= ones * '"';
        uint64_t zero = (w - ones) & ~w & highs;
        if (zero)
            return q + (__builtin_ctzll(zero) >> 3);
    }
#else
    while (*q != '"')
        q++;
    return q;
#endif
}

/* A string without escapes at p (the opening quote) into *out; NULL to give up. It stays where
 * it is in the parser's copy of the input, its closing quote overwritten by the terminating NUL
 * (the parser never looks back at a byte it has passed). */
static inline unsigned char *parse_text(const parser *ps, unsigned char *p, char **out)
{
    unsigned char *start = p + 1;
    unsigned char *close = find_quote(start);
    if (close >= ps->end || (ps->backslashes && memchr(start, '\\', (size_t)(close - start))))
        return NULL;
    *close = '\0';
    *out = (char *)start;
    return close + 1;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* cJSON takes the run of [0-9+-eE.] and strtod's reading of it. Only a run that is one whole
 * JSON number of at most 15 significant digits and a small power of ten is taken here. */
static unsigned char *parse_number(unsigned char *p, const unsigned char *end, cJSON *n)
{
    unsigned char *run = p;
    while (run < end && run - p < 63 &&
           (is_digit(*run) || *run == '+' || *run == '-' || *run == 'e' || *run == 'E' ||
            *run == '.'))
        run++;
    if (run - p == 63)
        return NULL; /* cJSON reads at most 63 characters of a number */
    bool negative = *p == '-';
    if (negative)
        p++;
    if (p == run || !is_digit(*p) || (*p == '0' && p + 1 < run && is_digit(p[1])))
        return NULL;
    uint64_t mantissa = 0;
    int digits = 0, scale = 0;
    for (; p < run && is_digit(*p); p++)
        if (digits || *p != '0') {
            mantissa = mantissa * 10 + (uint64_t)(*p - '0');
            if (++digits > 15)
                return NULL;
        }
    if (p < run && *p == '.') {
        p++;
        if (p == run || !is_digit(*p))
            return NULL;
        for (; p < run && is_digit(*p); p++, scale--)
            if (digits || *p != '0') {
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
                if (++digits > 15)
                    return NULL;
            }
    }
    if (p < run && (*p == 'e' || *p == 'E')) {
        p++;
        bool minus = p < run && *p == '-';
        if (p < run && (*p == '-' || *p == '+'))
            p++;
        if (p == run || !is_digit(*p))
            return NULL;
        int e = 0;
        for (; p < run && is_digit(*p); p++)
            if ((e = e * 10 + (*p - '0')) > 400)
                return NULL;
        scale += minus ? -e : e;
    }
    if (p != run || scale < -22 || scale > 22)
        return NULL;
    double v = (double)mantissa;
    if (mantissa)
        v = scale < 0 ? v / pow10_exact[-scale] : v * pow10_exact[scale];
    if (negative)
        v = -v;
    n->type = cJSON_Number;
    n->valuedouble = v;
    n->valueint = v >= INT_MAX ? INT_MAX : v <= (double)INT_MIN ? INT_MIN : (int)v;
    return run;
}

static unsigned char *parse_value(parser *ps, unsigned char *p, cJSON *n);

/* The members or elements up to `close`; `object` reads "key": before each value. */
static unsigned char *parse_container(parser *ps, unsigned char *p, cJSON *n, bool object,
                                      unsigned char close)
{
    if (ps->depth >= CJSON_NESTING_LIMIT)
        return NULL;
    ps->depth++;
    p = skip_ws(p + 1); /* after the opening bracket */
    cJSON *head = NULL, *last = NULL;
    if (*p == close)
        goto done;
    for (;;) {
        cJSON *item = new_node(ps);
        if (!item)
            return NULL;
        if (last) {
            last->next = item;
            item->prev = last;
        } else {
            head = item;
        }
        last = item;
        p = skip_ws(p);
        if (object) {
            if (*p != '"' || !(p = parse_text(ps, p, &item->string)))
                return NULL;
            p = skip_ws(p);
            if (*p != ':')
                return NULL;
            p = skip_ws(p + 1);
        }
        if (*p == '"') { /* most values: without the call */
            item->type = cJSON_String;
            p = parse_text(ps, p, &item->valuestring);
        } else {
            p = parse_value(ps, p, item);
        }
        if (!p)
            return NULL;
        p = skip_ws(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p != close)
            return NULL;
        break;
    }
done:
    ps->depth--;
    if (head)
        head->prev = last;
    n->type = object ? cJSON_Object : cJSON_Array;
    n->child = head;
    return p + 1; /* after the closing bracket */
}

static unsigned char *literal(unsigned char *p, const unsigned char *end, const char *word,
                              size_t n)
{
    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0)
        return NULL;
    return p + n;
}

static unsigned char *parse_value(parser *ps, unsigned char *p, cJSON *n)
{
    const unsigned char *end = ps->end;
    switch (*p) { /* END_MARK: the default's NULL */
    case '"':
        n->type = cJSON_String;
        return parse_text(ps, p, &n->valuestring);
    case '{':
        return parse_container(ps, p, n, true, '}');
    case '[':
        return parse_container(ps, p, n, false, ']');
    case 'n':
        n->type = cJSON_NULL;
        return literal(p, end, "null", 4);
    case 'f':
        n->type = cJSON_False;
        return literal(p, end, "false", 5);
    case 't':
        n->type = cJSON_True;
        n->valueint = 1;
        return literal(p, end, "true", 4);
    default:
        return *p == '-' || is_digit(*p) ? parse_number(p, end, n) : NULL;
    }
}

cJSON *bp_fast_json_parse(const char *data, size_t len, const char **end,
                          void *(*alloc)(size_t))
{
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        return NULL; /* cJSON skips a byte-order mark; leave that to it */
    /* One copy of the whole text instead of one allocation and copy per string. */
    unsigned char *text = alloc(len + PAD);
    if (!text)
        return NULL;
    memcpy(text, data, len);
    text[len] = END_MARK;
    memset(text + len + 1, '"', PAD - 1);
    parser ps = {.end = text + len, .alloc = alloc,
                 .backslashes = memchr(data, '\\', len) != NULL};
    cJSON *root = new_node(&ps);
    unsigned char *after = root ? parse_value(&ps, skip_ws(text), root) : NULL;
    if (!after)
        return NULL;
    *end = data + (after - text);
    return root;
}
