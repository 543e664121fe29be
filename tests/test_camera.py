"""attacks.camera: the camera's transformations against closed forms and SciPy, their gradients, and the
destruction rate (Kurakin et al.'s Eq. 1)."""

import numpy as np
import pytest
import scipy.ndimage

import attacks
import minigrad as mg
import models
from attacks import camera
from conftest import synthetic_idx_arrays

SHAPE = (1, 12, 12)


def digits(n=6, seed=0):
    """MNIST-like images: k/255 values, a bright block on noise."""
    X, _ = synthetic_idx_arrays(n, seed)
    return (X[:, 8:20, 8:20].reshape(n, 1, 12, 12) / np.float32(255)).astype(np.float32)


# --- JPEG -------------------------------------------------------------------------------------------------

def test_the_block_dct_round_trip_without_quantisation_is_exact():
    x = np.random.default_rng(0).random((3, 2, 16, 24))
    np.testing.assert_allclose(camera.block_idct(camera.block_dct(x)), x, rtol=0, atol=1e-12)
    block = camera.block_dct(np.ones((1, 1, 8, 8)))[0, 0, 0, 0]
    assert block[0, 0] == pytest.approx(8.0) and np.abs(block.ravel()[1:]).max() < 1e-12  # a flat block: DC only


def test_jpeg_at_quality_100_is_nearly_the_identity_and_lower_qualities_lose_more():
    x = digits()
    errors = {q: np.abs(camera.jpeg(x, np.full(len(x), q)) - x) for q in (100, 75, 10)}
    assert errors[100].max() <= 2 / 255 and errors[100].mean() < 0.5 / 255
    assert errors[100].mean() < errors[75].mean() < errors[10].mean()
    assert camera.jpeg(x, np.full(len(x), 50.0)).dtype == np.float32


def test_the_quality_scales_the_standard_table_by_the_ijg_rule():
    np.testing.assert_array_equal(camera.jpeg_table(50), camera.LUMINANCE)
    assert camera.jpeg_table(100).max() == 1 and camera.jpeg_table(1).min() == 255  # finest, coarsest
    assert camera.jpeg_table(25)[0, 0] == np.floor((16 * 200 + 50) / 100)


def test_jpeg_passes_the_gradient_straight_through():
    x = digits(2)
    weights = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    gradient = mg.grad(lambda t: (camera.JPEG(30, image_shape=SHAPE)(t) * weights).sum())(x)
    np.testing.assert_array_equal(gradient, weights)


# --- blur, and the differentiable transformations ----------------------------------------------------------

@pytest.mark.parametrize("sigma", [0.4, 1.0, 2.0])
def test_the_blur_is_scipys_gaussian_filter(sigma):
    x = digits(3)
    blurred = camera.GaussianBlur(sigma, image_shape=SHAPE)(x)
    for image, out in zip(x[:, 0].astype(np.float64), blurred[:, 0]):
        zero_outside = scipy.ndimage.gaussian_filter(image, sigma, mode="constant")
        np.testing.assert_allclose(out, np.clip(zero_outside, 0, 1), atol=2e-6)
        r = int(4 * sigma + 0.5)
        reflected = scipy.ndimage.gaussian_filter(image, sigma)  # SciPy's default border: equal away from it
        np.testing.assert_allclose(out[r:-r, r:-r], reflected[r:-r, r:-r], atol=2e-6)


