// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: the scatter-gather (SG) descriptor ring of a channel.
 *
 * Each channel of an IP built with SG owns one persistent ring of
 * descriptors in coherent memory, chained in a circle once. Queued
 * transfers are loaded into free descriptors in queue order (a transfer
 * longer than a descriptor, or gathered from several pieces, takes several:
 * TXSOF on the first, TXEOF on the last) and the hardware is told of them
 * by a TAILDESC write, so a batch runs back to back. The interrupt handler
 * reaps every completed descriptor, ends the transfers whose last
 * descriptor (S2MM: whose packet end, RXEOF) completed, and loads more.
 *
 * A receive split over several descriptors whose packet ends early leaves
 * descriptors the next packet would fill: the channel is then resynced,
 * halted (RS=0) and restarted at the next transfer's first descriptor. A
 * receive whose packet goes on past its last descriptor ends with
 * DMAK_ST_DMA_INT_ERR and halts the channel, as in direct mode.
 */
#include <linux/bitfield.h>
#include <linux/dma-mapping.h>
#include <linux/math64.h>
#include <linux/property.h>
#include <linux/slab.h>

#include "dmak.h"
#include "dmak_hw.h"
#include "dmak_trace.h"

#define DMAK_SG_CLOCK_HZ	100000000	/* when neither clock nor property */
#define DMAK_HALT_TIMEOUT_US	100000

static dma_addr_t dmak_desc_addr(const struct dmak_ring *ring, u32 idx)
{
	return ring->dma + (dma_addr_t)idx * sizeof(struct dmak_desc);
}

static u32 dmak_ring_next(const struct dmak_ring *ring, u32 idx)
{
	return idx + 1 == ring->size ? 0 : idx + 1;
}

static u32 dmak_ring_index(const struct dmak_ring *ring, u32 from, u32 n)
{
	return (from + n) % ring->size;
}

/* CURDESC or TAILDESC: the MSB first, as the LSB write acts. */
void dmak_sg_write_desc_reg(struct dmak_chan *ch, unsigned int reg, u32 idx)
{
	dma_addr_t addr = dmak_desc_addr(&ch->ring, idx);

	if (ch->dd->info.addr_width > 32)
		dmak_chan_write(ch, reg + 4, upper_32_bits(addr));
	dmak_chan_write(ch, reg, lower_32_bits(addr));
}

/* DMACR of a running SG channel: interrupts and coalescing. */
u32 dmak_sg_cr(const struct dmak_chan *ch)
{
	return DMAK_CR_RS | DMAK_CR_ALL_IRQ |
	       FIELD_PREP(DMAK_CR_THRESHOLD, ch->ring.threshold) |
	       FIELD_PREP(DMAK_CR_DELAY, ch->ring.delay);
}

/* The hardware is reset (halted): an empty ring, chained in a circle. */
void dmak_sg_rebuild(struct dmak_chan *ch)
{
	struct dmak_ring *ring = &ch->ring;
	dma_addr_t next;
	u32 i;

	for (i = 0; i < ring->size; i++) {
		next = dmak_desc_addr(ring, dmak_ring_next(ring, i));
		ring->desc[i] = (struct dmak_desc) {
			.next = cpu_to_le32(lower_32_bits(next)),
			.next_msb = cpu_to_le32(upper_32_bits(next)),
		};
		ring->owner[i] = NULL;
	}
	ring->head = 0;
	ring->count = 0;
	ring->skip = 0;
	ring->hw_started = false;
	ring->resync = false;
	ch->running = false;
}

/* Writes the descriptors of @req from the first free one on. */
static void dmak_sg_load(struct dmak_chan *ch, struct dmak_req *req)
{
	struct dmak_ring *ring = &ch->ring;
	u64 max = ch->dd->info.desc_max;
	u32 idx = dmak_ring_index(ring, ring->head, ring->count);
	u32 n = 0, ctrl;
	struct dmak_desc *d;
	struct dmak_seg *seg;
	u64 off, len;

	for (seg = req->seg; seg < req->seg + req->nsegs; seg++) {
		for (off = 0; off < seg->len; off += len) {
			len = min(seg->len - off, max);
			ctrl = len;
			if (ch->id == DMAK_MM2S && n == 0)
				ctrl |= DMAK_DESC_CTRL_TXSOF;
			if (ch->id == DMAK_MM2S && n + 1 == req->ndesc)
				ctrl |= DMAK_DESC_CTRL_TXEOF;
			d = &ring->desc[idx];
			d->buf = cpu_to_le32(lower_32_bits(seg->dma + off));
			d->buf_msb = cpu_to_le32(upper_32_bits(seg->dma + off));
			d->control = cpu_to_le32(ctrl);
			d->status = 0;
			ring->owner[idx] = req;
			idx = dmak_ring_next(ring, idx);
			n++;
		}
	}
	ring->count += n;
	req->started = true;
	req->done_desc = 0;
	req->bytes = 0;
}

