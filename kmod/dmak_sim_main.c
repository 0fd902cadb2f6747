// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak_sim: a simulated Xilinx AXI DMA IP (PG021) for machines without an
 * FPGA.
 *
 * By default, each instance is a platform device "dmak-sim.N" that owns the
 * register file (behind a regmap named as the DMA's node) and an irq domain
 * with the two interrupt lines. It registers a child platform device
 * "pydmak-axi-dma.N" carrying the properties a device-tree node would give
 * (as a software node named like one, "dma@<base>"), the two interrupts as
 * named resources and a memory resource at a Vivado-like base address;
 * dmak.ko binds to that child through its normal probe path and finds the
 * registers through its parent's regmap (the memory resource only says
 * where the IP would be). With dt=1, device-tree nodes describe the
 * instances instead (dmak_sim_of.c).
 */
#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/property.h>
#include <linux/regmap.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "dmak_hw.h"
#include "dmak_sim.h"

#define DMAK_SIM_FIFO_MAX	SZ_4M
/* Where Vivado puts AXI DMA IPs on a Zynq: 64 KiB apart from 0x40400000. */
#define DMAK_SIM_BASE		0x40400000
#define DMAK_SIM_STRIDE		SZ_64K

static unsigned int instances = 1;
module_param(instances, uint, 0444);
MODULE_PARM_DESC(instances, "Number of simulated AXI DMA IPs (1-16)");

static bool sim_sg[DMAK_SIM_MAX];
static unsigned int n_sim_sg;
module_param_array_named(sg, sim_sg, bool, &n_sim_sg, 0444);
MODULE_PARM_DESC(sg,
		 "Per instance: include the scatter-gather engine, e.g. sg=0,1 (later instances take the last value; default 0)");

static unsigned int length_width = 26;
module_param(length_width, uint, 0444);
MODULE_PARM_DESC(length_width, "Width of the length register in bits (8-26)");

static unsigned int sim_addr_width[DMAK_SIM_MAX];
static unsigned int n_sim_addr_width;
module_param_array_named(addr_width, sim_addr_width, uint, &n_sim_addr_width,
			 0444);
MODULE_PARM_DESC(addr_width,
		 "Per instance: address width in bits, 32-64 (later instances take the last value; default 32)");

static unsigned int data_width = 32;
module_param(data_width, uint, 0444);
MODULE_PARM_DESC(data_width, "Stream data width in bits");

static bool dre;
module_param(dre, bool, 0444);
MODULE_PARM_DESC(dre, "Include the data realignment engine");

static unsigned long long bandwidth;
module_param(bandwidth, ullong, 0444);
MODULE_PARM_DESC(bandwidth,
		 "Stream bytes/s, 0 for unthrottled (per instance in debugfs)");

static unsigned int fifo_depth = SZ_64K;
module_param(fifo_depth, uint, 0444);
MODULE_PARM_DESC(fifo_depth,
		 "Bytes the loopback FIFO holds, up to 4 MiB (per instance in debugfs)");

static bool dt;
module_param(dt, bool, 0444);
MODULE_PARM_DESC(dt,
		 "Make the instances from the AXI DMA child nodes of device-tree nodes compatible with pydmak,axi-dma-sim (needs CONFIG_OF; instances, sg, addr_width, length_width, data_width and dre are then unused)");

static struct platform_device *dmak_sim_pdevs[DMAK_SIM_MAX];

/*
 * The simulated IPs' address window: their memory resources nest here, not
 * in iomem_resource, as nothing is mapped at these addresses.
 */
static struct resource dmak_sim_window =
	DEFINE_RES_MEM_NAMED(DMAK_SIM_BASE, DMAK_SIM_MAX * DMAK_SIM_STRIDE,
			     DMAK_SIM_NAME);

static const char * const dmak_sim_compatible[] = {
	"xlnx,axi-dma-7.1", "xlnx,axi-dma-1.00.a",
};

static struct dentry *dmak_sim_debugfs;

/* Per-instance parameters: an instance past the values given takes the last. */
static bool dmak_sim_sg_of(unsigned int id)
{
	return n_sim_sg ? sim_sg[min(id, n_sim_sg - 1)] : false;
}

