/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note OR MIT */
/*
 * dmak: user-space ABI of the Xilinx AXI DMA driver.
 *
 * Every structure uses only fixed-width fields with explicit padding and
 * carries addresses as __u64, so one layout serves 32-bit and 64-bit user
 * space on any kernel. Reserved fields must be zero on input and are zero on
 * output. DMAK_ABI_VERSION grows whenever a structure or a number changes
 * meaning; DMAK_IOC_INFO reports the version the running module speaks.
 */
#ifndef _UAPI_LINUX_DMAK_H
#define _UAPI_LINUX_DMAK_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define DMAK_ABI_VERSION	5

/* dmak_info.flags: what the IP instance has */
#define DMAK_INFO_MM2S		(1U << 0)	/* memory-to-stream channel */
#define DMAK_INFO_S2MM		(1U << 1)	/* stream-to-memory channel */
#define DMAK_INFO_SG		(1U << 2)	/* scatter-gather engine */
#define DMAK_INFO_DRE		(1U << 3)	/* data realignment engine */

/**
 * struct dmak_info - what one DMA instance offers (DMAK_IOC_INFO, read)
 * @abi_version: DMAK_ABI_VERSION of the running module
 * @flags: DMAK_INFO_* bits
 * @length_width: bits of the transfer length register (8..26)
 * @addr_width: bits of a DMA address the engine can drive (32..64)
 * @data_width: stream data width in bits; without DRE, transfer addresses
 *	must be aligned to data_width / 8 bytes
 * @ring_size: scatter-gather descriptors per channel (0 without SG)
 * @max_transfer: largest byte count of one transfer: 2^length_width - 1
 *	in direct mode; with SG, @desc_max times @ring_size (a transfer is
 *	split over descriptors, all of which must fit in the ring at once)
 * @buf_quota: bytes of buffers one user may hold on the device, all their
 *	open files together (0: no limit)
 * @buf_used: bytes of buffers the caller's user holds on the device now
 * @desc_max: SG: bytes one descriptor carries when a transfer is split,
 *	2^length_width - 1 rounded down to a multiple of 64; 0 without SG
 * @delay_unit_ns: SG: nanoseconds of one DMACR.IRQDelay unit (125 clocks
 *	of the SG clock); 0 without SG
 * @reserved0: zero
 * @reserved: zero
 */
struct dmak_info {
	__u32 abi_version;
	__u32 flags;
	__u32 length_width;
	__u32 addr_width;
	__u32 data_width;
	__u32 ring_size;
	__u64 max_transfer;
	__u64 buf_quota;
	__u64 buf_used;
	__u64 desc_max;
	__u32 delay_unit_ns;
	__u32 reserved0;
	__u64 reserved[2];
};

/*
 * dmak_alloc.flags
 * DMAK_BUF_COHERENT: uncached on non-coherent SoCs
 * DMAK_BUF_CACHED: cached; needs DMAK_IOC_SYNC
 */
#define DMAK_BUF_COHERENT	0
#define DMAK_BUF_CACHED		(1U << 0)

/**
 * struct dmak_alloc - allocate a DMA buffer (DMAK_IOC_ALLOC, read-write)
 * @size: in: bytes, at least 1
 * @flags: in: DMAK_BUF_* bits
 * @handle: out: names the buffer in later calls on the same device
 * @mmap_offset: out: the offset to give mmap() to map the buffer (it may
 *	pass 4 GiB: 32-bit programs need a 64-bit off_t)
 * @dma_addr: out: the address the DMA engine uses for byte 0
 *
 * The buffer belongs to the open file that allocated it. It is freed by
 * DMAK_IOC_FREE or when that file is closed, and its memory is released once
 * no mapping (and no transfer) uses it any more.
 */
struct dmak_alloc {
	__u64 size;
	__u32 flags;
	__u32 handle;
	__u64 mmap_offset;
	__u64 dma_addr;
};

/**
 * struct dmak_free - free a buffer (DMAK_IOC_FREE, write)
 * @handle: the buffer
 * @reserved: zero
 */
struct dmak_free {
	__u32 handle;
	__u32 reserved;
};