/*
 * Loads queued transfers while they fit and tells the hardware: a halted
 * channel restarts at the oldest descriptor it has not run (CURDESC, then
 * RS), a running one learns of the new ones from TAILDESC.
 */
void dmak_sg_fill(struct dmak_chan *ch)
{
	struct dmak_ring *ring = &ch->ring;
	struct dmak_req *req, *first = NULL;
	u32 tail, descs = ring->count;
	u64 bytes = 0;

	lockdep_assert_held(&ch->lock);
	if (ring->resync || ch->cap)
		return;
	list_for_each_entry(req, &ch->queue, node) {
		if (req->started)
			continue;
		if (req->ndesc > ring->size - ring->count)
			break;
		dmak_sg_load(ch, req);
		first = first ?: req;
		bytes += req->len;
	}
	if (!first && (ring->hw_started || !ring->count))
		return;
	ch->running = true;
	dma_wmb();	/* descriptors before the register writes */
	if (!ring->hw_started) {
		dmak_sg_write_desc_reg(ch, DMAK_CURDESC, ring->head);
		dmak_chan_write(ch, DMAK_DMACR, dmak_sg_cr(ch));
		ring->hw_started = true;
		descs = 0;	/* a restart hands it every descriptor */
		first = ring->owner[ring->head];
	}
	tail = dmak_ring_index(ring, ring->head, ring->count - 1);
	trace_dmak_start(ch->dd->hw, ch->id, first->seq,
			 ring->owner[tail]->seq, bytes, ring->count - descs);
	dmak_sg_write_desc_reg(ch, DMAK_TAILDESC, tail);
}

/* Frees the descriptor at the head; returns its STATUS. */
static u32 dmak_sg_pop(struct dmak_ring *ring)
{
	u32 st = le32_to_cpu(READ_ONCE(ring->desc[ring->head].status));

	ring->owner[ring->head] = NULL;
	ring->head = dmak_ring_next(ring, ring->head);
	ring->count--;
	return st;
}

/*
 * Halts the channel (RS=0) and finishes in process context once DMASR says
 * it halted: retires @skip descriptors at the head and restarts, or, when
 * the channel has an error, ends the transfers still on the hardware.
 */
static void dmak_sg_halt(struct dmak_chan *ch, u32 skip)
{
	ch->ring.resync = true;
	ch->ring.skip = skip;
	dmak_chan_write(ch, DMAK_DMACR, dmak_sg_cr(ch) & ~DMAK_CR_RS);
	schedule_work(&ch->ring.resync_work);
}

/* A receive's packet went on past its range: DMAIntErr, as direct mode. */
static void dmak_sg_overflow(struct dmak_chan *ch, struct dmak_req *req,
			     u32 sr)
{
	ch->error = DMAK_ST_DMA_INT_ERR;
	trace_dmak_error(ch->dd->hw, ch->id, req->seq, sr | DMAK_SR_DMA_INT_ERR,
			 ch->error);
	dmak_chan_end(ch, req, DMAK_ST_DMA_INT_ERR, req->bytes,
		      sr | DMAK_SR_DMA_INT_ERR);
	dmak_chan_end_queued(ch, DMAK_ST_ABORTED, sr);
	dev_dbg(ch->dd->hw, "s2mm: packet longer than transfer %llu\n",
		req->seq);
	/* The engine may still write the rest: halt before ending more. */
	dmak_sg_halt(ch, 0);
}

