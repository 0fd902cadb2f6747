// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: DMA buffers.
 *
 * A buffer is charged to the open file (client) that allocated it and named
 * by a handle that is unique on its device. The handle, each user mapping
 * and (later) each transfer hold a reference; the memory goes back to the
 * kernel, and the bytes back to its user's quota, on the last put.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dmak.h"
#include "dmak_compat.h"

#define DMAK_HANDLE_LIMIT	XA_LIMIT(1, INT_MAX)

/* Gives back the memory of @buf, or lets go of the dma-buf it imported. */
static void dmak_buf_free_mem(struct device *hw, struct dmak_buf *buf)
{
	if (buf->attach)
		dmak_dmabuf_release(buf);
	else if (buf->page)
		dma_free_pages(hw, buf->alloc_size, buf->page, buf->dma,
			       DMA_BIDIRECTIONAL);
	else
		dma_free_coherent(hw, buf->alloc_size, buf->vaddr, buf->dma);
}

static void dmak_buf_release(struct kref *ref)
{
	struct dmak_buf *buf = container_of(ref, struct dmak_buf, ref);
	struct dmak_client *cl = buf->owner;
	struct dmak_dev *dd = cl->dd;
	bool gone;

	mutex_lock(&dd->mem_lock);
	list_del(&buf->mem_node);
	gone = buf->gone;
	mutex_unlock(&dd->mem_lock);
	if (!gone)
		dmak_buf_free_mem(dd->hw, buf);
	if (!buf->attach)
		atomic64_sub(buf->alloc_size, &cl->user->used);
	atomic64_sub(buf->alloc_size, &dd->buf_bytes);
	atomic_dec(&dd->buf_count);
	kfree(buf);
	dmak_client_put(cl);
}

void dmak_buf_put(struct dmak_buf *buf)
{
	kref_put(&buf->ref, dmak_buf_release);
}

/*
 * Takes a reference to the buffer named @handle if @cl owns it. A buffer
 * found in the xarray still has its handle reference (the handle leaves the
 * xarray before that reference is dropped), so kref_get() is safe under the
 * xarray lock.
 */
struct dmak_buf *dmak_buf_get(struct dmak_client *cl, u32 handle)
{
	struct xarray *xa = &cl->dd->bufs;
	struct dmak_buf *buf;

	xa_lock(xa);
	buf = xa_load(xa, handle);
	if (!buf)
		buf = ERR_PTR(-ENOENT);
	else if (buf->owner != cl)
		buf = ERR_PTR(-ENOENT);	/* not this file's to see */
	else
		kref_get(&buf->ref);
	xa_unlock(xa);
	return buf;
}

/*
 * Charges @bytes to @cl's user, or fails with EDQUOT past @quota (0: none).
 * The user, not the file: opening the device again gives no new quota.
 */
static int dmak_charge(struct dmak_client *cl, u64 bytes, u64 quota)
{
	atomic64_t *used = &cl->user->used;

	if (!quota) {
		atomic64_add(bytes, used);
		return 0;
	}
	if (atomic64_add_return(bytes, used) > quota) {
		atomic64_sub(bytes, used);
		return -EDQUOT;
	}
	return 0;
}

static int dmak_buf_alloc_mem(struct device *hw, struct dmak_buf *buf)
{
	const gfp_t gfp = GFP_KERNEL | __GFP_NOWARN;

	if (buf->flags & DMAK_BUF_CACHED) {
		buf->page = dma_alloc_pages(hw, buf->alloc_size, &buf->dma,
					    DMA_BIDIRECTIONAL, gfp);
		/* a mapping as DMA-API debugging sees it: checked */
		if (buf->page && dma_mapping_error(hw, buf->dma)) {
			dma_free_pages(hw, buf->alloc_size, buf->page,
				       buf->dma, DMA_BIDIRECTIONAL);
			buf->page = NULL;
		}
		buf->vaddr = buf->page ? page_address(buf->page) : NULL;
	} else {
		buf->vaddr = dma_alloc_coherent(hw, buf->alloc_size, &buf->dma,
						gfp);
	}
	return buf->vaddr ? 0 : -ENOMEM;
}

