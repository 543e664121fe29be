"""Layers and classifiers: shapes, gradients through real layers, modes, constraints, save/load."""

import gzip
import json
import re
import zipfile

import numpy as np
import pytest

import minigrad as mg
import models
from models.old_files import piece_major_from_unit_grouped
from strategies import GRAD_ATOL, GRAD_RTOL


def rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, size=shape).astype(np.float32)


ALL_MODELS = {
    "logistic": lambda: models.LogisticRegression(6, init=0.1, seed=0),
    "softmax": lambda: models.SoftmaxRegression(6, 3, init=0.1, seed=0),
    "mlp": lambda: models.MLP((6, 5, 4, 3), seed=0),
    "maxout": lambda: models.MaxoutNetwork(6, hidden=(4, 3), pieces=2, n_classes=3, init=0.3, seed=0),
    "rbf": lambda: models.RBFNetwork(6, 3, beta=0.5, seed=0),
}


EMPTY_BATCH_LOSS = {"logistic": "binary_cross_entropy_with_logits", "softmax": "cross_entropy", "mlp": "cross_entropy",
                    "maxout": "cross_entropy", "rbf": "RBFNetwork.loss"}


@pytest.mark.parametrize("name", sorted(ALL_MODELS))
def test_the_mean_loss_of_an_empty_batch_is_refused_naming_the_loss(name):
    model = ALL_MODELS[name]()
    logits, y = model(np.zeros((0, 6), np.float32)), np.zeros(0, np.int64)
    with pytest.raises(ValueError, match=rf"^{re.escape(EMPTY_BATCH_LOSS[name])}: the batch is empty"):
        model.loss(logits, y)
    assert float(model.loss(logits, y, reduction="sum").data) == 0.0


@pytest.mark.parametrize("name", sorted(ALL_MODELS))
def test_classifier_interface(name):
    model = ALL_MODELS[name]()
    x = rand(7, 6)
    logits = model(x)
    expected_shape = (7,) if name == "logistic" else (7, 3)
    assert isinstance(logits, mg.Tensor) and logits.shape == expected_shape and logits.dtype == np.float32
    proba = model.predict_proba(x)
    assert proba.shape == (7, model.n_classes) and proba.dtype == np.float32
    assert np.all((proba >= 0) & (proba <= 1))
    if name != "rbf":  # the RBF's probabilities are deliberately not normalised
        np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(x), proba.argmax(1))
    assert model.predict(x).dtype == np.int64
    y = np.arange(7) % model.n_classes
    assert model.loss(logits, y).shape == () and model.loss(logits, y, reduction="none").shape == (7,)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(N, 6\)"):
        model(rand(7, 5))


@pytest.mark.parametrize("name", sorted(ALL_MODELS))
def test_loss_gradient_through_each_model_matches_finite_differences(name):
    """Every parameter and the input, gradchecked through the real layers (float64 copies)."""
    model = ALL_MODELS[name]().eval()
    params = model.parameters()
    x = rand(4, 6, seed=1).astype(np.float64)
    y = np.arange(4) % model.n_classes

    def loss(x, *weights):
        return _with_params(model, params, weights, lambda: model.loss(model(x), y, reduction="sum"))

    assert mg.gradcheck(loss, [x] + [p.data.astype(np.float64) for p in params], atol=GRAD_ATOL, rtol=GRAD_RTOL)


def _with_params(model, params, weights, compute):
    """Run ``compute`` with each parameter attribute temporarily replaced by a given Tensor.

    gradcheck hands in fresh float64 Tensors; putting them where the parameters live
    differentiates the real layers with respect to them.
    """
    names = [name for name, _ in model.named_parameters()]
    owners = []
    for name in names:
        *path, attr = name.split(".")
        owner = model
        for part in path:
            owner = owner[int(part)] if isinstance(owner, list) else getattr(owner, part)
        owners.append((owner, attr))
    for (owner, attr), w in zip(owners, weights):
        setattr(owner, attr, w)
    try:
        return compute()
    finally:
        for (owner, attr), p in zip(owners, params):
            setattr(owner, attr, p)


def test_dropout_is_active_only_in_training_mode_and_scales():
    layer = models.Dropout(0.5, rng=0)
    x = mg.Tensor(np.ones((1000, 100), dtype=np.float32))
    out = layer(x).data
    assert set(np.unique(out)) == {0.0, 2.0}  # inverted dropout: kept inputs scaled by 1/0.5
    assert abs(out.mean() - 1.0) < 0.02
    assert layer.eval()(x) is x
    unscaled = models.Dropout(0.8, scale=1.0, rng=0).train()(x).data
    assert set(np.unique(unscaled)) == {0.0, 1.0} and abs(unscaled.mean() - 0.8) < 0.02
    with pytest.raises(ValueError, match=r"Dropout: keep_prob must be a number in \(0, 1\], got 0.0"):
        models.Dropout(0.0)


