"""A small regression training script written the FrozenDict way (2022-style Flax).

The head bias is re-initialised through an ``.unfreeze()`` copy that is edited in
place (MUT), the edited tree is re-frozen, training runs on a ``TrainState``, and the
logging code reads parameters through ``unfreeze`` and ``flatten_dict``. ``main``
returns everything a reader of the script would look at.
"""

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import traverse_util
from flax.core import freeze, unfreeze
from flax.training import train_state


class MLP(nn.Module):
    hidden: int = 8

    @nn.compact
    def __call__(self, x):
        x = nn.Dense(self.hidden)(x)
        x = nn.relu(x)
        return nn.Dense(1)(x)


def create_state(key, x):
    model = MLP()
    variables = model.init(key, x)
    params = variables["params"].unfreeze()
    # Start the head at the target mean, a common trick for regression.
    params["Dense_1"]["bias"] = jnp.full((1,), 0.5)
    params = freeze(params)
    tx = optax.adam(0.05)
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)
    return state, variables


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        pred = state.apply_fn({"params": params}, x)
        return jnp.mean((pred - y) ** 2)

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads), loss


def param_norms(params):
    flat = traverse_util.flatten_dict(unfreeze(params), sep="/")
    return {name: jnp.linalg.norm(leaf) for name, leaf in flat.items()}


def main():
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (16, 3))
    y = jnp.sum(x, axis=1, keepdims=True) * 0.3 + 0.5
    state, init_variables = create_state(jax.random.PRNGKey(1), x)
    losses = []
    for _ in range(4):
        state, loss = train_step(state, x, y)
        losses.append(loss)
    shapes = jax.tree_util.tree_map(jnp.shape, flax.core.unfreeze(state.params))
    return {
        "params": state.params,
        "opt_state": state.opt_state,
        "step": state.step,
        "losses": jnp.stack(losses),
        "shapes": shapes,
        "norms": param_norms(state.params),
        # The init result must not have been edited by the bias surgery.
        "init_variables": init_variables,
    }