/* dmak_sync.direction */
#define DMAK_SYNC_TO_DEVICE	1	/* flush: CPU writes become visible */
#define DMAK_SYNC_FROM_DEVICE	2	/* invalidate: device writes visible */
#define DMAK_SYNC_BIDIRECTIONAL	3	/* both */

/**
 * struct dmak_sync - cache maintenance on part of a buffer (DMAK_IOC_SYNC)
 * @handle: the buffer
 * @direction: DMAK_SYNC_*
 * @offset: first byte
 * @size: bytes, at least 1; offset + size must not pass the buffer's end
 * @flags: zero (none defined yet)
 * @reserved: zero
 *
 * A no-op that still checks its arguments on a coherent buffer.
 */
struct dmak_sync {
	__u32 handle;
	__u32 direction;
	__u64 offset;
	__u64 size;
	__u32 flags;
	__u32 reserved[3];
};

/* Channels */
#define DMAK_MM2S		0	/* memory to stream (send) */
#define DMAK_S2MM		1	/* stream to memory (receive) */

/* dmak_xfer.flags */
#define DMAK_XFER_NO_SYNC	(1U << 0)	/* skip cache maintenance */
#define DMAK_XFER_MORE		(1U << 1)	/* SG: the next entry of the
						 * batch continues this
						 * transfer (gather)
						 */

/**
 * struct dmak_xfer - one transfer of a SUBMIT batch
 * @channel: DMAK_MM2S or DMAK_S2MM
 * @handle: the buffer, owned by the submitting file
 * @offset: first byte in the buffer; without DRE, the DMA address
 *	(dma_addr + offset) must be a multiple of data_width / 8
 * @length: bytes, 1 to dmak_info.max_transfer; an S2MM transfer ends early
 *	at the end of a stream packet
 * @cookie: returned untouched in the completion record
 * @flags: DMAK_XFER_* bits
 * @reserved: zero
 * @seq: out: the transfer's sequence number on its channel
 *
 * One transfer is one stream packet. With SG, a run of entries whose
 * flags have DMAK_XFER_MORE, ended by one without it, all on the same
 * channel, is one transfer gathered from (or scattered to) those pieces;
 * each entry of the run gets the same @seq and the last one's @cookie is
 * reported. Without DRE, every piece but the last must be a multiple of
 * data_width / 8 bytes long.
 */
struct dmak_xfer {
	__u32 channel;
	__u32 handle;
	__u64 offset;
	__u64 length;
	__u64 cookie;
	__u32 flags;
	__u32 reserved;
	__u64 seq;
};

/**
 * struct dmak_submit - queue transfers (DMAK_IOC_SUBMIT, read-write)
 * @xfers: user address of an array of struct dmak_xfer
 * @count: entries in the array, 1 to DMAK_SUBMIT_MAX
 * @flags: zero
 *
 * All or nothing: every entry is checked before any is queued, and the
 * whole batch enters the channels' queues at once, in array order, so a
 * batch of MM2S and S2MM transfers pairs up on a loopback even with other
 * submitters. Each entry's @seq is written back. Transfers never fail for
 * being busy: the driver queues them and starts each from the interrupt
 * that completes the one before. A channel holds transfers whose seqs
 * span at most DMAK_RESULTS from its oldest outstanding one (so that WAIT
 * always finds how each ended): EAGAIN beyond, with nothing queued.
 */
struct dmak_submit {
	__u64 xfers;
	__u32 count;
	__u32 flags;
};

#define DMAK_SUBMIT_MAX		256

/* Transfer status, in dmak_wait.status and dmak_completion.status */
#define DMAK_ST_OK		0	/* done; bytes says how many */
#define DMAK_ST_DMA_INT_ERR	1	/* DMASR.DMAIntErr: internal error */
#define DMAK_ST_DMA_SLV_ERR	2	/* DMASR.DMASlvErr: slave error */
#define DMAK_ST_DMA_DEC_ERR	3	/* DMASR.DMADecErr: decode error */
#define DMAK_ST_SG_INT_ERR	4	/* DMASR.SGIntErr */
#define DMAK_ST_SG_SLV_ERR	5	/* DMASR.SGSlvErr */
#define DMAK_ST_SG_DEC_ERR	6	/* DMASR.SGDecErr */
#define DMAK_ST_CANCELLED	7	/* cancelled (CANCEL, or its file
					 * closed)
					 */
