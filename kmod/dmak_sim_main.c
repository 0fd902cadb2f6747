// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak_sim: a simulated Xilinx AXI DMA IP (PG021) for machines without an
 * FPGA.
 *
 * Each instance is a platform device "dmak-sim.N" that owns the register
 * file (behind a regmap) and an irq domain with the two interrupt lines. It
 * registers a child platform device "pydmak-axi-dma.N" carrying the
 * properties a device-tree node would give (as a software node) and the two
 * interrupts as named resources; dmak.ko binds to that child through its
 * normal probe path and finds the registers through its parent's regmap.
 */
#include <linux/dma-mapping.h>
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/property.h>
#include <linux/regmap.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "dmak_hw.h"

#define DMAK_SIM_NAME		"dmak-sim"
#define DMAK_SIM_MAX		16

static unsigned int instances = 1;
module_param(instances, uint, 0444);
MODULE_PARM_DESC(instances, "Number of simulated AXI DMA IPs (1-16)");

static bool sg;
module_param(sg, bool, 0444);
MODULE_PARM_DESC(sg, "Include the scatter-gather engine (DMASR.SGIncld)");

static unsigned int length_width = 26;
module_param(length_width, uint, 0444);
MODULE_PARM_DESC(length_width, "Width of the length register in bits (8-26)");

static unsigned int addr_width = 32;
module_param(addr_width, uint, 0444);
MODULE_PARM_DESC(addr_width, "Address width in bits (32-64)");

static unsigned int data_width = 32;
module_param(data_width, uint, 0444);
MODULE_PARM_DESC(data_width, "Stream data width in bits");

static bool dre;
module_param(dre, bool, 0444);
MODULE_PARM_DESC(dre, "Include the data realignment engine");

enum { SIM_MM2S, SIM_S2MM, SIM_NCHANS };

/* One channel's register bank. */
struct dmak_sim_chan {
	u32 dmacr;
	u32 dmasr;
	u32 curdesc[2];
	u32 taildesc[2];
	u32 addr[2];
	u32 length;
};

/**
 * struct dmak_sim - one simulated IP
 * @dev: the simulator's platform device
 * @lock: guards the register file; taken from any context
 * @chan: the MM2S and S2MM register banks
 * @sg_ctl: SG_CTL register
 * @reset_reads: DMACR reads that still show Reset set after a reset
 * @fwnode: name of @domain
 * @domain: irq domain of the two interrupt lines
 * @child: the device dmak.ko binds to
 */
struct dmak_sim {
	struct device *dev;
	spinlock_t lock;
	struct dmak_sim_chan chan[SIM_NCHANS];
	u32 sg_ctl;
	unsigned int reset_reads;
	struct fwnode_handle *fwnode;
	struct irq_domain *domain;
	struct platform_device *child;
};

static struct platform_device *dmak_sim_pdevs[DMAK_SIM_MAX];

/* register model */

#define SIM_CR_WRITABLE	(DMAK_CR_RS | DMAK_CR_KEYHOLE | DMAK_CR_CYCLIC | \
			 DMAK_CR_ALL_IRQ | DMAK_CR_THRESHOLD | DMAK_CR_DELAY)

/* A reset of either channel resets the whole core. */
static void dmak_sim_reset(struct dmak_sim *sim)
{
	int i;

	for (i = 0; i < SIM_NCHANS; i++) {
		memset(&sim->chan[i], 0, sizeof(sim->chan[i]));
		sim->chan[i].dmacr = DMAK_CR_RESET_VALUE;
		sim->chan[i].dmasr = DMAK_SR_HALTED |
				     (sg ? DMAK_SR_SG_INCLD : 0);
	}
	sim->sg_ctl = 0;
	sim->reset_reads = 1;
}

static void dmak_sim_write_cr(struct dmak_sim *sim, struct dmak_sim_chan *ch,
			      u32 val)
{
	if (val & DMAK_CR_RESET) {
		dmak_sim_reset(sim);
		return;
	}
	ch->dmacr = (val & SIM_CR_WRITABLE) | (DMAK_CR_RESET_VALUE &
					       ~SIM_CR_WRITABLE);
	if (val & DMAK_CR_RS)
		ch->dmasr &= ~DMAK_SR_HALTED;
	else
		ch->dmasr = (ch->dmasr | DMAK_SR_HALTED) & ~DMAK_SR_IDLE;
}

