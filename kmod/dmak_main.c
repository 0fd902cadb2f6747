// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: driver for the Xilinx AXI DMA IP (PG021) with a char device per
 * instance. This file holds the module, the platform driver and the
 * per-instance set-up: properties, registers, reset, /dev/dmakN and sysfs.
 */
#include <linux/clk.h>
#include <linux/dma-mapping.h>
#include <linux/idr.h>
#include <linux/io.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/property.h>
#include <linux/regmap.h>
#include <linux/slab.h>

#include "dmak.h"
#include "dmak_compat.h"
#include "dmak_props.h"
#include "dmak_hw.h"

#define DMAK_MAX_DEVICES	64

unsigned long dmak_buf_quota = 512UL << 20;
module_param_named(buf_quota, dmak_buf_quota, ulong, 0644);
MODULE_PARM_DESC(buf_quota,
		 "Bytes of DMA buffers one user may hold on a device, all their open files together (0: no limit)");

unsigned int dmak_ring_size = 256;
module_param_named(ring_size, dmak_ring_size, uint, 0444);
MODULE_PARM_DESC(ring_size,
		 "SG descriptors per channel (2-16384; a transfer must fit in one ring)");

unsigned int dmak_irq_threshold = 1;
module_param_named(irq_threshold, dmak_irq_threshold, uint, 0444);
MODULE_PARM_DESC(irq_threshold,
		 "SG: default interrupt threshold, completed transfers per interrupt (1-255)");

unsigned int dmak_irq_delay;
module_param_named(irq_delay, dmak_irq_delay, uint, 0444);
MODULE_PARM_DESC(irq_delay,
		 "SG: default interrupt delay in units of 125 SG clocks (0-255; not 0 when irq_threshold > 1)");

static dev_t dmak_devt;
static struct class *dmak_class;
static DEFINE_IDA(dmak_minors);

/* sysfs: what DMAK_IOC_INFO reports, one value a file */

static struct dmak_dev *to_dmak_dev(struct device *dev)
{
	return container_of(dev, struct dmak_dev, dev);
}

#define DMAK_INFO_ATTR(field, fmt)					\
static ssize_t field##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, fmt "\n", to_dmak_dev(dev)->info.field); \
}									\
static DEVICE_ATTR_RO(field)

DMAK_INFO_ATTR(abi_version, "%u");
DMAK_INFO_ATTR(length_width, "%u");
DMAK_INFO_ATTR(addr_width, "%u");
DMAK_INFO_ATTR(data_width, "%u");
DMAK_INFO_ATTR(ring_size, "%u");
DMAK_INFO_ATTR(max_transfer, "%llu");
DMAK_INFO_ATTR(desc_max, "%llu");

static ssize_t features_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	u32 flags = to_dmak_dev(dev)->info.flags;

	return sysfs_emit(buf, "%s%s%s%s\n",
			  flags & DMAK_INFO_MM2S ? "mm2s " : "",
			  flags & DMAK_INFO_S2MM ? "s2mm " : "",
			  flags & DMAK_INFO_SG ? "sg " : "",
			  flags & DMAK_INFO_DRE ? "dre" : "");
}
static DEVICE_ATTR_RO(features);

static ssize_t cache_alignment_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", to_dmak_dev(dev)->cache_align);
}
static DEVICE_ATTR_RO(cache_alignment);

static ssize_t buffers_show(struct device *dev,
			    struct device_attribute *attr, char *buf)
{
	struct dmak_dev *dd = to_dmak_dev(dev);

	return sysfs_emit(buf, "%d %lld\n", atomic_read(&dd->buf_count),
			  atomic64_read(&dd->buf_bytes));
}
static DEVICE_ATTR_RO(buffers);

/* what the IP is called and where it is (dmak_ident.c) */

static ssize_t name_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n", to_dmak_dev(dev)->ip_name);
}
static DEVICE_ATTR_RO(name);

static ssize_t node_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n", to_dmak_dev(dev)->node);
}
static DEVICE_ATTR_RO(node);

static ssize_t compatible_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", to_dmak_dev(dev)->compatible);
}
static DEVICE_ATTR_RO(compatible);

static ssize_t base_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%#llx\n",
			  (unsigned long long)to_dmak_dev(dev)->base);
}
static DEVICE_ATTR_RO(base);

