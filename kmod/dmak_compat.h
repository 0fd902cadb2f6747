/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shims for the kernel interfaces that changed between the kernels dmak
 * builds on (5.15 and later).
 */
#ifndef _DMAK_COMPAT_H
#define _DMAK_COMPAT_H

#include <linux/device.h>
#include <linux/dma-map-ops.h>
#include <linux/mm.h>
#include <linux/platform_device.h>
#include <linux/version.h>

/*
 * Whether a device snoops the CPU caches. dev_is_dma_coherent() says so
 * where the architecture's cache maintenance for DMA goes through the
 * generic hooks (and says true where there is none). 32-bit ARM before
 * 5.19 kept its own DMA ops, without those hooks unless SWIOTLB, and the
 * flag in the device's archdata.
 */
#if IS_ENABLED(CONFIG_ARM) && !IS_ENABLED(CONFIG_ARCH_HAS_SYNC_DMA_FOR_DEVICE)
#define dmak_dev_dma_coherent(dev)	((dev)->archdata.dma_coherent)
#else
#define dmak_dev_dma_coherent(dev)	dev_is_dma_coherent(dev)
#endif

/* 6.4 dropped the owner argument of class_create(). */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
#define dmak_class_create(name)	class_create(THIS_MODULE, name)
#else
#define dmak_class_create(name)	class_create(name)
#endif

/* 6.3 made vma->vm_flags read-only and added vm_flags_set(). */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void dmak_vm_flags_set(struct vm_area_struct *vma,
				     vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#else
#define dmak_vm_flags_set	vm_flags_set
#endif

/*
 * Platform remove callbacks return void: through .remove_new from 6.3 and
 * through .remove from 6.11. DMAK_PLATFORM_REMOVE(fn) names the member for
 * a "void fn(struct platform_device *)"; before 6.3 it goes through an int
 * wrapper that DMAK_DEFINE_REMOVE(fn) defines.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#define DMAK_DEFINE_REMOVE(fn)
#define DMAK_PLATFORM_REMOVE(fn)	.remove = fn
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define DMAK_DEFINE_REMOVE(fn)
#define DMAK_PLATFORM_REMOVE(fn)	.remove_new = fn
#else
#define DMAK_DEFINE_REMOVE(fn)						\
	static int fn##_int(struct platform_device *pdev)		\
	{								\
		fn(pdev);						\
		return 0;						\
	}
#define DMAK_PLATFORM_REMOVE(fn)	.remove = fn##_int
#endif

/*
 * The dma-buf calls live in the DMA_BUF symbol namespace; 6.13 names
 * namespaces by string. dma_buf_map_attachment_unlocked() came with 6.2
 * and went back to the 6.1 stable kernels; before, the plain call took
 * the reservation lock itself.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#define DMAK_IMPORT_NS_DMA_BUF	MODULE_IMPORT_NS("DMA_BUF")
#else
#define DMAK_IMPORT_NS_DMA_BUF	MODULE_IMPORT_NS(DMA_BUF)
#endif

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#define dmak_dma_buf_map	dma_buf_map_attachment_unlocked
#define dmak_dma_buf_unmap	dma_buf_unmap_attachment_unlocked
#else
#define dmak_dma_buf_map	dma_buf_map_attachment
#define dmak_dma_buf_unmap	dma_buf_unmap_attachment
#endif

/* 6.10 dropped __assign_str()'s source argument: __string() names it. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define dmak_assign_str(dst, src)	__assign_str(dst)
#else
#define dmak_assign_str(dst, src)	__assign_str(dst, src)
#endif

#endif /* _DMAK_COMPAT_H */
