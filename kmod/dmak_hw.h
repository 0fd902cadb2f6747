/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Xilinx AXI DMA v7.1 (PG021) registers, bit fields and descriptor layout.
 * Shared by the driver and the simulated IP; nothing else lives here.
 */
#ifndef _DMAK_HW_H
#define _DMAK_HW_H

#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/stddef.h>
#include <linux/types.h>

/* Register banks: MM2S at 0x00, S2MM at 0x30; offsets below are per bank. */
#define DMAK_MM2S_BASE		0x00
#define DMAK_S2MM_BASE		0x30

#define DMAK_DMACR		0x00
#define DMAK_DMASR		0x04
#define DMAK_CURDESC		0x08
#define DMAK_CURDESC_MSB	0x0c
#define DMAK_TAILDESC		0x10
#define DMAK_TAILDESC_MSB	0x14
#define DMAK_ADDR		0x18	/* MM2S_SA or S2MM_DA */
#define DMAK_ADDR_MSB		0x1c
#define DMAK_LENGTH		0x28

#define DMAK_SG_CTL		0x2c	/* absolute, not per bank */
#define DMAK_MAX_REG		(DMAK_S2MM_BASE + DMAK_LENGTH)

/* DMACR */
#define DMAK_CR_RS		BIT(0)
#define DMAK_CR_RESET		BIT(2)
#define DMAK_CR_KEYHOLE		BIT(3)
#define DMAK_CR_CYCLIC		BIT(4)
#define DMAK_CR_IOC_IRQ		BIT(12)
#define DMAK_CR_DLY_IRQ		BIT(13)
#define DMAK_CR_ERR_IRQ		BIT(14)
#define DMAK_CR_ALL_IRQ		(DMAK_CR_IOC_IRQ | DMAK_CR_DLY_IRQ | \
				 DMAK_CR_ERR_IRQ)
#define DMAK_CR_THRESHOLD	GENMASK(23, 16)
#define DMAK_CR_DELAY		GENMASK(31, 24)
#define DMAK_CR_RESET_VALUE	0x00010002

/* DMASR */
#define DMAK_SR_HALTED		BIT(0)
#define DMAK_SR_IDLE		BIT(1)
#define DMAK_SR_SG_INCLD	BIT(3)
#define DMAK_SR_DMA_INT_ERR	BIT(4)
#define DMAK_SR_DMA_SLV_ERR	BIT(5)
#define DMAK_SR_DMA_DEC_ERR	BIT(6)
#define DMAK_SR_SG_INT_ERR	BIT(8)
#define DMAK_SR_SG_SLV_ERR	BIT(9)
#define DMAK_SR_SG_DEC_ERR	BIT(10)
#define DMAK_SR_IOC_IRQ		BIT(12)
#define DMAK_SR_DLY_IRQ		BIT(13)
#define DMAK_SR_ERR_IRQ		BIT(14)
#define DMAK_SR_ALL_IRQ		(DMAK_SR_IOC_IRQ | DMAK_SR_DLY_IRQ | \
				 DMAK_SR_ERR_IRQ)
#define DMAK_SR_ERRORS		(DMAK_SR_DMA_INT_ERR | DMAK_SR_DMA_SLV_ERR | \
				 DMAK_SR_DMA_DEC_ERR | DMAK_SR_SG_INT_ERR | \
				 DMAK_SR_SG_SLV_ERR | DMAK_SR_SG_DEC_ERR)
#define DMAK_SR_THRESHOLD	GENMASK(23, 16)
#define DMAK_SR_DELAY		GENMASK(31, 24)

/* Length register: 8 to 26 bits wide (Vivado default 14). */
#define DMAK_LENGTH_WIDTH_MIN	8
#define DMAK_LENGTH_WIDTH_MAX	26
#define DMAK_LENGTH_WIDTH_DEF	14

/* Scatter-gather descriptor: 64-byte aligned, 0x34 bytes used. */
#define DMAK_DESC_ALIGN		64
#define DMAK_DESC_NXTDESC	0x00
#define DMAK_DESC_NXTDESC_MSB	0x04
#define DMAK_DESC_BUF_ADDR	0x08
#define DMAK_DESC_BUF_ADDR_MSB	0x0c
#define DMAK_DESC_CONTROL	0x18
#define DMAK_DESC_STATUS	0x1c
#define DMAK_DESC_APP0		0x20

#define DMAK_DESC_CTRL_LEN	GENMASK(25, 0)
#define DMAK_DESC_CTRL_TXEOF	BIT(26)
#define DMAK_DESC_CTRL_TXSOF	BIT(27)

#define DMAK_DESC_STS_LEN	GENMASK(25, 0)
#define DMAK_DESC_STS_RXEOF	BIT(26)
#define DMAK_DESC_STS_RXSOF	BIT(27)
#define DMAK_DESC_STS_INT_ERR	BIT(28)
#define DMAK_DESC_STS_SLV_ERR	BIT(29)
#define DMAK_DESC_STS_DEC_ERR	BIT(30)
#define DMAK_DESC_STS_CMPLT	BIT(31)

/**
 * struct dmak_desc - an SG descriptor as the IP reads and writes it
 * @next: NXTDESC, lower 32 bits
 * @next_msb: NXTDESC, upper 32 bits
 * @buf: BUFFER_ADDRESS, lower 32 bits
 * @buf_msb: BUFFER_ADDRESS, upper 32 bits
 * @reserved: unused
 * @control: CONTROL: length, TXSOF, TXEOF
 * @status: STATUS: bytes moved, RXSOF, RXEOF, errors, Cmplt
 * @app: APP0..APP4 (unused here)
 * @pad: to the 64-byte alignment the IP needs
 */
struct dmak_desc {
	__le32 next;
	__le32 next_msb;
	__le32 buf;
	__le32 buf_msb;
	__le32 reserved[2];
	__le32 control;
	__le32 status;
	__le32 app[5];
	__le32 pad[3];
};

static_assert(sizeof(struct dmak_desc) == DMAK_DESC_ALIGN);
static_assert(offsetof(struct dmak_desc, next_msb) == DMAK_DESC_NXTDESC_MSB);
static_assert(offsetof(struct dmak_desc, buf) == DMAK_DESC_BUF_ADDR);
static_assert(offsetof(struct dmak_desc, buf_msb) == DMAK_DESC_BUF_ADDR_MSB);
static_assert(offsetof(struct dmak_desc, control) == DMAK_DESC_CONTROL);
static_assert(offsetof(struct dmak_desc, status) == DMAK_DESC_STATUS);
static_assert(offsetof(struct dmak_desc, app) == DMAK_DESC_APP0);

#endif /* _DMAK_HW_H */
