// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: the channels of an AXI DMA: queues, direct (register) mode, the
 * interrupt handler, WAIT, RESET/CANCEL/STOP/START and coalescing.
 *
 * Each channel keeps a queue of transfers. SUBMIT appends to it and starts
 * the first one if the channel is idle (with SG, as many as the descriptor
 * ring holds: dmak_sg.c); the hard interrupt handler ends the transfers the
 * hardware finished, records how they ended and starts the next, so a queue
 * runs back to back with no trip to user space. References the ended
 * transfers held are dropped by a work item, in process context.
 *
 * An error halts the channel (the hardware does too): its queued transfers
 * end with DMAK_ST_ABORTED, and it takes no more until a RESET, which
 * resets the whole core, as the IP has one reset for both channels.
 */
#include <linux/capability.h>
#include <linux/dma-mapping.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dmak.h"
#include "dmak_hw.h"
#include "dmak_trace.h"

#define DMAK_RECHECK	HZ	/* WAIT looks at DMASR at least this often */
#define DMAK_SYNC_IN_IRQ	SZ_64K	/* larger receives: synced by a work */

/* Resets the whole core through the bank of a channel that exists. */
int dmak_hw_reset(struct dmak_dev *dd)
{
	struct dmak_chan *ch = dmak_chan_present(&dd->chan[DMAK_MM2S]) ?
			       &dd->chan[DMAK_MM2S] : &dd->chan[DMAK_S2MM];
	unsigned int cr;
	int ret;

	ret = dmak_chan_write(ch, DMAK_DMACR, DMAK_CR_RESET);
	if (ret)
		return ret;
	return regmap_read_poll_timeout(dd->regmap, ch->base + DMAK_DMACR, cr,
					!(cr & DMAK_CR_RESET), 50, 1000000);
}

u32 dmak_status_of(u32 sr)
{
	if (sr & DMAK_SR_DMA_DEC_ERR)
		return DMAK_ST_DMA_DEC_ERR;
	if (sr & DMAK_SR_DMA_SLV_ERR)
		return DMAK_ST_DMA_SLV_ERR;
	if (sr & DMAK_SR_DMA_INT_ERR)
		return DMAK_ST_DMA_INT_ERR;
	if (sr & DMAK_SR_SG_DEC_ERR)
		return DMAK_ST_SG_DEC_ERR;
	if (sr & DMAK_SR_SG_SLV_ERR)
		return DMAK_ST_SG_SLV_ERR;
	return DMAK_ST_SG_INT_ERR;
}

/* Bytes of cached memory a CPU sync must cover when @req ends. */
static u64 dmak_req_sync_bytes(const struct dmak_req *req)
{
	const struct dmak_seg *seg;
	u64 n = 0;

	if (req->chan != DMAK_S2MM || !req->started ||
	    req->flags & DMAK_XFER_NO_SYNC)
		return 0;
	/* an imported dma-buf is synced whole */
	for (seg = req->seg; seg < req->seg + req->nsegs; seg++)
		if (seg->buf->flags & DMAK_BUF_CACHED)
			n += seg->buf->attach ? seg->buf->size : seg->len;
	return n;
}

static void dmak_req_sync_for_cpu(struct dmak_req *req)
{
	struct dmak_seg *seg;

	for (seg = req->seg; seg < req->seg + req->nsegs; seg++)
		dmak_buf_sync_range(seg->buf, seg->dma, seg->len,
				    DMA_FROM_DEVICE, true);
}

/* Result, record, wake-ups; its references go to the reaper. */
static void dmak_chan_report(struct dmak_chan *ch, struct dmak_req *req)
{
	struct dmak_result *r = &ch->results[req->seq % DMAK_RESULTS];
	struct dmak_completion rec = {
		.seq = req->seq,
		.cookie = req->cookie,
		.bytes = req->end_bytes,
		.channel = ch->id,
		.status = req->end_status,
		.dmasr = req->end_sr,
	};

	lockdep_assert_held(&ch->lock);
	if (r->seq < req->seq) {	/* never overwrite a newer result */
		r->seq = req->seq;
		r->cl = req->cl;
		r->bytes = req->end_bytes;
		r->status = req->end_status;
		r->dmasr = req->end_sr;
	}
	dmak_record_push(req->cl, &rec);

	list_move_tail(&req->node, &ch->reap);
	schedule_work(&ch->reap_work);
	wake_up_all(&ch->wq);
}