static unsigned int dmak_sim_addr_width_of(unsigned int id)
{
	return n_sim_addr_width ?
	       sim_addr_width[min(id, n_sim_addr_width - 1)] : 32;
}

/* register model */

#define SIM_CR_WRITABLE	(DMAK_CR_RS | DMAK_CR_KEYHOLE | DMAK_CR_CYCLIC | \
			 DMAK_CR_ALL_IRQ | DMAK_CR_THRESHOLD | DMAK_CR_DELAY)

/* Registers and transfer state after a reset; faults stay armed. */
void dmak_sim_reset_regs(struct dmak_sim *sim)
{
	struct dmak_sim_chan *c;
	unsigned long faults;
	int i;

	for (i = 0; i < SIM_NCHANS; i++) {
		c = &sim->chan[i];
		faults = c->faults;
		memset(c, 0, sizeof(*c));
		c->faults = faults;
		c->dmacr = DMAK_CR_RESET_VALUE;
		c->dmasr = DMAK_SR_HALTED;
		if (sim->sg) {
			c->dmasr |= DMAK_SR_SG_INCLD;
			dmak_sim_sg_reset_chan(c);
		}
	}
	sim->sg_ctl = 0;
}

static void dmak_sim_write_cr(struct dmak_sim *sim, int ch, u32 val)
{
	struct dmak_sim_chan *c = &sim->chan[ch];
	u32 level = dmak_sim_irq_level(c);
	u32 old = c->dmacr;

	if (val & DMAK_CR_RESET) {
		/* The engine resets the core once it has quiesced. */
		sim->resetting = true;
		wake_up(&sim->kick);
		return;
	}
	c->dmacr = (val & SIM_CR_WRITABLE) |
		   (DMAK_CR_RESET_VALUE & ~SIM_CR_WRITABLE);
	if (sim->sg) {
		dmak_sim_sg_write_cr(sim, ch, old);
	} else if (val & DMAK_CR_RS) {
		c->dmasr &= ~DMAK_SR_HALTED;
		/*
		 * RS alone moves nothing: only a start a STOP held back is
		 * work for the engine. Waking it for every DMACR write costs
		 * a cross-CPU wake-up per transfer for nothing.
		 */
		if (c->start)
			wake_up(&sim->kick);
	} else if (!c->busy) {
		c->dmasr = (c->dmasr | DMAK_SR_HALTED) & ~DMAK_SR_IDLE;
	}
	dmak_sim_irq_update(sim, ch, level);
}

/* Returns the register @off of channel @c, or NULL for a reserved offset. */
static u32 *dmak_sim_reg(const struct dmak_sim *sim, struct dmak_sim_chan *c,
			 unsigned int off)
{
	bool msb = sim->addr_width > 32;

	switch (off) {
	case DMAK_DMACR:
		return &c->dmacr;
	case DMAK_DMASR:
		return &c->dmasr;
	case DMAK_CURDESC:
		return &c->curdesc[0];
	case DMAK_CURDESC_MSB:
		return msb ? &c->curdesc[1] : NULL;
	case DMAK_TAILDESC:
		return &c->taildesc[0];
	case DMAK_TAILDESC_MSB:
		return msb ? &c->taildesc[1] : NULL;
	case DMAK_ADDR:
		return &c->addr[0];
	case DMAK_ADDR_MSB:
		return msb ? &c->addr[1] : NULL;
	case DMAK_LENGTH:
		return &c->length;
	default:
		return NULL;
	}
}

/* Splits a register number into channel and offset in its bank. */
static int dmak_sim_bank(unsigned int reg, unsigned int *off)
{
	int ch = reg < DMAK_S2MM_BASE ? SIM_MM2S : SIM_S2MM;

	*off = reg - (ch == SIM_MM2S ? DMAK_MM2S_BASE : DMAK_S2MM_BASE);
	return ch;
}

