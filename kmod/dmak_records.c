// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: completion records. Every transfer that ends leaves a record with
 * its submitter; read() on the device (both channels, in the order they
 * came) or on a channel file (one channel) returns them, and poll()
 * reports POLLIN while any wait. WAIT consumes the records it made
 * redundant, unless asked to leave them (DMAK_WAIT_PEEK): one file, one
 * consumer of its records. Once the device is gone, poll() adds POLLHUP and POLLERR, and
 * read() answers ENODEV when no record is left.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dmak.h"

/* Called from any context, under a channel lock. */
void dmak_record_push(struct dmak_client *cl, const struct dmak_completion *c)
{
	struct dmak_records *rec = &cl->rec[c->channel];
	unsigned long flags;

	spin_lock_irqsave(&cl->rec_lock, flags);
	if (rec->count == DMAK_RECORDS) {
		rec->overflow = true;	/* keep the oldest, drop the newest */
	} else {
		rec->order[(rec->head + rec->count) % DMAK_RECORDS] =
			cl->rec_next++;
		rec->ring[(rec->head + rec->count++) % DMAK_RECORDS] = *c;
		if (rec->overflow) {
			rec->ring[(rec->head + rec->count - 1) %
				  DMAK_RECORDS].flags |= DMAK_COMPL_OVERFLOW;
			rec->overflow = false;
		}
	}
	spin_unlock_irqrestore(&cl->rec_lock, flags);
	wake_up_interruptible_poll(&cl->rec_wq, EPOLLIN | EPOLLRDNORM);
}

/* Drops the records of channel @ch up to @seq: WAIT has reported them. */
void dmak_records_consume(struct dmak_client *cl, unsigned int ch, u64 seq)
{
	struct dmak_records *rec = &cl->rec[ch];

	spin_lock_irq(&cl->rec_lock);
	while (rec->count && rec->ring[rec->head].seq <= seq) {
		rec->head = (rec->head + 1) % DMAK_RECORDS;
		rec->count--;
	}
	spin_unlock_irq(&cl->rec_lock);
}

static bool dmak_records_pending(struct dmak_client *cl, unsigned int mask)
{
	return ((mask & BIT(DMAK_MM2S)) &&
		READ_ONCE(cl->rec[DMAK_MM2S].count)) ||
	       ((mask & BIT(DMAK_S2MM)) &&
		READ_ONCE(cl->rec[DMAK_S2MM].count));
}

/* The channel of @mask whose oldest record came first, or -1 if none. */
static int dmak_records_first(struct dmak_client *cl, unsigned int mask)
{
	struct dmak_records *rec;
	int ch, first = -1;

	for (ch = 0; ch < 2; ch++) {
		rec = &cl->rec[ch];
		if (!(mask & BIT(ch)) || !rec->count)
			continue;
		if (first < 0 || rec->order[rec->head] <
				 cl->rec[first].order[cl->rec[first].head])
			first = ch;
	}
	return first;
}

/* Takes up to @max records of the channels in @mask, as they came. */
static size_t dmak_records_take(struct dmak_client *cl, unsigned int mask,
				struct dmak_completion *out, size_t max)
{
	struct dmak_records *rec;
	size_t n = 0;
	int ch;

	spin_lock_irq(&cl->rec_lock);
	while (n < max && (ch = dmak_records_first(cl, mask)) >= 0) {
		rec = &cl->rec[ch];
		out[n++] = rec->ring[rec->head];
		rec->head = (rec->head + 1) % DMAK_RECORDS;
		rec->count--;
	}
	spin_unlock_irq(&cl->rec_lock);
	return n;
}

/* The device is gone: readers and pollers of every open file wake up. */
void dmak_records_hangup(struct dmak_dev *dd)
{
	struct dmak_client *cl;

	spin_lock(&dd->clients_lock);
	list_for_each_entry(cl, &dd->clients, node)
		wake_up_interruptible_poll(&cl->rec_wq, EPOLLHUP | EPOLLERR);
	spin_unlock(&dd->clients_lock);
}

