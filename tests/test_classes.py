"""What a class-conditional model's class ids mean (maskgit.classes): names and training counts travel in the
checkpoint, a class is picked by id or name, and generation without one draws classes as often as in training."""

import json

import pytest
import torch

from maskgit import MaskGIT, TokenizerConfig, TransformerConfig
from maskgit.classes import ClassVocabulary
from maskgit.errors import ConfigError, InputError

VOCABULARY = ClassVocabulary("subcategory", ("face-smiling", "animal-mammal", "food-fruit"), (30, 0, 10))


def conditional_model(classes: ClassVocabulary | None = VOCABULARY) -> MaskGIT:
    config = TransformerConfig(**{**TransformerConfig.preset("tiny").__dict__, "num_classes": 3})
    model = MaskGIT.from_configs(TokenizerConfig.preset("tiny"), config)
    return MaskGIT(model.tokenizer, model.transformer, classes).eval()


def test_names_and_counts_travel_in_the_checkpoint(tmp_path):
    conditional_model().save(tmp_path / "model.safetensors")
    loaded = MaskGIT.load(tmp_path / "model.safetensors")
    assert loaded.classes == VOCABULARY
    unnamed = conditional_model(None)  # a model built without names still has numbered classes
    assert unnamed.classes is not None and unnamed.classes.names == ("class 0", "class 1", "class 2")
    assert MaskGIT.from_preset("tiny").classes is None  # unconditional
    with pytest.raises(ConfigError, match="2 class names for a transformer with 3 classes"):
        MaskGIT(unnamed.tokenizer, unnamed.transformer, ClassVocabulary("category", ("a", "b")))


def test_a_class_is_picked_by_id_or_name_and_a_wrong_one_says_what_exists():
    assert VOCABULARY.class_id("food-fruit") == VOCABULARY.class_id("2") == VOCABULARY.class_id(2) == 2
    with pytest.raises(InputError, match=r"did you mean face-smiling\?"):
        VOCABULARY.class_id("smiling")
    with pytest.raises(InputError, match=r"pick one of 0\.\.2"):
        VOCABULARY.class_id(3)


def test_classes_are_drawn_as_often_as_in_training_each_with_its_samples_seed():
    drawn = VOCABULARY.draw(range(2000))
    assert not (drawn == 1).any()  # no training image, never drawn
    assert 0.70 < (drawn == 0).float().mean() < 0.80  # 30 of 40 training images
    assert torch.equal(VOCABULARY.draw(range(5, 10)), drawn[5:10])  # a sample's class is its seed's alone
    uniform = ClassVocabulary("category", ("a", "b"))  # counts unknown: every class as likely
    assert set(uniform.draw(range(50)).tolist()) == {0, 1}


def test_sampling_classes_for_generation():
    model = conditional_model()
    assert model.sample_classes(range(3), "animal-mammal").tolist() == [1, 1, 1]
    assert torch.equal(model.sample_classes(range(8)), VOCABULARY.draw(range(8)))
    unconditional = MaskGIT.from_preset("tiny").eval()
    assert unconditional.sample_classes(range(3)) is None
    with pytest.raises(InputError, match="unconditional"):
        unconditional.sample_classes(range(3), 0)


def test_the_generate_command_takes_a_class_name_and_records_each_samples_class(tmp_path, capsys):
    from maskgit.cli import main

    model = conditional_model()
    model.save(tmp_path / "model.safetensors")
    common = ["generate", "--model", str(tmp_path / "model.safetensors"), "--count", "4", "--steps", "2"]
    assert main([*common, "--class-id", "food-fruit", "--out", str(tmp_path / "fruit")]) == 0
    manifest = json.loads((tmp_path / "fruit" / "manifest.json").read_text())
    assert manifest["class_id"] == 2 and manifest["class_ids"] == [2, 2, 2, 2]
    assert main([*common, "--out", str(tmp_path / "any")]) == 0
    drawn = json.loads((tmp_path / "any" / "manifest.json").read_text())["class_ids"]
    assert drawn == VOCABULARY.draw(range(4)).tolist() and 1 not in drawn
    capsys.readouterr()
    assert main([*common, "--class-id", "fruits", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no class named 'fruits'" in err
    assert main(["inspect", str(tmp_path / "model.safetensors")]) == 0
    assert "2: food-fruit, 10" in capsys.readouterr().out
