/* The plausibility gate at its limits. */
#include "check.h"
#include "pipeline/plausibility.h"

#include <math.h>

int main(void)
{
    bp_plausible l = {40, 300, 20, 200};
    char why[160];
    /* the limits themselves are plausible */
    CHECK(bp_plausibility_check(&l, 300, 200, why, sizeof why) == 0);
    CHECK(bp_plausibility_check(&l, 40, 20, why, sizeof why) == 0);
    CHECK(bp_plausibility_check(&l, 120, 80, why, sizeof why) == 0);
    CHECK(bp_plausibility_check(&l, 39.9, 20, why, sizeof why) == -1);
    CHECK_STR(why, "implausible_value: systolic 39.9 outside 40-300 mmHg");
    CHECK(bp_plausibility_check(&l, 301, 80, why, sizeof why) == -1);
    CHECK_STR(why, "implausible_value: systolic 301 outside 40-300 mmHg");
    CHECK(bp_plausibility_check(&l, 250, 201, why, sizeof why) == -1);
    CHECK_STR(why, "implausible_value: diastolic 201 outside 20-200 mmHg");
    CHECK(bp_plausibility_check(&l, NAN, 19, why, sizeof why) == -1);
    CHECK(bp_plausibility_check(&l, 100, 100, why, sizeof why) == -1);
    CHECK_STR(why, "implausible_value: diastolic 100 at or above systolic 100");
    CHECK(bp_plausibility_check(&l, 100, 99, why, sizeof why) == 0);
    /* one value: judged on that value alone */
    CHECK(bp_plausibility_check(&l, NAN, 150, why, sizeof why) == 0);
    CHECK(bp_plausibility_check(&l, 35, NAN, why, sizeof why) == -1);
    CHECK(bp_plausibility_check(&l, NAN, NAN, why, sizeof why) == 0);
    return CHECK_DONE();
}
