"""Face ID for deputies: decode photos and camera frames, find faces, compare descriptors,
judge liveness challenges and seal face templates.

Pure code (no web, no database, no network): the server runs `biometrics.checks` in its
process pool and keeps only the sealed descriptors (`biometrics.templates`), never photos.
How it works and its measured error rates: docs/faceid.md.
"""
