// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: buffers shared as dma-bufs.
 *
 * EXPORT wraps a buffer in a dma-buf that holds a reference to it, so its
 * memory outlives the handle, the file and the device's other users while
 * any importer has it. An importer's attachment gets the buffer mapped for
 * its own device (dma_map_sgtable), so an IOMMU in front of it is set up
 * as it must be. IMPORT attaches a dma-buf from anywhere (another dmak
 * device, a dma-heap, a camera) to this device and names it by a handle
 * like any buffer of the file; the handle, each transfer and each mapping
 * hold it, and the attachment goes with the last of them.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dmak.h"
#include "dmak_compat.h"

DMAK_IMPORT_NS_DMA_BUF;

/* exporting */

/* The attachment is the exporting device's own. */
static bool dmak_export_is_own(struct dma_buf_attachment *at)
{
	struct dmak_buf *buf = at->dmabuf->priv;

	return at->dev == buf->owner->dd->hw;
}

static struct sg_table *dmak_export_map(struct dma_buf_attachment *at,
					enum dma_data_direction dir)
{
	struct dmak_buf *buf = at->dmabuf->priv;
	struct sg_table *sgt;
	int ret;

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	if (buf->page) {
		ret = sg_alloc_table(sgt, 1, GFP_KERNEL);
		if (!ret)
			sg_set_page(sgt->sgl, buf->page, buf->alloc_size, 0);
	} else {
		ret = dma_get_sgtable(buf->owner->dd->hw, sgt, buf->vaddr,
				      buf->dma, buf->alloc_size);
	}
	if (ret)
		goto err_free;
	if (dmak_export_is_own(at)) {
		/*
		 * Imported by the device it belongs to: mapped for it since
		 * the allocation, at buf->dma, in one run. Mapping the memory
		 * again would leave DMA-API debugging two entries for one
		 * address, and then it finds neither for a partial sync.
		 */
		sg_dma_address(sgt->sgl) = buf->dma;
		sg_dma_len(sgt->sgl) = buf->alloc_size;
		sgt->nents = 1;
		return sgt;
	}
	/* The importer maintains the caches around its own transfers. */
	ret = dma_map_sgtable(at->dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
	if (ret)
		goto err_table;
	return sgt;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void dmak_export_unmap(struct dma_buf_attachment *at,
			      struct sg_table *sgt,
			      enum dma_data_direction dir)
{
	if (!dmak_export_is_own(at))
		dma_unmap_sgtable(at->dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
	sg_free_table(sgt);
	kfree(sgt);
}

static int dmak_export_mmap(struct dma_buf *dmabuf,
			    struct vm_area_struct *vma)
{
	/* dma-buf checked the range against the size */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;		/* copied on write: see dmak_buf_mmap */
	return dmak_buf_map_user(dmabuf->priv, vma);
}

static int dmak_export_cpu_access(struct dma_buf *dmabuf,
				  enum dma_data_direction dir, bool begin)
{
	struct dmak_buf *buf = dmabuf->priv;
	struct device *hw = buf->owner->dd->hw;

	if (!buf->page)
		return 0;	/* coherent */
	if (begin)
		dma_sync_single_for_cpu(hw, buf->dma, buf->alloc_size, dir);
	else
		dma_sync_single_for_device(hw, buf->dma, buf->alloc_size, dir);
	return 0;
}

static int dmak_export_begin_cpu(struct dma_buf *dmabuf,
				 enum dma_data_direction dir)
{
	return dmak_export_cpu_access(dmabuf, dir, true);
}

static int dmak_export_end_cpu(struct dma_buf *dmabuf,
			       enum dma_data_direction dir)
{
	return dmak_export_cpu_access(dmabuf, dir, false);
}

static void dmak_export_release(struct dma_buf *dmabuf)
{
	dmak_buf_put(dmabuf->priv);
}

static const struct dma_buf_ops dmak_export_ops = {
	.map_dma_buf = dmak_export_map,
	.unmap_dma_buf = dmak_export_unmap,
	.mmap = dmak_export_mmap,
	.begin_cpu_access = dmak_export_begin_cpu,
	.end_cpu_access = dmak_export_end_cpu,
	.release = dmak_export_release,
};

long dmak_ioctl_export(struct dmak_client *cl, void __user *uarg)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct dmak_export arg;
	struct dma_buf *dmabuf;
	struct dmak_buf *buf;
	int fd;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.reserved)
		return -EINVAL;
	buf = dmak_buf_get(cl, arg.handle);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	if (buf->attach) {
		/* an imported buffer: the dma-buf it came from, once more */
		dmabuf = buf->attach->dmabuf;
		get_dma_buf(dmabuf);
		dmak_buf_put(buf);
	} else {
		info.ops = &dmak_export_ops;
		info.size = buf->alloc_size;
		info.flags = O_RDWR;
		info.priv = buf;	/* the reference taken above */
		dmabuf = dma_buf_export(&info);
		if (IS_ERR(dmabuf)) {
			dmak_buf_put(buf);
			return PTR_ERR(dmabuf);
		}
		/* remove leaves its memory to the importers */
		mutex_lock(&cl->dd->mem_lock);
		buf->exported = true;
		mutex_unlock(&cl->dd->mem_lock);
	}
	fd = get_unused_fd_flags(O_CLOEXEC);
	arg.fd = fd;
	if (fd < 0 || copy_to_user(uarg, &arg, sizeof(arg))) {
		if (fd >= 0)
			put_unused_fd(fd);
		dma_buf_put(dmabuf);	/* releases the buffer reference */
		return fd < 0 ? fd : -EFAULT;
	}
	fd_install(fd, dmabuf->file);	/* the descriptor owns the dma-buf */
	return 0;
}

/* importing */

/*
 * True for a dma-buf the CPU reaches uncached: a dmak COHERENT buffer of
 * a device that does not snoop the CPU caches (dma_alloc_coherent() then
 * maps it uncached). The CPU writes no cache line of it back.
 */
static bool dmak_dmabuf_cpu_uncached(struct dma_buf *dmabuf)
{
	struct dmak_buf *buf = dmabuf->priv;

	return dmabuf->ops == &dmak_export_ops && !buf->page &&
	       !dmak_dev_dma_coherent(buf->owner->dd->hw);
}

/* True when @sgt is one run of bus addresses, as the IP needs it. */
static bool dmak_sgt_contiguous(struct sg_table *sgt, dma_addr_t *start,
				u64 *len)
{
	struct scatterlist *sg;
	dma_addr_t next = 0;
	unsigned int i;

	*len = 0;
	for_each_sgtable_dma_sg(sgt, sg, i) {
		if (i == 0)
			*start = sg_dma_address(sg);
		else if (sg_dma_address(sg) != next)
			return false;
		next = sg_dma_address(sg) + sg_dma_len(sg);
		*len += sg_dma_len(sg);
	}
	return *len != 0;
}

void dmak_dmabuf_release(struct dmak_buf *buf)
{
	struct dma_buf *dmabuf = buf->attach->dmabuf;

	dmak_dma_buf_unmap(buf->attach, buf->sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(dmabuf, buf->attach);
	dma_buf_put(dmabuf);
}

static int dmak_import(struct dmak_client *cl, struct dma_buf *dmabuf,
		       struct dmak_buf *buf)
{
	u64 len;

	buf->attach = dma_buf_attach(dmabuf, cl->dd->hw);
	if (IS_ERR(buf->attach))
		return PTR_ERR(buf->attach);
	buf->sgt = dmak_dma_buf_map(buf->attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(buf->sgt)) {
		dma_buf_detach(dmabuf, buf->attach);
		return PTR_ERR(buf->sgt);
	}
	if (!dmak_sgt_contiguous(buf->sgt, &buf->dma, &len) ||
	    len < dmabuf->size) {
		dmak_dma_buf_unmap(buf->attach, buf->sgt, DMA_BIDIRECTIONAL);
		dma_buf_detach(dmabuf, buf->attach);
		return -EINVAL;
	}
	return 0;
}

long dmak_ioctl_import(struct dmak_client *cl, void __user *uarg)
{
	struct dmak_import arg;
	struct dma_buf *dmabuf;
	struct dmak_buf *buf;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.reserved)
		return -EINVAL;
	dmabuf = dma_buf_get(arg.fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf) {
		ret = -ENOMEM;
		goto err_put;
	}
	ret = dmak_import(cl, dmabuf, buf);
	if (ret)
		goto err_free;
	kref_init(&buf->ref);
	buf->flags = DMAK_BUF_CACHED;	/* transfers maintain the caches */
	buf->whole_lines = cl->dd->cache_align > 1 &&
			   !dmak_dmabuf_cpu_uncached(dmabuf);
	buf->size = dmabuf->size;
	buf->alloc_size = dmabuf->size;
	kref_get(&buf->ref);	/* a FREE of the new handle may come at once */
	ret = dmak_buf_publish(cl, buf);
	if (!ret) {
		arg.handle = buf->handle;
		arg.size = buf->size;
		arg.mmap_offset = (u64)buf->handle << PAGE_SHIFT;
		arg.dma_addr = buf->dma;
	}
	dmak_buf_put(buf);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &arg, sizeof(arg))) {
		dmak_buf_free(cl, arg.handle);
		return -EFAULT;
	}
	return 0;

err_free:
	kfree(buf);
err_put:
	dma_buf_put(dmabuf);
	return ret;
}
