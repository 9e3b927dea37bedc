"""`twolayer bench` (and scripts/benchmark.py) end to end on tiny sizes, and the timing
helpers of twolayer.bench.

Times are never compared with anything: only that every number is there, positive and
finite. PyTorch and JAX are optional (CI does not install the bench extra), and so, for
the library, is numba; one run hides all three on purpose so that path is always covered.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from script_helpers import ROOT, SCRIPTS, assert_clean_error, call

from twolayer.bench import timing as bench
from twolayer.bench.jax_peer import load_jax

SCRIPT = SCRIPTS / "benchmark.py"
TINY = [
    "--hidden", "16", "--batch-size", "8", "--num-train", "40", "--num-eval", "24",
    "--input-dim", "48", "--repeats", "2", "--warmup", "1", "--threads", "1", "--no-progress",
]  # fmt: skip
# Runs `python -m twolayer` with `import torch`, `import jax` and `import numba` failing,
# as on a machine without the bench extra or numba.
WITHOUT_PEERS = (
    "import runpy, sys; sys.modules.update(torch=None, jax=None, numba=None); "
    "runpy.run_module('twolayer', run_name='__main__', alter_sys=True)"
)
TIMED = (
    "ours", "ours_notebook", "matmul_bound", "update_stream", "jax", "torch", "torch_fused",
    "torch_matmul_bound",
)  # fmt: skip


def run(*args: str, hide_peers: bool = False) -> subprocess.CompletedProcess:
    """The benchmark through its scripts/ shim, or through `python -m twolayer` without
    torch, jax and numba."""
    command = ["-c", WITHOUT_PEERS, "bench"] if hide_peers else [str(SCRIPT)]
    return subprocess.run(
        [sys.executable, *command, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def bench_json(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("BENCH_JSON ")
    return json.loads(last[len("BENCH_JSON ") :])


def positive(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def check_result(r: dict, torch_present: bool, jax_present: bool, numba: bool = True) -> None:
    assert (r["hidden"], r["batch_size"], r["input_dim"], r["num_train"]) == (16, 8, 48, 40)
    assert r["steps_per_epoch"] == 5
    present = {"torch": torch_present, "jax": jax_present, "update": numba}
    for key in TIMED:
        stats = r[key]
        if not present.get(key.split("_")[0], True):
            assert stats is None
            continue
        assert positive(stats["ms_per_step"]) and positive(stats["s_per_epoch"])
        assert len(stats["repeats_ms_per_step"]) == 2
        assert all(positive(t) for t in stats["repeats_ms_per_step"])
    assert positive(r["ratio_ours_to_bound"]) and positive(r["fraction_of_bound"])
    # ratios are medians of per-round ratios, each round's times taken back to back
    ours, bound = r["ours"]["repeats_ms_per_step"], r["matmul_bound"]["repeats_ms_per_step"]
    rounds = zip(ours, bound, strict=True)
    assert math.isclose(r["ratio_ours_to_bound"], statistics.median(a / b for a, b in rounds))
    assert positive(r["fraction_of_bound_notebook"]) and positive(r["ratio_notebook_to_scripts"])
    limit = (r["true_limit_ms"], r["bandwidth_gb_s"], r["fraction_of_limit"])
    assert all(positive(x) for x in limit) if numba else limit == (None, None, None)
    if numba:  # the bound plus the stream's time, the stream moving the update's bytes
        expected = r["matmul_bound"]["ms_per_step"] + r["update_stream"]["ms_per_step"]
        assert math.isclose(r["true_limit_ms"], expected)
        c, itemsize = r["num_classes"], np.dtype(r["dtype"]).itemsize
        arrays = {"adam": 7, "sgd_momentum": 5}[r["rule"]]  # w, dw, state read; w, state written
        assert r["update_bytes"] == itemsize * arrays * (48 * 16 + 16 + 16 * c + c)
    assert r["update_note"].startswith(f"update rule {r['rule']}: ")
    assert ("fast kernel (numba)" in r["update_note"]) == numba
    ratio = r["ratio_ours_to_jax"]
    assert positive(ratio) if jax_present else ratio is None
    assert r["predict"]["num_images"] == 24 and positive(r["predict"]["ours_images_per_s"])
    torch_values = (
        r["ratio_ours_to_torch"],
        r["ratio_ours_to_torch_fused"],
        r["predict"]["torch_images_per_s"],
    )
    for value in torch_values:
        assert positive(value) if torch_present else value is None
    if torch_present:
        fused = "foreach" if r["rule"] == "rmsprop" else "fused"
        assert r["torch_implementations"] == {"torch": "default", "torch_fused": fused}
    else:
        assert r["torch_implementations"] is None


def check_system(s: dict, torch_present: bool, jax_present: bool, numba: bool = True) -> None:
    assert s["threads"] == 1
    assert set(s["openblas_env"]) == set(bench.OPENBLAS_ENV)
    # the script lets idle OpenBLAS threads sleep, unless the caller chose a timeout
    assert s["openblas_env"]["OPENBLAS_THREAD_TIMEOUT"] == os.environ.get(
        "OPENBLAS_THREAD_TIMEOUT", "4"
    )
    assert isinstance(s["blas"], list) and s["blas"]
    assert positive(s["peak_rss_mib"]) and positive(s["wall_time_s"])
    assert (s["torch"] is not None) == torch_present
    if torch_present:
        assert s["torch_threads"] == s["threads"]  # numba's OpenMP start did not reset it
    assert (s["jax"] is not None) == jax_present
    assert (s["numba"] is not None) == numba


def test_default_config_reports_every_number():
    result = run(*TINY)
    data = bench_json(result)
    torch_present = bench.load_torch() is not None
    jax_present = load_jax() is not None
    check_system(data["system"], torch_present, jax_present)
    [r] = data["results"]
    assert (r["dtype"], r["rule"], r["reg"]) == ("float32", "adam", 5e-4)
    check_result(r, torch_present, jax_present)
    for row in ("ours scripts", "ours notebook", "matmul bound"):
        assert f"\n  {row}" in result.stdout
    fractions = (
        f"scripts {r['fraction_of_bound']:.2f}, notebook {r['fraction_of_bound_notebook']:.2f}"
    )
    assert f"fraction of the matmul bound: {fractions}" in result.stdout
    assert f"notebook/scripts {r['ratio_notebook_to_scripts']:.3f}" in result.stdout
    assert f"true limit {r['true_limit_ms']:.2f} ms/step: the bound + " in result.stdout


def test_without_the_peers_and_numba_their_fields_are_null_and_say_so():
    result = run(*TINY, "--all", hide_peers=True)
    data = bench_json(result)
    for name in ("torch", "jax"):
        assert f"{name} is not installed: skipped" in result.stdout
    assert "numba is not installed: ours runs plain NumPy" in result.stdout
    check_system(data["system"], torch_present=False, jax_present=False, numba=False)
    pairs = [(r["rule"], r["dtype"]) for r in data["results"]]
    assert pairs == [
        ("adam", "float32"),
        ("adam", "float64"),
        ("sgd_momentum", "float32"),
        ("sgd_momentum", "float64"),
    ]
    for r in data["results"]:
        check_result(r, torch_present=False, jax_present=False, numba=False)


@pytest.mark.parametrize(
    "args",
    [
        ["--hidden", "0"],
        ["--repeats", "-1"],
        ["--reg", "nan"],
        ["--dtype", "float16"],
        ["--rule", "lbfgs"],
        ["--data-dir", "data", "--input-dim", "48"],
        ["--data-dir", "/nonexistent/cifar", "--num-train", "10", "--num-eval", "10"],
    ],
)
def test_bad_values_give_one_error_line_and_exit_2(capsys, args):
    assert_clean_error(call(capsys, "bench", *args, "--no-progress"))


def test_help_documents_unsetting_the_openblas_variables(capsys):
    result = call(capsys, "bench", "--help")
    assert result.returncode == 0
    assert "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE twolayer bench" in result.stdout


def test_importing_bench_does_not_import_torch_jax_or_numba():
    code = (
        "import sys, twolayer.bench.timing, twolayer.bench.jax_peer, twolayer.bench.limit; "
        "assert not {'torch', 'jax', 'numba'} & set(sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_tasks_are_interleaved_with_warmup_untimed():
    calls: list[str] = []
    tasks = [
        bench.Task("a", lambda: calls.append("a"), steps=2, warmup=1),
        bench.Task("b", lambda: calls.append("b"), steps=1),
    ]
    done: list[str] = []
    times = bench.time_interleaved(tasks, repeats=2, progress=done.append)
    assert calls == ["a", "a", "a", "b"] * 2
    assert done == ["a", "b", "a", "b"]
    assert {k: len(v) for k, v in times.items()} == {"a": 2, "b": 2}
    assert all(t >= 0 for v in times.values() for t in v)


def test_matmul_bound_computes_the_step_products():
    data = bench.random_data(num_train=12, num_eval=4, input_dim=6)
    solver = bench.make_solver(data, hidden=5, batch_size=4, dtype="float64", rule="adam", reg=0)
    step = bench.matmul_bound_step(solver.model, data["X_train"][:4])
    step()  # shapes and dtypes must line up, or out= raises
    assert data["X_train"].shape == (12, 6) and data["X_val"].shape == (4, 6)
    assert bench.random_data(2, 1, 3072)["X_train"].shape == (2, 3, 32, 32)


def test_the_two_paths_ask_for_l2_differently_and_train_the_same_weights():
    data = bench.random_data(num_train=12, num_eval=4, input_dim=6)
    solvers = {
        path: bench.make_solver(
            data, hidden=5, batch_size=4, dtype="float32", rule="adam", reg=0.1, path=path
        )
        for path in bench.PATHS
    }
    scripts, notebook = solvers["scripts"], solvers["notebook"]
    assert (scripts.model.reg, scripts.optim_config["weight_decay"]) == (0.0, 0.1)
    assert notebook.model.reg == 0.1 and "weight_decay" not in notebook.optim_config
    for solver in solvers.values():
        for _ in range(4):
            solver.step()
    for name, w in scripts.model.params.items():
        assert np.array_equal(w, notebook.model.params[name]), name
    # the notebook's loss still includes the L2 term: larger than the data loss alone
    assert notebook.loss_history[0] > scripts.loss_history[0]
    with pytest.raises(ValueError, match="path must be one of scripts, notebook"):
        bench.make_solver(data, 5, 4, "float32", "adam", 0.1, path="lesson")


class FakeOptimizer:
    """Records its arguments; refuses ``fused`` unless the class allows it, like
    torch.optim's RMSprop, which has no fused CPU kernel."""

    allows_fused = True

    def __init__(self, groups, **kwargs):
        if "fused" in kwargs and not self.allows_fused:
            raise TypeError("__init__() got an unexpected keyword argument 'fused'")
        self.groups, self.kwargs = groups, kwargs


