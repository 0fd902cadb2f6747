// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: SUBMIT. A batch of dmak_xfer entries is checked whole, each
 * transfer (one entry, or with SG a run of entries chained by
 * DMAK_XFER_MORE) becomes one request holding a reference to every buffer
 * it touches, and the batch enters the channels' queues at once.
 */
#include <linux/dma-mapping.h>
#include <linux/math64.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dmak.h"
#include "dmak_trace.h"

#define DMAK_XFER_FLAGS	(DMAK_XFER_NO_SYNC | DMAK_XFER_MORE)

/* Byte alignment of transfer addresses: the stream width without DRE. */
static u32 dmak_align(const struct dmak_dev *dd)
{
	return dd->info.flags & DMAK_INFO_DRE ? 1 : dd->info.data_width / 8;
}

/*
 * Checks one piece and takes a reference to its buffer. Without DRE each
 * piece starts aligned, and every piece but a packet's last is a whole
 * number of stream beats long. A piece S2MM writes into a cached buffer
 * is whole cache lines where the device does not snoop the caches.
 */
static int dmak_seg_prepare(struct dmak_client *cl, const struct dmak_xfer *x,
			    bool last, struct dmak_seg *seg)
{
	u32 align = dmak_align(cl->dd);
	struct dmak_buf *buf;

	if (x->reserved || x->flags & ~DMAK_XFER_FLAGS || !x->length)
		return -EINVAL;
	if (x->length > cl->dd->info.max_transfer)
		return -EMSGSIZE;
	buf = dmak_buf_get(cl, x->handle);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	if (x->offset >= buf->size || x->length > buf->size - x->offset ||
	    !IS_ALIGNED(buf->dma + x->offset, align) ||
	    (!last && !IS_ALIGNED(x->length, align)) ||
	    (x->channel == DMAK_S2MM &&
	     !dmak_buf_s2mm_ok(buf, buf->dma + x->offset, x->length))) {
		dmak_buf_put(buf);
		return -EINVAL;
	}
	seg->buf = buf;
	seg->dma = buf->dma + x->offset;
	seg->len = x->length;
	return 0;
}

/* Hands the pieces of a cached buffer to the device, unless asked not to. */
static void dmak_req_sync_for_device(struct dmak_req *req)
{
	enum dma_data_direction dir = req->chan == DMAK_MM2S ?
				      DMA_TO_DEVICE : DMA_FROM_DEVICE;
	u32 i;

	if (req->flags & DMAK_XFER_NO_SYNC)
		return;
	for (i = 0; i < req->nsegs; i++)
		dmak_buf_sync_range(req->seg[i].buf, req->seg[i].dma,
				    req->seg[i].len, dir, false);
}

/* Checks the sizes of a request: the length register, or the SG ring. */
static int dmak_req_measure(struct dmak_dev *dd, struct dmak_req *req)
{
	u64 ndesc = 0;
	u32 i;

	req->len = 0;
	for (i = 0; i < req->nsegs; i++) {
		req->len += req->seg[i].len;
		if (dmak_is_sg(dd))
			ndesc += div64_u64(req->seg[i].len + dd->info.desc_max - 1,
					   dd->info.desc_max);
	}
	if (dmak_is_sg(dd) ? ndesc > dd->chan[req->chan].ring.size :
			     req->len > dd->info.max_transfer)
		return -EMSGSIZE;
	req->ndesc = ndesc;
	return 0;
}

/* Makes the request for the @n entries of one transfer. */
static int dmak_req_prepare(struct dmak_client *cl, const struct dmak_xfer *x,
			    u32 n, struct dmak_req **out)
{
	struct dmak_dev *dd = cl->dd;
	struct dmak_req *req;
	int ret = 0;
	u32 i;

	if (!dmak_chan_of(dd, x[0].channel))
		return -EINVAL;
	for (i = 1; i < n; i++)
		if (x[i].channel != x[0].channel)
			return -EINVAL;
	if (n > 1 && !dmak_is_sg(dd))
		return -EOPNOTSUPP;	/* gather needs descriptors */
	req = kzalloc(struct_size(req, seg, n), GFP_KERNEL_ACCOUNT);
	if (!req)
		return -ENOMEM;
	req->chan = x[0].channel;
	for (i = 0; i < n && !ret; i++) {
		ret = dmak_seg_prepare(cl, &x[i], i == n - 1, &req->seg[i]);
		if (!ret)
			req->nsegs++;
	}
	if (!ret)
		ret = dmak_req_measure(dd, req);
	if (ret) {
		for (i = 0; i < req->nsegs; i++)
			dmak_buf_put(req->seg[i].buf);
		kfree(req);
		return ret;
	}
	kref_get(&cl->ref);
	req->cl = cl;
	req->cookie = x[n - 1].cookie;
	req->flags = x[n - 1].flags & DMAK_XFER_NO_SYNC;
	/* Hand the ranges to the device now, not later with IRQs off. */
	dmak_req_sync_for_device(req);
	*out = req;
	return 0;
}

/*
 * WAIT finds how a transfer ended in a ring of DMAK_RESULTS slots, by seq:
 * a channel holds seqs of at most that span from its oldest outstanding
 * transfer on, so no result ever takes the slot of one still to come.
 * The queue is in seq order (CANCEL only takes entries out).
 */
