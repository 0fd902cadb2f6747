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

#define DMAK_ABI_VERSION	1

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
 * @max_transfer: largest byte count of one hardware transfer, that is
 *	2^length_width - 1
 * @buf_quota: bytes of buffers one open file may hold (0: no limit)
 * @buf_used: bytes of buffers this open file holds now
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
	__u64 reserved[4];
};

/* dmak_alloc.flags */
#define DMAK_BUF_COHERENT	0		/* uncached on non-coherent SoCs */
#define DMAK_BUF_CACHED		(1U << 0)	/* cached; needs DMAK_IOC_SYNC */

/**
 * struct dmak_alloc - allocate a DMA buffer (DMAK_IOC_ALLOC, read-write)
 * @size: in: bytes, at least 1
 * @flags: in: DMAK_BUF_* bits
 * @handle: out: names the buffer in later calls on the same device
 * @mmap_offset: out: the offset to give mmap() to map the buffer
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
 *
 * A no-op that still checks its arguments on a coherent buffer.
 */
struct dmak_sync {
	__u32 handle;
	__u32 direction;
	__u64 offset;
	__u64 size;
};

#define DMAK_IOC_MAGIC		0xDA

#define DMAK_IOC_INFO		_IOR(DMAK_IOC_MAGIC, 0x00, struct dmak_info)
#define DMAK_IOC_ALLOC		_IOWR(DMAK_IOC_MAGIC, 0x01, struct dmak_alloc)
#define DMAK_IOC_FREE		_IOW(DMAK_IOC_MAGIC, 0x02, struct dmak_free)
#define DMAK_IOC_SYNC		_IOW(DMAK_IOC_MAGIC, 0x03, struct dmak_sync)

#endif /* _UAPI_LINUX_DMAK_H */