def test_blur_draws_sigma_on_its_grid_per_image_and_each_image_gets_its_own():
    blur = camera.GaussianBlur(0.4, 2.0, image_shape=SHAPE, seed=3)
    sigmas = blur.draw(1000)
    assert np.allclose(sigmas / camera.SIGMA_STEP, np.round(sigmas / camera.SIGMA_STEP))
    assert sigmas.min() == pytest.approx(0.4) and sigmas.max() == pytest.approx(2.0)
    x = np.repeat(digits(1), 8, axis=0)
    out = camera.GaussianBlur(0.4, 2.0, image_shape=SHAPE, seed=3)(x)
    expected = [camera.GaussianBlur(s, image_shape=SHAPE)(x[:1])[0] for s in camera.GaussianBlur(
        0.4, 2.0, image_shape=SHAPE, seed=3).draw(8)]
    np.testing.assert_allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: camera.Brightness(0.05, image_shape=SHAPE),
    lambda: camera.Contrast(1.1, image_shape=SHAPE),
    lambda: camera.GaussianNoise(0.02, image_shape=SHAPE, seed=4),
    lambda: camera.GaussianBlur(0.8, image_shape=SHAPE),
    lambda: camera.Rotation(7.0, image_shape=SHAPE),
    lambda: camera.Rotation(-4.0, 9.0, image_shape=SHAPE, seed=5),
    lambda: camera.Translation(-2, 2, image_shape=SHAPE, seed=6),
], ids=["brightness", "contrast", "noise", "blur", "rotation", "rotations", "translation"])
def test_every_differentiable_transformation_passes_gradcheck(make):
    """A fresh transformation per call (same seed, same draws): finite differences compare like with like.
    Values in [0.2, 0.8] keep the final clip to [0, 1] away from its kinks."""
    x = 0.2 + 0.6 * np.random.default_rng(7).random((2, 1, 12, 12))
    assert make().differentiable
    assert mg.gradcheck(lambda t: make()(t), [x])


def test_brightness_contrast_and_noise_are_their_formulas():
    x = digits(4)
    np.testing.assert_allclose(camera.Brightness(0.1, image_shape=SHAPE)(x), np.clip(x + 0.1, 0, 1), atol=1e-7)
    np.testing.assert_allclose(camera.Contrast(0.7, image_shape=SHAPE)(x), x * np.float32(0.7), atol=1e-7)
    noise = camera.GaussianNoise(0.05, image_shape=SHAPE, seed=8)(np.full((200, 1, 12, 12), 0.5, np.float32)) - 0.5
    assert abs(noise.std() - 0.05) < 0.002 and abs(noise.mean()) < 0.002


def test_a_rotation_by_90_degrees_is_numpys_rot90_and_a_translation_shifts_whole_pixels():
    x = digits(2)
    np.testing.assert_allclose(camera.Rotation(90.0, image_shape=SHAPE)(x), np.rot90(x, 1, axes=(2, 3)), atol=1e-6)
    np.testing.assert_allclose(camera.Rotation(0.0, image_shape=SHAPE)(x), x, atol=1e-7)
    moved = camera.Translation(1, image_shape=SHAPE)(x)  # one pixel down and one right
    np.testing.assert_array_equal(moved[:, :, 1:, 1:], x[:, :, :-1, :-1])
    assert (moved[:, :, 0, :] == 0).all() and (moved[:, :, :, 0] == 0).all()


# --- every transformation: shapes, seeds, bad input -----------------------------------------------------------

@pytest.mark.parametrize("key", sorted(camera.TRANSFORMATIONS))
def test_rows_in_rows_out_images_in_images_out_within_0_and_1_and_seeded(key):
    cls = camera.TRANSFORMATIONS[key]
    x = digits(5)
    rows = x.reshape(5, -1)
    out = cls(image_shape=SHAPE, seed=1)(rows)
    assert out.shape == rows.shape and out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    np.testing.assert_array_equal(cls(image_shape=SHAPE, seed=1)(x).reshape(5, -1), out)  # same seed, same draws
    assert isinstance(cls(image_shape=SHAPE)(mg.Tensor(x)), mg.Tensor)


def test_the_photo_chain_changes_every_image_and_carries_a_gradient():
    x = digits(4)
    photo = camera.Photo(image_shape=SHAPE, seed=2)
    out = photo(x)
    assert (np.abs(out - x).reshape(4, -1).max(axis=1) > 0.01).all()
    gradient = mg.grad(lambda t: camera.Photo(image_shape=SHAPE, seed=2)(t).sum())(x)
    assert gradient.shape == x.shape and np.abs(gradient).sum() > 0