/*
 * Ends @req. A receive into cached memory is synced for the CPU before it
 * is reported; more than DMAK_SYNC_IN_IRQ bytes of it (a cache walk of
 * milliseconds on a board) are synced by a work item, not here with the
 * interrupts off, and every transfer of the channel ending meanwhile is
 * reported after it, in order.
 */
void dmak_chan_end(struct dmak_chan *ch, struct dmak_req *req, u32 status,
		   u64 bytes, u32 sr)
{
	u64 sync = dmak_req_sync_bytes(req);

	lockdep_assert_held(&ch->lock);
	trace_dmak_complete(ch->dd->hw, ch->id, req->seq, bytes, status, sr);
	req->end_status = status;
	req->end_bytes = bytes;
	req->end_sr = sr;
	if (sync > DMAK_SYNC_IN_IRQ || !list_empty(&ch->syncing)) {
		list_move_tail(&req->node, &ch->syncing);
		queue_work(system_unbound_wq, &ch->sync_work);
		return;
	}
	if (sync)
		dmak_req_sync_for_cpu(req);
	dmak_chan_report(ch, req);
}

/* Syncs the large receives for the CPU, then reports them, in order. */
static void dmak_chan_sync(struct work_struct *work)
{
	struct dmak_chan *ch = container_of(work, struct dmak_chan, sync_work);
	struct dmak_req *req;

	for (;;) {
		/* only this work takes entries off @syncing */
		spin_lock_irq(&ch->lock);
		req = list_first_entry_or_null(&ch->syncing, struct dmak_req,
					       node);
		spin_unlock_irq(&ch->lock);
		if (!req)
			return;
		if (dmak_req_sync_bytes(req))
			dmak_req_sync_for_cpu(req);
		spin_lock_irq(&ch->lock);
		dmak_chan_report(ch, req);
		spin_unlock_irq(&ch->lock);
		cond_resched();
	}
}

/* Ends every queued transfer that has not started with @status. */
void dmak_chan_end_queued(struct dmak_chan *ch, u32 status, u32 sr)
{
	struct dmak_req *req, *tmp;

	list_for_each_entry_safe(req, tmp, &ch->queue, node)
		if (!req->started)
			dmak_chan_end(ch, req, status, 0, sr);
}

/*
 * Gives queued transfers to the hardware if the channel may run: with SG,
 * as many as the ring holds; in direct mode, the first one.
 */
void dmak_chan_kick(struct dmak_chan *ch)
{
	struct dmak_dev *dd = ch->dd;
	struct dmak_req *req;

	lockdep_assert_held(&ch->lock);
	if (ch->stopped || ch->halting || ch->error || READ_ONCE(dd->dead))
		return;
	if (dmak_is_sg(dd)) {
		dmak_sg_fill(ch);
		return;
	}
	if (ch->running)
		return;
	req = list_first_entry_or_null(&ch->queue, struct dmak_req, node);
	if (!req)
		return;

	req->started = true;
	ch->running = true;
	dmak_chan_write(ch, DMAK_DMACR, DMAK_CR_RS | DMAK_CR_IOC_IRQ |
			DMAK_CR_ERR_IRQ);
	dmak_chan_write(ch, DMAK_ADDR, lower_32_bits(req->seg[0].dma));
	if (dd->info.addr_width > 32)
		dmak_chan_write(ch, DMAK_ADDR_MSB,
				upper_32_bits(req->seg[0].dma));
	trace_dmak_start(dd->hw, ch->id, req->seq, req->seq, req->len, 0);
	dmak_chan_write(ch, DMAK_LENGTH, req->len);	/* starts it */
}

/*
 * Reads DMASR and ends the running transfer if the hardware says it ended.
 * The interrupt handler, and WAIT when a wait times out (an interrupt may
 * have been lost), call it with the channel lock held.
 */
