"""DropUnfreezeCommand: ``unfreeze(x)``/``x.unfreeze()`` (P02, P02a, P02b, P03, P17)."""

from _codemod_case import MigrationCodemodTest

from migration.commands import DropUnfreezeCommand


class TestDropUnfreeze(MigrationCodemodTest):
    TRANSFORM = DropUnfreezeCommand

    # --- the copy goes ----------------------------------------------------------------

    def test_read_only_result(self):
        self.check(
            """
            import flax

            def show(ts):
                tbl = flax.core.unfreeze(ts.params)
                print(sorted(tbl))
            """,
            """
            def show(ts):
                tbl = ts.params
                print(sorted(tbl))
            """,
            rewrites={"P02": 1},
        )

    def test_self_assignment_left_behind_is_removed(self):
        self.check(
            """
            import flax
            from flax.core import unfreeze

            def count(params):
                params = unfreeze(params)
                return len(params)

            def keep_comment(params):
                params = unfreeze(params)  # a dict from here on
                return len(params)

            def only(params):
                if params:
                    params = unfreeze(params)
            """,
            """
            import flax

            def count(params):
                return len(params)

            def keep_comment(params):
                params = params  # a dict from here on
                return len(params)

            def only(params):
                if params:
                    pass
            """,
            rewrites={"P02": 3},
        )

    def test_init_result(self):
        self.check(
            """
            import flax

            def make(net, key, x):
                p = flax.core.unfreeze(net.init(key, x))["params"]
                p["head"] = None
                return p
            """,
            """
            def make(net, key, x):
                p = net.init(key, x)["params"]
                p["head"] = None
                return p
            """,
            rewrites={"P02a": 1},
        )

    def test_flatten_dict_of_unfreeze(self):
        self.check(
            """
            import flax
            from flax import traverse_util
            from flax.core import unfreeze

            def graft(tree, other):
                flat = traverse_util.flatten_dict(unfreeze(tree))
                flat[("head", "bias")] = other
                return flat
            """,
            """
            import flax
            from flax import traverse_util

            def graft(tree, other):
                flat = traverse_util.flatten_dict(tree)
                flat[("head", "bias")] = other
                return flat
            """,
            rewrites={"P02b": 1},
        )

    def test_method_form_read_only(self):
        self.check(
            """
            import flax

            def report(ts):
                editable = ts.params.unfreeze()
                return list(editable.keys())
            """,
            """
            import flax

            def report(ts):
                editable = ts.params
                return list(editable.keys())
            """,
            rewrites={"P03": 1},
        )

    def test_decode_cache_idiom(self):
        self.check(
            """
            import flax
            from flax.core import unfreeze

            def decode(model, v, x, out):
                logits, mut = model.apply(v, x, mutable=["cache"])
                out["past"] = unfreeze(mut["cache"])
                return logits
            """,
            """
            import flax

            def decode(model, v, x, out):
                logits, mut = model.apply(v, x, mutable=["cache"])
                out["past"] = mut["cache"]
                return logits
            """,
            rewrites={"P17": 1},
        )

    def test_recursive_copy_idiom(self):
        self.check(
            """
            import flax
            from flax.core import FrozenDict, freeze

            def copies(x):
                y = FrozenDict(x).unfreeze()
                y["a"]["b"] = 1
                z = freeze(x).unfreeze()
                print(z)
                return y
            """,
            """
            import flax

            def copies(x):
                y = flax.core.unfreeze(x)
                y["a"]["b"] = 1
                z = x
                print(z)
                return y
            """,
            refused=["P03/MUT@5"],
            rewrites={"P03": 2},
        )

    def test_private_wrapper_call_sites(self):
        self.check(
            """
            import flax
            from flax.core import frozen_dict

            def _unfreeze(x):
                return frozen_dict.unfreeze(x)

            def f(p):
                e = _unfreeze(p)
                print(e)
            """,
            """
            import flax
            from flax.core import frozen_dict

            def _unfreeze(x):
                return frozen_dict.unfreeze(x)

            def f(p):
                e = p
                print(e)
            """,
            rewrites={"P02": 1},
        )

    # --- MUT: the copy stays --------------------------------------------------------

    def test_mutated_copy_function_form_is_kept(self):
        self.unchanged(
            """
            import flax
            from flax.core import unfreeze

            def graft(params, ckpt):
                new = unfreeze(params)
                new["encoder"] = ckpt["encoder"]
                return new
            """,
            refused=["P02/MUT@5"],
        )

    def test_mutated_copy_method_form_still_copies(self):
        self.check(
            """
            import flax

            def head(variables):
                p = variables["params"].unfreeze()
                p["head"]["bias"] = 0.0
                return p
            """,
            """
            import flax

            def head(variables):
                p = flax.core.unfreeze(variables["params"])
                p["head"]["bias"] = 0.0
                return p
            """,
            refused=["P03/MUT@4"],
            rewrites={"P03": 1},
        )

    def test_mutation_through_aliases_loops_and_helpers(self):
        self.unchanged(
            """
            import flax
            from flax.core import unfreeze

            def set_x(tree):
                tree["x"] = 1

            def f(state, n):
                t = unfreeze(state.params)
                set_x(t)
                u = unfreeze(state.params)
                layer = u["layer"]
                layer["w"] = 2
                for k, v in unfreeze(state.params).items():
                    v["q"] = 3
                w = unfreeze(state.params)
                w.update(extra=1)
                return load_pretrained(unfreeze(state.params))
            """,
            refused=[
                "P02/MUT@8",
                "P02/MUT@10",
                "P02/MUT@13",
                "P02/MUT@15",
                "P02/MUT@17",
            ],
        )

    def test_source_changed_later(self):
        self.unchanged(
            """
            import flax
            from flax.core import unfreeze

            def f(params):
                before = unfreeze(params)
                params["x"] = 1
                print(before)

            def g(params, n):
                for i in range(n):
                    snap = unfreeze(params)
                    params["step"] = i
                    print(snap)
            """,
            refused=["P02/MUT@5", "P02/MUT@11"],
        )

    def test_mutated_copy_with_variables(self):
        self.check(
            """
            import flax
            from flax.core import unfreeze

            def graft(params, ckpt):
                new = unfreeze(params)
                new["encoder"] = ckpt["encoder"]
                head = params["head"].unfreeze()
                head["bias"] = 0
                return new, head
            """,
            """
            import flax
            import variables as vs

            def graft(params, ckpt):
                new = vs.clone_pytree(params)
                new["encoder"] = ckpt["encoder"]
                head = vs.clone_pytree(params["head"])
                head["bias"] = 0
                return new, head
            """,
            use_variables=True,
            rewrites={"P02": 1, "P03": 1},
        )

    def test_merge_written_by_the_copy_rewrite_is_kept_with_variables(self):
        # M8: `unfreeze({**x, ...})` is what the P09/P11 rewrites write when the
        # update changes later; it used to become `vs.clone_pytree` on a second
        # run with --use-variables.
        self.unchanged(
            """
            import flax

            def f(x, h):
                y = flax.core.unfreeze({**x, "a": h})
                h["q"] = 1
                return y
            """,
            use_variables=True,
        )

    def test_dict_given_to_a_kept_flax_core_copy_is_kept(self):
        # M6b: `flax.core.copy(t1, u)` stays (t1 was a dict before the migration
        # too, so the helper took its dict branch then as now); dropping the
        # unfreeze, or making it `vs.clone_pytree`, would hide that on a second run.
        self.check(
            """
            import flax

            def edit(t0, t5):
                t1 = flax.core.unfreeze(t0)
                t3 = t5.unfreeze()
                t2 = {"k": 1.0}
                t4 = flax.core.copy(t1, {"c": t2})
                t6 = flax.core.copy(t3, {"c": t2})
                t2["k"] = 0.0
                print(t4, t6)
            """,
            """
            import flax

            def edit(t0, t5):
                t1 = flax.core.unfreeze(t0)
                t3 = flax.core.unfreeze(t5)
                t2 = {"k": 1.0}
                t4 = flax.core.copy(t1, {"c": t2})
                t6 = flax.core.copy(t3, {"c": t2})
                t2["k"] = 0.0
                print(t4, t6)
            """,
            use_variables=True,
            refused=["P02/COPY@4", "P03/COPY@5"],
            rewrites={"P03": 1},
        )

    def test_dict_given_to_a_flax_core_copy_with_a_fixed_update_goes(self):
        self.check(
            """
            import flax

            def edit(t0):
                t1 = flax.core.unfreeze(t0)
                t4 = flax.core.copy(t1, {"c": {"k": 1.0}})
                print(t4)
            """,
            """
            import flax

            def edit(t0):
                t1 = t0
                t4 = flax.core.copy(t1, {"c": {"k": 1.0}})
                print(t4)
            """,
            rewrites={"P02": 1},
        )

    # --- other traps ------------------------------------------------------------------

    def test_linen_fields(self):
        self.check(
            """
            import flax
            import flax.linen as nn
            from flax.core import unfreeze

            class Block(nn.Module):
                cfg: dict

                def __call__(self, x):
                    d = self.cfg.unfreeze()
                    e = unfreeze(self.cfg)
                    return x, d, e
            """,
            """
            import flax
            import flax.linen as nn
            from flax.core import unfreeze

            class Block(nn.Module):
                cfg: dict

                def __call__(self, x):
                    d = flax.core.unfreeze(self.cfg)
                    e = unfreeze(self.cfg)
                    return x, d, e
            """,
            refused=["P02/LINEN@10"],
            rewrites={"P03": 1},
        )

    def test_paired_tree_keeps_its_copy(self):
        self.unchanged(
            """
            import flax
            import jax
            from flax.core import unfreeze

            def add(a, b):
                return jax.tree_util.tree_map(lambda x, y: x + y, unfreeze(a), b)
            """,
            refused=["P02/TREEDEF@6"],
        )

    def test_type_preserving_function(self):
        self.unchanged(
            """
            import flax
            from flax.core import FrozenDict, freeze, unfreeze

            def set_head(tree, v):
                was_frozen = isinstance(tree, FrozenDict)
                tree = unfreeze(tree)
                if was_frozen:
                    return freeze(tree)
                return tree
            """,
            refused=["P02/TYPEPRES@6"],
        )

    def test_flag_keeps_copies(self):
        self.unchanged(
            """
            import flax
            from flax.core import unfreeze

            flax.config.update("flax_return_frozendict", True)
            p = unfreeze(net.init(key, x))
            """,
            refused=["P02/FLAG@5"],
        )

    # --- look-alikes ------------------------------------------------------------------

    def test_negative_look_alikes(self):
        self.unchanged(
            """
            import flax

            class Finetuner:
                def unfreeze(self):
                    return self

                def step(self):
                    self.unfreeze()
                    super().unfreeze()
                    layer.unfreeze()
            """
        )

    def test_idempotent_on_a_mixed_module(self):
        self.assertIdempotent(
            """
            import flax

            def head(variables, ts):
                p = flax.core.unfreeze(variables["params"])
                p["head"]["bias"] = 0.0
                return p, ts.params
            """
        )

    def test_source_written_through_an_earlier_alias(self):
        self.check(
            """
            import flax
            from flax.core import unfreeze

            def edit(x):
                p = x["a"]
                y = unfreeze(x)
                p["b"] = 1
                return y["a"]["c"]

            def fine(x):
                p = x["a"]
                y = unfreeze(x)
                print(y, p)
            """,
            """
            import flax
            from flax.core import unfreeze

            def edit(x):
                p = x["a"]
                y = unfreeze(x)
                p["b"] = 1
                return y["a"]["c"]

            def fine(x):
                p = x["a"]
                y = x
                print(y, p)
            """,
            refused=["P02/MUT@6"],
        )

    def test_copy_of_a_tree_holding_a_stored_update_is_kept(self):
        self.check(
            """
            import flax

            def edit(h):
                t3 = flax.core.copy({"a": 1.0}, {"c": h})
                t5 = flax.core.unfreeze(t3)
                h["k"] = 0.0
                print(t5)
            """,
            """
            import flax

            def edit(h):
                t3 = flax.core.copy({"a": 1.0}, {"c": h})
                t5 = flax.core.unfreeze(t3)
                h["k"] = 0.0
                print(t5)
            """,
            refused=["P02/MUT@5"],
        )
