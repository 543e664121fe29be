"""The CIFAR-10 preprocessing layer (GCN, then ZCA whitening), the models that carry it, and
attacks whose eps is in its units."""

import numpy as np
import pytest

import attacks
import minigrad as mg
import models
import training

D = 3 * 4 * 4  # small colour images: the layer's math does not depend on the size


def images(n, seed=0):
    return np.random.default_rng(seed).random((n, D), dtype=np.float32)


def gcn_by_hand(X, scale=55.0):
    """GCN written out independently, in float64."""
    centered = X - X.mean(axis=1, keepdims=True)
    return scale * centered / np.linalg.norm(centered, axis=1, keepdims=True)


def test_gcn_gives_each_image_mean_zero_and_norm_scale():
    layer = models.ContrastWhitening(D).fit(images(300))
    g = layer.contrast_normalise(images(5, seed=1)).data
    assert np.allclose(g.mean(axis=1), 0, atol=1e-5)
    assert np.allclose(np.linalg.norm(g, axis=1), 55.0, rtol=1e-5)
    assert np.allclose(g, gcn_by_hand(images(5, seed=1).astype(np.float64)), atol=1e-4)


@pytest.mark.parametrize("n", [30, 400])  # fewer images than pixels (the SVD route), and more (the covariance's)
def test_zca_whitens_the_training_images_as_the_closed_form_says(n):
    X = images(n)
    z = models.ContrastWhitening(D).fit(X)(X).data.astype(np.float64)
    g = gcn_by_hand(X.astype(np.float64))
    variances, directions = np.linalg.eigh(np.cov(g.T, bias=True))
    # Cov(z) = W C W with W = V (L + b)^-1/2 V^T: V L / (L + b) V^T.
    expected = (directions * (np.maximum(variances, 0) / (np.maximum(variances, 0) + 0.1))) @ directions.T
    assert np.allclose(z.mean(axis=0), 0, atol=1e-4)
    assert np.allclose(np.cov(z.T, bias=True), expected, atol=2e-3)


def test_the_layer_is_differentiable_and_a_flat_image_gets_a_finite_gradient():
    layer = models.ContrastWhitening(D).fit(images(300))
    assert mg.gradcheck(lambda x: layer(x), [images(3, seed=2).astype(np.float64)])
    flat = np.full((1, D), 0.5, dtype=np.float32)
    gradient = mg.grad(lambda x: layer(x).sum())(flat)
    assert np.isfinite(gradient).all() and np.allclose(layer(flat).data, -layer.mean @ layer.whitening, atol=1e-5)


def test_float32_in_float32_out():
    layer = models.ContrastWhitening(D).fit(images(100))
    assert layer(images(2)).dtype == np.float32 and layer.whitening.dtype == np.float32


def test_pixel_change_inverts_the_linearised_layer():
    """For a pixel change d, the layer moves the image by J d; pixel_change(J d) gives back d
    without the two components GCN cannot see: the constant image and the image's own pattern."""
    layer = models.ContrastWhitening(D).fit(images(300))
    layer.mean, layer.whitening = layer.mean.astype(np.float64), layer.whitening.astype(np.float64)
    x = images(2, seed=3).astype(np.float64)
    d = np.random.default_rng(4).standard_normal(x.shape)
    h = 1e-5
    dz = (layer(mg.Tensor(x + h * d, dtype=np.float64)).data - layer(mg.Tensor(x - h * d, dtype=np.float64)).data) / (2 * h)
    centered = x - x.mean(axis=1, keepdims=True)
    u = centered / np.linalg.norm(centered, axis=1, keepdims=True)
    visible = d - d.mean(axis=1, keepdims=True)
    visible -= np.einsum("ij,ij->i", visible, u)[:, None] * u
    assert np.allclose(layer.pixel_change(x, dz), visible, atol=1e-4)


def test_an_unfitted_layer_refuses_to_run_and_bad_training_rows_are_refused():
    layer = models.ContrastWhitening(D)
    with pytest.raises(ValueError, match="not fitted"):
        layer(images(1))
    with pytest.raises(ValueError, match=r"X must have shape \(N, 48\)"):
        layer.fit(images(5)[:, :10])
    bad = images(5)
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        layer.fit(bad)
    with pytest.raises(ValueError, match="ContrastWhitening: filter_bias must be a finite number > 0, got 0"):
        models.ContrastWhitening(D, filter_bias=0)