/* Reaps completed descriptors in ring order and ends their transfers. */
static void dmak_sg_reap(struct dmak_chan *ch, u32 sr)
{
	struct dmak_ring *ring = &ch->ring;
	struct dmak_req *req;
	bool last;
	u32 st;

	while (ring->count && !ring->resync && !ch->error) {
		st = le32_to_cpu(READ_ONCE(ring->desc[ring->head].status));
		if (!(st & DMAK_DESC_STS_CMPLT))
			break;
		dma_rmb();	/* STATUS before what the descriptor says */
		req = ring->owner[ring->head];
		dmak_sg_pop(ring);
		req->bytes += FIELD_GET(DMAK_DESC_STS_LEN, st);
		last = ++req->done_desc == req->ndesc;
		if (ch->id == DMAK_S2MM && (st & DMAK_DESC_STS_RXEOF)) {
			if (!last)	/* a short packet: retire the rest */
				dmak_sg_halt(ch, req->ndesc - req->done_desc);
			dmak_chan_end(ch, req, DMAK_ST_OK, req->bytes, sr);
		} else if (ch->id == DMAK_S2MM && last) {
			dmak_sg_overflow(ch, req, sr);
		} else if (last) {
			dmak_chan_end(ch, req, DMAK_ST_OK, req->bytes, sr);
		}
	}
}

/* DMASR has an error bit: the engine halted on the transfer at the head. */
static void dmak_sg_error(struct dmak_chan *ch, u32 sr)
{
	struct dmak_req *req;

	ch->error = dmak_status_of(sr);
	ch->ring.resync = false;
	req = list_first_entry_or_null(&ch->queue, struct dmak_req, node);
	trace_dmak_error(ch->dd->hw, ch->id, req && req->started ? req->seq : 0,
			 sr, ch->error);
	if (req && req->started)
		dmak_chan_end(ch, req, ch->error, req->bytes, sr);
	dmak_chan_end_started(ch, DMAK_ST_ABORTED, false);
	dmak_chan_end_queued(ch, DMAK_ST_ABORTED, sr);
	ch->running = false;
	dev_dbg(ch->dd->hw, "%s halted: DMASR %#x\n",
		ch->id == DMAK_MM2S ? "mm2s" : "s2mm", sr);
}

/*
 * The interrupt handler's work, and WAIT's after a timeout: acknowledges
 * DMASR, reaps whatever completed (with coalescing, also without an
 * interrupt), handles errors and loads more transfers.
 */
irqreturn_t dmak_sg_service(struct dmak_chan *ch)
{
	irqreturn_t ret = IRQ_NONE;
	u32 sr;

	lockdep_assert_held(&ch->lock);
	if (dmak_chan_read(ch, DMAK_DMASR, &sr))
		return IRQ_NONE;
	if (sr & DMAK_SR_ALL_IRQ) {
		trace_dmak_irq(ch->dd->hw, ch->id, sr);
		dmak_chan_write(ch, DMAK_DMASR, sr & DMAK_SR_ALL_IRQ);
		ch->irqs++;
		ret = IRQ_HANDLED;
	}
	if (ch->cap) {
		dmak_cyclic_service(ch, sr);
		return ret;
	}
	dmak_sg_reap(ch, sr);
	if ((sr & DMAK_SR_ERRORS) && !ch->error)
		dmak_sg_error(ch, sr);
	if (ch->ring.resync || ch->error)
		return ret;
	ch->running = ch->ring.count > 0;
	if (ch->stopped && !ch->running && ch->ring.hw_started) {
		dmak_chan_write(ch, DMAK_DMACR, 0);
		ch->ring.hw_started = false;
	}
	dmak_chan_kick(ch);
	return ret;
}

/* After a halt for a short packet: retire, reap, restart at the head. */
static void dmak_sg_resume(struct dmak_chan *ch)
{
	struct dmak_ring *ring = &ch->ring;
	bool lost = false;

	while (ring->skip) {
		/* Completed here means a later packet landed in them. */
		if (dmak_sg_pop(ring) & DMAK_DESC_STS_CMPLT)
			lost = true;
		ring->skip--;
	}
	if (lost) {
		ch->lost++;
		dev_warn_ratelimited(ch->dd->hw,
				     "s2mm: a packet arrived before the resync after a short packet; it is lost\n");
	}
	ring->resync = false;
	ring->hw_started = false;	/* fill restarts it at the head */
	dmak_sg_reap(ch, 0);
	if (ch->error || ring->resync)
		return;
	ch->running = ring->count > 0;
	dmak_chan_kick(ch);
}

