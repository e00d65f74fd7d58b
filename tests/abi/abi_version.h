/* Picks the plugin header a test plugin of tests/abi is built against: ABI_VERSION is 10, 11,
 * 12, 13, 14, 15, 16 or 17 for a frozen copy, 18 for today's include/bppipe/plugin.h (set by
 * tests/abi/CMakeLists.txt), and ABI_NAME(kind) names the plugin after it, e.g.
 * "abi10-detector", as its file name is. */
#ifndef BPPIPE_TEST_ABI_VERSION_H
#define BPPIPE_TEST_ABI_VERSION_H

#if ABI_VERSION == 10
#include "plugin_abi_1_0.h"
#elif ABI_VERSION == 11
#include "plugin_abi_1_1.h"
#elif ABI_VERSION == 12
#include "plugin_abi_1_2.h"
#elif ABI_VERSION == 13
#include "plugin_abi_1_3.h"
#elif ABI_VERSION == 14
#include "plugin_abi_1_4.h"
#elif ABI_VERSION == 15
#include "plugin_abi_1_5.h"
#elif ABI_VERSION == 16
#include "plugin_abi_1_6.h"
#elif ABI_VERSION == 17
#include "plugin_abi_1_7.h"
#elif ABI_VERSION == 18
#include "bppipe/plugin.h"
#else
#error "ABI_VERSION must be 10, 11, 12, 13, 14, 15, 16, 17 or 18"
#endif

#define ABI_STR2_(x) #x
#define ABI_STR_(x) ABI_STR2_(x)
#define ABI_NAME(kind) "abi" ABI_STR_(ABI_VERSION) "-" kind

#endif
