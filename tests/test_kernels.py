"""The compiled kernels (twolayer/fast/) held to the reference code they replace.

Update rules against twolayer.optim over rules, dtypes, weight decay, shapes (odd sizes,
1-D biases, one element, big enough for every thread) and numba thread counts; the
gather against fancy indexing (every float16 widened as NumPy casts it); and the
library without numba, in a subprocess where the import fails.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from twolayer import fast, optim
from twolayer.fast import jit
from twolayer.fast.gather import gather_rows

STATE = {"sgd": [], "sgd_momentum": ["velocity"], "rmsprop": ["cache"], "adam": ["m", "v", "t"]}
# Up to (301, 97) on the calling thread; (400, 170), 68,000 entries, split among the threads.
SHAPES = [(1,), (7,), (13, 5), (301, 97), (400, 170)]


def adam_tolerance(w_prev, w_ref):
    """How far the fast Adam step may land from the reference's.

    The kernel folds the bias corrections into two scalars; the step it takes then
    differs from the reference's by rounding: each side rounds about six times, each
    at most eps / 2 of the step, so by at most 8 eps of the step; subtracting it from
    w rounds once more on each side, by up to half a spacing of w (of the next
    binade's, if w lies at a power of two: two spacings cover both).
    """
    step = np.abs(w_prev.astype(np.float64) - w_ref)
    return 8 * np.finfo(w_ref.dtype).eps * step + 2 * np.spacing(np.abs(w_ref))


@pytest.fixture(params=[1, 2], ids=lambda n: f"{n}threads")
def threads(request):
    default = fast.get_num_threads()
    fast.set_num_threads(request.param)
    assert fast.get_num_threads() == min(request.param, jit._numba.config.NUMBA_NUM_THREADS)
    yield request.param
    fast.set_num_threads(default)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("decay", [0.0, 5e-3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", optim.UPDATE_RULES)
def test_kernels_equal_the_reference_rules(name, dtype, decay, shape, threads):
    """Bit for bit, but for Adam's w: within the rounding of its folded bias corrections
    (its m, v and t are bit for bit: each step starts from the reference's w)."""
    rng = np.random.default_rng(0)
    w_ref = rng.standard_normal(shape).astype(dtype)
    w = w_ref.copy()
    config, ref_config = {"weight_decay": decay}, {"weight_decay": decay}
    for _ in range(4):
        dw = rng.standard_normal(shape).astype(dtype)
        dw_before, w_prev = dw.copy(), w_ref
        next_w, config = fast.UPDATE_RULES[name](w, dw, config)
        w_ref, ref_config = optim.UPDATE_RULES[name](w_ref, dw, ref_config)
        assert next_w is w and w.dtype == dtype  # in place
        assert np.array_equal(dw, dw_before)  # the gradient is left alone
        for key in STATE[name]:
            assert np.array_equal(config[key], ref_config[key]), key
            assert np.asarray(config[key]).dtype == np.asarray(ref_config[key]).dtype
        if name == "adam":
            assert np.all(np.abs(w - w_ref) <= adam_tolerance(w_prev, w_ref))
            w[...] = w_ref  # the next step from the same point
        else:
            assert np.array_equal(w, w_ref)
    assert config.keys() == ref_config.keys()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_sum_squares_is_the_float64_sum(shape, dtype, threads):
    w = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    total = fast.sum_squares(w)
    assert type(total) is float
    assert total == pytest.approx(float(np.sum(w.astype(np.float64) ** 2)), rel=1e-13)
    assert fast.sum_squares(w.T) == pytest.approx(total, rel=1e-13)  # any layout


@pytest.mark.parametrize("size", [7, 68_000], ids=["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", optim.UPDATE_RULES)
def test_weight_decay_on_a_dead_unit_ends_at_zero_never_in_the_subnormals(name, dtype, size):
    """A weight with no gradient but weight decay shrinks geometrically; the reference
    rule walks it through the subnormals (slow in every matrix product), the kernel
    writes zero instead: a weight below the square root of the smallest normal number,
    a state below that number. Above it plain sgd agrees bit for bit (a rule with state
    departs once a flushed state feeds the next step)."""
    tiny = np.finfo(dtype).tiny
    w_min = np.sqrt(tiny)  # below it a weight is written as zero
    w = np.full(size, 1e3 * w_min, dtype)
    w[::2] *= -1
    ref, zero = w.copy(), np.zeros(size, dtype)
    config = {"learning_rate": 0.5, "weight_decay": 1.9, "epsilon": 1e-30}
    ref_config = dict(config)
    seen_subnormal = False
    for _ in range(200):
        fast.update(name, w, zero, config)
        ref, ref_config = optim.UPDATE_RULES[name](ref, zero, ref_config)
        assert not np.any((w != 0) & (np.abs(w) < w_min))
        for a in (np.asarray(config[k]) for k in STATE[name] if k != "t"):
            assert not np.any((a != 0) & (np.abs(a) < tiny))  # no subnormal is kept
        seen_subnormal |= bool(np.any((ref != 0) & (np.abs(ref) < tiny)))
        kept = np.abs(ref) >= w_min
        if name == "sgd":
            assert np.array_equal(w[kept], ref[kept])
    if name == "sgd":  # decay alone shrinks w geometrically
        assert seen_subnormal  # the reference did pass through them
        assert np.all(w == 0)


def test_weight_averaging_never_keeps_a_subnormal():
    w_min = np.sqrt(np.finfo(np.float32).tiny)
    average = np.full(50_000, 4 * w_min, np.float32)
    for _ in range(10):
        fast.ema_update(average, np.zeros_like(average), 0.5)
    assert np.all(average == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sgd", "sgd_momentum", "rmsprop"])
def test_l2_in_the_kernel_is_the_models_reg_bit_for_bit(name, dtype):
    """``update(..., l2=reg)`` steps on dw + reg * w as TwoLayerNet's ``reg`` adds it to
    dW, and on top of a config's own weight decay."""
    rng = np.random.default_rng(1)
    w, dw = (rng.standard_normal((37, 11)).astype(dtype) for _ in range(2))
    reg = 0.05
    for own in (0.0, 0.01):
        mine, ref = w.copy(), w.copy()
        config, ref_config = {"weight_decay": own}, {"weight_decay": own}
        for _ in range(3):
            fast.update(name, mine, dw, config, l2=reg)
            ref, ref_config = optim.UPDATE_RULES[name](ref, dw + reg * ref, ref_config)
        if own:  # (dw + reg*w) + own*w against dw + (own + reg)*w: rounding apart
            np.testing.assert_allclose(mine, ref, rtol=1e-5 if dtype == np.float32 else 1e-12)
        else:
            assert np.array_equal(mine, ref)


def test_a_non_contiguous_or_read_only_param_is_stepped_on_a_copy():
    w = np.arange(24.0).reshape(4, 6)
    view = w[:, ::2]
    next_w, _ = fast.UPDATE_RULES["sgd"](view, np.ones((4, 3)), {"learning_rate": 1.0})
    assert np.array_equal(next_w, view - 1) and np.array_equal(w, np.arange(24.0).reshape(4, 6))
    frozen = np.ones(5)
    frozen.flags.writeable = False
    next_w, _ = fast.UPDATE_RULES["sgd"](frozen, np.ones(5), {"learning_rate": 1.0})
    assert np.array_equal(next_w, np.zeros(5)) and np.array_equal(frozen, np.ones(5))


def test_a_reference_rules_state_is_taken_over():
    """A config that a reference rule stepped (its state in another dtype) continues."""
    w = np.ones(4, np.float32)
    _, config = optim.sgd_momentum(w, np.ones(4, np.float32), {"velocity": 0.5})
    next_w, config = fast.UPDATE_RULES["sgd_momentum"](w.copy(), np.ones(4, np.float32), config)
    assert config["velocity"].dtype == np.float32 and next_w.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ema_update_is_the_formula(dtype, threads):
    rng = np.random.default_rng(0)
    average, w = (rng.standard_normal((400, 170)).astype(dtype) for _ in range(2))
    expected = average - dtype(1 - 0.9) * (average - w)
    fast.ema_update(average, w, 0.9)
    assert np.array_equal(average, expected)


def test_every_float16_widens_to_the_bits_of_numpys_cast(threads):
    half = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    X = half.reshape(-1, 64)  # both zeros, subnormals, normals, +-65504, infinities, NaNs
    idx = np.random.default_rng(0).permutation(X.shape[0])
    out = np.empty(X.shape, np.float32)
    gather_rows(X, idx, out)
    expected = X[idx].astype(np.float32)
    finite = np.isfinite(expected)
    assert np.array_equal(out[finite].view(np.uint32), expected[finite].view(np.uint32))
    assert np.array_equal(np.isnan(out), np.isnan(expected))
    assert np.array_equal(out[~finite & ~np.isnan(out)], expected[~finite & ~np.isnan(out)])


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint8, np.float64])
@pytest.mark.parametrize("rows", [1, 7, 300])
def test_gather_rows_matches_fancy_indexing(dtype, rows, threads):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((500, 3, 8, 8)) * 50).astype(dtype)
    idx = rng.permutation(500)[:rows]
    out_dtype = np.float32 if dtype == np.float16 else dtype
    out = np.full((rows, 3, 8, 8), 7, dtype=out_dtype)
    assert gather_rows(X, idx, out) is out
    assert np.array_equal(out, X[idx].astype(out_dtype))


def test_gather_rows_casts_into_another_dtype():
    X = np.arange(24, dtype=np.uint8).reshape(6, 4)
    out = np.empty((3, 4), np.float64)
    gather_rows(X, np.array([5, 0, 2]), out)
    assert np.array_equal(out, X[[5, 0, 2]].astype(np.float64))
    gather_rows(X[:, ::2].astype(np.float64), np.array([1]), out[:1, :2])  # not contiguous
    assert np.array_equal(out[0, :2], [4.0, 6.0])


def test_nothing_is_imported_or_compiled_at_import():
    code = "import sys, twolayer.solver; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


ONLY_USED = """
import json
import os
import numpy as np
from twolayer.fast import gather, kernels
from twolayer.model import TwoLayerNet
from twolayer.solver import Solver
rng = np.random.default_rng(0)
data = {"X_train": rng.standard_normal((40, 6)).astype(np.float16),
        "y_train": rng.integers(0, 3, 40),
        "X_val": rng.standard_normal((10, 6)), "y_val": rng.integers(0, 3, 10)}
Solver(TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=3), data, update_rule="adam",
       batch_size=8, verbose=False).step()
found = {}
for k in (kernels._sgd, kernels._sgd_momentum, kernels._rmsprop, kernels._adam, kernels._ema,
          gather._take, gather._take_widening):
    found[k.__name__] = [str(t) for c in k._compiled.values() for t in c.signatures]
import os
print(json.dumps({"compiled": found, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}))
"""


def test_only_the_kernels_and_signatures_used_are_compiled():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", ONLY_USED], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["omp_wait_policy"] == "PASSIVE"  # idle kernel threads sleep
    found = result["compiled"]
    assert [name for name, sigs in found.items() if sigs] == ["_adam", "_take_widening"]
    assert len(found["_adam"]) == 1 and "float32" in found["_adam"][0]  # W and b alike


WITHOUT_NUMBA = """
import json, sys, warnings
sys.modules["numba"] = None  # import numba now raises ImportError
import numpy as np
from twolayer import optim
from twolayer.model import TwoLayerNet
from twolayer.solver import Solver
rng = np.random.default_rng(0)
data = {"X_train": rng.standard_normal((40, 6)), "y_train": rng.integers(0, 3, 40),
        "X_val": rng.standard_normal((10, 6)), "y_val": rng.integers(0, 3, 10)}
runs = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for rule in ("adam", optim.adam):
        model = TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=3, reg=0.1, seed=0,
                            dtype=np.float64)
        solver = Solver(model, data, update_rule=rule, num_epochs=2, batch_size=8,
                        verbose=False, ema_decay=0.9, seed=0)
        solver.train()
        runs[str(rule)[:4]] = [solver.update_note, solver.loss_history,
                               model.params["W1"].tolist()]
print(json.dumps({"runs": runs, "warnings": [str(w.message) for w in caught]}))
"""


def test_without_numba_the_reference_rules_run_and_say_so_once():
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_NUMBA], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    (named, *_), (given, *_) = result["runs"]["adam"], result["runs"]["<fun"]
    assert named == "update rule adam: twolayer.optim.adam (plain NumPy: numba cannot be imported)"
    assert given == "update rule twolayer.optim.adam, as given"
    assert result["runs"]["adam"][1:] == result["runs"]["<fun"][1:]  # the same rule ran
    assert len(result["warnings"]) == 1 and "numba cannot be imported" in result["warnings"][0]