/*
 * Counts @buf, whose memory is there, on @cl's device and gives it a handle
 * of @cl. On failure the buffer is put: its memory goes with it.
 */
int dmak_buf_publish(struct dmak_client *cl, struct dmak_buf *buf)
{
	struct dmak_dev *dd = cl->dd;
	u32 handle;
	int ret;

	atomic_inc(&dd->buf_count);
	atomic64_add(buf->alloc_size, &dd->buf_bytes);
	kref_get(&cl->ref);
	buf->owner = cl;
	mutex_lock(&dd->mem_lock);
	list_add_tail(&buf->mem_node, &dd->mem_bufs);
	mutex_unlock(&dd->mem_lock);
	mutex_lock(&cl->lock);
	ret = xa_alloc_cyclic(&dd->bufs, &handle, buf, DMAK_HANDLE_LIMIT,
			      &dd->next_handle, GFP_KERNEL);
	if (ret < 0) {
		mutex_unlock(&cl->lock);
		/* frees the memory, uncharges, puts cl */
		dmak_buf_put(buf);
		return ret == -EBUSY ? -ENOSPC : ret;
	}
	buf->handle = handle;
	list_add_tail(&buf->node, &cl->bufs);
	mutex_unlock(&cl->lock);
	return 0;
}

int dmak_buf_alloc(struct dmak_client *cl, struct dmak_alloc *arg)
{
	u64 quota = READ_ONCE(dmak_buf_quota);
	struct dmak_dev *dd = cl->dd;
	struct dmak_buf *buf;
	int ret;

	if (arg->flags & ~DMAK_BUF_CACHED || !arg->size)
		return -EINVAL;
	if (quota && arg->size > quota)
		return -EDQUOT;
	if (arg->size > SIZE_MAX - PAGE_SIZE)
		return -ENOMEM;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	kref_init(&buf->ref);
	buf->flags = arg->flags;
	buf->whole_lines = arg->flags & DMAK_BUF_CACHED && dd->cache_align > 1;
	buf->size = arg->size;
	buf->alloc_size = PAGE_ALIGN(arg->size);

	ret = dmak_charge(cl, buf->alloc_size, quota);
	if (ret)
		goto err_free;
	ret = dmak_buf_alloc_mem(dd->hw, buf);
	if (ret)
		goto err_uncharge;

	kref_get(&buf->ref);	/* a FREE of the new handle may come at once */
	ret = dmak_buf_publish(cl, buf);
	if (!ret) {
		arg->handle = buf->handle;
		arg->mmap_offset = (u64)buf->handle << PAGE_SHIFT;
		arg->dma_addr = buf->dma;
	}
	dmak_buf_put(buf);
	return ret;

err_uncharge:
	atomic64_sub(buf->alloc_size, &cl->user->used);
err_free:
	kfree(buf);
	return ret;
}

/* Drops the handle of a buffer; called with @cl->lock held. */
static void dmak_buf_unlink(struct dmak_client *cl, struct dmak_buf *buf)
{
	lockdep_assert_held(&cl->lock);
	xa_erase(&cl->dd->bufs, buf->handle);
	list_del(&buf->node);
	dmak_buf_put(buf);
}

int dmak_buf_free(struct dmak_client *cl, u32 handle)
{
	struct dmak_buf *buf;

	mutex_lock(&cl->lock);
	buf = dmak_buf_get(cl, handle);
	if (!IS_ERR(buf)) {
		dmak_buf_unlink(cl, buf);
		dmak_buf_put(buf);
	}
	mutex_unlock(&cl->lock);
	return PTR_ERR_OR_ZERO(buf);
}

void dmak_buf_release_all(struct dmak_client *cl)
{
	struct dmak_buf *buf, *tmp;

	mutex_lock(&cl->lock);
	list_for_each_entry_safe(buf, tmp, &cl->bufs, node)
		dmak_buf_unlink(cl, buf);
	mutex_unlock(&cl->lock);
}

/*
 * Cache maintenance of the @len bytes at bus address @addr of @buf, for
 * the device (@for_cpu false: before it touches them) or the CPU (after).
 * A buffer of this device is one block of memory; an imported one is one
 * block only in bus addresses (an IOMMU may gather scattered pages into
 * it), so it is maintained whole, through its table. Never sleeps.
 */
