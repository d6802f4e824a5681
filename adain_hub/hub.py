"""Where a model comes from: a local folder, the Hugging Face Hub, or the local Hub cache.

``AdaIN.from_pretrained`` does the loading; this module turns its many failure modes into one
:class:`ModelLoadError` line, and bounds the time a missing network costs (huggingface_hub retries
for about 23 s before giving up; a 3 s TCP probe tells us to read the local cache instead).
"""

from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from huggingface_hub import constants as hf_constants

from .images import one_line
from .model import AdaIN

# "name" or "org/name", as the Hub spells repository ids; anything else is meant as a path.
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


class ModelLoadError(ValueError):
    """A model that cannot be loaded; the message names it and says why, in one line."""


def looks_like_path(name: str | os.PathLike) -> bool:
    """Whether ``name`` means a local folder: it exists, or cannot be a Hub id (``./x``, ``/x``,
    ``~/x``, ``a/b/c``), or its first part is a local folder (``runs/typo`` when ``runs/`` exists)."""
    text = str(name)
    if Path(text).exists() or not _REPO_ID.match(text) or text.startswith((".", "~")):
        return True
    return "/" in text and Path(text.split("/", 1)[0]).is_dir()


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub endpoint accepts a TCP connection within ``timeout`` seconds.

    The probe runs in a thread so a hanging DNS lookup is bounded too. Behind a proxy a direct
    probe means nothing, so then we say yes and let huggingface_hub try.
    """
    if hf_constants.HF_HUB_OFFLINE:
        return False
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")):
        return True
    url = urlparse(hf_constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    ok: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(ok)


def load_model(name: str | os.PathLike, online: bool | None = None) -> AdaIN:
    """``AdaIN.from_pretrained(name)`` for a folder or a Hub id, failing fast with one clear line.

    A Hub id is fetched online, or read from the local Hub cache when ``online`` is false (by
    default: when ``HF_HUB_OFFLINE=1`` or the Hub does not answer within 3 s). Raises
    :class:`ModelLoadError`.
    """
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError, RepositoryNotFoundError
    from huggingface_hub.utils import logging as hf_logging

    text = str(name)
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # ~someone/... for a user this machine does not know
        raise ModelLoadError(f"{text}: no such model folder") from None
    if path.is_file():
        raise ModelLoadError(f"{text}: a model is a folder (config.json, model.safetensors) or a Hub id, not a file")
    if looks_like_path(text) and not path.exists():
        raise ModelLoadError(f"{text}: no such model folder")
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its retry warnings would bury the one line that matters
    try:
        if path.is_dir():
            return AdaIN.from_pretrained(str(path))
        online = hub_reachable() if online is None else online
        return AdaIN.from_pretrained(text, local_files_only=not online)
    except HFValidationError:
        raise ModelLoadError(f"{text}: no such model folder (and not a valid Hub id)") from None
    except (LocalEntryNotFoundError, RepositoryNotFoundError):
        raise ModelLoadError(
            f"{text}: no such model folder, and not available from the Hugging Face Hub "
            "(offline and not in the local cache, or no such repository)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a damaged folder: strictness errors, bad JSON, ...
        raise ModelLoadError(f"{text}: cannot load model ({one_line(exc)})") from None
    finally:
        hf_logging.set_verbosity(verbosity)


def named_models(specs: list[str]) -> dict[str, str]:
    """``--model`` values (the app's, ``adain eval``'s) as name -> folder or Hub id: ``NAME=MODEL``, or
    the id or folder as given (which is then its name too). ``ValueError`` for an empty part or a name
    given twice."""
    named: dict[str, str] = {}
    for spec in specs:
        name, sep, source = spec.partition("=")
        name, source = (name.strip(), source.strip()) if sep else (spec.strip(), spec.strip())
        if not name or not source:
            raise ValueError(f"--model {spec!r}: give MODEL or NAME=MODEL")
        if name in named:
            raise ValueError(f"--model: the name {name!r} is given twice")
        named[name] = source
    return named
