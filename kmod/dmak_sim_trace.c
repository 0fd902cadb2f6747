// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak_sim: the trace events of dmak_sim_trace.h, defined once here.
 */
#define CREATE_TRACE_POINTS
#include "dmak_sim_trace.h"
