/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmak: driver-internal structures shared by its source files.
 */
#ifndef _DMAK_H
#define _DMAK_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/mm_types.h>
#include <linux/regmap.h>
#include <linux/types.h>
#include <linux/xarray.h>

#include "include/uapi/dmak.h"

#define DMAK_NAME	"dmak"

/**
 * struct dmak_dev - one AXI DMA instance and its char device /dev/dmakN
 * @dev: the class device; its reference count keeps this structure alive
 *	while open files, buffers or mappings still use it
 * @cdev: the char device
 * @hw: the platform device: DMA mapping, interrupts, registers
 * @regmap: register access (MMIO on hardware, the simulator's regmap)
 * @dead: the hardware is gone (unbound); new file operations fail with
 *	ENODEV, while buffers already allocated stay valid until released
 * @bufs: handle -> struct dmak_buf, for every live handle of every file
 * @next_handle: cursor for cyclic handle allocation
 * @buf_count: buffers whose memory is allocated (handles, or mappings
 *	after the handle went away)
 * @buf_bytes: bytes of those buffers
 * @info: what DMAK_IOC_INFO and sysfs report (per-file fields left zero)
 * @irq_mm2s: MM2S interrupt, or 0 when the channel is absent
 * @irq_s2mm: S2MM interrupt, or 0 when the channel is absent
 */
struct dmak_dev {
	struct device dev;
	struct cdev cdev;
	struct device *hw;
	struct regmap *regmap;
	bool dead;
	struct xarray bufs;
	u32 next_handle;
	atomic_t buf_count;
	atomic64_t buf_bytes;
	struct dmak_info info;
	int irq_mm2s;
	int irq_s2mm;
};

/**
 * struct dmak_client - one open file of a dmak device
 * @ref: held by the file and by each buffer the file allocated
 * @dd: the device, referenced for the client's lifetime
 * @lock: guards @bufs
 * @bufs: buffers this file still holds a handle to
 * @used: bytes of buffers charged to this file until their memory is freed
 */
struct dmak_client {
	struct kref ref;
	struct dmak_dev *dd;
	struct mutex lock;
	struct list_head bufs;
	atomic64_t used;
};

/**
 * struct dmak_buf - a DMA buffer
 * @ref: held by the owner's handle, by each mapping and each transfer
 * @owner: the client the buffer is charged to
 * @node: entry in @owner->bufs while the handle is live
 * @handle: name of the buffer in ioctls; mmap offset is handle pages
 * @flags: DMAK_BUF_* given at allocation
 * @size: bytes asked for
 * @alloc_size: bytes allocated (page aligned)
 * @vaddr: kernel address
 * @page: first page of a cached buffer (NULL for coherent ones)
 * @dma: bus address of byte 0
 */
struct dmak_buf {
	struct kref ref;
	struct dmak_client *owner;
	struct list_head node;
	u32 handle;
	u32 flags;
	size_t size;
	size_t alloc_size;
	void *vaddr;
	struct page *page;
	dma_addr_t dma;
};

/* dmak_main.c */
extern unsigned long dmak_buf_quota;

/* dmak_fops.c */
extern const struct file_operations dmak_fops;

/* dmak_buf.c */
int dmak_buf_alloc(struct dmak_client *cl, struct dmak_alloc *arg);
int dmak_buf_free(struct dmak_client *cl, u32 handle);
int dmak_buf_sync(struct dmak_client *cl, const struct dmak_sync *arg);
int dmak_buf_mmap(struct dmak_client *cl, struct vm_area_struct *vma);
void dmak_buf_release_all(struct dmak_client *cl);
void dmak_client_put(struct dmak_client *cl);

#endif /* _DMAK_H */