static void dmak_sg_resync_work(struct work_struct *work)
{
	struct dmak_chan *ch = container_of(work, struct dmak_chan,
					    ring.resync_work);
	struct dmak_dev *dd = ch->dd;
	int halted;
	u32 sr;

	halted = regmap_read_poll_timeout(dd->regmap, ch->base + DMAK_DMASR,
					  sr, sr & DMAK_SR_HALTED, 10,
					  DMAK_HALT_TIMEOUT_US);
	spin_lock_irq(&ch->lock);
	if (!ch->ring.resync || READ_ONCE(dd->dead))
		goto out;	/* a reset or an error took over */
	if (halted) {
		dev_err(dd->hw, "%s did not halt (DMASR %#x): RESET it\n",
			ch->id == DMAK_MM2S ? "mm2s" : "s2mm", sr);
		ch->error = DMAK_ST_RESET;
	}
	if (ch->error) {
		/* Halted (or stuck): the buffers of these may go now. */
		ch->ring.resync = false;
		dmak_chan_end_started(ch, DMAK_ST_ABORTED, false);
		dmak_chan_end_queued(ch, DMAK_ST_ABORTED, sr);
		ch->running = false;
		goto out;
	}
	dmak_sg_resume(ch);
out:
	spin_unlock_irq(&ch->lock);
}

int dmak_sg_coalesce(struct dmak_chan *ch, u32 threshold, u32 delay)
{
	if (!threshold || threshold > 255 || delay > 255 ||
	    (threshold > 1 && !delay))
		return -EINVAL;
	spin_lock_irq(&ch->lock);
	if (READ_ONCE(ch->dd->dead)) {
		spin_unlock_irq(&ch->lock);
		return -ENODEV;
	}
	ch->ring.threshold = threshold;
	ch->ring.delay = delay;
	if (ch->ring.hw_started && !ch->ring.resync)
		dmak_chan_write(ch, DMAK_DMACR, dmak_sg_cr(ch));
	spin_unlock_irq(&ch->lock);
	return 0;
}

static int dmak_ring_alloc(struct dmak_chan *ch)
{
	struct dmak_ring *ring = &ch->ring;
	struct device *hw = ch->dd->hw;

	INIT_WORK(&ring->resync_work, dmak_sg_resync_work);
	ring->size = dmak_ring_size;
	ring->desc = dmam_alloc_coherent(hw, ring->size * sizeof(*ring->desc),
					 &ring->dma, GFP_KERNEL);
	ring->owner = devm_kcalloc(hw, ring->size, sizeof(*ring->owner),
				   GFP_KERNEL);
	if (!ring->desc || !ring->owner)
		return -ENOMEM;
	ring->threshold = dmak_irq_threshold;
	ring->delay = dmak_irq_delay;
	dmak_sg_rebuild(ch);
	return 0;
}

/* The SG clock: the described clock, a property, else a usual PL clock. */
static unsigned long dmak_sg_clock_hz(struct dmak_dev *dd)
{
	u32 hz = DMAK_SG_CLOCK_HZ;

	if (dd->sg_clk_hz)
		return dd->sg_clk_hz;
	device_property_read_u32(dd->hw, "pydmak,sg-clock-hz", &hz);
	return hz ?: DMAK_SG_CLOCK_HZ;
}

/* With SG: a ring per channel, and what INFO says of them. */
int dmak_sg_init(struct dmak_dev *dd)
{
	struct dmak_info *info = &dd->info;
	unsigned long hz;
	int i, ret;

	if (!dmak_is_sg(dd))
		return 0;
	for (i = 0; i < 2; i++) {
		if (!dmak_chan_present(&dd->chan[i]))
			continue;
		ret = dmak_ring_alloc(&dd->chan[i]);
		if (ret)
			return dev_err_probe(dd->hw, ret,
					     "no memory for a ring of %u descriptors\n",
					     dmak_ring_size);
	}
	hz = dmak_sg_clock_hz(dd);
	info->ring_size = dmak_ring_size;
	info->desc_max = ALIGN_DOWN(info->max_transfer, DMAK_DESC_ALIGN);
	info->max_transfer = info->desc_max * dmak_ring_size;
	info->delay_unit_ns = DIV_ROUND_UP_ULL(125ULL * NSEC_PER_SEC, hz);
	return 0;
}
