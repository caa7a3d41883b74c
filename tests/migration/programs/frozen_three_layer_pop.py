"""Fine-tuning the head of a three-layer MLP with BatchNorm (2023-style Flax).

The variables are split with ``.pop("params")``; the head is split off the parameter
*subtree* with ``.pop`` (a FrozenDict's ``__getitem__`` returns a FrozenDict), trained
alone, and put back with ``.copy``. ``flax.core.frozen_dict`` is used through its full
module path. On a dict, the first ``pop`` returns the four-module parameter tree and
the tuple-unpack raises ``ValueError``.
"""

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp


class ThreeLayer(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Dense(6)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.8)(x)
        x = nn.relu(nn.Dense(5)(nn.relu(x)))
        return nn.Dense(1, name="head")(x)


def loss_and_stats(head, body, batch_stats, x, y):
    params = body.copy({"head": head})
    pred, updates = ThreeLayer().apply(
        {"params": params, **batch_stats}, x, train=True, mutable=["batch_stats"]
    )
    return jnp.mean((pred - y) ** 2), updates


@jax.jit
def finetune_step(head, body, batch_stats, x, y):
    grad_fn = jax.value_and_grad(loss_and_stats, has_aux=True)
    (loss, batch_stats), grads = grad_fn(head, body, batch_stats, x, y)
    head = jax.tree_util.tree_map(lambda p, g: p - 0.2 * g, head, grads)
    return head, batch_stats, loss


def main():
    x = jax.random.normal(jax.random.PRNGKey(3), (12, 4))
    y = jnp.tanh(x[:, :1] * 2.0)
    variables = ThreeLayer().init(jax.random.PRNGKey(4), x)
    batch_stats, params = variables.pop("params")
    body, head = params.pop("head")
    losses = []
    for _ in range(3):
        head, batch_stats, loss = finetune_step(head, body, batch_stats, x, y)
        losses.append(loss)
    params = body.copy({"head": head})
    final = flax.core.frozen_dict.freeze({"params": params, **batch_stats})
    preds = ThreeLayer().apply(final, x)
    return {
        "final": final,
        "losses": jnp.stack(losses),
        "preds": preds,
        "body_keys": list(body.keys()),
        "variables": variables,
    }
