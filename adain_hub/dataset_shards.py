"""``--to-dataset`` output: parquet shards a ``datasets`` loader reads back (the stylized image, the
source's other columns with their features, ``source``, ``k``, ``style``, ``alpha``), each written
whole or not at all, and the dataset card beside them."""

from __future__ import annotations

from pathlib import Path

from .images import write_atomic

OWN_COLUMNS = ("source", "k", "style", "alpha")


def shard_features(extra: dict, image_column: str):
    """``datasets.Features`` of a shard: the image, the source's ``extra`` columns, then ours;
    ``ValueError`` when the source already has a column of those names."""
    import datasets

    clash = {*OWN_COLUMNS, image_column} & set(extra)
    if clash:
        raise ValueError(f"the source has columns named {sorted(clash)}, which the stylized dataset uses")
    return datasets.Features({image_column: datasets.Image(), **extra, "source": datasets.Value("string"),
                              "k": datasets.Value("int32"), "style": datasets.Value("string"),
                              "alpha": datasets.Value("float32")})


def class_label(names: list[str]):
    import datasets

    return datasets.ClassLabel(names=names)


def write_shard(path: Path, rows: list[dict], features) -> None:
    """``rows`` (one dict per output, keyed by the features' names) as one parquet file at ``path``,
    through a temporary file and a rename. The Arrow schema carries the features (ClassLabel names,
    Image), so ``load_dataset`` gives them back."""
    import datasets
    import pyarrow.parquet as pq

    columns = {name: [row[name] for row in rows] for name in features}
    table = datasets.Dataset.from_dict(columns, features=features).data.table
    write_atomic(path, lambda tmp: pq.write_table(table, str(tmp)))


def shard_sources(path: Path) -> set[str]:
    """The ``source`` of every row of a shard written earlier."""
    import pyarrow.parquet as pq

    return set(pq.read_table(path, columns=["source"]).column("source").to_pylist())


def write_card(out: Path, split: str) -> None:
    """A dataset card, so that ``load_dataset(out)`` and the Hub read ``data/<split>-*.parquet``.

    It names no ``configs``: with them, ``datasets`` 5.2 caches a local folder by its name alone, and
    a second folder of the same name (or this one after more shards) loads the first one's cached
    rows. Without them it finds ``data/`` itself and caches by the files."""
    card = out / "README.md"
    if card.exists():
        return
    text = ("---\ntags:\n- adain-hub\n- style-transfer\n- stylized\n---\n\n# Stylized dataset\n\n"
            f"Made with `adain stylize-dataset` (adain-hub): split `{split}` in `data/{split}-*.parquet`. "
            "`manifest.csv` lists each output's source, style, alpha and model, and the inputs that were refused.\n")
    write_atomic(card, text.encode())