ssize_t dmak_records_read(struct dmak_client *cl, unsigned int mask,
			  struct file *file, char __user *ubuf, size_t len)
{
	size_t max = min_t(size_t, len / sizeof(struct dmak_completion), 64);
	struct dmak_completion *recs;
	ssize_t ret;
	size_t n;

	if (!max)
		return -EINVAL;
	recs = kmalloc_array(max, sizeof(*recs), GFP_KERNEL);
	if (!recs)
		return -ENOMEM;
	for (;;) {
		n = dmak_records_take(cl, mask, recs, max);
		if (n)
			break;
		if (READ_ONCE(cl->dd->dead)) {
			ret = -ENODEV;
			goto out;
		}
		if (file->f_flags & O_NONBLOCK) {
			ret = -EAGAIN;
			goto out;
		}
		ret = wait_event_interruptible(cl->rec_wq,
					       dmak_records_pending(cl, mask) ||
					       READ_ONCE(cl->dd->dead));
		if (ret)
			goto out;
	}
	ret = n * sizeof(*recs);
	if (copy_to_user(ubuf, recs, ret))
		ret = -EFAULT;	/* records taken are lost, as for any read */
out:
	kfree(recs);
	return ret;
}

__poll_t dmak_records_poll(struct dmak_client *cl, unsigned int mask,
			   struct file *file, poll_table *wait)
{
	__poll_t events = 0;

	poll_wait(file, &cl->rec_wq, wait);
	if (dmak_records_pending(cl, mask))
		events |= EPOLLIN | EPOLLRDNORM;
	if (READ_ONCE(cl->dd->dead))
		events |= EPOLLHUP | EPOLLERR;
	return events;
}

/* channel files: read() and poll() of one channel's records */

struct dmak_chan_file {
	struct dmak_client *cl;
	unsigned int mask;
};

static ssize_t dmak_chan_file_read(struct file *file, char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	struct dmak_chan_file *cf = file->private_data;

	return dmak_records_read(cf->cl, cf->mask, file, ubuf, len);
}

static __poll_t dmak_chan_file_poll(struct file *file, poll_table *wait)
{
	struct dmak_chan_file *cf = file->private_data;

	return dmak_records_poll(cf->cl, cf->mask, file, wait);
}

static int dmak_chan_file_release(struct inode *inode, struct file *file)
{
	struct dmak_chan_file *cf = file->private_data;

	dmak_client_put(cf->cl);
	kfree(cf);
	return 0;
}

static const struct file_operations dmak_chan_file_fops = {
	.owner = THIS_MODULE,
	.read = dmak_chan_file_read,
	.poll = dmak_chan_file_poll,
	.release = dmak_chan_file_release,
	.llseek = noop_llseek,
};

long dmak_ioctl_channel_fd(struct dmak_client *cl, void __user *uarg)
{
	struct dmak_channel_fd arg;
	struct dmak_chan_file *cf;
	struct file *file;
	int fd;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.channel > DMAK_S2MM || arg.fd || arg.flags || arg.reserved ||
	    !(cl->dd->info.flags & (arg.channel == DMAK_MM2S ?
				    DMAK_INFO_MM2S : DMAK_INFO_S2MM)))
		return -EINVAL;
	cf = kzalloc(sizeof(*cf), GFP_KERNEL);
	if (!cf)
		return -ENOMEM;
	cf->cl = cl;
	cf->mask = BIT(arg.channel);
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		kfree(cf);
		return fd;
	}
	file = anon_inode_getfile("dmak-channel", &dmak_chan_file_fops, cf,
				  O_RDONLY);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		kfree(cf);
		return PTR_ERR(file);
	}
	kref_get(&cl->ref);	/* dropped by the file's release */
	arg.fd = fd;
	if (copy_to_user(uarg, &arg, sizeof(arg))) {
		put_unused_fd(fd);
		fput(file);
		return -EFAULT;
	}
	fd_install(fd, file);
	return 0;
}
