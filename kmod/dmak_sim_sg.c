// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak_sim: the scatter-gather engine of the simulated AXI DMA IP.
 *
 * A channel of an IP built with SG walks a chain of descriptors in memory:
 * it fetches the one at CURDESC after a reset or a halt, then follows
 * NXTDESC, and goes idle after the descriptor at TAILDESC; a TAILDESC write
 * makes it go on. The data engine (dmak_sim_engine.c) moves each
 * descriptor's bytes; this file fetches descriptors, writes their STATUS
 * back, counts IOC events for interrupt coalescing and halts channels.
 *
 * A descriptor ends in two phases. Under sim->lock, when its data is done
 * or failed, the channel enters SIM_SG_WRITEBACK with the STATUS to write;
 * the engine thread then writes STATUS to memory without the lock and, with
 * it again, counts the IOC event, raises errors and moves on. So the driver
 * sees STATUS before the interrupt that tells of it, and a step retires at
 * most one descriptor per channel. Only the engine thread touches memory.
 */
#include <linux/bitfield.h>
#include <linux/io.h>
#include <linux/ktime.h>
#include <linux/minmax.h>

#include "dmak_hw.h"
#include "dmak_sim.h"
#include "dmak_sim_trace.h"

/**
 * struct dmak_sim_desc - the fields of a descriptor the engine uses
 * @next: NXTDESC (and its MSB above 32 address bits)
 * @buf: BUFFER_ADDRESS (and its MSB above 32 address bits)
 * @ctrl: CONTROL
 * @sts: STATUS
 */
struct dmak_sim_desc {
	u64 next;
	u64 buf;
	u32 ctrl;
	u32 sts;
};

/* channel state changes, with sim->lock held */

/* Reloads the threshold counter that DMASR bits 23:16 show. */
static void dmak_sim_sg_reload(struct dmak_sim_chan *c)
{
	u32 thr = FIELD_GET(DMAK_CR_THRESHOLD, c->dmacr) ?: 1;

	c->dmasr = (c->dmasr & ~DMAK_SR_THRESHOLD) |
		   FIELD_PREP(DMAK_SR_THRESHOLD, thr);
}

/* After a reset: also the S2MM stream starts with a packet. */
void dmak_sim_sg_reset_chan(struct dmak_sim_chan *c)
{
	dmak_sim_sg_reload(c);
	c->sg_sof = true;
}

/* Halts the channel; @sr_bits, DMASR error bits, also clear RS. */
static void dmak_sim_sg_halt(struct dmak_sim_chan *c, u32 sr_bits)
{
	c->busy = false;
	c->sg_state = SIM_SG_HALTED;
	c->sg_from = SIM_SG_AT_CUR;
	c->sg_halting = false;
	c->sg_gen++;
	c->dmasr = (c->dmasr | DMAK_SR_HALTED) & ~DMAK_SR_IDLE;
	if (sr_bits) {
		c->dmacr &= ~DMAK_CR_RS;
		c->dmasr |= sr_bits | DMAK_SR_ERR_IRQ;
	}
}

/* Sets the engine fetching; the caller wakes it unless it is the engine. */
static void dmak_sim_sg_go(struct dmak_sim_chan *c)
{
	c->sg_tail = false;
	c->sg_state = SIM_SG_FETCH;
	c->dmasr &= ~DMAK_SR_IDLE;
}

/*
 * An IOC event: counts down the threshold and raises IOC_Irq at 0, else
 * (re)arms the delay timer if IRQDelay is set.
 */
static void dmak_sim_sg_ioc(struct dmak_sim_chan *c)
{
	u32 count = FIELD_GET(DMAK_SR_THRESHOLD, c->dmasr);
	u64 delay = FIELD_GET(DMAK_CR_DELAY, c->dmacr);

	if (count <= 1) {
		c->dmasr |= DMAK_SR_IOC_IRQ;
		dmak_sim_sg_reload(c);
		c->sg_dly_armed = false;
		return;
	}
	c->dmasr = (c->dmasr & ~DMAK_SR_THRESHOLD) |
		   FIELD_PREP(DMAK_SR_THRESHOLD, count - 1);
	if (delay) {
		c->sg_dly_armed = true;
		c->sg_dly_at = ktime_add_ns(ktime_get(),
					    delay * DMAK_SIM_DELAY_UNIT_NS);
	}
}

