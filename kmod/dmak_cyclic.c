// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: cyclic capture on an S2MM channel with SG.
 *
 * START gives the engine one descriptor per slot of a buffer, chained in a
 * circle of K, with TAILDESC on the last slot the consumer has not yet
 * handed back. The interrupt handler turns every completed slot into a
 * completion record; RELEASE clears the STATUS of the slots the consumer
 * is done with and moves TAILDESC past them, so the engine refills them
 * and never touches a slot still being read. When every slot is full the
 * engine parks at TAILDESC: that stall is counted as an overrun.
 */
#include <linux/bitfield.h>
#include <linux/dma-mapping.h>
#include <linux/iopoll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dmak.h"
#include "dmak_hw.h"
#include "dmak_trace.h"

#define DMAK_HALT_TIMEOUT_US	100000

static void dmak_capture_sync(struct dmak_capture *cap, u32 slot,
			      bool for_cpu)
{
	dma_addr_t addr = cap->dma + (dma_addr_t)slot * cap->slot_size;

	dmak_buf_sync_range(cap->buf, addr, cap->slot_size, DMA_FROM_DEVICE,
			    for_cpu);
}

static void dmak_capture_push(struct dmak_chan *ch, struct dmak_capture *cap,
			      u32 status, u32 slot, u64 bytes, u32 sr,
			      u32 flags)
{
	struct dmak_completion rec = {
		.seq = cap->filled + (status ? 1 : 0),
		.cookie = slot,
		.bytes = bytes,
		.channel = DMAK_S2MM,
		.status = status,
		.dmasr = sr,
		.flags = flags | DMAK_COMPL_CYCLIC,
	};

	trace_dmak_complete(ch->dd->hw, DMAK_S2MM, rec.seq, bytes, status, sr);
	dmak_record_push(cap->cl, &rec);
}

/* The interrupt handler's work during a capture, with ch->lock held. */
void dmak_cyclic_service(struct dmak_chan *ch, u32 sr)
{
	struct dmak_capture *cap = ch->cap;
	struct dmak_ring *ring = &ch->ring;
	u32 st, flags, slot;

	lockdep_assert_held(&ch->lock);
	if (cap->starting || cap->status)
		return;
	while (cap->filled - cap->released < cap->slots) {
		slot = cap->fill_idx;
		st = le32_to_cpu(READ_ONCE(ring->desc[slot].status));
		if (!(st & DMAK_DESC_STS_CMPLT))
			break;
		dma_rmb();
		dmak_capture_sync(cap, slot, true);
		cap->filled++;
		cap->fill_idx = slot + 1 == cap->slots ? 0 : slot + 1;
		flags = (st & DMAK_DESC_STS_RXSOF ? DMAK_COMPL_SOF : 0) |
			(st & DMAK_DESC_STS_RXEOF ? DMAK_COMPL_EOF : 0) |
			(cap->overrun_pending ? DMAK_COMPL_OVERRUN : 0);
		cap->overrun_pending = false;
		dmak_capture_push(ch, cap, DMAK_ST_OK, slot,
				  FIELD_GET(DMAK_DESC_STS_LEN, st), sr, flags);
		if (cap->filled - cap->released == cap->slots) {
			cap->overruns++;	/* the engine parks: a stall */
			cap->overrun_pending = true;
		}
	}
	if (sr & DMAK_SR_ERRORS) {
		cap->status = dmak_status_of(sr);
		ch->error = cap->status;
		trace_dmak_error(ch->dd->hw, DMAK_S2MM, cap->filled + 1, sr,
				 cap->status);
		dmak_capture_push(ch, cap, cap->status, cap->fill_idx, 0, sr,
				  0);
	}
}

/*
 * Ends a capture with a last record of @status (a reset or a removal),
 * with ch->lock held; the caller frees what it returns once unlocked.
 */
struct dmak_capture *dmak_cyclic_end(struct dmak_chan *ch, u32 status)
{
	struct dmak_capture *cap = ch->cap;

