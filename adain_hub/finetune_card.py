"""What ``adain finetune`` measures and writes about a fine-tune: before/after scores on paintings it
never trained on, the table and contact sheet, and the model card.

The scores are ``adain eval``'s, computed the same way (:class:`~adain_hub.evaluation.Judge`,
:class:`~adain_hub.evaluation.AdaINMethod` over a :class:`~adain_hub.Stylizer` with no cache, images
read by :func:`~adain_hub.evaluation.load_folder`), so ``adain eval --model before=BASE after=OUT/model``
on the folders in ``OUT/eval/`` gives the same numbers pair for pair.
"""

from __future__ import annotations

import copy
import csv
from dataclasses import asdict, fields
from pathlib import Path
from typing import Mapping, Sequence

from PIL import Image

from . import evaluation as ev
from .model import AdaIN
from .stylizer import Stylizer

SETS = {"yours": "your held-out paintings", "others": "paintings by others"}
SHEET_ROWS = {"yours": 4, "others": 2}
TABLE_METRICS = ("content_loss", "style_loss", "ssim", "grid")


def evaluate_model(model: AdaIN, name: str, photos: Sequence[tuple[str, Image.Image]],
                   paintings: Mapping[str, Sequence[tuple[str, Image.Image]]], judge: ev.Judge, size: int,
                   backend: str = "fp32", progress: ev.Progress | None = None) -> dict[str, ev.EvalResult]:
    """``model`` (called ``name``) on every photo x painting of each set, as ``adain eval`` scores it."""
    method = ev.AdaINMethod(Stylizer(model, backend=backend, size=size, style_size=size, cache_size=0))
    results, done = {}, 0
    total = len(photos) * sum(len(v) for v in paintings.values())
    for key, styles in paintings.items():
        step = (lambda d, _t, base=done: progress(base + d, total)) if progress else None
        results[key] = ev.evaluate({name: method}, photos, styles, judge, SHEET_ROWS.get(key, 2), progress=step)
        done += len(photos) * len(styles)
    return results


def merge(first: ev.EvalResult, second: ev.EvalResult) -> ev.EvalResult:
    """Two runs over the same photos and paintings as one result with both methods."""
    samples = {k: {**first.samples.get(k, {}), **second.samples.get(k, {})} for k in first.samples}
    return ev.EvalResult(first.methods + second.methods, first.scores + second.scores, samples, first.contents,
                         first.styles)


def table(results: Mapping[str, ev.EvalResult], before: str = "before", after: str = "after") -> list[dict]:
    """Per set: pairs, and for each metric the median over pairs before and after, and their ratio."""
    rows = []
    for key, result in results.items():
        row: dict = {"set": key, "paintings": len(result.styles), "photos": len(result.contents)}
        for metric in TABLE_METRICS:
            b = ev.median_metric(result.scores, before, metric)
            a = ev.median_metric(result.scores, after, metric)
            row[metric] = (b, a, a / b)
        rows.append(row)
    return rows