/*
 * How far the stream has come, for the delay timer of a channel moving
 * data: the throttled link's progress, never the clock alone (0 when
 * unthrottled), so a moment the host does not run the engine mid-batch is
 * no gap between packets.
 */
static ktime_t dmak_sim_sg_stream_time(struct dmak_sim *sim)
{
	if (!READ_ONCE(sim->bandwidth))
		return 0;
	return min(ktime_get(), sim->link_free);
}

/* The delay timer ran out with IOC events pending: Dly_Irq. */
static void dmak_sim_sg_expire(struct dmak_sim *sim, int ch, ktime_t now)
{
	struct dmak_sim_chan *c = &sim->chan[ch];
	u32 level = dmak_sim_irq_level(c);

	if (!c->sg_dly_armed || ktime_before(now, c->sg_dly_at))
		return;
	c->sg_dly_armed = false;
	if (!FIELD_GET(DMAK_CR_DELAY, c->dmacr))
		return;		/* IRQDelay was cleared meanwhile */
	c->dmasr |= DMAK_SR_DLY_IRQ;
	dmak_sim_sg_reload(c);
	dmak_sim_irq_update(sim, ch, level);
}

/* The current descriptor's data part ended; its STATUS is to be written. */
static void dmak_sim_sg_finish(struct dmak_sim_chan *c, u32 sts, u32 sr_bits,
			       bool ioc)
{
	c->busy = false;
	c->sg_status = sts;
	c->sg_err = sr_bits;
	c->sg_ioc = ioc;
	c->sg_state = SIM_SG_WRITEBACK;
}

/* hooks of the register file (dmak_sim_main.c), with sim->lock held */

/* DMACR was written (not Reset); @old_cr is its previous value. */
void dmak_sim_sg_write_cr(struct dmak_sim *sim, int ch, u32 old_cr)
{
	struct dmak_sim_chan *c = &sim->chan[ch];

	if (FIELD_GET(DMAK_CR_THRESHOLD, old_cr) !=
	    FIELD_GET(DMAK_CR_THRESHOLD, c->dmacr))
		dmak_sim_sg_reload(c);
	if (!(c->dmacr & DMAK_CR_RS)) {
		/* A descriptor that moved data completes first. */
		if (c->sg_state == SIM_SG_WRITEBACK ||
		    (c->sg_state == SIM_SG_DESC && c->moved))
			c->sg_halting = true;
		else if (c->sg_state != SIM_SG_HALTED)
			dmak_sim_sg_halt(c, 0);
		return;
	}
	c->sg_halting = false;
	if (c->sg_state != SIM_SG_HALTED)
		return;
	if (c->dmasr & DMAK_SR_ERRORS) {
		/* Halted on an error: only a reset restarts the channel. */
		c->dmacr &= ~DMAK_CR_RS;
		return;
	}
	c->dmasr &= ~DMAK_SR_HALTED;
	c->sg_state = SIM_SG_IDLE;
	if (c->sg_tail) {
		dmak_sim_sg_go(c);
		wake_up(&sim->kick);
	}
}

/* TAILDESC was written: go on, or start once RS is set. */
void dmak_sim_sg_write_tail(struct dmak_sim *sim, int ch)
{
	struct dmak_sim_chan *c = &sim->chan[ch];

	if (!(c->dmacr & DMAK_CR_RS) || c->sg_state == SIM_SG_HALTED) {
		c->sg_tail = true;
	} else if (c->sg_state == SIM_SG_IDLE) {
		dmak_sim_sg_go(c);
		wake_up(&sim->kick);
	}
	/* Else the engine compares TAILDESC at each descriptor's end. */
}

