// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak_sim: device-tree mode (dt=1), built with CONFIG_OF only.
 *
 * A node compatible with "pydmak,axi-dma-sim" is an interrupt controller
 * (one cell: the line) and a bus. Each child that is an AXI DMA node
 * ("xlnx,axi-dma-1.00.a" or "pydmak,axi-dma") becomes a simulated IP
 * configured from the child's own properties, read as dmak.ko reads them:
 * its register file is a regmap of the sim node's device named as the
 * child node, and its interrupt lines are those the child's interrupts
 * name, in the DMA node (interrupt-names) or in its dma-channel children.
 * The irq domain is registered on the sim node's fwnode, so the children's
 * interrupts resolve through it; then the children are populated and
 * dmak.ko probes them through their DT nodes, as on a board.
 */
#include <linux/idr.h>
#include <linux/irqdomain.h>
#include <linux/of.h>
#include <linux/of_address.h>
#include <linux/of_irq.h>
#include <linux/of_platform.h>
#include <linux/platform_device.h>

#include "dmak_hw.h"
#include "dmak_props.h"
#include "dmak_sim.h"

#define DMAK_SIM_OF_LINES	(SIM_NCHANS * DMAK_SIM_MAX)

/**
 * struct dmak_sim_bus - one sim node
 * @dev: its platform device
 * @domain: its irq domain, on the node's fwnode
 * @lines: the lines a channel took
 * @count: the simulated IPs made from its children
 */
struct dmak_sim_bus {
	struct device *dev;
	struct irq_domain *domain;
	DECLARE_BITMAP(lines, DMAK_SIM_OF_LINES);
	unsigned int count;
};

static const char * const dmak_sim_of_irq_names[SIM_NCHANS] = {
	[SIM_MM2S] = "mm2s_introut",
	[SIM_S2MM] = "s2mm_introut",
};

static const char * const dmak_sim_of_chan_compatible[SIM_NCHANS] = {
	[SIM_MM2S] = "xlnx,axi-dma-mm2s-channel",
	[SIM_S2MM] = "xlnx,axi-dma-s2mm-channel",
};

static atomic_t dmak_sim_of_bound = ATOMIC_INIT(0);
/* instance numbers (debugfs, engine threads), unique over all sim nodes */
static DEFINE_IDA(dmak_sim_of_ids);

static int dmak_sim_of_config(struct dmak_sim_bus *bus, struct dmak_sim *sim,
			      struct device_node *np)
{
	const struct fwnode_handle *fw = of_fwnode_handle(np);
	const char *name = fwnode_get_name(fw);

	if (strscpy(sim->node_name, name, sizeof(sim->node_name)) < 0)
		return dev_err_probe(bus->dev, -EINVAL,
				     "%pOF: node name longer than %zu\n", np,
				     sizeof(sim->node_name) - 1);
	sim->sg = of_property_read_bool(np, "xlnx,include-sg");
	sim->addr_width = dmak_props_u32(fw, "xlnx,addrwidth", 32);
	sim->length_width = dmak_props_u32(fw, "xlnx,sg-length-width",
					   DMAK_LENGTH_WIDTH_DEF);
	sim->data_width = dmak_props_u32(fw, "xlnx,datawidth", 32);
	sim->dre = dmak_props_dre(fw);
	if (sim->addr_width < 32 || sim->addr_width > 64 ||
	    sim->length_width < DMAK_LENGTH_WIDTH_MIN ||
	    sim->length_width > DMAK_LENGTH_WIDTH_MAX ||
	    sim->data_width < 8 || sim->data_width > 1024 ||
	    !is_power_of_2(sim->data_width))
		return dev_err_probe(bus->dev, -EINVAL,
				     "%pOF: xlnx,addrwidth %u (32-64), xlnx,sg-length-width %u (8-26) or xlnx,datawidth %u (a power of 2 in 8-1024) out of range\n",
				     np, sim->addr_width, sim->length_width,
				     sim->data_width);
	return 0;
}

