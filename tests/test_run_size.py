"""A finished run directory holds each array once: the preprocessing in model.npz only,
no checkpoint but a compact final state (or, asked for, the last epoch's checkpoint),
and still trains further; runs written by version 0.3 still load, predict and resume."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from script_helpers import assert_clean_error, call
from solver_helpers import QUIET, assert_same_weights, blobs, net
from test_checkpoint import assert_same_tree

from twolayer import Classifier, Solver, TwoLayerNet, checkpoint
from twolayer.cli.main import main
from twolayer.export import read_run as read_export
from twolayer.final_state import FINAL_STATE, load_final_state, save_final_state
from twolayer.runs import load_history, load_status

ZCA_VALUES = 3072 * 3073 // 2  # the upper triangle of the 3072 x 3072 ZCA matrix


def image_folder(root: Path, per_class: int, size: int) -> Path:
    """``per_class`` noisy RGB images of ``size`` px in each of 4 class folders, each
    class its own colour."""
    rng = np.random.default_rng(0)
    for k, colour in enumerate([(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)]):
        folder = root / f"class{k}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            noise = rng.integers(-60, 60, (size, size, 3))
            pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def train(*args: str) -> None:
    assert main(["train", *args, "--quiet", "--hidden", "16", "--batch-size", "50"]) == 0


def npz_members(run_dir: Path) -> dict[str, dict[str, tuple[int, ...]]]:
    """Every array of every .npz in ``run_dir``: file -> member -> shape."""
    found = {}
    for path in sorted(run_dir.glob("*.npz")):
        with np.load(path, allow_pickle=False) as f:
            found[path.name] = {name: f[name].shape for name in f.files}
    return found


def test_a_finished_400_image_zca_run_is_under_60_mb_with_one_copy_of_the_matrix(tmp_path):
    data = image_folder(tmp_path / "photos", per_class=100, size=32)
    train(str(data), "--preprocess", "zca", "--epochs", "2", "--out", str(tmp_path / "run"))
    run = tmp_path / "run"
    total = sum(p.stat().st_size for p in run.iterdir() if p.is_file())
    assert ZCA_VALUES * 4 < total < 60e6, total  # float32: the triangle alone is 18.9 MB
    members = npz_members(run)
    assert sorted(members) == ["final_state.npz", "model.npz"]
    assert "preprocess.npz" not in (run / "report.html").read_text()  # no dead link
    big = [(f, m) for f, arrays in members.items() for m, s in arrays.items() if np.prod(s) > 1e6]
    assert big == [("model.npz", "extra_prep_matrix_upper")]
    assert members["model.npz"]["extra_prep_matrix_upper"] == (ZCA_VALUES,)
    # The one copy is the whole matrix: predict's preprocessing is the fitted one.
    matrix = Classifier.load(run).prep_.matrix
    assert matrix.shape == (3072, 3072) and np.array_equal(matrix, matrix.T)


@pytest.fixture(scope="module")
def image_data(tmp_path_factory) -> Path:
    """Small images (8 px: a ZCA matrix of 192 features, fitted at once)."""
    return image_folder(tmp_path_factory.mktemp("photos"), per_class=30, size=8)


def image_run(data: Path, out: Path, *args: str) -> Path:
    train(str(data), "--image-size", "8", "--epochs", "2", "--out", str(out), *args)
    return out


def weights(run: Path) -> dict[str, np.ndarray]:
    model, _ = TwoLayerNet.load_with_extra(run / "model.npz")
    return model.params


def test_a_finished_run_trains_further_from_its_final_state_as_from_its_checkpoint(
    image_data, tmp_path
):
    compact = image_run(image_data, tmp_path / "compact")
    kept = image_run(image_data, tmp_path / "kept", "--keep-checkpoint")
    assert FINAL_STATE in (names := {p.name for p in compact.iterdir()})
    assert not any(n.startswith("checkpoint") or n == "preprocess.npz" for n in names)
    kept_names = {p.name for p in kept.iterdir()}
    assert "checkpoint_epoch_2.npz" in kept_names and FINAL_STATE not in kept_names
    assert (compact / FINAL_STATE).stat().st_size < (kept / "checkpoint_epoch_2.npz").stat().st_size
    for run in (compact, kept):
        assert main(["train", "--resume", str(run), "--epochs", "4", "--quiet"]) == 0
        assert load_status(run)["state"] == "finished"
        assert len(load_history(run)["val_acc_history"]) == 4
    assert_same_weights(weights(compact), weights(kept))  # the same run, either way
    # Without the flag this time, the resumed run also ends with its final state only.
    assert not list(kept.glob("checkpoint*")) and (kept / FINAL_STATE).is_file()


def test_a_finished_run_without_its_final_state_says_what_trains_it_longer(
    image_data, tmp_path, capsys
):
    run = image_run(image_data, tmp_path / "run")
    (run / FINAL_STATE).unlink()  # deleted by hand, or a run of Classifier.save
    result = call(capsys, "train", "--resume", str(run), "--epochs", "4")
    assert_clean_error(result)
    assert "kept no state to train on from" in result.stderr
    assert f"--config {run / 'config.json'} --epochs N" in result.stderr
    assert "--keep-checkpoint" in call(capsys, "train", "--help").stdout


def test_the_spiral_keeps_its_state_too_and_trains_further(tmp_path):
    # Rows of numbers write no epoch checkpoints while they train; finished, they keep
    # the final state (or, asked for, the last epoch's checkpoint, written at the end).
    spiral = ["train", "spiral", "--num-per-class", "20", "--hidden", "8", "--quiet"]
    for name, more in (("compact", []), ("kept", ["--keep-checkpoint"])):
        assert main([*spiral, "--epochs", "3", "--out", str(tmp_path / name), *more]) == 0
    assert sorted(npz_members(tmp_path / "compact")) == ["final_state.npz", "model.npz"]
    assert sorted(npz_members(tmp_path / "kept")) == ["checkpoint_epoch_3.npz", "model.npz"]
    for name in ("compact", "kept"):
        assert main(["train", "--resume", str(tmp_path / name), "--epochs", "5", "--quiet"]) == 0
        assert len(load_history(tmp_path / name)["val_acc_history"]) == 5
    assert_same_weights(weights(tmp_path / "compact"), weights(tmp_path / "kept"))


def blobs_solver() -> Solver:
    solver = Solver(net(), blobs(), update_rule="adam", num_epochs=3, batch_size=20, **QUIET)
    solver.train()
    return solver


@pytest.mark.parametrize("last_is_best", [True, False])
def test_the_final_state_and_the_model_file_are_the_whole_solver_state(tmp_path, last_is_best):
    solver = blobs_solver()
    solver.model.save(tmp_path / "model.npz")  # the best weights, as the train command saves
    if last_is_best:
        solver._last_params = {k: w.copy() for k, w in solver.best_params.items()}
    else:
        solver._last_params = {k: w + 1 for k, w in solver.best_params.items()}
    save_final_state(tmp_path, solver)
    stored = npz_members(tmp_path)[FINAL_STATE]
    assert not any(m.startswith("best_params/") for m in stored)  # those are model.npz's
    assert ("params/W1" in stored) is not last_is_best
    path, state = load_final_state(tmp_path)
    assert path == tmp_path / FINAL_STATE
    assert_same_tree(
        state, checkpoint.load(checkpoint.save(solver.state_dict(), tmp_path / "c.npz"))
    )


def write_as_version_0_3(run: Path) -> None:
    """Turn a run finished with --keep-checkpoint into what version 0.3 left: the whole
    ZCA matrix in model.npz and again in preprocess.npz, beside the last checkpoint."""
    arrays = dict(np.load(run / "model.npz", allow_pickle=False))
    prep = Classifier.load(run).prep_
    del arrays["extra_prep_matrix_upper"]
    old = {f"extra_{k}": v for k, v in prep.state().items()}
    assert "extra_prep_matrix" in old  # the whole matrix
    np.savez(run / "model.npz", **{**arrays, **old})
    np.savez(run / "preprocess.npz", **prep.state())


def test_a_run_of_version_0_3_loads_predicts_exports_and_resumes(image_data, tmp_path, capsys):
    new = image_run(image_data, tmp_path / "new", "--keep-checkpoint")
    old = Path(shutil.copytree(new, tmp_path / "old"))
    write_as_version_0_3(old)
    assert "extra_prep_matrix" in npz_members(old)["model.npz"]
    assert (old / "preprocess.npz").is_file() and not (old / FINAL_STATE).exists()
    images = sorted(str(p) for p in image_data.glob("class0/*.png"))[:5]
    X = np.stack([np.asarray(Image.open(p)) for p in images])
    assert np.array_equal(
        Classifier.load(old).predict_proba(X), Classifier.load(new).predict_proba(X)
    )
    assert np.array_equal(read_export(old).prep.matrix, read_export(new).prep.matrix)
    capsys.readouterr()  # what training printed
    said = [call(capsys, "predict", str(run), *images) for run in (new, old)]
    assert said[0].returncode == said[1].returncode == 0
    assert said[0].stdout.replace(str(new), "") == said[1].stdout.replace(str(old), "")
    for run in (new, old):
        assert main(["train", "--resume", str(run), "--epochs", "3", "--quiet"]) == 0
    assert_same_weights(weights(new), weights(old))
    # Resumed and finished, the old run is in the new layout.
    members = npz_members(old)
    assert sorted(members) == ["final_state.npz", "model.npz"]
    assert "extra_prep_matrix_upper" in members["model.npz"]
