"""A style bank: the statistics AdaIN needs of each of many paintings, named, without the paintings.

AdaIN uses a style only through the channel mean and standard deviation of its encoder features,
so a bank of thousands of styles is a few hundred kilobytes and loads in milliseconds: what a
training run needs to stylize data at random, a CLI needs to offer ``--style van-gogh-...`` offline,
and a Space needs to show a gallery. A bank is tied to the encoder it was built with (the
statistics of another encoder mean nothing to this decoder), so it records that encoder's
fingerprint and refuses to load for another.

Files are safetensors: ``mean`` and ``std`` ``(N, C)`` float32, and in the metadata the names,
the credit lines and the encoder's fingerprint. Models ship one as ``style_bank.safetensors``
beside their weights; ``AdaIN.from_pretrained`` finds it (:attr:`AdaIN.style_bank_file`).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import safetensors
import safetensors.torch
import torch
from PIL import Image
from torch import Tensor

from .images import ImageError, ImageInput, iter_image_files, one_line, write_atomic
from .backends import Backend
from .model import STYLE_BANK_FILE, AdaIN
from .stylizer import StyleFeatures, Stylizer

FORMAT = "adain-hub-style-bank/1"


class StyleBankError(ValueError):
    """A bank that cannot be used (not a bank, built for another encoder, no such style); one line."""


@dataclass(frozen=True, eq=False)
class StyleBank:
    """Named style statistics: ``mean`` and ``std`` ``(N, C)`` of the model's AdaIN features.

    Build one with :meth:`from_images`, keep it with :meth:`save`, read it back with :meth:`load`
    (checked against the model) or :meth:`from_pretrained` (the bank shipped with a model).
    ``bank["name"]`` or ``bank[i]`` is a :class:`~adain_hub.StyleFeatures` any
    :class:`~adain_hub.Stylizer` call takes as a style.
    """

    names: tuple[str, ...]
    mean: Tensor
    std: Tensor
    encoder: str
    credits: tuple[str, ...] = ()
    thumbnails: tuple[bytes, ...] = ()  # a small JPEG per style, for galleries (the app's)

    def __post_init__(self) -> None:
        n = len(self.names)
        if self.mean.dim() != 2 or self.mean.shape != self.std.shape or len(self.mean) != n:
            raise StyleBankError(f"a bank needs (N, C) means and stds for its {n} names, got "
                                 f"{tuple(self.mean.shape)} and {tuple(self.std.shape)}")
        if len(set(self.names)) != n:
            raise StyleBankError("a bank's names must be unique")
        if self.credits and len(self.credits) != n:
            raise StyleBankError(f"{len(self.credits)} credit lines for {n} styles")
        if not self.credits:
            object.__setattr__(self, "credits", ("",) * n)
        if self.thumbnails and len(self.thumbnails) != n:
            raise StyleBankError(f"{len(self.thumbnails)} thumbnails for {n} styles")

    def __len__(self) -> int:
        return len(self.names)

    @property
    def channels(self) -> int:
        return self.mean.shape[1]

    def index(self, name: str) -> int:
        """Position of ``name`` (exact, else ignoring case); :class:`StyleBankError` if absent."""
        if name in self.names:
            return self.names.index(name)
        folded = [n.casefold() for n in self.names]
        if name.casefold() in folded:
            return folded.index(name.casefold())
        shown = ", ".join(self.names[:5]) + (", ..." if len(self) > 5 else "")
        raise StyleBankError(f"{name!r} is not a style in this bank ({len(self)} styles: {shown})")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.casefold() in {n.casefold() for n in self.names}

    def __getitem__(self, key: int | str) -> StyleFeatures:
        i = self.index(key) if isinstance(key, str) else int(key)
        mean, std = self.mean[i].view(1, -1, 1, 1), self.std[i].view(1, -1, 1, 1)
        return StyleFeatures(None, mean, std)

    def to(self, device: torch.device | str) -> "StyleBank":
        return StyleBank(self.names, self.mean.to(device), self.std.to(device), self.encoder, self.credits,
                         self.thumbnails)

    def thumbnail(self, key: int | str) -> "Image.Image | None":
        """The style's small preview picture, or ``None`` when the bank carries none."""
        if not self.thumbnails:
            return None
        i = self.index(key) if isinstance(key, str) else int(key)
        return Image.open(io.BytesIO(self.thumbnails[i])).convert("RGB")

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def from_images(
        cls,
        model: AdaIN,
        images: str | os.PathLike | Sequence[ImageInput],
        names: Sequence[str] | None = None,
        credits: Mapping[str, str] | Sequence[str] | None = None,
        size: int = 512,
        backend: str | Backend = "auto",
        thumbnail: int = 96,
    ) -> "StyleBank":
        """Encode each painting once (longer side at ``size``, as a :class:`Stylizer` encodes
        styles) and keep its statistics. ``images``: a folder (searched recursively, names from
        the file stems) or a list of paths or images (``names`` then required for non-paths).
        ``credits``: one line per style, by name or in order. Raises
        :class:`~adain_hub.ImageError` naming the first unreadable painting. ``thumbnail``: the
        longer side of the preview JPEG kept per style (about 3 KB; 0: none)."""
        if isinstance(images, (str, os.PathLike)):
            folder = Path(images)
            if not folder.is_dir():
                raise ImageError(f"{folder}: no such folder of paintings")
            images = list(iter_image_files(folder))
            if not images:
                raise ImageError(f"{folder}: no images in this folder")
        images = list(images)
        if names is None:
            if not all(isinstance(im, (str, os.PathLike)) for im in images):
                raise ValueError("give names for styles that are not files")
            names = unique_names([Path(im).stem for im in images])
        names = tuple(names)
        if len(names) != len(images):
            raise ValueError(f"{len(names)} names for {len(images)} images")
        stylizer = Stylizer(model, backend=backend, style_size=size, cache_size=0)
        encoded, thumbs = [], []
        for im in images:
            features = stylizer.encode_style(im)
            encoded.append(features)
            thumbs.append(_thumbnail(features.image, thumbnail) if thumbnail else b"")
        mean = torch.cat([e.mean.flatten(1) for e in encoded]).float().cpu()
        std = torch.cat([e.std.flatten(1) for e in encoded]).float().cpu()
        if isinstance(credits, Mapping):
            credits = [credits.get(n, "") for n in names]
        return cls(names, mean, std, model.fingerprint("encoder"), tuple(credits or ()),
                   tuple(thumbs) if thumbnail else ())

    # -- files ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the bank as safetensors (written whole or not at all); returns the path."""
        path = Path(path)
        if path.is_dir():
            path = path / STYLE_BANK_FILE
        metadata = {"format": FORMAT, "encoder": self.encoder, "names": json.dumps(list(self.names)),
                    "credits": json.dumps(list(self.credits))}
        tensors = {"mean": self.mean.float().contiguous().cpu(), "std": self.std.float().contiguous().cpu()}
        if self.thumbnails:  # the JPEGs end to end, and where each starts
            tensors["thumbnails"] = torch.frombuffer(bytearray(b"".join(self.thumbnails)), dtype=torch.uint8)
            tensors["thumbnail_offsets"] = torch.tensor([0, *itertools.accumulate(map(len, self.thumbnails))])
        write_atomic(path, lambda tmp: safetensors.torch.save_file(tensors, str(tmp), metadata=metadata))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, model: AdaIN | None = None) -> "StyleBank":
        """Read a bank; with ``model``, refuse (:class:`StyleBankError`) one built for another encoder."""
        path = Path(path)
        if path.is_dir():
            path = path / STYLE_BANK_FILE
        try:
            with safetensors.safe_open(str(path), "pt") as f:
                meta = f.metadata() or {}
                if meta.get("format") != FORMAT:
                    raise StyleBankError(f"{path}: not a style bank (no {FORMAT!r} in its metadata)")
                mean, std = f.get_tensor("mean"), f.get_tensor("std")
                thumbs: tuple[bytes, ...] = ()
                if "thumbnails" in f.keys():
                    data, offsets = f.get_tensor("thumbnails").numpy().tobytes(), f.get_tensor("thumbnail_offsets")
                    thumbs = tuple(data[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist()))
            bank = cls(tuple(json.loads(meta["names"])), mean, std, meta.get("encoder", ""),
                       tuple(json.loads(meta.get("credits", "[]"))), thumbs)
        except StyleBankError:
            raise
        except FileNotFoundError:
            raise StyleBankError(f"{path}: no such style bank") from None
        except Exception as exc:  # noqa: BLE001 - safetensors and json raise many types for a bad file
            raise StyleBankError(f"{path}: not a style bank ({one_line(exc)})") from None
        if model is not None:
            bank.check(model, str(path))
        return bank

    def check(self, model: AdaIN, what: str = "this style bank") -> None:
        """Raise :class:`StyleBankError` unless the bank was built with ``model``'s encoder."""
        if self.encoder != model.fingerprint("encoder"):
            raise StyleBankError(f"{what} was built for another encoder (fingerprint {self.encoder or 'none'}, "
                                 f"this model's is {model.fingerprint('encoder')}): build one with "
                                 "StyleBank.from_images(model, paintings)")

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike | AdaIN) -> "StyleBank":
        """The bank shipped with a model: a loaded :class:`AdaIN` (its :attr:`~AdaIN.style_bank_file`),
        a model folder, or a Hub id (read from the local cache when offline)."""
        if isinstance(model, AdaIN):
            if model.style_bank_file is None:
                raise StyleBankError("this model has no style bank (none was found beside its weights)")
            return cls.load(model.style_bank_file, model)
        if os.path.isdir(model):
            return cls.load(Path(model) / STYLE_BANK_FILE)
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        from .hub import hub_reachable

        try:
            path = hf_hub_download(repo_id=str(model), filename=STYLE_BANK_FILE, local_files_only=not hub_reachable())
        except (EntryNotFoundError, OSError) as exc:
            raise StyleBankError(f"{model}: no style bank ({one_line(exc)})") from None
        return cls.load(path)

    # -- random styles ----------------------------------------------------------------------
    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``n`` new styles' ``(mean, std)``, ``(n, C)`` each, drawn from the Gaussian fitted to the
        bank's styles (their mean and covariance, in the space of channel means and log stds, so
        every std is positive): "style randomization" without any painting. The covariance is the
        bank's sample covariance exactly: a draw is the bank's mean plus its centred styles mixed
        by standard normal weights over ``sqrt(N - 1)``."""
        if len(self) < 2:
            raise StyleBankError("random styles need a bank of at least two styles to fit a Gaussian to")
        z = torch.cat([self.mean, self.std.clamp_min(1e-6).log()], dim=1).float().cpu()
        centre = z.mean(0)
        weights = torch.randn(n, len(self), generator=generator)
        draws = centre + weights @ (z - centre) / (len(self) - 1) ** 0.5
        c = self.channels
        return draws[:, :c].contiguous(), draws[:, c:].exp()


def _thumbnail(img: Image.Image, side: int) -> bytes:
    small = img.copy()
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def unique_names(stems: Sequence[str]) -> list[str]:
    """``stems`` made unique in order: a repeated ``x`` becomes ``x_2``, ``x_3``, ..."""
    seen: set[str] = set()
    out = []
    for stem in stems:
        name, k = stem, 2
        while name in seen:
            name, k = f"{stem}_{k}", k + 1
        seen.add(name)
        out.append(name)
    return out


def slug(text: str, words: int = 6) -> str:
    """A name for the command line: ASCII, lower case, words joined by hyphens (``Édouard Manet,
    Peonies`` -> ``edouard-manet-peonies``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    parts = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return "-".join(parts[:words])
