/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmak_sim: trace events of the simulated IP's engine thread, to set
 * beside dmak's own: where a transfer's time goes inside the "hardware".
 *
 * dmak_sim_begin  the engine took up a transfer (direct mode) or a
 *                 fetched descriptor (SG) and will move its bytes
 * dmak_sim_raise  the engine raises a channel's interrupt line
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM dmak_sim

#if !defined(_DMAK_SIM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _DMAK_SIM_TRACE_H

#include <linux/tracepoint.h>

#define dmak_sim_show_chan(ch)						\
	__print_symbolic(ch, { 0, "mm2s" }, { 1, "s2mm" })

TRACE_EVENT(dmak_sim_begin,
	TP_PROTO(int id, int chan, u64 addr, u32 bytes),
	TP_ARGS(id, chan, addr, bytes),
	TP_STRUCT__entry(
		__field(int, id)
		__field(int, chan)
		__field(u64, addr)
		__field(u32, bytes)
	),
	TP_fast_assign(
		__entry->id = id;
		__entry->chan = chan;
		__entry->addr = addr;
		__entry->bytes = bytes;
	),
	TP_printk("dmak-sim.%d %s addr=%#llx bytes=%u", __entry->id,
		  dmak_sim_show_chan(__entry->chan), __entry->addr,
		  __entry->bytes)
);

TRACE_EVENT(dmak_sim_raise,
	TP_PROTO(int id, int chan),
	TP_ARGS(id, chan),
	TP_STRUCT__entry(
		__field(int, id)
		__field(int, chan)
	),
	TP_fast_assign(
		__entry->id = id;
		__entry->chan = chan;
	),
	TP_printk("dmak-sim.%d %s", __entry->id,
		  dmak_sim_show_chan(__entry->chan))
);

#endif /* _DMAK_SIM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE dmak_sim_trace
#include <trace/define_trace.h>
