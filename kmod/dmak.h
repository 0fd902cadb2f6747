/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmak: driver-internal structures shared by its source files.
 */
#ifndef _DMAK_H
#define _DMAK_H

#include <linux/cdev.h>
#include <linux/interrupt.h>
#include <linux/device.h>
#include <linux/dma-direction.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/mm_types.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/regmap.h>
#include <linux/srcu.h>
#include <linux/types.h>
#include <linux/xarray.h>

#include "include/uapi/dmak.h"

#define DMAK_NAME	"dmak"

struct dmak_dev;
struct dmak_client;
struct platform_device;

/**
 * struct dmak_result - how a transfer ended, kept for DMAK_IOC_WAIT
 * @seq: the transfer (0: slot unused)
 * @cl: the client that submitted it (compared, never dereferenced)
 * @bytes: bytes transferred
 * @status: DMAK_ST_*
 * @dmasr: DMASR as it ended
 */
struct dmak_result {
	u64 seq;
	const struct dmak_client *cl;
	u64 bytes;
	u32 status;
	u32 dmasr;
};

/**
 * struct dmak_seg - one piece of a transfer
 * @buf: the buffer (referenced: it outlives FREE and close while queued)
 * @dma: bus address of the piece's first byte
 * @len: bytes
 */
struct dmak_seg {
	struct dmak_buf *buf;
	dma_addr_t dma;
	u64 len;
};

/**
 * struct dmak_req - a queued transfer: one stream packet
 * @node: entry in the channel's queue, then in its reap list
 * @cl: the submitter (referenced)
 * @seq: sequence number on the channel
 * @cookie: the submitter's tag
 * @len: bytes of all pieces
 * @bytes: SG: bytes the completed descriptors moved so far
 * @flags: DMAK_XFER_* (of the last piece)
 * @chan: DMAK_MM2S or DMAK_S2MM
 * @ndesc: SG descriptors the transfer takes
 * @done_desc: SG: descriptors of it completed so far
 * @started: it was given to the hardware
 * @cancel: CANCEL asked for it while it ran
 * @nsegs: entries in @seg (more than one only with SG)
 * @end_status: how it ended (DMAK_ST_*), once it did
 * @end_sr: DMASR as it ended
 * @end_bytes: bytes it moved
 * @orphan: the engine may still write its memory (a reset failed as the
 *	device went away): its buffers are never given back
 * @seg: the pieces, in stream order
 */
struct dmak_req {
	struct list_head node;
	struct dmak_client *cl;
	u64 seq;
	u64 cookie;
	u64 len;
	u64 bytes;
	u32 flags;
	u32 chan;
	u32 ndesc;
	u32 done_desc;
	u32 end_status;
	u32 end_sr;
	u64 end_bytes;
	bool started;
	bool cancel;
	bool orphan;
	u32 nsegs;
	struct dmak_seg seg[];
};

/**
 * struct dmak_ring - the SG descriptor ring of a channel
 * @desc: the descriptors, in coherent memory, chained in a circle
 * @dma: bus address of @desc[0]
 * @owner: the transfer each descriptor in flight belongs to
 * @size: descriptors in the ring
 * @head: the oldest descriptor given to the hardware
 * @count: descriptors given to the hardware and not yet reaped
 * @hw_started: CURDESC was written and RS set since the last halt
 * @resync: S2MM is halting to retire descriptors a short packet left
 * @skip: descriptors at @head to retire once halted
 * @threshold: DMACR.IRQThreshold to program (1..255)
 * @delay: DMACR.IRQDelay to program (0..255)
 * @resync_work: finishes a resync in process context
 */
struct dmak_ring {
	struct dmak_desc *desc;
	dma_addr_t dma;
	struct dmak_req **owner;
	u32 size;
	u32 head;
	u32 count;
	bool hw_started;
	bool resync;
	u32 skip;
	u32 threshold;
	u32 delay;
	struct work_struct resync_work;
};