/* hooks of the data engine (dmak_sim_engine.c), with sim->lock held */

/* MM2S put the current descriptor's last byte on the stream. */
void dmak_sim_sg_sent(struct dmak_sim *sim)
{
	struct dmak_sim_chan *c = &sim->chan[SIM_MM2S];

	dmak_sim_sg_finish(c, DMAK_DESC_STS_CMPLT | c->moved, 0,
			   c->sg_ctrl & DMAK_DESC_CTRL_TXEOF);
}

/*
 * S2MM took bytes off the stream; @eop: a packet ended with them. The
 * descriptor completes at a packet end or when full, never empty.
 */
void dmak_sim_sg_received(struct dmak_sim *sim, bool eop)
{
	struct dmak_sim_chan *c = &sim->chan[SIM_S2MM];
	u32 sts = DMAK_DESC_STS_CMPLT | c->moved;

	if (c->moved && c->sg_sof) {
		c->sg_rxsof = true;
		c->sg_sof = false;
	}
	if (eop)
		c->sg_sof = true;
	if (!c->moved || (!eop && c->left))
		return;
	if (c->sg_rxsof)
		sts |= DMAK_DESC_STS_RXSOF;
	if (eop)
		sts |= DMAK_DESC_STS_RXEOF;
	dmak_sim_sg_finish(c, sts, 0, eop);
}

/* The current descriptor's data failed with DMASR DMA error @sr_bits. */
void dmak_sim_sg_fail(struct dmak_sim *sim, int ch, u32 sr_bits)
{
	struct dmak_sim_chan *c = &sim->chan[ch];
	u32 sts = c->moved;

	if (sr_bits & DMAK_SR_DMA_DEC_ERR)
		sts |= DMAK_DESC_STS_DEC_ERR;
	else if (sr_bits & DMAK_SR_DMA_SLV_ERR)
		sts |= DMAK_DESC_STS_SLV_ERR;
	else
		sts |= DMAK_DESC_STS_INT_ERR;
	dmak_sim_sg_finish(c, sts, sr_bits, false);
}

/* the engine's wait */

/*
 * With sim->lock held, from the engine's wait: expires the delay timers
 * that ran out, @busy being the channels with data to move. The timer
 * counts stream time: by the clock while its channel waits (for a
 * descriptor or for data), by the stream's progress while it moves data.
 * True when a channel has a descriptor to fetch or a STATUS to write back.
 */
bool dmak_sim_sg_poll(struct dmak_sim *sim, unsigned long busy)
{
	ktime_t now = ktime_get();
	struct dmak_sim_chan *c;
	bool work = false;
	int ch;

	for (ch = 0; ch < SIM_NCHANS; ch++) {
		c = &sim->chan[ch];
		if (c->sg_state == SIM_SG_FETCH ||
		    c->sg_state == SIM_SG_WRITEBACK)
			work = true;
		else
			dmak_sim_sg_expire(sim, ch, busy & BIT(ch) ?
					   dmak_sim_sg_stream_time(sim) : now);
	}
	return work;
}

/* When the earliest delay timer runs out; KTIME_MAX if none is armed. */
ktime_t dmak_sim_sg_wake_at(struct dmak_sim *sim)
{
	ktime_t at = KTIME_MAX;
	int ch;

	spin_lock_irq(&sim->lock);
	for (ch = 0; ch < SIM_NCHANS; ch++)
		if (sim->chan[ch].sg_dly_armed)
			at = min(at, sim->chan[ch].sg_dly_at);
	spin_unlock_irq(&sim->lock);
	return at;
}

/* descriptor memory (engine thread, without sim->lock) */

/* Reads the descriptor at @addr; returns 0 or the DMASR SG error. */
static u32 dmak_sim_sg_read(struct dmak_sim *sim, u64 addr,
			    struct dmak_sim_desc *d)
{
	u32 w[DMAK_DESC_APP0 / 4];
	unsigned int i;
	__le32 *mem;

