"""Quickstart: plain-dict parameters, one-line functional edits, the same under jit.

Run it with ``python examples/quickstart.py``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

import variables as vs


class MLP(nn.Module):
    """A small two-layer perceptron."""

    hidden: int = 16
    out: int = 3

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(self.out)(x)


def main() -> dict:
    model = MLP()
    x = jnp.ones((2, 4))
    variables = vs.init(model, 0, x)  # plain nested dicts, whatever flax.config says
    print("collections:", list(variables), "| container:", type(variables["params"]).__name__)

    # 1. One functional line edits one leaf; the original is untouched.
    zeroed = vs.at(variables)["params"]["Dense_1"]["bias"].set(jnp.zeros(3))
    edited = vs.at(zeroed, "params/**/kernel").multiply(0.5)  # every kernel, by pattern
    assert edited["params"]["Dense_0"]["bias"] is variables["params"]["Dense_0"]["bias"]
    k_old = variables["params"]["Dense_0"]["kernel"]
    k_new = edited["params"]["Dense_0"]["kernel"]
    print(f"kernel[0, 0]: original {float(k_old[0, 0]):+.4f} -> edited {float(k_new[0, 0]):+.4f}")

    # 2. The same edit inside jax.jit gives the same result.
    @jax.jit
    def halve_kernels(v):
        return vs.at(v, "params/**/kernel").multiply(0.5)

    jitted = halve_kernels(zeroed)
    same = jax.tree_util.tree_all(
        jax.tree_util.tree_map(lambda a, b: bool(jnp.allclose(a, b)), jitted, edited)
    )
    print("eager edit == jitted edit:", same)

    # 3. Frozen when you ask for it, and back.
    frozen = vs.freeze(edited)
    print("frozen type:", type(frozen).__name__, "| back:", type(vs.unfreeze(frozen)).__name__)

    # 4. A summary of what the model holds.
    y = vs.apply(model, edited, x)
    print("output shape:", y.shape)
    print(vs.summary(edited))
    return {"variables": variables, "edited": edited, "same": same, "output": y}


if __name__ == "__main__":
    main()
