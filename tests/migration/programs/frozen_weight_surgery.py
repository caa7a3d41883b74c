"""Grafting a pretrained encoder into a fresh classifier (2022-style Flax).

Exercises the long tail of the catalogue: a ``FrozenDict`` type alias (P08), module
level aliases of ``freeze``/``unfreeze`` (P08b), annotations (P07), the qualified
``flax.core.frozen_dict`` path (P12), ``unfreeze`` around an ``init`` result (P02a),
``flatten_dict(unfreeze(...))`` (P02b), ``freeze(unflatten_dict(...))`` building an
optax weight-decay mask (P04b, TREEDEF), an ``isinstance`` recursion guard (P06), a
type-preserving cast (TYPEPRES), the ``FrozenDict(x).unfreeze()`` copy idiom followed
by in-place edits (MUT), and a ``tree_map`` over two trees (P14).
"""

from typing import Any, Union

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import traverse_util
from flax.core import frozen_dict
from flax.core.frozen_dict import FrozenDict

Params = flax.core.FrozenDict[str, Any]
_freeze = flax.core.frozen_dict.freeze
_unfreeze = frozen_dict.unfreeze


class Encoder(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.tanh(nn.Dense(4)(nn.relu(nn.Dense(6)(x))))


class Classifier(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(3, name="head")(Encoder(name="encoder")(x))


def graft(encoder_params: Params, fresh: Params) -> Params:
    params = _unfreeze(fresh)
    params["encoder"] = _unfreeze(encoder_params)
    params["head"]["bias"] = params["head"]["bias"] + 0.1
    return _freeze(params)


def count_params(tree: Union[dict, FrozenDict]) -> int:  # noqa: UP007 (2022 style)
    total = 0
    for value in tree.values():
        if isinstance(value, (dict, nn.FrozenDict)):
            total += count_params(value)
        else:
            total += value.size
    return total


def cast(tree, dtype):
    was_frozen = isinstance(tree, FrozenDict)
    out = jax.tree_util.tree_map(lambda x: x.astype(dtype), _unfreeze(tree))
    return _freeze(out) if was_frozen else out


def decay_mask(params: Params) -> FrozenDict:
    flat = traverse_util.flatten_dict(_unfreeze(params))
    mask = {path: path[-1] == "kernel" for path in flat}
    return frozen_dict.freeze(traverse_util.unflatten_dict(mask))


def main():
    x = jax.random.normal(jax.random.PRNGKey(7), (9, 5))
    labels = jnp.arange(9) % 3
    encoder = flax.core.unfreeze(Encoder().init(jax.random.PRNGKey(8), x))["params"]
    # Stand-in for pretraining: the "pretrained" weights are a rescaled init.
    encoder = jax.tree_util.tree_map(lambda p: p * 1.5, encoder)
    fresh = Classifier().init(jax.random.PRNGKey(9), x)["params"]
    params = graft(_freeze(encoder), fresh)

    tx = optax.adamw(0.05, weight_decay=0.1, mask=decay_mask(params))
    opt_state = tx.init(params)

    def loss_fn(params):
        logits = Classifier().apply({"params": params}, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    @jax.jit
    def train_step(params, opt_state):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    losses = []
    for _ in range(3):
        params, opt_state, loss = train_step(params, opt_state)
        losses.append(loss)

    drift = jax.tree_util.tree_map(lambda a, b: jnp.abs(a - b).max(), params, fresh)
    ablated = FrozenDict(params).unfreeze()
    ablated["head"]["kernel"] = jnp.zeros_like(ablated["head"]["kernel"])
    return {
        "params": params,
        "fresh": fresh,
        "encoder": encoder,
        "drift": drift,
        "ablated": ablated,
        "half": cast(params, jnp.float16),
        "count": count_params(params),
        "losses": jnp.stack(losses),
    }
