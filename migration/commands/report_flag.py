"""Reports ``flax.config.update("flax_return_frozendict", ...)`` (P16/FLAG)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from migration._base import MigrationCommand


class ReportFlagCommand(MigrationCommand):
    """Reports the global opt-back-in flag and never removes it.

    While ``flax_return_frozendict`` is on, ``init``/``apply`` still return
    FrozenDicts, so the other commands switch to type-preserving rewrites in such a
    module and keep every ``freeze``. The flag can go once the code downstream is
    dict-clean; it also makes a handy oracle when comparing old and new behaviour.
    """

    DESCRIPTION = "Report the flax_return_frozendict flag."

    @m.leave(m.Call(func=m.Attribute(attr=m.Name("update"))))
    def report_flag(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if original_node in self.facts.flag_calls:
            self.refuse(
                original_node,
                "P16/FLAG",
                "kept: `flax_return_frozendict` makes init/apply return FrozenDicts "
                "again; remove it once the code downstream is dict-clean",
            )
        return updated_node
