"""The errnos docs/driver.md allows for each call on /dev/dmakN.

``ALLOWED`` encodes the ABI section's ioctl table (one set per call, split
by operation where the table names the operation); ``check()`` adds what
any call may answer by construction of its arguments: ``EFAULT`` for a
pointer that is not the caller's memory, ``EINTR`` for a call a signal
interrupted, and the errnos of the kernel's own checks before the driver
sees an mmap(). The device never goes away during a run, so ``ENODEV`` is
not expected.
"""

import errno as E

ALLOWED = {
    "INFO": {E.EFAULT},
    "ALLOC": {E.EINVAL, E.EDQUOT, E.ENOMEM, E.ENOSPC},
    "FREE": {E.ENOENT, E.EINVAL},
    "SYNC": {E.ENOENT, E.EINVAL},
    # EBUSY: "SUBMIT to S2MM answers EBUSY during a capture" (the header
    # and the cyclic section of driver.md; the ioctl table omits it).
    "SUBMIT": {E.EINVAL, E.EOPNOTSUPP, E.EMSGSIZE, E.ENOENT, E.EIO,
               E.EAGAIN, E.EFAULT, E.EBUSY},
    "WAIT": {E.ETIMEDOUT, E.EINVAL, E.ENOENT},
    "CHAN_OP": {E.EINVAL},
    "CHAN_OP.STATUS": {E.EINVAL},
    "CHAN_OP.RESET": {E.EINVAL, E.EPERM, E.ETIMEDOUT},
    "CHAN_OP.CANCEL": {E.EINVAL, E.ENOENT, E.EALREADY, E.EBUSY},
    "CHAN_OP.STOP": {E.EINVAL},
    "CHAN_OP.START": {E.EINVAL},
    "CHAN_OP.COALESCE": {E.EINVAL, E.EOPNOTSUPP},
    "CHANNEL_FD": {E.EINVAL, E.EMFILE},
    "REGS": {E.EFAULT, E.ENOTTY},
    "CYCLIC": {E.EINVAL, E.EOPNOTSUPP},
    "CYCLIC.START": {E.EINVAL, E.EOPNOTSUPP, E.EBUSY, E.ENOENT, E.EIO,
                     E.ETIMEDOUT},
    "CYCLIC.RELEASE": {E.EINVAL, E.EOPNOTSUPP, E.ENOENT, E.EIO},
    "CYCLIC.STOP": {E.EINVAL, E.EOPNOTSUPP, E.ENOENT, E.ETIMEDOUT},
    "CYCLIC.STATUS": {E.EINVAL, E.EOPNOTSUPP, E.ENOENT},
    "EXPORT": {E.EINVAL, E.ENOENT, E.EMFILE},
    "IMPORT": {E.EBADF, E.EINVAL, E.EIO, E.ENOSPC},
    "read": {E.EINVAL, E.EAGAIN},
    "mmap": {E.EINVAL},
    "unknown": {E.ENOTTY},
}

#: what the kernel checks before a driver's mmap() is called, by the
#: argument that makes the check fail (see dmakfuzz's mmap action)
MMAP_KERNEL = {
    "len0": {E.EINVAL},             # length 0
    "huge": {E.ENOMEM, E.EINVAL},   # past the address space
    "wrap": {E.EOVERFLOW, E.EINVAL},  # offset + length past 2^64 pages
    "validate": {E.EOPNOTSUPP},     # MAP_SHARED_VALIDATE, unknown flags
    "exec": {E.EPERM},              # PROT_EXEC on a noexec /dev
}


def check(call, err, bad_pointer=False, signalled=False, extra=()):
    """Whether ``err`` (an errno, 0 for success) is allowed for ``call``
    (a key of ``ALLOWED``; ``CHAN_OP.x`` and ``CYCLIC.x`` fall back to
    their call). ``bad_pointer``: an argument named memory the caller
    cannot read or write; ``signalled``: a timer signal may have
    interrupted the call; ``extra``: errnos the kernel answers before the
    driver sees the call, as the arguments were made to provoke."""
    if err == 0:
        return True
    allowed = ALLOWED.get(call, ALLOWED.get(call.split(".")[0], set()))
    if err in allowed or err in extra:
        return True
    if err == E.EFAULT and bad_pointer:
        return True
    return err == E.EINTR and signalled
