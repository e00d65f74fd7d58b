/* `bppipe train --model gbtree` in the executable: loads the tree trainer's module
 * (bppipe-gbtree.so, train_gbtree.c) and runs it. The module carries libxgboost and through it
 * libstdc++ and libgomp; loading them only here keeps them out of every other command's process,
 * a running pipeline's above all (docs/kafka.md, "The ward's memory"). */
#include "cli/helper_path.h"
#include "cli/train.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#define MODULE "bppipe-gbtree.so"

int bp_train_gbtree(const train_args *a)
{
    char path[2 * PATH_MAX];
    if (bp_helper_find(MODULE, R_OK, path, sizeof path) != 0) {
        fprintf(stderr,
                "error: bppipe train --model gbtree needs %s, which is not here: this bppipe "
                "was built without libxgboost (install libxgboost-dev and build again; in a "
                "build tree, build the bppipe-gbtree target)\n",
                path);
        return 2;
    }
    /* RTLD_LOCAL: nothing of the module or of libxgboost is seen by anything else. */
    void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!module) {
        fprintf(stderr,
                "error: bppipe train --model gbtree: cannot load %s: %s (is libxgboost0 "
                "installed?)\n",
                path, dlerror());
        return 2;
    }
    bp_gbtree_train_entry_fn *entry;
    *(void **)&entry = dlsym(module, "bp_gbtree_train_entry");
    if (!entry) {
        fprintf(stderr, "error: %s is not bppipe's tree trainer (no bp_gbtree_train_entry)\n",
                path);
        dlclose(module);
        return 2;
    }
    int status = entry(a, sizeof *a);
    fflush(stdout);
    /* Not dlclose'd: libgomp's threads may outlive the call, and the process ends next. */
    return status;
}
