"""ReplaceFrozenDictCallCommand: ``FrozenDict(...)`` -> a literal or ``dict(...)`` (P05)."""

from _codemod_case import MigrationCodemodTest

from migration.commands import ReplaceFrozenDictCallCommand


class TestReplaceFrozenDictCall(MigrationCodemodTest):
    TRANSFORM = ReplaceFrozenDictCallCommand

    def test_literal_keyword_and_empty_forms(self):
        self.check(
            """
            import flax
            from flax.core import FrozenDict

            def run(model, p, x, m):
                out = model.apply(FrozenDict(params=p), x)
                empty = FrozenDict({})
                none = FrozenDict()
                copy = FrozenDict(m)
                return out, empty, none, copy
            """,
            """
            import flax

            def run(model, p, x, m):
                out = model.apply(dict(params=p), x)
                empty = {}
                none = {}
                copy = dict(m)
                return out, empty, none, copy
            """,
            rewrites={"P05": 4},
        )

    def test_linen_re_export_and_scope_alias(self):
        self.check(
            """
            import flax
            import flax.linen as nn
            from flax.core import scope as flax_scope

            a = nn.FrozenDict({"a": 1})
            b = flax_scope.FrozenDict(b=2)
            c = flax.core.frozen_dict.FrozenDict({"c": 3})
            """,
            """
            a = {"a": 1}
            b = dict(b=2)
            c = {"c": 3}
            """,
            rewrites={"P05": 3, "P12": 1},
        )

    def test_traps_as_for_freeze(self):
        self.unchanged(
            """
            import dataclasses
            import flax
            from flax.core import FrozenDict

            @dataclasses.dataclass
            class Weights:
                weights: object = FrozenDict({"a": 1.0})

            def f(cfg, cache):
                cache[FrozenDict(cfg)] = 1
                snapshot = FrozenDict(cfg)
                cfg["lr"] = 0.0
                return snapshot
            """,
            refused=["P15/DCDEF@7", "P05/HASH@10", "P05/ALIAS@11"],
        )

    def test_alias_with_variables(self):
        self.check(
            """
            import flax
            from flax.core import FrozenDict

            def f(cfg):
                snapshot = FrozenDict(cfg)
                cfg["lr"] = 0.0
                return snapshot
            """,
            """
            import flax
            import variables as vs

            def f(cfg):
                snapshot = vs.clone_pytree(cfg)
                cfg["lr"] = 0.0
                return snapshot
            """,
            use_variables=True,
        )

    def test_projects_own_frozen_dict_is_untouched(self):
        self.unchanged(
            """
            import flax

            class FrozenDict(dict):
                def __hash__(self):
                    return hash(tuple(sorted(self.items())))

            x = FrozenDict(a=1)
            y = FrozenDict({"b": 2})
            """
        )

    def test_type_preserving_conditional(self):
        self.unchanged(
            """
            import flax
            from flax.core import FrozenDict

            def like(inp, new):
                return FrozenDict(new) if isinstance(inp, FrozenDict) else new
            """,
            refused=["P05/TYPEPRES@5"],
        )

    def test_tree_holding_an_update_stored_by_flax_core_copy(self):
        self.unchanged(
            """
            import flax
            from flax.core import FrozenDict

            def edit(h):
                t3 = flax.core.copy({"a": 1.0}, {"c": h})
                t5 = FrozenDict({"q": t3})
                h["k"] = 0.0
                return t5
            """,
            refused=["P05/ALIAS@6"],
        )
