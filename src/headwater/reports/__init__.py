"""Renderers: results → Markdown, HTML (self-contained, no CDN) and plain data."""
