"""DropFreezeCommand: ``freeze(x)`` -> ``x`` (P04, P04a-c, P12) and its traps."""

from _codemod_case import MigrationCodemodTest

from migration.commands import DropFreezeCommand


class TestDropFreeze(MigrationCodemodTest):
    TRANSFORM = DropFreezeCommand

    # --- rewrites ---------------------------------------------------------------------

    def test_literal_stays_a_literal(self):
        self.check(
            """
            import flax
            from flax.core import freeze

            def empty_state():
                return freeze({}), freeze({"step": 0})
            """,
            """
            import flax

            def empty_state():
                return {}, {"step": 0}
            """,
            rewrites={"P04a": 2},
        )

    def test_read_only_value_passes_through(self):
        # `import flax` goes too: nothing else uses it (P12: kept only if used).
        self.check(
            """
            import flax
            import jax

            def publish(new_tbl):
                return flax.core.freeze(new_tbl)
            """,
            """
            import jax

            def publish(new_tbl):
                return new_tbl
            """,
            rewrites={"P04": 1},
        )

    def test_unflatten_dict_result(self):
        self.check(
            """
            import flax
            from flax.core import freeze
            from flax.traverse_util import unflatten_dict

            def rebuild(flat):
                params = freeze(unflatten_dict(flat))
                return params
            """,
            """
            import flax
            from flax.traverse_util import unflatten_dict

            def rebuild(flat):
                params = unflatten_dict(flat)
                return params
            """,
            rewrites={"P04b": 1},
        )

    def test_init_result_inside_dual_pop(self):
        self.check(
            """
            import flax

            def split(net, k, x):
                rest, p = flax.core.pop(flax.core.freeze(net.init(k, x)), "params")
                return rest, p
            """,
            """
            import flax

            def split(net, k, x):
                rest, p = flax.core.pop(net.init(k, x), "params")
                return rest, p
            """,
            rewrites={"P04c": 1},
        )

    def test_fully_qualified_path_counts_as_p12(self):
        self.check(
            """
            import flax
            import flax.linen as nn

            def pack(p):
                return flax.core.frozen_dict.freeze({"params": p})
            """,
            """
            import flax.linen as nn

            def pack(p):
                return {"params": p}
            """,
            rewrites={"P04a": 1, "P12": 1},
        )

    def test_aliased_imports_resolve(self):
        self.check(
            """
            import flax
            import flax.core as fc
            from flax.core import frozen_dict as fd

            a = fc.freeze({"a": 1})
            b = fd.freeze({"b": 2})
            """,
            """
            import flax

            a = {"a": 1}
            b = {"b": 2}
            """,
            rewrites={"P04a": 2},
        )

    def test_module_level_alias_resolves(self):
        # The call is rewritten; removing the alias line is RemoveAliasesCommand's job.
        self.check(
            """
            import flax

            freeze = flax.core.frozen_dict.freeze

            def f():
                return freeze({"a": 1})
            """,
            """
            import flax

            freeze = flax.core.frozen_dict.freeze

            def f():
                return {"a": 1}
            """,
            rewrites={"P04a": 1},
        )

    def test_comments_and_parentheses_survive(self):
        self.check(
            """
            import flax
            from flax.core import freeze

            a = freeze(b or c).keys()
            d = freeze(  # the defaults
                {"lr": 0.1}
            )
            e = (freeze({}))
            """,
            """
            import flax

            a = (b or c).keys()
            d = (  # the defaults
                {"lr": 0.1}
            )
            e = ({})
            """,
        )

    def test_receiver_of_a_frozen_method_is_left_to_that_family(self):
        self.unchanged(
            """
            import flax
            from flax.core import freeze

            y = freeze(x).copy({"a": 1})
            z = freeze(x).unfreeze()
            """
        )

    # --- traps -----------------------------------------------------------------------

    def test_hash_static_argument_dict_key_and_hash(self):
        self.unchanged(
            """
            import functools
            import jax
            from flax.core import freeze

            @functools.partial(jax.jit, static_argnames=("cfg",))
            def step(x, cfg=None):
                return x

            def run(x):
                cfg = freeze({"lr": 1})
                cache = {}
                cache[freeze({"a": 1})] = 1
                table = {freeze({"b": 2}): 1}
                h = hash(freeze({"c": 3}))
                return step(x, cfg=cfg)
            """,
            refused=["P04a/HASH@10", "P04a/HASH@12", "P04a/HASH@13", "P04a/HASH@14"],
        )

    def test_hash_namedtuple_and_frozen_dataclass_fields(self):
        self.unchanged(
            """
            import dataclasses
            import functools
            from typing import NamedTuple
            from flax.core import freeze

            class Dataset(NamedTuple):
                meta: object

            @dataclasses.dataclass(frozen=True)
            class Config:
                table: object

            @functools.lru_cache
            def compiled(cfg):
                return cfg

            def f(ds):
                ds = ds._replace(meta=freeze({"n": 1}))
                c = Config(table=freeze({"t": 1}))
                return compiled(freeze({"k": 1})), ds, c
            """,
            refused=["P04a/HASH@18", "P04a/HASH@19", "P04a/HASH@20"],
        )

    def test_dcdef_class_field_default_constant_and_parameter_default(self):
        self.unchanged(
            """
            import dataclasses
            import flax
            from flax.core import freeze

            _EMPTY = freeze({})

            @dataclasses.dataclass
            class Collections:
                mutables: object = _EMPTY
                weights: object = freeze({"a": 1.0})

            def apply(x, extra=freeze({})):
                return x
            """,
            refused=["P15/DCDEF@5", "P15/DCDEF@10", "P15/DCDEF@12"],
        )

    def test_treedef_paired_trees(self):
        self.check(
            """
            import jax
            import numpy as np
            import optax
            from flax.core import freeze
            from flax.traverse_util import unflatten_dict

            def f(expected, st, flat, params):
                jax.tree_util.tree_map(np.testing.assert_array_equal, freeze(expected), st.params)
                mask = freeze(unflatten_dict(flat))
                tx = optax.masked(optax.adam(1e-3), mask)
                specs = freeze(unflatten_dict(flat))
                step = jax.jit(f, in_shardings=(specs,))
                doubled = jax.tree_util.tree_map(lambda x: 2 * x, freeze(params))
                return tx, step, doubled
            """,
            """
            import jax
            import numpy as np
            import optax
            from flax.core import freeze
            from flax.traverse_util import unflatten_dict

            def f(expected, st, flat, params):
                jax.tree_util.tree_map(np.testing.assert_array_equal, freeze(expected), st.params)
                mask = freeze(unflatten_dict(flat))
                tx = optax.masked(optax.adam(1e-3), mask)
                specs = freeze(unflatten_dict(flat))
                step = jax.jit(f, in_shardings=(specs,))
                doubled = jax.tree_util.tree_map(lambda x: 2 * x, params)
                return tx, step, doubled
            """,
            refused=["P14/TREEDEF@8", "P04b/TREEDEF@9", "P04b/TREEDEF@11"],
            rewrites={"P04": 1},
        )

    def test_carry_of_a_loop_is_paired(self):
        self.unchanged(
            """
            import jax
            from flax.core import freeze

            def run(body, n):
                return jax.lax.fori_loop(0, n, body, freeze({"i": 0}))
            """,
            refused=["P14/TREEDEF@5"],
        )

    def test_serial_restore_target(self):
        self.unchanged(
            """
            import flax
            from flax.core import freeze

            def restore(target, state):
                return flax.serialization.from_state_dict(freeze(target), state)
            """,
            refused=["P04/SERIAL@5"],
        )

    def test_alias_property_self_state_setter_and_later_write(self):
        self.unchanged(
            """
            import flax
            from flax.core import freeze

            class Store:
                def __init__(self, params):
                    self._params = freeze(params)

                @property
                def params(self):
                    return freeze(self._params)

                def state(self):
                    return freeze(self._state)

            def snapshot(cfg):
                frozen = freeze(cfg)
                cfg["lr"] = 0
                return frozen
            """,
            refused=["P04/ALIAS@6", "P04/ALIAS@10", "P04/ALIAS@13", "P04/ALIAS@16"],
        )

    def test_alias_with_variables_becomes_clone_pytree(self):
        self.check(
            """
            import flax
            from flax.core import freeze

            def snapshot(cfg):
                frozen = freeze(cfg)
                cfg["lr"] = 0
                return frozen
            """,
            """
            import flax
            import variables as vs

            def snapshot(cfg):
                frozen = vs.clone_pytree(cfg)
                cfg["lr"] = 0
                return frozen
            """,
            use_variables=True,
            rewrites={"P04": 1},
        )

    def test_typepres_round_trip_is_left_whole(self):
        self.unchanged(
            """
            import flax
            from flax.core import FrozenDict, freeze

            def set_head(tree, v):
                was_frozen = isinstance(tree, FrozenDict)
                tree = dict(tree)
                tree["head"] = v
                if was_frozen:
                    tree = freeze(tree)
                return tree
            """,
            refused=["P04/TYPEPRES@9"],
        )

    def test_flag_keeps_every_freeze(self):
        self.unchanged(
            """
            import flax
            from flax.core import freeze

            flax.config.update("flax_return_frozendict", True)
            defaults = freeze({"lr": 0.1})
            """,
            refused=["P04a/FLAG@5"],
        )

    def test_exact_warning_text(self):
        self.check(
            """
            import flax
            from flax.core import freeze

            key = hash(freeze({"a": 1}))
            """,
            """
            import flax
            from flax.core import freeze

            key = hash(freeze({"a": 1}))
            """,
            expected_warnings=[
                "P04a/HASH at line 4: it is passed to `hash`: a dict is unhashable; "
                "keep the FrozenDict or use a hashable form such as "
                "`tuple(sorted(flatten_dict(cfg).items()))`"
            ],
            refused=["P04a/HASH@4"],
        )

    # --- look-alikes ------------------------------------------------------------------

    def test_negative_look_alikes_are_byte_identical(self):
        self.unchanged(
            """
            import flax
            import torch

            class Operator:
                @staticmethod
                def freeze(i, a):
                    return a

            def freeze(x):
                return x

            Operator.freeze(0, a)
            m = torch.jit.freeze(model)
            y = freeze({"a": 1})
            """
        )

    def test_module_without_flax_is_skipped(self):
        source = """
            from mylib import freeze
            y = freeze({})
            """
        self.assertCodemod(source, source, expected_skip=True)

    def test_alias_through_a_container_built_from_other_trees(self):
        self.unchanged(
            """
            import flax
            from flax.core import freeze, unfreeze

            def edit(t0, t1):
                t2 = {"a": t1, "b": 0.5}
                t3 = freeze(t2)
                t1["c"] = 4.5
                return t3
            """,
            refused=["P04/ALIAS@6"],
        )

    def test_tree_holding_an_update_stored_by_flax_core_copy(self):
        # On a dict `t1` (a dict before the migration too, so the call stays)
        # `flax.core.copy` stores `h` itself in `t3`: a later write to `h` changes
        # `t3`, which `freeze(t3)` had copied.
        self.check(
            """
            import flax
            from flax.core import freeze

            def edit(h):
                t1 = {"a": 1.0}
                t3 = flax.core.copy(t1, {"c": h})
                t5 = freeze(t3)
                h["k"] = 0.0
                return t5
            """,
            """
            import flax
            import variables as vs

            def edit(h):
                t1 = {"a": 1.0}
                t3 = flax.core.copy(t1, {"c": h})
                t5 = vs.clone_pytree(t3)
                h["k"] = 0.0
                return t5
            """,
            use_variables=True,
            rewrites={"P04": 1},
        )
        self.unchanged(
            """
            import flax
            from flax.core import freeze

            def edit(h):
                t1 = {"a": 1.0}
                t3 = flax.core.copy(t1, {"c": h})
                t5 = freeze(t3)
                h["k"] = 0.0
                return t5
            """,
            refused=["P04/ALIAS@7"],
        )
