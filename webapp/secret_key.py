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
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as key_file:
            key_file.write(secrets.token_hex(32))
        log.warning("SECRET_KEY is not set: made one in %s", path)
    with open(path) as key_file:
        app.config["SECRET_KEY"] = key_file.read().strip()