/**
 * struct dmak_capture - a cyclic capture on an S2MM channel
 * @cl: the file that started it (referenced; gets its records)
 * @buf: the buffer of the slots (referenced)
 * @dma: bus address of slot 0
 * @slots: slots in the circle
 * @slot_size: bytes of a slot
 * @fill_idx: the slot the engine fills next
 * @release_idx: the oldest slot not handed back
 * @filled: slots filled since START
 * @released: slots handed back since START
 * @overruns: times every slot was full (the engine parked)
 * @overrun_pending: flag the next record with DMAK_COMPL_OVERRUN
 * @starting: not running yet (START) or no more (STOP): no records
 * @status: DMAK_ST_* of an error that ended it, 0 while it runs
 */
struct dmak_capture {
	struct dmak_client *cl;
	struct dmak_buf *buf;
	dma_addr_t dma;
	u32 slots;
	u32 slot_size;
	u32 fill_idx;
	u32 release_idx;
	u64 filled;
	u64 released;
	u64 overruns;
	bool overrun_pending;
	bool starting;
	u32 status;
};

/**
 * struct dmak_chan - one channel (MM2S or S2MM) of an instance
 * @dd: the instance
 * @id: DMAK_MM2S or DMAK_S2MM
 * @base: register bank
 * @irq: its interrupt, 0 when the channel is absent
 * @lock: guards everything below and the channel's registers; taken in
 *	the hard interrupt handler
 * @queue: transfers not yet ended, in order; the first runs if @running
 * @running: the first transfer of @queue is on the hardware
 * @stopped: STOP asked: start nothing new
 * @halting: a reset of the core is under way
 * @error: DMAK_ST_* of the error that halted the channel, 0 if none
 * @last_seq: the last sequence number given out
 * @wq: WAIT sleeps here
 * @results: how the last DMAK_RESULTS transfers ended, by seq
 * @reap: ended transfers whose references the work item drops
 * @reap_work: drops them in process context
 * @syncing: ended receives whose memory @sync_work syncs for the CPU
 *	before reporting them (and the transfers that ended after them)
 * @sync_work: does so in process context
 * @watchdog: looks at the channel while it holds transfers, in case an
 *	interrupt was lost
 * @ring: SG descriptor ring (@ring.desc NULL in direct mode)
 * @irqs: interrupts handled
 * @lost: S2MM packets that landed in descriptors a resync retired
 * @cap: the cyclic capture running on the channel, or NULL
 */
struct dmak_chan {
	struct dmak_dev *dd;
	unsigned int id;
	unsigned int base;
	int irq;
	spinlock_t lock;	/* everything below, the channel's registers */
	struct list_head queue;
	bool running;
	bool stopped;
	bool halting;
	u32 error;
	u64 last_seq;
	wait_queue_head_t wq;
	struct dmak_result *results;
	struct list_head reap;
	struct work_struct reap_work;
	struct list_head syncing;
	struct work_struct sync_work;
	struct delayed_work watchdog;
	struct dmak_ring ring;
	u64 irqs;
	u64 lost;
	struct dmak_capture *cap;
};

