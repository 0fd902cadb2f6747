// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak_sim: the data engine of the simulated AXI DMA IP.
 *
 * One kernel thread per instance moves data in direct (register) mode: an
 * MM2S transfer reads memory into an AXI-Stream FIFO and ends its packet
 * (TLAST) with its last byte; an S2MM transfer writes stream bytes to
 * memory until the end of a packet, or fails with DMAIntErr when the packet
 * is longer than its LENGTH. In SG mode the same steps move the data of
 * descriptors, which dmak_sim_sg.c fetches and writes back. The thread alone
 * touches the FIFO and the memory of transfers and descriptors, and it
 * performs resets, so DMACR.Reset clears only once no memory access is in
 * flight, as on the hardware.
 */
#include <linux/hrtimer.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/irq.h>
#include <linux/kthread.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sizes.h>

#include "dmak_hw.h"
#include "dmak_sim.h"
#include "dmak_sim_trace.h"

#define SIM_CHUNK	SZ_64K	/* bytes a step moves through the FIFO */
#define SIM_THROUGH_CHUNK SZ_256K /* bytes a cut-through step moves */
#define SIM_CATCH_UP_MS	50	/* most lost link time made up */

const char * const dmak_sim_fault_names[SIM_NFAULTS] = {
	[SIM_FAULT_DEC_ERR] = "decerr",
	[SIM_FAULT_SLV_ERR] = "slverr",
	[SIM_FAULT_INT_ERR] = "interr",
	[SIM_FAULT_NO_TLAST] = "no-tlast",
	[SIM_FAULT_LOST_IRQ] = "lost-irq",
	[SIM_FAULT_STALL] = "stall",
	[SIM_FAULT_SG_DEC_ERR] = "sg-decerr",
	[SIM_FAULT_SG_SLV_ERR] = "sg-slverr",
	[SIM_FAULT_SG_INT_ERR] = "sg-interr",
};

/* interrupts: the line is the AND of DMASR and DMACR bits 12..14 */

u32 dmak_sim_irq_level(const struct dmak_sim_chan *c)
{
	return c->dmasr & c->dmacr & DMAK_SR_ALL_IRQ;
}

/*
 * Called with sim->lock held after a change that may raise the line. The
 * engine thread raises the interrupt once it has dropped the lock, never
 * inside the register access that caused it.
 */
void dmak_sim_irq_update(struct dmak_sim *sim, int ch, u32 old_level)
{
	struct dmak_sim_chan *c = &sim->chan[ch];

	if (!(dmak_sim_irq_level(c) & ~old_level))
		return;
	if (test_and_clear_bit(SIM_FAULT_LOST_IRQ, &c->faults))
		return;
	set_bit(ch, &sim->irq_pending);
	wake_up(&sim->kick);
}

/*
 * Raises the pending interrupts with IRQs off, as a level-triggered line
 * (a board's AXI DMA has one) would: a line still high after its handler
 * ran, as nothing acknowledged DMASR, rises again on the engine's next
 * pass, until the handler answers or the kernel disables the line as one
 * nobody cares for.
 */
static void dmak_sim_irq_raise(struct dmak_sim *sim)
{
	unsigned long pending = xchg(&sim->irq_pending, 0);
	unsigned long flags;
	unsigned int virq;
	u32 high;
	int ch;

	for_each_set_bit(ch, &pending, SIM_NCHANS) {
		virq = sim->virq[ch];
		if (!virq)		/* DT mode: a channel may have none */
			continue;
		trace_dmak_sim_raise(sim->id, ch);
		generic_handle_irq_safe(virq);
		spin_lock_irqsave(&sim->lock, flags);
		high = dmak_sim_irq_level(&sim->chan[ch]);
		spin_unlock_irqrestore(&sim->lock, flags);
		if (high && !irqd_irq_disabled(irq_get_irq_data(virq)))
			set_bit(ch, &sim->irq_pending);
	}
}

/* transfer state changes, with sim->lock held */

static void dmak_sim_end(struct dmak_sim *sim, int ch, u32 sr_bits)
{
	struct dmak_sim_chan *c = &sim->chan[ch];
	u32 level = dmak_sim_irq_level(c);

	if (sim->sg) {
		/* SG ends here only on errors: STATUS first, then the halt. */
		dmak_sim_sg_fail(sim, ch, sr_bits);
		return;
	}
	c->busy = false;
	if (sr_bits & DMAK_SR_ERRORS) {
		/* An error halts the channel until reset. */
		c->dmacr &= ~DMAK_CR_RS;
		c->dmasr |= sr_bits | DMAK_SR_ERR_IRQ | DMAK_SR_HALTED;
		c->dmasr &= ~DMAK_SR_IDLE;
	} else {
		c->dmasr |= DMAK_SR_IOC_IRQ | DMAK_SR_IDLE;
	}
	dmak_sim_irq_update(sim, ch, level);
}

