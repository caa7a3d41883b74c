"""Greedy decoding with an attention cache carried through ``lax.while_loop``.

Written the FrozenDict way: the zero cache is built from ``eval_shape`` of ``init``,
``unfreeze``-d for the ``tree_map`` and re-``freeze``-d so that the loop carry has the
same container type as the ``mutable=["cache"]`` output of ``apply`` (TREEDEF). A
second, step-by-step scorer keeps its cache with the ``unfreeze(mut["cache"])`` idiom
of generated model code.
"""

import functools

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.core import freeze, unfreeze

VOCAB = 11
MAX_LEN = 6


class TinyDecoder(nn.Module):
    decode: bool = False

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(VOCAB, 8)(tokens)
        attn = nn.MultiHeadDotProductAttention(
            num_heads=2, qkv_features=8, decode=self.decode
        )
        x = x + attn(x, x)
        return nn.Dense(VOCAB)(nn.LayerNorm()(x))


def init_cache(model, batch):
    tokens = jnp.zeros((batch, MAX_LEN), jnp.int32)
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), tokens)["cache"]
    zeros = jax.tree_util.tree_map(
        lambda s: jnp.zeros(s.shape, s.dtype), unfreeze(shapes)
    )
    return freeze(zeros)


@functools.partial(jax.jit, static_argnums=0)
def greedy_decode(model, params, first_token):
    cache = init_cache(model, first_token.shape[0])
    out = jnp.zeros((first_token.shape[0], MAX_LEN), jnp.int32)
    out = out.at[:, 0].set(first_token)

    def cond(carry):
        return carry[0] < MAX_LEN

    def body(carry):
        i, cache, out = carry
        token = jax.lax.dynamic_slice_in_dim(out, i - 1, 1, axis=1)
        logits, mut = model.apply(
            {"params": params, "cache": cache}, token, mutable=["cache"]
        )
        cache = mut["cache"]
        next_token = jnp.argmax(logits[:, -1], axis=-1).astype(jnp.int32)
        return i + 1, cache, out.at[:, i].set(next_token)

    _, cache, out = jax.lax.while_loop(cond, body, (1, cache, out))
    return out, cache


def score(model, params, tokens):
    """Log-likelihood of ``tokens``, one decoding step at a time."""
    past = unfreeze(init_cache(model, tokens.shape[0]))
    step = functools.partial(model.apply, mutable=["cache"])
    total = jnp.zeros(tokens.shape[0])
    for i in range(tokens.shape[1] - 1):
        logits, mut = step({"params": params, "cache": past}, tokens[:, i : i + 1])
        past = unfreeze(mut["cache"])
        logp = jax.nn.log_softmax(logits[:, -1])
        total = total + jnp.take_along_axis(logp, tokens[:, i + 1 : i + 2], 1)[:, 0]
    return total, past


def main():
    tokens = jax.random.randint(jax.random.PRNGKey(5), (2, MAX_LEN), 0, VOCAB)
    params = TinyDecoder().init(jax.random.PRNGKey(6), tokens)["params"]
    model = TinyDecoder(decode=True)
    decoded, cache = greedy_decode(model, params, jnp.array([1, 7], jnp.int32))
    logp, past = score(model, params, decoded)
    return {
        "decoded": decoded,
        "cache": cache,
        "logp": logp,
        "past": past,
        "summary": flax.core.pretty_repr(jax.tree_util.tree_map(jnp.shape, past)),
    }
