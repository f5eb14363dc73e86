"""Local secrets, generated once into the data folder unless the environment gives them.

- the JWT signing secret: `CRM_JWT_SECRET`, else `D/jwt.secret`;
- the master key that wraps each customer's data key: `CRM_MASTER_KEY` (base64 of 16,
  24 or 32 bytes), else `D/master.key` (32 random bytes, base64).

Files are created with mode 0600 and `O_EXCL`, so two processes starting at once agree
on one value. Production sets both variables and keeps them out of the data folder.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from ops.config import Settings
from ops.errors import SettingError

JWT_SECRET_FILE = "jwt.secret"
MASTER_KEY_FILE = "master.key"


def local_secret(data_dir: Path, name: str, make: Callable[[], str]) -> str:
    """The secret in `data_dir/name`, created with `make()` on first use."""
    path = data_dir / name
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    except OSError as error:
        raise SettingError("CRM_DATA_DIR", f"cannot create {path}: {error.strerror}") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(make() + "\n")
    return path.read_text().strip()


def jwt_secret(settings: Settings) -> str:
    if settings.jwt_secret:
        return settings.jwt_secret
    return local_secret(settings.data_dir, JWT_SECRET_FILE, lambda: secrets.token_urlsafe(48))


def master_key(settings: Settings) -> str:
    if settings.master_key:
        return settings.master_key
    return local_secret(
        settings.data_dir, MASTER_KEY_FILE, lambda: base64.b64encode(os.urandom(32)).decode()
    )


def with_secrets(settings: Settings) -> Settings:
    """The settings with `jwt_secret` and `master_key` filled in."""
    return settings.model_copy(
        update={"jwt_secret": jwt_secret(settings), "master_key": master_key(settings)}
    )