def table_markdown(rows: Sequence[dict]) -> str:
    """The before/after table of the card (medians over pairs; the ratio is after / before)."""
    lines = ["| paintings (never trained on) | pairs | content loss ↓ | style loss ↓ | SSIM to the photo ↑ | grid score ↓ |",
             "|---|---:|---|---|---|---|"]
    for row in rows:
        cells = [f"{_num(b)} → {_num(a)} (**{r:.2f}x**)" for b, a, r in (row[m] for m in TABLE_METRICS)]
        label = f"{SETS.get(row['set'], row['set'])} ({row['paintings']})"
        lines.append(f"| {label} | {row['paintings'] * row['photos']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _num(value: float) -> str:
    return f"{value:.3f}" if 0.01 <= abs(value) < 1000 else f"{value:.3g}"


def contact_sheet(results: Mapping[str, ev.EvalResult], cell: int = 224) -> Image.Image:
    """Rows of photo, painting, before, after: the sampled pairs of every set."""
    rows = []
    for key, result in results.items():
        for (ci, si), outputs in sorted(result.samples.items()):
            content, style = result.contents[ci], result.styles[si]
            images = [content.image, style.image] + [outputs[m] for m in result.methods]
            rows.append((f"{SETS.get(key, key)}: {style.name}, photo {content.name}", images))
    methods = next(iter(results.values())).methods
    return ev.grid_sheet(["photo", "painting"] + list(methods), rows, cell)


def write_eval(results: Mapping[str, ev.EvalResult], folder: Path) -> dict[str, Path]:
    """``pairs.csv`` (one row per set, method and pair), ``summary.md`` (the table) and
    ``contact_sheet.jpg`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"pairs.csv": folder / "pairs.csv", "summary.md": folder / "summary.md",
             "contact_sheet.jpg": folder / "contact_sheet.jpg"}
    with open(paths["pairs.csv"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["set"] + [fl.name for fl in fields(ev.PairScore)])
        writer.writeheader()
        for key, result in results.items():
            writer.writerows({"set": key, **asdict(s)} for s in result.scores)
    paths["summary.md"].write_text(table_markdown(table(results)))
    ev.save_jpeg(contact_sheet(results), paths["contact_sheet.jpg"])
    return paths


CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

A fine-tune of {% if base_url %}[{{ base_name }}]({{ base_url }}){% else %}`{{ base_name }}`{% endif %} (AdaIN,
[Huang & Belongie, ICCV 2017]({{ paper_url }})) on {{ n_train }} paintings, made in {{ minutes }} minutes by
`adain finetune` ({{ repo_url }}) on {{ device }}. It stylizes any photo with any painting, as its base does, and
was trained to do better on paintings like these.

```python
from adain_hub import AdaIN, Stylizer, StyleBank

model = AdaIN.from_pretrained("{{ repo_id }}")
stylizer = Stylizer(model)
stylizer("photo.jpg", "painting.jpg", alpha=0.8).save("out.png")
stylizer("photo.jpg", StyleBank.from_pretrained(model)["{{ first_style }}"]).save("out2.png")  # a painting of the set
```

or `adain stylize photo.jpg --style {{ first_style }} --model {{ repo_id }} --out out/`.

## Before and after, on paintings it never trained on

{{ n_photos }} held-out photos, each stylized with {{ n_heldout }} of the paintings given (held back from training)
and with {{ n_others }} paintings by other painters; scored by the VGG-19 judge of `adain eval` ({{ judge }}) at
{{ eval_size }} px. Medians over the pairs, the base model → this one (ratio):

{{ results_table }}
Losses: lower is closer (to the photo's structure for the content loss, to the painting's statistics for the
style loss). SSIM to the photo: higher keeps more of its structure. Grid score: how far a fine 4 px or 2 px mesh
stands out of the output's spectrum (photos score 1-3). A good fine-tune lowers the style loss on
your paintings and leaves the other two rows near 1x: it paints more like your painter without blurring the
photo or forgetting other styles (alpha could trade one for the other on its own).

![before and after](eval/contact_sheet.jpg)

*Columns: photo, painting, the base model ({{ base_name }}), this model. Scores per pair: `eval/pairs.csv`.*

## Recipe

| setting | value |
|---|---|
{% for key, value in recipe.items() %}| {{ key }} | {{ value }} |
{% endfor %}
## Check it yourself

```bash
{{ check_commands }}
```

(with the held-out photos and paintings of `OUT/eval/` kept by the command; the pairs match `eval/pairs.csv`).

## Style bank

`style_bank.safetensors`: the AdaIN statistics of the {{ n_bank }} paintings given ({{ bank_names }}), for
`--style NAME` and the app's gallery.
"""


def write_card(model: AdaIN, folder: Path, base_repo_id: str | None, **values) -> Path:
    """The fine-tune's ``README.md`` (replacing the generic card ``save_pretrained`` wrote): the base
    named and linked (``base_model`` in the metadata when it is a Hub id), the table, the sheet, the
    recipe and the commands that check them."""
    from huggingface_hub import ModelCard

    info = model._hub_mixin_info
    data = copy.deepcopy(info.model_card_data)
    data.tags = sorted(set(data.tags or []) | {"adain-finetune"})
    if base_repo_id:
        data.base_model = base_repo_id
        data.base_model_relation = "finetune"
    card = ModelCard.from_template(data, template_str=CARD_TEMPLATE, repo_url=info.repo_url, paper_url=info.paper_url,
                                   base_url=f"https://huggingface.co/{base_repo_id}" if base_repo_id else "", **values)
    path = folder / "README.md"
    card.save(path)
    return path

