// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: a device's own memory pool, the reserved-memory region its DT node
 * names in memory-region. A reusable "shared-dma-pool" (a CMA area of its
 * own) then serves every buffer, cached or coherent, and the SG rings; a
 * no-map one serves coherent memory only, and cached buffers come from the
 * kernel's allocator as elsewhere.
 *
 * Buffers outlive the binding (struct dmak_dev lives on while files,
 * buffers or mappings use it), the SG rings are the binding's (devres),
 * and the device may be bound again while an old binding's buffers
 * remain: all of them allocate from the same region. The kernel forgets
 * all of a device's regions at once (of_reserved_mem_device_release()),
 * so the region is assigned at the first binding and released when the
 * last user is gone, counted here: each dmak_dev, and each binding until
 * its devres are released.
 */
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/of.h>
#include <linux/of_reserved_mem.h>
#include <linux/slab.h>

#include "dmak.h"

struct dmak_rmem {
	struct list_head node;
	struct device *hw;
	unsigned int users;
};

static LIST_HEAD(dmak_rmems);
static DEFINE_MUTEX(dmak_rmem_lock);	/* dmak_rmems and their users */

static struct dmak_rmem *dmak_rmem_find(struct device *hw)
{
	struct dmak_rmem *rm;

	list_for_each_entry(rm, &dmak_rmems, node)
		if (rm->hw == hw)
			return rm;
	return NULL;
}

static void dmak_rmem_drop(struct device *hw)
{
	struct dmak_rmem *rm;

	mutex_lock(&dmak_rmem_lock);
	rm = dmak_rmem_find(hw);
	if (!WARN_ON(!rm) && !--rm->users) {
		of_reserved_mem_device_release(hw);
		list_del(&rm->node);
		kfree(rm);
	}
	mutex_unlock(&dmak_rmem_lock);
}

static void dmak_rmem_unbind(void *hw)
{
	dmak_rmem_drop(hw);
}

int dmak_rmem_get(struct dmak_dev *dd)
{
	struct device *hw = dd->hw;
	struct dmak_rmem *rm;
	int ret = 0;

	if (!of_find_property(hw->of_node, "memory-region", NULL))
		return 0;

	mutex_lock(&dmak_rmem_lock);
	rm = dmak_rmem_find(hw);
	if (!rm) {
		rm = kzalloc(sizeof(*rm), GFP_KERNEL);
		if (!rm) {
			ret = -ENOMEM;
			goto out;
		}
		ret = of_reserved_mem_device_init(hw);
		if (ret) {
			kfree(rm);
			dev_err_probe(hw, ret,
				      "cannot use the memory-region's pool\n");
			goto out;
		}
		rm->hw = hw;
		list_add(&rm->node, &dmak_rmems);
	}
	rm->users += 2;		/* @dd's, and this binding's devres */
	dd->rmem = true;
out:
	mutex_unlock(&dmak_rmem_lock);
	if (ret)
		return ret;
	/* registered before the SG rings: released after they are freed */
	return devm_add_action_or_reset(hw, dmak_rmem_unbind, hw);
}

void dmak_rmem_put(struct dmak_dev *dd)
{
	if (dd->rmem)
		dmak_rmem_drop(dd->hw);
	dd->rmem = false;
}
