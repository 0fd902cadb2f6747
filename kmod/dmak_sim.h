/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmak_sim: the simulated AXI DMA IP, shared between its register file
 * (dmak_sim_main.c), its data engine (dmak_sim_engine.c) and its
 * scatter-gather engine (dmak_sim_sg.c).
 */
#ifndef _DMAK_SIM_H
#define _DMAK_SIM_H

#include <linux/debugfs.h>
#include <linux/irqdomain.h>
#include <linux/ktime.h>
#include <linux/platform_device.h>
#include <linux/property.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#define DMAK_SIM_NAME		"dmak-sim"
#define DMAK_SIM_MAX		16	/* simulated IPs */
#define DMAK_SIM_ENDS		1024	/* packet ends the stream FIFO tracks */
#define DMAK_SIM_SG_CLOCK_HZ	100000000	/* m_axi_sg_aclk */
/* One IRQDelay unit: 125 SG clocks (1250 ns at 100 MHz). */
#define DMAK_SIM_DELAY_UNIT_NS	(125ULL * NSEC_PER_SEC / DMAK_SIM_SG_CLOCK_HZ)

enum { SIM_MM2S, SIM_S2MM, SIM_NCHANS };

/* Faults to inject, one-shot unless said otherwise. */
enum dmak_sim_fault {
	SIM_FAULT_DEC_ERR,	/* DMADecErr on the next transfer */
	SIM_FAULT_SLV_ERR,	/* DMASlvErr on the next transfer */
	SIM_FAULT_INT_ERR,	/* DMAIntErr on the next transfer */
	SIM_FAULT_NO_TLAST,	/* MM2S: the next packet never ends */
	SIM_FAULT_LOST_IRQ,	/* the next interrupt is not raised */
	SIM_FAULT_STALL,	/* the channel stops moving data until reset */
	SIM_FAULT_SG_DEC_ERR,	/* SGDecErr on the next descriptor fetch */
	SIM_FAULT_SG_SLV_ERR,	/* SGSlvErr on the next descriptor fetch */
	SIM_FAULT_SG_INT_ERR,	/* SGIntErr on the next descriptor fetch */
	SIM_NFAULTS
};

/* Where an SG channel stands; after a reset it is halted. */
enum dmak_sim_sg_state {
	SIM_SG_HALTED,		/* DMASR.Halted: CURDESC takes writes */
	SIM_SG_IDLE,		/* running, waits for a TAILDESC write */
	SIM_SG_FETCH,		/* the engine fetches the next descriptor */
	SIM_SG_DESC,		/* a descriptor moves data */
	SIM_SG_WRITEBACK,	/* the engine writes its STATUS back */
};

