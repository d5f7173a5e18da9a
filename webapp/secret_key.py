"""A SECRET_KEY for a deployment that did not set one: made once, kept under instance/."""

import logging
import os
import secrets

log = logging.getLogger(__name__)


def ensure_secret_key(app):
    """Use instance/secret_key when SECRET_KEY is unset, creating it on first use.

    Every process on this host then signs with the same key; processes on other hosts
    need SECRET_KEY set to agree with them.
    """
    if app.config["SECRET_KEY"]:
        return
    path = os.path.join(app.instance_path, "secret_key")
    os.makedirs(app.instance_path, exist_ok=True)
    if not os.path.exists(path):
        # Written whole under a name of this process's own, then linked into place: web
        # workers starting together never read a file that exists but is still empty.
        draft = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as key_file:
                key_file.write(secrets.token_hex(32))
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            log.warning("SECRET_KEY is not set: made one in %s", path)
        finally:
            os.unlink(draft)
    with open(path) as key_file:
        app.config["SECRET_KEY"] = key_file.read().strip()