def test_train_and_eval_propagate_to_every_layer():
    model = models.MaxoutNetwork(8, hidden=(4, 4), pieces=2, n_classes=3, seed=0)
    model.eval()
    assert all(not m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    x = rand(5, 8)
    model.eval()
    np.testing.assert_array_equal(model(x).data, model(x).data)  # deterministic without dropout


def piece_major_maxout(x, W, b, pieces):
    """The maxout formula on piece-major columns, in float64: y_u = max_k (x W + b)[k * units + u]."""
    z = x.astype(np.float64) @ W + b
    return z.reshape(len(x), pieces, -1).max(axis=1)


def test_maxout_layer_computes_the_piece_major_formula_of_its_state_dict():
    layer = models.Maxout(6, units=4, pieces=3, init=0.5, rng=0)
    state = layer.state_dict()
    x = rand(5, 6)
    np.testing.assert_allclose(layer(x).data, piece_major_maxout(x, state["linear.weight"], state["linear.bias"], 3), rtol=1e-5)
    # A state made by hand: the layer computes its formula, holds it as it is, and gives it back.
    rng = np.random.default_rng(1)
    given = {"linear.weight": rng.standard_normal((6, 12)).astype(np.float32),
             "linear.bias": rng.standard_normal(12).astype(np.float32)}
    layer.load_state_dict(given)
    np.testing.assert_allclose(layer(x).data, piece_major_maxout(x, given["linear.weight"], given["linear.bias"], 3), rtol=1e-5)
    np.testing.assert_array_equal(layer.linear.weight.data, given["linear.weight"])  # no other order in memory
    for name, array in layer.state_dict().items():
        np.testing.assert_array_equal(array, given[name])
    # The same seed draws the same layer as earlier versions did: their unit u's pieces were columns u * 3 ... u * 3 + 2.
    drawn = models.Linear(6, 12, init=0.5, rng=0).weight.data
    held = models.Maxout(6, units=4, pieces=3, init=0.5, rng=0).linear.weight.data
    np.testing.assert_array_equal(held, piece_major_from_unit_grouped(drawn, pieces=3))


def test_maxout_layer_sends_a_tie_to_the_first_piece():
    layer = models.Maxout(2, units=2, pieces=3, init="zeros", rng=0)
    layer.linear.bias.data[:] = [1.0, 0.0, 1.0, 5.0, 0.0, 5.0]  # unit 0: pieces 0 and 1 tie; unit 1: pieces 1 and 2
    layer(np.zeros((1, 2), np.float32)).sum().backward()
    assert layer.linear.bias.grad.tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]


def test_checkpoints_hold_the_optimizer_buffers_as_the_optimizer_does_and_their_format(tmp_path):
    from training import SGD, fit
    from training.checkpoints import FORMAT
    from training.loop import CHECKPOINT_NAME

    model = models.MaxoutNetwork(6, hidden=(4,), pieces=3, n_classes=3, dropout=None, seed=0)
    X, y = rand(40, 6), np.arange(40) % 3
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    fit(model, X, y, epochs=1, batch_size=20, optimizer=optimizer, checkpoint_dir=tmp_path, progress=False)
    with np.load(tmp_path / CHECKPOINT_NAME) as saved:
        for i, velocity in enumerate(optimizer.buffers["velocity"]):
            np.testing.assert_array_equal(saved[f"optimizer/velocity/{i}"], velocity)
        for name, array in model.state_dict().items():
            np.testing.assert_array_equal(saved[f"model/{name}"], array)
        assert FORMAT == 2 and json.loads(str(saved["__meta__"]))["format"] == FORMAT


def test_a_frozen_weight_is_no_parameter_but_part_of_the_state():
    model = models.MaxoutNetwork(6, hidden=(4,), pieces=3, n_classes=3, dropout=None, seed=0)
    frozen = model.net.layers[0].linear.weight
    frozen.requires_grad = False
    assert all(p is not frozen for p in model.parameters())  # no optimizer moves it
    state = model.state_dict()
    np.testing.assert_array_equal(state["net.layers.0.linear.weight"], frozen.data)
    other = models.MaxoutNetwork(6, hidden=(4,), pieces=3, n_classes=3, dropout=None, seed=1)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.net.layers[0].linear.weight.data, frozen.data)


def unit_grouped(array, pieces):
    """``array`` with its piece-major columns (``k * units + u``) grouped by unit (``u * pieces + k``), as format 1 kept them."""
    return array.reshape(*array.shape[:-1], pieces, -1).swapaxes(-1, -2).reshape(array.shape)