static irqreturn_t __dmak_chan_service(struct dmak_chan *ch)
{
	struct dmak_req *req;
	u32 sr, bytes;

	lockdep_assert_held(&ch->lock);
	if (dmak_is_sg(ch->dd))
		return dmak_sg_service(ch);
	if (dmak_chan_read(ch, DMAK_DMASR, &sr))
		return IRQ_NONE;
	if (!(sr & DMAK_SR_ALL_IRQ))
		return IRQ_NONE;
	trace_dmak_irq(ch->dd->hw, ch->id, sr);
	dmak_chan_write(ch, DMAK_DMASR, sr & DMAK_SR_ALL_IRQ);
	ch->irqs++;
	if (!ch->running)
		return IRQ_HANDLED;

	req = list_first_entry(&ch->queue, struct dmak_req, node);
	if (sr & DMAK_SR_ERRORS) {
		ch->running = false;
		ch->error = dmak_status_of(sr);
		trace_dmak_error(ch->dd->hw, ch->id, req->seq, sr, ch->error);
		dmak_chan_end(ch, req, ch->error, 0, sr);
		dmak_chan_end_queued(ch, DMAK_ST_ABORTED, sr);
		dev_dbg(ch->dd->hw, "%s halted: DMASR %#x\n",
			ch->id == DMAK_MM2S ? "mm2s" : "s2mm", sr);
	} else if (sr & DMAK_SR_IOC_IRQ) {
		bytes = req->len;
		/* LENGTH reads back what came */
		if (ch->id == DMAK_S2MM)
			dmak_chan_read(ch, DMAK_LENGTH, &bytes);
		ch->running = false;
		dmak_chan_end(ch, req, DMAK_ST_OK, bytes, sr);
		if (ch->stopped)
			dmak_chan_write(ch, DMAK_DMACR, 0);
		dmak_chan_kick(ch);
	}
	return IRQ_HANDLED;
}

static irqreturn_t dmak_chan_service(struct dmak_chan *ch)
{
	/* after remove's reset, nothing more may touch the registers */
	if (READ_ONCE(ch->dd->dead))
		return IRQ_NONE;
	return __dmak_chan_service(ch);
}

static irqreturn_t dmak_chan_irq(int irq, void *data)
{
	struct dmak_chan *ch = data;
	irqreturn_t ret;

	spin_lock(&ch->lock);
	ret = dmak_chan_service(ch);
	spin_unlock(&ch->lock);
	return ret;
}

static void dmak_chan_reap(struct work_struct *work)
{
	struct dmak_chan *ch = container_of(work, struct dmak_chan, reap_work);
	struct dmak_req *req, *tmp;
	LIST_HEAD(done);

	spin_lock_irq(&ch->lock);
	list_splice_init(&ch->reap, &done);
	spin_unlock_irq(&ch->lock);
	/* @ch may be freed by the last put below: do not touch it again. */
	list_for_each_entry_safe(req, tmp, &done, node)
		dmak_req_free(req);
}

void dmak_req_free(struct dmak_req *req)
{
	u32 i;

	for (i = 0; i < req->nsegs && !req->orphan; i++)
		dmak_buf_put(req->seg[i].buf);
	dmak_client_put(req->cl);
	kfree(req);
}

/* Ends the running transfer if it ended and its interrupt was lost. */
static void dmak_chan_recheck(struct dmak_chan *ch)
{
	struct dmak_req *req;
	unsigned long flags;
	u64 seq;

	spin_lock_irqsave(&ch->lock, flags);
	req = list_first_entry_or_null(&ch->queue, struct dmak_req, node);
	seq = req && req->started ? req->seq : 0;
	if (dmak_chan_service(ch) == IRQ_HANDLED && seq &&
	    ch->results[seq % DMAK_RESULTS].seq == seq)
		dev_warn_ratelimited(ch->dd->hw,
				     "%s: transfer %llu ended without its interrupt\n",
				     ch->id == DMAK_MM2S ? "mm2s" : "s2mm",
				     seq);
	spin_unlock_irqrestore(&ch->lock, flags);
}

/*
 * While a channel holds transfers, it is looked at every DMAK_RECHECK: a
 * lost interrupt then costs a delay to read(), poll() and the queue behind
 * it too, not only to WAIT.
 */
static void dmak_chan_watchdog(struct work_struct *work)
{
	struct dmak_chan *ch = container_of(to_delayed_work(work),
					    struct dmak_chan, watchdog);
	unsigned long flags;

	dmak_chan_recheck(ch);
	spin_lock_irqsave(&ch->lock, flags);
	if (!list_empty(&ch->queue) && !READ_ONCE(ch->dd->dead))
		schedule_delayed_work(&ch->watchdog, DMAK_RECHECK);
	spin_unlock_irqrestore(&ch->lock, flags);
}