/* interrupts */

/* Maps interrupt @index of @np, which must be a free line of this node. */
static int dmak_sim_of_line(struct dmak_sim_bus *bus, struct device_node *np,
			    int index, unsigned int *virq)
{
	struct of_phandle_args args;
	int ret;

	ret = of_irq_parse_one(np, index, &args);
	if (ret)
		return dev_err_probe(bus->dev, ret,
				     "%pOF: cannot parse interrupt %d\n", np,
				     index);
	if (args.np != bus->dev->of_node || args.args_count != 1 ||
	    args.args[0] >= DMAK_SIM_OF_LINES) {
		of_node_put(args.np);
		return dev_err_probe(bus->dev, -EINVAL,
				     "%pOF: interrupt %d is not a line 0-%d of %pOF\n",
				     np, index, DMAK_SIM_OF_LINES - 1,
				     bus->dev->of_node);
	}
	if (test_and_set_bit(args.args[0], bus->lines)) {
		of_node_put(args.np);
		return dev_err_probe(bus->dev, -EBUSY,
				     "%pOF: line %u is another channel's\n",
				     np, args.args[0]);
	}
	*virq = irq_create_of_mapping(&args);
	of_node_put(args.np);
	return *virq ? 0 : -ENOMEM;
}

/*
 * The channels' lines, where dmak.ko finds them: named in the DMA node,
 * else one in each dma-channel child, by the child's compatible.
 */
static int dmak_sim_of_irqs(struct dmak_sim_bus *bus, struct dmak_sim *sim,
			    struct device_node *np)
{
	struct device_node *child;
	int ch, index, ret;
	bool found = false;

	for (ch = 0; ch < SIM_NCHANS; ch++) {
		index = of_property_match_string(np, "interrupt-names",
						 dmak_sim_of_irq_names[ch]);
		if (index < 0)
			continue;
		ret = dmak_sim_of_line(bus, np, index, &sim->virq[ch]);
		if (ret)
			return ret;
		found = true;
	}
	if (found)
		return 0;
	for_each_available_child_of_node(np, child) {
		for (ch = 0; ch < SIM_NCHANS; ch++) {
			if (sim->virq[ch] ||
			    !of_device_is_compatible(child,
						     dmak_sim_of_chan_compatible[ch]))
				continue;
			ret = dmak_sim_of_line(bus, child, 0, &sim->virq[ch]);
			if (ret) {
				of_node_put(child);
				return ret;
			}
			found = true;
		}
	}
	if (!found)
		return dev_err_probe(bus->dev, -EINVAL,
				     "%pOF: no interrupt named mm2s_introut or s2mm_introut, none in a dma-channel child\n",
				     np);
	return 0;
}

static void dmak_sim_of_irq_teardown(void *data)
{
	struct dmak_sim_bus *bus = data;
	unsigned int line;

	for (line = 0; line < DMAK_SIM_OF_LINES; line++)
		irq_dispose_mapping(irq_find_mapping(bus->domain, line));
	irq_domain_remove(bus->domain);
}

static void dmak_sim_of_free_id(void *data)
{
	struct dmak_sim *sim = data;

	ida_free(&dmak_sim_of_ids, sim->id);
}

static int dmak_sim_of_add(struct dmak_sim_bus *bus, struct device_node *np)
{
	struct dmak_sim *sim;
	int id, ret;

	id = ida_alloc_max(&dmak_sim_of_ids, DMAK_SIM_MAX - 1, GFP_KERNEL);
	if (id < 0)
		return dev_err_probe(bus->dev, id,
				     "%pOF: more than %d simulated IPs\n", np,
				     DMAK_SIM_MAX);
	sim = dmak_sim_new(bus->dev, id);
	if (IS_ERR(sim)) {
		ida_free(&dmak_sim_of_ids, id);
		return PTR_ERR(sim);
	}
	ret = devm_add_action_or_reset(bus->dev, dmak_sim_of_free_id, sim);
	if (ret)
		return ret;
	/* the engine's view of memory: that of the device the node makes */
	sim->coherent = of_dma_is_coherent(np);
	ret = dmak_sim_of_config(bus, sim, np);
	if (!ret)
		ret = dmak_sim_of_irqs(bus, sim, np);
	if (!ret)
		ret = dmak_sim_start(sim);
	if (!ret)
		bus->count++;
	return ret;
}

