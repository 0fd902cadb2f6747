/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmak: the AXI DMA node's width properties, read the one way both the
 * driver and the simulator (dt=1) read them: from the DMA node, else from
 * its dma-channel children, as Xilinx's device-tree generator places them.
 *
 * Copyright (C) 2026 The pydmak authors
 */
#ifndef DMAK_PROPS_H
#define DMAK_PROPS_H

#include <linux/minmax.h>
#include <linux/property.h>

/* @name from the node, else the widest of its children, else @def */
static inline u32 dmak_props_u32(const struct fwnode_handle *node,
				 const char *name, u32 def)
{
	struct fwnode_handle *child;
	u32 val, best = 0;

	if (!fwnode_property_read_u32(node, name, &val))
		return val;
	fwnode_for_each_available_child_node(node, child)
		if (!fwnode_property_read_u32(child, name, &val))
			best = max(best, val);
	return best ?: def;
}

/* xlnx,include-dre in the node, else in every one of its children */
static inline bool dmak_props_dre(const struct fwnode_handle *node)
{
	struct fwnode_handle *child;
	bool all = false;

	if (fwnode_property_read_bool(node, "xlnx,include-dre"))
		return true;
	fwnode_for_each_available_child_node(node, child) {
		if (!fwnode_property_read_bool(child, "xlnx,include-dre")) {
			fwnode_handle_put(child);
			return false;
		}
		all = true;
	}
	return all;
}

#endif /* DMAK_PROPS_H */
