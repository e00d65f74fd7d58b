/* detector-pulse-pressure: an example third-party detector, built only against the installed
 * header <bppipe/plugin.h>. It adds the pulse pressure (systolic - diastolic) to every reading
 * with both values and flags a wide pulse pressure, a marker of arterial stiffness.
 *
 * Build:  cmake -S . -B build && cmake --build build   (find_package(bppipe): CMakeLists.txt)
 *         cmake --build build --target package         (a .deb into bppipe's plugin dir)
 *    or:  cc -std=c11 -shared -fPIC -fvisibility=hidden -I<prefix>/include \
 *             detector_pulse_pressure.c -o detector-pulse-pressure.so
 * Use:    BPPIPE_PLUGIN_PATH=. bppipe run pipeline.ini   (no path once the .deb is installed) with
 *         [detector.pp]
 *         plugin = detector-pulse-pressure
 *         wide_above = 60
 */
#include <bppipe/plugin.h>

#include <math.h>
#include <stdlib.h>

typedef struct state {
    const bp_host *host;
    bp_ctx *ctx;
    double wide_above;
} state;

static const bp_option options[] = {
    BP_OPTION_DOUBLE("wide_above", "60", 20, 200, 0,
                     "flag pulse pressure above this many mmHg (reason wide_pulse_pressure)"),
};

static int pp_open(const bp_host *host, bp_ctx *ctx, void **out)
{
    state *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->host = host;
    s->ctx = ctx;
    s->wide_above = host->opt_double(ctx, "wide_above", 60);
    *out = s;
    return BP_OK;
}

static void pp_close(void *st)
{
    free(st);
}

static int pp_detect(void *st, bp_batch *batch)
{
    state *s = st;
    const bp_host *h = s->host;
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        bp_record *r = h->batch_at(batch, i);
        double sys = h->number(r, BP_F_SYSTOLIC), dia = h->number(r, BP_F_DIASTOLIC);
        if (isnan(sys) || isnan(dia))
            continue; /* needs both values */
        double pp = sys - dia;
        h->annotate_number(s->ctx, r, "pp_mmhg", pp);
        if (pp > s->wide_above)
            h->flag(s->ctx, r, "wide_pulse_pressure", BP_SEV_WARNING);
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "detector-pulse-pressure",
    .version = "1.0.0",
    .kind = BP_KIND_DETECTOR,
    .description = "pulse pressure annotation and wide-pulse-pressure flag (example)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = pp_open,
    .close = pp_close,
    .detect = pp_detect,
};

BP_PLUGIN(descriptor)
