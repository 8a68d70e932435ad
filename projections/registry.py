"""Every projection of the product, by name."""

from domain.settings import Database


def create_projection_tables(database: Database) -> None:
    """Filled in as projections land."""