	if (!cap)
		return NULL;
	if (!cap->status)
		dmak_capture_push(ch, cap, status, cap->fill_idx, 0, 0, 0);
	ch->cap = NULL;
	return cap;
}

void dmak_cyclic_free(struct dmak_capture *cap)
{
	if (!cap)
		return;
	dmak_buf_put(cap->buf);
	dmak_client_put(cap->cl);
	kfree(cap);
}

/* Writes the circle of slots and starts the halted engine on it. */
static void dmak_cyclic_arm(struct dmak_chan *ch, struct dmak_capture *cap)
{
	struct dmak_ring *ring = &ch->ring;
	dma_addr_t next, addr;
	u32 i;

	for (i = 0; i < cap->slots; i++) {
		next = ring->dma + (dma_addr_t)(i + 1 == cap->slots ? 0 : i + 1) *
				   sizeof(*ring->desc);
		addr = cap->dma + (dma_addr_t)i * cap->slot_size;
		ring->desc[i] = (struct dmak_desc) {
			.next = cpu_to_le32(lower_32_bits(next)),
			.next_msb = cpu_to_le32(upper_32_bits(next)),
			.buf = cpu_to_le32(lower_32_bits(addr)),
			.buf_msb = cpu_to_le32(upper_32_bits(addr)),
			.control = cpu_to_le32(cap->slot_size),
		};
		ring->owner[i] = NULL;
		dmak_capture_sync(cap, i, false);
	}
	ring->head = 0;
	ring->count = cap->slots;
	dma_wmb();
	dmak_sg_write_desc_reg(ch, DMAK_CURDESC, 0);
	dmak_chan_write(ch, DMAK_DMACR, dmak_sg_cr(ch));
	ring->hw_started = true;
	trace_dmak_start(ch->dd->hw, DMAK_S2MM, 1, cap->slots,
			 (u64)cap->slots * cap->slot_size, cap->slots);
	dmak_sg_write_desc_reg(ch, DMAK_TAILDESC, cap->slots - 1);
	ch->running = true;
	cap->starting = false;
}

/*
 * DMASR, read under the channel lock as long as the device is there (see
 * dmak_chan_set_stopped()); once it is gone, remove's reset halted it.
 */
static u32 dmak_chan_sr_live(struct dmak_chan *ch)
{
	u32 sr = DMAK_SR_HALTED;

	spin_lock_irq(&ch->lock);
	if (!READ_ONCE(ch->dd->dead) && dmak_chan_read(ch, DMAK_DMASR, &sr))
		sr = 0;
	spin_unlock_irq(&ch->lock);
	return sr;
}

static int dmak_chan_wait_halted(struct dmak_chan *ch)
{
	u32 sr;

	return read_poll_timeout(dmak_chan_sr_live, sr, sr & DMAK_SR_HALTED,
				 10, DMAK_HALT_TIMEOUT_US, false, ch);
}

/* Checks START's arguments; makes the capture with its references. */
static int dmak_cyclic_prepare(struct dmak_client *cl,
			       const struct dmak_cyclic *arg,
			       struct dmak_capture **out)
{
	struct dmak_dev *dd = cl->dd;
	u32 align = dd->info.flags & DMAK_INFO_DRE ? 1 :
		    dd->info.data_width / 8;
	struct dmak_capture *cap;
	struct dmak_buf *buf;
	u64 span;

	if (arg->slots < 2 || arg->slots > dd->chan[DMAK_S2MM].ring.size ||
	    !arg->slot_size || arg->slot_size > dd->info.desc_max ||
	    !IS_ALIGNED(arg->slot_size, align) || arg->seq)
		return -EINVAL;
	buf = dmak_buf_get(cl, arg->handle);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	span = arg->slot_size * arg->slots;
	/* each slot is a range of its own: slot 0 whole lines, so all */
	if (arg->offset >= buf->size || span > buf->size - arg->offset ||
	    !IS_ALIGNED(buf->dma + arg->offset, align) ||
	    !dmak_buf_s2mm_ok(buf, buf->dma + arg->offset, arg->slot_size)) {
		dmak_buf_put(buf);
		return -EINVAL;
	}
	cap = kzalloc(sizeof(*cap), GFP_KERNEL_ACCOUNT);
	if (!cap) {
		dmak_buf_put(buf);
		return -ENOMEM;
	}
	kref_get(&cl->ref);
	cap->cl = cl;
	cap->buf = buf;
	cap->dma = buf->dma + arg->offset;
	cap->slots = arg->slots;
	cap->slot_size = arg->slot_size;
	cap->starting = true;
	*out = cap;
	return 0;
}