@pytest.mark.parametrize("setting, value", [("scale", True), ("scale", "55"), ("filter_bias", True), ("filter_bias", np.inf)])
def test_the_layer_refuses_a_scale_or_filter_bias_that_is_no_positive_number(setting, value):
    with pytest.raises(ValueError, match=rf"ContrastWhitening: {setting} must be a finite number > 0, got {value!r}"):
        models.ContrastWhitening(D, **{setting: value})  # True was taken as 1.0, "55" failed inside NumPy


@pytest.mark.parametrize("batch_size", [-1, 0, 2.5, True, "10", None])
def test_fit_refuses_a_batch_size_that_is_not_a_positive_int_and_stays_unfitted(batch_size):
    layer = models.ContrastWhitening(D)
    with pytest.raises(ValueError, match=rf"ContrastWhitening.fit: batch_size must be an integer >= 1, got {batch_size!r}"):
        layer.fit(images(100), batch_size=batch_size)  # -1 used to give a fit of zeros
    assert not layer.fitted and np.isnan(layer.mean).all()


@pytest.mark.parametrize("n", [30, 100])  # both routes: the SVD's and the covariance's
def test_the_fit_does_not_depend_on_the_batch_size(n):
    X = images(n)
    whole, batched = models.ContrastWhitening(D).fit(X), models.ContrastWhitening(D).fit(X, batch_size=7)
    assert np.allclose(whole.mean, batched.mean, atol=1e-5) and np.allclose(whole.whitening, batched.whitening, atol=1e-4)
    assert not np.allclose(batched.whitening, 0)


@pytest.mark.parametrize("X, message", [
    (np.full((5, D), "0.5"), "X must hold real numbers, got dtype <U3"),
    ([[0.5] * D, [0.5] * (D - 1)], "X must be an array of rows of equal length, got a ragged list"),
    (images(1), r"X must hold at least 2 rows \(a covariance needs them\), got \(1, 48\)"),
    (images(4).reshape(-1), r"X must have shape \(N, 48\) \(the layer's n_features\), got \(192,\)"),
    (images(4)[:, :10], r"X must have shape \(N, 48\) \(the layer's n_features\), got \(4, 10\)"),
], ids=["strings", "ragged", "one row", "1-D", "wrong width"])
def test_fit_names_what_is_wrong_with_the_training_rows(X, message):
    layer = models.ContrastWhitening(D)
    with pytest.raises(ValueError, match=f"ContrastWhitening.fit: {message}"):
        layer.fit(X)
    assert not layer.fitted


def test_pixel_change_on_an_unfitted_layer_says_to_fit_it_first():
    x = images(2)
    with pytest.raises(ValueError, match=r"ContrastWhitening.pixel_change: not fitted: call fit\(training rows\) first"):
        models.ContrastWhitening(D).pixel_change(x, x)


def test_a_wrong_width_names_the_expected_and_the_given_shape():
    layer = models.ContrastWhitening(D).fit(images(100))
    narrow = images(2)[:, :10]
    with pytest.raises(ValueError, match=r"ContrastWhitening: x must have shape \(N, 48\) \(the layer's n_features\), "
                                         r"got \(2, 10\)"):
        layer(narrow)
    with pytest.raises(ValueError, match=r"ContrastWhitening.pixel_change: x must have shape \(N, 48\) .*got \(2, 10\)"):
        layer.pixel_change(narrow, narrow)
    with pytest.raises(ValueError, match=r"pixel_change: dz must have the shape of x, \(2, 48\), got \(3, 48\)"):
        layer.pixel_change(images(2), images(3))


def small_net(seed=0):
    return models.ConvMaxoutNetwork("tiny", input_shape=(3, 4, 4), n_classes=3, preprocessing="gcn_zca",
                                    dropout=False, seed=seed)


