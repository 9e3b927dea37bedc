"""Minibatch training loop for classification models, with CS231n's ``Solver`` API.

The Solver knows only the model contract: ``model.params`` (a dict of arrays),
``model.loss(X, y) -> (loss, grads)`` and ``model.loss(X) -> scores`` (a loss that
takes an ``rng`` keyword, for dropout, gets the Solver's generator). On top of
CS231n's it adds a seed, exact checkpoint/resume (its whole state is the plain data
of ``state_dict()``, saved by :mod:`twolayer.checkpoint`), a checkpoint on Ctrl-C,
divergence detection, a cosine schedule, augmentation and mixup, weight averaging,
early stopping, a per-epoch callback and a tqdm progress bar.

    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    num_epochs=10, batch_size=100, seed=0, checkpoint_name="runs/net")
    solver.train()                       # afterwards model.params holds best_params
    solver = Solver.resume("runs/net_epoch_4.npz", model, data)  # continues exactly
"""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.std import tqdm  # not tqdm.auto, which warns in a notebook without ipywidgets

from twolayer._console import epoch_line, in_notebook, iteration_line, prints_iterations
from twolayer._divergence import DivergenceError, check_diverged
from twolayer._evaluation import Evaluation
from twolayer._settings import (
    SOLVER_DEFAULTS,
    callable_or_none,
    check_data,
    check_optim_config,
    check_schedule,
    check_warmup,
    count_or_none,
    initial_learning_rate,
    loss_takes_rng,
    param_configs,
    positive_float,
    positive_int_or_none,
    positive_or_off,
)
from twolayer._signals import InterruptGuard
from twolayer._solver_lr import LearningRate
from twolayer._solver_state import SolverState
from twolayer._validate import check_positive_int
from twolayer.averaging import WeightAverage
from twolayer.fast import gather_rows
from twolayer.fast.updater import Updater
from twolayer.mixup import mixup

__all__ = ["DivergenceError", "Solver"]