@pytest.mark.parametrize("cls", ["MaxoutNetwork", "ConvMaxoutNetwork"])
def test_a_format_1_file_with_maxout_columns_grouped_by_unit_is_upgraded_as_it_loads(tmp_path, cls):
    model = build(cls, init=0.5) if cls == "MaxoutNetwork" else build(cls)
    model.eval()
    x = rand(4, model.n_features)
    models.save(model, tmp_path / "new.npz")
    with np.load(tmp_path / "new.npz") as data:
        arrays = dict(data)
    maxouts = [(prefix, m.pieces) for prefix, m in model.named_modules() if isinstance(m, models.Maxout)]
    assert maxouts, "no Maxout layer to upgrade: the test would be vacuous"
    for prefix, pieces in maxouts:
        for name in (prefix + "linear.weight", prefix + "linear.bias"):
            arrays[name] = unit_grouped(arrays[name], pieces)
    meta = json.loads(str(arrays["__model__"]))
    assert meta["format"] == 2
    arrays["__model__"] = np.array(json.dumps({**meta, "format": 1}))
    np.savez(tmp_path / "old.npz", **arrays)
    before = (tmp_path / "old.npz").read_bytes()
    loaded = models.load(tmp_path / "old.npz").eval()
    np.testing.assert_array_equal(loaded.logits(x).data, model.logits(x).data)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], array, err_msg=name)
    assert (tmp_path / "old.npz").read_bytes() == before  # read, never rewritten: a recorded digest still holds
    # Read as format 2, the same arrays are another network: the upgrade is what made them agree.
    arrays["__model__"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "misread.npz", **arrays)
    assert not np.allclose(models.load(tmp_path / "misread.npz").eval().logits(x).data, model.logits(x).data)


@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "trainable"])
def test_a_state_without_a_weight_is_refused_frozen_or_not_and_changes_nothing(frozen):
    """Only fit(resume=True) fills in the frozen weights old checkpoints left out (tests/test_old_files.py)."""
    model = models.MLP((6, 5, 3), seed=0)
    model.net.layers[0].weight.requires_grad = not frozen
    state = models.MLP((6, 5, 3), seed=1).state_dict()
    del state["net.layers.0.weight"]
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"MLP.load_state_dict: the state does not fit this model "
                                         r"\(missing: \['net.layers.0.weight'\]; unexpected: none\)"):
        model.load_state_dict(state)
    assert all(np.array_equal(value, before[name]) for name, value in model.state_dict().items())  # nothing changed


def test_save_writes_frozen_weights_and_load_gives_them_back(tmp_path):
    model = models.SmallConvNet(seed=0)
    model.net.layers[0].weight.requires_grad = False  # a pretrained first layer, kept fixed
    models.save(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as saved:
        assert "net.layers.0.weight" in saved.files
    loaded = models.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.net.layers[0].weight.data, model.net.layers[0].weight.data)
    x = rand(2, 784)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def cast_first_weight(model):
    model.net.layers[0].weight.data = model.net.layers[0].weight.data.astype(np.float64)


def put_in_last_bias(value):
    def change(model):
        model.net.layers[-1].bias.data[1] = value
    return change


