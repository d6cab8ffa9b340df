"""import-linter contract types of our own (``[tool.importlinter] contract_types`` in pyproject.toml).

``forbidden_runtime`` is import-linter's ``forbidden`` contract on a graph that also has the imports
Python does implicitly: importing ``a.b.c`` first runs ``a/__init__.py`` and ``a/b/__init__.py``. grimp
records only the import statements, so ``cti.store.tiers`` looks free of SQLAlchemy even though
``import cti.store.tiers`` loads it through ``cti/store/__init__.py``. Here every module also "imports"
its parent package (reported as line 0), so such chains break the contract.
"""

from __future__ import annotations

from grimp import ImportGraph
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.domain.contract import ContractCheck

IMPLICIT = "(implicit: the parent package runs first)"


def add_parent_package_imports(graph: ImportGraph) -> None:
    for module in list(graph.modules):
        if "." not in module or graph.is_module_squashed(module):
            continue
        parent = module.rpartition(".")[0]
        if parent in graph.modules:
            graph.add_import(importer=module, imported=parent, line_number=0, line_contents=IMPLICIT)


class RuntimeForbiddenContract(ForbiddenContract):
    """``forbidden``, counting the parent packages that Python imports before a module."""

    type_name = "forbidden_runtime"

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        add_parent_package_imports(graph)  # import-linter hands each contract its own copy of the graph
        return super().check(graph, verbose)