	if (!IS_ALIGNED(addr, DMAK_DESC_ALIGN))
		return DMAK_SR_SG_INT_ERR;
	if (!dmak_sim_is_ram(addr, DMAK_DESC_ALIGN))
		return DMAK_SR_SG_DEC_ERR;
	mem = dmak_sim_map(sim, addr, DMAK_DESC_ALIGN);
	if (!mem)
		return DMAK_SR_SG_SLV_ERR;
	for (i = 0; i < ARRAY_SIZE(w); i++)
		w[i] = le32_to_cpu(READ_ONCE(mem[i]));
	dmak_sim_unmap(sim, mem);

	d->next = dmak_sim_addr(sim, &w[DMAK_DESC_NXTDESC / 4]);
	d->buf = dmak_sim_addr(sim, &w[DMAK_DESC_BUF_ADDR / 4]);
	d->ctrl = w[DMAK_DESC_CONTROL / 4];
	d->sts = w[DMAK_DESC_STATUS / 4];
	return 0;
}

/* Writes STATUS of the descriptor at @addr; returns 0 or SGSlvErr. */
static u32 dmak_sim_sg_write_status(struct dmak_sim *sim, u64 addr, u32 sts)
{
	__le32 *mem = dmak_sim_map(sim, addr, DMAK_DESC_ALIGN);

	if (!mem)
		return DMAK_SR_SG_SLV_ERR;
	smp_wmb();	/* the descriptor's data before its STATUS */
	WRITE_ONCE(mem[DMAK_DESC_STATUS / 4], cpu_to_le32(sts));
	dmak_sim_unmap(sim, mem);
	return 0;
}

/* the engine's SG step */

/* With sim->lock held: the written-back descriptor retires. */
static void dmak_sim_sg_retire(struct dmak_sim *sim, int ch, u32 wb_err)
{
	struct dmak_sim_chan *c = &sim->chan[ch];
	u32 level = dmak_sim_irq_level(c);

	if (c->sg_ioc && !wb_err) {
		/* a timer that ran out while this descriptor moved data */
		dmak_sim_sg_expire(sim, ch, dmak_sim_sg_stream_time(sim));
		dmak_sim_sg_ioc(c);
	}
	if (wb_err || c->sg_err) {
		dmak_sim_sg_halt(c, wb_err ?: c->sg_err);
	} else if (c->sg_halting) {
		dmak_sim_sg_halt(c, 0);
	} else if (dmak_sim_addr(sim, c->curdesc) ==
		   dmak_sim_addr(sim, c->taildesc)) {
		c->sg_state = SIM_SG_IDLE;	/* at the tail */
		c->sg_from = SIM_SG_NEXT_OF_CUR;
		c->dmasr |= DMAK_SR_IDLE;
	} else {
		c->sg_state = SIM_SG_FETCH;
		c->sg_from = SIM_SG_NEXT;
	}
	dmak_sim_irq_update(sim, ch, level);
}

/* Writes back the STATUS of a descriptor that ended, then retires it. */
static void dmak_sim_sg_writeback(struct dmak_sim *sim, int ch)
{
	struct dmak_sim_chan *c = &sim->chan[ch];
	u32 sts, gen, err;
	u64 addr;

	spin_lock_irq(&sim->lock);
	if (c->sg_state != SIM_SG_WRITEBACK || sim->resetting) {
		spin_unlock_irq(&sim->lock);
		return;
	}
	addr = dmak_sim_addr(sim, c->curdesc);
	sts = c->sg_status;
	gen = c->sg_gen;
	spin_unlock_irq(&sim->lock);

	err = dmak_sim_sg_write_status(sim, addr, sts);

	spin_lock_irq(&sim->lock);
	if (c->sg_state == SIM_SG_WRITEBACK && c->sg_gen == gen &&
	    !sim->resetting)
		dmak_sim_sg_retire(sim, ch, err);
	spin_unlock_irq(&sim->lock);
}