/* Which descriptor an SG fetch reads. */
enum dmak_sim_sg_from {
	SIM_SG_AT_CUR,		/* the one at CURDESC (after reset or halt) */
	SIM_SG_NEXT_OF_CUR,	/* NXTDESC of the one at CURDESC (idle) */
	SIM_SG_NEXT,		/* the NXTDESC the last fetch read */
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
 * @sg_state: SG mode: where the channel stands (enum dmak_sim_sg_state)
 * @sg_from: SG mode: what the next fetch reads (enum dmak_sim_sg_from)
 * @sg_gen: SG mode: bumped on each halt; a fetch that spans one is dropped
 * @sg_tail: SG mode: TAILDESC was written while the channel could not start
 * @sg_halting: SG mode: RS was cleared; halt once the descriptor completes
 * @sg_next: SG mode: NXTDESC of the current descriptor
 * @sg_ctrl: SG mode: CONTROL of the current descriptor
 * @sg_status: SG mode: STATUS to write back into the current descriptor
 * @sg_err: SG mode: DMASR error bits to raise once STATUS is written back
 * @sg_ioc: SG mode: the current descriptor's completion is an IOC event
 * @sg_sof: SG mode, S2MM: the next stream byte starts a packet
 * @sg_rxsof: SG mode, S2MM: the current descriptor took a packet's first byte
 * @sg_dly_armed: SG mode: IOC events wait for the delay timer
 * @sg_dly_at: SG mode: when the delay timer expires
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
	u8 sg_state;
	u8 sg_from;
	u32 sg_gen;
	bool sg_tail;
	bool sg_halting;
	u64 sg_next;
	u32 sg_ctrl;
	u32 sg_status;
	u32 sg_err;
	bool sg_ioc;
	bool sg_sof;
	bool sg_rxsof;
	bool sg_dly_armed;
	ktime_t sg_dly_at;
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
 * @sg: the scatter-gather engine is included (no direct mode then)
 * @addr_width: address width in bits; MSB registers exist above 32
 * @length_width: width of the LENGTH register in bits
 * @data_width: stream data width in bits (told, not modelled)
 * @dre: the data realignment engine is included (told, not modelled)
 * @chan: the MM2S and S2MM channels
 * @sg_ctl: SG_CTL register
 * @resetting: a reset is pending; DMACR.Reset reads 1 until the engine has
 *	quiesced and reset everything
 * @fwnode: name of @domain
 * @domain: irq domain of the two interrupt lines (parameters mode; in
 *	device-tree mode the sim node's domain holds them)
 * @virq: the two Linux interrupts (0: the channel has none)
 * @irq_pending: channels whose interrupt line rose; the engine raises them
 * @child: the device dmak.ko binds to
 * @coherent: whether @child is DMA-coherent (dmak_sim_mem.c)
 * @engine: the thread that moves data
 * @kick: wakes @engine
 * @stream: the loopback FIFO (engine-owned)
 * @fifo_depth: bytes the FIFO holds (at most @stream.size)
 * @bandwidth: stream bytes per second, 0 for as fast as memcpy
 * @link_free: when the throttled stream can take its next byte
 * @link_idle: MM2S had nothing to send or no room to send it: the time
 *	until it sends again is lost, not made up
 * @debugfs: the instance's debugfs directory
 * @swnode: the child's software node, named as its DT node would be
 * @props: the child's properties (@swnode's)
 * @node_name: the name of the DMA's firmware node, "dma@<base>", and so
 *	of the regmap dmak.ko looks up in its parent
 * @ip_name: the block-design name (xlnx,name), "axi_dma_<id>"
 */
struct dmak_sim {
	struct device *dev;
	int id;
	spinlock_t lock;	/* registers and channel state */
	bool sg;
	unsigned int addr_width;
	unsigned int length_width;
	unsigned int data_width;
	bool dre;
	struct dmak_sim_chan chan[SIM_NCHANS];
	u32 sg_ctl;
	bool resetting;
	struct fwnode_handle *fwnode;
	struct irq_domain *domain;
	unsigned int virq[SIM_NCHANS];
	unsigned long irq_pending;
	struct platform_device *child;
	bool coherent;
	struct task_struct *engine;
	wait_queue_head_t kick;
	struct dmak_sim_stream stream;
	u32 fifo_depth;
	u64 bandwidth;
	ktime_t link_free;
	bool link_idle;
	struct dentry *debugfs;
	struct software_node swnode;
	struct property_entry props[9];
	char node_name[32];
	char ip_name[16];
};

/* An address register pair (LSB, MSB); the MSB counts above 32 bits. */
static inline u64 dmak_sim_addr(const struct dmak_sim *sim, const u32 *reg)
{
	u64 addr = reg[0];

	if (sim->addr_width > 32)
		addr |= (u64)reg[1] << 32;
	return addr;
}

/* dmak_sim_main.c */
void dmak_sim_reset_regs(struct dmak_sim *sim);
struct dmak_sim *dmak_sim_new(struct device *dev, int id);
int dmak_sim_start(struct dmak_sim *sim);
extern const struct irq_domain_ops dmak_sim_irq_ops;

/* dmak_sim_of.c: device-tree mode (dt=1), built with CONFIG_OF only */
#if IS_ENABLED(CONFIG_OF)
int dmak_sim_of_register(void);
void dmak_sim_of_unregister(void);
#else
static inline int dmak_sim_of_register(void)
{
	return -ENODEV;
}

static inline void dmak_sim_of_unregister(void)
{
}
#endif

/* dmak_sim_mem.c */
bool dmak_sim_is_ram(u64 addr, u32 len);
void dmak_sim_mem_init(struct dmak_sim *sim, struct device *dma_dev);
void *dmak_sim_map(struct dmak_sim *sim, u64 addr, size_t n);
void dmak_sim_unmap(struct dmak_sim *sim, void *mem);

/* dmak_sim_engine.c */
int dmak_sim_engine_start(struct dmak_sim *sim);
void dmak_sim_irq_update(struct dmak_sim *sim, int ch, u32 old_level);
u32 dmak_sim_irq_level(const struct dmak_sim_chan *c);
void dmak_sim_inject(struct dmak_sim *sim, int ch);
extern const char * const dmak_sim_fault_names[SIM_NFAULTS];

/* dmak_sim_sg.c */
void dmak_sim_sg_reset_chan(struct dmak_sim_chan *c);
void dmak_sim_sg_write_cr(struct dmak_sim *sim, int ch, u32 old_cr);
void dmak_sim_sg_write_tail(struct dmak_sim *sim, int ch);
void dmak_sim_sg_sent(struct dmak_sim *sim);
void dmak_sim_sg_received(struct dmak_sim *sim, bool eop);
void dmak_sim_sg_fail(struct dmak_sim *sim, int ch, u32 sr_bits);
bool dmak_sim_sg_poll(struct dmak_sim *sim, unsigned long busy);
ktime_t dmak_sim_sg_wake_at(struct dmak_sim *sim);
void dmak_sim_sg_writeback_step(struct dmak_sim *sim);
void dmak_sim_sg_fetch_step(struct dmak_sim *sim);

#endif /* _DMAK_SIM_H */