@pytest.mark.parametrize("change, message", [
    (cast_first_weight, r"net.layers.0.weight has dtype float64, the model expects float32"),
    (put_in_last_bias(np.nan), r"the weights 'net.layers.7.bias' hold NaN or inf"),
    (put_in_last_bias(-np.inf), r"the weights 'net.layers.7.bias' hold NaN or inf"),
], ids=["float64", "NaN", "inf"])
def test_save_refuses_what_load_would_refuse_naming_the_array_and_writes_nothing(tmp_path, change, message):
    model = models.SmallConvNet(seed=0)
    change(model)
    with pytest.raises(ValueError, match=rf"models.save: models.load could not rebuild this SmallConvNet from the file: "
                                         rf"(SmallConvNet.load_state_dict: )?{message}"):
        models.save(model, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_buffer_that_load_would_refuse(tmp_path):
    model = models.ConvMaxoutNetwork("tiny", input_shape=(3, 4, 4), n_classes=3, preprocessing="gcn_zca", seed=0)
    model.preprocess.fit(rand(20, 48))
    model.preprocess.mean[2] = np.nan
    with pytest.raises(ValueError, match=r"models.save: .* the buffers \['preprocess.mean'\] hold NaN or inf"):
        models.save(model, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_max_norm_constraint_rescales_only_long_columns():
    layer = models.Linear(3, 2, init="zeros", max_norm=1.0)
    layer.weight.data[:] = [[3.0, 0.1], [4.0, 0.2], [0.0, 0.2]]  # column norms 5 and 0.3
    layer.apply_constraint()
    np.testing.assert_allclose(np.linalg.norm(layer.weight.data, axis=0), [1.0, 0.3], rtol=1e-6)
    np.testing.assert_allclose(layer.weight.data[:, 0], [0.6, 0.8, 0.0], rtol=1e-6)


def _clip_with_einsum_norms(w, max_norm):
    """clip_column_norms as it was written up to issue 26 (column norms by einsum), to compare against."""
    norms = np.sqrt(np.einsum("ij,ij->j", w, w))
    too_long = norms > max_norm
    w[:, too_long] *= (max_norm / norms[too_long]).astype(w.dtype)


def test_max_norm_clipping_stays_float32_and_gives_the_einsum_forms_results():
    from models.layers import clip_column_norms

    w = (np.random.default_rng(0).normal(size=(784, 240)) * 0.1).astype(np.float32)  # column norms about 2.8
    plain, einsum = w.copy(), w.copy()
    clip_column_norms(plain, 1.9365)
    _clip_with_einsum_norms(einsum, 1.9365)
    assert plain.dtype == np.float32
    np.testing.assert_array_equal(plain, einsum)  # a dense layer's weights: the same sums, to the bit
    kernels = w.T.copy()  # Conv2d's (F, C kh kw) kernels, clipped through their transposed view
    plain, einsum = kernels.copy(), kernels.copy()
    clip_column_norms(plain.T, 1.9365)
    _clip_with_einsum_norms(einsum.T, 1.9365)
    assert plain.dtype == np.float32
    np.testing.assert_allclose(plain, einsum, rtol=1e-6, atol=0)  # summed in another order: float32 rounding
    np.testing.assert_allclose(np.linalg.norm(plain, axis=1), 1.9365, rtol=1e-6)


def test_maxout_network_defaults_follow_the_paper():
    model = models.MaxoutNetwork(seed=0)
    shapes = [p.shape for p in model.parameters()]
    assert shapes == [(784, 1200), (1200,), (240, 1200), (1200,), (240, 10), (10,)]
    weights = [p.data for p in model.parameters() if p.ndim == 2]
    assert all(np.abs(w).max() <= 0.005 for w in weights)
    dropouts = [m for m in model.modules() if isinstance(m, models.Dropout)]
    assert [(d.keep_prob, d.scale) for d in dropouts] == [(0.8, 1.0), (0.5, 2.0), (0.5, 2.0)]
    linears = [m for m in model.modules() if isinstance(m, models.Linear)]
    assert all(layer.max_norm == 1.9365 for layer in linears)


def test_init_schemes_are_seeded_and_documented_ones_only():
    a = models.MLP((10, 8, 3), seed=5).parameters()[0].data
    b = models.MLP((10, 8, 3), seed=5).parameters()[0].data
    np.testing.assert_array_equal(a, b)
    assert abs(a.std() - np.sqrt(2 / 10)) < 0.15  # He initialisation
    with pytest.raises(ValueError, match="unknown init"):
        models.Linear(3, 2, init="xavier")


def test_rbf_network_from_class_means_and_low_confidence_far_away():
    x = np.concatenate([np.zeros((5, 4)), np.ones((5, 4))]).astype(np.float32)
    y = np.array([0] * 5 + [1] * 5)
    model = models.RBFNetwork.from_data(x, y, beta=1.0)
    np.testing.assert_allclose(model.rbf.centers.data, [[0] * 4, [1] * 4])
    np.testing.assert_array_equal(model.predict(x), y)
    far = np.full((1, 4), 5.0, dtype=np.float32)
    assert model.predict_proba(far).max() < 1e-6  # far from every center: no confidence


def test_logistic_regression_probabilities_and_label_check():
    model = models.LogisticRegression(2, init="zeros")
    model.linear.weight.data[:] = [[1.0], [0.0]]
    p = model.predict_proba(np.array([[2.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(p, [[1 - 1 / (1 + np.exp(-2)), 1 / (1 + np.exp(-2))]], rtol=1e-6)
    with pytest.raises(ValueError, match=r"labels for LogisticRegression must be in 0..1; found \[2\]"):
        model.loss(model(np.zeros((2, 2), dtype=np.float32)), np.array([0, 2]))


@pytest.mark.parametrize("name", sorted(ALL_MODELS))
def test_save_and_load_round_trip(name, tmp_path):
    model = ALL_MODELS[name]()
    for p in model.parameters():
        p.data += np.float32(0.25)  # not the initial weights
    path = tmp_path / "model.npz"
    models.save(model, path)
    loaded = models.load(path)
    assert type(loaded) is type(model)
    x = rand(3, 6)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_load_errors(tmp_path):
    path = tmp_path / "m.npz"
    models.save(models.SoftmaxRegression(6, 3), path)
    with pytest.raises(models.ModelFileError, match="holds a SoftmaxRegression, not an MLP"):
        models.load(path, expected=models.MLP)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(models.ModelFileError, match="truncated or corrupt"):
        models.load(truncated)
    with pytest.raises(FileNotFoundError, match="no such model file"):
        models.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "plain.npz", w=np.zeros(3))
    with pytest.raises(models.ModelFileError, match="no model description"):
        models.load(tmp_path / "plain.npz")
    other = models.SoftmaxRegression(5, 3)
    with pytest.raises(ValueError, match=r"linear.weight has shape \(6, 3\), the model expects \(5, 3\)"):
        other.load_state_dict(models.SoftmaxRegression(6, 3).state_dict())
    with pytest.raises(ValueError, match="missing: \\['linear.bias'\\]"):
        other.load_state_dict({"linear.weight": np.zeros((5, 3), np.float32)})


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    models.save(models.SoftmaxRegression(6, 3), path)
    before = path.read_bytes()

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        models.save(models.SoftmaxRegression(6, 3, init=0.5, seed=1), path)
    assert path.read_bytes() == before  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_rbf_precision_cap_and_logits_formula():
    layer = models.RBF(3, 2, centers=np.zeros((2, 3)), beta=0.5, max_beta=1.0)
    layer.log_beta.data[0, 0] = np.log(50.0)
    layer.apply_constraint()
    assert np.exp(layer.log_beta.data).max() == pytest.approx(1.0)
    x = np.array([[1.0, 2.0, 0.0]], dtype=np.float32)
    beta = np.exp(layer.log_beta.data)
    expected = -(beta * (x[:, None, :] - layer.centers.data[None]) ** 2).sum(-1)  # -sum_i beta_ci (x_i - mu_ci)^2
    np.testing.assert_allclose(layer(mg.Tensor(x)).data, expected, rtol=1e-6)


def test_evaluating_restores_each_layers_own_mode():
    model = models.MaxoutNetwork(8, hidden=(4, 4), pieces=2, n_classes=3, seed=0).train()
    first_dropout = next(m for m in model.modules() if isinstance(m, models.Dropout))
    first_dropout.eval()  # a layer set apart on purpose
    with model.evaluating():
        assert not any(m.training for m in model.modules())
    assert not first_dropout.training and sum(m.training for m in model.modules()) == len(list(model.modules())) - 1
    with model.evaluating(enabled=False):
        assert not first_dropout.training and model.training


@pytest.mark.parametrize("model", [models.RBFNetwork(4, 3), models.SoftmaxRegression(4, 3), models.LogisticRegression(4)],
                         ids=lambda m: type(m).__name__)
def test_every_loss_refuses_an_unknown_reduction(model):
    x = np.zeros((2, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="reduction must be one of"):
        model.loss(model(x), np.array([0, 1]), reduction="avg")


def test_register_works_as_a_plain_call_and_load_then_finds_the_class(tmp_path, monkeypatch):
    class Doubled(models.SoftmaxRegression):
        def logits(self, x):
            return super().logits(x) * 2.0

    monkeypatch.setitem(models.classifiers.CLASSIFIERS, "Doubled", None)  # so that the test leaves no entry behind
    assert models.register(Doubled) is Doubled
    model = Doubled(4, 3, init=0.5, seed=0)
    models.save(model, tmp_path / "d.npz")
    loaded = models.load(tmp_path / "d.npz")
    assert type(loaded) is Doubled
    x = np.ones((2, 4), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def with_description(path, tmp_path, **changes):
    """A copy of the model file ``path`` whose description has ``changes`` (``config`` items merged in): a hand edit."""
    with np.load(path) as data:
        arrays = dict(data)
    meta = json.loads(str(arrays["__model__"]))
    meta["config"].update(changes.pop("config", {}))
    meta.update(changes)
    arrays["__model__"] = np.array(json.dumps(meta))
    edited = tmp_path / "edited.npz"
    np.savez(edited, **arrays)
    return edited


SAVED = {  # the constructor's arguments for a small model of each class
    "ConvMaxoutNetwork": dict(preset="tiny", input_shape=(3, 8, 8), n_classes=3, seed=0),
    "MaxoutNetwork": dict(n_features=6, hidden=(4, 3), pieces=2, n_classes=3, seed=0),
    "MLP": dict(sizes=(6, 5, 3), seed=0),
    "RBFNetwork": dict(n_features=6, n_classes=3, seed=0),
    "SmallConvNet": dict(input_shape=(1, 8, 8), n_classes=3, quantise=4, seed=0),
    "SoftmaxRegression": dict(n_features=6, n_classes=3, seed=0),
}


def build(cls, **changes):
    """A small model of class ``cls`` (its name), built with ``changes`` to its arguments."""
    return getattr(models, cls)(**{**SAVED[cls], **changes})


PAIRS = r"MaxoutNetwork: dropout needs one \(keep_prob, scale\) pair per layer \(3\), got "
WRONG_TYPES = [  # (class, key, value, the error): Python would coerce each value, or fail naming nothing
    ("ConvMaxoutNetwork", "dropout", "no", "ConvMaxoutNetwork: dropout must be True or False, got 'no'"),  # bool("no")
    ("ConvMaxoutNetwork", "dropout", 0, "ConvMaxoutNetwork: dropout must be True or False, got 0"),
    ("ConvMaxoutNetwork", "dropout", [1], r"ConvMaxoutNetwork: dropout must be True or False, got \[1\]"),
    ("ConvMaxoutNetwork", "preset", ["tiny"], r"ConvMaxoutNetwork: preset must be one of \[.*\], got \['tiny'\]"),
    ("ConvMaxoutNetwork", "preprocessing", ["gcn_zca"],
     r"ConvMaxoutNetwork: preprocessing must be one of \[None, 'gcn_zca'\], got \['gcn_zca'\]"),
    ("ConvMaxoutNetwork", "input_shape", "388",
     "ConvMaxoutNetwork: input_shape must be a list, a tuple or a 1-D array of integers >= 1, got '388'"),
    ("ConvMaxoutNetwork", "seed", True, "ConvMaxoutNetwork: seed must be an int >= 0, a numpy Generator or None, got True"),
    ("MaxoutNetwork", "dropout", [[True, None], [0.5, None], [0.5, None]],
     r"MaxoutNetwork: dropout\[0\]: keep_prob must be a number in \(0, 1\], got True"),  # it was keep_prob 1
    ("MaxoutNetwork", "dropout", [[0.8, 1.0], ["0.5", None], [0.5, None]],
     r"MaxoutNetwork: dropout\[1\]: keep_prob must be a number in \(0, 1\], got '0.5'"),
    ("MaxoutNetwork", "dropout", [[0.8, 1.0], [0.5, True], [0.5, None]],
     r"MaxoutNetwork: dropout\[1\]: scale must be a finite number > 0, got True"),
    ("MaxoutNetwork", "dropout", [[0.8], [0.5, None], [0.5, None]], PAIRS + r"\[\[0.8\], "),
    ("MaxoutNetwork", "dropout", "no", PAIRS + "'no'"),
    ("MaxoutNetwork", "max_norm", True, r"Linear: max_norm must be a finite number > 0 \(or None\), got True"),
    ("MaxoutNetwork", "pieces", 2.0, "Maxout: pieces must be an integer >= 1, got 2.0"),
    ("MaxoutNetwork", "hidden", 4, "MaxoutNetwork: hidden must be a list, a tuple or a 1-D array of integers >= 1, got 4"),
    ("MaxoutNetwork", "seed", "3", "MaxoutNetwork: seed must be an int >= 0, a numpy Generator or None, got '3'"),
    ("MLP", "activation", ["relu"], r"MLP activation must be one of \['relu', 'tanh'\], got \['relu'\]"),
    ("MLP", "sizes", [6, 5.0, 3], r"MLP: sizes\[1\] must be an integer >= 1, got 5.0"),
    ("MLP", "seed", 1.5, "MLP: seed must be an int >= 0, a numpy Generator or None, got 1.5"),
    ("RBFNetwork", "beta", True, "RBF: beta must be a finite number > 0, got True"),  # it was beta 1
    ("RBFNetwork", "max_beta", "0.2", r"RBF: max_beta must be a finite number > 0 \(or None\), got '0.2'"),
    ("RBFNetwork", "seed", True, "RBFNetwork: seed must be an int >= 0, a numpy Generator or None, got True"),
    ("SmallConvNet", "quantise", True, "SmallConvNet: quantise must be an integer >= 2, got True"),
    ("SmallConvNet", "init", False, "unknown init False"),
    ("SmallConvNet", "seed", -1, "SmallConvNet: seed must be an int >= 0, a numpy Generator or None, got -1"),
    ("SoftmaxRegression", "seed", True, "SoftmaxRegression: seed must be an int >= 0, a numpy Generator or None, got True"),
    ("SoftmaxRegression", "n_classes", 3.0, "SoftmaxRegression: n_classes must be an integer >= 2, got 3.0"),
]


@pytest.mark.parametrize("cls, key, value, message", WRONG_TYPES, ids=lambda v: repr(v)[:30])
def test_a_constructor_refuses_an_argument_of_the_wrong_type_naming_it(cls, key, value, message):
    with pytest.raises(ValueError, match=message):
        build(cls, **{key: value})


@pytest.mark.parametrize("cls, key, value, message", WRONG_TYPES, ids=lambda v: repr(v)[:30])
def test_a_config_value_of_the_wrong_type_is_refused_naming_the_file_and_the_key(tmp_path, cls, key, value, message):
    models.save(build(cls), tmp_path / "m.npz")
    edited = with_description(tmp_path / "m.npz", tmp_path, config={key: value})
    with pytest.raises(models.ModelFileError, match=rf"edited.npz: {message}"):
        models.load(edited)


def test_numpy_numbers_are_numbers_and_a_numpy_bool_is_a_flag():
    rbf = build("RBFNetwork", beta=np.float32(0.5), max_beta=np.float64(1.0), seed=np.int64(1))
    assert np.allclose(np.exp(rbf.rbf.log_beta.data), 0.5) and rbf.rbf.max_beta == 1.0
    maxout = build("MaxoutNetwork", dropout=[(np.float32(0.5), None)] * 3, hidden=np.array([4, 3]).tolist())
    assert [m.scale for m in maxout.modules() if isinstance(m, models.Dropout)] == [2.0] * 3
    assert build("ConvMaxoutNetwork", dropout=np.bool_(False)).config["dropout"] is False
    seeded = build("SoftmaxRegression", init=0.1, seed=np.random.default_rng(5)).linear.weight.data
    np.testing.assert_array_equal(seeded, build("SoftmaxRegression", init=0.1, seed=5).linear.weight.data)


@pytest.mark.parametrize("cls", ["ConvMaxoutNetwork", "MaxoutNetwork", "RBFNetwork", "SmallConvNet", "SoftmaxRegression"])
@pytest.mark.parametrize("n_classes", [10.0, 1, 0, -1], ids=repr)
def test_n_classes_must_be_an_integer_of_at_least_2(cls, n_classes):
    """One class would be a constant; no class has no labels at all (it said 'labels must be in 0..-1')."""
    with pytest.raises(ValueError, match=rf"^{cls}: n_classes must be an integer >= 2, got {re.escape(repr(n_classes))}$"):
        build(cls, n_classes=n_classes)


@pytest.mark.parametrize("cls, key, values", [
    ("MLP", "sizes", np.array([6, 5, 3])),
    ("MaxoutNetwork", "hidden", np.array([4, 3], np.uint8)),
    ("SmallConvNet", "input_shape", np.array([1, 8, 8], np.int32)),
    ("ConvMaxoutNetwork", "input_shape", np.array([3, 8, 8])),
], ids=lambda v: str(v))
def test_sizes_and_shapes_may_be_1d_integer_arrays(tmp_path, cls, key, values):
    """As at e4bdc86: the model is the one the list builds, and its config is plain JSON."""
    model, listed = build(cls, **{key: values}), build(cls, **{key: values.tolist()})
    assert model.config == listed.config and type(model.config[key][0]) is int
    for (name, value), (_, other) in zip(model.state_dict().items(), listed.state_dict().items()):
        np.testing.assert_array_equal(value, other, err_msg=name)
    models.save(model, tmp_path / "m.npz")
    assert models.load(tmp_path / "m.npz").config == listed.config


@pytest.mark.parametrize("values, shown", [
    (np.array([6, 5, 3], bool), r"array\(\[ True"),
    (np.array([6.0, 5.0, 3.0]), r"array\(\[6., 5., 3.\]\)"),
    (np.array([[6, 5, 3]]), r"array\(\[\[6, 5, 3\]\]\)"),
    (np.str_("653"), "'653'"),
], ids=["bool", "float", "2-D", "str"])
def test_sizes_of_another_array_kind_are_refused_naming_the_argument(values, shown):
    with pytest.raises(ValueError, match=rf"MLP: sizes must be a list, a tuple or a 1-D array of integers >= 1, got .*{shown}"):
        models.MLP(values)


def test_config_values_of_the_right_types_load_as_they_say(tmp_path):
    models.save(build("MaxoutNetwork"), tmp_path / "m.npz")
    edited = with_description(tmp_path / "m.npz", tmp_path, config={"max_norm": 2, "init": "glorot", "seed": None})
    loaded = models.load(edited)  # an int is a float; init and seed do not change the loaded weights
    assert loaded.config["max_norm"] == 2 and loaded.net.layers[-1].max_norm == 2.0
    models.save(build("ConvMaxoutNetwork"), tmp_path / "c.npz")
    assert models.load(tmp_path / "c.npz").config["dropout"] is True


@pytest.mark.parametrize("changes, message", [
    ({"class": ["MLP"]}, r"its model description's 'class' must be the name of a class, got \['MLP'\]"),
    ({"class": None}, "its model description's 'class' must be the name of a class, got None"),
    ({"format": True}, "unknown model file format True"),
    ({"format": 1.0}, "unknown model file format 1.0"),
    ({"format": 3}, r"unknown model file format 3 \(this version reads 1 and 2\)"),
    ({"format": 0}, r"unknown model file format 0 \(this version reads 1 and 2\)"),
])
def test_a_hand_edited_description_is_refused_naming_the_file_and_the_key(tmp_path, changes, message):
    models.save(build("SoftmaxRegression"), tmp_path / "m.npz")
    edited = with_description(tmp_path / "m.npz", tmp_path, **changes)
    with pytest.raises(models.ModelFileError, match=f"edited.npz: {message}"):
        models.load(edited)


def test_a_key_given_twice_in_the_description_is_refused_naming_the_file_and_the_key(tmp_path):
    models.save(build("SoftmaxRegression"), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as data:
        arrays = dict(data)
    text = str(arrays["__model__"])
    assert '"n_classes": 3' in text
    arrays["__model__"] = np.array(text.replace('"n_classes": 3', '"n_classes": 11, "n_classes": 3'))
    np.savez(tmp_path / "twice.npz", **arrays)
    with pytest.raises(models.ModelFileError, match="twice.npz: its model description gives the key 'n_classes' twice"):
        models.load(tmp_path / "twice.npz")  # JSON alone keeps the last value


TOO_LARGE = [  # (class, config changes): each would allocate more than any machine has, or more than NumPy can index
    ("SoftmaxRegression", {"n_features": 10**12}),
    ("SoftmaxRegression", {"n_classes": 10**13}),
    ("SoftmaxRegression", {"n_features": 2**70}),
    ("MLP", {"sizes": [6, 2**62, 3]}),
    # 2**64 pixels: np.prod wrapped it round to 0, and the message named the preprocessing's n_features
    ("ConvMaxoutNetwork", {"input_shape": [1, 2**32, 2**32], "preprocessing": "gcn_zca"}),
]


@pytest.mark.parametrize("cls, changes", TOO_LARGE, ids=lambda v: repr(v)[:40])
def test_a_config_asking_for_a_huge_model_is_refused_naming_the_file(tmp_path, cls, changes):
    models.save(build(cls), tmp_path / "m.npz")
    edited = with_description(tmp_path / "m.npz", tmp_path, config=changes)
    key, value = next(iter(changes.items()))
    shown = json.dumps(value)
    with pytest.raises(models.ModelFileError, match=rf"edited.npz: its config asks for a model too large to build "
                                                    rf"\(.*\"{key}\": {re.escape(shown)}"):
        models.load(edited)


@pytest.mark.parametrize("content, what", [
    (b"root:x:0:0:root:/root:/bin/bash\n", "it is no .npz archive"),
    (b'"""A Python module."""\nimport os\n', "it is no .npz archive"),
    (b"", "it is empty"),
    (gzip.compress(b"a tar archive, say"), "it is no .npz archive"),
])
def test_a_file_that_is_no_npz_is_no_model_file_and_unpickling_is_never_advised(tmp_path, content, what):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(models.ModelFileError, match=f"model.npz is not a model file written by models.save: {what}") as error:
        models.load(path)
    assert "pickle" not in str(error.value)


def test_an_npz_of_python_objects_or_of_other_files_is_no_model_file(tmp_path):
    np.savez(tmp_path / "objects.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(models.ModelFileError, match=r"objects.npz is not a model file written by models.save: its member "
                                                    r"'a' holds Python objects \(pickled data\)$"):
        models.load(tmp_path / "objects.npz")
    with zipfile.ZipFile(tmp_path / "notes.npz", "w") as archive:
        archive.writestr("readme.txt", "not an array")
    with pytest.raises(models.ModelFileError, match="notes.npz is not a model file written by models.save: its member "
                                                    "'readme.txt' holds no NumPy array"):
        models.load(tmp_path / "notes.npz")


@pytest.mark.parametrize("path", [3, None, ["m.npz"]])
def test_load_and_save_name_a_path_that_is_no_file_name(path):
    with pytest.raises(TypeError, match=r"models.load: path must be a file name \(a str or a pathlib.Path\), got "):
        models.load(path)
    with pytest.raises(TypeError, match=r"models.save: path must be a file name \(a str or a pathlib.Path\), got "):
        models.save(build("SoftmaxRegression"), path)


@pytest.mark.parametrize("expected", ["SmallConvNet", models.SmallConvNet(seed=0), 3])
def test_load_names_an_expected_that_is_no_class(tmp_path, expected):
    models.save(build("SmallConvNet"), tmp_path / "m.npz")
    with pytest.raises(TypeError, match="models.load: expected must be a model class such as models.MLP"):
        models.load(tmp_path / "m.npz", expected=expected)


def test_load_accepts_a_subclass_of_expected_and_names_both_classes_otherwise(tmp_path):
    models.save(build("ConvMaxoutNetwork"), tmp_path / "c.npz")
    assert type(models.load(tmp_path / "c.npz", expected=models.ImageClassifier)) is models.ConvMaxoutNetwork
    assert type(models.load(tmp_path / "c.npz", expected=models.Classifier)) is models.ConvMaxoutNetwork
    with pytest.raises(models.ModelFileError, match="c.npz holds a ConvMaxoutNetwork, not a SmallConvNet$"):
        models.load(tmp_path / "c.npz", expected=models.SmallConvNet)
    models.save(build("SoftmaxRegression"), tmp_path / "s.npz")
    with pytest.raises(models.ModelFileError, match="s.npz holds a SoftmaxRegression, not an ImageClassifier$"):
        models.load(tmp_path / "s.npz", expected=models.ImageClassifier)
    with pytest.raises(models.ModelFileError, match="s.npz holds a SoftmaxRegression, not an RBFNetwork$"):
        models.load(tmp_path / "s.npz", expected=models.RBFNetwork)


def test_save_says_what_to_save_for_a_layer_or_a_preprocessed_view(tmp_path):
    with pytest.raises(ValueError, match="models.save: saves a classifier .*, got a Linear"):
        models.save(models.Linear(2, 2), tmp_path / "m.npz")
    view = models.ConvMaxoutNetwork("tiny", input_shape=(3, 4, 4), n_classes=3, preprocessing="gcn_zca").on_preprocessed()
    with pytest.raises(ValueError, match=r"models.save: a PreprocessedInputs \(what model.on_preprocessed\(\) returns\) "
                                         r"shares the weights of the model it wraps and has no file of its own: save that "
                                         r"model \(its .model\) instead"):
        models.save(view, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []
