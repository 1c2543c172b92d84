"""The modules' old flat names (kdash.db, kdash.outcomes, …, before the floors of issue 32) as aliases of their new
homes, for scripts outside this project that still import them (`from kdash import db`). kdash's own code never
uses them: tests/unit/test_layers.py parses every import and knows only the new names.

The finder comes last on sys.meta_path, so it answers only for a name no package holds; the alias is the very
module object of the new name (one module, one state), never a copy."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys

MOVED = {
    **{name: f"kdash.store.{name}" for name in ("db", "pg", "pg_ops", "pg_cluster", "derived", "course_scores",
                                                "flag_log", "backup", "clinic_store")},
    **{name: f"kdash.access.{name}" for name in ("audit", "audit_view", "users", "signins")},
    **{name: f"kdash.clinical.{name}" for name in ("rules", "worklist", "eligibility", "outcomes", "stats",
                                                   "side_effects", "throughput", "patient", "roster", "recording",
                                                   "decisions", "clinic", "sections", "deid", "store_info")},
    **{name: f"kdash.importers.{name}" for name in ("importing", "uploads")},
    **{name: f"kdash.present.{name}" for name in ("charts", "conference", "export", "report")},
    **{name: f"kdash.ui.{name}" for name in ("web", "warmup", "serving")},
    "bench_browser": "kdash.bench.browser", "bench_network": "kdash.bench.network", "bench_users": "kdash.bench.users",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:      # the new module ran when it was imported
        pass


class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        if package != "kdash" or name not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(MOVED[name]))


def install() -> None:
    if not any(isinstance(f, Finder) for f in sys.meta_path):
        sys.meta_path.append(Finder())
