"""Remake kdash/importers/valuesets.json from the published eCQM value sets (not run by the app or the tests).

The value sets are the FHIR ValueSet resources (VSAC expansions) in the measure bundles of cqframework's
ecqm-content-qicore-2024 repository (CC0 1.0): a clone of it is the one argument.

    git clone https://github.com/cqframework/ecqm-content-qicore-2024 /tmp/ecqm
    python tools/make_valuesets.py /tmp/ecqm
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPOSITORY = "cqframework/ecqm-content-qicore-2024"
# value set name → (measure bundle it is taken from, what kdash reads it as)
WANTED = {
    "MajorDepressionIncludingRemission": ("DepressionRemissionatTwelveMonthsFHIR", "depression"),
    "MajorDepression": ("AntidepressantMedicationManagementFHIR", "depression"),
    "Dysthymia": ("DepressionRemissionatTwelveMonthsFHIR", "dysthymia"),
    "BipolarDisorder": ("DepressionRemissionatTwelveMonthsFHIR", "bipolar"),
    "SchizophreniaorPsychoticDisorder": ("DepressionRemissionatTwelveMonthsFHIR", "psychotic_disorder"),
    "SubstanceUseDisorder": ("InitiationandEngagementofSubstanceUseDisorderTreatmentFHIR", "substance_use"),
    "AntidepressantMedication": ("AntidepressantMedicationManagementFHIR", "antidepressant"),
    "AdultDepressionMedications": ("PCSDepressionScreenAndFollowUpFHIR", "antidepressant"),
}


def main(clone: str) -> None:
    root = Path(clone)
    commit = subprocess.run(["git", "-C", clone, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = []
    for name, (measure, reads_as) in WANTED.items():
        path = root / "bundles" / "measure" / measure / f"{measure}-files" / f"valuesets-{measure}-bundle.json"
        bundle = json.loads(path.read_text("utf-8"))
        vs = next(e["resource"] for e in bundle["entry"] if e["resource"].get("name") == name)
        out.append({"name": name, "title": vs.get("title") or name, "oid": vs["id"], "url": vs.get("url"),
                    "version": vs.get("version"), "expansion": (vs.get("expansion") or {}).get("identifier"),
                    "reads_as": reads_as, "source": f"{REPOSITORY} {path.relative_to(root)} @ {commit[:12]}",
                    "codes": sorted([c["system"], c["code"], c.get("display") or ""]
                                    for c in vs["expansion"]["contains"])})
    target = Path(__file__).resolve().parents[1] / "kdash" / "importers" / "valuesets.json"
    target.write_text(json.dumps({"about": "eCQM value sets (VSAC expansions) that kdash's FHIR import reads; made "
                                           "by tools/make_valuesets.py", "value_sets": out}, indent=1) + "\n", "utf-8")
    print(f"{target}: {sum(len(v['codes']) for v in out)} codes in {len(out)} value sets")


if __name__ == "__main__":
    main(sys.argv[1])