static int dmak_cyclic_start(struct dmak_chan *ch, struct dmak_client *cl,
			     const struct dmak_cyclic *arg)
{
	struct dmak_capture *cap;
	bool halt;
	int ret;

	ret = dmak_cyclic_prepare(cl, arg, &cap);
	if (ret)
		return ret;
	spin_lock_irq(&ch->lock);
	if (READ_ONCE(ch->dd->dead))
		ret = -ENODEV;
	else if (ch->error)
		ret = -EIO;
	else if (ch->cap || !list_empty(&ch->queue) || ch->ring.resync ||
		 ch->halting)
		ret = -EBUSY;
	if (ret) {
		spin_unlock_irq(&ch->lock);
		dmak_cyclic_free(cap);
		return ret;
	}
	ch->cap = cap;		/* SUBMIT to S2MM is refused from now on */
	halt = ch->ring.hw_started;
	if (halt)		/* idle at its tail: halt it for CURDESC */
		dmak_chan_write(ch, DMAK_DMACR, dmak_sg_cr(ch) & ~DMAK_CR_RS);
	ch->ring.hw_started = false;
	spin_unlock_irq(&ch->lock);

	ret = halt ? dmak_chan_wait_halted(ch) : 0;
	spin_lock_irq(&ch->lock);
	if (ch->cap != cap) {
		ret = -EIO;	/* a reset ended it meanwhile */
	} else if (READ_ONCE(ch->dd->dead)) {
		ch->cap = NULL;	/* never armed: the engine never saw it */
		ret = -ENODEV;
	} else if (ret) {
		ch->cap = NULL;
		ret = -ETIMEDOUT;
	} else {
		dmak_cyclic_arm(ch, cap);
		cap = NULL;
	}
	spin_unlock_irq(&ch->lock);
	if (ret == -ETIMEDOUT) {
		/* RS=0 did not halt it: a reset brings the ring back in step */
		dev_warn(ch->dd->hw, "s2mm did not halt for a capture; resetting\n");
		dmak_dev_reset(ch->dd, DMAK_ST_RESET, false);
	}
	if (ret != -EIO)
		dmak_cyclic_free(cap);
	return ret;
}

/* The capture of @ch if @cl owns it, with ch->lock held. */
static struct dmak_capture *dmak_cyclic_of(struct dmak_chan *ch,
					   struct dmak_client *cl)
{
	/* another file's capture is not this file's to see */
	if (!ch->cap || ch->cap->cl != cl)
		return ERR_PTR(-ENOENT);
	return ch->cap;
}

/* Hands back the slots up to record @seq; the engine may refill them. */
static int dmak_cyclic_release(struct dmak_chan *ch, struct dmak_client *cl,
			       u64 seq)
{
	struct dmak_capture *cap;
	u32 slot;

	lockdep_assert_held(&ch->lock);
	cap = dmak_cyclic_of(ch, cl);
	if (IS_ERR(cap))
		return PTR_ERR(cap);
	if (cap->status)
		return -EIO;
	if (seq > cap->filled)
		return -EINVAL;
	if (seq <= cap->released)
		return 0;
	/* The slots handed back take the seqs a lap on. */
	trace_dmak_start(ch->dd->hw, DMAK_S2MM, cap->released + 1 + cap->slots,
			 seq + cap->slots,
			 (seq - cap->released) * cap->slot_size,
			 seq - cap->released);
	for (; cap->released < seq; cap->released++) {
		slot = cap->release_idx;
		dmak_capture_sync(cap, slot, false);
		WRITE_ONCE(ch->ring.desc[slot].status, 0);
		cap->release_idx = slot + 1 == cap->slots ? 0 : slot + 1;
	}
	dma_wmb();	/* STATUS cleared before the engine may fetch them */
	dmak_sg_write_desc_reg(ch, DMAK_TAILDESC,
			       (cap->release_idx + cap->slots - 1) %
			       cap->slots);
	return 0;
}

