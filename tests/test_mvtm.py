import math

import pytest
import torch

from maskgit import ConfigError, mask_tokens, mvtm_loss
from maskgit.masking import masked_token_accuracy, random_token_mask
from maskgit.masking.mvtm import num_masked_tokens


def test_masked_count_is_ceil_of_gamma_times_n_and_at_least_one():
    ratios = torch.tensor([0.0, 0.3, 0.999999, 0.5])
    counts = num_masked_tokens(ratios, 256, "cosine")
    expected = [256, math.ceil(math.cos(math.pi * 0.3 / 2) * 256), 1, math.ceil(math.cos(math.pi / 4) * 256)]
    assert counts.tolist() == expected


def test_random_token_mask_masks_exactly_the_asked_count_per_row():
    counts = torch.tensor([1, 5, 16, 0, 9])
    mask = random_token_mask(counts, 16, torch.Generator().manual_seed(0))
    assert mask.dtype == torch.bool and mask.shape == (5, 16)
    assert mask.sum(1).tolist() == counts.tolist()


def test_mask_tokens_replaces_exactly_the_masked_positions_with_the_mask_id():
    tokens = torch.randint(0, 32, (64, 4, 4))
    batch = mask_tokens(tokens, mask_token_id=32, schedule="linear", generator=torch.Generator().manual_seed(3))
    assert batch.inputs.shape == batch.targets.shape == batch.token_mask.shape == (64, 16)
    assert torch.equal(batch.targets, tokens.flatten(1))
    assert torch.all((batch.inputs == 32) == batch.token_mask)
    assert torch.equal(batch.inputs[~batch.token_mask], batch.targets[~batch.token_mask])
    counts = batch.token_mask.sum(1)
    assert counts.min() >= 1
    assert len(set(counts.tolist())) > 5  # a ratio per sample, not one per batch


def test_mask_tokens_is_deterministic_given_a_generator():
    tokens = torch.randint(0, 32, (8, 16))
    a = mask_tokens(tokens, 32, generator=torch.Generator().manual_seed(7))
    b = mask_tokens(tokens, 32, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.token_mask, b.token_mask)


def test_loss_on_masked_tokens_ignores_unmasked_ones():
    targets = torch.tensor([[0, 1, 2, 3]])
    token_mask = torch.tensor([[True, True, False, False]])
    logits = torch.full((1, 4, 5), -10.0)
    logits[0, 0, 0] = logits[0, 1, 1] = 10.0  # masked positions right
    logits[0, 2, 0] = logits[0, 3, 0] = 10.0  # unmasked positions wrong
    assert mvtm_loss(logits, targets, token_mask, loss_on="masked") < 1e-6
    assert mvtm_loss(logits, targets, token_mask, loss_on="all") > 5.0


def test_label_smoothing_raises_the_loss_of_a_confident_right_answer():
    targets = torch.tensor([[1, 2]])
    logits = torch.nn.functional.one_hot(targets, 4).float() * 20
    token_mask = torch.ones(1, 2, dtype=torch.bool)
    assert mvtm_loss(logits, targets, token_mask, label_smoothing=0.1) > mvtm_loss(logits, targets, token_mask) + 0.1


def test_loss_on_must_be_all_or_masked():
    with pytest.raises(ConfigError, match="loss_on"):
        mvtm_loss(
            torch.zeros(1, 2, 3),
            torch.zeros(1, 2, dtype=torch.long),
            torch.ones(1, 2, dtype=torch.bool),
            loss_on="some",
        )


def test_masked_token_accuracy_counts_masked_hits_and_ignores_the_mask_class():
    targets = torch.tensor([[0, 1, 2, 3]])
    token_mask = torch.tensor([[True, True, True, False]])
    logits = torch.zeros(1, 4, 5)  # 4 codes + a mask class column
    logits[0, :, 4] = 100.0  # the mask class would win everywhere if it were not excluded
    logits[0, 0, 0] = logits[0, 1, 1] = logits[0, 3, 3] = 1.0  # 2 of 3 masked right, unmasked one ignored
    assert masked_token_accuracy(logits, targets, token_mask, codebook_size=4).item() == pytest.approx(2 / 3)


def test_codebook_smoothing_costs_a_near_miss_less_than_a_wild_guess():
    from maskgit.masking.mvtm import codebook_neighbours

    codebook = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [-5.0, 5.0]])  # codes 0 and 1: near-duplicates
    neighbours = codebook_neighbours(codebook, output_classes=5)  # a fifth (mask) class gets nothing
    assert neighbours.shape == (4, 5) and torch.allclose(neighbours.sum(1), torch.ones(4))
    assert neighbours[0, 1] > 0.2 and neighbours[0, 2] < 1e-6 and (neighbours[:, 4] == 0).all()
    targets, mask = torch.zeros(1, 1, dtype=torch.int64), torch.ones(1, 1, dtype=torch.bool)
    near_miss = torch.tensor([[[0.0, 4.0, 0.0, 0.0, 0.0]]])  # predicts code 1 for a true 0
    wild_guess = torch.tensor([[[0.0, 0.0, 4.0, 0.0, 0.0]]])  # predicts code 2
    plain = [mvtm_loss(x, targets, mask) for x in (near_miss, wild_guess)]
    assert plain[0] == pytest.approx(plain[1].item())  # plain cross-entropy: the same cost
    smooth = [
        mvtm_loss(x, targets, mask, neighbours=neighbours, codebook_smoothing=0.5) for x in (near_miss, wild_guess)
    ]
    assert smooth[0] < smooth[1] - 0.4
    rows = mvtm_loss(near_miss[0], targets, mask, loss_on="masked", neighbours=neighbours, codebook_smoothing=0.5)
    assert rows.item() == pytest.approx(smooth[0].item(), rel=1e-6)  # the masked-rows form agrees
    with pytest.raises(ConfigError, match="needs the codebook's neighbours"):
        mvtm_loss(near_miss, targets, mask, codebook_smoothing=0.5)


def test_the_token_embedding_can_start_from_the_codebook():
    from maskgit import TransformerConfig
    from maskgit.transformer.model import BidirectionalTransformer

    model = BidirectionalTransformer(TransformerConfig.preset("tiny"))
    codebook = torch.randn(32, 8)
    codebook[1] = codebook[0] + 1e-3  # near-duplicate codes start as near-duplicate embeddings
    mask_row = model.token_embedding.weight[32].clone()
    model.init_token_embedding(codebook)
    embedding = model.token_embedding.weight
    assert torch.equal(embedding[32], mask_row)  # the mask token's row is left alone
    assert embedding[:32].std().item() == pytest.approx(0.02, rel=1e-3)
    distance = (embedding[0] - embedding[1]).norm() / (embedding[0] - embedding[2]).norm()
    assert distance < 0.01