static struct attribute *dmak_attrs[] = {
	&dev_attr_abi_version.attr,
	&dev_attr_length_width.attr,
	&dev_attr_addr_width.attr,
	&dev_attr_data_width.attr,
	&dev_attr_ring_size.attr,
	&dev_attr_max_transfer.attr,
	&dev_attr_desc_max.attr,
	&dev_attr_features.attr,
	&dev_attr_buffers.attr,
	&dev_attr_cache_alignment.attr,
	&dev_attr_name.attr,
	&dev_attr_node.attr,
	&dev_attr_compatible.attr,
	&dev_attr_base.attr,
	NULL
};

/* base only where the device has a memory resource */
static umode_t dmak_attr_visible(struct kobject *kobj, struct attribute *attr,
				 int n)
{
	struct dmak_dev *dd = to_dmak_dev(kobj_to_dev(kobj));

	if (attr == &dev_attr_base.attr && !dd->has_base)
		return 0;
	return attr->mode;
}

static const struct attribute_group dmak_group = {
	.attrs = dmak_attrs,
	.is_visible = dmak_attr_visible,
};
__ATTRIBUTE_GROUPS(dmak);

static int dmak_read_props(struct dmak_dev *dd)
{
	struct device *hw = dd->hw;
	const struct fwnode_handle *fw = dev_fwnode(hw);
	struct dmak_info *info = &dd->info;

	info->abi_version = DMAK_ABI_VERSION;
	info->length_width = dmak_props_u32(fw, "xlnx,sg-length-width",
					    DMAK_LENGTH_WIDTH_DEF);
	info->addr_width = dmak_props_u32(fw, "xlnx,addrwidth", 32);
	info->data_width = dmak_props_u32(fw, "xlnx,datawidth", 32);
	if (dmak_props_dre(fw))
		info->flags |= DMAK_INFO_DRE;

	if (info->length_width < DMAK_LENGTH_WIDTH_MIN ||
	    info->length_width > DMAK_LENGTH_WIDTH_MAX)
		return dev_err_probe(hw, -EINVAL,
				     "xlnx,sg-length-width %u is not in 8..26\n",
				     info->length_width);
	if (info->addr_width < 32 || info->addr_width > 64)
		return dev_err_probe(hw, -EINVAL,
				     "xlnx,addrwidth %u is not in 32..64\n",
				     info->addr_width);
	if (info->data_width < 8 || info->data_width > 1024 ||
	    !is_power_of_2(info->data_width))
		return dev_err_probe(hw, -EINVAL,
				     "xlnx,datawidth %u is not a power of 2 in 8..1024\n",
				     info->data_width);
	info->max_transfer = BIT_ULL(info->length_width) - 1;
	return 0;
}

/*
 * The interrupts say which channels the IP has: named in the DMA node
 * (Xilinx's device-tree generator), else one in each dma-channel child
 * node (the upstream xilinx_dma binding), matched by the child's
 * compatible.
 */
static const char * const dmak_irq_names[2] = {
	[DMAK_MM2S] = "mm2s_introut",
	[DMAK_S2MM] = "s2mm_introut",
};

static const char * const dmak_chan_compatible[2] = {
	[DMAK_MM2S] = "xlnx,axi-dma-mm2s-channel",
	[DMAK_S2MM] = "xlnx,axi-dma-s2mm-channel",
};

/* The channel a dma-channel child node describes, or -1. */
static int dmak_child_chan(struct fwnode_handle *child)
{
	int i;

	for (i = 0; i < 2; i++)
		if (fwnode_property_match_string(child, "compatible",
						 dmak_chan_compatible[i]) >= 0)
			return i;
	return -1;
}

static int dmak_get_child_irqs(struct device *hw, int irqs[2])
{
	struct fwnode_handle *child;
	int ch, irq;

	device_for_each_child_node(hw, child) {
		ch = dmak_child_chan(child);
		if (ch < 0 || irqs[ch] > 0)
			continue;
		irq = fwnode_irq_get(child, 0);
		if (irq == -EPROBE_DEFER) {
			fwnode_handle_put(child);
			return irq;
		}
		irqs[ch] = irq;
	}
	return 0;
}