/* The SG error a fetched descriptor gives, injected ones first; or 0. */
static u32 dmak_sim_sg_check(struct dmak_sim_chan *c,
			     const struct dmak_sim_desc *d, u32 err)
{
	if (test_and_clear_bit(SIM_FAULT_SG_DEC_ERR, &c->faults))
		return DMAK_SR_SG_DEC_ERR;
	if (test_and_clear_bit(SIM_FAULT_SG_SLV_ERR, &c->faults))
		return DMAK_SR_SG_SLV_ERR;
	if (test_and_clear_bit(SIM_FAULT_SG_INT_ERR, &c->faults))
		return DMAK_SR_SG_INT_ERR;
	if (err)
		return err;
	if ((d->sts & DMAK_DESC_STS_CMPLT) || !(d->ctrl & DMAK_DESC_CTRL_LEN))
		return DMAK_SR_SG_INT_ERR;
	return 0;
}

/* With sim->lock held: the channel takes up the descriptor at @addr. */
static void dmak_sim_sg_load(struct dmak_sim *sim, int ch, u64 addr,
			     const struct dmak_sim_desc *d, u32 err)
{
	struct dmak_sim_chan *c = &sim->chan[ch];
	u32 level = dmak_sim_irq_level(c);

	c->curdesc[0] = lower_32_bits(addr);
	c->curdesc[1] = upper_32_bits(addr);
	err = dmak_sim_sg_check(c, d, err);
	if (err) {
		dmak_sim_sg_halt(c, err);	/* no STATUS write-back */
		dmak_sim_irq_update(sim, ch, level);
		return;
	}
	c->sg_next = d->next;
	c->sg_ctrl = d->ctrl;
	c->pos = d->buf;
	c->left = d->ctrl & DMAK_DESC_CTRL_LEN;
	c->moved = 0;
	c->sg_rxsof = false;
	c->busy = true;
	c->checked = false;	/* the engine checks the range, unlocked */
	c->sg_state = SIM_SG_DESC;
	trace_dmak_sim_begin(sim->id, ch, c->pos, c->left);
	dmak_sim_inject(sim, ch);
}

/* Fetches the channel's next descriptor, if it is due. */
static void dmak_sim_sg_fetch(struct dmak_sim *sim, int ch)
{
	struct dmak_sim_chan *c = &sim->chan[ch];
	struct dmak_sim_desc d = { };
	u8 from;
	u32 gen, err;
	u64 addr;

	spin_lock_irq(&sim->lock);
	if (c->sg_state != SIM_SG_FETCH || sim->resetting) {
		spin_unlock_irq(&sim->lock);
		return;
	}
	from = c->sg_from;
	addr = from == SIM_SG_NEXT ? c->sg_next : dmak_sim_addr(sim, c->curdesc);
	gen = c->sg_gen;
	spin_unlock_irq(&sim->lock);

	err = dmak_sim_sg_read(sim, addr, &d);
	if (!err && from == SIM_SG_NEXT_OF_CUR) {
		/* Resuming after the tail: its NXTDESC as it is now. */
		addr = d.next;
		err = dmak_sim_sg_read(sim, addr, &d);
	}

	spin_lock_irq(&sim->lock);
	if (c->sg_state == SIM_SG_FETCH && c->sg_gen == gen &&
	    !sim->resetting)
		dmak_sim_sg_load(sim, ch, addr, &d, err);
	spin_unlock_irq(&sim->lock);
}

/* SG step, first half: write-back and retire of descriptors that ended. */
void dmak_sim_sg_writeback_step(struct dmak_sim *sim)
{
	int ch;

	for (ch = 0; ch < SIM_NCHANS; ch++)
		dmak_sim_sg_writeback(sim, ch);
}

/* SG step, second half: fetch of the descriptors that are due. */
void dmak_sim_sg_fetch_step(struct dmak_sim *sim)
{
	int ch;

	for (ch = 0; ch < SIM_NCHANS; ch++)
		dmak_sim_sg_fetch(sim, ch);
}
