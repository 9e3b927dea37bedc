"""Messages that name the real cause: the setting that is too large, a setting that does
nothing, a finished run's counts."""

from __future__ import annotations

import pytest
from script_helpers import assert_clean_error, call

SPIRAL = ["train", "spiral", "--num-per-class", "20", "--epochs", "2", "--quiet"]


def test_a_huge_batch_is_blamed_on_the_batch_size_and_a_huge_net_on_hidden(tmp_path, capsys):
    batch = call(capsys, *SPIRAL, "--batch-size", "1000000000", "--out", str(tmp_path / "a"))
    assert_clean_error(batch)
    assert "batch size 1000000000 needs about" in batch.stderr
    assert batch.stderr.strip().endswith("lower --batch-size")
    net = call(capsys, *SPIRAL, "--hidden", "1000000000", "--out", str(tmp_path / "b"))
    assert_clean_error(net)
    assert "hidden 1000000000 needs about" in net.stderr and "lower --hidden" in net.stderr


def test_an_absurd_reg_is_named_not_the_learning_rate(tmp_path, capsys):
    result = call(capsys, *SPIRAL, "--reg", "1e300", "--out", str(tmp_path / "r"))
    assert_clean_error(result)
    assert "reg must lie in [0, 1000], got 1e+300" in result.stderr
    assert "lower learning rate" not in result.stderr


def test_ema_start_epoch_without_ema_decay_is_refused(tmp_path, capsys):
    result = call(capsys, *SPIRAL, "--ema-start-epoch", "100", "--out", str(tmp_path / "e"))
    assert_clean_error(result)
    assert "ema_start_epoch 100 without ema_decay" in result.stderr


def test_settings_of_another_dataset_are_named_in_one_sentence(tmp_path, capsys):
    result = call(capsys, *SPIRAL, "--num-train", "100", "--num-val", "10", "--image-size", "8")
    assert_clean_error(result)
    assert (
        result.stderr.count("not a spiral setting") + result.stderr.count("not spiral settings")
        == 1
    ), result.stderr
    assert "num_train, num_val and image_size are not spiral settings" in result.stderr


def test_a_setting_of_several_other_datasets_is_named_once(capsys):
    from twolayer.config import RunConfig, preset

    with pytest.raises(ValueError) as refused:
        RunConfig.from_dict({**preset("spiral").to_dict(), "data": "points.csv"})
    assert str(refused.value).count("points.csv") == 1, refused.value