/*
 * With sim->lock held: the armed one-shot faults hit the transfer (direct
 * mode) or descriptor (SG mode) that the channel just began.
 */
void dmak_sim_inject(struct dmak_sim *sim, int ch)
{
	struct dmak_sim_chan *c = &sim->chan[ch];

	if (test_and_clear_bit(SIM_FAULT_DEC_ERR, &c->faults))
		dmak_sim_end(sim, ch, DMAK_SR_DMA_DEC_ERR);
	else if (test_and_clear_bit(SIM_FAULT_SLV_ERR, &c->faults))
		dmak_sim_end(sim, ch, DMAK_SR_DMA_SLV_ERR);
	else if (test_and_clear_bit(SIM_FAULT_INT_ERR, &c->faults))
		dmak_sim_end(sim, ch, DMAK_SR_DMA_INT_ERR);
	else if (test_and_clear_bit(SIM_FAULT_STALL, &c->faults))
		c->stalled = true;
}

/* Picks up a transfer that a LENGTH write requested. */
static void dmak_sim_begin(struct dmak_sim *sim, int ch)
{
	struct dmak_sim_chan *c = &sim->chan[ch];

	c->start = false;
	c->pos = dmak_sim_addr(sim, c->addr);
	c->left = c->length;
	c->moved = 0;
	c->busy = true;
	c->checked = false;	/* the engine checks the range, unlocked */
	c->dmasr &= ~DMAK_SR_IDLE;
	trace_dmak_sim_begin(sim->id, ch, c->pos, c->left);
	dmak_sim_inject(sim, ch);
}

/* An SG channel told to halt still completes its descriptor. */
static bool dmak_sim_running(const struct dmak_sim_chan *c)
{
	return c->busy && c->checked && !c->stalled &&
	       ((c->dmacr & DMAK_CR_RS) || c->sg_halting);
}

/*
 * A new transfer's range must be RAM, or it ends with DMADecErr as on the
 * bus. region_intersects() takes the resource lock, which must not nest
 * in sim->lock (a lock the interrupt path takes): check without it.
 */
static void dmak_sim_check_ranges(struct dmak_sim *sim)
{
	struct dmak_sim_chan *c;
	u64 addr;
	u32 len;
	bool ram;
	int ch;

	for (ch = 0; ch < SIM_NCHANS; ch++) {
		c = &sim->chan[ch];
		spin_lock_irq(&sim->lock);
		if (!c->busy || c->checked) {
			spin_unlock_irq(&sim->lock);
			continue;
		}
		addr = c->pos;
		len = c->left;
		spin_unlock_irq(&sim->lock);

		ram = dmak_sim_is_ram(addr, len);

		spin_lock_irq(&sim->lock);
		if (c->busy && !c->checked && c->pos == addr) {
			c->checked = true;
			if (!ram)
				dmak_sim_end(sim, ch, DMAK_SR_DMA_DEC_ERR);
		}
		spin_unlock_irq(&sim->lock);
	}
}

/* the stream FIFO (engine thread only) */

static u64 dmak_sim_fill(const struct dmak_sim_stream *st)
{
	return st->in - st->out;
}

/* Bytes S2MM may take before the end of the current packet. */
static u64 dmak_sim_to_packet_end(const struct dmak_sim_stream *st)
{
	if (st->nends)
		return st->ends[st->first] - st->out;
	return dmak_sim_fill(st);
}

static void dmak_sim_copy(struct dmak_sim_stream *st, u64 at, void *mem,
			  size_t n, bool to_fifo)
{
	/* st->size is a power of two (DMAK_SIM_FIFO_MAX) */
	size_t off = at & (st->size - 1), part = min(n, st->size - off);

	if (to_fifo) {
		memcpy(st->data + off, mem, part);
		memcpy(st->data, mem + part, n - part);
	} else {
		memcpy(mem, st->data + off, part);
		memcpy(mem + part, st->data, n - part);
	}
}

