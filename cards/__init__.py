"""Dataset card templates (Markdown) for the GSI-Bench Hub repos; rendered by builders.card."""