def test_the_preprocessing_is_saved_with_the_model_and_never_trained(tmp_path):
    net = small_net()
    net.preprocess.fit(images(200))
    assert not any("preprocess" in name for name, _ in net.named_parameters())
    assert {"preprocess.mean", "preprocess.whitening"} <= set(net.state_dict())
    models.save(net, tmp_path / "net.npz")
    loaded = models.load(tmp_path / "net.npz")
    assert np.array_equal(loaded.preprocess.whitening, net.preprocess.whitening)
    assert np.array_equal(loaded.predict_proba(images(4)), net.predict_proba(images(4)))
    unfitted = small_net()
    models.save(unfitted, tmp_path / "unfitted.npz")
    with pytest.raises(ValueError, match="not fitted"):
        models.load(tmp_path / "unfitted.npz").predict(images(1))


def with_buffer(path, tmp_path, name, change):
    """A copy of the model file ``path`` whose array ``name`` is passed through ``change`` (a hand edit)."""
    with np.load(path) as data:
        arrays = dict(data)
    arrays[name] = change(arrays[name].copy())
    edited = tmp_path / f"edited_{name.replace('.', '_')}.npz"
    np.savez(edited, **arrays)
    return edited


def put(index, value):
    def change(array):
        array[index] = value
        return array
    return change


@pytest.mark.parametrize("name, change", [
    ("preprocess.whitening", put((3, 5), np.nan)),
    ("preprocess.whitening", put((0, 0), np.inf)),
    ("preprocess.mean", put(7, np.nan)),
    ("preprocess.mean", lambda a: np.full_like(a, np.nan)),  # an unfitted mean beside a fitted whitening
], ids=["NaN in W", "inf in W", "NaN in m", "m all NaN"])
def test_a_damaged_whitening_buffer_is_refused_at_load_naming_the_file_and_buffer(tmp_path, name, change):
    net = small_net()
    net.preprocess.fit(images(200))
    models.save(net, tmp_path / "net.npz")
    edited = with_buffer(tmp_path / "net.npz", tmp_path, name, change)
    with pytest.raises(models.ModelFileError, match=rf"{edited.name}: the buffers \['{name}'\] hold NaN or inf; a layer's "
                                                    r"buffers are all finite \(fitted\) or all NaN \(unfitted\)"):
        models.load(edited)


def test_an_unfitted_layer_all_nan_by_design_still_loads_as_unfitted(tmp_path):
    models.save(small_net(), tmp_path / "unfitted.npz")
    loaded = models.load(tmp_path / "unfitted.npz")
    assert not loaded.preprocess.fitted and np.isnan(loaded.preprocess.whitening).all()
    edited = with_buffer(tmp_path / "unfitted.npz", tmp_path, "preprocess.whitening", put((1, 2), 0.5))
    both = r"\['preprocess.mean', 'preprocess.whitening'\]"
    with pytest.raises(models.ModelFileError, match=rf"the buffers {both} hold NaN or inf; a layer's buffers are all"):
        models.load(edited)  # one finite value in an unfitted layer: neither state


def test_the_preprocessed_view_shares_the_weights_and_perturbs_in_its_units():
    net = small_net()
    net.preprocess.fit(images(200))
    view = net.on_preprocessed()
    x, y = images(6, seed=5), np.arange(6) % 3
    z = net.preprocess(x).data
    assert np.allclose(view.predict_proba(z), net.predict_proba(x), atol=1e-6)
    assert set(map(id, view.parameters())) == set(map(id, net.parameters()))
    z_adv = attacks.fgsm(view, z, y, 0.1, clip=None)
    assert np.allclose(np.abs(z_adv - z).max(axis=1), 0.1, atol=1e-6)
    assert view.input_units == "preprocessed" and net.input_units == "pixels"
    with pytest.raises(ValueError, match="no preprocessing"):
        models.ConvMaxoutNetwork("tiny", input_shape=(3, 8, 8)).on_preprocessed()


