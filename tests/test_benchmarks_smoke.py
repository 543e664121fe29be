"""The engine benchmark runs end to end, and its hand-written baseline computes what the engine does.

Nothing here asserts on time: the machines are shared and timings are noisy.
"""

import json

import numpy as np
import pytest

import minigrad
from benchmarks import engine as bench
from benchmarks import workloads
from benchmarks.handwritten_numpy import Maxout, NumpyNet

@pytest.fixture(autouse=True)
def no_peers_installed(monkeypatch):
    """Every peer's module name made unimportable: these tests run as on a machine without
    PyTorch, JAX or autograd, and never start a process that imports one."""
    from benchmarks.adapters.peer_libraries import PEERS

    for name, module in PEERS.items():
        monkeypatch.setattr(module, "MODULE", f"no_such_module_{name}")


TINY = {"d_in": 12, "width": 15, "classes": 4}  # maxout: 3 units of 5 pieces
BATCH = 6


def tiny_problem(kind):
    params = workloads.init_params(workloads.layer_shapes(kind, **TINY))
    X, y = workloads.synthetic_data(2 * BATCH, TINY["d_in"], TINY["classes"])
    return params, X, y


def test_quick_run_writes_every_section(tmp_path, capsys):
    out = tmp_path / "sub" / "engine.json"
    assert bench.main(["--quick", "--repeats", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| task |" in printed
    result = json.loads(out.read_text())
    assert set(result["results"]) == set(bench.TASKS)
    assert "blas" in result["environment"] and "OPENBLAS_CORETYPE" in result["environment"]
    assert result["sgemm_gflops"] > 0 and "sgemm rate (256x256" in printed
    for section in result["results"].values():
        assert {"engine", "numpy"} <= set(section["runs"])
        for impl, runs in section["runs"].items():
            assert len(runs) == 1 and runs[0] > 0
            assert section["min"][impl] > 0 and section["median"][impl] > 0
        for ratio in section["ratios"].values():
            assert ratio["min"] > 0 and ratio["median"] > 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["engine.json"]  # no temporary file left
    for task in ("mlp", "maxout"):  # training.fit's epoch, compared with the engine step
        assert "fit" in result["results"][task]["runs"] and "fit/engine" in result["results"][task]["ratios"]
    for task, section in result["results"].items():  # the hand-written version computes what minigrad does
        if task != "overhead":
            assert section["agrees_with_engine"] == {"engine": True, "numpy": True}, task
    assert "Every implementation agrees with minigrad on the first batch, before and after one update" in printed
    overhead = result["results"]["overhead"]["in_process"]  # the engine's chain and the bare ufuncs, one process
    assert overhead["runs"][0] > 1 and overhead["min"] == overhead["runs"][0]
    assert [(t["task"], t["against"]) for t in result["targets"]] == [(task, against) for task, _, against, _ in bench.TARGETS]
    floor = result["results"]["overhead"]["floor"]  # the engine's chain and the floor engine's, one process
    assert floor["runs"][0] > 1 and floor["min"] == floor["runs"][0]
    assert "The engine's performance targets" in printed and "the floor engine (benchmarks.research.overhead_floor)" in printed


@pytest.mark.parametrize("kind", ["mlp", "maxout"])
def test_library_and_hand_written_steps_give_the_same_weights(kind):
    params, X, y = tiny_problem(kind)
    import training

    step, _ = bench.library_functions(kind, params)  # the benchmark's step, on a model of its own
    model, optimizer = bench.library_training(kind, params)  # the same network, to read the weights of
    hand = NumpyNet(kind, params, BATCH)
    # Two steps: the first checks the gradients, the second also the momentum.
    for start in (0, BATCH):
        xb, yb = X[start : start + BATCH], y[start : start + BATCH]
        library_loss = training.train_step(model, optimizer, training.loop.default_loss, xb, yb)
        np.testing.assert_allclose(hand.step(xb, yb), library_loss, rtol=1e-5)
        np.testing.assert_allclose(step(xb, yb), library_loss, rtol=1e-6)  # the benchmark's own step: the same
        hand_weights = [a for layer in hand.params for a in layer]  # as it keeps them: maxout columns piece-major
        for saved, a in zip(model.state_dict().values(), hand_weights, strict=True):  # as models.Maxout keeps them
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, saved, rtol=1e-6, atol=1e-7)
    # The weights did move, so the comparison above is not vacuous.
    initial = bench.library_model(kind, params).state_dict()
    assert not np.allclose(next(iter(model.state_dict().values())), next(iter(initial.values())))


@pytest.mark.parametrize("kind", ["mlp", "maxout"])
def test_input_gradients_match(kind):
    params, X, y = tiny_problem(kind)
    _, input_grad = bench.library_functions(kind, params)
    hand_grad = NumpyNet(kind, params, len(X)).input_grad(X, y)
    assert hand_grad.shape == X.shape and hand_grad.dtype == np.float32
    np.testing.assert_allclose(hand_grad, input_grad(X, y), rtol=1e-4, atol=1e-6)


def test_hand_written_maxout_sends_a_tie_to_the_first_piece():
    layer = Maxout(batch=1, width=workloads.PIECES)  # one unit: columns are its pieces
    z = np.array([[1.0, 3.0, 3.0, 2.0, 3.0]], np.float32)
    assert layer.forward(z.copy()).tolist() == [[3.0]]
    assert layer.backward(np.array([[2.0]], np.float32)).tolist() == [[0.0, 2.0, 0.0, 0.0, 0.0]]
    engine_grad = minigrad.grad(lambda x: (minigrad.maxout(x, workloads.PIECES) * 2.0).sum())(z)
    assert engine_grad.tolist() == [[0.0, 2.0, 0.0, 0.0, 0.0]]


def test_adversarial_cost_quick_run_reports_every_ratio(tmp_path, capsys):
    from benchmarks.research import adversarial_cost

    out = tmp_path / "cost.json"
    assert adversarial_cost.main(["--quick", "--out", str(out)]) == 0
    assert "| adversarial / clean training step |" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert set(result["ratios"]) == set(adversarial_cost.RATIOS)
    assert all(r["min"] > 0 and r["median"] > 0 for r in result["ratios"].values())
    parts = {p for top, bottom in adversarial_cost.RATIOS.values() for p in top + bottom}
    assert set(result["seconds_per_epoch"][0]) == parts and all(s > 0 for s in result["seconds_per_epoch"][0].values())
    with pytest.raises(SystemExit):  # argparse's error exit
        adversarial_cost.main(["--quick", "--repeats", "0", "--out", str(out)])


def test_other_models_quick_run_reports_the_tree_against_maxout_and_knns_peak(tmp_path, capsys):
    from benchmarks.research import other_models

    out = tmp_path / "other.json"
    assert other_models.main(["--quick", "--out", str(out)]) == 0
    assert "tree / 1 maxout epochs" in capsys.readouterr().out
    result = json.loads(out.read_text())
    turn = result["turns"][0]
    assert turn["tree"] > 0 and turn["maxout"] > 0 and turn["nodes"] > 1
    assert result["tree_over_maxout"]["min"] == pytest.approx(turn["tree"] / turn["maxout"])
    assert 0 < result["knn"]["peak_mb"] < 64  # 200 queries against 600 stored: far below the budget


def test_taking_turns_gives_every_function_every_batch_in_order():
    from benchmarks.research.adversarial_cost import taking_turns

    X, y = np.arange(10, dtype=np.float32)[:, None], np.arange(10)
    seen = {"a": [], "b": []}
    spent = taking_turns({name: (lambda name: lambda xb, yb: seen[name].extend(yb))(name) for name in seen}, X, y, 3, 2)
    assert seen["a"] == seen["b"] == list(range(10)) and set(spent) == {"a", "b"}


def test_hand_written_conv_net_makes_the_librarys_step_and_input_gradient():
    import training
    from benchmarks.handwritten_numpy import ConvNumpyNet

    params = workloads.conv_params()
    X, y = workloads.synthetic_data(2 * BATCH)
    model, optimizer = bench.library_training("conv", params)
    hand = ConvNumpyNet(params, BATCH)
    for start in (0, BATCH):  # two steps: the gradients, then the momentum
        xb, yb = X[start : start + BATCH], y[start : start + BATCH]
        library_loss = training.train_step(model, optimizer, training.loop.default_loss, xb, yb)
        np.testing.assert_allclose(hand.step(xb, yb), library_loss, rtol=1e-5)
    for saved, a in zip(model.state_dict().values(), [a for layer in hand.weights() for a in layer], strict=True):
        np.testing.assert_allclose(a, saved, rtol=1e-5, atol=1e-6)
    assert not np.allclose(next(iter(model.state_dict().values())), params[0][0])
    _, input_grad = bench.library_functions("conv", params)
    hand_grad = ConvNumpyNet(params, len(X)).input_grad(X, y)
    assert hand_grad.shape == X.shape and hand_grad.dtype == np.float32
    np.testing.assert_allclose(hand_grad, input_grad(X, y), rtol=1e-4, atol=1e-6)


def test_products_count_every_matrix_product_of_the_step():
    step, gradient = workloads.products("conv", 100, False), workloads.products("conv", 1000, True)
    assert len(step) == 4 + 3 + 4 and len(gradient) == 4 + 4  # forward, input gradients, weight gradients
    assert step[0] == (100 * 14 * 14, 16, 16) and step[1] == (100 * 7 * 7, 256, 32) and step[2] == (100, 1568, 100)
    assert workloads.flops(step[:1]) == 2 * 100 * 196 * 16 * 16
    mlp = workloads.products("mlp", 100, False)
    assert mlp[:3] == [(100, 784, 1200), (100, 1200, 1200), (100, 1200, 10)]  # forward
    assert mlp[3:5] == [(100, 1200, 1200), (100, 10, 1200)]  # dL/dh of the two hidden layers: g W^T
    assert mlp[5:] == [(784, 100, 1200), (1200, 100, 1200), (1200, 100, 10)]  # dW = x^T g
    assert workloads.products("maxout", 10, True)[1] == (10, 240, 1200)  # 240 maxout units feed 1200 columns


def timing(seconds, checksum=None, first_call=0.01):
    found = {"value": seconds, "first_call": first_call}
    return found if checksum is None else {**found, "checksum": checksum}


def fake_result(tmp_path=None):
    """A summarized run of two workloads, as the driver would make it: torch agrees with
    minigrad, JAX only before the update, autograd is not installed."""
    sizes = {"steps": 10, "images": 1000}
    results = {}
    for task in ("mlp", "conv"):
        measured = {"engine": [timing(1.0, (2.0, 1.9)), timing(3.0, (2.0, 1.9))], "numpy": [timing(0.5, (2.0, 1.9))],
                    "torch": [timing(0.4, (2.0000001, 1.9))], "jax": [timing(0.6, (2.0, 2.5), first_call=1.5)],
                    "fit": [timing(1.1)], "matmul": [timing(0.25)]}
        results[task] = json.loads(json.dumps(bench.summarize(task, measured, sizes)))  # through JSON, as written
    env = {"python": "3", "numpy": "2", "cpus": 2, "cpu": "a CPU", "OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None,
           "blas": [], "peers": {"torch": {"version": "2.13", "backend": "mkl"}, "jax": {"version": "0.10", "backend": "cpu"},
                                 "autograd": None}}
    return {"config": {"quick": True, "sgemm_size": 256}, "results": results, "sgemm_gflops": 100.0, "environment": env}


def test_summary_ratios_rates_and_agreement(tmp_path):
    from benchmarks import peers
    from figure_checks import assert_drawn

    result = fake_result()
    mlp = result["results"]["mlp"]
    assert mlp["ratios"]["matmul/numpy"]["min"] == 0.5 and mlp["ratios"]["engine/numpy"]["median"] == 4.0
    assert mlp["ratios"]["fit/engine"]["min"] == pytest.approx(1.1)
    step_flops = workloads.flops(workloads.products("mlp", workloads.BATCH, False)) * 10
    assert mlp["gflops"]["numpy"] == pytest.approx(step_flops / 0.5 / 1e9) and "fit" not in mlp["gflops"]
    assert mlp["agrees_with_engine"] == {"engine": True, "numpy": True, "torch": True, "jax": False}  # jax: after the update
    assert mlp["first_call"]["jax"] == 1.5
    report = bench.report(result)
    assert "DISAGREES" in report and "WARNING: jax disagree with minigrad" in report
    assert "HIPS autograd: not installed, skipped" in report and "JAX's first call (compilation" in report
    peers.plot_ratios(result, tmp_path / "bars.png")  # every workload drawn, a peer missing from one of them
    assert_drawn(tmp_path / "bars.png")


def test_scaling_command_prints_both_sweeps(monkeypatch, capsys):
    from benchmarks import scaling

    monkeypatch.setattr(scaling, "QUICK", {"batches": (1, 2), "widths": (8,), "seconds": 0.01})
    assert scaling.main(["--quick"]) == 0
    printed = capsys.readouterr().out
    assert "against batch size (width 1200)" in printed and "| 2 |" in printed and "| 8 |" in printed
    assert "| minigrad | hand-written NumPy |" in printed  # torch looks absent here


def test_absent_peers_are_skipped_with_a_line_each(tmp_path, capsys, monkeypatch):
    from benchmarks import peers, scaling
    from figure_checks import assert_drawn

    monkeypatch.setattr(scaling, "QUICK", {"batches": (1, 4), "widths": (16,), "seconds": 0.01})
    assert peers.main(["--quick", "--only", "overhead", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for line in ("PyTorch (eager): not installed, skipped (pip install -e \".[torch]\")",
                 "JAX (jit): not installed, skipped", "HIPS autograd: not installed, skipped"):
        assert line in printed
    result = json.loads((tmp_path / "peers.json").read_text())
    assert result["config"]["peers"] == [] and set(result["results"]["overhead"]["min"]) == {"engine", "numpy"}
    assert [x for x, _ in result["scaling"]["batch"]["engine"]] == [1, 4] and set(result["scaling"]["width"]) == {"engine", "numpy"}
    assert "against batch size" in (tmp_path / "peers.md").read_text()
    for name in ("peers.png", "scaling.png"):
        assert_drawn(tmp_path / name)


def test_cifar_presets_times_a_preset_and_extrapolates(tmp_path, capsys):
    from benchmarks.research import cifar_presets

    out = tmp_path / "cifar.json"
    assert cifar_presets.main(["--presets", "tiny", "--steps", "1", "--fit-images", "200", "--attack-images", "50",
                               "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["preset"] == "tiny" and row["seconds_per_step"] > 0 and row["stage_hours"] > 0
    assert "| tiny |" in capsys.readouterr().out


def test_the_instruction_count_is_read_from_callgrinds_summary():
    from benchmarks.research import instructions

    assert instructions.collected("==41== Events    : Ir\n==41== Collected : 1234567\n==41==\n") == 1234567
    with pytest.raises(RuntimeError, match="no instruction count"):
        instructions.collected("valgrind: command not found")


def test_the_instruction_count_says_so_without_valgrind(monkeypatch, capsys):
    from benchmarks.research import instructions

    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    assert instructions.main([]) == 0
    assert "valgrind is not installed" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        instructions.main(["--few", "5", "--many", "5"])


def test_targets_are_judged_by_minimum_and_median_together():
    sizes = {"steps": 10, "images": 1000}
    maxout = bench.summarize("maxout", {"engine": [timing(0.9), timing(1.2)], "numpy": [timing(1.0), timing(1.0)],
                                        "matmul": [timing(0.7), timing(0.7)]}, sizes)
    input_grad = bench.summarize("input_grad", {"engine": [timing(1.1), timing(1.1)], "numpy": [timing(1.0)]}, sizes)
    overhead = bench.summarize("overhead", {"engine": [{"value": 3.0, "numpy_in_process": 0.5, "floor_in_process": 2.5},
                                                       {"value": 3.3, "numpy_in_process": 0.3, "floor_in_process": 1.5}],
                                            "numpy": [{"value": 0.3}]}, sizes)
    assert overhead["in_process"]["runs"] == pytest.approx([6.0, 11.0]) and overhead["in_process"]["median"] == 8.5
    assert overhead["floor"]["runs"] == pytest.approx([1.2, 2.2]) and overhead["floor"]["median"] == pytest.approx(1.7)
    conv = bench.summarize("conv", {"engine": [timing(1.1), timing(1.3)], "numpy": [timing(1.0), timing(1.0)]}, sizes)
    rows = {(row["task"], row["against"]): row for row in bench.target_rows(
        {"maxout": maxout, "input_grad": input_grad, "overhead": overhead, "conv": conv})}
    assert set(rows) == {("maxout", "numpy"), ("input_grad", "numpy"), ("overhead", "floor"), ("conv", "numpy")}
    assert rows["maxout", "numpy"]["min"] == pytest.approx(0.9) and rows["maxout", "numpy"]["median"] == pytest.approx(1.05)
    assert rows["maxout", "numpy"]["met"] == "by the minimum"
    assert rows["input_grad", "numpy"]["met"] == "no" and rows["input_grad", "numpy"]["limit"] == 1.05
    assert rows["conv", "numpy"]["met"] == "by the minimum" and rows["conv", "numpy"]["limit"] == 1.15
    assert rows["overhead", "floor"]["min"] == pytest.approx(1.2) and rows["overhead", "floor"]["met"] == "by the minimum"
    fast = bench.summarize("mlp", {"engine": [timing(0.8)], "numpy": [timing(1.0)]}, sizes)
    assert [row["met"] for row in bench.target_rows({"mlp": fast})] == ["yes"]
    lines = bench.targets_report(bench.target_rows({"mlp": fast}))
    assert "| MLP 784-1200-1200-10, one epoch | hand-written NumPy | 1.00 | 0.80 | 0.80 | yes |" in lines
    assert bench.targets_report(bench.target_rows({})) == []


def test_the_floors_and_the_arithmetic_make_minigrads_ufunc_calls(monkeypatch):
    from benchmarks.research import overhead_floor as floor

    floor.check_agreement()  # bit for bit, or it raises
    x, c = floor.chain_inputs()
    monkeypatch.setattr(floor, "chain_inputs", lambda: (x, c.astype(np.float64)))  # the same values, rounded another way
    with pytest.raises(AssertionError, match="no longer makes the same ufunc calls"):
        floor.check_agreement()


@pytest.mark.parametrize("kind", ["floor", "saved"])
def test_a_floor_engine_walks_a_reused_node_after_all_its_consumers(kind):
    from benchmarks.research import overhead_floor as floor

    node, multiply, tanh, total, walk = floor.FLOORS[kind]
    x_value = np.array([0.5, -2.0, 1.5], np.float32)
    c_value = np.array([3.0, -1.0, 0.25], np.float32)
    x, c = node(x_value, requires_grad=True), node(c_value)
    h = tanh(x)  # used twice: its gradient is complete only after both consumers have run
    gradient = walk(total(multiply(tanh(multiply(h, c)), h)))[id(x)]

    xt, ct = minigrad.Tensor(x_value, requires_grad=True), minigrad.Tensor(c_value)
    ht = minigrad.tanh(xt)
    (minigrad.tanh(ht * ct) * ht).sum().backward()
    np.testing.assert_allclose(gradient, xt.grad, rtol=1e-6)
    assert x.pending is None and h.parents == ()  # the walk leaves nothing behind
    assert multiply(c, c).parents == () and tanh(c).parents == ()  # constants record nothing


def test_the_floor_benchmark_reports_every_implementation_and_writes_json(tmp_path, capsys):
    from benchmarks.research import overhead_floor as floor

    out = tmp_path / "floor.json"
    assert floor.main(["--chains", "25", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for label in floor.IMPLEMENTATIONS.values():
        assert f"| {label} |" in printed
    assert "the graph" in printed and "beyond the floor" in printed and "20 chains each" in printed
    result = json.loads(out.read_text())
    assert result["chains"] == 20  # ten blocks of two: what was timed, not what was asked
    assert set(result["us_per_op"]) == set(floor.IMPLEMENTATIONS)
    assert all(m["min"] > 0 and m["mean"] >= m["min"] for m in result["us_per_op"].values())
    with pytest.raises(SystemExit):
        floor.main(["--chains", "0", "--out", str(out)])


def test_interleaved_timing_rotates_who_goes_first(monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "us_per_op", lambda chain, chains: calls.append(chain.__name__) or 1.0)

    def named(name):
        def chain():
            return None
        chain.__name__ = name
        return chain

    times, timed = bench.interleaved_us_per_op({n: named(n) for n in "abc"}, 7, blocks=3)
    assert timed == 6 and times == {n: [1.0, 1.0, 1.0] for n in "abc"}
    assert calls == list("abc" "bca" "cab")
