"""``advex reproduce --quick`` end to end on the synthetic IDX data set (no MNIST needed)."""

import json

from attacks import cli

REQUIRED_IDS = {
    "softmax_fgsm", "logreg37_clean", "logreg37_fgsm", "maxout_clean", "maxout_fgsm", "rbf_fgsm", "advmaxout_clean",
    "advmaxout_fgsm", "transfer_orig_to_adv", "transfer_adv_to_orig", "rubbish_maxout", "rubbish_softmax", "rubbish_rbf",
}
ROW_KEYS = {"id", "metric", "ours", "paper", "tolerance", "n", "clip", "setup"}


def test_quick_reproduction_writes_every_section_and_reuses_finished_stages(synthetic_idx_dir, tmp_path, capsys):
    out = tmp_path / "results"
    argv = ["reproduce", "--quick", "--quiet", "--data", str(synthetic_idx_dir), "--out", str(out)]
    assert cli.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    rows = results["rows"]
    assert REQUIRED_IDS <= {r["id"] for r in rows}
    assert all(ROW_KEYS <= set(r) for r in rows)
    assert results["mnist"] is False and all(r["paper"] is None for r in rows if r["id"] != "toy_example")
    errors = [r["ours"] for r in rows if r["metric"] in ("error_rate", "fooled_fraction")]
    assert errors and all(0.0 <= v <= 1.0 for v in errors)
    assert {json.dumps(r["clip"]) for r in rows if r["id"] == "maxout_fgsm"} == {"null", "[0.0, 1.0]"}
    assert "| softmax_fgsm |" in (out / "results.md").read_text()
    for figure in ("eps_curves.png", "linearity.png", "examples.png"):
        assert (out / "figures" / figure).exists()
    for model in ("softmax", "softmax_converged", "maxout", "rbf", "maxout_adversarial"):
        assert (out / "models" / f"{model}.npz").exists()

    stages = json.loads((out / "stages.json").read_text())
    (out / "results.json").unlink()
    assert cli.main(argv) == 0  # a second run reuses every finished stage: nothing is retrained
    assert json.loads((out / "stages.json").read_text()) == stages
    assert json.loads((out / "results.json").read_text())["rows"] == rows
    assert "done in" in capsys.readouterr().out