/* Moves up to SIM_CHUNK bytes between memory and the FIFO. */
static int dmak_sim_move(struct dmak_sim *sim, u64 addr, size_t n,
			 bool to_fifo)
{
	struct dmak_sim_stream *st = &sim->stream;
	void *mem = dmak_sim_map(sim, addr, n);

	if (!mem)
		return -EFAULT;
	dmak_sim_copy(st, to_fifo ? st->in : st->out, mem, n, to_fifo);
	dmak_sim_unmap(sim, mem);
	return 0;
}

/*
 * A relative timeout for wait_event_hrtimeout() until @at: never negative,
 * for the hrtimer takes a time in the past for an overflow and sleeps
 * forever.
 */
static ktime_t dmak_sim_time_to(ktime_t at, ktime_t now)
{
	return ktime_after(at, now) ? ktime_sub(at, now) : 0;
}

/*
 * Waits until the throttled stream has carried @n more bytes. Time the
 * engine lost while MM2S could send (a late wake-up, a moment the host did
 * not run it) is made up by sleeping less next time, so the average rate
 * holds however coarse the timer, up to SIM_CATCH_UP_MS; a link that
 * was idle (nothing to send, or back-pressure) starts afresh.
 */
static void dmak_sim_throttle(struct dmak_sim *sim, size_t n)
{
	u64 bw = READ_ONCE(sim->bandwidth);
	ktime_t now = ktime_get();
	ktime_t until;

	if (!bw)
		return;
	if (sim->link_idle ||
	    ktime_before(ktime_add_ms(sim->link_free, SIM_CATCH_UP_MS),
			 now))
		sim->link_free = now;
	sim->link_idle = false;
	sim->link_free = ktime_add_ns(sim->link_free,
				      div64_u64((u64)n * NSEC_PER_SEC, bw));
	while (ktime_after(sim->link_free, now) && !READ_ONCE(sim->resetting)) {
		/* SG: a Dly_Irq comes on time, even in the middle of a step */
		until = sim->sg ? min(sim->link_free, dmak_sim_sg_wake_at(sim)) :
			sim->link_free;
		/* A reset must not wait for a slow link: it wakes this. */
		wait_event_hrtimeout(sim->kick, READ_ONCE(sim->resetting),
				     dmak_sim_time_to(until, now));
		if (sim->sg) {
			spin_lock_irq(&sim->lock);
			dmak_sim_sg_poll(sim, BIT(SIM_MM2S) | BIT(SIM_S2MM));
			spin_unlock_irq(&sim->lock);
			dmak_sim_irq_raise(sim);
		}
		now = ktime_get();
	}
}

/* Memory that could not be reached: a slave error, as on the bus. */
static size_t dmak_sim_fail(struct dmak_sim *sim, int ch)
{
	spin_lock_irq(&sim->lock);
	if (sim->chan[ch].busy && !sim->resetting)
		dmak_sim_end(sim, ch, DMAK_SR_DMA_SLV_ERR);
	spin_unlock_irq(&sim->lock);
	return 0;
}

/*
 * Ends an S2MM transfer that reached a packet end or overflowed; in SG mode
 * the descriptor decides.
 */
static void dmak_sim_s2mm_check_end(struct dmak_sim *sim)
{
	struct dmak_sim_chan *c = &sim->chan[SIM_S2MM];
	struct dmak_sim_stream *st = &sim->stream;
	bool eop = st->nends && st->ends[st->first] == st->out;

	if (eop) {
		st->first = (st->first + 1) % DMAK_SIM_ENDS;
		st->nends--;
	}
	if (sim->sg) {
		dmak_sim_sg_received(sim, eop);
	} else if (eop) {
		c->length = c->moved;	/* LENGTH reads back bytes received */
		dmak_sim_end(sim, SIM_S2MM, 0);
	} else if (!c->left && dmak_sim_fill(st)) {
		/* The packet goes on past LENGTH. */
		c->length = c->moved;
		dmak_sim_end(sim, SIM_S2MM, DMAK_SR_DMA_INT_ERR);
	}
}

/*
 * With sim->lock held: MM2S put @n more bytes on the stream; its last byte
 * ends the packet (TLAST) unless that was to be left out. In SG mode only
 * the last byte of a TXEOF descriptor does.
 */
static void dmak_sim_pushed(struct dmak_sim *sim, size_t n)
{
	struct dmak_sim_chan *c = &sim->chan[SIM_MM2S];
	struct dmak_sim_stream *st = &sim->stream;

	st->in += n;
	c->pos += n;
	c->left -= n;
	c->moved += n;
	if (c->left)
		return;
	if ((!sim->sg || (c->sg_ctrl & DMAK_DESC_CTRL_TXEOF)) &&
	    !test_and_clear_bit(SIM_FAULT_NO_TLAST, &c->faults))
		st->ends[(st->first + st->nends++) % DMAK_SIM_ENDS] = st->in;
	if (sim->sg)
		dmak_sim_sg_sent(sim);
	else
		dmak_sim_end(sim, SIM_MM2S, 0);
}

