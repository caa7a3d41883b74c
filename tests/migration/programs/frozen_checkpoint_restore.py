"""Restoring a checkpoint into a template tree and reading sown intermediates.

Written against 2023 Flax, when ``init`` results were re-frozen on purpose
(``flax.core.pop(flax.core.freeze(...))``, P04c): the restore template is built with
``freeze`` so that ``serialization.from_bytes`` returns the template's container type
(SERIAL, TREEDEF); intermediates are split off with ``freeze(...).pop`` (P17); a
dict-valued Linen field is merged with ``.copy`` inside the module (LINEN: Flax still
turns it into a FrozenDict at bind time).
"""

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import serialization
from flax.core import freeze, unfreeze


class Scorer(nn.Module):
    label_weights: dict

    @nn.compact
    def __call__(self, x):
        weights = self.label_weights.copy({"bias": 0.5})
        h = nn.relu(nn.Dense(4)(x))
        self.sow("intermediates", "hidden", h)
        logits = nn.Dense(len(weights))(h)
        scale = jnp.array([weights[k] for k in sorted(weights)])
        return logits * scale


def restore(blob, params):
    template = freeze(jax.tree_util.tree_map(jnp.zeros_like, unfreeze(params)))
    return serialization.from_bytes(template, blob)


def main():
    model = Scorer(label_weights={"cat": 1.0, "dog": 2.0})
    x = jax.random.normal(jax.random.PRNGKey(11), (5, 3))
    rest, params = flax.core.pop(
        flax.core.freeze(model.init(jax.random.PRNGKey(12), x)), "params"
    )
    blob = serialization.to_bytes(params)
    restored = restore(blob, params)
    out, state = model.apply({"params": restored}, x, mutable=["intermediates"])
    others, inter = freeze(state).pop("intermediates")
    return {
        "rest": rest,
        "restored": restored,
        "out": out,
        "others": others,
        "hidden": inter["hidden"],
        "n_bytes": len(blob),
    }
