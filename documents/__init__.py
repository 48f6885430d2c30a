"""The council's documents as PDF: vote protocols, minutes of a sitting, decisions.

Pure: records (plain dicts or dataclasses, shapes in documents.shapes) and a language
("uz-Latn", "uz-Cyrl", "ru", "en") in, PDF bytes out. No database, network or web;
Typst compiles from the templates in documents/templates with its embedded fonts.
"""

from documents.labels import LANGUAGES
from documents.render import qr_svg, render_decision, render_minutes, render_protocol

__all__ = ["LANGUAGES", "qr_svg", "render_decision", "render_minutes", "render_protocol"]