/* With sim->lock held: S2MM took @n more bytes off the stream. */
static void dmak_sim_popped(struct dmak_sim *sim, size_t n)
{
	struct dmak_sim_chan *c = &sim->chan[SIM_S2MM];

	sim->stream.out += n;
	c->pos += n;
	c->left -= n;
	c->moved += n;
	dmak_sim_s2mm_check_end(sim);
}

/* One MM2S step: memory to FIFO. Returns bytes moved. */
static size_t dmak_sim_mm2s_step(struct dmak_sim *sim)
{
	struct dmak_sim_chan *c = &sim->chan[SIM_MM2S];
	struct dmak_sim_stream *st = &sim->stream;
	u64 depth = min_t(u64, READ_ONCE(sim->fifo_depth), st->size);
	u64 room = depth - min(dmak_sim_fill(st), depth);
	size_t n;
	u64 pos;

	spin_lock_irq(&sim->lock);
	if (!dmak_sim_running(c) || st->nends == DMAK_SIM_ENDS) {
		spin_unlock_irq(&sim->lock);
		return 0;
	}
	n = min3((u64)c->left, room, (u64)SIM_CHUNK);
	pos = c->pos;
	spin_unlock_irq(&sim->lock);

	if (n && dmak_sim_move(sim, pos, n, true))
		return dmak_sim_fail(sim, SIM_MM2S);
	dmak_sim_throttle(sim, n);

	spin_lock_irq(&sim->lock);
	if (c->busy && !sim->resetting)
		dmak_sim_pushed(sim, n);
	spin_unlock_irq(&sim->lock);
	return n;
}

/* One S2MM step: FIFO to memory. Returns bytes moved. */
static size_t dmak_sim_s2mm_step(struct dmak_sim *sim)
{
	struct dmak_sim_chan *c = &sim->chan[SIM_S2MM];
	struct dmak_sim_stream *st = &sim->stream;
	size_t n;
	u64 pos;

	spin_lock_irq(&sim->lock);
	if (!dmak_sim_running(c)) {
		spin_unlock_irq(&sim->lock);
		return 0;
	}
	n = min3((u64)c->left, dmak_sim_to_packet_end(st), (u64)SIM_CHUNK);
	pos = c->pos;
	spin_unlock_irq(&sim->lock);

	if (n && dmak_sim_move(sim, pos, n, false))
		return dmak_sim_fail(sim, SIM_S2MM);

	spin_lock_irq(&sim->lock);
	if (c->busy && !sim->resetting)
		dmak_sim_popped(sim, n);
	spin_unlock_irq(&sim->lock);
	return n;
}

/*
 * Cut-through: with the FIFO empty and both channels running, stream bytes
 * go straight from the MM2S source to the S2MM destination, as they would
 * through an empty FIFO, with one copy instead of two.
 */
static size_t dmak_sim_through_step(struct dmak_sim *sim)
{
	struct dmak_sim_chan *tx = &sim->chan[SIM_MM2S];
	struct dmak_sim_chan *rx = &sim->chan[SIM_S2MM];
	struct dmak_sim_stream *st = &sim->stream;
	void *src = NULL, *dst = NULL;
	u64 from, to;
	size_t n;

	spin_lock_irq(&sim->lock);
	if (!dmak_sim_running(tx) || !dmak_sim_running(rx) ||
	    dmak_sim_fill(st) || st->nends || !rx->left) {
		spin_unlock_irq(&sim->lock);
		return 0;
	}
	n = min3((u64)tx->left, (u64)rx->left, (u64)SIM_THROUGH_CHUNK);
	from = tx->pos;
	to = rx->pos;
	spin_unlock_irq(&sim->lock);

	if (n) {
		src = dmak_sim_map(sim, from, n);
		dst = dmak_sim_map(sim, to, n);
		if (src && dst)		/* one buffer may loop onto itself */
			memmove(dst, src, n);
		if (src)
			dmak_sim_unmap(sim, src);
		if (dst)
			dmak_sim_unmap(sim, dst);
		if (!src || !dst)
			return dmak_sim_fail(sim, src ? SIM_S2MM : SIM_MM2S);
		dmak_sim_throttle(sim, n);
	}

	spin_lock_irq(&sim->lock);
	if (tx->busy && rx->busy && !sim->resetting) {
		dmak_sim_pushed(sim, n);
		dmak_sim_popped(sim, n);
	}
	spin_unlock_irq(&sim->lock);
	return n ?: 1;	/* an empty step still made progress */
}