/* Returns the register @off of bank @ch, or NULL for a reserved offset. */
static u32 *dmak_sim_reg(struct dmak_sim_chan *ch, unsigned int off)
{
	bool msb = addr_width > 32;

	switch (off) {
	case DMAK_DMACR:
		return &ch->dmacr;
	case DMAK_DMASR:
		return &ch->dmasr;
	case DMAK_CURDESC:
		return &ch->curdesc[0];
	case DMAK_CURDESC_MSB:
		return msb ? &ch->curdesc[1] : NULL;
	case DMAK_TAILDESC:
		return &ch->taildesc[0];
	case DMAK_TAILDESC_MSB:
		return msb ? &ch->taildesc[1] : NULL;
	case DMAK_ADDR:
		return &ch->addr[0];
	case DMAK_ADDR_MSB:
		return msb ? &ch->addr[1] : NULL;
	case DMAK_LENGTH:
		return &ch->length;
	default:
		return NULL;
	}
}

static struct dmak_sim_chan *dmak_sim_bank(struct dmak_sim *sim,
					   unsigned int reg, unsigned int *off)
{
	unsigned int i = reg < DMAK_S2MM_BASE ? SIM_MM2S : SIM_S2MM;

	*off = reg - (i == SIM_MM2S ? DMAK_MM2S_BASE : DMAK_S2MM_BASE);
	return &sim->chan[i];
}

static int dmak_sim_reg_read(void *ctx, unsigned int reg, unsigned int *val)
{
	struct dmak_sim *sim = ctx;
	struct dmak_sim_chan *ch;
	unsigned long flags;
	unsigned int off;
	u32 *r;

	spin_lock_irqsave(&sim->lock, flags);
	if (reg == DMAK_SG_CTL) {
		*val = sim->sg_ctl;
	} else {
		ch = dmak_sim_bank(sim, reg, &off);
		r = dmak_sim_reg(ch, off);
		*val = r ? *r : 0;
		if (off == DMAK_DMACR && sim->reset_reads) {
			*val |= DMAK_CR_RESET;
			sim->reset_reads--;
		}
	}
	spin_unlock_irqrestore(&sim->lock, flags);
	return 0;
}

static int dmak_sim_reg_write(void *ctx, unsigned int reg, unsigned int val)
{
	struct dmak_sim *sim = ctx;
	struct dmak_sim_chan *ch;
	unsigned long flags;
	unsigned int off;
	u32 *r;

	spin_lock_irqsave(&sim->lock, flags);
	if (reg == DMAK_SG_CTL) {
		sim->sg_ctl = val;
		goto out;
	}
	ch = dmak_sim_bank(sim, reg, &off);
	switch (off) {
	case DMAK_DMACR:
		dmak_sim_write_cr(sim, ch, val);
		break;
	case DMAK_DMASR:
		ch->dmasr &= ~(val & DMAK_SR_ALL_IRQ);	/* W1C, 12..14 only */
		break;
	default:
		r = dmak_sim_reg(ch, off);
		if (r)
			*r = val;
		break;
	}
out:
	spin_unlock_irqrestore(&sim->lock, flags);
	return 0;
}

static const struct regmap_config dmak_sim_regmap_config = {
	.name = "axi-dma-sim",
	.reg_bits = 32,
	.val_bits = 32,
	.reg_stride = 4,
	.max_register = DMAK_MAX_REG,
	.reg_read = dmak_sim_reg_read,
	.reg_write = dmak_sim_reg_write,
	.disable_locking = true,	/* sim->lock serialises */
};

/* interrupts: a linear domain of two lines, raised from the model */

static int dmak_sim_irq_map(struct irq_domain *d, unsigned int virq,
			    irq_hw_number_t hw)
{
	irq_set_chip_and_handler(virq, &dummy_irq_chip, handle_simple_irq);
	irq_set_chip_data(virq, d->host_data);
	return 0;
}

static const struct irq_domain_ops dmak_sim_irq_ops = {
	.map = dmak_sim_irq_map,
	.xlate = irq_domain_xlate_onecell,
};

static void dmak_sim_irq_teardown(void *data)
{
	struct dmak_sim *sim = data;
	int i;

	for (i = 0; i < SIM_NCHANS; i++)
		irq_dispose_mapping(irq_find_mapping(sim->domain, i));
	irq_domain_remove(sim->domain);
	irq_domain_free_fwnode(sim->fwnode);
}

static int dmak_sim_irq_setup(struct dmak_sim *sim, int id)
{
	sim->fwnode = irq_domain_alloc_named_id_fwnode(DMAK_SIM_NAME, id);
	if (!sim->fwnode)
		return -ENOMEM;
	sim->domain = irq_domain_create_linear(sim->fwnode, SIM_NCHANS,
					       &dmak_sim_irq_ops, sim);
	if (!sim->domain) {
		irq_domain_free_fwnode(sim->fwnode);
		return -ENOMEM;
	}
	return devm_add_action_or_reset(sim->dev, dmak_sim_irq_teardown, sim);
}

