"""RewritePopCommand: ``rest, v = x.pop(k)``, silent on dicts (P10, P17)."""

import flax
import jax.numpy as jnp
import libcst as cst
from _codemod_case import MigrationCodemodTest
from flax.core import FrozenDict
from libcst.codemod import CodemodContext

from migration.commands import RewritePopCommand


class TestRewritePop(MigrationCodemodTest):
    TRANSFORM = RewritePopCommand

    def test_name_receiver_reads_instead_of_popping(self):
        self.check(
            """
            import flax

            def split(variables):
                others, params = variables.pop("params")
                return others, params
            """,
            """
            import flax

            def split(variables):
                others, params = {k: v for k, v in variables.items() if k != "params"}, variables["params"]
                return others, params
            """,
            rewrites={"P10": 1},
        )

    def test_unused_rest(self):
        self.check(
            """
            import flax

            def params_of(v):
                _, p = v.pop("params")
                return p
            """,
            """
            import flax

            def params_of(v):
                p = v["params"]
                return p
            """,
        )

    def test_call_receiver_and_attribute_targets_use_flax_core_pop(self):
        self.check(
            """
            import flax

            class Trainer:
                def setup(self, net, k, x):
                    others, p = net.init(k, x).pop("params")
                    self.st, self.p = (
                        self.variables_for(k).pop(
                            "params"
                        )
                    )
                    return others, p
            """,
            """
            import flax

            class Trainer:
                def setup(self, net, k, x):
                    others, p = flax.core.pop(net.init(k, x), "params")
                    self.st, self.p = (
                        flax.core.pop(
                            self.variables_for(k), "params"
                        )
                    )
                    return others, p
            """,
        )

    def test_freeze_to_pop_idiom(self):
        self.check(
            """
            import flax
            from flax.core import frozen_dict

            def split_axes(ms):
                st, axes = frozen_dict.freeze(ms).pop("axes")
                return st, axes
            """,
            """
            import flax

            def split_axes(ms):
                st, axes = {k: v for k, v in ms.items() if k != "axes"}, ms["axes"]
                return st, axes
            """,
            rewrites={"P17": 1},
        )

    def test_computed_key_is_reported(self):
        self.unchanged(
            """
            import flax

            def take(pairs, i):
                a, b = pairs.pop(i)
                return a, b
            """,
            refused=["P10/POP@4"],
        )

    def test_negative_look_alikes(self):
        self.unchanged(
            """
            import flax

            def f(d, stack, k):
                v = d.pop(k)
                x, y = stack.pop(0)
                p, q = stack.pop()
                pairs = {"a": (1, 2)}
                first, second = pairs.pop("a")
                return v, x, y, p, q, first, second
            """
        )

    def test_no_flax_import_no_rewrite(self):
        source = """
            import jax
            rest, params = variables.pop("params")
            """
        self.assertCodemod(source, source, expected_skip=True)

    def test_freeze_to_pop_of_a_tree_holding_a_stored_update(self):
        # `freeze(t3)` copied `t3["c"]`, which is `h` itself and changes later:
        # the helper (a copy on a dict) replaces the split that would share it.
        self.check(
            """
            import flax
            from flax.core import freeze

            def edit(h):
                t3 = flax.core.copy({"a": 1.0}, {"c": h})
                rest, c = freeze(t3).pop("c")
                h["k"] = 0.0
                return rest, c
            """,
            """
            import flax

            def edit(h):
                t3 = flax.core.copy({"a": 1.0}, {"c": h})
                rest, c = flax.core.pop(t3, "c")
                h["k"] = 0.0
                return rest, c
            """,
            rewrites={"P17": 1},
        )


def _run(code: str, variables):
    scope = {"variables": variables, "flax": flax}
    exec(code, scope)
    return scope["others"], scope["params"]


def test_rewrite_matches_frozen_dict_pop_on_a_dict():
    # The old line on a FrozenDict and the new line on the dict a current init
    # returns give the same trees, keys in the same order; the input is untouched.
    old = 'others, params = variables.pop("params")\n'
    new = cst.parse_module("import flax\n" + old)
    migrated = RewritePopCommand(CodemodContext()).transform_module(new).code
    assert "variables.pop" not in migrated
    tree = {
        "params": {"Dense_1": {"w": jnp.ones(2)}, "Dense_0": {"w": jnp.zeros(2)}},
        "batch_stats": {"BN": {"m": jnp.ones(1)}},
    }
    want_rest, want_params = _run(old, FrozenDict(tree))
    got_rest, got_params = _run(migrated, tree)
    assert list(got_rest) == list(want_rest) and list(got_params) == list(want_params)
    assert got_rest == want_rest and got_params == want_params
    assert list(tree) == ["params", "batch_stats"]  # nothing popped from the input


def test_pop_on_a_tree_that_was_already_a_dict_is_dict_pop_and_stays():
    # `t1 = unfreeze(t0)` made a dict before the migration too, so `t1.pop("a")`
    # was dict.pop (it returns the value, which the two targets unpack, and
    # removes the key). Rewriting it to FrozenDict.pop semantics would change the
    # program; it is left alone, reported, and the unfreeze copy stays.
    from migration import transform_source

    source = (
        "from flax.core import unfreeze\n\n\n"
        "def f(t0):\n"
        "    t1 = unfreeze(t0)\n"
        "    r, v = t1.pop('a')\n"
        "    return r, v, t1\n"
    )
    result = transform_source(source)
    assert result.code == source
    assert {r.pattern for r in result.refusals} == {"P02/MUT", "P10/NEG"}
    tree = {"a": {"x": 1, "y": 2}, "b": 3}
    before, after = {}, {}
    exec(source, before)
    exec(result.code, after)
    assert before["f"](FrozenDict(tree)) == after["f"](tree) == ("x", "y", {"b": 3})
    assert tree == {"a": {"x": 1, "y": 2}, "b": 3}
