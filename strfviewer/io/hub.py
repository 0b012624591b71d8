"""Where a checkpoint folder comes from: a local folder, or a Hugging Face Hub model repository.

A local folder always wins. A missing path is reported as "no such checkpoint folder" first; only a name of
the form ``"owner/name"`` whose ``owner`` is not a folder here is then tried as a Hub repo id, fetched with
``huggingface_hub.snapshot_download``, which keeps its own cache (``cache_dir`` or ``~/.cache/huggingface``)
and honours ``HF_HUB_OFFLINE=1`` (then only the cache is used). ``huggingface_hub`` is imported lazily, so
loading a local checkpoint never touches it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional, Union

from strfviewer.io.atomic import recover_dir
from strfviewer.io.checkpoint_error import CheckpointError

PathLike = Union[str, os.PathLike]

#: The files a checkpoint may hold; only these are downloaded from the Hub.
CHECKPOINT_FILES = ("config.json", "model.safetensors", "metadata.json", "README.md")

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def looks_like_repo_id(text: str) -> bool:
    """True for ``"owner/name"`` strings, the only form strfviewer sends to the Hub."""
    return bool(_REPO_ID.match(text)) and ".." not in text


def resolve_checkpoint_folder(path_or_repo_id: PathLike, cache_dir: Optional[PathLike] = None,
                              revision: Optional[str] = None, token: Optional[str] = None) -> Path:
    """Return the local folder holding the checkpoint, downloading it from the Hub when needed.

    Raises :class:`CheckpointError` naming the path or repo id when it is neither a local folder nor a
    reachable (or cached) Hub repository.
    """
    local = Path(path_or_repo_id).expanduser()
    if local.parent.is_dir():
        local = recover_dir(local)  # put back a copy a killed save set aside, drop its leftovers
    if local.is_dir():
        return local
    if local.exists():
        raise CheckpointError(local, "is a file; a checkpoint is a folder holding config.json and "
                                     "model.safetensors")
    text = os.fspath(path_or_repo_id)
    if not looks_like_repo_id(text) or local.parent.is_dir() and str(local.parent) not in ("", "."):
        # a mistyped local path (its parent folder exists here): the Hub is not asked
        raise CheckpointError(local, "no such checkpoint folder" + _nearby(local))
    return download_checkpoint(text, cache_dir=cache_dir, revision=revision, token=token)


def _nearby(missing: Path) -> str:
    """`` (did you mean ...?)`` naming the closest sibling folders of a missing path, or ``""``."""
    import difflib

    try:
        siblings = sorted(p.name for p in missing.parent.iterdir() if p.is_dir())
    except OSError:
        return ""
    close = difflib.get_close_matches(missing.name, siblings, n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(str(missing.parent / c) for c in close)}?)" if close else ""


def download_checkpoint(repo_id: str, cache_dir: Optional[PathLike] = None, revision: Optional[str] = None,
                        token: Optional[str] = None) -> Path:
    """Fetch (or find in the cache) the checkpoint files of a Hub model repo; returns the snapshot folder."""
    import huggingface_hub

    try:
        folder = huggingface_hub.snapshot_download(
            repo_id=repo_id, repo_type="model", revision=revision, token=token,
            cache_dir=os.fspath(cache_dir) if cache_dir is not None else None,
            allow_patterns=list(CHECKPOINT_FILES))
    except Exception as exc:  # the Hub client raises many types (offline, 404, auth, network)
        raise CheckpointError(repo_id, "no such checkpoint folder; as a Hugging Face Hub repo id: "
                                       + _describe_hub_error(exc)) from exc
    return Path(folder)


def upload_checkpoint(folder: PathLike, repo_id: str, private: bool = False, token: Optional[str] = None,
                      commit_message: Optional[str] = None) -> str:
    """Upload a checkpoint folder to a Hub model repo (created if needed); returns the commit URL."""
    import huggingface_hub

    api = huggingface_hub.HfApi(token=token)
    api.create_repo(repo_id=repo_id, repo_type="model", private=private, exist_ok=True)
    info = api.upload_folder(repo_id=repo_id, repo_type="model", folder_path=os.fspath(folder),
                             allow_patterns=list(CHECKPOINT_FILES),
                             commit_message=commit_message or "Upload strfviewer checkpoint")
    return str(getattr(info, "commit_url", info))


def _describe_hub_error(exc: Exception) -> str:
    name = type(exc).__name__
    if name == "LocalEntryNotFoundError":
        return ("not in the local Hugging Face cache while the Hub cannot be reached (offline mode "
                "HF_HUB_OFFLINE=1, or no network)")
    if name in ("RepositoryNotFoundError", "GatedRepoError"):
        return "no such model repository on the Hugging Face Hub (or it is private or gated: pass token=...)"
    if name == "RevisionNotFoundError":
        return "the requested revision does not exist in this Hub repository"
    return f"download from the Hugging Face Hub failed ({name}: {exc})"