/**
 * struct dmak_dev - one AXI DMA instance and its char device /dev/dmakN
 * @dev: the class device; its reference count keeps this structure alive
 *	while open files, buffers or mappings still use it
 * @cdev: the char device
 * @hw: the platform device: DMA mapping, interrupts, registers
 * @regmap: register access (MMIO on hardware, the simulator's regmap)
 * @dead: the hardware is gone (unbound); new file operations fail with
 *	ENODEV; buffers stay until released, their memory until remove takes
 *	it back (@unplugged)
 * @bufs: handle -> struct dmak_buf, for every live handle of every file
 * @next_handle: cursor for cyclic handle allocation
 * @buf_count: buffers whose memory is allocated (handles, or mappings
 *	after the handle went away)
 * @buf_bytes: bytes of those buffers
 * @info: what DMAK_IOC_INFO and sysfs report (per-file fields left zero)
 * @cache_align: bytes an S2MM range of a buffer the CPU caches must be
 *	aligned to at both ends: dma_get_cache_alignment() on a device that
 *	does not snoop the CPU caches, 1 on a coherent one (sysfs
 *	cache_alignment)
 * @chan: the MM2S and S2MM channels
 * @reset_lock: serialises resets of the core
 * @ip_name: the block-design name (xlnx,name, DT label or node name)
 * @node: the firmware node's name, e.g. "dma@40400000"
 * @compatible: the compatible strings, separated by spaces
 * @base: the register base address (the MEM resource), if @has_base
 * @has_base: the device has a MEM resource
 * @sg_clk_hz: the rate of the m_axi_sg_aclk clock, 0 without one
 * @rmem: the device's memory-region is assigned for this binding
 *	(dmak_rmem_get(); released with the last binding's dmak_dev)
 * @debugfs: the instance's debugfs directory
 * @clients_lock: guards @clients and @users
 * @clients: the open files, so that remove wakes their readers
 * @users: the accounts of the users with open files (or their buffers)
 * @mem_srcu: read by what uses buffer memory through the device (the
 *	ALLOC, SYNC, SUBMIT, EXPORT, IMPORT and CYCLIC ioctls, mmap): remove
 *	sets @unplugged, then waits for them. SRCU, not a rw_semaphore: its
 *	readers fault on user memory (mmap_lock), and mmap() reads it under
 *	mmap_lock, so a waiting writer would deadlock the two
 * @unplugged: remove took the buffers' memory back (dmak_bufs_unplug())
 * @stuck: the core did not come out of reset as the device went away, so
 *	the engine may still write to buffers: their memory stays
 * @mem_lock: guards @mem_bufs, @vmas and what they hold
 * @mem_bufs: every buffer of the device, its own or imported, until freed
 * @vmas: the user mappings of the device's own buffers (struct dmak_vma)
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
	u32 cache_align;
	struct dmak_chan chan[2];
	struct mutex reset_lock;	/* resets of the core */
	const char *ip_name;
	const char *node;
	char *compatible;
	resource_size_t base;
	bool has_base;
	unsigned long sg_clk_hz;
	bool rmem;
	struct dentry *debugfs;
	spinlock_t clients_lock;	/* @clients, @users */
	struct list_head clients;
	struct list_head users;
	struct srcu_struct mem_srcu;
	bool unplugged;
	bool stuck;
	struct mutex mem_lock;		/* @mem_bufs, @vmas */
	struct list_head mem_bufs;
	struct list_head vmas;
};

/**
 * struct dmak_records - completion records of one client on one channel
 * @head: index of the oldest record
 * @count: records held
 * @overflow: records were dropped since the last one read
 * @ring: the records
 * @order: when each record came, of the file's records of both channels
 */
struct dmak_records {
	unsigned int head;
	unsigned int count;
	bool overflow;
	struct dmak_completion ring[DMAK_RECORDS];
	u64 order[DMAK_RECORDS];
};

/**
 * struct dmak_user - what one user's open files of a device hold
 * @node: entry in the device's @users
 * @uid: the user (effective uid of the files' openers)
 * @files: open files of the user, and their remains, that refer to this
 * @used: bytes of buffers charged to the user until their memory is freed
 */
struct dmak_user {
	struct list_head node;
	kuid_t uid;
	unsigned int files;
	atomic64_t used;
};

/**
 * struct dmak_client - one open file of a dmak device
 * @ref: held by the file, its channel files, each buffer and each transfer
 * @dd: the device, referenced for the client's lifetime
 * @lock: guards @bufs
 * @bufs: buffers this file still holds a handle to
 * @user: the opener's account: buffers are charged to the user, not the
 *	file, so opening the device again does not pass the quota
 * @rec_lock: guards @rec and @rec_next; taken under a channel's lock
 * @rec_wq: read() and poll() wait here
 * @rec_next: the order of the next record
 * @rec: completion records, per channel
 * @node: entry in the device's @clients until the client is released
 *	(after its channel files too)
 * @dummy: the zeroed page the file's revoked mappings show, wherever they
 *	are touched (one page per file: only the processes that share the
 *	file, and so its buffers, see what is written to it)
 */
