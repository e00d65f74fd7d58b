/* `bppipe train --ward PATIENTS`: training rows from the simulated ward (lib/wardsim, the
 * physiology of source-faker) with every feature of the vocabulary, history included, and one
 * of two targets about the patient's course: the next reading is ACC/AHA stage 2 or worse, or
 * the patient is in a hypertensive episode now (the simulation's own state, which one reading
 * cannot tell from a high personal baseline). */
#include "cli/train.h"

#include "clinical/bp_rules.h"
#include "clinical/history.h"
#include "wardsim/ward_sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Each patient's row waits for that patient's next reading, which labels it. */
typedef struct pending {
    bp_history hist;
    double row[BP_FEAT_N];
    bool waiting;
} pending;

int bp_train_ward(int64_t samples, int64_t patients, uint64_t seed, bool episode,
                  bp_train_row_fn emit, void *user)
{
    bp_ward w;
    /* A reading every 15 minutes per patient, a ward monitor's usual NIBP cycle. */
    if (bp_ward_init(&w, seed, (size_t)patients, 2, 1795305600000, 900, 0) != 0)
        return -1;
    pending *p = calloc((size_t)patients, sizeof *p);
    int rc = p ? 0 : -1;
    bp_thresholds t = bp_thresholds_default();
    int64_t emitted = 0;
    for (uint64_t i = 0; p && emitted < samples && i < (uint64_t)samples * 2 + 2 * patients; i++) {
        bp_sim_reading r;
        bp_ward_step(&w, &r);
        pending *q = &p[r.patient];
        double s = r.systolic, d = r.diastolic;
        if (episode) { /* labelled at once: the episode the patient is in at this reading */
            double row[BP_FEAT_N];
            bp_hist_features(&q->hist, r.effective_ms, s, d, NAN, row);
            bp_hist_fold(&q->hist, r.effective_ms, s, d);
            if ((rc = emit(user, row, w.patients[r.patient].episode == BP_EP_HYPER)) != 0)
                break;
            emitted++;
            continue;
        }
        if (q->waiting) {
            int label = bp_rules_judge(&t, s, d).category >= BP_CAT_STAGE_2;
            if ((rc = emit(user, q->row, label)) != 0)
                break;
            emitted++;
        }
        bp_hist_features(&q->hist, r.effective_ms, s, d, NAN, q->row);
        bp_hist_fold(&q->hist, r.effective_ms, s, d);
        q->waiting = true;
    }
    free(p);
    bp_ward_free(&w);
    return rc;
}