/* Called with the channel lock held after transfers were queued. */
void dmak_chan_watch(struct dmak_chan *ch)
{
	lockdep_assert_held(&ch->lock);
	schedule_delayed_work(&ch->watchdog, DMAK_RECHECK);
}

int dmak_chan_init(struct dmak_dev *dd, unsigned int id, int irq)
{
	struct dmak_chan *ch = &dd->chan[id];
	int ret;

	ch->dd = dd;
	ch->id = id;
	ch->base = id == DMAK_MM2S ? DMAK_MM2S_BASE : DMAK_S2MM_BASE;
	spin_lock_init(&ch->lock);
	INIT_LIST_HEAD(&ch->queue);
	INIT_LIST_HEAD(&ch->reap);
	INIT_WORK(&ch->reap_work, dmak_chan_reap);
	INIT_LIST_HEAD(&ch->syncing);
	INIT_WORK(&ch->sync_work, dmak_chan_sync);
	INIT_DELAYED_WORK(&ch->watchdog, dmak_chan_watchdog);
	init_waitqueue_head(&ch->wq);
	if (irq <= 0)
		return 0;
	/* Freed with @dd: WAIT still reads them after the hardware is gone. */
	ch->results = kcalloc(DMAK_RESULTS, sizeof(*ch->results), GFP_KERNEL);
	if (!ch->results)
		return -ENOMEM;
	ret = devm_request_irq(dd->hw, irq, dmak_chan_irq, 0,
			       dev_name(dd->hw), ch);
	if (!ret)
		ch->irq = irq;
	return ret;
}

/*
 * After a reset: the transfers the hardware held end (CANCEL's as such).
 * @orphan: the reset failed and the device is going away, so the engine
 * may still write their memory: their buffers are never given back.
 */
void dmak_chan_end_started(struct dmak_chan *ch, u32 status, bool orphan)
{
	struct dmak_req *req, *tmp;

	list_for_each_entry_safe(req, tmp, &ch->queue, node) {
		if (!req->started)
			break;
		req->orphan = orphan;
		dmak_chan_end(ch, req, req->cancel ? DMAK_ST_CANCELLED : status,
			      0, 0);
	}
}

/*
 * @cl's transfer @seq of @ch if it is queued (with ch->lock held); else
 * EALREADY if it ended and its result is kept, ENOENT if it is another
 * file's (not this file's to see), was never given out, or ended so long
 * ago that its result is not kept (whose it was is not known then).
 */
static struct dmak_req *dmak_chan_find(struct dmak_chan *ch,
				       struct dmak_client *cl, u64 seq)
{
	struct dmak_result *r = &ch->results[seq % DMAK_RESULTS];
	struct dmak_req *req;

	lockdep_assert_held(&ch->lock);
	list_for_each_entry(req, &ch->queue, node)
		if (req->seq == seq)
			return req->cl == cl ? req : ERR_PTR(-ENOENT);
	list_for_each_entry(req, &ch->syncing, node)
		if (req->seq == seq)
			return ERR_PTR(req->cl == cl ? -EALREADY : -ENOENT);
	if (r->seq == seq)
		return ERR_PTR(r->cl == cl ? -EALREADY : -ENOENT);
	return ERR_PTR(-ENOENT);
}

/*
 * Whether a reset of the core would end another file's work: a transfer
 * it has on the hardware, or queued too (@queued), or its capture.
 */
static bool dmak_others_busy(struct dmak_client *cl, bool queued)
{
	struct dmak_req *req;
	struct dmak_chan *ch;
	bool busy = false;
	int i;

	for (i = 0; i < 2 && !busy; i++) {
		ch = &cl->dd->chan[i];
		if (!dmak_chan_present(ch))
			continue;
		spin_lock_irq(&ch->lock);
		busy = ch->cap && ch->cap->cl != cl;
		list_for_each_entry(req, &ch->queue, node)
			if (req->cl != cl && (queued || req->started))
				busy = true;
		spin_unlock_irq(&ch->lock);
	}
	return busy;
}

/*
 * Whether @cl may reset the core, asked with the channels halting (so no
 * transfer starts meanwhile): with CAP_SYS_RAWIO always; else if no other
 * file has work the reset would end. RESET (@cancel false) ends queued
 * transfers too, and may also recover a channel halted on an error
 * (EPERM otherwise); CANCEL of a running transfer ends only running ones
 * (EBUSY otherwise).
 */
