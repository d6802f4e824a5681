"""Where models come from: folders and Hub ids told apart, and a missing network costs seconds, not minutes."""

from __future__ import annotations

import time

import pytest
from huggingface_hub import constants as hf_constants

from adain_hub import AdaIN
from adain_hub.hub import ModelLoadError, hub_reachable, load_model, looks_like_path

from .conftest import TINY, fake_hub_cache


@pytest.mark.parametrize("name", ["./my_model", "../x", "/abs/model", "~/models/x", "runs/mine/model", "a b"])
def test_paths_are_told_from_hub_ids(name):
    assert looks_like_path(name)


@pytest.mark.parametrize("name", ["adain-hub/adain-vgg19", "someone/model.v2", "gpt2"])
def test_hub_ids_are_told_from_paths(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing of that name here
    assert not looks_like_path(name)


def test_an_unreachable_hub_fails_fast_and_reads_the_cache(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    AdaIN(TINY).save_pretrained(folder)
    cache = tmp_path / "hub"
    repo = fake_hub_cache(cache, folder, repo="someone/cached")
    # online as far as the environment says, but the endpoint refuses connections
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    assert not hub_reachable(timeout=1.0)
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match="not available from the Hugging Face Hub"):
        load_model("someone/not-cached")
    assert time.perf_counter() - start < 8  # the probe's 3 s, not huggingface_hub's ~23 s of retries
    assert load_model(repo, online=False).config == AdaIN(TINY).config


def test_files_and_damaged_folders_are_one_line(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="not a file"):
        load_model(tmp_path / "model.safetensors")
    with pytest.raises(ModelLoadError, match="cannot load model"):
        load_model(tmp_path)


def test_a_two_part_name_under_an_existing_folder_is_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not looks_like_path("runs/typo_model")
    (tmp_path / "runs").mkdir()
    assert looks_like_path("runs/typo_model")
    with pytest.raises(ModelLoadError, match="no such model folder"):
        load_model("runs/typo_model")
    with pytest.raises(ModelLoadError, match="no such model folder"):
        load_model("~no_such_user_xyz/model")


def test_public_names_are_spelled_out_for_type_checkers_and_all_import():
    import adain_hub

    assert sorted(adain_hub.__all__) == sorted(adain_hub._EXPORTS)
    for name in adain_hub.__all__:
        assert getattr(adain_hub, name) is not None
