"""A config made hashable with ``freeze`` and passed as a static ``jit`` argument.

The model config is a frozen nested mapping so that ``jax.jit`` can take it through
``static_argnames`` (HASH); the training config is a frozen dataclass whose mapping
fields default to FrozenDicts, one of them a module constant (DCDEF, P15), and the
dataclass itself is a static argument too. None of these may become plain dicts: a
dict is unhashable and a dict default is rejected when the class is defined.
"""

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.core import FrozenDict, freeze

DEFAULT_SCHEDULE = freeze({"warmup": 2, "peak": 0.2})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    steps: int = 5
    schedule: FrozenDict = DEFAULT_SCHEDULE
    loss_weights: FrozenDict = FrozenDict({"mse": 1.0, "l2": 1e-3})


class Net(nn.Module):
    config: FrozenDict

    @nn.compact
    def __call__(self, x):
        act = getattr(nn, self.config["act"])
        for width in self.config["widths"]:
            x = act(nn.Dense(width)(x))
        return nn.Dense(1)(x)


def learning_rate(step, schedule):
    warm = jnp.minimum(1.0, (step + 1) / schedule["warmup"])
    return schedule["peak"] * warm


@functools.partial(jax.jit, static_argnames=("model_config", "train_config"))
def train_step(params, step, x, y, model_config, train_config):
    def loss_fn(params):
        pred = Net(model_config).apply({"params": params}, x)
        mse = jnp.mean((pred - y) ** 2)
        l2 = sum(jnp.sum(p**2) for p in jax.tree_util.tree_leaves(params))
        weights = train_config.loss_weights
        return weights["mse"] * mse + weights["l2"] * l2

    loss, grads = jax.value_and_grad(loss_fn)(params)
    lr = learning_rate(step, train_config.schedule)
    params = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
    return params, loss


def main():
    raw = {"model": {"widths": (8, 4), "act": "gelu"}, "seed": 0}
    model_config = freeze(raw["model"])
    train_config = TrainConfig()
    x = jax.random.normal(jax.random.PRNGKey(raw["seed"]), (16, 2))
    y = jnp.sin(x[:, :1]) + x[:, 1:]
    params = Net(model_config).init(jax.random.PRNGKey(1), x)["params"]
    losses = []
    for step in range(train_config.steps):
        params, loss = train_step(params, step, x, y, model_config, train_config)
        losses.append(loss)
    # A second config that hashes equal must hit the jit cache, not recompile.
    same_config = freeze({"act": "gelu", "widths": (8, 4)})
    params, loss = train_step(params, 0, x, y, same_config, TrainConfig())
    losses.append(loss)
    return {
        "params": params,
        "losses": jnp.stack(losses),
        "cache_size": train_step._cache_size(),
    }
