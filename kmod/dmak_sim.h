/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmak_sim: the simulated AXI DMA IP, shared between its register file
 * (dmak_sim_main.c) and its data engine (dmak_sim_engine.c).
 */
#ifndef _DMAK_SIM_H
#define _DMAK_SIM_H

#include <linux/debugfs.h>
#include <linux/irqdomain.h>
#include <linux/platform_device.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#define DMAK_SIM_NAME		"dmak-sim"
#define DMAK_SIM_ENDS		1024	/* packet ends the stream FIFO tracks */

enum { SIM_MM2S, SIM_S2MM, SIM_NCHANS };

/* Faults to inject, one-shot unless said otherwise. */
enum dmak_sim_fault {
	SIM_FAULT_DEC_ERR,	/* DMADecErr on the next transfer */
	SIM_FAULT_SLV_ERR,	/* DMASlvErr on the next transfer */
	SIM_FAULT_INT_ERR,	/* DMAIntErr on the next transfer */
	SIM_FAULT_NO_TLAST,	/* MM2S: the next packet never ends */
	SIM_FAULT_LOST_IRQ,	/* the next interrupt is not raised */
	SIM_FAULT_STALL,	/* the channel stops moving data until reset */
	SIM_NFAULTS
};

/**
 * struct dmak_sim_chan - one channel: registers and transfer state
 * @dmacr: DMACR
 * @dmasr: DMASR
 * @curdesc: CURDESC and its MSB
 * @taildesc: TAILDESC and its MSB
 * @addr: SA (MM2S) or DA (S2MM) and its MSB
 * @length: LENGTH; S2MM reads back the bytes received
 * @start: LENGTH was written: a transfer waits for the engine
 * @busy: a transfer is running
 * @checked: the engine found its range in RAM (else it ended it)
 * @stalled: SIM_FAULT_STALL hit this channel
 * @pos: address of the next byte of the running transfer
 * @left: bytes the running transfer may still move
 * @moved: bytes it moved so far
 * @faults: pending SIM_FAULT_* bits
 */
struct dmak_sim_chan {
	u32 dmacr;
	u32 dmasr;
	u32 curdesc[2];
	u32 taildesc[2];
	u32 addr[2];
	u32 length;
	bool start;
	bool busy;
	bool checked;
	bool stalled;
	u64 pos;
	u32 left;
	u32 moved;
	unsigned long faults;
};

/**
 * struct dmak_sim_stream - the AXI-Stream loopback from MM2S to S2MM
 * @data: byte ring of @size bytes
 * @size: allocated bytes
 * @in: bytes pushed so far (MM2S)
 * @out: bytes popped so far (S2MM)
 * @ends: stream positions where packets end (TLAST), oldest first
 * @first: index of the oldest entry of @ends
 * @nends: entries in @ends
 */
struct dmak_sim_stream {
	u8 *data;
	size_t size;
	u64 in;
	u64 out;
	u64 ends[DMAK_SIM_ENDS];
	unsigned int first;
	unsigned int nends;
};

/**
 * struct dmak_sim - one simulated IP
 * @dev: the simulator's platform device
 * @id: instance number
 * @lock: guards registers and channel state; taken from any context
 * @chan: the MM2S and S2MM channels
 * @sg_ctl: SG_CTL register
 * @resetting: a reset is pending; DMACR.Reset reads 1 until the engine has
 *	quiesced and reset everything
 * @fwnode: name of @domain
 * @domain: irq domain of the two interrupt lines
 * @virq: the two Linux interrupts
 * @irq_pending: channels whose interrupt line rose; the engine raises them
 * @child: the device dmak.ko binds to
 * @engine: the thread that moves data
 * @kick: wakes @engine
 * @stream: the loopback FIFO (engine-owned)
 * @fifo_depth: bytes the FIFO holds (at most @stream.size)
 * @bandwidth: stream bytes per second, 0 for as fast as memcpy
 * @link_free: when the throttled stream can take its next byte
 * @debugfs: the instance's debugfs directory
 */
struct dmak_sim {
	struct device *dev;
	int id;
	spinlock_t lock;
	struct dmak_sim_chan chan[SIM_NCHANS];
	u32 sg_ctl;
	bool resetting;
	struct fwnode_handle *fwnode;
	struct irq_domain *domain;
	unsigned int virq[SIM_NCHANS];
	unsigned long irq_pending;
	struct platform_device *child;
	struct task_struct *engine;
	wait_queue_head_t kick;
	struct dmak_sim_stream stream;
	u32 fifo_depth;
	u64 bandwidth;
	ktime_t link_free;
	struct dentry *debugfs;
};

extern unsigned int dmak_sim_addr_width;
extern bool dmak_sim_sg;

/* dmak_sim_main.c */
void dmak_sim_reset_regs(struct dmak_sim *sim);

/* dmak_sim_engine.c */
int dmak_sim_engine_start(struct dmak_sim *sim);
void dmak_sim_irq_update(struct dmak_sim *sim, int ch, u32 old_level);
u32 dmak_sim_irq_level(const struct dmak_sim_chan *c);
extern const char * const dmak_sim_fault_names[SIM_NFAULTS];

#endif /* _DMAK_SIM_H */