/* Halts the engine and gives S2MM back to SUBMIT. */
static int dmak_cyclic_stop(struct dmak_chan *ch, struct dmak_client *cl)
{
	struct dmak_capture *cap;
	int halted;

	spin_lock_irq(&ch->lock);
	cap = dmak_cyclic_of(ch, cl);
	if (IS_ERR(cap)) {
		spin_unlock_irq(&ch->lock);
		return PTR_ERR(cap);
	}
	cap->starting = true;	/* no more records */
	if (!READ_ONCE(ch->dd->dead))
		dmak_chan_write(ch, DMAK_DMACR, dmak_sg_cr(ch) & ~DMAK_CR_RS);
	spin_unlock_irq(&ch->lock);

	halted = dmak_chan_wait_halted(ch);
	if (halted) {
		/*
		 * Still writing: only a reset stops it before the buffer goes.
		 * The reset ends the capture (and rebuilds the ring) once the
		 * core is out of reset; until then the capture keeps its
		 * buffer, and closing the file tries again.
		 */
		dev_warn(ch->dd->hw, "s2mm did not halt after a capture; resetting\n");
		return dmak_dev_reset(ch->dd, DMAK_ST_RESET, false);
	}
	spin_lock_irq(&ch->lock);
	/*
	 * A reset ended it meanwhile; or the device is going, and only
	 * remove's reset, once it stopped the engine, may end it (never if
	 * the core does not come out of reset: its buffer stays).
	 */
	if (ch->cap != cap || READ_ONCE(ch->dd->dead)) {
		spin_unlock_irq(&ch->lock);
		return 0;
	}
	ch->cap = NULL;
	if (!READ_ONCE(ch->dd->dead))
		dmak_sg_rebuild(ch);
	spin_unlock_irq(&ch->lock);
	dmak_cyclic_free(cap);
	return 0;
}

/* Closing file @cl: its captures stop before its buffers may go. */
void dmak_cyclic_stop_client(struct dmak_client *cl)
{
	struct dmak_chan *ch = &cl->dd->chan[DMAK_S2MM];

	if (dmak_chan_present(ch) && dmak_is_sg(cl->dd))
		dmak_cyclic_stop(ch, cl);
}

long dmak_ioctl_cyclic(struct dmak_client *cl, void __user *uarg)
{
	struct dmak_cyclic arg;
	struct dmak_capture *cap;
	struct dmak_chan *ch;
	long ret = 0;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	ch = dmak_chan_of(cl->dd, arg.channel);
	if (!ch || arg.channel != DMAK_S2MM || arg.reserved[0] ||
	    arg.reserved[1])
		return -EINVAL;
	if (!dmak_is_sg(cl->dd))
		return -EOPNOTSUPP;
	switch (arg.op) {
	case DMAK_CYCLIC_START:
		ret = dmak_cyclic_start(ch, cl, &arg);
		break;
	case DMAK_CYCLIC_STOP:
		return dmak_cyclic_stop(ch, cl);
	case DMAK_CYCLIC_RELEASE:
	case DMAK_CYCLIC_STATUS:
		break;
	default:
		return -EINVAL;
	}
	if (ret)
		return ret;
	spin_lock_irq(&ch->lock);
	if (arg.op == DMAK_CYCLIC_RELEASE)
		ret = dmak_cyclic_release(ch, cl, arg.seq);
	cap = ret ? NULL : dmak_cyclic_of(ch, cl);
	if (!ret && IS_ERR(cap))
		ret = PTR_ERR(cap);
	if (!ret) {
		arg.filled = cap->filled;
		arg.released = cap->released;
		arg.overruns = cap->overruns;
	}
	spin_unlock_irq(&ch->lock);
	if (ret)
		return ret;
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}
