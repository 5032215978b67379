"""stablecoin — see ../shared/DESIGN.md."""
