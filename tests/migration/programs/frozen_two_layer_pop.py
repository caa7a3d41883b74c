"""A two-layer MLP with a call counter, split with ``FrozenDict.pop`` (2023-style Flax).

``rest, params = variables.pop("params")`` is the idiom this program leans on, in a
plain assignment, with attribute targets, with a ``_`` target and spread over several
lines. On a plain dict ``pop`` returns only the value, and because the parameter tree
has exactly two top-level modules the tuple-unpack *succeeds*, silently binding the
two module names.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


class TwoLayer(nn.Module):
    @nn.compact
    def __call__(self, x):
        calls = self.variable("counters", "calls", lambda: jnp.zeros((), jnp.int32))
        if not self.is_initializing():
            calls.value += 1
        x = nn.relu(nn.Dense(4)(x))
        return nn.Dense(2)(x)


class Trainer:
    def __init__(self, variables, lr):
        self.state, self.params = variables.pop("params")
        self.lr = lr

    def step(self, x, y):
        def loss_fn(params):
            pred, new_state = TwoLayer().apply(
                {"params": params, **self.state}, x, mutable=["counters"]
            )
            return jnp.mean((pred - y) ** 2), new_state

        (loss, new_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            self.params
        )
        self.params = jax.tree_util.tree_map(
            lambda p, g: p - self.lr * g, self.params, grads
        )
        self.state = new_state
        return loss


def main():
    x = jax.random.normal(jax.random.PRNGKey(0), (10, 3))
    y = jnp.stack([x[:, 0] - x[:, 1], x[:, 2]], axis=1)
    variables = TwoLayer().init(jax.random.PRNGKey(1), x)
    counters, params = variables.pop("params")
    trainer = Trainer(variables, lr=0.1)
    losses = jnp.stack([trainer.step(x, y) for _ in range(3)])
    _, first_layer = trainer.params.pop("Dense_0")
    head_free, head = trainer.params.pop(
        "Dense_1",
    )
    return {
        "initial_counters": counters,
        "initial_params": params,
        # FrozenDict.pop never mutates its receiver.
        "variables": variables,
        "params": trainer.params,
        "state": trainer.state,
        "losses": losses,
        "first_layer": first_layer,
        "head": head,
        "head_free": head_free,
    }
