// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: what an instance is called and where it is: the block-design name,
 * the firmware node's name, the register base address and the compatible
 * strings, as sysfs shows them to find a device by name.
 */
#include <linux/of.h>
#include <linux/platform_device.h>
#include <linux/property.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dmak.h"

/*
 * The label of @np in /__symbols__ (a DT built with symbols, as overlays
 * are), or NULL. The properties of /__symbols__ map a label to a path.
 * The label is a copy for the caller to free.
 */
static char *dmak_dt_label(struct device_node *np)
{
	struct device_node *symbols;
	char *label = NULL;
	struct property *pp;
	char *path;

	if (!IS_ENABLED(CONFIG_OF) || !np)
		return NULL;
	symbols = of_find_node_by_path("/__symbols__");
	if (!symbols)
		return NULL;
	path = kasprintf(GFP_KERNEL, "%pOF", np);
	if (path) {
		/* for_each_property_of_node(), which needs CONFIG_OF */
		for (pp = symbols->properties; pp; pp = pp->next) {
			if (pp->length == strlen(path) + 1 &&
			    !memcmp(pp->value, path, pp->length)) {
				label = kstrdup(pp->name, GFP_KERNEL);
				break;
			}
		}
		kfree(path);
	}
	of_node_put(symbols);
	return label;
}

/* The compatible strings, separated by spaces, or an empty string. */
static char *dmak_compatible(struct device *hw)
{
	const char **strs;
	char *out, *p;
	size_t len = 1;
	int i, n;

	n = device_property_string_array_count(hw, "compatible");
	if (n <= 0)
		return kstrdup("", GFP_KERNEL);
	strs = kcalloc(n, sizeof(*strs), GFP_KERNEL);
	if (!strs)
		return NULL;
	n = device_property_read_string_array(hw, "compatible", strs, n);
	for (i = 0; i < n; i++)
		len += strlen(strs[i]) + 1;
	out = kzalloc(len, GFP_KERNEL);
	for (i = 0, p = out; out && i < n; i++)
		p += sprintf(p, "%s%s", i ? " " : "", strs[i]);
	kfree(strs);
	return out;
}

/**
 * dmak_ident_init() - find the instance's name, node, base and compatible
 * @dd: the instance
 * @pdev: its platform device
 *
 * The name is, in this order: the "xlnx,name" property (Xilinx's
 * system-device-tree output has it), the node's label in /__symbols__,
 * the firmware node's name, the platform device's name.
 *
 * Return: 0, or -ENOMEM.
 */
int dmak_ident_init(struct dmak_dev *dd, struct platform_device *pdev)
{
	struct fwnode_handle *fwnode = dev_fwnode(&pdev->dev);
	struct resource *res;
	const char *str;

	dd->node = kstrdup(fwnode ? fwnode_get_name(fwnode) ?: "" : "",
			   GFP_KERNEL);
	if (!device_property_read_string(&pdev->dev, "xlnx,name", &str))
		dd->ip_name = kstrdup(str, GFP_KERNEL);
	else
		dd->ip_name = dmak_dt_label(dev_of_node(&pdev->dev));
	if (!dd->ip_name)	/* no label (or no memory for it) */
		dd->ip_name = kstrdup(dd->node && *dd->node ? dd->node :
				      dev_name(&pdev->dev), GFP_KERNEL);
	dd->compatible = dmak_compatible(&pdev->dev);
	res = platform_get_resource(pdev, IORESOURCE_MEM, 0);
	if (res) {
		dd->base = res->start;
		dd->has_base = true;
	}
	if (!dd->node || !dd->ip_name || !dd->compatible)
		return -ENOMEM;
	return 0;
}

void dmak_ident_free(struct dmak_dev *dd)
{
	kfree(dd->node);
	kfree(dd->ip_name);
	kfree(dd->compatible);
}
