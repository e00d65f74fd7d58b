/* A CSV reader after RFC 4180, lenient where spreadsheets are: fields quoted or not, "" for a
 * quote inside a quoted field, commas and line breaks inside quotes, records ended by CRLF, LF
 * or CR, a UTF-8 byte-order mark at the start ignored, spaces and tabs around a field trimmed
 * (outside the quotes of a quoted field; inside them every character is kept). Lines of any
 * length. Malformed input is refused with the line it is on, never guessed at. */
#ifndef BPPIPE_CSV_H
#define BPPIPE_CSV_H

#include <stddef.h>
#include <stdio.h>

typedef struct bp_csv {
    FILE *f;         /* read, not owned */
    int line;        /* the physical line being read (1-based) */
    int record_line; /* the line where the last record returned started */
    int at_start;    /* nothing read yet: a BOM may come */
    int back[4];     /* characters given back, read again first (last in, first out) */
    size_t n_back;
    char *text; /* the last record's cells, each NUL-terminated, back to back */
    size_t len, cap;
    size_t *starts; /* offset of each cell in `text` */
    char **cells;   /* what bp_csv_next hands out, pointing into `text` */
    size_t n, cells_cap;
} bp_csv;

/* Starts reading `f` (which stays the caller's). */
void bp_csv_init(bp_csv *c, FILE *f);

/* Reads the next record. Returns 1 and sets *cells / *n (valid until the next call or
 * bp_csv_free; cells are trimmed and unquoted), 0 at the end of the input, or -1 with the
 * problem in `why`, starting with the line number ("3: unterminated quoted field (opened on
 * line 3)"). Blank lines (nothing, or only spaces and tabs) are skipped; bp_csv_line() tells
 * where the record returned started. A NUL byte is refused: a cell is a C string and would be
 * cut there. */
int bp_csv_next(bp_csv *c, char ***cells, size_t *n, char *why, size_t why_len);

/* The line on which the record last returned by bp_csv_next started. */
int bp_csv_line(const bp_csv *c);

void bp_csv_free(bp_csv *c);

#endif
