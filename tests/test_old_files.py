"""Files written by an earlier commit still load, give the same outputs, and resume.

``tests/fixtures/e4bdc86/`` holds model files and training checkpoints written by the
code of commit e4bdc86 (its ``make.py`` says how): what users of that commit hold. Both
are of format 1, whose Maxout columns are grouped by unit (:mod:`models.old_files`).
A change to a layer's parameters, the file format or the optimizer's state must keep
reading them.
"""

import importlib.util
import os
import re
import shutil

import numpy as np
import pytest

import models
from models import old_files
import training.loop

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "e4bdc86")
MODEL_FILES = sorted(name[: -len(".npz")] for name in os.listdir(os.path.join(FIXTURES, "models")))


def _make_module():
    spec = importlib.util.spec_from_file_location("e4bdc86_make", os.path.join(FIXTURES, "make.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_registered_class_has_an_old_file():
    classes = {type(models.load(os.path.join(FIXTURES, "models", f"{name}.npz"))).__name__ for name in MODEL_FILES}
    assert classes >= {"LogisticRegression", "SoftmaxRegression", "MLP", "MaxoutNetwork", "RBFNetwork",
                       "SmallConvNet", "ConvMaxoutNetwork"}


@pytest.mark.parametrize("name", MODEL_FILES)
def test_old_model_file_gives_the_same_logits(name):
    model = models.load(os.path.join(FIXTURES, "models", f"{name}.npz")).eval()  # the outputs are evaluation mode's
    with np.load(os.path.join(FIXTURES, "outputs.npz")) as outputs:
        x, expected = outputs[f"{name}_x"], outputs[name]
    logits = model.logits(x).data
    assert logits.dtype == np.float32
    # float32 rounding only: even at e4bdc86 a loaded maxout network sums in another order than the trained one
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=2e-5)


def _frozen_maxout_finished(make):
    """e4bdc86's uninterrupted frozen-Maxout run, as a model: that commit's file left the frozen weight
    out (``models.load`` refuses it), so its arrays are read, regrouped piece-major, and the frozen weight
    taken from a fresh model of the run, which e4bdc86 drew the same."""
    model = models.MaxoutNetwork(make.N_FEATURES, hidden=(12, 8), pieces=3, dropout=None, seed=12)
    with np.load(os.path.join(FIXTURES, "frozen_maxout_finished.npz")) as saved:
        arrays = {key: saved[key] for key in saved.files if key != "__model__"}
    model.load_state_dict({**model.state_dict(), **old_files.upgrade_unit_grouped_state(model, arrays)})
    return model


@pytest.mark.parametrize("folder, run, uninterrupted", [
    ("checkpoint", "checkpoint_run", lambda make: models.load(os.path.join(FIXTURES, "finished.npz"))),
    # a run that keeps its last weights: its Maxout columns and momentum buffers, grouped by unit there, decide them
    ("learning_checkpoint", "learning_checkpoint_run",
     lambda make: models.load(os.path.join(FIXTURES, "learning_finished.npz"))),
    # e4bdc86 kept frozen weights out of checkpoints, the model's arrays and the best epoch's alike
    ("frozen_checkpoint", "frozen_checkpoint_run", lambda make: make.frozen_checkpoint_run(None, epochs=4)),
    # the frozen weight left out is a Maxout layer's: the model's own value must be the one that run had
    ("frozen_maxout_checkpoint", "frozen_maxout_checkpoint_run", lambda make: _frozen_maxout_finished(make)),
], ids=["maxout", "maxout-learning", "with-a-frozen-weight", "with-a-frozen-maxout-weight"])
def test_old_checkpoint_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, folder, run, uninterrupted):
    make = _make_module()
    shutil.copytree(os.path.join(FIXTURES, folder), tmp_path / "checkpoint")
    steps = []
    step = training.loop.train_step
    monkeypatch.setattr(training.loop, "train_step", lambda *args: steps.append(1) or step(*args))
    resumed = getattr(make, run)(tmp_path / "checkpoint", epochs=4, resume=True)
    n_train = make.N_TRAIN - make.N_TRAIN // 4  # val_fraction=0.25
    assert len(steps) == 2 * -(-n_train // 20), "the run did not start from the checkpoint's epoch 2"
    expected = uninterrupted(make).state_dict()
    assert sorted(resumed.state_dict()) == sorted(expected)
    for key, value in resumed.state_dict().items():
        # float32 rounding only: finished.npz was trained by e4bdc86's code
        np.testing.assert_allclose(value, expected[key], rtol=1e-4, atol=1e-6, err_msg=key)


def test_old_checkpoint_without_a_weight_that_is_now_trainable_is_refused_naming_the_checkpoint(tmp_path):
    make = _make_module()
    shutil.copytree(os.path.join(FIXTURES, "frozen_checkpoint"), tmp_path / "checkpoint")
    before = (tmp_path / "checkpoint" / "checkpoint.npz").read_bytes()
    checkpoint = re.escape(str(tmp_path / "checkpoint" / "checkpoint.npz"))
    with pytest.raises(ValueError, match=rf"fit\(resume=True\): the weights of the checkpoint {checkpoint} do not fit "
                                         r"the model \(net.layers.0.weight frozen in the run that wrote it\? freeze "
                                         r"them here too\): MLP.load_state_dict: .*missing: \['net.layers.0.weight'\]"):
        make.frozen_checkpoint_run(tmp_path / "checkpoint", epochs=4, resume=True, frozen=False)  # the run froze it
    assert (tmp_path / "checkpoint" / "checkpoint.npz").read_bytes() == before


def test_with_the_fast_paths_an_old_checkpoint_resumes_to_the_uninterrupted_result_bit_for_bit(tmp_path):
    """``advex`` runs with the fast paths on, and they compute SGD's momentum step as e4bdc86 did (the
    small arrays' ufunc form included): its run is repeated exactly, not only to float32 rounding."""
    from training import fast_paths

    make = _make_module()
    shutil.copytree(os.path.join(FIXTURES, "learning_checkpoint"), tmp_path / "checkpoint")
    with fast_paths.enabled():
        resumed = make.learning_checkpoint_run(tmp_path / "checkpoint", epochs=4, resume=True)
    expected = models.load(os.path.join(FIXTURES, "learning_finished.npz")).state_dict()
    assert sorted(resumed.state_dict()) == sorted(expected)
    for key, value in resumed.state_dict().items():
        np.testing.assert_array_equal(value, expected[key], err_msg=key)