struct dmak_client {
	struct kref ref;
	struct dmak_dev *dd;
	struct list_head node;
	struct mutex lock;	/* @bufs */
	struct list_head bufs;
	struct dmak_user *user;
	spinlock_t rec_lock;	/* @rec, @rec_next */
	wait_queue_head_t rec_wq;
	u64 rec_next;
	struct dmak_records rec[2];
	struct page *dummy;
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
 * @attach: an imported dma-buf's attachment to this device (else NULL);
 *	@vaddr and @page are NULL then, @flags has DMAK_BUF_CACHED so that
 *	transfers maintain the caches, and @alloc_size is the dma-buf's size
 * @sgt: the imported dma-buf as this device maps it
 * @whole_lines: the CPU reaches the memory through caches this device does
 *	not snoop: S2MM ranges must be whole cache lines, or end with the
 *	buffer (dmak_buf_s2mm_ok)
 * @mem_node: entry in the device's @mem_bufs
 * @exported: a dma-buf of it was made: importers may still use the memory
 *	after the device went away, so remove leaves it
 * @gone: remove took the memory back (or let go of the import)
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
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	bool whole_lines;
	struct list_head mem_node;
	bool exported;
	bool gone;
};

/**
 * struct dmak_vma - a user mapping of a buffer of the device's own memory
 * @node: entry in the device's @vmas
 * @vma: the mapping
 * @buf: the buffer (referenced)
 * @revoked: remove is done with it: its page table entries are gone
 */
struct dmak_vma {
	struct list_head node;
	struct vm_area_struct *vma;
	struct dmak_buf *buf;
	bool revoked;
};

/* dmak_main.c */
extern unsigned long dmak_buf_quota;
extern unsigned int dmak_ring_size;
extern unsigned int dmak_irq_threshold;
extern unsigned int dmak_irq_delay;

/* dmak_fops.c */
extern const struct file_operations dmak_fops;

static inline bool dmak_chan_present(const struct dmak_chan *ch)
{
	return ch->irq > 0;
}

static inline struct dmak_chan *dmak_chan_of(struct dmak_dev *dd, u32 id)
{
	if (id > DMAK_S2MM || !dmak_chan_present(&dd->chan[id]))
		return NULL;
	return &dd->chan[id];
}

static inline int dmak_chan_read(struct dmak_chan *ch, unsigned int reg,
				 u32 *val)
{
	return regmap_read(ch->dd->regmap, ch->base + reg, val);
}

static inline int dmak_chan_write(struct dmak_chan *ch, unsigned int reg,
				  u32 val)
{
	return regmap_write(ch->dd->regmap, ch->base + reg, val);
}

static inline bool dmak_is_sg(const struct dmak_dev *dd)
{
	return dd->info.flags & DMAK_INFO_SG;
}

/* dmak_chan.c */
int dmak_chan_init(struct dmak_dev *dd, unsigned int id, int irq);
void dmak_chan_end(struct dmak_chan *ch, struct dmak_req *req, u32 status,
		   u64 bytes, u32 sr);
void dmak_chan_end_queued(struct dmak_chan *ch, u32 status, u32 sr);
void dmak_chan_end_started(struct dmak_chan *ch, u32 status, bool orphan);
void dmak_chan_kick(struct dmak_chan *ch);
u32 dmak_status_of(u32 sr);
void dmak_req_free(struct dmak_req *req);
void dmak_chans_silence(struct dmak_dev *dd);
void dmak_chan_watch(struct dmak_chan *ch);
void dmak_chans_shutdown(struct dmak_dev *dd);
void dmak_chans_quiesce(struct dmak_dev *dd);
int dmak_hw_reset(struct dmak_dev *dd);
int dmak_dev_reset(struct dmak_dev *dd, u32 status, bool keep_queued);
long dmak_ioctl_wait(struct dmak_client *cl, void __user *uarg);
long dmak_ioctl_chan_op(struct dmak_client *cl, void __user *uarg);
void dmak_chans_cancel_client(struct dmak_client *cl);

/* dmak_submit.c */
long dmak_ioctl_submit(struct dmak_client *cl, void __user *uarg);

