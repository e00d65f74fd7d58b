#include "clinical/csv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Reading goes through a small push-back stack of our own: ungetc() promises one character,
 * and a byte-order mark that turns out not to be one gives back three. */
static int get(bp_csv *c)
{
    if (c->n_back)
        return c->back[--c->n_back];
    return getc(c->f);
}

static void unget(bp_csv *c, int ch)
{
    if (ch != EOF && c->n_back < sizeof c->back / sizeof c->back[0])
        c->back[c->n_back++] = ch;
}

static int push(bp_csv *c, char ch)
{
    if (c->len == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        char *text = realloc(c->text, cap);
        if (!text)
            return -1;
        c->text = text;
        c->cap = cap;
    }
    c->text[c->len++] = ch;
    return 0;
}

static int begin_cell(bp_csv *c)
{
    if (c->n == c->cells_cap) {
        size_t cap = c->cells_cap ? c->cells_cap * 2 : 16;
        size_t *starts = realloc(c->starts, cap * sizeof *starts);
        if (!starts)
            return -1;
        c->starts = starts;
        char **cells = realloc(c->cells, cap * sizeof *cells);
        if (!cells)
            return -1;
        c->cells = cells;
        c->cells_cap = cap;
    }
    c->starts[c->n] = c->len;
    return 0;
}

static void skip_bom(bp_csv *c)
{
    static const int bom[] = {0xEF, 0xBB, 0xBF};
    int got[3], k = 0;
    for (; k < 3; k++) {
        got[k] = get(c);
        if (got[k] != bom[k])
            break;
    }
    if (k == 3)
        return;
    for (int i = k; i >= 0; i--) /* give back what was read, last first */
        unget(c, got[i]);
}

/* After a line break character `ch` (CR or LF): a CRLF pair is one line end. */
static int line_break(bp_csv *c, int ch, int keep)
{
    if (keep && push(c, (char)ch) != 0)
        return -1;
    if (ch == '\r') {
        int next = get(c);
        if (next == '\n') {
            if (keep && push(c, '\n') != 0)
                return -1;
        } else {
            unget(c, next);
        }
    }
    c->line++;
    return 0;
}

/* Fills `why` and returns -1, so that a failure is one statement. */
__attribute__((format(printf, 3, 4))) static int fail(char *why, size_t why_len, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return -1;
}

/* The rest of a quoted field, its opening quote read; *after receives the first character
 * after the closing quote and the spaces that follow it. */
static int read_quoted(bp_csv *c, int *after, char *why, size_t why_len)
{
    int opened = c->line, ch;
    for (;;) {
        ch = get(c);
        if (ch == EOF)
            return fail(why, why_len,
                        "%d: unterminated quoted field (the quote opened on this line is never "
                        "closed)",
                        opened);
        if (ch == '"') {
            ch = get(c);
            if (ch != '"')
                break; /* the closing quote; `ch` is what follows it */
        } else if (ch == '\r' || ch == '\n') {
            if (line_break(c, ch, 1) != 0)
                return fail(why, why_len, "out of memory");
            continue;
        } else if (ch == '\0') {
            return fail(why, why_len, "%d: a NUL byte inside a quoted field", c->line);
        }
        if (push(c, (char)ch) != 0)
            return fail(why, why_len, "out of memory");
    }
    while (ch == ' ' || ch == '\t')
        ch = get(c);
    if (ch != ',' && ch != '\r' && ch != '\n' && ch != EOF)
        return fail(why, why_len,
                    "%d: '%c' after the closing quote of a field (a quote inside a quoted field "
                    "is written \"\")",
                    c->line, ch >= 0x20 && ch < 0x7f ? ch : '?');
    *after = ch;
    return 0;
}

/* An unquoted field from its first character `ch` on, trailing spaces trimmed; *after
 * receives the character that ended it. */
static int read_plain(bp_csv *c, int ch, int *after, char *why, size_t why_len)
{
    size_t start = c->len;
    for (; ch != ',' && ch != '\r' && ch != '\n' && ch != EOF; ch = get(c)) {
        if (ch == '"')
            return fail(why, why_len,
                        "%d: a quote inside an unquoted field (quote the whole field and write "
                        "the quote as \"\")",
                        c->line);
        if (ch == '\0')
            return fail(why, why_len, "%d: a NUL byte", c->line);
        if (push(c, (char)ch) != 0)
            return fail(why, why_len, "out of memory");
    }
    while (c->len > start && (c->text[c->len - 1] == ' ' || c->text[c->len - 1] == '\t'))
        c->len--;
    *after = ch;
    return 0;
}

/* One cell from the current position; *end receives what ended it (',', '\n' or EOF: a CR
 * line end is consumed and reported as '\n'). *quoted says whether it was quoted. */
static int read_cell(bp_csv *c, int *end, int *quoted, char *why, size_t why_len)
{
    int ch;
    while ((ch = get(c)) == ' ' || ch == '\t')
        ;
    *quoted = ch == '"';
    if ((*quoted ? read_quoted(c, &ch, why, why_len) : read_plain(c, ch, &ch, why, why_len)) != 0)
        return -1;
    if (ch == '\r' || ch == '\n') {
        if (line_break(c, ch, 0) != 0)
            return fail(why, why_len, "out of memory");
        ch = '\n';
    }
    *end = ch;
    if (push(c, '\0') != 0)
        return fail(why, why_len, "out of memory");
    return 0;
}

void bp_csv_init(bp_csv *c, FILE *f)
{
    memset(c, 0, sizeof *c);
    c->f = f;
    c->line = 1;
    c->at_start = 1;
}

int bp_csv_next(bp_csv *c, char ***cells, size_t *n, char *why, size_t why_len)
{
    if (c->at_start) {
        skip_bom(c);
        c->at_start = 0;
    }
    for (;;) {
        c->len = 0;
        c->n = 0;
        c->record_line = c->line;
        int end, quoted;
        do {
            if (begin_cell(c) != 0)
                return fail(why, why_len, "out of memory");
            if (read_cell(c, &end, &quoted, why, why_len) != 0)
                return -1;
            c->n++;
        } while (end == ',');
        if (ferror(c->f))
            return fail(why, why_len, "%d: read error", c->line);
        int blank = c->n == 1 && !quoted && c->text[0] == '\0';
        if (blank && end == EOF)
            return 0;
        if (blank)
            continue;
        for (size_t i = 0; i < c->n; i++)
            c->cells[i] = c->text + c->starts[i];
        *cells = c->cells;
        *n = c->n;
        return 1;
    }
}

int bp_csv_line(const bp_csv *c)
{
    return c->record_line;
}

void bp_csv_free(bp_csv *c)
{
    free(c->text);
    free(c->starts);
    free(c->cells);
    memset(c, 0, sizeof *c);
}
