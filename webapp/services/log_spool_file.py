"""The local log spool: a file that keeps log rows while Redis and the database are down.

One file per deployment, under the app's instance folder and named by a hash of its
database and Redis key prefix, so deployments sharing a checkout share no spool (SPEC
section 3). Each append is locked and fsynced before it returns; the file is bounded
(LOG_SPOOL_FILE_MAX_BYTES). A drain renames the file aside and writes it; the renamed file
goes only after its rows are committed, and one left by a drainer that died is taken up by
the next drain.
"""

import fcntl
import glob
import hashlib
import logging
import os
import uuid

from flask import current_app

log = logging.getLogger(__name__)

_BATCH = 500


class SpoolFull(Exception):
    """The local spool file reached its bound."""


def path():
    """This deployment's spool file."""
    config = current_app.config
    key = f"{config['SQLALCHEMY_DATABASE_URI']}|{config['REDIS_KEY_PREFIX']}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return os.path.join(current_app.instance_path, "log-spool", f"{digest}.jsonl")


def append(text):
    """Append one row's JSON text and fsync it; raises SpoolFull past the bound."""
    target = path()
    os.makedirs(os.path.dirname(target), exist_ok=True)
    limit = current_app.config.get("LOG_SPOOL_FILE_MAX_BYTES", 64 * 1024 * 1024)
    line = (text.replace("\n", " ") + "\n").encode()
    while True:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # A drain may have renamed the file while we waited for the lock: write to the new one.
            try:
                same = os.fstat(fd).st_ino == os.stat(target).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                continue
            if os.fstat(fd).st_size + len(line) > limit:
                raise SpoolFull(f"the local log spool reached {limit} bytes")
            os.write(fd, line)
            os.fsync(fd)
            return
        finally:
            os.close(fd)  # closing releases the lock


def depth():
    """How many rows wait on file (those set aside by a drain included); NaN when a spool
    file cannot be read."""
    target = path()
    rows = 0
    for name in (target, *glob.glob(f"{target}.*.draining")):
        try:
            with open(name, "rb") as handle:
                rows += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
        except FileNotFoundError:
            continue  # drained and removed meanwhile
        except OSError:
            return float("nan")
    return rows


def drain(write):
    """Write the spooled rows with `write(texts)` (which commits them); return how many.

    Raises what `write` raises (say, the database is unreachable): the rows stay on file.
    """
    target = path()
    if os.path.exists(target) and os.path.getsize(target) > 0:
        _set_aside(target)
    written = 0
    for aside in sorted(glob.glob(f"{target}.*.draining")):
        fd = os.open(aside, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # another process drains it now
            if not os.path.exists(aside):
                continue  # drained and removed while we opened it
            with os.fdopen(os.dup(fd), "rb") as handle:
                lines = [line.decode(errors="replace").rstrip("\n") for line in handle if line.strip()]
            for start in range(0, len(lines), _BATCH):
                write(lines[start:start + _BATCH])
            os.unlink(aside)
            written += len(lines)
        finally:
            os.close(fd)
    return written


def _set_aside(target):
    fd = os.open(target, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.path.exists(target) and os.fstat(fd).st_ino == os.stat(target).st_ino:
            os.rename(target, f"{target}.{uuid.uuid4().hex}.draining")
    finally:
        os.close(fd)
