// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: buffers mapped into processes, and those mappings revoked when the
 * device goes away.
 *
 * A mapping of a buffer of the device's own memory is filled whole at
 * mmap() and recorded in a struct dmak_vma, as is each copy that fork()
 * or a split makes of it. Before remove gives the memory back, it revokes
 * every one of them: their page table entries are zapped under the mmap
 * lock of the process that has them, so a mapping being made or copied
 * meanwhile is done first. A revoked mapping that is touched again shows
 * a zeroed page of its file instead. Imported buffers are mapped by their
 * exporter (dma_buf_mmap()) and left to it.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "dmak.h"
#include "dmak_compat.h"

static void dmak_vma_add(struct dmak_dev *dd, struct dmak_vma *v,
			 struct vm_area_struct *vma, struct dmak_buf *buf)
{
	v->vma = vma;
	v->buf = buf;
	vma->vm_private_data = v;
	mutex_lock(&dd->mem_lock);
	list_add_tail(&v->node, &dd->vmas);
	mutex_unlock(&dd->mem_lock);
}

/* fork(), or a split of the mapping: the new vma gets its own record */
static void dmak_vm_open(struct vm_area_struct *vma)
{
	struct dmak_vma *old = vma->vm_private_data;
	struct dmak_buf *buf = old->buf;
	struct dmak_vma *v;

	/* a small record, and a vma cannot refuse to be copied */
	v = kzalloc(sizeof(*v), GFP_KERNEL | __GFP_NOFAIL);
	kref_get(&buf->ref);
	dmak_vma_add(buf->owner->dd, v, vma, buf);
}

static void dmak_vm_close(struct vm_area_struct *vma)
{
	struct dmak_vma *v = vma->vm_private_data;
	struct dmak_dev *dd = v->buf->owner->dd;

	mutex_lock(&dd->mem_lock);
	list_del(&v->node);
	mutex_unlock(&dd->mem_lock);
	dmak_buf_put(v->buf);
	kfree(v);
}

/*
 * Only a revoked mapping faults (a live one is filled whole): it gets its
 * file's zeroed page wherever it is touched, read or written.
 */
static vm_fault_t dmak_vm_fault(struct vm_fault *vmf)
{
	struct dmak_vma *v = vmf->vma->vm_private_data;
	struct dmak_client *cl = v->buf->owner;
	struct page *page, *fresh;

	if (!READ_ONCE(cl->dd->unplugged))
		return VM_FAULT_SIGBUS;
	page = READ_ONCE(cl->dummy);
	if (!page) {
		fresh = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!fresh)
			return VM_FAULT_OOM;
		page = cmpxchg(&cl->dummy, NULL, fresh);
		if (page)
			__free_page(fresh);	/* another fault was first */
		else
			page = fresh;
	}
	return vmf_insert_pfn_prot(vmf->vma, vmf->address & PAGE_MASK,
				   page_to_pfn(page),
				   vm_get_page_prot(vmf->vma->vm_flags));
}

static const struct vm_operations_struct dmak_vm_ops = {
	.open = dmak_vm_open,
	.close = dmak_vm_close,
	.fault = dmak_vm_fault,
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
 * The caller reads @mem_srcu and found the device not unplugged.
 */
int dmak_buf_mmap(struct dmak_client *cl, struct vm_area_struct *vma)
{
	unsigned long len = vma->vm_end - vma->vm_start;
	struct dmak_buf *buf;
	struct dmak_vma *v;
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
	v = kzalloc(sizeof(*v), GFP_KERNEL);
	if (!v) {
		ret = -ENOMEM;
		goto err_put;
	}
	ret = dmak_buf_map_user(buf, vma);
	if (ret) {
		kfree(v);
		goto err_put;
	}
	vma->vm_ops = &dmak_vm_ops;
	dmak_vma_add(cl->dd, v, vma, buf);	/* with the reference above */
	return 0;

err_put:
	dmak_buf_put(buf);
	return ret;
}

static struct dmak_vma *dmak_vma_first_live(struct dmak_dev *dd)
{
	struct dmak_vma *v;

	list_for_each_entry(v, &dd->vmas, node)
		if (!v->revoked)
			return v;
	return NULL;
}

/*
 * Revokes the mappings of @dd's buffers whose memory remove takes back
 * (not those of exported ones). Called once @unplugged is set, so no new
 * mapping is made; a copy fork() makes meanwhile is recorded, and found
 * by the loop. Sleeps.
 */
void dmak_vmas_revoke(struct dmak_dev *dd)
{
	struct dmak_vma *v;
	struct mm_struct *mm;

	mutex_lock(&dd->mem_lock);
	while ((v = dmak_vma_first_live(dd))) {
		mm = v->vma->vm_mm;
		/* an exiting process runs no more: its unmapping is under way */
		if (v->buf->exported || !mmget_not_zero(mm)) {
			v->revoked = true;
			continue;
		}
		/* the mmap lock comes before @mem_lock (mmap() takes both) */
		mutex_unlock(&dd->mem_lock);
		mmap_read_lock(mm);
		mutex_lock(&dd->mem_lock);
		list_for_each_entry(v, &dd->vmas, node) {
			if (v->revoked || v->vma->vm_mm != mm ||
			    v->buf->exported)
				continue;
			zap_vma_ptes(v->vma, v->vma->vm_start,
				     v->vma->vm_end - v->vma->vm_start);
			v->revoked = true;
		}
		mutex_unlock(&dd->mem_lock);
		mmap_read_unlock(mm);
		mmput(mm);	/* may close vmas: @mem_lock is not held */
		mutex_lock(&dd->mem_lock);
	}
	mutex_unlock(&dd->mem_lock);
}
