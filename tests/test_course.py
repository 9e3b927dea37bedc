"""The course's own checks, against our API: the expected numbers of the cells of CS231n's
assignment 1 ``two_layer_net.ipynb`` (2022) and assignment 2 ``FullyConnectedNets.ipynb``
and ``Dropout.ipynb`` (2017 and 2022), written as our tests.

Each test names the cell it stands for. The data is made as the course makes it
(``np.random.seed(231)`` and NumPy's legacy generator), so the printed numbers of the
course's notebooks are the numbers asserted here; docs/course.md lists which cells run
unchanged with ``from twolayer import ...``.
"""

from __future__ import annotations

import numpy as np
import pytest

from twolayer import (
    Solver,
    TwoLayerNet,
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    rel_error,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)
from twolayer.layer_utils import affine_relu_backward, affine_relu_forward
from twolayer.optim import adam, rmsprop, sgd_momentum


def test_affine_forward_cell():
    num_inputs, input_shape, output_dim = 2, (4, 5, 6), 3
    input_size = num_inputs * np.prod(input_shape)
    weight_size = output_dim * np.prod(input_shape)
    x = np.linspace(-0.1, 0.5, num=input_size).reshape(num_inputs, *input_shape)
    w = np.linspace(-0.2, 0.3, num=weight_size).reshape(np.prod(input_shape), output_dim)
    b = np.linspace(-0.3, 0.1, num=output_dim)
    out, _ = affine_forward(x, w, b)
    correct = np.array([[1.49834967, 1.70660132, 1.91485297], [3.25553199, 3.5141327, 3.77273342]])
    assert rel_error(out, correct) < 1e-8  # the course prints 9.77e-10


def test_affine_backward_cell():
    np.random.seed(231)
    x = np.random.randn(10, 2, 3)
    w = np.random.randn(6, 5)
    b = np.random.randn(5)
    dout = np.random.randn(10, 5)
    dx_num = eval_numerical_gradient_array(lambda x: affine_forward(x, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: affine_forward(x, w, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: affine_forward(x, w, b)[0], b, dout)
    dx, dw, db = affine_backward(dout, affine_forward(x, w, b)[1])
    # The course: "around e-10 or less" (it prints 5.4e-11, 9.9e-11, 2.4e-11).
    assert max(rel_error(dx_num, dx), rel_error(dw_num, dw), rel_error(db_num, db)) < 1e-9


def test_relu_forward_and_backward_cells():
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = relu_forward(x)
    correct = np.array(
        [
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.04545455, 0.13636364],
            [0.22727273, 0.31818182, 0.40909091, 0.5],
        ]
    )
    assert rel_error(out, correct) < 1e-7  # the course prints 5.0e-08
    np.random.seed(231)
    x = np.random.randn(10, 10)
    dout = np.random.randn(*x.shape)
    dx_num = eval_numerical_gradient_array(lambda x: relu_forward(x)[0], x, dout)
    dx = relu_backward(dout, relu_forward(x)[1])
    assert rel_error(dx_num, dx) < 1e-11  # the course prints 3.3e-12


def test_sandwich_layer_cell():
    np.random.seed(231)
    x = np.random.randn(2, 3, 4)
    w = np.random.randn(12, 10)
    b = np.random.randn(10)
    dout = np.random.randn(2, 10)
    out, cache = affine_relu_forward(x, w, b)
    dx, dw, db = affine_relu_backward(dout, cache)
    np.testing.assert_allclose(out, np.maximum(x.reshape(2, 12) @ w + b, 0))
    dx_num = eval_numerical_gradient_array(lambda x: affine_relu_forward(x, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: affine_relu_forward(x, w, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: affine_relu_forward(x, w, b)[0], b, dout)
    assert dx.shape == x.shape
    # The course: "around e-10 or less" (it prints 6.8e-11, 8.2e-11, 7.8e-12).
    assert max(rel_error(dx_num, dx), rel_error(dw_num, dw), rel_error(db_num, db)) < 1e-9


def _loss_cell_data() -> tuple[np.ndarray, np.ndarray]:
    np.random.seed(231)
    num_classes, num_inputs = 10, 50
    x = 0.001 * np.random.randn(num_inputs, num_classes)
    y = np.random.randint(num_classes, size=num_inputs)
    return x, y


def test_svm_loss_cell():
    x, y = _loss_cell_data()
    dx_num = eval_numerical_gradient(lambda x: svm_loss(x, y)[0], x, verbose=False)
    loss, dx = svm_loss(x, y)
    assert abs(loss - 8.999602749096233) < 1e-12  # the course's printed loss, "around 9"
    assert rel_error(dx_num, dx) < 1e-8  # the course prints 1.4e-09


def test_svm_loss_by_hand_and_in_float32():
    x = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 3.0]])
    y = np.array([0, 2])
    # Row 0: margins 2 - 1 + 1 = 2 and 0.5 - 1 + 1 = 0.5; row 1: both 0 - 3 + 1 < 0.
    loss, dx = svm_loss(x, y)
    assert loss == pytest.approx(2.5 / 2)
    np.testing.assert_allclose(dx, [[-1.0, 0.5, 0.5], [0.0, 0.0, 0.0]])
    loss32, dx32 = svm_loss(x.astype(np.float32), y)
    assert dx32.dtype == np.float32 and loss32 == pytest.approx(loss)


