"""RunConfig: presets, the dict round trip, clear errors; build(): the model and Solver it makes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twolayer.config import PRESETS, RunConfig, build, num_classes, preset, solver_settings
from twolayer.datasets import spiral_splits


def spiral_data(seed: int = 0) -> dict:
    return spiral_splits(num_per_class=20, num_classes=3, noise=0.2, val_fraction=0.2, seed=seed)


@pytest.mark.parametrize("dataset, name", [(d, n) for d in PRESETS for n in PRESETS[d]])
def test_presets_survive_a_json_round_trip(dataset, name):
    config = preset(dataset, name)
    d = json.loads(json.dumps(config.to_dict()))
    assert RunConfig.from_dict(d) == config
    assert set(d) == set(RunConfig.__dataclass_fields__)


def test_presets_hold_the_documented_recipes():
    spiral = preset("spiral")
    assert (spiral.hidden, spiral.lr, spiral.epochs, spiral.batch_size) == (100, 0.05, 50, 16)
    assert (spiral.reg, spiral.reg_as, spiral.optimizer) == (1e-5, "loss", "adam")
    assert spiral.num_per_class == 100 and spiral.data_dir is None and spiral.augment == "none"
    cifar = preset("cifar10")
    assert (cifar.hidden, cifar.lr, cifar.epochs, cifar.batch_size) == (512, 1e-3, 10, 200)
    assert (cifar.reg, cifar.reg_as, cifar.label_smoothing) == (5e-4, "weight_decay", 0.1)
    assert (cifar.preprocess, cifar.zca_epsilon, cifar.store_dtype) == ("zca", 0.1, "float16")
    assert (cifar.augment, cifar.tta, cifar.weight_scale) == ("flip+translate2", "flip+translate1",
                                                               "he")  # fmt: skip
    assert (cifar.num_train, cifar.num_val, cifar.noise) == (49_000, 1_000, None)
    best = cifar.replace(hidden=2048, epochs=60, reg=1e-4, tta="flip+grid2")
    assert preset("cifar10", "best") == best
    assert preset("cifar10", "quick") == cifar.replace(hidden=256, epochs=3, preprocess="mean")
    with pytest.raises(ValueError, match="presets: default"):
        preset("spiral", "best")
    with pytest.raises(ValueError, match="unknown dataset"):
        preset("mnist")


def test_from_dict_fills_in_the_dataset_defaults_and_reads_json_numbers():
    config = RunConfig.from_dict({"dataset": "spiral", "hidden": 50, "lr": 1, "weight_scale": 2})
    assert config == preset("spiral").replace(hidden=50, lr=1.0, weight_scale=2.0)
    assert isinstance(config.lr, float) and isinstance(config.weight_scale, float)


def test_unknown_keys_and_ill_typed_values_are_named_together():
    with pytest.raises(ValueError) as e:
        RunConfig.from_dict({"dataset": "spiral", "hiden": 3, "lr": "fast", "epochs": 2.5})
    message = str(e.value)
    assert "unknown run setting(s) hiden" in message
    assert "lr must be a number, got 'fast'" in message
    assert "epochs must be a whole number, got 2.5" in message
    for bad in ({"hidden": True}, {"seed": None}, {"lr": float("nan")}, {"tta": 3}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            RunConfig.from_dict({"dataset": "cifar10", **bad})
    with pytest.raises(ValueError, match="need a dataset"):
        RunConfig.from_dict({"hidden": 3})
    with pytest.raises(ValueError, match="JSON object"):
        RunConfig.from_dict([("dataset", "spiral")])


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"hidden": 0}, "hidden must be > 0"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of adam"),
        ({"label_smoothing": 1.0}, "label_smoothing must lie in [0, 1)"),
        ({"dropout": 1.0}, "dropout must lie in [0, 1)"),
        ({"input_dropout": -0.5}, "input_dropout must lie in [0, 1)"),
        ({"ema_decay": 1.0}, "ema_decay must lie in [0, 1)"),
        ({"mixup_alpha": -0.2}, "mixup_alpha must be >= 0"),
        ({"lr_schedule": "cosine_restarts"}, "restart_epochs (the epochs between restarts) goes"),
        ({"restart_epochs": 5.0}, "lr_schedule cosine with restart_epochs 5.0"),
        ({"lr_schedule": "cosine_restarts", "restart_epochs": 0.0}, "restart_epochs must be > 0"),
        ({"ema_start_epoch": 0}, "ema_start_epoch must be > 0"),
        ({"ema_decay": 0.99, "ema_start_epoch": 51}, "ema_start_epoch 51 is after the last epoch"),
        ({"val_fraction": 1.0}, "val_fraction must lie in (0, 1)"),
        ({"weight_scale": "xavier"}, 'weight_scale must be > 0 or "he"'),
        ({"augment": "wiggle"}, "augment must be"),
        ({"augment": "flip"}, "not images"),
        ({"num_train": 100}, "num_train is not a spiral setting"),
        ({"data": "points.csv"}, "data is not a spiral setting"),
        ({"classes": None}, "classes must be set"),
        ({"classes": 1}, "classes must be >= 2"),
        ({"lr_decay": 0.5}, "lr_decay 0.5 needs lr_schedule step"),
        ({"warmup_epochs": 60.0}, "warmup_epochs 60.0 needs"),
        ({"warmup_epochs": 1.0, "lr_schedule": "step"}, "needs lr_schedule cosine"),
    ],
)
def test_out_of_range_and_inconsistent_settings_are_refused(changes, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[")):  # fmt: skip
        preset("spiral").replace(**changes)


def test_augment_specs_with_cutout_and_noise_are_run_settings():
    config = preset("cifar10").replace(augment="flip+translate2+cutout8+noise0.05")
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match='augment must be "flip", "translateK" .*"cutoutK"'):
        preset("cifar10").replace(augment="cutout")


def test_build_makes_the_model_and_solver_the_config_says():
    data = spiral_data()
    config = preset("spiral").replace(hidden=7, epochs=2, lr=0.01, seed=4)
    model, solver = build(config, data, verbose=False)
    assert (model.input_dim, model.hidden_dim, model.num_classes) == (2, 7, 3)
    assert model.dropout == model.input_dropout == 0.0
    dropping, _ = build(config.replace(dropout=0.5, input_dropout=0.25), data, verbose=False)
    assert (dropping.dropout, dropping.input_dropout) == (0.5, 0.25)
    assert solver.ema_decay is None and solver.weight_average.averages is None
    _, averaging = build(config.replace(ema_decay=0.9, ema_start_epoch=2), data, verbose=False)
    assert (averaging.ema_decay, averaging.ema_start_epoch) == (0.9, 2)
    assert solver.mixup_alpha is None
    assert build(config.replace(mixup_alpha=0.2), data, verbose=False)[1].mixup_alpha == 0.2
    restarts = config.replace(lr_schedule="cosine_restarts", restart_epochs=0.5)
    _, restarting = build(restarts, data, verbose=False)
    assert (restarting.lr_schedule, restarting.restart_epochs) == ("cosine_restarts", 0.5)
    assert model.reg == 1e-5 and solver.model is model
    settings = solver_settings(config)
    assert settings["optim_config"] == {"learning_rate": 0.01}
    assert (settings["num_epochs"], settings["seed"], settings["update_rule"]) == (2, 4, "adam")
    assert settings["num_train_samples"] is None  # the spiral's train accuracy is on all of it
    model, _ = build(config.replace(reg_as="weight_decay"), data, verbose=False)
    assert model.reg == 0.0
    assert solver_settings(config.replace(reg_as="weight_decay"))["optim_config"] == {
        "learning_rate": 0.01,
        "weight_decay": 1e-5,
    }
    with pytest.raises(ValueError, match="num_epochs through the RunConfig"):
        build(config, data, num_epochs=3)


def test_reg_as_weight_decay_trains_the_same_weights_as_the_loss_term():
    data = spiral_data(seed=1)
    config = preset("spiral").replace(hidden=16, epochs=3, reg=1e-2, seed=2)
    trained = []
    for reg_as in ("loss", "weight_decay"):
        model, solver = build(config.replace(reg_as=reg_as), data, verbose=False)
        solver.train()
        trained.append(model.params)
    for name in trained[0]:
        assert np.array_equal(trained[0][name], trained[1][name]), name


def test_the_number_of_classes_comes_from_the_data():
    data = spiral_data()
    assert num_classes(data) == 3
    assert num_classes({**data, "class_names": list("abcde")}) == 5
    model, _ = build(preset("spiral"), {**data, "class_names": list("abcde")}, verbose=False)
    assert model.num_classes == 5
