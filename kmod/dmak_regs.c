// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: a snapshot of the IP's registers, for DMAK_IOC_REGS and debugfs.
 * Reading has no side effect on the IP; nothing is written.
 */
#include <linux/uaccess.h>

#include "dmak.h"
#include "dmak_hw.h"

#define DMAK_WORD(off)		BIT((off) / 4)

/* The words of a channel's bank that exist on this IP. */
static u32 dmak_regs_bank(const struct dmak_dev *dd, unsigned int base)
{
	bool msb = dd->info.addr_width > 32;
	u32 mask = DMAK_WORD(base + DMAK_DMACR) | DMAK_WORD(base + DMAK_DMASR);

	if (dmak_is_sg(dd)) {
		mask |= DMAK_WORD(base + DMAK_CURDESC) |
			DMAK_WORD(base + DMAK_TAILDESC);
		if (msb)
			mask |= DMAK_WORD(base + DMAK_CURDESC_MSB) |
				DMAK_WORD(base + DMAK_TAILDESC_MSB);
	} else {
		mask |= DMAK_WORD(base + DMAK_ADDR) |
			DMAK_WORD(base + DMAK_LENGTH);
		if (msb)
			mask |= DMAK_WORD(base + DMAK_ADDR_MSB);
	}
	return mask;
}

/**
 * dmak_regs_present() - the registers this IP has
 * @dd: the instance
 *
 * Return: bit n set for the register at byte offset 4 * n.
 */
u32 dmak_regs_present(const struct dmak_dev *dd)
{
	u32 mask = 0;

	if (dmak_chan_present(&dd->chan[DMAK_MM2S]))
		mask |= dmak_regs_bank(dd, DMAK_MM2S_BASE);
	if (dmak_chan_present(&dd->chan[DMAK_S2MM]))
		mask |= dmak_regs_bank(dd, DMAK_S2MM_BASE);
	if (dmak_is_sg(dd))
		mask |= DMAK_WORD(DMAK_SG_CTL);
	return mask;
}

/**
 * dmak_regs_read() - read every register the IP has
 * @dd: the instance
 * @regs: out: the words and which of them exist
 *
 * Each register is read under the lock of the channel it belongs to (of
 * the first channel present for SG_CTL), which remove() takes after
 * marking the device dead, so no read outlives the hardware. Process
 * context; the lock is held only around one register access.
 *
 * Return: 0, -ENODEV once the device is gone, or the regmap's error.
 */
int dmak_regs_read(struct dmak_dev *dd, struct dmak_regs *regs)
{
	struct dmak_chan *ch;
	unsigned int n, off, val;
	int ret = 0;

	memset(regs, 0, sizeof(*regs));
	regs->present = dmak_regs_present(dd);
	for (n = 0; n < DMAK_REGS_WORDS && !ret; n++) {
		if (!(regs->present & BIT(n)))
			continue;
		off = n * 4;
		if (off == DMAK_SG_CTL)
			ch = dmak_chan_present(&dd->chan[DMAK_MM2S]) ?
			     &dd->chan[DMAK_MM2S] : &dd->chan[DMAK_S2MM];
		else
			ch = &dd->chan[off < DMAK_S2MM_BASE ? DMAK_MM2S :
							     DMAK_S2MM];
		spin_lock_irq(&ch->lock);
		if (READ_ONCE(dd->dead))
			ret = -ENODEV;
		else
			ret = regmap_read(dd->regmap, off, &val);
		spin_unlock_irq(&ch->lock);
		if (!ret)
			regs->regs[n] = val;
	}
	return ret;
}

long dmak_ioctl_regs(struct dmak_client *cl, void __user *uarg)
{
	struct dmak_regs regs;
	int ret;

	ret = dmak_regs_read(cl->dd, &regs);
	if (ret)
		return ret;
	return copy_to_user(uarg, &regs, sizeof(regs)) ? -EFAULT : 0;
}