static int dmak_sim_reg_read(void *ctx, unsigned int reg, unsigned int *val)
{
	struct dmak_sim *sim = ctx;
	unsigned long flags;
	unsigned int off;
	u32 *r;
	int ch;

	spin_lock_irqsave(&sim->lock, flags);
	if (reg == DMAK_SG_CTL) {
		*val = sim->sg_ctl;
	} else {
		ch = dmak_sim_bank(reg, &off);
		r = dmak_sim_reg(sim, &sim->chan[ch], off);
		*val = r ? *r : 0;
		if (off == DMAK_DMACR && sim->resetting)
			*val |= DMAK_CR_RESET;
	}
	spin_unlock_irqrestore(&sim->lock, flags);
	return 0;
}

static int dmak_sim_reg_write(void *ctx, unsigned int reg, unsigned int val)
{
	struct dmak_sim *sim = ctx;
	struct dmak_sim_chan *c;
	unsigned long flags;
	unsigned int off;
	u32 *r;
	int ch;

	spin_lock_irqsave(&sim->lock, flags);
	if (reg == DMAK_SG_CTL) {
		sim->sg_ctl = val;
		goto out;
	}
	ch = dmak_sim_bank(reg, &off);
	c = &sim->chan[ch];
	switch (off) {
	case DMAK_DMACR:
		dmak_sim_write_cr(sim, ch, val);
		break;
	case DMAK_DMASR:
		c->dmasr &= ~(val & DMAK_SR_ALL_IRQ);	/* W1C, 12..14 only */
		break;
	case DMAK_LENGTH:
		/* Writing LENGTH starts a direct-mode transfer. */
		c->length = val & (BIT(sim->length_width) - 1);
		/* Built with SG, the IP has no direct mode: LENGTH is inert. */
		if (c->length && (c->dmacr & DMAK_CR_RS) && !c->busy &&
		    !sim->sg) {
			c->start = true;
			wake_up(&sim->kick);
		}
		break;
	case DMAK_CURDESC:
	case DMAK_CURDESC_MSB:
		/* SG: CURDESC takes writes only while the channel is halted. */
		if (sim->sg && !(c->dmasr & DMAK_SR_HALTED))
			break;
		r = dmak_sim_reg(sim, c, off);
		if (r)
			*r = val;
		break;
	case DMAK_TAILDESC:
		/* SG: writing TAILDESC starts or continues the chain. */
		c->taildesc[0] = val;
		if (sim->sg)
			dmak_sim_sg_write_tail(sim, ch);
		break;
	default:
		r = dmak_sim_reg(sim, c, off);
		if (r)
			*r = val;
		break;
	}
out:
	spin_unlock_irqrestore(&sim->lock, flags);
	return 0;
}

/* .name: the DMA's node name, which dmak.ko looks up in its parent */
static const struct regmap_config dmak_sim_regmap_config = {
	.reg_bits = 32,
	.val_bits = 32,
	.reg_stride = 4,
	.max_register = DMAK_MAX_REG,
	.reg_read = dmak_sim_reg_read,
	.reg_write = dmak_sim_reg_write,
	.disable_locking = true,	/* sim->lock serialises */
};

/* debugfs: fault injection and stream settings, per instance */

/* "mm2s decerr", "s2mm lost-irq", ...: arms a fault; "clear" disarms all. */
static ssize_t dmak_sim_fault_write(struct file *file, const char __user *ubuf,
				    size_t len, loff_t *ppos)
{
	struct dmak_sim *sim = ((struct seq_file *)file->private_data)->private;
	char buf[32], *kind;
	int ch, fault;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	kind = strim(buf);
	if (!strcmp(kind, "clear")) {
		for (ch = 0; ch < SIM_NCHANS; ch++)
			sim->chan[ch].faults = 0;
		return len;
	}
	if (!strncmp(kind, "mm2s ", 5))
		ch = SIM_MM2S;
	else if (!strncmp(kind, "s2mm ", 5))
		ch = SIM_S2MM;
	else
		return -EINVAL;
	fault = match_string(dmak_sim_fault_names, SIM_NFAULTS, kind + 5);
	if (fault < 0)
		return fault;
	set_bit(fault, &sim->chan[ch].faults);
	return len;
}

