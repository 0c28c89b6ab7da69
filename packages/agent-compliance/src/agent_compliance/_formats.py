"""The report formats every command accepts (its own module so the CLI can list them without loading pydantic)."""

__all__ = ["FORMATS"]

FORMATS = ("text", "json", "sarif", "md")