static int dmak_sim_of_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct device_node *np = dev->of_node, *child;
	struct dmak_sim_bus *bus;
	u32 cells;
	int ret;

	if (!of_property_read_bool(np, "interrupt-controller") ||
	    of_property_read_u32(np, "#interrupt-cells", &cells) || cells != 1)
		return dev_err_probe(dev, -EINVAL,
				     "%pOF: needs interrupt-controller and #interrupt-cells = <1>\n",
				     np);
	bus = devm_kzalloc(dev, sizeof(*bus), GFP_KERNEL);
	if (!bus)
		return -ENOMEM;
	bus->dev = dev;
	bus->domain = irq_domain_create_linear(of_fwnode_handle(np),
					       DMAK_SIM_OF_LINES,
					       &dmak_sim_irq_ops, bus);
	if (!bus->domain)
		return -ENOMEM;
	ret = devm_add_action_or_reset(dev, dmak_sim_of_irq_teardown, bus);
	if (ret)
		return ret;

	for_each_available_child_of_node(np, child) {
		if (!of_device_is_compatible(child, "xlnx,axi-dma-1.00.a") &&
		    !of_device_is_compatible(child, "pydmak,axi-dma"))
			continue;
		ret = dmak_sim_of_add(bus, child);
		if (ret) {
			of_node_put(child);
			return ret;
		}
	}
	if (!bus->count)
		return dev_err_probe(dev, -ENODEV,
				     "%pOF: no AXI DMA child node\n", np);
	/* last: depopulated first, while the engines still run */
	ret = devm_of_platform_populate(dev);
	if (ret)
		return dev_err_probe(dev, ret, "cannot populate %pOF\n", np);
	atomic_inc(&dmak_sim_of_bound);
	dev_info(dev, "%u simulated AXI DMA IPs from %pOF\n", bus->count, np);
	return 0;
}

/* No MODULE_DEVICE_TABLE: the simulator loads only when asked to. */
static const struct of_device_id dmak_sim_of_match[] = {
	{ .compatible = "pydmak,axi-dma-sim" },
	{ }
};

static struct platform_driver dmak_sim_of_driver = {
	.driver = {
		.name = DMAK_SIM_NAME "-dt",
		.of_match_table = dmak_sim_of_match,
	},
	.probe = dmak_sim_of_probe,
};

/**
 * dmak_sim_of_register() - bind the sim nodes of the device tree
 *
 * Return: 0 once at least one sim node is bound, -ENODEV if the device
 * tree has none or none would bind, or another negative errno.
 */
int dmak_sim_of_register(void)
{
	struct device_node *np;
	int ret;

	np = of_find_compatible_node(NULL, NULL, "pydmak,axi-dma-sim");
	if (!np) {
		pr_err(DMAK_SIM_NAME ": dt=1: no device-tree node is compatible with pydmak,axi-dma-sim\n");
		return -ENODEV;
	}
	of_node_put(np);
	ret = platform_driver_register(&dmak_sim_of_driver);
	if (ret)
		return ret;
	if (!atomic_read(&dmak_sim_of_bound)) {
		pr_err(DMAK_SIM_NAME ": dt=1: no pydmak,axi-dma-sim node could be bound (see the messages above)\n");
		platform_driver_unregister(&dmak_sim_of_driver);
		return -ENODEV;
	}
	return 0;
}

void dmak_sim_of_unregister(void)
{
	platform_driver_unregister(&dmak_sim_of_driver);
	ida_destroy(&dmak_sim_of_ids);
}
