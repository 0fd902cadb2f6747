// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmak: file operations of /dev/dmakN: open/release, ioctl dispatch, mmap.
 *
 * Every open file is a client with its own buffers; many processes may hold
 * the device open at once. Ioctl arguments are copied in and out with no
 * lock held.
 */
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dmak.h"

/*
 * The account of the current user on @dd, with one more file referring to
 * it; @spare, allocated beforehand, becomes it when the user has none yet.
 */
static struct dmak_user *dmak_user_get(struct dmak_dev *dd,
				       struct dmak_user *spare)
{
	kuid_t uid = current_euid();
	struct dmak_user *u;

	spin_lock(&dd->clients_lock);
	list_for_each_entry(u, &dd->users, node)
		if (uid_eq(u->uid, uid))
			goto found;
	u = spare;
	u->uid = uid;
	atomic64_set(&u->used, 0);
	list_add(&u->node, &dd->users);
found:
	u->files++;
	spin_unlock(&dd->clients_lock);
	if (u != spare)
		kfree(spare);
	return u;
}

static void dmak_user_put(struct dmak_dev *dd, struct dmak_user *u)
{
	spin_lock(&dd->clients_lock);
	if (--u->files)
		u = NULL;
	else
		list_del(&u->node);
	spin_unlock(&dd->clients_lock);
	kfree(u);
}

static void dmak_client_release(struct kref *ref)
{
	struct dmak_client *cl = container_of(ref, struct dmak_client, ref);

	/* after its channel files too: remove wakes their readers */
	spin_lock(&cl->dd->clients_lock);
	list_del(&cl->node);
	spin_unlock(&cl->dd->clients_lock);
	dmak_user_put(cl->dd, cl->user);	/* its buffers are all freed */
	put_device(&cl->dd->dev);
	if (cl->dummy)
		__free_page(cl->dummy);
	mutex_destroy(&cl->lock);
	kvfree(cl);
}

void dmak_client_put(struct dmak_client *cl)
{
	kref_put(&cl->ref, dmak_client_release);
}

static int dmak_open(struct inode *inode, struct file *file)
{
	struct dmak_dev *dd = container_of(inode->i_cdev, struct dmak_dev,
					   cdev);
	struct dmak_user *spare;
	struct dmak_client *cl;

	if (READ_ONCE(dd->dead))
		return -ENODEV;
	cl = kvzalloc(sizeof(*cl), GFP_KERNEL);
	if (!cl)
		return -ENOMEM;
	spare = kzalloc(sizeof(*spare), GFP_KERNEL);
	if (!spare) {
		kvfree(cl);
		return -ENOMEM;
	}
	cl->user = dmak_user_get(dd, spare);
	kref_init(&cl->ref);
	mutex_init(&cl->lock);
	INIT_LIST_HEAD(&cl->bufs);
	spin_lock_init(&cl->rec_lock);
	init_waitqueue_head(&cl->rec_wq);
	get_device(&dd->dev);
	cl->dd = dd;
	spin_lock(&dd->clients_lock);
	list_add_tail(&cl->node, &dd->clients);
	spin_unlock(&dd->clients_lock);
	file->private_data = cl;
	return nonseekable_open(inode, file);
}

static int dmak_release(struct inode *inode, struct file *file)
{
	struct dmak_client *cl = file->private_data;

	dmak_chans_cancel_client(cl);
	dmak_buf_release_all(cl);
	dmak_client_put(cl);
	return 0;
}

static ssize_t dmak_read(struct file *file, char __user *ubuf, size_t len,
			 loff_t *ppos)
{
	return dmak_records_read(file->private_data,
				 BIT(DMAK_MM2S) | BIT(DMAK_S2MM), file, ubuf,
				 len);
}

static __poll_t dmak_poll(struct file *file, poll_table *wait)
{
	return dmak_records_poll(file->private_data,
				 BIT(DMAK_MM2S) | BIT(DMAK_S2MM), file, wait);
}

static long dmak_ioctl_info(struct dmak_client *cl, void __user *uarg)
{
	struct dmak_info info = cl->dd->info;

	info.buf_quota = READ_ONCE(dmak_buf_quota);
	info.buf_used = atomic64_read(&cl->user->used);
	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long dmak_ioctl_alloc(struct dmak_client *cl, void __user *uarg)
{
	struct dmak_alloc arg;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	ret = dmak_buf_alloc(cl, &arg);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &arg, sizeof(arg))) {
		dmak_buf_free(cl, arg.handle);
		return -EFAULT;
	}
	return 0;
}