def test_softmax_loss_cell():
    x, y = _loss_cell_data()
    dx_num = eval_numerical_gradient(lambda x: softmax_loss(x, y)[0], x, verbose=False)
    loss, dx = softmax_loss(x, y)
    assert abs(loss - 2.3025458445007376) < 1e-12  # the course's printed loss, "close to 2.3"
    assert rel_error(dx_num, dx) < 1e-7  # "around e-8"


def _toy_model(D: int = 5, H: int = 50, C: int = 7) -> TwoLayerNet:
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-3)
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    return model


def test_two_layer_net_cell():
    np.random.seed(231)
    N, D, H, C = 3, 5, 50, 7
    std = 1e-3
    # seed: without one the weights come from fresh entropy (np.random.seed does not
    # reach them), and 250 draws miss the course's 10% now and then.
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=std, seed=231)
    assert abs(model.params["W1"].std() - std) < std / 10
    assert abs(model.params["W2"].std() - std) < std / 10
    assert np.all(model.params["b1"] == 0) and np.all(model.params["b2"] == 0)
    model = _toy_model(D, H, C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    correct_scores = np.asarray(
        [
            [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434],
            [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128],
            [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822],
        ]
    )  # the first five of the seven columns
    correct_last = np.asarray([[15.33206765, 16.09215096], [15.49994135, 16.18839143],
                               [15.66781506, 16.2846319]])  # fmt: skip
    correct_scores = np.hstack([correct_scores, correct_last])
    assert np.abs(model.loss(X) - correct_scores).sum() < 1e-6
    y = np.asarray([0, 5, 1])
    assert abs(model.loss(X, y)[0] - 3.4702243556) < 1e-10
    model.reg = 1.0
    assert abs(model.loss(X, y)[0] - 26.5948426952) < 1e-10
    for reg in (0.0, 0.7):  # "Errors should be around e-7 or less"
        model.reg = reg
        _, grads = model.loss(X, y)
        for name in sorted(grads):
            num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], False)
            assert rel_error(num, grads[name]) < 1e-6, (reg, name)