#define DMAK_ST_RESET		8	/* failed by a RESET of the core */
#define DMAK_ST_ABORTED		9	/* not run: the channel halted on an
					 * earlier transfer's error
					 */
#define DMAK_ST_REMOVED		10	/* the device went away */

#define DMAK_WAIT_FOREVER	0xffffffffU

/* dmak_wait.flags */
#define DMAK_WAIT_PEEK		(1U << 0)	/* leave the records to read() */

/**
 * struct dmak_wait - wait for a transfer (DMAK_IOC_WAIT, read-write)
 * @channel: DMAK_MM2S or DMAK_S2MM
 * @timeout_ms: 0 polls, DMAK_WAIT_FOREVER waits without limit
 * @seq: the transfer
 * @bytes: out: bytes transferred (S2MM: received)
 * @status: out: DMAK_ST_*
 * @dmasr: out: DMASR as the transfer ended
 * @flags: DMAK_WAIT_PEEK, or zero
 * @reserved: zero
 *
 * Returns 0 once the transfer ended, whatever its status; ETIMEDOUT if it
 * has not (it stays queued: wait again or CANCEL it); EINTR on a signal
 * (where its handler has SA_RESTART, WAIT starts again, whole timeout);
 * ENOENT if its result is no longer kept (DMAK_RESULTS later transfers
 * ended on the channel: SUBMIT keeps any transfer's result until it ended
 * and a WAIT could see it). Once it ended, this file's completion
 * records of the channel up to @seq are consumed (read() and poll() see
 * them no more), unless @flags has DMAK_WAIT_PEEK: then they stay for a
 * reader of the file.
 */
struct dmak_wait {
	__u32 channel;
	__u32 timeout_ms;
	__u64 seq;
	__u64 bytes;
	__u32 status;
	__u32 dmasr;
	__u32 flags;
	__u32 reserved[3];
};

#define DMAK_RESULTS		1024

/**
 * struct dmak_chan_op - RESET, CANCEL, STATUS of a channel
 * @channel: DMAK_MM2S or DMAK_S2MM
 * @op: DMAK_OP_*
 * @seq: CANCEL: the transfer to cancel
 * @dmacr: out: DMACR
 * @dmasr: out: DMASR
 * @queued: out: transfers queued or running on the channel
 * @error: out: DMAK_ST_* that halted the channel, 0 when not halted
 * @irq_threshold: COALESCE in, every op out: SG interrupt coalescing, an
 *	interrupt after this many completed transfers (1..255)
 * @irq_delay: COALESCE in, every op out: or this many delay units
 *	(dmak_info.delay_unit_ns) after the last completion (0..255, 0 for
 *	none; must not be 0 when @irq_threshold is above 1)
 * @irqs: out: interrupts the channel has handled since the module loaded
 * @flags: zero (none defined yet)
 * @reserved: zero
 *
 * RESET resets the whole core (the IP has one reset for both channels):
 * every unfinished transfer on either channel ends with DMAK_ST_RESET and
 * both channels are usable again. CANCEL ends a queued transfer with
 * DMAK_ST_CANCELLED; one that is running can only be stopped by resetting
 * the core, which it does (EALREADY if it already ended, ENOENT if no such
 * transfer). STOP halts the channel once its running transfer ends; queued
 * transfers wait for START. COALESCE (SG only, else EOPNOTSUPP) sets the
 * channel's interrupt coalescing; it applies from the next interrupt on.
 */
struct dmak_chan_op {
	__u32 channel;
	__u32 op;
	__u64 seq;
	__u32 dmacr;
	__u32 dmasr;
	__u32 queued;
	__u32 error;
	__u32 irq_threshold;
	__u32 irq_delay;
	__u64 irqs;
	__u32 flags;
	__u32 reserved[3];
};

#define DMAK_OP_STATUS		0
#define DMAK_OP_RESET		1
#define DMAK_OP_CANCEL		2
#define DMAK_OP_STOP		3
#define DMAK_OP_START		4
#define DMAK_OP_COALESCE	5

/* dmak_completion.flags */
#define DMAK_COMPL_OVERFLOW	(1U << 0)	/* records were lost before */
#define DMAK_COMPL_CYCLIC	(1U << 1)	/* a cyclic slot filled */
#define DMAK_COMPL_SOF		(1U << 2)	/* cyclic: the slot starts a
						 * packet (RXSOF)
						 */