static int dmak_reset_allowed(struct dmak_client *cl, bool cancel)
{
	struct dmak_dev *dd = cl->dd;

	if (!cancel && (READ_ONCE(dd->chan[DMAK_MM2S].error) ||
			READ_ONCE(dd->chan[DMAK_S2MM].error)))
		return 0;
	if (!dmak_others_busy(cl, !cancel) || capable(CAP_SYS_RAWIO))
		return 0;
	return cancel ? -EBUSY : -EPERM;
}

/* Ends the transfers not yet started that were queued up to @upto. */
static void dmak_chan_end_queued_upto(struct dmak_chan *ch, u32 status,
				      u64 upto)
{
	struct dmak_req *req, *tmp;

	list_for_each_entry_safe(req, tmp, &ch->queue, node)
		if (!req->started && req->seq <= upto)
			dmak_chan_end(ch, req, status, 0, 0);
}

/*
 * The last seq given out on each channel, under both channels' locks at
 * once, as a batch is queued (dmak_enqueue()): a batch is either wholly
 * before the note or wholly after it.
 */
static void dmak_chans_note_queued(struct dmak_dev *dd, u64 upto[2])
{
	int i;

	local_irq_disable();
	for (i = 0; i < 2; i++)
		if (dmak_chan_present(&dd->chan[i]))
			spin_lock_nested(&dd->chan[i].lock, i);
	for (i = 0; i < 2; i++)
		upto[i] = dd->chan[i].last_seq;
	for (i = 1; i >= 0; i--)
		if (dmak_chan_present(&dd->chan[i]))
			spin_unlock(&dd->chan[i].lock);
	local_irq_enable();
}

/*
 * Resets the core. Transfers that completed meanwhile end as they did;
 * those still on the hardware end with DMAK_ST_CANCELLED if CANCEL asked
 * for them, else with @status; queued ones too unless @keep_queued, in
 * which case they start again after the reset. With @keep_queued (CANCEL,
 * close) the core is reset only if a cancelled transfer still runs.
 *
 * If the core does not come out of reset, running transfers keep their
 * buffers (the engine may still write to them) and both channels halt
 * with DMAK_ST_RESET until a RESET succeeds; on removal they end with
 * DMAK_ST_REMOVED and their buffers are never given back.
 *
 * Queued transfers end only if they were queued when the reset began;
 * those submitted meanwhile start after it. With @asker, the reset is a
 * file's request: it is refused (EPERM, EBUSY: dmak_reset_allowed()) if
 * it would end another file's work, checked again once no transfer can
 * start. With @target, it is @asker's CANCEL of transfer @seq there: the
 * reset happens only if that one still runs, and ends it CANCELLED.
 */
static int dmak_dev_reset_as(struct dmak_dev *dd, u32 status,
			     bool keep_queued, struct dmak_client *asker,
			     struct dmak_chan *target, u64 seq)
{
	struct dmak_capture *cap = NULL;
	bool flagged = false, runs = false;
	bool needed = !keep_queued;
	u64 upto[2] = { 0, 0 };
	struct dmak_chan *ch;
	struct dmak_req *req;
	int i, ret = 0;