static bool dmak_chan_has_room(struct dmak_chan *ch, u32 more)
{
	struct dmak_req *oldest;

	lockdep_assert_held(&ch->lock);
	oldest = list_first_entry_or_null(&ch->queue, struct dmak_req, node);
	return !oldest || ch->last_seq + more - oldest->seq < DMAK_RESULTS;
}

/*
 * Queues a checked batch on both channels at once, in array order, and
 * writes each transfer's seq to its entries.
 */
static int dmak_enqueue(struct dmak_dev *dd, struct dmak_xfer *xfers,
			struct dmak_req **reqs, u32 nreqs)
{
	unsigned int first = dmak_chan_present(&dd->chan[DMAK_MM2S]) ?
			     DMAK_MM2S : DMAK_S2MM;
	unsigned int last = dmak_chan_present(&dd->chan[DMAK_S2MM]) ?
			    DMAK_S2MM : DMAK_MM2S;
	struct dmak_chan *ch;
	unsigned long flags;
	u32 more[2] = { 0, 0 };
	u32 i, j, k = 0;
	int ret = 0;

	for (i = 0; i < nreqs; i++)
		more[reqs[i]->chan]++;
	/* Both channel locks, MM2S first, so the batch enters at once. */
	spin_lock_irqsave(&dd->chan[first].lock, flags);
	if (last != first)
		spin_lock_nested(&dd->chan[last].lock, SINGLE_DEPTH_NESTING);
	for (i = 0; i < nreqs && !ret; i++)
		if (dd->chan[reqs[i]->chan].error)
			ret = -EIO;	/* halted on an error: RESET it */
		else if (dd->chan[reqs[i]->chan].cap)
			ret = -EBUSY;	/* a cyclic capture owns it */
	for (i = 0; i < 2 && !ret; i++)
		if (more[i] && !dmak_chan_has_room(&dd->chan[i], more[i]))
			ret = -EAGAIN;	/* WAIT for the oldest first */
	if (READ_ONCE(dd->dead))
		ret = -ENODEV;
	for (i = 0; i < nreqs && !ret; i++) {
		ch = &dd->chan[reqs[i]->chan];
		reqs[i]->seq = ++ch->last_seq;
		for (j = 0; j < reqs[i]->nsegs; j++)
			xfers[k++].seq = reqs[i]->seq;
		list_add_tail(&reqs[i]->node, &ch->queue);
		trace_dmak_submit(dd->hw, ch->id, reqs[i]->seq, reqs[i]->len,
				  reqs[i]->nsegs);
	}
	for (i = 0; i < 2 && !ret; i++) {
		if (dmak_chan_present(&dd->chan[i]))
			dmak_chan_kick(&dd->chan[i]);
		if (more[i])
			dmak_chan_watch(&dd->chan[i]);
	}
	if (last != first)
		spin_unlock(&dd->chan[last].lock);
	spin_unlock_irqrestore(&dd->chan[first].lock, flags);
	return ret;
}

/* Makes the requests of a batch; returns how many, or an errno. */
static int dmak_batch_prepare(struct dmak_client *cl, struct dmak_xfer *xfers,
			      u32 count, struct dmak_req **reqs, u32 *nreqs)
{
	u32 i = 0, j;
	int ret;

	while (i < count) {
		for (j = i; xfers[j].flags & DMAK_XFER_MORE; j++)
			if (j + 1 == count)
				return -EINVAL;	/* the batch ends mid-packet */
		ret = dmak_req_prepare(cl, &xfers[i], j - i + 1,
				       &reqs[*nreqs]);
		if (ret)
			return ret;
		(*nreqs)++;
		i = j + 1;
	}
	return 0;
}

long dmak_ioctl_submit(struct dmak_client *cl, void __user *uarg)
{
	struct dmak_submit sub;
	struct dmak_xfer *xfers;
	struct dmak_req **reqs;
	u32 i, n = 0;
	long ret;

	if (copy_from_user(&sub, uarg, sizeof(sub)))
		return -EFAULT;
	if (!sub.count || sub.count > DMAK_SUBMIT_MAX || sub.flags)
		return -EINVAL;
	xfers = memdup_user(u64_to_user_ptr(sub.xfers),
			    array_size(sub.count, sizeof(*xfers)));
	if (IS_ERR(xfers))
		return PTR_ERR(xfers);
	reqs = kcalloc(sub.count, sizeof(*reqs), GFP_KERNEL);
	if (!reqs) {
		ret = -ENOMEM;
		goto out;
	}
	/*
	 * The seqs go back into the caller's array: that it can be written is
	 * checked before anything is queued (by writing back what it holds),
	 * so EFAULT never leaves transfers queued that the caller cannot name.
	 */
	if (copy_to_user(u64_to_user_ptr(sub.xfers), xfers,
			 array_size(sub.count, sizeof(*xfers)))) {
		ret = -EFAULT;
		goto out;
	}
	ret = dmak_batch_prepare(cl, xfers, sub.count, reqs, &n);
	if (!ret)
		ret = dmak_enqueue(cl->dd, xfers, reqs, n);
	if (ret)
		goto out;
	n = 0;			/* the queues own them now */
	if (copy_to_user(u64_to_user_ptr(sub.xfers), xfers,
			 array_size(sub.count, sizeof(*xfers))))
		ret = -EFAULT;	/* unmapped meanwhile: the caller's race */
out:
	for (i = 0; i < n; i++)
		dmak_req_free(reqs[i]);
	kfree(reqs);
	kfree(xfers);
	return ret;
}