/* Lists the armed faults. */
static int dmak_sim_fault_show(struct seq_file *m, void *unused)
{
	struct dmak_sim *sim = m->private;
	int ch, f;

	for (ch = 0; ch < SIM_NCHANS; ch++)
		for (f = 0; f < SIM_NFAULTS; f++)
			if (test_bit(f, &sim->chan[ch].faults))
				seq_printf(m, "%s %s\n",
					   ch == SIM_MM2S ? "mm2s" : "s2mm",
					   dmak_sim_fault_names[f]);
	return 0;
}

static int dmak_sim_fault_open(struct inode *inode, struct file *file)
{
	return single_open(file, dmak_sim_fault_show, inode->i_private);
}

static const struct file_operations dmak_sim_fault_fops = {
	.owner = THIS_MODULE,
	.open = dmak_sim_fault_open,
	.read = seq_read,
	.write = dmak_sim_fault_write,
	.llseek = seq_lseek,
	.release = single_release,
};

/* What the instance was made as, from the parameters or its DT node. */
static int dmak_sim_config_show(struct seq_file *m, void *unused)
{
	struct dmak_sim *sim = m->private;

	seq_printf(m, "node=%s sg=%d addr_width=%u length_width=%u data_width=%u dre=%d\n",
		   sim->node_name, sim->sg, sim->addr_width,
		   sim->length_width, sim->data_width, sim->dre);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dmak_sim_config);

static void dmak_sim_debugfs_remove(void *data)
{
	struct dmak_sim *sim = data;

	debugfs_remove_recursive(sim->debugfs);
}

static int dmak_sim_debugfs_add(struct dmak_sim *sim)
{
	char name[16];

	snprintf(name, sizeof(name), "%d", sim->id);
	sim->debugfs = debugfs_create_dir(name, dmak_sim_debugfs);
	debugfs_create_file("fault", 0600, sim->debugfs, sim,
			    &dmak_sim_fault_fops);
	debugfs_create_file("config", 0400, sim->debugfs, sim,
			    &dmak_sim_config_fops);
	debugfs_create_u64("bandwidth", 0600, sim->debugfs, &sim->bandwidth);
	debugfs_create_u32("fifo_depth", 0600, sim->debugfs,
			   &sim->fifo_depth);
	return devm_add_action_or_reset(sim->dev, dmak_sim_debugfs_remove, sim);
}

/* the engine thread and its FIFO */

static void dmak_sim_engine_stop(void *data)
{
	struct dmak_sim *sim = data;

	kthread_stop(sim->engine);
	vfree(sim->stream.data);
}

static int dmak_sim_engine_add(struct dmak_sim *sim)
{
	int ret;

	BUILD_BUG_ON_NOT_POWER_OF_2(DMAK_SIM_FIFO_MAX);
	sim->stream.size = DMAK_SIM_FIFO_MAX;
	sim->stream.data = vmalloc(sim->stream.size);
	if (!sim->stream.data)
		return -ENOMEM;
	ret = dmak_sim_engine_start(sim);
	if (ret) {
		vfree(sim->stream.data);
		return ret;
	}
	return devm_add_action_or_reset(sim->dev, dmak_sim_engine_stop, sim);
}

/* interrupts: a linear domain of two lines, raised from the model */

static int dmak_sim_irq_map(struct irq_domain *d, unsigned int virq,
			    irq_hw_number_t hw)
{
	irq_set_chip_and_handler(virq, &dummy_irq_chip, handle_simple_irq);
	irq_set_chip_data(virq, d->host_data);
	return 0;
}

