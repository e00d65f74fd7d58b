/* The decoder's fast JSON path (src/fhir/fhir_json.c) against cJSON itself: whenever the fast path
 * gives a tree, cJSON_ParseWithLengthOpts must give the same tree (types, keys, strings, the
 * numbers' bits, valueint, child/next/prev) and stop at the same byte. Inputs: the FHIR
 * examples, every prefix of a few of them, one-byte changes, and hand-made edge cases of
 * cJSON's own rules (white space below 32, literal prefixes, numbers strtod reads). The fast
 * path must also take the usual FHIR text, or it would be no fast path. */
#include "check.h"
#include "fhir/fhir_json.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bump allocator for the fast path's trees, freed as a whole. */
static char *pool;
static size_t pool_used, pool_size;

static void *bump(size_t n)
{
    n = (n + 15u) & ~(size_t)15u;
    if (pool_used + n > pool_size)
        return NULL;
    void *p = pool + pool_used;
    pool_used += n;
    return p;
}

static int differences;
static int accepted, tried;

static bool same_tree(const cJSON *a, const cJSON *b)
{
    for (; a || b; a = a->next, b = b->next) {
        if (!a || !b || a->type != b->type || a->valueint != b->valueint ||
            memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) != 0)
            return false;
        if ((a->string == NULL) != (b->string == NULL) ||
            (a->string && strcmp(a->string, b->string) != 0))
            return false;
        if ((a->valuestring == NULL) != (b->valuestring == NULL) ||
            (a->valuestring && strcmp(a->valuestring, b->valuestring) != 0))
            return false;
        /* the head's prev is the last element, as cJSON links them */
        const cJSON *la = a->child, *lb = b->child;
        while (la && la->next)
            la = la->next;
        while (lb && lb->next)
            lb = lb->next;
        if ((a->child && a->child->prev != la) || (b->child && b->child->prev != lb))
            return false;
        if (!same_tree(a->child, b->child))
            return false;
    }
    return true;
}

static void compare(const char *data, size_t len)
{
    pool_used = 0;
    const char *fast_end = NULL, *slow_end = NULL;
    cJSON *fast = bp_fast_json_parse(data, len, &fast_end, bump);
    tried++;
    if (!fast)
        return;
    accepted++;
    cJSON *slow = cJSON_ParseWithLengthOpts(data, len, &slow_end, 0);
    if (!slow || fast_end != slow_end || !same_tree(fast, slow)) {
        if (differences++ < 5)
            fprintf(stderr, "fast path differs from cJSON on %zu bytes: %.*s\n", len,
                    (int)(len < 200 ? len : 200), data);
    }
    cJSON_Delete(slow);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

int main(void)
{
    pool_size = 64 << 20;
    pool = malloc(pool_size);
    CHECK(pool != NULL);
    if (!pool)
        return CHECK_DONE();

    static const char *const cases[] = {
        "{}", "[]", "[ ]", "{ }", "null", "true", "false", "nullx", "truefalse", "[null,true,false]",
        "0", "-0", "1", "-1", "01", "1.", ".5", "1.5", "-1.5e3", "1E+2", "1e-2", "0e5", "1e400",
        "123456789012345", "1234567890123456", "0.000000000000000000001", "1e22", "1e23",
        "2147483647", "2147483648", "-2147483648", "-2147483649", "3000000000.5", "1.5x", "-",
        "--1", "1-", "1e", "1e+", "[1,]", "[,1]", "{\"a\":}", "{\"a\" 1}", "{\"a\":1,}", "{1:2}",
        "\"abc\"", "\"a\\\"b\"", "\"a\\u00e9\"", "\"unterminated", "\x01[\0371\x02]\x7f" /* \037: octal stops at 3 digits */,
        "  {\"a\" :\t[1 , {\"b\":null} ] }  trailing", "{\"a\":1}{\"b\":2}", "[[[[[]]]]]",
        "\xEF\xBB\xBF{}", "{\"dup\":1,\"dup\":2}", "[\"\xff\xfe raw bytes\"]", "[1.25e-7, 98.6]",
        "{\"resourceType\":\"Observation\",\"valueQuantity\":{\"value\":120,\"unit\":\"mmHg\"}}",
        "", " ", "[", "{", "\"", "[1 2]", "[1,\n2]", "[-]", "[0x10]", "[Infinity]", "[NaN]",
        "[1.0000000000000001]", "[4.9406564584124654e-324]", "[1e-22]", "[9007199254740993]",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        compare(cases[i], strlen(cases[i]));
    char deep[2100];
    for (size_t depth = 998; depth <= 1002; depth++) {
        memset(deep, '[', depth);
        memset(deep + depth, ']', depth);
        compare(deep, 2 * depth);
    }

    const char *dir = getenv("BPPIPE_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/fhir-examples", dir ? dir : "tests/data");
    DIR *d = opendir(path);
    CHECK(d != NULL);
    int files = 0, files_fast = 0;
    uint64_t rng = 88172645463325252ull;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strstr(e->d_name, ".json"))
            continue;
        char file[1400];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        size_t len;
        char *text = read_file(file, &len);
        if (!text)
            continue;
        files++;
        int before = accepted;
        compare(text, len);
        files_fast += accepted > before;
        /* every prefix of the first part, and one-byte changes anywhere */
        for (size_t n = 0; n < len && n < 3000; n++)
            compare(text, n);
        char *copy = malloc(len);
        for (int k = 0; copy && k < 3000; k++) {
            memcpy(copy, text, len);
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            static const char bytes[] = " \t\n{}[],:\"\\0123456789.-+eEtrufalsn\x01\x7f";
            copy[rng % len] = bytes[(rng >> 32) % (sizeof bytes - 1)];
            compare(copy, len);
        }
        free(copy);
        free(text);
    }
    if (d)
        closedir(d);
    CHECK(differences == 0);
    CHECK(files > 5);
    /* examples without escapes go the fast way (the spec's narrative ones have escapes) */
    CHECK(files_fast >= 3);
    fprintf(stderr, "%d of %d inputs took the fast path; %d of %d example files\n", accepted,
            tried, files_fast, files);
    free(pool);
    return CHECK_DONE();
}
