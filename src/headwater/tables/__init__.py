"""Engine-neutral table logic, written once as Ibis expressions (DESIGN.md decision 1).

What ingest, compare and train share: cleaning text, typing and its inference, checks,
de-duplication (:mod:`~headwater.tables.transform`) and portable row fingerprints
(:mod:`~headwater.tables.fingerprint`). Nothing here knows about projects, runs or the
record store; engines are below (they connect, read and write), stages are above.
"""
