"""RewriteCopyCommand: ``x.copy(add_or_replace=u)`` -> ``{**x, **u}`` (P09)."""

from _codemod_case import MigrationCodemodTest

from migration.commands import RewriteCopyCommand


class TestRewriteCopy(MigrationCodemodTest):
    TRANSFORM = RewriteCopyCommand

    def test_keyword_and_positional_forms(self):
        self.check(
            """
            import flax

            def f(b, aug, ms, s):
                b = b.copy(add_or_replace={"obs": aug})
                ms = ms.copy({"batch_stats": s})
                return b, ms
            """,
            """
            import flax

            def f(b, aug, ms, s):
                b = {**b, "obs": aug}
                ms = {**ms, "batch_stats": s}
                return b, ms
            """,
            rewrites={"P09": 2},
        )

    def test_subtree_receiver_and_name_update(self):
        self.check(
            """
            import flax

            def f(batch, extra, aug):
                a = batch["observations"].copy(add_or_replace={"rgb": aug})
                b = batch.copy(add_or_replace=extra)
                return a, b
            """,
            """
            import flax

            def f(batch, extra, aug):
                a = {**batch["observations"], "rgb": aug}
                b = {**batch, **extra}
                return a, b
            """,
        )

    def test_multiline_update_keeps_its_layout(self):
        self.check(
            """
            import flax

            new = old.copy(
                add_or_replace={
                    "a": 1,
                    "b": 2,
                }
            )
            """,
            """
            import flax

            new = {
                    **old,
                    "a": 1,
                    "b": 2,
                }
            """,
        )

    def test_update_changed_later_keeps_a_deep_copy(self):
        self.check(
            """
            import flax

            def f(x, h):
                y = x.copy({"a": h})
                h["q"] = 1
                return y
            """,
            """
            import flax

            def f(x, h):
                y = flax.core.unfreeze({**x, "a": h})
                h["q"] = 1
                return y
            """,
        )

    def test_flag_module_uses_the_type_preserving_helper(self):
        self.check(
            """
            import flax

            flax.config.update("flax_return_frozendict", True)
            v = v.copy({"a": 1})
            """,
            """
            import flax

            flax.config.update("flax_return_frozendict", True)
            v = flax.core.copy(v, {"a": 1})
            """,
        )

    def test_nested_copy_with_variables_becomes_at(self):
        self.check(
            """
            import flax

            def swap_head(x, h):
                return x.copy({"params": x["params"].copy({"head": h})})
            """,
            """
            import flax
            import variables as vs

            def swap_head(x, h):
                return vs.at(x)["params"]["head"].set(h)
            """,
            use_variables=True,
            rewrites={"P09": 1},
        )

    def test_nested_copy_without_variables_is_two_merges(self):
        self.check(
            """
            import flax

            def swap_head(x, h):
                return x.copy({"params": x["params"].copy({"head": h})})
            """,
            """
            import flax

            def swap_head(x, h):
                return {**x, "params": {**x["params"], "head": h}}
            """,
            rewrites={"P09": 2},
        )

    def test_frozen_receiver(self):
        self.check(
            """
            import flax
            from flax.core import freeze

            y = freeze(x).copy({"a": 1})
            """,
            """
            import flax

            y = {**x, "a": 1}
            """,
        )

    def test_linen_field_is_reported(self):
        self.unchanged(
            """
            import flax.linen as nn

            class Head(nn.Module):
                cfg: dict

                def __call__(self, x):
                    cfg = self.cfg.copy({"dropout": 0.0})
                    return x
            """,
            refused=["P09/LINEN@7"],
        )

    def test_unknown_positional_argument_is_reported(self):
        self.unchanged(
            """
            import flax

            def f(x, updates):
                return x.copy(updates)
            """,
            refused=["P09/COPY@4"],
        )

    def test_negative_look_alikes(self):
        self.unchanged(
            """
            import copy
            import shutil
            import flax
            import numpy as np

            a = np.copy(x)
            b = copy.copy(x)
            c = params.copy()
            d = frame.copy(deep=True)
            e = arr.copy("F")
            shutil.copy(src, dst)
            """
        )

    def test_projects_own_copy_method_is_reported(self):
        self.unchanged(
            """
            import flax

            class Table:
                def copy(self, extra):
                    return Table()

            t = t.copy({"a": 1})
            """,
            refused=["P09/NEG@7"],
        )

    def test_dual_helper_stays_unless_its_update_changes_later(self):
        self.check(
            """
            import flax

            def edit(t0, h):
                t1 = {"a": 1.5}
                t2 = flax.core.copy(t0, {"c": t1})
                t3 = flax.core.copy(t0, {"h": h})
                t1["a"] = 0.0
                return t2, t3
            """,
            """
            import flax

            def edit(t0, h):
                t1 = {"a": 1.5}
                t2 = flax.core.unfreeze({**t0, "c": t1})
                t3 = flax.core.copy(t0, {"h": h})
                t1["a"] = 0.0
                return t2, t3
            """,
            rewrites={"P11": 1},
        )

    def test_dual_helper_on_a_tree_that_was_a_dict_already_stays(self):
        # M6b: before the migration `t1`, `t3`, `unfreeze(t0)["a"]` and `t7` were
        # dicts already, so `flax.core.copy` took its dict branch (copy the tree,
        # store the update as it is) then as it does now. `t5` may have been a
        # FrozenDict (mixed bindings), and `t6["a"]` is an item of one.
        self.check(
            """
            import flax
            from flax.core import unfreeze

            def edit(t0, h, flag):
                t1 = unfreeze(t0)
                t3 = t1
                t3 = flax.core.copy(t3, {"b": 0.5})
                t5 = t1 if flag else t0
                t6 = {"a": t0}
                t7 = dict(t0)
                a = flax.core.copy(t3, {"c": h})
                b = flax.core.copy(unfreeze(t0)["a"], {"c": h})
                c = flax.core.copy(t5, {"c": h})
                d = flax.core.copy(t6["a"], {"c": h})
                e = flax.core.copy(t7, add_or_replace={"c": h})
                h["k"] = 0.0
                return a, b, c, d, e
            """,
            """
            import flax
            from flax.core import unfreeze

            def edit(t0, h, flag):
                t1 = unfreeze(t0)
                t3 = t1
                t3 = flax.core.copy(t3, {"b": 0.5})
                t5 = t1 if flag else t0
                t6 = {"a": t0}
                t7 = dict(t0)
                a = flax.core.copy(t3, {"c": h})
                b = flax.core.copy(unfreeze(t0)["a"], {"c": h})
                c = flax.core.unfreeze({**t5, "c": h})
                d = flax.core.unfreeze({**t6["a"], "c": h})
                e = flax.core.copy(t7, add_or_replace={"c": h})
                h["k"] = 0.0
                return a, b, c, d, e
            """,
            rewrites={"P11": 2},
        )

    def test_dual_helper_on_a_global_rebound_elsewhere_is_rewritten(self):
        self.check(
            """
            import flax

            t1 = {}

            def reset(t0):
                global t1
                t1 = t0

            def edit(h):
                t4 = flax.core.copy(t1, {"c": h})
                h["k"] = 0.0
                return t4
            """,
            """
            import flax

            t1 = {}

            def reset(t0):
                global t1
                t1 = t0

            def edit(h):
                t4 = flax.core.unfreeze({**t1, "c": h})
                h["k"] = 0.0
                return t4
            """,
            rewrites={"P11": 1},
        )

    def test_dual_helper_on_an_item_of_a_merge_is_rewritten(self):
        # The item may come from the update, which may be a FrozenDict.
        self.check(
            """
            import flax
            from flax.core import unfreeze

            def edit(t0, z, h):
                t1 = flax.core.copy(unfreeze(t0), {"a": z})
                t4 = flax.core.copy(t1["a"], {"c": h})
                h["k"] = 0.0
                return t4
            """,
            """
            import flax
            from flax.core import unfreeze

            def edit(t0, z, h):
                t1 = flax.core.copy(unfreeze(t0), {"a": z})
                t4 = flax.core.unfreeze({**t1["a"], "c": h})
                h["k"] = 0.0
                return t4
            """,
            rewrites={"P11": 1},
        )


def test_copy_of_a_maybe_unfrozen_tree_is_a_fixed_point():
    # `x` of flax.core.copy/pop is copied by both of their branches, so an
    # `unfreeze` that feeds it can go; before, a second run dropped it only then.
    from migration import transform_source

    source = (
        "import flax\nfrom flax.core import unfreeze\n\n\n"
        "def f(t0, t2, flag):\n"
        "    t1 = unfreeze(t0) if flag else t0\n"
        "    t4 = flax.core.copy(t1, {'c': t2})\n"
        "    t2['k'] = 0.0\n"
        "    return t4\n"
    )
    once = transform_source(source)
    assert "unfreeze(t0)" not in once.code
    assert transform_source(once.code).code == once.code
