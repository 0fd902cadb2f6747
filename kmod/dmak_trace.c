// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: the trace events of dmak_trace.h, defined once here.
 */
#define CREATE_TRACE_POINTS
#include "dmak_trace.h"