/* dmak_sg.c */
int dmak_sg_init(struct dmak_dev *dd);
void dmak_sg_fill(struct dmak_chan *ch);
irqreturn_t dmak_sg_service(struct dmak_chan *ch);
void dmak_sg_rebuild(struct dmak_chan *ch);
u32 dmak_sg_cr(const struct dmak_chan *ch);
void dmak_sg_write_desc_reg(struct dmak_chan *ch, unsigned int reg, u32 idx);
int dmak_sg_coalesce(struct dmak_chan *ch, u32 threshold, u32 delay);

/* dmak_cyclic.c */
long dmak_ioctl_cyclic(struct dmak_client *cl, void __user *uarg);
void dmak_cyclic_service(struct dmak_chan *ch, u32 sr);
struct dmak_capture *dmak_cyclic_end(struct dmak_chan *ch, u32 status);
void dmak_cyclic_free(struct dmak_capture *cap);
void dmak_cyclic_stop_client(struct dmak_client *cl);

/* dmak_records.c */
void dmak_record_push(struct dmak_client *cl, const struct dmak_completion *c);
void dmak_records_consume(struct dmak_client *cl, unsigned int ch, u64 seq);
void dmak_records_hangup(struct dmak_dev *dd);
long dmak_ioctl_channel_fd(struct dmak_client *cl, void __user *uarg);
ssize_t dmak_records_read(struct dmak_client *cl, unsigned int mask,
			  struct file *file, char __user *ubuf, size_t len);
__poll_t dmak_records_poll(struct dmak_client *cl, unsigned int mask,
			   struct file *file, poll_table *wait);

/* dmak_ident.c */
int dmak_ident_init(struct dmak_dev *dd, struct platform_device *pdev);
void dmak_ident_free(struct dmak_dev *dd);

/* dmak_rmem.c */
int dmak_rmem_get(struct dmak_dev *dd);
void dmak_rmem_put(struct dmak_dev *dd);

/* dmak_regs.c */
u32 dmak_regs_present(const struct dmak_dev *dd);
int dmak_regs_read(struct dmak_dev *dd, struct dmak_regs *regs);
long dmak_ioctl_regs(struct dmak_client *cl, void __user *uarg);

/* dmak_debugfs.c */
void dmak_debugfs_add(struct dmak_dev *dd);
void dmak_debugfs_remove(struct dmak_dev *dd);
void dmak_debugfs_init(void);
void dmak_debugfs_exit(void);

/* dmak_buf.c */
struct dmak_buf *dmak_buf_get(struct dmak_client *cl, u32 handle);
void dmak_buf_put(struct dmak_buf *buf);
int dmak_buf_alloc(struct dmak_client *cl, struct dmak_alloc *arg);
int dmak_buf_free(struct dmak_client *cl, u32 handle);
int dmak_buf_sync(struct dmak_client *cl, const struct dmak_sync *arg);
void dmak_buf_sync_range(struct dmak_buf *buf, dma_addr_t addr, size_t len,
			 enum dma_data_direction dir, bool for_cpu);
void dmak_buf_release_all(struct dmak_client *cl);
int dmak_buf_publish(struct dmak_client *cl, struct dmak_buf *buf);
int dmak_buf_map_user(struct dmak_buf *buf, struct vm_area_struct *vma);
void dmak_bufs_unplug(struct dmak_dev *dd);

/* dmak_mmap.c */
int dmak_buf_mmap(struct dmak_client *cl, struct vm_area_struct *vma);
void dmak_vmas_revoke(struct dmak_dev *dd);
bool dmak_buf_s2mm_ok(struct dmak_buf *buf, dma_addr_t addr, u64 len);

/* dmak_dmabuf.c */
long dmak_ioctl_export(struct dmak_client *cl, void __user *uarg);
long dmak_ioctl_import(struct dmak_client *cl, void __user *uarg);
void dmak_dmabuf_release(struct dmak_buf *buf);
void dmak_client_put(struct dmak_client *cl);

#endif /* _DMAK_H */