#define DMAK_COMPL_EOF		(1U << 3)	/* cyclic: the slot ends a
						 * packet (RXEOF)
						 */
#define DMAK_COMPL_OVERRUN	(1U << 4)	/* cyclic: every slot was full
						 * before this one: the engine
						 * stalled (an overrun)
						 */

/**
 * struct dmak_completion - a record read() returns, one per ended transfer
 * @seq: the transfer
 * @cookie: as submitted
 * @bytes: bytes transferred
 * @channel: DMAK_MM2S or DMAK_S2MM
 * @status: DMAK_ST_*
 * @dmasr: DMASR as the transfer ended
 * @flags: DMAK_COMPL_*
 *
 * read() on the device returns records of both channels, on a channel file
 * (DMAK_IOC_CHANNEL_FD) only that channel's; poll() reports POLLIN while
 * any are pending. A file keeps up to DMAK_RECORDS per channel.
 */
struct dmak_completion {
	__u64 seq;
	__u64 cookie;
	__u64 bytes;
	__u32 channel;
	__u32 status;
	__u32 dmasr;
	__u32 flags;
};

#define DMAK_RECORDS		256

/**
 * struct dmak_channel_fd - a file for one channel (DMAK_IOC_CHANNEL_FD)
 * @channel: DMAK_MM2S or DMAK_S2MM
 * @fd: in: zero; out: a new file descriptor (close-on-exec) to poll()
 *	and read() that channel's completion records of this file
 * @flags: zero (none defined yet)
 * @reserved: zero
 */
struct dmak_channel_fd {
	__u32 channel;
	__s32 fd;
	__u32 flags;
	__u32 reserved;
};

/* dmak_cyclic.op */
#define DMAK_CYCLIC_START	0
#define DMAK_CYCLIC_RELEASE	1
#define DMAK_CYCLIC_STOP	2
#define DMAK_CYCLIC_STATUS	3

/**
 * struct dmak_cyclic - continuous capture into a ring of slots
 *	(DMAK_IOC_CYCLIC, read-write)
 * @channel: DMAK_S2MM
 * @op: DMAK_CYCLIC_*
 * @handle: START: the buffer, owned by this file
 * @slots: START: slots in the ring, 2 to dmak_info.ring_size
 * @offset: START: first byte of slot 0 in the buffer
 * @slot_size: START: bytes of a slot, 1 to dmak_info.desc_max (a multiple
 *	of data_width / 8 without DRE); slot i starts at offset + i *
 *	slot_size
 * @seq: RELEASE: hand back every slot whose record seq is at most this
 * @filled: out: slots filled since START (the newest record's seq)
 * @released: out: slots handed back since START
 * @overruns: out: times the engine found every slot full and stalled
 * @reserved: zero
 *
 * Cyclic mode gives the S2MM engine one descriptor per slot, chained in a
 * circle, and lets it refill the slots forever. Each filled slot leaves a
 * completion record (DMAK_COMPL_CYCLIC; @seq counts from 1, @cookie is the
 * slot index, @bytes what it received) for read()/poll(). The engine never
 * writes a slot that was not handed back by RELEASE: when every slot is
 * full it stalls (the stream backs up; a source that cannot wait loses
 * data there), which counts as an overrun and flags the next record with
 * DMAK_COMPL_OVERRUN. STOP (or closing the file) halts the engine and
 * gives the channel back to SUBMIT. Needs SG (EOPNOTSUPP otherwise); EBUSY
 * while transfers are queued on S2MM or another capture runs; SUBMIT to
 * S2MM answers EBUSY during a capture.
 */
struct dmak_cyclic {
	__u32 channel;
	__u32 op;
	__u32 handle;
	__u32 slots;
	__u64 offset;
	__u64 slot_size;
	__u64 seq;
	__u64 filled;
	__u64 released;
	__u64 overruns;
	__u64 reserved[2];
};

/* dmak_regs: the register space, one word per 32-bit register */
#define DMAK_REGS_WORDS		23	/* offsets 0x00 to 0x58 */

