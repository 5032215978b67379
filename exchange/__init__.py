"""exchange — see ../shared/DESIGN.md."""