	/* A refusal known at once holds no one's channel up. */
	if (asker) {
		ret = dmak_reset_allowed(asker, keep_queued);
		if (ret)
			return ret;
	}
	mutex_lock(&dd->reset_lock);
	/* Once the device is gone, only remove's own reset may end them. */
	if (READ_ONCE(dd->dead) && status != DMAK_ST_REMOVED) {
		mutex_unlock(&dd->reset_lock);
		return -ENODEV;
	}
	for (i = 0; i < 2; i++) {
		ch = &dd->chan[i];
		if (!dmak_chan_present(ch))
			continue;
		spin_lock_irq(&ch->lock);
		ch->halting = true;
		spin_unlock_irq(&ch->lock);
		synchronize_irq(ch->irq);
		/*
		 * End what completed before the halt, as it completed: on
		 * removal too, where the line is silenced already.
		 */
		spin_lock_irq(&ch->lock);
		__dmak_chan_service(ch);
		list_for_each_entry(req, &ch->queue, node)
			if (req->started && req->cancel)
				flagged = true;	/* a closing file's */
		if (ch == target) {
			req = dmak_chan_find(ch, asker, seq);
			runs = !IS_ERR(req) && req->started;
		}
		spin_unlock_irq(&ch->lock);
	}
	needed = needed || flagged || runs;
	dmak_chans_note_queued(dd, upto);
	if (asker && needed)
		ret = dmak_reset_allowed(asker, keep_queued);
	if (!ret && runs) {
		/* found again: it may have ended since (the IRQ still runs) */
		spin_lock_irq(&target->lock);
		req = dmak_chan_find(target, asker, seq);
		if (!IS_ERR(req) && req->started)
			req->cancel = true;
		else if (!flagged)
			needed = false;
		spin_unlock_irq(&target->lock);
	}
	if (ret) {
		for (i = 0; i < 2; i++) {
			ch = &dd->chan[i];
			if (!dmak_chan_present(ch))
				continue;
			spin_lock_irq(&ch->lock);
			ch->halting = false;
			dmak_chan_kick(ch);
			spin_unlock_irq(&ch->lock);
		}
		mutex_unlock(&dd->reset_lock);
		return ret;
	}
	if (needed)
		ret = dmak_hw_reset(dd);
	if (ret && status == DMAK_ST_REMOVED)
		dd->stuck = true;	/* the memory stays: see dmak_bufs_unplug */
	for (i = 0; i < 2; i++) {
		ch = &dd->chan[i];
		if (!dmak_chan_present(ch))
			continue;
		spin_lock_irq(&ch->lock);
		ch->halting = false;
		if (ret && status != DMAK_ST_REMOVED) {
			ch->error = DMAK_ST_RESET;
			spin_unlock_irq(&ch->lock);
			continue;
		}
		if (needed)
			dmak_chan_end_started(ch, status, ret != 0);
		if (!keep_queued)
			dmak_chan_end_queued_upto(ch, status, upto[i]);
		/*
		 * A core that did not come out of reset as it goes away may
		 * still run: its capture buffer and ring stay as they are.
		 */
		if (needed && !ret) {
			ch->running = false;
			ch->error = 0;
			cap = dmak_cyclic_end(ch, status);
			if (dmak_is_sg(dd))
				dmak_sg_rebuild(ch);
		}
		dmak_chan_kick(ch);
		spin_unlock_irq(&ch->lock);
		dmak_cyclic_free(cap);
		cap = NULL;
	}
	mutex_unlock(&dd->reset_lock);
	if (ret)
		dev_err(dd->hw, "engine did not come out of reset: %d\n", ret);
	return ret;
}

int dmak_dev_reset(struct dmak_dev *dd, u32 status, bool keep_queued)
{
	return dmak_dev_reset_as(dd, status, keep_queued, NULL, NULL, 0);
}

/* Before @dd may go: no handler runs, no reaping is left to do. */
void dmak_chans_quiesce(struct dmak_dev *dd)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (!dmak_chan_present(&dd->chan[i]))
			continue;
		devm_free_irq(dd->hw, dd->chan[i].irq, &dd->chan[i]);
		cancel_delayed_work_sync(&dd->chan[i].watchdog);
		if (dd->chan[i].ring.desc)
			cancel_work_sync(&dd->chan[i].ring.resync_work);
		flush_work(&dd->chan[i].sync_work);
		flush_work(&dd->chan[i].reap_work);
	}
}

/*
 * Before remove marks the device dead: no channel raises its line again
 * (DMACR's interrupt enables off) and no handler runs, so a level-triggered
 * line never stays high with a handler that no longer answers. Transfers
 * completing meanwhile are ended, as they ended, by the reset that follows.
 */
void dmak_chans_silence(struct dmak_dev *dd)
{
	struct dmak_chan *ch;
	u32 cr;
	int i;

	for (i = 0; i < 2; i++) {
		ch = &dd->chan[i];
		if (!dmak_chan_present(ch))
			continue;
		spin_lock_irq(&ch->lock);
		if (!dmak_chan_read(ch, DMAK_DMACR, &cr))
			dmak_chan_write(ch, DMAK_DMACR, cr & ~DMAK_CR_ALL_IRQ);
		spin_unlock_irq(&ch->lock);
		disable_irq(ch->irq);
	}
}

/* The device is going away: stop the engine, end every transfer. */
void dmak_chans_shutdown(struct dmak_dev *dd)
{
	dmak_dev_reset(dd, DMAK_ST_REMOVED, false);
	dmak_chans_quiesce(dd);
}