/**
 * struct dmak_regs - the IP's registers as they read now (DMAK_IOC_REGS,
 *	read)
 * @present: bit n set: the register at byte offset 4 * n exists in this
 *	IP (its channel is there; CURDESC, TAILDESC and SG_CTL with SG,
 *	SA/DA and LENGTH in direct mode; the MSB words with an address
 *	width above 32)
 * @regs: @regs[n] is the word at byte offset 4 * n; 0 where the register
 *	is absent (not read)
 * @reserved: zero
 *
 * Read-only: nothing is written to the IP, and reading has no side effect
 * on it.
 */
struct dmak_regs {
	__u32 present;
	__u32 regs[DMAK_REGS_WORDS];
	__u64 reserved[2];
};

/**
 * struct dmak_export - a buffer as a dma-buf file (DMAK_IOC_EXPORT, read-write)
 * @handle: the buffer, owned by this file
 * @flags: zero
 * @fd: out: a new dma-buf file descriptor (O_RDWR, O_CLOEXEC) that keeps
 *	the buffer's memory alive until its last user lets go
 * @reserved: zero
 *
 * Any device may import the dma-buf: another dmak device (DMAK_IOC_IMPORT),
 * a camera, a GPU. Its mmap() maps the buffer as the device's mmap does.
 * An imported buffer gives a new descriptor of the dma-buf it came from.
 */
struct dmak_export {
	__u32 handle;
	__u32 flags;
	__s32 fd;
	__u32 reserved;
};

/**
 * struct dmak_import - a dma-buf as a buffer of this file
 *	(DMAK_IOC_IMPORT, read-write)
 * @fd: a dma-buf file descriptor: from DMAK_IOC_EXPORT of any dmak
 *	device, /dev/dma_heap/<heap>, or another driver
 * @flags: zero
 * @handle: out: the handle of the imported buffer on this device, used as
 *	any other (SUBMIT, FREE, mmap, CYCLIC); FREE or closing the file
 *	detaches it
 * @reserved: zero
 * @size: out: bytes of the dma-buf
 * @mmap_offset: out: as dmak_alloc's (maps the dma-buf)
 * @dma_addr: out: where this device sees the buffer
 *
 * The device maps the dma-buf for itself (an IOMMU between the IP and
 * memory gets its own mapping). It must see the buffer as one block of
 * addresses: EINVAL otherwise.
 */
struct dmak_import {
	__s32 fd;
	__u32 flags;
	__u32 handle;
	__u32 reserved;
	__u64 size;
	__u64 mmap_offset;
	__u64 dma_addr;
};

#define DMAK_IOC_MAGIC		0xDA

#define DMAK_IOC_INFO		_IOR(DMAK_IOC_MAGIC, 0x00, struct dmak_info)
#define DMAK_IOC_ALLOC		_IOWR(DMAK_IOC_MAGIC, 0x01, struct dmak_alloc)
#define DMAK_IOC_FREE		_IOW(DMAK_IOC_MAGIC, 0x02, struct dmak_free)
#define DMAK_IOC_SYNC		_IOW(DMAK_IOC_MAGIC, 0x03, struct dmak_sync)
#define DMAK_IOC_SUBMIT		_IOW(DMAK_IOC_MAGIC, 0x04, struct dmak_submit)
#define DMAK_IOC_WAIT		_IOWR(DMAK_IOC_MAGIC, 0x05, struct dmak_wait)
#define DMAK_IOC_CHAN_OP	_IOWR(DMAK_IOC_MAGIC, 0x06, struct dmak_chan_op)
#define DMAK_IOC_CHANNEL_FD	_IOWR(DMAK_IOC_MAGIC, 0x07, \
				      struct dmak_channel_fd)
#define DMAK_IOC_CYCLIC		_IOWR(DMAK_IOC_MAGIC, 0x08, struct dmak_cyclic)
#define DMAK_IOC_REGS		_IOR(DMAK_IOC_MAGIC, 0x09, struct dmak_regs)
#define DMAK_IOC_EXPORT		_IOWR(DMAK_IOC_MAGIC, 0x0A, struct dmak_export)
#define DMAK_IOC_IMPORT		_IOWR(DMAK_IOC_MAGIC, 0x0B, struct dmak_import)

#endif /* _UAPI_LINUX_DMAK_H */
