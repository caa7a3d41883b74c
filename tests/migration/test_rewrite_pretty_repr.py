"""RewritePrettyReprCommand: ``pretty_repr`` (P13, REPR)."""

from _codemod_case import MigrationCodemodTest

from migration.commands import RewritePrettyReprCommand


class TestRewritePrettyRepr(MigrationCodemodTest):
    TRANSFORM = RewritePrettyReprCommand

    def test_method_becomes_the_function(self):
        self.check(
            """
            import flax

            def log_shapes(log, tree):
                log.info("%s", tree.pretty_repr())
                print(tree["params"].pretty_repr(num_spaces=2))
            """,
            """
            import flax

            def log_shapes(log, tree):
                log.info("%s", flax.core.pretty_repr(tree))
                print(flax.core.pretty_repr(tree["params"], num_spaces=2))
            """,
            rewrites={"P13": 2},
            refused=["P13/REPR@4", "P13/REPR@5"],
        )

    def test_function_is_kept_and_reported(self):
        self.unchanged(
            """
            import flax
            import jax
            import jax.numpy as jnp

            def log_shapes(log, t):
                log.info("%s", flax.core.pretty_repr(jax.tree.map(jnp.shape, t)))
            """,
            refused=["P13/REPR@6"],
        )

    def test_import_added_when_flax_is_not_bound(self):
        self.check(
            """
            from flax.core import freeze

            text = tree.pretty_repr()
            """,
            """
            from flax.core import freeze
            import flax

            text = flax.core.pretty_repr(tree)
            """,
            refused=["P13/REPR@3"],
        )

    def test_look_alikes(self):
        self.unchanged(
            """
            import flax

            class Table:
                def pretty_repr(self):
                    return "table"

            text = Table().pretty_repr()
            """
        )
