"""ReplaceIsinstanceCommand: type checks that involve FrozenDict (P06, P06a, EQ)."""

from _codemod_case import MigrationCodemodTest

from migration.commands import ReplaceIsinstanceCommand


class TestReplaceIsinstance(MigrationCodemodTest):
    TRANSFORM = ReplaceIsinstanceCommand

    def test_union_with_dict_becomes_mapping(self):
        self.check(
            """
            import flax
            from flax.core import FrozenDict

            def walk(node):
                if isinstance(node, (dict, FrozenDict)):
                    return True
                return isinstance(node, (FrozenDict, dict, list))
            """,
            """
            import flax
            from collections.abc import Mapping

            def walk(node):
                if isinstance(node, Mapping):
                    return True
                return isinstance(node, (Mapping, list))
            """,
            rewrites={"P06": 2},
        )

    def test_mapping_already_present_just_loses_frozen_dict(self):
        self.check(
            """
            import collections.abc
            import flax
            import flax.linen as nn

            ok = isinstance(x, (collections.abc.Mapping, nn.FrozenDict))
            """,
            """
            import collections.abc
            import flax

            ok = isinstance(x, collections.abc.Mapping)
            """,
        )

    def test_existing_mapping_import_is_reused(self):
        self.check(
            """
            from typing import Mapping
            from flax.core import FrozenDict

            ok = isinstance(x, (dict, FrozenDict))
            """,
            """
            from typing import Mapping

            ok = isinstance(x, Mapping)
            """,
        )

    def test_lone_checks_are_reported(self):
        self.unchanged(
            """
            import jax
            from flax.core import FrozenDict, freeze

            def walk(tree):
                for k, v in tree.items():
                    if isinstance(v, FrozenDict):
                        walk(v)

            def leaves(opt_state, f):
                return jax.tree_util.tree_map(f, opt_state, is_leaf=lambda n: isinstance(n, FrozenDict))

            def like(inp, new):
                was_frozen = isinstance(inp, FrozenDict)
                return freeze(new) if was_frozen else new

            odd = isinstance(x, (FrozenDict, list))
            """,
            refused=["P06/SUBTREE@6", "P06a@10", "P06/TYPEPRES@13", "P06/SUBTREE@16"],
        )

    def test_type_assertions_are_reported(self):
        self.unchanged(
            """
            import flax
            import unittest
            from flax.core import FrozenDict

            class T(unittest.TestCase):
                def test(self):
                    out = make()
                    self.assertIsInstance(out, FrozenDict)
                    assert type(out) is FrozenDict
                    assert out == {"a": 1}
            """,
            refused=["P06/EQ@8", "P06/EQ@9"],
        )

    def test_dict_check_on_a_linen_field_is_reported(self):
        self.unchanged(
            """
            import flax.linen as nn

            class Block(nn.Module):
                cfg: dict

                def __call__(self, x):
                    if isinstance(self.cfg, dict):
                        return x
                    return -x
            """,
            refused=["P06/LINEN@7"],
        )

    def test_look_alikes(self):
        self.unchanged(
            """
            import flax

            class FrozenDict(dict):
                pass

            a = isinstance(x, (dict, FrozenDict))
            b = isinstance(x, dict)
            """
        )
