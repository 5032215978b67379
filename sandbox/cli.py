import click


@click.group()
def main() -> None:
    """Crypto City payments sandbox."""