const struct irq_domain_ops dmak_sim_irq_ops = {
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

static void dmak_sim_swnode_remove(void *data)
{
	software_node_unregister(data);
}

/* The child's software node: the properties of a DT node, and its name. */
static int dmak_sim_add_swnode(struct dmak_sim *sim)
{
	struct property_entry *props = sim->props;
	int ret, n = 0;

	snprintf(sim->ip_name, sizeof(sim->ip_name), "axi_dma_%d", sim->id);
	props[n++] = PROPERTY_ENTRY_STRING_ARRAY("compatible",
						 dmak_sim_compatible);
	props[n++] = PROPERTY_ENTRY_STRING("xlnx,name", sim->ip_name);
	props[n++] = PROPERTY_ENTRY_U32("xlnx,addrwidth", sim->addr_width);
	props[n++] = PROPERTY_ENTRY_U32("xlnx,sg-length-width",
					sim->length_width);
	props[n++] = PROPERTY_ENTRY_U32("xlnx,datawidth", sim->data_width);
	props[n++] = PROPERTY_ENTRY_U32("pydmak,sg-clock-hz",
					DMAK_SIM_SG_CLOCK_HZ);
	if (sim->sg)
		props[n++] = PROPERTY_ENTRY_BOOL("xlnx,include-sg");
	if (sim->dre)
		props[n++] = PROPERTY_ENTRY_BOOL("xlnx,include-dre");
	props[n] = (struct property_entry){ };	/* the terminator */

	sim->swnode.name = sim->node_name;
	sim->swnode.properties = props;
	ret = software_node_register(&sim->swnode);
	if (ret)
		return ret;
	return devm_add_action_or_reset(sim->dev, dmak_sim_swnode_remove,
					&sim->swnode);
}

static int dmak_sim_add_child(struct dmak_sim *sim, int id)
{
	u64 base = DMAK_SIM_BASE + (u64)id * DMAK_SIM_STRIDE;
	struct resource res[SIM_NCHANS + 1];
	struct platform_device_info info = {
		.parent = sim->dev,
		.name = "pydmak-axi-dma",
		.id = id,
		.res = res,
		.num_res = ARRAY_SIZE(res),
		.dma_mask = DMA_BIT_MASK(sim->addr_width),
	};
	unsigned int virq;
	int i, ret;

	/* The register window, as a DT node's reg gives it. */
	res[0] = (struct resource)DEFINE_RES_MEM(base, DMAK_SIM_STRIDE);
	res[0].parent = &dmak_sim_window;
	for (i = 0; i < SIM_NCHANS; i++) {
		virq = irq_create_mapping(sim->domain, i);
		if (!virq)
			return -ENOMEM;
		sim->virq[i] = virq;
		res[i + 1] = (struct resource)DEFINE_RES_IRQ_NAMED(virq,
			i == SIM_MM2S ? "mm2s_introut" : "s2mm_introut");
	}
	ret = dmak_sim_add_swnode(sim);
	if (ret)
		return ret;
	info.fwnode = software_node_fwnode(&sim->swnode);

	sim->child = platform_device_register_full(&info);
	if (IS_ERR(sim->child))
		return PTR_ERR(sim->child);
	dmak_sim_mem_init(sim, &sim->child->dev);
	return devm_add_action_or_reset(sim->dev, dmak_sim_child_remove,
					sim->child);
}

/**
 * dmak_sim_new() - a simulated IP with the module's stream settings
 * @dev: the device its resources belong to (devm)
 * @id: its number, for debugfs and the engine thread
 *
 * The caller sets the configuration (@sg, @addr_width, @length_width,
 * @data_width, @dre, @node_name), then calls dmak_sim_start().
 *
 * Return: the instance, or an ERR_PTR().
 */
struct dmak_sim *dmak_sim_new(struct device *dev, int id)
{
	struct dmak_sim *sim;

	sim = devm_kzalloc(dev, sizeof(*sim), GFP_KERNEL);
	if (!sim)
		return ERR_PTR(-ENOMEM);
	sim->dev = dev;
	sim->id = id;
	spin_lock_init(&sim->lock);
	init_waitqueue_head(&sim->kick);
	sim->fifo_depth = fifo_depth;
	sim->bandwidth = bandwidth;
	return sim;
}

/**
 * dmak_sim_start() - bring up a configured instance
 * @sim: from dmak_sim_new()
 *
 * Resets the registers, registers the regmap on @sim->dev under the DMA's
 * node name, starts the engine and adds the debugfs directory; all undone
 * by devm. Its interrupt lines (@virq) are the caller's.
 *
 * Return: 0 or a negative errno.
 */
int dmak_sim_start(struct dmak_sim *sim)
{
	struct regmap_config cfg = dmak_sim_regmap_config;
	struct regmap *map;
	int ret;

	dmak_sim_reset_regs(sim);
	cfg.name = sim->node_name;
	map = devm_regmap_init(sim->dev, NULL, sim, &cfg);
	if (IS_ERR(map))
		return PTR_ERR(map);
	ret = dmak_sim_engine_add(sim);
	if (!ret)
		ret = dmak_sim_debugfs_add(sim);
	return ret;
}

static int dmak_sim_probe(struct platform_device *pdev)
{
	u64 base = DMAK_SIM_BASE + (u64)pdev->id * DMAK_SIM_STRIDE;
	struct dmak_sim *sim;
	int ret;

	/*
	 * A DT node's device has its name for its platform name: one named
	 * as ours (the sim node, "dmak-sim") is dt=1's (dmak_sim_of.c).
	 */
	if (dev_of_node(&pdev->dev))
		return -ENODEV;
	sim = dmak_sim_new(&pdev->dev, pdev->id);
	if (IS_ERR(sim))
		return PTR_ERR(sim);
	sim->sg = dmak_sim_sg_of(pdev->id);
	sim->addr_width = dmak_sim_addr_width_of(pdev->id);
	sim->length_width = length_width;
	sim->data_width = data_width;
	sim->dre = dre;
	snprintf(sim->node_name, sizeof(sim->node_name), "dma@%llx", base);

	ret = dmak_sim_irq_setup(sim, pdev->id);
	if (!ret)
		ret = dmak_sim_start(sim);
	if (!ret)	/* last: removed first, while the engine still runs */
		ret = dmak_sim_add_child(sim, pdev->id);
	return ret;
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
	unsigned int i;

	for (i = 0; i < n_sim_addr_width; i++) {
		if (sim_addr_width[i] < 32 || sim_addr_width[i] > 64) {
			pr_err(DMAK_SIM_NAME ": addr_width values 32-64\n");
			return -EINVAL;
		}
	}
	if (!instances || instances > DMAK_SIM_MAX ||
	    length_width < DMAK_LENGTH_WIDTH_MIN ||
	    length_width > DMAK_LENGTH_WIDTH_MAX ||
	    !fifo_depth || fifo_depth > DMAK_SIM_FIFO_MAX ||
	    data_width < 8 || data_width > 1024 ||
	    !is_power_of_2(data_width)) {
		pr_err(DMAK_SIM_NAME ": instances 1-16, length_width 8-26, data_width a power of 2 in 8-1024, fifo_depth up to 4 MiB\n");
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
	dmak_sim_debugfs = debugfs_create_dir(DMAK_SIM_NAME, NULL);
	if (dt) {
		ret = dmak_sim_of_register();
		if (ret == -ENODEV && !IS_ENABLED(CONFIG_OF))
			pr_err(DMAK_SIM_NAME ": dt=1: this kernel has no device-tree support (CONFIG_OF)\n");
		if (ret)
			debugfs_remove(dmak_sim_debugfs);
		return ret;
	}
	ret = platform_driver_register(&dmak_sim_driver);
	if (ret) {
		debugfs_remove(dmak_sim_debugfs);
		return ret;
	}
	for (i = 0; i < instances; i++) {
		pdev = platform_device_register_simple(DMAK_SIM_NAME, i,
						       NULL, 0);
		if (IS_ERR(pdev)) {
			ret = PTR_ERR(pdev);
			dmak_sim_unregister_all();
			platform_driver_unregister(&dmak_sim_driver);
			debugfs_remove(dmak_sim_debugfs);
			return ret;
		}
		dmak_sim_pdevs[i] = pdev;
	}
	return 0;
}
module_init(dmak_sim_init);

static void __exit dmak_sim_exit(void)
{
	if (dt) {
		dmak_sim_of_unregister();
	} else {
		dmak_sim_unregister_all();
		platform_driver_unregister(&dmak_sim_driver);
	}
	debugfs_remove(dmak_sim_debugfs);
}
module_exit(dmak_sim_exit);

MODULE_DESCRIPTION("Simulated Xilinx AXI DMA IP for dmak");
MODULE_AUTHOR("pydmak developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(DMAK_VERSION);
