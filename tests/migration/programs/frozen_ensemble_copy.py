"""A deep ensemble with BatchNorm written the FrozenDict way.

Each member's variables are a FrozenDict (an ``init`` result, or one built with the
``FrozenDict(...)`` keyword constructor for the parameter-average member). After a
training-mode forward pass the new ``batch_stats`` are merged back with
``.copy(add_or_replace=...)`` (keyword and positional forms), one member's head is
replaced through a *subtree* ``.copy`` (the ``variables['params']`` of a FrozenDict
is itself a FrozenDict), and the members are stacked into one tree and evaluated
with ``vmap``.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.core import FrozenDict


class Member(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(6)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.5)(x)
        x = nn.tanh(x)
        return nn.Dense(2, name="head")(x)


def init_member(key, x):
    return Member().init(key, x, train=False)


def average_member(members):
    """A "model soup": the parameter average, with member 0's statistics."""
    soup = jax.tree_util.tree_map(
        lambda *leaves: sum(leaves) / len(leaves), *[m["params"] for m in members]
    )
    return FrozenDict(params=soup, batch_stats=members[0]["batch_stats"])


def update_stats(variables, x):
    _, updates = Member().apply(variables, x, train=True, mutable=["batch_stats"])
    return variables.copy(add_or_replace=updates)


def replace_head(variables, head):
    params = variables["params"].copy({"head": head})
    return variables.copy(add_or_replace={"params": params})


def main():
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 3))
    keys = jax.random.split(jax.random.PRNGKey(42), 3)
    members = [init_member(k, x) for k in keys]
    members = [update_stats(update_stats(m, x), x * 2.0) for m in members]
    # Member 0 gets member 1's head, as in a head-swap ablation.
    members[0] = replace_head(members[0], members[1]["params"]["head"])
    members.append(average_member(members))
    stacked = jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *members)

    def predict(variables):
        return Member().apply(variables, x, train=False)

    preds = jax.vmap(predict)(stacked)
    return {
        "stacked": stacked,
        "preds": preds,
        "mean_pred": preds.mean(axis=0),
        "keys": [sorted(m.keys()) for m in members],
    }