# FullyConnectedNets' update-rule cells: one step from the same w, dw and a state of
# linspace(0.6, 0.9) (adam: also v = linspace(0.7, 0.5), t = 5); the expected next w
# and state, rows of the (4, 5) arrays; the course's bound ("e-8", "e-7 or less").
RULE_CELLS = {
    "sgd_momentum": (
        {"learning_rate": 1e-3},
        "velocity",
        {
            "next_w": [
                [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
                [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
                [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
                [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
            ],
            "velocity": [
                [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
                [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
                [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
                [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
            ],
        },
        1e-8,
    ),
    "rmsprop": (
        {"learning_rate": 1e-2},
        "cache",
        {
            "next_w": [
                [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
                [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
                [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
                [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
            ],
            "cache": [
                [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
                [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
                [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
                [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
            ],
        },
        1e-7,
    ),
    "adam": (
        {"learning_rate": 1e-2, "v": np.linspace(0.7, 0.5, num=20).reshape(4, 5), "t": 5},
        "m",
        {
            "next_w": [
                [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
                [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
                [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
                [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
            ],
            "v": [
                [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
                [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
                [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
                [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
            ],
            "m": [
                [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
                [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
                [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
                [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
            ],
        },
        2e-7,  # the course prints 1.14e-07 for next_w, "around e-7"
    ),
}


@pytest.mark.parametrize("name", list(RULE_CELLS))
def test_update_rule_cells(name):
    config, state_key, expected, bound = RULE_CELLS[name]
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    config = {**config, state_key: np.linspace(0.6, 0.9, num=N * D).reshape(N, D)}
    rule = {"sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}[name]
    next_w, config = rule(w, dw, config=config)
    assert rel_error(next_w, np.array(expected.pop("next_w"))) < bound
    for key, value in expected.items():
        assert rel_error(config[key], np.array(value)) < bound, key


@pytest.mark.parametrize("p", [0.25, 0.4, 0.7])
def test_dropout_forward_cell_2022_p_keeps(p):
    # 2022: p is the probability of keeping a unit; the course prints fractions of zeros
    # 0.7498, 0.6008, 0.3007 and train-time means within 0.03 of the input's.
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    out, _ = dropout_forward(x, {"mode": "train", "p": p})
    out_test, _ = dropout_forward(x, {"mode": "test", "p": p})
    assert abs((out == 0).mean() - (1 - p)) < 0.005  # 250000 draws: std at most 0.001
    assert abs(out.mean() - x.mean()) < 0.05
    assert out_test.mean() == x.mean() and (out_test == 0).mean() == 0.0


def test_dropout_2017_cells_read_p_otherwise():
    # 2017's cell passed p = 0.3, 0.6, 0.75 as the chance of dropping and printed
    # fractions near p; we follow 2022, so its printed fractions are near 1 - p instead.
    x = np.ones((400, 500))
    out, _ = dropout_forward(x, {"mode": "train", "p": 0.3, "seed": 0})
    assert abs((out == 0).mean() - 0.7) < 0.005
    np.testing.assert_allclose(out[out != 0], 1 / 0.3)  # kept units scaled by 1 / p


def test_dropout_forward_seeds_and_the_global_generator():
    x = np.ones((50, 40))
    param = {"mode": "train", "p": 0.5, "seed": 123}
    np.testing.assert_array_equal(dropout_forward(x, param)[0], dropout_forward(x, param)[0])
    unseeded = {"mode": "train", "p": 0.5}
    np.random.seed(231)
    first = dropout_forward(x, unseeded)[0]
    np.random.seed(231)
    assert np.array_equal(first, dropout_forward(x, unseeded)[0])  # as in the course
    assert not np.array_equal(first, dropout_forward(x, unseeded)[0])  # fresh masks after
    # The course's form is a shell over ours: the same mask as dropping 1 - p with the seed.
    ours = dropout_forward(x, 0.5, np.random.default_rng(123))
    np.testing.assert_array_equal(dropout_forward(x, param)[1], ours[1])


@pytest.mark.parametrize("p", [0.2, 0.8])
def test_dropout_backward_cell(p):
    # 2022 uses p = 0.2, 2017 p = 0.8 (each prints about 5e-11 and 2e-11).
    np.random.seed(231)
    x = np.random.randn(10, 10) + 10
    dout = np.random.randn(*x.shape)
    dropout_param = {"mode": "train", "p": p, "seed": 123}
    out, cache = dropout_forward(x, dropout_param)
    dx = dropout_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(
        lambda xx: dropout_forward(xx, dropout_param)[0], x, dout
    )
    assert rel_error(dx, dx_num) < 1e-9  # "around e-10 or less"
    test_out, test_cache = dropout_forward(x, {"mode": "test", "p": p})
    assert test_out is x and dropout_backward(dout, test_cache) is dout


@pytest.mark.parametrize(
    "param, match",
    [
        ({"mode": "eval", "p": 0.5}, 'must be "train" or "test"'),
        ({"p": 0.5}, 'must be "train" or "test"'),
        ({"mode": "train"}, 'needs "p"'),
        ({"mode": "train", "p": 0.0}, r"must lie in \(0, 1\]"),
        ({"mode": "test", "p": 1.5}, r"must lie in \(0, 1\]"),
    ],
)
def test_bad_dropout_param_is_refused(param, match):
    with pytest.raises(ValueError, match=match):
        dropout_forward(np.ones((2, 3)), param)


def test_dropout_param_with_an_rng_is_refused():
    with pytest.raises(TypeError, match="takes no rng"):
        dropout_forward(np.ones((2, 3)), {"mode": "train", "p": 0.5}, np.random.default_rng(0))


def test_keep_probability_one_drops_nothing():
    x = np.arange(6.0).reshape(2, 3)
    out, cache = dropout_forward(x, {"mode": "train", "p": 1.0})
    assert out is x and cache is None


def test_solver_overfits_small_data_cell(capsys):
    # FullyConnectedNets: "overfit 50 training examples": 100% training accuracy in 20
    # epochs; as there, the histories start with epoch 0, before any update.
    np.random.seed(231)
    X = np.random.randn(50, 3 * 8 * 8)
    y = np.random.randint(10, size=50)
    small_data = {"X_train": X, "y_train": y, "X_val": X[:20], "y_val": y[:20]}
    model = TwoLayerNet(input_dim=X.shape[1], hidden_dim=100, weight_scale=1e-2)
    solver = Solver(
        model,
        small_data,
        print_every=10,
        num_epochs=20,
        batch_size=25,
        update_rule="sgd",
        optim_config={"learning_rate": 0.5},
        progress=False,
        seed=0,
    )
    solver.train()
    out = capsys.readouterr().out
    assert solver.train_acc_history[-1] == 1.0
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 21
    assert len(solver.loss_history) == 40
    assert solver.train_acc_history[0] < 0.5  # epoch 0: the initial weights
    note, *lines = out.splitlines()  # first, what runs the update: the fast path, visibly
    assert note.startswith("update rule sgd: ")
    assert lines[0].startswith("(Epoch 0 / 20) train acc: ")
    assert lines[1].startswith("(Iteration 1 / 40) loss: 2.30")
    assert sum(line.startswith("(Iteration ") for line in lines) == 4  # 1, 11, 21, 31
    assert lines[-1].startswith("(Epoch 20 / 20) train acc: 1.000000; val_acc: 1.000000")
