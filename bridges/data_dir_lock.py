"""One runtime per data dir: an OS lock (``flock``) on a file in it, naming its holder.

Two runtimes writing one journal interleave their events into a history neither of them
made (a restart on such a journal lost a run's settled markets). The lock is taken before
the journal is opened and held for the life of the runtime's root; the kernel drops it when
the process dies, however it dies, so a stale lock file never blocks a restart. ``flock``
locks belong to an open file, so a second runtime in the same process is refused too.

The file holds the holder's pid, for the refusal's message. It is never deleted: deleting
it while another process waits to lock it would let two holders lock two different files.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

LOCK_FILE = "tradeactors.lock"


class DataDirError(Exception):
    """The data dir cannot be used as it is; the message says what, where and what to do.

    Raised before any actor starts (by the runtime's root and by the command line), so a
    caller can print it as one line and exit.
    """


class DataDirLockedError(DataDirError):
    """Raised by :meth:`DataDirLock.acquire` when another runtime holds the data dir."""

    def __init__(self, data_dir: Path, holder: int | None) -> None:
        who = f"pid {holder}" if holder is not None else "a process whose pid is not known yet"
        super().__init__(
            f"data dir {data_dir} is in use by another runtime ({who}, lock "
            f"{data_dir / LOCK_FILE}); stop that runtime or choose another --data-dir"
        )
        self.data_dir = data_dir
        self.holder = holder


class DataDirLock:
    """The exclusive lock of one data dir; ``acquire`` it, ``release`` it (idempotent)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> DataDirLock:
        """Lock the data dir (creating it) or raise :class:`DataDirError` saying why not."""
        if self._fd is not None:
            return self
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise DataDirError(_unusable(self.data_dir, error)) from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise DataDirLockedError(self.data_dir, holder) from None
        except OSError as error:
            os.close(fd)
            raise DataDirError(_unusable(self.data_dir, error)) from error
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as error:
            os.close(fd)
            raise DataDirError(_unusable(self.data_dir, error)) from error
        self._fd = fd
        return self

    def release(self) -> None:
        """Unlock (closing the file unlocks it); the file stays, see the module's docstring."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _unusable(data_dir: Path, error: OSError) -> str:
    """What went wrong with the data dir, in words an operator can act on."""
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"data dir {data_dir} is not writable ({error.strerror}); make it writable or "
            "choose another --data-dir"
        )
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"data dir {data_dir} is out of space ({error.strerror}); free space and restart"
    return f"data dir {data_dir} cannot be used ({error.strerror or error}); check it and restart"
