// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak_sim: the simulated IP's view of memory.
 *
 * A real AXI DMA on a DMA-coherent port snoops the CPU caches; on a
 * non-coherent one (a Zynq UltraScale+ HP port, a platform device on
 * QEMU's virt) it sees only what is in memory, and what it writes goes to
 * memory. The engine therefore reads and writes through the kernel's own
 * cacheable mapping only where the device is coherent, and elsewhere
 * through a non-cacheable mapping of the same pages, as the DMA API maps
 * coherent buffers there: a buffer the driver forgot to clean or to
 * invalidate then goes as wrong as it would on a board.
 *
 * Copyright (C) 2026 The pydmak authors
 */

#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "dmak_compat.h"
#include "dmak_sim.h"

bool dmak_sim_is_ram(u64 addr, u32 len)
{
	return region_intersects(addr, len, IORESOURCE_SYSTEM_RAM,
				 IORES_DESC_NONE) == REGION_INTERSECTS;
}

/* Records whether the device the simulated IP serves is DMA-coherent. */
void dmak_sim_mem_init(struct dmak_sim *sim, struct device *dma_dev)
{
	sim->coherent = dmak_dev_dma_coherent(dma_dev);
}

/**
 * dmak_sim_map() - map @n bytes of system RAM at bus address @addr
 * @sim: the simulated IP
 * @addr: the address the driver programmed
 * @n: how many bytes (not 0)
 *
 * May sleep: call without sim->lock. Return: the mapping, or NULL (also
 * where the range is not all system RAM).
 */
void *dmak_sim_map(struct dmak_sim *sim, u64 addr, size_t n)
{
	unsigned long pfn = PHYS_PFN(addr), i, count;
	struct page **pages;
	void *va;

	if (sim->coherent)
		return memremap(addr, n, MEMREMAP_WB);
	if (!dmak_sim_is_ram(addr, n))	/* pages to map, or a bus error */
		return NULL;

	count = PHYS_PFN(addr + n - 1) - pfn + 1;
	pages = kmalloc_array(count, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return NULL;
	for (i = 0; i < count; i++)
		pages[i] = pfn_to_page(pfn + i);
	va = vmap(pages, count, VM_MAP, pgprot_dmacoherent(PAGE_KERNEL));
	kfree(pages);
	return va ? va + offset_in_page(addr) : NULL;
}

void dmak_sim_unmap(struct dmak_sim *sim, void *mem)
{
	if (sim->coherent)
		memunmap(mem);
	else
		vunmap((void *)((unsigned long)mem & PAGE_MASK));
}