static long dmak_ioctl_free(struct dmak_client *cl, void __user *uarg)
{
	struct dmak_free arg;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.reserved)
		return -EINVAL;
	return dmak_buf_free(cl, arg.handle);
}

static long dmak_ioctl_sync(struct dmak_client *cl, void __user *uarg)
{
	struct dmak_sync arg;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	return dmak_buf_sync(cl, &arg);
}

/* The ioctls that use buffer memory through the device (see @mem_srcu). */
static bool dmak_ioctl_uses_memory(unsigned int cmd)
{
	switch (cmd) {
	case DMAK_IOC_ALLOC:
	case DMAK_IOC_SYNC:
	case DMAK_IOC_SUBMIT:
	case DMAK_IOC_EXPORT:
	case DMAK_IOC_IMPORT:
	case DMAK_IOC_CYCLIC:
		return true;
	default:
		return false;
	}
}

static long dmak_ioctl_call(struct dmak_client *cl, unsigned int cmd,
			    void __user *uarg)
{
	switch (cmd) {
	case DMAK_IOC_INFO:
		return dmak_ioctl_info(cl, uarg);
	case DMAK_IOC_ALLOC:
		return dmak_ioctl_alloc(cl, uarg);
	case DMAK_IOC_FREE:
		return dmak_ioctl_free(cl, uarg);
	case DMAK_IOC_SYNC:
		return dmak_ioctl_sync(cl, uarg);
	case DMAK_IOC_SUBMIT:
		return dmak_ioctl_submit(cl, uarg);
	case DMAK_IOC_WAIT:
		return dmak_ioctl_wait(cl, uarg);
	case DMAK_IOC_CHAN_OP:
		return dmak_ioctl_chan_op(cl, uarg);
	case DMAK_IOC_CHANNEL_FD:
		return dmak_ioctl_channel_fd(cl, uarg);
	case DMAK_IOC_CYCLIC:
		return dmak_ioctl_cyclic(cl, uarg);
	case DMAK_IOC_EXPORT:
		return dmak_ioctl_export(cl, uarg);
	case DMAK_IOC_IMPORT:
		return dmak_ioctl_import(cl, uarg);
	case DMAK_IOC_REGS:
		return dmak_ioctl_regs(cl, uarg);
	default:
		return -ENOTTY;
	}
}

static long dmak_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct dmak_client *cl = file->private_data;
	struct dmak_dev *dd = cl->dd;
	long ret;
	int idx;

	/* Once the hardware is gone, only INFO, FREE and WAIT still work. */
	if (READ_ONCE(dd->dead) && cmd != DMAK_IOC_INFO &&
	    cmd != DMAK_IOC_FREE && cmd != DMAK_IOC_WAIT)
		return -ENODEV;
	if (!dmak_ioctl_uses_memory(cmd))
		return dmak_ioctl_call(cl, cmd, (void __user *)arg);
	/* remove waits for these before it takes the memory back */
	idx = srcu_read_lock(&dd->mem_srcu);
	if (READ_ONCE(dd->unplugged))
		ret = -ENODEV;
	else
		ret = dmak_ioctl_call(cl, cmd, (void __user *)arg);
	srcu_read_unlock(&dd->mem_srcu, idx);
	return ret;
}

static int dmak_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct dmak_client *cl = file->private_data;
	int ret = -ENODEV;
	int idx;

	idx = srcu_read_lock(&cl->dd->mem_srcu);
	if (!READ_ONCE(cl->dd->dead) && !READ_ONCE(cl->dd->unplugged))
		ret = dmak_buf_mmap(cl, vma);
	srcu_read_unlock(&cl->dd->mem_srcu, idx);
	return ret;
}

const struct file_operations dmak_fops = {
	.owner = THIS_MODULE,
	.open = dmak_open,
	.release = dmak_release,
	.unlocked_ioctl = dmak_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = dmak_mmap,
	.read = dmak_read,
	.poll = dmak_poll,
};
