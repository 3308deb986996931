import math

import pytest
import torch

from maskgit import SCHEDULES, ConfigError, gamma


def test_the_registry_has_the_seeds_and_the_official_schedules():
    assert {"cosine", "linear", "square", "cubic", "sqrt", "log", "exp"} <= set(SCHEDULES)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_every_schedule_starts_fully_masked_and_ends_unmasked(name):
    assert gamma(name, 0.0) == 1.0
    assert gamma(name, 1.0) == 0.0


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_every_schedule_is_non_increasing_and_in_unit_range(name):
    r = torch.linspace(0, 1, 1001, dtype=torch.float64)
    values = gamma(name, r)
    assert values.shape == r.shape
    assert torch.all(values[1:] <= values[:-1])
    assert torch.all((values >= 0) & (values <= 1))


def test_the_seeds_schedules_have_their_formulas():
    for r in (0.1, 0.25, 0.5, 0.9):
        assert gamma("cosine", r) == pytest.approx(math.cos(math.pi * r / 2))
        assert gamma("linear", r) == pytest.approx(1 - r)
        assert gamma("square", r) == pytest.approx(1 - r * r)
        assert gamma("cubic", r) == pytest.approx(1 - r**3)
        assert gamma("sqrt", r) == pytest.approx(1 - math.sqrt(r))


def test_log_drops_fast_early_and_exp_late():
    assert gamma("log", 0.1) < gamma("linear", 0.1)
    assert gamma("exp", 0.9) > gamma("linear", 0.9)


def test_an_unknown_schedule_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown mask schedule 'cosin'.*cosine, linear, square"):
        gamma("cosin", 0.5)