void dmak_buf_sync_range(struct dmak_buf *buf, dma_addr_t addr, size_t len,
			 enum dma_data_direction dir, bool for_cpu)
{
	struct device *hw = buf->owner->dd->hw;

	if (!(buf->flags & DMAK_BUF_CACHED))
		return;		/* coherent: nothing to maintain */
	if (buf->attach && for_cpu)
		dma_sync_sgtable_for_cpu(hw, buf->sgt, dir);
	else if (buf->attach)
		dma_sync_sgtable_for_device(hw, buf->sgt, dir);
	else if (for_cpu)
		dma_sync_single_for_cpu(hw, addr, len, dir);
	else
		dma_sync_single_for_device(hw, addr, len, dir);
}

/*
 * Whether the device may write the @len bytes at bus address @addr of
 * @buf. Where it does not snoop the CPU caches, a range of memory the CPU
 * caches must be whole cache lines: a line it shares with bytes outside
 * would be written back over what the device wrote, when the CPU evicts
 * it after touching those bytes, or when the end of the transfer cleans
 * the partial line. The range may end where the buffer does: the rest of
 * that line is the padding up to @alloc_size, which no array holds. Says
 * why in a rate-limited message when not.
 */
bool dmak_buf_s2mm_ok(struct dmak_buf *buf, dma_addr_t addr, u64 len)
{
	struct dmak_dev *dd = buf->owner->dd;
	u32 align = dd->cache_align;
	dma_addr_t end = addr + len;

	if (!buf->whole_lines ||
	    (IS_ALIGNED(addr, align) &&
	     (IS_ALIGNED(end, align) || end == buf->dma + buf->size)))
		return true;
	dev_warn_ratelimited(dd->hw,
			     "S2MM range %pad+%llu of a cached buffer refused: it must start and end on %u-byte cache lines (or end with the buffer), as the device does not snoop the CPU caches\n",
			     &addr, len, align);
	return false;
}

int dmak_buf_sync(struct dmak_client *cl, const struct dmak_sync *arg)
{
	struct dmak_buf *buf;
	dma_addr_t start;
	int ret = 0;

	if (arg->direction & ~DMAK_SYNC_BIDIRECTIONAL || !arg->direction ||
	    arg->flags || memchr_inv(arg->reserved, 0, sizeof(arg->reserved)))
		return -EINVAL;
	buf = dmak_buf_get(cl, arg->handle);
	if (IS_ERR(buf))
		return PTR_ERR(buf);

	if (!arg->size || arg->offset >= buf->size ||
	    arg->size > buf->size - arg->offset) {
		ret = -EINVAL;
		goto out;
	}
	start = buf->dma + arg->offset;
	if (arg->direction & DMAK_SYNC_TO_DEVICE)
		dmak_buf_sync_range(buf, start, arg->size, DMA_TO_DEVICE, false);
	if (arg->direction & DMAK_SYNC_FROM_DEVICE)
		dmak_buf_sync_range(buf, start, arg->size, DMA_FROM_DEVICE, true);
out:
	dmak_buf_put(buf);
	return ret;
}

/*
 * The device is going away (remove, after every transfer ended): its
 * buffers' memory goes back to the kernel now, while the device can still
 * free it, rather than when the last handle or mapping lets go. User
 * mappings are revoked first (dmak_vmas_revoke()). Imports let go of their
 * dma-buf. Left as they are: exported buffers, which importers may still
 * use, and everything if the core did not come out of reset (@stuck).
 * The structures stay until released; handles answer ENODEV meanwhile.
 */
void dmak_bufs_unplug(struct dmak_dev *dd)
{
	struct dmak_buf *buf;

	/* what uses memory through the device has finished, and will not */
	WRITE_ONCE(dd->unplugged, true);
	synchronize_srcu(&dd->mem_srcu);
	if (dd->stuck)
		return;
	dmak_vmas_revoke(dd);
	mutex_lock(&dd->mem_lock);
	list_for_each_entry(buf, &dd->mem_bufs, mem_node) {
		if (buf->exported || buf->gone)
			continue;
		dmak_buf_free_mem(dd->hw, buf);
		buf->gone = true;
	}
	mutex_unlock(&dd->mem_lock);
}