class FakeRMSprop(FakeOptimizer):
    allows_fused = False


class FakeNet:
    def __init__(self):
        self.weight, self.bias = SimpleNamespace(ndim=2), SimpleNamespace(ndim=1)

    def parameters(self):
        return [self.weight, self.bias]


FAKE_TORCH = SimpleNamespace(
    optim=SimpleNamespace(SGD=FakeOptimizer, Adam=FakeOptimizer, RMSprop=FakeRMSprop)
)


@pytest.mark.parametrize(
    "rule, implementation, got, flag",
    [
        ("adam", "default", "default", None),
        ("adam", "fused", "fused", "fused"),
        ("sgd_momentum", "fused", "fused", "fused"),
        ("rmsprop", "fused", "foreach", "foreach"),
    ],
)
def test_torch_optimizer_asks_for_the_implementation(rule, implementation, got, flag):
    net = FakeNet()
    optimizer, label = bench.torch_optimizer(FAKE_TORCH, net, rule, 5e-4, implementation)
    assert label == got
    assert [k for k in ("fused", "foreach") if optimizer.kwargs.get(k)] == ([flag] if flag else [])
    # weight decay on the weights only, as the Solver does
    [weights, biases] = optimizer.groups
    assert weights == {"params": [net.weight], "weight_decay": 5e-4}
    assert biases == {"params": [net.bias], "weight_decay": 0.0}
    assert optimizer.kwargs["lr"] == bench.LEARNING_RATE


def test_torch_optimizer_rejects_unknown_names():
    with pytest.raises(ValueError, match="implementation"):
        bench.torch_optimizer(FAKE_TORCH, FakeNet(), "adam", 0.0, "compiled")
    with pytest.raises(ValueError, match="no PyTorch counterpart"):
        bench.torch_optimizer(FAKE_TORCH, FakeNet(), "lbfgs", 0.0)