static int dmak_get_irqs(struct platform_device *pdev, int irqs[2])
{
	int i, ret;

	for (i = 0; i < 2; i++) {
		irqs[i] = platform_get_irq_byname_optional(pdev,
							   dmak_irq_names[i]);
		if (irqs[i] == -EPROBE_DEFER)
			return irqs[i];
	}
	if (irqs[DMAK_MM2S] <= 0 && irqs[DMAK_S2MM] <= 0) {
		ret = dmak_get_child_irqs(&pdev->dev, irqs);
		if (ret)
			return ret;
	}
	if (irqs[DMAK_MM2S] <= 0 && irqs[DMAK_S2MM] <= 0)
		return dev_err_probe(&pdev->dev, -ENXIO,
				     "no interrupt: none named mm2s_introut or s2mm_introut, none in an xlnx,axi-dma-{mm2s,s2mm}-channel child\n");
	return 0;
}

/*
 * The IP's clocks, each optional (as xilinx_dma takes them): on before the
 * first register access, since a gated PL clock hangs the bus, and off
 * again after remove or a failed probe.
 */
#define DMAK_NCLKS	4
#define DMAK_CLK_SG	3

static const char * const dmak_clk_names[DMAK_NCLKS] = {
	"s_axi_lite_aclk", "m_axi_mm2s_aclk", "m_axi_s2mm_aclk",
	[DMAK_CLK_SG] = "m_axi_sg_aclk",
};

static void dmak_clks_disable(void *data)
{
	clk_bulk_disable_unprepare(DMAK_NCLKS, data);
}

static int dmak_enable_clocks(struct dmak_dev *dd)
{
	struct device *hw = dd->hw;
	struct clk_bulk_data *clks;
	int i, ret;

	clks = devm_kcalloc(hw, DMAK_NCLKS, sizeof(*clks), GFP_KERNEL);
	if (!clks)
		return -ENOMEM;
	for (i = 0; i < DMAK_NCLKS; i++)
		clks[i].id = dmak_clk_names[i];
	ret = devm_clk_bulk_get_optional(hw, DMAK_NCLKS, clks);
	if (ret)
		return dev_err_probe(hw, ret, "cannot get the clocks\n");
	ret = clk_bulk_prepare_enable(DMAK_NCLKS, clks);
	if (ret)
		return dev_err_probe(hw, ret, "cannot enable the clocks\n");
	ret = devm_add_action_or_reset(hw, dmak_clks_disable, clks);
	if (ret)
		return ret;
	dd->sg_clk_hz = clk_get_rate(clks[DMAK_CLK_SG].clk);
	return 0;
}

static int dmak_init_chans(struct dmak_dev *dd, const int irqs[2])
{
	int i, ret;

	for (i = 0; i < 2; i++) {
		ret = dmak_chan_init(dd, i, irqs[i]);
		if (ret)
			return ret;
		if (irqs[i] > 0)
			dd->info.flags |= i == DMAK_MM2S ? DMAK_INFO_MM2S :
						     DMAK_INFO_S2MM;
	}
	return 0;
}

/*
 * registers: the parent's regmap named as this device's firmware node (the
 * simulator's, as MFD cells get theirs), else MMIO over the memory
 * resource (hardware)
 */

static const struct regmap_config dmak_regmap_config = {
	.name = "axi-dma",
	.reg_bits = 32,
	.val_bits = 32,
	.reg_stride = 4,
	.max_register = DMAK_MAX_REG,
};

static int dmak_get_regmap(struct platform_device *pdev, struct dmak_dev *dd)
{
	struct device *hw = &pdev->dev;
	void __iomem *base;

	dd->regmap = hw->parent && *dd->node ?
		     dev_get_regmap(hw->parent, dd->node) : NULL;
	if (dd->regmap)
		return 0;
	if (platform_get_resource(pdev, IORESOURCE_MEM, 0)) {
		base = devm_platform_ioremap_resource(pdev, 0);
		if (IS_ERR(base))
			return PTR_ERR(base);
		dd->regmap = devm_regmap_init_mmio(hw, base,
						   &dmak_regmap_config);
	} else {
		dd->regmap = ERR_PTR(-ENODEV);
	}
	if (IS_ERR(dd->regmap))
		return dev_err_probe(hw, PTR_ERR(dd->regmap),
				     "no registers: no regmap %s in the parent and no memory resource\n",
				     dd->node);
	return 0;
}

static int dmak_hw_init(struct dmak_dev *dd)
{
	unsigned int bank = dd->chan[DMAK_MM2S].irq > 0 ? DMAK_MM2S_BASE :
							    DMAK_S2MM_BASE;
	unsigned int sr;
	int ret;

	ret = dmak_hw_reset(dd);
	if (ret)
		return dev_err_probe(dd->hw, ret,
				     "engine did not come out of reset\n");
	ret = regmap_read(dd->regmap, bank + DMAK_DMASR, &sr);
	if (ret)
		return ret;
	if (!(sr & DMAK_SR_HALTED))
		return dev_err_probe(dd->hw, -EIO,
				     "engine not halted after reset (DMASR %#x)\n",
				     sr);
	if (sr & DMAK_SR_SG_INCLD)
		dd->info.flags |= DMAK_INFO_SG;
	return 0;
}

