/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmak: trace events of a transfer's life, from SUBMIT to its end.
 *
 * dmak_submit   a transfer entered its channel's queue
 * dmak_start    the hardware was told: direct mode, the LENGTH write;
 *               SG, the TAILDESC write (descriptors added, seqs first..last)
 * dmak_irq      the interrupt handler read DMASR
 * dmak_complete a transfer ended, however (OK, an error, cancel, ...)
 * dmak_error    an error bit halted the channel, decoded
 *
 * All of them may fire in hard interrupt context: nothing here sleeps.
 * The timestamps come from the trace clock (tracefs trace_clock).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM dmak

#if !defined(_DMAK_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _DMAK_TRACE_H

#include <linux/device.h>
#include <linux/tracepoint.h>

#include "dmak_compat.h"
#include "include/uapi/dmak.h"

#define dmak_show_chan(ch)						\
	__print_symbolic(ch, { DMAK_MM2S, "mm2s" }, { DMAK_S2MM, "s2mm" })

#define dmak_show_status(st)						\
	__print_symbolic(st,						\
			 { DMAK_ST_OK, "OK" },				\
			 { DMAK_ST_DMA_INT_ERR, "DMA_INT_ERR" },	\
			 { DMAK_ST_DMA_SLV_ERR, "DMA_SLV_ERR" },	\
			 { DMAK_ST_DMA_DEC_ERR, "DMA_DEC_ERR" },	\
			 { DMAK_ST_SG_INT_ERR, "SG_INT_ERR" },		\
			 { DMAK_ST_SG_SLV_ERR, "SG_SLV_ERR" },		\
			 { DMAK_ST_SG_DEC_ERR, "SG_DEC_ERR" },		\
			 { DMAK_ST_CANCELLED, "CANCELLED" },		\
			 { DMAK_ST_RESET, "RESET" },			\
			 { DMAK_ST_ABORTED, "ABORTED" },		\
			 { DMAK_ST_REMOVED, "REMOVED" })

TRACE_EVENT(dmak_submit,
	TP_PROTO(struct device *dev, u32 chan, u64 seq, u64 bytes,
		 u32 pieces),
	TP_ARGS(dev, chan, seq, bytes, pieces),
	TP_STRUCT__entry(
		__string(dev, dev_name(dev))
		__field(u32, chan)
		__field(u32, pieces)
		__field(u64, seq)
		__field(u64, bytes)
	),
	TP_fast_assign(
		dmak_assign_str(dev, dev_name(dev));
		__entry->chan = chan;
		__entry->pieces = pieces;
		__entry->seq = seq;
		__entry->bytes = bytes;
	),
	TP_printk("%s %s seq=%llu bytes=%llu pieces=%u", __get_str(dev),
		  dmak_show_chan(__entry->chan), __entry->seq, __entry->bytes,
		  __entry->pieces)
);

TRACE_EVENT(dmak_start,
	TP_PROTO(struct device *dev, u32 chan, u64 seq, u64 last, u64 bytes,
		 u32 descs),
	TP_ARGS(dev, chan, seq, last, bytes, descs),
	TP_STRUCT__entry(
		__string(dev, dev_name(dev))
		__field(u32, chan)
		__field(u32, descs)
		__field(u64, seq)
		__field(u64, last)
		__field(u64, bytes)
	),
	TP_fast_assign(
		dmak_assign_str(dev, dev_name(dev));
		__entry->chan = chan;
		__entry->descs = descs;
		__entry->seq = seq;
		__entry->last = last;
		__entry->bytes = bytes;
	),
	TP_printk("%s %s seq=%llu last=%llu bytes=%llu %s descs=%u",
		  __get_str(dev), dmak_show_chan(__entry->chan), __entry->seq,
		  __entry->last, __entry->bytes,
		  __entry->descs ? "TAILDESC" : "LENGTH", __entry->descs)
);

TRACE_EVENT(dmak_irq,
	TP_PROTO(struct device *dev, u32 chan, u32 dmasr),
	TP_ARGS(dev, chan, dmasr),
	TP_STRUCT__entry(
		__string(dev, dev_name(dev))
		__field(u32, chan)
		__field(u32, dmasr)
	),
	TP_fast_assign(
		dmak_assign_str(dev, dev_name(dev));
		__entry->chan = chan;
		__entry->dmasr = dmasr;
	),
	TP_printk("%s %s dmasr=%#x", __get_str(dev),
		  dmak_show_chan(__entry->chan), __entry->dmasr)
);

TRACE_EVENT(dmak_complete,
	TP_PROTO(struct device *dev, u32 chan, u64 seq, u64 bytes, u32 status,
		 u32 dmasr),
	TP_ARGS(dev, chan, seq, bytes, status, dmasr),
	TP_STRUCT__entry(
		__string(dev, dev_name(dev))
		__field(u32, chan)
		__field(u32, status)
		__field(u64, seq)
		__field(u64, bytes)
		__field(u32, dmasr)
	),
	TP_fast_assign(
		dmak_assign_str(dev, dev_name(dev));
		__entry->chan = chan;
		__entry->status = status;
		__entry->seq = seq;
		__entry->bytes = bytes;
		__entry->dmasr = dmasr;
	),
	TP_printk("%s %s seq=%llu bytes=%llu status=%s dmasr=%#x",
		  __get_str(dev), dmak_show_chan(__entry->chan), __entry->seq,
		  __entry->bytes, dmak_show_status(__entry->status),
		  __entry->dmasr)
);

TRACE_EVENT(dmak_error,
	TP_PROTO(struct device *dev, u32 chan, u64 seq, u32 dmasr, u32 status),
	TP_ARGS(dev, chan, seq, dmasr, status),
	TP_STRUCT__entry(
		__string(dev, dev_name(dev))
		__field(u32, chan)
		__field(u32, dmasr)
		__field(u64, seq)
		__field(u32, status)
	),
	TP_fast_assign(
		dmak_assign_str(dev, dev_name(dev));
		__entry->chan = chan;
		__entry->dmasr = dmasr;
		__entry->seq = seq;
		__entry->status = status;
	),
	TP_printk("%s %s seq=%llu dmasr=%#x status=%s", __get_str(dev),
		  dmak_show_chan(__entry->chan), __entry->seq, __entry->dmasr,
		  dmak_show_status(__entry->status))
);

#endif /* _DMAK_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE dmak_trace
#include <trace/define_trace.h>