class Solver(SolverState, Evaluation, LearningRate):
    """Trains ``model`` on ``data`` by minibatch gradient descent.

    data: dict with ``X_train`` (N, d_1, ..., d_k), ``y_train`` (N,) integer labels,
    ``X_val`` (N_val, ...), ``y_val`` (N_val,). X may have any dtype (uint8, float16,
    ...): batches are gathered in that dtype and the model casts them.

    Keyword arguments (unknown ones raise ValueError), defaults in ``SOLVER_DEFAULTS``:
      update_rule: a name in ``twolayer.optim.UPDATE_RULES``, run as its compiled
        kernel (``twolayer.fast``; the reference rule where numba is missing), or a
        callable ``rule(w, dw, config) -> (next_w, config)``, used as it is, e.g.
        ``twolayer.optim.adam`` (other than the built-in rules, a callable needs
        ``optim_config["learning_rate"]``). ``update_note`` (also the repr's and the
        first verbose line) says which runs.
      optim_config: hyperparameters shared by all params; each param gets its own copy.
        ``weight_decay`` (read by the built-in rules) decays the weights, not the
        biases (the 1-D params), as the model's ``reg`` does.
      lr_schedule: "step" multiplies the learning rate by ``lr_decay`` after each
        epoch; "cosine" warms it up linearly from 0 over ``warmup_epochs`` (may be
        fractional), then decays it per iteration along a half cosine to 0 at the
        end of ``num_epochs``; "cosine_restarts" warms up alike, then decays it along
        a half cosine over every ``restart_epochs`` (may be fractional), restarting
        from the full rate after each (:mod:`twolayer.schedules`).
      batch_size, num_epochs: each epoch visits every training example exactly once,
        in the order of a fresh permutation; the last batch of an epoch holds the
        remaining N % batch_size examples when batch_size does not divide N.
      num_train_samples, num_val_samples: size of the random subsets used for the
        per-epoch accuracies (None = all).
      eval_batch_size: rows per forward pass when evaluating.
      augment: ``augment(X_batch, rng) -> X_batch``, called on every training batch
        with the Solver's generator; it may modify X_batch in place.
      patience: stop when the validation accuracy has not improved for this many
        epochs (None = never).
      seed: seeds ``self.rng = np.random.default_rng(seed)``, the only randomness used:
        the batches' order, augment's and mixup's draws and, passed as
        ``model.loss(X, y, rng=...)`` when the model's loss takes an ``rng`` keyword,
        its dropout masks.
      checkpoint_name: write ``{checkpoint_name}_epoch_{k}.npz`` after each epoch k
        (which supersedes, and deletes, an earlier ``{checkpoint_name}_interrupted.npz``).
      keep_checkpoints: keep only the newest this many epoch checkpoints (None: all;
        0: none, only the one written on an interrupt); each holds the params,
        optimizer state and best params, so they add up.
      print_every, verbose, progress: the loss of iteration 1, and of every
        ``print_every``-th after it, is reported in the tqdm bar (with the lr) when
        both ``progress`` and ``verbose`` in a terminal, else (and always in a Jupyter
        notebook, without bars) as the course's printed line when ``verbose``
        (:mod:`twolayer._console`).
      on_epoch_end: ``f(solver)``, called after each finished epoch, once its
        histories are appended and its checkpoint written (e.g. to write a live report).
      ema_decay, ema_start_epoch: weight averaging (ema_decay None or 0: off). After
        each update, ``avg = ema_decay * avg + (1 - ema_decay) * w`` for every param,
        starting from a copy of the weights after the first update of epoch
        ``ema_start_epoch`` (1-based), in ``weight_average.averages``
        (:mod:`twolayer.averaging`). The per-epoch accuracies and validation loss, and
        so the best epoch and its params, are then the average's (before the start
        epoch: the weights').
      mixup_alpha: mixup (None or 0: off): each training batch is blended with a
        shuffled copy of itself, and the loss taken against the blended one-hot
        targets, with weights from Beta(mixup_alpha, mixup_alpha) (:mod:`twolayer.mixup`;
        the model's loss must take (N, C) target distributions as y, as TwoLayerNet's does).

    A rule given by name takes the model's L2 term (``reg`` on ``model.l2_params``)
    openly as weight decay in its kernel's pass, asking for ``model.loss(X, y,
    l2=False)``: the same step, the model untouched (:mod:`twolayer.fast.updater`); a
    callable leaves the term in ``model.loss``. A ``weight_decay`` beside ``reg``: both apply.

    Histories: ``loss_history`` and ``lr_history`` have one entry per iteration (the
    training loss with the model's regularization, as ``model.loss`` gives it up to
    rounding, and the learning rate used);
    ``train_acc_history``, ``val_acc_history`` and ``val_loss_history`` one for
    epoch 0 (the initial weights, taken before the first update, as the course's
    plots expect) and then one per completed epoch, taken at its end, so entry k is
    epoch k (but a run resumed from a checkpoint of twolayer 0.3, or whose first
    updates came from ``step()`` rather than ``train()``, has no epoch 0: its lists
    start at epoch 1); ``epoch_time_history`` (seconds, training plus evaluation) one
    per completed epoch. ``val_loss_history`` is the mean cross-entropy on the
    validation examples *without* regularization or label smoothing.

    ``best_val_acc``, ``best_val_loss`` and ``best_params`` (copies; the initial
    params until an epoch beats 0 val accuracy) track the best epoch: the highest
    validation accuracy, ties broken by the lower validation loss; ``best_epoch`` is
    its number (1-based). When ``train()`` returns or raises, the model holds copies
    of ``best_params``, as in CS231n; calling ``train()`` again continues from the
    last weights, not the best.

    ``state_dict()``, ``load_state_dict(state)``, ``save_checkpoint(path)`` and
    ``Solver.resume(path, model, data, **overrides)`` come from
    :class:`twolayer._solver_state.SolverState`; ``check_accuracy(X, y, num_samples,
    batch_size)`` from :class:`twolayer._evaluation.Evaluation`.
    """

    def __init__(self, model: Any, data: dict[str, np.ndarray], **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - set(SOLVER_DEFAULTS))
        if unknown:
            raise ValueError(
                f"unknown Solver argument(s): {', '.join(unknown)}; "
                f"known: {', '.join(SOLVER_DEFAULTS)}"
            )
        s = {**SOLVER_DEFAULTS, **kwargs}
        self.model = model
        self.X_train, self.y_train, self.X_val, self.y_val, self._classes = check_data(data, model)

        # The settings, one attribute each; a bad one raises ValueError saying why.
        self.update_rule = s["update_rule"]  # a name or a callable, kept as given
        self._updater = Updater(self.update_rule, model)
        self.update_note = self._updater.description  # what runs, in one line
        self.optim_config = check_optim_config(s["optim_config"])
        self._base_lr = initial_learning_rate(self.optim_config, self._updater.rule)
        self.lr_schedule = s["lr_schedule"]
        self.lr_decay = positive_float(s["lr_decay"], "lr_decay")
        self.batch_size = check_positive_int(s["batch_size"], "batch_size")
        self.num_epochs = check_positive_int(s["num_epochs"], "num_epochs")
        self.warmup_epochs = check_warmup(s["warmup_epochs"])
        self.restart_epochs = check_schedule(
            self.lr_schedule, self.lr_decay, self.warmup_epochs, s["restart_epochs"],
            self.num_epochs,
        )  # fmt: skip
        self.num_train_samples = positive_int_or_none(s["num_train_samples"], "num_train_samples")
        self.num_val_samples = positive_int_or_none(s["num_val_samples"], "num_val_samples")
        self.eval_batch_size = check_positive_int(s["eval_batch_size"], "eval_batch_size")
        self.augment = callable_or_none(s["augment"], "augment", "(X_batch, rng)")
        self.patience = positive_int_or_none(s["patience"], "patience")
        self.seed = None if s["seed"] is None else int(s["seed"])
        self.checkpoint_name = (
            None if s["checkpoint_name"] is None else os.fspath(s["checkpoint_name"])
        )
        self.keep_checkpoints = count_or_none(s["keep_checkpoints"], "keep_checkpoints")
        self.print_every = check_positive_int(s["print_every"], "print_every")
        self.verbose = bool(s["verbose"])
        self.progress = bool(s["progress"])  # a bar only when verbose too
        self.on_epoch_end = callable_or_none(s["on_epoch_end"], "on_epoch_end", "(solver)")
        self.ema_decay = positive_or_off(s["ema_decay"], "ema_decay")
        self.ema_start_epoch = check_positive_int(s["ema_start_epoch"], "ema_start_epoch")
        self.mixup_alpha = positive_or_off(s["mixup_alpha"], "mixup_alpha")

        n = self.X_train.shape[0]
        self.iterations_per_epoch = -(-n // self.batch_size)
        self._warmup_iters = round(self.warmup_epochs * self.iterations_per_epoch)
        if self.restart_epochs is not None:
            self._restart_iters = max(1, round(self.restart_epochs * self.iterations_per_epoch))
        b = min(self.batch_size, n)
        # float16 storage (half the memory) is widened to float32 as each batch is gathered.
        buf_dtype = np.float32 if self.X_train.dtype == np.float16 else self.X_train.dtype
        self._X_buf = np.empty((b,) + self.X_train.shape[1:], dtype=buf_dtype)
        self._y_buf = np.empty(b, dtype=self.y_train.dtype)

        # The state of the run: what state_dict() saves.
        self.rng = np.random.default_rng(self.seed)
        # A model whose loss takes an rng (TwoLayerNet's dropout) draws from this one.
        self._loss_kwargs = {"rng": self.rng} if loss_takes_rng(model) else {}
        self.optim_configs = param_configs(self.optim_config, model.params)
        self.weight_average = WeightAverage(self.ema_decay, self.ema_start_epoch)
        self._set_lr(self._base_lr if self.lr_schedule == "step" else self._scheduled_lr(0))
        self.epoch = 0  # completed epochs
        self.t = 0  # completed iterations
        self._perm: np.ndarray | None = None  # this epoch's order, drawn at its first step
        self._pos = 0  # examples of this epoch already used
        self._epoch_elapsed = 0.0  # seconds spent in this epoch before an interruption
        self._epochs_since_best = 0
        self._last_params: dict[str, np.ndarray] | None = None
        self.loss_history: list[float] = []
        self.lr_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.val_loss_history: list[float] = []
        self.epoch_time_history: list[float] = []
        self.best_val_acc = 0.0
        self.best_val_loss = math.inf
        self.best_epoch = 0  # 1-based; 0 while best_params are the initial weights
        self.best_params = {k: v.copy() for k, v in model.params.items()}
        self.stopped_early = False
        self.interrupted = False
        self.interrupt_checkpoint: Path | None = None

    # -- training ----------------------------------------------------------------------------

    def step(self) -> float:
        """One update on the next minibatch of the current epoch; returns its loss.

        Raises DivergenceError, before touching the params, if the loss is not finite.
        """
        if self._perm is None or self._pos >= self._perm.shape[0]:
            self._perm, self._pos = self.rng.permutation(self.X_train.shape[0]), 0
        idx = self._perm[self._pos : self._pos + self.batch_size]
        k = idx.shape[0]
        # Gather into reused buffers: no per-step copy of the dataset or new batch array.
        X_batch = gather_rows(self.X_train, idx, self._X_buf[:k])
        y_batch = np.take(self.y_train, idx, out=self._y_buf[:k])
        if self.lr_schedule != "step":
            self._set_lr(self._scheduled_lr(self.t))
        # The model's L2 strength when the kernel takes the term, else 0.0 (see Updater).
        l2 = self._updater.l2(self.model)
        rng_state = self.rng.bit_generator.state
        try:
            if self.augment is not None:
                X_batch = self.augment(X_batch, self.rng)
            if self.mixup_alpha is not None:
                X_batch, y_batch = mixup(
                    X_batch, y_batch, self.mixup_alpha, self._classes, self.rng
                )
            kwargs = {**self._loss_kwargs, **self._updater.loss_kwargs(l2)}
            loss, grads = self.model.loss(X_batch, y_batch, **kwargs)
        except KeyboardInterrupt:
            # Undo the draws (augment's, mixup's, dropout's) so a checkpoint taken now replays
            # this step exactly.
            self.rng.bit_generator.state = rng_state
            raise
        # The L2 term left out of the model's loss, if any, of the weights it saw.
        loss = float(loss) + self._updater.penalty(self.model.params, l2)
        self._check_diverged("training", loss, self.t + 1)
        self._updater.apply(self.model.params, grads, self.optim_configs, l2)
        self.weight_average.update(self.model.params, self.epoch + 1)
        self.loss_history.append(loss)
        self.lr_history.append(self.learning_rate)
        self.t += 1
        self._pos += k
        return loss

    _step = step  # CS231n's name

    def __repr__(self) -> str:
        return (
            f"<Solver {type(self.model).__name__}, epoch {self.epoch}/{self.num_epochs}, "
            f"batch {self.batch_size}: {self.update_note}>"
        )

    def _check_diverged(self, which: str, loss: float, iteration: int) -> None:
        """Raise DivergenceError if ``loss`` (the training or validation loss) is NaN or inf."""
        epoch, lr = self.epoch + 1, self.learning_rate
        check_diverged(which, loss, iteration=iteration, epoch=epoch, learning_rate=lr)

    def train(self) -> None:
        """Run the remaining epochs of ``num_epochs``, then put ``best_params`` into the model.

        Ctrl-C or SIGTERM (or a KeyboardInterrupt raised by the model) stops at a step
        boundary, writes a checkpoint to ``{checkpoint_name}_interrupted.npz`` (without
        a checkpoint_name: ``twolayer_{pid}_interrupted.npz`` in the temp dir), prints
        its path, sets ``interrupted`` and ``interrupt_checkpoint`` and
        returns; ``Solver.resume`` continues from it. A second signal aborts at once,
        without a checkpoint.
        Raises DivergenceError when the training or validation loss becomes NaN or inf.
        """
        if self._last_params is not None:
            self.model.params.update(self._last_params)
            self._last_params = None
        self.interrupted = False
        if self.verbose:
            print(self.update_note)
        self._epoch_start = time.perf_counter()
        guard = InterruptGuard()
        try:
            with guard:
                if self.t == 0 and not self.val_acc_history:  # epoch 0, as in the course
                    self._evaluate_epoch_zero()
                while self.epoch < self.num_epochs and not self.stopped_early:
                    self._train_epoch(guard)
        except KeyboardInterrupt:
            if guard.pressed > 1:
                raise
            self._epoch_elapsed += time.perf_counter() - self._epoch_start
            path = self._interrupt_path()
            self.save_checkpoint(path)
            self.interrupted, self.interrupt_checkpoint = True, path
            by = "" if guard.signum is None else f" by {signal.Signals(guard.signum).name}"
            print(
                f"Interrupted{by} at iteration {self.t} (epoch {self.epoch + 1}); checkpoint "
                f"written to {path}"
            )
        finally:
            self._keep_best()

    def _train_epoch(self, guard: InterruptGuard) -> None:
        n, b, every = self.X_train.shape[0], self.batch_size, self.print_every
        self._epoch_start = time.perf_counter()
        bars = self._bars()
        bar = tqdm(
            total=self.iterations_per_epoch,
            initial=-(-self._pos // b),
            desc=f"epoch {self.epoch + 1}/{self.num_epochs}",
            leave=False,
            disable=not bars,
        )
        try:
            while self._pos < n:
                loss = self.step()
                if prints_iterations(self.t, every):
                    # The bar is refreshed only here, to keep per-step overhead minimal.
                    lr = f"{self.learning_rate:.3g}"
                    bar.set_postfix(loss=f"{loss:.4f}", lr=lr, refresh=False)
                    bar.update(-(-self._pos // b) - bar.n)
                    if self.verbose and not bars:
                        total = self.num_epochs * self.iterations_per_epoch
                        print(iteration_line(self.t, total, loss))
                if guard.pressed:
                    raise KeyboardInterrupt
        finally:
            bar.close()
        self._end_epoch()

    def _end_epoch(self) -> None:
        rng_state = self.rng.bit_generator.state
        try:
            with self.weight_average.applied(self.model):  # the average, when averaging
                train_acc = self.check_accuracy(
                    self.X_train, self.y_train, self.num_train_samples, self.eval_batch_size
                )
                val_acc, val_loss = self._evaluate(
                    self.X_val, self.y_val, self.num_val_samples, self.eval_batch_size
                )
        except KeyboardInterrupt:
            self.rng.bit_generator.state = rng_state  # replay the subsampling on resume
            raise
        # The epoch's last updates may blow the weights up after its last finite training
        # loss; such weights must never become the best epoch's.
        self._check_diverged("validation", val_loss, self.t)
        self.epoch += 1
        self._perm, self._pos = None, 0
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self.val_loss_history.append(val_loss)
        self.epoch_time_history.append(
            self._epoch_elapsed + time.perf_counter() - self._epoch_start
        )
        self._epoch_elapsed = 0.0
        # Ties in accuracy are common on small validation sets; the lower loss breaks them.
        if val_acc > self.best_val_acc or (
            val_acc == self.best_val_acc and val_loss < self.best_val_loss
        ):
            self.best_val_acc, self.best_val_loss, self._epochs_since_best = val_acc, val_loss, 0
            self.best_epoch = self.epoch
            evaluated = self.weight_average.current(self.model.params)
            self.best_params = {k: v.copy() for k, v in evaluated.items()}
        else:
            self._epochs_since_best += 1
        if self.verbose:
            more: str | None = None  # in a notebook, the course's line exactly
            if not in_notebook():
                more = f"val_loss: {val_loss:f}; lr: {self.learning_rate:.3g}; "
                more += f"{self.epoch_time_history[-1]:.1f}s"
            print(epoch_line(self.epoch, self.num_epochs, train_acc, val_acc, more))
        if self.lr_schedule == "step":
            self._set_lr(self.learning_rate * self.lr_decay)
        if self.patience is not None and self._epochs_since_best >= self.patience:
            self.stopped_early = True
            if self.verbose:
                print(
                    f"Stopping early: val acc has not improved for {self.patience} epochs "
                    f"(best {self.best_val_acc:f})"
                )
        self._save_epoch_checkpoint()
        if self.on_epoch_end is not None:
            self.on_epoch_end(self)

    def _bars(self) -> bool:
        """Whether this epoch shows a tqdm bar: asked for, and not in a notebook."""
        return self.progress and self.verbose and not in_notebook()

    def _keep_best(self) -> None:
        """Put copies of best_params into the model, keeping the last weights for train()."""
        self._last_params = dict(self.model.params)
        for k, v in self.best_params.items():
            self.model.params[k] = v.copy()