/* the class device and its char device */

static void dmak_dev_free(struct dmak_dev *dd)
{
	/* every buffer and ring of this binding is back in the pool */
	dmak_rmem_put(dd);
	xa_destroy(&dd->bufs);
	kfree(dd->chan[DMAK_MM2S].results);
	kfree(dd->chan[DMAK_S2MM].results);
	mutex_destroy(&dd->mem_lock);
	mutex_destroy(&dd->reset_lock);
	cleanup_srcu_struct(&dd->mem_srcu);
	dmak_ident_free(dd);
	kfree(dd);
}

static void dmak_dev_release(struct device *dev)
{
	struct dmak_dev *dd = to_dmak_dev(dev);
	struct device *hw = dd->hw;

	dmak_dev_free(dd);
	put_device(hw);
}

static int dmak_probe(struct platform_device *pdev)
{
	struct device *hw = &pdev->dev;
	struct dmak_dev *dd;
	int minor, ret;
	int irqs[2];

	/* Not devm: it lives on while files, buffers or mappings use it. */
	dd = kzalloc(sizeof(*dd), GFP_KERNEL);
	if (!dd)
		return -ENOMEM;
	ret = init_srcu_struct(&dd->mem_srcu);
	if (ret) {
		kfree(dd);
		return ret;
	}
	dd->hw = hw;
	xa_init_flags(&dd->bufs, XA_FLAGS_ALLOC1);
	mutex_init(&dd->reset_lock);
	spin_lock_init(&dd->clients_lock);
	INIT_LIST_HEAD(&dd->clients);
	INIT_LIST_HEAD(&dd->users);
	mutex_init(&dd->mem_lock);
	INIT_LIST_HEAD(&dd->mem_bufs);
	INIT_LIST_HEAD(&dd->vmas);

	ret = dmak_ident_init(dd, pdev);
	if (!ret)
		ret = dmak_read_props(dd);
	if (!ret)
		ret = dmak_get_irqs(pdev, irqs);
	if (!ret)	/* before anything that may touch a register */
		ret = dmak_enable_clocks(dd);
	if (!ret)
		ret = dmak_get_regmap(pdev, dd);
	if (!ret)
		ret = dmak_init_chans(dd, irqs);
	if (!ret)
		ret = dmak_hw_init(dd);
	if (!ret) {
		u64 mask = DMA_BIT_MASK(dd->info.addr_width);

		ret = dma_set_mask_and_coherent(hw, mask);
	}
	/*
	 * Any run of bus addresses is one piece to the driver, which splits
	 * it over descriptors itself: imported dma-bufs map in one segment.
	 * (A platform device has its dma_parms: this cannot fail.)
	 */
	dma_set_max_seg_size(hw, UINT_MAX);
	if (!ret)
		ret = dmak_rmem_get(dd);
	/* what a non-coherent device needs of cached S2MM ranges */
	dd->cache_align = dmak_dev_dma_coherent(hw) ? 1 :
			  dma_get_cache_alignment();
	if (!ret)
		ret = dmak_sg_init(dd);
	if (ret)
		goto err_free;

	minor = ida_alloc_max(&dmak_minors, DMAK_MAX_DEVICES - 1, GFP_KERNEL);
	if (minor < 0) {
		ret = minor;
		goto err_free;
	}

	get_device(hw);
	device_initialize(&dd->dev);
	dd->dev.class = dmak_class;
	dd->dev.parent = hw;
	dd->dev.devt = MKDEV(MAJOR(dmak_devt), minor);
	dd->dev.groups = dmak_groups;
	dd->dev.release = dmak_dev_release;
	ret = dev_set_name(&dd->dev, DMAK_NAME "%d", minor);
	if (ret)
		goto err_put;

	cdev_init(&dd->cdev, &dmak_fops);
	dd->cdev.owner = THIS_MODULE;
	ret = cdev_device_add(&dd->cdev, &dd->dev);
	if (ret)
		goto err_put;

	platform_set_drvdata(pdev, dd);
	dmak_debugfs_add(dd);
	dev_info(hw, "%s: %s (%s): %s%s%slength %u bits, address %u bits, data %u bits\n",
		 dev_name(&dd->dev), dd->ip_name, dd->node,
		 dd->info.flags & DMAK_INFO_MM2S ? "mm2s, " : "",
		 dd->info.flags & DMAK_INFO_S2MM ? "s2mm, " : "",
		 dd->info.flags & DMAK_INFO_SG ? "sg, " : "direct, ",
		 dd->info.length_width, dd->info.addr_width,
		 dd->info.data_width);
	return 0;

err_put:
	ida_free(&dmak_minors, minor);
	dmak_chans_quiesce(dd);
	put_device(&dd->dev);	/* drops the hw reference, frees dd */
	return ret;
err_free:
	dmak_chans_quiesce(dd);
	dmak_dev_free(dd);
	return ret;
}

