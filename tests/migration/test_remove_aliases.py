"""RemoveAliasesCommand and the pipeline's handling of aliases and imports (P08b, P01)."""

import textwrap

from _codemod_case import MigrationCodemodTest

from migration import transform_source
from migration.commands import RemoveAliasesCommand


def migrate(source: str):
    return transform_source(textwrap.dedent(source).lstrip())


class TestRemoveAliasesAlone(MigrationCodemodTest):
    TRANSFORM = RemoveAliasesCommand

    def test_private_unused_alias_goes(self):
        self.check(
            """
            import flax

            _freeze = flax.core.frozen_dict.freeze
            x = {}
            """,
            """
            x = {}
            """,
        )

    def test_public_or_used_aliases_stay(self):
        self.unchanged(
            """
            import flax

            freeze = flax.core.frozen_dict.freeze
            _unfreeze = flax.core.unfreeze
            y = _unfreeze(x)
            """
        )


def test_alias_is_removed_once_every_use_is_rewritten():
    result = migrate(
        """
        import flax
        from flax.core import scope as flax_scope

        freeze = flax.core.frozen_dict.freeze
        FrozenDict = flax_scope.FrozenDict

        def f():
            return freeze({"a": 1}), FrozenDict(b=2)
        """
    )
    assert result.code == 'def f():\n    return {"a": 1}, dict(b=2)\n'
    assert result.rewrites == {"P01": 2, "P04a": 1, "P05": 1, "P08b": 2}


def test_alias_with_a_refused_use_stays():
    result = migrate(
        """
        import flax

        freeze = flax.core.frozen_dict.freeze
        a = freeze({"a": 1})
        key = hash(freeze({"b": 2}))
        """
    )
    assert result.code == (
        "import flax\n\n"
        "freeze = flax.core.frozen_dict.freeze\n"
        'a = {"a": 1}\n'
        'key = hash(freeze({"b": 2}))\n'
    )
    assert [r.pattern for r in result.refusals] == ["P04a/HASH"]


def test_exported_or_unused_aliases_stay():
    source = textwrap.dedent(
        """\
        import flax

        __all__ = ["freeze"]
        freeze = flax.core.frozen_dict.freeze
        unused = flax.core.unfreeze
        a = freeze({})
        """
    )
    result = transform_source(source)
    assert result.code == source.replace("a = freeze({})", "a = {}")


def test_private_wrapper_goes_public_function_stays():
    result = migrate(
        """
        import flax
        from flax.core import frozen_dict

        def _unfreeze(x):
            return frozen_dict.unfreeze(x)

        def thaw(x):
            return frozen_dict.unfreeze(x)

        def f(p):
            print(_unfreeze(p))
        """
    )
    assert result.code == (
        "import flax\n"
        "from flax.core import frozen_dict\n\n"
        "def thaw(x):\n"
        "    return frozen_dict.unfreeze(x)\n\n"
        "def f(p):\n"
        "    print(p)\n"
    )
    assert [r.pattern for r in result.refusals] == ["P02/MUT"]