@pytest.mark.parametrize("make, message", [
    (lambda: camera.Brightness(0.2, 0.1), "low <= high"),
    (lambda: camera.Brightness(high=0.1), "without low"),
    (lambda: camera.JPEG(0, 50), "within 1..100"),
    (lambda: camera.GaussianBlur(0.0), "at least 0.1"),
    (lambda: camera.GaussianBlur(0.25), "no sigma on the 0.1-pixel grid"),
    (lambda: camera.Contrast(-1.0), "at least 0"),
    (lambda: camera.Translation(0.2, 0.8), "no whole number"),
    (lambda: camera.Rotation(image_shape=(28, 28)), "image_shape"),
])
def test_a_bad_setting_is_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_batch_of_the_wrong_shape_or_with_nan_is_refused():
    with pytest.raises(ValueError, match=r"rows \(N, 144\) or images \(N, 1, 12, 12\)"):
        camera.Brightness(image_shape=SHAPE)(np.zeros((2, 100), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        camera.Brightness(image_shape=SHAPE)(np.full((1, 144), np.nan, np.float32))


# --- the destruction rate ----------------------------------------------------------------------------------------

class Counting:
    """A transformation that records its calls and returns what ``result(x)`` gives."""

    def __init__(self, result):
        self.result, self.calls = result, []

    def __call__(self, x):
        self.calls.append(x.shape)
        return self.result(x)


@pytest.fixture(scope="module")
def trained():
    X, y = synthetic_idx_arrays(600, 0)
    X = (X.reshape(600, -1) / np.float32(255)).astype(np.float32)
    model = models.SoftmaxRegression(784, 10)
    import training
    training.fit(model, X[:500], y[:500], progress=False, monitor_size=0, seed=0,
                 **training.linear_classifier_recipe(model, epochs=3))
    return model, X[500:], y[500:]


def test_the_destruction_rate_is_0_under_the_identity_and_1_when_the_clean_image_comes_back(trained):
    model, x, y = trained
    x_adv = attacks.fgsm(model, x, y, 0.3)
    identity = Counting(lambda z: z.copy())
    assert attacks.destruction_rate(model, x, x_adv, y, identity) == 0.0
    assert identity.calls == [x_adv.shape]  # once, on every row
    assert attacks.destruction_rate(model, x, x_adv, y, Counting(lambda z: x.copy())) == 1.0
    wrong = y.copy()
    wrong[:10] = (y[:10] + 1) % 10  # ten clean images now misclassified: they never count, restored or not
    assert (model.predict(x[:10]) != wrong[:10]).all()
    assert attacks.destruction_rate(model, x, x_adv, wrong, lambda z: x.copy()) == 1.0


def test_the_destruction_rate_counts_only_clean_successes_turned_into_mistakes(trained):
    model, x, y = trained
    x_adv = attacks.fgsm(model, x, y, 0.3)
    counted = (model.predict(x) == y) & (model.predict(x_adv) != y)
    half = np.flatnonzero(counted)[: counted.sum() // 2]

    def restore_half(z):
        z = z.copy()
        z[half] = x[half]
        return z

    rate = attacks.destruction_rate(model, x, x_adv, y, restore_half)
    assert rate == pytest.approx(len(half) / counted.sum())
    assert np.isnan(attacks.destruction_rate(model, x, x.copy(), y, lambda z: z))  # no adversarial success: NaN


def test_the_destruction_rate_refuses_a_transformation_that_changes_the_shape(trained):
    model, x, y = trained
    with pytest.raises(ValueError, match="must return an ndarray of shape"):
        attacks.destruction_rate(model, x, x, y, lambda z: z[:3])
