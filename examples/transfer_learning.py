"""Transfer learning: reuse a trained backbone under a new head.

The whole workflow in plain dicts, with `variables` doing the bookkeeping:

1. train a small backbone + head classifier on task A and save it;
2. build a new model for task B, with a head of another size;
3. load the checkpoint and `vs.transplant` the backbone into the new model (the
   report says what was copied, kept and skipped);
4. freeze the backbone with `vs.labels` + ``optax.multi_transform`` and fine-tune;
5. `vs.diff` the parameters before and after fine-tuning: only the head moved.

Run it with ``python examples/transfer_learning.py``; the test suite runs `main`.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import variables as vs


class Backbone(nn.Module):
    width: int = 16

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.Dense(self.width, name="Dense_0")(x))
        return nn.relu(nn.Dense(self.width, name="Dense_1")(x))


class Classifier(nn.Module):
    n_classes: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Dense(self.n_classes, name="head")(Backbone(name="backbone")(x))


def make_task(key: jax.Array, n_classes: int, n: int = 128, dim: int = 8):
    """Inputs and labels of a synthetic task: the argmax of a random linear map."""
    kx, kw = jax.random.split(key)
    x = jax.random.normal(kx, (n, dim))
    labels = jnp.argmax(x @ jax.random.normal(kw, (dim, n_classes)), axis=-1)
    return x, labels


def train(model: vs.Model, x, labels, tx, steps: int):
    """Plain full-batch training of a whole `vs.Model`; returns it and the losses."""

    def loss_fn(m: vs.Model):
        return optax.softmax_cross_entropy_with_integer_labels(m(x), labels).mean()

    @jax.jit
    def step(m, state):
        loss, grads = jax.value_and_grad(loss_fn)(m)
        updates, state = tx.update(grads, state, m)
        return optax.apply_updates(m, updates), state, loss

    state = tx.init(model)
    losses = []
    for _ in range(steps):
        model, state, loss = step(model, state)
        losses.append(float(loss))
    return model, losses


def main(workdir: str | None = None, steps: int = 30) -> dict[str, Any]:
    """Runs the workflow; returns what the test suite checks."""
    key_a, key_b = jax.random.split(jax.random.key(0))

    # 1. Pretrain on task A (4 classes) and save the model's variables.
    x_a, y_a = make_task(key_a, n_classes=4)
    model_a = vs.Model.init(Classifier(n_classes=4), 0, x_a)
    model_a, losses_a = train(model_a, x_a, y_a, optax.adam(1e-2), steps)
    own_dir = workdir is None
    workdir = tempfile.mkdtemp() if own_dir else workdir
    path = os.path.join(workdir, "pretrained.safetensors")
    vs.save(path, model_a)  # paths like "params/backbone/Dense_0/kernel"

    # 2. A new model for task B (3 classes): a fresh backbone and a fresh head.
    x_b, y_b = make_task(key_b, n_classes=3)
    fresh = vs.Model.init(Classifier(n_classes=3), 1, x_b)

    # 3. Load the checkpoint and transplant the backbone only. The old head has
    #    another shape, so copying it would be an error: the mapping names the
    #    backbone, and the report lists the old head as skipped. The result is
    #    still a vs.Model.
    pretrained = vs.load(path)
    model_b, report = vs.transplant(
        fresh, pretrained, {"params/backbone": "params/backbone"}
    )
    print(report)

    # 4. Freeze the backbone (its updates are zero) and fine-tune: the head trains.
    #    (The labels are given as a function of the model: a Model of labels would
    #    itself be callable, which optax takes for such a function.)
    def labels(model: vs.Model) -> vs.Model:
        return vs.labels(model, {"params/backbone/**": "frozen"}, default="train")

    tx = optax.multi_transform(
        {"train": optax.adam(1e-2), "frozen": optax.set_to_zero()}, labels
    )
    tuned, losses_b = train(model_b, x_b, y_b, tx, steps)

    # 5. What moved? Only the head.
    moved = vs.diff(model_b, tuned)
    print(moved)
    if own_dir:
        os.remove(path)
        os.rmdir(workdir)
    return {
        "report": report,
        "diff": moved,
        "pretrained": pretrained,
        "before": model_b,
        "after": tuned,
        "losses_a": losses_a,
        "losses_b": losses_b,
    }


if __name__ == "__main__":
    main()