/* A file is closing: its transfers end, none touches its memory after. */
void dmak_chans_cancel_client(struct dmak_client *cl)
{
	struct dmak_dev *dd = cl->dd;
	struct dmak_req *req, *tmp;
	bool reset = false;
	struct dmak_chan *ch;
	int i;

	dmak_cyclic_stop_client(cl);
	for (i = 0; i < 2; i++) {
		ch = &dd->chan[i];
		if (!dmak_chan_present(ch))
			continue;
		spin_lock_irq(&ch->lock);
		list_for_each_entry_safe(req, tmp, &ch->queue, node) {
			if (req->cl != cl)
				continue;
			if (req->started) {
				req->cancel = true;
				reset = true;
			} else {
				dmak_chan_end(ch, req, DMAK_ST_CANCELLED, 0, 0);
			}
		}
		spin_unlock_irq(&ch->lock);
	}
	if (reset)
		dmak_dev_reset(dd, DMAK_ST_RESET, true);
	for (i = 0; i < 2; i++) {
		if (!dmak_chan_present(&dd->chan[i]))
			continue;
		flush_work(&dd->chan[i].sync_work);
		flush_work(&dd->chan[i].reap_work);
	}
}

/* WAIT */

static u64 dmak_chan_last_seq(struct dmak_chan *ch)
{
	unsigned long flags;
	u64 seq;

	spin_lock_irqsave(&ch->lock, flags);	/* no torn u64 on 32-bit */
	seq = ch->last_seq;
	spin_unlock_irqrestore(&ch->lock, flags);
	return seq;
}

static bool dmak_chan_ended(struct dmak_chan *ch, u64 seq)
{
	unsigned long flags;
	bool ended;

	spin_lock_irqsave(&ch->lock, flags);
	ended = ch->results[seq % DMAK_RESULTS].seq >= seq;
	spin_unlock_irqrestore(&ch->lock, flags);
	return ended;
}

