"""Importers for real clinic data: a CSV folder (data-contract §3) and FHIR R4 (§4, to come)."""