static void dmak_remove(struct platform_device *pdev)
{
	struct dmak_dev *dd = platform_get_drvdata(pdev);

	dmak_debugfs_remove(dd);
	/* the lines quiet first: a dead device's handler answers no more */
	dmak_chans_silence(dd);
	WRITE_ONCE(dd->dead, true);
	/* Stop the engine and end every transfer. */
	dmak_chans_shutdown(dd);
	dmak_records_hangup(dd);	/* readers and pollers: it is gone */
	/* The memory goes back now; the buffers stay until freed. */
	dmak_bufs_unplug(dd);
	cdev_device_del(&dd->cdev, &dd->dev);
	/*
	 * The minor is free again even while old files keep @dd: they reach
	 * it through their struct file, never through the number.
	 */
	ida_free(&dmak_minors, MINOR(dd->dev.devt));
	put_device(&dd->dev);
}

DMAK_DEFINE_REMOVE(dmak_remove)

static const struct of_device_id dmak_of_match[] = {
	{ .compatible = "pydmak,axi-dma" },
	{ .compatible = "xlnx,axi-dma-1.00.a" },
	{ }
};
MODULE_DEVICE_TABLE(of, dmak_of_match);

static const struct platform_device_id dmak_id_table[] = {
	{ .name = "pydmak-axi-dma" },
	{ }
};
MODULE_DEVICE_TABLE(platform, dmak_id_table);

static struct platform_driver dmak_driver = {
	.driver = {
		.name = DMAK_NAME,
		.of_match_table = dmak_of_match,
		/*
		 * Buffers outlive an unbind (user mappings keep them); on
		 * hardware, only rmmod may unbind, which open files prevent.
		 */
		.suppress_bind_attrs = true,
	},
	.id_table = dmak_id_table,
	.probe = dmak_probe,
	DMAK_PLATFORM_REMOVE(dmak_remove),
};

static int __init dmak_init(void)
{
	int ret;

	if (dmak_ring_size < 2 || dmak_ring_size > 16384 ||
	    !dmak_irq_threshold || dmak_irq_threshold > 255 ||
	    dmak_irq_delay > 255 || (dmak_irq_threshold > 1 && !dmak_irq_delay)) {
		pr_err(DMAK_NAME ": ring_size 2-16384, irq_threshold 1-255, irq_delay 0-255 and not 0 when irq_threshold > 1\n");
		return -EINVAL;
	}

	ret = alloc_chrdev_region(&dmak_devt, 0, DMAK_MAX_DEVICES, DMAK_NAME);
	if (ret)
		return ret;
	dmak_class = dmak_class_create(DMAK_NAME);
	if (IS_ERR(dmak_class)) {
		ret = PTR_ERR(dmak_class);
		goto err_region;
	}
	dmak_debugfs_init();
	ret = platform_driver_register(&dmak_driver);
	if (ret)
		goto err_debugfs;
	return 0;

err_debugfs:
	dmak_debugfs_exit();
	class_destroy(dmak_class);
err_region:
	unregister_chrdev_region(dmak_devt, DMAK_MAX_DEVICES);
	return ret;
}
module_init(dmak_init);

static void __exit dmak_exit(void)
{
	platform_driver_unregister(&dmak_driver);
	dmak_debugfs_exit();
	class_destroy(dmak_class);
	unregister_chrdev_region(dmak_devt, DMAK_MAX_DEVICES);
	ida_destroy(&dmak_minors);
}
module_exit(dmak_exit);

MODULE_DESCRIPTION("Xilinx AXI DMA driver with user-space buffers and transfers");
MODULE_AUTHOR("pydmak developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(DMAK_VERSION);
