"""End-to-end training with vs.Model: an MLP regression and a CNN with BatchNorm and
Dropout, on small synthetic data, with optax, under jax.jit."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import variables as vs


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(32)(x))
        x = nn.relu(nn.Dense(32)(x))
        return nn.Dense(1)(x)


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Conv(8, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.8)(x)
        x = nn.relu(x)
        x = nn.Dropout(0.25, deterministic=not train)(x)
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(2)(x)


def test_mlp_regression_trains_end_to_end():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, (256, 2)).astype(np.float32)
    y = np.sin(2.0 * x[:, :1]) + x[:, 1:] ** 2 + 0.01 * rng.normal(size=(256, 1))
    y = y.astype(np.float32)
    model = jax.jit(lambda: vs.Model.init(MLP(), 0, x[:1]))()
    tx = optax.adam(1e-2)
    opt_state = tx.init(model)  # the optimiser sees the whole Model, PyTorch style
    traces = []

    @jax.jit
    def step(model, opt_state, x, y):
        traces.append(1)

        def loss_fn(m):
            return jnp.mean((m(x) - y) ** 2)

        loss, grads = jax.value_and_grad(loss_fn)(model)
        updates, opt_state = tx.update(grads, opt_state, model)
        return optax.apply_updates(model, updates), opt_state, loss

    losses = []
    for _ in range(60):
        model, opt_state, loss = step(model, opt_state, x, y)
        losses.append(float(loss))
    assert isinstance(model, vs.Model) and model.module == MLP()
    assert len(traces) == 1  # the Model's treedef is stable: one trace
    assert losses[-1] < 0.05 * losses[0], losses[::10]
    np.testing.assert_allclose(jnp.mean((model(x) - y) ** 2), losses[-1], rtol=0.2)


def _images(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """8x8 noise images; class 1 is brighter in the top half, class 0 in the bottom."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n).astype(np.int32)
    top = (np.arange(8) < 4).astype(np.float32)[None, :, None, None]
    signal = np.where(labels[:, None, None, None] == 1, top, 1.0 - top)
    images = 0.5 * signal + 0.5 * rng.normal(size=(n, 8, 8, 1))
    return images.astype(np.float32), labels


def test_cnn_with_batchnorm_and_dropout_trains_end_to_end():
    x, y = _images(1, 256)
    x_test, y_test = _images(2, 128)
    model = jax.jit(lambda: vs.Model.init(CNN(), 0, x[:2], train=False))()
    initial_stats = model.variables["batch_stats"]
    tx = optax.adam(3e-3)
    opt_state = tx.init(model.params)  # only the params are trained
    traces = []

    @jax.jit
    def step(model, opt_state, x, y, seed):
        traces.append(1)

        def loss_fn(params):
            logits, new_model = model.replace(params=params).apply(
                x, train=True, rngs={"dropout": seed}, mutable=["batch_stats"]
            )
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
            return loss, new_model

        (loss, new_model), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            model.params
        )
        updates, opt_state = tx.update(grads, opt_state, model.params)
        new_params = optax.apply_updates(model.params, updates)
        return new_model.replace(params=new_params), opt_state, loss

    losses = []
    for i in range(50):
        batch = slice((i % 4) * 64, (i % 4 + 1) * 64)
        model, opt_state, loss = step(model, opt_state, x[batch], y[batch], i)
        losses.append(float(loss))
    assert isinstance(model, vs.Model)
    assert len(traces) == 1
    assert np.mean(losses[-5:]) < 0.1 * np.mean(losses[:3]), losses[::5]

    # Training moved the running statistics.
    mean = model.variables["batch_stats"]["BatchNorm_0"]["mean"]
    assert not np.allclose(mean, initial_stats["BatchNorm_0"]["mean"])
    assert not np.allclose(
        model.variables["batch_stats"]["BatchNorm_0"]["var"],
        initial_stats["BatchNorm_0"]["var"],
    )

    # Eval mode is a pure function of the variables: no dropout, running statistics.
    evaluate = jax.jit(lambda m, x: m(x, train=False))
    out = evaluate(model, x_test)
    np.testing.assert_array_equal(out, evaluate(model, x_test))
    with_rngs = model(x_test, train=False, rngs={"dropout": 7})
    np.testing.assert_allclose(with_rngs, out, rtol=1e-5, atol=1e-5)
    # Each example's output does not depend on the rest of the batch (batch
    # statistics would make it depend), ...
    np.testing.assert_allclose(
        evaluate(model, x_test[:1]), out[:1], rtol=1e-5, atol=1e-6
    )
    # ... and it does depend on the running statistics.
    shifted = vs.at(model, "batch_stats/BatchNorm_0/mean").add(1.0)
    assert not np.allclose(evaluate(shifted, x_test), out)
    accuracy = float(jnp.mean(jnp.argmax(out, -1) == y_test))
    assert accuracy > 0.9, accuracy
