import json

import pytest
import torch
from safetensors.torch import save_file

from maskgit import CheckpointError, MaskGIT, load_checkpoint, save_checkpoint
from maskgit.checkpoint import FORMAT_VERSION, METADATA_KEY, read_checkpoint


def test_round_trip_restores_both_models_exactly(tiny_model, images, tmp_path):
    path = tmp_path / "model.safetensors"
    tiny_model.save(path)
    loaded = MaskGIT.load(path)
    tokens = torch.randint(0, 33, (2, 16))
    assert torch.equal(loaded.transformer(tokens), tiny_model.transformer(tokens))
    assert torch.equal(loaded.tokenizer.encode(images), tiny_model.tokenizer.encode(images))
    assert loaded.tokenizer.config == tiny_model.tokenizer.config
    assert loaded.transformer.config == tiny_model.transformer.config
    assert not loaded.training


def test_the_header_holds_the_format_version_and_the_configs(tiny_model, tmp_path):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, transformer=tiny_model.transformer, extra={"step": 12})
    header, tensors = read_checkpoint(path)
    assert header["format_version"] == FORMAT_VERSION
    assert set(header["models"]) == {"transformer"} and header["extra"] == {"step": 12}
    assert header["models"]["transformer"]["dim"] == 32
    assert all(key.startswith("transformer.") for key in tensors)
    loaded = load_checkpoint(path)
    assert loaded.tokenizer is None and loaded.models == ["transformer"]


def test_half_precision_storage_loads_back_as_float32(tiny_model, tmp_path):
    path = tmp_path / "half.safetensors"
    tiny_model.save(path, dtype=torch.float16)
    assert {t.dtype for t in read_checkpoint(path)[1].values() if t.is_floating_point()} == {torch.float16}
    loaded = MaskGIT.load(path)
    assert next(loaded.transformer.parameters()).dtype == torch.float32
    weight = tiny_model.transformer.token_embedding.weight
    assert torch.allclose(loaded.transformer.token_embedding.weight, weight, atol=1e-3)


def test_saving_is_atomic_and_leaves_no_temporary_file(tiny_model, tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    tiny_model.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("maskgit.checkpoint.save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        tiny_model.save(path)
    assert path.read_bytes() == before  # the old checkpoint survives a failed save
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match=r"no model at .*nothing\.safetensors: give a run folder or a \.safe"):
        load_checkpoint(tmp_path / "nothing.safetensors")


def test_a_truncated_file_is_a_clear_error(tiny_model, tmp_path):
    path = tmp_path / "model.safetensors"
    tiny_model.save(path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


def test_a_safetensors_file_from_elsewhere_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not a maskgit checkpoint"):
        load_checkpoint(path)


def test_a_newer_format_asks_for_an_upgrade(tmp_path):
    path = tmp_path / "future.safetensors"
    header = {"format_version": FORMAT_VERSION + 1, "models": {}}
    save_file({"x": torch.zeros(1)}, str(path), metadata={METADATA_KEY: json.dumps(header)})
    with pytest.raises(CheckpointError, match="upgrade maskgit"):
        load_checkpoint(path)


def test_format_1_files_with_separate_q_k_v_projections_load_and_predict_the_same(tiny_model, tmp_path):
    """The shipped emoji model is such a file: format 1 stored q_proj, k_proj and v_proj apart."""
    path = tmp_path / "model.safetensors"
    tiny_model.save(path)
    header, tensors = read_checkpoint(path)
    old = {}
    for key, value in tensors.items():
        if ".qkv_proj." in key:
            for name, part in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3), strict=True):
                old[key.replace("qkv_proj", name)] = part.contiguous()
        else:
            old[key] = value
    save_file(old, str(path), metadata={METADATA_KEY: json.dumps({**header, "format_version": 1})})
    tokens = torch.randint(0, 33, (2, 16))
    assert torch.equal(load_checkpoint(path).transformer(tokens), tiny_model.transformer(tokens))


def test_weights_that_do_not_fit_the_config_name_the_tensor_and_both_shapes(tiny_model, tmp_path):
    path = tmp_path / "model.safetensors"
    tiny_model.save(path)
    header, tensors = read_checkpoint(path)
    header["models"]["transformer"]["mlp_hidden"] = 48  # the config now says 48, the weights say 64
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(header)})
    with pytest.raises(
        CheckpointError, match=r"blocks\.0\.mlp\.0\.bias has shape \(64,\) in the file but the model expects \(48,\)"
    ):
        load_checkpoint(path)


def test_missing_tensors_are_named(tiny_model, tmp_path):
    path = tmp_path / "model.safetensors"
    tiny_model.save(path)
    header, tensors = read_checkpoint(path)
    del tensors["transformer.output_bias"]
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(header)})
    with pytest.raises(CheckpointError, match="missing output_bias"):
        load_checkpoint(path)


def test_a_checkpoint_without_both_models_cannot_inpaint(tiny_model, tmp_path):
    path = tmp_path / "tokenizer.safetensors"
    save_checkpoint(path, tokenizer=tiny_model.tokenizer)
    with pytest.raises(Exception, match="holds only tokenizer"):
        MaskGIT.load(path)
