"""Fine-tune a classifier head on a frozen backbone.

One `vs.labels` line says which optimizer each parameter gets; optax does the rest
with ``optax.multi_transform`` and ``optax.set_to_zero``. After a few steps the
backbone is bit-for-bit what it was and the head has moved.

Run it with ``python examples/finetune_frozen_backbone.py``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import numpy as np
import optax

import variables as vs


class Backbone(nn.Module):
    """The pretrained feature extractor we keep fixed."""

    width: int = 16

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(self.width)(x))
        return nn.relu(nn.Dense(self.width)(x))


class Classifier(nn.Module):
    """A backbone and a fresh linear head."""

    classes: int = 3

    def setup(self):
        self.backbone = Backbone()
        self.head = nn.Dense(self.classes)

    def __call__(self, x):
        return self.head(self.backbone(x))


def main(steps: int = 20) -> dict:
    model = Classifier()
    x = jax.random.normal(jax.random.key(1), (32, 4))
    y = jax.random.randint(jax.random.key(2), (32,), 0, 3)
    params = model.init(jax.random.key(0), x)["params"]
    print(vs.summary(params))

    # Which optimizer each leaf gets: one line, by path.
    labels = vs.labels(params, {"backbone/**": "frozen"}, default="train")
    tx = optax.multi_transform(
        {"train": optax.adam(1e-2), "frozen": optax.set_to_zero()}, labels
    )
    frozen, trainable = vs.partition(params, "backbone/**")
    print(f"\ntraining {vs.count(trainable):,} parameters, {vs.count(frozen):,} frozen")

    def loss_fn(p):
        logits = model.apply({"params": p}, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(p, opt_state):
        loss, grads = jax.value_and_grad(loss_fn)(p)
        updates, opt_state = tx.update(grads, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, loss

    new, opt_state = params, tx.init(params)
    losses = []
    for _ in range(steps):
        new, opt_state, loss = step(new, opt_state)
        losses.append(float(loss))
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f} in {steps} steps\n")

    before, after = vs.flatten(params), vs.flatten(new)
    moved, unchanged = [], []
    for path, old in before.items():
        same = np.asarray(old).tobytes() == np.asarray(after[path]).tobytes()
        (unchanged if same else moved).append(path)
        print(f"  {'unchanged' if same else 'moved    '}  {path}")
    return {
        "params": params,
        "new_params": new,
        "moved": moved,
        "unchanged": unchanged,
        "losses": losses,
    }


if __name__ == "__main__":
    main()
