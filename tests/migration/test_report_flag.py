"""ReportFlagCommand: the ``flax_return_frozendict`` flag (P16, FLAG)."""

from _codemod_case import MigrationCodemodTest

from migration import transform_source
from migration.commands import ReportFlagCommand


class TestReportFlag(MigrationCodemodTest):
    TRANSFORM = ReportFlagCommand

    def test_flag_is_reported_never_removed(self):
        self.unchanged(
            """
            import flax

            flax.config.update("flax_return_frozendict", True)
            flax.config.update("flax_use_orbax_checkpointing", False)
            """,
            refused=["P16/FLAG@3"],
        )


def test_flag_switches_the_module_to_type_preserving_rewrites():
    source = (
        "import flax\n"
        "flax.config.update('flax_return_frozendict', True)\n"
        "rest, p = v.pop('params')\n"
        "q = p.unfreeze()\n"
        "w = v.copy({'a': 1})\n"
        "c = flax.core.freeze({})\n"
    )
    result = transform_source(source)
    assert result.code == (
        "import flax\n"
        "flax.config.update('flax_return_frozendict', True)\n"
        "rest, p = flax.core.pop(v, 'params')\n"
        "q = flax.core.unfreeze(p)\n"
        "w = flax.core.copy(v, {'a': 1})\n"
        "c = flax.core.freeze({})\n"
    )
    assert {r.pattern for r in result.refusals} == {"P16/FLAG", "P03/FLAG", "P04a/FLAG"}
