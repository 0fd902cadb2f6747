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

static void dmak_buf_release(struct kref *ref)
{
	struct dmak_buf *buf = container_of(ref, struct dmak_buf, ref);
	struct dmak_client *cl = buf->owner;
	struct dmak_dev *dd = cl->dd;
	struct device *hw = dd->hw;

	if (buf->attach) {
		dmak_dmabuf_release(buf);
	} else {
		if (buf->page)
			dma_free_pages(hw, buf->alloc_size, buf->page,
				       buf->dma, DMA_BIDIRECTIONAL);
		else
			dma_free_coherent(hw, buf->alloc_size, buf->vaddr,
					  buf->dma);
		atomic64_sub(buf->alloc_size, &cl->user->used);
	}
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

static void dmak_vm_open(struct vm_area_struct *vma)
{
	struct dmak_buf *buf = vma->vm_private_data;

	kref_get(&buf->ref);
}

static void dmak_vm_close(struct vm_area_struct *vma)
{
	dmak_buf_put(vma->vm_private_data);
}

static const struct vm_operations_struct dmak_vm_ops = {
	.open = dmak_vm_open,
	.close = dmak_vm_close,
};

/*
 * Maps @buf's memory into @vma from page vma->vm_pgoff of the buffer on;
 * the caller checked that the range lies inside it.
 */
int dmak_buf_map_user(struct dmak_buf *buf, struct vm_area_struct *vma)
{
	struct device *hw = buf->owner->dd->hw;

	dmak_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	if (buf->page)
		return dma_mmap_pages(hw, vma, buf->alloc_size, buf->page);
	return dma_mmap_coherent(hw, vma, buf->vaddr, buf->dma,
				 buf->alloc_size);
}

/*
 * Maps the buffer whose handle is the page offset of @vma. The mapping may
 * be shorter than the buffer, never longer; it always starts at byte 0.
 */
int dmak_buf_mmap(struct dmak_client *cl, struct vm_area_struct *vma)
{
	unsigned long len = vma->vm_end - vma->vm_start;
	struct dmak_buf *buf;
	int ret;

	/* a private mapping would be copied on write: the device never sees */
	if (!(vma->vm_flags & VM_SHARED) || vma->vm_pgoff > U32_MAX)
		return -EINVAL;
	buf = dmak_buf_get(cl, vma->vm_pgoff);
	if (IS_ERR(buf))
		return PTR_ERR(buf) == -ENOENT ? -EINVAL : PTR_ERR(buf);
	if (len > buf->alloc_size) {
		ret = -EINVAL;
		goto err_put;
	}

	vma->vm_pgoff = 0;
	if (buf->attach) {
		/* the exporter maps it; the vma holds the dma-buf */
		ret = dma_buf_mmap(buf->attach->dmabuf, vma, 0);
		dmak_buf_put(buf);
		return ret;
	}
	ret = dmak_buf_map_user(buf, vma);
	if (ret)
		goto err_put;

	vma->vm_private_data = buf;	/* the reference taken above */
	vma->vm_ops = &dmak_vm_ops;
	return 0;

err_put:
	dmak_buf_put(buf);
	return ret;
}
