// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: debugfs, /sys/kernel/debug/dmak/dmakN/regs: every PG021 register
 * of the instance with its bit fields decoded, read live on each open.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "dmak.h"
#include "dmak_hw.h"

static struct dentry *dmak_debugfs_root;

/**
 * struct dmak_field - a bit field of a register
 * @name: PG021's name
 * @hi: highest bit
 * @lo: lowest bit
 */
struct dmak_field {
	const char *name;
	u8 hi;
	u8 lo;
};

static const struct dmak_field dmak_cr_fields[] = {
	{ "RS", 0, 0 }, { "Reset", 2, 2 }, { "Keyhole", 3, 3 },
	{ "Cyclic_BD_Enable", 4, 4 }, { "IOC_IrqEn", 12, 12 },
	{ "Dly_IrqEn", 13, 13 }, { "Err_IrqEn", 14, 14 },
	{ "IRQThreshold", 23, 16 }, { "IRQDelay", 31, 24 }, { }
};

static const struct dmak_field dmak_sr_fields[] = {
	{ "Halted", 0, 0 }, { "Idle", 1, 1 }, { "SGIncld", 3, 3 },
	{ "DMAIntErr", 4, 4 }, { "DMASlvErr", 5, 5 }, { "DMADecErr", 6, 6 },
	{ "SGIntErr", 8, 8 }, { "SGSlvErr", 9, 9 }, { "SGDecErr", 10, 10 },
	{ "IOC_Irq", 12, 12 }, { "Dly_Irq", 13, 13 }, { "Err_Irq", 14, 14 },
	{ "IRQThresholdSts", 23, 16 }, { "IRQDelaySts", 31, 24 }, { }
};

static const struct dmak_field dmak_sg_ctl_fields[] = {
	{ "SG_CACHE", 3, 0 }, { "SG_USER", 11, 8 }, { }
};

static const struct dmak_field dmak_length_fields[] = {
	{ "Length", 25, 0 }, { }
};

/* Register names by word (offset / 4); NULL for reserved words. */
static const char * const dmak_reg_names[DMAK_REGS_WORDS] = {
	"MM2S_DMACR", "MM2S_DMASR", "MM2S_CURDESC", "MM2S_CURDESC_MSB",
	"MM2S_TAILDESC", "MM2S_TAILDESC_MSB", "MM2S_SA", "MM2S_SA_MSB",
	NULL, NULL, "MM2S_LENGTH", "SG_CTL",
	"S2MM_DMACR", "S2MM_DMASR", "S2MM_CURDESC", "S2MM_CURDESC_MSB",
	"S2MM_TAILDESC", "S2MM_TAILDESC_MSB", "S2MM_DA", "S2MM_DA_MSB",
	NULL, NULL, "S2MM_LENGTH",
};

static_assert(DMAK_MAX_REG / 4 == DMAK_REGS_WORDS - 1);

static const struct dmak_field *dmak_fields_of(unsigned int off)
{
	if (off == DMAK_SG_CTL)
		return dmak_sg_ctl_fields;
	if (off >= DMAK_S2MM_BASE)
		off -= DMAK_S2MM_BASE;
	switch (off) {
	case DMAK_DMACR:
		return dmak_cr_fields;
	case DMAK_DMASR:
		return dmak_sr_fields;
	case DMAK_LENGTH:
		return dmak_length_fields;
	default:
		return NULL;
	}
}

/* Why the register at @off is not there. */
static const char *dmak_absent_why(struct dmak_dev *dd, unsigned int off)
{
	unsigned int bank = off >= DMAK_S2MM_BASE ? DMAK_S2MM : DMAK_MM2S;
	unsigned int rel = off - (bank == DMAK_S2MM ? DMAK_S2MM_BASE : 0);

	if (off == DMAK_SG_CTL)
		return "scatter-gather only";
	if (!dmak_chan_present(&dd->chan[bank]))
		return bank == DMAK_S2MM ? "no S2MM channel" : "no MM2S channel";
	if ((rel == DMAK_CURDESC || rel == DMAK_CURDESC_MSB ||
	     rel == DMAK_TAILDESC || rel == DMAK_TAILDESC_MSB) &&
	    !dmak_is_sg(dd))
		return "scatter-gather only";
	if ((rel == DMAK_ADDR || rel == DMAK_ADDR_MSB ||
	     rel == DMAK_LENGTH) && dmak_is_sg(dd))
		return "direct mode only";
	return "address width 32";
}

static int dmak_regs_show(struct seq_file *m, void *unused)
{
	struct dmak_dev *dd = m->private;
	const struct dmak_field *f;
	struct dmak_regs regs;
	unsigned int n;
	u32 val;
	int ret;

	ret = dmak_regs_read(dd, &regs);
	if (ret)
		return ret;
	seq_printf(m, "%s: %s (%s)", dev_name(&dd->dev), dd->ip_name,
		   dd->node);
	if (dd->has_base)
		seq_printf(m, " at %#llx", (unsigned long long)dd->base);
	seq_printf(m, ", %s, address width %u\n",
		   dmak_is_sg(dd) ? "scatter-gather" : "direct",
		   dd->info.addr_width);
	for (n = 0; n < DMAK_REGS_WORDS; n++) {
		if (!dmak_reg_names[n])
			continue;
		seq_printf(m, "%-18s 0x%02x  ", dmak_reg_names[n], n * 4);
		if (!(regs.present & BIT(n))) {
			seq_printf(m, "-           (absent: %s)\n",
				   dmak_absent_why(dd, n * 4));
			continue;
		}
		val = regs.regs[n];
		seq_printf(m, "0x%08x", val);
		for (f = dmak_fields_of(n * 4); f && f->name; f++)
			seq_printf(m, " %s=%lu", f->name,
				   (val & GENMASK(f->hi, f->lo)) >> f->lo);
		seq_putc(m, '\n');
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dmak_regs);

/**
 * dmak_debugfs_add() - the instance's directory and its regs file
 * @dd: the instance, named already
 *
 * debugfs failures are not errors: the driver works without it.
 */
void dmak_debugfs_add(struct dmak_dev *dd)
{
	dd->debugfs = debugfs_create_dir(dev_name(&dd->dev),
					 dmak_debugfs_root);
	debugfs_create_file("regs", 0400, dd->debugfs, dd, &dmak_regs_fops);
}

/* Removes the directory; waits for readers of regs still inside. */
void dmak_debugfs_remove(struct dmak_dev *dd)
{
	debugfs_remove_recursive(dd->debugfs);
	dd->debugfs = NULL;
}

void dmak_debugfs_init(void)
{
	dmak_debugfs_root = debugfs_create_dir(DMAK_NAME, NULL);
}

void dmak_debugfs_exit(void)
{
	debugfs_remove_recursive(dmak_debugfs_root);
}