def learnable_images(n, seed):
    """Three classes: red, green or blue dominant, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.uniform(0.2, 0.4, (n, 3, 4, 4))
    X[np.arange(n), y] += 0.4 * np.linspace(0, 1, 16).reshape(4, 4)  # a gradient in the class's channel
    return X.reshape(n, D).astype(np.float32), y


def test_fgsm_in_preprocessed_units_fools_a_trained_model_and_says_what_it_costs_in_pixels():
    X, y = learnable_images(600, 0)
    X_test, y_test = learnable_images(200, 1)
    net = small_net()
    net.preprocess.fit(X)
    training.fit(net, X, y, optimizer=training.Adam(net.parameters(), lr=0.01), epochs=15, batch_size=50,
                 seed=0, progress=False)
    clean = attacks.evaluate(net, X_test, y_test, eps=[0.0], clip=None)[0]
    assert clean["error_rate"] < 0.1 and clean["units"] == "pixels"
    small, large = attacks.fgsm_preprocessed(net, X_test, y_test, [0.5, 1.0], batch_size=64)
    assert small["units"] == "preprocessed" and small["clip"] is None and small["n"] == 200
    assert clean["error_rate"] < small["error_rate"] < large["error_rate"]
    assert np.isclose(small["linf"], 0.5, atol=1e-5)
    assert 0 < small["mean_linf_pixels"] < large["mean_linf_pixels"]
    assert 1.5 < large["mean_linf_pixels"] / small["mean_linf_pixels"] < 2.5  # the cost grows with eps, about linearly
    assert large["error_rate_in_pixels"] > clean["error_rate"]  # the perturbation still works applied in pixels
    with pytest.raises(ValueError, match="no preprocessing layer"):
        attacks.fgsm_preprocessed(models.SoftmaxRegression(D, 3), X_test, y_test, [0.1])


def test_sgd_lr_scales_scale_each_parameters_step():
    w1, w2 = mg.Tensor(np.ones(3, np.float32), requires_grad=True), mg.Tensor(np.ones(2, np.float32), requires_grad=True)
    optimizer = training.SGD([w1, w2], lr=0.1, momentum=0.5, lr_scales=[0.05, 1.0])
    for _ in range(2):
        w1.grad, w2.grad = np.ones(3, np.float32), np.ones(2, np.float32)
        optimizer.step()
    # v1 = -lr g, v2 = 0.5 v1 - lr g: the weights move by v1 + v2 = -2.5 lr g, times each scale
    assert np.allclose(w1.data, 1 - 2.5 * 0.1 * 0.05) and np.allclose(w2.data, 1 - 2.5 * 0.1)
    for scales in ([1.0], [1.0, 0.0], [1.0, float("nan")]):
        with pytest.raises(ValueError, match="lr_scales"):
            training.SGD([w1, w2], lr=0.1, lr_scales=scales)


def test_the_cifar_recipe_trains_the_conv_layers_at_a_twentieth_of_the_rate():
    net = models.ConvMaxoutNetwork("tiny", input_shape=(3, 8, 8), preprocessing="gcn_zca")
    recipe = training.conv_maxout_recipe(net, epochs=3)
    optimizer = recipe["optimizer"]
    conv = {id(p) for m in net.modules() if isinstance(m, models.Conv2d) for p in m.parameters()}
    assert conv and [s == 0.05 for s in optimizer.lr_scales] == [id(p) in conv for p in optimizer.params]
    assert optimizer.lr == 0.17 and recipe["batch_size"] == 128


def test_fit_takes_a_tensor_as_its_values():
    X = images(30)
    from_tensor = models.ContrastWhitening(D).fit(mg.Tensor(X))
    from_array = models.ContrastWhitening(D).fit(X)
    np.testing.assert_array_equal(from_tensor.whitening, from_array.whitening)
    np.testing.assert_array_equal(from_tensor.mean, from_array.mean)


@pytest.mark.parametrize("name", ["x", "dz"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_pixel_change_names_the_argument_that_holds_nan_or_inf(name, value):
    layer = models.ContrastWhitening(D).fit(images(30))
    arguments = {"x": images(2, seed=1), "dz": np.zeros((2, D), np.float32)}
    arguments[name][1, 3] = value
    with pytest.raises(ValueError, match=f"ContrastWhitening.pixel_change: {name} holds NaN or inf$"):
        layer.pixel_change(**arguments)


def test_pixel_change_takes_tensors_as_their_values():
    layer = models.ContrastWhitening(D).fit(images(30))
    x, dz = images(2, seed=1), np.random.default_rng(2).standard_normal((2, D)).astype(np.float32)
    np.testing.assert_array_equal(layer.pixel_change(mg.Tensor(x), mg.Tensor(dz)), layer.pixel_change(x, dz))