static void dmak_sim_engine_reset(struct dmak_sim *sim)
{
	struct dmak_sim_stream *st = &sim->stream;

	spin_lock_irq(&sim->lock);
	dmak_sim_reset_regs(sim);
	st->in = 0;
	st->out = 0;
	st->first = 0;
	st->nends = 0;
	sim->irq_pending = 0;
	sim->resetting = false;
	spin_unlock_irq(&sim->lock);
}

/* Picks up requested starts; true while a channel can make progress. */
static bool dmak_sim_has_work(struct dmak_sim *sim)
{
	struct dmak_sim_stream *st = &sim->stream;
	struct dmak_sim_chan *tx = &sim->chan[SIM_MM2S];
	struct dmak_sim_chan *rx = &sim->chan[SIM_S2MM];
	unsigned long busy = 0;
	bool work;
	int ch;

	spin_lock_irq(&sim->lock);
	for (ch = 0; ch < SIM_NCHANS; ch++)
		if (sim->chan[ch].start && !sim->chan[ch].busy &&
		    (sim->chan[ch].dmacr & DMAK_CR_RS))
			dmak_sim_begin(sim, ch);
	if ((tx->busy && !tx->checked) ||
	    (dmak_sim_running(tx) &&
	     dmak_sim_fill(st) < min_t(u64, READ_ONCE(sim->fifo_depth),
				       st->size) &&
	     st->nends < DMAK_SIM_ENDS))
		busy |= BIT(SIM_MM2S);
	if ((rx->busy && !rx->checked) ||
	    (dmak_sim_running(rx) && (dmak_sim_to_packet_end(st) ||
				      (st->nends &&
				       st->ends[st->first] == st->out) ||
				      (!rx->left && dmak_sim_fill(st)))))
		busy |= BIT(SIM_S2MM);
	if (!(busy & BIT(SIM_MM2S)) && tx->sg_state != SIM_SG_FETCH &&
	    tx->sg_state != SIM_SG_WRITEBACK)
		sim->link_idle = true;
	/* SG: descriptors to fetch or write back; delay timers */
	work = sim->sg && dmak_sim_sg_poll(sim, busy);
	work = work || busy;
	work = work || sim->resetting || sim->irq_pending;
	spin_unlock_irq(&sim->lock);
	return work;
}

/*
 * Waits for work, or until an SG delay timer runs out (at most IRQDelay
 * 255, some 319 us). Only this thread arms delay timers, so none comes up
 * while it sleeps.
 */
static void dmak_sim_wait(struct dmak_sim *sim)
{
	ktime_t at = sim->sg ? dmak_sim_sg_wake_at(sim) : KTIME_MAX;

	if (at == KTIME_MAX)
		wait_event_idle(sim->kick, dmak_sim_has_work(sim) ||
				kthread_should_stop());
	else
		wait_event_hrtimeout(sim->kick, dmak_sim_has_work(sim) ||
				     kthread_should_stop(),
				     dmak_sim_time_to(at, ktime_get()));
}

static int dmak_sim_engine(void *data)
{
	struct dmak_sim *sim = data;

	while (!kthread_should_stop()) {
		dmak_sim_wait(sim);
		if (READ_ONCE(sim->resetting)) {
			dmak_sim_engine_reset(sim);
			continue;
		}
		dmak_sim_irq_raise(sim);
		if (sim->sg) {
			/*
			 * The handler runs between a descriptor's retirement
			 * and the next fetch: an RS=0 it writes stops the
			 * channel before it reads the next descriptor.
			 */
			dmak_sim_sg_writeback_step(sim);
			dmak_sim_irq_raise(sim);
			dmak_sim_sg_fetch_step(sim);
		}
		dmak_sim_check_ranges(sim);
		if (!dmak_sim_through_step(sim)) {
			dmak_sim_mm2s_step(sim);
			dmak_sim_s2mm_step(sim);
		}
		dmak_sim_irq_raise(sim);
		cond_resched();
	}
	return 0;
}

int dmak_sim_engine_start(struct dmak_sim *sim)
{
	sim->engine = kthread_run(dmak_sim_engine, sim, "dmak-sim/%d",
				  sim->id);
	return PTR_ERR_OR_ZERO(sim->engine);
}