long dmak_ioctl_wait(struct dmak_client *cl, void __user *uarg)
{
	struct dmak_result *r;
	struct dmak_wait arg;
	long timeout, slice, ret;
	struct dmak_chan *ch;
	u64 seq;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	seq = arg.seq;
	ch = dmak_chan_of(cl->dd, arg.channel);
	if (!ch || !seq || seq > dmak_chan_last_seq(ch) ||
	    arg.flags & ~DMAK_WAIT_PEEK ||
	    memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return -EINVAL;
	/* another file's transfer is not this file's to wait for */
	spin_lock_irq(&ch->lock);
	ret = PTR_ERR_OR_ZERO(dmak_chan_find(ch, cl, seq));
	spin_unlock_irq(&ch->lock);
	if (ret == -ENOENT)
		return ret;

	/*
	 * Sleep in slices of at most DMAK_RECHECK: after each, look at the
	 * hardware, so a lost interrupt costs a delay, never a hang.
	 */
	timeout = msecs_to_jiffies(arg.timeout_ms);
	for (;;) {
		slice = min_t(long, timeout, DMAK_RECHECK);
		ret = wait_event_interruptible_timeout(ch->wq,
						       dmak_chan_ended(ch, seq),
						       slice);
		if (ret < 0)	/* EINTR, or restarted with SA_RESTART */
			return -ERESTARTSYS;
		if (ret)
			break;
		dmak_chan_recheck(ch);
		if (dmak_chan_ended(ch, seq))
			break;
		if (arg.timeout_ms != DMAK_WAIT_FOREVER)
			timeout -= slice;
		if (timeout <= 0)
			return -ETIMEDOUT;
	}

	spin_lock_irq(&ch->lock);
	r = &ch->results[seq % DMAK_RESULTS];
	if (r->seq != seq)
		ret = -ENOENT;		/* no longer kept */
	else if (r->cl != cl)
		ret = -ENOENT;		/* not this file's to see */
	else
		ret = 0;
	arg.bytes = r->bytes;
	arg.status = r->status;
	arg.dmasr = r->dmasr;
	spin_unlock_irq(&ch->lock);
	if (ret)
		return ret;
	if (!(arg.flags & DMAK_WAIT_PEEK))
		dmak_records_consume(cl, ch->id, seq);
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

/* RESET, CANCEL, STOP, START, STATUS */

static long dmak_chan_cancel(struct dmak_chan *ch, struct dmak_client *cl,
			     u64 seq)
{
	bool started = false;
	struct dmak_req *req;
	long ret = 0;

	spin_lock_irq(&ch->lock);
	req = dmak_chan_find(ch, cl, seq);
	if (IS_ERR(req))
		ret = PTR_ERR(req);
	else if (req->started)
		started = true;
	else	/* @req may be freed once the lock is dropped */
		dmak_chan_end(ch, req, DMAK_ST_CANCELLED, 0, 0);
	spin_unlock_irq(&ch->lock);
	if (ret || !started)
		return ret;

	/*
	 * Only a reset stops a running transfer, unless it ends first; it
	 * would end the others' running transfers too (EBUSY).
	 */
	ret = dmak_dev_reset_as(ch->dd, DMAK_ST_RESET, true, cl, ch, seq);
	if (ret)
		return ret;
	/* one that ended first may be reported by the sync work */
	flush_work(&ch->sync_work);
	spin_lock_irq(&ch->lock);
	if (ch->results[seq % DMAK_RESULTS].seq == seq &&
	    ch->results[seq % DMAK_RESULTS].status != DMAK_ST_CANCELLED)
		ret = -EALREADY;
	spin_unlock_irq(&ch->lock);
	return ret;
}

/*
 * Register access outside the interrupt path checks @dead under the channel
 * lock: remove() takes every channel lock after setting it, so no access
 * outlives remove().
 */
static int dmak_chan_set_stopped(struct dmak_chan *ch, bool stop)
{
	spin_lock_irq(&ch->lock);
	if (READ_ONCE(ch->dd->dead)) {
		spin_unlock_irq(&ch->lock);
		return -ENODEV;
	}
	ch->stopped = stop;
	if (stop && !ch->running) {
		dmak_chan_write(ch, DMAK_DMACR, 0);
		ch->ring.hw_started = false;	/* SG: restart at CURDESC */
	}
	dmak_chan_kick(ch);
	spin_unlock_irq(&ch->lock);
	return 0;
}

static int dmak_chan_status(struct dmak_chan *ch, struct dmak_chan_op *op)
{
	struct dmak_req *req;

	spin_lock_irq(&ch->lock);
	if (READ_ONCE(ch->dd->dead)) {
		spin_unlock_irq(&ch->lock);
		return -ENODEV;
	}
	dmak_chan_read(ch, DMAK_DMACR, &op->dmacr);
	dmak_chan_read(ch, DMAK_DMASR, &op->dmasr);
	op->queued = 0;
	list_for_each_entry(req, &ch->queue, node)
		op->queued++;
	op->error = ch->error;
	op->irq_threshold = ch->ring.threshold;
	op->irq_delay = ch->ring.delay;
	op->irqs = ch->irqs;
	spin_unlock_irq(&ch->lock);
	return 0;
}

long dmak_ioctl_chan_op(struct dmak_client *cl, void __user *uarg)
{
	struct dmak_chan_op op;
	struct dmak_chan *ch;
	long ret = 0;

	if (copy_from_user(&op, uarg, sizeof(op)))
		return -EFAULT;
	ch = dmak_chan_of(cl->dd, op.channel);
	if (!ch || op.flags || memchr_inv(op.reserved, 0, sizeof(op.reserved)))
		return -EINVAL;
	switch (op.op) {
	case DMAK_OP_STATUS:
		break;
	case DMAK_OP_RESET:
		ret = dmak_dev_reset_as(cl->dd, DMAK_ST_RESET, false, cl, NULL,
					0);
		break;
	case DMAK_OP_CANCEL:
		if (!op.seq)
			return -EINVAL;
		ret = dmak_chan_cancel(ch, cl, op.seq);
		break;
	case DMAK_OP_STOP:
	case DMAK_OP_START:
		ret = dmak_chan_set_stopped(ch, op.op == DMAK_OP_STOP);
		break;
	case DMAK_OP_COALESCE:
		if (!dmak_is_sg(cl->dd))
			return -EOPNOTSUPP;
		ret = dmak_sg_coalesce(ch, op.irq_threshold, op.irq_delay);
		break;
	default:
		return -EINVAL;
	}
	if (!ret)
		ret = dmak_chan_status(ch, &op);
	if (ret)
		return ret;
	return copy_to_user(uarg, &op, sizeof(op)) ? -EFAULT : 0;
}