/* the child device dmak.ko binds to */

static void dmak_sim_child_remove(void *data)
{
	platform_device_unregister(data);
}

static int dmak_sim_add_child(struct dmak_sim *sim, int id)
{
	struct property_entry props[6] = { };
	struct resource res[SIM_NCHANS];
	struct platform_device_info info = {
		.parent = sim->dev,
		.name = "pydmak-axi-dma",
		.id = id,
		.res = res,
		.num_res = SIM_NCHANS,
		.properties = props,
		.dma_mask = DMA_BIT_MASK(addr_width),
	};
	unsigned int virq;
	int i, n = 0;

	for (i = 0; i < SIM_NCHANS; i++) {
		virq = irq_create_mapping(sim->domain, i);
		if (!virq)
			return -ENOMEM;
		res[i] = (struct resource)DEFINE_RES_IRQ_NAMED(virq,
			i == SIM_MM2S ? "mm2s_introut" : "s2mm_introut");
	}
	props[n++] = PROPERTY_ENTRY_U32("xlnx,addrwidth", addr_width);
	props[n++] = PROPERTY_ENTRY_U32("xlnx,sg-length-width", length_width);
	props[n++] = PROPERTY_ENTRY_U32("xlnx,datawidth", data_width);
	if (sg)
		props[n++] = PROPERTY_ENTRY_BOOL("xlnx,include-sg");
	if (dre)
		props[n++] = PROPERTY_ENTRY_BOOL("xlnx,include-dre");

	sim->child = platform_device_register_full(&info);
	if (IS_ERR(sim->child))
		return PTR_ERR(sim->child);
	return devm_add_action_or_reset(sim->dev, dmak_sim_child_remove,
					sim->child);
}

static int dmak_sim_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct regmap *map;
	struct dmak_sim *sim;
	int ret;

	sim = devm_kzalloc(dev, sizeof(*sim), GFP_KERNEL);
	if (!sim)
		return -ENOMEM;
	sim->dev = dev;
	spin_lock_init(&sim->lock);
	dmak_sim_reset(sim);
	sim->reset_reads = 0;

	map = devm_regmap_init(dev, NULL, sim, &dmak_sim_regmap_config);
	if (IS_ERR(map))
		return PTR_ERR(map);
	ret = dmak_sim_irq_setup(sim, pdev->id);
	if (ret)
		return ret;
	return dmak_sim_add_child(sim, pdev->id);
}

static struct platform_driver dmak_sim_driver = {
	.driver = {
		.name = DMAK_SIM_NAME,
	},
	.probe = dmak_sim_probe,
};

static void dmak_sim_unregister_all(void)
{
	int i;

	for (i = DMAK_SIM_MAX - 1; i >= 0; i--) {
		platform_device_unregister(dmak_sim_pdevs[i]);
		dmak_sim_pdevs[i] = NULL;
	}
}

static int dmak_sim_check_params(void)
{
	if (!instances || instances > DMAK_SIM_MAX ||
	    length_width < DMAK_LENGTH_WIDTH_MIN ||
	    length_width > DMAK_LENGTH_WIDTH_MAX ||
	    addr_width < 32 || addr_width > 64 ||
	    data_width < 8 || data_width > 1024 ||
	    !is_power_of_2(data_width)) {
		pr_err(DMAK_SIM_NAME ": instances 1-16, length_width 8-26, addr_width 32-64, data_width a power of 2 in 8-1024\n");
		return -EINVAL;
	}
	return 0;
}

static int __init dmak_sim_init(void)
{
	struct platform_device *pdev;
	unsigned int i;
	int ret;

	ret = dmak_sim_check_params();
	if (ret)
		return ret;
	ret = platform_driver_register(&dmak_sim_driver);
	if (ret)
		return ret;
	for (i = 0; i < instances; i++) {
		pdev = platform_device_register_simple(DMAK_SIM_NAME, i,
						       NULL, 0);
		if (IS_ERR(pdev)) {
			ret = PTR_ERR(pdev);
			dmak_sim_unregister_all();
			platform_driver_unregister(&dmak_sim_driver);
			return ret;
		}
		dmak_sim_pdevs[i] = pdev;
	}
	return 0;
}
module_init(dmak_sim_init);

static void __exit dmak_sim_exit(void)
{
	dmak_sim_unregister_all();
	platform_driver_unregister(&dmak_sim_driver);
}
module_exit(dmak_sim_exit);

MODULE_DESCRIPTION("Simulated Xilinx AXI DMA IP for dmak");
MODULE_AUTHOR("pydmak developers");
MODULE_LICENSE("GPL");
